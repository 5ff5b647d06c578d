"""Benchmark of the complaint classifier (routing/classifier.py) on real complaint data. Not a test.

    .venv/bin/python bench/classify.py            # both data sets, human-readable
    .venv/bin/python bench/classify.py --json     # the same figures as JSON
    .venv/bin/python bench/classify.py --dataset tipdm

The data (no licence) is read from ``$HOTLINE_DATA_DIR`` (default ``<repo>/../shared/data``) and never copied:

* ``tipdm2020c/train.csv`` (text, label): 7 first-level categories of a Chinese city's mayor's mailbox. Targets
  on its held-out 20%: accuracy >= 0.94 (issue 13; best published 0.920, TF-IDF + SVM on a different 20% of the full
  set), precision >= 0.98 at 70% auto-dispatch coverage, < 2 ms per complaint, training < 60 s.
* ``cfpb/train.csv`` (text, product, issue, company): US consumer-finance complaints; the category is
  ``product``. Products with fewer than 5 rows (legacy names) are left out: a stratified split needs them twice.

Each set gets its own stratified 80/20 split (``--seed``), our model, and the baseline of the published 0.862
figure (bag of words counts + multinomial naive Bayes; characters 1-2-grams stand in for words on the
unsegmented Chinese), evaluated identically.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline

from routing.classifier import (
    Prediction,
    TextClassifier,
    evaluate,
    normalise,
    operating_point,
    threshold_for_precision,
)

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("HOTLINE_DATA_DIR", REPO.parent / "shared" / "data"))
TARGETS = {"accuracy": 0.94, "precision_at_70": 0.98, "latency_ms": 2.0, "training_s": 60.0}
PUBLISHED = {"tfidf_svm": 0.920, "word2vec_svm": 0.900, "count_nb": 0.862}
MIN_CLASS_ROWS = 5


# -- data ------------------------------------------------------------------------------------------------------


def load(dataset: str) -> tuple[list[str], list[str], dict[str, Any]]:
    if dataset == "tipdm":
        path, label_column = DATA_DIR / "tipdm2020c" / "train.csv", "label"
    else:
        path, label_column = DATA_DIR / "cfpb" / "train.csv", "product"
    if not path.exists():
        sys.exit(f"{path} not found: set HOTLINE_DATA_DIR to the folder holding tipdm2020c/ and cfpb/")
    with path.open(newline="", encoding="utf-8") as f:
        rows = [(r["text"], r[label_column]) for r in csv.DictReader(f) if r["text"].strip()]
    counts = Counter(label for _, label in rows)
    dropped = {label: n for label, n in counts.items() if n < MIN_CLASS_ROWS}
    rows = [(t, label) for t, label in rows if label not in dropped]
    info = {"path": str(path), "rows": len(rows), "classes": len(counts) - len(dropped), "dropped_classes": dropped}
    return [t for t, _ in rows], [label for _, label in rows], info


# -- baseline --------------------------------------------------------------------------------------------------


class Baseline:
    """Counts + multinomial naive Bayes behind the classifier's predict/predict_many interface."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    @classmethod
    def train(cls, texts: Sequence[str], labels: Sequence[str], chinese: bool) -> Baseline:
        vectoriser = CountVectorizer(analyzer="char", ngram_range=(1, 2)) if chinese else CountVectorizer()
        return cls(make_pipeline(vectoriser, MultinomialNB()).fit(texts, labels))

    def predict_many(self, texts: Iterable[str]) -> list[Prediction]:
        probabilities = self.pipeline.predict_proba(list(texts))
        classes = self.pipeline.classes_
        out = []
        for row in probabilities:
            top = np.argsort(-row)[:3]
            scores = {str(classes[i]): float(row[i]) for i in top}
            out.append(Prediction(str(classes[top[0]]), float(row[top[0]]), scores, "baseline"))
        return out

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]


# -- perturbations for the "raw text" check --------------------------------------------------------------------

PUNCTUATION = list("，。！？、；：“”（）…,.!?;:()")
FULL_WIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}  # ASCII -> full-width forms
# Function words of fluent Chinese that the segmented training text lost with its stopwords (and fillers).
FLUENT_WORDS = ["的", "了", "吗", "呢", "啊", "我", "我们", "是", "在", "这个", "非常", "一直", "已经", "就"]


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff"


