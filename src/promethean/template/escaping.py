"""Go's escapers: ``html``, ``js`` and ``urlquery`` builtins and html-mode output.

Kept separate because both the builtins and the executor's HTML mode use them,
and because the exact replacement strings (``&#34;``, ``\\u003C``) are what users
see in notifications.
"""

from __future__ import annotations

import unicodedata
import urllib.parse


class SafeHTML(str):
    """A string that HTML-mode execution writes without escaping (``safeHtml``)."""

    __slots__ = ()


_HTML_TEXT = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}
_HTML_TEMPLATE = dict(_HTML_TEXT, **{"+": "&#43;"})


def html_escape(s: str) -> str:
    """text/template's ``html`` (template.HTMLEscapeString)."""
    if not any(c in s for c in "\0\"'&<>"):
        return s
    return "".join(_HTML_TEXT.get(c, c) for c in s)


def html_template_escape(s: str) -> str:
    """html/template's escaping of text content: also ``+`` (against UTF-7 sniffing)."""
    if not any(c in s for c in "\0\"'&<>+"):
        return s
    return "".join(_HTML_TEMPLATE.get(c, c) for c in s)


_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def js_escape(s: str) -> str:
    """text/template's ``js`` (template.JSEscapeString)."""
    out: list[str] = []
    for c in s:
        o = ord(c)
        if c in _JS:
            out.append(_JS[c])
        elif o < 0x20:
            out.append(f"\\u00{o:02X}")
        elif o < 0x80 or unicodedata.category(c)[0] in "LMNPS" or c == " ":
            out.append(c)
        else:
            out.append(f"\\u{o:04X}")
    return "".join(out)


def url_query_escape(s: str) -> str:
    """url.QueryEscape: ``+`` for space, ``%XX`` for everything but ``-_.~`` and alphanumerics."""
    return urllib.parse.quote_plus(s, safe="-_.~")
