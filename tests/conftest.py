"""Test harness: every test gets a fresh database, queue and app on the selected backend.

* ``HOTLINE_TEST_BACKEND=sqlite`` (default): an SQLite file and the in-process queue.
* ``HOTLINE_TEST_BACKEND=postgres``: PostgreSQL (``HOTLINE_TEST_DATABASE_URL``, default
  127.0.0.1:5432/test) and real Redis (``HOTLINE_TEST_REDIS_URL``, db 13). Under ``CI=true``
  missing services fail the run; elsewhere the suite is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from hotline_app.bootstrap import bootstrap
from hotline_app.factory import create_app
from hotline_core.db import Base
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


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


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


def _fresh_database(template: str, tmp_path: Path) -> str:
    if BACKEND == "postgres":
        engine = create_engine(PG_URL)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        return PG_URL
    target = tmp_path / "hotline.sqlite3"
    shutil.copy(template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def make_settings(database_template: str, tmp_path: Path) -> Callable[..., Settings]:
    url = _fresh_database(database_template, tmp_path)

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
def runtime(settings: Settings, clock: Clock) -> Iterator[Runtime]:
    rt = bootstrap(settings)
    rt.clock = clock
    yield rt
    rt.jobs.stop_embedded()
    set_current(None)
    rt.db.dispose()


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
    """scrypt is slow on purpose; tests reuse one hash per password instead of paying per test."""
    import functools

    from hotline_core.models import user as user_module

    original = user_module.generate_password_hash
    user_module.generate_password_hash = functools.lru_cache(maxsize=None)(original)  # type: ignore[assignment]
    yield
    user_module.generate_password_hash = original  # type: ignore[assignment]
