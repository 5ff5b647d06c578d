"""Keywords a citizen can text instead of a complaint, in English and Chinese."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Twilio's standard opt-out and opt-in keywords, plus the Chinese ones citizens use.
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "退订", "TD", "取消订阅"}
START_WORDS = {"START", "YES", "UNSTOP", "订阅", "恢复"}
_STATUS = re.compile(r"^\s*(?:STATUS|查询|查詢|CX)\s*[:：]?\s*(\d{4}\s*-\s*\d{1,9})\s*$", re.IGNORECASE)


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
    if match:
        number = re.sub(r"\s+", "", match.group(1))
        year, serial = number.split("-")
        return Command("status", f"{year}-{int(serial):06d}", language="en" if text[:1].isascii() else "zh")
    return None
