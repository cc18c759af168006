"""Activity quantification of emission images (Y-90 PET, bremsstrahlung or MAA SPECT).

Two ways to an activity map in Bq/mL at the administration time (DICOM.md §2):

* **absolute** — :func:`activity_at_administration`: an image in Bq/mL, decay-corrected to
  ``metadata["reference_datetime"]``, decayed back to the administration time:
  ``A(t_admin) = A(t_ref) · exp(λ · (t_ref − t_admin))``.
* **patient-relative** — :func:`scale_to_delivered_activity`: counts (or Bq/mL) scaled so that the
  activity in liver (+ lungs) equals the delivered activity; a lung shunt fraction ``LSF`` given by
  the user takes precedence over the image's lung counts: the liver gets ``A · (1 − LSF)`` (the
  "patient-relative calibration" of the EANM 2022 guideline, Weber et al., EJNMMI 2022;49:1682).

:func:`activity_report` gives the numbers a physicist checks (MBq in FOV, liver, lungs, outside).

Examples
--------
>>> import numpy as np
>>> counts = Volume.from_spacing(np.ones((2, 2, 2)), spacing_mm=(10, 10, 10), quantity="counts", unit="counts")
>>> liver = counts.with_array(np.ones((2, 2, 2), bool), quantity="mask", unit="1")
>>> act, rep = scale_to_delivered_activity(counts, {"liver": liver}, delivered_activity_gbq=1.0)
>>> round(act.total() / 1e9, 9), rep.in_liver_mbq
(1.0, 1000.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import numpy as np

from sirtkit.errors import InputError, UnitsError
from sirtkit.imaging.volume import Volume, require_same_grid
from sirtkit.physics.decay import decay_factor, elapsed_hours, require_aware
from sirtkit.physics.nuclides import Y90, Nuclide
from sirtkit.units import BQ_PER_GBQ, BQ_PER_MBQ

__all__ = [
    "PVE_FWHM_MULTIPLE",
    "PLAUSIBLE_FWHM_MM",
    "SYSTEM_FWHM_MM",
    "fwhm_problem",
    "ActivityReport",
    "EmissionModality",
    "RecoveryCurve",
    "read_recovery_curve",
    "activity_at_administration",
    "activity_report",
    "scale_to_delivered_activity",
]

EmissionModality = Literal["y90_pet", "bremsstrahlung_spect", "tc99m_spect", "ho166_spect"]

# Reconstructed spatial resolution (FWHM, mm) of the emission images SIRT dosimetry uses — defaults for the
# partial-volume warning, configurable per case (--fwhm-mm) because they depend on scanner, collimator and
# reconstruction. All [K] (typical clinical values, not one cited measurement):
# * Y-90 TOF PET, clinical OSEM with a 4–6 mm post-filter: ≈ 8 mm (in the QUEST phantom study, Willowson et
#   al., EJNMMI 2015;42:1202, 10–37 mm spheres recover 20–86 %, CLINICAL.md §11.4);
# * bremsstrahlung SPECT (HEGP/MEGP collimator): ≈ 15 mm, markedly worse than Y-90 PET (Elschot et al.,
#   PLoS One 2013;8:e55742, PET vs bremsstrahlung SPECT after radioembolization);
# * Tc-99m MAA SPECT (LEHR, OSEM with resolution recovery): ≈ 10 mm;
# * Ho-166 SPECT (MEGP, 81 keV photopeak degraded by the 1.38 MeV photons and bremsstrahlung): ≈ 15 mm.
# Plausible system resolution given by hand (--fwhm-mm), mm FWHM. No clinical emission image is sharper than
# about 2 mm: positron range, photon non-collinearity and detector size put the limit of whole-body PET at
# ~2 mm (Moses WW, Nucl Instrum Methods A 2011;648:S236–S240), clinical PET reconstructions are 4–8 mm and
# SPECT ≥ 7 mm; 50 mm is beyond any bremsstrahlung SPECT. A value below 2 is the FWHM in cm, or a voxel
# size, typed as mm — it would silence every partial-volume warning.
PLAUSIBLE_FWHM_MM = (2.0, 50.0)
SYSTEM_FWHM_MM: dict[str, float] = {
    "y90_pet": 8.0,
    "bremsstrahlung_spect": 15.0,
    "tc99m_spect": 10.0,
    "ho166_spect": 15.0,
}


def fwhm_problem(value: float, name: str) -> str | None:
    """Why ``value`` cannot be a clinical system resolution in mm FWHM (``None``: plausible).

    >>> fwhm_problem(0.8, "--fwhm-mm")[:62]
    '--fwhm-mm = 0.8 mm is finer than any clinical PET or SPECT (≥ '
    """
    low, high = PLAUSIBLE_FWHM_MM
    if math.isfinite(value) and low <= value <= high:
        return None
    if math.isfinite(value) and 0 < value < low:
        return (f"{name} = {value:g} mm is finer than any clinical PET or SPECT (≥ {low:g} mm FWHM; clinical PET "
                f"4–8 mm, SPECT ≥ 7 mm): the value is the system FWHM in mm — was it given in cm ({value:g} cm = "
                f"{10 * value:g} mm)?")
    return f"{name} = {value:g} mm: give the system resolution as FWHM in mm, {low:g}–{high:g}"
# Objects smaller than about 2–3 × FWHM lose activity to partial-volume effects (Soret M, Bacharach SL,
# Buvat I. J Nucl Med 2007;48:932–945; CLINICAL.md §11.4): a VOI whose equivalent-sphere diameter is
# below 3 × FWHM gets a warning.
PVE_FWHM_MULTIPLE = 3.0
# Recovery coefficients of a user-supplied curve must be fractions in (0, 1.2] (> 1 allows Gibbs overshoot
# of edge-preserving reconstructions; NEMA NU 2 spheres 10–37 mm recover 0.2–0.9, CLINICAL.md §11.4).
_MAX_RECOVERY_COEFFICIENT = 1.2

_ACTIVITY_UNIT = "Bq/mL"
_COUNT_UNITS = ("counts",)


@dataclass(frozen=True)
class ActivityReport:
    """Activity book-keeping of one emission image (all activities in MBq).

    Attributes
    ----------
    total_in_fov_mbq
        Activity in the whole image.
    in_liver_mbq
        Activity inside the liver mask.
    in_lungs_mbq
        Activity inside the lung mask, ``None`` without a lung mask.
    outside_body_mbq
        Activity outside the body (mask ``"body"``, or below ``body_threshold``), ``None`` if unknown.
    outside_liver_and_lungs_fraction
        Fraction (0–1) of the FOV activity outside liver ∪ lungs (extrahepatic deposition, scatter, noise).
    scale_factor
        Factor applied to the input values to get Bq/mL (1 for absolute images; Bq/mL per count for
        relative calibration of counts).
    mode
        ``"absolute"``, ``"relative"`` or ``"report"``.
    reference_time
        Time the activities refer to (administration time after conversion).
    notes
        Caveats for the physicist (assumptions made).
    lung_shunt_fraction_used
        LSF applied by the relative calibration (``None`` for other modes).
    lung_shunt_fraction_source
        ``"given"`` (the user's LSF, which takes precedence), ``"image"`` or ``"assumed 0"``.
    lung_shunt_fraction_image
        LSF measured on the image (lung counts / (lung + liver counts)), ``None`` without lung counts.
    lung_shunt_fraction_given
        LSF given by the user, ``None`` if none.
    """

    total_in_fov_mbq: float
    in_liver_mbq: float
    in_lungs_mbq: float | None
    outside_body_mbq: float | None
    outside_liver_and_lungs_fraction: float
    scale_factor: float
    mode: str
    reference_time: datetime | None
    notes: tuple[str, ...] = ()
    lung_shunt_fraction_used: float | None = None
    lung_shunt_fraction_source: str | None = None
    lung_shunt_fraction_image: float | None = None
    lung_shunt_fraction_given: float | None = None


def _is_counts(volume: Volume) -> bool:
    return volume.quantity == "counts" or volume.unit in _COUNT_UNITS


def _require_activity(volume: Volume, what: str) -> None:
    if volume.unit != _ACTIVITY_UNIT:
        raise UnitsError(
            f"{what} needs an activity-concentration image in Bq/mL, got quantity {volume.quantity!r} in "
            f"{volume.unit!r}; scale counts with scale_to_delivered_activity first"
        )


def activity_at_administration(emission: Volume, *, administration_time: datetime, nuclide: Nuclide = Y90) -> Volume:
    """Decay a Bq/mL image from its reference time back to the administration time.

    Parameters
    ----------
    emission
        Activity-concentration image (Bq/mL) with an aware ``metadata["reference_datetime"]``
        (set by :func:`sirtkit.imaging.read_dicom_series` from DecayCorrection).
    administration_time
        Timezone-aware time of administration.
    nuclide
        Nuclide for the decay (Y-90 by default).

    Returns
    -------
    Volume
        ``"activity_concentration"`` in Bq/mL at ``administration_time``; metadata
        ``reference_datetime`` updated and ``decay_factor_to_administration`` added.

    Raises
    ------
    UnitsError
        For counts or other non-Bq/mL images.
    InputError
        For naive datetimes or a missing reference time.
    """
    _require_activity(emission, "activity_at_administration")
    require_aware(administration_time, "administration_time")
    reference = emission.metadata.get("reference_datetime")
    if not isinstance(reference, datetime):
        raise InputError(
            "the emission image has no metadata['reference_datetime'] (the time its values are decay-corrected "
            "to): read it from DICOM, or set it explicitly before decaying to the administration time"
        )
    require_aware(reference, "metadata['reference_datetime']")
    factor = decay_factor(elapsed_hours(reference, administration_time), nuclide)
    meta = dict(emission.metadata)
    meta.update(reference_datetime=administration_time, decay_factor_to_administration=factor)
    array = np.asarray(emission.array, dtype=np.float64) * factor
    return emission.with_array(array, quantity="activity_concentration", unit=_ACTIVITY_UNIT, metadata=meta)


def _mask(masks: Mapping[str, Volume], key: str, emission: Volume) -> np.ndarray | None:
    if key not in masks:
        return None
    mask = masks[key]
    require_same_grid(emission, mask, f"mask {key!r}")
    return np.asarray(mask.array, dtype=bool)


def _activity_bq(values: np.ndarray, mask: np.ndarray | None, per_voxel_ml: float) -> float:
    selected = values if mask is None else values[mask]
    return float(np.sum(selected, dtype=np.float64)) * per_voxel_ml


def scale_to_delivered_activity(
    emission: Volume,
    masks: Mapping[str, Volume],
    *,
    delivered_activity_gbq: float,
    lung_shunt_fraction: float | None = None,
    liver_key: str = "liver",
    lung_key: str = "lung",
    administration_time: datetime | None = None,
) -> tuple[Volume, ActivityReport]:
    """Patient-relative calibration: scale the image so liver (+ lungs) hold the delivered activity.

    **One precedence rule for the lung shunt fraction (LSF): an LSF given by the user wins.**

    * ``lung_shunt_fraction`` given → the liver gets ``A·(1 − LSF)`` and the lungs ``A·LSF``. With a lung
      mask, the lung activity is distributed over the lungs like the image's lung counts (uniformly if the
      lungs hold no counts); the image-derived LSF is still computed and reported beside the given one.
      Reason: on post-therapy Y-90 PET and bremsstrahlung SPECT the lung counts are mostly noise and
      scatter, while the given LSF comes from a dedicated measurement (MAA or Ho-166 scout).
    * no LSF given, lung mask with counts → the image-derived LSF ``C_lung/(C_lung + C_liver)`` is used:
      liver ∪ lungs are scaled together to ``A``.
    * neither → the liver gets ``A`` (LSF assumed 0, reported).

    Voxels outside liver and lungs keep the liver's calibration (counts per Bq of the liver).

    Parameters
    ----------
    emission
        Counts or Bq/mL image.
    masks
        Boolean masks on the emission grid; ``liver_key`` is required.
    delivered_activity_gbq
        Activity delivered to the patient (vial − residual, decayed to administration), GBq.
    lung_shunt_fraction
        0–1; takes precedence over the image-derived value.
    liver_key, lung_key
        Mask names.
    administration_time
        Timezone-aware administration time, stored as the result's ``metadata["reference_datetime"]``.

    Returns
    -------
    tuple[Volume, ActivityReport]
        Activity concentration (Bq/mL at administration) and the report (mode ``"relative"``, with the
        LSF used, its source, and the image-derived and given LSFs side by side).

    Raises
    ------
    InputError
        Missing liver mask, or no counts in the liver.
    UnitsError
        Non-positive activity or LSF outside 0–1.
    """
    if not (delivered_activity_gbq > 0 and math.isfinite(delivered_activity_gbq)):
        raise UnitsError(f"delivered_activity_gbq = {delivered_activity_gbq} must be a positive number of GBq")
    if lung_shunt_fraction is not None and not 0.0 <= lung_shunt_fraction < 1.0:
        raise UnitsError(
            f"lung_shunt_fraction = {lung_shunt_fraction} must be a fraction in [0, 1) (0.12, not 12 %)"
        )
    liver = _mask(masks, liver_key, emission)
    if liver is None:
        raise InputError(f"no {liver_key!r} mask among {sorted(masks)}: relative calibration needs the liver")
    lung = _mask(masks, lung_key, emission)
    values = np.asarray(emission.array, dtype=np.float64)
    clipped_note: tuple[str, ...] = ()
    if np.any(values < 0):
        clipped_note = ("the image has negative values (reconstruction noise); they were kept, not clipped",)
    counts = _is_counts(emission)
    per_voxel = 1.0 if counts else emission.voxel_volume_ml
    liver_signal = _activity_bq(values, liver, per_voxel)
    if liver_signal <= 0:
        raise InputError(f"the {liver_key!r} mask holds no counts in the emission image: check the registration")
    delivered_bq = delivered_activity_gbq * BQ_PER_GBQ
    notes: list[str] = list(clipped_note)
    lung_only = None if lung is None else (lung & ~liver)
    lung_signal = _activity_bq(values, lung_only, per_voxel) if lung_only is not None else 0.0
    image_lsf = lung_signal / (liver_signal + lung_signal) if lung_only is not None and lung_signal > 0 else None
    if lung_shunt_fraction is not None:
        lsf, source = lung_shunt_fraction, "given"
        image_txt = "" if image_lsf is None else f"; image-derived LSF {image_lsf:.4f} not used"
        notes.append(f"lung shunt fraction {lsf:.4f} as given (a given LSF takes precedence){image_txt}")
    elif image_lsf is not None:
        lsf, source = image_lsf, "image"
        notes.append(f"lungs in the image: liver + lungs scaled to {delivered_activity_gbq:g} GBq "
                     f"(image-derived lung shunt fraction {image_lsf:.4f}, no LSF given)")
    else:
        lsf, source = 0.0, "assumed 0"
        notes.append("no lung counts in the image and no lung shunt fraction given: all delivered activity put "
                     "in the liver (LSF assumed 0)")
    # signals are in Bq-equivalents (counts, or Bq/mL × mL): value × target/signal is Bq per voxel for counts
    # (÷ voxel volume → Bq/mL) and already Bq/mL for Bq/mL images.
    to_bq_per_ml = 1.0 / emission.voxel_volume_ml if counts else 1.0
    liver_scale = delivered_bq * (1.0 - lsf) / liver_signal * to_bq_per_ml
    out = values * liver_scale
    if lung_only is not None and np.any(lung_only):
        lung_bq = delivered_bq * lsf
        if lung_signal > 0:
            out[lung_only] = values[lung_only] * (lung_bq / lung_signal * to_bq_per_ml)
        else:
            out[lung_only] = lung_bq / (np.count_nonzero(lung_only) * emission.voxel_volume_ml)
            if lsf > 0:
                notes.append(f"the lungs hold no counts: the lung activity ({lsf:.4f} × delivered) is spread "
                             "uniformly over the lung segment")
    elif lsf > 0:
        notes.append(f"no lungs in the image: liver scaled to delivered activity × (1 − {lsf:.4f})")
    meta = dict(emission.metadata)
    meta["relative_calibration_scale"] = liver_scale
    if administration_time is not None:
        meta["reference_datetime"] = require_aware(administration_time, "administration_time")
    activity = emission.with_array(out, quantity="activity_concentration", unit=_ACTIVITY_UNIT, metadata=meta)
    base = activity_report(activity, masks, liver_key=liver_key, lung_key=lung_key)
    report = ActivityReport(
        total_in_fov_mbq=base.total_in_fov_mbq,
        in_liver_mbq=base.in_liver_mbq,
        in_lungs_mbq=base.in_lungs_mbq,
        outside_body_mbq=base.outside_body_mbq,
        outside_liver_and_lungs_fraction=base.outside_liver_and_lungs_fraction,
        scale_factor=liver_scale,
        mode="relative",
        reference_time=administration_time,
        notes=tuple(notes) + base.notes,
        lung_shunt_fraction_used=lsf,
        lung_shunt_fraction_source=source,
        lung_shunt_fraction_image=image_lsf,
        lung_shunt_fraction_given=lung_shunt_fraction,
    )
    return activity, report


def activity_report(
    activity: Volume,
    masks: Mapping[str, Volume],
    body_threshold: float | None = None,
    *,
    liver_key: str = "liver",
    lung_key: str = "lung",
    body_key: str = "body",
) -> ActivityReport:
    """Activities (MBq) in FOV, liver, lungs and outside the body of a Bq/mL image.

    Parameters
    ----------
    activity
        Activity concentration image, Bq/mL.
    masks
        Masks on the same grid; ``liver_key`` required, ``lung_key`` and ``body_key`` optional.
    body_threshold
        Bq/mL; when there is no body mask, voxels below it count as "outside the body".

    Raises
    ------
    UnitsError
        If ``activity`` is not in Bq/mL.
    InputError
        If the liver mask is missing.
    """
    _require_activity(activity, "activity_report")
    liver = _mask(masks, liver_key, activity)
    if liver is None:
        raise InputError(f"no {liver_key!r} mask among {sorted(masks)}")
    lung = _mask(masks, lung_key, activity)
    body = _mask(masks, body_key, activity)
    values = np.asarray(activity.array, dtype=np.float64)
    ml = activity.voxel_volume_ml
    total = _activity_bq(values, None, ml)
    in_liver = _activity_bq(values, liver, ml)
    in_lungs = _activity_bq(values, lung, ml) if lung is not None else None
    union = liver if lung is None else (liver | lung)
    in_union = _activity_bq(values, union, ml)
    notes: list[str] = []
    if body is not None:
        outside_body: float | None = _activity_bq(values, ~body, ml) / BQ_PER_MBQ
    elif body_threshold is not None:
        outside_body = _activity_bq(values, values < body_threshold, ml) / BQ_PER_MBQ
        notes.append(f"outside body = voxels below {body_threshold:g} Bq/mL (no body mask)")
    else:
        outside_body = None
    outside_fraction = (total - in_union) / total if total > 0 else 0.0
    return ActivityReport(
        total_in_fov_mbq=total / BQ_PER_MBQ,
        in_liver_mbq=in_liver / BQ_PER_MBQ,
        in_lungs_mbq=None if in_lungs is None else in_lungs / BQ_PER_MBQ,
        outside_body_mbq=outside_body,
        outside_liver_and_lungs_fraction=float(outside_fraction),
        scale_factor=1.0,
        mode="report",
        reference_time=activity.metadata.get("reference_datetime"),
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class RecoveryCurve:
    """A recovery-coefficient curve: RC (measured / true activity concentration) against object volume.

    Attributes
    ----------
    volumes_ml
        Object volumes, increasing (mL).
    coefficients
        Recovery coefficient at each volume.
    source
        Where the curve comes from (file name), shown beside every corrected number.
    """

    volumes_ml: tuple[float, ...]
    coefficients: tuple[float, ...]
    source: str

    def at(self, volume_ml: float) -> float | None:
        """RC at ``volume_ml`` (linear in log volume), or ``None`` outside the measured range (no extrapolation).

        >>> RecoveryCurve((0.5, 26.5), (0.3, 0.9), "demo").at(26.5)
        0.9
        """
        if not self.volumes_ml[0] <= volume_ml <= self.volumes_ml[-1]:
            return None
        return float(np.interp(math.log(volume_ml), np.log(self.volumes_ml), self.coefficients))


def read_recovery_curve(path: Path) -> RecoveryCurve:
    """Read a recovery-coefficient curve from CSV (e.g. measured on a NEMA/IEC body phantom).

    The header names the size column — ``volume_ml`` or ``diameter_mm`` (spheres) — and
    ``recovery_coefficient``; one row per sphere, at least two rows. Lines starting with ``#`` are comments.

    Raises
    ------
    InputError
        Missing file, wrong header, fewer than two rows, non-numeric, non-positive sizes, repeated sizes, or
        coefficients outside (0, 1.2].
    """
    import csv

    p = Path(path)
    if not p.is_file():
        raise InputError(f"recovery curve {p}: no such file (give a CSV with volume_ml or diameter_mm, "
                         "recovery_coefficient)")
    kept = [(number, line) for number, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    rows = list(csv.DictReader(line for _, line in kept))
    line_of_row = [number for number, _ in kept[1:]]  # the file's own line numbers (comments skipped)
    header = set(rows[0]) if rows else set()
    size_key = "volume_ml" if "volume_ml" in header else "diameter_mm" if "diameter_mm" in header else None
    if size_key is None or "recovery_coefficient" not in header or len(rows) < 2:
        raise InputError(f"recovery curve {p}: need a header 'volume_ml,recovery_coefficient' (or 'diameter_mm,"
                         "recovery_coefficient') and at least two rows")
    pairs = []
    for n, row in zip(line_of_row, rows, strict=False):
        try:
            size, rc = float(row[size_key]), float(row["recovery_coefficient"])
        except (TypeError, ValueError):
            raise InputError(f"recovery curve {p}, line {n}: {row} is not two numbers") from None
        if not (math.isfinite(size) and size > 0):
            raise InputError(f"recovery curve {p}, line {n}: {size_key} must be a positive number")
        if not (math.isfinite(rc) and 0.0 < rc <= _MAX_RECOVERY_COEFFICIENT):
            raise InputError(f"recovery curve {p}, line {n}: recovery_coefficient {rc:g} must be in (0, "
                             f"{_MAX_RECOVERY_COEFFICIENT:g}] (a fraction, not a percentage)")
        volume = size if size_key == "volume_ml" else math.pi / 6.0 * (size / 10.0) ** 3
        pairs.append((volume, rc))
    pairs.sort()
    volumes = tuple(v for v, _ in pairs)
    if len(set(volumes)) != len(volumes):
        raise InputError(f"recovery curve {p}: the same size appears twice")
    return RecoveryCurve(volumes, tuple(c for _, c in pairs), p.name)
