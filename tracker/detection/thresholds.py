"""Every number the detection rules use, with the DESIGN.md section 5 defaults.

A clinic may override any subset (stored as JSON): ``Thresholds.from_overrides`` rejects unknown
names, coerces types and checks each value against a sensible range, so a typo cannot silently
switch a safety rule off. ``as_dict`` gives the JSON form (decimals as strings) and round-trips
through ``from_overrides``. docs/rules.md names the fields each rule uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

__all__ = ["ThresholdError", "Thresholds"]


class ThresholdError(ValueError):
    """Invalid threshold overrides; ``errors`` maps each field name to a message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Rule thresholds; the allowed range of each is in ``_BOUNDS`` below.

    Cross-field invariants: each hold level is below its warning level, the watch-window check-in
    gap is at most the usual gap, and early (more frequent) test intervals are at most the later
    ones.
    """

    # possible_relapse (Cortes-Hernandez 2012; Klein 2011)
    taper_watch_days: int = 56
    relapse_score_rise: int = 2
    relapse_consecutive_check_ins: int = 2
    clasi_rise_points: int = 4
    clasi_rise_fraction: Decimal = Decimal("0.20")
    # gi_intolerance (PRO-CTCAE, Basch 2021)
    gi_attribute_level: int = 3
    gi_rise: int = 2
    gi_urgent_composite_grade: int = 3
    diarrhea_urgent_frequency: int = 4
    # cytopenia (CTCAE v5.0; label hold thresholds), counts in 10^9/L
    anc_warning: Decimal = Decimal("1.5")
    anc_hold: Decimal = Decimal("1.0")
    platelets_warning: Decimal = Decimal("75")
    platelets_hold: Decimal = Decimal("30")
    febrile_window_days: int = 3
    # thrombosis_red_flag (label boxed warning)
    swelling_severity: int = 2
    dyspnea_severity: int = 3
    red_flag_lookback_days: int = 7
    # adherence
    adherence_share: Decimal = Decimal("0.80")
    adherence_window_days: int = 14
    missed_streak: int = 3
    # insomnia
    insomnia_level: int = 3
    # monitoring_due (label CBC monitoring)
    cbc_interval_early_days: int = 7
    early_phase_weeks: int = 8
    cbc_interval_days: int = 35
    checkin_gap_days: int = 10
    checkin_gap_watch_days: int = 7
    # pregnancy_risk (REMS)
    pregnancy_interval_early_days: int = 7
    pregnancy_early_weeks: int = 4
    pregnancy_interval_days: int = 28
    pregnancy_interval_irregular_days: int = 14
    pregnancy_after_stop_days: int = 28
    # non_response (Cortes-Hernandez 2012: time to CR)
    non_response_weeks_default: int = 12
    non_response_weeks_profundus: int = 32

    def __post_init__(self) -> None:
        errors = _check(self.as_values())
        if errors:
            raise ThresholdError(errors)

    def as_values(self) -> dict[str, int | Decimal]:
        """Field name -> value, with the Python types."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def as_dict(self) -> dict[str, int | str]:
        """JSON form: integers, and decimals as strings (round-trips via ``from_overrides``)."""
        return {
            name: str(value) if isinstance(value, Decimal) else value
            for name, value in self.as_values().items()
        }

    def subset(self, *names: str) -> dict[str, int | str]:
        """The JSON form of the named fields, for a finding's evidence."""
        data = self.as_dict()
        return {name: data[name] for name in names}

    @classmethod
    def from_overrides(cls, data: Mapping[str, object]) -> Thresholds:
        """Defaults with ``data`` applied; raises ThresholdError listing every problem."""
        defaults = cls().as_values()
        errors: dict[str, str] = {}
        values = dict(defaults)
        for name, raw in data.items():
            if name not in defaults:
                errors[name] = "Unknown threshold."
                continue
            coerced = _coerce(raw, type(defaults[name]))
            if coerced is None:
                kind = "an integer" if isinstance(defaults[name], int) else "a decimal number"
                errors[name] = f"Must be {kind}."
            else:
                values[name] = coerced
        if not errors:
            errors = _check(values)
        if errors:
            raise ThresholdError(errors)
        return cls(**values)  # type: ignore[arg-type]


