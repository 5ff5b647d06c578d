"""Mystery calls end to end: campaign, plan, automated call with Twilio callbacks, manual log, scores, ranking."""

import random
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import AuditedHotline, CallScore, MysteryCall, User
from mystery_calls import services
from mystery_calls.services import MysteryCallError, ScenarioIn
from tests.conftest import wsgi_phone
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city

AUDITOR = Actor("user:auditor")
T0 = datetime(2026, 11, 25, 2, 0, 0, tzinfo=UTC)


def rfc2822(moment):
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def make_campaign(session, runtime, **overrides):
    services.import_hotlines_from_directory(session, AUDITOR)
    hotlines = session.scalars(select(AuditedHotline).order_by(AuditedHotline.id)).all()
    auditor = session.scalars(select(User).where(User.username == "auditor")).one()
    fields = dict(
        name="2026年11月暗访",
        window_start=date(2026, 11, 23),
        window_end=date(2026, 11, 30),
        hotline_ids=[h.id for h in hotlines[:3]],
        auditor_ids=[auditor.id],
        caller_numbers=["+8613100000001", "+8613100000002"],
        calls_per_hotline=2,
        max_per_auditor_hotline_month=2,
        scenarios=[ScenarioIn("咨询营业执照办理材料", "个体户", "办营业执照需要哪些材料？", "身份证、经营场所证明")],
        actor=AUDITOR,
    )
    fields.update(overrides)
    return services.create_campaign(session, **fields)


@pytest.fixture
def campaign(runtime):
    with runtime.db.transaction() as s:
        campaign = make_campaign(s, runtime)
        services.plan_campaign(s, runtime, campaign, actor=AUDITOR, rng=random.Random(7))
    return campaign


def calls(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(MysteryCall).order_by(MysteryCall.id)).all()


def test_a_campaign_is_planned_within_the_limits(runtime, campaign):
    planned = calls(runtime)
    assert len(planned) == 6
    tz = runtime.settings.tz
    for call in planned:
        local = call.planned_at.astimezone(tz)
        assert date(2026, 11, 23) <= local.date() <= date(2026, 11, 30) and local.weekday() < 5
        # the city's working periods: 08:30-12:00 and 13:30-17:30, no call in the lunch break
        assert "08:30" <= local.strftime("%H:%M") < "12:00" or "13:30" <= local.strftime("%H:%M") < "17:30"
    by_hotline = {}
    for call in planned:
        by_hotline.setdefault(call.hotline_id, []).append(call.caller_number)
    assert all(len(set(numbers)) == 2 for numbers in by_hotline.values())  # caller numbers rotated


def test_a_campaign_with_bad_input_lists_every_problem(runtime):
    with runtime.db.transaction() as s, pytest.raises(MysteryCallError) as caught:
        make_campaign(s, runtime, name=" ", caller_numbers=["123"], hotline_ids=[999], scenarios=[])
    keys = [problem.key for problem in caught.value.params["problems"]]
    for key in ("name_required", "bad_caller_number", "choose_hotline", "scenario_required"):
        assert f"error.mystery.{key}" in keys
    # shown in the reader's language, every problem in one message
    assert "请填写批次名称；" in caught.value.message("zh") and "“123”" in caught.value.message("zh")
    assert "A name is required; " in caught.value.message("en")


def test_the_monthly_limit_per_auditor_and_hotline_holds_across_campaigns(runtime, campaign):
    with runtime.db.transaction() as s:
        second = make_campaign(s, runtime, name="second")
        plan = services.plan_campaign(s, runtime, second, actor=AUDITOR, rng=random.Random(1))
    assert plan.calls == () and sum(plan.unplanned.values()) == 6


