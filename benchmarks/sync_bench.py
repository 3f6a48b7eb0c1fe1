"""Benchmark: one 500-record POST sync/ batch against 500 single POST dose-logs/.

    python -m benchmarks.sync_bench [--quick] [--json]

The scenario is a phone flushing its offline queue: the same 500 dose logs (unique client_ids,
a mix of taken and missed doses over the last months) either as one `POST /api/v1/sync/`
batch or as 500 `POST /api/v1/dose-logs/`, one after the other on one keep-alive connection
(a phone sends its queue in order). Singles carry no Idempotency-Key: both paths are then
idempotent by client_id alone, and the singles are as cheap as they can be.

Each round uses two fresh patients with the same regimen, one per path, so both start from
the same state; the order of the two alternates between rounds. Reported: the median round's
wall times and their ratio, batch / singles. Target (issue 8): <= 0.20.

Same server as the API benchmark (benchmarks.server): gunicorn, 2 gthread workers,
PostgreSQL bench_tracker, Redis db 14.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from benchmarks.server import Actor, Server, bench_server, progress

BATCH = 500
TARGET = 0.20
ROUNDS = {"full": 3, "quick": 1}


def records(n: int = BATCH) -> list[dict[str, Any]]:
    today = datetime.now(UTC).date()
    out = []
    for i in range(n):
        day = (today - timedelta(days=1 + i % 300)).isoformat()
        rec: dict[str, Any] = {"client_id": str(uuid.uuid4()), "scheduled_date": day}
        if i % 10 == 9:
            rec["status"] = "missed"
        else:
            rec.update(status="taken", dose_mg="5")
        if i % 25 == 0:
            rec["note"] = "with breakfast"
        out.append(rec)
    return out


def _batch(server: Server, actor: Actor, items: list[dict[str, Any]]) -> float:
    session = requests.Session()
    body = json.dumps({"dose_logs": items})
    headers = {**actor.headers, "Content-Type": "application/json"}
    started = time.perf_counter()
    resp = session.post(server.url("/api/v1/sync/"), data=body, headers=headers, timeout=300)
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        raise RuntimeError(f"sync/ answered {resp.status_code}: {resp.text[:300]}")
    statuses = {r["status"] for r in resp.json()["results"]}
    if statuses != {"created"} or len(resp.json()["results"]) != len(items):
        raise RuntimeError(f"sync/ did not create every record: {sorted(statuses)}")
    return elapsed


def _singles(server: Server, actor: Actor, items: list[dict[str, Any]]) -> float:
    session = requests.Session()
    headers = {**actor.headers, "Content-Type": "application/json"}
    url = server.url("/api/v1/dose-logs/")
    bodies = [json.dumps(item) for item in items]
    started = time.perf_counter()
    for body in bodies:
        resp = session.post(url, data=body, headers=headers, timeout=30)
        if resp.status_code != 201:
            raise RuntimeError(f"dose-logs/ answered {resp.status_code}: {resp.text[:300]}")
    return time.perf_counter() - started


def measure(server: Server, rounds: int) -> dict[str, Any]:
    # Warm-up: both paths once, small, on a throw-away patient.
    warm = server.new_patient("sync-warm")
    _batch(server, warm, records(50))
    _singles(server, warm, records(50))
    batch_s: list[float] = []
    singles_s: list[float] = []
    for r in range(rounds):
        a, b = server.new_patient("sync-batch"), server.new_patient("sync-singles")
        items = records()
        steps = [("batch", a), ("singles", b)]
        if r % 2:
            steps.reverse()
        for kind, actor in steps:
            progress(f"sync round {r + 1}/{rounds}: {kind} of {BATCH}")
            if kind == "batch":
                batch_s.append(_batch(server, actor, items))
            else:
                singles_s.append(_singles(server, actor, items))
        for actor in (a, b):
            if server.dose_count(actor) != BATCH:
                raise RuntimeError("a path did not store exactly the 500 records")
        progress(
            f"sync round {r + 1}/{rounds}: batch {batch_s[-1]:.2f} s, singles "
            f"{singles_s[-1]:.2f} s, ratio {batch_s[-1] / singles_s[-1]:.3f}"
        )
    batch, singles = statistics.median(batch_s), statistics.median(singles_s)
    return {
        "rounds": rounds,
        "batch_s": batch,
        "singles_s": singles,
        "ratio": batch / singles,
        "batch_ms_per_record": batch / BATCH * 1000,
        "single_ms_per_request": singles / BATCH * 1000,
        "pass": batch / singles <= TARGET,
    }


def format_table(result: dict[str, Any], title: str) -> str:
    return "\n".join(
        [
            title,
            f"  500 records as one POST sync/ batch   {result['batch_s']:7.2f} s  "
            f"({result['batch_ms_per_record']:.2f} ms a record)",
            f"  500 single POST dose-logs/            {result['singles_s']:7.2f} s  "
            f"({result['single_ms_per_request']:.2f} ms a request)",
            f"  ratio batch / singles                 {result['ratio']:7.3f}    target <= "
            f"{TARGET:.2f}  {'PASS' if result['pass'] else 'MISS'}",
        ]
    )


def run(
    quick: bool = False, *, server: Server | None = None, print_table: bool = True
) -> list[dict[str, Any]]:
    """Measure; print the result; return the figures for run_all's combined table."""
    if server is None:
        with bench_server() as own:
            return run(quick, server=own, print_table=print_table)
    rounds = ROUNDS["quick" if quick else "full"]
    result = measure(server, rounds)
    if print_table:
        title = f"Sync push, {server.description}; median of {rounds} round(s)"
        print(format_table(result, title))
    return [
        {
            "benchmark": "sync",
            "name": "sync/ 500-record batch / 500 single POSTs",
            "figure": f"{result['ratio']:.3f}",
            "value": result["ratio"],
            "target": f"<= {TARGET:.2f}",
            "pass": result["pass"],
        },
        {
            "benchmark": "sync",
            "name": "sync/ batch of 500: wall time (ms a record)",
            "figure": f"{result['batch_s']:.2f} s ({result['batch_ms_per_record']:.2f})",
            "value": result["batch_s"],
            "target": "",
            "pass": None,
        },
        {
            "benchmark": "sync",
            "name": "500 single POSTs: wall time (ms a request)",
            "figure": f"{result['singles_s']:.2f} s ({result['single_ms_per_request']:.2f})",
            "value": result["singles_s"],
            "target": "",
            "pass": None,
        },
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round instead of three")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    figs = run(args.quick)
    if args.json:
        print(json.dumps(figs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
