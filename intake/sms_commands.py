"""Keywords a citizen can text instead of a complaint, in English and Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake import numbers

# Twilio's standard opt-out and opt-in keywords, plus the Chinese ones citizens use.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "退订", "TD", "取消订阅"}
START_WORDS = {"START", "YES", "UNSTOP", "订阅", "恢复"}
_STATUS = re.compile(r"^\s*(?:STATUS|查询|查詢|CX)\s*[:：]?\s*(\S.*?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    kind: str  # stop | start | status
    argument: str | None = None
    language: str = "zh"


def parse(body: str) -> Command | None:
    text = (body or "").strip()
    word = text.upper().rstrip("。.!！")
    if word in STOP_WORDS:
        return Command("stop", language="en" if word.isascii() else "zh")
    if word in START_WORDS:
        return Command("start", language="en" if word.isascii() else "zh")
    match = _STATUS.match(text)
    number = numbers.normalise(match.group(1)) if match else None
    if number:
        return Command("status", number, language="en" if text[:1].isascii() else "zh")
    return None
