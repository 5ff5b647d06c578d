"""The Open311 GeoReport v2 endpoints under ``/open311/v2``: parse, call ``open311.services``, serialise.

Clients are apps, not browsers, so the blueprint is CSRF-exempt; writing needs an API key, reading
needs one when the directory says ``read_access: key``. Each key has its own rate limit and every
keyed request is audited.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from flask_wtf.csrf import CSRFProtect

from hotline_core.errors import HotlineError
from hotline_core.i18n import LANGUAGES
from hotline_core.models import Open311Key
from hotline_web.context import db_session, runtime
from open311 import services
from open311.formats import CONTENT_TYPES, render
from open311.limits import RateLimiter

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
FMT = "<any(xml, json):fmt>"


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    """Register the API (CSRF-exempt) and its admin page; the rate limiter counts in Redis if configured."""
    from open311.admin import bp as admin_bp

    app.extensions["open311_limiter"] = RateLimiter(app.extensions["hotline"].settings.redis_url)
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(admin_bp)


# --- helpers -------------------------------------------------------------------------------------


def _param(name: str) -> str | None:
    """A parameter; an empty one counts as absent (the spec's "optional arguments")."""
    value = request.values.get(name)
    return value.strip() if value and value.strip() else None


def _language() -> str:
    chosen = (_param("locale") or "").lower()
    if not chosen:
        chosen = request.accept_languages.best_match(["zh", "zh-CN", "en"]) or "zh"
    chosen = chosen[:2]
    return chosen if chosen in LANGUAGES else "zh"


def _answer(fmt: str, root: str, data: Any, status: int = 200) -> Response:
    return Response(render(fmt, root, data), status=status, content_type=CONTENT_TYPES[fmt])


def _errors(fmt: str, errors: list[HotlineError], status: int) -> Response:
    language = _language()
    body = [{"code": e.status, "description": e.message(language)} for e in errors]
    response = _answer(fmt, "errors", body, status)
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


def _fmt() -> str:
    return (request.view_args or {}).get("fmt") or ("json" if request.path.endswith(".json") else "xml")


@bp.errorhandler(HotlineError)
def _domain_error(exc: HotlineError) -> Response:
    return _errors(_fmt(), [exc], exc.status)


@bp.errorhandler(services.Rejected)
def _rejected(exc: services.Rejected) -> Response:
    return _errors(_fmt(), exc.errors, exc.status)


def _gate(write: bool, action: str) -> tuple[services.Config, Open311Key | None]:
    """Jurisdiction, API key (required to write, or to read when the directory says so), rate limit, audit."""
    session = db_session()
    config = services.load_config(session)
    services.check_jurisdiction(config, _param("jurisdiction_id"))
    raw = _param("api_key")
    key: Open311Key | None = None
    if write or config.read_access == "key" or raw:
        key = services.authenticate(session, raw)
    limiter: RateLimiter = current_app.extensions["open311_limiter"]
    allowed = (
        limiter.hit(key.rate_limit, "key", str(key.id))
        if key
        else limiter.hit(config.public_rate_limit, "ip", request.remote_addr or "-")
    )
    if not allowed:
        raise services.RateLimited("error.open311.rate_limited")
    if key is not None and not write:
        rt = runtime()
        with rt.db.transaction() as s:
            row = s.get(Open311Key, key.id)
            assert row is not None
            services.note_use(s, row, rt.now(), action, path=request.path, query=request.query_string.decode()[:500])
    g.open311_key = key
    return config, key


# --- endpoints -----------------------------------------------------------------------------------


@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str) -> Response:
    config, _ = _gate(False, "open311.discovery")
    url = (runtime().settings.public_base_url or request.url_root).rstrip("/") + (bp.url_prefix or "")
    return _answer(fmt, "discovery", services.discovery(config, runtime(), url, _language()))


@bp.get(f"/services.{FMT}")
def service_list(fmt: str) -> Response:
    _gate(False, "open311.services")
    return _answer(fmt, "services", services.list_services(db_session(), _language()))


