"""Adverse-effect rules: gi_intolerance, cytopenia, thrombosis_red_flag, insomnia, systemic_flare.

Sources: PRO-CTCAE composite grades (Basch et al., Clin Trials 2021); CTCAE v5.0 counts; the
Revlimid label boxed warnings (neutropenia/thrombocytopenia, venous and arterial
thromboembolism) and its hold thresholds; Cortes-Hernandez 2012 (insomnia, GI effects, grade 2
neutropenia were the adverse effects seen; no effect on systemic disease).

Invariants:
- An ongoing condition (GI, cytopenia, insomnia, systemic signs) is judged on the LATEST data
  only: a later normal value ends it and produces no finding. Its episode key is the first data
  point of the unbroken run of qualifying data ending at the latest, so it stays the same while
  the condition lasts and a new run gets a new key.
- Red flags (thrombosis) are events: every check-in of the last ``red_flag_lookback_days`` is
  read, so two check-ins synced together after the phone was offline both count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from tracker.detection.findings import Finding, dec
from tracker.detection.thresholds import Thresholds
from tracker.detection.timeline import GI_TERMS, CheckIn, LabResult, SymptomAnswer, Timeline
from tracker.grading import composite_grade, ctcae_grade

__all__ = ["cytopenia", "gi_intolerance", "insomnia", "systemic_flare", "thrombosis_red_flag"]

_T = TypeVar("_T")

_ATTRIBUTES = ("frequency", "severity", "interference")
_WORDS = {
    "frequency": ("never", "rarely", "occasionally", "frequently", "almost constantly"),
    "severity": ("none", "mild", "moderate", "severe", "very severe"),
    "interference": ("not at all", "a little bit", "somewhat", "quite a bit", "very much"),
}
_GI_LABELS = {
    "nausea": "nausea",
    "vomiting": "vomiting",
    "diarrhea": "diarrhoea",
    "abdominal_pain": "stomach pain",
}


def _run_start(items: Sequence[_T], qualifies: Callable[[int], bool]) -> int:
    """Index of the first item of the unbroken run of qualifying items ending at the last one."""
    start = len(items) - 1
    while start > 0 and qualifies(start - 1):
        start -= 1
    return start


def _answer_words(attribute: str, value: int) -> str:
    word = _WORDS[attribute][value]
    return f"interfering {word}" if attribute == "interference" else word


def _grade(answer: SymptomAnswer) -> int | None:
    if answer.composite_grade is not None:
        return answer.composite_grade
    answers = {a: getattr(answer, a) for a in _ATTRIBUTES if getattr(answer, a) is not None}
    try:
        return composite_grade(answer.term, answers)
    except ValueError:
        # An incomplete or odd answer set cannot be graded; the attribute checks still apply.
        return None


# --------------------------------------------------------------------------- gi_intolerance


def _gi_at_level(check_in: CheckIn, th: Thresholds) -> list[dict[str, Any]]:
    return [
        {"term": term, "attribute": attr, "value": check_in.attribute(term, attr)}
        for term in GI_TERMS
        for attr in _ATTRIBUTES
        if check_in.attribute(term, attr) >= th.gi_attribute_level
    ]


def _gi_rises(check_in: CheckIn, previous: CheckIn | None, th: Thresholds) -> list[dict[str, Any]]:
    if previous is None:
        return []
    return [
        {
            "term": term,
            "attribute": attr,
            "previous": previous.attribute(term, attr),
            "value": check_in.attribute(term, attr),
        }
        for term in GI_TERMS
        for attr in _ATTRIBUTES
        if check_in.attribute(term, attr) - previous.attribute(term, attr) >= th.gi_rise
    ]


def _gi_urgent_reasons(latest: CheckIn, previous: CheckIn | None, th: Thresholds) -> list[str]:
    reasons = []
    for term in GI_TERMS:
        answer = latest.symptom(term)
        grade = _grade(answer) if answer is not None else None
        if grade is not None and grade >= th.gi_urgent_composite_grade:
            reasons.append(f"composite_grade:{term}")
    if latest.attribute("diarrhea", "frequency") >= th.diarrhea_urgent_frequency:
        reasons.append("diarrhea_frequency")
    if previous is not None and _gi_at_level(latest, th) and _gi_at_level(previous, th):
        reasons.append("consecutive_check_ins")
    return reasons


def _gi_text(item: dict[str, Any]) -> str:
    text = f"{_GI_LABELS[item['term']]} {_answer_words(item['attribute'], item['value'])}"
    if "previous" in item:
        text += f" (was {_answer_words(item['attribute'], item['previous'])})"
    return text


def gi_intolerance(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Nausea, vomiting, diarrhoea or stomach pain at a high level or rising fast."""
    check_ins = timeline.as_of(today).check_ins

    def fires(i: int) -> bool:
        previous = check_ins[i - 1] if i > 0 else None
        return bool(_gi_at_level(check_ins[i], thresholds)) or bool(
            _gi_rises(check_ins[i], previous, thresholds)
        )

    if not check_ins or not fires(len(check_ins) - 1):
        return []
    latest = check_ins[-1]
    previous = check_ins[-2] if len(check_ins) > 1 else None
    at_level = _gi_at_level(latest, thresholds)
    rises = _gi_rises(latest, previous, thresholds)
    urgent = _gi_urgent_reasons(latest, previous, thresholds)
    run_start = check_ins[_run_start(check_ins, fires)]
    risen = {(r["term"], r["attribute"]) for r in rises}
    items = rises + [i for i in at_level if (i["term"], i["attribute"]) not in risen]
    evidence = {
        "check_in_id": latest.id,
        "date": latest.local_date,
        "previous_check_in_id": previous.id if previous else None,
        "run_started_on": run_start.local_date,
        "run_first_check_in_id": run_start.id,
        "at_level": at_level,
        "rises": rises,
        "urgent_reasons": urgent,
        "symptoms": [_symptom_evidence(a) for a in latest.symptoms if a.term in GI_TERMS],
        "thresholds": thresholds.subset(
            "gi_attribute_level",
            "gi_rise",
            "gi_urgent_composite_grade",
            "diarrhea_urgent_frequency",
        ),
    }
    summary = "Stomach or bowel side effects: " + "; ".join(_gi_text(i) for i in items)
    return [
        Finding(
            rule="gi_intolerance",
            severity="urgent" if urgent else "warning",
            episode_key=f"gi:{run_start.local_date.isoformat()}",
            summary=summary,
            evidence=evidence,
        )
    ]


