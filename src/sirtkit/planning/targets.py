"""Default absorbed-dose targets and limits per device and treatment intent (cited data).

Values come from the EANM 2022 guideline (Weber et al., EJNMMI 2022;49:1682), Table 2 (glass) and
Table 3 (resin), using the mCRC rows as proxies for neuroendocrine liver metastases (no NELM-specific
threshold is established, CLINICAL.md §4.4), and from the Ho-166 literature (liver ≤ 60 Gy, lung ≤ 30 Gy;
60 Gy whole-liver standard). Every value can be overridden in the case file.

Conventions chosen here (documented in ``docs/planning.md``):

- ``perfused_target_gy`` is the single-compartment (MIRD) target for the perfused volume. Where EANM gives
  a range, the value used is stated in the ``source`` column.
- ``normal_liver_limit_gy`` is an upper limit on the mean dose to the perfused normal liver.
- ``tumour_target_gy`` is the minimum tumour dose aimed at.
- EANM has no "neoadjuvant" row: the radiation-lobectomy values are used (hypertrophy / bridge to
  resection) — a mapping of ours [K].

Examples
--------
>>> intent_doses("glass", "radiation_segmentectomy").perfused_target_gy
400.0
>>> intent_doses("resin", "palliative").normal_liver_limit_gy
40.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sirtkit.errors import InputError

__all__ = ["INTENT_DOSES", "IntentDoses", "IntentName", "intent_doses"]

IntentName = Literal["palliative", "radiation_lobectomy", "radiation_segmentectomy", "neoadjuvant"]


@dataclass(frozen=True)
class IntentDoses:
    """Default targets/limits (Gy) of one device and intent; ``None`` = not applicable."""

    perfused_target_gy: float | None
    normal_liver_limit_gy: float | None
    tumour_target_gy: float | None
    source: str


# Weber M et al., EJNMMI 2022;49:1682, Tables 2 (glass) and 3 (resin); mCRC rows used as NELM proxy.
_EANM_T2 = "EANM 2022 Tab 2 (glass, mCRC as NELM proxy)"
_EANM_T3 = "EANM 2022 Tab 3 (resin, mCRC as NELM proxy)"
# van Roekel thesis (HEPAR/SIM: 60 Gy whole liver); Q-Suite constraints, Porto Ho-166 study (liver ≤ 60 Gy).
_HO = "Ho-166 60 Gy whole liver (van Roekel; Porto study)"

INTENT_DOSES: dict[tuple[str, str], IntentDoses] = {
    # Glass: perfused 80–150 Gy (unilobar/bilobar): 120 Gy = DOSISPHERE-01 standard arm (120 ± 20 Gy);
    # whole normal liver < 75 Gy; mCRC tumour ≥ 189 Gy.
    ("glass", "palliative"): IntentDoses(120.0, 75.0, 189.0, _EANM_T2 + "; 120 Gy: DOSISPHERE-01"),
    # Glass lobectomy: perfused 140–150 Gy (>150 if whole-liver < 150) → 150 Gy; normal perfused liver is
    # meant to be ablated (≥ 88 Gy), so no upper normal-liver limit on the perfused lobe.
    ("glass", "radiation_lobectomy"): IntentDoses(150.0, None, 189.0, _EANM_T2 + "; 140–150, 150 used"),
    ("glass", "radiation_segmentectomy"): IntentDoses(400.0, None, None, _EANM_T2),
    ("glass", "neoadjuvant"): IntentDoses(150.0, None, 189.0, _EANM_T2 + "; lobectomy row [K]"),
    # Resin: single-compartment perfused target only for segmentectomy (> 150 Gy); normal perfused liver
    # < 40 Gy (unilobar; bilobar < 30 in pretreated/compromised liver, < 40 otherwise); mCRC tumour > 100 Gy.
    ("resin", "palliative"): IntentDoses(None, 40.0, 100.0, _EANM_T3 + "; bilobar < 30 if compromised"),
    ("resin", "radiation_lobectomy"): IntentDoses(None, None, 100.0, _EANM_T3),
    ("resin", "radiation_segmentectomy"): IntentDoses(150.0, None, None, _EANM_T3),
    ("resin", "neoadjuvant"): IntentDoses(None, None, 100.0, _EANM_T3 + "; lobectomy row [K]"),
    # Holmium: 60 Gy whole-liver standard = limit on liver dose; no tumour threshold published.
    ("holmium", "palliative"): IntentDoses(60.0, 60.0, None, _HO),
    ("holmium", "radiation_lobectomy"): IntentDoses(60.0, 60.0, None, _HO + " [K]"),
    ("holmium", "radiation_segmentectomy"): IntentDoses(60.0, 60.0, None, _HO + " [K]"),
    ("holmium", "neoadjuvant"): IntentDoses(60.0, 60.0, None, _HO + " [K]"),
}


def intent_doses(device: str, intent: str) -> IntentDoses:
    """Default targets/limits for ``device`` and ``intent``; unknown keys list the allowed ones."""
    if intent not in get_args(IntentName):
        raise InputError(f"unknown intent {intent!r}: use one of {', '.join(get_args(IntentName))}")
    key = (device, intent)
    if key not in INTENT_DOSES:
        devices = sorted({d for d, _ in INTENT_DOSES})
        raise InputError(f"unknown device {device!r}: use one of {', '.join(devices)}")
    return INTENT_DOSES[key]
