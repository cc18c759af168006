"""`sirtkit dose` / `sirtkit predict` end to end for the dose-physics items of issue 7 (2, 3, 4, 6, 8).

Inputs are the analytic phantom written as NRRD (counts image, label map with liver parenchyma, two tumours
and lungs): the expected numbers are hand calculations on the phantom's known activities.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sirtkit.cli import app
from sirtkit.imaging import make_phantom, masks_to_labelmap, write_volume

runner = CliRunner()
ENV = {"COLUMNS": "200"}
K_Y90 = 49.67  # Gy·kg/GBq (EANM 2022)
K_HO166 = 15.87  # Gy·kg/GBq (JNM 2016;57(S2):199)


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    folder = tmp_path_factory.mktemp("physics")
    p = make_phantom(shape=(40, 64, 64), spacing_mm=(5.0, 5.0, 5.0), administered_activity_gbq=2.0,
                     tumor_to_normal_ratio=5.0, lung_shunt_fraction=0.05, seed=0)
    m = p.masks
    tumours = m["tumor_1"].array | m["tumor_2"].array
    labelmap, labels = masks_to_labelmap({
        "Liver parenchyma": m["liver"].with_array(m["liver"].array & ~tumours),
        "tumor_1": m["tumor_1"], "tumor_2": m["tumor_2"], "Lungs": m["lung"],
    })
    counts = p.activity.with_array(p.activity.array * 1e-3, quantity="counts", unit="counts")
    return {
        "phantom": p,
        "counts": str(write_volume(counts, folder / "counts.nrrd")),
        "seg": str(write_volume(labelmap, folder / "seg.nrrd")),
        "roles": ["--voi-role", "label_1=normal_liver", "--voi-role", "label_2=tumor", "--voi-role", "label_3=tumor",
                  "--voi-role", "label_4=lung"],
        "labels": labels,
    }


def _dose(ph, tmp_path, *args):
    return runner.invoke(app, ["dose", ph["counts"], "-s", ph["seg"], *ph["roles"], "--engine", "ldm",
                               "-o", str(tmp_path / "out"), "--json", *args], env=ENV)


def test_cli_mci_typed_as_gbq_refused(phantom, tmp_path):
    """Issue 7 item 6: `--delivered-activity-gbq 27` (27 mCi = 1.0 GBq) is refused with exit 2, the message
    names the option and the mCi conversion, and nothing is written (Y-90 at most 20 GBq: TheraSphere)."""
    result = _dose(phantom, tmp_path, "--delivered-activity-gbq", "27")
    assert result.exit_code == 2, result.output
    text = result.output.replace("\n", " ")
    assert "--delivered-activity-gbq" in text and "mCi" in text and "0.999 GBq" in text
    assert not (tmp_path / "out").exists()


def test_cli_lung_dose_lsf_precedence_in_json(phantom, tmp_path):
    """Issue 7 items 3 and 4 through the CLI: the lung VOI's mean dose is K·A_lung/1 kg = 49.67 × 0.1 GBq
    / 1 kg = 4.967 Gy (rel 1e-4; lung holds the given LSF 0.05 × 2 GBq), its mass is 1000 g, and the JSON
    provenance shows the LSF used, its source ("given") and the image-derived value side by side."""
    result = _dose(phantom, tmp_path, "--delivered-activity-gbq", "2.0", "--lung-shunt-fraction", "0.05")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["result"]
    lung = next(v for v in doc["vois"] if v["name"] == "label_4")
    assert lung["metrics"]["mean_gy"] == pytest.approx(K_Y90 * 0.1 / 1.0, rel=1e-4)
    assert lung["metrics"]["mass_g"] == pytest.approx(1000.0, rel=1e-4)
    assert "conventional 1 kg" in lung["density_source"]
    prov = doc["provenance"]
    assert prov["lung_shunt_fraction_source"] == "given" and prov["lung_shunt_fraction_used"] == 0.05
    assert prov["lung_shunt_fraction_image"] == pytest.approx(0.05, rel=1e-4)
    assert any(n.startswith("Lung shunt fraction used: 0.0500") for n in doc["notes"])


def test_cli_swapped_roles_refused(phantom, tmp_path):
    """Issue 7 item 6: liver ↔ lung roles swapped → image LSF 0.95 > 0.5 → exit 2 naming --voi-role."""
    roles = ["--voi-role", "label_1=lung", "--voi-role", "label_2=tumor", "--voi-role", "label_3=tumor",
             "--voi-role", "label_4=normal_liver"]
    result = runner.invoke(app, ["dose", phantom["counts"], "-s", phantom["seg"], *roles, "--engine", "ldm",
                                 "--delivered-activity-gbq", "2.0", "-o", str(tmp_path / "out")], env=ENV)
    assert result.exit_code == 2, result.output
    assert "swapped" in result.output and "--voi-role" in result.output.replace("\n", " ")
    assert not (tmp_path / "out").exists()


def test_cli_partial_volume_and_recovery_curve(phantom, tmp_path):
    """Issue 7 item 8 through the CLI: with `--fwhm-mm 8` tumour label_3 (4 mL, 19.7 mm) is flagged in the JSON
    warnings (below 3 × 8 = 24 mm); `--recovery-curve` adds `mean_gy_recovery_corrected` = mean / RC for the
    tumours only (RC 0.5 at 4 mL from the user's curve; rel 1e-9), and the provenance names the curve."""
    curve = tmp_path / "nema.csv"
    curve.write_text("diameter_mm,recovery_coefficient\n10,0.25\n19.7,0.5\n37,0.86\n", encoding="utf-8")
    result = _dose(phantom, tmp_path, "--delivered-activity-gbq", "2.0", "--fwhm-mm", "8",
                   "--recovery-curve", str(curve))
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["result"]
    assert any(w.startswith("PARTIAL VOLUME: label_3") for w in doc["warnings"])
    small = next(v for v in doc["vois"] if v["name"] == "label_3")
    assert small["recovery_coefficient"] == pytest.approx(0.5, abs=0.01)
    assert small["mean_gy_recovery_corrected"] == pytest.approx(
        small["metrics"]["mean_gy"] / small["recovery_coefficient"], rel=1e-9)
    liver = next(v for v in doc["vois"] if v["name"] == "label_1")
    assert liver["mean_gy_recovery_corrected"] is None
    assert doc["provenance"]["recovery_curve"] == str(curve) and doc["provenance"]["fwhm_mm"] == 8.0


def test_cli_predict_holmium_uses_ho166(phantom, tmp_path):
    """Issue 7 item 2 end to end: `predict --device holmium` plans with 15.87 Gy·kg/GBq and builds the
    predicted dose map with Ho-166 (VSV with the Ho-166 kernel); with no limit option the plan binds on the
    Ho-166 60 Gy whole-liver limit (HEPAR I, Smits Lancet Oncol 2012; MIRD whole-liver dose 60 Gy, rel 1e-9),
    the predicted normal-liver mean agrees with the MIRD compartment dose within 3 % (VSV edge spill) and the
    plan passes (exit 0)."""
    result = runner.invoke(app, ["predict", phantom["counts"], "-s", phantom["seg"], *phantom["roles"],
                                 "--device", "holmium", "-o", str(tmp_path / "plan"), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["result"]
    predicted = doc["predicted_dosimetry"]
    assert predicted["provenance"]["nuclide"] == "Ho-166"
    assert predicted["provenance"]["dose_constant_gy_kg_per_gbq"] == K_HO166
    assert predicted["provenance"]["emission_modality"] == "ho166_spect"
    normal = next(v for v in predicted["vois"] if v["name"] == "label_1")
    mird_normal = next(c for c in doc["plan"]["plan"]["compartments"] if c["kind"] == "normal_liver")
    assert normal["metrics"]["mean_gy"] == pytest.approx(mird_normal["dose_gy"], rel=0.03)
    assert doc["plan"]["plan"]["binding_constraint"] == "whole_liver_limit"
    whole = next(c for c in doc["plan"]["checks"] if c["name"] == "whole_liver_dose")
    assert whole["measured"] == pytest.approx(60.0, rel=1e-9) and whole["status"] == "pass"
    assert doc["plan"]["passes_hard_limits"] is True


def test_cli_shifted_and_empty_liver_segmentation(phantom, tmp_path):
    """Issue 7 item 6 through the CLI: a label map shifted 2 cm off the activity earns a loud SEGMENTATION
    MISALIGNED entry in the JSON warnings (exit 0); one with the liver label emptied is refused (exit 2)."""
    import numpy as np

    from sirtkit.imaging import read_volume

    labelmap = read_volume(phantom["seg"])
    shifted = write_volume(labelmap.with_array(np.roll(labelmap.array, 4, axis=2)), tmp_path / "shifted.nrrd")
    result = runner.invoke(app, ["dose", phantom["counts"], "-s", str(shifted), *phantom["roles"], "--engine", "ldm",
                                 "--delivered-activity-gbq", "2.0", "-o", str(tmp_path / "a"), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    assert any(w.startswith("SEGMENTATION MISALIGNED") for w in json.loads(result.stdout)["result"]["warnings"])
    emptied = write_volume(labelmap.with_array(np.where(labelmap.array == 1, 0, labelmap.array)),
                           tmp_path / "no_liver.nrrd")
    refused = runner.invoke(app, ["dose", phantom["counts"], "-s", str(emptied), "--voi-role", "label_2=tumor",
                                  "--voi-role", "label_3=tumor", "--voi-role", "label_4=lung", "--engine", "ldm",
                                  "--delivered-activity-gbq", "2.0", "-o", str(tmp_path / "b")], env=ENV)
    assert refused.exit_code == 2, refused.output
    assert "liver" in refused.output and not (tmp_path / "b").exists()


def test_cli_predict_chooses_the_spect_series_in_a_mixed_folder(phantom, tmp_path):
    """A SPECT/CT export with two SPECT reconstructions (attenuation-corrected and not: an everyday export):
    `predict` without `--series-uid` refuses, listing both series and naming the option it has; with
    `--series-uid` it plans on the chosen one, the same as from that series alone. `--timezone` is taken (an
    unknown zone is refused by name)."""
    import shutil

    import pydicom

    from sirtkit.imaging import write_phantom_dicom

    folder = tmp_path / "spect_ct"
    uids = []
    for name in ("ac", "nac"):
        nm = write_phantom_dicom(phantom["phantom"], tmp_path / name, modality="NM")["nm"]  # one multi-frame file
        (folder / name).mkdir(parents=True)
        shutil.copy(nm, folder / name / nm.name)
        uids.append(str(pydicom.dcmread(nm, stop_before_pixels=True).SeriesInstanceUID))
    args = ["-s", phantom["seg"], *phantom["roles"], "--engine", "ldm", "--json"]
    refused = runner.invoke(app, ["predict", str(folder), *args, "-o", str(tmp_path / "refused")], env=ENV)
    assert refused.exit_code == 2, refused.output
    assert "--series-uid" in refused.output and all(uid in refused.output for uid in uids)
    assert not (tmp_path / "refused").exists()
    chosen = runner.invoke(app, ["predict", str(folder), *args, "--series-uid", uids[1], "--timezone",
                                 "Europe/Amsterdam", "-o", str(tmp_path / "chosen")], env=ENV)
    assert chosen.exit_code == 0, chosen.output
    alone = runner.invoke(app, ["predict", str(folder / "nac"), *args, "-o", str(tmp_path / "alone")], env=ENV)
    assert alone.exit_code == 0, alone.output
    plan = json.loads(chosen.stdout)["result"]["plan"]["plan"]
    assert plan["activity_delivered_gbq"] == json.loads(alone.stdout)["result"]["plan"]["plan"]["activity_delivered_gbq"]
    zone = runner.invoke(app, ["predict", str(folder), *args, "--series-uid", uids[1], "--timezone", "Mars/Olympus",
                               "-o", str(tmp_path / "zone")], env=ENV)
    assert zone.exit_code == 2 and "Mars/Olympus" in zone.output


def test_cli_predict_reads_times_without_offset_in_its_timezone(phantom, tmp_path):
    """`predict --timezone` applies to its own time options as in `sirtkit dose`: a planned infusion and a
    vial calibration typed without an offset are read in the zone (Europe/Amsterdam in March: +01:00, IANA database); without
    `--timezone` it is refused (exit 2) naming the option."""
    args = ["predict", phantom["counts"], "-s", phantom["seg"], *phantom["roles"], "--engine", "ldm",
            "--planned-infusion", "2026-03-02T09:30", "--vial-calibration", "2026-03-01T12:00"]
    refused = runner.invoke(app, [*args, "-o", str(tmp_path / "refused")], env=ENV)
    assert refused.exit_code == 2 and "--planned-infusion" in refused.output
    read = runner.invoke(app, [*args, "--timezone", "Europe/Amsterdam", "--json", "-o", str(tmp_path / "ok")], env=ENV)
    assert read.exit_code in (0, 1), read.output  # 1: this small phantom plan fails a vial check, not the times
    schedule = json.loads(read.stdout)["result"]["plan"]["glass_vial"]
    assert (schedule["infusion_time"], schedule["calibration_time"]) == ("2026-03-02T09:30:00+01:00",
                                                                          "2026-03-01T12:00:00+01:00")
