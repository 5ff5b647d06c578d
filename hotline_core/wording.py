"""Codes the system stores, as the reader reads them: actors, routing reasons, outbox kinds,
deadline policies and other labelled codes.

Timelines, the audit trail and the outbox keep machine codes (``system``, ``user:unitstaff``,
``keyword rule: 小区, 物业``, ``citizen_assigned``) because programs and tests read them; pages,
exports and messages show them through these functions, in Chinese or English. A code with no
words yet is shown as stored (and the language test of every page then names it).
"""

from __future__ import annotations

import re

from hotline_core.i18n import MESSAGES, t


def label(prefix: str, code: str | None, language: str) -> str:
    """``t(prefix.code)`` when the catalogue has it, else the code as stored."""
    if not code:
        return ""
    key = f"{prefix}.{code}"
    return t(key, language) if key in MESSAGES else code


def actor(value: str | None, language: str, names: dict[str, str] | None = None) -> str:
    """``system`` -> 系统; ``user:alice`` -> the user's name; ``citizen:sms`` -> 市民（短信）."""
    value = value or "system"
    kind, _, rest = value.partition(":")
    if kind == "user" and rest:
        return (names or {}).get(rest, rest)
    if kind == "citizen":
        return (
            t("actor.citizen_via", language, channel=label("channel", rest, language))
            if rest
            else t("actor.citizen", language)
        )
    if kind == "open311" and rest:
        return t("actor.open311", language, client=rest)
    return label("actor", value, language)


_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"keyword rule: (?P<words>.*)"), "reason.keyword_rule"),
    (re.compile(r"explicit: chosen by the citizen"), "reason.explicit"),
    (re.compile(r"model (?P<version>\S+) \(keywords agree\)"), "reason.model_agreed"),
    (re.compile(r"model (?P<version>\S+)"), "reason.model"),
    (re.compile(r"keywords refine to (?P<code>[^:]+): (?P<words>.*)"), "reason.refined"),
    (re.compile(r"no confident classification"), "reason.no_confident"),
    (re.compile(r"no rule: the area's fallback unit \(district government\)"), "reason.fallback"),
    (re.compile(r"manual: (?P<note>.*)"), "reason.manual_note"),
    (re.compile(r"manual"), "reason.manual"),
    (
        re.compile(r"confidence below (?P<threshold>\S+) \((?P<best>.*)\) and no keyword rule"),
        "reason.low_confidence",
    ),
    (re.compile(r"no text: a person must listen to the recording"), "reason.no_text"),
    (re.compile(r"no routing rule and no area to fall back on"), "reason.no_rule"),
    (re.compile(r"category default"), "reason.category_default"),
    (re.compile(r"citizen: not solved"), "reason.citizen_not_solved"),
    (re.compile(r"citizen: unsatisfied"), "reason.citizen_unsatisfied"),
    (re.compile(r"low speech confidence"), "reason.low_speech_confidence"),
    (re.compile(r"no speech recognised"), "reason.no_speech"),
    (re.compile(r"recording only: listen to it|recording only"), "reason.recording_only"),
]


def reason(value: str | None, language: str) -> str:
    """A routing or review reason the engine wrote (``keyword rule: 小区, 物业; no rule: ...``) in
    the reader's language; parts it does not know stay as written (a person's own words)."""
    if not value:
        return ""
    shown = []
    for part in value.split("; "):
        for pattern, key in _REASONS:
            found = pattern.fullmatch(part)
            if found:
                fields = dict(found.groupdict())
                if "best" in fields:
                    fields["best"] = fields["best"].replace("no model", t("reason.no_model", language))
                shown.append(t(key, language, **fields))
                break
        else:
            shown.append(label("reason", part, language))
    return t("error.list_separator", language).join(shown)