def _symptom_evidence(answer: SymptomAnswer) -> dict[str, Any]:
    return {
        "term": answer.term,
        "frequency": answer.frequency,
        "severity": answer.severity,
        "interference": answer.interference,
        "composite_grade": _grade(answer),
    }


# --------------------------------------------------------------------------- cytopenia

_COUNTS = (
    ("anc", "anc_warning", "anc_hold", "neutrophil count"),
    ("platelets", "platelets_warning", "platelets_hold", "platelet count"),
)


def cytopenia(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Latest ANC < 1.5 or platelets < 75 (warning); below the hold levels or febrile: urgent."""
    tl = timeline.as_of(today)
    findings = []
    for test, warning_name, hold_name, label in _COUNTS:
        labs = [(lab, lab.value) for lab in tl.labs if lab.test == test and lab.value is not None]
        warning: Decimal = getattr(thresholds, warning_name)
        hold: Decimal = getattr(thresholds, hold_name)
        if not labs or labs[-1][1] >= warning:
            continue
        latest, level = labs[-1]
        low = [value < warning for _, value in labs]
        run = [lab for lab, _ in labs[_run_start(labs, low.__getitem__) :]]
        fevers = _fevers_near(tl, latest, thresholds) if test == "anc" and level < hold else []
        value = dec(level)
        if fevers:
            summary = f"Possible febrile neutropenia: fever with neutrophils {value} x10^9/L"
        elif level < hold:
            summary = f"Low {label} {value} x10^9/L, below {hold} (level to hold lenalidomide)"
        else:
            summary = f"Low {label} {value} x10^9/L (below {warning})"
        evidence = {
            "lab_id": latest.id,
            "test": test,
            "value": level,
            "collected_on": latest.local_date,
            "ctcae_grade": _ctcae(test, level),
            "run_started_on": run[0].local_date,
            "run_lab_ids": [lab.id for lab in run],
            "fever_check_in_ids": [c.id for c in fevers],
            "thresholds": thresholds.subset(warning_name, hold_name, "febrile_window_days"),
        }
        findings.append(
            Finding(
                rule="cytopenia",
                severity="urgent" if level < hold or fevers else "warning",
                episode_key=f"cytopenia:{test}:{run[0].local_date.isoformat()}",
                summary=f"{summary} on {latest.local_date.isoformat()}",
                evidence=evidence,
            )
        )
    return findings


def _ctcae(test: str, value: Decimal) -> int | None:
    try:
        return ctcae_grade(test, value)
    except ValueError:
        return None


def _fevers_near(tl: Timeline, lab: LabResult, th: Thresholds) -> list[CheckIn]:
    window = timedelta(days=th.febrile_window_days)
    return [c for c in tl.check_ins if c.fever and abs(c.local_date - lab.local_date) <= window]


# --------------------------------------------------------------------------- thrombosis_red_flag


def _red_flags(check_in: CheckIn, previous: CheckIn | None, th: Thresholds) -> list[dict[str, Any]]:
    flags: list[dict[str, Any]] = []
    swelling = check_in.attribute("swelling", "severity")
    if swelling >= th.swelling_severity:
        text = f"arm or leg swelling ({_WORDS['severity'][swelling]})"
        flags.append({"flag": "swelling", "severity": swelling, "text": text})
    breath = check_in.attribute("shortness_of_breath", "severity")
    before = previous.attribute("shortness_of_breath", "severity") if previous else None
    if breath >= th.dyspnea_severity and (before is None or before < th.dyspnea_severity):
        text = f"new shortness of breath ({_WORDS['severity'][breath]})"
        flags.append(
            {"flag": "shortness_of_breath", "severity": breath, "previous": before, "text": text}
        )
    if check_in.chest_pain:
        flags.append({"flag": "chest_pain", "text": "chest pain"})
    if check_in.neuro_symptoms:
        flags.append({"flag": "neuro_symptoms", "text": "sudden neurological symptoms"})
    return flags


def thrombosis_red_flag(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Possible blood clot: one urgent finding per recent check-in with a red flag."""
    check_ins = timeline.as_of(today).check_ins
    since = today - timedelta(days=thresholds.red_flag_lookback_days)
    findings = []
    for i, check_in in enumerate(check_ins):
        if check_in.local_date < since:
            continue
        previous = check_ins[i - 1] if i > 0 else None
        flags = _red_flags(check_in, previous, thresholds)
        if not flags:
            continue
        texts = "; ".join(f["text"] for f in flags)
        findings.append(
            Finding(
                rule="thrombosis_red_flag",
                severity="urgent",
                episode_key=f"thrombosis:{check_in.id}",
                summary=f"Possible blood clot warning signs on {check_in.local_date}: {texts}",
                evidence={
                    "check_in_id": check_in.id,
                    "date": check_in.local_date,
                    "previous_check_in_id": previous.id if previous else None,
                    "flags": flags,
                    "thresholds": thresholds.subset(
                        "swelling_severity", "dyspnea_severity", "red_flag_lookback_days"
                    ),
                },
            )
        )
    return findings


# --------------------------------------------------------------------------- insomnia


def insomnia(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Latest check-in: insomnia severity or interference at or above ``insomnia_level``."""
    check_ins = timeline.as_of(today).check_ins

    def qualifies(i: int) -> bool:
        c = check_ins[i]
        level = max(c.attribute("insomnia", "severity"), c.attribute("insomnia", "interference"))
        return level >= thresholds.insomnia_level

    if not check_ins or not qualifies(len(check_ins) - 1):
        return []
    latest = check_ins[-1]
    run_start = check_ins[_run_start(check_ins, qualifies)]
    severity = latest.attribute("insomnia", "severity")
    interference = latest.attribute("insomnia", "interference")
    summary = (
        f"Trouble sleeping: {_WORDS['severity'][severity]}, interfering "
        f"{_WORDS['interference'][interference]} with daily life (since {run_start.local_date})"
    )
    return [
        Finding(
            rule="insomnia",
            severity="info",
            episode_key=f"insomnia:{run_start.local_date.isoformat()}",
            summary=summary,
            evidence={
                "check_in_id": latest.id,
                "date": latest.local_date,
                "severity": severity,
                "interference": interference,
                "run_started_on": run_start.local_date,
                "run_first_check_in_id": run_start.id,
                "thresholds": thresholds.subset("insomnia_level"),
            },
        )
    ]


# --------------------------------------------------------------------------- systemic_flare

_SYSTEMIC_SIGNS = (
    ("joint_pain", "joint pain"),
    ("foamy_urine", "foamy urine"),
    ("fever", "fever"),
    ("chest_pain", "chest pain (possible pleurisy)"),
)


def systemic_flare(timeline: Timeline, today: date, thresholds: Thresholds) -> list[Finding]:
    """Latest check-in reports joint pain, foamy urine, fever or chest pain: possible SLE flare."""
    check_ins = timeline.as_of(today).check_ins

    def signs(i: int) -> list[str]:
        return [name for name, _ in _SYSTEMIC_SIGNS if getattr(check_ins[i], name)]

    if not check_ins or not signs(len(check_ins) - 1):
        return []
    latest = check_ins[-1]
    run_start = check_ins[_run_start(check_ins, lambda i: bool(signs(i)))]
    found = signs(len(check_ins) - 1)
    texts = "; ".join(label for name, label in _SYSTEMIC_SIGNS if name in found)
    return [
        Finding(
            rule="systemic_flare",
            severity="warning",
            episode_key=f"systemic:{run_start.id}",
            summary=f"Possible lupus flare beyond the skin: {texts}",
            evidence={
                "check_in_id": latest.id,
                "date": latest.local_date,
                "signs": found,
                "run_started_on": run_start.local_date,
                "run_first_check_in_id": run_start.id,
                "thresholds": {},
            },
        )
    ]
