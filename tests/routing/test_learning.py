"""Routing that learns (issue 13, points 11-13): duplicates by meaning, new categories before retraining, the
web form's category refined by the area's rules, retraining from corrections, auto-dispatch at a chosen precision.

Every text here is written for the test; the models are trained on a few hundred generated sentences (< 2 s).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import (
    Assignment,
    AuditEntry,
    Category,
    ClassifierModel,
    DirectorySetting,
    Ticket,
    TicketEvent,
    Unit,
)
from intake.services import process_ticket_job
from responders import services as portal
from routing import directory, model_store, services, similarity, training
from routing.classifier import TextClassifier, operating_point, precision_coverage_curve
from tests.factories import complaint
from tests.helpers import sign_in

DEMO_YAML = Path(__file__).resolve().parents[2] / "hotline_app" / "demo_city.yaml"

# --- texts written for the tests ---------------------------------------------------------------------------------

CROSSING_A = "中央大街与纬二路交叉口的红绿灯坏了，车辆乱成一团"
CROSSING_B = "纬二路和中央大街路口信号灯不亮了，早高峰特别堵"
CROSSING_C = "中央大街纬二路十字路口红绿灯失灵好几天了，没人管"
SAME_STREET_OTHER_MATTER = "中央大街上一家饭店油烟扰民，晚上还很吵"
OTHER_MATTERS = ("东湖小区物业乱收停车费，业主投诉无人处理", "某中学违规收取补课费，学校推诿不处理")
POTHOLE_A = "萨尔图区世纪大道有个大坑，车开过去颠得厉害"
POTHOLE_B = "世纪大道上那个坑还没补，昨天又有车爆胎"


def unit_id(runtime, code):
    with runtime.db.session() as s:
        return s.scalars(select(Unit.id).where(Unit.code == code)).one()


def lead_unit_code(runtime, ticket_id):
    with runtime.db.session() as s:
        return s.scalars(
            select(Unit.code)
            .join(Assignment, Assignment.unit_id == Unit.id)
            .where(Assignment.ticket_id == ticket_id, Assignment.role == "lead", Assignment.state == "assigned")
        ).one()


def classified(runtime, text, **fields):
    ticket = complaint(runtime, text, **fields)
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        event = s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "classified")
        ).one()
        return s.get(Ticket, ticket.id), event.data


# --- 11. possible duplicates by meaning ----------------------------------------------------------------------------


def test_similarity_scores_the_same_crossing_above_the_threshold_and_other_matters_below():
    window = [CROSSING_A, SAME_STREET_OTHER_MATTER, *OTHER_MATTERS, POTHOLE_A]
    found = similarity.similar([CROSSING_B, CROSSING_C, POTHOLE_B], window)
    assert [[window[m.index] for m in row] for row in found] == [[CROSSING_A], [CROSSING_A], [POTHOLE_A]]
    assert all(similarity.DEFAULT_MIN_SIMILARITY <= m.score <= 1 for row in found for m in row)


def test_similarity_ignores_typography():
    [[match]] = similarity.similar(["纬二路和中央大街路口 信号灯不亮了!!"], ["纬二路和中央大街路口，信号灯不亮了。"])
    assert match.score == pytest.approx(1.0, abs=1e-4)


@pytest.mark.demo_city
def test_citizens_describing_the_same_crossing_are_suggested_together_with_a_score(runtime):
    first = complaint(runtime, CROSSING_A, phone="+8613800000001")
    for i, text in enumerate((*OTHER_MATTERS, SAME_STREET_OTHER_MATTER)):
        complaint(runtime, text, phone=f"+861380000001{i}")
    second = complaint(runtime, CROSSING_B, phone="+8613800000002")
    with runtime.db.session() as s:
        [candidate] = portal.duplicate_candidates(s, s.get(Ticket, second.id))
    assert candidate.number == first.number
    assert candidate.score >= similarity.DEFAULT_MIN_SIMILARITY
    assert not candidate.same_caller and not candidate.same_place


@pytest.mark.demo_city
def test_different_matters_are_not_suggested_as_duplicates(runtime):
    complaint(runtime, CROSSING_A, phone="+8613800000001")
    complaint(runtime, SAME_STREET_OTHER_MATTER, phone="+8613800000003")
    other = complaint(runtime, OTHER_MATTERS[0], phone="+8613800000002")
    with runtime.db.session() as s:
        assert portal.duplicate_candidates(s, s.get(Ticket, other.id)) == []
        street = s.scalars(select(Ticket).where(Ticket.text == SAME_STREET_OTHER_MATTER)).one()
        assert portal.duplicate_candidates(s, street) == []


@pytest.mark.demo_city
def test_a_ticket_outside_the_window_is_not_compared(runtime, clock):
    clock.set(clock())
    complaint(runtime, CROSSING_A, phone="+8613800000001")
    clock.advance(8 * 24 * 3600)
    later = complaint(runtime, CROSSING_B, phone="+8613800000002")
    with runtime.db.session() as s:
        assert portal.duplicate_candidates(s, s.get(Ticket, later.id)) == []


@pytest.mark.demo_city
def test_the_dispatch_card_shows_the_similar_ticket_with_its_score_and_a_merge_button(app, runtime):
    first = complaint(runtime, CROSSING_A, phone="+8613800000001")
    second = complaint(runtime, CROSSING_B, phone="+8613800000002")
    for ticket in (first, second):
        process_ticket_job(ticket.id)  # no keyword, no model: both wait for a dispatcher
    client = sign_in(app, "dispatcher")
    page = client.get("/staff/dispatch/?lang=zh").get_data(as_text=True)
    card = page[page.index(f'id="dispatch-{second.number}"') :]
    card = card[: card.index('class="card dispatch-item"')] if 'class="card dispatch-item"' in card else card
    assert f'data-number="{first.number}"' in card and "文字相似度 0." in card and f"并入 {first.number}" in card
    english = client.get("/staff/dispatch/?lang=en").get_data(as_text=True)
    assert "text similarity 0." in english and f"Merge into {first.number}" in english


# --- 12. new categories work before retraining --------------------------------------------------------------------


def _import_demo_directory_with(runtime, categories=(), rules=()):
    data = yaml.safe_load(DEMO_YAML.read_text(encoding="utf-8"))
    data = {k: v for k, v in data.items() if k in ("settings", "calendar", "units", "areas", "categories", "rules")}
    data["categories"] += list(categories)
    data["rules"] += list(rules)
    with runtime.db.transaction() as s:
        directory.import_directory(s, directory.parse_yaml(yaml.safe_dump(data, allow_unicode=True)), runtime.now())


NUCLEIC = "核酸检测点工作人员态度恶劣，对群众大呼小叫，办事拖延"
EPIDEMIC = {"code": "EPIDEMIC", "name_zh": "疫情防控", "name_en": "Epidemic control", "keywords": ["核酸", "隔离"]}


@pytest.mark.demo_city(classifier=True)
def test_a_new_category_with_keywords_gets_its_tickets_though_the_model_is_confident_elsewhere(runtime):
    _, before = classified(runtime, NUCLEIC)
    assert before["category"] == "WORKSTYLE" and before["reason"].startswith("model ")  # the model is confident
    _import_demo_directory_with(runtime, [EPIDEMIC], [{"category": "EPIDEMIC", "lead": "HEALTH"}])
    ticket, data = classified(runtime, NUCLEIC)
    assert data["category"] == "EPIDEMIC" and "model has not learnt" in data["reason"] and "核酸" in data["reason"]
    assert ticket.state == "assigned" and lead_unit_code(runtime, ticket.id) == "HEALTH"


@pytest.mark.demo_city(classifier=True)
def test_a_sub_category_of_a_branch_the_model_knows_is_not_new_to_it(runtime):
    _, data = classified(runtime, "工作人员态度恶劣，对群众大呼小叫，办事拖延")
    assert data["category"] == "WORKSTYLE" and "not learnt" not in data["reason"]


@pytest.mark.demo_city
def test_a_web_form_category_is_refined_by_the_areas_rules(runtime):
    """The form offers the broad categories: 城乡建设 + 让胡路区 + 路灯 is the district's street light (its rule)."""
    ticket = complaint(runtime, "小区门口的路灯坏了三天，晚上很黑", category_code="CONSTRUCTION", area_code="RANGHULU")
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        data = s.scalars(
            select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "classified")
        ).one()
    assert data["category"] == "CONSTRUCTION-LIGHTS" and data["reason"].startswith("explicit")
    assert lead_unit_code(runtime, ticket.id) == "GOV-RANGHULU"


