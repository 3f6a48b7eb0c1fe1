"""Private servers and workers for the fault tests: Redis, PostgreSQL, Celery worker and beat.

Nothing here touches the shared PostgreSQL on 5432 or the shared Redis on 6379 beyond the
test database pytest-django created: each fault runs against servers it started itself on
free ports of 127.0.0.1, and every process is stopped (SIGKILL as a last resort) by the
fixture that started it, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import redis
import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    *,
    interval: float = 0.1,
    what: str = "condition",
    state: Callable[[], object] | None = None,
) -> T:
    """Poll until predicate() is truthy and return it; AssertionError after `timeout` s
    (with `state()` in the message, to say what was left)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            left = f": {state()}" if state is not None else ""
            raise AssertionError(f"{what} not met within {timeout:.0f} s{left}")
        time.sleep(interval)


def _stop(proc: subprocess.Popen[bytes] | None, *, timeout: float = 15.0) -> None:
    """SIGTERM the process, wait, then SIGKILL whatever is left of its process group."""
    if proc is None:
        return
    group = _group_members(proc.pid)
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)  # the main process shuts its children down
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
    _kill_group(proc.pid, group)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _group_members(pgid: int) -> list[psutil.Process]:
    members = []
    for p in psutil.process_iter(["pid"]):
        with contextlib.suppress(psutil.Error):
            if os.getpgid(p.pid) == pgid:
                members.append(p)
    return members


def _kill_group(pgid: int, known: list[psutil.Process]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for p in known:  # children that left the group (none expected) are still ours
        with contextlib.suppress(psutil.Error):
            p.kill()


# --------------------------------------------------------------------------------- Redis


class RedisServer:
    """A private redis-server on a free port; `appendonly` keeps the queue across a restart
    (production's setting), without it a restart comes back empty."""

    def __init__(self, workdir: Path, *, appendonly: bool = False) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def up(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--dir",
                str(self.dir),
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self.up, 10, what=f"redis on {self.port}")

    def stop(self) -> None:
        """A clean shutdown (the append-only file, if any, is kept)."""
        _stop(self.proc)
        self.proc = None

    def wipe(self) -> None:
        for name in ("appendonlydir", "appendonly.aof", "dump.rdb"):
            target = self.dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()

    def queued(self) -> dict[str, int]:
        c = self.client()
        return {
            "default": int(c.llen("default")),
            "alerts": int(c.llen("alerts")),
            "unacked": int(c.hlen("unacked")),
        }


# --------------------------------------------------------------------------------- PostgreSQL


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name} of a PostgreSQL server installation")
    return str(found[-1])


class PostgresCluster:
    """A private PostgreSQL cluster (initdb in a temporary directory, trust auth).

    initdb refuses root, so as root the cluster belongs to the `postgres` system user.
    """

    def __init__(self) -> None:
        # Not under pytest's tmp_path: as root that is private to root, and the server runs
        # as `postgres`. remove() deletes it.
        self.workdir = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.dir = self.workdir / "pgdata"
        self.sock = self.workdir
        self.port = free_port()
        self.log = self.workdir / "postgres.log"
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.workdir, "postgres")

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        subprocess.run(
            [*self._as, *args], check=True, timeout=timeout, capture_output=True, cwd="/"
        )

    def init(self) -> None:
        self._run(
            _pg_bin("initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def _ctl(self, action: str, *extra: str) -> None:
        options = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.dir),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            action,
            *extra,
        )

    def start(self) -> None:
        self._ctl("start")

    def stop(self, mode: str = "fast") -> None:
        self._ctl("stop", "-m", mode)

    def restart(self, mode: str = "fast") -> None:
        self._ctl("restart", "-m", mode)

    def running(self) -> bool:
        return (self.dir / "postmaster.pid").exists()

    def remove(self) -> None:
        """Stop the server if it runs (immediate mode), then delete the cluster."""
        try:
            if self.running():
                self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            with contextlib.suppress(OSError, ValueError, IndexError):
                pid = int((self.dir / "postmaster.pid").read_text().split()[0])
                os.kill(pid, signal.SIGKILL)  # the postmaster; its backends exit with it
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def createdb(self, name: str) -> None:
        self._run(
            _pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name
        )


# --------------------------------------------------------------------------------- Celery


def process_env(*, database_url: str, redis_url: str, sink: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.faults.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": redis_url,
        "FAULT_SINK": str(sink),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("RUN_SLOW", None)
    env.update(extra)
    return env


class Worker:
    """`celery worker` (prefork) in its own process group, consuming default and alerts."""

    def __init__(self, env: dict[str, str], log: Path, *, concurrency: int = 4) -> None:
        self.env = env
        self.log = log
        self.concurrency = concurrency
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, *, wait: bool = True) -> None:
        self.starts += 1
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        out.write(f"\n===== start {self.starts}\n".encode())
        out.flush()
        self._mark = self.log.stat().st_size
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "default,alerts",
                "-P",
                "prefork",
                "-c",
                str(self.concurrency),
                "-l",
                "info",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "-n",
                f"faults{self.starts}-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}: see {self.log}")
            with open(self.log, "rb") as f:
                f.seek(self._mark)
                return b" ready." in f.read()

        wait_for(ready, timeout, interval=0.2, what="celery worker ready")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.pid).children()
        except psutil.Error:
            return []

    def kill_child(self, pid: int) -> bool:
        if pid not in {c.pid for c in self.children()}:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            return True
        return False

    def kill_all(self) -> None:
        """SIGKILL the main process and its pool at once (a crashed host or container)."""
        assert self.proc is not None
        _kill_group(self.proc.pid, [*self.children()])
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        _stop(self.proc, timeout=20)
        self.proc = None

    def log_count(self, needle: str) -> int:
        return self.log.read_text(errors="replace").count(needle) if self.log.exists() else 0


class Beat:
    """A private `celery beat` (the production schedule) in its own process group."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.dir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.dir / "beat.log", "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "info",
                "-s",
                str(self.dir / "beat-schedule"),
                "--pidfile=",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


class Web:
    """gunicorn serving the project (sync workers, as in production) in its own group."""

    def __init__(self, env: dict[str, str], log: Path, *, workers: int = 2) -> None:
        self.env = env
        self.log = log
        self.workers = workers
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - owned by the process
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--timeout",
                "30",
                "--graceful-timeout",
                "5",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

        def up() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.proc.returncode}: {self.log}")
            try:
                return requests.get(f"{self.url}/health/", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(up, 60, interval=0.25, what="gunicorn answering")

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[Any]:
    """Point this process's Celery app (on-commit publishes, sweeps, inspect) at `url`."""
    from config.celery import app

    def reset() -> None:
        pool = app._pool
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.force_close_all()
        app._pool = None
        with contextlib.suppress(AttributeError, KeyError):
            app.__dict__["amqp"]._producer_pool = None

    saved = app.conf.broker_url
    reset()
    app.conf.broker_url = url
    try:
        yield app
    finally:
        reset()
        app.conf.broker_url = saved
