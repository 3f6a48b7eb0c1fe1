"""Benchmark: dose-log list and create against a minimal DRF endpoint and a values()+orjson
reference, side by side on the same server in one run.

    python -m benchmarks.api_bench [--quick] [--loader wrk|python] [--concurrency 8] [--json]

Server (benchmarks.server): gunicorn config.wsgi with benchmarks.settings (the production
settings with ROOT_URLCONF=benchmarks.urls), 2 gthread workers x 4 threads, a dedicated
PostgreSQL database bench_tracker and Redis db 14, seeded with one clinic and a patient with
500 current dose logs (and 25 superseded versions).

Endpoints (benchmarks.views for the comparison ones):

- list:      GET /api/v1/dose-logs/ as the patient (first page of 50, with the audit row).
- minimal:   GET /bench/minimal/dose-logs/: ListAPIView + ModelSerializer, same filter,
             same JWT authentication, pagination and renderer.
- reference: GET /bench/reference/dose-logs/: the same JWT check, the same queries through
             values() and the same body via orjson, without DRF (and without audit).
- create:    POST /api/v1/dose-logs/ with a unique client_id and Idempotency-Key (the phone
             path: idempotency record, service, audit row, evaluation task); and without
             the Idempotency-Key.
- minimal create: POST /bench/minimal/dose-logs/: ModelSerializer save with the client_id.

Creates are spread over one patient per connection, as real phones are different patients
(one patient's rows would serialise on its row lock, which a phone never does). The body of
the real list is checked to be identical to the reference's before anything is timed.

Method: a warm-up of every endpoint, then R rounds; in each round every endpoint runs in
turn (the order rotates between rounds) with the same concurrency; the table gives the
median round's throughput and the median p50/p95. Targets (issue 3): list >= 0.40 of the
minimal endpoint and >= 0.70 of the reference; create >= 0.30 of the minimal create.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from benchmarks.loaders import Call, Stats, available_loaders, median_stats, python_load, wrk_load
from benchmarks.server import Server, bench_server, progress

LIST_VS_MINIMAL = 0.40
LIST_VS_REFERENCE = 0.70
CREATE_VS_MINIMAL = 0.30
CONCURRENCY = 8

REAL = "/api/v1/dose-logs/"
MINIMAL = "/bench/minimal/dose-logs/"
REFERENCE = "/bench/reference/dose-logs/"


@dataclass(frozen=True)
class Plan:
    rounds: int
    seconds: float  # wrk: per endpoint and round
    requests: int  # python: per endpoint and round
    warmup_seconds: float
    warmup_requests: int


PLANS = {
    "full": Plan(rounds=5, seconds=5, requests=500, warmup_seconds=3, warmup_requests=200),
    "quick": Plan(rounds=3, seconds=2, requests=150, warmup_seconds=1, warmup_requests=60),
}


def _create_body() -> str:
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    return json.dumps(
        {"client_id": "@CID@", "scheduled_date": yesterday, "status": "taken", "dose_mg": "5"}
    )


def _calls(server: Server, writers: list[str]) -> dict[str, Call]:
    read = {"Authorization": f"Bearer {server.reader.token}"}
    json_ct = {"Content-Type": "application/json"}
    body = _create_body()
    return {
        "list": Call("GET", REAL, 200, headers=read),
        "list minimal": Call("GET", MINIMAL, 200, headers=read),
        "list reference": Call("GET", REFERENCE, 200, headers=read),
        "create": Call(
            "POST",
            REAL,
            201,
            body=body,
            headers={**json_ct, "Idempotency-Key": "@CID@"},
            tokens=tuple(writers),
        ),
        "create, no Idempotency-Key": Call(
            "POST", REAL, 201, body=body, headers=json_ct, tokens=tuple(writers)
        ),
        "create minimal": Call(
            "POST", MINIMAL, 201, body=body, headers=json_ct, tokens=tuple(writers)
        ),
    }


def _check_same_rows(server: Server) -> None:
    """The three lists must give the same rows (the real one and the reference: same bytes)."""
    headers = server.reader.headers
    real = requests.get(server.url(REAL), headers=headers, timeout=30)
    ref = requests.get(server.url(REFERENCE), headers=headers, timeout=30)
    minimal = requests.get(server.url(MINIMAL), headers=headers, timeout=30)
    for name, resp in (("real", real), ("reference", ref), ("minimal", minimal)):
        if resp.status_code != 200:
            raise RuntimeError(f"{name} list answered {resp.status_code}: {resp.text[:300]}")
    # Byte for byte, but for the path in the "next" link.
    if real.content != ref.content.replace(REFERENCE.encode(), REAL.encode(), 1):
        raise RuntimeError(
            "the reference list's body differs from the real list's:\n"
            f"{real.content[:400]!r}\n{ref.content[:400]!r}"
        )
    real_ids = [r["id"] for r in real.json()["results"]]
    minimal_ids = [r["public_id"] for r in minimal.json()["results"]]
    if real_ids != minimal_ids or len(real_ids) != 50 or real.json()["count"] != 500:
        raise RuntimeError("the minimal list does not return the real list's rows")


def _check_create(server: Server, call: Call) -> None:
    one = Call(call.method, call.path, call.expect, call.body, call.headers, call.tokens[:1])
    stats = python_load(server.base_url, one, requests_total=1, concurrency=1)
    if stats.errors:
        raise RuntimeError(f"POST {call.path} did not answer {call.expect}")


# Endpoints compared with each other run next to each other in every round, so that a
# change in the machine's load between rounds hits both sides of a ratio alike.
GROUPS = (
    ("list", "list minimal", "list reference"),
    ("create", "create, no Idempotency-Key", "create minimal"),
)


def measure(
    server: Server, calls: dict[str, Call], *, loader: str, plan: Plan, concurrency: int
) -> dict[str, list[Stats]]:
    """Every endpoint once per round; returns each endpoint's per-round figures."""

    def once(call: Call, warm: bool) -> Stats:
        cpu_before = server.app_cpu_seconds()
        if loader == "wrk":
            secs = plan.warmup_seconds if warm else plan.seconds
            stats = wrk_load(server.base_url, call, seconds=secs, concurrency=concurrency)
        else:
            n = plan.warmup_requests if warm else plan.requests
            stats = python_load(server.base_url, call, requests_total=n, concurrency=concurrency)
        if stats.requests:
            stats.app_cpu_ms = (server.app_cpu_seconds() - cpu_before) / stats.requests * 1000
        return stats

    progress(f"warming up {len(calls)} endpoints")
    for call in calls.values():
        once(call, warm=True)
    rounds: dict[str, list[Stats]] = {name: [] for name in calls}
    for r in range(plan.rounds):
        for group in GROUPS:
            order = group[r % len(group) :] + group[: r % len(group)]
            for name in order:
                stats = once(calls[name], warm=False)
                rounds[name].append(stats)
                progress(
                    f"round {r + 1}/{plan.rounds} {name:28} {stats.rps:8.1f} req/s "
                    f"p50 {stats.p50_ms:6.1f} ms p95 {stats.p95_ms:6.1f} ms "
                    f"app CPU {stats.app_cpu_ms:5.2f} ms/req"
                    + (f"  ERRORS {stats.errors}" if stats.errors else "")
                )
    return rounds