class TestAutomatedCall:
    @pytest.fixture
    def twilio_runtime(self, make_runtime, twilio_settings):
        rt = make_runtime(twilio_settings)
        with rt.db.transaction() as s:
            s.scalars(select(User).where(User.username == "auditor")).one().phone = "+8613900000501"
            campaign = make_campaign(s, rt)
            services.plan_campaign(s, rt, campaign, actor=AUDITOR, rng=random.Random(3))
        return rt

    @pytest.fixture
    def placed(self, twilio_runtime, fake_twilio):
        rt = twilio_runtime
        with rt.db.transaction() as s:
            call = s.scalars(select(MysteryCall).order_by(MysteryCall.id)).first()
            auditor = s.get(User, call.auditor_id)
            services.place_call(s, rt, call, auditor)
            return call.id

    def phone(self, rt, twilio_settings):
        from hotline_app.factory import create_app

        phone = wsgi_phone(create_app(runtime=rt), twilio_settings)
        phone.base_url = "https://hotline.example.org"
        return phone

    def callbacks(self, rt, call_id):
        with rt.db.session() as s:
            call = s.get(MysteryCall, call_id)
        base = {
            "AccountSid": "AC" + "1" * 32,
            "CallSid": call.call_sid,
            "From": call.caller_number,
            "To": "+864596100001",
            "Direction": "outbound-api",
            "ApiVersion": "2010-04-01",
            "CallbackSource": "call-progress-events",
        }
        return call, [
            dict(
                base, CallStatus="initiated", StatusCallbackEvent="initiated", SequenceNumber="0", Timestamp=rfc2822(T0)
            ),
            dict(
                base,
                CallStatus="ringing",
                StatusCallbackEvent="ringing",
                SequenceNumber="1",
                Timestamp=rfc2822(T0.replace(second=2)),
            ),
            dict(
                base,
                CallStatus="in-progress",
                StatusCallbackEvent="answered",
                SequenceNumber="2",
                Timestamp=rfc2822(T0.replace(second=14)),
                AnsweredBy="human",
            ),
            dict(
                base,
                CallStatus="completed",
                StatusCallbackEvent="completed",
                SequenceNumber="3",
                Timestamp=rfc2822(T0.replace(minute=3, second=14)),
                CallDuration="192",
                RecordingUrl="https://api.twilio.com/rec/RE1",
                RecordingSid="RE1",
            ),
        ]

    def test_the_call_request_reaches_twilio_with_callbacks_recording_and_machine_detection(
        self, twilio_runtime, placed, fake_twilio
    ):
        [request] = fake_twilio.calls()
        assert request.field("To").startswith("+86459")  # a registered service hotline of the demo city
        assert request.field("From") in ("+8613100000001", "+8613100000002")
        assert request.field("Url") == f"https://hotline.example.org/twilio/mystery/{placed}/answer"
        assert request.field("StatusCallback") == f"https://hotline.example.org/twilio/mystery/{placed}/status"
        assert request.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
        assert request.field("Record") == "true" and request.field("MachineDetection") == "Enable"

    def test_answering_bridges_the_auditor_in(self, twilio_runtime, placed, twilio_settings):
        with twilio_runtime.db.session() as s:
            call = s.get(MysteryCall, placed)
        answer = self.phone(twilio_runtime, twilio_settings).post(
            f"/twilio/mystery/{placed}/answer",
            {"CallSid": call.call_sid, "CallStatus": "in-progress", "AnsweredBy": "human"},
        )
        assert answer.verb("Dial").find("Number").text == "+8613900000501"

    def test_time_to_answer_comes_from_the_callback_timestamps(self, twilio_runtime, placed, twilio_settings):
        _, forms = self.callbacks(twilio_runtime, placed)
        phone = self.phone(twilio_runtime, twilio_settings)
        for form in forms:
            assert phone.post(f"/twilio/mystery/{placed}/status", form).status == 200
        [call] = [c for c in calls(twilio_runtime) if c.id == placed]
        assert call.state == "completed" and call.result == "answered"
        assert call.seconds_to_answer == 12.0 and call.talk_seconds == 192
        assert call.recording_url == "https://api.twilio.com/rec/RE1"

    def test_callbacks_out_of_order_and_twice_give_the_same_result(self, twilio_runtime, placed, twilio_settings):
        _, forms = self.callbacks(twilio_runtime, placed)
        phone = self.phone(twilio_runtime, twilio_settings)
        for form in [forms[3], forms[1], forms[3], forms[0], forms[2], forms[1]]:
            phone.post(f"/twilio/mystery/{placed}/status", form)
        [call] = [c for c in calls(twilio_runtime) if c.id == placed]
        assert (call.result, call.seconds_to_answer, call.talk_seconds) == ("answered", 12.0, 192)

    @pytest.mark.parametrize(
        ("final", "result"),
        [
            ({"CallStatus": "busy"}, "busy"),
            ({"CallStatus": "no-answer", "SipResponseCode": "487"}, "no_answer"),
        ],
    )
    def test_busy_or_unanswered_calls_get_a_retry_ten_minutes_later(
        self, twilio_runtime, placed, twilio_settings, final, result
    ):
        _call, forms = self.callbacks(twilio_runtime, placed)
        phone = self.phone(twilio_runtime, twilio_settings)
        phone.post(f"/twilio/mystery/{placed}/status", forms[0])
        phone.post(
            f"/twilio/mystery/{placed}/status",
            dict(
                forms[0],
                SequenceNumber="1",
                Timestamp=rfc2822(T0.replace(second=30)),
                StatusCallbackEvent="completed",
                **final,
            ),
        )
        rows = calls(twilio_runtime)
        done = next(c for c in rows if c.id == placed)
        retry = next(c for c in rows if c.retry_of_id == placed)
        assert done.result == result and retry.state == "retry_planned" and retry.attempt == 2
        assert (retry.planned_at - T0.replace(second=30)).total_seconds() >= 600

    def test_an_answering_machine_is_not_bridged_and_is_recorded_as_such(self, twilio_runtime, placed, twilio_settings):
        call, forms = self.callbacks(twilio_runtime, placed)
        phone = self.phone(twilio_runtime, twilio_settings)
        answer = phone.post(
            f"/twilio/mystery/{placed}/answer",
            {"CallSid": call.call_sid, "CallStatus": "in-progress", "AnsweredBy": "machine_start"},
        )
        assert answer.verb("Dial") is None and answer.verb("Hangup") is not None
        machine = [dict(f, AnsweredBy="machine_start") if i >= 2 else f for i, f in enumerate(forms)]
        for form in machine:
            phone.post(f"/twilio/mystery/{placed}/status", form)
        assert next(c for c in calls(twilio_runtime) if c.id == placed).result == "machine"

    def test_a_call_with_no_final_callback_is_flagged(self, twilio_runtime, placed, clock):
        clock.advance(3600)
        assert services.flag_stale_job() == 1
        assert next(c for c in calls(twilio_runtime) if c.id == placed).state == "flagged"


