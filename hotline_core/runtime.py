"""The wired-up service: settings, database, job queue, event bus, Twilio gateway.

Views get it from the Flask app; jobs, which RQ calls as plain functions, get it from
:func:`current`. ``hotline_app.bootstrap`` builds it and makes it current.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from hotline_core.db import Database, utcnow
from hotline_core.events import EventBus
from hotline_core.queue import JobQueue
from hotline_core.settings import Settings
from hotline_core.twilio_gateway import TwilioGateway


@dataclass
class Runtime:
    settings: Settings
    db: Database
    jobs: JobQueue
    events: EventBus
    twilio: TwilioGateway
    clock: Callable[[], datetime] = field(default=utcnow)

    def now(self) -> datetime:
        return self.clock()


_current: Runtime | None = None


def set_current(runtime: Runtime | None) -> None:
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no hotline runtime: start jobs with `hotline worker`, not a bare `rq worker`")
    return _current
