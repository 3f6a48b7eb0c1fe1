"""Typed readers for environment variables (Healthchecks' envbool/envint, strict).

Settings read the environment only through these helpers, so that a typo such as
DJANGO_DEBUG=ture fails loudly at start-up instead of silently meaning False.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_optional(name: str) -> str | None:
    return os.environ.get(name) or None


def env_required(name: str) -> str:
    try:
        return os.environ[name]
    except KeyError:
        raise ImproperlyConfigured(f"Missing required environment variable {name}") from None


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in {"true", "false", "1", "0"}:
        raise ImproperlyConfigured(f"{name} must be 'true' or 'false', got {raw!r}")
    return raw.lower() in {"true", "1"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_secret(name: str, default: str | None = None) -> str:
    """Read NAME_FILE (a Docker/Kubernetes secret) if set, else NAME, else the default."""
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    if default is None:
        return env_required(name)
    return os.environ.get(name, default)