def log_and_score(runtime, call_id, *, answered=True, seconds=10.0, values=None):
    with runtime.db.transaction() as s:
        call = s.get(MysteryCall, call_id)
        auditor = s.get(User, call.auditor_id)
        services.log_manual(
            s,
            runtime,
            call,
            auditor,
            called_at=T0,
            answered=answered,
            seconds_to_answer=seconds if answered else None,
            talk_seconds=120 if answered else None,
            agent_id="A017",
        )
        if values is not None:
            services.submit_score(s, runtime, call, auditor, values)


FULL = {
    "greeting": 1,
    "attitude": 1,
    "civil_language": 1,
    "understood": 1,
    "correct_answer": 1,
    "first_contact_ownership": 1,
    "resolved_first_contact": 1,
    "no_needless_transfer": 1,
}


def test_a_manually_logged_call_is_scored_with_its_automatic_items(runtime, campaign):
    first = calls(runtime)[0]
    log_and_score(runtime, first.id, seconds=10, values=FULL)
    with runtime.db.session() as s:
        [score] = s.scalars(select(CallScore)).all()
    assert score.total == 100.0 and score.values["answered"] == 1.0 and score.values["answer_speed"] == 1.0


def test_a_submitted_score_is_locked_and_corrections_are_versions_with_reasons(runtime, campaign):
    first = calls(runtime)[0]
    log_and_score(runtime, first.id, seconds=20, values=dict(FULL, attitude=0.4))
    with runtime.db.transaction() as s:
        call = s.get(MysteryCall, first.id)
        auditor = s.get(User, call.auditor_id)
        with pytest.raises(MysteryCallError, match="reason"):
            services.submit_score(s, runtime, call, auditor, FULL)
    with runtime.db.transaction() as s:
        call = s.get(MysteryCall, first.id)
        services.submit_score(s, runtime, call, s.get(User, call.auditor_id), FULL, reason="复听录音后更正态度分")
    with runtime.db.session() as s:
        versions = s.scalars(select(CallScore).order_by(CallScore.number)).all()
    # v1 by hand: speed 20 s -> 0.6 of 10 points; attitude 0.4 of 10; everything else full: (100 - 4 - 6) / 100
    assert [(v.number, v.total) for v in versions] == [(1, 90.0), (2, 96.0)]
    assert versions[1].reason == "复听录音后更正态度分"


