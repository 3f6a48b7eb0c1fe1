"""Real servers for the channel tests: an SMTP server (aiosmtpd) and an HTTP server that
speaks enough FCM HTTP v1, an SMS gateway and a webhook receiver that verifies signatures."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

FCM_PROJECT = "test-project"
FCM_PATH = f"/v1/projects/{FCM_PROJECT}/messages:send"
FCM_TOKEN = "test-oauth-token"
SMS_PATH = "/sms"
HOOK_PATH = "/hook"
HOOK_SECRET = "whsec-test-0123456789"


class StaticTokenProvider:
    """NOTIFY_FCM_TOKEN_PROVIDER for tests: a fixed OAuth bearer token."""

    invalidated = 0

    def token(self) -> str:
        return FCM_TOKEN

    def invalidate(self) -> None:
        StaticTokenProvider.invalidated += 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- SMTP


@dataclass
class Mail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def text(self) -> str:
        payload = self.message.get_payload(decode=True)
        return payload.decode() if isinstance(payload, bytes) else str(payload)


class SmtpInbox:
    """aiosmtpd handler: keeps every accepted message; refuses recipients in `refuse` (550)."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            Mail(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 Message accepted"

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.rcpt_tos]


class SmtpServer:
    def __init__(self) -> None:
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every command
        self.inbox = SmtpInbox()
        self.port = free_port()
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


# --------------------------------------------------------------------------- HTTP


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Request], tuple[int, dict[str, Any]]]


def fcm_error(status: int, code: str) -> tuple[int, dict[str, Any]]:
    return status, {
        "error": {
            "code": status,
            "message": "error",
            "status": code if status != 404 else "NOT_FOUND",
            "details": [
                {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}
            ],
        }
    }


def _fcm_ok(request: Request) -> tuple[int, dict[str, Any]]:
    """Validate the FCM v1 shape the way the real endpoint would, then accept."""
    if request.headers.get("Authorization") != f"Bearer {FCM_TOKEN}":
        return 401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}
    message = request.json().get("message", {})
    notification = message.get("notification", {})
    data = message.get("data", {})
    valid = (
        isinstance(message.get("token"), str)
        and isinstance(notification.get("title"), str)
        and isinstance(notification.get("body"), str)
        and all(isinstance(v, str) for v in data.values())
    )
    if not valid:
        return fcm_error(400, "INVALID_ARGUMENT")
    return 200, {"name": f"projects/{FCM_PROJECT}/messages/{len(request.body)}"}


def _hook_ok(request: Request) -> tuple[int, dict[str, Any]]:
    """A receiver following docs/notifications.md: recompute the HMAC over ts + "." + body."""
    timestamp = request.headers.get("X-Tracker-Timestamp", "")
    expected = (
        "sha256="
        + hmac.new(
            HOOK_SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
        ).hexdigest()
    )
    if not hmac.compare_digest(expected, request.headers.get("X-Tracker-Signature", "")):
        return 401, {"error": "bad signature"}
    return 204, {}


@dataclass
class HttpServer:
    """Records every POST; `responders[path]` decides the answer (default: accept)."""

    requests: list[Request] = field(default_factory=list)
    responders: dict[str, Responder] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.responders.setdefault(FCM_PATH, _fcm_ok)
        self.responders.setdefault(SMS_PATH, lambda r: (202, {"id": "sms-1"}))
        self.responders.setdefault(HOOK_PATH, _hook_ok)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = Request(self.path, dict(self.headers.items()), self.rfile.read(length))
                recorder.requests.append(request)
                responder = recorder.responders.get(self.path, lambda r: (404, {}))
                status, payload = responder(request)
                body = json.dumps(payload).encode() if status != 204 else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def at(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    def always(self, path: str, status: int, payload: dict[str, Any] | None = None) -> None:
        self.responders[path] = lambda r: (status, payload or {})
