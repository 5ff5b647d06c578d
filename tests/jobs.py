"""Small jobs the queue tests enqueue (RQ imports jobs by dotted name)."""

import time

RAN: list[tuple[str, float]] = []


def remember(label: str) -> str:
    RAN.append((label, time.monotonic()))
    return label
