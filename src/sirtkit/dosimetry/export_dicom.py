"""The two dose exports physicists ask for besides RTDOSE: a float Parametric Map and a TID 1500 SR.

* :func:`write_dose_parametric_map` — the dose map as a **Parametric Map** (PS3.3 A.75, highdicom
  ``ParametricMap``) with 32-bit float pixels, so no DoseGridScaling quantisation, and a Real World Value
  Mapping to UCUM ``Gy`` with quantity DCM 128513 "Absorbed Dose". Diagnostic PACS and viewers that do not
  show RTDOSE show it (DICOM.md §1). It is written on the dose's own grid (resampled onto an axis-aligned grid
  only when that grid is sheared).
* :func:`write_dose_sr` — a **Comprehensive 3D SR measurement report** (TID 1500, highdicom
  ``MeasurementReport``) with one measurement group per VOI: TID 1411 volumetric groups referencing the VOI's
  segment in the DICOM SEG when one was written, TID 1501 groups otherwise.

Codes (PS3.16; where no standard code exists sirtkit uses its private coding scheme ``99SIRTKIT``, declared in
the SR's Coding Scheme Identification Sequence (0008,0110)):

================================  ===========================================  =====================
Measurement                       Concept name                                 Unit (UCUM)
================================  ===========================================  =====================
Volume                            SCT 118565006 "Volume"                       ``mL``
Mean absorbed dose                DCM 128513 "Absorbed Dose", derivation       ``Gy``
                                  SCT 373098007 "Mean"
D70                               99SIRTKIT D70 (no standard code)             ``Gy``
V100                              99SIRTKIT V100GY (no standard code)          ``%``
Procedure reported                99SIRTKIT SIRTDOSI "SIRT voxel dosimetry"    –
================================  ===========================================  =====================
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from sirtkit.dosimetry.dvh import DoseMetrics
from sirtkit.errors import GeometryError, InputError, UnitsError
from sirtkit.imaging.dicom_out import (
    HIGHDICOM_BUILD_ERRORS,
    derivation_error,
    dicom_export_grid,
    hd_volume,
    is_orthogonal,
    prepare_source_images,
    save_derived,
)
from sirtkit.imaging.volume import Volume

__all__ = [
    "CODE_ABSORBED_DOSE",
    "CODE_D70",
    "CODE_V100",
    "PRIVATE_CODING_SCHEME",
    "write_dose_parametric_map",
    "write_dose_sr",
]

log = logging.getLogger(__name__)

#: Private coding scheme designator (PS3.16 8.2: "99" prefix for private schemes).
PRIVATE_CODING_SCHEME = "99SIRTKIT"
CODE_ABSORBED_DOSE = Code("128513", "DCM", "Absorbed Dose")  # PS3.16 CID 10070
CODE_MEAN = Code("373098007", "SCT", "Mean")  # derivation, PS3.16 CID 3488
CODE_VOLUME = Code("118565006", "SCT", "Volume")
CODE_D70 = Code("D70", PRIVATE_CODING_SCHEME, "Minimum absorbed dose to the hottest 70 % of the VOI")
CODE_V100 = Code("V100GY", PRIVATE_CODING_SCHEME, "Fraction of the VOI receiving at least 100 Gy")
CODE_PROCEDURE = Code("SIRTDOSI", PRIVATE_CODING_SCHEME, "SIRT voxel dosimetry")
_UNIT_GY = Code("Gy", "UCUM", "Gy")
_UNIT_ML = Code("mL", "UCUM", "mL")
_UNIT_PERCENT = Code("%", "UCUM", "%")
_V100_THRESHOLD_GY = 100.0


def _software_version() -> str:
    from sirtkit import __version__

    return __version__


def write_dose_parametric_map(
    dose: Volume,
    source_images: Sequence[pydicom.Dataset],
    path: str | os.PathLike[str],
    *,
    series_description: str = "sirtkit absorbed dose (Gy)",
    series_number: int = 9902,
) -> Path:
    """Write the dose map as a float32 DICOM Parametric Map in Gy (see the module notes).

    Raises
    ------
    UnitsError
        Dose not in Gy, or non-finite values.
    GeometryError
        Dose and source series on different frames of reference.
    InputError
        No source images, or highdicom cannot build the object from them (message names why).
    """
    if dose.unit != "Gy":
        raise UnitsError(f"the Parametric Map stores Gy; the volume is in {dose.unit!r}")
    values = np.asarray(dose.array, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise UnitsError("the dose map contains NaN or infinite values: the Parametric Map cannot store them")
    sources = prepare_source_images(source_images, frame_of_reference_uid=dose.frame_of_reference_uid)
    source_for = str(sources[0].get("FrameOfReferenceUID") or "") or None
    if dose.frame_of_reference_uid and source_for and dose.frame_of_reference_uid != source_for:
        raise GeometryError(f"the dose is on frame of reference {dose.frame_of_reference_uid}, the source series on "
                            f"{source_for}: write the Parametric Map with the series the dose was computed on")
    grid = dose
    if not is_orthogonal(dose):
        grid, note = dicom_export_grid(dose, interpolation="linear", what="dose")
        log.warning("dose Parametric Map: %s", note)
    array = np.asarray(grid.array, dtype=np.float32)
    low, high = float(array.min()), float(array.max())
    mapping = hd.pm.RealWorldValueMapping(
        lut_label="DOSE_GY", lut_explanation="Absorbed dose", unit=_UNIT_GY,
        value_range=(low, high if high > low else low + 1.0), slope=1.0, intercept=0.0,
        quantity_definition=CODE_ABSORBED_DOSE)
    window = hd.VOILUTTransformation(window_center=max(high, 1.0) / 2.0, window_width=max(high, 1.0))
    pixel = hd_volume(grid, array, frame_of_reference_uid=source_for)
    try:
        pm = hd.pm.ParametricMap(
            source_images=sources, pixel_array=pixel, series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="sirtkit", manufacturer_model_name="sirtkit",
            software_versions=_software_version(), device_serial_number="0",
            contains_recognizable_visual_features=False, real_world_value_mappings=[mapping],
            voi_lut_transformations=[window], content_label="DOSE", content_description="Absorbed dose (Gy)",
            series_description=series_description[:64],
        )
    except HIGHDICOM_BUILD_ERRORS as err:
        raise derivation_error("dose Parametric Map", sources, err) from err
    pm.ContentCreatorName = ""  # Type 2 (Content Identification Macro, PS3.3 C.10.9)
    return save_derived(pm, path)


def _measurements(metrics: DoseMetrics) -> list[hd.sr.Measurement]:
    out = [
        hd.sr.Measurement(name=CODE_VOLUME, value=float(metrics.volume_ml), unit=_UNIT_ML),
        hd.sr.Measurement(name=CODE_ABSORBED_DOSE, value=float(metrics.mean_gy), unit=_UNIT_GY, derivation=CODE_MEAN),
        hd.sr.Measurement(name=CODE_D70, value=float(metrics.d70_gy), unit=_UNIT_GY),
    ]
    v100 = metrics.v_percent.get(_V100_THRESHOLD_GY)
    if v100 is not None:
        out.append(hd.sr.Measurement(name=CODE_V100, value=float(v100), unit=_UNIT_PERCENT))
    return out


def _referenced_segment(segmentation: pydicom.Dataset, number: int) -> hd.sr.ReferencedSegment:
    """Reference to one segment; built from the SEG's referenced series (highdicom's ``from_segmentation``
    needs per-frame segment identification, which a one-segment SEG keeps in the shared groups)."""
    series = segmentation.ReferencedSeriesSequence[0].SeriesInstanceUID
    return hd.sr.ReferencedSegment(
        sop_class_uid=segmentation.SOPClassUID, sop_instance_uid=segmentation.SOPInstanceUID, segment_number=number,
        source_series=hd.sr.SourceSeriesForSegmentation(series))


def write_dose_sr(
    metrics: Sequence[DoseMetrics],
    path: str | os.PathLike[str],
    *,
    source_images: Sequence[pydicom.Dataset],
    segmentation: pydicom.Dataset | None = None,
    finding_types: Mapping[str, Code] | None = None,
    series_description: str = "sirtkit dose metrics",
    series_number: int = 9903,
) -> Path:
    """Write per-VOI dose metrics as a TID 1500 measurement report (Comprehensive 3D SR).

    Parameters
    ----------
    metrics
        One :class:`DoseMetrics` per VOI (its ``name`` is the tracking identifier).
    path
        Output file.
    source_images
        The series the dose was computed on (evidence).
    segmentation
        The DICOM SEG written for these VOIs: each group then references the segment whose label is the VOI
        name (TID 1411); VOIs without a segment get a TID 1501 group.
    finding_types
        VOI name → finding type code (e.g. SCT Liver); default SCT 85756007 "Tissue".

    Raises
    ------
    InputError
        No metrics, or highdicom cannot build the report (message names why).
    """
    if not metrics:
        raise InputError("write_dose_sr needs the metrics of at least one VOI")
    sources = prepare_source_images(source_images)
    segment_numbers: dict[str, int] = {}
    if segmentation is not None:
        segment_numbers = {str(s.SegmentLabel): int(s.SegmentNumber) for s in segmentation.get("SegmentSequence", [])}
    device = hd.sr.DeviceObserverIdentifyingAttributes(uid=generate_uid(), name="sirtkit",
                                                       manufacturer_name="sirtkit", model_name="sirtkit")
    context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
        observer_type=hd.sr.CodedConcept("121007", "DCM", "Device"), observer_identifying_attributes=device))
    groups: list[hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations | hd.sr.MeasurementsAndQualitativeEvaluations]
    groups = []
    tissue = Code("85756007", "SCT", "Tissue")
    try:
        for m in metrics:
            tracking = hd.sr.TrackingIdentifier(uid=generate_uid(), identifier=m.name[:64] or "VOI")
            finding = (finding_types or {}).get(m.name, tissue)
            number = segment_numbers.get(m.name[:64])
            if segmentation is not None and number is not None:
                groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking,
                    referenced_segment=_referenced_segment(segmentation, number),
                    finding_type=finding, measurements=_measurements(m)))
            else:
                groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
                    tracking_identifier=tracking, finding_type=finding, measurements=_measurements(m)))
        report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=CODE_PROCEDURE,
                                         imaging_measurements=groups)
        evidence = [*([segmentation] if segmentation is not None else []), *sources]
        sr = hd.sr.Comprehensive3DSR(
            evidence=evidence, content=report, series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer="sirtkit", is_complete=True,
            is_final=False, is_verified=False, series_description=series_description[:64],
        )
    except HIGHDICOM_BUILD_ERRORS as err:
        raise derivation_error("dose SR report", sources, err) from err
    scheme = pydicom.Dataset()
    scheme.CodingSchemeDesignator = PRIVATE_CODING_SCHEME
    scheme.CodingSchemeName = "sirtkit local codes"
    scheme.CodingSchemeResponsibleOrganization = "sirtkit project"
    scheme.CodingSchemeVersion = "1"
    sr.CodingSchemeIdentificationSequence = [scheme]
    return save_derived(sr, path)
