"""Unit conversions used at the edges of sirtkit.

Inside sirtkit every quantity carries its unit in its name (``activity_gbq``, ``dose_gy``,
``mass_kg``, ``volume_ml``, ``lung_shunt_fraction`` in 0–1). The factors to move between units live
here, once, with their definition.

Examples
--------
>>> round(mci_to_gbq(16.5), 4)
0.6105
>>> round(bilirubin_mg_dl_to_umol_l(1.2), 2)
20.52
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sirtkit.errors import UnitsError

__all__ = [
    "ALBUMIN_G_L_PER_G_DL",
    "BILIRUBIN_UMOL_L_PER_MG_DL",
    "BQ_PER_GBQ",
    "BQ_PER_MBQ",
    "CREATININE_UMOL_L_PER_MG_DL",
    "GBQ_PER_MCI",
    "J_PER_MEV",
    "LAB_QUANTITIES",
    "LabQuantity",
    "MBQ_PER_GBQ",
    "MBQ_PER_MCI",
    "S_PER_H",
    "albumin_g_dl_to_g_l",
    "bilirubin_mg_dl_to_umol_l",
    "bilirubin_umol_l_to_mg_dl",
    "unit_key",
    "fraction_from_percent",
    "gbq_to_mci",
    "mci_to_gbq",
    "parse_lab_value",
    "require_fraction",
    "require_positive",
]

MBQ_PER_MCI = 37.0  # exact by definition: 1 Ci = 3.7e10 Bq (BIPM SI Brochure, 9th ed., Table 8)
GBQ_PER_MCI = MBQ_PER_MCI / 1000.0
MBQ_PER_GBQ = 1000.0
BQ_PER_MBQ = 1.0e6
BQ_PER_GBQ = 1.0e9
S_PER_H = 3600.0
J_PER_MEV = 1.602176634e-13  # exact: elementary charge (2019 SI redefinition) x 1e6
# Molar-mass conversions used by clinical laboratories (bilirubin 584.66 g/mol → 17.1 µmol/L per mg/dL;
# creatinine 113.12 g/mol → 88.4 µmol/L per mg/dL); the rounded factors are those used in the ALBI and
# Child-Pugh literature (Johnson et al., J Clin Oncol 2015;33:550).
BILIRUBIN_UMOL_L_PER_MG_DL = 17.1
CREATININE_UMOL_L_PER_MG_DL = 88.4
ALBUMIN_G_L_PER_G_DL = 10.0


def mci_to_gbq(activity_mci: float) -> float:
    """Convert millicurie to gigabecquerel."""
    return activity_mci * GBQ_PER_MCI


def gbq_to_mci(activity_gbq: float) -> float:
    """Convert gigabecquerel to millicurie."""
    return activity_gbq / GBQ_PER_MCI


def bilirubin_mg_dl_to_umol_l(bilirubin_mg_dl: float) -> float:
    """Convert total bilirubin from mg/dL to µmol/L."""
    return bilirubin_mg_dl * BILIRUBIN_UMOL_L_PER_MG_DL


def bilirubin_umol_l_to_mg_dl(bilirubin_umol_l: float) -> float:
    """Convert total bilirubin from µmol/L to mg/dL."""
    return bilirubin_umol_l / BILIRUBIN_UMOL_L_PER_MG_DL


def albumin_g_dl_to_g_l(albumin_g_dl: float) -> float:
    """Convert albumin from g/dL to g/L."""
    return albumin_g_dl * ALBUMIN_G_L_PER_G_DL


def require_fraction(value: float, name: str) -> float:
    """Return ``value`` if it is a finite fraction in [0, 1], else raise :class:`UnitsError`.

    A value in (1, 100] is almost certainly a percentage; the message says so.

    >>> require_fraction(0.12, "lung_shunt_fraction")
    0.12
    """
    if not math.isfinite(value):
        raise UnitsError(f"{name} = {value!r} is not a finite number: give a fraction between 0 and 1")
    if value < 0.0 or value > 1.0:
        hint = (
            f" It looks like a percentage: give {value / 100:g} instead of {value:g}."
            if 1.0 < value <= 100.0
            else ""
        )
        raise UnitsError(f"{name} = {value:g} is outside 0–1: give a fraction between 0 and 1.{hint}")
    return value


def fraction_from_percent(value_percent: float, name: str) -> float:
    """Convert a percentage (0–100) to a fraction (0–1), refusing values outside that range."""
    if not math.isfinite(value_percent) or not 0.0 <= value_percent <= 100.0:
        raise UnitsError(f"{name} = {value_percent!r} % is outside 0–100 %")
    return value_percent / 100.0


def require_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Return ``value`` if it is finite and positive (or zero when allowed), else raise UnitsError."""
    ok = math.isfinite(value) and (value >= 0.0 if allow_zero else value > 0.0)
    if not ok:
        need = "zero or positive" if allow_zero else "positive"
        raise UnitsError(f"{name} = {value!r} must be a finite, {need} number")
    return value


