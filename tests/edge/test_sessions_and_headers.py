"""Sessions end on sign-out and password reset; security headers; same-site next=; trusted proxies."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from hotline_app.factory import create_app
from hotline_core.models import AuditEntry, User
from tests.edge.conftest import new_address


def copy_of(app, client):  # type: ignore[no-untyped-def]
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.environ_base.update(client.environ_base)
    cookie = client.get_cookie("session")
    thief.set_cookie("session", cookie.value)
    return thief


def test_a_copied_cookie_stops_working_after_sign_out(app, signed_in):
    client = signed_in("dispatcher")
    thief = copy_of(app, client)
    assert thief.get("/staff/").status_code == 200
    client.post("/staff/logout")
    response = thief.get("/staff/")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]


def test_a_password_reset_ends_every_session_of_the_user(app, runtime, signed_in):
    victim = signed_in("dispatcher")
    thief = copy_of(app, victim)
    admin = signed_in("admin")
    with runtime.db.session() as s:
        user_id = s.scalars(select(User.id).where(User.username == "dispatcher")).one()
    assert (
        admin.post(f"/staff/admin/users/{user_id}/password", data={"password": "a-new-long-password"}).status_code
        == 302
    )
    assert victim.get("/staff/").status_code == 302
    assert thief.get("/staff/").status_code == 302
    assert admin.get("/staff/").status_code == 200


def test_an_admin_who_resets_their_own_password_stays_signed_in(app, runtime, signed_in):
    admin = signed_in("admin")
    with runtime.db.session() as s:
        user_id = s.scalars(select(User.id).where(User.username == "admin")).one()
    admin.post(f"/staff/admin/users/{user_id}/password", data={"password": "a-new-long-password"})
    assert admin.get("/staff/").status_code == 200


@pytest.mark.parametrize(
    "target",
    ["/%09/evil.example", "/%0a/x", "//evil.example", "https://evil.example/", "/\\evil.example", "/%5Cevil.example"],
)
def test_sign_in_redirects_only_to_same_site_paths(app, city, target):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = new_address()
    response = client.post(
        f"/staff/login?next={target}", data={"username": "dispatcher", "password": "dispatcher-demo-2026"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"


def test_sign_in_keeps_a_same_site_next_path(app, city):
    client = app.test_client()
    response = client.post(
        "/staff/login?next=/staff/tickets%3Fstate%3Dsigned",
        data={"username": "dispatcher", "password": "dispatcher-demo-2026"},
    )
    assert response.headers["Location"] == "/staff/tickets?state=signed"


def test_every_page_carries_the_security_headers(client):
    headers = client.get("/").headers
    csp = headers["Content-Security-Policy"]
    script_src = next(part for part in csp.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "DENY"


def test_https_responses_carry_hsts(client):
    assert "max-age" in client.get("/", base_url="https://localhost").headers["Strict-Transport-Security"]
    assert "Strict-Transport-Security" not in client.get("/").headers


def test_staff_pages_are_not_stored_by_caches(signed_in):
    client = signed_in("dispatcher")
    assert client.get("/staff/").headers["Cache-Control"] == "no-store"
    assert client.get("/stats/").headers["Cache-Control"] == "no-store"


def test_templates_have_no_inline_script_or_style():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = [
        str(path)
        for path in root.glob("*/templates/**/*.html")
        if any(bad in path.read_text() for bad in ("<script>", "style=", "onclick", "javascript:", "<style"))
    ]
    assert offenders == []


def test_the_client_address_comes_from_the_trusted_proxy_only(runtime, city):
    runtime.settings = dataclasses.replace(runtime.settings, trusted_proxies=1)
    app = create_app(runtime=runtime)
    app.config["WTF_CSRF_ENABLED"] = False
    app.test_client().post(
        "/staff/login",
        data={"username": "x", "password": "x"},
        headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.9"},
    )
    with runtime.db.session() as s:
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "login.failed")).all()
    assert entry.ip == "203.0.113.9"  # the address the one trusted proxy saw, not the client's claim
