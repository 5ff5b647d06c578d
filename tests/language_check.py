"""Is a text all in the reader's language? The visible text of a page, an SMS, an export's header.

A Chinese text may hold Latin letters only in words of :data:`LATIN_ALLOWED` (product names, units,
the SMS keywords a citizen may type), in literals quoted 「so」 or “so”, and in codes (a token with
a digit or an underscore: ``2026-000001``, ``E.164``, ``read_access``, Twilio SIDs). An English text
may hold no CJK character at all. Text the people entered (a complaint, a unit's reply, a username, a
campaign name) is left out by the caller, who passes it as ``data``; an element marked with another
``lang`` (the language switch: ``<a lang="en">English</a>``) is in that language on purpose, and
``<code>`` (an audit action, JSON details) is machine text, not prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

# Latin words a Chinese reader meets as they are: products and standards, units, the file formats
# offered for download, and the keywords a citizen may text (the SMS says "回复 START").
LATIN_ALLOWED = frozenset(
    {
        "Twilio",
        "Open311",
        "GeoReport",
        "CSV",
        "XLSX",
        "YAML",
        "PDF",
        "IP",
        "SMTP",
        "API",
        "URL",
        "SID",
        "TwiML",
        "MMS",
        "km",
        "kg",
        "MB",
        "KB",
        "START",
        "STOP",
        "HELP",
        "STATUS",
        "NEW",
        "Redis",
        "PostgreSQL",
        "E.164",
        "ID",
        "PUBLIC_BASE_URL",
    }
)
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
# In Chinese, Latin quoted as 「code」 or “value” is a literal (a field of a file, what was typed).
QUOTED = re.compile(r"「[^」]*」|“[^”]*”")
URL = re.compile(r"(?:https?://|www\.)\S+|\S+@\S+\.\S+")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9._+'-]*")
# attributes a person reads (or hears from a screen reader)
READ_ATTRIBUTES = {"placeholder", "title", "alt", "aria-label", "aria-description", "label"}
BUTTON_INPUTS = {"submit", "button", "reset"}
SKIPPED = {"script", "style", "template", "noscript"}
# machine text shown as such: action codes, JSON details, identifiers an admin filters by
CODE = {"code", "kbd", "samp"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Visible(HTMLParser):
    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.language = language
        self.stack: list[tuple[str, bool]] = []  # (tag, hidden from the check)
        self.chunks: list[str] = []

    def _hidden(self) -> bool:
        return bool(self.stack) and self.stack[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        lang = values.get("lang", "")
        hidden = self._hidden() or tag in SKIPPED or tag in CODE or bool(lang and not lang.startswith(self.language))
        if not hidden:
            for name in READ_ATTRIBUTES & values.keys():
                self.chunks.append(values[name])
            if tag == "input" and values.get("type", "").lower() in BUTTON_INPUTS and values.get("value"):
                self.chunks.append(values["value"])
            if tag == "meta" and values.get("name") == "description":
                self.chunks.append(values.get("content", ""))
        if tag not in VOID:
            self.stack.append((tag, hidden))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if not self._hidden() and data.strip():
            self.chunks.append(data)


def visible_texts(html: str, language: str) -> list[str]:
    """The texts of a page a reader sees (scripts and styles left out), each element's text apart,
    with the attribute values people read (placeholders, titles, alt texts, labels, buttons)."""
    parser = _Visible(language)
    parser.feed(html)
    parser.close()
    return [" ".join(chunk.split()) for chunk in parser.chunks if chunk.strip()]


def _is_code(token: str) -> bool:
    token = token.strip(".'-")
    return (
        any(ch.isdigit() for ch in token)
        or "_" in token  # an identifier: a setting, a field of a file (read_access, name_zh)
        or token.startswith(("http", "www."))
        or "@" in token
    )


def _without_data(text: str, data: Iterable[str]) -> str:
    for value in data:
        if value and value in text:
            text = text.replace(value, " ")
    stripped = text.strip().rstrip("…").strip()
    if stripped and any(stripped in value for value in data if len(stripped) >= 4):
        return ""  # a shortened preview of something a person wrote
    return text


def foreign_words(texts: Iterable[str], language: str, data: Iterable[str] = ()) -> list[str]:
    """Words of ``texts`` in the other language (each with the text it sits in): Latin words outside
    the allowlist and codes on a Chinese text, CJK characters on an English one."""
    data = sorted({d.strip() for d in data if d and d.strip()}, key=len, reverse=True)
    found: list[str] = []
    for text in texts:
        rest = _without_data(text, data)
        if language == "zh":
            rest = URL.sub(" ", QUOTED.sub(" ", rest))
            words = [w for w in LATIN_WORD.findall(rest) if w.strip(".'-") not in LATIN_ALLOWED and not _is_code(w)]
            # a lone letter is a list marker or a grade, not English
            words = [w for w in words if len(w.strip(".'-")) > 1]
        else:
            words = CJK.findall(rest)
        if words:
            found.append(f"{' '.join(dict.fromkeys(words))!s}  <-  {text[:160]!r}")
    return found


def foreign_on_page(html: str, language: str, data: Iterable[str] = ()) -> list[str]:
    return foreign_words(visible_texts(html, language), language, data)
