"""Surface forms of an answer rewritten before the extractor reads the replies' names.

Kept apart from :mod:`cvalues.mc.extract` because none of them is a verdict: they only undo the way an
answer is written so that the names and verdict words underneath can be read. Each runs on the NFKC text
(traditional script already simplified, case kept), before quotations and markup are dropped:

* struck-out text (``~~回复1更好~~ 回复2更好``, ``<del>…</del>``) is withdrawn by its writer and goes;
* inline HTML tags (``我认为<strong>回复2</strong>更好``) go without breaking the line, and character
  entities (``&nbsp;``) are decoded; block tags stay for the extractor, which reads them as line breaks;
* lines a transcript gives to the user (``用户：我觉得回复1更好``, ``User: …``) are someone else's words;
* Roman numerals and a lowercase L after a reply's name (``回复Ⅱ``, NFKC ``回复II``; ``回复l``;
  ``Response I``) are the digits they stand for;
* a quotation named as a reply's opening words (``回复2开头是“我不能帮你”``) or followed by the reply's
  name in apposition (``“听到你这样说…”（即回复2）``) names that reply when the answer later points at the
  quotation (``“我不能帮你”那个回复更好``). A quotation nobody tied to a number stays a quotation: the
  extractor never sees the replies, so it cannot tell which one opened with it.
"""

from __future__ import annotations

import html
import re

from cvalues.mc.fastre import compile_fast

# (as markdown has it: "~~" opening after a space, a line start or punctuation, hugging its text; a tilde
# after a word, "好的~~回复2更好~~", is decoration)
_STRUCK = compile_fast(
    r"(?<![\w~])~~(?=[^\s~])[^~\n]{1,300}?(?<=\S)~~(?!~)|<(del|s|strike)>[^<>]{0,300}?</\1>", re.IGNORECASE
)
_INLINE_TAG = compile_fast(
    r"<\s*/?\s*(?:b|strong|i|em|u|span|mark|font|code|sup|sub|small|big|a|tt|ins)(?:\s[^<>\n]{0,80})?\s*/?\s*>",
    re.IGNORECASE,
)
_ENTITY = compile_fast(r"&(?:[a-zA-Z]{2,8}|#[0-9]{2,6}|#x[0-9a-fA-F]{2,5});")
_USER_LINE = compile_fast(r"^[ \t]*(?:用户|提问者|user|human)[ \t]*[:：][^\n]*", re.MULTILINE | re.IGNORECASE)

# "回复II" (Ⅱ after NFKC), "回复l", "回复I"; English only with a capital name and numeral ("Response II", not
# "the response I gave").
_ROMAN_ZH = compile_fast(r"(回复|回答|答复|反馈)[ \t]*(II|ll|I|l)(?![A-Za-z0-9])")
_ROMAN_EN = compile_fast(
    r"\b(Response|Reply|Answer|Option)[ \t]+(II|I)\b(?!['’])"
    r"(?![ \t]+(?:think|believe|feel|guess|would|will|am|can|have|do|did|prefer|say|mean|agree)\b)"
)
_ROMAN_DIGIT = {"I": "1", "l": "1", "II": "2", "ll": "2"}
# (a name in markup or quotes, "**回复1**", "「回复2」", or as an ordinal, "第一个回复")
_NAME = (
    r"[*`「“【\[]{0,2}(?:(?:回复|回答|答复)[ \t]*[12一二]|(?:Response|Reply|response|reply)[ \t]*[12]|"
    r"第[一二12](?:个|条)(?:回复|回答|答复))[*`」”】\]]{0,2}"
)
_DIGIT = compile_fast(r"[12一二]")
_OPEN_Q = '“「"'
_QUOTE = r"[“「\"](?P<q>[^“”「」\"\n]{1,30})[”」\"]"
# "回复2开头是“我不能帮你”", "回复1的第一句话是：“…”"
_OPENING_DEF = compile_fast(
    r"(?P<name>" + _NAME + r")[ \t]*的?(?:开头|开篇|第一句话?|首句)[ \t]*"
    r"(?:也|则)?(?:就是|是|为|写着|说)?[ \t]*[:：]?[ \t]*" + _QUOTE
)
# "“听到你这样说我很担心你”（即回复2）", "以“我理解…”开头的（回复1）": a quotation, its name in apposition
_APPOSED = compile_fast(
    r"(?P<pre>以[ \t]*)?" + _QUOTE + r"(?P<post>[ \t]*开头的?)?[ \t]*[（(]"
    r"[ \t]*(?:即|也就是|就是|亦即|i\.e\.,?)?[ \t]*"
    r"(?P<name>" + _NAME + r")[ \t]*[）)]"
)


def _roman_zh(m: re.Match[str]) -> str:
    return m.group(1) + _ROMAN_DIGIT[m.group(2)]


def _roman_en(m: re.Match[str]) -> str:
    return m.group(1) + " " + _ROMAN_DIGIT[m.group(2)]


def _quoted_names(text: str) -> str:
    """Quotations tied to a reply's number, and the later pointers at them, become that reply's name."""
    named: dict[str, set[str]] = {}
    kept: list[tuple[int, int]] = []  # the definitions themselves stay as written
    spans: list[tuple[int, int, str]] = []  # (start, end, name): what becomes a name
    for m in _OPENING_DEF.finditer(text):
        named.setdefault(m.group("q").strip(), set()).add(_digit(m.group("name")))
        kept.append((m.start(), m.end()))
    for m in _APPOSED.finditer(text):
        named.setdefault(m.group("q").strip(), set()).add(_digit(m.group("name")))
        spans.append((m.start(), m.end(), "回复" + _digit(m.group("name"))))
    if not named:
        return text
    taken = kept + [(start, end) for start, end, _ in spans]
    first = min(start for start, _ in taken)
    for quote, digits in named.items():
        if len(digits) != 1:
            continue  # (the same words said to open both replies name neither)
        use = re.compile(
            r"(?:以[ \t]*)?[“「\"]"
            + re.escape(quote)
            + r"[”」\"](?:[ \t]*开头)?(?:[ \t]*的?那(?:个|条|一个)|[ \t]*这(?:个|条))?"
            r"[ \t]*(?:回复|回答|答复)?"
        )
        for m in use.finditer(text, first):
            if not any(start < m.end() and m.start() < end for start, end in taken):
                spans.append((m.start(), m.end(), "回复" + next(iter(digits))))
    out: list[str] = []
    last = 0
    for start, end, name in sorted(spans):
        if start < last:
            continue
        out.append(text[last:start])
        out.append(name)
        last = end
    out.append(text[last:])
    return "".join(out)


def _digit(name: str) -> str:
    return "1" if _DIGIT.search(name).group(0) in "1一" else "2"  # type: ignore[union-attr]


def rewrite_surface(text: str) -> str:
    """The answer with the surface forms above undone (see the module docstring)."""
    if "~~" in text or "<" in text:
        text = _STRUCK.sub(" ", text)
    if "<" in text:
        text = _INLINE_TAG.sub("", text)
    if "&" in text and ";" in text:
        text = _ENTITY.sub(lambda m: html.unescape(m.group(0)).replace("\xa0", " "), text)
    if ":" in text or "：" in text:
        text = _USER_LINE.sub("", text)
    if "I" in text or "l" in text:
        text = _ROMAN_ZH.sub(_roman_zh, text)
        text = _ROMAN_EN.sub(_roman_en, text)
    if any(q in text for q in _OPEN_Q):
        text = _quoted_names(text)
    return text
