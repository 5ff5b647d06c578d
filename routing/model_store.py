"""Trained classifiers are stored in the database, so every web and worker process on any machine
loads the same active version. Loaded models are cached per process by version."""

from __future__ import annotations

import pickle
import threading
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotline_core.models import ClassifierModel

_cache: dict[str, Any] = {}
_lock = threading.Lock()


def store(
    session: Session,
    model: Any,
    *,
    version: str,
    labels: list[str],
    n_samples: int,
    metrics: dict[str, Any] | None = None,
    activate: bool = True,
) -> ClassifierModel:
    if activate:
        session.execute(update(ClassifierModel).values(active=False))
    row = ClassifierModel(
        version=version,
        labels=list(labels),
        n_samples=n_samples,
        metrics=metrics or {},
        payload=pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL),
        active=activate,
    )
    session.add(row)
    session.flush()
    return row


def active_version(session: Session) -> str | None:
    return session.scalar(select(ClassifierModel.version).where(ClassifierModel.active).limit(1))


def load_active(session: Session) -> Any | None:
    """The active model, unpickled once per process and version (the payload is our own)."""
    version = active_version(session)
    if version is None:
        return None
    with _lock:
        if version not in _cache:
            payload = session.scalar(select(ClassifierModel.payload).where(ClassifierModel.version == version))
            if payload is None:
                return None
            _cache.clear()
            _cache[version] = pickle.loads(payload)  # noqa: S301 (written by store() above)
        return _cache[version]
