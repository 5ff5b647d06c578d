"""Routing decisions from text and directory, without the database.

A decision combines, in this order of trust: what the citizen chose explicitly (web form), the
learned classifier when it is confident, the directory's keyword rules, and otherwise a person
(the manual dispatch queue). Urgency is read from words that signal danger or an outage; the area
from the district and street names and aliases the directory knows.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

# Words that put a complaint in a faster deadline tier, in Chinese and English.
EMERGENCY_WORDS = (
    "燃气泄漏",
    "煤气泄漏",
    "天然气泄漏",
    "漏气",
    "着火",
    "起火",
    "火灾",
    "爆炸",
    "坍塌",
    "倒塌",
    "塌方",
    "触电",
    "打人",
    "殴打",
    "暴力",
    "持刀",
    "溺水",
    "中毒",
    "有人受伤",
    "危险",
    "gas leak",
    "fire",
    "explosion",
    "collapse",
    "electrocut",
    "violence",
    "assault",
    "injured",
    "poison",
)
UTILITY_WORDS = (
    "停水",
    "停电",
    "断电",
    "断水",
    "停气",
    "停暖",
    "没有暖气",
    "暖气不热",
    "不供暖",
    "没水",
    "没电",
    "供暖",
    "no water",
    "water outage",
    "power outage",
    "power cut",
    "no power",
    "no heating",
    "heating off",
    "blackout",
)
URGENCY_ORDER = ("emergency", "utility", "complex", "general")


class Prediction(Protocol):
    label: str
    confidence: float
    scores: dict[str, float]
    model_version: str


@dataclass(frozen=True)
class CategoryInfo:
    id: int
    code: str
    parent_id: int | None
    keywords: tuple[str, ...]
    urgency: str
    policy: str | None


@dataclass(frozen=True)
class AreaInfo:
    id: int
    code: str
    parent_id: int | None
    names: tuple[str, ...]
    fallback_unit_id: int | None


@dataclass(frozen=True)
class RuleInfo:
    id: int
    category_id: int | None
    area_id: int | None
    lead_unit_id: int
    co_unit_ids: tuple[int, ...]


@dataclass
class Decision:
    category: CategoryInfo | None
    area: AreaInfo | None
    urgency: str
    urgency_reason: str
    policy: str
    confidence: float
    reason: str
    model_version: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    lead_unit_id: int | None = None
    co_unit_ids: tuple[int, ...] = ()
    rule_id: int | None = None
    manual_reason: str | None = None
    # For a person deciding: the model's best category and the unit its rules give, preselected on the card.
    suggested_category: str | None = None
    suggested_lead_unit_id: int | None = None
    suggested_co_unit_ids: tuple[int, ...] = ()
    threshold: float | None = None  # the model's auto-dispatch threshold in force (None: above any confidence)

    @property
    def manual(self) -> bool:
        return self.manual_reason is not None

    def as_event_data(self) -> dict[str, Any]:
        return {
            "category": self.category.code if self.category else None,
            "area": self.area.code if self.area else None,
            "urgency": self.urgency,
            "urgency_reason": self.urgency_reason,
            "policy": self.policy,
            "confidence": round(self.confidence, 4),
            "reason": self.reason,
            "model_version": self.model_version,
            "scores": {k: round(v, 4) for k, v in self.scores.items()},
            "rule_id": self.rule_id,
            "lead_unit_id": self.lead_unit_id,
            "co_unit_ids": list(self.co_unit_ids),
            "manual_reason": self.manual_reason,
            "suggested_category": self.suggested_category,
            "suggested_lead_unit_id": self.suggested_lead_unit_id,
            "suggested_co_unit_ids": list(self.suggested_co_unit_ids),
            "threshold": round(self.threshold, 4) if self.threshold is not None else None,
        }


def fold(text: str) -> str:
    """Lower-case, full-width to half-width: the form keyword and alias matching use."""
    return unicodedata.normalize("NFKC", text or "").lower()


def detect_urgency(text: str, default: str = "general") -> tuple[str, str]:
    """The fastest tier the words call for, and why; else the category's default."""
    folded = fold(text)
    for word in EMERGENCY_WORDS:
        if word in folded:
            return "emergency", f"word: {word}"
    for word in UTILITY_WORDS:
        if word in folded:
            return "utility", f"word: {word}"
    return default, "category default"


