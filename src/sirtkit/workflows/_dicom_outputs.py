"""The DICOM part of a dose result folder: RTDOSE, SEG, dose Parametric Map and TID 1500 SR.

Written when the emission image is a DICOM series (Patient / Study / Frame of Reference come from it), or,
with ``dose_grid="ct"``, when the CT is one:

* ``rtdose.dcm`` — on the emission grid (``dose_grid="emission"``, default) or resampled (linear) onto the
  CT grid (``"ct"``), always axial (:func:`sirtkit.dosimetry.write_rtdose`);
* ``vois_seg.dcm`` — the given VOIs as a BINARY SEG on the emission series (single-frame PET/SPECT and NM
  multi-frame alike);
* ``dose_pm.dcm`` — the dose as a float Parametric Map in Gy on the emission series;
* ``dose_sr.dcm`` — per-VOI volume, mean dose, D70 and V100 as a TID 1500 SR referencing the SEG's segments.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

import pydicom

from sirtkit import dosimetry
from sirtkit.errors import DicomInputError, InputError
from sirtkit.imaging import read_volume, resample_to
from sirtkit.imaging.dicom_out import dicom_export_grid, write_dicom_seg
from sirtkit.imaging.segmentation import voi_codes

__all__ = ["DoseGrid", "write_dicom_dose_outputs"]

log = logging.getLogger(__name__)

DoseGrid = Literal["emission", "ct"]


def _read_meta(path: str) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, OSError, EOFError, ValueError) as err:
        raise DicomInputError(f"{path}: cannot read the DICOM header again for the DICOM outputs ({err})") from err


def write_dicom_dose_outputs(result: Any, stage: Path, prefix: str, *, dose_grid: DoseGrid = "emission",
                             ct: Path | None = None) -> tuple[dict[str, str], list[str]]:
    """Write the DICOM objects of a :class:`~sirtkit.workflows.posttreatment.DoseResult` into ``stage``.

    Returns ``({key: file name}, notes)``; the notes say which grid RTDOSE is on and whether it was resampled.

    Raises
    ------
    InputError
        ``dose_grid="ct"`` without a CT; a source series highdicom cannot derive objects from (named).
    GeometryError
        CT and dose on different frames of reference.
    """
    from sirtkit import __version__

    names: dict[str, str] = {}
    notes: list[str] = []
    emission_reference = result.provenance.get("dicom_reference_file")
    sources = [_read_meta(f) for f in result.dicom_sources] if emission_reference else []
    comment = f"sirtkit {__version__} {result.case.engine.upper()} {result.provenance['nuclide']} SIRT; no RT Plan"
    # ---- RTDOSE
    dose = result.dose
    rtdose_reference = sources[0] if sources else None
    if dose_grid == "ct":
        if ct is None:
            raise InputError("--dose-grid ct needs the CT (--ct): give it, or use --dose-grid emission")
        ct_volume = read_volume(ct)
        ct_files = ct_volume.metadata.get("source_files") or []
        if ct_volume.metadata.get("series_instance_uid") and ct_files:
            rtdose_reference = _read_meta(str(ct_files[0]))
        if rtdose_reference is None:  # nothing to reference: an RTDOSE "on the CT grid" would not be written
            raise InputError(f"{ct}: --dose-grid ct needs the CT as a DICOM series (RTDOSE references its patient, "
                             "study and frame of reference): give the CT's DICOM folder with --ct, or use "
                             "--dose-grid emission")
        dose = resample_to(result.dose, ct_volume, interpolation="linear", fill_value=0.0)
        notes.append(f"RTDOSE is on the CT grid ({ct_volume.shape} voxels of "
                     f"{' × '.join(f'{s:.2f}' for s in ct_volume.spacing_mm)} mm, linear interpolation of the "
                     "dose map); the dose figures come from the emission grid.")
    if rtdose_reference is not None:
        dose, grid_note = dicom_export_grid(dose, interpolation="linear")
        if grid_note:
            notes.append(grid_note)
        names["rtdose"] = f"{prefix}rtdose.dcm"
        dosimetry.write_rtdose(dose, stage / names["rtdose"], reference=rtdose_reference, dose_comment=comment[:64])
    if not sources:
        return names, notes
    # ---- SEG, Parametric Map, SR on the emission series
    seg_dataset = None
    if result.vois is not None:
        given = {n: m for n, m in result.vois.masks.items() if n not in result.vois.derived and m.array.any()}
        if given:
            names["seg"] = f"{prefix}vois_seg.dcm"
            write_dicom_seg(given, sources, stage / names["seg"], series_description="sirtkit dosimetry VOIs",
                            roles=result.vois.roles)
            seg_dataset = pydicom.dcmread(stage / names["seg"], stop_before_pixels=True)  # the SR references it
    names["pm"] = f"{prefix}dose_pm.dcm"
    dosimetry.write_dose_parametric_map(result.dose, sources, stage / names["pm"])
    metrics = [v.metrics for v in result.voi_doses]
    if metrics:
        finding = {v.name: voi_codes(v.name, v.role)[1] for v in result.voi_doses}
        names["sr"] = f"{prefix}dose_sr.dcm"
        dosimetry.write_dose_sr(metrics, stage / names["sr"], source_images=sources, segmentation=seg_dataset,
                                finding_types=finding)
    return names, notes
