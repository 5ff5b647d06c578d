"""Call outcomes from Twilio call-progress callbacks (mystery_calls/progress.py), written as Twilio posts them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from mystery_calls.progress import (
    RETRY_AFTER,
    CallOutcome,
    ProgressEvent,
    is_overdue_without_final,
    needs_retry,
    outcome,
)

T0 = datetime(2026, 11, 25, 2, 0, 0, tzinfo=UTC)  # 10:00 Beijing time
BASE = {
    "AccountSid": "AC" + "1" * 32,
    "CallSid": "CA" + "2" * 32,
    "From": "+8613100000001",
    "To": "+864596100001",
    "Direction": "outbound-api",
    "ApiVersion": "2010-04-01",
    "CallbackSource": "call-progress-events",
}


def rfc2822(seconds: float) -> str:
    """Twilio's Timestamp format, ``seconds`` after T0."""
    return (T0 + timedelta(seconds=seconds)).strftime("%a, %d %b %Y %H:%M:%S +0000")


def callback(sequence: int, status: str, event: str, seconds: float, **extra: str) -> dict[str, str]:
    return dict(
        BASE,
        CallStatus=status,
        StatusCallbackEvent=event,
        SequenceNumber=str(sequence),
        Timestamp=rfc2822(seconds),
        **extra,
    )


ANSWERED_CALL = [
    callback(0, "initiated", "initiated", 0),
    callback(1, "ringing", "ringing", 2),
    callback(2, "in-progress", "answered", 14, AnsweredBy="human"),
    callback(
        3,
        "completed",
        "completed",
        206,
        CallDuration="192",
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        RecordingSid="RE" + "3" * 32,
    ),
]


def result_of(forms: list[dict[str, str]]) -> CallOutcome:
    return outcome(ProgressEvent.from_form(form) for form in forms)


class TestFromForm:
    def test_it_parses_twilios_fields(self) -> None:
        event = ProgressEvent.from_form(ANSWERED_CALL[3])
        assert event.sequence == 3 and event.status == "completed" and event.event == "completed"
        assert event.timestamp == datetime(2026, 11, 25, 2, 3, 26, tzinfo=UTC)
        assert event.call_duration == 192 and event.recording_sid == "RE" + "3" * 32
        assert event.answered_by is None and event.sip_response_code is None

    def test_timestamps_become_aware_utc(self) -> None:
        event = ProgressEvent.from_form({"CallStatus": "ringing", "Timestamp": "Sun, 25 Mar 2018 09:53:19 +0000"})
        assert event.timestamp == datetime(2018, 3, 25, 9, 53, 19, tzinfo=UTC) and event.timestamp.tzinfo is UTC
        east = ProgressEvent.from_form({"CallStatus": "ringing", "Timestamp": "Sun, 25 Mar 2018 17:53:19 +0800"})
        assert east.timestamp == event.timestamp and east.timestamp.tzinfo is UTC

    @pytest.mark.parametrize(
        "form",
        [
            {},
            {"SequenceNumber": "x", "CallDuration": "", "SipResponseCode": "4o4", "Timestamp": "yesterday"},
            {"SequenceNumber": "1e400", "Timestamp": "Sun, 99 Foo 2018 99:99:99 +9999", "CallStatus": "  "},
            {"Timestamp": ", , ,", "CallDuration": "nan", "SequenceNumber": "-"},
        ],
    )
    def test_odd_input_never_raises(self, form: dict[str, str]) -> None:
        event = ProgressEvent.from_form(form)
        assert event.sequence is None and event.timestamp is None and event.call_duration is None
        assert event.status == ""
        assert outcome([event]).result == "in_progress"