@bp.get(f"/services/<code>.{FMT}")
def service_definition(code: str, fmt: str) -> Response:
    _gate(False, "open311.service_definition")
    return _answer(fmt, "service_definition", services.service_definition(db_session(), code, _language()))


@bp.post(f"/requests.{FMT}")
def create_request(fmt: str) -> Response:
    _, key = _gate(True, "open311.request.create")
    assert key is not None
    form = request.form
    attributes: dict[str, list[str]] = {}
    for name in form:
        if name.startswith("attribute[") and name.endswith("]"):
            code = name[len("attribute[") : -1].removesuffix("][")  # attribute[CODE] or attribute[CODE][]
            attributes.setdefault(code, []).extend(form.getlist(name))
    data = services.RequestIn(
        **{f: _param(f) for f in services.RequestIn.__dataclass_fields__ if f != "attributes"},
        attributes=attributes,
    )
    rt = runtime()
    with rt.db.transaction() as s:
        row = s.get(Open311Key, key.id)
        assert row is not None
        filed = services.submit_request(
            s, rt, row, data, list(form.items(multi=True)), request.headers.get("Idempotency-Key")
        )
    body = [{"service_request_id": filed.service_request_id, "service_notice": None, "account_id": filed.account_id}]
    return _answer(fmt, "service_requests", body, 201 if filed.created else 200)


@bp.get(f"/tokens/<token>.{FMT}")
def token(token: str, fmt: str) -> Response:
    _gate(False, "open311.token")
    return _answer(fmt, "service_requests", [services.resolve_token(db_session(), token)])


def _extensions() -> bool:
    return (_param("extensions") or "").lower() == "true"


@bp.get(f"/requests.{FMT}")
def request_list(fmt: str) -> Response:
    config, _ = _gate(False, "open311.requests")
    ids = _param("service_request_id")
    query = services.Query(
        ids=[i.strip() for i in ids.split(",") if i.strip()] if ids else None,
        service_codes=[c.strip() for c in (_param("service_code") or "").split(",") if c.strip()],
        start=_param("start_date"),
        end=_param("end_date"),
        statuses=[c.strip().lower() for c in (_param("status") or "").split(",") if c.strip()],
        page=_param("page"),
        page_size=_param("page_size"),
        extensions=_extensions(),
    )
    records = services.find_requests(db_session(), runtime(), config, query, _language())
    return _answer(fmt, "service_requests", records)


@bp.get(f"/requests/<number>.{FMT}")
def request_one(number: str, fmt: str) -> Response:
    config, _ = _gate(False, "open311.request")
    records = services.get_request(db_session(), runtime(), config, number, _language(), _extensions())
    return _answer(fmt, "service_requests", records)


@bp.get(f"/servicerequestupdates.{FMT}")
def update_list(fmt: str) -> Response:
    config, _ = _gate(False, "open311.updates")
    updates = services.list_updates(
        db_session(), runtime(), config, _param("start_date"), _param("end_date"), _language()
    )
    return _answer(fmt, "service_request_updates", updates)


@bp.post(f"/servicerequestupdates.{FMT}")
def create_update(fmt: str) -> Response:
    config, key = _gate(True, "open311.update.create")
    assert key is not None
    data = services.UpdateIn(**{f: _param(f) for f in services.UpdateIn.__dataclass_fields__})
    rt = runtime()
    with rt.db.transaction() as s:
        row = s.get(Open311Key, key.id)
        assert row is not None
        answer = services.post_update(s, rt, config, row, data)
    return _answer(fmt, "service_request_updates", [answer])


@bp.route("/<path:anything>", methods=["GET", "POST"])
def unknown(anything: str) -> Response:
    """Anything else under the API answers with an Open311 error list, not an HTML page."""
    fmt = "json" if anything.endswith(".json") else "xml"
    return _errors(fmt, [services.Open311NotFound("error.open311.not_found")], 404)
