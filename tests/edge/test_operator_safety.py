"""Operator safety: no demo city in production, the first admin from the command line."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline_app.cli import main
from hotline_core.models import Role, User

PRODUCTION = {
    "HOTLINE_ENV": "production",
    "SECRET_KEY": "s" * 32,
    "DATABASE_URL": "postgresql://hotline@db.invalid/hotline",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}


def test_demo_load_refuses_to_run_in_production(monkeypatch):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(main, ["demo", "load"])
    assert result.exit_code != 0 and "refusing to load the demo city in production" in result.output


@pytest.mark.committed  # the CLI builds its own runtime
def test_create_admin_makes_an_account_that_can_sign_in(app, settings, runtime, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    result = CliRunner().invoke(main, ["users", "create-admin", "--username", "chief"], input="a-long-password\n" * 2)
    assert result.exit_code == 0, result.output
    with runtime.db.session() as s:
        assert s.scalars(select(User.role).where(User.username == "chief")).one() == Role.ADMIN
    response = app.test_client().post("/staff/login", data={"username": "chief", "password": "a-long-password"})
    assert response.status_code == 302


@pytest.mark.committed  # the CLI builds its own runtime
def test_create_admin_refuses_a_short_password_and_a_taken_name(settings, runtime, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(settings.instance_path))
    short = CliRunner().invoke(main, ["users", "create-admin", "--username", "chief", "--password", "short"])
    assert short.exit_code != 0 and "at least 12" in short.output
    CliRunner().invoke(main, ["users", "create-admin", "--username", "chief", "--password", "a-long-password"])
    again = CliRunner().invoke(main, ["users", "create-admin", "--username", "chief", "--password", "a-long-password"])
    assert again.exit_code != 0 and "already exists" in again.output


def test_the_simulator_is_for_admins_only(signed_in):
    assert signed_in("dispatcher").get("/dev/simulator/").status_code == 403
    assert signed_in("admin").get("/dev/simulator/").status_code == 200