def _paired(rounds: dict[str, list[Stats]], name: str, base: str | None) -> list[float]:
    """The ratio of throughputs in each round (both measured back to back)."""
    if base is None:
        return []
    return [a.rps / b.rps for a, b in zip(rounds[name], rounds[base], strict=True) if b.rps]


def _row(
    label: str,
    rounds: dict[str, list[Stats]],
    name: str,
    *,
    minimal: str | None,
    reference: str | None,
    targets: dict[str, float],
) -> dict[str, Any]:
    stats = median_stats(rounds[name])
    by_min = _paired(rounds, name, minimal)
    by_ref = _paired(rounds, name, reference)
    vs_min = statistics.median(by_min) if by_min else None
    vs_ref = statistics.median(by_ref) if by_ref else None
    checks = []
    if "minimal" in targets and vs_min is not None:
        checks.append(vs_min >= targets["minimal"])
    if "reference" in targets and vs_ref is not None:
        checks.append(vs_ref >= targets["reference"])
    target = " and ".join(f">= {v:.2f} of {k}" for k, v in targets.items())
    return {
        "endpoint": label,
        "rps": stats.rps,
        "p50_ms": stats.p50_ms,
        "p95_ms": stats.p95_ms,
        "p99_ms": stats.p99_ms,
        "app_cpu_ms": stats.app_cpu_ms,
        "requests": stats.requests,
        "errors": stats.errors,
        "vs_minimal": vs_min,
        "vs_minimal_range": (min(by_min), max(by_min)) if by_min else None,
        "vs_reference": vs_ref,
        "vs_reference_range": (min(by_ref), max(by_ref)) if by_ref else None,
        "target": target,
        "pass": all(checks) if checks else None,
    }


def endpoint_rows(rounds: dict[str, list[Stats]]) -> list[dict[str, Any]]:
    """Ratios are medians of the per-round ratios; req/s and latencies medians of rounds."""
    lists = {"minimal": "list minimal", "reference": "list reference"}
    list_targets = {"minimal": LIST_VS_MINIMAL, "reference": LIST_VS_REFERENCE}
    creates = {"minimal": "create minimal", "reference": None}
    create_targets = {"minimal": CREATE_VS_MINIMAL}
    return [
        _row("dose-logs list", rounds, "list", **lists, targets=list_targets),
        _row("list: minimal DRF", rounds, "list minimal", **lists, targets={}),
        _row("list: values()+orjson reference", rounds, "list reference", **lists, targets={}),
        _row(
            "dose-logs create (Idempotency-Key)",
            rounds,
            "create",
            **creates,
            targets=create_targets,
        ),
        _row(
            "dose-logs create (no key)",
            rounds,
            "create, no Idempotency-Key",
            **creates,
            targets=create_targets,
        ),
        _row("create: minimal DRF", rounds, "create minimal", **creates, targets={}),
    ]


