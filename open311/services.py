"""Open311 GeoReport v2 over the hotline, without HTTP: services from the directory, requests as tickets.

Every function takes a session (and the runtime where it writes); the views in ``open311.views``
parse parameters, call these and serialise what they return (``open311.formats``). Records are plain
dicts in the spec's field order with typed values (ids and codes as strings, flags as booleans).
A request filed here goes through :func:`intake.services.submit_complaint` like every channel.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlparse

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.errors import Forbidden, HotlineError, NotFound
from hotline_core.i18n import t
from hotline_core.models import (
    Category,
    Deadline,
    DirectorySetting,
    Open311ClientUpdate,
    Open311Key,
    Open311Request,
    Ticket,
    TicketEvent,
    Unit,
)
from hotline_core.models.ticket import Channel, TicketState
from hotline_core.runtime import Runtime
from intake import services as intake
from open311.privacy import redact

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("text/xml", "application/json")
MAX_DESCRIPTION = 4000
MAX_RECORDS = 1000
MAX_SPAN = timedelta(days=90)
DEFAULT_RATE = "60/minute"
CLOSED_STATES = (TicketState.RESOLVED, TicketState.CLOSED, TicketState.MERGED)
# Timeline entries a client may see, with their mySociety update status.
PUBLIC_UPDATES = {
    "assigned": "OPEN",
    "signed": "INVESTIGATING",
    "replied": "IN_PROGRESS",
    "resolved": "FIXED",
    "closed": "CLOSED",
    "reopened": "REOPEN",
    "merged": "DUPLICATE",
}
ANSWER_KINDS = ("replied", "resolved")  # their text is the unit's public answer (status_notes)
UPDATE_STATUSES = (
    "OPEN",
    "INVESTIGATING",
    "IN_PROGRESS",
    "ACTION_SCHEDULED",
    "NO_FURTHER_ACTION",
    "NOT_COUNCILS_RESPONSIBILITY",
    "DUPLICATE",
    "INTERNAL_REFERRAL",
    "CLOSED",
    "FIXED",
    "REOPEN",
)


class Open311Error(HotlineError):
    """400: the request cannot be fulfilled as given."""


class Open311NotFound(NotFound):
    pass


class Open311Forbidden(Forbidden):
    pass


class RateLimited(HotlineError):
    status = 429


class Rejected(Exception):
    """Several errors at once (the spec answers a list); the HTTP status is the first one's."""

    def __init__(self, errors: list[HotlineError]) -> None:
        super().__init__("; ".join(map(str, errors)))
        self.errors = errors
        self.status = errors[0].status


# --- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """The directory's ``settings.open311`` (validated by ``routing.directory`` on import)."""

    read_access: str = "public"  # public | key
    private_tickets: str = "reduce"  # omit | reduce
    endpoint_type: str = "production"
    jurisdiction_id: str | None = None
    contact: str | None = None
    key_service: str | None = None
    public_rate_limit: str = DEFAULT_RATE
    changeset: datetime | None = None


def load_config(session: Session) -> Config:
    setting = session.get(DirectorySetting, "settings")
    raw = dict((setting.value or {}).get("open311") or {}) if setting else {}
    changeset = session.scalar(select(func.max(DirectorySetting.updated_at)))
    known = {k: v for k, v in raw.items() if k in Config.__dataclass_fields__ and k != "changeset"}
    return Config(**known, changeset=changeset)


def check_jurisdiction(config: Config, jurisdiction_id: str | None) -> None:
    """One jurisdiction is served: the id may be left out; a different one is not found."""
    if jurisdiction_id and config.jurisdiction_id and jurisdiction_id != config.jurisdiction_id:
        raise Open311NotFound("error.open311.jurisdiction_not_found", jurisdiction_id=jurisdiction_id)


# --- API keys ------------------------------------------------------------------------------------


def hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _new_secret() -> str:
    return "o311_" + secrets.token_urlsafe(24)


