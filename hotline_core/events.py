"""Domain events, so one feature can react to another without importing it.

Intake publishes :class:`ComplaintReceived`; routing subscribes to it when the application is
wired together (``hotline_app.bootstrap``). Handlers run inside the job that publishes the event.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComplaintReceived:
    """A new ticket has been stored and acknowledged; it now needs classifying and routing."""

    ticket_id: int


@dataclass(frozen=True)
class CitizenMessageAdded:
    """A citizen added a message to an existing ticket (SMS thread, web reply)."""

    ticket_id: int
    event_id: int


Handler = Callable[[Session, Any], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[type, list[Handler]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: Handler) -> None:
        if handler not in self._handlers[event_type]:
            self._handlers[event_type].append(handler)

    def publish(self, session: Session, event: object) -> None:
        for handler in self._handlers[type(event)]:
            handler(session, event)

    def handlers(self, event_type: type) -> list[Handler]:
        return list(self._handlers[event_type])
