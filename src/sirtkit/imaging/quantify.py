"""Activity quantification of emission images (Y-90 PET, bremsstrahlung or MAA SPECT).

Two ways to an activity map in Bq/mL at the administration time (DICOM.md §2):

* **absolute** — :func:`activity_at_administration`: an image in Bq/mL, decay-corrected to
  ``metadata["reference_datetime"]``, decayed back to the administration time:
  ``A(t_admin) = A(t_ref) · exp(λ · (t_ref − t_admin))``.
* **patient-relative** — :func:`scale_to_delivered_activity`: counts (or Bq/mL) scaled so that the
  activity in liver (+ lungs) equals the delivered activity. Without lungs in the image and with a
  lung shunt fraction ``LSF``, the liver gets ``A · (1 − LSF)`` (the "patient-relative calibration"
  of the EANM 2022 guideline, Weber et al., EJNMMI 2022;49:1682).

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

import numpy as np

from sirtkit.errors import InputError, UnitsError
from sirtkit.imaging.volume import Volume, require_same_grid
from sirtkit.physics.decay import decay_factor, elapsed_hours, require_aware
from sirtkit.physics.nuclides import Y90, Nuclide
from sirtkit.units import BQ_PER_GBQ, BQ_PER_MBQ

__all__ = [
    "ActivityReport",
    "activity_at_administration",
    "activity_report",
    "scale_to_delivered_activity",
]

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

    Rules:

    * lung mask present and holding counts → liver ∪ lungs is scaled to the delivered activity (the
      image shows the shunt); a given ``lung_shunt_fraction`` is then only compared in ``notes``;
    * no lung mask (or no counts in it) and ``lung_shunt_fraction`` given → liver gets ``A · (1 − LSF)``;
    * neither → liver gets ``A`` (LSF assumed 0, noted).

    Parameters
    ----------
    emission
        Counts or Bq/mL image.
    masks
        Boolean masks on the emission grid; ``liver_key`` is required.
    delivered_activity_gbq
        Activity delivered to the patient (vial − residual, decayed to administration), GBq.
    lung_shunt_fraction
        0–1, used only when the lungs are not in the image.
    liver_key, lung_key
        Mask names.
    administration_time
        Timezone-aware administration time, stored as the result's ``metadata["reference_datetime"]``.

    Returns
    -------
    tuple[Volume, ActivityReport]
        Activity concentration (Bq/mL at administration) and the report (mode ``"relative"``).

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
    per_voxel = 1.0 if _is_counts(emission) else emission.voxel_volume_ml
    liver_signal = _activity_bq(values, liver, per_voxel)
    if liver_signal <= 0:
        raise InputError(f"the {liver_key!r} mask holds no counts in the emission image: check the registration")
    delivered_bq = delivered_activity_gbq * BQ_PER_GBQ
    notes: list[str] = list(clipped_note)
    lung_signal = _activity_bq(values, lung & ~liver, per_voxel) if lung is not None else 0.0
    if lung is not None and lung_signal > 0:
        target_mask = liver | lung
        signal = _activity_bq(values, target_mask, per_voxel)
        measured_lsf = lung_signal / signal
        notes.append(f"lungs in the image: liver + lungs scaled to {delivered_activity_gbq:g} GBq "
                     f"(image lung shunt {measured_lsf:.4f})")
        if lung_shunt_fraction is not None:
            notes.append(f"given lung_shunt_fraction {lung_shunt_fraction:.4f} not used (image-based shunt used)")
        target_bq = delivered_bq
    else:
        signal = liver_signal
        lsf = 0.0 if lung_shunt_fraction is None else lung_shunt_fraction
        if lung_shunt_fraction is None:
            notes.append("no lungs in the image and no lung_shunt_fraction: all delivered activity put in the liver")
        else:
            notes.append(f"no lungs in the image: liver scaled to delivered activity × (1 − {lsf:.4f})")
        target_bq = delivered_bq * (1.0 - lsf)
    # input value × scale = Bq/mL
    scale = target_bq / signal / (emission.voxel_volume_ml if _is_counts(emission) else 1.0)
    meta = dict(emission.metadata)
    meta["relative_calibration_scale"] = scale
    if administration_time is not None:
        meta["reference_datetime"] = require_aware(administration_time, "administration_time")
    activity = emission.with_array(values * scale, quantity="activity_concentration", unit=_ACTIVITY_UNIT, metadata=meta)
    base = activity_report(activity, masks, liver_key=liver_key, lung_key=lung_key)
    report = ActivityReport(
        total_in_fov_mbq=base.total_in_fov_mbq,
        in_liver_mbq=base.in_liver_mbq,
        in_lungs_mbq=base.in_lungs_mbq,
        outside_body_mbq=base.outside_body_mbq,
        outside_liver_and_lungs_fraction=base.outside_liver_and_lungs_fraction,
        scale_factor=scale,
        mode="relative",
        reference_time=administration_time,
        notes=tuple(notes) + base.notes,
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
