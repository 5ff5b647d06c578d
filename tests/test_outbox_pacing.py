"""The outbox sends at the configured rate for the whole service without holding a worker idle.

The rate is kept by a limiter in Redis shared by every dispatcher; a dispatcher whose next slot is
far hands over to one scheduled for that slot (RQ's scheduler, whole seconds) and returns. Time is
simulated: the limiter's clock, the dispatcher's sleeps and RQ's scheduler (see ``Simulation``).
"""

import threading

import pytest
import redis
from sqlalchemy import select

from hotline_core import outbox, pacing
from hotline_core.models import OutboxMessage
from hotline_core.models.messaging import MessageStatus
from hotline_core.queue import JobQueue
from hotline_core.runtime import set_current

START = 1_800_000_000.6  # a fraction of a second past a whole second, as RQ's rounding would meet it


def make_twilio_runtime(make_runtime, twilio_settings, *, rate, concurrency=1):
    return make_runtime(twilio_settings.with_overrides(sms_segments_per_second=rate, sms_send_concurrency=concurrency))


def queue(rt, body="【效能投诉热线】您的投诉已受理。", to="+8613800138000"):
    with rt.db.transaction() as s:
        message = outbox.queue_sms(s, rt, to=to, body=body, kind="acknowledgement")
    return message.id


def message(rt, message_id):
    with rt.db.session() as s:
        return s.get(OutboxMessage, message_id)


class Simulation:
    """Simulated time for dispatchers: the limiter's clock, their sleeps, and RQ's scheduler, which
    stores a delayed job's time truncated to the whole second and looks for due jobs once a second
    (here at ``poll_phase`` past each second). The fake Twilio notes the time of each send."""

    def __init__(self, rt, fake_twilio, monkeypatch, *, poll_phase=0.37):
        self.rt, self.now, self.poll_phase = rt, START, poll_phase
        self.slept: list[float] = []
        self.scheduled: list[tuple[float, dict]] = []
        self.hand_overs: list[float] = []  # the delays dispatchers asked for
        self.sent_at: list[float] = []
        fake_twilio.on_request = lambda request: self.sent_at.append(self.now)
        monkeypatch.setattr(rt.jobs, "enqueue", self.enqueue)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def enqueue(self, func, *args, queue="default", delay=None, once=None, **kwargs):
        if func is outbox.DISPATCH_JOB and delay:
            self.hand_overs.append(delay)
            score = int(self.now + delay)  # RQ: calendar.timegm(...utctimetuple())
            self.scheduled.append((score + self.poll_phase, kwargs))
        return True

    def run(self) -> None:
        """The first dispatcher now, then each scheduled one when RQ's scheduler would start it."""
        outbox.dispatch(self.rt, sleep=self.sleep, clock=self.clock)
        while self.scheduled:
            self.scheduled.sort(key=lambda item: item[0])
            run_at, kwargs = self.scheduled.pop(0)
            self.now = max(self.now, run_at)
            outbox.dispatch(self.rt, sleep=self.sleep, clock=self.clock, **kwargs)


def test_two_limiters_sharing_one_redis_keep_one_rate_between_them(runtime):
    now = [START]
    limiters = [pacing.SendRateLimiter(runtime.jobs.connection, 100.0, clock=lambda: now[0]) for _ in range(2)]
    granted = []
    for i in range(200):  # the two take turns, as two dispatchers on two machines would
        slot = limiters[i % 2].acquire(1)
        assert slot.granted  # 10 ms apart: always within the sleep threshold
        now[0] += max(slot.wait, 0)  # the dispatcher sleeps until its slot
        granted.append(slot.at)
    assert granted == pytest.approx([START + i / 100 for i in range(200)])


def test_a_slot_beyond_the_threshold_is_refused_with_the_time_to_come_back(runtime):
    now = [START]
    first, second = (pacing.SendRateLimiter(runtime.jobs.connection, 1.0, clock=lambda: now[0]) for _ in range(2))
    assert first.acquire(2).granted  # a two-segment text holds the next two seconds
    refused = second.acquire(1)
    assert (refused.granted, refused.wait, refused.at) == (False, pytest.approx(2.0), pytest.approx(START + 2))


def test_a_dispatcher_facing_a_far_slot_hands_over_and_returns_without_sleeping(
    make_runtime, twilio_settings, fake_twilio, monkeypatch
):
    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=1.0)
    first, second = queue(rt, "first"), queue(rt, "second")
    sim = Simulation(rt, fake_twilio, monkeypatch)
    assert outbox.dispatch(rt, sleep=sim.sleep, clock=sim.clock) == 1
    assert [r.field("Body") for r in fake_twilio.messages()] == ["first"]
    assert sim.slept == []
    row = message(rt, second)
    assert (row.status, row.attempts, row.claimed_at) == (MessageStatus.PENDING, 0, None)  # put back untouched
    # one dispatcher scheduled for the next slot, 1 s on; RQ's whole seconds round it up, never down
    [(run_at, kwargs)] = sim.scheduled
    assert kwargs == {"resume_at": pytest.approx(START + 1)}
    assert sim.hand_overs == [pytest.approx(1.401)] and run_at >= START + 1
    assert message(rt, first).status == "queued"


def test_at_one_segment_a_second_whole_second_scheduling_still_sends_one_a_second(
    make_runtime, twilio_settings, fake_twilio, monkeypatch
):
    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=1.0)
    for i in range(20):
        queue(rt, f"ack {i}", to=f"+86138001380{i:02d}")
    sim = Simulation(rt, fake_twilio, monkeypatch)
    sim.run()
    assert len(sim.sent_at) == 20
    assert all(at >= START + n - 1e-6 for n, at in enumerate(sim.sent_at))  # never ahead of the rate
    assert sim.sent_at[-1] - START < 19 + 1  # nor behind it: the 20th goes within a second of its slot
    assert len(sim.hand_overs) == 19  # one scheduled dispatcher per text: none woke too early
    assert all(seconds <= pacing.SLEEP_THRESHOLD_SECONDS for seconds in sim.slept)


