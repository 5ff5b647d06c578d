"""Statistics reproduced by hand from a small set of tickets with known histories."""

from datetime import date

import pytest
from sqlalchemy import select

from hotline_core.models import TicketFact, Unit
from stats import facts
from stats.services import Filters, hot_spots, period, ranking, summary

pytestmark = pytest.mark.demo_city


def housing(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Unit.id).where(Unit.code == "HOUSING")).one()


def row_for(runtime, **filters):
    with runtime.db.session() as s:
        rows = summary(s, Filters(date(2026, 11, 1), date(2026, 11, 30), **filters), "unit")
    return next(r for r in rows if r.key == housing(runtime))


def test_counts_and_times_to_sign_for(runtime, dataset):
    row = row_for(runtime)
    assert (row.count, row.assigned) == (3, 3)
    assert row.sign_median == 12_600 and row.sign_p90 == 19_800  # 1 h and 6 h
    assert row.sign_working_median == 9_900  # 1 h and 4.5 working hours (lunch 12:00-13:30)
    assert row.contact_median == (7_200 + 23_400) / 2


def test_on_time_rates_count_unsigned_tickets_as_late(runtime, dataset):
    row = row_for(runtime)
    assert row.sign_on_time == pytest.approx(1 / 3) and row.contact_on_time == pytest.approx(1 / 3)
    assert row.overdue == 1 and row.escalated == 1  # T3: due Mon 14:30, unit head told 4 h later


def test_the_three_rates_and_the_composite(runtime, dataset):
    row = row_for(runtime)
    assert row.response_rate == pytest.approx(1 / 3)  # only T1 signed and contacted in time
    assert row.resolution_rate == 1.0 and row.satisfaction_rate == 0.5
    assert row.composite() == 62.5  # 100 x (0.30/3 + 0.35 x 1 + 0.35 x 0.5)


def test_filters_narrow_the_figures(runtime, dataset):
    with runtime.db.session() as s:
        assert summary(s, Filters(date(2026, 11, 1), date(2026, 11, 30), channel="sms"), "unit") == []
        by_channel = summary(s, Filters(date(2026, 11, 23), date(2026, 11, 23)), "channel")
    assert [(r.key, r.count) for r in by_channel] == [("web", 3)]


def test_periods():
    assert period("week", date(2026, 11, 25)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert period("month", date(2026, 12, 15)) == (date(2026, 12, 1), date(2026, 12, 31))
    with pytest.raises(ValueError):
        period("custom", date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 1))


def test_units_below_the_minimum_volume_are_not_ranked(runtime, dataset):
    with runtime.db.session() as s:
        strict = ranking(s, date(2026, 11, 1), min_volume=5)
        loose = ranking(s, date(2026, 11, 1), min_volume=1)
    assert [r.key for r in strict.unranked] == [housing(runtime)]
    [ranked] = loose.tiers["department"]
    assert ranked.rank == 1 and ranked.combined == 62.5 and not ranked.warned


def test_facts_are_rebuilt_only_for_tickets_with_new_events(runtime, dataset):
    assert facts.refresh(runtime) == 0
    with runtime.db.session() as s:
        assert len(s.scalars(select(TicketFact)).all()) == 3


def test_a_volume_jump_is_a_hot_spot(runtime, dataset):
    with runtime.db.session() as s:
        spots = hot_spots(s, date(2026, 11, 29), by="category")
    assert [(spot.current, spot.baseline) for spot in spots] == [(3, 0.0)]


def test_weights_and_minimum_volume_come_from_the_directory_settings(runtime, dataset):
    from hotline_core.models import DirectorySetting
    from stats.services import configured_ranking

    with runtime.db.transaction() as s:
        row = s.get(DirectorySetting, "settings")
        row.value = {**row.value, "rank_weights": [100, 0, 0], "rank_min_volume": 1}
    with runtime.db.session() as s:
        result = configured_ranking(s, date(2026, 11, 1))
    [ranked] = result.tiers["department"]
    assert ranked.combined == pytest.approx(100 / 3, abs=0.01)  # the response rate alone
