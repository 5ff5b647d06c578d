"""Factories: make the rows a test needs in one line, through the same services production uses."""

from __future__ import annotations

from typing import Any

from hotline_app.demo import load_demo
from hotline_core.models import Ticket, User
from hotline_core.runtime import Runtime
from intake import services
from intake.services import Complaint


def complaint(runtime: Runtime, text: str = "窗口办事拖延，三次都没办成。", **fields: Any) -> Ticket:
    fields.setdefault("channel", "web")
    fields.setdefault("phone", "+8613800138000")
    with runtime.db.transaction() as s:
        ticket = services.submit_complaint(s, runtime, Complaint(text=text, **fields))
    return ticket


def user(
    runtime: Runtime,
    username: str = "alice",
    role: str = "dispatcher",
    password: str = "correct horse",
    unit_id: int | None = None,
) -> User:
    with runtime.db.transaction() as s:
        row = User(username=username, role=role, display_name=username.title(), unit_id=unit_id)
        row.set_password(password)
        s.add(row)
    return row


def demo_city(runtime: Runtime, *, with_tickets: bool = False, with_model: bool = False) -> None:
    """The demo directory and one user per role (passwords as in hotline_app/demo_city.yaml); the
    classifier only when asked, so routing tests see the keyword rules unless they want the model."""
    load_demo(runtime, sample_tickets=with_tickets, train=with_model)