def create_key(
    session: Session, name: str, now: datetime, actor: Actor, rate_limit: str = DEFAULT_RATE
) -> tuple[Open311Key, str]:
    """A new key named ``name``; returns the row and the key itself (shown once, kept only hashed)."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise Open311Error("error.open311.key_name")
    if not _valid_rate(rate_limit):
        raise Open311Error("error.open311.key_rate")
    if session.scalars(select(Open311Key.id).where(Open311Key.name == name)).first() is not None:
        raise Open311Error("error.open311.key_exists", name=name)
    raw = _new_secret()
    key = Open311Key(name=name, key_hash=hash_key(raw), key_prefix=raw[:9], rate_limit=rate_limit, created_at=now)
    session.add(key)
    session.flush()
    audit(session, actor, "open311.key.create", key, name=name, rate_limit=rate_limit)
    return key, raw


def _key_by_name(session: Session, name: str) -> Open311Key:
    key = session.scalars(select(Open311Key).where(Open311Key.name == (name or "").strip())).first()
    if key is None:
        raise Open311NotFound("error.open311.key_unknown", name=name)
    return key


def rotate_key(session: Session, name: str, now: datetime, actor: Actor) -> tuple[Open311Key, str]:
    """A new secret for the key ``name``; the old one stops working at once."""
    key = _key_by_name(session, name)
    raw = _new_secret()
    key.key_hash, key.key_prefix, key.rotated_at = hash_key(raw), raw[:9], now
    key.active, key.revoked_at = True, None
    audit(session, actor, "open311.key.rotate", key, name=key.name)
    return key, raw


def revoke_key(session: Session, name: str, now: datetime, actor: Actor) -> Open311Key:
    key = _key_by_name(session, name)
    key.active, key.revoked_at = False, now
    audit(session, actor, "open311.key.revoke", key, name=key.name)
    return key


def list_keys(session: Session) -> list[Open311Key]:
    return list(session.scalars(select(Open311Key).order_by(Open311Key.name)))


def find_key(session: Session, raw: str | None) -> Open311Key | None:
    """The active key for ``raw``, or None."""
    if not raw:
        return None
    key = session.scalars(select(Open311Key).where(Open311Key.key_hash == hash_key(raw.strip()))).first()
    return key if key is not None and key.active else None


def authenticate(session: Session, raw: str | None) -> Open311Key:
    if not raw:
        raise Open311Forbidden("error.open311.key_missing")
    key = find_key(session, raw)
    if key is None:
        raise Open311Forbidden("error.open311.key_invalid")
    return key


def note_use(session: Session, key: Open311Key, now: datetime, action: str, **details: Any) -> None:
    """Every keyed request is audited, and the key's last use kept."""
    key.last_used_at = now
    audit(session, Actor(f"open311:{key.name}"), action, key, **details)


def _valid_rate(rate: str) -> bool:
    count, _, per = (rate or "").partition("/")
    return count.strip().isdigit() and int(count) > 0 and per.strip() in ("second", "minute", "hour", "day")


# --- discovery and services ----------------------------------------------------------------------


def w3(moment: datetime | None, runtime: Runtime) -> str | None:
    """ISO 8601 with the offset of the hotline's time zone (``2026-11-23T09:00:00+08:00``)."""
    if moment is None:
        return None
    return moment.astimezone(runtime.settings.tz).replace(microsecond=0).isoformat()


def discovery(config: Config, runtime: Runtime, url: str, language: str) -> dict[str, Any]:
    changeset = w3(config.changeset, runtime) or "1970-01-01T00:00:00+00:00"
    return {
        "changeset": changeset,
        "contact": config.contact or t("open311.contact", language),
        "key_service": config.key_service or t("open311.key_service", language),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": changeset,
                "type": config.endpoint_type,
                "formats": list(FORMATS),
            }
        ],
    }


def _active_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).where(Category.active).order_by(Category.level, Category.id)))


