"""Sweep benchmark (issue 5): the evaluation sweep vs one raw SQL query, same rows, same flags.

    python -m benchmarks.sweep_bench [--patients 10000] [--days 90] [--keep]

Builds (or reuses) a scratch PostgreSQL database `bench_sweep` holding a synthetic cohort
(`seed_demo --patients N --days D`), then measures:
- the first sweep (every rule for every patient, alerts created);
- the sweep beat runs every 5 minutes between two local midnights (nothing changed, nobody
  due: one query), and the day-roll sweep (the clock moved a day on: every patient due for
  the time-based rules), each with its wall time and number of queries;
- one raw SQL query computing the flags of the rules that SQL can express exactly
  (cytopenia, insomnia, systemic_flare) over the same rows;
and checks that both give the same (patient, rule) flags for those rules. The ratio is the
beat sweep's wall time over the SQL query's; the day-roll ratio is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from typing import Any

DB_NAME = "bench_sweep"
FLAG_RULES = ("cytopenia", "insomnia", "systemic_flare")

FLAGS_SQL = """
WITH latest_lab AS (
    SELECT DISTINCT ON (l.patient_id, l.test) l.patient_id, l.test, l.value
    FROM tracker_labresult l
    JOIN tracker_patient p ON p.id = l.patient_id AND p.status IN ('invited', 'active')
    WHERE l.test IN ('anc', 'platelets') AND l.value IS NOT NULL
    ORDER BY l.patient_id, l.test, l.collected_at DESC, l.id DESC
),
latest_check_in AS (
    SELECT DISTINCT ON (c.patient_id) c.patient_id, c.symptoms, c.joint_pain, c.foamy_urine,
           c.fever, c.chest_pain
    FROM tracker_checkin c
    JOIN tracker_patient p ON p.id = c.patient_id AND p.status IN ('invited', 'active')
    ORDER BY c.patient_id, c.answered_at DESC, c.id DESC
)
SELECT patient_id, 'cytopenia' FROM latest_lab
 WHERE (test = 'anc' AND value < %(anc)s) OR (test = 'platelets' AND value < %(platelets)s)
UNION
SELECT patient_id, 'insomnia' FROM latest_check_in, jsonb_array_elements(symptoms) s
 WHERE s->>'term' = 'insomnia'
   AND GREATEST(COALESCE((s->>'severity')::int, 0), COALESCE((s->>'interference')::int, 0))
       >= %(insomnia)s
UNION
SELECT patient_id, 'systemic_flare' FROM latest_check_in
 WHERE joint_pain OR foamy_urine OR fever OR chest_pain
