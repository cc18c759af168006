"""Nuclide data for radioembolization: Y-90, Ho-166 and Tc-99m.

Values are constants with their sources, so that sirtkit works offline (hospitals often are).
``tests/physics/test_nuclides.py`` re-derives them from maintained data packages
(``radioactivedecay`` 0.6.1 for half-lives, ``icrp107-database`` for mean beta energies).

The *dose constant* K is the energy released per unit activity by complete decay, in J/GBq, which
equals Gy·kg/GBq when all of it is absorbed locally:
``K = E_mean[MeV] × 1.602176634e-13 J/MeV × 1e9 Bq/GBq × T½[s] / ln 2``.

References
----------
.. [ICRP107] ICRP Publication 107, "Nuclear decay data for dosimetric calculations", Ann ICRP 38(3), 2008.
.. [RD] Malins A, Lemoine T. radioactivedecay: A Python package for radioactive decay calculations.
   J Open Source Softw 2022;7:3318 (decay data from ICRP-107).
.. [EANM2022] Weber M et al. EANM procedure guideline for the treatment of liver cancer and liver
   metastases with intra-arterial radioactive compounds. EJNMMI 2022;49:1682–1699.
.. [TS-PI] TheraSphere Y-90 Glass Microspheres package insert (2014): ``Dose = 50 × A × (1 − F) / M``.
.. [Ho-JNM2016] Smits MLJ et al. / JNM 2016;57(S2):199 (abstract): 15.87 mJ/MBq for Ho-166.

Examples
--------
>>> Y90.half_life_h
64.1
>>> round(Y90.dose_constant_gy_kg_per_gbq, 2)
49.67
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from sirtkit.errors import InputError
from sirtkit.units import GBQ_PER_MCI, J_PER_MEV, S_PER_H

__all__ = [
    "HO166",
    "NUCLIDES",
    "TC99M",
    "Y90",
    "Y90_DOSE_CONSTANT_GY_KG_PER_GBQ",
    "Y90_DOSE_CONSTANT_ICRP107_GY_KG_PER_GBQ",
    "Y90_DOSE_CONSTANT_THERASPHERE_IFU_GY_KG_PER_GBQ",
    "HO166_DOSE_CONSTANT_GY_KG_PER_GBQ",
    "MAX_PLAUSIBLE_ACTIVITY_GBQ",
    "NuclideName",
    "Nuclide",
    "dose_constant_from_energy",
    "get_nuclide",
    "implausible_activity_message",
]

NuclideName = Literal["Y-90", "Ho-166", "Tc-99m"]

# --- Half-lives ----------------------------------------------------------------------------------
# Y-90: 64.1 h (2.67 d) — ICRP-107 and radioactivedecay 0.6.1; TheraSphere and SIR-Spheres package
# inserts. ENSDF quotes ≈64.05 h; 64.1 h is the value every device IFU uses.
Y90_HALF_LIFE_H = 64.1
# Ho-166: 26.8 h — ICRP-107 (icrp107-database 0.0.3) and radioactivedecay 0.6.1.
HO166_HALF_LIFE_H = 26.8
# Tc-99m: 6.015 h — ICRP-107 via radioactivedecay 0.6.1.
TC99M_HALF_LIFE_H = 6.015

# --- Mean beta energies (MeV per decay) ----------------------------------------------------------
# Y-90: 0.9312 MeV, the value behind the 49.67 Gy·kg/GBq constant of the EANM 2022 guideline and MIRD
# practice; ICRP-107 gives 0.932905 MeV (beta-minus, yield 0.999885) — see Y90_DOSE_CONSTANT_ICRP107.
Y90_MEAN_BETA_ENERGY_MEV = 0.9312
Y90_MEAN_BETA_ENERGY_ICRP107_MEV = 0.932905
# TheraSphere package insert: 0.9367 MeV → the "50 Gy·kg/GBq" of its dose formula.
Y90_MEAN_BETA_ENERGY_THERASPHERE_MEV = 0.9367
# Ho-166: ICRP-107 mean electron energy per decay 0.6963 MeV (beta 0.66499 + internal conversion 0.02840
# + Auger 0.00295 MeV; icrp107-database 0.0.3). With 26.8 h this gives 15.53 Gy·kg/GBq, 2.1 % below the
# published 15.87 used for Ho-166 planning (which also counts part of the photon energy).
HO166_MEAN_ELECTRON_ENERGY_MEV = 0.6963
# Tc-99m is a diagnostic (gamma) nuclide; its electron dose is irrelevant to SIRT planning.
TC99M_MEAN_ELECTRON_ENERGY_MEV = 0.0


def dose_constant_from_energy(mean_energy_mev: float, half_life_h: float) -> float:
    """Energy released per GBq by complete decay, in J/GBq (= Gy·kg/GBq with local absorption).

    Parameters
    ----------
    mean_energy_mev
        Mean energy absorbed locally per decay, MeV.
    half_life_h
        Physical half-life, hours.

    Returns
    -------
    float
        Dose constant in Gy·kg/GBq.

    Examples
    --------
    >>> round(dose_constant_from_energy(0.9312, 64.1), 3)
    49.669
    >>> round(dose_constant_from_energy(0.9367, 64.1), 3)
    49.963
    """
    mean_life_s = half_life_h * S_PER_H / math.log(2.0)
    return mean_energy_mev * J_PER_MEV * 1.0e9 * mean_life_s


# Y-90 dose constant for planning: 49.67 Gy·kg/GBq (EANM 2022 guideline; Kao et al. 2012; MIRD);
# reproduces 0.9312 MeV × 64.1 h / ln 2 (tested).
Y90_DOSE_CONSTANT_GY_KG_PER_GBQ = 49.67
# TheraSphere IFU "50": use only to reproduce package-insert worked numbers.
Y90_DOSE_CONSTANT_THERASPHERE_IFU_GY_KG_PER_GBQ = 50.0
# ICRP-107 derived (0.932905 MeV, 64.1 h) = 49.76 Gy·kg/GBq: used for kernel energy-conservation checks.
Y90_DOSE_CONSTANT_ICRP107_GY_KG_PER_GBQ = dose_constant_from_energy(
    Y90_MEAN_BETA_ENERGY_ICRP107_MEV, Y90_HALF_LIFE_H
)
# Ho-166: 15.87 Gy·kg/GBq (15.87 mJ/MBq), JNM 2016;57(S2):199 and the QuiremSpheres literature;
# ICRP-107 electrons alone give 15.53 (2.1 % lower; see HO166_MEAN_ELECTRON_ENERGY_MEV).
HO166_DOSE_CONSTANT_GY_KG_PER_GBQ = 15.87


@dataclass(frozen=True)
class Nuclide:
    """Decay data of one nuclide.

    Attributes
    ----------
    name
        Conventional name, e.g. ``"Y-90"``.
    half_life_h
        Physical half-life in hours.
    mean_beta_energy_mev
        Mean energy per decay of the locally absorbed (electron) emissions, MeV.
    dose_constant_gy_kg_per_gbq
        Conventional SIRT dose constant (local absorption, complete decay), Gy·kg/GBq.
    """

    name: NuclideName
    half_life_h: float
    mean_beta_energy_mev: float
    dose_constant_gy_kg_per_gbq: float

    @property
    def decay_constant_per_h(self) -> float:
        """λ = ln 2 / T½, per hour."""
        return math.log(2.0) / self.half_life_h

    @property
    def half_life_s(self) -> float:
        """Half-life in seconds."""
        return self.half_life_h * S_PER_H

    @property
    def mean_life_h(self) -> float:
        """Mean life τ = T½ / ln 2, hours (cumulated activity per unit initial activity)."""
        return self.half_life_h / math.log(2.0)


Y90 = Nuclide("Y-90", Y90_HALF_LIFE_H, Y90_MEAN_BETA_ENERGY_MEV, Y90_DOSE_CONSTANT_GY_KG_PER_GBQ)
HO166 = Nuclide("Ho-166", HO166_HALF_LIFE_H, HO166_MEAN_ELECTRON_ENERGY_MEV, HO166_DOSE_CONSTANT_GY_KG_PER_GBQ)
TC99M = Nuclide("Tc-99m", TC99M_HALF_LIFE_H, TC99M_MEAN_ELECTRON_ENERGY_MEV, 0.0)

NUCLIDES: dict[str, Nuclide] = {n.name: n for n in (Y90, HO166, TC99M)}


def get_nuclide(name: str) -> Nuclide:
    """Look a nuclide up by name, accepting common spellings (``Y90``, ``y-90``, ``Ho166``).

    >>> get_nuclide("y90").name
    'Y-90'
    """
    key = name.strip().lower().replace("-", "").replace(" ", "")
    for nuclide in NUCLIDES.values():
        if nuclide.name.lower().replace("-", "") == key:
            return nuclide
    raise InputError(f"unknown nuclide {name!r}: use one of {', '.join(NUCLIDES)}")


# --- Largest plausible activity of one SIRT treatment, GBq ------------------------------------------
# A unit-mistake guard for every activity a user types (vial, dose-calibrator assay, prepared, residual,
# planned/prescribed, delivered, scout): a larger number is almost surely MBq or mCi typed as GBq
# (27 mCi = 1.0 GBq) and is refused. Y-90: TheraSphere's largest dose size is 20 GBq at calibration
# (TheraSphere package insert 2014: 3–20 GBq) and SIR-Spheres vials hold 3 GBq (SIR-Spheres PI), so no Y-90
# activity of one treatment exceeds 20 GBq [S]. Ho-166: QuiremSpheres doses are 6–12 GBq per treatment
# (Reinders et al., CVIR 2019, PMC8583383 Table 4) [S]; 20 GBq leaves room for the 60 Gy whole-liver standard
# (3.78 GBq/kg) of a 5 kg NELM liver [K]. The device maxima of a plan (``planning.devices``) are checks;
# these are input refusals.
MAX_PLAUSIBLE_ACTIVITY_GBQ: dict[str, float] = {"Y-90": 20.0, "Ho-166": 20.0}


def implausible_activity_message(value_gbq: float, field: str, nuclide: str) -> str | None:
    """The refusal text when ``value_gbq`` exceeds the plausible maximum for ``nuclide`` (``None``: plausible).

    Names the field and gives both readings converted to GBq — the MBq one first from 1000 up (a
    "1400" is far more likely 1400 MBq = 1.4 GBq than 1400 mCi), the mCi one first below (1 mCi = 0.037 GBq).

    >>> implausible_activity_message(27.0, "schedule.vial_assay.activity_gbq", "Y-90")[:60]
    'schedule.vial_assay.activity_gbq = 27 GBq is more than any Y'
    >>> implausible_activity_message(1400.0, "delivered_activity_gbq", "Y-90").split(": ", 1)[1]
    'was it given in MBq or mCi? 1400 MBq = 1.4 GBq; 1400 mCi = 51.8 GBq (1 mCi = 0.037 GBq). Give GBq'
    >>> implausible_activity_message(3.0, "activity_gbq", "Y-90") is None
    True
    """
    limit = MAX_PLAUSIBLE_ACTIVITY_GBQ.get(get_nuclide(nuclide).name)
    if limit is None or value_gbq <= limit:  # Tc-99m: not a SIRT treatment activity
        return None
    mbq = f"{value_gbq:g} MBq = {value_gbq / 1000.0:.4g} GBq"
    mci = f"{value_gbq:g} mCi = {value_gbq * GBQ_PER_MCI:.4g} GBq"
    readings = ("MBq or mCi", f"{mbq}; {mci}") if value_gbq >= 1000.0 else ("mCi or MBq", f"{mci}; {mbq}")
    return (f"{field} = {value_gbq:g} GBq is more than any {get_nuclide(nuclide).name} SIRT treatment (at most "
            f"{limit:g} GBq): was it given in {readings[0]}? {readings[1]} (1 mCi = {GBQ_PER_MCI:g} GBq). Give GBq")
