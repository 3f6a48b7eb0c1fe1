"""possible_relapse: loss of response after complete response or during a taper.

Source: Cortes-Hernandez et al., Arthritis Res Ther 2012;14:R265 (75% of complete responders
relapsed 2-8 weeks after a dose reduction or withdrawal); Klein et al. 2011 (a CLASI activity
change of >= 4 points or >= 20% is meaningful; activity > 0 after 0 is loss of CR).

Invariants:
- The rule is silent until the patient has responded: a CLASI activity of 0 since treatment
  start (complete response), or a clinician-entered taper/withdrawal step, because the protocol
  tapers only after CR and a CR assessed outside this system must not hide a relapse in taper.
- The episode is anchored to the latest "anchor" on or before today: a CR onset (a CLASI 0 after
  a non-zero or no earlier CLASI) or a dose reduction after response. Only data strictly after
  the anchor can trigger, since data up to it was known when the clinician made that decision.
  The key is ``relapse:<anchor date>``: new evidence within the same anchor attaches to the same
  alert, and the next reduction or a new CR opens a new episode.
- Only the latest check-in (with the one before it) and the latest CLASI are read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tracker.detection.findings import Finding, dec, span
from tracker.detection.thresholds import Thresholds
from tracker.detection.timeline import ClasiScore, RegimenStep, Timeline

__all__ = ["RULE", "dose_phrase", "possible_relapse", "step_phrase"]

RULE = "possible_relapse"
_TAPER_REASONS = frozenset({"taper", "withdrawal"})
_SCORES = (("itch", "itch"), ("pain", "skin pain"), ("global_activity", "skin activity"))
_THRESHOLDS = (
    "taper_watch_days",
    "relapse_score_rise",
    "relapse_consecutive_check_ins",
    "clasi_rise_points",
    "clasi_rise_fraction",
)
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True, slots=True)
class _Anchor:
    day: date
    kind: str  # "complete_response" or "reduction"
    clasi_id: int | None = None
    step_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Trigger:
    day: date
    criterion: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)


def possible_relapse(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Signs of relapse after response; urgent inside the taper watch window."""
    tl = timeline.as_of(today)
    anchor = _anchor(tl)
    if anchor is None:
        return []
    triggers = [
        *_check_in_triggers(tl, anchor, thresholds),
        *_clasi_triggers(tl, anchor, thresholds),
    ]
    if not triggers:
        return []
    trigger_day = max(t.day for t in triggers)
    reduction = tl.last_reduction_on_or_before(trigger_day)
    days_since = (trigger_day - reduction[0].starts_on).days if reduction else None
    in_window = days_since is not None and days_since <= thresholds.taper_watch_days
    texts = "; ".join(t.text for t in triggers)
    if reduction is not None and days_since is not None:
        summary = f"Possible relapse {span(days_since)} after {step_phrase(reduction[0])}: {texts}"
    else:
        summary = f"Possible relapse after complete response: {texts}"
    evidence = {
        "anchor": {
            "kind": anchor.kind,
            "date": anchor.day,
            "clasi_id": anchor.clasi_id,
            "step_id": anchor.step_id,
        },
        "complete_response": _first_cr(tl),
        "trigger_date": trigger_day,
        "triggers": [{"criterion": t.criterion, "date": t.day, **t.data} for t in triggers],
        "reduction": _reduction_evidence(reduction) if reduction else None,
        "days_since_reduction": days_since,
        "in_taper_watch_window": in_window,
        "thresholds": thresholds.subset(*_THRESHOLDS),
    }
    severity = "urgent" if in_window else "warning"
    key = f"relapse:{anchor.day.isoformat()}"
    return [Finding(RULE, severity, key, summary, evidence)]


def _since_start(tl: Timeline) -> list[ClasiScore]:
    start = tl.treatment_start
    return [c for c in tl.clasi if start is None or c.assessed_on >= start]


def _first_cr(tl: Timeline) -> dict[str, Any] | None:
    for score in _since_start(tl):
        if score.activity == 0:
            return {"clasi_id": score.id, "assessed_on": score.assessed_on}
    return None


def _anchor(tl: Timeline) -> _Anchor | None:
    """The latest CR onset or post-response reduction, or None before any response."""
    scores = _since_start(tl)
    cr_onsets = [
        _Anchor(score.assessed_on, "complete_response", clasi_id=score.id)
        for i, score in enumerate(scores)
        if score.activity == 0 and (i == 0 or scores[i - 1].activity > 0)
    ]
    reductions = tl.reductions()
    tapers = [step.starts_on for step, _ in reductions if step.reason in _TAPER_REASONS]
    responded_on = min([a.day for a in cr_onsets[:1]] + tapers[:1], default=None)
    if responded_on is None:
        return None
    anchors = cr_onsets + [
        _Anchor(step.starts_on, "reduction", step_id=step.id)
        for step, _ in reductions
        if step.starts_on >= responded_on
    ]
    # On a tie the reduction wins: it is the decision the watch window is about.
    return max(anchors, key=lambda a: (a.day, a.kind == "reduction"))


