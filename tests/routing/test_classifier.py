"""Specification of the complaint classifier (routing/classifier.py) on a small self-written bilingual sample."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from routing.classifier import (
    ModelConfig,
    Prediction,
    TextClassifier,
    evaluate,
    normalise,
    precision_at_coverage,
    threshold_for_precision,
)

# Written for these tests: four departments, mostly Chinese with a few English complaints each.
SAMPLE: dict[str, list[str]] = {
    "housing": [
        "小区路灯坏了一个多月没人修，晚上出门很不安全",
        "我们小区的物业乱收停车费，业主多次反映没有结果",
        "楼道灯不亮，物业公司推说没有维修资金",
        "小区电梯经常故障困人，物业不及时维修",
        "物业管理混乱，小区垃圾堆放没人清理",
        "开发商延期交房两年，业主要求赔偿",
        "老旧小区改造工程拖了半年还没完工",
        "小区路灯线路老化，存在安全隐患",
        "物业擅自占用公共绿地建停车位",
        "房屋质量问题严重，墙体开裂漏水，开发商不管",
        "街道路灯全部熄灭，附近居民夜间出行困难",
        "物业费上涨没有经过业主大会同意",
        "The street lights in our housing estate have been broken for weeks",
        "The property management company charges illegal parking fees",
        "Our building's elevator keeps breaking down and the property manager ignores us",
        "Street light outside my apartment block is out again",
    ],
    "labour": [
        "公司拖欠工资三个月，老板一直找理由不发",
        "单位不给员工缴纳社会保险，要求补缴社保",
        "建筑工地拖欠农民工工资，包工头跑路了",
        "退休后养老金迟迟没有发放到账",
        "企业辞退员工不支付经济补偿金",
        "工伤认定申请提交半年还没有结果",
        "公司强迫员工加班不给加班工资",
        "失业保险金申领手续太复杂",
        "医保和社保转移接续办理不了",
        "单位没有签订劳动合同，社保也没交",
        "养老保险缴费年限计算有误，要求社保局核查",
        "工厂克扣工资，还扣押员工身份证",
        "My employer has not paid my wages for three months",
        "The company refuses to pay social insurance contributions for its workers",
        "I was fired without compensation and my last salary is unpaid",
        "My pension payment has been delayed again",
    ],
    "education": [
        "学校违规收取补课费，家长负担很重",
        "幼儿园乱收费，入园还要交赞助费",
        "学校食堂饭菜质量差，学生吃不饱",
        "老师在校外有偿补课，逼学生参加",
        "小学划片招生不公平，孩子上不了附近的学校",
        "学生作业太多，每天写到深夜",
        "学校强制学生购买教辅资料",
        "中学寄宿条件差，宿舍没有热水",
        "教师工资待遇长期拖欠，乡村教师流失严重",
        "民办学校学费一年涨了好几次",
        "校车超载接送学生，存在安全隐患",
        "高考报名时学校额外收取材料费",
        "The school charges parents extra fees for tutoring classes",
        "Teachers force students to buy expensive workbooks",
        "The kindergarten raised its tuition without notice",
        "The school canteen food is terrible and students go hungry",
    ],
    "transport": [
        "公交车司机态度恶劣，到站不停车",
        "公交线路调整后，附近居民坐车很不方便",
        "出租车拒载还绕路多收费",
        "公交车班次太少，早高峰等车半小时",
        "公交站台被拆除，乘客只能站在路边等车",
        "网约车司机随意加价，平台不处理投诉",
        "长途客运站黑车拉客现象严重",
        "公交车开得太快，乘客站不稳摔倒",
        "地铁施工导致道路拥堵，公交改道没有通知",
        "出租车不打表，乱要价",
        "希望增开一条通往工业园区的公交线路",
        "公交卡充值点太少，老人办卡困难",
        "The bus driver was rude and did not stop at the bus stop",
        "Buses on route 12 come only once an hour",
        "The taxi driver refused to use the meter and overcharged me",
        "The bus stop shelter was removed and passengers wait in the rain",
    ],
}
TEXTS = [text for texts in SAMPLE.values() for text in texts]
LABELS = [label for label, texts in SAMPLE.items() for _ in texts]


@pytest.fixture(scope="module")
def model() -> TextClassifier:
    return TextClassifier.train(TEXTS, LABELS)


# -- normalise -------------------------------------------------------------------------------------------------


def test_spaces_between_chinese_characters_do_not_matter():
    assert normalise("小区 路灯\u3000坏 了  一个月") == normalise("小区路灯坏了一个月")


def test_full_width_characters_equal_their_ascii_forms_in_lower_case():
    assert normalise("ＷｉＦｉ信号差") == normalise("wifi信号差") == "wifi信号差"


def test_chinese_and_ascii_punctuation_is_removed():
    assert normalise("路灯坏了！！为什么没人修？【急】") == normalise("路灯坏了为什么没人修急")
    assert normalise("路灯坏了!!为什么没人修?(急)") == normalise("路灯坏了为什么没人修急")


def test_digit_runs_become_one_token():
    assert normalise("2024年3月15日拖欠工资5000元") == "0年0月0日拖欠工资0元"


def test_english_keeps_single_spaces_between_words():
    assert normalise("  The STREET-light is   broken!! ") == "the street light is broken"


def test_chinese_filler_particles_are_dropped():
    """The stopword-stripped training text lacks them; fluent complaints are full of them."""
    assert normalise("路灯坏了好几天了，怎么没人修啊？") == normalise("路灯坏好几天怎么没人修")


def test_segmented_despaced_and_fluent_punctuated_forms_are_equal():
    assert normalise("公司 拖欠 工资 三个月 ， 老板 一直 不发 。") == normalise("公司拖欠工资三个月老板一直不发")


# -- training and prediction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("我家门口的路灯坏了很久，物业一直不修", "housing"),
        ("老板拖欠我们半年工资，也不交社保", "labour"),
        ("孩子学校又要收补课费", "education"),
        ("公交车司机到站不停车，态度很差", "transport"),
        ("The property manager never fixes the street lights", "housing"),
        ("My boss has not paid my salary", "labour"),
        ("The bus never stops at our bus stop", "transport"),
    ],
)
def test_predicts_the_obvious_class_of_new_complaints(model, text, label):
    assert model.predict(text).label == label


def test_reformatted_text_gets_the_identical_prediction(model):
    assert model.predict("公交车 司机 到站 不停车！") == model.predict("公交车司机到站不停车")


def test_confidence_is_a_probability_and_scores_are_the_sorted_top_three(model):
    prediction = model.predict("学校乱收费")
    values = list(prediction.scores.values())
    assert 0.0 <= prediction.confidence <= 1.0
    assert len(values) == 3
    assert values == sorted(values, reverse=True)
    assert next(iter(prediction.scores)) == prediction.label
    assert prediction.scores[prediction.label] == prediction.confidence


def test_all_class_probabilities_sum_to_one(model):
    assert model.predict_proba(["学校乱收费"]).sum() == pytest.approx(1.0)


def test_prediction_is_immutable(model):
    prediction = model.predict("学校乱收费")
    with pytest.raises(AttributeError):
        prediction.label = "labour"  # type: ignore[misc]


def test_predict_many_equals_predict_one_by_one(model):
    texts = ["学校乱收费", "公交车太少", "拖欠工资"]
    assert model.predict_many(texts) == [model.predict(t) for t in texts]


def test_predictions_carry_the_model_version(model):
    assert model.predict("学校乱收费").model_version == model.version


def test_metadata_describes_the_training_run(model):
    assert model.labels == ("education", "housing", "labour", "transport")
    assert model.metadata["n_samples"] == len(TEXTS)
    assert model.metadata["trained_at"]
    assert model.metadata["data_sha256"][:12] in model.version


def test_the_version_identifies_the_training_data():
    config = ModelConfig(calibration_folds=2)
    first = TextClassifier.train(TEXTS, LABELS, config)
    other = TextClassifier.train(TEXTS[1:], LABELS[1:], config)
    assert first.metadata["data_sha256"] != other.metadata["data_sha256"]


def test_training_needs_two_labels():
    with pytest.raises(ValueError, match="two distinct labels"):
        TextClassifier.train(["路灯坏了", "物业乱收费"], ["housing", "housing"])


def test_save_and_load_give_identical_predictions_and_version(model, tmp_path: Path):
    path = tmp_path / "model.joblib"
    model.save(path)
    loaded = TextClassifier.load(path)
    texts = ["学校乱收费", "The bus was late", "物业不修路灯", "社保没交"]
    assert loaded.version == model.version
    assert loaded.metadata == model.metadata
    assert loaded.predict_many(texts) == model.predict_many(texts)


def test_load_rejects_files_that_are_not_models(tmp_path: Path):
    import joblib

    path = tmp_path / "other.joblib"
    joblib.dump({"something": "else"}, path)
    with pytest.raises(ValueError, match="not a hotline classifier"):
        TextClassifier.load(path)


# -- evaluation and thresholds ---------------------------------------------------------------------------------

# Ten predictions, most confident first, and whether each one is right.
CONFIDENCES = [0.99, 0.95, 0.90, 0.85, 0.80, 0.70, 0.60, 0.50, 0.40, 0.30]
CORRECT = [True, True, True, False, True, True, False, True, False, False]


class ScriptedModel:
    """Answers each text with a fixed prediction: the true label if it should be right, "wrong" otherwise."""

    def __init__(self, answers: dict[str, Prediction]) -> None:
        self.answers = answers

    def predict(self, text: str) -> Prediction:
        return self.answers[text]

    def predict_many(self, texts: Iterable[str]) -> list[Prediction]:
        return [self.answers[t] for t in texts]


def scripted() -> tuple[ScriptedModel, list[str], list[str]]:
    order = [3, 7, 0, 9, 5, 1, 8, 2, 6, 4]  # not sorted by confidence
    texts = [f"complaint {i}" for i in order]
    labels = ["a" if i % 2 else "b" for i in order]
    answers = {
        text: Prediction(label if CORRECT[i] else "wrong", CONFIDENCES[i], {label: CONFIDENCES[i]}, "scripted")
        for text, label, i in zip(texts, labels, order, strict=True)
    }
    return ScriptedModel(answers), texts, labels


def test_evaluate_reports_precision_among_the_most_confident_share():
    model, texts, labels = scripted()
    coverage = evaluate(model, texts, labels, coverages=(0.5, 0.7, 0.9), latency_samples=0)["coverage"]
    # top 5: 4 of 5 right; top 7: 5 of 7; top 9: 6 of 9
    assert [c["precision"] for c in coverage] == pytest.approx([4 / 5, 5 / 7, 6 / 9])
    assert [c["threshold"] for c in coverage] == [0.80, 0.60, 0.40]
    assert [c["n"] for c in coverage] == [5, 7, 9]


def test_evaluate_reports_accuracy_and_the_per_class_table():
    model, texts, labels = scripted()
    result = evaluate(model, texts, labels, latency_samples=0)
    assert result["accuracy"] == pytest.approx(0.6)
    assert result["per_class"]["wrong"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert result["per_class"]["a"]["support"] + result["per_class"]["b"]["support"] == 10
    assert result["per_class"]["a"]["precision"] == 1.0


def test_evaluate_times_single_predictions(model):
    result = evaluate(model, TEXTS[:4], LABELS[:4], latency_samples=3)
    assert result["latency_ms"]["n"] == 3
    assert result["latency_ms"]["median"] > 0


def test_predictions_tied_at_the_threshold_are_all_dispatched():
    point = precision_at_coverage([0.9, 0.8, 0.8, 0.8, 0.1], [True, True, False, False, True], 0.4)
    assert point.threshold == 0.8
    assert point.n == 4
    assert point.coverage == pytest.approx(0.8)
    assert point.precision == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("target", "threshold"),
    [(1.0, 0.90), (0.9, 0.90), (0.8, 0.70), (0.75, 0.50), (0.6, 0.30)],
)
def test_threshold_for_precision_is_the_lowest_one_meeting_the_target(target, threshold):
    # running precision from the top: 1, 1, 1, .75, .8, .83, .71, .75, .67, .6
    assert threshold_for_precision(CONFIDENCES, CORRECT, target) == threshold


def test_threshold_for_precision_is_none_when_no_threshold_is_precise_enough():
    assert threshold_for_precision([0.9, 0.5], [False, True], 0.9) is None


def test_threshold_for_precision_never_splits_tied_confidences():
    # 0.9 alone would be 100% right, but the second 0.9 is dispatched with it
    assert threshold_for_precision([0.9, 0.9, 0.8], [True, False, True], 1.0) is None


def test_threshold_for_precision_can_require_a_minimum_number_dispatched():
    assert threshold_for_precision(CONFIDENCES, CORRECT, 0.8, min_dispatched=7) is None
    assert threshold_for_precision(CONFIDENCES, CORRECT, 0.7, min_dispatched=7) == 0.50