def detect_area(text: str, areas: Sequence[AreaInfo]) -> AreaInfo | None:
    """The area whose name or alias appears in the text; the longest match wins (streets before districts)."""
    folded = fold(text)
    best: tuple[int, AreaInfo] | None = None
    for area in areas:
        for name in area.names:
            name = fold(name)
            if len(name) >= 2 and name in folded and (best is None or len(name) > best[0]):
                best = (len(name), area)
    return best[1] if best else None


def keyword_matches(text: str, categories: Sequence[CategoryInfo]) -> list[tuple[CategoryInfo, list[str]]]:
    folded = fold(text)
    found = []
    for category in categories:
        hits = [k for k in category.keywords if k and fold(k) in folded]
        if hits:
            found.append((category, hits))
    found.sort(key=lambda item: (-len(item[1]), item[0].code))
    return found


def keyword_choice(
    matches: list[tuple[CategoryInfo, list[str]]], by_id: dict[int, CategoryInfo], text: str = ""
) -> tuple[CategoryInfo, list[str]] | None:
    """The category the keywords point to: the level-1 branch with the most distinct hits (a tie is
    no answer), then the deepest category in it with the most hits. Deepest categories tied on hits are
    told apart by which is named first in ``text`` (the subject of a complaint comes first: "路灯坏了，打物业
    电话没人接" is about the street light); a tie that remains stays at the branch root."""
    if not matches:
        return None
    parents = {c.id: c.parent_id for c in by_id.values()}
    branches: dict[int, set[str]] = {}
    for category, hits in matches:
        root = chain(category.id, parents)[-1]
        branches.setdefault(root, set()).update(hits)
    ranked = sorted(branches.items(), key=lambda item: -len(item[1]))
    if len(ranked) > 1 and len(ranked[0][1]) == len(ranked[1][1]):
        return None
    root_id, root_hits = ranked[0]
    inside = [(c, h) for c, h in matches if chain(c.id, parents)[-1] == root_id]
    depth = {c.id: len(chain(c.id, parents)) for c, _ in inside}
    inside.sort(key=lambda item: (-depth[item[0].id], -len(item[1])))
    deepest = [m for m in inside if depth[m[0].id] == depth[inside[0][0].id]]
    if len(deepest) == 1 or len(deepest[0][1]) > len(deepest[1][1]):
        return deepest[0][0], sorted(root_hits)
    if text:
        folded = fold(text)
        tied = [m for m in deepest if len(m[1]) == len(deepest[0][1])]
        first = sorted((min(folded.find(fold(k)) for k in hits), category.code) for category, hits in tied)
        if first[0][0] < first[1][0]:
            return next(c for c, _ in tied if c.code == first[0][1]), sorted(root_hits)
    return by_id[root_id], sorted(root_hits)


def chain(item_id: int | None, parents: dict[int, int | None]) -> list[int]:
    """``item_id`` and its ancestors, nearest first."""
    out: list[int] = []
    while item_id is not None and item_id not in out and len(out) < 10:
        out.append(item_id)
        item_id = parents.get(item_id)
    return out


def find_rule(
    category_id: int | None,
    area_id: int | None,
    rules: Iterable[RuleInfo],
    category_parents: dict[int, int | None],
    area_parents: dict[int, int | None],
) -> RuleInfo | None:
    """The most specific rule: the nearest category level first, then the nearest area (None = any)."""
    by_key = {(r.category_id, r.area_id): r for r in rules}
    categories: list[int | None] = [*chain(category_id, category_parents), None]
    areas: list[int | None] = [*chain(area_id, area_parents), None]
    for c in categories:
        for a in areas:
            if c is None and a is None:
                continue
            rule = by_key.get((c, a))
            if rule is not None:
                return rule
    return by_key.get((None, None))


