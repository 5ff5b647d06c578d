"""The schema comes from alembic on both databases, and the CLI drives a running service."""

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from werkzeug.serving import make_server

from hotline_app.cli import main
from hotline_core.db import Base
from hotline_core.models import Ticket


@pytest.mark.committed  # inspects the schema through an engine of its own
def test_the_migrated_schema_matches_the_models(settings):
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.committed  # a served app, the embedded worker threads and the CLI's own runtime
def test_simulate_sms_and_call_talk_to_a_running_service(app, runtime, settings, monkeypatch):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(settings.instance_path))
    monkeypatch.setenv("DATABASE_URL", settings.database_url)  # the CLI reads the texted reply from it
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    runtime.jobs.start_embedded()  # the service's worker answers the text
    try:
        runner = CliRunner()
        sms = runner.invoke(main, ["simulate", "sms", "--from", "+8613800138000", "--url", url, "路灯坏了三天没人修"])
        call = runner.invoke(
            main, ["simulate", "call", "--from", "+8613900139000", "--say", "窗口态度差", "--url", url]
        )
    finally:
        server.shutdown()
        runtime.jobs.stop_embedded()
    assert sms.exit_code == 0, sms.output
    assert "< 【效能投诉热线】您的投诉已受理，工单号" in sms.output
    assert call.exit_code == 0, call.output
    assert "工单号是" in call.output
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 2


def test_simulate_explains_when_the_service_is_not_running():
    result = CliRunner().invoke(
        main, ["simulate", "sms", "--from", "+8613800138000", "--url", "http://127.0.0.1:1", "hello"]
    )
    assert result.exit_code == 1 and "cannot reach the hotline" in result.output


def test_check_config_reports_a_bad_setting_clearly(monkeypatch):
    monkeypatch.setenv("HOTLINE_TIMEZONE", "Nowhere/Land")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 1 and "HOTLINE_TIMEZONE" in result.output


@pytest.mark.committed  # the CLI builds its own runtime
def test_directory_import_and_export_from_the_command_line(settings, runtime, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(settings.instance_path))
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    good = tmp_path / "city.yaml"
    good.write_text("units:\n  - {code: U1, name_zh: 一局, name_en: Bureau One}\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "units:\n  - {code: U2, name_zh: 二局}\n  - {code: U3, name_zh: 三局, name_en: B3, kind: x}\n", encoding="utf-8"
    )
    runner = CliRunner()
    ok = runner.invoke(main, ["directory", "import", str(good)])
    assert ok.exit_code == 0 and "units: 1 new" in ok.output
    refused = runner.invoke(main, ["directory", "import", str(bad)])
    assert refused.exit_code == 1
    assert "line 2: units[0]: name_en is required" in refused.output
    assert "line 3: units[1]: kind 'x'" in refused.output
    assert "nothing was imported" in refused.output
    out = tmp_path / "export.yaml"
    assert runner.invoke(main, ["directory", "export", str(out)]).exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert "U1" in text and "U2" not in text


@pytest.mark.committed  # the CLI builds its own runtime
def test_a_directory_import_and_a_touch_renew_the_stamp_workers_cache_behind(settings, runtime, tmp_path, monkeypatch):
    from hotline_core import stamps

    def token() -> str | None:
        with runtime.db.session() as s:
            return stamps.read(s)

    for name, value in (("DATABASE_URL", settings.database_url), ("SECRET_KEY", settings.secret_key)):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(settings.instance_path))
    if settings.redis_url:
        monkeypatch.setenv("REDIS_URL", settings.redis_url)
    city = tmp_path / "city.yaml"
    city.write_text("units:\n  - {code: U1, name_zh: 一局, name_en: Bureau One}\n", encoding="utf-8")
    before = token()
    assert CliRunner().invoke(main, ["directory", "import", str(city)]).exit_code == 0
    imported = token()
    touched = CliRunner().invoke(main, ["directory", "touch"])
    assert touched.exit_code == 0 and "directory stamp renewed" in touched.output
    assert len({before, imported, token()}) == 3 and None not in (imported, token())
