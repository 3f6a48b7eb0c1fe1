"""An alert's evidence JSON in plain words for the nurse reading it.

Each rule writes its own evidence shape (tracker.detection). The keys this module knows are
turned into sentences (values against their thresholds, the taper step and the days since it);
whatever it does not know is still shown, in a key/value table, so a new rule or a new key is
never hidden. Internal row ids (`*_id`, `*_ids`) mean nothing to a reader and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

SCALE_WORDS = {
    "frequency": ("never", "rarely", "occasionally", "frequently", "almost constantly"),
    "severity": ("none", "mild", "moderate", "severe", "very severe"),
    "interference": ("not at all", "a little bit", "somewhat", "quite a bit", "very much"),
}
SYMPTOM_LABELS = {
    "nausea": "Nausea",
    "vomiting": "Vomiting",
    "diarrhea": "Diarrhoea",
    "abdominal_pain": "Stomach pain",
    "constipation": "Constipation",
    "insomnia": "Insomnia",
    "fatigue": "Fatigue",
    "rash": "Rash",
    "itchy_skin": "Itchy skin",
    "sun_sensitivity": "Sun sensitivity",
    "hair_loss": "Hair loss",
    "swelling": "Arm or leg swelling",
    "shortness_of_breath": "Shortness of breath",
    "numbness_tingling": "Numbness or tingling",
    "bruising": "Bruising",
}
PATTERN_WORDS = {
    "daily": "daily",
    "alternate_days": "on alternate days",
    "weekdays": "on set weekdays",
    "cycle": "in cycles",
    "hold": "on hold",
    "stopped": "stopped",
}
LAB_LABELS = {
    "anc": ("Neutrophils (ANC)", "×10⁹/L"),
    "platelets": ("Platelets", "×10⁹/L"),
    "wbc": ("White cells", "×10⁹/L"),
    "hemoglobin": ("Haemoglobin", "g/dL"),
    "creatinine": ("Creatinine", "mg/dL"),
    "pregnancy_hcg": ("Pregnancy test (hCG)", ""),
}
THRESHOLD_LABELS = {
    "taper_watch_days": "Taper watch window (days after a reduction)",
    "relapse_score_rise": "Rise above the personal lowest score that counts",
    "relapse_consecutive_check_ins": "Check-ins in a row needed",
    "clasi_rise_points": "CLASI activity rise that counts (points)",
    "clasi_rise_fraction": "CLASI activity rise that counts (fraction)",
    "gi_attribute_level": "GI answer level that fires (0-4)",
    "gi_rise": "GI rise since the previous check-in that fires",
    "gi_urgent_composite_grade": "Composite grade that makes it urgent",
    "diarrhea_urgent_frequency": "Diarrhoea frequency that makes it urgent (0-4)",
    "anc_warning": "ANC warning level (×10⁹/L)",
    "anc_hold": "ANC hold level (×10⁹/L)",
    "platelets_warning": "Platelet warning level (×10⁹/L)",
    "platelets_hold": "Platelet hold level (×10⁹/L)",
    "febrile_window_days": "Days around the count in which a fever counts",
    "swelling_severity": "Swelling severity that fires (0-4)",
    "dyspnea_severity": "Shortness-of-breath severity that fires (0-4)",
    "red_flag_lookback_days": "Days looked back for red flags",
    "adherence_share": "Share of doses that must be taken",
    "adherence_window_days": "Adherence window (days)",
    "missed_streak": "Missed doses in a row that fire",
    "insomnia_level": "Insomnia level that fires (0-4)",
}
CRITERION_LABELS = {
    "new_lesions": "New or enlarging lesions",
    "new_hair_loss": "New hair loss",
    "new_mouth_ulcers": "New mouth ulcers",
    "itch_rise": "Itch rising",
    "pain_rise": "Skin pain rising",
    "global_activity_rise": "Skin activity rising",
    "clasi_rise": "CLASI activity rising",
}
CLASI_AREAS = {
    "scalp": "scalp",
    "ears": "ears",
    "nose": "nose (incl. malar)",
    "face": "rest of face",
    "v_neck": "V-area of neck",
    "posterior_neck": "posterior neck/shoulders",
    "chest": "chest",
    "abdomen": "abdomen",
    "back": "back/buttocks",
    "arms": "arms",
    "hands": "hands",
    "legs": "legs",
    "feet": "feet",
}
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Fact:
    label: str
    text: str
    emphasis: bool = False  # beyond a threshold: shown with a marker, not only a colour


@dataclass
class TaperStep:
    dose: str
    pattern: str
    starts_on: str
    weekly: str
    previous: str
    days_since: int | None
    in_window: bool | None
    window_days: Any


@dataclass
class EvidenceView:
    facts: list[Fact] = field(default_factory=list)
    taper: TaperStep | None = None
    symptoms: list[dict[str, Any]] = field(default_factory=list)
    thresholds: list[tuple[str, str]] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)


def num(value: Any) -> str:
    """Decimal-ish text without trailing zeros: "1.50" -> "1.5"."""
    try:
        text = format(Decimal(str(value)).normalize(), "f")
    except (InvalidOperation, ValueError):
        return str(value)
    return "0" if text == "-0" else text


def day(value: Any) -> str:
    """An ISO date as "3 Mar 2026"; anything else as it is."""
    try:
        d = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{d.day} {d.strftime('%b %Y')}"


def words(attribute: str, value: Any) -> str:
    scale = SCALE_WORDS.get(attribute)
    if scale is None or not isinstance(value, int) or not 0 <= value < len(scale):
        return str(value)
    return scale[value]


def dose_words(step: dict[str, Any], prefix: str = "") -> str:
    pattern = step.get(f"{prefix}pattern")
    dose = step.get(f"{prefix}dose_mg")
    if pattern in ("hold", "stopped"):
        return PATTERN_WORDS[pattern]
    text = f"{num(dose)} mg"
    if pattern == "weekdays" and step.get("weekdays") and not prefix:
        return f"{text} on {', '.join(_WEEKDAYS[d] for d in sorted(step['weekdays']))}"
    if pattern == "cycle" and not prefix and step.get("cycle_length"):
        return f"{text} {step.get('cycle_days_on')} of {step.get('cycle_length')} days"
    return f"{text} {PATTERN_WORDS.get(str(pattern), str(pattern))}"


def _is_id(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "_ids"))


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if not _is_id(str(k)):
                _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            for i, v in enumerate(value, 1):
                _flatten(f"{prefix}[{i}]", v, out)
        else:
            out.append((prefix, ", ".join(str(v) for v in value) or "none"))
    elif value is None:
        out.append((prefix, "-"))
    elif isinstance(value, bool):
        out.append((prefix, "yes" if value else "no"))
    else:
        out.append((prefix, str(value)))


def describe(rule: str, evidence: Any) -> EvidenceView:
    """The evidence of one alert of `rule`, as facts, a taper step, symptoms and leftovers."""
    view = EvidenceView()
    if not isinstance(evidence, dict):
        _flatten("evidence", evidence, view.other)
        return view
    ev = dict(evidence)
    thresholds = ev.pop("thresholds", None) or {}
    handler = _HANDLERS.get(rule)
    if handler is not None:
        handler(ev, thresholds, view)
    _common(ev, view)
    for name, value in thresholds.items():
        view.thresholds.append((THRESHOLD_LABELS.get(name, name.replace("_", " ")), num(value)))
    for key, value in ev.items():
        if not _is_id(key):
            _flatten(key, value, view.other)
    return view


def _common(ev: dict[str, Any], view: EvidenceView) -> None:
    for key, label in (
        ("date", "Reported on"),
        ("collected_on", "Collected on"),
        ("trigger_date", "Latest sign on"),
        ("run_started_on", "Going on since"),
        ("due_on", "Was due on"),
    ):
        if ev.get(key):
            view.facts.append(Fact(label, day(ev.pop(key))))
        else:
            ev.pop(key, None)
    if "days_overdue" in ev:
        view.facts.append(Fact("Overdue by", f"{ev.pop('days_overdue')} days", emphasis=True))


# --------------------------------------------------------------------------- per rule


def _relapse(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    ev.pop("anchor", None)  # the CR or reduction the episode counts from; shown below anyway
    cr = ev.pop("complete_response", None)
    if isinstance(cr, dict) and cr.get("assessed_on"):
        view.facts.append(
            Fact("Complete response", f"CLASI activity 0 on {day(cr['assessed_on'])}")
        )
    for trigger in ev.pop("triggers", None) or []:
        view.facts.append(_relapse_trigger(trigger, th))
    reduction = ev.pop("reduction", None)
    days_since = ev.pop("days_since_reduction", None)
    in_window = ev.pop("in_taper_watch_window", None)
    if isinstance(reduction, dict):
        view.taper = TaperStep(
            dose=dose_words(reduction),
            pattern=PATTERN_WORDS.get(str(reduction.get("pattern")), str(reduction.get("pattern"))),
            starts_on=day(reduction.get("starts_on")),
            weekly=f"{num(reduction.get('weekly_dose_mg'))} mg/week",
            previous=(
                f"{dose_words(reduction, 'previous_')} "
                f"({num(reduction.get('previous_weekly_dose_mg'))} mg/week)"
            ),
            days_since=days_since,
            in_window=in_window,
            window_days=th.get("taper_watch_days"),
        )


def _relapse_trigger(trigger: dict[str, Any], th: dict[str, Any]) -> Fact:
    criterion = str(trigger.get("criterion", ""))
    label = CRITERION_LABELS.get(criterion, criterion.replace("_", " ").capitalize())
    when = day(trigger.get("date"))
    if criterion == "new_lesions":
        areas = [CLASI_AREAS.get(a, a) for a in trigger.get("lesion_areas") or []]
        where = f" on {', '.join(areas)}" if areas else ""
        return Fact(label, f"reported on {when}{where}", emphasis=True)
    if criterion.endswith("_rise") and "values" in trigger:
        values = ", ".join(f"{v}/10" for v in trigger["values"])
        rise = th.get("relapse_score_rise")
        nadir = trigger.get("nadir")
        limit = f"; fires at {int(nadir) + int(rise)}/10 or more" if rise is not None else ""
        return Fact(
            label,
            f"{values} on the last {len(trigger['values'])} check-ins (to {when}); "
            f"lowest was {nadir}/10 on {day(trigger.get('nadir_date'))}{limit}",
            emphasis=True,
        )
    if criterion == "clasi_rise":
        text = (
            f"activity {trigger.get('activity')} on {when}, up {trigger.get('rise')} "
            f"from its lowest {trigger.get('nadir')} ({day(trigger.get('nadir_date'))})"
        )
        if trigger.get("loss_of_complete_response"):
            text += ": loss of complete response"
        return Fact(label, text, emphasis=True)
    return Fact(label, f"on {when}", emphasis=True)


def _cytopenia(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    test = str(ev.pop("test", ""))
    label, unit = LAB_LABELS.get(test, (test, ""))
    value = ev.pop("value", None)
    warning, hold = th.get(f"{test}_warning"), th.get(f"{test}_hold")
    text = f"{num(value)} {unit}".strip()
    try:
        v = Decimal(str(value))
        if hold is not None and v < Decimal(str(hold)):
            text += f": below the hold level {num(hold)}"
        elif warning is not None and v < Decimal(str(warning)):
            text += f": below the warning level {num(warning)}"
        if warning is not None and hold is not None:
            text += f" (warning < {num(warning)}, hold < {num(hold)})"
    except (InvalidOperation, ValueError):
        pass
    view.facts.append(Fact(label, text, emphasis=True))
    grade = ev.pop("ctcae_grade", None)
    if grade is not None:
        view.facts.append(Fact("CTCAE v5 grade", f"grade {grade}", emphasis=grade >= 3))
    fevers = ev.get("fever_check_in_ids") or []
    if fevers:
        window = th.get("febrile_window_days")
        view.facts.append(
            Fact("Fever", f"reported in {len(fevers)} check-in(s) within {window} days", True)
        )


def _gi(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    level = th.get("gi_attribute_level")
    for item in ev.pop("rises", None) or []:
        attr = item.get("attribute", "")
        view.facts.append(
            Fact(
                f"{SYMPTOM_LABELS.get(item.get('term'), item.get('term'))} ({attr}) rising",
                f"{words(attr, item.get('value'))} (was {words(attr, item.get('previous'))}); "
                f"a rise of {th.get('gi_rise')} or more fires",
                emphasis=True,
            )
        )
    for item in ev.pop("at_level", None) or []:
        attr = item.get("attribute", "")
        view.facts.append(
            Fact(
                f"{SYMPTOM_LABELS.get(item.get('term'), item.get('term'))} ({attr})",
                f"{words(attr, item.get('value'))} ({item.get('value')}/4); "
                f"fires at {level}/4 or more",
                emphasis=True,
            )
        )
    reasons = ev.pop("urgent_reasons", None) or []
    for reason in reasons:
        if reason.startswith("composite_grade:"):
            term = reason.split(":", 1)[1]
            text = f"{SYMPTOM_LABELS.get(term, term)} composite grade 3"
        elif reason == "diarrhea_frequency":
            text = "diarrhoea almost constantly"
        elif reason == "consecutive_check_ins":
            text = "high GI answers on two check-ins in a row"
        else:
            text = reason
        view.facts.append(Fact("Urgent because", text, emphasis=True))
    for s in ev.pop("symptoms", None) or []:
        view.symptoms.append(
            {
                "term": SYMPTOM_LABELS.get(s.get("term"), s.get("term")),
                "frequency": words("frequency", s.get("frequency"))
                if s.get("frequency") is not None
                else "-",
                "severity": words("severity", s.get("severity"))
                if s.get("severity") is not None
                else "-",
                "interference": (
                    words("interference", s.get("interference"))
                    if s.get("interference") is not None
                    else "-"
                ),
                "grade": s.get("composite_grade"),
            }
        )


def _thrombosis(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    for flag in ev.pop("flags", None) or []:
        view.facts.append(Fact("Red flag", str(flag.get("text") or flag.get("flag")), True))


def _adherence(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    kind = ev.pop("kind", None)
    if kind == "low_share":
        taken, expected = ev.pop("taken", None), ev.pop("expected", None)
        share = ev.pop("share", None)
        pct = f"{Decimal(str(share)) * 100:.0f}%" if share is not None else "?"
        need = th.get("adherence_share")
        need_pct = f"{Decimal(str(need)) * 100:.0f}%" if need is not None else "?"
        view.facts.append(
            Fact(
                "Doses taken",
                f"{taken} of {expected} expected ({pct}) from {day(ev.pop('window_start', ''))} "
                f"to {day(ev.pop('window_end', ''))}; at least {need_pct} expected",
                emphasis=True,
            )
        )
        if ev.get("low_since"):
            view.facts.append(Fact("Below the threshold since", day(ev.pop("low_since"))))
        _dose_days(ev.pop("not_taken", None) or [], view)
    elif kind == "missed_streak":
        view.facts.append(
            Fact(
                "Missed in a row",
                f"{ev.pop('streak_length', '?')} expected doses not taken, "
                f"{day(ev.pop('first_day', ''))} to {day(ev.pop('last_day', ''))}; "
                f"{th.get('missed_streak')} in a row fires",
                emphasis=True,
            )
        )
        _dose_days(ev.pop("days", None) or [], view)
    elif kind == "extra":
        ev.pop("first_day", None)
        for d in ev.pop("days", None) or []:
            reason = (
                "on an off-day" if d.get("reason") == "off_day" else "above the prescribed dose"
            )
            view.facts.append(
                Fact(
                    f"Extra dose {day(d.get('day'))}",
                    f"{num(d.get('taken_mg') or 0)} mg taken {reason} "
                    f"(expected {num(d.get('expected_mg'))} mg)",
                    emphasis=True,
                )
            )
    elif kind is not None:
        ev["kind"] = kind


def _dose_days(days: list[dict[str, Any]], view: EvidenceView) -> None:
    states = {"missed": "missed", "skipped": "skipped", "not_logged": "not logged"}
    for d in days:
        state = states.get(d.get("state"), d.get("state"))
        view.facts.append(
            Fact(f"Dose {day(d.get('day'))}", f"{num(d.get('expected_mg'))} mg expected: {state}")
        )


def _insomnia(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    level = th.get("insomnia_level")
    for attr in ("severity", "interference"):
        if attr in ev:
            value = ev.pop(attr)
            view.facts.append(
                Fact(
                    f"Insomnia {attr}",
                    f"{words(attr, value)} ({value}/4); fires at {level}/4 or more",
                    emphasis=isinstance(value, int) and level is not None and value >= int(level),
                )
            )


_SIGN_WORDS = {
    "joint_pain": "new joint pain",
    "foamy_urine": "foamy urine",
    "fever": "fever",
    "pleuritic_chest_pain": "chest pain on breathing",
    "chest_pain": "chest pain",
}


def _systemic(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    for sign in ev.pop("signs", None) or []:
        view.facts.append(Fact("Sign", _SIGN_WORDS.get(sign, str(sign).replace("_", " ")), True))


def _lab_fact(label: str, lab: Any, view: EvidenceView) -> None:
    if isinstance(lab, dict):
        test = LAB_LABELS.get(str(lab.get("test")), (lab.get("test"), ""))[0]
        result = f": {lab['result']}" if lab.get("result") else ""
        view.facts.append(Fact(label, f"{test} on {day(lab.get('date'))}{result}"))
    else:
        view.facts.append(Fact(label, "none on record"))


def _pregnancy(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    kind = ev.pop("kind", None)
    text = {
        "positive_test": "Positive pregnancy test",
        "missed_period": "Missed period reported, no test since",
        "overdue": "Pregnancy test overdue",
    }.get(str(kind), str(kind))
    view.facts.append(Fact("Reason", text, emphasis=True))
    if "last_test" in ev:
        _lab_fact("Last pregnancy test", ev.pop("last_test"), view)
    if "interval_days" in ev:
        view.facts.append(Fact("Test interval", f"every {ev.pop('interval_days')} days"))
    if ev.get("treatment_started_on"):
        view.facts.append(Fact("Treatment started", day(ev.pop("treatment_started_on"))))
    if "irregular_cycles" in ev:
        view.facts.append(Fact("Irregular cycles", "yes" if ev.pop("irregular_cycles") else "no"))


def _monitoring(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    kind = ev.pop("kind", None)
    what = {"cbc": "Blood count", "checkin": "Check-in"}.get(str(kind), str(kind))
    view.facts.append(Fact("Missing", what, emphasis=True))
    last = ev.pop("last", None)
    if kind == "cbc":
        _lab_fact("Last blood count", last, view)
    elif isinstance(last, dict):
        view.facts.append(Fact("Last check-in", day(last.get("date"))))
    elif last is None and kind == "checkin":
        view.facts.append(Fact("Last check-in", "none on record"))
    if "interval_days" in ev:
        view.facts.append(Fact("Expected every", f"{ev.pop('interval_days')} days"))
    if ev.get("in_taper_watch_window"):
        since = day(ev.pop("reduction_starts_on", ""))
        view.facts.append(Fact("Taper watch window", f"yes: dose reduced on {since}", True))
    else:
        ev.pop("in_taper_watch_window", None)
        ev.pop("reduction_starts_on", None)
    if "early_phase" in ev:
        view.facts.append(
            Fact("First weeks of treatment", "yes" if ev.pop("early_phase") else "no")
        )
    if ev.get("treatment_started_on"):
        view.facts.append(Fact("Treatment started", day(ev.pop("treatment_started_on"))))


def _non_response(ev: dict[str, Any], th: dict[str, Any], view: EvidenceView) -> None:
    if "weeks_on_treatment" in ev:
        view.facts.append(
            Fact(
                "Weeks on treatment",
                f"{ev.pop('weeks_on_treatment')} (complete response expected by week "
                f"{ev.pop('weeks_expected', '?')} for this subtype)",
                emphasis=True,
            )
        )
    for key, label in (("latest_clasi", "Latest CLASI"), ("lowest_clasi", "Lowest CLASI")):
        score = ev.pop(key, None)
        if isinstance(score, dict):
            view.facts.append(
                Fact(label, f"activity {score.get('activity')} on {day(score.get('assessed_on'))}")
            )
    if ev.get("deadline"):
        view.facts.append(Fact("Deadline", day(ev.pop("deadline"))))
    if ev.get("treatment_started_on"):
        view.facts.append(Fact("Treatment started", day(ev.pop("treatment_started_on"))))


_HANDLERS = {
    "possible_relapse": _relapse,
    "cytopenia": _cytopenia,
    "gi_intolerance": _gi,
    "thrombosis_red_flag": _thrombosis,
    "adherence": _adherence,
    "insomnia": _insomnia,
    "systemic_flare": _systemic,
    "pregnancy_risk": _pregnancy,
    "monitoring_due": _monitoring,
    "non_response": _non_response,
}
