"""Mystery-call results that hold: unanswered calls earn nothing, plans follow the city's calendar and each
hotline's service hours, and the calendar can be extended beyond chinese_calendar's data."""

import random
from datetime import date, time

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import AuditedHotline, CallScore, Campaign, MysteryCall
from mystery_calls import planner, services
from mystery_calls.services import MysteryCallError
from routing import schedules
from routing.calendar import BusinessCalendar
from routing.schedules import ScheduleError
from tests.factories import demo_city
from tests.test_mystery_calls import FULL, calls, log_and_score, make_campaign

ADMIN = Actor("user:admin")


@pytest.fixture
def campaign(runtime, demo_city_template):
    with runtime.db.transaction() as s:
        found = make_campaign(s, runtime)
        services.plan_campaign(s, runtime, found, actor=Actor("user:auditor"), rng=random.Random(7))
    return found


# --- 9. unanswered calls score nothing ------------------------------------------------------------


def test_an_unanswered_call_submitted_with_full_marks_keeps_none_of_them(runtime, campaign):
    first = calls(runtime)[0]
    log_and_score(runtime, first.id, answered=False, values=FULL)  # the form's defaults, untouched
    with runtime.db.session() as s:
        [score] = s.scalars(select(CallScore)).all()
    assert score.total == 0.0
    assert score.values["answered"] == 0.0
    assert all(score.values[code] is None for code in FULL)  # N/A, as the default scorecard says
    assert score.by_group == {"answer": 0.0, "courtesy": None, "competence": None, "efficiency": None}


def test_the_results_do_not_show_an_unanswered_hotline_at_full_marks_for_greeting(runtime, campaign):
    first = calls(runtime)[0]
    log_and_score(runtime, first.id, answered=False, values=FULL)
    with runtime.db.session() as s:
        res = services.results(s, [campaign.id])
    [standing] = [u for u in res.units if u.calls]
    assert standing.average == 0.0
    assert standing.item_average("greeting") is None and standing.item_average("attitude") is None
    assert standing.item_average("answered") == 0.0


def test_an_item_the_scorecard_zeroes_when_unanswered_is_zero_not_na():
    from mystery_calls import scorecard as sc

    card = sc.Scorecard(
        "strict",
        1,
        (
            sc.Item("answered", "answer", "接通", "Answered", 20, automatic=True, allows_na=False),
            sc.Item("greeting", "courtesy", "问候", "Greeting", 10, if_unanswered="zero"),
            sc.Item("attitude", "courtesy", "态度", "Attitude", 10),
        ),
    )
    values = sc.effective_values(card, {"answered": 0.0, "greeting": 1.0, "attitude": 1.0})
    assert values == {"answered": 0.0, "greeting": 0.0, "attitude": None}
    # by hand: 0 of (20 + 10) points possible
    result = sc.score(card, {"answered": 0.0, "greeting": 1.0, "attitude": 1.0})
    assert (result.total, result.max_points, result.by_group["courtesy"]) == (0.0, 30.0, 0.0)


# --- 10. the plan follows the city's calendar and each hotline's service hours -------------------------


def _request(**overrides):
    fields = dict(
        hotlines=["h1"],
        auditors=["a1", "a2"],
        caller_numbers=["+8613100000001"],
        scenarios=[],
        calls_per_hotline=40,
        window_start=date(2026, 12, 1),
        window_end=date(2026, 12, 31),
        max_per_auditor_hotline_month=40,
        min_gap=planner.timedelta(minutes=1),
    )
    fields.update(overrides)
    return planner.PlanRequest(**fields)


def test_a_hotlines_lunch_break_gets_no_call():
    request = _request(hotline_periods={"h1": planner.parse_service_hours("08:30-12:00, 13:30-17:30")})
    result = planner.plan(request, random.Random(1))
    assert len(result.calls) == 40
    for call in result.calls:
        local = call.at.astimezone(planner.ZoneInfo("Asia/Shanghai")).time()
        assert time(8, 30) <= local < time(12, 0) or time(13, 30) <= local < time(17, 30), local


def test_service_hours_are_read_as_periods_and_bad_ones_refused():
    assert planner.parse_service_hours("8:30-12:00，13:30-17:30") == (
        (time(8, 30), time(12, 0)),
        (time(13, 30), time(17, 30)),
    )
    assert planner.parse_service_hours("") == ()
    with pytest.raises(ValueError):
        planner.parse_service_hours("mornings")