def reformat(text: str, rng: random.Random) -> str:
    """Same words, different typography: spaces and punctuation between words, full-width ASCII."""
    out = []
    for i, char in enumerate(text):
        out.append(FULL_WIDTH.get(char, char) if rng.random() < 0.5 else char)
        following = text[i + 1] if i + 1 < len(text) else ""
        if following and (_is_han(char) or _is_han(following)):
            # Only next to Chinese characters: between two latin letters/digits a space splits a word.
            r = rng.random()
            if r < 0.15:
                out.append(rng.choice([" ", "\u3000", "  "]))
            elif r < 0.25:
                out.append(rng.choice(PUNCTUATION))
        elif char == " " and rng.random() < 0.3:
            out.append(rng.choice(PUNCTUATION) + " ")
    return "".join(out)


def fluent(text: str, rng: random.Random, rate: float = 0.08) -> str:
    """A crude stand-in for fluent text: function words and punctuation inserted between Chinese characters."""
    out = []
    for i, char in enumerate(text):
        out.append(char)
        if _is_han(char) and i + 1 < len(text) and _is_han(text[i + 1]):
            if rng.random() < rate:
                out.append(rng.choice(FLUENT_WORDS))
            if rng.random() < 0.04:
                out.append(rng.choice(PUNCTUATION))
    return "".join(out)


# -- one data set ----------------------------------------------------------------------------------------------


def accuracy(model: Any, texts: Sequence[str], labels: Sequence[str]) -> float:
    return float(np.mean([p.label == t for p, t in zip(model.predict_many(texts), labels, strict=True)]))


