"""Profile the benchmarked endpoints in-process: the SQL each request runs, and cProfile.

    python -m benchmarks.profile_api [--requests 300] [--top 25] [--sql] [ENDPOINT ...]

ENDPOINT is one of: list, minimal, reference, create, create-nokey, minimal-create, sync.
Uses the benchmark's database and seed (benchmarks.server.bench_database) and Django's test
client, so what it shows is the view code path: middleware, authentication, view, serializer
and renderer, without gunicorn and the network.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.server import Database, bench_database, progress


def _requests(db: Database) -> dict[str, Callable[[Any], Any]]:
    from django.test import Client

    reader = db.reader
    writer = db.new_patient("profile-writer")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()

    def client(token: str) -> Client:
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    read_client, write_client = client(reader.token), client(writer.token)

    def body() -> str:
        return json.dumps(
            {
                "client_id": str(uuid.uuid4()),
                "scheduled_date": yesterday,
                "status": "taken",
                "dose_mg": "5",
            }
        )

    def post(path: str, *, key: bool) -> Callable[[Any], Any]:
        def call(_: Any) -> Any:
            extra = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())} if key else {}
            return write_client.post(path, body(), content_type="application/json", **extra)

        return call

    def sync(_: Any) -> Any:
        batch = [json.loads(body()) for _ in range(500)]
        return write_client.post(
            "/api/v1/sync/", json.dumps({"dose_logs": batch}), content_type="application/json"
        )

    return {
        "list": lambda _: read_client.get("/api/v1/dose-logs/"),
        "minimal": lambda _: read_client.get("/bench/minimal/dose-logs/"),
        "reference": lambda _: read_client.get("/bench/reference/dose-logs/"),
        "create": post("/api/v1/dose-logs/", key=True),
        "create-nokey": post("/api/v1/dose-logs/", key=False),
        "minimal-create": post("/bench/minimal/dose-logs/", key=False),
        "sync": sync,
    }


def _show_sql(name: str, call: Callable[[Any], Any]) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        resp = call(None)
    print(f"\n== {name}: HTTP {resp.status_code}, {len(ctx.captured_queries)} queries")
    for q in ctx.captured_queries[:40]:
        print(f"  {q['time']:>6}s  {q['sql'][:160]}")


def _profile(name: str, call: Callable[[Any], Any], n: int, top: int, callers: list[str]) -> None:
    for _ in range(min(20, n)):
        call(None)  # warm caches, connections and imports
    prof = cProfile.Profile()
    prof.enable()
    for i in range(n):
        call(i)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    per = stats.total_tt / n * 1000  # type: ignore[attr-defined]
    print(f"\n== {name}: {n} requests, {per:.2f} ms of profiled time per request")
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    for pattern in callers:
        stats.print_callers(pattern)
    print(out.getvalue())


def _timing(name: str, call: Callable[[Any], Any], n: int) -> None:
    """Wall and CPU time of this process per request (the database's CPU is not counted)."""
    for _ in range(min(20, n)):
        call(None)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(n):
        call(i)
    wall = (time.perf_counter() - wall0) / n * 1000
    cpu = (time.process_time() - cpu0) / n * 1000
    print(f"{name:16} wall {wall:6.2f} ms/request   python CPU {cpu:6.2f} ms/request")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("endpoints", nargs="*", default=["list", "reference", "create"])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sql", action="store_true", help="only print each request's SQL")
    parser.add_argument(
        "--timing", action="store_true", help="only time each endpoint (wall and CPU), no profile"
    )
    parser.add_argument(
        "--callers", action="append", default=[], help="also print the callers of FUNC (regex)"
    )
    args = parser.parse_args(argv)
    with bench_database() as db:
        calls = _requests(db)
        unknown = [e for e in args.endpoints if e not in calls]
        if unknown:
            parser.error(f"unknown endpoint(s) {unknown}; choose from {sorted(calls)}")
        for name in args.endpoints:
            n = max(1, args.requests // 100) if name == "sync" else args.requests
            if args.timing:
                _timing(name, calls[name], n)
                continue
            _show_sql(name, calls[name])
            if not args.sql:
                progress(f"profiling {name}")
                _profile(name, calls[name], n, args.top, args.callers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
