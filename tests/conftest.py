"""Test harness: every test gets a fresh database, queue and app on the selected backend.

Backends
* ``HOTLINE_TEST_BACKEND=sqlite`` (default): an SQLite file and the in-process queue.
* ``HOTLINE_TEST_BACKEND=postgres``: PostgreSQL (``HOTLINE_TEST_DATABASE_URL``, default
  127.0.0.1:5432/test) and real Redis (``HOTLINE_TEST_REDIS_URL``, db 13). Under ``CI=true``
  missing services fail the run; elsewhere the suite is skipped with the reason.

What a test starts from
* An empty migrated database; with ``@pytest.mark.demo_city`` the demo city (its directory and one
  user per role, the passwords of ``hotline_app/demo_city.yaml``; no sample tickets), with
  ``@pytest.mark.demo_city(classifier=True)`` also the demo classifier. Each starting point is
  built once per session: on SQLite a template file copied per test, on PostgreSQL a schema
  (``public``, ``demo_city``, ``demo_city_classifier``) the test's connection reads through its
  ``search_path``. The usual fixtures (``settings``, ``runtime``, ``app``, ``client``,
  ``make_settings``, ``make_runtime``) all open that database.

Isolation on PostgreSQL
* A test runs inside one transaction on one connection, rolled back at the end. Every session and
  connection the runtime hands out (the app's, the jobs', the test's own) joins that transaction
  with a SAVEPOINT; ``make_runtime`` (and so ``runtime``) binds the runtime to it.
* The rule for the exceptions: a test whose work must really be committed, because another
  connection has to see it, runs on the truncate path instead (``public`` is truncated, the demo
  city copied in when marked, and what it commits stays until the next test truncates). That is
  any test that uses a second process (``hotline worker``, gunicorn, a CLI command that bootstraps
  its own runtime), the database from another thread (embedded worker threads, a live server,
  concurrency tests) or row locks between transactions (``SKIP LOCKED`` races). Mark it
  ``@pytest.mark.committed``; ``worker`` and ``browser`` tests and tests using ``worker_process``
  are committed without the mark. A rolled-back test that opens another PostgreSQL connection or
  queries from another thread fails with a message saying so. Code under test reaches the database
  through the runtime's sessions (the ``/healthz`` schema check included), never an engine of its
  own, so it runs rolled back; a test that edits the schema's state does so in the runtime's
  session too (``tests/test_failed_inbound.py``).
* ``HOTLINE_TEST_ROLLBACK=0`` runs every test on the truncate path, to tell a harness problem from
  a product one.
* The Redis db is flushed before every test.

Time
* ``make test`` lints, then runs the two backends side by side (one per core). Tests stay fast:
  a demo-city template instead of loading the city, rolled back instead of truncated, the ``clock``
  fixture instead of sleeping; ``pytest --durations=40`` shows where the time goes.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool

from hotline_app.bootstrap import bootstrap
from hotline_app.demo import load_demo
from hotline_app.factory import create_app
from hotline_core.db import Base, Database
from hotline_core.migrate import upgrade
from hotline_core.runtime import Runtime, set_current
from hotline_core.settings import Settings
from simulator.replies import OutboxTexts
from simulator.twilio_requests import Phone
from tests.fakes.twilio_api import FakeTwilioAPI

BACKEND = os.environ.get("HOTLINE_TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "postgresql+psycopg://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
IN_CI = os.environ.get("CI", "").lower() == "true"
ROOT = Path(__file__).resolve().parent.parent
EMPTY = "public"
CITY = "demo_city"
CITY_WITH_CLASSIFIER = "demo_city_classifier"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "demo_city(classifier=False): the test starts from the demo city (see tests/conftest.py)"
    )
    config.addinivalue_line(
        "markers", "committed: on PostgreSQL the test commits for real and the tables are truncated (tests/conftest.py)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks (even through another fixture) for ``demo_city_template`` starts from the
    demo city, as if marked ``demo_city``: fixtures such as the edge and Open311 ``city`` use it
    instead of loading the city again for every test."""
    for item in items:
        if "demo_city_template" in getattr(item, "fixturenames", ()) and item.get_closest_marker("demo_city") is None:
            item.add_marker(pytest.mark.demo_city)


