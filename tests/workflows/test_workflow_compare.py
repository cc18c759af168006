"""Predicted vs delivered dose workflow on the analytic phantom (hand-calculable answers)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydantic
import pytest

from sirtkit.dosimetry import dose_ldm, write_rtdose
from sirtkit.errors import GeometryError, InputError, UnitsError
from sirtkit.imaging import Volume, make_phantom, masks_to_labelmap, read_volume, write_volume
from sirtkit.workflows.compare import CompareCase, read_dose_map, run_compare, write_compare_outputs

SPACING_MM = 6.0


@pytest.fixture(scope="module")
def doses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """LDM dose of the phantom (predicted), derived delivered doses and a label map, as files.

    Tumours have 5× the normal-liver activity concentration, so (LDM, uniform compartments) the
    tumour dose is the grid maximum and the normal liver receives about 1/5 of it.
    """
    folder: Path = tmp_path_factory.mktemp("compare")
    phantom = make_phantom(shape=(32, 48, 48), spacing_mm=(SPACING_MM,) * 3, tumor_to_normal_ratio=5.0, seed=0)
    dose = dose_ldm(phantom.activity)
    m = phantom.masks
    labelmap, labels = masks_to_labelmap({"liver": m["liver"], "tumor_1": m["tumor_1"], "tumor_2": m["tumor_2"],
                                          "lung": m["lung"]})
    pred64 = dose.array.astype(np.float64)
    return {
        "phantom": phantom, "dose": dose, "labels": labels,
        "seg": write_volume(labelmap, folder / "seg.nrrd"),
        "predicted": write_volume(dose, folder / "predicted.nrrd"),
        "identical": write_volume(dose, folder / "identical.nrrd"),
        "scaled": write_volume(dose.with_array(pred64 * 1.1), folder / "scaled.nrrd"),
        "shifted": write_volume(dose.with_array(np.roll(dose.array, 1, axis=2)), folder / "shifted.nrrd"),
        "activity": write_volume(phantom.activity, folder / "activity.nrrd"),
        "nifti": write_volume(dose, folder / "dose.nii.gz"),
    }


def _case(doses: dict[str, object], delivered: str, **kw: object) -> CompareCase:
    base = {"predicted": doses["predicted"], "delivered": doses[delivered], "segmentation": doses["seg"],
            "segment_labels": doses["labels"]}
    return CompareCase(**{**base, **kw})


def _by_name(result):
    return {c.name: c for c in result.comparisons}


def test_identical_doses_zero_difference_full_pass(doses):
    """Reference: D_delivered ≡ D_predicted ⇒ every VOI difference is 0 Gy (mean, D70, D90, voxel RMS)
    and γ(x) = 0 everywhere, so the pass rate is exactly 100 % in the liver and in every VOI."""
    result = run_compare(_case(doses, "identical"))
    assert {"tumor_1", "tumor_2", "liver", "lung", "All tumours"} <= set(_by_name(result))
    for c in result.comparisons:
        d = c.difference
        assert d.mean_difference_gy == pytest.approx(0.0, abs=1e-9)
        assert d.predicted_d70_gy == d.delivered_d70_gy and d.predicted_d90_gy == d.delivered_d90_gy
        assert d.voxel_rms_difference_gy == pytest.approx(0.0, abs=1e-9)
        if c.gamma_evaluated_voxels:
            assert c.gamma_pass_percent == 100.0
    assert result.gamma.pass_rate_percent == 100.0
    assert result.gamma.n_evaluated > 0
    assert np.nanmax(result.gamma.gamma.array) == 0.0
    assert result.gamma_region.startswith("liver")


def test_scaled_delivery_plus_ten_percent_and_gamma_fails_in_high_dose(doses):
    """Reference: D_delivered = 1.1 × D_predicted ⇒ every VOI's mean difference is +10 % (rel 1e-6) and
    the absolute difference is 0.1 × predicted mean.

    Gamma (3 %/3 mm global, 6 mm voxels): no neighbour lies within 2·DTA, so γ(x) = min(2, 0.1·D(x) /
    (0.03·D_max)); it fails (γ > 1) wherever D > 0.3·D_max, i.e. in both tumours (D = D_max), giving a
    pass rate of exactly 0 % there, and passes in the normal liver (D ≈ 0.2·D_max → γ ≈ 0.67).
    """
    result = run_compare(_case(doses, "scaled"))
    vois = _by_name(result)
    for c in result.comparisons:
        d = c.difference
        assert d.mean_difference_percent == pytest.approx(10.0, rel=1e-6)
        assert d.mean_difference_gy == pytest.approx(0.1 * d.predicted_mean_gy, rel=1e-6)
        assert d.delivered_d70_gy == pytest.approx(1.1 * d.predicted_d70_gy, rel=1e-6)
    predicted = np.asarray(result.predicted.array, dtype=np.float64)
    gamma = np.asarray(result.gamma.gamma.array)
    high = np.isfinite(gamma) & (predicted >= 0.35 * predicted.max())
    assert high.sum() >= 50
    assert np.count_nonzero(gamma[high] <= 1.0) / high.sum() == pytest.approx(0.0, abs=1e-12)
    assert vois["tumor_1"].gamma_pass_percent == 0.0 and vois["tumor_2"].gamma_pass_percent == 0.0
    # the label map's "liver" label excludes the tumours: it is the normal liver (QA finding 1), and the
    # derived whole liver (liver ∪ tumours) is compared too
    assert vois["liver"].role == "normal_liver" and vois["liver"].gamma_pass_percent == 100.0
    assert vois["Whole liver (incl. tumours)"].role == "liver"
    assert 0.0 < result.gamma.pass_rate_percent < 100.0


def test_one_voxel_shift_passes_with_dta_of_one_voxel(doses):
    """Reference: D_delivered(x + Δ) = D_predicted(x) with |Δ| = one 6 mm voxel ⇒ for DTA ≥ 6 mm the
    point y = x + Δ gives γ ≤ |Δ|/DTA ≤ 1, so every evaluated voxel passes (100 %). With DTA = 3 mm
    (half a voxel) the dose edges of the tumours fail, so the pass rate drops below 100 %."""
    result = run_compare(_case(doses, "shifted", distance_mm=SPACING_MM))
    assert result.gamma.pass_rate_percent == 100.0
    result_big = run_compare(_case(doses, "shifted", distance_mm=9.0))
    assert result_big.gamma.pass_rate_percent == 100.0
    tight = run_compare(_case(doses, "shifted", distance_mm=3.0))
    assert tight.gamma.pass_rate_percent < 100.0


def test_units_other_than_gy_refused(doses):
    """An activity map (Bq/mL) given as the delivered dose is refused with a message naming the unit."""
    with pytest.raises(UnitsError, match="Bq/mL"):
        run_compare(_case(doses, "activity"))


def test_nifti_without_unit_needs_dose_unit(doses):
    """NIfTI stores no unit: refused unless dose_unit='Gy' is given; then identical to the NRRD dose."""
    with pytest.raises(UnitsError, match="dose-unit Gy"):
        run_compare(_case(doses, "nifti"))
    result = run_compare(_case(doses, "nifti", dose_unit="Gy"))
    assert all(c.difference.mean_difference_gy == pytest.approx(0.0, abs=1e-6) for c in result.comparisons)


def test_rtdose_input_read(doses, tmp_path):
    """Reference: an RTDOSE .dcm of the same dose stores round(D / s)·s with s = DoseGridScaling, so every
    voxel (and every VOI mean) differs from the NRRD dose by at most s/2 (DICOM PS3.3 C.8.8.3)."""
    import pydicom

    path = write_rtdose(doses["dose"], tmp_path / "predicted.dcm")
    half_step = float(pydicom.dcmread(path, stop_before_pixels=True).DoseGridScaling) / 2
    volume = read_dose_map(path, what="predicted")
    assert volume.unit == "Gy" and volume.same_grid(doses["dose"])
    result = run_compare(_case(doses, "identical", predicted=path))
    for c in result.comparisons:
        assert abs(c.difference.mean_difference_gy) <= half_step * (1 + 1e-6)
        assert c.difference.voxel_rms_difference_gy <= half_step * (1 + 1e-6)


def test_resampled_grid_uniform_dose(tmp_path):
    """Reference: a uniform 50 Gy predicted dose on a 3 mm grid resampled (linear) onto a 6 mm grid of the
    same extent is 50 Gy at every covered voxel ⇒ differences 0 (abs 1e-9) and gamma 100 %; the voxels of
    the delivered grid outside the predicted field of view (outside every VOI) are set to 0 and noted."""
    fine = Volume.from_spacing(np.full((40, 40, 40), 50.0), (3.0, 3.0, 3.0), (-58.5, -58.5, -58.5),
                               quantity="dose", unit="Gy")
    coarse = Volume.from_spacing(np.full((22, 22, 22), 50.0), (6.0, 6.0, 6.0), (-63.0, -63.0, -63.0),
                                 quantity="dose", unit="Gy")
    liver = np.zeros(coarse.shape, dtype=bool)
    liver[5:17, 5:17, 5:17] = True
    labelmap, labels = masks_to_labelmap({"Liver": coarse.with_array(liver, quantity="mask", unit="1")})
    case = CompareCase(predicted=write_volume(fine, tmp_path / "p.nrrd"),
                       delivered=write_volume(coarse, tmp_path / "d.nrrd"),
                       segmentation=write_volume(labelmap, tmp_path / "seg.nrrd"), segment_labels=labels)
    result = run_compare(case)
    assert result.predicted.same_grid(result.delivered) and result.delivered.shape == (22, 22, 22)
    (liver_cmp,) = result.comparisons
    assert liver_cmp.difference.predicted_mean_gy == pytest.approx(50.0, abs=1e-9)
    assert liver_cmp.difference.mean_difference_gy == pytest.approx(0.0, abs=1e-9)
    assert result.gamma.pass_rate_percent == 100.0
    assert any("resampled onto the delivered grid" in n for n in result.notes)
    assert any("set to 0 Gy" in n for n in result.notes)
    # The other way round: the delivered dose onto the 3 mm predicted grid.
    back = run_compare(case.model_copy(update={"resample_to": "predicted"}))
    assert back.delivered.shape == (40, 40, 40)
    assert back.comparisons[0].difference.mean_difference_gy == pytest.approx(0.0, abs=1e-9)


def test_voi_outside_predicted_field_refused(tmp_path):
    """A VOI reaching outside the predicted dose's field of view has no predicted dose there: refused."""
    small = Volume.from_spacing(np.full((10, 10, 10), 20.0), (6.0, 6.0, 6.0), quantity="dose", unit="Gy")
    big = Volume.from_spacing(np.full((20, 20, 20), 20.0), (6.0, 6.0, 6.0), quantity="dose", unit="Gy")
    liver = np.zeros(big.shape, dtype=bool)
    liver[5:15, 5:15, 5:15] = True
    labelmap, labels = masks_to_labelmap({"Liver": big.with_array(liver, quantity="mask", unit="1")})
    case = CompareCase(predicted=write_volume(small, tmp_path / "p.nrrd"),
                       delivered=write_volume(big, tmp_path / "d.nrrd"),
                       segmentation=write_volume(labelmap, tmp_path / "seg.nrrd"), segment_labels=labels)
    with pytest.raises(GeometryError, match="outside the predicted dose grid"):
        run_compare(case)


