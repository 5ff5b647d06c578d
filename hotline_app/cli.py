"""The ``hotline`` command: run, migrate, load the demo, start workers, simulate a phone."""

from __future__ import annotations

import logging
import os
import sys

import click

from hotline_core.runtime import set_current
from hotline_core.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env(keep_secret=True)
    except SettingsError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """hotline: the city's efficiency complaint hotline."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply alembic migrations (SQLite or PostgreSQL)."""
    from hotline_core.migrate import upgrade

    settings = _settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}: {settings.database_url.split('@')[-1]}")


@main.group()
def demo() -> None:
    """The demo city."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo directory, users and sample tickets (safe to run again). Refused in production:
    the demo users' passwords are published."""
    from hotline_app.bootstrap import bootstrap
    from hotline_app.demo import demo_credentials, load_demo

    settings = _settings()
    if settings.environment == "production":
        raise click.ClickException(
            "refusing to load the demo city in production: its users have published passwords. "
            "Create the first account with `hotline users create-admin`."
        )
    runtime = bootstrap(settings)
    created = load_demo(runtime)
    runtime.jobs.run_burst() if runtime.jobs.embedded else None
    click.echo(f"demo city loaded ({len(created)} new users)")
    _print_credentials(demo_credentials())


def _print_credentials(rows: list[tuple[str, str, str]]) -> None:
    click.echo("Demo sign-in (http://127.0.0.1:5000/staff/login):")
    for username, role, password in rows:
        click.echo(f"  {role:<11} {username:<11} {password}")


@main.group()
def users() -> None:
    """Staff accounts."""


@users.command("create-admin")
@click.option("--username", required=True)
@click.option("--name", "display_name", default=None, help="Display name (default: the username).")
@click.password_option(help="Prompted for (twice) when not given.")
def users_create_admin(username: str, display_name: str | None, password: str) -> None:
    """Create an admin account (the first account of a new installation)."""
    from sqlalchemy import select

    from hotline_app.bootstrap import bootstrap
    from hotline_core.models import Role, User

    username = username.strip()
    if not username or len(username) > 80:
        raise click.ClickException("the username must have 1 to 80 characters")
    if len(password) < MIN_ADMIN_PASSWORD:
        raise click.ClickException(f"the password must have at least {MIN_ADMIN_PASSWORD} characters")
    runtime = bootstrap(_settings())
    try:
        with runtime.db.transaction() as s:
            if s.scalars(select(User).where(User.username == username)).first() is not None:
                raise click.ClickException(f"a user {username!r} already exists")
            user = User(username=username, display_name=(display_name or username)[:100], role=Role.ADMIN)
            user.set_password(password)
            s.add(user)
    finally:
        runtime.db.dispose()
    click.echo(f"admin {username!r} created")


