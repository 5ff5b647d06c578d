"""The SMS outbox: every outbound text is a row first, then a job sends it.

* Messages are sent in priority order (acknowledgements first), at most
  ``HOTLINE_SMS_SEGMENTS_PER_SECOND`` segments a second for the whole service: one dispatcher at
  a time holds a Redis lock, so a burst of complaints queues instead of failing at Twilio.
* A failed send is retried with exponential backoff; Twilio errors that cannot succeed (invalid
  number, opted out) fail at once.
* Without Twilio credentials a message is marked "not sent (no credentials)", so a demo shows
  everything the service would have sent.
* Twilio's status callbacks update the message; each (sid, status) is kept once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_core import quiet_hours, sms
from hotline_core.models import MessageStatusEvent, OptOut, OutboxMessage, TicketEvent
from hotline_core.models.messaging import MessageStatus, Priority
from hotline_core.runtime import Runtime, current
from hotline_core.twilio_gateway import SendError, SentMessage

log = logging.getLogger(__name__)

LOCK_NAME = "hotline:outbox:dispatch"
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
DISPATCH_BUDGET_SECONDS = 50
LOCK_SECONDS = 10  # the dispatch lock and once-mark expire this long after a dispatcher stops renewing them
STALE_CLAIM_SECONDS = 30  # a claim this old belongs to a dead dispatcher (Twilio's client times out sooner)
OPT_OUT_CONFIRMATION = "opt_out_confirmation"  # the only kind sent to an opted-out number


def queue_sms(
    session: Session,
    runtime: Runtime,
    *,
    to: str,
    body: str,
    kind: str,
    priority: int = Priority.NOTIFICATION,
    ticket_id: int | None = None,
    deferrable: bool = False,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Add a message to the outbox; it is dispatched after the session commits.

    ``deferrable``: a non-urgent text (a survey, a reminder to a citizen) queued during the quiet
    hours waits until they end (``hotline_core.quiet_hours``; ``not_before``: the caller has
    already worked out when, e.g. once for a batch)."""
    message = OutboxMessage(
        to_number=to,
        body=body,
        kind=kind,
        priority=priority,
        ticket_id=ticket_id,
        segments=sms.segments(body),
        encoding=sms.encoding(body),
        next_attempt_at=(not_before or quiet_hours.not_before(session, runtime)) if deferrable else runtime.now(),
    )
    session.add(message)
    runtime.jobs.enqueue_after_commit(session, DISPATCH_JOB, queue="messages", once=DISPATCH_JOB)
    return message


def is_opted_out(session: Session, phone: str) -> bool:
    row = session.get(OptOut, phone)
    return bool(row and row.opted_out)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


