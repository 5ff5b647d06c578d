"""Staff accounts and their roles."""

from __future__ import annotations

import functools
import secrets
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
    # Part of every session's user id: raising it (sign-out, password reset) ends all sessions.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Every session signed in before this call stops working (sign-out, password reset)."""
        self.session_version = (self.session_version or 0) + 1


@functools.cache
def _decoy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def check_decoy_password(password: str) -> bool:
    """Spend the time of one password check when there is no account to check (always False),
    so an unknown username answers as slowly as a wrong password."""
    check_password_hash(_decoy_hash(), password)
    return False