def list_services(session: Session, language: str) -> list[dict[str, Any]]:
    categories = _active_categories(session)
    by_id = {c.id: c for c in session.scalars(select(Category))}
    out = []
    for c in categories:
        group = by_id.get(c.parent_id) if c.parent_id else c
        out.append(
            {
                "service_code": c.code,
                "service_name": c.name(language),
                "description": c.name(language)
                if not c.parent_id
                else f"{group.name(language)} - {c.name(language)}"
                if group
                else c.name(language),
                "metadata": bool(c.open311_attributes),
                "type": "realtime",
                "keywords": ", ".join(str(k) for k in c.keywords or []),
                "group": group.name(language) if group else c.name(language),
            }
        )
    return out


def _service(session: Session, code: str | None) -> Category:
    if not code:
        raise Open311Error("error.open311.missing", field="service_code")
    category = session.scalars(select(Category).where(Category.code == code, Category.active)).first()
    if category is None:
        raise Open311NotFound("error.open311.service_not_found", code=code)
    return category


def _lang(entry: dict[str, Any], name: str, language: str) -> str | None:
    return entry.get(f"{name}_{language}") or entry.get(f"{name}_zh")


def service_definition(session: Session, code: str | None, language: str) -> dict[str, Any]:
    category = _service(session, code)
    attributes = sorted(category.open311_attributes or [], key=lambda a: a.get("order", 0))
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": bool(a.get("variable", True)),
                "code": str(a["code"]),
                "datatype": a["datatype"],
                "required": bool(a.get("required", False)),
                "datatype_description": _lang(a, "datatype_description", language),
                "order": int(a["order"]),
                "description": _lang(a, "description", language),
                "values": [{"key": str(v["key"]), "name": _lang(v, "name", language)} for v in a.get("values") or []],
            }
            for a in attributes
        ],
    }


# --- filing a request ----------------------------------------------------------------------------


