"""Failures are visible and recoverable: per-event backoff, a failed list, /healthz, the CLI, 503."""

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from hotline_app.cli import main
from hotline_core.models import AuditEntry, InboundEvent, Ticket
from intake import inbound
from simulator.twilio_requests import sign, sms_form
from tests.factories import demo_city
from webhooks import processors

CITIZEN = "+8613800138000"


def store(runtime, sid):
    form = sms_form(CITIZEN, "+8612345000000", f"投诉 {sid}", message_sid=sid)
    return inbound.receive(
        runtime, kind="sms", dedupe_key=f"sms:{sid}", url="https://x", form=form, headers={}
    ).event_id


def event(runtime, event_id):
    with runtime.db.session() as s:
        return s.get(InboundEvent, event_id)


@pytest.fixture
def broken(monkeypatch):
    real = processors.PROCESSORS["sms"]

    def fail(*args, **kwargs):
        raise RuntimeError("processor bug")

    monkeypatch.setitem(processors.PROCESSORS, "sms", fail)
    return lambda: monkeypatch.setitem(processors.PROCESSORS, "sms", real)


def fail_until_given_up(runtime, event_id, clock):
    for _ in range(inbound.MAX_ATTEMPTS):
        inbound.process(runtime, event_id, deferred=True)
        clock.advance(inbound.RETRY_MAX_SECONDS + 1)


def test_each_failed_event_backs_off_on_its_own(runtime, clock, broken):
    old = store(runtime, "SMold")
    for _ in range(4):
        inbound.process(runtime, old, deferred=True)
    new = store(runtime, "SMnew")
    inbound.process(runtime, new, deferred=True)
    assert event(runtime, old).next_attempt_at - runtime.now() == pytest.approx(
        timedelta(seconds=240), abs=timedelta(seconds=1)
    )
    assert event(runtime, new).next_attempt_at - runtime.now() == pytest.approx(
        timedelta(seconds=30), abs=timedelta(seconds=1)
    )

    clock.advance(60)
    enqueued = []
    runtime.jobs.enqueue = lambda func, *args, **kw: enqueued.append(args) or True  # type: ignore[method-assign]
    inbound.sweep_job()
    assert enqueued == [(new,)]  # the new failure is retried; the old one waits for its backoff


def test_an_event_that_keeps_failing_leaves_the_retry_loop_with_its_error(runtime, clock, broken):
    event_id = store(runtime, "SMbad")
    fail_until_given_up(runtime, event_id, clock)
    row = event(runtime, event_id)
    assert row.failed_at is not None and "processor bug" in row.error and row.attempts == inbound.MAX_ATTEMPTS
    with runtime.db.session() as s:
        assert [e.id for e in inbound.failed_events(s)] == [event_id]
    assert inbound.sweep_job() == 0


def test_healthz_reports_failed_events_schema_and_redis(client, runtime, clock, broken):
    fail_until_given_up(runtime, store(runtime, "SMbad"), clock)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["failed_inbound_events"] == 1 and body["schema"] == "current" and body["redis"] == "ok"


def test_the_admin_page_lists_failed_events_and_a_retry_is_audited(client, runtime, clock, broken):
    event_id = store(runtime, "SMbad")
    fail_until_given_up(runtime, event_id, clock)
    demo_city(runtime)
    assert client.post("/staff/login", data={"username": "admin", "password": "admin-demo-2026"}).status_code == 302
    page = client.get("/staff/admin/inbound?lang=en").get_data(as_text=True)
    assert "1 failed" in page and "processor bug" in page and "SMbad" in page

    broken()  # the bug is fixed
    response = client.post(f"/staff/admin/inbound/{event_id}/retry")
    assert response.status_code == 302
    assert event(runtime, event_id).processed_at is not None
    runtime.jobs.run_burst()
    with runtime.db.session() as s:
        assert s.scalars(select(Ticket.source_ref)).all() == ["SMbad"]
        [entry] = s.scalars(select(AuditEntry).where(AuditEntry.action == "inbound.retry")).all()
    assert entry.object_id == str(event_id) and entry.details == {"ok": True}


def test_only_admins_may_retry(client, runtime, clock, broken):
    demo_city(runtime)
    event_id = store(runtime, "SMbad")
    fail_until_given_up(runtime, event_id, clock)
    client.post("/staff/login", data={"username": "dispatcher", "password": "dispatcher-demo-2026"})
    assert client.post(f"/staff/admin/inbound/{event_id}/retry").status_code == 403
    assert event(runtime, event_id).processed_at is None


@pytest.mark.committed  # the CLI builds its own runtime
def test_the_cli_lists_and_retries_failed_events(runtime, settings, clock, broken, monkeypatch):
    event_id = store(runtime, "SMbad")
    fail_until_given_up(runtime, event_id, clock)
    monkeypatch.setattr("hotline_app.cli._settings", lambda: settings)
    listed = CliRunner().invoke(main, ["inbound", "failed"])
    assert listed.exit_code == 0 and f"{event_id}\tsms" in listed.output and "processor bug" in listed.output
    broken()
    retried = CliRunner().invoke(main, ["inbound", "retry", "--all"])
    assert retried.exit_code == 0, retried.output
    assert event(runtime, event_id).processed_at is not None
    with runtime.db.session() as s:
        assert s.scalars(select(AuditEntry.actor).where(AuditEntry.action == "inbound.retry")).all() == ["cli"]


def set_revision(runtime, revision):
    with runtime.db.transaction() as s:
        s.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


def test_an_unmigrated_database_gets_503_on_webhooks_and_healthz(runtime, settings):
    from hotline_app.factory import create_app
    from hotline_core.migrate import head_revision

    set_revision(runtime, "0006")
    try:
        app = create_app(runtime=runtime)
        client = app.test_client()
        form = sms_form(CITIZEN, "+8612345000000", "窗口推诿")
        headers = {"X-Twilio-Signature": sign(settings.webhook_auth_token, "http://localhost/twilio/sms", form)}
        response = client.post("/twilio/sms", data=form, headers=headers)
        assert response.status_code == 503 and b"migrat" in response.data
        assert client.get("/healthz").status_code == 503
    finally:
        set_revision(runtime, head_revision())
