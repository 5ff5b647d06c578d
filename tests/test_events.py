"""Features react to each other through the event bus only, wired once in bootstrap."""

import re
from pathlib import Path

import pytest

from hotline_core.events import ComplaintReceived, InboundDue, TextArrived, inbound_topic
from intake import inbound
from responders.survey import intercept_sms
from routing.services import on_complaint_received
from webhooks import processors

VIEWS = Path(__file__).resolve().parent.parent / "webhooks" / "views.py"


def test_bootstrap_subscribes_routing_and_the_survey(runtime):
    assert runtime.events.handlers(ComplaintReceived) == [on_complaint_received]
    assert runtime.events.handlers(TextArrived) == [intercept_sms]


def test_every_kind_the_webhooks_store_has_exactly_one_processor(runtime):
    stored = set(re.findall(r'_(?:handle|accept)\(\s*"([a-z_]+)"', VIEWS.read_text(encoding="utf-8")))
    assert stored and set(inbound.ACCEPTED_KINDS) <= stored
    assert stored <= set(processors.PROCESSORS)
    for kind in processors.PROCESSORS:
        assert len(runtime.events.handlers(inbound_topic(kind))) == 1


def test_a_stored_event_of_an_unknown_kind_is_an_error_not_a_silent_pass(runtime):
    class Stored:
        kind = "fax"

    with runtime.db.session() as s, pytest.raises(LookupError, match="exactly one"):
        runtime.events.call(s, runtime, InboundDue(Stored(), deferred=False))


def test_an_unclaimed_text_is_answered_by_no_handler(runtime):
    with runtime.db.session() as s:
        assert runtime.events.ask(s, runtime, TextArrived("+8613800138000", "路灯坏了")) is None
