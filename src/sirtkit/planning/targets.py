"""Guideline absorbed-dose thresholds, each mapped to the quantity it names (one cited table).

Every row of :data:`GUIDELINE_THRESHOLDS` states *which mean absorbed dose* it bounds:

- ``perfused_volume_dose`` — the whole perfused volume, tumour included (single-compartment MIRD);
- ``perfused_normal_liver_dose`` — the non-tumoural liver inside the perfused territories;
- ``whole_normal_liver_dose`` — all non-tumoural liver, perfused **and non-perfused**
  (``K·A_normal/(M_perfused normal + M_non-perfused normal)``);
- ``whole_liver_dose`` — the whole liver, tumours included (``K·A_liver/M_whole liver``, perfused and
  non-perfused): the quantity of the Ho-166 standard and its 60 Gy maximum tolerated dose;
- ``tumour_dose`` — the tumour (the coldest tumour compartment);

whether it is an upper ``limit`` (hard: a plan above it fails), a minimum ``target`` (soft: a warning when
not reached), or a ``range_low``/``range_high`` edge of a recommended range (soft), and under which liver
condition it applies (``any``; ``compromised``/``not_compromised``; ``hepatic_reserve_below_30``).

Sources, read for this table:

- Weber M et al., EANM procedure guideline, Eur J Nucl Med Mol Imaging 2022;49:1682–1699 (PMC8940802),
  **Table 2 (glass)**: perfused volume 80–150 Gy (unilobar/bilobar), 140–150 Gy (lobectomy), > 400 Gy
  (segmentectomy); *normal perfused liver* ≥ 88 Gy (lobectomy, first treatment) and < 120 Gy if hepatic
  reserve < 30 % (unilobar); *whole normal liver* < 75 Gy (range 50/90: < 50 Gy if total bilirubin
  > 1.1 mg/dL, < 90 Gy if < 1.1 mg/dL; "derived from unilobar treatments without prior RE only",
  "can be considered safe for non-HCC patients"); tumour ≥ 189 Gy (mCRC). Hepatic reserve = untreated
  liver fraction.
- The same guideline, **Table 3 (resin)**, "modified from Levillain et al." (Levillain H et al., EJNMMI
  2021;48:1570): *normal perfused liver* < 40 Gy (unilobar, bilobar), < 30 Gy "in pretreated patients
  or those with compromised liver function" (bilobar), > 70 Gy for lobectomy "with a hepatic reserve of
  > 30 %"; perfused volume > 150 Gy (segmentectomy); single-compartment lobectomy "not recommended";
  tumour > 100 Gy (mCRC). The Levillain paper itself was not available to re-read; its numbers are
  taken as EANM Table 3 reproduces them.
- Ho-166: Smits MLJ et al., Lancet Oncol 2012;13:1025–1034 (HEPAR I, dose escalation 20/40/60/80 Gy
  *average whole-liver absorbed dose*, activity = dose × whole-liver mass incl. tumour / K): maximum
  tolerated dose **60 Gy whole liver**; Prince JF et al., J Nucl Med 2018;59:582–588 (HEPAR II) treated at
  that 60 Gy whole-liver dose (van Roekel thesis: 3780 MBq/kg). Liver ≤ 60 Gy is also the Q-Suite
  planning constraint (Porto Ho-166 study, Adv Radiother Nucl Med 3(3)).

Mappings of ours, marked [K] in the table: NELM uses the mCRC rows (no NELM-specific threshold is
established, CLINICAL.md §4.4); "palliative" maps to the unilobar/bilobar rows, "neoadjuvant" to the
lobectomy rows; the glass 90 Gy whole-normal-liver figure (HCC, bilirubin < 1.1 mg/dL) is listed but not
selected (NELM/mCRC rows give < 75 Gy); prior PRRT, prior chemotherapy, cirrhosis or prior liver
irradiation select the 50 Gy glass and the 30 Gy resin figures like a raised bilirubin does (EANM
footnotes name bilirubin and "pretreated or compromised" liver; applying 30 Gy to unilobar resin plans too
is conservative); the Ho-166 60 Gy is a hard limit on the whole-liver mean dose (the quantity HEPAR I
names), and — our mapping [K] — also on the perfused normal liver of compartment plans (for a selective
treatment the whole-liver mean dilutes the perfused dose with non-perfused liver).

Examples
--------
>>> rows = select_thresholds("glass", "palliative", LiverState(total_bilirubin_mg_per_dl=1.4))
>>> rows["whole_normal_liver_dose"].value_gy
50.0
>>> select_thresholds("resin", "palliative", LiverState())["perfused_normal_liver_dose"].value_gy
40.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from sirtkit.errors import InputError

__all__ = [
    "BILIRUBIN_COMPROMISED_ABOVE_MG_PER_DL",
    "GUIDELINE_THRESHOLDS",
    "HEPATIC_RESERVE_LOW_FRACTION",
    "INTENT_DOSES",
    "GuidelineThreshold",
    "IntentDoses",
    "IntentName",
    "LiverState",
    "intent_doses",
    "select_thresholds",
]

IntentName = Literal["palliative", "radiation_lobectomy", "radiation_segmentectomy", "neoadjuvant"]
Quantity = Literal["perfused_volume_dose", "perfused_normal_liver_dose", "whole_normal_liver_dose",
                   "whole_liver_dose", "tumour_dose"]
BoundKind = Literal["limit", "target", "range_low", "range_high"]
Condition = Literal["any", "compromised", "not_compromised", "hepatic_reserve_below_30"]

# EANM 2022 Tab 2 footnote ***: whole normal liver < 50 Gy if total bilirubin > 1.1 mg/dL [S].
BILIRUBIN_COMPROMISED_ABOVE_MG_PER_DL = 1.1
# EANM 2022 Tab 2 footnote ** / Tab 3 footnote *: hepatic reserve (untreated liver fraction) 30 % [S].
HEPATIC_RESERVE_LOW_FRACTION = 0.30


@dataclass(frozen=True)
class LiverState:
    """Liver condition that selects the normal-liver limit (inputs of the case file's ``liver_function``).

    ``hepatic_reserve_fraction`` is the untreated (non-perfused) liver fraction, 0–1.
    """

    total_bilirubin_mg_per_dl: float | None = None
    cirrhosis: bool = False
    prior_prrt: bool = False
    prior_chemotherapy: bool = False
    prior_liver_radiation: bool = False
    hepatic_reserve_fraction: float | None = None

    @property
    def compromise_reasons(self) -> tuple[str, ...]:
        """Why the liver counts as compromised (empty: not compromised)."""
        reasons = []
        bili = self.total_bilirubin_mg_per_dl
        if bili is not None and bili > BILIRUBIN_COMPROMISED_ABOVE_MG_PER_DL:
            reasons.append(f"total bilirubin {bili:g} mg/dL > {BILIRUBIN_COMPROMISED_ABOVE_MG_PER_DL:g}")
        for flag, text in ((self.cirrhosis, "cirrhosis"), (self.prior_prrt, "prior PRRT"),
                           (self.prior_chemotherapy, "prior chemotherapy"),
                           (self.prior_liver_radiation, "prior liver irradiation (SIRT/EBRT)")):
            if flag:
                reasons.append(text)
        return tuple(reasons)

    @property
    def compromised(self) -> bool:
        """True if any compromise reason applies."""
        return bool(self.compromise_reasons)

    def matches(self, condition: Condition) -> bool:
        """Whether a table row with ``condition`` applies to this liver."""
        if condition == "any":
            return True
        if condition == "compromised":
            return self.compromised
        if condition == "not_compromised":
            return not self.compromised
        hr = self.hepatic_reserve_fraction
        return hr is not None and hr < HEPATIC_RESERVE_LOW_FRACTION


@dataclass(frozen=True)
class GuidelineThreshold:
    """One row of the guideline table."""

    device: str
    intents: tuple[str, ...]
    quantity: Quantity
    kind: BoundKind
    value_gy: float
    condition: Condition
    source: str

    @property
    def check(self) -> str:
        """Name of the plan check this row feeds."""
        return _CHECK_NAME[(self.quantity, self.kind)]


_CHECK_NAME: dict[tuple[str, str], str] = {
    ("perfused_volume_dose", "target"): "perfused_dose_target",
    ("perfused_volume_dose", "range_low"): "perfused_dose_range_low",
    ("perfused_volume_dose", "range_high"): "perfused_dose_range_high",
    ("perfused_normal_liver_dose", "limit"): "perfused_normal_liver_dose",
    ("perfused_normal_liver_dose", "target"): "normal_liver_dose_target",
    ("whole_normal_liver_dose", "limit"): "whole_normal_liver_dose",
    ("whole_liver_dose", "limit"): "whole_liver_dose",
    ("tumour_dose", "target"): "tumour_dose_target",
}

_PAL = ("palliative",)
_LOB = ("radiation_lobectomy", "neoadjuvant")
_SEG = ("radiation_segmentectomy",)
_ALL = ("palliative", "radiation_lobectomy", "radiation_segmentectomy", "neoadjuvant")
_NONSEG = ("palliative", "radiation_lobectomy", "neoadjuvant")
_T2 = "EANM 2022 Tab 2 (glass)"
_T3 = "EANM 2022 Tab 3 (resin, from Levillain 2021)"
_HO = "Ho-166: van Roekel thesis (60 Gy whole liver); Porto Ho-166 study (liver ≤ 60 Gy)"
_HEPAR = "Ho-166: HEPAR I, Smits Lancet Oncol 2012 (MTD 60 Gy whole-liver average); HEPAR II, Prince JNM 2018"

GUIDELINE_THRESHOLDS: tuple[GuidelineThreshold, ...] = (
    # --- glass (TheraSphere), EANM 2022 Table 2, mCRC rows as NELM proxy [K] ---
    # perfused volume 80–150 Gy (unilobar/bilobar); 120 Gy = DOSISPHERE-01 standard arm (120 ± 20) as the aim.
    GuidelineThreshold("glass", _PAL, "perfused_volume_dose", "target", 120.0, "any", _T2 + "; 120: DOSISPHERE-01"),
    GuidelineThreshold("glass", _PAL, "perfused_volume_dose", "range_low", 80.0, "any", _T2 + " (80–150)"),
    GuidelineThreshold("glass", _PAL, "perfused_volume_dose", "range_high", 150.0, "any", _T2 + " (80–150)"),
    # lobectomy 140–150 Gy (150 used as the aim); neoadjuvant → lobectomy rows [K].
    GuidelineThreshold("glass", _LOB, "perfused_volume_dose", "target", 150.0, "any", _T2 + " (140–150)"),
    GuidelineThreshold("glass", _LOB, "perfused_volume_dose", "range_low", 140.0, "any", _T2 + " (140–150)"),
    GuidelineThreshold("glass", _SEG, "perfused_volume_dose", "target", 400.0, "any", _T2 + " (> 400)"),
    # normal perfused liver ≥ 88 Gy in lobectomy (first treatment): the minimum for hypertrophy/ablation.
    GuidelineThreshold("glass", _LOB, "perfused_normal_liver_dose", "target", 88.0, "any",
                       _T2 + " footnote ** (≥ 88, normal perfused liver, 1st treatment)"),
    # normal perfused liver < 120 Gy if hepatic reserve < 30 % (unilobar, DOSISPHERE-01 population).
    GuidelineThreshold("glass", _PAL, "perfused_normal_liver_dose", "limit", 120.0, "hepatic_reserve_below_30",
                       _T2 + " footnote ** (< 120 if hepatic reserve < 30 %)"),
    # whole normal liver (perfused + non-perfused) < 75 Gy; < 50 Gy with bilirubin > 1.1 mg/dL (and, our
    # mapping [K], any other compromise). 90 Gy (bilirubin < 1.1, HCC) is not selected for NELM [K].
    GuidelineThreshold("glass", _NONSEG, "whole_normal_liver_dose", "limit", 75.0, "not_compromised",
                       _T2 + " footnote *** (< 75, whole normal liver)"),
    GuidelineThreshold("glass", _NONSEG, "whole_normal_liver_dose", "limit", 50.0, "compromised",
                       _T2 + " footnote *** (< 50 if bilirubin > 1.1 mg/dL; other compromise [K])"),
    GuidelineThreshold("glass", _NONSEG, "tumour_dose", "target", 189.0, "any", _T2 + " (mCRC ≥ 189, NELM proxy [K])"),
    # --- resin (SIR-Spheres), EANM 2022 Table 3 = Levillain 2021 modified ---
    GuidelineThreshold("resin", _PAL, "perfused_normal_liver_dose", "limit", 40.0, "not_compromised",
                       _T3 + " (< 40, normal perfused liver)"),
    GuidelineThreshold("resin", _PAL, "perfused_normal_liver_dose", "limit", 30.0, "compromised",
                       _T3 + " footnote ** (< 30 pretreated/compromised; all extents [K])"),
    GuidelineThreshold("resin", _LOB, "perfused_normal_liver_dose", "target", 70.0, "any",
                       _T3 + " footnote * (> 70 with hepatic reserve > 30 %)"),
    GuidelineThreshold("resin", _SEG, "perfused_volume_dose", "target", 150.0, "any", _T3 + " (> 150)"),
    GuidelineThreshold("resin", _NONSEG, "tumour_dose", "target", 100.0, "any", _T3 + " (mCRC > 100, NELM proxy [K])"),
    # --- holmium (QuiremSpheres) ---
    GuidelineThreshold("holmium", _ALL, "perfused_volume_dose", "target", 60.0, "any", _HO),
    # maximum tolerated dose 60 Gy, stated as the *average whole-liver* absorbed dose (tumours included).
    GuidelineThreshold("holmium", _ALL, "whole_liver_dose", "limit", 60.0, "any", _HEPAR),
    GuidelineThreshold("holmium", _ALL, "perfused_normal_liver_dose", "limit", 60.0, "any", _HO + " [K] mapping"),
)

# Rows listed for reference, never selected (documented in docs/planning.md).
GLASS_WHOLE_NORMAL_LIVER_HCC_LOW_BILIRUBIN_GY = 90.0  # EANM 2022 Tab 2 footnote *** (HCC, bilirubin < 1.1)


def select_thresholds(device: str, intent: str, liver: LiverState) -> dict[str, GuidelineThreshold]:
    """The guideline rows that apply to ``device``, ``intent`` and ``liver``, keyed by check name.

    A row with a specific condition (compromised, hepatic reserve) that matches replaces the ``any`` row of
    the same check; among several matching limits the lowest wins, among targets the highest.
    """
    _check_keys(device, intent)
    chosen: dict[str, GuidelineThreshold] = {}
    for row in GUIDELINE_THRESHOLDS:
        if row.device != device or intent not in row.intents or not liver.matches(row.condition):
            continue
        old = chosen.get(row.check)
        if old is None or (old.condition == "any" and row.condition != "any"):
            chosen[row.check] = row
        elif (old.condition == "any") == (row.condition == "any"):
            upper = row.kind in ("limit", "range_high")
            if (row.value_gy < old.value_gy) if upper else (row.value_gy > old.value_gy):
                chosen[row.check] = row
    return chosen


def _check_keys(device: str, intent: str) -> None:
    if intent not in get_args(IntentName):
        raise InputError(f"unknown intent {intent!r}: use one of {', '.join(get_args(IntentName))}")
    devices = sorted({r.device for r in GUIDELINE_THRESHOLDS})
    if device not in devices:
        raise InputError(f"unknown device {device!r}: use one of {', '.join(devices)}")


@dataclass(frozen=True)
class IntentDoses:
    """Default targets/limits (Gy) of one device and intent for an uncompromised liver (summary view)."""

    perfused_target_gy: float | None
    normal_liver_limit_gy: float | None
    tumour_target_gy: float | None
    source: str


def intent_doses(device: str, intent: str, liver: LiverState | None = None) -> IntentDoses:
    """Perfused target, perfused-normal-liver limit and tumour target for ``device``/``intent``.

    >>> intent_doses("glass", "radiation_segmentectomy").perfused_target_gy
    400.0
    >>> intent_doses("resin", "palliative").normal_liver_limit_gy
    40.0
    """
    rows = select_thresholds(device, intent, liver or LiverState())

    def value(check: str) -> float | None:
        row = rows.get(check)
        return None if row is None else row.value_gy

    sources = sorted({r.source.split(" (")[0] for r in rows.values()})
    return IntentDoses(value("perfused_dose_target"), value("perfused_normal_liver_dose"),
                       value("tumour_dose_target"), "; ".join(sources))


INTENT_DOSES: dict[tuple[str, str], IntentDoses] = {
    (d, i): intent_doses(d, i) for d in ("glass", "resin", "holmium") for i in get_args(IntentName)
}
