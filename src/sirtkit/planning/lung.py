"""Lung shunt fraction (LSF), lung mass and lung absorbed dose.

Definitions (CLINICAL.md §3, §6):

- ``LSF = C_lung / (C_lung + C_liver)`` from Tc-99m-MAA (or Ho-166 scout) counts; planar images use the
  geometric mean ``√(C_ant · C_post)`` of each region of interest; SPECT/CT uses counts summed in the
  CT-defined lung and liver volumes of interest.
- Lung dose per treatment ``D_L = K · A_del · LSF / M_L`` (local absorption), with ``M_L = 1.0 kg`` by
  convention or a patient-specific CT-based mass (Kao 2014), the density of each CT number taken from the
  one HU → density calibration of the package (Schneider et al. 2000,
  :func:`sirtkit.physics.tissue.hu_to_density`, also used by the dose engines), so that plan and dose
  map use the same lung mass.
- Limits: 30 Gy per session and 50 Gy cumulative; TheraSphere IFU: no more than 0.61 GBq (16.5 mCi)
  shunted to the lungs.

References
----------
.. [Radiopaedia-LSF] "Lung shunt fraction", Radiopaedia (30 Gy/session, 50 Gy cumulative).
.. [TS-IFU] TheraSphere Y-90 Glass Microspheres IFU: contraindication "shunting … >16.5 mCi (0.61 GBq)
   to the lungs"; "radiation pneumonitis … >30 Gy in a single treatment".
.. [Kao2014] Kao YH et al. Personalized predictive lung dosimetry by technetium-99m macroaggregated
   albumin SPECT/CT for yttrium-90 radioembolization. EJNMMI Res 2014;4:33.
.. [Schneider2000] Schneider W, Bortfeld T, Schlegel W. Phys Med Biol 2000;45:459–478 (HU → density).
.. [MPPG14a] Busse NC et al. AAPM MPPG 14.a, JACMP 2023 (LSF definition).

Examples
--------
>>> round(lung_shunt_fraction_planar(50_000, 40_000, 400_000, 600_000), 6)
0.083651
>>> round(lung_mass_from_ct_kg(4000.0, -750.0), 4)
1.0345
>>> round(lung_dose_gy(0.61 / 0.1, 0.1, dose_constant_gy_kg_per_gbq=50.0), 2)
30.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sirtkit.errors import InputError, UnitsError
from sirtkit.physics.nuclides import Y90_DOSE_CONSTANT_GY_KG_PER_GBQ
from sirtkit.physics.tissue import hu_to_density
from sirtkit.units import require_fraction, require_positive

__all__ = [
    "GLASS_LUNG_ACTIVITY_LIMIT_GBQ",
    "LUNG_DOSE_LIMIT_CUMULATIVE_GY",
    "LUNG_DOSE_LIMIT_SESSION_GY",
    "STANDARD_LUNG_MASS_KG",
    "cumulative_lung_dose_gy",
    "geometric_mean_counts",
    "lung_activity_gbq",
    "lung_dose_gy",
    "lung_mass_from_ct_kg",
    "lung_mass_from_hu_kg",
    "lung_shunt_fraction_from_counts",
    "lung_shunt_fraction_planar",
    "max_activity_for_lung_dose_gbq",
]

# Standard lung mass: lung limits are "based on 30 Gy to a lung mass of 1.0 kg" (Appl Sci review; TheraSphere
# IFU 0.61 GBq = 30 Gy × 1 kg / 50 Gy·kg/GBq). CLINICAL.md §3/§6 [S].
STANDARD_LUNG_MASS_KG = 1.0
# Lung absorbed-dose limits: 30 Gy per session, 50 Gy cumulative (Radiopaedia "lung shunt fraction";
# TheraSphere IFU for the per-session value). CLINICAL.md §3 [S].
LUNG_DOSE_LIMIT_SESSION_GY = 30.0
LUNG_DOSE_LIMIT_CUMULATIVE_GY = 50.0
# TheraSphere IFU contraindication: more than 16.5 mCi (0.61 GBq) shunted to the lungs. CLINICAL.md §3 [S].
GLASS_LUNG_ACTIVITY_LIMIT_GBQ = 0.61
_ML_PER_KG_AT_UNIT_DENSITY = 1000.0  # g/mL × mL → g; 1000 g per kg


def _require_counts(value: float, name: str) -> float:
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{name} = {value!r}: counts must be a finite number ≥ 0")
    return value


def geometric_mean_counts(anterior_counts: float, posterior_counts: float) -> float:
    """Geometric mean ``√(C_ant · C_post)`` of conjugate planar counts of one region of interest.

    >>> round(geometric_mean_counts(50_000, 40_000), 2)
    44721.36
    """
    _require_counts(anterior_counts, "anterior_counts")
    _require_counts(posterior_counts, "posterior_counts")
    return math.sqrt(anterior_counts * posterior_counts)


def lung_shunt_fraction_from_counts(lung_counts: float, liver_counts: float) -> float:
    """LSF = C_lung / (C_lung + C_liver), a fraction 0–1.

    Use counts summed in CT-defined lung and liver volumes of interest (SPECT/CT; a voxel in both masks
    counts as liver), or planar geometric means (see :func:`lung_shunt_fraction_planar`).

    Parameters
    ----------
    lung_counts
        Counts in the lungs (both lungs).
    liver_counts
        Counts in the whole liver including tumours (or in the perfused territories).

    Returns
    -------
    float
        Lung shunt fraction, 0–1.

    Raises
    ------
    InputError
        If counts are negative or both are zero.

    References
    ----------
    AAPM MPPG 14.a (Busse et al., JACMP 2023); CLINICAL.md §3.

    >>> lung_shunt_fraction_from_counts(5.0, 95.0)
    0.05
    """
    _require_counts(lung_counts, "lung_counts")
    _require_counts(liver_counts, "liver_counts")
    total = lung_counts + liver_counts
    if total <= 0:
        raise InputError("lung_counts + liver_counts is 0: give the counts of the lung and liver regions")
    return lung_counts / total


def lung_shunt_fraction_planar(
    lung_anterior_counts: float,
    lung_posterior_counts: float,
    liver_anterior_counts: float,
    liver_posterior_counts: float,
) -> float:
    """LSF from planar MAA scintigraphy using the geometric mean of anterior and posterior counts.

    References
    ----------
    Manufacturer recommendation (geometric mean of liver and lung counts, Phys Med 2021); CLINICAL.md §3, W6.

    >>> round(lung_shunt_fraction_planar(50_000, 40_000, 400_000, 600_000), 6)
    0.083651
    """
    lung = geometric_mean_counts(lung_anterior_counts, lung_posterior_counts)
    liver = geometric_mean_counts(liver_anterior_counts, liver_posterior_counts)
    return lung_shunt_fraction_from_counts(lung, liver)


def lung_mass_from_ct_kg(lung_volume_ml: float, mean_hu: float) -> float:
    """Lung mass from CT lung volume and mean Hounsfield units (Kao 2014; density by Schneider 2000).

    ``M = ρ(HU̅) · V / 1000`` kg with ``ρ`` from :func:`sirtkit.physics.tissue.hu_to_density`. Between
    −1000 and −98 HU the calibration is linear, so for lung tissue the density of the mean CT number is the
    mean density; with voxels beyond that band use :func:`lung_mass_from_hu_kg` with the voxel values.

    Raises
    ------
    UnitsError
        If the volume is not positive or the HU is outside [-1100, 3000] (probably not HU).

    References
    ----------
    Kao YH et al. EJNMMI Res 2014;4:33 (CT lung mass); Schneider W et al. Phys Med Biol 2000;45:459
    (−750 HU → 0.2586 g/mL: 4000 mL → 1.034 kg; CLINICAL.md W22's linear (HU+1000)/1000 gives 1.00 kg).

    >>> round(lung_mass_from_ct_kg(4000.0, -750.0), 4)
    1.0345
    """
    require_positive(lung_volume_ml, "lung_volume_ml")
    if not math.isfinite(mean_hu) or not -1100.0 <= mean_hu <= 3000.0:
        raise UnitsError(f"lung mean_hu = {mean_hu!r} is not a CT number: give Hounsfield units (air −1000)")
    density = float(hu_to_density(mean_hu))
    return density * lung_volume_ml / _ML_PER_KG_AT_UNIT_DENSITY


def lung_mass_from_hu_kg(hu_values: npt.ArrayLike, voxel_volume_ml: float, *,
                         contrast_enhanced: bool = False) -> float:
    """Lung mass from the CT numbers of the lung voxels: ``Σ ρ(HU) · V_voxel`` (Schneider 2000 densities).

    The same calibration as the dose engines (:func:`sirtkit.physics.tissue.hu_to_density`, including its
    treatment of a contrast-enhanced CT).

    >>> round(lung_mass_from_hu_kg([-750.0, -750.0], 2000.0), 4)
    1.0345
    """
    require_positive(voxel_volume_ml, "voxel_volume_ml")
    hu = np.asarray(hu_values, dtype=np.float64)
    if hu.size == 0:
        raise InputError("lung mask is empty: no lung voxels to compute a lung mass from")
    if not np.all(np.isfinite(hu)):
        raise UnitsError("lung CT numbers contain NaN or infinite values: check the CT")
    density = hu_to_density(hu, contrast_enhanced=contrast_enhanced)
    return float(density.sum()) * voxel_volume_ml / _ML_PER_KG_AT_UNIT_DENSITY


def lung_activity_gbq(activity_delivered_gbq: float, lung_shunt_fraction: float) -> float:
    """Activity shunted to the lungs, ``A_del · LSF`` (GBq)."""
    require_fraction(lung_shunt_fraction, "lung_shunt_fraction")
    return activity_delivered_gbq * lung_shunt_fraction


def lung_dose_gy(
    activity_delivered_gbq: float,
    lung_shunt_fraction: float,
    lung_mass_kg: float = STANDARD_LUNG_MASS_KG,
    dose_constant_gy_kg_per_gbq: float = Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
) -> float:
    """Mean lung absorbed dose of one treatment, ``K · A_del · LSF / M_L`` (Gy).

    References
    ----------
    CLINICAL.md §3; W7: 0.61 GBq to 1 kg of lung with K = 50 → 30.5 Gy.

    >>> round(lung_dose_gy(2.6021, 0.05, 1.0, 50.0), 3)
    6.505
    """
    require_positive(activity_delivered_gbq, "activity_delivered_gbq", allow_zero=True)
    require_positive(lung_mass_kg, "lung_mass_kg")
    return dose_constant_gy_kg_per_gbq * lung_activity_gbq(activity_delivered_gbq, lung_shunt_fraction) / lung_mass_kg


def max_activity_for_lung_dose_gbq(
    lung_dose_limit_gy: float,
    lung_shunt_fraction: float,
    lung_mass_kg: float = STANDARD_LUNG_MASS_KG,
    dose_constant_gy_kg_per_gbq: float = Y90_DOSE_CONSTANT_GY_KG_PER_GBQ,
) -> float:
    """Largest delivered activity keeping the lung dose at or below ``lung_dose_limit_gy``.

    Returns ``inf`` when LSF is 0 (no shunt: the lung places no bound) and 0 when the limit is ≤ 0
    (for example a cumulative limit already used up by prior treatments).

    >>> round(max_activity_for_lung_dose_gbq(30.0, 0.1, 1.0, 50.0), 3)
    6.0
    """
    require_fraction(lung_shunt_fraction, "lung_shunt_fraction")
    require_positive(lung_mass_kg, "lung_mass_kg")
    if lung_dose_limit_gy <= 0:
        return 0.0
    if lung_shunt_fraction == 0:
        return math.inf
    return lung_dose_limit_gy * lung_mass_kg / (dose_constant_gy_kg_per_gbq * lung_shunt_fraction)


def cumulative_lung_dose_gy(session_dose_gy: float, prior_lung_doses_gy: Sequence[float] = ()) -> float:
    """Cumulative lung dose: this session plus all prior SIRT lung doses (Gy).

    >>> cumulative_lung_dose_gy(12.0, [15.0, 10.0])
    37.0
    """
    total = session_dose_gy
    for i, dose in enumerate(prior_lung_doses_gy):
        require_positive(dose, f"prior_lung_doses_gy[{i}]", allow_zero=True)
        total += dose
    return total