# (low, high) per field. Integers: low <= value <= high. Decimals: low < value <= high, because a
# zero share or count would silently disable the rule.
_BOUNDS: dict[str, tuple[int, int] | tuple[Decimal, Decimal]] = {
    "taper_watch_days": (1, 365),
    "relapse_score_rise": (1, 10),
    "relapse_consecutive_check_ins": (1, 10),
    "clasi_rise_points": (1, 70),
    "gi_attribute_level": (1, 4),
    "gi_rise": (1, 4),
    "gi_urgent_composite_grade": (1, 3),
    "diarrhea_urgent_frequency": (1, 4),
    "febrile_window_days": (0, 30),
    "swelling_severity": (1, 4),
    "dyspnea_severity": (1, 4),
    "red_flag_lookback_days": (0, 60),
    "adherence_window_days": (1, 90),
    "missed_streak": (1, 60),
    "insomnia_level": (1, 4),
    "cbc_interval_early_days": (1, 365),
    "early_phase_weeks": (0, 104),
    "cbc_interval_days": (1, 365),
    "checkin_gap_days": (1, 365),
    "checkin_gap_watch_days": (1, 365),
    "pregnancy_interval_early_days": (1, 365),
    "pregnancy_early_weeks": (0, 104),
    "pregnancy_interval_days": (1, 365),
    "pregnancy_interval_irregular_days": (1, 365),
    "pregnancy_after_stop_days": (0, 365),
    "non_response_weeks_default": (1, 104),
    "non_response_weeks_profundus": (1, 104),
    "clasi_rise_fraction": (Decimal("0"), Decimal("10")),
    "anc_warning": (Decimal("0"), Decimal("10")),
    "anc_hold": (Decimal("0"), Decimal("10")),
    "platelets_warning": (Decimal("0"), Decimal("1000")),
    "platelets_hold": (Decimal("0"), Decimal("1000")),
    "adherence_share": (Decimal("0"), Decimal("1")),
}


def _coerce(raw: object, kind: type) -> int | Decimal | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if kind is int:
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
            return int(raw.strip())
        if isinstance(raw, float | Decimal):
            whole = Decimal(str(raw)) if isinstance(raw, float) else raw
            if whole.is_finite() and whole == whole.to_integral_value():
                return int(whole)
        return None
    try:
        # str() keeps a float's shortest repr, so 0.8 stays 0.8 and not 0.8000000000000000444.
        number = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _check(values: Mapping[str, int | Decimal]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, (low, high) in _BOUNDS.items():
        value = values[name]
        if isinstance(low, Decimal) != isinstance(value, Decimal) or isinstance(value, bool):
            errors[name] = "Must be a Decimal." if isinstance(low, Decimal) else "Must be an int."
        elif isinstance(value, Decimal):
            if not value.is_finite() or not low < value <= high:
                errors[name] = f"Must be greater than {low} and at most {high}."
        elif not low <= value <= high:
            errors[name] = f"Must be between {low} and {high}."
    pairs = (
        ("anc_hold", "anc_warning"),
        ("platelets_hold", "platelets_warning"),
        ("checkin_gap_watch_days", "checkin_gap_days"),
        ("cbc_interval_early_days", "cbc_interval_days"),
        ("pregnancy_interval_early_days", "pregnancy_interval_irregular_days"),
        ("pregnancy_interval_irregular_days", "pregnancy_interval_days"),
    )
    for smaller, larger in pairs:
        if smaller in errors or larger in errors:
            continue
        strict = smaller.endswith("_hold")
        if values[smaller] > values[larger] or (strict and values[smaller] == values[larger]):
            relation = "below" if strict else "at most"
            errors[smaller] = f"Must be {relation} {larger} ({values[larger]})."
    return errors
