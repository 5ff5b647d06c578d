import pytest

from hotline_core.settings import Settings, SettingsError

BASE = {"SECRET_KEY": "x", "HOTLINE_INSTANCE_PATH": "/tmp/hotline-settings-test"}


def settings(**env: str) -> Settings:
    return Settings.from_env({**BASE, **env})


def test_defaults_are_the_embedded_mode():
    s = settings()
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("hotline.sqlite3")
    assert s.redis_url is None
    assert s.timezone == "Asia/Shanghai"
    assert s.default_region == "CN"
    assert s.default_language == "zh"
    assert not s.twilio_configured


def test_postgres_urls_use_the_psycopg_driver():
    assert settings(DATABASE_URL="postgres://db/hotline").database_url == "postgresql+psycopg://db/hotline"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HOTLINE_TIMEZONE", "Mars/Base", "HOTLINE_TIMEZONE"),
        ("HOTLINE_DEFAULT_REGION", "XX", "HOTLINE_DEFAULT_REGION"),
        ("HOTLINE_DEFAULT_LANGUAGE", "fr", "HOTLINE_DEFAULT_LANGUAGE"),
        ("HOTLINE_SMS_SEGMENTS_PER_SECOND", "fast", "HOTLINE_SMS_SEGMENTS_PER_SECOND"),
        ("HOTLINE_SMS_THREAD_WINDOW_HOURS", "-1", "HOTLINE_SMS_THREAD_WINDOW_HOURS"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL"),
        ("REDIS_URL", "http://redis", "REDIS_URL"),
        ("PUBLIC_BASE_URL", "hotline.example.org", "PUBLIC_BASE_URL"),
        ("TWILIO_SKIP_SIGNATURE", "maybe", "TWILIO_SKIP_SIGNATURE"),
        ("HOTLINE_ENV", "staging", "HOTLINE_ENV"),
    ],
)
def test_bad_values_fail_loudly_naming_the_variable(name, value, message):
    with pytest.raises(SettingsError, match=message):
        settings(**{name: value})


def test_partial_twilio_credentials_are_refused():
    with pytest.raises(SettingsError, match="TWILIO_ACCOUNT_SID"):
        settings(TWILIO_ACCOUNT_SID="AC123")


def test_signature_check_cannot_be_skipped_behind_https():
    with pytest.raises(SettingsError, match="TWILIO_SKIP_SIGNATURE"):
        settings(TWILIO_SKIP_SIGNATURE="1", PUBLIC_BASE_URL="https://hotline.example.org")


def test_signature_check_cannot_be_skipped_in_production():
    with pytest.raises(SettingsError, match="TWILIO_SKIP_SIGNATURE"):
        settings(
            TWILIO_SKIP_SIGNATURE="1", HOTLINE_ENV="production", DATABASE_URL="postgresql://db/h", REDIS_URL="redis://r"
        )


def test_production_needs_a_secret_postgres_and_redis():
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env(
            {
                "HOTLINE_ENV": "production",
                "DATABASE_URL": "postgresql://db/h",
                "REDIS_URL": "redis://r",
                "HOTLINE_INSTANCE_PATH": "/tmp/x",
            }
        )
    with pytest.raises(SettingsError, match="PostgreSQL"):
        settings(HOTLINE_ENV="production", REDIS_URL="redis://r")
    with pytest.raises(SettingsError, match="REDIS_URL"):
        settings(HOTLINE_ENV="production", DATABASE_URL="postgresql://db/h")


def test_a_kept_development_secret_survives_restarts(tmp_path):
    first = Settings.from_env({"HOTLINE_INSTANCE_PATH": str(tmp_path)}, keep_secret=True)
    second = Settings.from_env({"HOTLINE_INSTANCE_PATH": str(tmp_path)})
    assert first.secret_key == second.secret_key and len(first.secret_key) == 64


def test_settings_write_no_secret_unless_asked(tmp_path):
    first = Settings.from_env({"HOTLINE_INSTANCE_PATH": str(tmp_path / "instance")})
    second = Settings.from_env({"HOTLINE_INSTANCE_PATH": str(tmp_path / "instance")})
    assert len(first.secret_key) == 64 and first.secret_key != second.secret_key
    assert not (tmp_path / "instance").exists()


def test_the_app_factory_makes_nothing_current_and_writes_nothing(tmp_path):
    from hotline_app.factory import create_app
    from hotline_core import runtime as runtime_module

    runtime_module.set_current(None)
    env = {"HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"), "DATABASE_URL": f"sqlite:///{tmp_path}/h.sqlite3"}
    app = create_app(Settings.from_env(env))
    assert app.extensions["hotline"].settings.database_url.endswith("h.sqlite3")
    with pytest.raises(RuntimeError, match="no hotline runtime"):
        runtime_module.current()
    assert not (tmp_path / "instance").exists()  # no secret, no upload folder: only the given database is opened