@pytest.mark.demo_city
def test_the_sub_category_named_first_wins_a_tie(runtime):
    """The demo's sample: the street light is the subject, the property company's phone a detail."""
    text = "让胡路区某小区路灯坏了三天，打物业电话没人接，去街道办窗口工作人员态度很差。"
    ticket = complaint(runtime, text, area_code="RANGHULU")
    process_ticket_job(ticket.id)
    assert lead_unit_code(runtime, ticket.id) == "GOV-RANGHULU"


@pytest.mark.demo_city(classifier=True)
def test_importing_a_category_records_when_the_directory_changed(runtime, clock):
    clock.set(clock())
    with runtime.db.session() as s:
        trained = s.scalars(select(ClassifierModel.created_at).where(ClassifierModel.active)).one()
    clock.advance(3600)
    _import_demo_directory_with(runtime, [EPIDEMIC])
    with runtime.db.session() as s:
        assert directory.categories_changed_at(s) == runtime.now() > trained
    clock.advance(60)
    _import_demo_directory_with(runtime, [EPIDEMIC])  # the same again: nothing changed
    with runtime.db.session() as s:
        assert directory.categories_changed_at(s) == runtime.now() - __import__("datetime").timedelta(seconds=60)


def _correct(runtime, ticket_id, category_code, unit_code):
    with runtime.db.transaction() as s:
        category = s.scalars(select(Category).where(Category.code == category_code)).one()
        services.route_manually(
            s,
            runtime,
            s.get(Ticket, ticket_id),
            lead_unit_id=s.scalars(select(Unit.id).where(Unit.code == unit_code)).one(),
            category_id=category.id,
            actor=Actor("user:dispatcher"),
        )


