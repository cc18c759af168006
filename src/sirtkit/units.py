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

from sirtkit.errors import UnitsError

__all__ = [
    "ALBUMIN_G_L_PER_G_DL",
    "BILIRUBIN_UMOL_L_PER_MG_DL",
    "BQ_PER_GBQ",
    "BQ_PER_MBQ",
    "CREATININE_UMOL_L_PER_MG_DL",
    "GBQ_PER_MCI",
    "J_PER_MEV",
    "MBQ_PER_GBQ",
    "MBQ_PER_MCI",
    "S_PER_H",
    "albumin_g_dl_to_g_l",
    "bilirubin_mg_dl_to_umol_l",
    "bilirubin_umol_l_to_mg_dl",
    "fraction_from_percent",
    "gbq_to_mci",
    "mci_to_gbq",
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
