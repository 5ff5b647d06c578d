"""What routing reads for every ticket, cached per process behind the directory's stamp.

Routing a ticket needs the directory (categories, areas, rules, units and whom to text), the
routing settings (calendar, deadline policies, thresholds, quiet hours) and the classifier. Read
afresh, they cost more statements than the ticket's own rows; they change a few times a month.
So each process keeps one copy, keyed by the ``directory`` stamp (``hotline_core.stamps``), which
every change to those rows renews in its own transaction: a batch costs one ``SELECT`` of the
stamp, and routes with what was committed when it read it.

``HOTLINE_ROUTING_CACHE=0`` reads everything afresh for every batch; a test routes the same texts
both ways and compares the decisions, deadlines and texts.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import quiet_hours, stamps
from hotline_core.models import Area, Category, RoutingRule, Unit
from hotline_core.runtime import Runtime
from routing import directory, engine, model_store
from routing.config import RoutingConfig, load_config


@dataclass(frozen=True)
class UnitInfo:
    """A unit as routing needs it: who it is and whom its notifications go to."""

    id: int
    code: str
    name_zh: str
    name_en: str
    active: bool
    phones: tuple[str, ...]

    def name(self, language: str) -> str:
        return self.name_zh if language == "zh" else self.name_en


@dataclass(frozen=True)
class RoutingInputs:
    token: str | None  # the directory stamp these were read under
    config: RoutingConfig
    categories: list[engine.CategoryInfo]
    areas: list[engine.AreaInfo]
    rules: list[engine.RuleInfo]
    model: Any | None
    labels: tuple[str, ...] | None  # what the active model learnt (None: no model)
    units: dict[int, UnitInfo]
    # Per category: (parent id, advice in Chinese, advice in English) as the directory gives them.
    advice: dict[int, tuple[int | None, str | None, str | None]]
    quiet_window: tuple[time, time] | None

    def safety_advice(self, category_id: int | None, language: str) -> str | None:
        """What the directory tells a citizen to do at once for the category, or its nearest parent
        that says something, in ``language``; Chinese when no English is given."""
        seen: set[int] = set()
        while category_id is not None and category_id in self.advice and category_id not in seen:
            seen.add(category_id)
            parent, zh, en = self.advice[category_id]
            text = (en if language == "en" else zh) or zh
            if text:
                return text
            category_id = parent
        return None


def snapshot(session: Session) -> tuple[list[engine.CategoryInfo], list[engine.AreaInfo], list[engine.RuleInfo]]:
    """The directory as the routing engine reads it: active categories and rules, every area."""
    categories = [
        engine.CategoryInfo(c.id, c.code, c.parent_id, tuple(c.keywords or ()), c.urgency or "general", c.policy)
        for c in session.scalars(select(Category).where(Category.active))
    ]
    areas = [
        engine.AreaInfo(a.id, a.code, a.parent_id, (a.name_zh, a.name_en, *(a.aliases or ())), a.fallback_unit_id)
        for a in session.scalars(select(Area))
    ]
    rules = [
        engine.RuleInfo(r.id, r.category_id, r.area_id, r.lead_unit_id, tuple(r.co_unit_ids or ()))
        for r in session.scalars(select(RoutingRule).where(RoutingRule.active))
    ]
    return categories, areas, rules


def load(session: Session, runtime: Runtime, token: str | None) -> RoutingInputs:
    """Read everything afresh (after reading ``token``: the rows are at least as new as it)."""
    categories, areas, rules = snapshot(session)
    model = model_store.load_active(session)
    phones = directory.contact_numbers_by_unit(session)
    units = {
        u.id: UnitInfo(u.id, u.code, u.name_zh, u.name_en, bool(u.active), tuple(phones.get(u.id, ())))
        for u in session.scalars(select(Unit))
    }
    advice = {
        c_id: (parent, zh, en)
        for c_id, parent, zh, en in session.execute(
            select(Category.id, Category.parent_id, Category.safety_advice_zh, Category.safety_advice_en)
        )
    }
    return RoutingInputs(
        token=token,
        config=load_config(session, runtime.settings.timezone),
        categories=categories,
        areas=areas,
        rules=rules,
        model=model,
        labels=tuple(model.labels) if model is not None else None,
        units=units,
        advice=advice,
        quiet_window=quiet_hours.window(session),
    )


_cache: dict[str, RoutingInputs] = {}  # database URL -> the inputs last read in this process
_lock = threading.Lock()


def current(session: Session, runtime: Runtime) -> RoutingInputs:
    """The routing inputs as of the directory's current stamp: this process's copy when the stamp
    has not changed since it was read, else read afresh (and kept, unless caching is off)."""
    token = stamps.read(session)
    key, keep = runtime.db.url, token is not None and runtime.settings.routing_cache

    def kept() -> RoutingInputs | None:
        cached = _cache.get(key)
        return cached if keep and cached is not None and cached.token == token else None

    if (found := kept()) is not None:
        return found
    with _lock:  # one thread reads them; the others waiting here then find its copy
        if (found := kept()) is not None:
            return found
        fresh = load(session, runtime, token)
        if keep:
            _cache[key] = fresh
        return fresh


def forget() -> None:
    """Drop every process-wide copy (tests that rebuild a database under the same URL)."""
    _cache.clear()
