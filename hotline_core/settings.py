"""Configuration, read from environment variables in one place.

Every value is parsed and checked here so that a bad setting stops the service at start-up with a
message naming the variable, instead of failing later inside a request.
"""

from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def _int(name: str, raw: str, minimum: int | None = None) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _float(name: str, raw: str, minimum: float | None = None) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _cron(name: str, raw: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(raw.strip()):
        raise SettingsError(f"{name}={raw!r} is not a cron expression (minute hour day month weekday)")
    return raw.strip()


LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with. Build it with :meth:`from_env`."""

    instance_path: Path
    database_url: str
    redis_url: str | None
    secret_key: str
    environment: str = "development"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_phone_number: str | None = None
    twilio_api_base_url: str | None = None
    public_base_url: str | None = None
    skip_twilio_signature: bool = False
    timezone: str = "Asia/Shanghai"
    default_region: str = "CN"
    default_language: str = "zh"
    sms_thread_window_hours: float = 24.0
    sms_segments_per_second: float = 1.0
    sms_send_concurrency: int = 0  # 0: enough for the rate (see send_concurrency)
    outbox_max_attempts: int = 6
    webhook_max_bytes: int = 64 * 1024
    upload_max_bytes: int = 5 * 1024 * 1024
    upload_max_files: int = 3
    speech_min_confidence: float = 0.4
    embedded_worker: bool = True
    # Workers cache the directory, routing settings and classifier behind the directory's stamp
    # (routing.inputs); off re-reads them for every batch (a check that the cache changes nothing).
    routing_cache: bool = True
    survey_reply_hours: float = 72.0
    bulletin_cron: str = "0 8 * * 1"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = None
    smtp_starttls: bool = False
    trusted_proxies: int = 0
    ack_regions: tuple[str, ...] = ()
    web_ack_window_hours: float = 24.0
    limit_login_client: str = "10 per minute; 60 per hour"
    limit_track_ticket: str = "5 per 15 minutes"
    limit_track_client: str = "30 per hour"
    limit_form_client: str = "10 per hour"
    limit_form_phone: str = "3 per hour"
    statement_timeout_ms: int = 15000
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host and self.smtp_from)

    @property
    def uses_redis(self) -> bool:
        return bool(self.redis_url)

    @property
    def send_concurrency(self) -> int:
        """How many texts a dispatcher has in flight at Twilio at once. Unset (0): enough to keep
        the rate while Twilio takes 400 ms to answer (``rate × 0.4``), at least 2, at most 32."""
        if self.sms_send_concurrency:
            return self.sms_send_concurrency
        return min(max(math.ceil(self.sms_segments_per_second * 0.4), 2), 32)

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_phone_number)

    @property
    def webhook_auth_token(self) -> str:
        """The token that signs Twilio webhooks.

        With a Twilio account this is its auth token. Without one (a demo, the phone simulator) it
        is derived from the secret key, so the simulator can still sign requests exactly as Twilio
        would and the signature check is never switched off by default.
        """
        if self.twilio_auth_token:
            return self.twilio_auth_token
        import hashlib
        import hmac

        return hmac.new(self.secret_key.encode(), b"twilio-simulator", hashlib.sha256).hexdigest()[:32]

    @property
    def acknowledgement_regions(self) -> tuple[str, ...]:
        """Phone regions the web form may text an acknowledgement to (default: the default region)."""
        return self.ack_regions or (self.default_region,)

    @property
    def hotline_number(self) -> str:
        return self.twilio_phone_number or "+8612345000000"

    def with_overrides(self, **changes: Any) -> Settings:
        new = replace(self, **changes)
        new.validate()
        return new

    def validate(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"HOTLINE_TIMEZONE={self.timezone!r} is not a known IANA timezone") from None
        if self.default_region not in phonenumbers.SUPPORTED_REGIONS:
            raise SettingsError(f"HOTLINE_DEFAULT_REGION={self.default_region!r} is not a phone region code")
        if self.default_language not in LANGUAGES:
            raise SettingsError(f"HOTLINE_DEFAULT_LANGUAGE={self.default_language!r} must be one of {LANGUAGES}")
        if not (self.database_url.startswith("sqlite") or self.database_url.startswith("postgresql")):
            raise SettingsError("DATABASE_URL must be an sqlite:// or postgresql:// URL")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("REDIS_URL must be a redis://, rediss:// or unix:// URL")
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            raise SettingsError("PUBLIC_BASE_URL must start with http:// or https://")
        if self.skip_twilio_signature and (
            self.environment == "production" or (self.public_base_url or "").startswith("https://")
        ):
            raise SettingsError(
                "TWILIO_SKIP_SIGNATURE is a development switch: it cannot be on in production "
                "or when PUBLIC_BASE_URL is https"
            )
        unknown = [r for r in self.ack_regions if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise SettingsError(f"HOTLINE_SMS_ACK_REGIONS has unknown phone regions: {', '.join(unknown)}")
        from limits import parse_many

        for name, value in (
            ("HOTLINE_LIMIT_LOGIN", self.limit_login_client),
            ("HOTLINE_LIMIT_TRACK_TICKET", self.limit_track_ticket),
            ("HOTLINE_LIMIT_TRACK_CLIENT", self.limit_track_client),
            ("HOTLINE_LIMIT_FORM_CLIENT", self.limit_form_client),
            ("HOTLINE_LIMIT_FORM_PHONE", self.limit_form_phone),
        ):
            try:
                parse_many(value)
            except ValueError:
                raise SettingsError(f"{name}={value!r} is not a rate limit such as '5 per 15 minutes'") from None
        partial = [self.twilio_account_sid, self.twilio_auth_token, self.twilio_phone_number]
        if any(partial) and not all(partial):
            raise SettingsError(
                "Set all of TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_PHONE_NUMBER, or none of them"
            )
        if self.environment == "production":
            if self.extra.get("secret_key_generated"):
                raise SettingsError("SECRET_KEY must be set in production")
            if self.database_url.startswith("sqlite"):
                raise SettingsError("production needs DATABASE_URL pointing at PostgreSQL")
            if not self.redis_url:
                raise SettingsError("production needs REDIS_URL")
        if self.smtp_host and not self.smtp_from:
            raise SettingsError("HOTLINE_SMTP_HOST needs HOTLINE_SMTP_FROM (the bulletin's sender address)")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, *, keep_secret: bool = False, **overrides: Any) -> Settings:
        """Read the settings from ``env`` (default: the process environment).

        Without ``SECRET_KEY`` outside production, the development secret in the instance folder is
        used if it exists; only with ``keep_secret`` (the CLI and ``wsgi.py``, so that sessions and
        the simulator's signatures survive restarts) is one generated and written there. Otherwise
        a fresh secret lives as long as the process and nothing is written.
        """
        env = dict(os.environ if env is None else env)
        instance = Path(env.get("HOTLINE_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
        environment = env.get("HOTLINE_ENV", "development").strip().lower()
        if environment not in {"development", "production", "test"}:
            raise SettingsError(f"HOTLINE_ENV={environment!r} must be development, production or test")

        extra: dict[str, Any] = {}
        secret = env.get("SECRET_KEY", "").strip()
        if not secret:
            secret = _instance_secret(instance, keep=keep_secret) if environment != "production" else "unset"
            extra["secret_key_generated"] = True

        database_url = env.get("DATABASE_URL", "").strip() or f"sqlite:///{instance / 'hotline.sqlite3'}"
        if database_url.startswith("postgres://"):
            database_url = "postgresql://" + database_url[len("postgres://") :]
        if database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        values: dict[str, Any] = dict(
            instance_path=instance,
            database_url=database_url,
            redis_url=get("REDIS_URL"),
            secret_key=secret,
            environment=environment,
            twilio_account_sid=get("TWILIO_ACCOUNT_SID"),
            twilio_auth_token=get("TWILIO_AUTH_TOKEN"),
            twilio_phone_number=get("TWILIO_PHONE_NUMBER"),
            twilio_api_base_url=get("TWILIO_API_BASE_URL"),
            public_base_url=(get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            skip_twilio_signature=_bool("TWILIO_SKIP_SIGNATURE", env.get("TWILIO_SKIP_SIGNATURE", "0")),
            timezone=env.get("HOTLINE_TIMEZONE", "Asia/Shanghai"),
            default_region=env.get("HOTLINE_DEFAULT_REGION", "CN").upper(),
            default_language=env.get("HOTLINE_DEFAULT_LANGUAGE", "zh"),
            sms_thread_window_hours=_float(
                "HOTLINE_SMS_THREAD_WINDOW_HOURS", env.get("HOTLINE_SMS_THREAD_WINDOW_HOURS", "24"), 0
            ),
            sms_segments_per_second=_float(
                "HOTLINE_SMS_SEGMENTS_PER_SECOND", env.get("HOTLINE_SMS_SEGMENTS_PER_SECOND", "1"), 0.01
            ),
            sms_send_concurrency=_int("HOTLINE_SMS_SEND_CONCURRENCY", env.get("HOTLINE_SMS_SEND_CONCURRENCY", "0"), 0),
            outbox_max_attempts=_int("HOTLINE_OUTBOX_MAX_ATTEMPTS", env.get("HOTLINE_OUTBOX_MAX_ATTEMPTS", "6"), 1),
            upload_max_bytes=_int("HOTLINE_UPLOAD_MAX_BYTES", env.get("HOTLINE_UPLOAD_MAX_BYTES", str(5 << 20)), 1),
            embedded_worker=_bool("HOTLINE_EMBEDDED_WORKER", env.get("HOTLINE_EMBEDDED_WORKER", "1")),
            routing_cache=_bool("HOTLINE_ROUTING_CACHE", env.get("HOTLINE_ROUTING_CACHE", "1")),
            survey_reply_hours=_float("HOTLINE_SURVEY_REPLY_HOURS", env.get("HOTLINE_SURVEY_REPLY_HOURS", "72"), 0.01),
            bulletin_cron=_cron("HOTLINE_BULLETIN_CRON", env.get("HOTLINE_BULLETIN_CRON", "0 8 * * 1")),
            smtp_host=get("HOTLINE_SMTP_HOST"),
            smtp_port=_int("HOTLINE_SMTP_PORT", env.get("HOTLINE_SMTP_PORT", "25"), 1),
            smtp_user=get("HOTLINE_SMTP_USER"),
            smtp_password=get("HOTLINE_SMTP_PASSWORD"),
            smtp_from=get("HOTLINE_SMTP_FROM"),
            smtp_starttls=_bool("HOTLINE_SMTP_STARTTLS", env.get("HOTLINE_SMTP_STARTTLS", "0")),
            trusted_proxies=_int("HOTLINE_TRUSTED_PROXIES", env.get("HOTLINE_TRUSTED_PROXIES", "0"), 0),
            ack_regions=tuple(
                r.strip().upper() for r in env.get("HOTLINE_SMS_ACK_REGIONS", "").split(",") if r.strip()
            ),
            web_ack_window_hours=_float(
                "HOTLINE_WEB_ACK_WINDOW_HOURS", env.get("HOTLINE_WEB_ACK_WINDOW_HOURS", "24"), 0
            ),
            statement_timeout_ms=_int(
                "HOTLINE_STATEMENT_TIMEOUT_MS", env.get("HOTLINE_STATEMENT_TIMEOUT_MS", "15000"), 0
            ),
            extra=extra,
        )
        for name, attr in (
            ("HOTLINE_LIMIT_LOGIN", "limit_login_client"),
            ("HOTLINE_LIMIT_TRACK_TICKET", "limit_track_ticket"),
            ("HOTLINE_LIMIT_TRACK_CLIENT", "limit_track_client"),
            ("HOTLINE_LIMIT_FORM_CLIENT", "limit_form_client"),
            ("HOTLINE_LIMIT_FORM_PHONE", "limit_form_phone"),
        ):
            if get(name):
                values[attr] = get(name)
        values.update(overrides)
        settings = cls(**values)
        settings.validate()
        return settings


def _instance_secret(instance: Path, *, keep: bool) -> str:
    """A development secret kept in the instance folder (written only when ``keep``)."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        value = secrets.token_hex(32)
        if not keep:
            return value
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(value)
        path.chmod(0o600)
        return value