class Dispatcher:
    """Sends due messages in priority order at a bounded rate.

    ``sleep`` and ``monotonic`` are injectable so the rate can be tested without waiting.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runtime = runtime
        self.sleep = sleep
        self.monotonic = monotonic
        self.interval_per_segment = 1.0 / runtime.settings.sms_segments_per_second
        self._next_send_at = 0.0

    def next_due(self, session: Session) -> OutboxMessage | None:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= self.runtime.now())
            .order_by(OutboxMessage.priority, OutboxMessage.id)
            .limit(1)
        )
        return session.scalars(self.runtime.db.claim(stmt)).first()

    def run(self, budget_seconds: float = DISPATCH_BUDGET_SECONDS, heartbeat: Callable[[], None] = lambda: None) -> int:
        """Send until nothing is due or the budget is spent. Returns how many were handled.

        No transaction is open while Twilio is called or the rate is waited for: a message is
        claimed (status ``claimed``) in one commit, sent, and its result recorded in another.
        ``heartbeat`` is called before each message (it keeps the dispatch lock alive).
        """
        handled = 0
        started = self.monotonic()
        while self.monotonic() - started < budget_seconds:
            heartbeat()
            claimed = self._claim()
            if claimed is None:
                break
            handled += 1
            if not isinstance(claimed, tuple):  # _DONE: handled without sending
                continue
            message_id, to, body, segments = claimed
            self._wait_for_rate(segments, heartbeat)
            heartbeat()
            try:
                sent: SentMessage | SendError = self.runtime.twilio.send_sms(to, body)
            except SendError as exc:
                sent = exc
            self._record(message_id, sent)
        return handled

    def _claim(self) -> tuple[int, str, str, int] | object | None:
        """Commit the claim of the next due message; messages that need no call are finished here."""
        with self.runtime.db.transaction() as session:
            message = self.next_due(session)
            if message is None:
                return None
            now = self.runtime.now()
            message.attempts += 1
            if message.kind != OPT_OUT_CONFIRMATION and is_opted_out(session, message.to_number):
                message.status, message.status_updated_at = MessageStatus.OPTED_OUT, now
                note_undelivered(session, message, now)
                return _DONE
            if not self.runtime.twilio.configured:
                message.status, message.status_updated_at = MessageStatus.NOT_SENT_NO_CREDENTIALS, now
                return _DONE
            message.status, message.claimed_at = MessageStatus.CLAIMED, now
            return (message.id, message.to_number, message.body, message.segments)

    def _wait_for_rate(self, segments: int, heartbeat: Callable[[], None]) -> None:
        while (delay := self._next_send_at - self.monotonic()) > 0:
            self.sleep(min(delay, 1.0))  # in slices, renewing the lock: a long message takes long
            heartbeat()
        self._next_send_at = max(self._next_send_at, self.monotonic()) + (self.interval_per_segment * segments)

    def _record(self, message_id: int, sent: SentMessage | SendError) -> None:
        with self.runtime.db.transaction() as session:
            message = session.get(OutboxMessage, message_id)
            if message is None or message.status != MessageStatus.CLAIMED:
                return
            record_result(session, self.runtime, message, sent)


_DONE = object()


def record_result(session: Session, runtime: Runtime, message: OutboxMessage, sent: SentMessage | SendError) -> None:
    """Apply what Twilio answered to a claimed message."""
    now = runtime.now()
    message.claimed_at = None
    if isinstance(sent, SendError):
        message.last_error = str(sent)[:2000]
        message.error_code = str(sent.code) if sent.code else None
        if sent.permanent or message.attempts >= runtime.settings.outbox_max_attempts:
            message.status = MessageStatus.FAILED
            message.status_updated_at = now
            note_undelivered(session, message, now)
        else:
            message.status = MessageStatus.PENDING
            message.next_attempt_at = now + backoff(message.attempts)
        log.warning("outbox message %s: %s", message.id, sent)
        return
    message.twilio_sid = sent.sid
    message.sent_at = now
    message.status_updated_at = now
    # A status callback may have beaten us to it; never move a message backwards.
    message.status = _latest_status(session, sent.sid) or sent.status


UNDELIVERED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.OPTED_OUT)


def note_undelivered(
    session: Session, message: OutboxMessage, now: datetime, *, status: str | None = None, error_code: str | None = None
) -> None:
    """A text about a ticket that will not arrive (failed, undelivered, opted out) is written on the
    ticket's timeline, so staff see it (issue 13 point 4)."""
    if message.ticket_id is None:
        return
    session.add(
        TicketEvent(
            ticket_id=message.ticket_id,
            at=now,
            kind="notification_failed",
            data={
                "message_id": message.id,
                "message_kind": message.kind,
                "status": status or message.status,
                "error_code": error_code or message.error_code,
            },
        )
    )


def dispatch_job() -> int:
    """RQ job: drain the outbox. Only one dispatcher runs at a time, so the rate holds globally.

    While a dispatcher is queued or running, new messages enqueue no job of their own (``once``):
    it sends them too. It clears that mark before its last look at the outbox, so a message
    committed after that look gets a job of its own. Both the lock and the mark live only
    :data:`LOCK_SECONDS` unless the running dispatcher renews them, so a worker killed while
    sending stalls nobody for longer than that: a dispatcher that finds the lock taken comes back
    once it would have expired.
    """
    runtime = current()
    lock = runtime.jobs.connection.lock(LOCK_NAME, timeout=LOCK_SECONDS, blocking=False)
    handled = 0

    def heartbeat() -> None:
        lock.reacquire()
        runtime.jobs.renew_once(DISPATCH_JOB, LOCK_SECONDS)

    while True:
        if not lock.acquire(blocking=False):
            runtime.jobs.enqueue(DISPATCH_JOB, queue="messages", delay=LOCK_SECONDS)
            return handled  # the running dispatcher will pick up what is due (or this job, later)
        try:
            sent = Dispatcher(runtime).run(heartbeat=heartbeat)
        finally:
            try:
                lock.release()
            except Exception:  # expired meanwhile: nothing to release
                log.warning("the outbox dispatch lock had expired")
        handled += sent
        runtime.jobs.started_once(DISPATCH_JOB)  # from now on a new message enqueues a new job
        if not sent or not has_due_messages(runtime):
            break
    schedule_retries(runtime)
    return handled