def _fmt_ratio(row: dict[str, Any], key: str) -> str:
    """The median ratio, and its range over the rounds."""
    value, spread = row[key], row.get(f"{key}_range")
    if value is None:
        return "-"
    if spread is None or spread[0] == spread[1]:
        return f"{value:.2f}"
    return f"{value:.2f} ({spread[0]:.2f}-{spread[1]:.2f})"


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "MISS")


def format_table(rows: list[dict[str, Any]], title: str) -> str:
    headers = (
        "endpoint",
        "req/s",
        "p50 ms",
        "p95 ms",
        "CPU ms/req",
        "vs minimal",
        "vs reference",
        "target",
        "",
    )
    lines = [
        [
            r["endpoint"],
            f"{r['rps']:.1f}",
            f"{r['p50_ms']:.1f}",
            f"{r['p95_ms']:.1f}",
            f"{r['app_cpu_ms']:.2f}",
            _fmt_ratio(r, "vs_minimal"),
            _fmt_ratio(r, "vs_reference"),
            r["target"] or "-",
            _verdict(r["pass"]),
        ]
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" if i in (0, 7, 8) else f"{{:>{w}}}" for i, w in enumerate(widths))
    body = [fmt.format(*headers), fmt.format(*("-" * w for w in widths))]
    body += [fmt.format(*line) for line in lines]
    return "\n".join([title, *body])


def figures(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of run_all's combined table."""
    by = {r["endpoint"]: r for r in rows}
    lst = by["dose-logs list"]
    out = [
        _figure("dose-log list / minimal DRF (req/s)", lst, "vs_minimal", LIST_VS_MINIMAL),
        _figure("dose-log list / values()+orjson (req/s)", lst, "vs_reference", LIST_VS_REFERENCE),
    ]
    for key, label in (
        ("dose-logs create (Idempotency-Key)", "dose-log create (Idempotency-Key) / minimal"),
        ("dose-logs create (no key)", "dose-log create (no key) / minimal"),
    ):
        out.append(_figure(f"{label} (req/s)", by[key], "vs_minimal", CREATE_VS_MINIMAL))
    for r in rows:
        out.append(
            {
                "benchmark": "api",
                "name": f"{r['endpoint']}: req/s (p50 / p95 ms)",
                "figure": f"{r['rps']:.0f} ({r['p50_ms']:.1f} / {r['p95_ms']:.1f})",
                "value": r["rps"],
                "target": "",
                "pass": None,
            }
        )
    return out


def _figure(name: str, row: dict[str, Any], key: str, minimum: float) -> dict[str, Any]:
    value = row[key]
    return {
        "benchmark": "api",
        "name": name,
        "figure": _fmt_ratio(row, key),
        "value": value,
        "target": f">= {minimum:.2f}",
        "pass": value >= minimum,
    }


def run(
    quick: bool = False,
    *,
    server: Server | None = None,
    loader: str | None = None,
    concurrency: int = CONCURRENCY,
    print_table: bool = True,
) -> list[dict[str, Any]]:
    """Measure; print the endpoint table; return the figures for run_all's combined table."""
    if server is None:
        with bench_server() as own:
            return run(
                quick, server=own, loader=loader, concurrency=concurrency, print_table=print_table
            )
    loader = loader or available_loaders()[0]
    plan = PLANS["quick" if quick else "full"]
    writers = [server.new_patient("writer").token for _ in range(concurrency)]
    calls = _calls(server, writers)
    progress("checking that the three lists return the same rows")
    _check_same_rows(server)
    for name in ("create", "create, no Idempotency-Key", "create minimal"):
        _check_create(server, calls[name])
    progress(
        f"api bench: loader {loader}, concurrency {concurrency}, {plan.rounds} rounds of "
        + (f"{plan.seconds:.0f} s" if loader == "wrk" else f"{plan.requests} requests")
        + " per endpoint"
    )
    rounds = measure(server, calls, loader=loader, plan=plan, concurrency=concurrency)
    rows = endpoint_rows(rounds)
    errors = sum(r["errors"] for r in rows)
    if print_table:
        title = (
            f"Dose-log API, {server.description}; loader {loader}, concurrency {concurrency}, "
            f"median of {plan.rounds} rounds"
        )
        print(format_table(rows, title))
        if errors:
            print(f"WARNING: {errors} requests did not answer the expected status")
    figs = figures(rows)
    for f in figs:
        f["loader"] = loader
    if errors:
        figs.append(
            {
                "benchmark": "api",
                "name": "unexpected statuses",
                "figure": str(errors),
                "value": errors,
                "target": "0",
                "pass": False,
            }
        )
    return figs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--loader", choices=["wrk", "python"], default=None)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    if args.loader == "wrk" and "wrk" not in available_loaders():
        parser.error("wrk is not installed (apt-get install wrk)")
    figs = run(args.quick, loader=args.loader, concurrency=args.concurrency)
    if args.json:
        print(json.dumps(figs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