def test_no_call_is_planned_on_a_day_the_calendar_cannot_vouch_for():
    calendar = BusinessCalendar()  # chinese_calendar 1.11 knows 2004-2026 only
    request = _request(
        window_start=date(2026, 12, 28),
        window_end=date(2027, 1, 8),
        is_working_day=calendar.is_working_day,
        vouches_for=calendar.vouches_for,
        calls_per_hotline=10,
    )
    result = planner.plan(request, random.Random(3))
    local_days = {c.at.astimezone(planner.ZoneInfo("Asia/Shanghai")).date() for c in result.calls}
    # 2026-12-28..31 are the only working days it vouches for
    assert local_days <= {date(2026, 12, 28), date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)}
    assert any("cannot vouch" in note for note in result.notes)


def test_an_entered_holiday_and_make_up_day_steer_the_plan():
    calendar = BusinessCalendar.from_config(
        {"schedules": {"2027": {"holidays": ["2027-01-01"], "workdays": ["2027-01-02"]}}}
    )
    request = _request(
        window_start=date(2027, 1, 1),
        window_end=date(2027, 1, 3),
        is_working_day=calendar.is_working_day,
        vouches_for=calendar.vouches_for,
        calls_per_hotline=5,
    )
    result = planner.plan(request, random.Random(5))
    days = {c.at.astimezone(planner.ZoneInfo("Asia/Shanghai")).date() for c in result.calls}
    # Friday 1 January is a holiday, Saturday 2 January a make-up working day, Sunday 3 January a rest day
    assert days == {date(2027, 1, 2)} and len(result.calls) == 5


@pytest.mark.demo_city
def test_the_campaign_plan_uses_the_hotlines_service_hours_and_the_entered_schedule(runtime):
    with runtime.db.transaction() as s:
        schedules.save_year_schedule(s, 2027, "2027-01-01", "", actor=ADMIN)
        found = make_campaign(s, runtime, window_start=date(2026, 12, 31), window_end=date(2027, 1, 4))
        for hotline in s.scalars(select(AuditedHotline)):
            hotline.service_hours = "09:00-11:00, 14:00-16:00"
        services.plan_campaign(s, runtime, found, actor=Actor("user:auditor"), rng=random.Random(2))
    tz = runtime.settings.tz
    planned = calls(runtime)
    assert len(planned) == 6
    for call in planned:
        local = call.planned_at.astimezone(tz)
        # 2026-12-31 (Thursday) and 2027-01-04 (Monday); 1 January entered as a holiday
        assert local.date() in (date(2026, 12, 31), date(2027, 1, 4))
        assert "09:00" <= local.strftime("%H:%M") < "11:00" or "14:00" <= local.strftime("%H:%M") < "16:00"


@pytest.mark.demo_city
def test_a_campaign_in_a_year_without_any_schedule_is_refused(runtime):
    with runtime.db.transaction() as s:
        found = make_campaign(s, runtime, window_start=date(2027, 3, 1), window_end=date(2027, 3, 31))
        with pytest.raises(MysteryCallError, match="2027"):
            services.plan_campaign(s, runtime, found, actor=Actor("user:auditor"))
        assert s.get(Campaign, found.id).state == "draft"
        assert s.scalars(select(MysteryCall)).all() == []


# --- 14. the calendar beyond chinesecalendar's data -------------------------------------------------


@pytest.mark.demo_city
def test_admins_see_which_years_have_official_data(runtime):
    with runtime.db.session() as s:
        years = schedules.calendar_years(s, date(2026, 12, 1))
    assert [(y.year, y.official, y.entered) for y in years] == [
        (2025, True, False),
        (2026, True, False),
        (2027, False, False),
    ]


@pytest.mark.demo_city
def test_the_missing_next_year_is_warned_from_november_only(runtime):
    with runtime.db.transaction() as s:
        assert schedules.missing_next_year(s, date(2026, 10, 31)) is None
        assert schedules.missing_next_year(s, date(2026, 11, 1)) == 2027
        schedules.save_year_schedule(s, 2027, "2027-01-01\n2027-02-05..2027-02-11", "2027-02-14", actor=ADMIN)
        assert schedules.missing_next_year(s, date(2026, 11, 1)) is None


def test_an_entered_schedule_moves_deadlines_at_once(runtime):
    from datetime import UTC, datetime

    from routing.config import load_config

    demo_city(runtime)
    received = datetime(2026, 12, 31, 2, 0, tzinfo=UTC)  # Thursday 10:00 local
    with runtime.db.session() as s:
        before = load_config(s).calendar.add_working_days(received, 1)
    with runtime.db.transaction() as s:
        schedules.save_year_schedule(s, 2027, "2027-01-01..2027-01-03", "", actor=ADMIN)
    with runtime.db.session() as s:
        after = load_config(s).calendar.add_working_days(received, 1)
    assert before == datetime(2027, 1, 1, 9, 30, tzinfo=UTC)  # Friday 17:30 local, assumed a working day
    assert after == datetime(2027, 1, 4, 9, 30, tzinfo=UTC)  # Monday 17:30 local