@dataclass
class RequestIn:
    """A ``POST requests`` as the client sent it (empty parameters already dropped)."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    description: str | None = None
    media_url: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Filed:
    service_request_id: str
    token: str
    account_id: str | None
    created: bool


def _location(data: RequestIn) -> tuple[list[HotlineError], float | None, float | None]:
    errors: list[HotlineError] = []
    given = sum(bool(x) for x in (data.lat or data.long, data.address_string, data.address_id))
    if given == 0:
        errors.append(Open311Error("error.open311.location_missing"))
    elif given > 1:
        errors.append(Open311Error("error.open311.location_several"))
    lat = lon = None
    if data.lat or data.long:
        try:
            lat, lon = float(data.lat or ""), float(data.long or "")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError
        except ValueError:
            errors.append(Open311Error("error.open311.bad_lat_long"))
    return errors, lat, lon


def check_attributes(category: Category, given: dict[str, list[str]]) -> tuple[list[HotlineError], dict[str, Any]]:
    """Validate ``attribute[CODE]`` values against the service definition; unknown codes are ignored."""
    errors: list[HotlineError] = []
    kept: dict[str, Any] = {}
    for a in category.open311_attributes or []:
        code, datatype = str(a["code"]), a["datatype"]
        values = [v for v in given.get(code, []) if v.strip()]
        if not values:
            if a.get("required") and a.get("variable", True):
                errors.append(Open311Error("error.open311.attribute_required", code=code))
            continue
        keys = {str(v["key"]) for v in a.get("values") or []}
        if datatype != "multivaluelist" and len(values) > 1:
            errors.append(Open311Error("error.open311.attribute_one_value", code=code))
            continue
        value = values[0]
        if datatype == "number":
            try:
                float(value)
            except ValueError:
                errors.append(Open311Error("error.open311.attribute_number", code=code))
                continue
        elif datatype == "datetime":
            if parse_datetime(value) is None:
                errors.append(Open311Error("error.open311.attribute_datetime", code=code))
                continue
        elif datatype == "string" and ("\n" in value or "\r" in value):
            errors.append(Open311Error("error.open311.attribute_string", code=code))
            continue
        elif datatype in ("singlevaluelist", "multivaluelist"):
            wrong = [v for v in values if v not in keys]
            if wrong:
                errors.append(Open311Error("error.open311.attribute_value", code=code, value=wrong[0]))
                continue
        if len(value) > MAX_DESCRIPTION:
            errors.append(Open311Error("error.open311.attribute_too_long", code=code))
            continue
        kept[code] = values if datatype == "multivaluelist" else value
    return errors, kept


def _idempotency_ref(key: Open311Key, form: list[tuple[str, str]], idempotency_key: str | None) -> str:
    """A retry of the same request by the same client lands on the same ticket."""
    basis = idempotency_key or urlencode(sorted((k, v) for k, v in form if k != "api_key" and v != ""))
    return "o311:" + hashlib.sha256(f"{key.id}\n{basis}".encode()).hexdigest()[:58]


def submit_request(
    session: Session,
    runtime: Runtime,
    key: Open311Key,
    data: RequestIn,
    form: list[tuple[str, str]],
    idempotency_key: str | None = None,
) -> Filed:
    """File a service request as a ticket (channel ``open311``) through the one intake service."""
    errors: list[HotlineError] = []
    category: Category | None = None
    try:
        category = _service(session, data.service_code)
    except HotlineError as exc:
        if exc.status == 404:
            raise Rejected([exc]) from None
        errors.append(exc)
    location_errors, lat, lon = _location(data)
    errors += location_errors
    description = (data.description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors.append(Open311Error("error.open311.description_too_long", max=MAX_DESCRIPTION))
    if data.media_url and (urlparse(data.media_url).scheme not in ("http", "https") or len(data.media_url) > 1000):
        errors.append(Open311Error("error.open311.bad_media_url"))
    if data.email and ("@" not in data.email or len(data.email) > 254):
        errors.append(Open311Error("error.open311.bad_email"))
    for name in ("address_string", "address_id", "device_id", "account_id", "first_name", "last_name", "phone"):
        value = getattr(data, name)
        if value and len(value) > (500 if name == "address_string" else 100):
            errors.append(Open311Error("error.open311.too_long", field=name))
    kept: dict[str, Any] = {}
    if category is not None:
        attribute_errors, kept = check_attributes(category, data.attributes)
        errors += attribute_errors
    if errors:
        raise Rejected(errors)
    assert category is not None

    source_ref = _idempotency_ref(key, form, idempotency_key)
    existing = intake.find_by_source(session, Channel.OPEN311, source_ref)
    if existing is not None:
        row = session.scalars(select(Open311Request).where(Open311Request.ticket_id == existing.id)).one()
        return Filed(existing.number or "", row.token, row.account_id, created=False)
    full_name: str | None = " ".join(p for p in (data.first_name, data.last_name) if p) or None
    try:
        with session.begin_nested():
            ticket = intake.submit_complaint(
                session,
                runtime,
                intake.Complaint(
                    channel=Channel.OPEN311,
                    text=description,
                    phone=data.phone,
                    name=full_name,
                    category_code=category.code,
                    source_ref=source_ref,
                    source_is_new=True,
                ),
            )
            row = Open311Request(
                ticket_id=ticket.id,
                key_id=key.id,
                token=secrets.token_hex(16),
                service_code=category.code,
                lat=lat,
                long=lon,
                address_string=data.address_string,
                address_id=data.address_id,
                media_url=data.media_url,
                attributes=kept,
                email=data.email,
                device_id=data.device_id,
                account_id=data.account_id,
                created_at=runtime.now(),
            )
            session.add(row)
            if data.media_url:
                intake.add_attachment(
                    session, ticket, intake.AttachmentIn(kind="media", url=data.media_url), runtime.now()
                )
            session.flush()
    except IntegrityError:  # the same retry arrived at the same moment: answer with the first one's ticket
        existing = intake.find_by_source(session, Channel.OPEN311, source_ref)
        if existing is None:
            raise
        row = session.scalars(select(Open311Request).where(Open311Request.ticket_id == existing.id)).one()
        return Filed(existing.number or "", row.token, row.account_id, created=False)
    note_use(session, key, runtime.now(), "open311.request.create", ticket=ticket.number)
    return Filed(ticket.number or "", row.token, row.account_id, created=True)


def resolve_token(session: Session, token: str) -> dict[str, Any]:
    row = session.scalars(select(Open311Request).where(Open311Request.token == token)).first()
    ticket = session.get(Ticket, row.ticket_id) if row else None
    if row is None or ticket is None:
        raise Open311NotFound("error.open311.token_not_found", token=token)
    return {"service_request_id": ticket.number, "token": token}


# --- reading requests ----------------------------------------------------------------------------


def parse_datetime(text: str | None) -> datetime | None:
    """A w3 datetime with its offset (``Z`` or ``+08:00``); None if it is not one."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "+"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