def run(dataset: str, seed: int, latency_n: int) -> dict[str, Any]:
    chinese = dataset == "tipdm"
    texts, labels, info = load(dataset)
    x_train, x_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, stratify=labels, random_state=seed
    )
    started = time.perf_counter()
    model = TextClassifier.train(x_train, y_train)
    training_s = time.perf_counter() - started
    ours = evaluate(model, x_test, y_test, latency_samples=latency_n)
    ours["training_s"] = training_s
    ours["version"] = model.version
    ours["n_features"] = model.metadata["n_features"]
    ours["temperature"] = model.temperature

    started = time.perf_counter()
    baseline_model = Baseline.train(x_train, y_train, chinese)
    baseline_training_s = time.perf_counter() - started
    baseline = evaluate(baseline_model, x_test, y_test, latency_samples=latency_n)
    baseline["training_s"] = baseline_training_s

    # Exact duplicates across the split flatter any model: report accuracy without them too.
    seen = set(x_train)
    fresh = [i for i, t in enumerate(x_test) if t not in seen]
    fresh_accuracy = accuracy(model, [x_test[i] for i in fresh], [y_test[i] for i in fresh])

    # A routing threshold for 98% precision, chosen on one half of the test set and checked on the other half.
    predictions = model.predict_many(x_test)
    conf = np.array([p.confidence for p in predictions])
    correct = np.array([p.label == t for p, t in zip(predictions, y_test, strict=True)])
    halves = np.random.default_rng(seed).permutation(len(x_test))
    choose, check = halves[: len(halves) // 2], halves[len(halves) // 2 :]
    threshold = threshold_for_precision(conf[choose], correct[choose], 0.98)
    if threshold is None:
        routed = {"threshold": None}
    else:
        dispatched = conf[check] >= threshold
        routed = {
            "threshold": threshold,
            "check_coverage": float(dispatched.mean()),
            "check_precision": float(correct[check][dispatched].mean()) if dispatched.any() else None,
        }

    # Auto-dispatch at a chosen precision (issue 13, point 13): the threshold routing uses is read off the curve of
    # held-out (out-of-fold) predictions kept with the model at training time, for the target precision; here it is
    # checked on the test split, which the model never saw. "Fixed 0.6" is the former fixed threshold.
    def dispatched_at(threshold: float | None) -> dict[str, Any]:
        if threshold is None:
            return {"threshold": None, "coverage": 0.0, "precision": None}
        chosen = conf >= threshold
        return {
            "threshold": threshold,
            "coverage": float(chosen.mean()),
            "precision": float(correct[chosen].mean()) if chosen.any() else None,
        }

    curve = (model.metadata.get("evaluation") or {}).get("curve") or []
    target_precision = {"fixed_0.6": dispatched_at(0.6)}
    for target in (0.95, 0.97, 0.98):
        point = operating_point(curve, target)
        target_precision[f"target_{target}"] = {
            **dispatched_at(point["threshold"] if point else None),
            "held_out_coverage": point["coverage"] if point else None,
            "held_out_precision": point["precision"] if point else None,
        }

    # Typography does not matter: reformatted texts normalise to the same string and classify the same.
    rng = random.Random(seed)
    reformatted = [reformat(t, rng) for t in x_test]
    same_normal_form = float(np.mean([normalise(a) == normalise(b) for a, b in zip(x_test, reformatted, strict=True)]))
    raw = {
        "reformatted_accuracy": accuracy(model, reformatted, y_test),
        "reformatted_same_normal_form": same_normal_form,
        "baseline_reformatted_accuracy": accuracy(baseline_model, reformatted, y_test),
    }
    if chinese:
        fluentish = [fluent(t, rng) for t in x_test]
        raw["fluent_proxy_accuracy"] = accuracy(model, fluentish, y_test)
        raw["baseline_fluent_proxy_accuracy"] = accuracy(baseline_model, fluentish, y_test)
        raw["fluent_proxy_example"] = fluentish[0][:80]

    p70 = next(c for c in ours["coverage"] if c["target_coverage"] == 0.7)["precision"]
    return {
        "dataset": dataset,
        "data": info,
        "split": {"seed": seed, "train": len(x_train), "test": len(x_test), "test_not_in_train": len(fresh)},
        "ours": ours,
        "baseline": baseline,
        "ratio": {
            "accuracy": ours["accuracy"] / baseline["accuracy"],
            "macro_f1": ours["macro_f1"] / baseline["macro_f1"],
            "error_rate": (1 - ours["accuracy"]) / (1 - baseline["accuracy"]),
        },
        "accuracy_test_not_in_train": fresh_accuracy,
        "routing_threshold_98": routed,
        "target_precision": target_precision,
        "raw_text": raw,
        "targets": {
            "accuracy": ours["accuracy"] >= TARGETS["accuracy"],
            "precision_at_70": p70 >= TARGETS["precision_at_70"],
            "latency_ms": ours["latency_ms"]["median"] < TARGETS["latency_ms"],
            "training_s": training_s < TARGETS["training_s"],
        }
        if chinese
        else None,
    }


# -- output ----------------------------------------------------------------------------------------------------


def _coverage_line(result: dict[str, Any]) -> str:
    return "  ".join(
        f"{c['target_coverage']:.0%}: {c['precision']:.4f} (conf >= {c['threshold']:.3f})" for c in result["coverage"]
    )


def report(r: dict[str, Any]) -> None:
    ours, base = r["ours"], r["baseline"]
    print(f"\n=== {r['dataset']}: {r['data']['path']}")
    print(
        f"rows {r['data']['rows']}, {r['data']['classes']} classes"
        + (
            f" (left out, < {MIN_CLASS_ROWS} rows: {r['data']['dropped_classes']})"
            if r["data"]["dropped_classes"]
            else ""
        )
        + f"; stratified split seed {r['split']['seed']}: train {r['split']['train']}, test {r['split']['test']}"
        + f" ({r['split']['test_not_in_train']} of them not duplicated in train)"
    )
    print(f"model {ours['version']}: {ours['n_features']} features, temperature {ours['temperature']:.3f}")
    rows = [
        ("accuracy", f"{ours['accuracy']:.4f}", f"{base['accuracy']:.4f}", f"{r['ratio']['accuracy']:.3f}"),
        ("macro-F1", f"{ours['macro_f1']:.4f}", f"{base['macro_f1']:.4f}", f"{r['ratio']['macro_f1']:.3f}"),
        ("error rate", f"{1 - ours['accuracy']:.4f}", f"{1 - base['accuracy']:.4f}", f"{r['ratio']['error_rate']:.3f}"),
    ]
    for c_ours, c_base in zip(ours["coverage"], base["coverage"], strict=True):
        rows.append(
            (
                f"precision @ {c_ours['target_coverage']:.0%} coverage",
                f"{c_ours['precision']:.4f}",
                f"{c_base['precision']:.4f}",
                f"{c_ours['precision'] / c_base['precision']:.3f}",
            )
        )
    rows += [
        ("calibration error (ECE)", f"{ours['calibration_error']:.4f}", f"{base['calibration_error']:.4f}", ""),
        ("latency median ms", f"{ours['latency_ms']['median']:.3f}", f"{base['latency_ms']['median']:.3f}", ""),
        ("latency p99 ms", f"{ours['latency_ms']['p99']:.3f}", f"{base['latency_ms']['p99']:.3f}", ""),
        ("latency mean ms", f"{ours['latency_ms']['mean']:.3f}", f"{base['latency_ms']['mean']:.3f}", ""),
        ("training s", f"{ours['training_s']:.2f}", f"{base['training_s']:.2f}", ""),
    ]
    print(f"{'':34s} {'ours':>9s} {'baseline':>9s} {'ratio':>7s}")
    for name, a, b, ratio in rows:
        print(f"{name:34s} {a:>9s} {b:>9s} {ratio:>7s}")
    print(f"latency over {ours['latency_ms']['n']} single-text predict() calls")
    print(f"coverage thresholds (ours): {_coverage_line(ours)}")
    print(f"accuracy on test texts not duplicated in train: {r['accuracy_test_not_in_train']:.4f}")
    routed = r["routing_threshold_98"]
    if routed["threshold"] is None:
        print("98%-precision threshold: none reached on the choosing half")
    else:
        print(
            f"98%-precision threshold chosen on half the test set: {routed['threshold']:.3f}; on the other half it"
            f" dispatches {routed['check_coverage']:.1%} at precision {routed['check_precision']:.4f}"
        )
    print("auto-dispatch threshold from the training-time held-out curve, checked on the test split:")
    for name, row in r["target_precision"].items():
        if row["threshold"] is None:
            print(f"  {name:12s} no threshold reaches it on the held-out curve: nothing dispatched automatically")
            continue
        held = (
            f" (held-out: {row['held_out_coverage']:.1%} at {row['held_out_precision']:.4f})"
            if row.get("held_out_coverage") is not None
            else ""
        )
        precision = "-" if row["precision"] is None else f"{row['precision']:.4f}"
        print(
            f"  {name:12s} conf >= {row['threshold']:.3f}: test coverage {row['coverage']:.1%}, precision {precision}"
            + held
        )
    raw = r["raw_text"]
    print(
        f"raw-text check, reformatted (spaces, punctuation, full-width): accuracy {raw['reformatted_accuracy']:.4f}"
        f" (baseline {raw['baseline_reformatted_accuracy']:.4f}); same normal form for"
        f" {raw['reformatted_same_normal_form']:.1%} of texts"
    )
    if "fluent_proxy_accuracy" in raw:
        print(
            f"raw-text check, fluent proxy (function words + punctuation inserted): accuracy"
            f" {raw['fluent_proxy_accuracy']:.4f} (baseline {raw['baseline_fluent_proxy_accuracy']:.4f});"
            f" e.g. {raw['fluent_proxy_example']}"
        )
    print("per class (ours):")
    print(f"  {'label':58s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'support':>7s}")
    for label, m in sorted(ours["per_class"].items(), key=lambda kv: -kv[1]["support"]):
        print(f"  {label[:58]:58s} {m['precision']:6.3f} {m['recall']:6.3f} {m['f1']:6.3f} {m['support']:7d}")
    if r["targets"] is not None:
        print(
            f"published on another 20% split: TF-IDF+SVM {PUBLISHED['tfidf_svm']}, word2vec+SVM"
            f" {PUBLISHED['word2vec_svm']}, count+NB {PUBLISHED['count_nb']}"
        )
        marks = {k: "met" if v else "MISSED" for k, v in r["targets"].items()}
        print(
            f"targets: accuracy >= {TARGETS['accuracy']} {marks['accuracy']}; precision @ 70% >="
            f" {TARGETS['precision_at_70']} {marks['precision_at_70']}; median latency < {TARGETS['latency_ms']} ms"
            f" {marks['latency_ms']}; training < {TARGETS['training_s']:.0f} s {marks['training_s']}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--dataset", choices=["tipdm", "cfpb", "all"], default="all")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-n", type=int, default=500, help="single-text predictions timed")
    args = parser.parse_args(argv)
    datasets = ["tipdm", "cfpb"] if args.dataset == "all" else [args.dataset]
    results = [run(d, args.seed, args.latency_n) for d in datasets]
    if args.json:
        print(json.dumps({"cpu_count": os.cpu_count(), "results": results}, ensure_ascii=False, indent=2))
    else:
        print(f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, median of single-text predictions")
        for r in results:
            report(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
