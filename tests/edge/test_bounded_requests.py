"""No request can stall the service: bounded stats ranges, absurd values refused with 400."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text

from hotline_web.context import db_session


@pytest.fixture
def leader(signed_in):  # type: ignore[no-untyped-def]
    return signed_in("leader")


def test_a_ten_thousand_year_range_is_refused_at_once(leader):
    started = time.perf_counter()
    response = leader.get("/stats/?period=custom&start=0002-01-01&end=9998-12-31")
    assert response.status_code == 400 and time.perf_counter() - started < 2


@pytest.mark.parametrize(
    "query",
    [
        "period=custom&start=2025-01-01&end=2026-06-30",  # more than a year
        "period=day&date=9999-12-31",
        "period=month&date=0001-01-01",
        "period=week&date=1999-12-31",
        "unit=99999999999999999999",
        "unit=4294967296",
        "by=unit%00",
    ],
)
def test_absurd_stats_queries_get_400(leader, query):
    assert leader.get(f"/stats/?{query}").status_code == 400
    assert leader.get(f"/stats/export.csv?{query}").status_code == 400


def test_a_year_is_the_longest_range(leader):
    assert leader.get("/stats/?period=custom&start=2025-07-01&end=2026-06-30").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/stats/ranking?month=9999-12",
        "/stats/weekly?week=0001-01-01",
        "/stats/ranking?min=123456789012345678901234567890",
        "/public/?month=0001-01",
    ],
)
def test_absurd_months_weeks_and_counts_get_400(leader, path):
    assert leader.get(path).status_code == 400


def test_huge_page_numbers_and_ids_are_refused(signed_in):
    admin = signed_in("admin")
    assert admin.get("/staff/admin/audit?page=1000000000000").status_code == 400
    assert admin.get("/staff/admin/audit?page=100000000000000000000").status_code == 400
    assert admin.get("/staff/tickets/99999999999999999999").status_code == 404
    assert admin.post("/staff/admin/users/99999999999/deactivate").status_code == 404


def test_nul_bytes_in_a_query_or_form_get_400(client, signed_in):
    assert client.get("/track?number=2026%00").status_code == 400
    assert client.post("/track", data={"number": "2026-000001\x00", "last4": "1234"}).status_code == 400
    assert client.post("/", data={"description": "路灯坏了\x00三天", "phone": "13800138000"}).status_code == 400
    assert signed_in("admin").get("/staff/admin/audit?actor=a%00b").status_code == 400


def test_absurd_dates_in_staff_filters_get_400(signed_in):
    dispatcher = signed_in("dispatcher")
    assert dispatcher.get("/staff/tickets?to=9999-12-31").status_code == 400
    assert signed_in("admin").get("/staff/admin/audit?from=0001-01-01&to=9999-12-31").status_code == 400


@pytest.mark.committed  # a transaction-local setting: a savepoint does not end it
def test_read_only_pages_run_under_a_statement_timeout_on_postgresql(app, runtime, backend):
    if backend != "postgres":
        pytest.skip("statement timeouts are a PostgreSQL setting; SQLite has none")
    with app.test_request_context("/stats/", method="GET"):
        assert db_session().execute(text("SHOW statement_timeout")).scalar() == "15s"
    with app.test_request_context("/track", method="POST"):
        assert db_session().execute(text("SHOW statement_timeout")).scalar() == "0"


@pytest.mark.committed  # a transaction-local setting: a savepoint does not end it
def test_a_statement_over_the_timeout_is_a_503_not_a_500(app, runtime, backend, signed_in):
    if backend != "postgres":
        pytest.skip("statement timeouts are a PostgreSQL setting; SQLite has none")
    import dataclasses

    @app.get("/stats/slow-test-only")
    def slow():  # type: ignore[no-untyped-def]
        db_session().execute(text("SELECT pg_sleep(0.5)"))
        return "done"

    leader = signed_in("leader")
    # well under the 0.5 s sleep, well over loading the signed-in user on a loaded machine (1 ms flaked)
    runtime.settings = dataclasses.replace(runtime.settings, statement_timeout_ms=200)

    assert leader.get("/stats/slow-test-only").status_code == 503


# --- found walking the forms by hand on PostgreSQL (issue 11, point 6) -------------------------------


def test_an_id_beyond_a_database_integer_in_a_form_is_refused_not_a_500(runtime, signed_in):
    from sqlalchemy import select

    from hotline_core.models import Ticket
    from tests.factories import complaint

    ticket = complaint(runtime, phone="+8613800138000")
    with runtime.db.session() as s:
        number = s.scalars(select(Ticket.number).where(Ticket.id == ticket.id)).one()
    dispatcher = signed_in("dispatcher")
    for value in ("2147483648", "99999999999999"):
        response = dispatcher.post(f"/staff/tickets/{number}/route", data={"lead_unit": value})
        assert response.status_code == 400, (value, response.status_code)


@pytest.mark.committed  # on PostgreSQL the refused statement aborts its transaction, as in service
def test_an_id_beyond_a_database_integer_anywhere_else_is_a_400(signed_in):
    """Whatever view forgot a bound: a value the database refuses is the request's fault (400)."""
    assert signed_in("dispatcher").get("/staff/tickets?category=2147483648&unit=99999999999").status_code == 200
    auditor = signed_in("auditor")
    for unit in ("2147483648", "NaN", "2199-12-31T23:59"):
        assert auditor.post("/staff/mystery/hotlines", data={"unit": unit, "number": "045912345"}).status_code < 500
