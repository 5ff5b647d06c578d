"""Rate limits and lockouts: /track guesses, the web form's SMS, sign-in races and timing."""

from __future__ import annotations

import dataclasses
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from hotline_core.i18n import t
from hotline_core.models import OutboxMessage, Ticket, User
from hotline_core.models import user as user_model
from intake import services as intake_services
from intake.services import ACCESS_CODE_ALPHABET
from tests.edge.conftest import new_address
from tests.factories import complaint

FORM = {"description": "窗口工作人员推诿不办，跑了三次。", "phone": "13800138000", "name": "王先生"}


def client_at(app, address=None):  # type: ignore[no-untyped-def]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address or new_address()
    return client


def acknowledgements(runtime, to):  # type: ignore[no-untyped-def]
    with runtime.db.session() as s:
        return s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.to_number == to, OutboxMessage.kind == "acknowledgement")
        )


# --- /track ----------------------------------------------------------------------------------------


def test_a_ticket_is_locked_after_a_few_wrong_guesses_even_from_many_clients(app, runtime):
    ticket = complaint(runtime, phone="+8613800138000")
    for guess in ("0000", "1111", "2222", "3333", "4444"):
        assert client_at(app).post("/track", data={"number": ticket.number, "last4": guess}).status_code == 404
    locked = client_at(app).post("/track", data={"number": ticket.number, "last4": "8000", "lang": "en"})
    assert locked.status_code == 429
    assert "STATUS <ticket number>" in locked.get_data(as_text=True) or "查询" in locked.get_data(as_text=True)


def test_another_spelling_of_the_number_counts_against_the_same_ticket(app, runtime):
    ticket = complaint(runtime, phone="+8613800138000")
    year, serial = ticket.number.split("-")
    full_width = ticket.number.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    spellings = (f" {year} - {serial} ", full_width, f"{year}{serial}", f"{year}-000{serial}", f"{year}\u2014{serial}")
    for spelling, guess in zip(spellings, ("0000", "1111", "2222", "3333", "4444"), strict=True):
        assert client_at(app).post("/track", data={"number": spelling, "last4": guess}).status_code == 404
    assert client_at(app).post("/track", data={"number": ticket.number, "last4": "8000"}).status_code == 429


def test_the_ticket_is_found_however_its_number_is_written(app, runtime):
    ticket = complaint(runtime, phone="+8613800138000")
    full_width = ticket.number.translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    response = client_at(app).post("/track", data={"number": full_width, "last4": "8000"})
    assert response.status_code == 200 and ticket.number in response.get_data(as_text=True)


def test_one_client_cannot_walk_through_ticket_numbers(app, runtime):
    client = client_at(app)
    statuses = [
        client.post("/track", data={"number": f"2026-{n:06d}", "last4": "1234"}).status_code for n in range(1, 40)
    ]
    assert statuses[:30] == [404] * 30 and set(statuses[30:]) == {429}


def test_a_tracking_csrf_token_serves_one_lookup(csrf_app, runtime):
    ticket = complaint(runtime, phone="+8613800138000")
    client = csrf_app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/track").get_data(as_text=True))
    assert token is not None
    form = {"csrf_token": token.group(1), "number": ticket.number, "last4": "8000"}
    assert client.post("/track", data=form).status_code == 200
    assert client.post("/track", data=form).status_code == 400


def test_the_anonymous_access_code_is_too_long_to_guess(runtime):
    ticket = complaint(runtime, anonymous=True)
    assert len(ticket.lookup_code) == 12 and set(ticket.lookup_code) <= set(ACCESS_CODE_ALPHABET)


# --- the web form ----------------------------------------------------------------------------------


def test_thirty_posts_for_one_number_send_one_acknowledgement(app, runtime):
    runtime.settings = dataclasses.replace(runtime.settings, limit_form_phone="1000 per hour")
    for _ in range(30):
        assert client_at(app).post("/", data=FORM).status_code == 302
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 30
    assert acknowledgements(runtime, "+8613800138000") == 1


@pytest.mark.committed  # the posts run in threads, each on its own connection
def test_posts_at_the_same_instant_send_one_acknowledgement(app, runtime, monkeypatch):
    """Every post has stored its ticket and reached the acknowledgement, inside its own open
    transaction, before any of them decides: the decision itself must be atomic."""
    posts = 6
    runtime.settings = dataclasses.replace(runtime.settings, limit_form_phone="1000 per hour")
    together = threading.Barrier(posts, timeout=10)
    original = intake_services.acknowledge_by_sms

    def all_at_once(session, rt, ticket, now):  # type: ignore[no-untyped-def]
        if rt.db.dialect == "postgresql":  # SQLite writers hold the write lock: they cannot meet here
            session.flush()
            together.wait()
        return original(session, rt, ticket, now)

    monkeypatch.setattr(intake_services, "acknowledge_by_sms", all_at_once)
    with ThreadPoolExecutor(max_workers=posts) as pool:
        statuses = list(pool.map(lambda _: client_at(app).post("/", data=FORM).status_code, range(posts)))
    assert statuses == [302] * posts
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == posts
    assert acknowledgements(runtime, "+8613800138000") == 1