def new_to_model(category: CategoryInfo, by_id: dict[int, CategoryInfo], model_labels: Collection[str]) -> bool:
    """True when the model cannot have predicted ``category``: neither it, nor a category above it, nor one below
    it was among the labels the model learnt (a category added to the directory after the model was trained).
    Sub-categories of a branch the model knows are not new to it: keywords refine the model's answer into them."""
    parents = {c.id: c.parent_id for c in by_id.values()}
    related = set(chain(category.id, parents))
    related.update(c.id for c in by_id.values() if category.id in chain(c.id, parents))
    return not any(by_id[i].code in model_labels for i in related if i in by_id)


def _refine(
    category: CategoryInfo,
    matches: list[tuple[CategoryInfo, list[str]]],
    by_id: dict[int, CategoryInfo],
    text: str,
) -> tuple[CategoryInfo, list[str]] | None:
    """A broad category narrowed by keywords naming a sub-category inside it (e.g. 城乡建设 -> 路灯照明)."""
    parents = {c.id: c.parent_id for c in by_id.values()}
    inside = [(c, h) for c, h in matches if c.id != category.id and category.id in chain(c.id, parents)]
    refined = keyword_choice(inside, by_id, text) if inside else None
    if refined is not None and refined[0].id != category.id:
        return refined
    return None


