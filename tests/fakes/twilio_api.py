"""A fake Twilio REST API on loopback. The real twilio client talks to it over HTTP.

It records every request (path, HTTP Basic user, form fields) so tests can assert exactly what
the service sent, and it can be told to fail the next requests with a given status and error code,
or to answer slowly (``delay_seconds``). Like Twilio it lists the messages it created
(``GET .../Messages.json?To=...&From=...``), which the outbox uses to reconcile an interrupted send.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    account: str
    password: str
    form: dict[str, list[str]]

    def field(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class FakeTwilioAPI:
    requests: list[RecordedRequest] = field(default_factory=list)
    failures: list[tuple[int, int]] = field(default_factory=list)  # (HTTP status, Twilio error code)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delay_seconds: float = 0.0  # how long each request takes to answer
    created: list[dict[str, Any]] = field(default_factory=list)  # the messages it accepted
    on_request: Any = None  # called with each POST's RecordedRequest before it is answered
    #: what a GET of a recording (``.../Recordings/RE....mp3``) answers, to the account's Basic auth only
    recording_audio: bytes = b"ID3\x03\x00\x00\x00\x00\x00\x00fake mp3 frames"
    #: what a GET of an MMS media file (``.../Messages/MM.../Media/ME...``) answers, to the account's Basic
    #: auth only: (content type, bytes); ``media_failures`` answers the next N such GETs with 404
    media_file: tuple[str, bytes] = ("image/jpeg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00fake jpeg")
    media_failures: int = 0

    def fail_next(self, status: int, code: int, times: int = 1) -> None:
        with self.lock:
            self.failures.extend([(status, code)] * times)

    def messages(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/Messages.json")]

    def calls(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/Calls.json")]

    def start(self) -> FakeTwilioServer:
        return FakeTwilioServer(self)


class FakeTwilioServer:
    def __init__(self, api: FakeTwilioAPI) -> None:
        self.api = api
        handler = _make_handler(api)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _make_handler(api: FakeTwilioAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path.endswith(".mp3"):
                self._recording()
                return
            if "/Media/" in url.path:
                self._media()
                return
            query = parse_qs(url.query)
            if not url.path.endswith("/Messages.json"):
                self._json(404, {"code": 20404, "message": "not found", "status": 404})
                return
            with api.lock:
                found = [
                    m
                    for m in api.created
                    if all(m[key] == query[arg][0] for arg, key in (("To", "to"), ("From", "from")) if arg in query)
                ]
            self._json(
                200,
                {
                    "messages": list(reversed(found)),
                    "meta": {"key": "messages", "next_page_url": None, "previous_page_url": None, "page": 0},
                },
            )

        def _recording(self) -> None:
            """A recording file, to the account's Basic auth only."""
            auth = self.headers.get("Authorization", "")
            account, password = "", ""
            if auth.startswith("Basic "):
                account, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            with api.lock:
                api.requests.append(RecordedRequest("GET", self.path, account, password, {}))
            if not account.startswith("AC") or not password:
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            else:
                self.send_response(200)
                self.send_header("Content-Type", "audio/mpeg")
                self.send_header("Content-Length", str(len(api.recording_audio)))
                self.end_headers()
                self.wfile.write(api.recording_audio)

        def _media(self) -> None:
            """An MMS media file, to the account's Basic auth only (Twilio answers 404 once it is deleted)."""
            auth = self.headers.get("Authorization", "")
            account, password = "", ""
            if auth.startswith("Basic "):
                account, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            with api.lock:
                api.requests.append(RecordedRequest("GET", self.path, account, password, {}))
                failing = api.media_failures > 0
                if failing:
                    api.media_failures -= 1
            if not account.startswith("AC") or not password:
                self._json(401, {"code": 20003, "message": "Authenticate", "status": 401})
            elif failing:
                self._json(404, {"code": 20404, "message": "not found", "status": 404})
            else:
                content_type, body = api.media_file
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length).decode("utf-8")
            auth = self.headers.get("Authorization", "")
            account, password = "", ""
            if auth.startswith("Basic "):
                account, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            request = RecordedRequest("POST", self.path, account, password, parse_qs(raw, keep_blank_values=True))
            with api.lock:
                api.requests.append(request)
                failure = api.failures.pop(0) if api.failures else None
            if api.delay_seconds:
                time.sleep(api.delay_seconds)
            if api.on_request is not None:
                api.on_request(request)
            if failure:
                status, code = failure
                self._json(status, {"code": code, "message": f"fake failure {code}", "more_info": "", "status": status})
                return
            if self.path.endswith("/Messages.json"):
                message = {
                    "sid": "SM" + secrets.token_hex(16),
                    "status": "queued",
                    "to": request.field("To"),
                    "from": request.field("From"),
                    "body": request.field("Body"),
                    "account_sid": account,
                    "num_segments": "1",
                    "date_created": format_datetime(datetime.now(UTC)),
                }
                with api.lock:
                    api.created.append(message)
                self._json(201, message)
            elif self.path.endswith("/Calls.json"):
                sid = "CA" + secrets.token_hex(16)
                self._json(
                    201,
                    {
                        "sid": sid,
                        "status": "queued",
                        "to": request.field("To"),
                        "from": request.field("From"),
                        "account_sid": account,
                    },
                )
            else:
                self._json(404, {"code": 20404, "message": "not found", "status": 404})

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
