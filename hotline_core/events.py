"""Domain events: the one way a feature reacts to another without importing it.

Intake publishes :class:`ComplaintReceived`; routing subscribes to it when the application is wired
together (``hotline_app.bootstrap``). A handler receives the session of the publishing transaction,
the runtime and the event, so it never reaches for a module global. Two ways to deliver:

* :meth:`EventBus.publish`: every handler runs (notifications: "a complaint arrived").
* :meth:`EventBus.ask`: handlers are asked in order and the first that answers (not None) wins
  (claims: "is this text the answer to a survey?").
* :meth:`EventBus.call`: the one handler of the topic answers (:class:`InboundDue`: the processor
  of a stored webhook's kind).

Handlers run inside the job or request that publishes the event. ``CitizenMessageAdded`` has no
subscriber yet; ``tests/test_events.py`` proves that bootstrap wires the others.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from hotline_core.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComplaintReceived:
    """New tickets have been stored and acknowledged; they now need classifying and routing.
    A batch at a time: routing many tickets together costs far less than one by one."""

    ticket_ids: tuple[int, ...]


@dataclass(frozen=True)
class CitizenMessageAdded:
    """A citizen added a message to an existing ticket (SMS thread, web reply)."""

    ticket_id: int
    event_id: int


@dataclass(frozen=True)
class TextArrived:
    """A citizen's text that is not a keyword command: a handler may claim it (a survey answer)
    by answering with the reply to send; unclaimed, intake treats it as a complaint."""

    phone: str
    body: str


@dataclass(frozen=True)
class MatterAsked:
    """What is this text about? Intake asks before adding a text to an open SMS thread, to tell a
    new matter from a follow-up; routing answers with a :class:`Matter` (directory keywords).
    An open ticket is asked about with its category and area, which win over its words."""

    text: str
    category_id: int | None = None
    area_id: int | None = None


@dataclass(frozen=True)
class Matter:
    """A text's broad category (the level-1 category its keywords point to) and district (the
    top-level area named in it); None where the text says nothing clear."""

    category: str | None
    area: str | None

    def differs_from(self, other: Matter) -> str | None:
        """Why two texts are clearly about different matters ("category" or "area"), or None:
        only what both texts name is compared."""
        if self.category and other.category and self.category != other.category:
            return "category"
        if self.area and other.area and self.area != other.area:
            return "area"
        return None


@dataclass(frozen=True)
class InboundDue:
    """A stored webhook request (``InboundEvent``) waiting to be processed. Exactly one processor
    is subscribed per kind (``webhooks.processors``); it answers with the TwiML to return, if any."""

    event: Any
    deferred: bool

    @property
    def topic(self) -> Hashable:
        return inbound_topic(self.event.kind)


def inbound_topic(kind: str) -> Hashable:
    return ("inbound", kind)


Handler = Callable[[Session, "Runtime", Any], Any]


def topic(event: object) -> Hashable:
    """What handlers subscribe to: the event's type, or its own ``topic`` (e.g. per webhook kind)."""
    own: Hashable | None = getattr(event, "topic", None)
    if own is not None:
        return own
    return cast(Hashable, type(event))


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[Hashable, list[Handler]] = defaultdict(list)

    def subscribe(self, key: Hashable, handler: Handler) -> None:
        if handler not in self._handlers[key]:
            self._handlers[key].append(handler)

    def publish(self, session: Session, runtime: Runtime, event: object) -> None:
        for handler in self._handlers[topic(event)]:
            handler(session, runtime, event)

    def ask(self, session: Session, runtime: Runtime, event: object) -> Any:
        """The first handler's answer that is not None, or None if no handler claims the event."""
        for handler in self._handlers[topic(event)]:
            answer = handler(session, runtime, event)
            if answer is not None:
                return answer
        return None

    def call(self, session: Session, runtime: Runtime, event: object) -> Any:
        """The answer of the one handler subscribed to the event (a processor); none is an error."""
        handlers = self._handlers.get(topic(event), [])
        if len(handlers) != 1:
            raise LookupError(f"{len(handlers)} handlers subscribed to {topic(event)!r}; exactly one is needed")
        return handlers[0](session, runtime, event)

    def handlers(self, key: Hashable) -> list[Handler]:
        return list(self._handlers[key])

    def topics(self) -> list[Hashable]:
        return [key for key, handlers in self._handlers.items() if handlers]
