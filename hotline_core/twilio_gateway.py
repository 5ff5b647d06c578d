"""Talking to Twilio's REST API with the real twilio client.

Without credentials nothing is sent: the gateway says so and the outbox records the message as
"not sent (no credentials)". ``TWILIO_API_BASE_URL`` points the client at another API root (the
fake Twilio API the tests run on loopback).

Each thread has its own twilio ``Client``: ``TwilioHttpClient.request`` hands its response back
through an instance attribute (``_test_only_last_response``), so two threads sharing one client
could each read the other's answer and record the wrong message SID. The outbox sends on the
gateway's own small thread pool (:meth:`TwilioGateway.submit_sms`) so that it does not wait for
Twilio's answer to one text before sending the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from hotline_core.settings import Settings

# A request to Twilio that takes longer fails (and is retried). It must stay well under the age at
# which the outbox takes a claim for a dead dispatcher's (hotline_core.outbox.STALE_CLAIM_SECONDS).
HTTP_TIMEOUT_SECONDS = 8

# Twilio error codes that will never succeed on retry (bad or unreachable number, opted out).
PERMANENT_ERRORS = {21211, 21212, 21214, 21408, 21421, 21606, 21610, 21612, 21614, 21617, 21635}


class NotConfigured(RuntimeError):
    """No Twilio credentials are set."""


class SendError(RuntimeError):
    def __init__(self, message: str, *, code: int | None = None, permanent: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


@dataclass(frozen=True)
class PlacedCall:
    sid: str
    status: str


class TwilioGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.settings.twilio_configured

    @property
    def client(self) -> Client:
        """This thread's client (see the module's docstring)."""
        if not self.configured:
            raise NotConfigured("no Twilio credentials")
        client: Client | None = getattr(self._local, "client", None)
        if client is None:
            client = Client(
                self.settings.twilio_account_sid,
                self.settings.twilio_auth_token,
                http_client=TwilioHttpClient(timeout=HTTP_TIMEOUT_SECONDS),
            )
            if self.settings.twilio_api_base_url:
                client.api.base_url = self.settings.twilio_api_base_url.rstrip("/")
            self._local.client = client
        return client

    def callback_url(self, path: str) -> str | None:
        base = self.settings.public_base_url
        return f"{base}{path}" if base else None

    def download_recording(self, url: str) -> tuple[bytes, str]:
        """A call recording's audio (MP3) and content type (Twilio's recording URLs come without a suffix;
        ``.mp3`` asks for MP3). See :meth:`download_media`."""
        target = url if url.rsplit("/", 1)[-1].count(".") else f"{url}.mp3"
        return self.download_media(target, accept=("audio/",))

    def download_media(self, url: str, *, accept: tuple[str, ...] = ("",)) -> tuple[bytes, str]:
        """A media file Twilio keeps for the account (a call recording, an MMS picture) and its content type,
        fetched with the account's credentials (Twilio serves media to the account's HTTP Basic auth when
        "enforce HTTP auth on media" is on; MMS media redirect to a signed copy, which ``requests`` follows).

        ``TWILIO_API_BASE_URL`` stands in for ``https://api.twilio.com`` here too. ``accept`` lists the content
        type prefixes taken. Raises :class:`NotConfigured` without credentials, :class:`SendError` if the
        download fails or answers another type.
        """
        if not self.configured:
            raise NotConfigured("no Twilio credentials")
        target = url
        base = self.settings.twilio_api_base_url
        if base and target.startswith("https://api.twilio.com"):
            target = base.rstrip("/") + target[len("https://api.twilio.com") :]
        try:
            response = requests.get(
                target,
                auth=(self.settings.twilio_account_sid or "", self.settings.twilio_auth_token or ""),
                timeout=60,
            )
        except requests.RequestException as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status_code != 200 or not content_type or not content_type.startswith(accept):
            raise SendError(f"media download answered {response.status_code} {content_type}")
        return response.content, content_type

    def send_sms(self, to: str, body: str) -> SentMessage:
        kwargs: dict[str, Any] = {"to": to, "from_": self.settings.twilio_phone_number, "body": body}
        status_callback = self.callback_url("/twilio/sms/status")
        if status_callback:
            kwargs["status_callback"] = status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            permanent = exc.code in PERMANENT_ERRORS or (400 <= exc.status < 500 and exc.status != 429)
            raise SendError(f"Twilio {exc.status} {exc.code}: {exc.msg}", code=exc.code, permanent=permanent) from exc
        except Exception as exc:  # network errors, timeouts: worth retrying
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        return SentMessage(sid=message.sid, status=message.status or "queued")

    def submit_sms(
        self, to: str, body: str, *, before: Callable[[], None] | None = None
    ) -> Future[SentMessage | SendError]:
        """:meth:`send_sms` on one of the gateway's sending threads (``HOTLINE_SMS_SEND_CONCURRENCY``
        of them, kept for the process so their connections to Twilio stay open), after ``before``
        (the outbox waits there for the text's send slot). The future holds the message or the
        :class:`SendError`; anything else the call raised is re-raised by ``result()``."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.settings.send_concurrency, thread_name_prefix="hotline-sms")
            pool = self._pool
        return pool.submit(self._send_or_error, to, body, before)

    def _send_or_error(self, to: str, body: str, before: Callable[[], None] | None) -> SentMessage | SendError:
        if before is not None:
            before()
        try:
            return self.send_sms(to, body)
        except SendError as exc:
            return exc

    def find_sent(self, to: str, body: str) -> SentMessage | None:
        """The message Twilio holds from our number to ``to`` with ``body``, if it accepted one.

        Used to reconcile a send whose outcome was never recorded (the worker died during the
        call): Twilio's message list is the only witness of whether it went out.
        """
        try:
            for message in self.client.messages.list(to=to, from_=self.settings.twilio_phone_number, limit=50):
                if message.body == body:
                    return SentMessage(sid=message.sid, status=message.status or "queued")
        except TwilioRestException as exc:
            raise SendError(f"Twilio {exc.status} {exc.code}: {exc.msg}", code=exc.code) from exc
        except Exception as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        return None

    def place_call(
        self,
        to: str,
        url: str,
        *,
        status_callback: str | None = None,
        record: bool = False,
        machine_detection: bool = False,
        timeout: int = 30,
        from_: str | None = None,
        recording_status_callback: str | None = None,
    ) -> PlacedCall:
        """An outbound call whose TwiML Twilio fetches from ``url`` when it is answered."""
        if recording_status_callback:
            record = True
        kwargs: dict[str, Any] = {
            "to": to,
            "from_": from_ or self.settings.twilio_phone_number,
            "url": url,
            "method": "POST",
            "timeout": timeout,
        }
        if status_callback:
            kwargs.update(
                status_callback=status_callback,
                status_callback_method="POST",
                status_callback_event=["initiated", "ringing", "answered", "completed"],
            )
        if record:
            kwargs["record"] = True
        if recording_status_callback:
            kwargs["recording_status_callback"] = recording_status_callback
            kwargs["recording_status_callback_method"] = "POST"
        if machine_detection:
            kwargs["machine_detection"] = "Enable"
        try:
            call = self.client.calls.create(**kwargs)
        except TwilioRestException as exc:
            raise SendError(
                f"Twilio {exc.status} {exc.code}: {exc.msg}", code=exc.code, permanent=400 <= exc.status < 500
            ) from exc
        except Exception as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc
        return PlacedCall(sid=call.sid, status=call.status or "queued")