def decide(
    text: str,
    *,
    categories: Sequence[CategoryInfo],
    areas: Sequence[AreaInfo],
    rules: Sequence[RuleInfo],
    prediction: Prediction | None,
    min_confidence: float,
    explicit_category_id: int | None = None,
    explicit_area_id: int | None = None,
    model_labels: Collection[str] | None = None,
) -> Decision:
    """Route one complaint. ``min_confidence`` is the model's operating point (the auto-dispatch threshold);
    ``model_labels`` the categories the active model learnt (``None``: assume it knows them all)."""
    by_id = {c.id: c for c in categories}
    by_code = {c.code: c for c in categories}
    area_by_id = {a.id: a for a in areas}
    category: CategoryInfo | None = None
    confidence = 0.0
    reason = ""
    scores = dict(prediction.scores) if prediction else {}
    version = prediction.model_version if prediction else None
    matches = keyword_matches(text, categories)
    learnt = model_labels if model_labels is not None else frozenset(by_code)
    # Keywords naming a category the model never learnt: the model cannot answer with it, however confident.
    unlearnt = [(c, h) for c, h in matches if new_to_model(c, by_id, learnt)] if prediction is not None else []
    new_choice = keyword_choice(unlearnt, by_id, text) if unlearnt else None
    confident = prediction is not None and prediction.confidence >= min_confidence and prediction.label in by_code

    if explicit_category_id is not None and explicit_category_id in by_id:
        category, confidence, reason = by_id[explicit_category_id], 1.0, "explicit: chosen by the citizen"
        # The web form offers the broad categories; the text may name a sub-category with its own rules
        # (让胡路区路灯 -> the district government), exactly as for a classified complaint.
        refined = _refine(category, matches, by_id, text)
        if refined is not None:
            category = refined[0]
            reason += f"; keywords refine to {category.code}: {', '.join(refined[1])}"
    elif new_choice is not None:
        category, hits = new_choice
        confidence = 1.0 if prediction is None else max(prediction.confidence, 0.5)
        best = f"{prediction.label} {prediction.confidence:.2f}" if prediction else "no model"
        reason = f"keyword rule for a category the model has not learnt: {', '.join(hits)} (model: {best})"
    elif confident:
        assert prediction is not None
        category, confidence = by_code[prediction.label], prediction.confidence
        agree = [c for c, _ in matches if c.code == prediction.label]
        reason = f"model {version}" + (" (keywords agree)" if agree else "")
        # The model knows the broad categories; keywords may name a sub-category inside it.
        refined = _refine(category, matches, by_id, text)
        if refined is not None:
            category = refined[0]
            reason += f"; keywords refine to {category.code}: {', '.join(refined[1])}"
    else:
        chosen = keyword_choice(matches, by_id, text)
        parents = {c.id: c.parent_id for c in categories}
        # Below the operating point the keywords route alone only where the model's best guess agrees (the same
        # branch); otherwise a person decides, with the model's suggestion preselected.
        guess = by_code[prediction.label].id if prediction is not None and prediction.label in by_code else None
        if (
            chosen is not None
            and guess is not None
            and guess not in chain(chosen[0].id, parents)
            and chosen[0].id not in chain(guess, parents)
        ):
            chosen = None
        if chosen is not None:
            category, hits = chosen
            confidence = max(prediction.confidence if prediction else 0.0, 0.5)
            reason = f"keyword rule: {', '.join(hits)}"
    area = area_by_id.get(explicit_area_id) if explicit_area_id else detect_area(text, areas)
    default_urgency = category.urgency if category else "general"
    urgency, urgency_reason = detect_urgency(text, default_urgency)
    if URGENCY_ORDER.index(default_urgency) < URGENCY_ORDER.index(urgency):
        urgency, urgency_reason = default_urgency, "category default"
    policy = (category.policy if category and category.policy and urgency == default_urgency else None) or urgency
    decision = Decision(
        category=category,
        area=area,
        urgency=urgency,
        urgency_reason=urgency_reason,
        policy=policy,
        confidence=confidence,
        reason=reason or "no confident classification",
        model_version=version,
        scores=scores,
        threshold=min_confidence if min_confidence <= 1 else None,
    )
    if category is None:
        best = f"{prediction.label} {prediction.confidence:.2f}" if prediction else "no model"
        decision.manual_reason = f"confidence below {min_confidence:.3g} ({best}) and no keyword rule"
        _suggest(decision, prediction, by_code, area, categories, areas, rules)
        return decision
    rule = _rule_here(category, area, rules, categories, areas)
    if rule is not None:
        decision.lead_unit_id, decision.co_unit_ids, decision.rule_id = rule.lead_unit_id, rule.co_unit_ids, rule.id
        return decision
    fallback = (
        next(
            (
                area_by_id[a].fallback_unit_id
                for a in chain(area.id, {x.id: x.parent_id for x in areas})
                if area_by_id[a].fallback_unit_id
            ),
            None,
        )
        if area
        else None
    )
    if fallback is not None:
        decision.lead_unit_id = fallback
        decision.reason += "; no rule: the area's fallback unit (district government)"
        return decision
    decision.manual_reason = "no routing rule and no area to fall back on"
    return decision


def _rule_here(
    category: CategoryInfo,
    area: AreaInfo | None,
    rules: Sequence[RuleInfo],
    categories: Sequence[CategoryInfo],
    areas: Sequence[AreaInfo],
) -> RuleInfo | None:
    """The most specific rule for ``category`` in ``area`` (both trees walked upwards)."""
    return find_rule(
        category.id,
        area.id if area else None,
        rules,
        {c.id: c.parent_id for c in categories},
        {a.id: a.parent_id for a in areas},
    )


def _suggest(
    decision: Decision,
    prediction: Prediction | None,
    by_code: dict[str, CategoryInfo],
    area: AreaInfo | None,
    categories: Sequence[CategoryInfo],
    areas: Sequence[AreaInfo],
    rules: Sequence[RuleInfo],
) -> None:
    """What the model would have done: its category and the units the directory's rules give for it here."""
    if prediction is None or prediction.label not in by_code:
        return
    category = by_code[prediction.label]
    decision.suggested_category = category.code
    rule = _rule_here(category, area, rules, categories, areas)
    if rule is not None:
        decision.suggested_lead_unit_id, decision.suggested_co_unit_ids = rule.lead_unit_id, rule.co_unit_ids
