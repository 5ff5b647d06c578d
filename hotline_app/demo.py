"""Load the demo city: directory, one user per role (credentials printed), a few sample tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from hotline_core.models import Area, Category, Unit, User
from hotline_core.runtime import Runtime
from intake import services
from intake.services import Complaint

DEMO_FILE = Path(__file__).with_name("demo_city.yaml")


def load_demo(runtime: Runtime, path: Path = DEMO_FILE, *, sample_tickets: bool = True) -> list[tuple[str, str, str]]:
    """Idempotent: rows that exist are left alone. Returns (username, role, password) created."""
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    created_users: list[tuple[str, str, str]] = []
    with runtime.db.transaction() as s:
        for row in data.get("areas", []):
            if s.scalars(select(Area).where(Area.code == row["code"])).first() is None:
                s.add(
                    Area(
                        code=row["code"], name_zh=row["name_zh"], name_en=row["name_en"], aliases=row.get("aliases", [])
                    )
                )
        for row in data.get("units", []):
            if s.scalars(select(Unit).where(Unit.code == row["code"])).first() is None:
                s.add(
                    Unit(
                        code=row["code"],
                        name_zh=row["name_zh"],
                        name_en=row["name_en"],
                        kind=row.get("kind", "department"),
                        contact_phones=row.get("contact_phones", []),
                        service_hotlines=row.get("service_hotlines", []),
                    )
                )
        for row in data.get("categories", []):
            if s.scalars(select(Category).where(Category.code == row["code"])).first() is None:
                s.add(
                    Category(
                        code=row["code"],
                        name_zh=row["name_zh"],
                        name_en=row["name_en"],
                        level=1,
                        keywords=row.get("keywords", []),
                        urgency=row.get("urgency", "general"),
                    )
                )
        s.flush()
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
        if created_users and sample_tickets:  # first load only: sample tickets are not duplicated on later runs
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


def demo_credentials(path: Path = DEMO_FILE) -> list[tuple[str, str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [(u["username"], u["role"], u["password"]) for u in data.get("users", [])]