@dataclass
class Query:
    ids: list[str] | None = None
    service_codes: list[str] = field(default_factory=list)
    start: str | None = None
    end: str | None = None
    statuses: list[str] = field(default_factory=list)
    page: str | None = None
    page_size: str | None = None
    extensions: bool = False


def _window(runtime: Runtime, start_text: str | None, end_text: str | None) -> tuple[datetime, datetime]:
    errors: list[HotlineError] = []
    start, end = parse_datetime(start_text), parse_datetime(end_text)
    for name, text, parsed in (("start_date", start_text, start), ("end_date", end_text, end)):
        if text and parsed is None:
            errors.append(Open311Error("error.open311.bad_datetime", field=name))
    if errors:
        raise Rejected(errors)
    if start and end:
        if end < start:
            raise Rejected([Open311Error("error.open311.bad_range")])
        if end - start > MAX_SPAN:
            raise Rejected([Open311Error("error.open311.span_too_long", days=MAX_SPAN.days)])
    elif start:
        end = start + MAX_SPAN
    elif end:
        start = end - MAX_SPAN
    else:
        end = runtime.now()
        start = end - MAX_SPAN
    assert start is not None and end is not None
    return start, end


def _positive(text: str | None, name: str, default: int, most: int) -> int:
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise Rejected([Open311Error("error.open311.bad_number", field=name)])
    return min(int(text), most)


def _visible(config: Config) -> Any:
    condition: Any = Ticket.number.is_not(None)
    if config.private_tickets == "omit":
        condition = condition & Ticket.anonymous.is_(False)
    return condition


def find_requests(
    session: Session, runtime: Runtime, config: Config, query: Query, language: str
) -> list[dict[str, Any]]:
    stmt = select(Ticket).where(_visible(config))
    if query.ids:
        stmt = stmt.where(Ticket.number.in_(query.ids[:MAX_RECORDS]))
    else:
        start, end = _window(runtime, query.start, query.end)
        stmt = stmt.where(Ticket.created_at >= start, Ticket.created_at <= end)
        if query.service_codes:
            codes = select(Category.id).where(Category.code.in_(query.service_codes))
            stmt = stmt.where(Ticket.category_id.in_(codes))
        wrong = [s for s in query.statuses if s not in ("open", "closed")]
        if wrong:
            raise Rejected([Open311Error("error.open311.bad_status", status=wrong[0])])
        if query.statuses and set(query.statuses) != {"open", "closed"}:
            closed = Ticket.state.in_(CLOSED_STATES)
            stmt = stmt.where(closed if query.statuses == ["closed"] else ~closed)
    page = _positive(query.page, "page", 1, 10**6)
    size = _positive(query.page_size, "page_size", MAX_RECORDS, MAX_RECORDS)
    stmt = stmt.order_by(Ticket.created_at.desc(), Ticket.id.desc()).offset((page - 1) * size).limit(size)
    tickets = list(session.scalars(stmt))
    return _records(session, runtime, config, tickets, language, query.extensions)


