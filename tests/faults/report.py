"""Print the fault proofs' figures (the JSON lines the tests wrote) as one table.

python -m tests.faults.report var/proof/faults.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# The figures worth a column, in this order, with short headings.
COLUMNS = (
    ("kills", "kills"),
    ("writes", "writes"),
    ("writes_during_outage", "during"),
    ("failed_during_restart", "errors"),
    ("max_write_ms", "max ms"),
    ("triggering_events", "events"),
    ("alerts", "alerts"),
    ("deliveries_sent", "sent"),
    ("resends", "resent"),
)
RECOVERY = (
    "settled_after_last_kill_s",
    "settled_after_restart_s",
    "delivered_after_recovery_s",
    "recovered_s",
    "duration_s",
)


def rows(path: Path) -> list[dict[str, Any]]:
    found = []
    for line in path.read_text().splitlines():
        if line.strip():
            found.append(json.loads(line))
    return found


def table(entries: list[dict[str, Any]]) -> str:
    header = ["fault", "result", *(h for _, h in COLUMNS), "recovery s", "test s"]
    body = []
    for e in entries:
        recovery = next((e[k] for k in RECOVERY if k in e), "")
        body.append(
            [
                str(e.get("fault", e["test"])),
                "PASS" if e.get("outcome") == "passed" else "FAIL",
                *(str(e.get(key, "")) for key, _ in COLUMNS),
                str(recovery),
                str(e.get("seconds", "")),
            ]
        )
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in body)])


def main(argv: list[str]) -> int:
    path = Path(argv[0])
    entries = rows(path) if path.exists() else []
    if not entries:
        sys.stdout.write(f"no fault figures in {path}\n")
        return 1
    sys.stdout.write(table(entries) + "\n")
    machine = entries[-1].get("machine", "")
    sys.stdout.write(f"machine: {machine}; recorded {entries[-1].get('at', '')}\n")
    return 0 if all(e.get("outcome") == "passed" for e in entries) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
