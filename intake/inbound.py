"""Raw inbound webhook requests: store first, process second, process again if the first try failed.

``receive`` commits the request's form fields before anything else happens. ``process`` runs the
registered processor inside a savepoint: if it raises, the raw event stays (with the error) and
:func:`sweep_job` retries it later in ``deferred`` mode. Twilio's retries find the stored event by
its dedupe key (or ``I-Twilio-Idempotency-Token``) and get the first response again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_core.models import InboundEvent
from hotline_core.runtime import Runtime, current

log = logging.getLogger(__name__)

# kind -> processor(session, runtime, event, deferred) -> response body (TwiML) or None
Processor = Callable[[Session, Runtime, InboundEvent, bool], str | None]
PROCESSORS: dict[str, Processor] = {}
MAX_ATTEMPTS = 8
REPROCESS_JOB = "intake.inbound.reprocess_job"


def processor(kind: str) -> Callable[[Processor], Processor]:
    def register(func: Processor) -> Processor:
        PROCESSORS[kind] = func
        return func

    return register


@dataclass
class Received:
    event_id: int
    duplicate: bool
    response: str | None
    processed: bool


def receive(
    runtime: Runtime,
    *,
    kind: str,
    dedupe_key: str,
    url: str,
    form: dict[str, Any],
    headers: dict[str, Any],
    idempotency_token: str | None = None,
) -> Received:
    """Commit the raw request. A repeat (same key or token) returns the stored event instead."""
    with runtime.db.write_session() as session:
        event = InboundEvent(
            kind=kind,
            dedupe_key=dedupe_key,
            idempotency_token=idempotency_token,
            url=url,
            form=form,
            headers=headers,
            received_at=runtime.now(),
        )
        session.add(event)
        try:
            session.commit()  # one round trip in the common case: the unique keys catch repeats
        except IntegrityError:
            session.rollback()
            existing = _find(session, dedupe_key, idempotency_token)
            if existing is None:
                raise
            return Received(existing.id, True, existing.response, existing.processed_at is not None)
        return Received(event.id, False, None, False)


def _find(session: Session, dedupe_key: str, token: str | None) -> InboundEvent | None:
    condition = InboundEvent.dedupe_key == dedupe_key
    if token:
        condition = or_(condition, InboundEvent.idempotency_token == token)
    return session.scalars(select(InboundEvent).where(condition).limit(1)).first()


def process(runtime: Runtime, event_id: int, *, deferred: bool = False) -> tuple[bool, str | None]:
    """Run the event's processor once. Returns (succeeded, response)."""
    with runtime.db.write_session() as session:
        lock = runtime.db.dialect == "postgresql"
        event = session.get(InboundEvent, event_id, with_for_update=lock)
        if event is None:
            return False, None
        if event.processed_at is not None:
            return True, event.response
        event.attempts += 1
        try:
            with session.begin_nested():
                response = PROCESSORS[event.kind](session, runtime, event, deferred)
                event.processed_at = runtime.now()
                event.response = response
                event.error = None
        except Exception as exc:
            session.info.pop("hotline_pending_jobs", None)  # jobs for rows that were rolled back
            log.exception("inbound event %s (%s) failed; kept for a retry", event_id, event.kind)
            event.error = f"{type(exc).__name__}: {exc}"[:2000]
            session.commit()
            return False, None
        session.commit()
        return True, response


def reprocess_job(event_id: int) -> bool:
    """RQ job: retry one stored event whose processing failed; replies go out by SMS."""
    ok, _ = process(current(), event_id, deferred=True)
    return ok


def sweep_job(older_than_seconds: float = 30) -> int:
    """Periodic job: retry unprocessed inbound events (crash, bug since fixed, database hiccup)."""
    runtime = current()
    cutoff = runtime.now() - timedelta(seconds=older_than_seconds)
    with runtime.db.session() as session:
        ids = session.scalars(
            select(InboundEvent.id)
            .where(
                InboundEvent.processed_at.is_(None),
                InboundEvent.received_at <= cutoff,
                InboundEvent.attempts < MAX_ATTEMPTS,
            )
            .order_by(InboundEvent.id)
            .limit(500)
        ).all()
    for event_id in ids:
        runtime.jobs.enqueue(REPROCESS_JOB, event_id, queue="intake")
    return len(ids)