def get_request(
    session: Session, runtime: Runtime, config: Config, number: str, language: str, extensions: bool = False
) -> list[dict[str, Any]]:
    ticket = session.scalars(select(Ticket).where(_visible(config), Ticket.number == number)).first()
    if ticket is None:
        raise Open311NotFound("error.open311.request_not_found", id=number)
    return _records(session, runtime, config, [ticket], language, extensions)


def _status(ticket: Ticket) -> str:
    return "closed" if ticket.state in CLOSED_STATES else "open"


def _records(
    session: Session, runtime: Runtime, config: Config, tickets: list[Ticket], language: str, extensions: bool
) -> list[dict[str, Any]]:
    if not tickets:
        return []
    ids = [tk.id for tk in tickets]
    categories = {c.id: c for c in session.scalars(select(Category))}
    unit_ids = {tk.lead_unit_id for tk in tickets if tk.lead_unit_id}
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))} if unit_ids else {}
    extra = {r.ticket_id: r for r in session.scalars(select(Open311Request).where(Open311Request.ticket_id.in_(ids)))}
    deadlines: dict[int, datetime] = {}
    for d in session.scalars(
        select(Deadline).where(Deadline.ticket_id.in_(ids), Deadline.kind == "resolution").order_by(Deadline.id)
    ):
        deadlines[d.ticket_id] = d.due_at
    events: dict[int, list[TicketEvent]] = {}
    for ev in session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id.in_(ids), TicketEvent.kind.in_(list(PUBLIC_UPDATES)))
        .order_by(TicketEvent.id)
    ):
        events.setdefault(ev.ticket_id, []).append(ev)
    region = runtime.settings.default_region
    out = []
    for tk in tickets:
        category = categories.get(tk.category_id) if tk.category_id else None
        unit = units.get(tk.lead_unit_id) if tk.lead_unit_id else None
        req = extra.get(tk.id)
        public = events.get(tk.id, [])
        answers = [e for e in public if e.kind in ANSWER_KINDS and e.body]
        reduced = tk.anonymous  # "omit" has already left these out
        names = (tk.citizen_name,)
        updated = max([tk.updated_at, *(e.at for e in public)])
        record: dict[str, Any] = {
            "service_request_id": tk.number,
            "status": _status(tk),
            "status_notes": None if reduced or not answers else redact(answers[-1].body, region, names),
            "service_name": category.name(language) if category else None,
            "service_code": category.code if category else None,
            "description": None if reduced else redact(tk.text, region, names),
            "agency_responsible": unit.name(language) if unit else None,
            "service_notice": None,
            "requested_datetime": w3(tk.created_at, runtime),
            "updated_datetime": w3(updated, runtime),
            "expected_datetime": w3(deadlines.get(tk.id), runtime),
            "address": None if reduced or req is None else req.address_string,
            "address_id": None if reduced or req is None else req.address_id,
            "zipcode": None if reduced or req is None else req.zipcode,
            "lat": None if reduced or req is None else req.lat,
            "long": None if reduced or req is None else req.long,
            "media_url": None if reduced or req is None else req.media_url,
        }
        if extensions:
            record["attributes"] = (
                [] if reduced or req is None else _attribute_values(category, req.attributes, language)
            )
            record["notes"] = [
                {
                    "datetime": w3(e.at, runtime),
                    "description": None if reduced else _update_text(e, units, language, region, names),
                    "type": e.kind,
                }
                for e in public
            ]
        out.append(record)
    return out


def _attribute_values(category: Category | None, values: dict[str, Any], language: str) -> list[dict[str, Any]]:
    defined = {str(a["code"]): a for a in (category.open311_attributes if category else []) or []}
    out = []
    for code, value in values.items():
        definition = defined.get(code, {})
        for v in value if isinstance(value, list) else [value]:
            out.append({"code": code, "name": _lang(definition, "description", language), "value": str(v)})
    return out


