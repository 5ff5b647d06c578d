"""No transaction waits on Twilio, and an interrupted send is never sent twice.

A message is claimed ("claimed") in one commit, Twilio is called outside any transaction and the
result is recorded in another. A dispatcher that dies between its call and its commit leaves the
message claimed; the outbox sweep asks Twilio's message list whether it went out.
"""

import pytest
from sqlalchemy import select

from hotline_core import outbox
from hotline_core.models import InboundEvent, OutboxMessage
from hotline_core.models.messaging import MessageStatus
from hotline_core.runtime import set_current
from intake import inbound


@pytest.fixture
def twilio_runtime(make_runtime, twilio_settings):
    return make_runtime(twilio_settings)


def queue(rt, body="【效能投诉热线】您的投诉已受理，工单号 2026-000001。", to="+8613800138000"):
    with rt.db.transaction() as s:
        message = outbox.queue_sms(s, rt, to=to, body=body, kind="acknowledgement")
    return message.id


def status(rt, message_id):
    with rt.db.session() as s:
        return s.get(OutboxMessage, message_id).status


class Killed(BaseException):
    """The worker process dies here (nothing after it runs)."""


@pytest.mark.committed  # reads the claim from the fake Twilio's thread
def test_the_claim_is_committed_before_twilio_is_called(twilio_runtime, fake_twilio):
    message_id = queue(twilio_runtime)
    seen = []
    fake_twilio.on_request = lambda request: seen.append(status(twilio_runtime, message_id))
    outbox.Dispatcher(twilio_runtime).run()
    assert seen == [MessageStatus.CLAIMED]
    assert status(twilio_runtime, message_id) == "queued"


@pytest.mark.committed  # a webhook commits from the fake Twilio's thread
def test_a_webhook_can_commit_while_twilio_is_answering(twilio_runtime, fake_twilio):
    queue(twilio_runtime)
    stored = []

    def meanwhile(request):  # on SQLite an open dispatcher transaction would hold the write lock here
        received = inbound.receive(
            twilio_runtime, kind="sms", dedupe_key="sms:SMmeanwhile", url="https://x", form={}, headers={}
        )
        stored.append(received.event_id)

    fake_twilio.on_request = meanwhile
    outbox.Dispatcher(twilio_runtime).run()
    with twilio_runtime.db.session() as s:
        assert s.scalars(select(InboundEvent.id)).all() == stored


def test_a_dispatcher_killed_after_twilio_accepted_the_message_does_not_send_it_again(
    twilio_runtime, fake_twilio, clock, monkeypatch
):
    message_id = queue(twilio_runtime)

    def killed(self, results):
        raise Killed

    monkeypatch.setattr(outbox.Dispatcher, "_record", killed)
    with pytest.raises(Killed):
        outbox.Dispatcher(twilio_runtime).run()
    monkeypatch.undo()
    assert status(twilio_runtime, message_id) == MessageStatus.CLAIMED

    clock.advance(outbox.STALE_CLAIM_SECONDS + 1)
    set_current(twilio_runtime)
    outbox.sweep_job()
    twilio_runtime.jobs.run_burst()
    assert len(fake_twilio.messages()) == 1
    with twilio_runtime.db.session() as s:
        row = s.get(OutboxMessage, message_id)
    assert row.twilio_sid == fake_twilio.created[0]["sid"] and row.status == "queued"


def test_a_dispatcher_killed_before_twilio_received_the_message_sends_it_once_later(
    twilio_runtime, fake_twilio, clock, monkeypatch
):
    message_id = queue(twilio_runtime)

    def killed(to, body):
        raise Killed

    monkeypatch.setattr(twilio_runtime.twilio, "send_sms", killed)
    with pytest.raises(Killed):
        outbox.Dispatcher(twilio_runtime).run()
    monkeypatch.undo()

    clock.advance(outbox.STALE_CLAIM_SECONDS + 1)
    set_current(twilio_runtime)
    outbox.sweep_job()
    twilio_runtime.jobs.run_burst()
    assert len(fake_twilio.messages()) == 1
    assert status(twilio_runtime, message_id) == "queued"


def test_a_recent_claim_is_left_to_its_dispatcher(twilio_runtime, fake_twilio, monkeypatch):
    message_id = queue(twilio_runtime)
    monkeypatch.setattr(outbox.Dispatcher, "_record", lambda self, results: (_ for _ in ()).throw(Killed))
    with pytest.raises(Killed):
        outbox.Dispatcher(twilio_runtime).run()
    monkeypatch.undo()
    assert outbox.reconcile_stale_claims(twilio_runtime) == 0
    assert status(twilio_runtime, message_id) == MessageStatus.CLAIMED
