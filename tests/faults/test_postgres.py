"""Fault 5: PostgreSQL restarted under a write load.

Everything runs against a private PostgreSQL cluster: gunicorn (2 sync workers, persistent
connections with health checks, as configured in settings), a Celery worker and beat; the
phones are a thread POSTing check-ins and dose logs over HTTP. The cluster is restarted
(`pg_ctl stop -m fast`, 3 s down, `pg_ctl start`) in the middle of the load.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import requests

from tests.faults import world
from tests.faults.conftest import Rig
from tests.faults.harness import PYTHON, ROOT, PostgresCluster, Web, wait_for

pytestmark = pytest.mark.slow

DB = "tracker"
DOWNTIME = 3.0  # seconds between the stop and the start


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    pg = PostgresCluster()
    try:
        pg.init()
        pg.start()
        pg.createdb(DB)
        yield pg
    finally:
        pg.remove()


def _run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-4000:]}"
    return done.stdout


@dataclass
class Call:
    started: float
    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int | str = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)


@dataclass
class Phones:
    base: str
    patients: list[dict[str, Any]]
    period: float = 0.05
    calls: list[Call] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def call(self, call: Call) -> Call:
        started = time.monotonic()
        try:
            response = requests.post(
                self.base + call.url, json=call.body, headers=call.headers, timeout=10
            )
            call.status = response.status_code
        except requests.RequestException as exc:
            call.status = type(exc).__name__
        call.seconds = time.monotonic() - started
        return call

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            patient = self.patients[n % len(self.patients)]
            headers = {"Authorization": f"Bearer {patient['token']}"}
            if n % 2:
                url, body = "/api/v1/check-ins/", world.check_in_payload(red_flag=n % 3 == 0)
            else:
                url = "/api/v1/dose-logs/"
                body = world.skipped_dose(patient["timezone"], days_ago=1 + n % 20)
            self.calls.append(self.call(Call(time.monotonic(), url, body, headers)))
            n += 1
            self.stop.wait(self.period)


def _burst(phones: Phones, count: int) -> list[Call]:
    """`count` check-ins, one after the other, spread over the patients."""
    calls = []
    for n, patient in zip(range(count), phones.patients * count, strict=False):
        headers = {"Authorization": f"Bearer {patient['token']}"}
        body = world.check_in_payload(red_flag=n % 2 == 0)
        calls.append(phones.call(Call(time.monotonic(), "/api/v1/check-ins/", body, headers)))
    return calls


def _progress(url: str) -> dict[str, int]:
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
            row = conn.execute(
                """
                SELECT
                  (SELECT count(*) FROM tracker_patient WHERE change_seq > evaluated_seq),
                  (SELECT count(*) FROM notifications_notificationdelivery
                    WHERE status IN ('pending', 'sending', 'failed')),
                  (SELECT count(*) FROM notifications_alert),
                  (SELECT count(*) FROM tracker_checkin WHERE neuro_symptoms),
                  (SELECT count(*) FROM notifications_notificationdelivery WHERE status = 'sent')
                """
            ).fetchone()
    except psycopg.Error:
        return {}
    assert row is not None
    keys = ("unevaluated", "open_deliveries", "alerts", "triggering_events", "sent")
    return dict(zip(keys, (int(v) for v in row), strict=True))


def _settled(progress: dict[str, int]) -> bool:
    return bool(progress) and (
        progress["unevaluated"] == 0
        and progress["open_deliveries"] == 0
        and progress["alerts"] == progress["triggering_events"]
        and progress["sent"] == progress["alerts"] * world.DELIVERIES_PER_ALERT
    )


def _client_ids(url: str) -> Counter[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT client_id::text FROM tracker_checkin "
            "UNION ALL SELECT client_id::text FROM tracker_doselog"
        ).fetchall()
    return Counter(r[0] for r in rows)


def test_postgres_restarted_under_writes(
    rig: Rig, cluster: PostgresCluster, report: Callable[..., None]
) -> None:
    db_url = cluster.url(DB)
    env = rig.env(DATABASE_URL=db_url, DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost")
    _run(env, "manage.py", "migrate", "--noinput")
    seeded = json.loads(_run(env, "-m", "tests.faults.private_db", "seed", "8"))
    web = Web(env, rig.dir / "gunicorn.log")
    try:
        web.start()
        rig.worker(concurrency=2, DATABASE_URL=db_url)
        rig.beat(DATABASE_URL=db_url)
        seeded_ids = _client_ids(db_url)
        phones = Phones(web.url, seeded["patients"])
        thread = threading.Thread(target=phones.run, daemon=True)
        thread.start()
        try:
            time.sleep(4)
            down = time.monotonic()
            cluster.stop("fast")  # every connection is cut; new ones are refused
            time.sleep(DOWNTIME)
            cluster.start()
            up = time.monotonic()
            time.sleep(4)
        finally:
            phones.stop.set()
            thread.join(timeout=30)

        calls = phones.calls
        failed = [c for c in calls if not c.ok]
        # Errors only while the server restarts: each failed request overlapped the window
        # (a request in flight when the connections were cut counts).
        stray = [c for c in failed if c.started + c.seconds < down - 0.5 or c.started > up + 0.5]
        assert not stray, [(round(c.started - down, 2), c.status) for c in stray]
        after = [c for c in calls if c.started > up]
        assert after, "no request after the restart"
        assert after[0].ok, f"first request after the restart: {after[0].status}"
        assert all(c.ok for c in after), Counter(str(c.status) for c in after if not c.ok)

        # The phones retry what failed, with the same client_id: nothing twice, nothing lost.
        retries = Counter(
            str(phones.call(Call(0, c.url, c.body, c.headers)).status) for c in failed
        )
        assert set(retries) <= {"200", "201"}, retries

        # A quiet restart: no request sees it happen, so every gunicorn worker still holds a
        # persistent connection the server has closed. The health check at the start of the
        # next request (CONN_HEALTH_CHECKS) must replace it: the first requests all succeed.
        quiet = _burst(phones, 6)
        cluster.restart("fast")
        quiet_after = _burst(phones, 8)
        assert all(c.ok for c in quiet + quiet_after), [c.status for c in quiet_after]

        stored = _client_ids(db_url) - seeded_ids
        assert set(stored) == {c.body["client_id"] for c in calls + quiet + quiet_after}
        assert set(stored.values()) == {1}

        def finished() -> dict[str, int] | None:
            progress = _progress(db_url)
            return progress if _settled(progress) else None

        settled = wait_for(
            finished,
            240,
            interval=0.5,
            what="everything evaluated and delivered",
            state=lambda: _progress(db_url),
        )
        recovered = time.monotonic() - up
        verdict = json.loads(
            _run(env, "-m", "tests.faults.private_db", "check", str(rig.sink), "4")
        )
    finally:
        web.stop()
    statuses = Counter(str(c.status) for c in failed)
    report(
        fault="PostgreSQL restarted under writes",
        writes=len(calls),
        restart_window_s=round(up - down, 2),
        failed_during_restart=len(failed),
        failed_statuses=dict(statuses),
        first_after_restart=after[0].status,
        quiet_restart_first_requests=[c.status for c in quiet_after],
        retried=dict(retries),
        max_write_ms=round(max(c.seconds for c in calls) * 1000),
        triggering_events=verdict["triggering_events"],
        alerts=verdict["alerts"],
        deliveries_sent=verdict["deliveries_sent"],
        resends=verdict["resends"],
        settled_after_restart_s=round(recovered, 1),
        progress=settled,
    )