def test_different_frames_of_reference_refused(doses, tmp_path):
    """Doses on different frames of reference cannot be compared without registration."""
    other = Volume(doses["dose"].array, doses["dose"].affine, "dose", "Gy", "1.2.826.0.1.3680043.2.1125.1")
    case = CompareCase(predicted=doses["predicted"], delivered=write_volume(other, tmp_path / "other.nrrd"),
                       segmentation=doses["seg"], segment_labels=doses["labels"])
    with pytest.raises(GeometryError, match="frame of reference"):
        run_compare(case)


@pytest.mark.parametrize(("field", "value"), [("dose_percent", 0.0), ("distance_mm", -3.0),
                                              ("lower_dose_cutoff_percent", 100.0), ("resample_to", "ct")])
def test_bad_criteria_rejected(doses, field, value):
    with pytest.raises(pydantic.ValidationError, match=field):
        _case(doses, "identical", **{field: value})


def test_missing_file(doses, tmp_path):
    with pytest.raises(InputError, match=r"nope\.nrrd"):
        run_compare(_case(doses, "identical", predicted=tmp_path / "nope.nrrd"))


def test_outputs_written_together(doses, tmp_path):
    """All files are written; JSON, CSV and gamma map read back with the result's numbers."""
    result = run_compare(_case(doses, "scaled"))
    files = write_compare_outputs(result, tmp_path / "out")
    assert all(p.is_file() for p in files.values())
    doc = json.loads(files["json"].read_text(encoding="utf-8"))["compare"]
    assert doc["gamma"]["pass_rate_percent"] == pytest.approx(result.gamma.pass_rate_percent, rel=1e-12)
    assert doc["gamma"]["dose_percent"] == 3.0 and doc["gamma"]["reference"] == "predicted"
    tumour = next(v for v in doc["vois"] if v["name"] == "tumor_1")
    assert tumour["mean_difference_percent"] == pytest.approx(10.0, rel=1e-6) and tumour["role"] == "tumor"
    rows = files["vois_csv"].read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("voi,role,volume_ml") and len(rows) == 1 + len(result.comparisons)
    gamma_back = read_volume(files["gamma"])
    assert gamma_back.same_grid(result.delivered) and gamma_back.quantity == "gamma"
    np.testing.assert_array_equal(np.isfinite(gamma_back.array), np.isfinite(result.gamma.gamma.array))
    html = files["html"].read_text(encoding="utf-8")
    assert "Gamma index" in html and "tumor_1" in html and "data:image/png;base64," in html


