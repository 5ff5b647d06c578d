"""SMS facts: how many segments a body costs, and in which encoding."""

from __future__ import annotations

# GSM 03.38 basic character set plus the extension table (extension characters cost two septets).
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€")


def encoding(body: str) -> str:
    return "GSM-7" if all(ch in _GSM_BASIC or ch in _GSM_EXTENDED for ch in body) else "UCS-2"


def segments(body: str) -> int:
    """Number of SMS segments: 160/153 septets for GSM-7, 70/67 UTF-16 units for UCS-2."""
    if encoding(body) == "GSM-7":
        length = sum(2 if ch in _GSM_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        length = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if length <= single:
        return 1
    return -(-length // multi)
