"""Persistence: one declarative base, typed columns, UTC timestamps, and a session factory.

SQLite (the embedded default) and PostgreSQL (production) run the same schema, managed by alembic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, Select, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, *, immediate: bool = False, **kwargs: Any) -> Engine:
    """An engine for ``url``. On SQLite, ``immediate`` makes every transaction take the write lock
    at BEGIN, so writers queue on the busy timeout instead of failing when they upgrade a read."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets the in-process worker read while a request writes; foreign keys are off
            # by default in SQLite.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # Let SQLAlchemy emit BEGIN itself (pysqlite's own transaction handling is off).
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """An engine and its session factories.

    ``session()`` is for reading (and small writes); ``write_session()`` and ``transaction()`` are
    for units of work that write. On PostgreSQL they are the same; on SQLite writers take the write
    lock when they begin, so concurrent writers (web threads, the in-process worker) wait their turn.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        if url.startswith("sqlite"):
            self.write_engine = make_engine(url, immediate=True, **engine_kwargs)
            self.write_sessionmaker = sessionmaker(self.write_engine, expire_on_commit=False)
        else:
            self.write_engine = self.engine
            self.write_sessionmaker = self.sessionmaker

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def claim(self, stmt: Select[Any]) -> Select[Any]:
        """``stmt`` locking the rows it selects, skipping rows another worker holds (PostgreSQL).

        On SQLite writers already hold the database's write lock, so there is nothing to add.
        """
        return stmt.with_for_update(skip_locked=True) if self.dialect == "postgresql" else stmt

    def session(self) -> Session:
        return self.sessionmaker()

    def write_session(self) -> Session:
        return self.write_sessionmaker()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A writing session whose work is committed on success and rolled back on error."""
        with self.write_sessionmaker() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
