"""Image-based planning on the analytic phantom: LSF, T/N and masses measured from images."""

from __future__ import annotations

import pytest

from sirtkit.errors import InputError
from sirtkit.workflows.imageplan import ImagePlanCase, non_target_warnings, plan_sections, run_image_plan


def _case(files, **kw):
    base = {"patient_id": "phantom", "spect": files["counts"], "segmentation": files["seg"],
            "segment_labels": files["labels"], "device": "glass", "intent": "palliative", "engine": "ldm"}
    return ImagePlanCase(**{**base, **kw})


def test_lsf_and_tn_measured_from_images(phantom_files):
    """Reference: the phantom is built with LSF 0.05 (lungs 100 of 2000 MBq) and T/N 5 (CLINICAL.md §2.3
    T/N = (C_T/M_T)/(C_N/M_N)); measured from the counts image they come back within 1e-6."""
    result = run_image_plan(_case(phantom_files))
    assert result.plan.lung_shunt_fraction == pytest.approx(0.05, rel=1e-6)
    assert result.plan.lung_shunt_fraction_source.startswith("SPECT")
    tumours = [c for c in result.plan.plan.compartments if c.kind == "tumour"]
    assert all(c.tumour_to_normal_ratio == pytest.approx(5.0, rel=1e-6) for c in tumours)


def test_predicted_ldm_dose_equals_mird_compartment_dose(phantom_files):
    """Invariant: with LDM and the whole liver as territory, the voxel mean dose of each compartment
    equals its MIRD multi-compartment dose K·A_i/M_i (same counts, same masses, same K)."""
    result = run_image_plan(_case(phantom_files))
    voxel = {v.name: v.metrics.mean_gy for v in result.predicted.voi_doses}
    for c in result.plan.plan.compartments:
        if c.kind == "tumour":
            assert voxel[c.name] == pytest.approx(c.dose_gy, rel=1e-3)
    sections = [s["title"] for s in plan_sections(result)]
    assert sections[:3] == ["Plan", "Compartments: MIRD multi-compartment plan vs predicted voxel dose",
                            "Safety checks"]
    assert non_target_warnings(result) == []


def test_missing_lsf_without_lungs_is_refused(phantom_files):
    labels = {k: v for k, v in phantom_files["labels"].items() if v != "lung"}
    with pytest.raises(InputError, match="lung shunt fraction"):
        run_image_plan(_case(phantom_files, segment_labels=labels), predict_dose=False)
