"""Working-time deadlines: hand-computed cases and properties.

Every expected value below was worked out by hand on the default calendar (working periods 08:30-12:00
and 13:30-17:30 Beijing time, 7.5 hours a day) and chinese_calendar's data for 2026:

* New Year: 1-3 January off, Sunday 4 January a make-up working day.
* Spring Festival: Sunday 15 - Monday 23 February off; Saturdays 14 and 28 February are make-up working days.
* Mid-Autumn: Friday 25 - Sunday 27 September off; Sunday 20 September is a make-up working day.
* National Day: Thursday 1 - Wednesday 7 October off; Saturday 10 October is a make-up working day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.calendar import BusinessCalendar, Clock24x7
from routing.deadlines import (
    COMPLEX,
    DEFAULT_POLICIES,
    EMERGENCY,
    GENERAL,
    UTILITY,
    Allowance,
    CalendarMode,
    ChangeKind,
    ClockKind,
    Extension,
    Pause,
    PauseReason,
    TicketClock,
    Unit,
    load_policies,
    ticket_clocks,
)

BEIJING = ZoneInfo("Asia/Shanghai")
CAL = BusinessCalendar()
H = timedelta(hours=1)


def bj(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=BEIJING)


# -- the calendar: days --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 1, 2), False),  # Friday, New Year holiday
        (date(2026, 1, 4), True),  # Sunday, make-up working day
        (date(2026, 2, 13), True),  # Friday before the Spring Festival
        (date(2026, 2, 14), True),  # Saturday, make-up working day
        (date(2026, 2, 15), False),
        (date(2026, 2, 17), False),  # Tuesday, 春节
        (date(2026, 2, 23), False),  # Monday, last day of the holiday
        (date(2026, 2, 24), True),
        (date(2026, 2, 28), True),  # Saturday, make-up working day
        (date(2026, 3, 1), False),  # an ordinary Sunday
        (date(2026, 9, 20), True),  # Sunday, make-up working day
        (date(2026, 9, 25), False),  # Friday, Mid-Autumn
        (date(2026, 10, 1), False),
        (date(2026, 10, 7), False),  # Wednesday, last day of National Day
        (date(2026, 10, 8), True),
        (date(2026, 10, 10), True),  # Saturday, make-up working day
        (date(2026, 10, 11), False),
    ],
)
def test_working_days_follow_the_official_calendar(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


def test_years_without_official_data_fall_back_to_monday_to_friday() -> None:
    assert CAL.has_official_data(date(2026, 12, 31))
    assert not CAL.has_official_data(date(2027, 1, 4))
    assert not CAL.has_official_data(date(2003, 12, 29))
    assert CAL.is_working_day(date(2027, 1, 4))  # Monday
    assert not CAL.is_working_day(date(2027, 1, 2))  # Saturday
    assert CAL.is_working_day(date(2003, 12, 29))
    # Without data, New Year's Day 2027 (a Friday) is taken for a working day ...
    assert CAL.add_working_days(bj(2026, 12, 31, 10), 1) == bj(2027, 1, 1, 17, 30)
    # ... until configuration says otherwise.
    patched = BusinessCalendar(extra_holidays=frozenset({date(2027, 1, 1)}))
    assert patched.add_working_days(bj(2026, 12, 31, 10), 1) == bj(2027, 1, 4, 17, 30)


def test_overrides_win_over_the_official_calendar() -> None:
    typhoon_day, makeup = date(2026, 3, 10), date(2026, 3, 8)  # a Tuesday off; a Sunday worked
    cal = BusinessCalendar(extra_holidays=frozenset({typhoon_day}), extra_workdays=frozenset({makeup}))
    assert not cal.is_working_day(typhoon_day)
    assert cal.is_working_day(makeup)
    # Friday 16:00 + 4 working hours: 1.5 h on Friday, the rest on the extra Sunday.
    assert cal.add_working_time(bj(2026, 3, 6, 16), 4 * H) == bj(2026, 3, 8, 11)
    with pytest.raises(ValueError, match="both"):
        BusinessCalendar(extra_holidays=frozenset({typhoon_day}), extra_workdays=frozenset({typhoon_day}))


def test_calendar_from_configuration() -> None:
    cal = BusinessCalendar.from_config(
        {
            "timezone": "Asia/Urumqi",
            "working_periods": ["10:00-13:30", "16:00-19:30"],
            "extra_holidays": [date(2026, 7, 15), "2026-07-16"],  # YAML gives a date unquoted, a str quoted
            "extra_workdays": [],
        }
    )
    assert cal.timezone == ZoneInfo("Asia/Urumqi")
    assert cal.working_periods == ((time(10), time(13, 30)), (time(16), time(19, 30)))
    assert cal.extra_holidays == {date(2026, 7, 15), date(2026, 7, 16)}
    assert BusinessCalendar.from_config(None) == CAL
    with pytest.raises(ValueError, match="unknown"):
        BusinessCalendar.from_config({"workinghours": []})
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar(working_periods=((time(9), time(12)), (time(11), time(17))))
    with pytest.raises(ValueError, match="before it ends"):
        BusinessCalendar(working_periods=((time(12), time(9)),))


# -- the calendar: working time ------------------------------------------------------------------------


def test_friday_afternoon_complaint_with_four_working_hours() -> None:
    # Friday 16:00-17:30 is 1.5 h; the remaining 2.5 h run from Monday 08:30.
    assert CAL.add_working_time(bj(2026, 1, 9, 16), 4 * H) == bj(2026, 1, 12, 11)


def test_across_an_ordinary_weekend() -> None:
    # Friday 11:00-12:00 and 13:30-17:30 is 5 h; 3 h more from Monday 08:30.
    assert CAL.add_working_time(bj(2026, 3, 6, 11), 8 * H) == bj(2026, 3, 9, 11, 30)
    assert CAL.working_time_between(bj(2026, 3, 6, 17), bj(2026, 3, 9, 9)) == H
    # Thursday + 7 working days: Fri 6, Mon 9 ... Fri 13, Mon 16.
    assert CAL.add_working_days(bj(2026, 3, 5, 10), 7) == bj(2026, 3, 16, 17, 30)


def test_a_deadline_on_the_end_of_a_period_stays_there() -> None:
    assert CAL.add_working_time(bj(2026, 3, 2, 13, 30), 4 * H) == bj(2026, 3, 2, 17, 30)
    assert CAL.add_working_time(bj(2026, 3, 2, 8, 30), timedelta(hours=3.5)) == bj(2026, 3, 2, 12)
    assert CAL.add_working_time(bj(2026, 3, 6, 16), timedelta(hours=1.5)) == bj(2026, 3, 6, 17, 30)  # a Friday


def test_the_clock_starts_at_the_next_working_moment() -> None:
    assert CAL.add_working_time(bj(2026, 3, 2, 12, 30), H) == bj(2026, 3, 2, 14, 30)  # lunch break
    assert CAL.add_working_time(bj(2026, 3, 7, 10), H) == bj(2026, 3, 9, 9, 30)  # Saturday
    assert CAL.add_working_time(bj(2026, 3, 2, 20), H) == bj(2026, 3, 3, 9, 30)  # evening
    assert CAL.next_working_moment(bj(2026, 3, 2, 10)) == bj(2026, 3, 2, 10)
    assert CAL.next_working_moment(bj(2026, 3, 2, 12)) == bj(2026, 3, 2, 13, 30)
    assert CAL.next_working_moment(bj(2026, 3, 6, 17, 30)) == bj(2026, 3, 9, 8, 30)
    assert CAL.is_working_time(bj(2026, 3, 2, 8, 30))
    assert not CAL.is_working_time(bj(2026, 3, 2, 17, 30))  # periods are half-open


def test_working_time_between() -> None:
    assert CAL.working_time_between(bj(2026, 3, 2), bj(2026, 3, 9)) == timedelta(hours=37.5)  # a full week
    assert CAL.working_time_between(bj(2026, 3, 9), bj(2026, 3, 2)) == -timedelta(hours=37.5)
    assert CAL.working_time_between(bj(2026, 3, 2, 12), bj(2026, 3, 2, 13, 30)) == timedelta(0)


def test_across_the_spring_festival_2026() -> None:
    # Friday 13 Feb 16:00: 1.5 h on Friday, then Saturday 14 Feb is a make-up working day.
    assert CAL.add_working_time(bj(2026, 2, 13, 16), 4 * H) == bj(2026, 2, 14, 11)
    # From the make-up Saturday, the next working day is Tuesday 24 Feb.
    assert CAL.add_working_time(bj(2026, 2, 14, 16), 4 * H) == bj(2026, 2, 24, 11)
    # Thursday 12 Feb + 7 working days: Fri 13, Sat 14, Tue 24, Wed 25, Thu 26, Fri 27, Sat 28 (make-up).
    assert CAL.add_working_days(bj(2026, 2, 12, 10), 7) == bj(2026, 2, 28, 17, 30)
    # ... + 15: Mon 2, Tue 3, Wed 4, Thu 5, Fri 6, Mon 9, Tue 10, Wed 11 March.
    assert CAL.add_working_days(bj(2026, 2, 12, 10), 15) == bj(2026, 3, 11, 17, 30)
    assert CAL.working_time_between(bj(2026, 2, 14, 17, 30), bj(2026, 2, 24, 8, 30)) == timedelta(0)


def test_general_complaint_received_during_the_spring_festival() -> None:
    clocks = ticket_clocks(bj(2026, 2, 16, 10), GENERAL)  # a Monday, in the holiday
    sign_for, resolution = (c.deadline(bj(2026, 2, 16, 10)) for c in clocks)
    assert sign_for == bj(2026, 2, 24, 14)  # the clock starts on Tuesday 24 Feb 08:30: 3.5 h + 0.5 h
    # Tue 24, Wed 25, Thu 26, Fri 27, Sat 28 (make-up), Mon 2, Tue 3 March.
    assert resolution == bj(2026, 3, 3, 17, 30)


def test_across_national_day_2026() -> None:
    # Wednesday 30 Sep 15:00: 2.5 h that day, 1.5 h on Thursday 8 Oct.
    assert CAL.add_working_time(bj(2026, 9, 30, 15), 4 * H) == bj(2026, 10, 8, 10)
    # Wednesday 30 Sep + 7 working days: Thu 8, Fri 9, Sat 10 (make-up), Mon 12, Tue 13, Wed 14, Thu 15.
    assert CAL.add_working_days(bj(2026, 9, 30, 10), 7) == bj(2026, 10, 15, 17, 30)
    # Mid-Autumn: Thursday 24 Sep 16:00, 1.5 h; Fri 25 is a holiday, so 2.5 h on Monday 28.
    assert CAL.add_working_time(bj(2026, 9, 24, 16), 4 * H) == bj(2026, 9, 28, 11)


def test_a_make_up_weekend_day_counts_as_a_working_day() -> None:
    # Saturday 19 Sep + 1 working day is the make-up Sunday 20 Sep.
    assert CAL.add_working_days(bj(2026, 9, 19, 10), 1) == bj(2026, 9, 20, 17, 30)
    assert CAL.is_working_time(bj(2026, 10, 10, 9))  # make-up Saturday
    assert CAL.working_time_between(bj(2026, 2, 28), bj(2026, 3, 1)) == timedelta(hours=7.5)


def test_working_days_do_not_count_the_day_of_receipt() -> None:
    # Monday morning or Monday night: the same deadline, the following Wednesday at the end of the day.
    assert CAL.add_working_days(bj(2026, 3, 2, 8), 7) == bj(2026, 3, 11, 17, 30)
    assert CAL.add_working_days(bj(2026, 3, 2, 23), 7) == bj(2026, 3, 11, 17, 30)
    # Received on Saturday: Monday is the first working day.
    assert CAL.add_working_days(bj(2026, 3, 7, 10), 1) == bj(2026, 3, 9, 17, 30)
    with pytest.raises(ValueError):
        CAL.add_working_days(bj(2026, 3, 2, 10), 0)


def test_seven_working_days_from_the_day_before_a_holiday() -> None:
    # Wednesday 31 Dec 2025 (New Year 1-3 Jan off, Sunday 4 Jan worked):
    # Sun 4, Mon 5, Tue 6, Wed 7, Thu 8, Fri 9, Mon 12.
    assert CAL.add_working_days(bj(2025, 12, 31, 16), 7) == bj(2026, 1, 12, 17, 30)
    # Saturday 14 Feb (the last working day before the Spring Festival) + 7:
    # Tue 24, Wed 25, Thu 26, Fri 27, Sat 28, Mon 2, Tue 3.
    assert CAL.add_working_days(bj(2026, 2, 14, 9), 7) == bj(2026, 3, 3, 17, 30)


# -- timezones -----------------------------------------------------------------------------------------


def test_utc_input_is_read_in_beijing_time() -> None:
    opening = datetime(2026, 1, 5, 0, 30, tzinfo=UTC)  # 08:30 in Beijing, a Monday
    assert opening == bj(2026, 1, 5, 8, 30)
    assert CAL.is_working_time(opening)
    assert not CAL.is_working_time(opening - timedelta(seconds=1))
    result = CAL.add_working_time(datetime(2026, 1, 4, 23, 0, tzinfo=UTC), H)  # 07:00 Monday in Beijing
    assert result == datetime(2026, 1, 5, 1, 30, tzinfo=UTC)
    assert result.tzinfo is UTC
    # Same instant in New York: same answer.
    new_york = datetime(2026, 1, 4, 18, 0, tzinfo=ZoneInfo("America/New_York"))
    assert CAL.add_working_time(new_york, H) == result


def test_beijing_has_no_daylight_saving_time() -> None:
    # Working periods sit at the same UTC times in winter and in summer (and across the US/EU changes).
    for day in (date(2026, 1, 5), date(2026, 3, 9), date(2026, 7, 6), date(2026, 11, 2)):
        starts = [start.time() for start, _ in CAL.working_periods_on(day)]
        assert starts == [time(0, 30), time(5, 30)]


def test_a_calendar_in_a_zone_with_daylight_saving_time() -> None:
    berlin = BusinessCalendar(
        timezone=ZoneInfo("Europe/Berlin"), working_periods=((time(9), time(17, 30)),), use_official_calendar=False
    )
    friday = datetime(2026, 3, 27, 17, tzinfo=ZoneInfo("Europe/Berlin"))  # CET, UTC+1
    deadline = berlin.add_working_time(friday, H)  # 0.5 h on Friday, 0.5 h on Monday, now CEST
    assert deadline == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)
    assert berlin.working_time_between(friday, deadline) == H


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 3, 2, 10)
    for call in (
        lambda: CAL.is_working_time(naive),
        lambda: CAL.add_working_time(naive, H),
        lambda: CAL.add_working_days(naive, 1),
        lambda: CAL.next_working_moment(naive),
        lambda: CAL.working_time_between(naive, bj(2026, 3, 3)),
        lambda: Clock24x7().add_working_time(naive, H),
        lambda: TicketClock(naive, GENERAL),
        lambda: TicketClock(bj(2026, 3, 2), GENERAL).deadline(naive),
        lambda: Pause(naive),
        lambda: Extension(naive, "reason", by=H),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


# -- policies and 24x7 ---------------------------------------------------------------------------------


def test_default_policies() -> None:
    assert set(DEFAULT_POLICIES) == {"emergency", "utility", "general", "complex"}
    assert EMERGENCY.sign_for == Allowance(0.5, Unit.HOURS)
    assert EMERGENCY.resolution == Allowance(2, Unit.HOURS)
    assert UTILITY.resolution == Allowance(24, Unit.HOURS)
    assert GENERAL.sign_for == Allowance(4, Unit.WORKING_HOURS)
    assert GENERAL.resolution == Allowance(7, Unit.WORKING_DAYS)
    assert COMPLEX.sign_for == Allowance(1, Unit.WORKING_DAYS)
    assert COMPLEX.resolution == Allowance(15, Unit.WORKING_DAYS)
    assert EMERGENCY.calendar_mode is CalendarMode.ROUND_THE_CLOCK
    assert UTILITY.calendar_mode is CalendarMode.ROUND_THE_CLOCK
    assert GENERAL.calendar_mode is CalendarMode.WORKING
    assert COMPLEX.calendar_mode is CalendarMode.WORKING
    assert str(EMERGENCY.sign_for) == "30 minutes"
    assert str(GENERAL.resolution) == "7 working days"


def test_allowances_and_policies_from_configuration() -> None:
    assert Allowance.parse("30 minutes") == Allowance(0.5, Unit.HOURS)
    assert Allowance.parse("2 h") == Allowance(2, Unit.HOURS)
    assert Allowance.parse("4 working_hours") == Allowance(4, Unit.WORKING_HOURS)
    assert Allowance.parse("7 working days") == Allowance(7, Unit.WORKING_DAYS)
    with pytest.raises(ValueError):
        Allowance.parse("7 fortnights")
    with pytest.raises(ValueError):
        Allowance(1.5, Unit.WORKING_DAYS)
    policies = load_policies({"general": {"urgency": "routine", "sign_for": "2 hours", "resolution": "5 working_days"}})
    assert policies["general"].sign_for == Allowance(2, Unit.HOURS)
    assert policies["general"].calendar_mode is CalendarMode.MIXED
    assert policies["emergency"] is EMERGENCY


def test_round_the_clock_policies_ignore_nights_and_holidays() -> None:
    started = bj(2026, 2, 16, 23)  # a night in the Spring Festival holiday
    sign_for, resolution = ticket_clocks(started, EMERGENCY)
    assert sign_for.deadline(started) == bj(2026, 2, 16, 23, 30)
    assert resolution.deadline(started) == bj(2026, 2, 17, 1)
    utility = TicketClock(bj(2026, 10, 3, 9), UTILITY)  # National Day
    assert utility.deadline(bj(2026, 10, 3, 9)) == bj(2026, 10, 4, 9)
    assert Clock24x7().add_working_days(bj(2026, 10, 3, 9), 2) == bj(2026, 10, 5, 9)


# -- ticket clocks: pauses -----------------------------------------------------------------------------


def test_a_pause_in_working_hours_shifts_the_deadline_by_the_paused_time() -> None:
    # Sign-for, 4 working hours from Monday 09:00: 09:00-12:00 and 13:30-14:30.
    started = bj(2026, 3, 2, 9)
    assert TicketClock(started, GENERAL, ClockKind.SIGN_FOR).deadline(bj(2026, 3, 3)) == bj(2026, 3, 2, 14, 30)
    pause = Pause(bj(2026, 3, 2, 10), bj(2026, 3, 2, 11), PauseReason.AWAITING_CITIZEN)
    clock = TicketClock(started, GENERAL, ClockKind.SIGN_FOR, pauses=[pause])
    outcome = clock.evaluate(bj(2026, 3, 3))
    assert outcome.deadline == bj(2026, 3, 2, 15, 30)
    initial, paused = outcome.changes
    assert initial.kind is ChangeKind.INITIAL and initial.old is None and initial.new == bj(2026, 3, 2, 14, 30)
    assert paused.kind is ChangeKind.PAUSE
    assert (paused.at, paused.old, paused.new) == (bj(2026, 3, 2, 11), bj(2026, 3, 2, 14, 30), bj(2026, 3, 2, 15, 30))
    assert "awaiting_citizen" in paused.reason


def test_a_pause_across_nights_counts_only_its_working_time() -> None:
    # Resolution, 7 working days from Wednesday 4 March: Friday 13 March 17:30.
    started = bj(2026, 3, 4, 10)
    # Monday 14:30 - Tuesday 09:30 pauses 3 h + 1 h of working time: Friday 17:30 + 4 h = Monday 16 March 14:00.
    pause = Pause(bj(2026, 3, 9, 14, 30), bj(2026, 3, 10, 9, 30), PauseReason.ARBITRATION)
    clock = TicketClock(started, GENERAL, pauses=[pause])
    assert clock.deadline(bj(2026, 3, 20)) == bj(2026, 3, 16, 14)


@pytest.mark.parametrize(
    "pause",
    [
        Pause(bj(2026, 3, 7, 9), bj(2026, 3, 8, 20)),  # Saturday-Sunday
        Pause(bj(2026, 3, 6, 17, 30), bj(2026, 3, 9, 8, 30)),  # Friday close to Monday opening
        Pause(bj(2026, 3, 5, 12), bj(2026, 3, 5, 13, 30)),  # lunch break
    ],
)
def test_a_pause_outside_working_time_shifts_nothing(pause: Pause) -> None:
    clock = TicketClock(bj(2026, 3, 4, 10), GENERAL, pauses=[pause])
    outcome = clock.evaluate(bj(2026, 3, 20))
    assert outcome.deadline == bj(2026, 3, 13, 17, 30)
    assert [c.kind for c in outcome.changes] == [ChangeKind.INITIAL]


def test_a_pause_on_a_round_the_clock_policy_counts_elapsed_time() -> None:
    clock = TicketClock(bj(2026, 3, 7, 10), EMERGENCY, pauses=[Pause(bj(2026, 3, 7, 10, 30), bj(2026, 3, 7, 11))])
    assert clock.deadline(bj(2026, 3, 8)) == bj(2026, 3, 7, 12, 30)


def test_an_open_pause_lasts_until_now_and_freezes_the_share() -> None:
    clock = TicketClock(bj(2026, 3, 2, 9), GENERAL, ClockKind.SIGN_FOR, pauses=[Pause(bj(2026, 3, 2, 10))])
    now = bj(2026, 3, 2, 11, 15)
    outcome = clock.evaluate(now)
    assert outcome.deadline == bj(2026, 3, 2, 15, 45)  # 14:30 + 1 h 15
    assert "still paused" in outcome.changes[-1].reason
    assert clock.elapsed_share(now) == pytest.approx(0.25)  # 1 h of 4
    assert clock.elapsed_share(bj(2026, 3, 2, 16)) == pytest.approx(0.25)
    assert not clock.is_overdue(bj(2026, 3, 5))


def test_overlapping_pauses_count_once_and_pauses_before_the_start_are_clipped() -> None:
    pauses = [
        Pause(bj(2026, 3, 2, 10), bj(2026, 3, 2, 11), PauseReason.ARBITRATION),
        Pause(bj(2026, 3, 2, 10, 30), bj(2026, 3, 2, 11, 30), PauseReason.AWAITING_CITIZEN),
        Pause(bj(2026, 3, 2, 8), bj(2026, 3, 2, 9, 15)),  # only 09:00-09:15 counts
    ]
    clock = TicketClock(bj(2026, 3, 2, 9), GENERAL, ClockKind.SIGN_FOR, pauses=pauses)
    outcome = clock.evaluate(bj(2026, 3, 3))
    assert outcome.deadline == bj(2026, 3, 2, 16, 15)  # 14:30 + 0:15 + 1:30
    assert "arbitration, awaiting_citizen" in outcome.changes[-1].reason


def test_a_pause_after_the_deadline_does_not_revive_an_overdue_ticket() -> None:
    clock = TicketClock(
        bj(2026, 3, 2, 9), GENERAL, ClockKind.SIGN_FOR, pauses=[Pause(bj(2026, 3, 2, 15), bj(2026, 3, 2, 16))]
    )
    assert clock.deadline(bj(2026, 3, 2, 16, 30)) == bj(2026, 3, 2, 14, 30)
    assert clock.is_overdue(bj(2026, 3, 2, 16, 30))


def test_pauses_and_extensions_after_now_are_not_known_yet() -> None:
    clock = TicketClock(
        bj(2026, 3, 2, 9),
        GENERAL,
        ClockKind.SIGN_FOR,
        pauses=[Pause(bj(2026, 3, 2, 13, 30), bj(2026, 3, 2, 14))],
        extensions=[Extension(bj(2026, 3, 2, 13), "more time", by=H)],
    )
    assert clock.deadline(bj(2026, 3, 2, 12)) == bj(2026, 3, 2, 14, 30)
    assert clock.deadline(bj(2026, 3, 2, 13, 45)) == bj(2026, 3, 2, 15, 45)  # +1 h extension, +15 min pause
    assert clock.deadline(bj(2026, 3, 2, 18)) == bj(2026, 3, 2, 16)


# -- ticket clocks: extensions -------------------------------------------------------------------------


def test_an_extension_moves_the_deadline_and_is_recorded_with_its_reason() -> None:
    extension = Extension(bj(2026, 3, 12, 15), "site inspection needs the district's survey team", working_days=5)
    clock = TicketClock(bj(2026, 3, 4, 10), GENERAL, extensions=[extension])
    outcome = clock.evaluate(bj(2026, 3, 13))
    assert outcome.deadline == bj(2026, 3, 20, 17, 30)  # Mon 16 ... Fri 20
    change = outcome.changes[-1]
    assert change.kind is ChangeKind.EXTENSION
    assert (change.at, change.old, change.new) == (
        bj(2026, 3, 12, 15),
        bj(2026, 3, 13, 17, 30),
        bj(2026, 3, 20, 17, 30),
    )
    assert change.reason == "site inspection needs the district's survey team"


def test_extensions_by_working_time_and_to_a_date() -> None:
    by_hours = TicketClock(bj(2026, 3, 4, 10), GENERAL, extensions=[Extension(bj(2026, 3, 13), "x", by=2 * H)])
    assert by_hours.deadline(bj(2026, 3, 14)) == bj(2026, 3, 16, 10, 30)  # Friday 17:30 + 2 working hours
    until = Extension(bj(2026, 3, 13), "agreed with the citizen", until=bj(2026, 3, 31, 12))
    to_date = TicketClock(bj(2026, 3, 4, 10), GENERAL, extensions=[until])
    assert to_date.deadline(bj(2026, 3, 14)) == bj(2026, 3, 31, 12)
    with pytest.raises(ValueError, match="exactly one"):
        Extension(bj(2026, 3, 13), "x", by=H, working_days=1)
    with pytest.raises(ValueError, match="reason"):
        Extension(bj(2026, 3, 13), " ", by=H)


def test_an_extension_approved_during_a_pause_splits_it() -> None:
    # Base 14:30; pause 10:00-11:00; at 10:30 the deadline is set to 16:00. The half hour of pause before
    # the approval moved the old deadline (then replaced); the half hour after moves the new one to 16:30.
    clock = TicketClock(
        bj(2026, 3, 2, 9),
        GENERAL,
        ClockKind.SIGN_FOR,
        pauses=[Pause(bj(2026, 3, 2, 10), bj(2026, 3, 2, 11))],
        extensions=[Extension(bj(2026, 3, 2, 10, 30), "approved", until=bj(2026, 3, 2, 16))],
    )
    outcome = clock.evaluate(bj(2026, 3, 3))
    assert outcome.deadline == bj(2026, 3, 2, 16, 30)
    assert [(c.kind, c.new) for c in outcome.changes] == [
        (ChangeKind.INITIAL, bj(2026, 3, 2, 14, 30)),
        (ChangeKind.PAUSE, bj(2026, 3, 2, 15)),
        (ChangeKind.EXTENSION, bj(2026, 3, 2, 16)),
        (ChangeKind.PAUSE, bj(2026, 3, 2, 16, 30)),
    ]


# -- ticket clocks: share and overdue ------------------------------------------------------------------


def test_elapsed_share_and_overdue_on_working_time() -> None:
    clock = TicketClock(bj(2026, 3, 2, 9), GENERAL, ClockKind.SIGN_FOR)  # due 14:30
    assert clock.elapsed_share(bj(2026, 3, 2, 8)) == 0
    assert clock.elapsed_share(bj(2026, 3, 2, 11, 59)) < 0.75
    assert clock.elapsed_share(bj(2026, 3, 2, 12)) == pytest.approx(0.75)
    assert clock.elapsed_share(bj(2026, 3, 2, 13)) == pytest.approx(0.75)  # lunch does not count
    assert clock.is_due_soon(bj(2026, 3, 2, 12))
    assert clock.remaining(bj(2026, 3, 2, 12)) == H
    assert clock.elapsed_share(bj(2026, 3, 2, 14, 30)) == pytest.approx(1.0)
    assert not clock.is_overdue(bj(2026, 3, 2, 14, 30))  # met at the very instant
    assert clock.is_overdue(bj(2026, 3, 2, 14, 30, 1))
    assert not clock.is_due_soon(bj(2026, 3, 2, 15))
    assert clock.elapsed_share(bj(2026, 3, 2, 16, 30)) == pytest.approx(1.5)  # 6 h of 4
    assert clock.remaining(bj(2026, 3, 2, 16, 30)) == -2 * H


def test_elapsed_share_on_a_round_the_clock_policy() -> None:
    clock = TicketClock(bj(2026, 10, 1, 22), EMERGENCY)  # due at midnight
    assert clock.elapsed_share(bj(2026, 10, 1, 23, 30)) == pytest.approx(0.75)
    assert clock.is_overdue(bj(2026, 10, 2, 0, 0, 1))


# -- properties ----------------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31, 23, 59), timezones=st.just(UTC)
)
durations = st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(hours=200))
FAST = settings(max_examples=200, deadline=None)
BERLIN = BusinessCalendar(
    timezone=ZoneInfo("Europe/Berlin"), working_periods=((time(9), time(17, 30)),), use_official_calendar=False
)


def _inside_working_time_or_at_a_period_end(cal: BusinessCalendar, moment: datetime) -> bool:
    local_day = moment.astimezone(cal.timezone).date()
    return cal.is_working_time(moment) or moment in {end for _, end in cal.working_periods_on(local_day)}


@FAST
@given(start=instants, duration=durations, cal=st.sampled_from([CAL, BERLIN]))
def test_a_deadline_never_falls_in_non_working_time(
    start: datetime, duration: timedelta, cal: BusinessCalendar
) -> None:
    deadline = cal.add_working_time(start, duration)
    assert deadline > start
    assert _inside_working_time_or_at_a_period_end(cal, deadline)


@FAST
@given(start=instants, first=durations, second=durations)
def test_add_working_time_is_monotonic(start: datetime, first: timedelta, second: timedelta) -> None:
    shorter, longer = sorted((first, second))
    assert CAL.add_working_time(start, shorter) <= CAL.add_working_time(start, longer)


@FAST
@given(start=instants, duration=durations, from_working_moment=st.booleans())
def test_working_time_between_inverts_add_working_time(
    start: datetime, duration: timedelta, from_working_moment: bool
) -> None:
    if from_working_moment:
        start = CAL.next_working_moment(start)
        assert CAL.is_working_time(start)
    assert CAL.working_time_between(start, CAL.add_working_time(start, duration)) == duration


@FAST
@given(start=instants, days=st.integers(min_value=1, max_value=30))
def test_working_days_end_a_working_day_after_the_day_of_receipt(start: datetime, days: int) -> None:
    deadline = CAL.add_working_days(start, days)
    day = deadline.astimezone(BEIJING).date()
    assert CAL.is_working_day(day)
    assert deadline == CAL.working_periods_on(day)[-1][1]
    assert day > start.astimezone(BEIJING).date()
    assert CAL.add_working_days(start, days + 1) > deadline


@FAST
@given(
    start=instants,
    pause_offset=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10)),
    pause_length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=5)),
    kind=st.sampled_from(list(ClockKind)),
)
def test_pauses_never_bring_a_deadline_forward_nor_into_non_working_time(
    start: datetime, pause_offset: timedelta, pause_length: timedelta, kind: ClockKind
) -> None:
    pause_start = start + pause_offset
    clock = TicketClock(start, GENERAL, kind, pauses=[Pause(pause_start, pause_start + pause_length)])
    now = pause_start + pause_length + timedelta(days=60)
    deadline = clock.deadline(now)
    assert deadline >= clock.base_deadline()
    assert _inside_working_time_or_at_a_period_end(CAL, deadline)
    assert clock.elapsed_share(deadline) == pytest.approx(1.0)
