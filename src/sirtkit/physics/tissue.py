"""Tissue properties used by both planning (masses from volumes) and dosimetry (LDM, density scaling).

One place, so that a plan and the dose map computed from it use the same density.

* Liver (and tumour) density for volumes without CT: 1.03 g/mL (planning convention).
* Lung mass without CT: the conventional 1 kg of MIRD lung-dose practice.
* CT numbers → mass density: the calibrated piecewise-linear relation of Schneider et al. (2000),
  with an explicit treatment of iodinated contrast (which raises CT numbers, not mass density).

>>> LIVER_DENSITY_G_PER_ML
1.03
>>> [round(float(v), 4) for v in hu_to_density([-1000.0, -750.0, 0.0, 60.0, 120.0])]
[0.0012, 0.2586, 1.0174, 1.0737, 1.0875]
>>> [round(float(v), 4) for v in hu_to_density([60.0, 120.0], contrast_enhanced=True)]
[1.031, 1.031]
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "CONTRAST_SOFT_TISSUE_HU_RANGE",
    "CONVENTIONAL_LUNG_MASS_KG",
    "PLAUSIBLE_LUNG_MASS_KG",
    "lung_mass_problem",
    "LIVER_DENSITY_G_PER_ML",
    "LIVER_UNENHANCED_MAX_HU",
    "LUNG_DENSITY_PLAUSIBLE_G_PER_ML",
    "SCHNEIDER2000_HU_DENSITY",
    "hu_to_density",
]

# Liver (and tumour) density 1.03 g/mL: TheraSphere IFU / MIRDy90 convention (docs/design/CLINICAL.md §6,
# [K]); alternatives: 1.0 ("normal liver considered"), 0.99 (CT vs autopsy, PMC3921016), cirrhotic 1.1,
# 1.06 (Ho-166 literature). Override per case where the method allows it.
LIVER_DENSITY_G_PER_ML = 1.03

# Lung mass without CT: 1.0 kg, the mass behind the lung limits of 30 Gy per session / 50 Gy cumulative
# ("based on 30 Gy to a lung mass of 1.0 kg", TheraSphere IFU; Ho-Leung/Kao lung-dose practice;
# CLINICAL.md §3). With a CT the lung mass comes from the CT densities instead (Kao et al., EJNMMI Res
# 2014;4:33: patient-specific lung mass from CT).
CONVENTIONAL_LUNG_MASS_KG = 1.0
# Plausible whole-lung mass given by hand, kg: adult lungs (tissue + blood) weigh about 1.0–1.2 kg (ICRP
# Publication 89, 2002: 1.2 kg male, 0.95 kg female reference); 0.1–5 kg spans children, pneumonectomy and
# severe oedema. A value outside it is a unit slip (grams typed as kg) rather than a patient.
PLAUSIBLE_LUNG_MASS_KG = (0.1, 5.0)
# Plausible mean density of a whole-lung segment, g/mL: inflated lung 0.26 (ICRU Report 46, 1992); CT lung
# densities 0.1–0.5 g/mL in adults at inspiration/expiration [K]. A lung segment whose volume makes the
# 1 kg convention imply a density outside this range does not hold the whole lungs (e.g. only the lung
# bases are in the field of view) — that is warned about, not silently used.
LUNG_DENSITY_PLAUSIBLE_G_PER_ML = (0.1, 0.5)

# CT number → mass density, Schneider W, Bortfeld T, Schlegel W. "Correlation between CT numbers and
# tissue parameters needed for Monte Carlo simulations of clinical dose distributions." Phys Med Biol
# 2000;45:459–478 — the piecewise-linear (HU, g/cm³) relation as distributed with GATE
# (Schneider2000DensitiesTable.txt): air–lung–adipose, adipose–soft tissue, soft tissue, bone. Scanner-
# specific calibrations differ by a few per cent; this is the stoichiometric reference relation.
SCHNEIDER2000_HU_DENSITY: tuple[tuple[float, float], ...] = (
    (-1000.0, 1.21e-3), (-98.0, 0.93), (-97.0, 0.930486), (14.0, 1.03), (23.0, 1.031),
    (100.0, 1.1199), (101.0, 1.0762), (1600.0, 1.9648), (3000.0, 2.8),
)
# Iodinated contrast raises the CT numbers of enhanced soft tissue (portal-venous liver 100–130 HU) while
# its mass density stays that of unenhanced tissue (the iodine adds < 0.5 % mass at clinical
# concentrations [K]). On a contrast-enhanced CT, CT numbers in this band are mapped to the density at
# its lower end (23 HU → 1.031 g/mL, Schneider's water-equivalent soft tissue ≈ the 1.03 g/mL liver
# convention of planning), so that predicted (1.03) and delivered doses stay comparable. Above 300 HU
# (bone, dense contrast in vessels) the calibration applies unchanged.
CONTRAST_SOFT_TISSUE_HU_RANGE = (23.0, 300.0)
# Unenhanced normal liver reads 50–70 HU (e.g. Kodama Y et al., AJR 2007;188:1307: liver attenuation on
# unenhanced CT ≈ 55–65 HU) [K]: a liver segment with a median above 90 HU is taken as contrast-enhanced.
LIVER_UNENHANCED_MAX_HU = 90.0


def lung_mass_problem(value: float, name: str) -> str | None:
    """Why ``value`` (kg) cannot be a whole-lung mass, with the grams reading (``None``: plausible).

    >>> lung_mass_problem(1000.0, "--lung-mass-kg")
    '--lung-mass-kg = 1000 kg is outside the plausible 0.1–5 kg of a whole-lung mass (adult ≈ 1 kg, ICRP 89): was it given in grams (1000 g = 1 kg)? Give kg'
    """
    low, high = PLAUSIBLE_LUNG_MASS_KG
    if math.isfinite(value) and low < value < high:
        return None
    grams = f" was it given in grams ({value:g} g = {value / 1000:g} kg)?" if value >= high else ""
    return (f"{name} = {value:g} kg is outside the plausible {low:g}–{high:g} kg of a whole-lung mass (adult ≈ 1 kg, "
            f"ICRP 89):{grams} Give kg")


def hu_to_density(hu: npt.ArrayLike, *, contrast_enhanced: bool = False) -> np.ndarray:
    """Mass density (g/mL) from CT numbers (HU) by the Schneider et al. (2000) calibration.

    Parameters
    ----------
    hu
        CT numbers, Hounsfield units.
    contrast_enhanced
        Map CT numbers inside :data:`CONTRAST_SOFT_TISSUE_HU_RANGE` to the unenhanced soft-tissue density
        (see the module notes).

    Returns
    -------
    numpy.ndarray
        float64 densities; values beyond the table's ends take the end densities (air 0.00121 g/mL,
        3000 HU 2.8 g/mL).

    References
    ----------
    Schneider W et al., Phys Med Biol 2000;45:459–478.
    """
    values = np.asarray(hu, dtype=np.float64)
    if contrast_enhanced:
        lo, hi = CONTRAST_SOFT_TISSUE_HU_RANGE
        values = np.where((values > lo) & (values <= hi), lo, values)
    table = np.asarray(SCHNEIDER2000_HU_DENSITY)
    return np.interp(values, table[:, 0], table[:, 1])