class TestOutcome:
    def test_a_normal_answered_call(self) -> None:
        result = result_of(ANSWERED_CALL)
        assert result == CallOutcome(
            result="answered",
            final=True,
            ringing_at=T0 + timedelta(seconds=2),
            answered_at=T0 + timedelta(seconds=14),
            completed_at=T0 + timedelta(seconds=206),
            seconds_to_answer=12.0,  # from ringing (2 s) to answered (14 s)
            talk_seconds=192,
            recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
            recording_sid="RE" + "3" * 32,
            answered_by="human",
        )

    def test_shuffled_and_duplicated_callbacks_give_the_same_outcome(self) -> None:
        expected = result_of(ANSWERED_CALL)
        rng = random.Random(12345)
        for _ in range(50):
            forms = ANSWERED_CALL + rng.choices(ANSWERED_CALL, k=rng.randrange(1, 6))
            rng.shuffle(forms)
            assert result_of(forms) == expected

    def test_without_sequence_numbers_timestamps_order_the_callbacks(self) -> None:
        forms = [{k: v for k, v in form.items() if k != "SequenceNumber"} for form in ANSWERED_CALL]
        assert result_of(forms[::-1] + forms[:2]) == result_of(ANSWERED_CALL)

    def test_callbacks_without_the_event_field_are_read_from_the_status(self) -> None:
        forms = [{k: v for k, v in form.items() if k != "StatusCallbackEvent"} for form in ANSWERED_CALL]
        assert result_of(forms) == result_of(ANSWERED_CALL)

    def test_time_to_answer_falls_back_to_initiated_without_ringing(self) -> None:
        result = result_of([ANSWERED_CALL[0], ANSWERED_CALL[2], ANSWERED_CALL[3]])
        assert result.seconds_to_answer == 14.0 and result.ringing_at is None

    def test_talk_time_from_timestamps_when_call_duration_is_missing(self) -> None:
        completed = {k: v for k, v in ANSWERED_CALL[3].items() if k != "CallDuration"}
        assert result_of([*ANSWERED_CALL[:3], completed]).talk_seconds == 192

    def test_busy(self) -> None:
        result = result_of(
            [
                callback(0, "initiated", "initiated", 0),
                callback(1, "busy", "completed", 1, CallDuration="0", SipResponseCode="486"),
            ]
        )
        assert (result.result, result.final, result.seconds_to_answer, result.talk_seconds) == (
            "busy",
            True,
            None,
            None,
        )
        assert needs_retry(result)

    def test_no_answer_after_the_ring_timeout(self) -> None:
        result = result_of(
            [
                callback(0, "initiated", "initiated", 0),
                callback(1, "ringing", "ringing", 1),
                callback(2, "no-answer", "completed", 61, CallDuration="0", SipResponseCode="487"),
            ]
        )
        assert (result.result, result.final, result.answered_at, result.talk_seconds) == ("no_answer", True, None, None)
        assert result.completed_at == T0 + timedelta(seconds=61)
        assert needs_retry(result)

    def test_a_failed_call_with_sip_487_rang_out(self) -> None:
        forms = [callback(0, "ringing", "ringing", 1), callback(1, "failed", "completed", 61, SipResponseCode="487")]
        assert result_of(forms).result == "no_answer"
        forms[1]["SipResponseCode"] = "503"
        assert result_of(forms).result == "failed"
        assert needs_retry(result_of(forms))

    def test_an_answering_machine_is_not_a_person(self) -> None:
        forms = [
            callback(0, "initiated", "initiated", 0),
            callback(1, "ringing", "ringing", 3),
            callback(2, "in-progress", "answered", 9, AnsweredBy="machine_start"),
            callback(3, "completed", "completed", 40, CallDuration="31", AnsweredBy="machine_start"),
        ]
        result = result_of(forms)
        assert (result.result, result.seconds_to_answer, result.answered_by) == ("machine", 6.0, "machine_start")
        assert needs_retry(result)

    @pytest.mark.parametrize(
        ("answered_by", "result"),
        [
            ("machine_end_beep", "machine"),
            ("machine_end_silence", "machine"),
            ("machine_end_other", "machine"),
            ("fax", "machine"),
            ("human", "answered"),
            ("unknown", "answered"),
        ],
    )
    def test_answered_by(self, answered_by: str, result: str) -> None:
        forms = [
            *ANSWERED_CALL[:2],
            callback(2, "in-progress", "answered", 14, AnsweredBy=answered_by),
            ANSWERED_CALL[3],
        ]
        assert result_of(forms).result == result

    def test_completed_without_an_answer_or_duration_is_no_answer(self) -> None:
        forms = [
            callback(0, "initiated", "initiated", 0),
            callback(1, "ringing", "ringing", 2),
            callback(2, "completed", "completed", 30, CallDuration="0"),
        ]
        result = result_of(forms)
        assert (result.result, result.talk_seconds, result.seconds_to_answer) == ("no_answer", None, None)

    def test_completed_with_a_duration_counts_as_answered_even_if_the_answered_callback_was_lost(self) -> None:
        result = result_of([ANSWERED_CALL[0], ANSWERED_CALL[1], ANSWERED_CALL[3]])
        assert (result.result, result.talk_seconds, result.seconds_to_answer) == ("answered", 192, None)

    def test_canceled(self) -> None:
        result = result_of([callback(0, "initiated", "initiated", 0), callback(1, "canceled", "completed", 5)])
        assert result.result == "canceled" and result.final and not needs_retry(result)

    def test_a_call_without_its_final_callback_is_in_progress_then_overdue(self) -> None:
        events = [ProgressEvent.from_form(form) for form in ANSWERED_CALL[:3]]
        result = outcome(events)
        assert (result.result, result.final, result.seconds_to_answer) == ("in_progress", False, 12.0)
        assert not needs_retry(result)
        timeout = timedelta(minutes=30)
        assert not is_overdue_without_final(T0, T0 + timedelta(minutes=29, seconds=59), events)
        assert is_overdue_without_final(T0, T0 + timeout, events)
        assert is_overdue_without_final(T0, T0 + timedelta(hours=2), events, timeout=timedelta(hours=1))
        final = [*events, ProgressEvent.from_form(ANSWERED_CALL[3])]
        assert not is_overdue_without_final(T0, T0 + timedelta(hours=5), final)

    def test_no_callbacks_at_all(self) -> None:
        result = outcome([])
        assert (result.result, result.final, result.seconds_to_answer) == ("in_progress", False, None)
        assert is_overdue_without_final(T0, T0 + timedelta(minutes=31), [])

    def test_overdue_needs_aware_times(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            is_overdue_without_final(datetime(2026, 1, 1), T0, [])


def test_needs_retry_and_the_retry_delay() -> None:
    assert timedelta(minutes=10) == RETRY_AFTER

    def make(result: str, final: bool = True) -> CallOutcome:
        return CallOutcome(result, final, None, None, None, None, None, None, None, None)

    retried = {r for r in ("answered", "busy", "no_answer", "machine", "failed", "canceled") if needs_retry(make(r))}
    assert retried == {"busy", "no_answer", "machine", "failed"}
    assert not needs_retry(make("in_progress", final=False))