# ------------------------------------------------------------------------------------------ laboratory units
#
# Laboratory values arrive in the unit of the laboratory that measured them: bilirubin in mg/dL (US) or
# µmol/L (SI), platelets as 10⁹/L or per µL. A bare number typed into a form carries no unit, and a value
# typed in the wrong unit can remove a contraindication (bilirubin 3.1 mg/dL read as 3.1 µmol/L). Values
# may therefore carry their unit ("3.1 mg/dL"); a bare number is accepted only where it is plausible in
# exactly one unit of its analyte, and refused with a hint where two units overlap.


@dataclass(frozen=True)
class LabQuantity:
    """A laboratory analyte: the unit sirtkit stores, the units accepted, and the plausible range.

    ``units`` maps each accepted spelling (compared case-insensitively after :func:`unit_key`) to the
    factor that converts a value in that unit to ``unit`` (``value_in_unit = value × factor``).
    ``plausible`` is the range, in ``unit``, of values seen in living adults (not a clinical threshold):
    a value outside it is refused, and a bare number is ambiguous when it lies inside the range in
    more than one unit.
    """

    name: str
    unit: str
    units: Mapping[str, float]
    plausible: tuple[float, float]

    def candidates(self, value: float) -> list[str]:
        """The units (one spelling each) in which the bare number ``value`` is plausible."""
        low, high = self.plausible
        seen: dict[float, str] = {}
        for spelling, factor in self.units.items():
            if low <= value * factor <= high:
                seen.setdefault(factor, spelling)
        return list(seen.values())


_UMOL = ("µmol/l", "umol/l", "μmol/l", "micromol/l")
_PER_UL = ("/µl", "/ul", "/μl", "cells/µl", "cells/ul", "/mm3", "/mm^3", "cells/mm3")
_GIGA_PER_L = ("10^9/l", "x10^9/l", "×10^9/l", "10e9/l", "10*9/l", "g/l", "/nl", "10^3/µl", "10^3/ul", "k/µl",
               "k/ul", "10e3/ul")

