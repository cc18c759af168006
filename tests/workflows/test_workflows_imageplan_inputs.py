"""`sirtkit predict` reads its SPECT and segmentation once, for the plan and the predicted dose."""

from __future__ import annotations

import pytest

from sirtkit.imaging import sample_path
from sirtkit.workflows import imageplan
from sirtkit.workflows.imageplan import ImagePlanCase, run_image_plan
from sirtkit.workflows.posttreatment import DoseCase, read_dose_inputs, run_dose


def test_predict_reads_its_images_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """One `read_dose_inputs` call per `run_image_plan` (it was two full readings: plan, then dose), and the
    predicted dose equals a dose computed from a fresh reading (identical mean dose per VOI, exactly)."""
    calls = []
    real = imageplan.read_dose_inputs

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(imageplan, "read_dose_inputs", counting)
    case = ImagePlanCase(patient_id="P2", spect=sample_path("patient_2_spect"), segmentation=sample_path("patient_2_seg"),
                         device="glass", intent="palliative", lung_shunt_fraction=0.06)
    result = run_image_plan(case)
    assert len(calls) == 1
    assert result.predicted is not None and result.plan.plan is not None
    fresh = run_dose(result.predicted.case)
    assert [(v.name, v.metrics.mean_gy) for v in fresh.voi_doses] == \
        [(v.name, v.metrics.mean_gy) for v in result.predicted.voi_doses]


def test_inputs_of_another_case_are_refused() -> None:
    """Inputs read for one emission image cannot silently serve a case naming another."""
    a = DoseCase(emission=sample_path("patient_2_spect"), segmentation=sample_path("patient_2_seg"),
                 delivered_activity_gbq=1.0)
    b = DoseCase(emission=sample_path("patient_1_pet"), segmentation=sample_path("patient_2_seg"),
                 delivered_activity_gbq=1.0)
    with pytest.raises(ValueError, match="read for another case"):
        run_dose(b, inputs=read_dose_inputs(a))