def _check_in_triggers(tl: Timeline, anchor: _Anchor, th: Thresholds) -> list[_Trigger]:
    if not tl.check_ins or tl.check_ins[-1].local_date <= anchor.day:
        return []
    latest = tl.check_ins[-1]
    previous = tl.check_ins[-2] if len(tl.check_ins) > 1 else None
    base = {"check_in_id": latest.id}
    triggers: list[_Trigger] = []
    if latest.new_lesions:
        where = f" on {', '.join(latest.lesion_areas)}" if latest.lesion_areas else ""
        data = {**base, "lesion_areas": list(latest.lesion_areas)}
        triggers.append(_Trigger(latest.local_date, "new_lesions", f"new lesions{where}", data))
    for name, label in (("hair_loss", "hair loss"), ("mouth_ulcers", "mouth ulcers")):
        if getattr(latest, name) and not (previous is not None and getattr(previous, name)):
            data = {**base, "previous_check_in_id": previous.id if previous else None}
            triggers.append(_Trigger(latest.local_date, f"new_{name}", f"new {label}", data))
    triggers.extend(_score_triggers(tl, anchor, th))
    return triggers


def _score_triggers(tl: Timeline, anchor: _Anchor, th: Thresholds) -> list[_Trigger]:
    """Itch, pain or global activity >= nadir + rise on the last N check-ins, all after anchor."""
    recent = tl.check_ins[-th.relapse_consecutive_check_ins :]
    if len(recent) < th.relapse_consecutive_check_ins or recent[0].local_date <= anchor.day:
        return []
    start = tl.treatment_start
    history = [c for c in tl.check_ins if start is None or c.local_date >= start]
    triggers: list[_Trigger] = []
    for name, label in _SCORES:
        scored = [(c, getattr(c, name)) for c in history if getattr(c, name) is not None]
        values = [getattr(c, name) for c in recent]
        if not scored or any(v is None for v in values):
            continue
        nadir_check_in, nadir = min(scored, key=lambda pair: pair[1])
        if all(v >= nadir + th.relapse_score_rise for v in values):
            text = f"{label} {values[-1]}/10 (lowest {nadir}) on {len(values)} check-ins in a row"
            data = {
                "measure": name,
                "values": values,
                "check_in_ids": [c.id for c in recent],
                "nadir": nadir,
                "nadir_check_in_id": nadir_check_in.id,
                "nadir_date": nadir_check_in.local_date,
            }
            triggers.append(_Trigger(recent[-1].local_date, f"{name}_rise", text, data))
    return triggers


def _clasi_triggers(tl: Timeline, anchor: _Anchor, th: Thresholds) -> list[_Trigger]:
    scores = _since_start(tl)
    if not scores or scores[-1].assessed_on <= anchor.day or scores[-1].activity == 0:
        return []
    latest, earlier = scores[-1], scores[:-1]
    if not earlier:
        return []
    nadir_score = min(earlier, key=lambda c: c.activity)
    nadir, rise = nadir_score.activity, latest.activity - nadir_score.activity
    lost_cr = nadir == 0
    meaningful = rise >= th.clasi_rise_points or (
        nadir > 0 and rise > 0 and rise >= th.clasi_rise_fraction * nadir
    )
    if not (lost_cr or meaningful):
        return []
    if lost_cr:
        text = f"CLASI activity {latest.activity} after complete response (was 0)"
    else:
        text = f"CLASI activity {latest.activity}, up {rise} from its lowest {nadir}"
    data = {
        "clasi_id": latest.id,
        "activity": latest.activity,
        "nadir": nadir,
        "nadir_clasi_id": nadir_score.id,
        "nadir_date": nadir_score.assessed_on,
        "rise": rise,
        "loss_of_complete_response": lost_cr,
    }
    return [_Trigger(latest.assessed_on, "clasi_rise", text, data)]


def step_phrase(step: RegimenStep) -> str:
    """How a nurse would name a reduction: "taper to 5 mg alternate days", "stopping"."""
    if step.pattern == "stopped":
        return "stopping lenalidomide"
    verb = "taper" if step.reason == "taper" else "dose reduction"
    return f"{verb} to {dose_phrase(step)}"


def dose_phrase(step: RegimenStep) -> str:
    """The dose in words: "5 mg daily", "5 mg on Mon, Wed, Fri", "10 mg 21 of 28 days"."""
    dose = f"{dec(step.dose_mg)} mg"
    if step.pattern == "daily":
        return f"{dose} daily"
    if step.pattern == "alternate_days":
        return f"{dose} alternate days"
    if step.pattern == "weekdays":
        return f"{dose} on {', '.join(_WEEKDAY_NAMES[d] for d in sorted(step.weekdays))}"
    if step.pattern == "cycle":
        return f"{dose} {step.cycle_days_on} of {step.cycle_length} days"
    return "on hold" if step.pattern == "hold" else "stopped"


def _reduction_evidence(pair: tuple[RegimenStep, RegimenStep]) -> dict[str, Any]:
    step, previous = pair
    return {
        "step_id": step.id,
        "starts_on": step.starts_on,
        "dose_mg": step.dose_mg,
        "pattern": step.pattern,
        "weekdays": list(step.weekdays),
        "cycle_days_on": step.cycle_days_on,
        "cycle_length": step.cycle_length,
        "weekly_dose_mg": step.weekly_dose_mg,
        "reason": step.reason,
        "previous_step_id": previous.id,
        "previous_dose_mg": previous.dose_mg,
        "previous_pattern": previous.pattern,
        "previous_weekly_dose_mg": previous.weekly_dose_mg,
    }
