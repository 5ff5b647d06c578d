"""The learned classifier in the routing: versions stored, decisions explained, training from history."""

import json
import re

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline_app.cli import main
from hotline_core.models import ClassifierModel, Ticket, TicketEvent
from intake.services import process_ticket_job
from routing import model_store, training
from tests.factories import complaint

pytestmark = pytest.mark.demo_city(classifier=True)


def classified(runtime, text, **fields):
    ticket = complaint(runtime, text, **fields)
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        event = s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "classified")
        ).one()
        return s.get(Ticket, ticket.id), event.data


def test_the_demo_loads_an_active_model_version(runtime):
    with runtime.db.session() as s:
        [row] = s.scalars(select(ClassifierModel)).all()
        assert row.active and row.n_samples >= 80 and "WORKSTYLE" in row.labels
        assert model_store.load_active(s).version == row.version


def test_a_confident_prediction_routes_and_records_version_and_scores(runtime):
    ticket, data = classified(runtime, "工作人员态度恶劣，对群众大呼小叫，办事拖延")
    assert data["category"] == "WORKSTYLE" and data["reason"].startswith("model ")
    assert data["model_version"] and data["confidence"] >= 0.6
    assert next(iter(data["scores"])) == "WORKSTYLE" and len(data["scores"]) <= 3
    assert ticket.state == "assigned"


def test_keywords_refine_the_models_broad_category(runtime):
    _, data = classified(runtime, "让胡路区东湖小区路灯坏了一个多月没人修，晚上出行很危险")
    assert data["category"] == "CONSTRUCTION-LIGHTS" and "keywords refine" in data["reason"]


def test_below_the_threshold_a_person_decides_and_sees_the_scores(runtime):
    from hotline_core.models import DirectorySetting

    with runtime.db.transaction() as s:
        setting = s.get(DirectorySetting, "settings")
        setting.value = {**setting.value, "auto_dispatch_min_confidence": 0.999}
    ticket, data = classified(runtime, "我想问一下这个事情怎么办理")
    assert ticket.state == "dispatch" and data["scores"] and "confidence below 0.999" in data["manual_reason"]


def test_dispatchers_routing_becomes_training_data(runtime):
    from hotline_core.audit import Actor
    from hotline_core.models import Category, Unit
    from routing import services

    ticket = complaint(runtime, "一个没有关键词的投诉内容")
    process_ticket_job(ticket.id)
    with runtime.db.transaction() as s:
        health = s.scalars(select(Category).where(Category.code == "HEALTH")).one()
        unit = s.scalars(select(Unit).where(Unit.code == "HEALTH")).one()
        services.route_manually(
            s,
            runtime,
            s.get(Ticket, ticket.id),
            lead_unit_id=unit.id,
            category_id=health.id,
            actor=Actor("user:dispatcher"),
        )
    with runtime.db.session() as s:
        texts, labels = training.history_examples(s)
    assert ("一个没有关键词的投诉内容", "HEALTH") in set(zip(texts, labels, strict=True))


def test_category_names_are_mapped_to_codes(runtime):
    with runtime.db.session() as s:
        assert training.label_codes(s, ["城乡建设", "transport", "EDUCATION", "unknown"]) == [
            "CONSTRUCTION",
            "TRANSPORT",
            "EDUCATION",
            "unknown",
        ]


@pytest.mark.demo_city
@pytest.mark.committed  # the CLI builds its own runtime
def test_the_cli_trains_and_evaluates(settings, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(settings.instance_path))
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    from hotline_app.demo import DEMO_TRAINING

    rows = DEMO_TRAINING.read_text(encoding="utf-8").splitlines()
    header, body = rows[0], rows[1:]
    (tmp_path / "train.csv").write_text("\n".join([header, *body[::2]]), encoding="utf-8")
    (tmp_path / "test.csv").write_text("\n".join([header, *body[1::2]]), encoding="utf-8")
    runner = CliRunner()
    trained = runner.invoke(main, ["classifier", "train", "--csv", str(tmp_path / "train.csv")])
    assert trained.exit_code == 0 and "trained and activated classifier" in trained.output
    report = runner.invoke(
        main,
        [
            "classifier",
            "evaluate",
            "--train",
            str(tmp_path / "train.csv"),
            "--test",
            str(tmp_path / "test.csv"),
            "--json",
        ],
    )
    assert report.exit_code == 0, report.output
    figures = json.loads(report.output)
    assert 0 <= figures["accuracy"] <= 1 and {p["target_coverage"] for p in figures["coverage"]} == {0.5, 0.7, 0.9}
    assert "WORKSTYLE" in figures["per_class"]
    bad = runner.invoke(main, ["classifier", "train", "--csv", str(tmp_path / "train.csv"), "--text-column", "body"])
    assert bad.exit_code == 1 and "no column(s) body" in bad.output


@pytest.mark.parametrize(("lang", "name"), [("zh", "城乡建设"), ("en", "Urban and rural construction")])
def test_the_ticket_page_names_the_models_suggestions_in_the_readers_language(app, runtime, lang, name):
    from tests.helpers import sign_in

    ticket, data = classified(runtime, "小区楼道墙皮脱落，房屋漏水严重")
    assert "CONSTRUCTION" in data["scores"]
    page = sign_in(app, "dispatcher").get(f"/staff/tickets/{ticket.number}", query_string={"lang": lang})
    html = page.get_data(as_text=True)
    badges = re.findall(r'<span class="badge">([^<]*)</span>', html)
    assert any(b.startswith(name + " 0.") for b in badges), badges
    assert not any(re.match(r"[A-Z_-]{4,} \d", b) for b in badges), badges  # no category code
