"""Writing the audit trail: every state change and every sensitive read goes through here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hotline_core.models import AuditEntry


@dataclass(frozen=True)
class Actor:
    """Who did something: a staff user, a citizen (by channel), or the system itself."""

    name: str
    user_id: int | None = None
    ip: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls("system")


def record(session: Session, actor: Actor, action: str, obj: Any = None, **details: Any) -> AuditEntry:
    entry = AuditEntry(
        actor=actor.name,
        actor_user_id=actor.user_id,
        ip=actor.ip,
        action=action,
        object_type=type(obj).__name__.lower() if obj is not None else None,
        object_id=str(getattr(obj, "id", obj)) if obj is not None else None,
        details=details,
    )
    session.add(entry)
    return entry
