"""The campaign planner (mystery_calls/planner.py): properties over random campaigns in 2026, and examples.

Working days in 2026 come from chinese_calendar, e.g. 1-7 October is the National Day holiday, Saturday
10 October is a make-up working day.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mystery_calls.planner import Plan, PlanRequest, month_key, plan, retry_at

TZ = ZoneInfo("Asia/Shanghai")
HOURS = (time(9, 0), time(17, 0))


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[misc]


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def request(**overrides: object) -> PlanRequest:
    fields: dict[str, object] = dict(
        hotlines=["h1", "h2"],
        auditors=["a1", "a2"],
        caller_numbers=["+8613100000001", "+8613100000002"],
        scenarios=["s1", "s2", "s3"],
        calls_per_hotline=2,
        window_start=date(2026, 11, 23),
        window_end=date(2026, 11, 27),
    )
    fields.update(overrides)
    return PlanRequest(**fields)  # type: ignore[arg-type]


@st.composite
def campaigns(draw: st.DrawFn) -> dict[str, object]:
    hotlines = [f"h{n}" for n in range(draw(st.integers(1, 6)))]
    auditors = [f"a{n}" for n in range(draw(st.integers(1, 4)))]
    numbers = [f"+861310000000{n}" for n in range(draw(st.integers(1, 4)))]
    scenarios = [f"s{n}" for n in range(draw(st.integers(0, 4)))]
    start = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    end = min(start + timedelta(days=draw(st.integers(0, 75))), date(2026, 12, 31))
    hours = draw(st.sampled_from([HOURS, (time(8, 30), time(12, 0)), (time(14, 0), time(14, 45))]))
    months = sorted({month_key(day) for day in days(start, end)})
    made_keys = st.tuples(st.sampled_from(auditors), st.sampled_from(hotlines), st.sampled_from(months))
    return dict(
        hotlines=hotlines,
        auditors=auditors,
        caller_numbers=numbers,
        scenarios=scenarios,
        calls_per_hotline=draw(st.integers(1, 5)),
        window_start=start,
        window_end=end,
        max_per_auditor_hotline_month=draw(st.integers(1, 3)),
        working_hours=hours,
        already_made=draw(st.dictionaries(made_keys, st.integers(0, 3), max_size=4)),
        min_gap=timedelta(minutes=draw(st.sampled_from([0, 10, 30, 90, 240]))),
    )


@settings(max_examples=100, deadline=None)
@given(fields=campaigns(), seed=st.integers(0, 2**32 - 1))
def test_plans_respect_every_limit(fields: dict[str, object], seed: int) -> None:
    start, end = fields["window_start"], fields["window_end"]
    assert isinstance(start, date) and isinstance(end, date)
    if not any(chinese_calendar.is_workday(day) for day in days(start, end)):
        with pytest.raises(ValueError, match="no working day"):
            PlanRequest(**fields)  # type: ignore[arg-type]
        return
    req = PlanRequest(**fields)  # type: ignore[arg-type]
    result = plan(req, random.Random(seed))

    # deterministic for a seed
    assert plan(req, random.Random(seed)) == result

    # planned + unplanned == requested, with a note for every shortfall
    planned = Counter(call.hotline for call in result.calls)
    for hotline in req.hotlines:
        assert planned[hotline] + result.unplanned.get(hotline, 0) == req.calls_per_hotline
    assert all(count > 0 for count in result.unplanned.values())
    assert len(result.notes) == len(result.unplanned)
    assert all(note.startswith(f"{hotline}: ") for hotline, note in zip(result.unplanned, result.notes, strict=True))

    # in working hours on a working day of the window, calls in time order, names from the request
    start_hour, end_hour = req.working_hours
    for call in result.calls:
        assert call.at.tzinfo is UTC and call.at.microsecond == 0
        local = call.at.astimezone(TZ)
        assert start <= local.date() <= end
        assert chinese_calendar.is_workday(local.date())
        assert start_hour <= local.time() < end_hour
        assert call.auditor in req.auditors and call.caller_number in req.caller_numbers
        assert (call.scenario in req.scenarios) if req.scenarios else (call.scenario == "")
    assert [call.at for call in result.calls] == sorted(call.at for call in result.calls)

    # at most max calls per (auditor, hotline, month), counting the calls already made
    per_key = Counter((call.auditor, call.hotline, month_key(call.at.astimezone(TZ).date())) for call in result.calls)
    for key, count in per_key.items():
        assert count + req.already_made.get(key, 0) <= req.max_per_auditor_hotline_month

    uses = [sum(call.caller_number == number for call in result.calls) for number in req.caller_numbers]
    assert max(uses) - min(uses) <= 1  # numbers used about equally often over the whole plan
    for hotline in req.hotlines:
        calls = [call for call in result.calls if call.hotline == hotline]
        for earlier, later in itertools.pairwise(calls):
            # at least min_gap apart, and from a different number whenever there is more than one
            assert later.at - earlier.at >= req.min_gap
            if len(req.caller_numbers) > 1:
                assert earlier.caller_number != later.caller_number
        # numbers spread evenly; different scenarios for a hotline when there are enough
        uses = [sum(call.caller_number == number for call in calls) for number in req.caller_numbers]
        assert max(uses) - min(uses) <= 1
        if req.scenarios and len(calls) <= len(req.scenarios):
            assert len({call.scenario for call in calls}) == len(calls)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), auditors=st.integers(1, 4), calls=st.integers(1, 5))
def test_with_enough_capacity_and_time_every_call_is_planned(seed: int, auditors: int, calls: int) -> None:
    req = request(
        hotlines=[f"h{n}" for n in range(6)],
        auditors=[f"a{n}" for n in range(auditors)],
        calls_per_hotline=calls,
        max_per_auditor_hotline_month=5,
        window_start=date(2026, 3, 2),
        window_end=date(2026, 3, 31),
    )
    result = plan(req, random.Random(seed))
    assert result.unplanned == {} and result.notes == () and len(result.calls) == 6 * calls


class TestExamples:
    def test_a_plan_is_spread_and_rotated(self) -> None:
        result = plan(request(calls_per_hotline=3), random.Random(1))
        assert isinstance(result, Plan) and len(result.calls) == 6 and result.unplanned == {}
        for hotline in ("h1", "h2"):
            calls = [c for c in result.calls if c.hotline == hotline]
            assert len({c.scenario for c in calls}) == 3
            numbers = [c.caller_number for c in calls]
            assert numbers[0] != numbers[1] and numbers[1] != numbers[2]
        assert Counter(c.caller_number for c in result.calls).most_common()[0][1] == 3  # 3 and 3
        assert Counter(c.auditor for c in result.calls) == {"a1": 3, "a2": 3}  # fewest calls first

    def test_different_seeds_give_different_plans(self) -> None:
        assert plan(request(), random.Random(1)) != plan(request(), random.Random(2))

    def test_each_auditor_gets_a_call_before_anyone_gets_a_second(self) -> None:
        req = request(hotlines=["h1"], auditors=["a1", "a2", "a3", "a4"], calls_per_hotline=4)
        result = plan(req, random.Random(5))
        assert sorted(c.auditor for c in result.calls) == ["a1", "a2", "a3", "a4"]

    def test_the_monthly_limit_leaves_calls_unplanned_with_a_note(self) -> None:
        req = request(hotlines=["h1"], auditors=["a1"], calls_per_hotline=5, max_per_auditor_hotline_month=2)
        result = plan(req, random.Random(3))
        assert len(result.calls) == 2 and result.unplanned == {"h1": 3}
        assert result.notes == (
            "h1: 3 of 5 call(s) not planned: every auditor has reached the limit of 2 call(s) a month to this "
            "hotline in the window's month(s) (2026-11)",
        )

    def test_the_limit_is_per_calendar_month(self) -> None:
        req = request(
            hotlines=["h1"],
            auditors=["a1"],
            calls_per_hotline=3,
            max_per_auditor_hotline_month=1,
            window_start=date(2026, 11, 23),
            window_end=date(2026, 12, 4),
        )
        result = plan(req, random.Random(8))
        months = sorted(month_key(c.at.astimezone(TZ).date()) for c in result.calls)
        assert months == ["2026-11", "2026-12"] and result.unplanned == {"h1": 1}

    def test_calls_already_made_count_against_the_limit(self) -> None:
        made = {("a1", "h1", "2026-11"): 2, ("a2", "h1", "2026-11"): 1, ("a1", "h2", "2026-10"): 2}
        result = plan(request(already_made=made), random.Random(4))
        assert [c.auditor for c in result.calls if c.hotline == "h1"] == ["a2"]
        assert result.unplanned == {"h1": 1}
        assert Counter(c.hotline for c in result.calls)["h2"] == 2

    def test_the_minimum_gap_can_leave_calls_unplanned(self) -> None:
        req = request(
            hotlines=["h1"],
            calls_per_hotline=2,
            window_start=date(2026, 11, 25),
            window_end=date(2026, 11, 25),
            working_hours=(time(9, 0), time(9, 10)),
            min_gap=timedelta(minutes=30),
        )
        result = plan(req, random.Random(0))
        assert len(result.calls) == 1 and result.unplanned == {"h1": 1}
        assert "no working time left at least 0:30:00 away" in result.notes[0]

    def test_holidays_are_skipped_and_make_up_days_used(self) -> None:
        req = request(window_start=date(2026, 10, 1), window_end=date(2026, 10, 11), calls_per_hotline=5)
        result = plan(req, random.Random(2))
        used = {c.at.astimezone(TZ).date() for c in result.calls}
        assert used <= {date(2026, 10, 8), date(2026, 10, 9), date(2026, 10, 10)}  # 10 Oct: a Saturday, worked

    def test_a_custom_working_day_calendar(self) -> None:
        req = request(
            window_start=date(2026, 10, 3),
            window_end=date(2026, 10, 4),
            is_working_day=lambda day: day.weekday() == 6,
            calls_per_hotline=1,
        )
        assert {c.at.astimezone(TZ).date() for c in plan(req, random.Random(0)).calls} == {date(2026, 10, 4)}

    def test_without_scenarios_calls_have_an_empty_scenario(self) -> None:
        assert {c.scenario for c in plan(request(scenarios=[]), random.Random(0)).calls} == {""}

    def test_a_single_caller_number_is_used_for_every_call(self) -> None:
        result = plan(request(caller_numbers=["+8613100000009"], calls_per_hotline=3), random.Random(0))
        assert {c.caller_number for c in result.calls} == {"+8613100000009"}


class TestValidation:
    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"hotlines": []}, "hotlines must not be empty"),
            ({"auditors": []}, "auditors must not be empty"),
            ({"caller_numbers": []}, "caller_numbers must not be empty"),
            ({"hotlines": ["h1", "h1"]}, "hotlines has duplicates: h1"),
            ({"auditors": ["a1", ""]}, "auditors must be non-empty strings"),
            ({"hotlines": "h1"}, "not one string"),
            ({"window_end": date(2026, 11, 22)}, "window ends before it starts"),
            ({"calls_per_hotline": 0}, "calls_per_hotline must be an integer >= 1"),
            ({"max_per_auditor_hotline_month": 0}, "max_per_auditor_hotline_month"),
            ({"window_start": date(2026, 10, 1), "window_end": date(2026, 10, 7)}, "has no working day"),
            ({"window_start": date(2026, 11, 28), "window_end": date(2026, 11, 29)}, "has no working day"),
            ({"working_hours": (time(17, 0), time(9, 0))}, "start before they end"),
            ({"timezone": "Mars/Olympus"}, "unknown timezone"),
            ({"min_gap": timedelta(minutes=-1)}, "min_gap"),
            ({"already_made": {("a1", "h1", "2026-13"): 1}}, "YYYY-MM"),
            ({"already_made": {("a1", "h1", "2026-11"): -1}}, "already_made counts"),
        ],
    )
    def test_bad_requests_are_refused(self, overrides: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            request(**overrides)


class TestRetryAt:
    def test_ten_minutes_later_inside_working_hours(self) -> None:
        ended = beijing(2026, 11, 25, 10, 0)
        assert retry_at(ended, HOURS, "Asia/Shanghai") == beijing(2026, 11, 25, 10, 10)
        assert retry_at(ended, HOURS, "Asia/Shanghai").tzinfo is UTC

    def test_the_last_moment_before_closing_is_still_working_time(self) -> None:
        assert retry_at(beijing(2026, 11, 25, 16, 49, 59), HOURS, "Asia/Shanghai") == beijing(2026, 11, 25, 16, 59, 59)

    def test_after_closing_it_moves_to_the_next_working_days_opening(self) -> None:
        assert retry_at(beijing(2026, 11, 25, 16, 55), HOURS, "Asia/Shanghai") == beijing(2026, 11, 26, 9, 0)
        assert retry_at(beijing(2026, 11, 27, 16, 55), HOURS, "Asia/Shanghai") == beijing(2026, 11, 30, 9, 0)  # Fri

    def test_before_opening_it_waits_for_the_opening(self) -> None:
        assert retry_at(beijing(2026, 11, 25, 7, 0), HOURS, "Asia/Shanghai") == beijing(2026, 11, 25, 9, 0)

    def test_holidays_and_make_up_days(self) -> None:
        # Wednesday 30 September, then the National Day holiday until 7 October
        assert retry_at(beijing(2026, 9, 30, 16, 55), HOURS, "Asia/Shanghai") == beijing(2026, 10, 8, 9, 0)
        # Friday 9 October, then Saturday 10 October is a make-up working day
        assert retry_at(beijing(2026, 10, 9, 16, 55), HOURS, "Asia/Shanghai") == beijing(2026, 10, 10, 9, 0)

    def test_a_custom_calendar_and_zone(self) -> None:
        def every_day(day: date) -> bool:
            return True

        ended = datetime(2026, 11, 28, 16, 55, tzinfo=ZoneInfo("Europe/Berlin"))
        assert retry_at(ended, HOURS, "Europe/Berlin", every_day) == datetime(
            2026, 11, 29, 9, 0, tzinfo=ZoneInfo("Europe/Berlin")
        )

    def test_naive_times_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            retry_at(datetime(2026, 11, 25, 10, 0), HOURS, "Asia/Shanghai")
