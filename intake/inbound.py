"""Raw inbound webhook requests: store first, process second, process again if the first try failed.

``receive`` commits the request's form fields before anything else happens. Then either:

* the webhook runs ``process`` itself and answers with its TwiML (calls: the caller is waiting
  for the next prompt), or
* :func:`accept` makes sure a :func:`drain_job` is queued and the webhook answers at once (texts:
  the reply goes out by SMS from the job). One insert, one commit and one Redis call per text is
  what lets the hotline take a burst of complaints at the speed of the database.

``process`` runs the registered processor with the event row locked: if it raises, its work is
rolled back, the raw event keeps the error and :func:`sweep_job` retries it later in ``deferred``
mode, which is also how jobs run. Twilio's retries find the stored event by its dedupe key (or
``I-Twilio-Idempotency-Token``) and get the first response again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, insert, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_core import outbox
from hotline_core.events import InboundDue
from hotline_core.models import InboundEvent
from hotline_core.runtime import Runtime, current

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # then the event leaves the retry loop (failed_at) and waits for a person
RETRY_BASE_SECONDS = 30  # per event: 30 s, 60 s, 120 s ... capped at RETRY_MAX_SECONDS
RETRY_MAX_SECONDS = 3600
DRAIN_BUDGET_SECONDS = 50
BATCH_SIZE = 20
# Kinds the webhooks accept and leave to :func:`drain_job` (the others are processed in the request).
ACCEPTED_KINDS = ("sms", "sms_status")


def _run(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str | None:
    """The processor subscribed for the event's kind (``webhooks.processors``) handles it."""
    response: str | None = runtime.events.call(session, runtime, InboundDue(event, deferred))
    return response


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
    """Commit the raw request. A repeat (same key or token) returns the stored event instead.

    One INSERT ... RETURNING and a commit, without the ORM's unit of work: this runs for every
    webhook, so it costs what the database costs and little more.
    """
    row = {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "idempotency_token": idempotency_token,
        "url": url,
        "form": form,
        "headers": headers,
        "received_at": runtime.now(),
    }
    try:
        with runtime.db.write_engine.begin() as conn:
            event_id = conn.execute(_INSERT_EVENT, row).scalar_one()
    except IntegrityError:  # the unique keys catch repeats
        with runtime.db.session() as session:
            existing = _find(session, dedupe_key, idempotency_token)
        if existing is None:
            raise
        if existing.dedupe_key != dedupe_key:
            # Another request (its signed SID differs) carries a token already seen: the token is not
            # covered by the signature, so it cannot make a different text a repeat. Kept without it.
            return receive(runtime, kind=kind, dedupe_key=dedupe_key, url=url, form=form, headers=headers)
        return Received(existing.id, True, existing.response, existing.processed_at is not None)
    return Received(event_id, False, None, False)


_INSERT_EVENT = insert(InboundEvent).returning(InboundEvent.id)


def accept(runtime: Runtime, **request: Any) -> Received:
    """Commit the raw request and enqueue its processing; a repeat enqueues nothing.

    If Redis is unreachable the event is still stored and :func:`sweep_job` picks it up.
    """
    received = receive(runtime, **request)
    if not received.duplicate:
        runtime.jobs.enqueue(DRAIN_JOB, queue="intake", once=DRAIN_JOB)
    return received


def _find(session: Session, dedupe_key: str, token: str | None) -> InboundEvent | None:
    """The stored event a repeat matches: by its key first (signed), else by the token."""
    found = session.scalars(select(InboundEvent).where(InboundEvent.dedupe_key == dedupe_key)).first()
    if found is None and token:
        found = session.scalars(select(InboundEvent).where(InboundEvent.idempotency_token == token)).first()
    return found


def process(runtime: Runtime, event_id: int, *, deferred: bool = False) -> tuple[bool, str | None]:
    """Run the event's processor once. Returns (succeeded, response).

    The event row is locked while it is processed, so two workers (or a worker and a sweep) never
    process it twice. If the processor raises, everything it did is rolled back and the error is
    recorded on the event for a retry.
    """
    with runtime.db.write_session() as session:
        lock = runtime.db.dialect == "postgresql"
        event = session.get(InboundEvent, event_id, with_for_update=lock)
        if event is None:
            return False, None
        return _process_locked(session, runtime, event, deferred)


def process_batch(runtime: Runtime, limit: int | None = None) -> int | None:
    """Process the oldest accepted events no other worker holds, up to ``limit``, in one
    transaction. Returns how many; None when none is waiting.

    One claim and one commit for the whole batch is what keeps a worker fast during a burst. If
    any event in it fails, the batch is rolled back and its events are processed one at a time,
    so that only the failing one keeps an error.
    """
    with runtime.db.write_session() as session:
        claim = (
            select(InboundEvent)
            .where(InboundEvent.processed_at.is_(None), InboundEvent.kind.in_(ACCEPTED_KINDS))
            .where(InboundEvent.attempts == 0)  # failed ones wait for the sweep's retry
            .order_by(InboundEvent.id)
            .limit(limit or BATCH_SIZE)
        )
        events = session.scalars(runtime.db.claim(claim)).all()
        if not events:
            return None
        ids = [event.id for event in events]
        try:
            for event in events:  # in order: a second text from a number joins the first's ticket
                _mark_processed(event, _run(session, runtime, event, True), runtime)
            session.commit()
            return len(ids)
        except Exception:
            session.rollback()  # also forgets the jobs the batch meant to enqueue
            log.warning("a batch of %d inbound events failed; processing them one at a time", len(ids))
    for event_id in ids:
        process(runtime, event_id, deferred=True)
    return len(ids)


