"""`sirtkit dose` and `sirtkit demo` from the command line: exit statuses, messages, files."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sirtkit.cli import app
from sirtkit.imaging import make_phantom, masks_to_labelmap, write_phantom_dicom, write_volume

runner = CliRunner()
ENV = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def phantom_nrrd(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    p = make_phantom(shape=(32, 48, 48), spacing_mm=(6.0, 6.0, 6.0))
    labelmap, _ = masks_to_labelmap({"liver": p.masks["liver"]})
    return {"pet": write_volume(p.activity, folder / "pet.nrrd"), "seg": write_volume(labelmap, folder / "seg.nrrd")}


def test_dose_success_writes_report(phantom_nrrd, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["dose", str(phantom_nrrd["pet"]), "-s", str(phantom_nrrd["seg"]),
                                 "--voi-role", "label_1=liver", "--delivered-activity-gbq", "1.9", "--engine", "ldm",
                                 "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert "Absorbed dose per VOI" in result.output
    assert (out / "report.html").is_file() and (out / "dose.nrrd").is_file()


def test_dose_json_document(phantom_nrrd, tmp_path):
    result = runner.invoke(app, ["dose", str(phantom_nrrd["pet"]), "-s", str(phantom_nrrd["seg"]),
                                 "--voi-role", "label_1=liver", "--delivered-activity-gbq", "1.9", "--engine", "ldm",
                                 "-o", str(tmp_path / "o"), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "dose"
    assert set(doc["result"]) >= {"case", "dose_grid", "activity", "vois", "notes", "warnings", "files"}
    liver = next(v for v in doc["result"]["vois"] if v["name"] == "label_1")
    # LDM mean liver dose = K·A/M with the whole 1.9 GBq in the liver (W23 form), K = 49.67.
    volume_ml = liver["metrics"]["volume_ml"]
    assert liver["metrics"]["mean_gy"] == pytest.approx(49.67 * 1.9 / (volume_ml * 1.03e-3), rel=1e-4)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--delivered-activity-gbq", "1400"], "MBq or mCi"),
        (["--delivered-activity-gbq", "1.4", "--engine", "monte-carlo"], "use vsv or ldm"),
        (["--quantification", "absolute", "--administration-time", "2026-03-02T10:00"], "no timezone"),
        (["--delivered-activity-gbq", "1.4", "--voi-role", "nonsense"], "SEGMENT=ROLE"),
    ],
)
def test_dose_bad_input_exit_2_nothing_written(phantom_nrrd, tmp_path, args, message):
    out = tmp_path / "never"
    result = runner.invoke(app, ["dose", str(phantom_nrrd["pet"]), "-s", str(phantom_nrrd["seg"]), "-o", str(out),
                                 *args], env=ENV)
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
    assert not out.exists()


def test_dose_missing_file(tmp_path):
    result = runner.invoke(app, ["dose", str(tmp_path / "nope.nrrd"), "--delivered-activity-gbq", "1",
                                 "-s", str(tmp_path / "seg.nrrd")], env=ENV)
    assert result.exit_code == 2
    assert "nope.nrrd" in result.output


@pytest.mark.slow
def test_dose_from_dicom_pet_writes_rtdose(tmp_path):
    """DICOM in, RTDOSE out: the dose of a phantom PET series carries the PET's patient and frame of
    reference, and its values survive the RTDOSE round trip within DoseGridScaling/2 (DICOM.md §1)."""
    import pydicom

    from sirtkit.dosimetry import read_rtdose
    from sirtkit.imaging import read_volume

    p = make_phantom(shape=(24, 40, 40), spacing_mm=(6.0, 6.0, 6.0))
    series = write_phantom_dicom(p, tmp_path / "dicom", modality="PET")
    labelmap, _ = masks_to_labelmap({"liver": p.masks["liver"]})
    seg = write_volume(labelmap, tmp_path / "seg.nrrd")
    out = tmp_path / "out"
    result = runner.invoke(app, ["dose", str(series["pet"]), "-s", str(seg), "--voi-role", "label_1=liver",
                                 "--quantification", "absolute",
                                 "--administration-time", p.administration_time.isoformat(), "-o", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    rtdose = pydicom.dcmread(out / "rtdose.dcm")
    pet = pydicom.dcmread(next(series["pet"].iterdir()), stop_before_pixels=True)
    assert rtdose.Modality == "RTDOSE"
    assert rtdose.FrameOfReferenceUID == pet.FrameOfReferenceUID
    assert rtdose.PatientID == pet.PatientID
    seg_back = pydicom.dcmread(out / "vois_seg.dcm")
    assert seg_back.Modality == "SEG" and seg_back.FrameOfReferenceUID == pet.FrameOfReferenceUID
    dose_nrrd = read_volume(out / "dose.nrrd")
    back = read_rtdose(out / "rtdose.dcm")
    assert back.same_grid(dose_nrrd)
    assert abs(back.array - dose_nrrd.array).max() <= float(rtdose.DoseGridScaling) / 2 + 1e-6


@pytest.mark.slow
def test_demo_runs_on_bundled_samples(tmp_path):
    """The README's main job: both reports written; the PET liver holds the delivered 1.4 GBq."""
    out = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--out", str(out), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["result"]
    for name in ("plan_report.html", "post_report.html", "plan_dose.nrrd", "post_dose.nrrd", "post_dvh.csv"):
        assert (out / name).is_file(), name
    # Liver ∪ tumours (a few tumour voxels lie outside the 'Liver' segment) holds the delivered activity.
    assert doc["posttreatment"]["activity"]["in_liver_mbq"] == pytest.approx(1400.0, rel=1e-6)
    liver = next(v for v in doc["posttreatment"]["vois"] if v["name"] == "Liver")
    assert liver["activity_mbq"] == pytest.approx(1400.0, rel=5e-3)
    # ... and that liver ∪ tumours is reported as its own VOI, holding exactly the delivered activity (QA 1)
    whole = next(v for v in doc["posttreatment"]["vois"] if v["name"] == "Whole liver (incl. tumours)")
    assert whole["role"] == "liver" and liver["role"] == "liver_segment"
    assert whole["activity_mbq"] == pytest.approx(1400.0, rel=1e-5)
    plan = doc["plan"]["plan"]["plan"]
    assert plan["binding_constraint"] in {"tumour_target", "perfused_normal_liver_limit", "whole_normal_liver_limit", "lung_limit"}
    assert 0.5 < plan["activity_prepared_gbq"] < 5.0


