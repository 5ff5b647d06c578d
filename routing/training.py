"""Training the complaint classifier from labelled files and from the dispatchers' final routing.

Labels may be category codes or category names (Chinese or English); names are mapped to codes so
a trained model predicts codes the router understands. Each training run stores a new model version
in the database and activates it.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.errors import HotlineError
from hotline_core.models import Category, Ticket, TicketEvent
from hotline_core.models.ticket import TicketState
from hotline_core.runtime import Runtime, current
from routing import model_store
from routing.classifier import TextClassifier, evaluate


class TrainingError(ValueError):
    pass


def read_labelled_csv(path: Path, text_column: str, label_column: str) -> tuple[list[str], list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (text_column, label_column) if c not in (reader.fieldnames or [])]
        if missing:
            raise TrainingError(
                f"{path}: no column(s) {', '.join(missing)} (found {', '.join(reader.fieldnames or [])})"
            )
        texts, labels = [], []
        for row in reader:
            text, label = (row[text_column] or "").strip(), (row[label_column] or "").strip()
            if text and label:
                texts.append(text)
                labels.append(label)
    if not texts:
        raise TrainingError(f"{path}: no labelled rows")
    return texts, labels


def label_codes(session: Session, labels: Sequence[str]) -> list[str]:
    """Map category names to codes; a label that is already a code, or unknown, is kept."""
    names: dict[str, str] = {}
    for category in session.scalars(select(Category)):
        names[category.code] = category.code
        names[category.name_zh] = category.code
        names[category.name_en.lower()] = category.code
    return [names.get(label, names.get(label.lower(), label)) for label in labels]


def history_examples(session: Session) -> tuple[list[str], list[str]]:
    """Tickets whose category a person set or confirmed by routing them: the dispatchers' final word."""
    done = (TicketState.ASSIGNED, TicketState.SIGNED, TicketState.RESOLVED, TicketState.CLOSED)
    rows = session.execute(
        select(Ticket.text, Category.code)
        .join(Category, Category.id == Ticket.category_id)
        .where(Ticket.state.in_(done), Ticket.text != "")
    ).all()
    return [text for text, _ in rows], [code for _, code in rows]


def train(runtime: Runtime, texts: list[str], labels: list[str], *, source: str) -> str:
    """Train, store and activate a model. Its held-out evaluation (the precision/coverage curve the auto-dispatch
    threshold is chosen on) goes into the stored metrics; its examples go with the model, so a later retraining
    from the dispatchers' corrections starts from them."""
    with runtime.db.session() as session:
        labels = label_codes(session, labels)
    model = TextClassifier.train(texts, labels)
    model.metadata["examples"] = {"texts": list(texts), "labels": list(labels)}
    with runtime.db.transaction() as session:
        row = model_store.store(
            session,
            model,
            version=model.version,
            labels=sorted(set(labels)),
            n_samples=len(texts),
            metrics={"source": source, "evaluation": model.metadata.get("evaluation")},
        )
        row.created_at = runtime.now()  # the clock the directory's changes are stamped with
    return model.version


# --- retraining from the dispatchers' corrections (admin page, one click) ---------------------------


class RetrainRefused(HotlineError):
    """Retraining cannot run as asked; the key says why (``error.classifier.*``)."""


def correction_examples(session: Session) -> tuple[list[str], list[str]]:
    """Tickets whose category a dispatcher set when routing them by hand: the latest label per ticket."""
    rows = session.execute(
        select(Ticket.id, Ticket.text, TicketEvent.data)
        .join(TicketEvent, TicketEvent.ticket_id == Ticket.id)
        .where(TicketEvent.kind == "category_set", Ticket.text != "", Ticket.state != TicketState.MERGED)
        .order_by(TicketEvent.id)
    ).all()
    latest: dict[int, tuple[str, str]] = {}
    for ticket_id, text, data in rows:
        label = (data or {}).get("training_label")
        if label:
            latest[ticket_id] = (text, str(label))
    return [t for t, _ in latest.values()], [label for _, label in latest.values()]


def retraining_examples(session: Session) -> tuple[list[str], list[str], dict[str, int]]:
    """The active model's own examples (or, for a model stored without them, the routed tickets), with the
    dispatchers' corrections added; a correction replaces the label of the same text. Also the counts."""
    model = model_store.load_active(session)
    stored = (getattr(model, "metadata", None) or {}).get("examples") if model is not None else None
    if stored:
        base_texts, base_labels = list(stored["texts"]), list(stored["labels"])
    else:
        base_texts, base_labels = history_examples(session)
    fixed_texts, fixed_labels = correction_examples(session)
    merged = dict(zip(base_texts, base_labels, strict=True))
    merged.update(zip(fixed_texts, fixed_labels, strict=True))
    counts = {"base": len(base_texts), "corrections": len(fixed_texts), "total": len(merged)}
    return list(merged), list(merged.values()), counts


def retrain_from_corrections(runtime: Runtime) -> str:
    """Train a new model on the active model's examples and the dispatchers' corrections, and activate it."""
    with runtime.db.session() as session:
        texts, labels, _ = retraining_examples(session)
    if len(set(labels)) < 2:
        raise RetrainRefused("error.classifier.too_few_examples", count=len(texts))
    return train(runtime, texts, labels, source="retrained from dispatchers' corrections")


def retrain_job(requested_by: str, user_id: int | None = None) -> str | None:
    """RQ job (enqueued by reference from the admin page): retrain, and record the outcome in the audit trail."""
    runtime = current()
    actor = Actor(requested_by, user_id)
    try:
        version = retrain_from_corrections(runtime)
    except RetrainRefused as exc:
        with runtime.db.transaction() as session:
            audit(session, actor, "classifier.retrain_refused", None, reason=exc.key, **exc.params)
        return None
    with runtime.db.transaction() as session:
        audit(session, actor, "classifier.retrain", None, version=version)
    return version


def train_from_csv(
    runtime: Runtime, path: Path, *, text_column: str, label_column: str, with_history: bool = False
) -> str:
    texts, labels = read_labelled_csv(path, text_column, label_column)
    if with_history:
        with runtime.db.session() as session:
            more_texts, more_labels = history_examples(session)
        texts, labels = texts + more_texts, labels + more_labels
    return train(runtime, texts, labels, source=str(path.name) + (" + history" if with_history else ""))


def evaluate_files(train_path: Path, test_path: Path, *, text_column: str, label_column: str) -> dict[str, Any]:
    texts, labels = read_labelled_csv(train_path, text_column, label_column)
    test_texts, test_labels = read_labelled_csv(test_path, text_column, label_column)
    model = TextClassifier.train(texts, labels)
    return {"model_version": model.version, **evaluate(model, test_texts, test_labels)}
