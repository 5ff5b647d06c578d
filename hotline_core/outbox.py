"""The SMS outbox: every outbound text is a row first, then a job sends it.

* Messages are sent in priority order (acknowledgements first), at most
  ``HOTLINE_SMS_SEGMENTS_PER_SECOND`` segments a second for the whole service. The rate is kept
  by a limiter in Redis (:mod:`hotline_core.pacing`: the next free send slot, taken atomically),
  so it holds across any number of dispatchers, workers and machines, and a burst of complaints
  queues here instead of failing at Twilio.
* A dispatcher never sleeps through the gaps. It sends while the next slot is at most
  ``pacing.SLEEP_THRESHOLD_SECONDS`` (100 ms) away; when the slot is farther it waits only for the
  texts still in flight at Twilio (to record their answers), schedules one dispatcher for that
  slot (RQ's scheduler, rounded up to its whole seconds, so never early) and returns, and its
  worker goes back to intake and routing. The scheduled dispatcher may take the slots its late
  wake-up missed (``resume_at``), so the rounding costs no throughput: 1 segment a second stays
  1 a second, 100 stay 100.
* Texts are not sent one Twilio answer at a time: up to ``HOTLINE_SMS_SEND_CONCURRENCY`` are in
  flight at once on the gateway's sending threads (Twilio answers in 100-300 ms, so one at a
  time could not pass about 5 a second), and a sending thread, not the dispatcher, waits the last
  milliseconds to its text's slot. The dispatcher's own thread claims the messages that can go
  within the threshold in one commit and records a batch of answers in another, while the
  sends go on: its database work never delays a send, and no transaction is open during a call.
* No lock: several dispatchers may send at once (claims use ``SKIP LOCKED`` and the limiter is
  shared), so a worker killed while sending stalls nobody. A ``once`` mark keeps a burst to one
  queued dispatcher, and a "wake" key to one scheduled for the next slot.
* A failed send is retried with exponential backoff; Twilio errors that cannot succeed (invalid
  number, opted out) fail at once.
* Without Twilio credentials a message is marked "not sent (no credentials)", so a demo shows
  everything the service would have sent.
* Twilio's status callbacks update the message; each (sid, status) is kept once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_core import quiet_hours, sms
from hotline_core.models import MessageStatusEvent, OptOut, OutboxMessage, TicketEvent
from hotline_core.models.messaging import MessageStatus, Priority
from hotline_core.pacing import SLEEP_THRESHOLD_SECONDS, SendRateLimiter, Slot
from hotline_core.runtime import Runtime, current
from hotline_core.twilio_gateway import SendError, SentMessage

log = logging.getLogger(__name__)

WAKE_KEY = "hotline:outbox:wake"  # set while a dispatcher is scheduled for the next send slot
BACKOFF_BASE_SECONDS = 30
BACKOFF_MAX_SECONDS = 3600
DISPATCH_BUDGET_SECONDS = 50  # then a dispatcher hands over to a fresh job (no job runs for ever)
MARK_SECONDS = 5  # the once-mark expires this long after a dispatcher stops renewing it (e.g. killed)
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


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0), BACKOFF_MAX_SECONDS))


class Dispatcher:
    """Sends due messages in priority order, under the shared rate, several in flight at once.

    ``run`` stops when nothing is due, when the budget is spent, or when the next slot is too far
    to wait for: then :attr:`next_slot` says when to come back. ``sleep`` and ``clock`` (seconds,
    for the limiter) are injectable so the rate can be tested without waiting; ``resume_at`` is
    the slot a scheduled dispatcher was scheduled for (see :mod:`hotline_core.pacing`).
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] | None = None,
        resume_at: float | None = None,
    ) -> None:
        self.runtime = runtime
        self.sleep = sleep
        self.clock = clock
        rate = runtime.settings.sms_segments_per_second
        self.limiter = SendRateLimiter(runtime.jobs.connection, rate, clock=clock)
        self.concurrency = runtime.settings.send_concurrency
        # Claim at once as many as can go within the sleep threshold: at 1 segment a second one, at
        # 100 ten. More would only be put back; fewer would cost a commit each.
        # Without credentials nothing is sent, so nothing waits for a slot: claim many at once.
        self.batch = max(1, math.floor(rate * SLEEP_THRESHOLD_SECONDS)) if runtime.twilio.configured else 200
        self.resume_at = resume_at
        self.next_slot: Slot | None = None
        self.out_of_budget = False

    def run(self, budget_seconds: float = DISPATCH_BUDGET_SECONDS, heartbeat: Callable[[], None] = lambda: None) -> int:
        """Send until nothing is due, the budget is spent or the rate says wait. Returns how many
        messages were handled.

        Messages are claimed (status ``claimed``) in a commit, then each takes its send slot and
        goes to the gateway's sending threads, at most :attr:`concurrency` in flight, where it
        waits for its slot (at most the sleep threshold) and Twilio is called. Meanwhile this
        thread records the answers (a commit per batch) and claims the next ones, so its database
        work never delays a send; no transaction is ever open during a call. When the next slot
        is farther, it waits only for the texts still in flight, then stops; a message it claimed
        but could not send is put back (``pending``). ``heartbeat`` keeps the once-mark.
        """
        handled = 0
        started = time.monotonic()
        in_flight: dict[Future[SentMessage | SendError], int] = {}
        try:
            while True:
                heartbeat()
                handled += self._record_finished(in_flight, block=len(in_flight) >= self.concurrency)
                free = self.concurrency - len(in_flight)
                if free <= 0:
                    continue
                if time.monotonic() - started >= budget_seconds:
                    self.out_of_budget = True
                    break
                if not self._slot_is_near():
                    if in_flight and self.next_slot is not None:  # Twilio is still answering: record first
                        self.next_slot = None
                        handled += self._record_finished(in_flight, block=True)
                        continue
                    break
                claimed = self._claim(min(free, self.batch) if self.runtime.twilio.configured else self.batch)
                if claimed is None:
                    break
                to_send, finished = claimed
                handled += finished
                for n, (message_id, to, body, segments) in enumerate(to_send):
                    slot = self._take_slot(segments)
                    if slot is None:
                        self._put_back([m[0] for m in to_send[n:]])
                        break
                    in_flight[self.runtime.twilio.submit_sms(to, body, before=self._wait_for(slot))] = message_id
        finally:
            # Whatever stopped the run, the sends already handed to Twilio are recorded (a process
            # killed here leaves them claimed, for reconcile_stale_claims).
            while in_flight:
                heartbeat()
                handled += self._record_finished(in_flight, block=True)
        return handled

    def _slot_is_near(self) -> bool:
        """Whether the next slot can be taken now. If it is too far :attr:`next_slot` says when it
        comes; if Redis cannot be asked it stays None."""
        self.next_slot = None
        try:
            slot = self.limiter.peek(resume_at=self.resume_at)
        except redis.exceptions.RedisError as exc:
            log.warning("outbox: the send rate cannot be read from Redis (%s); the sweep sends later", exc)
            return False
        if not slot.granted:
            self.next_slot = slot
        return slot.granted

    def _take_slot(self, segments: int) -> Slot | None:
        """Take the next send slot if it is near (None: see :meth:`_slot_is_near`)."""
        try:
            slot = self.limiter.acquire(segments, resume_at=self.resume_at)
        except redis.exceptions.RedisError as exc:
            log.warning("outbox: the send rate cannot be read from Redis (%s); the sweep sends later", exc)
            return None
        if not slot.granted:
            self.next_slot = slot
            return None
        if slot.wait >= 0:
            self.resume_at = None  # caught up with the schedule: no more missed slots to take
        return slot

    def _wait_for(self, slot: Slot) -> Callable[[], None]:
        """What a sending thread does before calling Twilio: wait for the slot (at most the
        threshold), on the limiter's clock when one is injected, else on this process's."""
        clock = self.clock or time.monotonic
        until = slot.at if self.clock else time.monotonic() + slot.wait

        def wait_for_slot() -> None:
            if (left := until - clock()) > 0:
                self.sleep(left)

        return wait_for_slot

    def _record_finished(self, in_flight: dict[Future[SentMessage | SendError], int], *, block: bool) -> int:
        if not in_flight:
            return 0
        # A Twilio request times out after 8 s; wake each second anyway to keep the heartbeat.
        done, _ = wait(in_flight, timeout=1.0 if block else 0, return_when=FIRST_COMPLETED)
        if done:
            self._record([(in_flight.pop(future), future.result()) for future in done])
        return len(done)

    def _claim(self, limit: int) -> tuple[list[tuple[int, str, str, int]], int] | None:
        """Commit the claim of up to ``limit`` due messages, most urgent first. Returns those to
        send, and how many needed no call (opted out, no credentials) and were finished here; None
        when nothing is due."""
        with self.runtime.db.transaction() as session:
            now = self.runtime.now()
            stmt = (
                select(OutboxMessage)
                .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.priority, OutboxMessage.id)
                .limit(limit)
            )
            messages = session.scalars(self.runtime.db.claim(stmt)).all()
            if not messages:
                return None
            opted_out = set(
                session.scalars(
                    select(OptOut.phone).where(OptOut.phone.in_({m.to_number for m in messages}), OptOut.opted_out)
                )
            )
            to_send: list[tuple[int, str, str, int]] = []
            for message in messages:
                message.attempts += 1
                if message.kind != OPT_OUT_CONFIRMATION and message.to_number in opted_out:
                    message.status, message.status_updated_at = MessageStatus.OPTED_OUT, now
                    note_undelivered(session, message, now)
                elif not self.runtime.twilio.configured:
                    message.status, message.status_updated_at = MessageStatus.NOT_SENT_NO_CREDENTIALS, now
                else:
                    message.status, message.claimed_at = MessageStatus.CLAIMED, now
                    to_send.append((message.id, message.to_number, message.body, message.segments))
            return to_send, len(messages) - len(to_send)

    def _put_back(self, message_ids: list[int]) -> None:
        """Undo claims whose messages were not sent: pending again, first in line, no attempt spent."""
        with self.runtime.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(message_ids), OutboxMessage.status == MessageStatus.CLAIMED)
                .values(status=MessageStatus.PENDING, claimed_at=None, attempts=OutboxMessage.attempts - 1)
            )

    def _record(self, results: list[tuple[int, SentMessage | SendError]]) -> None:
        """Record Twilio's answers to claimed messages, in one commit (three statements, however many)."""
        with self.runtime.db.transaction() as session:
            ids = [message_id for message_id, _ in results]
            messages = {m.id: m for m in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))}
            sids = [sent.sid for _, sent in results if isinstance(sent, SentMessage)]
            callbacks: dict[str, list[str]] = {}
            for sid, status in session.execute(
                select(MessageStatusEvent.message_sid, MessageStatusEvent.status).where(
                    MessageStatusEvent.message_sid.in_(sids)
                )
            ):
                callbacks.setdefault(sid, []).append(status)
            for message_id, sent in results:
                message = messages.get(message_id)
                if message is not None and message.status == MessageStatus.CLAIMED:
                    record_result(session, self.runtime, message, sent, callbacks=callbacks)


