"""A provider stand-in shared by processes: every accepted message is one appended line.

Each line is `<channel> <delivery key> <pid>`, written with one O_APPEND write so lines
from concurrent workers never interleave. FAULT_SINK_DELAY (seconds) makes each send take
that long *before* the provider accepts it, like a slow network call: a worker killed
during the delay has sent nothing.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from notifications.transports.base import Message

SINK_ENV = "FAULT_SINK"
DELAY_ENV = "FAULT_SINK_DELAY"


def accept(channel: str, key: str) -> None:
    path = os.environ.get(SINK_ENV)
    if not path:
        raise RuntimeError(f"{SINK_ENV} is not set")
    delay = float(os.environ.get(DELAY_ENV) or 0)
    if delay > 0:
        time.sleep(delay)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{channel} {key} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


class PushSink:
    def send(self, message: Message) -> None:
        accept("push", message.key)


class SmsSink:
    def send(self, message: Message) -> None:
        accept("sms", message.key)


class EmailSink(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        for email in email_messages:
            accept("email", str(email.extra_headers.get("X-Tracker-Delivery", "")))
        return len(email_messages)


@dataclass(frozen=True)
class Received:
    lines: int
    keys: Counter[str]

    @property
    def duplicates(self) -> dict[str, int]:
        return {key: n for key, n in self.keys.items() if n > 1}


def read(path: Path) -> Received:
    keys: Counter[str] = Counter()
    lines = 0
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) == 3:
                keys[parts[1]] += 1
                lines += 1
    return Received(lines, keys)
