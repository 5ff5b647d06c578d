"""Evidence files kept under the instance path: call recordings and MMS media fetched from Twilio
(so they outlive Twilio's retention), citizens' uploads and units' evidence.

One place decides where a kept file lives and whether a stored path may be served: only a file
inside the instance path is ever returned, whatever the database says.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from hotline_core.runtime import Runtime

# Content types a browser may show in the page (played or displayed), never run: no SVG, no HTML.
INLINE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/gif",
        "image/webp",
        "audio/mpeg",
        "audio/wav",
        "audio/x-wav",
        "audio/mp4",
        "audio/ogg",
        "audio/amr",
        "audio/webm",
    }
)
_SUFFIXES = {
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/amr": ".amr",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "video/mp4": ".mp4",
    "video/3gpp": ".3gp",
    "application/pdf": ".pdf",
    "text/vcard": ".vcf",
}


def suffix_for(content_type: str) -> str:
    return _SUFFIXES.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"


def keep(runtime: Runtime, folder: str, stem: str, data: bytes, content_type: str) -> str:
    """Write ``data`` as ``<instance>/<folder>/<stem><suffix>``; the path relative to the instance path."""
    safe_stem = "".join(ch for ch in stem if ch.isalnum() or ch in "-_") or "file"
    relative = f"{folder}/{safe_stem}{suffix_for(content_type)}"
    target = runtime.settings.instance_path / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return relative


def kept_path(runtime: Runtime, relative: str | None) -> Path | None:
    """The kept file for a stored relative path, if it exists inside the instance path."""
    if not relative:
        return None
    root = runtime.settings.instance_path.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None


def is_inline(content_type: str | None) -> bool:
    return (content_type or "").lower() in INLINE_TYPES