# Plausible adult ranges (edge validation, not clinical limits). Bilirubin: 0.1 mg/dL (1.7 µmol/L), below the
# lower reference limit of routine assays (~0.2–0.3 mg/dL), to 50 mg/dL (855 µmol/L), above the most severe
# jaundice. Albumin: 1–7 g/dL (10–70 g/L); serum albumin below 1 g/dL is not compatible with life.
# Creatinine: 0.1–25 mg/dL (8.8–2210 µmol/L). Platelets: 1–2000 ×10⁹/L. Granulocytes (absolute neutrophil
# count): 0.01–100 ×10⁹/L. INR: 0.5–20 (the upper end of point-of-care meters). Reference intervals:
# Burtis CA, Bruns DE (eds), Tietz Fundamentals of Clinical Chemistry and Molecular Diagnostics, 7th ed. 2015.
LAB_QUANTITIES: dict[str, LabQuantity] = {
    q.name: q
    for q in (
        LabQuantity("bilirubin", "mg/dL",
                    {"mg/dl": 1.0, **dict.fromkeys(_UMOL, 1.0 / BILIRUBIN_UMOL_L_PER_MG_DL)}, (0.1, 50.0)),
        LabQuantity("albumin", "g/dL", {"g/dl": 1.0, "g/l": 1.0 / ALBUMIN_G_L_PER_G_DL}, (1.0, 7.0)),
        LabQuantity("creatinine", "mg/dL",
                    {"mg/dl": 1.0, **dict.fromkeys(_UMOL, 1.0 / CREATININE_UMOL_L_PER_MG_DL)}, (0.1, 25.0)),
        LabQuantity("platelets", "10^9/L", {**dict.fromkeys(_GIGA_PER_L, 1.0), **dict.fromkeys(_PER_UL, 1e-3)},
                    (1.0, 2000.0)),
        LabQuantity("granulocytes", "10^9/L", {**dict.fromkeys(_GIGA_PER_L, 1.0), **dict.fromkeys(_PER_UL, 1e-3)},
                    (0.01, 100.0)),
    )
}

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


