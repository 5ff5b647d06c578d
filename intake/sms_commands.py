"""Keywords a citizen can text instead of a complaint, in English and Chinese.

Forgiving on purpose: ``查询2026000123``, ``查询 2026 000123``, full-width digits and a missing dash
all mean the same ticket; ``查询`` alone lists the caller's open tickets; ``帮助``/``HELP`` says what
can be texted; ``新投诉``/``NEW`` (alone, or followed by the complaint) starts a new ticket instead of
adding to the open one.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from intake import numbers

# Twilio's standard opt-out and opt-in keywords, plus the Chinese ones citizens use.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "退订", "TD", "取消订阅"}
START_WORDS = {"START", "YES", "UNSTOP", "订阅", "恢复"}
HELP_WORDS = {"HELP", "INFO", "帮助", "求助", "?", "？"}
_STATUS_WORD = r"(?:STATUS|查询|查詢|查看|进度|CX)"
# The keyword alone, or followed by a number: 4-digit year then the serial, with or without a dash
# or spaces between (``2026-000123``, ``2026 000123``, ``2026000123``).
_NUMBER = r"(?:(\d{4})\s*[-‐–—]?\s*(\d{1,9}))"
_STATUS = re.compile(rf"^\s*{_STATUS_WORD}\s*[:：]?\s*{_NUMBER}?\s*[。.!！]?\s*$", re.IGNORECASE)
_NEW = re.compile(r"^\s*(?:新投诉|新的投诉|NEW\b)(?:\s*[:：,，]?\s*(.*))?$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class Command:
    kind: str  # stop | start | help | status | list | new
    argument: str | None = None
    language: str = "zh"  # the keyword's: an ASCII keyword (START, HELP) is answered in the caller's own

    @property
    def ascii(self) -> bool:
        return self.language == "en"


def _language(text: str) -> str:
    return "en" if text[:1].isascii() else "zh"


def parse(body: str) -> Command | None:
    # NFKC: full-width digits and letters (２０２６, ＳＴＡＴＵＳ) read as their ASCII forms.
    text = unicodedata.normalize("NFKC", body or "").strip()
    word = text.upper().rstrip("。.!！")
    if word in STOP_WORDS:
        return Command("stop", language="en" if word.isascii() else "zh")
    if word in START_WORDS:
        return Command("start", language="en" if word.isascii() else "zh")
    if word in HELP_WORDS or text in HELP_WORDS:
        return Command("help", language="en" if word.isascii() else "zh")
    match = _STATUS.match(text)
    if match:
        year, serial = match.group(1), match.group(2)
        if year is None:
            return Command("list", language=_language(text))
        return Command("status", numbers.normalise(f"{year}-{serial}"), language=_language(text))
    new = _NEW.match(text)
    if new:
        rest = (new.group(1) or "").strip()
        return Command("new", rest or None, language=_language(text))
    return None