def _process_locked(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> tuple[bool, str | None]:
    if event.processed_at is not None:
        return True, event.response
    event_id = event.id
    try:
        response = _run(session, runtime, event, deferred)
        _mark_processed(event, response, runtime)
        session.commit()
    except Exception as exc:
        session.rollback()  # also forgets the jobs the processor meant to enqueue
        log.exception("inbound event %s failed; kept for a retry", event_id)
        attempts = (session.scalar(select(InboundEvent.attempts).where(InboundEvent.id == event_id)) or 0) + 1
        now = runtime.now()
        session.execute(
            update(InboundEvent)
            .where(InboundEvent.id == event_id)
            .values(
                attempts=attempts,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                next_attempt_at=now + retry_delay(attempts),
                failed_at=now if attempts >= MAX_ATTEMPTS else None,
            )
        )
        session.commit()
        return False, None
    return True, response


def _mark_processed(event: InboundEvent, response: str | None, runtime: Runtime) -> None:
    event.attempts += 1
    event.processed_at = runtime.now()
    event.response = response
    event.error = None
    event.next_attempt_at = None
    event.failed_at = None


def retry_delay(attempts: int) -> timedelta:
    """How long a failed event waits before its next try: each event backs off on its own."""
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS))


def failed_events(session: Session, limit: int = 200) -> list[InboundEvent]:
    """Events that left the retry loop after MAX_ATTEMPTS, newest first."""
    return list(
        session.scalars(
            select(InboundEvent)
            .where(InboundEvent.failed_at.is_not(None), InboundEvent.processed_at.is_(None))
            .order_by(InboundEvent.failed_at.desc(), InboundEvent.id.desc())
            .limit(limit)
        )
    )


def count_failed(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(InboundEvent)
            .where(InboundEvent.failed_at.is_not(None), InboundEvent.processed_at.is_(None))
        )
        or 0
    )


def retry(runtime: Runtime, event_id: int) -> bool:
    """A person retries one failed event now (admin page, CLI). Returns whether it succeeded;
    if it fails again it keeps its new error and stays on the failed list."""
    with runtime.db.transaction() as session:
        event = session.get(InboundEvent, event_id)
        if event is None or event.processed_at is not None:
            return event is not None
        event.attempts = max(MAX_ATTEMPTS - 1, 0)  # one more try; failing again puts it back on the list
        event.failed_at = None
    ok, _ = process(runtime, event_id, deferred=True)
    return ok


def drain_job(budget_seconds: float = DRAIN_BUDGET_SECONDS) -> int:
    """RQ job: process accepted events in batches, oldest first, until none is waiting.

    Webhooks enqueue it with ``once``; see :meth:`JobQueue.drain` for how workers share a backlog.
    Between batches it sends the acknowledgements the rate allows (``outbox.send_due_now``), so
    they go out during a burst that keeps every worker on this queue.
    """
    runtime = current()
    return runtime.jobs.drain(
        DRAIN_JOB,
        "intake",
        lambda: process_batch(runtime),
        budget_seconds,
        between=lambda: outbox.send_due_now(runtime),
    )


def process_job(event_id: int) -> bool:
    """RQ job: process one stored event (accepted, or whose first processing failed).

    Replies go out by SMS; a ticket the event opened is routed by a job on the routing queue.
    """
    ok, _ = process(current(), event_id, deferred=True)
    return ok


def sweep_job(older_than_seconds: float = 30) -> int:
    """Periodic job: catch up on inbound events still unprocessed after ``older_than_seconds``.

    Each failed event is retried when its own backoff is over (:func:`retry_delay`), so new
    failures are not stuck behind old ones; after :data:`MAX_ATTEMPTS` it leaves the loop with its
    error kept (``failed_at``) for the admin page, ``/healthz`` and ``hotline inbound retry``.
    Failed events (and calls whose request died mid-way) get a job each; accepted texts that were
    never tried (their drain job was lost with Redis) get a drain job. Returns how many events
    it found.
    """
    runtime = current()
    now = runtime.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    never_tried = and_(InboundEvent.kind.in_(ACCEPTED_KINDS), InboundEvent.attempts == 0)
    waiting = (InboundEvent.processed_at.is_(None), InboundEvent.received_at <= cutoff)
    due = or_(InboundEvent.next_attempt_at.is_(None), InboundEvent.next_attempt_at <= now)
    with runtime.db.session() as session:
        ids = session.scalars(
            select(InboundEvent.id)
            .where(*waiting, InboundEvent.failed_at.is_(None), due, not_(never_tried))
            .order_by(func.coalesce(InboundEvent.next_attempt_at, InboundEvent.received_at), InboundEvent.id)
            .limit(500)
        ).all()
        backlog = session.scalar(select(func.count()).select_from(InboundEvent).where(*waiting, never_tried)) or 0
    for event_id in ids:
        runtime.jobs.enqueue(PROCESS_JOB, event_id, queue="intake")
    if backlog:
        runtime.jobs.enqueue(DRAIN_JOB, queue="intake", once=DRAIN_JOB)
    return len(ids) + backlog


# Jobs are enqueued by reference (see hotline_core.queue.JobRef).
PROCESS_JOB = process_job
DRAIN_JOB = drain_job
