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

from hotline_core.models import Category, Ticket
from hotline_core.models.ticket import TicketState
from hotline_core.runtime import Runtime
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
    with runtime.db.session() as session:
        labels = label_codes(session, labels)
    model = TextClassifier.train(texts, labels)
    with runtime.db.transaction() as session:
        model_store.store(
            session,
            model,
            version=model.version,
            labels=sorted(set(labels)),
            n_samples=len(texts),
            metrics={"source": source},
        )
    return model.version


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