def test_a_long_text_holds_the_slots_of_all_its_segments(make_runtime, twilio_settings, fake_twilio, monkeypatch):
    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=1.0)
    queue(rt, "a" * 10)
    queue(rt, "路" * 100)  # two UCS-2 segments
    queue(rt, "b" * 10)
    sim = Simulation(rt, fake_twilio, monkeypatch)
    sim.run()
    assert [r.field("Body")[0] for r in fake_twilio.messages()] == ["a", "路", "b"]
    slots = [START, START + 1, START + 3]
    assert all(slot - 1e-6 <= at < slot + 1 for slot, at in zip(slots, sim.sent_at, strict=True))


def test_at_a_hundred_segments_a_second_the_dispatcher_keeps_up_by_itself(
    make_runtime, twilio_settings, fake_twilio, monkeypatch
):
    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=100.0)
    for i in range(100):
        queue(rt, f"ack {i}", to=f"+86138001381{i:02d}")
    sim = Simulation(rt, fake_twilio, monkeypatch)
    sim.run()
    assert len(fake_twilio.messages()) == 100 and sim.hand_overs == []
    assert sim.now - START == pytest.approx(0.99)  # 100 sends, 10 ms apart
    assert max(sim.slept) <= 0.01 + 1e-6


def test_texts_are_in_flight_at_twilio_several_at_once_and_each_keeps_its_own_answer(
    make_runtime, twilio_settings, fake_twilio
):
    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=1000.0, concurrency=4)
    ids = [queue(rt, f"ack {i}", to=f"+861380013800{i}") for i in range(4)]
    all_in_flight = threading.Barrier(4, timeout=10)  # breaks (and the sends fail) unless 4 arrive together
    fake_twilio.on_request = lambda request: all_in_flight.wait()
    assert outbox.Dispatcher(rt).run() == 4
    sids = {m["to"]: m["sid"] for m in fake_twilio.created}
    rows = [message(rt, i) for i in ids]
    assert all(row.status == "queued" for row in rows)
    assert [row.twilio_sid for row in rows] == [sids[row.to_number] for row in rows]  # no answer crossed threads


def test_a_dispatcher_that_cannot_reach_redis_puts_the_message_back_and_the_sweep_sends_it(
    make_runtime, twilio_settings, fake_twilio
):
    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=1000.0)
    message_id = queue(rt)
    working_queue = rt.jobs
    rt.jobs = JobQueue("redis://127.0.0.1:1/0")  # Redis goes away before the dispatcher takes its slot
    with pytest.raises(redis.exceptions.ConnectionError):
        rt.jobs.connection.ping()
    outbox.dispatch(rt)
    row = message(rt, message_id)
    assert (row.status, row.attempts, fake_twilio.messages()) == (MessageStatus.PENDING, 0, [])

    rt.jobs = working_queue
    set_current(rt)
    assert outbox.sweep_job() is True
    rt.jobs.run_burst()
    assert message(rt, message_id).status == "queued" and len(fake_twilio.messages()) == 1


def test_a_scheduled_dispatcher_makes_way_for_the_next_hand_over(make_runtime, twilio_settings, fake_twilio):
    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=1000.0)
    rt.jobs.connection.set(outbox.WAKE_KEY, b"1", ex=60)  # one is scheduled: others leave it to it
    queue(rt)
    outbox.dispatch(rt, resume_at=START)
    assert rt.jobs.connection.get(outbox.WAKE_KEY) is None


def test_a_drain_of_incoming_texts_sends_acknowledgements_between_its_batches(
    make_runtime, twilio_settings, fake_twilio
):
    """In a burst every worker is on the intake queue; the acknowledgements still go out, at the rate."""
    from intake import inbound

    rt = make_twilio_runtime(make_runtime, twilio_settings, rate=1)
    for n in range(3):
        sid = f"SM{n:032d}"
        form = {"From": f"+861380013800{n}", "To": "+8612345000000", "Body": "窗口办事拖延", "MessageSid": sid}
        url = "https://hotline.example.org/twilio/sms"
        inbound.receive(rt, kind="sms", dedupe_key=f"sms:{sid}", url=url, form=form, headers={})
    set_current(rt)
    assert inbound.drain_job() == 3  # no dispatcher job has run
    sent = [r.field("To") for r in fake_twilio.messages()]
    assert len(sent) == 1  # the first slot at once; the rate (1 a second) holds the other two back
    with rt.db.session() as s:
        statuses = sorted(m.status for m in s.scalars(select(OutboxMessage)))
    assert statuses.count(MessageStatus.PENDING) == 2


def test_without_credentials_a_backlog_is_recorded_in_a_few_commits(runtime, monkeypatch):
    """Nothing is sent, so nothing waits for a send slot: the demo's outbox keeps up with a burst."""
    with runtime.db.transaction() as s:
        for n in range(250):
            outbox.queue_sms(
                s, runtime, to=f"+86139{n:08d}", body="【效能投诉热线】您的投诉已受理。", kind="acknowledgement"
            )
    claims: list[int] = []
    real = outbox.Dispatcher._claim
    monkeypatch.setattr(outbox.Dispatcher, "_claim", lambda self, limit: claims.append(limit) or real(self, limit))
    assert outbox.Dispatcher(runtime).run() == 250
    assert len(claims) <= 3
    with runtime.db.session() as s:
        assert {m.status for m in s.scalars(select(OutboxMessage))} == {MessageStatus.NOT_SENT_NO_CREDENTIALS}
