"""API keys: issued, listed, rotated and revoked with the CLI and on the admin page; stored hashed."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hotline_app.cli import main
from hotline_core.models import AuditEntry, Open311Key
from tests.helpers import sign_in
from tests.open311.conftest import API, light_report


def cli(settings, monkeypatch, *args):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(settings.instance_path))
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    return CliRunner().invoke(main, ["open311", "keys", *args])


@pytest.mark.committed  # the CLI builds its own runtime
def test_the_cli_prints_a_new_key_once_and_keeps_only_its_hash(settings, monkeypatch, runtime, client, city):
    result = cli(settings, monkeypatch, "create", "fixmystreet", "--rate-limit", "30/minute")
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().split(": ", 1)[1]
    with runtime.db.session() as s:
        key = s.scalars(select(Open311Key)).one()
        assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in {key.key_hash, key.key_prefix} and key.rate_limit == "30/minute"
    assert client.post(f"{API}/requests.json", data=light_report(secret)).status_code == 201
    listing = cli(settings, monkeypatch, "list")
    assert "fixmystreet" in listing.output and secret not in listing.output


@pytest.mark.committed  # the CLI builds its own runtime
def test_rotating_a_key_stops_the_old_one(settings, monkeypatch, client, city):
    old = cli(settings, monkeypatch, "create", "app").stdout.strip().split(": ", 1)[1]
    new = cli(settings, monkeypatch, "rotate", "app").stdout.strip().split(": ", 1)[1]
    assert old != new
    assert client.post(f"{API}/requests.json", data=light_report(old)).status_code == 403
    assert client.post(f"{API}/requests.json", data=light_report(new)).status_code == 201


@pytest.mark.committed  # the CLI builds its own runtime
def test_revoking_a_key_refuses_it_and_is_audited(settings, monkeypatch, client, runtime, city):
    secret = cli(settings, monkeypatch, "create", "app").stdout.strip().split(": ", 1)[1]
    assert cli(settings, monkeypatch, "revoke", "app").exit_code == 0
    assert client.post(f"{API}/requests.json", data=light_report(secret)).status_code == 403
    with runtime.db.session() as s:
        actions = [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("open311.key.%")))]
    assert actions == ["open311.key.create", "open311.key.revoke"]


@pytest.mark.committed  # the CLI builds its own runtime
def test_the_cli_refuses_a_duplicate_name_and_an_unknown_key(settings, monkeypatch, city):
    cli(settings, monkeypatch, "create", "app")
    assert cli(settings, monkeypatch, "create", "app").exit_code != 0
    assert cli(settings, monkeypatch, "rotate", "nope").exit_code != 0


def test_admins_issue_rotate_and_revoke_keys_on_the_page(app, runtime, city):
    admin = sign_in(app, "admin")
    page = admin.post(
        "/staff/admin/open311/keys", data={"action": "create", "name": "city-app", "rate_limit": "10/minute"}
    )
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    with runtime.db.session() as s:
        key = s.scalars(select(Open311Key)).one()
    secret = html.split('id="new-key-value">', 1)[1].split("<", 1)[0]
    assert hashlib.sha256(secret.encode()).hexdigest() == key.key_hash
    assert secret not in admin.get("/staff/admin/open311/keys").get_data(as_text=True)
    rotated = admin.post("/staff/admin/open311/keys", data={"action": "rotate", "name": "city-app"})
    assert 'id="new-key-value"' in rotated.get_data(as_text=True)
    admin.post("/staff/admin/open311/keys", data={"action": "revoke", "name": "city-app"})
    with runtime.db.session() as s:
        assert s.scalars(select(Open311Key)).one().active is False
    assert admin.post("/staff/admin/open311/keys", data={"action": "create", "name": ""}).status_code == 400


def test_only_admins_see_the_keys_page(app, city):
    assert sign_in(app, "dispatcher").get("/staff/admin/open311/keys").status_code == 403
    assert app.test_client().get("/staff/admin/open311/keys").status_code in (302, 401)


def test_the_keys_page_needs_a_csrf_token(csrf_app, runtime, city):
    client = csrf_app.test_client()
    assert client.post("/staff/admin/open311/keys", data={"action": "create", "name": "x"}).status_code == 400
