"""Version stamps: when a process may keep using what it cached from the database.

Workers route hundreds of tickets a second from the same directory, routing settings and
classifier; reading them afresh for every batch cost most of a batch's statements. They are cached
per process (``routing.inputs``) and re-read only when the ``directory`` stamp has changed: one
``SELECT`` per batch.

The stamp changes by itself. Every session flush (and every ORM bulk ``update``/``delete``/``insert``)
that writes a row routing is built from gives the stamp a new random token *in the same
transaction*, so the cache can never be newer or older than a committed directory:

* a process that reads the token and then the rows it caches stores rows at least as new as
  the token (a concurrent change gives a new token, read by the next batch);
* a token is random, not a counter, so a rolled-back change (or a test's rollback) cannot bring
  back a token that once named other rows.

Watched: units, categories, areas, routing rules, the directory's settings (calendar, policies,
thresholds, quiet hours), classifier models (a retrain or an activation), and of staff accounts
only what decides who a unit's texts go to (phone, active, unit, role). Writing these tables
with raw SQL bypasses the hooks: run ``hotline directory touch`` (``bump``) after such a change.
"""

from __future__ import annotations

import secrets
from typing import Any, cast

from sqlalchemy import Table, event, insert, inspect, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from hotline_core.db import utcnow
from hotline_core.models.directory import Area, Category, Unit
from hotline_core.models.routing import CacheStamp, ClassifierModel, DirectorySetting, RoutingRule
from hotline_core.models.user import User

DIRECTORY = "directory"

WATCHED: tuple[type[Any], ...] = (Unit, Category, Area, RoutingRule, DirectorySetting, ClassifierModel)
# Staff accounts change at every sign-in (failure counters, session version): only these matter.
USER_FIELDS = ("phone", "active", "unit_id", "role")
_TABLE = cast(Table, CacheStamp.__table__)


def read(session: Session, name: str = DIRECTORY) -> str | None:
    """The current token (None on a database without the stamp row: then nothing may be cached)."""
    return session.scalar(select(CacheStamp.token).where(CacheStamp.name == name))


def bump(session: Session, name: str = DIRECTORY) -> str:
    """Give the stamp a new token in the session's transaction; returns it."""
    token = secrets.token_hex(16)
    values = {"token": token, "changed_at": utcnow()}
    # Core statements on the session's connection: no ORM hooks, no flush, usable inside a flush.
    connection = session.connection()
    done = connection.execute(update(_TABLE).where(_TABLE.c.name == name).values(values))
    if not done.rowcount:
        connection.execute(insert(_TABLE).values(name=name, **values))
    return token


def _changes_routing(session: Session) -> bool:
    """Whether this flush wrote a row routing is built from (checked before the flush resets history)."""
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, (*WATCHED, User)):
            return True
    for obj in session.dirty:
        if isinstance(obj, WATCHED) and session.is_modified(obj):
            return True
        if isinstance(obj, User):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in USER_FIELDS):
                return True
    return False


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if _changes_routing(session):
        bump(session)


@event.listens_for(Session, "do_orm_execute")
def _bulk_statement(state: ORMExecuteState) -> None:
    """ORM bulk statements on a watched table (``update(ClassifierModel)...``) skip the flush."""
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None and issubclass(mapper.class_, WATCHED):
        bump(state.session)