@pytest.mark.demo_city
def test_a_schedule_with_dates_of_another_year_or_clashing_dates_is_refused(runtime):
    with runtime.db.transaction() as s:
        with pytest.raises(ScheduleError) as wrong_year:
            schedules.save_year_schedule(s, 2027, "2026-12-31", "", actor=ADMIN)
        assert wrong_year.value.key == "error.schedule.wrong_year"
        with pytest.raises(ScheduleError) as clash:
            schedules.save_year_schedule(s, 2027, "2027-02-06", "2027-02-06", actor=ADMIN)
        assert clash.value.key == "error.schedule.clash"
        with pytest.raises(ScheduleError) as bad:
            schedules.save_year_schedule(s, 2027, "Feb 6", "", actor=ADMIN)
        assert bad.value.key == "error.schedule.bad_date"


def _admin(app):
    client = app.test_client()
    assert client.post("/staff/login", data={"username": "admin", "password": "admin-demo-2026"}).status_code == 302
    return client


def test_an_admin_enters_next_years_schedule_on_the_calendar_page(app, runtime, clock):
    from datetime import UTC, datetime

    demo_city(runtime)
    clock.set(datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    client = _admin(app)
    home = client.get("/staff/?lang=en").get_data(as_text=True)
    assert "2027 has no holiday schedule yet" in home
    page = client.get("/staff/admin/calendar?lang=en").get_data(as_text=True)
    assert "official data (chinesecalendar)" in page and "no data (Monday to Friday assumed)" in page
    saved = client.post(
        "/staff/admin/calendar",
        data={"year": "2027", "holidays": "2027-01-01\n2027-02-05..2027-02-11", "workdays": "2027-02-14"},
    )
    assert saved.status_code == 303
    page = client.get("/staff/admin/calendar?lang=en").get_data(as_text=True)
    row = page.split('id="year-2027"')[1].split("</tr>")[0]
    assert "entered by an admin" in row and "<td>8</td><td>1</td>" in row
    assert "no holiday schedule" not in client.get("/staff/?lang=en").get_data(as_text=True)


@pytest.mark.demo_city
def test_a_bad_schedule_is_refused_in_the_readers_language(app, runtime):
    client = _admin(app)
    refused = client.post("/staff/admin/calendar?lang=zh", data={"year": "2027", "holidays": "2026-12-31"})
    assert refused.status_code == 400
    assert "不在 2027 年内" in refused.get_data(as_text=True)


# --- 12. fair warnings --------------------------------------------------------------------------------


def _unit_campaign(runtime, unit_codes, calls_per_hotline):
    from hotline_core.models import Unit

    demo_city(runtime)
    with runtime.db.transaction() as s:
        services.import_hotlines_from_directory(s, ADMIN)
        units = {u.code: u.id for u in s.scalars(select(Unit))}
        hotline_ids = [
            h.id
            for h in s.scalars(select(AuditedHotline).order_by(AuditedHotline.id))
            if h.unit_id in {units[c] for c in unit_codes}
        ]
        found = make_campaign(
            s,
            runtime,
            hotline_ids=hotline_ids,
            calls_per_hotline=calls_per_hotline,
            max_per_auditor_hotline_month=calls_per_hotline,
        )
        services.plan_campaign(s, runtime, found, actor=Actor("user:auditor"), rng=random.Random(11))
    return found, units


def test_districts_and_departments_are_ranked_apart_and_few_calls_are_not_warned(runtime):
    found, units = _unit_campaign(runtime, ["GOV-SARTU", "GOV-RANGHULU", "HOUSING", "HRSS"], 3)
    with runtime.db.session() as s:
        hotline_unit = {h.id: h.unit_id for h in s.scalars(select(AuditedHotline))}
    by_unit: dict[int, list[int]] = {}
    for call in calls(runtime):
        by_unit.setdefault(hotline_unit[call.hotline_id], []).append(call.id)
    # Sartu: 3 full calls (100); Ranghulu: 3 calls with attitude 0 (90 each); Housing: 3 unanswered (0);
    # HRSS: one call only, scored 90 (fewer than the 3 scored calls needed to be warned)
    for call_id in by_unit[units["GOV-SARTU"]]:
        log_and_score(runtime, call_id, seconds=5, values=FULL)
    for call_id in by_unit[units["GOV-RANGHULU"]]:
        log_and_score(runtime, call_id, seconds=5, values=dict(FULL, attitude=0))
    for call_id in by_unit[units["HOUSING"]]:
        log_and_score(runtime, call_id, answered=False, values=FULL)
    log_and_score(runtime, by_unit[units["HRSS"]][0], seconds=5, values=dict(FULL, attitude=0))
    with runtime.db.session() as s:
        res = services.results(s, [found.id])
    districts, departments = res.tier("district"), res.tier("department")
    assert [(u.key, u.average, u.warned) for u in districts] == [
        (units["GOV-SARTU"], 100.0, False),
        (units["GOV-RANGHULU"], 90.0, True),
    ]
    # HRSS (90, one call) ranks above Housing (0) but is not eligible; Housing is alone among the eligible
    assert [(u.key, u.average, u.eligible, u.warned) for u in departments] == [
        (units["HRSS"], 90.0, False, False),
        (units["HOUSING"], 0.0, True, False),
    ]
    ranghulu = districts[1]
    # group scores by hand: courtesy = (10 greeting + 0 attitude + 5 civil) / 25 = 60 %
    assert ranghulu.group_average("courtesy") == 60.0 and ranghulu.group_average("answer") == 100.0
    assert departments[1].group_average("courtesy") is None and departments[1].group_average("answer") == 0.0


# --- 13. two auditors, Cohen's kappa --------------------------------------------------------------


def test_cohens_kappa_on_a_known_table():
    # 50 calls: both 100 % on 15, first 100 % / second 0 % on 5, both N/A on 5, both 0 % on 25.
    # p_o = 45/50 = 0.9; p_e = (20*15 + 5*5 + 25*30) / 50² = 0.43; kappa = 0.47 / 0.57 = 0.8246
    first = [1.0] * 20 + [None] * 5 + [0.0] * 25
    second = [1.0] * 15 + [0.0] * 5 + [None] * 5 + [0.0] * 25
    assert services.cohen_kappa(first, second) == 0.825
    assert services.cohen_kappa([1.0, 1.0], [1.0, 1.0]) is None  # undefined: chance agreement is 1


def test_a_second_auditor_scores_the_same_calls_and_the_results_page_shows_kappa(app, runtime, campaign):
    from hotline_core.models import Role, User

    with runtime.db.transaction() as s:
        second = User(username="auditor2", display_name="Auditor 2", role=Role.AUDITOR)
        second.set_password("auditor2-demo-2026")
        s.add(second)
    planned = calls(runtime)[:4]
    # first auditor: attitude 1, 1, 0, 0; second: 1, 0, 0, 0 -> p_o = 3/4, p_e = (2*1 + 2*3)/16 = 0.5, kappa 0.5
    for call, attitude in zip(planned, (1, 1, 0, 0), strict=True):
        log_and_score(runtime, call.id, seconds=5, values=dict(FULL, attitude=attitude))
    client = app.test_client()
    client.post("/staff/login", data={"username": "auditor2", "password": "auditor2-demo-2026"})
    for call, attitude in zip(planned, (1, 0, 0, 0), strict=True):
        form = {f"item_{k}": str(v) for k, v in FULL.items()} | {"item_attitude": str(attitude)}
        assert client.post(f"/staff/mystery/calls/{call.id}/review", data=form).status_code == 303
    again = client.post(f"/staff/mystery/calls/{planned[0].id}/review", data={"item_attitude": "1"})
    assert again.status_code == 303
    with runtime.db.session() as s:
        rows = {a.code: a for a in services.agreement(s, [campaign.id])}
        assert s.scalars(select(CallScore)).all()[0].total == 100.0  # the review never changes the score
    assert (rows["attitude"].pairs, rows["attitude"].agreed, rows["attitude"].kappa) == (4, 3, 0.5)
    assert rows["greeting"].kappa is None and rows["greeting"].agreed == 4
    page = client.get("/staff/mystery/results?lang=en").get_data(as_text=True)
    assert "Cohen&#39;s kappa" in page or "Cohen's kappa" in page
    assert "0.500" in page.split('id="kappa-attitude"')[1].split("</tr>")[0]


# --- 13. disputes by the audited unit's head ---------------------------------------------------------


def _housing_call(runtime):
    from hotline_core.models import Unit, User

    demo_city(runtime)
    with runtime.db.transaction() as s:
        services.import_hotlines_from_directory(s, ADMIN)
        housing = s.scalars(select(Unit).where(Unit.code == "HOUSING")).one()
        hotline = s.scalars(select(AuditedHotline).where(AuditedHotline.unit_id == housing.id)).one()
        found = make_campaign(s, runtime, hotline_ids=[hotline.id], calls_per_hotline=1)
        services.plan_campaign(s, runtime, found, actor=Actor("user:auditor"), rng=random.Random(4))
        head = s.scalars(select(User).where(User.username == "unithead")).one()
        return found.id, head.id


def test_the_unit_head_disputes_within_the_working_days_and_the_ranking_marks_it(runtime, clock):
    from datetime import UTC, datetime

    from hotline_core.models import ScoreDispute, User

    campaign_id, head_id = _housing_call(runtime)
    [call] = calls(runtime)
    clock.set(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))  # Wednesday 11:00 local
    log_and_score(runtime, call.id, seconds=5, values=dict(FULL, attitude=0))
    # 5 working days after Wednesday 25 November: Wednesday 2 December 17:30 local
    clock.set(datetime(2026, 12, 2, 9, 29, tzinfo=UTC))
    with runtime.db.transaction() as s:
        services.raise_dispute(s, runtime, s.get(MysteryCall, call.id), s.get(User, head_id), "录音显示态度良好")
    with runtime.db.session() as s:
        [standing] = services.results(s, [campaign_id], min_scored_calls=1).units
    assert standing.disputed == 1
    with runtime.db.transaction() as s:
        dispute = s.scalars(select(ScoreDispute)).one()
        auditor = s.get(User, s.get(MysteryCall, call.id).auditor_id)
        services.decide_dispute(s, runtime, dispute, auditor, uphold=False, note="复听录音，态度分更正", values=FULL)
    with runtime.db.session() as s:
        versions = s.scalars(select(CallScore).order_by(CallScore.number)).all()
        [standing] = services.results(s, [campaign_id], min_scored_calls=1).units
        assert s.scalars(select(ScoreDispute)).one().state == "corrected"
    assert [(v.number, v.total) for v in versions] == [(1, 90.0), (2, 100.0)]
    assert versions[1].reason == "复听录音，态度分更正" and standing.disputed == 0 and standing.average == 100.0


