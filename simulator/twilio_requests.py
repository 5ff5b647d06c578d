"""Build the webhook requests Twilio sends, signed with twilio's own ``RequestValidator``.

Used by the ``hotline simulate`` CLI, the development simulator page, the tests and the benchmark,
so all of them speak exactly what the service will hear from Twilio.
"""

from __future__ import annotations

import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32


def sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def sms_form(
    from_number: str,
    to_number: str,
    body: str,
    *,
    message_sid: str | None = None,
    media: list[tuple[str, str]] | None = None,
) -> dict[str, str]:
    message_sid = message_sid or sid("SM")
    form = {
        "ToCountry": "CN",
        "ToState": "",
        "SmsMessageSid": message_sid,
        "NumMedia": str(len(media or [])),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": message_sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "CN",
        "To": to_number,
        "MessagingServiceSid": "",
        "ToZip": "",
        "NumSegments": str(_segments(body)),
        "MessageSid": message_sid,
        "AccountSid": ACCOUNT_SID,
        "From": from_number,
        "ApiVersion": "2010-04-01",
    }
    for i, (url, ctype) in enumerate(media or []):
        form[f"MediaUrl{i}"] = url
        form[f"MediaContentType{i}"] = ctype
    return form


def _segments(body: str) -> int:
    from hotline_core.sms import segments

    return segments(body)


def call_form(call_sid: str, from_number: str, to_number: str, status: str = "ringing", **extra: str) -> dict[str, str]:
    form = {
        "Called": to_number,
        "ToState": "",
        "CallerCountry": "CN",
        "Direction": "inbound",
        "CallerState": "",
        "ToZip": "",
        "CallSid": call_sid,
        "To": to_number,
        "CallerZip": "",
        "ToCountry": "CN",
        "CallToken": "",
        "CalledZip": "",
        "ApiVersion": "2010-04-01",
        "CalledCity": "",
        "CallStatus": status,
        "From": from_number,
        "AccountSid": ACCOUNT_SID,
        "CalledCountry": "CN",
        "CallerCity": "",
        "ToCity": "",
        "FromCountry": "CN",
        "Caller": from_number,
        "FromCity": "",
        "CalledState": "",
        "FromZip": "",
        "FromState": "",
    }
    form.update(extra)
    return form


def sign(auth_token: str, url: str, form: dict[str, str]) -> str:
    return RequestValidator(auth_token).compute_signature(url, form)


@dataclass
class Exchange:
    """One request and the service's answer, for showing as a conversation."""

    path: str
    form: dict[str, str]
    status: int
    body: str
    texts: list[str] = field(default_factory=list)  # what the hotline then texted the sender

    @property
    def says(self) -> list[str]:
        return [el.text or "" for el in _xml(self.body).iter("Say")]

    @property
    def messages(self) -> list[str]:
        """``<Message>`` replies in the TwiML itself."""
        return ["".join(el.itertext()) for el in _xml(self.body).iter("Message")]

    @property
    def replies(self) -> list[str]:
        """Everything the citizen got back: TwiML messages, then texts sent by SMS."""
        return self.messages + self.texts

    def verb(self, name: str) -> ET.Element | None:
        return next(iter(_xml(self.body).iter(name)), None)


def _xml(body: str) -> ET.Element:
    try:
        return ET.fromstring(body) if body.strip() else ET.Element("Response")  # noqa: S314 (our own TwiML)
    except ET.ParseError:
        return ET.Element("Response")


# A transport posts (path, form, headers) and returns (status, body).
Transport = Callable[[str, dict[str, str], dict[str, str]], tuple[int, str]]


@dataclass
class Phone:
    """A citizen's phone talking to the hotline through Twilio (simulated)."""

    base_url: str
    auth_token: str
    transport: Transport
    hotline_number: str = "+8612345000000"
    log: list[Exchange] = field(default_factory=list)
    # Reads the texts the hotline sent to a number since the last call (see simulator.replies).
    read_texts: Callable[[str], list[str]] | None = None

    def post(self, path: str, form: dict[str, str], headers: dict[str, str] | None = None) -> Exchange:
        url = self.base_url.rstrip("/") + path
        all_headers = {
            "X-Twilio-Signature": sign(self.auth_token, url, form),
            "Content-Type": "application/x-www-form-urlencoded",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        }
        all_headers.update(headers or {})
        status, body = self.transport(path, form, all_headers)
        exchange = Exchange(path, form, status, body)
        if path.startswith("/twilio/sms") and status == 200 and self.read_texts:  # answered by a job
            exchange.texts = self.read_texts(form.get("From", ""))
        self.log.append(exchange)
        return exchange

    def text(self, from_number: str, body: str, **kwargs: object) -> Exchange:
        return self.post("/twilio/sms", sms_form(from_number, self.hotline_number, body, **kwargs))  # type: ignore[arg-type]

    def call(
        self,
        from_number: str,
        *,
        speech: str = "",
        confidence: float = 0.92,
        english: bool = False,
        recording_seconds: int = 0,
    ) -> list[Exchange]:
        """Walk a whole call: greeting, optional '1' for English, speech, optional recording."""
        call_sid = sid("CA")
        steps = [self.post("/twilio/voice", call_form(call_sid, from_number, self.hotline_number))]
        action = _action(steps[-1]) or "/twilio/voice/gather?lang=zh"
        if english:
            steps.append(
                self.post(
                    action,
                    call_form(call_sid, from_number, self.hotline_number, "in-progress", Digits="1", FinishedOnKey=""),
                )
            )
            action = _action(steps[-1]) or "/twilio/voice/gather?lang=en"
        gathered = {"SpeechResult": speech, "Confidence": f"{confidence:.2f}"} if speech else {}
        steps.append(
            self.post(action, call_form(call_sid, from_number, self.hotline_number, "in-progress", **gathered))
        )
        record = steps[-1].verb("Record")
        if record is not None and recording_seconds > 0:
            rec_sid = sid("RE")
            url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{rec_sid}"
            steps.append(
                self.post(
                    _relative(record.get("action", "")),
                    call_form(
                        call_sid,
                        from_number,
                        self.hotline_number,
                        "in-progress",
                        RecordingUrl=url,
                        RecordingDuration=str(recording_seconds),
                        RecordingSid=rec_sid,
                        Digits="#",
                    ),
                )
            )
            callback = record.get("recordingStatusCallback")
            if callback:
                steps.append(
                    self.post(
                        _relative(callback),
                        {
                            "AccountSid": ACCOUNT_SID,
                            "CallSid": call_sid,
                            "RecordingSid": rec_sid,
                            "RecordingUrl": url,
                            "RecordingStatus": "completed",
                            "RecordingDuration": str(recording_seconds),
                            "RecordingChannels": "1",
                            "RecordingStartTime": "Wed, 25 Nov 2026 12:00:00 +0000",
                            "RecordingSource": "RecordVerb",
                            "RecordingTrack": "inbound",
                            "ErrorCode": "0",
                        },
                    )
                )
        return steps


def _action(exchange: Exchange) -> str | None:
    gather = exchange.verb("Gather")
    return _relative(gather.get("action", "")) if gather is not None else None


def _relative(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def http_transport(base_url: str, timeout: float = 15) -> Transport:
    import requests

    def post(path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        response = requests.post(
            base_url.rstrip("/") + path, data=urlencode(form).encode(), headers=headers, timeout=timeout
        )
        return response.status_code, response.content.decode("utf-8", "replace")

    return post
