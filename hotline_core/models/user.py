"""Staff accounts and their roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from hotline_core.db import Base, utcnow


class Role:
    DISPATCHER = "dispatcher"
    UNIT_STAFF = "unit_staff"
    UNIT_HEAD = "unit_head"
    AUDITOR = "auditor"
    LEADER = "leader"
    ADMIN = "admin"
    ALL = (DISPATCHER, UNIT_STAFF, UNIT_HEAD, AUDITOR, LEADER, ADMIN)
    # Roles that may see a citizen's full phone number without the citizen's consent.
    SEES_FULL_PHONE = (DISPATCHER, ADMIN)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    phone: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(5), default="zh")
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)