@pytest.fixture
def demo_city_template() -> None:
    """Start from the demo city's template (see ``pytest_collection_modifyitems``)."""


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


def _starting_point(request: pytest.FixtureRequest) -> str:
    marker = request.node.get_closest_marker("demo_city")
    if marker is None:
        return EMPTY
    return CITY_WITH_CLASSIFIER if marker.kwargs.get("classifier") else CITY


# Rolled back per test unless HOTLINE_TEST_ROLLBACK=0 (every test then commits and truncates, as
# ``committed`` tests do: a way to tell a harness problem from a product one).
ROLLBACK = os.environ.get("HOTLINE_TEST_ROLLBACK", "1") != "0"


def _is_committed(request: pytest.FixtureRequest) -> bool:
    node = request.node
    return (
        not ROLLBACK
        or any(node.get_closest_marker(name) for name in ("committed", "worker", "browser"))
        or "worker_process" in request.fixturenames
    )


def _schema_url(schema: str) -> str:
    """PG_URL reading ``schema`` first (``public`` is PG_URL itself)."""
    if schema == EMPTY:
        return PG_URL
    return f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"


def _load_city(url: str, instance: Path, *, classifier: bool) -> None:
    """The demo city as ``hotline demo load`` loads it, without sample tickets (and the classifier
    only when asked), through an embedded-queue runtime so nothing reaches the test Redis."""
    settings = Settings.from_env(
        {
            "HOTLINE_ENV": "test",
            "SECRET_KEY": "test-secret",
            "HOTLINE_INSTANCE_PATH": str(instance),
            "DATABASE_URL": url,
        }
    )
    rt = bootstrap(settings)
    try:
        load_demo(rt, sample_tickets=False, train=classifier)
    finally:
        set_current(None)
        rt.db.dispose()


