"""Opening a ticket's evidence: citizens' photos, MMS media, call recordings and units' files.

One authorised route serves every kept file to the people who may see the ticket (a unit's people
only for tickets ever given to their unit; others get 404, audited). Pictures and audio open in the
browser, anything else downloads; nothing is sniffed, cached or served from outside the instance path.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, send_file
from sqlalchemy import select

from hotline_core import media
from hotline_core.models import Attachment
from hotline_web.auth import roles_required
from hotline_web.context import db_session, runtime
from hotline_web.security import talisman
from intake import evidence
from responders.tickets import TICKET_ROLES, _ticket_or_404

bp = Blueprint("evidence", __name__, url_prefix="/staff")

# A kept file is shown on its own, never as a page: nothing in it may load, run or frame anything.
EVIDENCE_CSP = "default-src 'none'; sandbox"


def info(attachment: Attachment) -> dict[str, Any]:
    """How the ticket page shows one attachment."""
    rt = runtime()
    kept = media.kept_path(rt, attachment.storage_path) is not None
    content_type = (attachment.content_type or "").lower()
    twilio = evidence.is_twilio_url(rt, attachment.url)
    return {
        "kept": kept,
        "image": kept and media.is_inline(content_type) and content_type.startswith("image/"),
        "audio": kept and media.is_inline(content_type) and content_type.startswith("audio/"),
        "twilio_only": not kept and twilio,
        "configured": rt.twilio.configured,
        "link": attachment.url if not kept and not twilio else None,
    }


@bp.app_template_global("evidence_info")
def evidence_info(attachment: Attachment) -> dict[str, Any]:
    return info(attachment)


@bp.get("/tickets/<number>/evidence/<int:attachment_id>")
@talisman(content_security_policy=EVIDENCE_CSP, content_security_policy_nonce_in=[])
@roles_required(*TICKET_ROLES)
def download(number: str, attachment_id: int):  # type: ignore[no-untyped-def]
    """One kept file of a ticket the user may see (404 otherwise, and for another ticket's file)."""
    ticket = _ticket_or_404(number)
    attachment = (
        db_session()
        .scalars(select(Attachment).where(Attachment.id == attachment_id, Attachment.ticket_id == ticket.id))
        .first()
    )
    if attachment is None:
        abort(404)
    path = media.kept_path(runtime(), attachment.storage_path) or abort(404)
    content_type = (attachment.content_type or "application/octet-stream").lower()
    inline = media.is_inline(content_type)
    name = attachment.filename or f"{ticket.number}-{attachment.id}{path.suffix}"
    response = send_file(
        path,
        mimetype=content_type if inline else "application/octet-stream",
        as_attachment=not inline,
        download_name=name,
        conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response