def unit_key(unit: str) -> str:
    """A unit spelling as compared: no white space (non-breaking spaces and tabs included), ⁹/³ as ^9/^3,
    lower case.

    Examples
    --------
    >>> unit_key("µmol/L"), unit_key("× 10⁹ / L")
    ('µmol/l', '×10^9/l')
    """
    return re.sub(r"\s+", "", unit).replace("⁹", "^9").replace("³", "^3").lower()


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def parse_lab_value(value: float | int | str, quantity: str | LabQuantity, *, field: str | None = None,
                    declared_unit: str | None = None, refuse_ambiguous: bool = True) -> float:
    """A laboratory value in the stored unit of ``quantity``, from a number or a "value unit" text.

    Parameters
    ----------
    value
        ``"3.1 mg/dL"``, ``"53 µmol/L"``, ``"1200/µL"`` or a bare number.
    quantity
        A key of :data:`LAB_QUANTITIES` (``"bilirubin"``, ``"albumin"``, ``"creatinine"``, ``"platelets"``,
        ``"granulocytes"``) or a :class:`LabQuantity`.
    field
        The input field, named in messages (default: the quantity's name).
    declared_unit
        The unit a field name declares (``bilirubin_umol_l`` → ``"µmol/L"``). The number is still a bare
        number to the user who typed it: with ``refuse_ambiguous`` it is refused when it is also plausible
        in another unit.
    refuse_ambiguous
        For ``declared_unit``: refuse a number plausible in two units (default True).

    Raises
    ------
    UnitsError
        Unknown unit; value not finite or outside the plausible range of its unit; a bare number that is
        plausible in two units (the message gives both readings and how to write the unit).

    Examples
    --------
    >>> parse_lab_value("3.1 mg/dL", "bilirubin")
    3.1
    >>> round(parse_lab_value("53 µmol/L", "bilirubin"), 2)
    3.1
    >>> parse_lab_value("1200/µL", "granulocytes")
    1.2
    >>> parse_lab_value(0.6, "bilirubin")  # plausible in mg/dL only
    0.6
    >>> parse_lab_value(3.1, "bilirubin")
    Traceback (most recent call last):
    ...
    sirtkit.errors.UnitsError: bilirubin = 3.1 is ambiguous: 3.1 mg/dL or 3.1 µmol/L (0.181 mg/dL) are both possible; write the unit with the value, e.g. 'bilirubin: 3.1 mg/dL'
    """
    spec = LAB_QUANTITIES[quantity] if isinstance(quantity, str) else quantity
    name = field or spec.name
    unit_text: str | None = declared_unit
    if isinstance(value, bool):
        raise UnitsError(f"{name} = {value!r}: give a number with its unit, e.g. '{spec.name}: 1.0 {spec.unit}'")
    if isinstance(value, str):
        if "," in value:
            raise UnitsError(f"{name} = {value!r}: write the number with a decimal point and no thousands "
                             f"separator, e.g. '{spec.name}: 1.5 {spec.unit}'")
        match = _NUMBER_UNIT.match(value)
        if match is None:
            raise UnitsError(f"{name} = {value!r}: write a number and its unit, e.g. '{spec.name}: 1.0 {spec.unit}'")
        number = float(match.group(1))
        unit_text = match.group(2) or declared_unit
    else:
        number = float(value)
    if not math.isfinite(number) or number < 0.0:
        raise UnitsError(f"{name} = {value!r}: must be a finite number ≥ 0; check the laboratory report")
    low, high = spec.plausible
    spellings = {unit_key(u): f for u, f in spec.units.items()}
    allowed = ", ".join(sorted({_display(spec, u) for u in spec.units}))
    if unit_text is not None:
        factor = spellings.get(unit_key(unit_text))
        if factor is None:
            raise UnitsError(f"{name} = {value!r}: unknown unit {unit_text!r} for {spec.name}; use one of {allowed}")
        converted = number * factor
        if not low <= converted <= high:
            others = [u for u in spec.candidates(number) if spec.units[u] != factor]
            hint = f" It looks like {_display(spec, others[0])}: write '{spec.name}: {number:g} {_display(spec, others[0])}'." \
                if others else ""
            raise UnitsError(
                f"{name} = {number:g} {_display(spec, unit_text)} is outside the plausible range "
                f"{_fmt(low / factor)}–{_fmt(high / factor)} {_display(spec, unit_text)}; check the value.{hint}")
        others = [u for u in spec.candidates(number) if spec.units[u] != factor]
        if declared_unit is not None and refuse_ambiguous and not isinstance(value, str) and others:
            readings = " or ".join(_reading(spec, number, u) for u in [unit_text, *others])
            raise UnitsError(
                f"{name} = {number:g} is ambiguous: {readings} are both plausible; write the unit with the value, "
                f"e.g. '{spec.name}: {number:g} {_display(spec, unit_text)}'")
        return converted
    found = spec.candidates(number)
    if not found:
        raise UnitsError(f"{name} = {number:g} is not plausible in any unit of {spec.name} ({allowed}); check the value")
    if len(found) > 1:
        readings = " or ".join(_reading(spec, number, u) for u in found)
        raise UnitsError(
            f"{name} = {number:g} is ambiguous: {readings} are both possible; write the unit with the value, "
            f"e.g. '{spec.name}: {number:g} {_display(spec, found[0])}'")
    return number * spec.units[found[0]]


_DISPLAY = {"mg/dl": "mg/dL", "g/dl": "g/dL", "g/l": "g/L", "µmol/l": "µmol/L", "umol/l": "µmol/L",
            "μmol/l": "µmol/L", "micromol/l": "µmol/L", "/µl": "/µL", "/ul": "/µL", "/μl": "/µL"}


def _display(spec: LabQuantity, unit: str) -> str:
    key = unit_key(unit)
    if spec.name in ("platelets", "granulocytes"):
        return "/µL" if spec.units.get(key, spec.units.get(unit, 1.0)) == 1e-3 else "×10^9/L"
    return _DISPLAY.get(key, unit)


def _reading(spec: LabQuantity, number: float, unit: str) -> str:
    factor = spec.units.get(unit, spec.units.get(unit_key(unit), 1.0))
    shown = f"{number:g} {_display(spec, unit)}"
    canonical = "×10^9/L" if spec.name in ("platelets", "granulocytes") else spec.unit
    return shown if factor == 1.0 else f"{shown} ({_fmt(number * factor)} {canonical})"