class Templates:
    """The starting points, each built on first use and kept for the session."""

    def __init__(self, empty: str, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.empty = empty
        self.tmp_path_factory = tmp_path_factory
        self.built: dict[str, str] = {EMPTY: EMPTY if BACKEND == "postgres" else empty}

    def get(self, name: str) -> str:
        """An SQLite file to copy, or the PostgreSQL schema holding ``name``."""
        if name not in self.built:
            self.built[name] = self._build(name)
        return self.built[name]

    def _build(self, name: str) -> str:
        instance = self.tmp_path_factory.mktemp(f"{name}-instance")
        if BACKEND == "postgres":
            engine = create_engine(PG_URL)
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {name}"))
            engine.dispose()
            upgrade(_schema_url(name))
            _load_city(_schema_url(name), instance, classifier=name == CITY_WITH_CLASSIFIER)
            return name
        path = self.tmp_path_factory.mktemp(name) / f"{name}.sqlite3"
        shutil.copy(self.empty, path)
        _load_city(f"sqlite:///{path}", instance, classifier=name == CITY_WITH_CLASSIFIER)
        with sqlite3.connect(path) as conn:  # fold the WAL into the file that is copied
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return str(path)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database: an SQLite file to copy per test, or the PostgreSQL URL."""
    if BACKEND == "postgres":
        missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379)) if not _reachable("127.0.0.1", port)]
        if missing:
            message = f"{' and '.join(missing)} not reachable on 127.0.0.1"
            if IN_CI:
                pytest.fail(f"CI=true needs {message}", pytrace=False)
            pytest.skip(message)
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    url = f"sqlite:///{path}"
    upgrade(url)
    return str(path)


@pytest.fixture(scope="session")
def database_templates(database_template: str, tmp_path_factory: pytest.TempPathFactory) -> Templates:
    return Templates(database_template, tmp_path_factory)


# --- PostgreSQL: one transaction per test, rolled back ------------------------------------------


class _JoinedSession(Session):
    """A session inside the test's transaction, through a SAVEPOINT of its own.

    Closing it without a commit rolls back to its savepoint, as a real database discards an
    uncommitted transaction, unless it only read: then the savepoint is released, because writes
    that another session committed meanwhile sit inside it on this one connection, while on a real
    database they were committed on their own and stay.
    """

    def close(self) -> None:
        savepoint = self.info.pop("savepoint", None)
        clean = not (self.info.get("wrote") or self.new or self.dirty or self.deleted)
        if savepoint is not None and savepoint.is_active and clean:
            savepoint.commit()
        super().close()


@event.listens_for(_JoinedSession, "after_begin")
def _remember_savepoint(session: Session, transaction: Any, connection: Connection) -> None:
    if transaction.nested or transaction.parent is not None:
        return  # the session's own begin_nested() inside its savepoint
    session.info["savepoint"] = connection.get_nested_transaction()
    session.info["wrote"] = False
    connection.info.setdefault("joined_sessions", []).append(session)


def _end_later_sessions(connection: Connection, name: str, *_context: Any) -> None:
    """Before the SAVEPOINT ``name`` is released or rolled back, end the sessions whose savepoints
    began inside it (committing them, as their own transactions would have), newest first.

    On a real database each session is a transaction of its own and they may end in any order: a
    request's session first used inside a unit of work (the signed-in user loaded while signing in)
    outlives it. Savepoints on one connection must end last-in first-out."""
    joined: list[Session] = connection.info.get("joined_sessions", [])
    joined[:] = [session for session in joined if _savepoint_of(session) is not None]
    names = [_savepoint_of(session) for session in joined]
    if name not in names:
        return  # not a session's savepoint (``write_engine.begin()``)
    for later in reversed(joined[names.index(name) + 1 :]):
        later.commit()  # its own release comes back here and finds it last
    joined.remove(joined[names.index(name)])


def _savepoint_of(session: Session) -> str | None:
    savepoint = session.info.get("savepoint")
    return savepoint._savepoint if savepoint is not None and savepoint.is_active else None


class _JoinedEngine:
    """What the runtime uses of an Engine, on the test's connection: ``begin()`` is a SAVEPOINT."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.connection.begin_nested():
            yield self.connection

    def dispose(self) -> None:
        pass


class JoinedDatabase(Database):
    """The runtime's :class:`Database` on the test's connection: every session (reading or
    writing) and ``write_engine.begin()`` is a SAVEPOINT inside the test's transaction."""

    def __init__(self, url: str, connection: Connection) -> None:
        super().__init__(url)  # engines are lazy: these are never connected
        Database.dispose(self)
        joined = sessionmaker(
            bind=connection, class_=_JoinedSession, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        self.engine = self.write_engine = _JoinedEngine(connection)  # type: ignore[assignment]
        self.sessionmaker = self.write_sessionmaker = joined

    def dispose(self) -> None:
        pass  # the harness owns the connection


class _Isolation:
    """The rolled-back test running now, if any (for the guards below)."""

    connection: Connection | None = None
    thread: int | None = None
    public_dirty = False  # a committed test left rows in ``public``


_ISOLATION = _Isolation()
_SECOND_CONNECTION = (
    "this test runs inside a rolled-back transaction but opened a second PostgreSQL connection "
    "(a runtime made without make_runtime, a CLI command, another engine): use make_runtime, "
    "or mark the test @pytest.mark.committed (see tests/conftest.py)"
)
_OTHER_THREAD = (
    "this test runs inside a rolled-back transaction but used the database from another thread: "
    "mark it @pytest.mark.committed (see tests/conftest.py)"
)


@event.listens_for(Pool, "connect")
def _refuse_second_connections(dbapi_connection: Any, _record: Any) -> None:
    if _ISOLATION.connection is not None and type(dbapi_connection).__module__.startswith("psycopg"):
        raise RuntimeError(_SECOND_CONNECTION)


def _same_thread_only(*_args: Any) -> None:
    if threading.get_ident() != _ISOLATION.thread:
        raise RuntimeError(_OTHER_THREAD)


_harness: dict[str, Any] = {}


def _harness_engine() -> Engine:
    if "engine" not in _harness:
        _harness["engine"] = create_engine(PG_URL, pool_size=1, max_overflow=4)
    return _harness["engine"]


def _serial_columns(conn: Connection) -> list[tuple[str, str]]:
    if "serials" not in _harness:
        _harness["serials"] = conn.execute(
            text(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"
            )
        ).all()
    return _harness["serials"]


def _reset_public(copy_from: str | None) -> None:
    """Empty ``public`` (identities restarted); with ``copy_from``, copy that schema's rows in."""
    tables = [t.name for t in Base.metadata.sorted_tables]
    with _harness_engine().begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(f'public.{t}' for t in tables)} RESTART IDENTITY CASCADE"))
        if copy_from is None:
            return
        for table in tables:
            conn.execute(text(f"INSERT INTO public.{table} SELECT * FROM {copy_from}.{table}"))  # noqa: S608 (our tables)
        for table, column in _serial_columns(conn):
            sequence = f"pg_get_serial_sequence('public.{table}', '{column}')"
            restart = f"SELECT setval({sequence}, coalesce(max({column}), 0) + 1, false) FROM public.{table}"  # noqa: S608
            conn.execute(text(restart))


class IsolatedDatabase:
    """The database of one test: its URL and, on the rolled-back path, the connection whose
    transaction every runtime of the test joins."""

    def __init__(self, url: str, connection: Connection | None = None) -> None:
        self.url = url
        self.connection = connection

    def bind(self, rt: Runtime) -> None:
        """Point ``rt`` at the test's transaction (nothing to do on SQLite or when committed)."""
        if self.connection is not None and rt.settings.database_url == self.url:
            rt.db.dispose()
            rt.db = JoinedDatabase(self.url, self.connection)


@pytest.fixture
def isolated_database(
    database_templates: Templates, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[IsolatedDatabase]:
    start = _starting_point(request)
    template = database_templates.get(start)
    if BACKEND != "postgres":
        target = tmp_path / "hotline.sqlite3"
        shutil.copy(template, target)
        yield IsolatedDatabase(f"sqlite:///{target}")
        return
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    if _is_committed(request):
        _reset_public(copy_from=None if start == EMPTY else template)
        _ISOLATION.public_dirty = True
        yield IsolatedDatabase(PG_URL)
        return
    if _ISOLATION.public_dirty and start == EMPTY:
        _reset_public(copy_from=None)
        _ISOLATION.public_dirty = False
    connection = _harness_engine().connect()
    outer = connection.begin()
    if start != EMPTY:
        connection.execute(text(f"SET LOCAL search_path TO {template}"))
    event.listen(connection, "before_cursor_execute", _same_thread_only)
    event.listen(connection, "release_savepoint", _end_later_sessions)
    event.listen(connection, "rollback_savepoint", _end_later_sessions)
    _ISOLATION.connection, _ISOLATION.thread = connection, threading.get_ident()
    try:
        yield IsolatedDatabase(_schema_url(template), connection)
    finally:
        _ISOLATION.connection = _ISOLATION.thread = None
        outer.rollback()
        connection.close()


@pytest.fixture
def make_settings(isolated_database: IsolatedDatabase, tmp_path: Path) -> Callable[..., Settings]:
    url = isolated_database.url

    def make(**overrides: Any) -> Settings:
        env = {
            "HOTLINE_ENV": "test",
            "SECRET_KEY": "test-secret",
            "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
            "DATABASE_URL": url,
            "HOTLINE_SMS_SEGMENTS_PER_SECOND": "1000",
        }
        if BACKEND == "postgres":
            env["REDIS_URL"] = REDIS_URL
        return Settings.from_env(env, **overrides)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


class Clock:
    """A controllable clock for the runtime: real time until set or moved."""

    def __init__(self) -> None:
        self.offset_seconds = 0.0
        self.fixed: datetime | None = None

    def __call__(self) -> datetime:
        from datetime import timedelta

        base = self.fixed or datetime.now(UTC)
        return base + timedelta(seconds=self.offset_seconds)

    def set(self, moment: datetime) -> None:
        """Freeze time at ``moment`` (aware); ``advance`` then moves it."""
        self.fixed, self.offset_seconds = moment.astimezone(UTC), 0.0

    def advance(self, seconds: float) -> None:
        self.offset_seconds += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_runtime(isolated_database: IsolatedDatabase, clock: Clock) -> Iterator[Callable[[Settings], Runtime]]:
    """``make_runtime(settings)``: a runtime built as the service builds it (``bootstrap``), on the
    test's clock and, on PostgreSQL, inside the test's transaction. Use it instead of calling
    ``bootstrap`` in a test; every runtime it made is stopped at the end."""
    made: list[Runtime] = []

    def make(settings: Settings) -> Runtime:
        rt = bootstrap(settings)
        rt.clock = clock
        isolated_database.bind(rt)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        rt.jobs.stop_embedded()
        rt.db.dispose()
    set_current(None)


@pytest.fixture
def runtime(make_runtime: Callable[[Settings], Runtime], settings: Settings) -> Runtime:
    return make_runtime(settings)


@pytest.fixture
def app(runtime: Runtime):  # type: ignore[no-untyped-def]
    application = create_app(runtime=runtime)
    application.config["WTF_CSRF_ENABLED"] = False
    return application


@pytest.fixture
def csrf_app(runtime: Runtime):  # type: ignore[no-untyped-def]
    return create_app(runtime=runtime)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


def wsgi_phone(app, settings: Settings) -> Phone:  # type: ignore[no-untyped-def]
    """A citizen's phone posting signed webhooks to ``app``; after a text it runs the queued jobs
    and collects what the hotline texted back."""
    runtime = app.extensions["hotline"]
    texts = OutboxTexts(runtime, run_jobs=runtime.jobs.run_burst)
    return Phone(
        "http://localhost", settings.webhook_auth_token, wsgi_transport(app), settings.hotline_number, read_texts=texts
    )


def wsgi_transport(app):  # type: ignore[no-untyped-def]
    client = app.test_client()

    def transport(path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        response = client.post(path, data=form, headers=headers, base_url="http://localhost")
        return response.status_code, response.get_data(as_text=True)

    return transport


@pytest.fixture
def phone(app, settings: Settings) -> Phone:  # type: ignore[no-untyped-def]
    return wsgi_phone(app, settings)


@pytest.fixture
def drain(runtime: Runtime) -> Callable[[], bool]:
    """Run every queued job now, in this thread (the same RQ jobs a worker would run)."""

    def run() -> bool:
        return runtime.jobs.run_burst()

    return run


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilioAPI]:
    api = FakeTwilioAPI()
    server = api.start()
    api.url = server.url  # type: ignore[attr-defined]
    yield api
    server.stop()


@pytest.fixture
def twilio_settings(make_settings: Callable[..., Settings], fake_twilio: FakeTwilioAPI) -> Settings:
    return make_settings(
        twilio_account_sid="AC" + "1" * 32,
        twilio_auth_token="fake-auth-token",
        twilio_phone_number="+8612345000000",
        twilio_api_base_url=fake_twilio.url,  # type: ignore[attr-defined]
        public_base_url="https://hotline.example.org",
    )


@pytest.fixture
def worker_process(runtime: Runtime, settings: Settings) -> Iterator[Callable[[], None]]:
    """A real worker: a `hotline worker` process on Redis, the embedded thread otherwise."""
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        if runtime.jobs.embedded:
            runtime.jobs.start_embedded()
            return
        env = dict(
            os.environ,
            HOTLINE_ENV="test",
            SECRET_KEY="test-secret",
            DATABASE_URL=settings.database_url,
            REDIS_URL=settings.redis_url or "",
            HOTLINE_INSTANCE_PATH=str(settings.instance_path),
            HOTLINE_SMS_SEGMENTS_PER_SECOND="1000",
        )
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "hotline_app.cli", "worker", "--no-beat"],
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def wait_for(predicate: Callable[[], Any], timeout: float = 15, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


@pytest.fixture(autouse=True, scope="session")
def _hash_each_test_password_once() -> Iterator[None]:
    """scrypt is slow on purpose; tests reuse one hash per password, and one check per hash and
    password (a pure function), instead of paying at every sign-in."""
    import functools

    from hotline_core.models import user as user_module

    generate, check = user_module.generate_password_hash, user_module.check_password_hash
    user_module.generate_password_hash = functools.lru_cache(maxsize=None)(generate)  # type: ignore[assignment]
    user_module.check_password_hash = functools.lru_cache(maxsize=None)(check)  # type: ignore[assignment]
    yield
    user_module.generate_password_hash, user_module.check_password_hash = generate, check  # type: ignore[assignment]
