"""Test settings: the same module as production, pointed at the real local PostgreSQL and Redis.

Celery stays non-eager (eager mode hides JSON-serialisation and on-commit bugs); tests capture
on-commit callbacks, call tasks directly, or start a real worker (tests/integration).
"""

from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tracker")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")

from config.settings.base import *
from config.settings.base import REST_FRAMEWORK, STORAGES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "photos": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "test-media" / "photos"), "base_url": None},
    },
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    # Throttles are tested on their own; elsewhere they would make the suite order-dependent.
    "DEFAULT_THROTTLE_RATES": {"auth": "10000/min", "activate": "10000/min"},
}