def test_the_next_window_gets_a_new_acknowledgement(app, runtime, clock):
    assert client_at(app).post("/", data=FORM).status_code == 302
    clock.advance((runtime.settings.web_ack_window_hours + 1) * 3600)
    assert client_at(app).post("/", data=FORM).status_code == 302
    assert acknowledgements(runtime, "+8613800138000") == 2


def test_the_form_is_limited_per_phone_number_across_clients(app, runtime):
    statuses = [client_at(app).post("/", data=FORM).status_code for _ in range(5)]
    assert statuses == [302, 302, 302, 429, 429]


def test_the_form_is_limited_per_client(app, runtime):
    client = client_at(app)
    statuses = [client.post("/", data={**FORM, "phone": f"1390013{n:04d}"}).status_code for n in range(12)]
    assert statuses[:10] == [302] * 10 and set(statuses[10:]) == {429}


def test_the_form_texts_no_number_outside_the_allowed_regions(app, runtime):
    assert client_at(app).post("/", data={**FORM, "phone": "+447400123456"}).status_code == 302
    with runtime.db.session() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.citizen_phone == "+447400123456"
        assert "acknowledgement_skipped" in [e.kind for e in ticket.events]
    assert acknowledgements(runtime, "+447400123456") == 0


def test_configured_regions_are_texted(app, runtime):
    runtime.settings = dataclasses.replace(runtime.settings, ack_regions=("CN", "GB"))
    assert client_at(app).post("/", data={**FORM, "phone": "+447400123456"}).status_code == 302
    assert acknowledgements(runtime, "+447400123456") == 1


# --- sign-in ---------------------------------------------------------------------------------------


@pytest.mark.committed  # the sign-ins run in threads, each on its own connection
def test_parallel_wrong_passwords_get_at_most_five_checks(app, runtime, city, monkeypatch):
    checks: list[str] = []
    lock = threading.Lock()
    original = User.check_password

    def counted(self, password):  # type: ignore[no-untyped-def]
        with lock:
            checks.append(self.username)
        return original(self, password)

    monkeypatch.setattr(User, "check_password", counted)

    def attempt(_: int) -> int:
        return client_at(app).post("/staff/login", data={"username": "dispatcher", "password": "guess"}).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(attempt, range(60)))
    assert set(statuses) == {401}
    assert checks.count("dispatcher") <= 5
    with runtime.db.session() as s:
        user = s.scalars(select(User).where(User.username == "dispatcher")).one()
        assert user.locked_until is not None


def test_sign_in_is_limited_per_client(app, runtime, city):
    client = client_at(app)
    statuses = [
        client.post("/staff/login", data={"username": f"nobody{n}", "password": "x"}).status_code for n in range(12)
    ]
    assert statuses[:10] == [401] * 10 and set(statuses[10:]) == {429}


def _hash_checks(monkeypatch, app, username: str) -> int:  # type: ignore[no-untyped-def]
    """How many password hashes one wrong sign-in as `username` computes. The hash is what costs
    time, so the same count on every path is what makes the answers take the same time; counting
    it, rather than timing it, keeps the test true on a loaded machine."""
    calls: list[str] = []
    original = user_model.check_password_hash

    def counted(pwhash: str, password: str) -> bool:
        calls.append(password)
        return original(pwhash, password)

    monkeypatch.setattr(user_model, "check_password_hash", counted)
    response = client_at(app).post("/staff/login", data={"username": username, "password": "wrong-password"})
    monkeypatch.setattr(user_model, "check_password_hash", original)
    assert response.status_code == 401
    return len(calls)


def test_unknown_wrong_locked_and_inactive_accounts_answer_alike_after_one_hash_check(app, runtime, city, monkeypatch):
    for _ in range(5):
        client_at(app).post("/staff/login", data={"username": "leader", "password": "guess"})
    with runtime.db.transaction() as s:
        s.scalars(select(User).where(User.username == "auditor")).one().active = False
    answers = {
        name: client_at(app).post("/staff/login", data={"username": name, "password": "x"})
        for name in ("no-such-user", "dispatcher", "leader", "auditor")
    }
    message = t("login.refused", "zh")
    for name, response in answers.items():
        body = response.get_data(as_text=True).replace(name, "")  # the form shows the username typed
        assert response.status_code == 401 and message in body
    assert len({r.get_data(as_text=True).replace(n, "") for n, r in answers.items()}) == 1
    for name in ("no-such-user", "dispatcher", "leader", "auditor"):
        assert _hash_checks(monkeypatch, app, name) == 1, name
