"""docker-compose.yml, Dockerfile and .env.example stay valid (no Docker engine runs here).

The compose file is parsed with PyYAML (merge keys resolved) and each service's image,
command, dependencies and environment are checked; the Dockerfile's collectstatic step is
run with its own dummy environment.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
APP_SERVICES = ("migrate", "web", "worker", "beat")
DESIGN_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "DJANGO_DEBUG",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "MEDIA_STORAGE",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "EMAIL_URL",
    "DJANGO_HTTPS",
)
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


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose = yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile() -> list[str]:
    text = (BASE_DIR / "Dockerfile").read_text()
    # Join continuation lines so that each instruction is one string.
    joined = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


def command_of(service: dict[str, Any]) -> str:
    command = service.get("command", "")
    return command if isinstance(command, str) else " ".join(map(str, command))


def test_all_services_are_there(services: dict[str, Any]) -> None:
    assert {"db", "redis", "minio", "mailpit", *APP_SERVICES} <= services.keys()
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert services["minio"]["image"].startswith("minio/minio")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")


def test_backing_services_have_healthchecks(services: dict[str, Any]) -> None:
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert services["minio"]["healthcheck"]["test"]


def test_web_runs_gunicorn_on_the_wsgi_app(services: dict[str, Any]) -> None:
    command = command_of(services["web"])

    assert command.startswith("gunicorn")
    assert "config.wsgi" in command
    assert "runserver" not in command
    assert any(str(p).endswith(":8000") for p in services["web"]["ports"])


def test_worker_consumes_both_queues(services: dict[str, Any]) -> None:
    argv = shlex.split(command_of(services["worker"]))

    assert argv[:4] == ["celery", "-A", "config", "worker"]
    queues = argv[argv.index("-Q") + 1]
    assert set(queues.split(",")) == {"default", "alerts"}


def test_beat_runs_celery_beat(services: dict[str, Any]) -> None:
    argv = shlex.split(command_of(services["beat"]))

    assert argv[:4] == ["celery", "-A", "config", "beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_migrate_is_a_one_shot_that_the_app_waits_for(services: dict[str, Any]) -> None:
    migrate = services["migrate"]

    assert "manage.py migrate" in command_of(migrate)
    assert migrate["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_db_and_redis(services: dict[str, Any], name: str) -> None:
    depends = services[name]["depends_on"]

    assert depends["db"] == {"condition": "service_healthy"}
    assert depends["redis"] == {"condition": "service_healthy"}


def test_app_services_share_one_image(services: dict[str, Any]) -> None:
    builds = {str(services[name].get("build")) for name in APP_SERVICES}
    images = {services[name].get("image") for name in APP_SERVICES}

    assert builds == {"."}
    assert len(images) == 1
    assert None not in images


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_settings_come_from_the_environment(services: dict[str, Any], name: str) -> None:
    env = services[name]["environment"]

    assert "@db:5432/" in env["DATABASE_URL"]
    assert env["DATABASE_URL"].startswith("${DATABASE_URL:-postgres://")
    assert "redis://redis:6379" in env["REDIS_URL"]
    assert "redis://redis:6379" in env["CELERY_BROKER_URL"]
    assert env["MEDIA_STORAGE"] == "s3"
    assert "http://minio:9000" in env["AWS_S3_ENDPOINT_URL"]
    assert "smtp://mailpit:1025" in env["EMAIL_URL"]
    assert env["DJANGO_DEBUG"] == "false"
    # No secret key baked into the file: compose stops when it is missing.
    assert env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")


def test_web_healthcheck_probe_is_valid_python(services: dict[str, Any]) -> None:
    test = services["web"]["healthcheck"]["test"]

    assert test[:3] == ["CMD", "python", "-c"]
    compile(test[3], "<healthcheck>", "exec")
    assert "/health/" in test[3]


def test_photo_bucket_is_created_private(services: dict[str, Any]) -> None:
    script = command_of(services["minio-init"])

    assert "mc mb --ignore-existing" in script
    assert "mc anonymous set none" in script
    assert services["web"]["depends_on"]["minio-init"] == {
        "condition": "service_completed_successfully"
    }


def test_only_web_and_consoles_are_published(services: dict[str, Any]) -> None:
    assert "ports" not in services["db"]
    assert "ports" not in services["redis"]
    for name in ("minio", "mailpit"):
        assert all(str(p).startswith("127.0.0.1:") for p in services[name]["ports"])


# --- Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_builds_from_python_311_slim(dockerfile: list[str]) -> None:
    assert dockerfile[0] == "FROM python:3.11-slim"
    assert any(
        line.startswith("RUN pip install") and "-r requirements.txt" in line for line in dockerfile
    )


def test_dockerfile_runs_as_a_non_root_user(dockerfile: list[str]) -> None:
    users = [line.split()[1] for line in dockerfile if line.startswith("USER ")]

    assert users
    assert users[-1] not in {"root", "0", "0:0"}
    # The USER switch comes before the command that starts the service.
    assert dockerfile.index(f"USER {users[-1]}") < next(
        i for i, line in enumerate(dockerfile) if line.startswith("CMD")
    )


def test_dockerfile_serves_with_gunicorn(dockerfile: list[str]) -> None:
    cmd = next(line for line in dockerfile if line.startswith("CMD"))

    assert '"gunicorn"' in cmd
    assert "config.wsgi" in cmd


def test_dockerfile_collectstatic_step_works_with_its_dummy_env(
    dockerfile: list[str], tmp_path: Path
) -> None:
    run = next(line for line in dockerfile if "collectstatic" in line)
    words = shlex.split(run.removeprefix("RUN ").split("&&")[0])
    assignments = dict(w.split("=", 1) for w in words if re.match(r"^[A-Z_]+=", w))
    argv = [w for w in words if not re.match(r"^[A-Z_]+=", w)]
    assert argv[:2] == ["python", "manage.py"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env |= {"DJANGO_SETTINGS_MODULE": "config.settings.base", "TRACKER_VAR_DIR": str(tmp_path)}
    env |= assignments

    result = subprocess.run(
        [sys.executable, *argv[1:]],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").is_file()


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = set((BASE_DIR / ".dockerignore").read_text().split())

    assert {".env", ".git", ".venv", "var"} <= ignored


# --- .env.example ----------------------------------------------------------------------------


def env_example() -> dict[str, str]:
    values = {}
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_env_example_lists_every_setting_of_the_design() -> None:
    values = env_example()

    assert set(DESIGN_VARIABLES) <= values.keys()
    assert values["DJANGO_SECRET_KEY"] == ""  # must be chosen, never copied
    assert values["DJANGO_DEBUG"] == "false"
    assert values["MEDIA_STORAGE"] == "s3"


def test_env_example_values_pass_check_deploy() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env |= env_example()
    env |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    }

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
