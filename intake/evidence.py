"""Keep the evidence Twilio holds for the account (call recordings, MMS media) under the instance path.

Twilio deletes recordings and media after its retention period, so a job (enqueued by reference
after the attachment's commit) downloads each with the account's credentials and records where it
is kept. Without credentials nothing is fetched: the URL stays on the attachment and the ticket says
so. A failed download keeps its reason on the attachment and the sweep tries again.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import media
from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.models import Attachment
from hotline_core.runtime import Runtime, current
from hotline_core.twilio_gateway import NotConfigured, SendError

log = logging.getLogger(__name__)

TWILIO_KINDS = ("media", "recording")
MEDIA_DIR = "media"
# Twilio keeps media for a while; after this long without a copy there is nothing left to fetch.
SWEEP_WINDOW = timedelta(days=30)
# A download that failed (Twilio down, the file already deleted) is tried again for a day, not a month.
RETRY_WINDOW = timedelta(days=1)
SWEEP_BATCH = 50


TWILIO_API = "https://api.twilio.com/"


def is_twilio_url(runtime: Runtime, url: str | None) -> bool:
    """Only Twilio's own media URLs are fetched with the account's credentials (an Open311 client's
    ``media_url`` or any other link is never sent them)."""
    roots = [TWILIO_API]
    if runtime.settings.twilio_api_base_url:
        roots.append(runtime.settings.twilio_api_base_url.rstrip("/") + "/")
    return bool(url) and (url or "").startswith(tuple(roots))


def needs_keeping(runtime: Runtime, attachment: Attachment) -> bool:
    return attachment.kind in TWILIO_KINDS and not attachment.storage_path and is_twilio_url(runtime, attachment.url)


def keep_later(session: Session, runtime: Runtime, attachment: Attachment) -> None:
    """After the commit, fetch the attachment's media from Twilio (only when credentials are set)."""
    if runtime.twilio.configured and needs_keeping(runtime, attachment):
        runtime.jobs.enqueue_after_commit(session, keep_attachment_job, attachment.id)


def keep_attachment_job(attachment_id: int) -> str | None:
    """Download one attachment's recording or media and keep it; the kept path (relative to the instance
    path), or None when there is nothing to fetch. A failed download is recorded and raised."""
    runtime = current()
    with runtime.db.session() as session:
        found = session.get(Attachment, attachment_id)
        if found is None or not needs_keeping(runtime, found):
            return found.storage_path if found else None
        url, kind, sid, ticket_id = found.url or "", found.kind, found.external_sid, found.ticket_id
    try:
        if kind == "recording":
            data, content_type = runtime.twilio.download_recording(url)
        else:
            data, content_type = runtime.twilio.download_media(url)
    except NotConfigured:
        return None
    except SendError as exc:
        with runtime.db.transaction() as session:
            failed = session.get(Attachment, attachment_id)
            if failed is not None:
                failed.fetch_error = str(exc)[:200]
        raise
    relative = media.keep(runtime, MEDIA_DIR, f"{ticket_id}-{attachment_id}-{sid or kind}", data, content_type)
    with runtime.db.transaction() as session:
        kept = session.get(Attachment, attachment_id)
        assert kept is not None
        kept.storage_path = relative
        kept.content_type = content_type
        kept.size_bytes = len(data)
        kept.fetch_error = None
        audit(session, Actor.system(), "evidence.kept", kept, ticket_id=ticket_id, bytes=len(data))
    return relative


def sweep_job() -> int:
    """Enqueue a keep job for recent Twilio media not kept yet (a job lost with Redis, a failed download)."""
    runtime = current()
    if not runtime.twilio.configured:
        return 0
    since = runtime.now() - SWEEP_WINDOW
    base = (runtime.settings.twilio_api_base_url or TWILIO_API).rstrip("/") + "/"
    with runtime.db.session() as session:
        ids = session.scalars(
            select(Attachment.id)
            .where(
                Attachment.kind.in_(TWILIO_KINDS),
                Attachment.storage_path.is_(None),
                Attachment.url.startswith(TWILIO_API) | Attachment.url.startswith(base),
                Attachment.created_at >= since,
                Attachment.fetch_error.is_(None) | (Attachment.created_at >= runtime.now() - RETRY_WINDOW),
            )
            .order_by(Attachment.id)
            .limit(SWEEP_BATCH)
        ).all()
    for attachment_id in ids:
        runtime.jobs.enqueue(keep_attachment_job, attachment_id, job_id=f"keep-attachment-{attachment_id}")
    return len(ids)