def reconcile_stale_claims(runtime: Runtime, older_than_seconds: float = STALE_CLAIM_SECONDS) -> int:
    """Settle messages claimed by a dispatcher that died between its Twilio call and its commit.

    Decision: ask Twilio. If its message list holds a message from our number to that number with
    that body, the send happened and is recorded (never sent twice); if not, Twilio never accepted
    it and it is pending again. If Twilio cannot be asked, it stays claimed for the next sweep.
    Returns how many were settled.
    """
    cutoff = runtime.now() - timedelta(seconds=older_than_seconds)
    with runtime.db.session() as session:
        stale = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status == MessageStatus.CLAIMED, OutboxMessage.claimed_at <= cutoff
            )
        ).all()
    settled = 0
    for message_id in stale:
        with runtime.db.transaction() as session:
            message = session.scalars(
                runtime.db.claim(select(OutboxMessage).where(OutboxMessage.id == message_id))
            ).first()
            if message is None or message.status != MessageStatus.CLAIMED:
                continue
            try:
                found = runtime.twilio.find_sent(message.to_number, message.body)
            except SendError as exc:
                log.warning("outbox message %s: cannot reconcile yet: %s", message.id, exc)
                continue
            if found is not None:
                record_result(session, runtime, message, found)
            else:
                message.status, message.claimed_at, message.next_attempt_at = MessageStatus.PENDING, None, runtime.now()
            log.warning("outbox message %s: interrupted send reconciled (%s)", message.id, found and found.sid)
            settled += 1
    return settled


def has_due_messages(runtime: Runtime) -> bool:
    with runtime.db.session() as session:
        return bool(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= runtime.now())
            )
        )


def schedule_retries(runtime: Runtime) -> None:
    """Make sure the earliest pending retry has a dispatch job waiting for it."""
    with runtime.db.session() as session:
        earliest: datetime | None = session.scalar(
            select(func.min(OutboxMessage.next_attempt_at)).where(OutboxMessage.status == MessageStatus.PENDING)
        )
    if earliest is not None:
        delay = max((earliest - runtime.now()).total_seconds(), 0.5)
        runtime.jobs.enqueue(DISPATCH_JOB, queue="messages", delay=delay)


def sweep_job() -> bool:
    """Periodic safety net: settle interrupted sends, then start a dispatcher if anything is due
    (e.g. Redis was down, or the dispatcher's worker died)."""
    runtime = current()
    if runtime.twilio.configured:
        reconcile_stale_claims(runtime)
    if has_due_messages(runtime):
        return runtime.jobs.enqueue(DISPATCH_JOB, queue="messages")
    return False


_STATUS_ORDER = {
    s: i
    for i, s in enumerate(
        [
            "accepted",
            "scheduled",
            "queued",
            "sending",
            "sent",
            "receiving",
            "received",
            "delivered",
            "read",
            "undelivered",
            "failed",
            "canceled",
            "partially_delivered",
        ]
    )
}


def _latest_status(session: Session, sid: str) -> str | None:
    statuses = session.scalars(select(MessageStatusEvent.status).where(MessageStatusEvent.message_sid == sid)).all()
    return max(statuses, key=lambda s: _STATUS_ORDER.get(s, -1)) if statuses else None


def record_status_callback(session: Session, form: dict[str, Any], now: datetime) -> bool:
    """Keep one Twilio status callback. Returns False for a repeat of one already kept."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or status not in MessageStatus.TWILIO:
        raise ValueError("MessageSid and a known MessageStatus are required")
    try:
        with session.begin_nested():
            session.add(
                MessageStatusEvent(
                    message_sid=sid, status=status, error_code=form.get("ErrorCode") or None, form=form, received_at=now
                )
            )
    except IntegrityError:
        return False
    latest = _latest_status(session, sid) or status
    if latest in UNDELIVERED and status == latest:
        for message in session.scalars(select(OutboxMessage).where(OutboxMessage.twilio_sid == sid)):
            if message.status not in UNDELIVERED:
                note_undelivered(session, message, now, status=latest, error_code=form.get("ErrorCode") or None)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.twilio_sid == sid)
        .values(status=latest, status_updated_at=now, error_code=form.get("ErrorCode") or OutboxMessage.error_code)
    )
    return True


# Jobs are enqueued by reference (see hotline_core.queue.JobRef).
DISPATCH_JOB = dispatch_job