def _update_text(
    event: TicketEvent, units: dict[int, Unit], language: str, region: str, names: tuple[str | None, ...]
) -> str | None:
    if event.kind in ANSWER_KINDS:
        return redact(event.body, region, names)
    return t(f"open311.update.{event.kind}", language)


# --- mySociety's service request updates ---------------------------------------------------------


def list_updates(
    session: Session,
    runtime: Runtime,
    config: Config,
    start_text: str | None,
    end_text: str | None,
    language: str,
) -> list[dict[str, Any]]:
    start, end = _window(runtime, start_text, end_text)
    rows = session.execute(
        select(TicketEvent, Ticket)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(
            _visible(config),
            TicketEvent.kind.in_(list(PUBLIC_UPDATES)),
            TicketEvent.at >= start,
            TicketEvent.at <= end,
        )
        .order_by(TicketEvent.at, TicketEvent.id)
        .limit(MAX_RECORDS)
    ).all()
    region = runtime.settings.default_region
    return [
        {
            "update_id": str(ev.id),
            "service_request_id": tk.number,
            "status": PUBLIC_UPDATES[ev.kind],
            "updated_datetime": w3(ev.at, runtime),
            "description": None if tk.anonymous else _update_text(ev, {}, language, region, (tk.citizen_name,)),
            "media_url": None,
        }
        for ev, tk in rows
    ]


@dataclass
class UpdateIn:
    service_request_id: str | None = None
    update_id: str | None = None
    status: str | None = None
    updated_datetime: str | None = None
    description: str | None = None
    media_url: str | None = None


def post_update(session: Session, runtime: Runtime, config: Config, key: Open311Key, data: UpdateIn) -> dict[str, Any]:
    """A client's update (a citizen's comment on FixMyStreet) joins the ticket's thread, once per update_id."""
    errors: list[HotlineError] = []
    for name in ("service_request_id", "update_id", "status", "updated_datetime", "description"):
        if not getattr(data, name):
            errors.append(Open311Error("error.open311.missing", field=name))
    if data.status and data.status.upper() not in UPDATE_STATUSES:
        errors.append(Open311Error("error.open311.bad_update_status", status=data.status))
    if data.updated_datetime and parse_datetime(data.updated_datetime) is None:
        errors.append(Open311Error("error.open311.bad_datetime", field="updated_datetime"))
    if data.description and len(data.description) > MAX_DESCRIPTION:
        errors.append(Open311Error("error.open311.description_too_long", max=MAX_DESCRIPTION))
    if len(data.update_id or "") > 100:
        errors.append(Open311Error("error.open311.too_long", field="update_id"))
    if errors:
        raise Rejected(errors)
    ticket = session.scalars(select(Ticket).where(_visible(config), Ticket.number == data.service_request_id)).first()
    if ticket is None:
        raise Rejected([Open311NotFound("error.open311.request_not_found", id=data.service_request_id)])
    seen = session.scalars(
        select(Open311ClientUpdate).where(
            Open311ClientUpdate.key_id == key.id, Open311ClientUpdate.external_id == data.update_id
        )
    ).first()
    if seen is not None:
        return {"update_id": str(seen.event_id)}
    attachments = [intake.AttachmentIn(kind="media", url=data.media_url)] if data.media_url else None
    event = intake.add_citizen_message(
        session,
        runtime,
        ticket,
        data.description or "",
        channel=Channel.OPEN311,
        attachments=attachments,
        source_ref=f"open311:{key.id}:{data.update_id}",
    )
    session.add(
        Open311ClientUpdate(
            key_id=key.id,
            external_id=data.update_id or "",
            ticket_id=ticket.id,
            event_id=event.id,
            created_at=runtime.now(),
        )
    )
    note_use(session, key, runtime.now(), "open311.update.create", ticket=ticket.number, status=data.status)
    return {"update_id": str(event.id)}
