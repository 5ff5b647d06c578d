"""Scorecards (mystery_calls/scorecard.py): hand-computed scores, N/A handling, validation and corrections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from mystery_calls.scorecard import (
    DEFAULT_SCORECARD,
    GROUPS,
    Item,
    Scorecard,
    ScoreError,
    ScoreVersion,
    automatic_values,
    correct,
    score,
    speed_value,
)

CARD = DEFAULT_SCORECARD
T0 = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def full_marks(**overrides: float | None) -> dict[str, float | None]:
    values: dict[str, float | None] = {item.code: 1.0 for item in CARD.items}
    values.update(overrides)
    return values


class TestDefaultScorecard:
    def test_it_has_the_ten_items_with_their_weights_and_groups(self) -> None:
        assert CARD.version == 1
        assert [(i.code, i.group, i.weight) for i in CARD.items] == [
            ("answered", "answer", 20),
            ("answer_speed", "answer", 10),
            ("greeting", "courtesy", 10),
            ("attitude", "courtesy", 10),
            ("civil_language", "courtesy", 5),
            ("understood", "competence", 10),
            ("correct_answer", "competence", 15),
            ("first_contact_ownership", "competence", 5),
            ("resolved_first_contact", "efficiency", 10),
            ("no_needless_transfer", "efficiency", 5),
        ]
        assert sum(i.weight for i in CARD.items) == 100

    def test_only_answer_items_are_automatic_and_answered_cannot_be_na(self) -> None:
        assert [i.code for i in CARD.items if i.automatic] == ["answered", "answer_speed"]
        assert [i.code for i in CARD.items if not i.allows_na] == ["answered"]

    def test_every_item_has_both_labels(self) -> None:
        assert all(i.label_zh.strip() and i.label_en.strip() for i in CARD.items)
        assert CARD.item("first_contact_ownership").label_zh == "首问负责"
        assert CARD.item("greeting").label_zh == "问候并报工号"

    def test_item_and_groups(self) -> None:
        assert CARD.item("attitude").group == "courtesy"
        with pytest.raises(KeyError, match="no_such"):
            CARD.item("no_such")
        groups = CARD.groups()
        assert tuple(groups) == GROUPS
        assert [i.code for i in groups["efficiency"]] == ["resolved_first_contact", "no_needless_transfer"]

    def test_to_dict_is_json_and_round_trips(self) -> None:
        stored = json.loads(json.dumps(CARD.to_dict(), ensure_ascii=False))
        assert Scorecard.from_dict(stored) == CARD

    def test_from_dict_rejects_malformed_data(self) -> None:
        with pytest.raises(ValueError, match="malformed"):
            Scorecard.from_dict({"name": "x", "version": 1})
        bad = CARD.to_dict()
        bad["items"][0]["weight"] = 0
        with pytest.raises(ValueError, match="positive weight"):
            Scorecard.from_dict(bad)


class TestScorecardValidation:
    def item(self, code: str = "a", group: str = "courtesy", weight: float = 1) -> Item:
        return Item(code, group, "甲", "A", weight)

    def test_codes_must_be_unique(self) -> None:
        with pytest.raises(ValueError, match="duplicate item code 'a'"):
            Scorecard("c", 1, (self.item(), self.item()))

    @pytest.mark.parametrize("weight", [0, -1, float("nan"), float("inf")])
    def test_weights_must_be_positive(self, weight: float) -> None:
        with pytest.raises(ValueError, match="positive weight"):
            Scorecard("c", 1, (self.item(weight=weight),))

    def test_groups_must_be_known(self) -> None:
        with pytest.raises(ValueError, match="unknown group 'speed'"):
            Scorecard("c", 1, (self.item(group="speed"),))

    def test_a_card_needs_items_a_name_and_a_version(self) -> None:
        with pytest.raises(ValueError, match="no items"):
            Scorecard("c", 1, ())
        with pytest.raises(ValueError, match="name"):
            Scorecard(" ", 1, (self.item(),))
        with pytest.raises(ValueError, match="version"):
            Scorecard("c", 0, (self.item(),))


class TestSpeed:
    @pytest.mark.parametrize(
        ("seconds", "value"),
        [(0, 1.0), (15, 1.0), (15.1, 0.6), (30, 0.6), (30.5, 0.3), (60, 0.3), (61, 0.0), (600, 0.0)],
    )
    def test_bands(self, seconds: float, value: float) -> None:
        assert speed_value(seconds) == value

    def test_not_answered_is_na(self) -> None:
        assert speed_value(None) is None

    def test_negative_times_are_refused(self) -> None:
        with pytest.raises(ValueError):
            speed_value(-1)

    def test_automatic_values(self) -> None:
        assert automatic_values(True, 12) == {"answered": 1.0, "answer_speed": 1.0}
        assert automatic_values(True, 45) == {"answered": 1.0, "answer_speed": 0.3}
        assert automatic_values(False, None) == {"answered": 0.0, "answer_speed": None}
        assert automatic_values(False, 20) == {"answered": 0.0, "answer_speed": None}


class TestScore:
    def test_all_full_marks_is_100(self) -> None:
        result = score(CARD, full_marks())
        assert result.total == 100.0 and result.points == 100 and result.max_points == 100
        assert result.by_group == {"answer": 100.0, "courtesy": 100.0, "competence": 100.0, "efficiency": 100.0}
        assert result.applicable == CARD.codes and result.not_applicable == ()

    def test_a_mix_computed_by_hand(self) -> None:
        # item                      weight value  points
        # answered                    20    1      20
        # answer_speed (25 s)         10    0.6     6
        # greeting                    10    1      10
        # attitude                    10    0.5     5
        # civil_language               5    1       5
        # understood                  10    1      10
        # correct_answer              15    0.5     7.5
        # first_contact_ownership      5    N/A     -
        # resolved_first_contact      10    0       0
        # no_needless_transfer         5    N/A     -
        # applicable weight 90, points 63.5 -> 63.5 / 90 = 70.555...% -> 70.56
        # groups: answer 26/30 = 86.67, courtesy 20/25 = 80, competence 17.5/25 = 70, efficiency 0/10 = 0
        values = full_marks(
            answer_speed=speed_value(25),
            attitude=0.5,
            correct_answer=0.5,
            first_contact_ownership=None,
            resolved_first_contact=0.0,
            no_needless_transfer=None,
        )
        result = score(CARD, values)
        assert (result.points, result.max_points, result.total) == (63.5, 90, 70.56)
        assert result.by_group == {"answer": 86.67, "courtesy": 80.0, "competence": 70.0, "efficiency": 0.0}
        assert result.not_applicable == ("first_contact_ownership", "no_needless_transfer")
        assert len(result.applicable) == 8

    def test_na_items_are_left_out_of_the_denominator(self) -> None:
        # correct_answer 0 out of 15 -> 85 / 100; as N/A it neither earns nor costs points -> 85 / 85
        assert score(CARD, full_marks(correct_answer=0.0)).total == 85.0
        assert score(CARD, full_marks(correct_answer=None)).total == 100.0
        # N/A transfer item (5) and half marks on attitude: 100 - 5 = 95 possible, 95 - 5 = 90 earned -> 94.74
        result = score(CARD, full_marks(no_needless_transfer=None, attitude=0.5))
        assert (result.points, result.max_points, result.total) == (90.0, 95.0, 94.74)

    def test_a_group_with_only_na_items_has_no_group_score(self) -> None:
        result = score(CARD, full_marks(resolved_first_contact=None, no_needless_transfer=None))
        assert result.by_group["efficiency"] is None and result.total == 100.0

    def test_not_answered_makes_everything_else_na_and_scores_0(self) -> None:
        # whatever was entered for the other items (nothing could be judged), only "answered" counts
        result = score(CARD, full_marks(answered=0.0, answer_speed=None, attitude=0.2))
        assert (result.total, result.points, result.max_points) == (0.0, 0.0, 20.0)
        assert result.applicable == ("answered",)
        assert set(result.not_applicable) == set(CARD.codes) - {"answered"}
        assert result.by_group == {"answer": 0.0, "courtesy": None, "competence": None, "efficiency": None}

    def test_not_answered_allows_na_even_for_items_that_otherwise_need_a_value(self) -> None:
        card = Scorecard(
            "strict",
            1,
            (
                Item("answered", "answer", "接通", "Answered", 1, allows_na=False),
                Item("x", "courtesy", "甲", "X", 1, allows_na=False),
            ),
        )
        assert score(card, {"answered": 0.0, "x": None}).total == 0.0
        with pytest.raises(ScoreError, match="'x' cannot be N/A"):
            score(card, {"answered": 1.0, "x": None})

    def test_unknown_items_are_refused(self) -> None:
        with pytest.raises(ScoreError, match=r"unknown item code.*smile"):
            score(CARD, full_marks(smile=1.0))

    def test_every_item_must_be_given(self) -> None:
        values = full_marks()
        del values["attitude"], values["greeting"]
        with pytest.raises(ScoreError, match=r"missing item.*greeting, attitude"):
            score(CARD, values)

    @pytest.mark.parametrize("value", [-0.1, 1.01, 5, float("nan"), "1", True])
    def test_values_must_be_fractions(self, value: object) -> None:
        with pytest.raises(ScoreError, match="'attitude'"):
            score(CARD, full_marks(attitude=value))  # type: ignore[arg-type]

    def test_answered_cannot_be_na(self) -> None:
        with pytest.raises(ScoreError, match="'answered' cannot be N/A"):
            score(CARD, full_marks(answered=None))

    def test_score_error_is_a_value_error(self) -> None:
        assert issubclass(ScoreError, ValueError)

    def test_a_card_with_everything_na_cannot_be_scored(self) -> None:
        card = Scorecard("tiny", 1, (Item("x", "courtesy", "甲", "X", 1),))
        with pytest.raises(ScoreError, match="nothing to score"):
            score(card, {"x": None})


class TestCorrections:
    def test_first_submission_is_version_1_without_reason(self) -> None:
        first = correct([], full_marks(attitude=0.5), None, "user:li", T0, CARD)
        assert isinstance(first, ScoreVersion)
        assert (first.number, first.reason, first.submitted_by, first.submitted_at) == (1, None, "user:li", T0)
        assert first.result.total == 95.0 and first.values["attitude"] == 0.5

    def test_a_correction_needs_a_reason_and_numbers_the_versions(self) -> None:
        first = correct([], full_marks(attitude=0.5), None, "user:li", T0, CARD)
        for reason in (None, "", "   "):
            with pytest.raises(ValueError, match="needs a non-empty reason"):
                correct([first], full_marks(), reason, "user:li", T0 + timedelta(hours=1), CARD)
        second = correct([first], full_marks(), "录音复核：态度良好", "user:wang", T0 + timedelta(hours=1), CARD)
        third = correct(
            [first, second], full_marks(greeting=0.0), " 未报工号 ", "user:li", T0 + timedelta(days=1), CARD
        )
        assert [(v.number, v.result.total) for v in (first, second, third)] == [(1, 95.0), (2, 100.0), (3, 90.0)]
        assert (second.reason, third.reason) == ("录音复核：态度良好", "未报工号")
        assert first.result.total == 95.0  # the submitted version is unchanged

    def test_a_correction_is_scored_like_a_submission(self) -> None:
        first = correct([], full_marks(), None, "user:li", T0, CARD)
        with pytest.raises(ScoreError):
            correct([first], full_marks(attitude=2.0), "typo", "user:li", T0, CARD)

    def test_a_history_must_be_numbered_from_1(self) -> None:
        first = correct([], full_marks(), None, "user:li", T0, CARD)
        with pytest.raises(ValueError, match="numbered"):
            correct([first, first], full_marks(), "again", "user:li", T0, CARD)

    def test_times_must_be_aware_and_not_go_back(self) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            correct([], full_marks(), None, "user:li", datetime(2026, 11, 25, 11, 0), CARD)
        first = correct([], full_marks(), None, "user:li", T0, CARD)
        with pytest.raises(ValueError, match="predate"):
            correct([first], full_marks(), "late fix", "user:li", T0 - timedelta(minutes=1), CARD)

    def test_the_submitter_is_required(self) -> None:
        with pytest.raises(ValueError, match="submitted_by"):
            correct([], full_marks(), None, " ", T0, CARD)
