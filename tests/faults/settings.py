"""Settings of the fault tests' private processes (Celery workers, beat, gunicorn).

The test settings, with every notification channel replaced by a file sink: each accepted
send appends one line (channel, delivery key, pid) to the file named by FAULT_SINK, so a test
can count what left the system across processes that it kills.
"""

from __future__ import annotations

from config.settings.test import *  # noqa: F403

NOTIFY_PUSH_BACKEND = "tests.faults.sink.PushSink"
NOTIFY_SMS_BACKEND = "tests.faults.sink.SmsSink"
EMAIL_BACKEND = "tests.faults.sink.EmailSink"
