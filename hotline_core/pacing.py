"""The service-wide SMS send rate, kept in Redis so it holds across any number of workers and machines.

A GCRA ("generic cell rate algorithm", virtual scheduling) limiter: one Redis key holds the next
free send slot; a send of ``n`` segments takes the slot and moves it ``n / rate`` seconds on, in
one Lua script, so two dispatchers never take the same slot. Nothing waits inside Redis: the
caller learns how far away its slot is and either waits a moment (at most ``sleep_threshold``) or
is refused and told when to come back.

Why hand-written: the ``limits`` library (already here for Flask-Limiter) counts hits in windows,
so ``100 per second`` lets 100 texts out in the same millisecond and cannot say "your slot is in
0.7 s"; RQ's own ``RateLimit`` caps concurrency, not rate. The script is a dozen lines.

Catching up after RQ's whole-second scheduling: a dispatcher refused for a slot re-enqueues itself
for it, and RQ's scheduler keeps times to whole seconds and looks once a second, so it comes back
up to about two seconds late. A dispatcher resuming for a slot (``resume_at``) may therefore take
the slots it missed, back to that slot and at most :data:`CATCH_UP_SECONDS` ago, instead of
starting the schedule again from now; otherwise 1 segment a second would come out as one every
1.5 to 2 seconds. No segment ever goes before its slot on the schedule (never faster than the
rate); after a late wake-up the missed ones go in quick succession (Twilio's own queue spreads
them over the number's throughput for that moment). A fresh dispatcher (no ``resume_at``) gets no
such credit, so an idle service never bursts.

Times are microseconds on the Redis server's clock (``TIME``), one clock for every machine; tests
inject their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: A slot this close is waited for in place; a farther one is handed to RQ's scheduler. 100 ms is
#: shorter than a Twilio request (100-300 ms), so a dispatcher never spends more time sleeping than
#: sending, and far shorter than the second or two a hand-over through RQ's scheduler takes.
SLEEP_THRESHOLD_SECONDS = 0.1
#: How late a resumed dispatcher may be and still take the slots it missed (RQ's scheduler: a
#: whole second of rounding plus a once-a-second look, and a moment for a worker to pick it up).
CATCH_UP_SECONDS = 3.0
RATE_KEY = "hotline:outbox:rate"

_ACQUIRE = """
local now
if ARGV[1] == '' then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
    now = tonumber(ARGV[1])
end
local cost, threshold, catch_up = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local base = now
if ARGV[5] ~= '' then
    base = math.min(now, math.max(tonumber(ARGV[5]), now - catch_up))
end
local slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), base)
if slot - now > threshold or ARGV[6] == 'peek' then
    return {slot - now <= threshold and 1 or 0, slot - now, slot}
end
local free = slot + cost
redis.call('SET', KEYS[1], string.format('%d', free), 'PX', math.floor((free - now + catch_up) / 1000) + 60000)
return {1, slot - now, slot}
"""


@dataclass(frozen=True)
class Slot:
    """The answer of :meth:`SendRateLimiter.acquire`."""

    granted: bool
    #: seconds from now to the slot: wait this long (granted) or come back then (refused). Negative
    #: when a resumed dispatcher takes a slot it missed.
    wait: float
    #: the slot itself, on the limiter's clock (pass it back as ``resume_at``)
    at: float


class SendRateLimiter:
    """At most ``per_second`` segments a second for everyone sharing ``connection``'s Redis."""

    def __init__(
        self,
        connection: Any,
        per_second: float,
        *,
        key: str = RATE_KEY,
        clock: Callable[[], float] | None = None,
        sleep_threshold: float = SLEEP_THRESHOLD_SECONDS,
        catch_up: float = CATCH_UP_SECONDS,
    ) -> None:
        self.key = key
        self.interval_us = 1_000_000 / per_second
        self.clock = clock
        self.threshold_us = round(sleep_threshold * 1_000_000)
        self.catch_up_us = round(catch_up * 1_000_000)
        self._script = connection.register_script(_ACQUIRE)

    def acquire(self, segments: int, *, resume_at: float | None = None) -> Slot:
        """Take the next slot for ``segments`` if it is at most the sleep threshold away.

        Raises ``redis.RedisError`` if Redis cannot be asked (the caller sends nothing)."""
        return self._call(segments, resume_at, "take")

    def peek(self, *, resume_at: float | None = None) -> Slot:
        """The next slot, without taking it: ``granted`` if it is near enough to take now."""
        return self._call(0, resume_at, "peek")

    def _call(self, segments: int, resume_at: float | None, mode: str) -> Slot:
        now = "" if self.clock is None else str(round(self.clock() * 1_000_000))
        resume = "" if resume_at is None else str(round(resume_at * 1_000_000))
        cost = round(self.interval_us * max(segments, 1))
        granted, wait_us, slot_us = self._script(
            keys=[self.key], args=[now, cost, self.threshold_us, self.catch_up_us, resume, mode]
        )
        return Slot(granted=bool(granted), wait=int(wait_us) / 1_000_000, at=int(slot_us) / 1_000_000)
