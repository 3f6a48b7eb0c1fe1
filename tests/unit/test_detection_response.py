"""non_response: no complete response by week 12 (week 32 for lupus profundus)."""

from __future__ import annotations

import pytest

from tracker.detection.findings import Finding
from tracker.detection.response import non_response

from .test_detection_timeline import DEFAULTS, TL, assert_json, day, only


def run(tl: TL, today: int) -> list[Finding]:
    return non_response(tl.build(), day(today), DEFAULTS)


@pytest.mark.parametrize(
    ("subtype", "deadline"),
    [("dle", 84), ("scle", 84), ("tumid", 84), ("other", 84), ("lupus_profundus", 224)],
)
def test_deadline_edge_by_subtype(subtype: str, deadline: int) -> None:
    tl = TL(subtype=subtype).step(0, "5").clasi(0, 12).clasi(deadline - 10, 3)
    assert run(tl, deadline - 1) == []
    f = only(run(tl, deadline))
    assert f.severity == "info"
    assert f.episode_key == f"non_response:{day(0)}"
    assert f.evidence["deadline"] == str(day(deadline))
    assert f.evidence["latest_clasi"]["activity"] == 3
    assert f.summary == (
        f"No complete response after {deadline // 7} weeks of lenalidomide "
        f"(latest CLASI activity 3 on {day(deadline - 10)})"
    )
    assert_json(f)
    assert run(tl, deadline + 30)[0].episode_key == f.episode_key


def test_cr_before_the_deadline_or_later_silences_it() -> None:
    assert run(TL().step(0, "5").clasi(0, 12).clasi(60, 0), 90) == []
    late = TL().step(0, "5").clasi(0, 12).clasi(100, 0)
    assert run(late, 99)
    assert run(late, 100) == []


def test_no_clasi_at_all_still_fires() -> None:
    f = only(run(TL().step(0, "5"), 84))
    assert f.evidence["latest_clasi"] is None
    assert "no CLASI assessment recorded" in f.summary


def test_silent_when_stopped_or_not_started() -> None:
    assert run(TL().step(0, "5").step(7, "0", "stopped", reason="withdrawal"), 90) == []
    assert run(TL(start=None), 200) == []
