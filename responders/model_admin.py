"""The admin page of the complaint classifier (issue 13, points 12 and 13): which model routes, what it has not
learnt, its held-out precision/coverage curve with the operating point the target precision gives, the target
itself, and retraining from the dispatchers' corrections with one click (a job enqueued by reference)."""

from __future__ import annotations

from typing import Any

import pygal
from flask import Blueprint, flash, redirect, render_template, request, url_for
from pygal.style import Style
from sqlalchemy import select

from hotline_core.audit import record as audit
from hotline_core.models import AuditEntry, Category, ClassifierModel, DirectorySetting, Role
from hotline_web.auth import current_actor, roles_required
from hotline_web.context import db_session, runtime, tr
from routing import directory, engine, model_store, services, training
from routing.classifier import operating_point

bp = Blueprint("model_admin", __name__, url_prefix="/staff/admin/model", template_folder="templates")

TARGET_MIN, TARGET_MAX = 50.0, 100.0  # percent
CHART_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1d2733",
    foreground_strong="#1d2733",
    foreground_subtle="#d9dee5",
    colors=("#1f5fa8", "#b3261e", "#8a6d00"),
    font_family="system-ui, 'PingFang SC', 'Noto Sans CJK SC', sans-serif",
)


def _svg(chart: Any) -> str:
    """pygal's SVG without its inline script (the CSP allows none); the page adds the nonce to its style."""
    svg: str = chart.render(is_unicode=True)
    svg = svg[svg.index("<svg") :] if "<svg" in svg else svg
    while "<script" in svg:
        start = svg.index("<script")
        end = svg.index("</script>", start) + len("</script>")
        svg = svg[:start] + svg[end:]
    return svg.replace('style="opacity: 0"', 'opacity="0"')


def curve_chart(curve: list[dict[str, float]], point: dict[str, float] | None, target: float) -> str:
    """Precision against coverage (both in %), the target precision as a line and the operating point."""
    chart = pygal.XY(
        js=[],
        width=720,
        height=340,
        style=CHART_STYLE,
        title=tr("model.chart_title"),
        x_title=tr("model.coverage"),
        y_title=tr("model.precision"),
        dots_size=1.5,
        legend_at_bottom=True,
        range=(min(80.0, min((p["precision"] * 100 for p in curve), default=80.0)), 100.0),
        xrange=(0.0, 100.0),
    )
    chart.add(tr("model.series_curve"), [(p["coverage"] * 100, p["precision"] * 100) for p in curve])
    chart.add(tr("model.series_target", target=f"{target * 100:.1f}%"), [(0.0, target * 100), (100.0, target * 100)])
    if point is not None:
        chart.add(
            tr("model.series_point"),
            [(point["coverage"] * 100, point["precision"] * 100)],
            dots_size=6,
            stroke=False,
        )
    return _svg(chart)


def _page_data() -> dict[str, Any]:
    s = db_session()
    rt = runtime()
    cfg = services.config(s, rt)
    row = s.scalars(select(ClassifierModel).where(ClassifierModel.active).limit(1)).first()
    data: dict[str, Any] = {"row": row, "target": cfg.target_precision, "floor": cfg.min_confidence}
    if row is None:
        return data
    model = model_store.load_active(s)
    evaluation = (row.metrics or {}).get("evaluation") or (getattr(model, "metadata", {}) or {}).get("evaluation")
    curve = (evaluation or {}).get("curve") or []
    enough = bool(curve) and int((evaluation or {}).get("n") or 0) >= services.MIN_EVALUATED
    point = operating_point(curve, cfg.target_precision) if curve else None
    threshold = services.auto_dispatch_threshold(model, cfg) if model is not None else cfg.min_confidence
    categories = list(s.scalars(select(Category).where(Category.active).order_by(Category.level, Category.code)))
    infos = {
        c.id: engine.CategoryInfo(c.id, c.code, c.parent_id, tuple(c.keywords or ()), c.urgency, c.policy)
        for c in categories
    }
    labels = set(row.labels or ())
    changed_at = directory.categories_changed_at(s)
    _, _, counts = training.retraining_examples(s)
    data.update(
        evaluation=evaluation,
        enough=enough,
        min_evaluated=services.MIN_EVALUATED,
        point=point,
        threshold=threshold if threshold <= 1 else None,
        chart=curve_chart(curve, point, cfg.target_precision) if curve else "",
        labels=[c for c in categories if c.code in labels],
        unlearnt=[c for c in categories if engine.new_to_model(infos[c.id], infos, labels)],
        changed_at=changed_at,
        stale=changed_at is not None and changed_at > row.created_at,
        counts=counts,
        last_run=s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.in_(("classifier.retrain", "classifier.retrain_refused")))
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).first(),
        pending=s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "classifier.retrain_requested")
            .order_by(AuditEntry.id.desc())
            .limit(1)
        ).first(),
    )
    return data


@bp.get("/")
@roles_required(Role.ADMIN)
def page():  # type: ignore[no-untyped-def]
    return render_template("admin/model.html", error=None, **_page_data())


@bp.post("/retrain")
@roles_required(Role.ADMIN)
def retrain():  # type: ignore[no-untyped-def]
    rt = runtime()
    actor = current_actor()
    with rt.db.transaction() as s:
        audit(s, actor, "classifier.retrain_requested", None)
    rt.jobs.enqueue(training.retrain_job, actor.name, actor.user_id, queue="default")
    flash(tr("model.retrain_queued"), "ok")
    return redirect(url_for("model_admin.page")), 303


@bp.post("/target")
@roles_required(Role.ADMIN)
def target():  # type: ignore[no-untyped-def]
    raw = (request.form.get("target") or "").strip().rstrip("%")[:10]
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not TARGET_MIN <= value <= TARGET_MAX:
        error = tr("model.target_invalid", low=f"{TARGET_MIN:g}", high=f"{TARGET_MAX:g}")
        return render_template("admin/model.html", error=error, **_page_data()), 400
    rt = runtime()
    with rt.db.transaction() as s:
        setting = s.get(DirectorySetting, "settings") or DirectorySetting(key="settings", value={})
        before = (setting.value or {}).get("auto_dispatch_target_precision")
        setting.value = {**(setting.value or {}), "auto_dispatch_target_precision": round(value / 100, 4)}
        s.add(setting)
        audit(s, current_actor(), "classifier.target_precision", None, before=before, after=round(value / 100, 4))
    flash(tr("model.target_saved", target=f"{value:g}%"), "ok")
    return redirect(url_for("model_admin.page")), 303