MIN_ADMIN_PASSWORD = 12


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def run(host: str, port: int) -> None:
    """Serve the web app with background jobs in-process (embedded mode) or on Redis workers."""
    from hotline_app.demo import demo_credentials
    from hotline_app.factory import create_app

    app = create_app(_settings())
    runtime = app.extensions["hotline"]
    if runtime.jobs.embedded and runtime.settings.embedded_worker:
        set_current(runtime)  # the in-process worker's jobs find the runtime here
        runtime.jobs.start_embedded()
        click.echo("background jobs: in-process worker (no REDIS_URL)")
    else:
        click.echo("background jobs: Redis; start workers with `hotline worker`")
    _print_credentials(demo_credentials())
    click.echo(f"phone simulator: http://{host}:{port}/dev/simulator/   (or `hotline simulate sms ...`)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@main.command()
@click.option("--burst", is_flag=True, help="Run queued jobs, then exit.")
@click.option("--name", default=None)
@click.option("--no-beat", is_flag=True, help="Do not enqueue periodic sweeps from this worker.")
@click.option(
    "--queues",
    default=None,
    help="Comma-separated queues to serve (default: all, most urgent first); e.g. 'messages' for a sender "
    "that keeps sending during a burst of texts.",
)
def worker(burst: bool, name: str | None, no_beat: bool, queues: str | None) -> None:
    """An RQ worker for the hotline's queues (needs REDIS_URL)."""
    from hotline_app.worker import run_worker

    settings = _settings()
    if not settings.redis_url and not burst:
        raise click.ClickException("REDIS_URL is not set: in embedded mode `hotline run` runs the jobs")
    from hotline_core.queue import QUEUE_NAMES

    chosen = tuple(q.strip() for q in queues.split(",") if q.strip()) if queues else None
    if chosen and any(q not in QUEUE_NAMES for q in chosen):
        raise click.BadParameter(f"queues are {', '.join(QUEUE_NAMES)}", param_hint="--queues")
    sys.exit(0 if run_worker(settings, burst=burst, name=name, beat=not no_beat, queues=chosen) is not None else 1)


REPLY_WAIT_SECONDS = 10


@main.group()
def simulate() -> None:
    """Play Twilio's part against a running service, with correctly signed webhooks."""


def _phone(url: str, *, read_texts: bool = False):  # type: ignore[no-untyped-def]
    import requests

    from simulator.twilio_requests import Phone, http_transport

    settings = _settings()
    base = settings.public_base_url or url
    transport = http_transport(url)
    texts = None
    if read_texts:  # the service answers texts by SMS: read them from its outbox (same DATABASE_URL)
        from sqlalchemy.exc import SQLAlchemyError

        from hotline_app.bootstrap import bootstrap
        from simulator.replies import OutboxTexts

        try:
            texts = OutboxTexts(bootstrap(settings), timeout=REPLY_WAIT_SECONDS)
        except SQLAlchemyError as exc:
            click.echo(f"(cannot read the service's outbox, so its replies are not shown: {exc.__class__.__name__})")

    def checked(path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        try:
            return transport(path, form, headers)
        except requests.RequestException as exc:
            raise click.ClickException(f"cannot reach the hotline at {url}: is `make run` running? ({exc})") from exc

    return Phone(base, settings.webhook_auth_token, checked, settings.hotline_number, read_texts=texts)


@simulate.command("sms")
@click.option("--from", "from_number", required=True, help="The citizen's number, e.g. +8613800138000")
@click.option("--url", default=lambda: os.environ.get("HOTLINE_URL", "http://127.0.0.1:5000"), show_default=True)
@click.option("--media", multiple=True, help="An MMS media URL (repeatable).")
@click.argument("body")
def simulate_sms(from_number: str, url: str, media: tuple[str, ...], body: str) -> None:
    """Text BODY to the hotline and print the texts it sends back."""
    phone = _phone(url, read_texts=True)
    exchange = phone.text(from_number, body, media=[(m, "image/jpeg") for m in media])
    click.echo(f"> {body}")
    for line in exchange.replies or [f"(no reply within {REPLY_WAIT_SECONDS} s: is a worker running?)"]:
        click.echo(f"< {line}")
    if exchange.status != 200:
        raise click.ClickException(f"HTTP {exchange.status}: {exchange.body.strip()}")


@simulate.command("call")
@click.option("--from", "from_number", required=True)
@click.option("--say", "speech", default="", help="What the caller says (empty: silence).")
@click.option("--english", is_flag=True, help="Press 1 for English first.")
@click.option("--recording-seconds", default=8, type=int, help="Length of the follow-up recording (0: none).")
@click.option("--confidence", default=0.92, type=float)
@click.option("--url", default=lambda: os.environ.get("HOTLINE_URL", "http://127.0.0.1:5000"), show_default=True)
def simulate_call(
    from_number: str, speech: str, english: bool, recording_seconds: int, confidence: float, url: str
) -> None:
    """Call the hotline: hear the greeting, speak, record, hear the ticket number."""
    phone = _phone(url)
    for exchange in phone.call(
        from_number, speech=speech, english=english, recording_seconds=recording_seconds, confidence=confidence
    ):
        said = (
            exchange.form.get("SpeechResult")
            or exchange.form.get("Digits")
            or ("[recording]" if exchange.form.get("RecordingUrl") else "")
        )
        if said:
            click.echo(f"> {said}")
        for line in exchange.says:
            click.echo(f"< {line}")
        if exchange.status not in (200, 204):
            raise click.ClickException(f"{exchange.path}: HTTP {exchange.status}: {exchange.body.strip()}")


@main.group("directory")
def directory_group() -> None:
    """The dispatch directory: units, areas, categories, routing rules, policies."""


@directory_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--table",
    type=click.Choice(["units", "areas", "categories", "rules"]),
    help="For a CSV file: which table it holds (default: the file name).",
)
def directory_import(path: str, table: str | None) -> None:
    """Import a YAML directory (or one CSV table). All or nothing; every error is listed with its line."""
    from pathlib import Path

    from hotline_app.bootstrap import bootstrap
    from routing import directory

    runtime = bootstrap(_settings())
    try:
        parsed = directory.read_file(Path(path), table)
        with runtime.db.transaction() as session:
            summary = directory.import_directory(session, parsed, runtime.now(), runtime.settings.default_region)
    except directory.DirectoryError as exc:
        for problem in exc.problems:
            click.echo(f"{path}: {problem}", err=True)
        raise click.ClickException(f"{len(exc.problems)} problem(s); nothing was imported") from None
    click.echo(f"imported {path}: {summary}")


@directory_group.command("touch")
def directory_touch() -> None:
    """Renew the directory's stamp, so every worker re-reads the directory, routing settings and
    classifier before its next batch. Needed only after changing those tables with raw SQL: changes
    made through the service renew it themselves."""
    from hotline_app.bootstrap import bootstrap
    from hotline_core import stamps

    runtime = bootstrap(_settings())
    with runtime.db.transaction() as session:
        token = stamps.bump(session)
    click.echo(f"directory stamp renewed: {token}")


@directory_group.command("export")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option(
    "--table",
    type=click.Choice(["units", "areas", "categories", "rules"]),
    help="Write one table as CSV instead of the whole directory as YAML.",
)
def directory_export(path: str, table: str | None) -> None:
    """Export the directory (active rules) as YAML, or one table as CSV."""
    from pathlib import Path

    from hotline_app.bootstrap import bootstrap
    from routing import directory

    runtime = bootstrap(_settings())
    with runtime.db.session() as session:
        data = directory.export_directory(session)
    text = directory.dump_csv(data, table) if table else directory.dump_yaml(data)
    Path(path).write_text(text, encoding="utf-8")
    click.echo(f"wrote {path}")


@main.group()
def routing() -> None:
    """Routing jobs by hand."""


@routing.command("sweep")
def routing_sweep() -> None:
    """Run the escalation sweep once now."""
    from hotline_app.bootstrap import bootstrap
    from routing import escalation

    runtime = bootstrap(_settings())
    click.echo(escalation.sweep(runtime))
    if runtime.jobs.embedded:
        runtime.jobs.run_burst()


@main.group("open311")
def open311_group() -> None:
    """The Open311 GeoReport v2 API."""


@open311_group.group("keys")
def open311_keys() -> None:
    """API keys of client apps (stored hashed; a key is printed once)."""


def _open311_key_action(action: str, name: str, rate_limit: str | None = None) -> None:
    from hotline_app.bootstrap import bootstrap
    from hotline_core.audit import Actor
    from hotline_core.errors import HotlineError
    from open311 import services

    runtime = bootstrap(_settings())
    actor = Actor(f"cli:{os.environ.get('USER', 'admin')}")
    try:
        with runtime.db.transaction() as session:
            if action == "create":
                key, secret = services.create_key(session, name, runtime.now(), actor, rate_limit or "60/minute")
            elif action == "rotate":
                key, secret = services.rotate_key(session, name, runtime.now(), actor)
            else:
                key, secret = services.revoke_key(session, name, runtime.now(), actor), None
    except HotlineError as exc:
        raise click.ClickException(exc.message("en")) from None
    if secret:
        click.echo(f"{key.name}: {secret}")
        click.echo("This key is shown once; only its hash is kept.", err=True)
    else:
        click.echo(f"{key.name}: revoked")


@open311_keys.command("create")
@click.argument("name")
@click.option("--rate-limit", default="60/minute", show_default=True, help="Requests allowed per key, e.g. 120/minute.")
def open311_keys_create(name: str, rate_limit: str) -> None:
    """Issue a key named NAME and print it once."""
    _open311_key_action("create", name, rate_limit)


@open311_keys.command("rotate")
@click.argument("name")
def open311_keys_rotate(name: str) -> None:
    """Give NAME a new key (printed once); the old one stops working."""
    _open311_key_action("rotate", name)


@open311_keys.command("revoke")
@click.argument("name")
def open311_keys_revoke(name: str) -> None:
    """Revoke NAME's key."""
    _open311_key_action("revoke", name)


@open311_keys.command("list")
def open311_keys_list() -> None:
    """Every key: name, prefix, rate limit, state, last use."""
    from hotline_app.bootstrap import bootstrap
    from open311 import services

    runtime = bootstrap(_settings())
    with runtime.db.session() as session:
        for key in services.list_keys(session):
            state = "active" if key.active else "revoked"
            used = key.last_used_at.isoformat() if key.last_used_at else "-"
            click.echo(f"{key.name}\t{key.key_prefix}…\t{key.rate_limit}\t{state}\t{used}")


@main.group()
def inbound() -> None:
    """Inbound Twilio events that failed: list them, retry them."""


@inbound.command("failed")
def inbound_failed() -> None:
    """List the events that left the retry loop, with their errors."""
    from hotline_app.bootstrap import bootstrap
    from intake import inbound as events

    runtime = bootstrap(_settings())
    with runtime.db.session() as session:
        rows = events.failed_events(session, limit=10_000)
    for event in rows:
        click.echo(f"{event.id}\t{event.kind}\t{event.attempts}\t{event.received_at.isoformat()}\t{event.error}")
    click.echo(f"{len(rows)} failed")


@inbound.command("retry")
@click.argument("event_id", required=False, type=int)
@click.option("--all", "retry_all", is_flag=True, help="Retry every failed event.")
def inbound_retry(event_id: int | None, retry_all: bool) -> None:
    """Retry one failed event (ID) or all of them now; each retry is in the audit trail."""
    from hotline_app.bootstrap import bootstrap
    from hotline_core.audit import Actor, record
    from hotline_core.models import InboundEvent
    from intake import inbound as events

    if (event_id is None) == (not retry_all):
        raise click.UsageError("give an event ID or --all")
    runtime = bootstrap(_settings())
    with runtime.db.session() as session:
        ids = [e.id for e in events.failed_events(session, limit=10_000)] if retry_all else [int(event_id or 0)]
    failed = 0
    for one in ids:
        ok = events.retry(runtime, one)
        with runtime.db.transaction() as session:
            record(session, Actor("cli"), "inbound.retry", session.get(InboundEvent, one), ok=ok)
        click.echo(f"{one}\t{'ok' if ok else 'failed again'}")
        failed += not ok
    if runtime.jobs.embedded:
        runtime.jobs.run_burst()
    if failed:
        sys.exit(1)


@main.group()
def classifier() -> None:
    """The learned complaint classifier."""


@classifier.command("train")
@click.option("--csv", "csv_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--with-history", is_flag=True, help="Add the tickets dispatchers have routed.")
def classifier_train(csv_path: str, text_column: str, label_column: str, with_history: bool) -> None:
    """Train on a labelled CSV (labels: category codes or names) and activate the new version."""
    from pathlib import Path

    from hotline_app.bootstrap import bootstrap
    from routing.training import TrainingError, train_from_csv

    runtime = bootstrap(_settings())
    try:
        version = train_from_csv(
            runtime, Path(csv_path), text_column=text_column, label_column=label_column, with_history=with_history
        )
    except (TrainingError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"trained and activated classifier {version}")


@classifier.command("evaluate")
@click.option("--train", "train_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--test", "test_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--text-column", default="text", show_default=True)
@click.option("--label-column", default="label", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def classifier_evaluate(train_path: str, test_path: str, text_column: str, label_column: str, as_json: bool) -> None:
    """Train on one file, test on another: accuracy, macro-F1, per-class table, precision at coverage."""
    import json
    from pathlib import Path

    from routing.training import TrainingError, evaluate_files

    try:
        report = evaluate_files(Path(train_path), Path(test_path), text_column=text_column, label_column=label_column)
    except (TrainingError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    click.echo(f"model {report['model_version']}  n={report['n']}")
    click.echo(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    for point in report["coverage"]:
        click.echo(
            f"precision at {point['target_coverage']:.0%} coverage: {point['precision']:.4f} "
            f"(confidence >= {point['threshold']:.3f})"
        )
    click.echo(f"{'class':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for name, row in report["per_class"].items():
        click.echo(f"{name:<24}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1']:>10.3f}{row['support']:>9}")


@main.command("check-config")
def check_config() -> None:
    """Parse the environment and print the effective settings (secrets hidden)."""
    s = _settings()
    for key in (
        "environment",
        "database_url",
        "redis_url",
        "public_base_url",
        "timezone",
        "default_region",
        "default_language",
        "twilio_configured",
        "sms_segments_per_second",
    ):
        value = getattr(s, key)
        if key == "database_url" and "@" in str(value):
            value = "…@" + str(value).split("@")[-1]
        click.echo(f"{key}: {value}")


if __name__ == "__main__":
    main()