@pytest.mark.demo_city(classifier=True)
def test_retraining_from_corrections_teaches_the_model_a_new_category(runtime):
    _import_demo_directory_with(runtime, [EPIDEMIC], [{"category": "EPIDEMIC", "lead": "HEALTH"}])
    texts = ["方舱医院物资短缺，床位不够", "封控小区买不到菜，没人送物资", "健康码一直是黄码", "方舱里晚上太吵睡不着"]
    for text in texts:
        ticket = complaint(runtime, text)
        process_ticket_job(ticket.id)
        _correct(runtime, ticket.id, "EPIDEMIC", "HEALTH")
    with runtime.db.session() as s:
        fixed_texts, fixed_labels = training.correction_examples(s)
        _, _, counts = training.retraining_examples(s)
    assert sorted(fixed_texts) == sorted(texts) and set(fixed_labels) == {"EPIDEMIC"}
    assert counts == {"base": 89, "corrections": 4, "total": 93}
    version = training.retrain_from_corrections(runtime)
    with runtime.db.session() as s:
        model = model_store.load_active(s)
        assert model.version == version and "EPIDEMIC" in model.labels
        assert model.metadata["examples"]["labels"].count("EPIDEMIC") == 4


@pytest.mark.demo_city
def test_retraining_with_too_few_examples_is_refused_with_a_key(runtime):
    with pytest.raises(training.RetrainRefused) as refused:
        training.retrain_from_corrections(runtime)
    assert refused.value.key == "error.classifier.too_few_examples"
    assert "至少需要两个类别" in refused.value.message("zh") and "two categories" in refused.value.message("en")


# --- 13. auto-dispatch at a chosen precision ------------------------------------------------------------------------

# Words of three categories that no keyword rule of the demo directory contains, so only the model routes them.
WORDS = {
    "LABOUR": ["劳动合同", "加班费", "工伤认定", "辞退", "社会保险", "试用期"],
    "EDUCATION": ["幼儿园", "班主任", "校车", "教材", "期末考试", "家长会"],
    "TRANSPORT": ["地铁", "站台", "线路", "末班车", "换乘", "候车亭"],
}
FILLER = ["反映", "问题", "一直", "没人管", "希望", "尽快", "处理", "已经", "多次", "很久", "麻烦", "关于"]


def generated_training(seed=0, per_class=80, mixed_share=0.2):
    """Sentences of two category words and fillers; a share mixes two categories (their label is a coin toss),
    so the held-out precision is high for clear texts and low for mixed ones."""
    rng = random.Random(seed)
    texts, labels = [], []
    codes = sorted(WORDS)
    for code in codes:
        for _ in range(per_class):
            words = rng.sample(WORDS[code], 2)
            if rng.random() < mixed_share:
                words[1] = rng.choice(WORDS[rng.choice([c for c in codes if c != code])])
            words += rng.sample(FILLER, 3)
            rng.shuffle(words)
            texts.append("".join(words))
            labels.append(code)
    return texts, labels


