"""The output of a rule, and helpers that keep its evidence JSON-serialisable.

Invariants of a Finding:
- ``severity`` is one of SEVERITIES;
- ``episode_key`` depends only on data that identify the episode (a date or an id of its first
  data point), never on ``today`` or on later unrelated data, because the alert store upserts by
  (patient, rule, episode_key) and must not reopen a resolved episode on the same evidence;
- ``evidence`` holds only str, int, float, bool, None, list and dict (dates as ISO strings,
  decimals as strings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

__all__ = ["SEVERITIES", "SEVERITY_RANK", "Finding", "dec", "jsonable", "plural", "span"]

SEVERITIES: tuple[str, ...] = ("info", "warning", "urgent")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Finding:
    """One condition a rule found for a patient.

    ``summary`` is one line a nurse understands without the evidence; ``evidence`` carries the
    data points (ids, dates, values) and the thresholds used.
    """

    rule: str
    severity: str
    episode_key: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITY_RANK:
            raise ValueError(f"Unknown severity {self.severity!r}")
        # Normalising here means no rule can hand the alert store a Decimal or a date.
        object.__setattr__(self, "evidence", jsonable(self.evidence))


def dec(value: Decimal) -> str:
    """A decimal as plain text without exponent or trailing zeros: 10, 2.5, 0.8."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def jsonable(value: Any) -> Any:
    """``value`` with dates as ISO strings, decimals as strings and tuples as lists."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Decimal):
        return dec(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [jsonable(v) for v in value]
        return sorted(items) if isinstance(value, set | frozenset) else items
    raise TypeError(f"Evidence value of type {type(value).__name__} is not JSON-serialisable")


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def span(days: int) -> str:
    """A duration as a nurse would say it: "5 days", "3 weeks"."""
    return plural(days, "day") if days < 14 else plural(days // 7, "week")