"""


def _setup_django() -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/13")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        if not c.execute("SELECT 1 FROM pg_database WHERE datname=%s", (DB_NAME,)).fetchone():
            c.execute(f'CREATE DATABASE "{DB_NAME}"')
    import django

    django.setup()


def _timed(fn: Any) -> tuple[float, int, Any]:
    """Wall time, number of SQL statements (counted, not logged: no cap) and the result."""
    from django.db import connection

    count = 0

    def counter(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = fn()
        elapsed = time.perf_counter() - started
    return elapsed, count, result


def run(patients: int = 10_000, days: int = 90, keep: bool = True) -> dict[str, Any]:
    _setup_django()
    from django.core.management import call_command
    from django.db import connection

    from notifications.evaluation import evaluation_sweep
    from notifications.models import Alert
    from tracker.detection.thresholds import Thresholds
    from tracker.models import Patient

    print(f"[sweep] migrating {DB_NAME} ...", flush=True)
    call_command("migrate", verbosity=0)
    print(f"[sweep] cohort of {patients} patients x {days} days ...", flush=True)
    call_command("seed_demo", "--patients", str(patients), "--days", str(days))
    cohort = Patient.objects.filter(mrn__startswith="COH").count()
    print(f"[sweep] {cohort} cohort patients; first sweep (creates alerts) ...", flush=True)
    Alert.objects.all().delete() if not keep else None
    first_s, first_q, first = _timed(evaluation_sweep)
    print(f"[sweep] first: {first_s:.1f} s, {first_q} queries, {len(first.created)} alerts")
    print("[sweep] steady-state sweep (same local day, nothing changed) ...", flush=True)
    steady_s, steady_q, steady = _timed(evaluation_sweep)
    print(f"[sweep] steady: {steady_s * 1000:.1f} ms, {steady_q} queries, {steady.evaluated} due")
    print("[sweep] day-roll sweep (the next day: every patient due for the time rules) ...")
    import time_machine
    from django.utils import timezone

    with time_machine.travel(timezone.now() + timedelta(days=1), tick=True):
        roll_s, roll_q, roll = _timed(evaluation_sweep)
    print(f"[sweep] day roll: {roll_s:.1f} s, {roll_q} queries, {roll.evaluated} evaluated")
    Patient.objects.update(evaluate_after=None)  # leave the scratch database as it was seeded
    th = Thresholds()
    params = {
        "anc": th.anc_warning,
        "platelets": th.platelets_warning,
        "insomnia": th.insomnia_level,
    }
    print("[sweep] raw SQL flags ...", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(FLAGS_SQL, params)  # warm the cache like the sweep's second run
        cursor.fetchall()
        started = time.perf_counter()
        cursor.execute(FLAGS_SQL, params)
        sql_flags = {(pid, rule) for pid, rule in cursor.fetchall()}
        sql_s = time.perf_counter() - started
    # Open alerts of these rules whose evidence is about the latest data are the sweep's flags.
    sweep_flags = set(
        Alert.objects.filter(rule__in=FLAG_RULES)
        .exclude(status="resolved")
        .values_list("patient_id", "rule")
    )
    same = sweep_flags == sql_flags
    return {
        "patients": first.evaluated,
        "days": days,
        "first_sweep_s": first_s,
        "first_sweep_queries": first_q,
        "steady_sweep_s": steady_s,
        "steady_sweep_queries": steady_q,
        "steady_sweep_evaluated": steady.evaluated,
        "day_roll_sweep_s": roll_s,
        "day_roll_sweep_queries": roll_q,
        "day_roll_evaluated": roll.evaluated,
        "sql_s": sql_s,
        "ratio": steady_s / sql_s if sql_s else float("inf"),
        "day_roll_ratio": roll_s / sql_s if sql_s else float("inf"),
        "flags_sweep": len(sweep_flags),
        "flags_sql": len(sql_flags),
        "same_flags": same,
        "only_sweep": sorted(sweep_flags - sql_flags)[:5],
        "only_sql": sorted(sql_flags - sweep_flags)[:5],
    }


def format_table(r: dict[str, Any]) -> str:
    target = "PASS" if r["ratio"] <= 2 else "MISS"
    rows = [
        ("patients evaluated", f"{r['patients']} ({r['days']} days of history)"),
        (
            "first sweep (alerts written)",
            f"{r['first_sweep_s']:.2f} s, {r['first_sweep_queries']} queries",
        ),
        (
            "beat sweep, same local day",
            f"{r['steady_sweep_s'] * 1000:.1f} ms, {r['steady_sweep_queries']} queries, "
            f"{r['steady_sweep_evaluated']} due",
        ),
        (
            "day-roll sweep (time rules for all)",
            f"{r['day_roll_sweep_s']:.2f} s, {r['day_roll_sweep_queries']} queries, "
            f"{r['day_roll_evaluated']} evaluated",
        ),
        ("one raw SQL query (3 rules)", f"{r['sql_s'] * 1000:.0f} ms"),
        ("ratio beat sweep / SQL (target <= 2)", f"{r['ratio']:.3f} {target}"),
        ("ratio day-roll sweep / SQL", f"{r['day_roll_ratio']:.1f}"),
        ("same flags", f"{r['same_flags']} (sweep {r['flags_sweep']}, SQL {r['flags_sql']})"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args(argv)
    result = run(args.patients, args.days)
    print(format_table(result))
    if not result["same_flags"]:
        print("flags differ:", result["only_sweep"], result["only_sql"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