def record_result(
    session: Session,
    runtime: Runtime,
    message: OutboxMessage,
    sent: SentMessage | SendError,
    *,
    callbacks: dict[str, list[str]] | None = None,
) -> None:
    """Apply what Twilio answered to a claimed message. ``callbacks``: the statuses of status
    callbacks already kept, by SID, if the caller read them (else they are read here)."""
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
    latest = _latest_of(callbacks.get(sent.sid, [])) if callbacks is not None else _latest_status(session, sent.sid)
    message.status = latest or sent.status


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


INLINE_BUDGET_SECONDS = 0.05  # per call: what the rate allows right now, not a paced run


def send_due_now(runtime: Runtime, budget_seconds: float = INLINE_BUDGET_SECONDS) -> int:
    """Send, from inside another job, what the shared rate allows right now, for at most
    ``budget_seconds``; returns how many messages were handled.

    The intake drain calls it between two batches. During a burst both workers are
    draining texts (the ``intake`` queue comes first), so a dispatcher scheduled for the next send
    slot would find no free worker until the burst is over, and no acknowledgement would go out
    meanwhile. Sending between batches keeps the texts going at the configured rate without a
    worker set aside for it. It is one more dispatcher: claims skip what another holds and the
    limiter is shared, so the rate and the exactly-once hold; it never schedules anything (the
    queued dispatcher still does), and when nothing is due it costs one Redis call and one query.
    """
    return Dispatcher(runtime).run(budget_seconds=budget_seconds)


