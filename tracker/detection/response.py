"""non_response: no complete response (CLASI activity 0) by the expected week.

Source: Cortes-Hernandez et al., Arthritis Res Ther 2012;14:R265: median time to CR 6 weeks
(range 2-12) for discoid and subacute CLE, 13 weeks (4-32) for lupus profundus; the upper end of
each range is the deadline. Other subtypes were not studied and use the DLE/SCLE deadline.

Invariants: the finding exists from the deadline until a CLASI activity of 0 is recorded (or the
treatment is stopped); its key is the treatment start, so there is one episode per treatment.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tracker.detection.findings import Finding
from tracker.detection.thresholds import Thresholds
from tracker.detection.timeline import ClasiScore, Timeline

__all__ = ["non_response"]


def non_response(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """No CLASI activity 0 on or before today once the subtype's deadline has come (info)."""
    tl = timeline.as_of(today)
    start = tl.treatment_start
    if start is None or tl.is_stopped_on(today):
        return []
    subtype = tl.patient.cle_subtype
    weeks = (
        thresholds.non_response_weeks_profundus
        if subtype == "lupus_profundus"
        else thresholds.non_response_weeks_default
    )
    deadline = start + timedelta(weeks=weeks)
    scores = [c for c in tl.clasi if c.assessed_on >= start]
    if today < deadline or any(c.activity == 0 for c in scores):
        return []
    latest = scores[-1] if scores else None
    lowest = min(scores, key=lambda c: c.activity) if scores else None
    if latest is not None:
        status = f"latest CLASI activity {latest.activity} on {latest.assessed_on}"
    else:
        status = "no CLASI assessment recorded"
    return [
        Finding(
            rule="non_response",
            severity="info",
            episode_key=f"non_response:{start.isoformat()}",
            summary=f"No complete response after {weeks} weeks of lenalidomide ({status})",
            evidence={
                "treatment_started_on": start,
                "cle_subtype": subtype,
                "weeks_expected": weeks,
                "deadline": deadline,
                "weeks_on_treatment": (today - start).days // 7,
                "latest_clasi": _clasi_evidence(latest),
                "lowest_clasi": _clasi_evidence(lowest),
                "thresholds": thresholds.subset(
                    "non_response_weeks_default", "non_response_weeks_profundus"
                ),
            },
        )
    ]


def _clasi_evidence(score: ClasiScore | None) -> dict[str, Any] | None:
    if score is None:
        return None
    return {"clasi_id": score.id, "assessed_on": score.assessed_on, "activity": score.activity}
