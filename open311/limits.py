"""Per-key rate limits for the Open311 API, counted in Redis when ``REDIS_URL`` is set, in memory otherwise.

The ``limits`` library (the storage and strategies under Flask-Limiter) is used directly so the check
runs after the API key is known and stays local to this package.
"""

from __future__ import annotations

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        self.storage = storage_from_string(redis_url or "memory://")
        self.strategy = MovingWindowRateLimiter(self.storage)

    def hit(self, rate: str, *identity: str) -> bool:
        """Count one request for ``identity``; False when it is over ``rate`` (e.g. ``60/minute``)."""
        return self.strategy.hit(parse(rate), "open311", *identity)