def dispatch_job(resume_at: float | None = None) -> int:
    """RQ job: drain the outbox (see :func:`dispatch`)."""
    return dispatch(current(), resume_at=resume_at)


def dispatch(
    runtime: Runtime,
    *,
    resume_at: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] | None = None,
) -> int:
    """Send what is due, then either hand over to a dispatcher scheduled for the next send slot or,
    when nothing is left, schedule the earliest retry. Returns how many messages were handled.

    While a dispatcher is queued, scheduled or running, new messages enqueue no job of their own
    (``once``): it sends them too. A running dispatcher keeps that mark alive only
    :data:`MARK_SECONDS` at a time, and clears it before its last look at the outbox, so a
    message committed after that look gets a job of its own, and a killed dispatcher stalls
    nobody for long. ``resume_at`` is set on a dispatcher scheduled for a slot (by
    :func:`_hand_over`); ``sleep`` and ``clock`` are for tests, as in :class:`Dispatcher`.
    """
    jobs = runtime.jobs
    if resume_at is not None:
        _forget_wake(runtime)  # this is the scheduled one: the next hand-over may schedule another
    renewed = [-math.inf]

    def heartbeat() -> None:
        if time.monotonic() - renewed[0] >= 1:
            renewed[0] = time.monotonic()
            jobs.renew_once(DISPATCH_JOB, MARK_SECONDS)

    handled = 0
    while True:
        dispatcher = Dispatcher(runtime, sleep=sleep, clock=clock, resume_at=resume_at)
        sent = dispatcher.run(heartbeat=heartbeat)
        handled += sent
        if dispatcher.out_of_budget or (dispatcher.next_slot is not None and has_due_messages(runtime)):
            _hand_over(runtime, dispatcher.next_slot, clock or time.time)
            return handled
        jobs.started_once(DISPATCH_JOB)  # from now on a new message enqueues a new job
        if not sent or not has_due_messages(runtime):
            break
        resume_at = None
    schedule_retries(runtime)
    return handled


