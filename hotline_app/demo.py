"""Load the demo city: its directory (through the directory import), one user per role with
printed credentials, a classifier trained on a small bilingual sample, and a few sample tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from hotline_core.models import Unit, User
from hotline_core.runtime import Runtime
from intake import services
from intake.services import Complaint
from routing import directory

DEMO_FILE = Path(__file__).with_name("demo_city.yaml")
DEMO_TRAINING = Path(__file__).with_name("demo_training.csv")


def load_demo(
    runtime: Runtime, path: Path = DEMO_FILE, *, sample_tickets: bool = True, train: bool = True
) -> list[tuple[str, str, str]]:
    """Idempotent: the directory is re-imported, existing users are left alone, sample tickets are
    added on the first load only. Returns (username, role, password) of the users created."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    parsed = directory.parse_yaml(path.read_text(encoding="utf-8"))
    parsed.data = {k: v for k, v in parsed.data.items() if k in directory.SECTIONS}
    created_users: list[tuple[str, str, str]] = []
    with runtime.db.transaction() as s:
        directory.import_directory(s, parsed, runtime.now(), runtime.settings.default_region)
        for row in data.get("users", []):
            if s.scalars(select(User).where(User.username == row["username"])).first() is None:
                unit = s.scalars(select(Unit).where(Unit.code == row["unit"])).first() if row.get("unit") else None
                user = User(
                    username=row["username"],
                    role=row["role"],
                    display_name=row["display_name"],
                    unit_id=unit.id if unit else None,
                    phone=row.get("phone"),
                )
                user.set_password(row["password"])
                s.add(user)
                created_users.append((row["username"], row["role"], row["password"]))
    if train:
        train_demo_classifier(runtime)
    if created_users and sample_tickets:  # first load only: sample tickets are not duplicated later
        with runtime.db.transaction() as s:
            for row in data.get("sample_tickets", []):
                services.submit_complaint(
                    s,
                    runtime,
                    Complaint(
                        channel=row["channel"],
                        text=row["text"],
                        phone=row.get("phone"),
                        language=row.get("language"),
                        anonymous=row.get("anonymous", False),
                        area_code=row.get("area"),
                    ),
                )
    return created_users


def train_demo_classifier(runtime: Runtime) -> str | None:
    """Train the classifier on the demo's bilingual sample, unless a model is already active."""
    try:
        from routing import training
    except ImportError:  # pragma: no cover - the classifier module is optional for the directory
        return None
    with runtime.db.session() as s:
        from routing import model_store

        if model_store.active_version(s) is not None:
            return None
    return training.train_from_csv(runtime, DEMO_TRAINING, text_column="text", label_column="label")


def demo_credentials(path: Path = DEMO_FILE) -> list[tuple[str, str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(u["username"], u["role"], u["password"]) for u in data.get("users", [])]