def test_a_dispute_after_the_working_days_or_by_another_unit_is_refused(runtime, clock):
    from datetime import UTC, datetime

    from hotline_core.models import User

    _campaign_id, head_id = _housing_call(runtime)
    [call] = calls(runtime)
    clock.set(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    log_and_score(runtime, call.id, seconds=5, values=FULL)
    clock.set(datetime(2026, 12, 2, 9, 31, tzinfo=UTC))  # one minute after the fifth working day ended
    with runtime.db.transaction() as s:
        with pytest.raises(MysteryCallError, match="5 working days"):
            services.raise_dispute(s, runtime, s.get(MysteryCall, call.id), s.get(User, head_id), "理由")
        staff = s.scalars(select(User).where(User.username == "unitstaff")).one()
        with pytest.raises(MysteryCallError, match="head of the audited unit"):
            services.raise_dispute(s, runtime, s.get(MysteryCall, call.id), staff, "理由")


def test_the_unit_head_disputes_on_the_page_and_the_auditor_upholds_it(app, runtime, clock):
    from datetime import UTC, datetime

    from hotline_core.models import ScoreDispute

    _campaign_id, _head_id = _housing_call(runtime)
    [call] = calls(runtime)
    clock.set(datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    log_and_score(runtime, call.id, seconds=5, values=FULL)
    clock.set(datetime(2026, 11, 26, 3, 0, tzinfo=UTC))
    head = app.test_client()
    head.post("/staff/login", data={"username": "unithead", "password": "unithead-demo-2026"})
    page = head.get("/staff/mystery/my-unit?lang=en").get_data(as_text=True)
    assert f'id="unit-call-{call.id}"' in page and "100.00 (v1)" in page
    assert head.post(f"/staff/mystery/calls/{call.id}/dispute", data={"reason": "坐席工号有误"}).status_code == 303
    auditor = app.test_client()
    auditor.post("/staff/login", data={"username": "auditor", "password": "auditor-demo-2026"})
    page = auditor.get(f"/staff/mystery/calls/{call.id}?lang=en").get_data(as_text=True)
    assert "坐席工号有误" in page and "under review" in page and 'id="form-uphold"' in page
    with runtime.db.session() as s:
        dispute_id = s.scalars(select(ScoreDispute.id)).one()
    assert (
        auditor.post(f"/staff/mystery/disputes/{dispute_id}/uphold", data={"note": "工号核对无误"}).status_code == 303
    )
    with runtime.db.session() as s:
        assert s.get(ScoreDispute, dispute_id).state == "upheld"
        assert len(s.scalars(select(CallScore)).all()) == 1
    assert "score upheld" in head.get("/staff/mystery/my-unit?lang=en").get_data(as_text=True)