def _hand_over(runtime: Runtime, slot: Slot | None, wall_clock: Callable[[], float]) -> None:
    """Hand the outbox over to the next dispatcher: a fresh job now (``slot`` None: the budget is
    spent), or one scheduled for ``slot`` unless one is scheduled already (the "wake" key).

    RQ's scheduler keeps times to whole seconds and truncates them, so the delay is rounded up to
    the next whole second: the job never comes back before its slot (it would find it still too
    far and hand over again) and at most about two seconds after it, which the limiter lets it
    catch up (``resume_at``). Until it runs, new messages need no job of their own.
    """
    jobs = runtime.jobs
    if slot is None:
        jobs.renew_once(DISPATCH_JOB, MARK_SECONDS)
        jobs.enqueue(DISPATCH_JOB, queue="messages")
        return
    now = wall_clock()
    delay = math.ceil(now + max(slot.wait, 0)) - now + 0.001
    try:
        if not jobs.connection.set(WAKE_KEY, b"1", nx=True, ex=math.ceil(delay) + MARK_SECONDS):
            return  # another dispatcher is scheduled already; it sends this one too
    except redis.exceptions.RedisError as exc:
        log.warning("outbox: cannot schedule the next dispatcher (%s); the sweep will", exc)
        return
    jobs.renew_once(DISPATCH_JOB, delay + MARK_SECONDS)
    jobs.enqueue(DISPATCH_JOB, queue="messages", delay=delay, resume_at=slot.at)


def _forget_wake(runtime: Runtime) -> None:
    try:
        runtime.jobs.connection.delete(WAKE_KEY)
    except redis.exceptions.RedisError as exc:
        log.warning("outbox: could not clear the wake key: %s (it expires)", exc)


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
    if has_due_messages(runtime):  # once: not while a dispatcher is queued, scheduled or running
        return runtime.jobs.enqueue(DISPATCH_JOB, queue="messages", once=DISPATCH_JOB)
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
    return _latest_of(session.scalars(select(MessageStatusEvent.status).where(MessageStatusEvent.message_sid == sid)))


def _latest_of(statuses: Iterable[str]) -> str | None:
    return max(statuses, key=lambda s: _STATUS_ORDER.get(s, -1), default=None)


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