def test_the_curve_lists_precision_by_coverage_and_the_operating_point_meets_the_target():
    conf = [0.99, 0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    right = [True, True, True, True, False, True, False, False]
    curve = precision_coverage_curve(conf, right)
    assert [p["coverage"] for p in curve] == [i / 8 for i in range(1, 9)]
    assert curve[3] == {"threshold": 0.8, "coverage": 0.5, "precision": 1.0}
    assert operating_point(curve, 0.97)["threshold"] == 0.8
    assert operating_point(curve, 0.8)["threshold"] == 0.6  # 5 of 6
    assert operating_point([{"threshold": 0.9, "coverage": 1.0, "precision": 0.5}], 0.97) is None


def test_a_long_curve_is_thinned_but_keeps_its_last_point():
    rng = random.Random(1)
    conf = [rng.random() for _ in range(5000)]
    curve = precision_coverage_curve(conf, [c > 0.3 for c in conf], max_points=100)
    assert 90 <= len(curve) <= 101 and curve[-1]["coverage"] == 1.0


def test_training_keeps_the_held_out_curve_with_the_model():
    texts, labels = generated_training()
    model = TextClassifier.train(texts, labels)
    evaluation = model.metadata["evaluation"]
    assert evaluation["n"] == len(texts) and "out-of-fold" in evaluation["method"]
    coverages = [p["coverage"] for p in evaluation["curve"]]
    assert coverages == sorted(coverages) and coverages[-1] == 1.0
    assert evaluation["curve"][-1]["precision"] == pytest.approx(evaluation["accuracy"], abs=1e-3)


@pytest.fixture
def trained(runtime):
    texts, labels = generated_training()
    training.train(runtime, texts, labels, source="generated for the test")
    with runtime.db.session() as s:
        return model_store.load_active(s)


def _set(runtime, **settings):
    with runtime.db.transaction() as s:
        row = s.get(DirectorySetting, "settings")
        row.value = {**row.value, **settings}


@pytest.mark.demo_city
def test_the_threshold_comes_from_the_target_precision_and_the_stored_curve(runtime, trained):
    with runtime.db.session() as s:
        stored = s.scalars(select(ClassifierModel.metrics).where(ClassifierModel.active)).one()
        strict = services.auto_dispatch_threshold(trained, services.config(s, runtime))
    assert stored["evaluation"]["curve"] == trained.metadata["evaluation"]["curve"]
    point = operating_point(stored["evaluation"]["curve"], 0.97)
    assert strict == max(0.6, point["threshold"]) and point["precision"] >= 0.97
    _set(runtime, auto_dispatch_target_precision=0.8, auto_dispatch_min_confidence=0.0)
    with runtime.db.session() as s:
        loose = services.auto_dispatch_threshold(trained, services.config(s, runtime))
        assert services.operating_point(trained, services.config(s, runtime))["coverage"] > point["coverage"]
    assert loose < strict


@pytest.mark.demo_city
def test_a_target_no_threshold_reaches_leaves_every_ticket_to_a_person(runtime, trained):
    _set(runtime, auto_dispatch_target_precision=1.0)
    with runtime.db.session() as s:
        cfg = services.config(s, runtime)
        if services.operating_point(trained, cfg) is None:
            assert services.auto_dispatch_threshold(trained, cfg) > 1
        else:  # the generated data was separable at the top: then only certainty dispatches
            assert services.auto_dispatch_threshold(trained, cfg) >= services.operating_point(trained, cfg)["threshold"]


@pytest.mark.demo_city(classifier=True)
def test_a_small_evaluation_leaves_the_threshold_at_the_directory_floor(runtime):
    with runtime.db.session() as s:
        model = model_store.load_active(s)
        assert model.metadata["evaluation"]["n"] < services.MIN_EVALUATED
        assert services.auto_dispatch_threshold(model, services.config(s, runtime)) == 0.6


@pytest.mark.demo_city
def test_above_the_operating_point_the_model_dispatches(runtime, trained):
    ticket, data = classified(runtime, "劳动合同到期被辞退，加班费一直没给")
    assert data["category"] == "LABOUR" and data["confidence"] >= data["threshold"]
    assert ticket.state == "assigned" and lead_unit_code(runtime, ticket.id) == "HRSS"


@pytest.mark.demo_city
def test_below_the_operating_point_the_ticket_waits_with_the_models_suggestion_preselected(app, runtime, trained):
    ticket, data = classified(runtime, "班主任反映换乘站台问题")  # education and transport words mixed
    assert ticket.state == "dispatch" and data["manual_reason"].startswith("confidence below")
    assert max(data["scores"].values()) < data["threshold"]
    suggested = data["suggested_category"]
    assert suggested in ("EDUCATION", "TRANSPORT") and data["suggested_lead_unit_id"] == unit_id(runtime, suggested)
    page = sign_in(app, "dispatcher").get("/staff/dispatch/?lang=zh").get_data(as_text=True)
    card = page[page.index(f'id="dispatch-{ticket.number}"') :]
    assert f'<option value="{data["suggested_lead_unit_id"]}" selected>' in card
    assert "模型建议派给" in card and "已预选" in card


# --- the admin page ----------------------------------------------------------------------------------------------


@pytest.mark.demo_city
def test_the_admin_page_shows_the_curve_and_the_operating_point_in_both_languages(app, runtime, trained):
    client = sign_in(app, "admin")
    zh = client.get("/staff/admin/model/?lang=zh").get_data(as_text=True)
    point = operating_point(trained.metadata["evaluation"]["curve"], 0.97)
    assert "<svg" in zh and "<script" not in zh.split("<svg", 1)[1].split("</svg>")[0]
    assert "目标准确率 97.0%" in zh and f"{point['coverage'] * 100:.1f}%" in zh and "工作点" in zh
    en = client.get("/staff/admin/model/?lang=en").get_data(as_text=True)
    assert "Target precision 97.0%" in en and "Operating point" in en and "目标" not in en


@pytest.mark.demo_city(classifier=True)
def test_the_admin_page_says_when_the_model_is_older_than_the_directory(app, runtime, clock):
    clock.set(clock())
    client = sign_in(app, "admin")
    assert 'id="model-stale"' not in client.get("/staff/admin/model/").get_data(as_text=True)
    clock.advance(60)
    _import_demo_directory_with(runtime, [EPIDEMIC])
    page = client.get("/staff/admin/model/?lang=zh").get_data(as_text=True)
    assert 'id="model-stale"' in page and "晚于当前模型的训练时间" in page
    assert 'id="model-unlearnt"' in page and "疫情防控" in page


@pytest.mark.demo_city(classifier=True)
def test_one_click_retrains_from_corrections_in_a_job(app, runtime):
    client = sign_in(app, "admin")
    with runtime.db.session() as s:
        before = model_store.active_version(s)
    response = client.post("/staff/admin/model/retrain")
    assert response.status_code == 303
    with runtime.db.session() as s:  # nothing trained in the request: the job does it
        assert model_store.active_version(s) == before
    runtime.jobs.run_burst()
    with runtime.db.session() as s:
        after = model_store.active_version(s)
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.action.startswith("classifier."))).all()
    assert after != before and actions == ["classifier.retrain_requested", "classifier.retrain"]
    assert after in client.get("/staff/admin/model/?lang=en").get_data(as_text=True)


