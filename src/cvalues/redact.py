"""Secrets never reach a file, a log line or the terminal: API keys and passwords in URLs are masked.

Why one module: a key can surface in many places (an error body that echoes the request's headers, a
``--base-url http://user:KEY@host/v1`` kept in the manifest's argv and the backend's description, a
connection error quoting the URL). Each writer calls these helpers; masking happens before any text
is cut to an excerpt, so a key straddling the cut cannot leak in part.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from typing import Any

MASK = "***"
#: ``scheme://user:password@`` in any text: the password is masked (the user name is kept).
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^\s/@:]*):(?P<pw>[^\s/@]*)@")
#: ``Authorization: Bearer TOKEN`` (or ``Basic BASE64``) as servers echo it back.
_BEARER = re.compile(r"(?i)\b((?:bearer|basic)\s+)(?!(?:bearer|basic)\b)[A-Za-z0-9._~+/=-]{4,}")


def redact_url(url: str) -> str:
    """``url`` with the password of its user info masked (``http://u:***@host/v1``)."""
    return _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def mask_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret (and its URL-encoded and JSON-escaped forms), every password in a URL
    and every bearer token masked."""
    for secret in secrets:
        if not secret:
            continue
        forms = {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, MASK)
    return _BEARER.sub(lambda m: m[1] + MASK, redact_url(text))


def mask_value(value: Any, secrets: Iterable[str | None] = ()) -> Any:
    """:func:`mask_text` applied to every string inside ``value`` (dicts, lists, tuples)."""
    secrets = tuple(secrets)
    if isinstance(value, str):
        return mask_text(value, secrets)
    if isinstance(value, dict):
        return {k: mask_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(mask_value(v, secrets) for v in value)
    return value


def check_secret(value: str, where: str) -> None:
    """Raise ValueError when ``value`` holds a newline or another control character (a key pasted with
    its line break would be sent in a header: refused by the server or, worse, split the header)."""
    for i, ch in enumerate(value):
        if ord(ch) < 32 or ord(ch) == 127:
            name = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab"}.get(
                ch, f"control U+{ord(ch):04X}"
            )
            raise ValueError(
                f"{where} holds {name} at position {i + 1} of {len(value)}; set it to the key alone "
                "(e.g. export it without the trailing line break)"
            )
