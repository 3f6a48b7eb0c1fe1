"""The phone mix for the load proof (run by run_load.py, headless).

Each simulated phone is one seeded patient with a long-lived access token. Per task (one
request each), by weight: list dose logs 30, schedule 15, sync pull 15 (reads); dose-log
POST 20, check-in POST 10 (writes; each check-in queues an evaluation on the Celery worker),
photo upload 3 (a small, distinct JPEG; processed by the worker).

Driven by a LoadTestShape read from LOAD_STAGES (JSON list of {name, duration, users,
spawn_rate, rate}); `rate` is each user's pace in requests/s (0: back to back, a closed
loop). Every request is logged (start, latency, status, name, stage) to LOAD_LOG (CSV) when
the run ends; run_load.py computes the figures from it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import os
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from locust import FastHttpUser, LoadTestShape, events, task

SEED = json.loads(open(os.environ["LOAD_SEED"]).read())  # noqa: SIM115
STAGES: list[dict[str, Any]] = json.loads(os.environ["LOAD_STAGES"])
LOG_PATH = os.environ["LOAD_LOG"]
STATE: dict[str, Any] = {"stage": STAGES[0]["name"], "rate": STAGES[0]["rate"]}
TRANSITIONS: list[tuple[float, str]] = []
"""(wall time, stage) when each stage began: a request belongs to the stage it started in."""
RECORDS: list[tuple[float, float, int, str, str]] = []
_patients = itertools.cycle(SEED["patients"])
AREAS = ["face", "scalp", "ears", "nose", "v_neck", "chest", "back", "arms", "hands"]  # CLASI codes


def _jpegs(count: int = 64) -> list[bytes]:
    """Small distinct JPEGs (random pixels), made once: uploads must not be de-duplicated."""
    from PIL import Image

    rng = random.Random(7)
    out = []
    for _ in range(count):
        img = Image.frombytes(
            "RGB", (48, 36), bytes(rng.randrange(256) for _ in range(48 * 36 * 3))
        )
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        out.append(buf.getvalue())
    return out


JPEGS = _jpegs()


class Stages(LoadTestShape):
    def tick(self) -> tuple[int, float] | None:
        elapsed = self.get_run_time()
        end = 0.0
        for stage in STAGES:
            end += stage["duration"]
            if elapsed < end:
                if not TRANSITIONS or TRANSITIONS[-1][1] != stage["name"]:
                    TRANSITIONS.append((time.time(), stage["name"]))
                STATE["stage"], STATE["rate"] = stage["name"], stage["rate"]
                return stage["users"], stage["spawn_rate"]
        return None


@events.request.add_listener
def _record(
    request_type: str,
    name: str,
    response_time: float,
    response: Any = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    status = getattr(response, "status_code", 0) or 0
    if exception is not None and not status:
        status = 0
    began = start_time or time.time()
    stage = STATE["stage"]
    for moment, name_ in reversed(TRANSITIONS):
        if moment <= began:
            stage = name_
            break
    RECORDS.append((began, response_time, int(status), name, stage))


@events.quitting.add_listener
def _write(**_: Any) -> None:
    with open(LOG_PATH, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["start", "ms", "status", "name", "stage"])
        writer.writerows(RECORDS)


class Phone(FastHttpUser):
    network_timeout = 10.0
    connection_timeout = 5.0

    def wait_time(self) -> float:
        """Paced at STATE['rate'] requests/s per user (a schedule, not a sleep after each)."""
        rate = STATE["rate"]
        now = time.monotonic()
        if rate <= 0:
            self._due = now
            return 0.0
        interval = 1.0 / rate
        due = getattr(self, "_due", now + random.random() * interval) + interval
        self._due = max(due, now)
        return self._due - now

    def on_start(self) -> None:
        me = next(_patients)
        self.patient = me["id"]
        self.headers = {"Authorization": f"Bearer {me['token']}"}
        self.cursor = ""

    def _json(self, method: str, path: str, name: str, body: dict[str, Any]) -> None:
        with self.client.request(
            method, path, name=name, json=body, headers=self.headers, catch_response=True
        ) as response:
            response.success()  # statuses are judged by run_load.py from the log

    def _get(self, path: str, name: str) -> Any:
        with self.client.get(path, name=name, headers=self.headers, catch_response=True) as r:
            r.success()
            return r

    @task(30)
    def dose_logs(self) -> None:
        self._get("/api/v1/dose-logs/", "GET dose-logs/")

    @task(15)
    def schedule(self) -> None:
        self._get(f"/api/v1/patients/{self.patient}/schedule/", "GET schedule/")

    @task(15)
    def sync(self) -> None:
        path = "/api/v1/sync/" + (f"?since={self.cursor}" if self.cursor else "")
        response = self._get(path, "GET sync/")
        if response.status_code == 200:
            with contextlib.suppress(ValueError, KeyError, TypeError):
                self.cursor = response.json()["cursor"]

    @task(20)
    def log_dose(self) -> None:
        taken = random.random() < 0.8
        day = datetime.now(UTC).date() - timedelta(days=random.randint(1, 60))
        body = {
            "client_id": str(uuid.uuid4()),
            "scheduled_date": day.isoformat(),
            "status": "taken" if taken else "missed",
        }
        if taken:
            body["dose_mg"] = "5"
        self._json("POST", "/api/v1/dose-logs/", "POST dose-logs/", body)

    @task(10)
    def check_in(self) -> None:
        answered = datetime.now(UTC) - timedelta(minutes=random.randint(1, 600))
        body = {
            "client_id": str(uuid.uuid4()),
            "answered_at": answered.isoformat(),
            "symptoms": [{"term": "nausea", "frequency": 1, "severity": 1}],
            "itch": random.randint(0, 4),
            "pain": random.randint(0, 3),
        }
        self._json("POST", "/api/v1/check-ins/", "POST check-ins/", body)

    @task(3)
    def photo(self) -> None:
        # A fresh random tail after the JPEG's end marker makes each upload's bytes distinct
        # (the server stores only the re-encoded pixels, so the tail never survives).
        data = random.choice(JPEGS) + uuid.uuid4().bytes
        fields = {
            "client_id": str(uuid.uuid4()),
            "body_area": random.choice(AREAS),
            "taken_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        }
        boundary = uuid.uuid4().hex
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
            f'filename="lesion.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {**self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        with self.client.post(
            "/api/v1/photos/",
            data=b"".join(parts),
            headers=headers,
            name="POST photos/",
            catch_response=True,
        ) as response:
            response.success()