@pytest.mark.demo_city
def test_the_target_precision_is_set_on_the_page_and_checked(app, runtime):
    client = sign_in(app, "admin")
    assert client.post("/staff/admin/model/target", data={"target": "120"}).status_code == 400
    assert client.post("/staff/admin/model/target", data={"target": "95"}).status_code == 303
    with runtime.db.session() as s:
        assert services.config(s, runtime).target_precision == 0.95
        assert s.scalars(select(AuditEntry.action).where(AuditEntry.action == "classifier.target_precision")).one()


def test_a_category_is_new_to_the_model_only_if_nothing_in_its_branch_was_learnt():
    from routing.engine import CategoryInfo, new_to_model

    parent = CategoryInfo(1, "CONSTRUCTION", None, ("小区",), "general", None)
    child = CategoryInfo(2, "CONSTRUCTION-LIGHTS", 1, ("路灯",), "general", None)
    other = CategoryInfo(3, "EPIDEMIC", None, ("核酸",), "general", None)
    by_id = {c.id: c for c in (parent, child, other)}
    assert not new_to_model(child, by_id, {"CONSTRUCTION"})  # refined into from its learnt parent
    assert not new_to_model(parent, by_id, {"CONSTRUCTION-LIGHTS"})  # a model of sub-categories knows the branch
    assert new_to_model(other, by_id, {"CONSTRUCTION", "CONSTRUCTION-LIGHTS"})