def test_unit_results_rank_and_warn_the_bottom(runtime, campaign):
    planned = calls(runtime)
    with runtime.db.session() as s:
        hotline_of = {h.id: h.unit_id for h in s.scalars(select(AuditedHotline))}
    by_unit = {}
    for call in planned:
        by_unit.setdefault(hotline_of[call.hotline_id], []).append(call.id)
    units = list(by_unit)
    log_and_score(runtime, by_unit[units[0]][0], seconds=5, values=FULL)
    log_and_score(runtime, by_unit[units[0]][1], seconds=25, values=FULL)
    log_and_score(runtime, by_unit[units[1]][0], seconds=40, values=dict(FULL, attitude=0, correct_answer=0.2))
    log_and_score(runtime, by_unit[units[2]][0], answered=False, values={})
    with runtime.db.session() as s:
        res = services.results(s, [campaign.id], min_scored_calls=1)
    assert [u.key for u in res.units] == [units[0], units[1], units[2]]
    top, middle, bottom = res.units
    assert top.average == 98.0 and top.answer_rate == 1.0 and top.median_seconds == 15.0 and top.p90_seconds == 23.0
    # by hand: 100 - 10 (attitude 0) - 12 (correct answer 0.2 of 15) - 7 (40 s: speed 0.3 of 10) = 71
    assert middle.average == 71.0
    assert bottom.average == 0.0 and bottom.answer_rate == 0.0 and bottom.warned
    assert not top.warned and not middle.warned
    rows = services.results_csv_rows(res, "en")
    assert rows[0][:6] == ["Rank", "Unit", "Calls", "Answered", "Answer rate", "Average score"]
    assert services.results_csv_rows(res, "zh")[0][:3] == ["名次", "承办单位", "拨测次数"]
    assert rows[3][8] == "Yes"


def test_an_auditor_plans_logs_scores_and_reads_the_ranking_through_the_pages(app, runtime, clock):
    clock.set(datetime(2026, 12, 11, 10, 0, tzinfo=UTC))  # after the call logged below
    client = sign_in(app, "auditor")
    assert client.post("/staff/mystery/hotlines", data={"from_directory": "1"}).status_code == 303
    with runtime.db.session() as s:
        hotline_ids = [str(h.id) for h in s.scalars(select(AuditedHotline).order_by(AuditedHotline.id))][:2]
        auditor_id = str(s.scalars(select(User.id).where(User.username == "auditor")).one())
    created = client.post(
        "/staff/mystery/campaigns/new",
        data={
            "name": "十二月暗访",
            "window_start": "2026-12-01",
            "window_end": "2026-12-11",
            "calls_per_hotline": "1",
            "max_per_month": "2",
            "caller_numbers": "+8613100000001\n+8613100000002",
            "hotlines": hotline_ids,
            "auditors": [auditor_id],
            "scenario_title": ["咨询社保转移", ""],
            "scenario_persona": ["外地务工人员", ""],
            "scenario_question": ["社保关系怎么转入？", ""],
            "scenario_expected": ["到人社局窗口办理或线上申请", ""],
        },
    )
    assert created.status_code == 303
    campaign_url = created.headers["Location"]
    client.post(campaign_url + "/plan")
    page = client.get(campaign_url).get_data(as_text=True)
    assert "十二月暗访" in page and page.count("/staff/mystery/calls/") == 2
    call_id = int(page.split("/staff/mystery/calls/")[1].split('"')[0])
    logged = client.post(
        f"/staff/mystery/calls/{call_id}/log",
        data={
            "called_at": "2026-12-02T10:00",
            "answered": "yes",
            "seconds_to_answer": "8",
            "talk_seconds": "95",
            "agent_id": "A017",
        },
    )
    assert logged.status_code == 303
    scored = client.post(
        f"/staff/mystery/calls/{call_id}/score",
        data={f"item_{k}": str(v) for k, v in FULL.items()} | {"item_attitude": "na"},
    )
    assert scored.status_code == 303
    assert "100.00" in client.get(f"/staff/mystery/calls/{call_id}").get_data(as_text=True)
    ranking = client.get("/staff/mystery/results?lang=en").get_data(as_text=True)
    assert "Unit ranking" in ranking and "100.0" in ranking
    csv_text = client.get("/staff/mystery/results.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeffRank,Unit,Calls")


def test_auditors_see_only_their_own_tasks(app, runtime, campaign):
    from hotline_core.models import Role

    with runtime.db.transaction() as s:
        other = User(username="auditor2", display_name="Auditor 2", role=Role.AUDITOR)
        other.set_password("auditor2-demo-2026")
        s.add(other)
    client = sign_in(app, "auditor2", "auditor2-demo-2026")
    assert client.get(f"/staff/mystery/calls/{calls(runtime)[0].id}").status_code == 404
