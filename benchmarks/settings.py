"""Settings of the benchmark server: the production settings module plus the comparison
endpoints of benchmarks/urls.py, on a dedicated PostgreSQL database and Redis db 14.

The environment defaults are set before the import, so that the benchmark process (which
migrates and seeds) and the gunicorn workers it starts agree on the database, the Redis
database and the JWT signing key.
"""

from __future__ import annotations

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_tracker")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/14")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-secret-key-not-for-production-0123456789abcdef")
# Production logs at INFO; nothing on the measured paths logs, this only quiets start-up.
os.environ.setdefault("LOG_LEVEL", "WARNING")

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
