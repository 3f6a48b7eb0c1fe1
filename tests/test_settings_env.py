"""Settings come from environment variables (DESIGN.md section 7.1); unset, they embed.

Each case runs a fresh interpreter, because settings are read once per process and the
test process itself runs on config.settings.test.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent

# Variables that settings read: none may leak in from the test process (test.py sets some).
_OURS = (
    "DJANGO_",
    "DATABASE_",
    "REDIS_",
    "CELERY_",
    "MEDIA_",
    "AWS_",
    "EMAIL_",
    "JWT_",
    "NOTIFY_",
    "TRACKER_",
    "DB_",
    "THROTTLE_",
    "LOG_LEVEL",
    "DEMO_",
    "DEFAULT_FROM",
)

DUMP_SETTINGS = """
import json, django
django.setup()
from django.conf import settings
from django.core.files.storage import storages
photos = storages["photos"]
db = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG,
    "allowed_hosts": settings.ALLOWED_HOSTS,
    "db": {k: db.get(k) for k in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")},
    "cache": settings.CACHES["default"]["BACKEND"],
    "cache_location": settings.CACHES["default"].get("LOCATION"),
    "broker": settings.CELERY_BROKER_URL,
    "photos_class": f"{type(photos).__module__}.{type(photos).__name__}",
    "photos_options": {k: v for k, v in settings.STORAGES["photos"].get("OPTIONS", {}).items()
                       if k != "secret_key"},
    "photos_expire": getattr(photos, "querystring_expire", None),
    "photos_acl": getattr(photos, "default_acl", None),
    "photos_querystring_auth": getattr(photos, "querystring_auth", None),
    "email_backend": settings.EMAIL_BACKEND,
    "email_host": getattr(settings, "EMAIL_HOST", None),
    "email_port": getattr(settings, "EMAIL_PORT", None),
    "email_user": getattr(settings, "EMAIL_HOST_USER", None),
    "email_tls": getattr(settings, "EMAIL_USE_TLS", None),
}, default=str))
"""


def clean_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    env.update(values)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def settings_with(**values: str) -> dict[str, Any]:
    result = run_python(DUMP_SETTINGS, clean_env(**values))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_production_values_come_from_the_environment() -> None:
    s = settings_with(
        DATABASE_URL="postgres://u:p@h:5433/d",
        REDIS_URL="redis://cache.internal:6379/1",
        CELERY_BROKER_URL="redis://broker.internal:6379/2",
        MEDIA_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="clinic-photos",
        AWS_S3_ENDPOINT_URL="http://minio:9000",
        AWS_ACCESS_KEY_ID="minio-user",
        AWS_SECRET_ACCESS_KEY="minio-secret-value",
        EMAIL_URL="smtp://mailer:s3cret@smtp.example.org:587/?tls=True",
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="tracker.example.org,api.tracker.example.org",
        DJANGO_SECRET_KEY="x" * 60,
    )

    assert s["debug"] is False
    assert s["allowed_hosts"] == ["tracker.example.org", "api.tracker.example.org"]
    assert s["db"]["ENGINE"] == "django.db.backends.postgresql"
    assert (s["db"]["HOST"], s["db"]["PORT"], s["db"]["NAME"]) == ("h", 5433, "d")
    assert (s["db"]["USER"], s["db"]["PASSWORD"]) == ("u", "p")
    assert s["cache"] == "django.core.cache.backends.redis.RedisCache"
    assert s["cache_location"] == "redis://cache.internal:6379/1"
    assert s["broker"] == "redis://broker.internal:6379/2"
    # Photos: a private bucket, every link signed and short-lived.
    assert s["photos_class"] == "storages.backends.s3.S3Storage"
    assert s["photos_options"]["bucket_name"] == "clinic-photos"
    assert s["photos_options"]["endpoint_url"] == "http://minio:9000"
    assert s["photos_acl"] == "private"
    assert s["photos_querystring_auth"] is True
    assert 0 < s["photos_expire"] <= 300
    assert s["email_backend"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (s["email_host"], s["email_port"]) == ("smtp.example.org", 587)
    assert (s["email_user"], s["email_tls"]) == ("mailer", True)


def test_broker_defaults_to_redis_url() -> None:
    s = settings_with(REDIS_URL="redis://cache.internal:6379/1")

    assert s["broker"] == "redis://cache.internal:6379/1"


def test_unset_variables_give_the_embedded_default(tmp_path: Path) -> None:
    s = settings_with(TRACKER_VAR_DIR=str(tmp_path))

    assert s["debug"] is False
    assert s["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert Path(s["db"]["NAME"]).parent == tmp_path
    assert s["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert s["broker"].startswith("filesystem://")
    assert s["photos_class"] == "django.core.files.storage.filesystem.FileSystemStorage"
    assert Path(s["photos_options"]["location"]).is_relative_to(tmp_path)
    assert s["email_backend"] == "django.core.mail.backends.console.EmailBackend"


@pytest.mark.parametrize(
    ("name", "value"),
    [("DJANGO_DEBUG", "ture"), ("DJANGO_HTTPS", "yes please"), ("MEDIA_STORAGE", "ftp")],
)
def test_a_typo_in_a_variable_fails_loudly(name: str, value: str) -> None:
    result = run_python(DUMP_SETTINGS, clean_env(**{name: value}))

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


def test_secret_key_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret_key"
    secret.write_text("from-a-docker-secret-" + "k" * 40 + "\n")
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.SECRET_KEY)"
    )

    result = run_python(code, clean_env(DJANGO_SECRET_KEY_FILE=str(secret)))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "from-a-docker-secret-" + "k" * 40


def test_check_deploy_passes_with_production_values() -> None:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    env = clean_env(
        DJANGO_SECRET_KEY="".join(secrets.choice(alphabet) for _ in range(60)),
        DJANGO_DEBUG="false",
        DJANGO_HTTPS="true",
        DJANGO_ALLOWED_HOSTS="tracker.example.org",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
    )

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_embedded_defaults() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    # The embedded secret key and plain HTTP must never pass as production.
    assert result.returncode != 0
    assert "security.W009" in result.stderr
    assert "security.W008" in result.stderr


def test_beat_runs_every_sweep_and_each_is_a_registered_task() -> None:
    """The sweeps that make a lost task or a dead worker harmless must be scheduled."""
    from config.celery import app

    app.loader.import_default_modules()
    schedule = settings.CELERY_BEAT_SCHEDULE
    tasks = {entry["task"] for entry in schedule.values()}
    assert {
        "notifications.evaluation.evaluation_sweep_task",
        "notifications.evaluation.evaluation_catch_up_task",
        "tracker.tasks.photos_sweep_task",
        "tracker.tasks.orphan_files_sweep_task",
        "notifications.tasks.deliveries_sweep_task",
        "notifications.tasks.escalation_sweep_task",
        "notifications.tasks.reminders_sweep_task",
    } <= tasks
    assert tasks <= set(app.tasks), sorted(tasks - set(app.tasks))
    # Countdowns and beat periods stay below the Redis visibility timeout (no double runs).
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    assert all(float(entry["schedule"]) < visibility for entry in schedule.values())