@pytest.mark.slow
def test_predict_on_sample_spect(tmp_path):
    """`sirtkit predict` on the bundled MAA SPECT: plan + predicted dose; resin with LSF 0.25 breaks the
    Sirtex LSF > 20 % contraindication → exit 1 with the failing check named (CLINICAL.md §3)."""
    from sirtkit.imaging import sample_path

    spect, seg = str(sample_path("patient_2_spect")), str(sample_path("patient_2_seg"))
    ok = runner.invoke(app, ["predict", spect, "-s", seg, "--lung-shunt-fraction", "0.06", "--engine", "ldm",
                             "-o", str(tmp_path / "ok"), "--json"], env=ENV)
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)["result"]
    assert doc["plan"]["passes_hard_limits"] is True
    assert (tmp_path / "ok" / "report.html").is_file()
    bad = runner.invoke(app, ["predict", spect, "-s", seg, "--lung-shunt-fraction", "0.25", "--device", "resin",
                              "--engine", "ldm", "-o", str(tmp_path / "bad")], env=ENV)
    assert bad.exit_code == 1, bad.output
    assert "lung shunt fraction" in bad.output
    missing = runner.invoke(app, ["predict", spect, "-s", seg, "-o", str(tmp_path / "none")], env=ENV)
    assert missing.exit_code == 2
    assert "lung shunt fraction" in missing.output
    assert not (tmp_path / "none").exists()