def test_output_failure_leaves_nothing(doses, tmp_path):
    """--out pointing at a file: refused, and no staging folder or partial file is left behind."""
    result = run_compare(_case(doses, "identical"))
    target = tmp_path / "out"
    target.write_text("not a folder", encoding="utf-8")
    with pytest.raises(InputError, match="not a folder"):
        write_compare_outputs(result, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_nuclide_mismatch_between_dose_maps_warned(doses, tmp_path):
    """Issue 7 item 2 (sibling in compare): a predicted dose computed as Y-90 for a Ho-166 treatment is the
    error of item 2 seen from the comparison. RTDOSE DoseComments naming different nuclides give a
    NUCLIDE MISMATCH warning; a stated treatment nuclide is checked against each map; matching maps pass."""
    predicted = write_rtdose(doses["dose"], tmp_path / "pred.dcm", dose_comment="sirtkit LDM Y-90 SIRT; no RT Plan")
    delivered = write_rtdose(doses["dose"], tmp_path / "deliv.dcm", dose_comment="sirtkit LDM Ho-166 SIRT; no RT Plan")
    files = {**doses, "ho": delivered}
    result = run_compare(_case(files, "ho", predicted=predicted))
    assert any(w.startswith("NUCLIDE MISMATCH") for w in result.warnings)
    assert result.provenance["nuclides"] == {"predicted": "Y-90", "delivered": "Ho-166"}
    stated = run_compare(_case(doses, "identical", predicted=predicted, nuclide="Ho-166"))
    assert any("predicted dose was computed for Y-90, the treatment is Ho-166" in w for w in stated.warnings)
    same = run_compare(_case(files, "ho", predicted=delivered))
    assert not any(w.startswith("NUCLIDE") for w in same.warnings)


@pytest.mark.parametrize(("changes", "match"), [
    ({"dose_percent": 0.03}, r"fraction typed as a percent \(0\.03 = 3 %\)"),
    ({"distance_mm": 0.3}, r"centimetres typed as mm \(0\.3 cm = 3 mm\)"),
    ({"dose_percent": 80.0}, "0.5–50"),
])
def test_gamma_criteria_unit_slips_refused(doses, changes, match):
    """QA finding 7 (other numeric options): gamma criteria in use span 1 %/1 mm to 5 %/5 mm (AAPM TG-218):
    a fraction typed as percent or cm typed as mm is refused with the reading, not run as 0.03 %."""
    import pydantic

    with pytest.raises(pydantic.ValidationError, match=match):
        _case(doses, "scaled", **changes)
