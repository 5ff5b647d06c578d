"""The citizen's web complaint form. Validation messages come from the bilingual catalogue."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from wtforms import BooleanField, MultipleFileField, SelectField, StringField, TextAreaField

from hotline_core import phones
from intake.services import AttachmentIn

MIN_TEXT, MAX_TEXT = 5, 5000
ALLOWED_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".wav": "audio/wav",
    ".amr": "audio/amr",
}
# Leading bytes of each accepted type: the file must be what its name says.
MAGIC = {
    "image/jpeg": [b"\xff\xd8\xff"],
    "image/png": [b"\x89PNG\r\n\x1a\n"],
    "image/gif": [b"GIF87a", b"GIF89a"],
    "image/webp": [b"RIFF"],
    "application/pdf": [b"%PDF"],
    "audio/mpeg": [b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"],
    "audio/mp4": [b"\x00\x00\x00"],
    "audio/wav": [b"RIFF"],
    "audio/amr": [b"#!AMR"],
}


class ComplaintForm(FlaskForm):
    description = TextAreaField()
    category = SelectField(choices=[], validate_choice=False)
    district = SelectField(choices=[], validate_choice=False)
    phone = StringField()
    name = StringField()
    anonymous = BooleanField()
    contact_consent = BooleanField()
    attachments = MultipleFileField()


class LookupForm(FlaskForm):
    number = StringField()
    last4 = StringField()


@dataclass
class CheckedFile:
    storage: FileStorage
    content_type: str
    size: int
    head: bytes


def check_files(
    files: list[FileStorage], max_files: int, max_bytes: int
) -> tuple[list[CheckedFile], list[tuple[str, dict]]]:
    """Accepted files, and (message key, fields) for each refused one."""
    chosen = [f for f in files if f and f.filename]
    errors: list[tuple[str, dict]] = []
    if len(chosen) > max_files:
        return [], [("form.file_count", {"count": max_files})]
    accepted = []
    for storage in chosen:
        name = os.path.basename(storage.filename or "")
        ext = os.path.splitext(name)[1].lower()
        ctype = ALLOWED_TYPES.get(ext)
        storage.stream.seek(0, os.SEEK_END)
        size = storage.stream.tell()
        storage.stream.seek(0)
        head = storage.stream.read(16)
        storage.stream.seek(0)
        if ctype is None or not any(head.startswith(m) for m in MAGIC[ctype]):
            errors.append(("form.file_type", {"name": name}))
        elif size > max_bytes:
            errors.append(("form.file_size", {"name": name, "size": max_bytes // (1 << 20)}))
        else:
            accepted.append(CheckedFile(storage, ctype, size, head))
    return accepted, errors


def check_phone(raw: str, region: str) -> phones.PhoneNumber | None:
    return phones.normalise(raw, region)


def store(instance: Path, checked: CheckedFile, kind: str = "upload") -> AttachmentIn:
    """Save a checked file under the instance folder with a random name; the attachment to record."""
    folder = instance / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}{Path(checked.storage.filename or '').suffix.lower()}"
    checked.storage.save(folder / name)
    return AttachmentIn(
        kind=kind,
        filename=Path(checked.storage.filename or "").name[:255],
        content_type=checked.content_type,
        storage_path=f"uploads/{name}",
        size_bytes=checked.size,
    )
