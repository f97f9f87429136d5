"""End to end in headless chromium: an annotator labels with the keyboard, reloads and resumes, logs out;
a `<script>` answer is shown as text and runs nothing; an expert scores side by side with answers
blurred until clicked; an admin sees progress, adjudicates and exports. Takes the screenshots used
by docs/annotate.md (saved to docs/img/annotate-*.png with CVALUES_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotate_helpers import FAST, PASSWORD, RESP_ROWS, SAFETY_ROWS, served, write_jsonl
from browser import screenshot_dir
from cvalues.annotate.sources import read_source
from cvalues.annotate.store import AnswerLabel, Store, SubmissionIn


def _login(page, base: str, name: str) -> None:
    page.goto(f"{base}/")
    assert "/login" in page.url  # every page needs a login
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#login")


def _item(page) -> str:
    return page.get_attribute("#label-form", "data-item")


@pytest.mark.slow
def test_annotate_in_a_real_browser(page, browser, tmp_path: Path) -> None:
    store = Store(tmp_path / "e2e.db", create=True)
    store.import_answers(
        read_source(write_jsonl(tmp_path / "s.jsonl", SAFETY_ROWS), "safety"), "safety", per_item=2
    )
    rows = [
        *RESP_ROWS,
        {**RESP_ROWS[0], "model": "m-c", "response": "先倾听，再陪伴就医。\n必要时拨打心理援助热线。"},
    ]
    store.import_answers(
        read_source(write_jsonl(tmp_path / "r.jsonl", rows), "responsibility"), "responsibility"
    )
    for name, role in (("alice", "annotator"), ("bob", "annotator"), ("eve", "expert"), ("root", "admin")):
        store.add_user(name, role, PASSWORD, hasher=FAST)
    img = screenshot_dir(tmp_path)

    with served(store) as base:
        # --- an annotator: content warning, keyboard labels, IME guard, inert <script>, reload, logout
        _login(page, base, "alice")
        page.click("text=开始 / 继续")
        assert "内容提醒" in page.inner_text("main")
        with page.expect_navigation():
            page.click("#ack")
        labelled: list[str] = []
        for key in ("1", "2", "1"):
            item = _item(page)
            if "<script>" in page.inner_text(".answer-text"):
                assert page.evaluate("window.__pwned") is None  # shown as text, never run
                page.screenshot(path=str(img / "annotate-safety.png"), full_page=True)
            # an input method composing (isComposing / keyCode 229) must not trigger a label
            page.evaluate(
                """() => {
                  const c = new KeyboardEvent('keydown', {key: '2', isComposing: true, bubbles: true});
                  document.dispatchEvent(c);
                  const e = new KeyboardEvent('keydown', {key: '2', bubbles: true});
                  Object.defineProperty(e, 'keyCode', {get: () => 229});
                  document.dispatchEvent(e);
                }"""
            )
            page.wait_for_timeout(200)
            assert _item(page) == item and not page.is_checked("input[value=unsafe]")
            with page.expect_navigation():
                page.keyboard.press(key)
            labelled.append(item)
        assert len(set(labelled)) == 3
        resumed = _item(page)
        page.reload()
        assert _item(page) == resumed  # the same unfinished item after a reload
        got = {
            r["item"]: r["label"]
            for r in page.evaluate("() => fetch('/api/labels').then(r => r.json())")["labels"]
        }
        assert [got[int(i)] for i in labelled] == ["safe", "unsafe", "safe"]
        with page.expect_navigation():
            page.click("#logout")
        page.goto(f"{base}/task/safety")
        assert "/login" in page.url
        assert page.console_errors == []  # includes any CSP violation

        # a second annotator disagrees on alice's first item (through the store: not what is tested here)
        bob = store.user("bob")
        store.assign(bob.id, int(labelled[0]))
        first = store.item(int(labelled[0]))
        store.submit(bob, SubmissionIn("bob-1", first.id, [AnswerLabel(first.answers[0].uid, "unsafe")]))

        # --- an expert: answers side by side, blurred until clicked, scored with the keyboard
        expert = browser.new_context(viewport={"width": 1280, "height": 900})
        epage = expert.new_page()
        errors: list[str] = []
        epage.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        _login(epage, base, "eve")
        epage.goto(f"{base}/task/responsibility")
        epage.check("input[name=blur]")
        with epage.expect_navigation():
            epage.click("form[action='/prefs'] button")
        with epage.expect_navigation():
            epage.click("#ack")
        assert epage.locator(".answer-text.blurred").count() == 3
        epage.click(".column >> nth=0 >> .answer-text")
        assert epage.locator(".answer-text.blurred").count() == 2
        epage.keyboard.press("v")
        assert epage.locator(".answer-text.blurred").count() == 0
        epage.keyboard.press("8")
        epage.keyboard.press("3")
        epage.keyboard.press("b")  # the third column is current now: best
        epage.keyboard.press("0")  # 0 = 10
        epage.fill("textarea[name=better_answer]", "更好的回答：先表达关心，建议就医，提供热线。")
        epage.screenshot(path=str(img / "annotate-responsibility.png"), full_page=True)
        with epage.expect_navigation():
            epage.keyboard.press("Control+Enter")
        assert epage.locator("#queue-done").count() == 1
        scores = sorted(r["score"] for r in store.labels_of(store.user("eve").id))
        assert scores == [3, 8, 10]
        assert errors == []
        expert.close()

        # --- the admin: progress, adjudication, export
        admin = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        apage = admin.new_page()
        _login(apage, base, "root")
        apage.goto(f"{base}/admin")
        progress = apage.inner_text("#progress-safety")
        assert "4 items" in progress and "4 labels" in progress and "alice" in progress and "bob" in progress
        apage.screenshot(path=str(img / "annotate-admin.png"), full_page=True)
        apage.goto(f"{base}/admin/adjudicate/safety")
        card = apage.locator(".adjudication")
        assert card.count() == 1 and "alice" in card.inner_text() and "bob" in card.inner_text()
        card.locator("select[name=label]").select_option("unsafe")
        card.locator("input[name=note]").fill("步骤足以造成危害")
        with apage.expect_navigation():
            card.locator("button").click()
        assert "已裁决 adjudicated" in apage.inner_text(".adjudication")
        apage.goto(f"{base}/admin")
        with apage.expect_download() as download:
            apage.click("#export-jsonl")
        lines = [json.loads(x) for x in Path(download.value.path()).read_text(encoding="utf-8").splitlines()]
        finals = [r for r in lines if r["final"] and r["adjudicated"]]
        assert len(finals) == 1 and finals[0]["label"] == "unsafe" and finals[0]["n_labels"] == 2
        assert len([r for r in lines if not r["final"]]) == 4 + 3
        admin.close()
    store.close()
