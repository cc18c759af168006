"""`sirtkit dose` / `predict` with an RTSTRUCT drawn on a CT of another slice spacing than the PET.

The scene (:func:`sirtkit.imaging.phantom.make_contoured_phantom`): CT with 1.5 mm slices and 2 mm pixels,
Y-90 PET with 4 mm voxels and other slice positions, one PET/CT study; RTSTRUCT contours on the CT planes
(liver with a vessel hole on every slice, two tumours, lungs as two islands per slice). The same structures
as an NRRD label map on the CT grid are the reference: the issue's bug (contours filled on the PET grid)
shrank the liver to 50–80 % and raised every dose 1.7–2×.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sirtkit.cli import app
from sirtkit.imaging import write_volume
from sirtkit.imaging.phantom import (
    RTSTRUCT_CONTOUR_MUTATIONS,
    make_contoured_phantom,
    mutate_rtstruct_contour,
    write_ct_pet_dicom,
    write_rtstruct_dicom,
)

runner = CliRunner()
ENV = {"COLUMNS": "200"}
# RTSTRUCT and label-map runs use the same PET; they differ only by the contours → mask conversion.
# Volumes on the dose grid and mean doses agree within 1 % (tumours 2 %: a 4 mL sphere has ~60 PET voxels).
VOLUME_RTOL = {"Liver": 0.01, "Normal liver": 0.01, "Lungs": 0.01, "Tumor 1": 0.02, "Tumor 2": 0.02}


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rtstruct_case")
    phantom = make_contoured_phantom()
    files = write_ct_pet_dicom(phantom.ct, phantom.activity, folder / "study", administered_activity_gbq=2.0)
    files["rtstruct"] = write_rtstruct_dicom(folder / "study" / "rtstruct" / "rs.dcm",
                                             {**phantom.contours, "Gallbladder": []}, ct_folder=files["ct"])
    files["labels"] = write_volume(phantom.labelmap, folder / "labels.nrrd")
    return files


def _dose(args: list[str]) -> tuple[int, dict, str]:
    result = runner.invoke(app, ["dose", *args, "--json"], env=ENV)
    doc = json.loads(result.stdout) if result.exit_code == 0 else {}
    return result.exit_code, doc, result.output


def test_dose_rtstruct_equals_label_map(case: dict[str, Path], tmp_path: Path) -> None:
    """RTSTRUCT with --ct versus the same structures as an NRRD label map: per-VOI volumes on the dose grid
    and mean doses within VOLUME_RTOL, the relative-quantification scale factor within 0.5 %; the JSON
    warnings carry the empty ROI and the volume change of the small tumour; provenance lists every VOI's
    volume on its own grid and on the dose grid."""
    common = ["--delivered-activity-gbq", "2.0", "--engine", "ldm"]
    code, rt, output = _dose([str(case["pet"]), "-s", str(case["rtstruct"]), "--ct", str(case["ct"]),
                              "-o", str(tmp_path / "rt"), *common])
    assert code == 0, output
    roles = ["label_1=normal_liver", "label_2=tumor", "label_3=tumor", "label_4=lung"]
    code, nrrd, output = _dose([str(case["pet"]), "-s", str(case["labels"]), "--ct", str(case["ct"]),
                                "-o", str(tmp_path / "nrrd"), *common,
                                *[a for r in roles for a in ("--voi-role", r)]])
    assert code == 0, output
    ours = {v["name"]: v["metrics"] for v in rt["result"]["vois"]}
    theirs = {v["name"]: v["metrics"] for v in nrrd["result"]["vois"]}
    pairs = {"Normal liver": "label_1", "Tumor 1": "label_2", "Tumor 2": "label_3", "Lungs": "label_4"}
    for mine, reference in pairs.items():
        rtol = VOLUME_RTOL[mine]
        assert ours[mine]["volume_ml"] == pytest.approx(theirs[reference]["volume_ml"], rel=rtol), mine
        assert ours[mine]["mean_gy"] == pytest.approx(theirs[reference]["mean_gy"], rel=rtol), mine
    assert rt["result"]["activity"]["scale_factor"] == pytest.approx(nrrd["result"]["activity"]["scale_factor"],
                                                                     rel=0.005)
    warnings = rt["result"]["warnings"]
    assert any("'Gallbladder'" in w and "not used" in w for w in warnings)
    assert any("'Tumor 2'" in w and "dose grid" in w for w in warnings)
    volumes = {v["name"]: v for v in rt["result"]["provenance"]["voi_volumes_ml"]}
    assert set(volumes) == {"Liver", "Tumor 1", "Tumor 2", "Lungs"}
    assert volumes["Liver"]["dose_grid_ml"] == pytest.approx(volumes["Liver"]["own_grid_ml"], rel=0.02)


def test_dose_rtstruct_finds_the_ct_in_the_study_folder(case: dict[str, Path], tmp_path: Path) -> None:
    """Without --ct the referenced CT series is found next to the RTSTRUCT (study folder) and said so."""
    code, doc, output = _dose([str(case["pet"]), "-s", str(case["rtstruct"]), "--delivered-activity-gbq", "2.0",
                               "--engine", "ldm", "-o", str(tmp_path / "o")])
    assert code == 0, output
    assert any("found in" in n for n in doc["result"]["notes"])


def test_dose_rtstruct_without_its_image_exit_2(case: dict[str, Path], tmp_path: Path) -> None:
    """RTSTRUCT alone and the PET series copied apart from its CT, no --ct: exit 2 naming the file and --ct;
    nothing written."""
    alone = tmp_path / "only" / "rs.dcm"
    alone.parent.mkdir()
    shutil.copy(case["rtstruct"], alone)
    pet = shutil.copytree(case["pet"], tmp_path / "pet_study" / "pet")
    out = tmp_path / "never"
    result = runner.invoke(app, ["dose", str(pet), "-s", str(alone), "--delivered-activity-gbq", "2.0",
                                 "--engine", "ldm", "-o", str(out)], env=ENV)
    assert result.exit_code == 2, result.output
    assert "--ct" in result.output and "rs.dcm" in result.output
    assert not out.exists()


@pytest.mark.parametrize("mutation", sorted(RTSTRUCT_CONTOUR_MUTATIONS))
def test_dose_malformed_rtstruct_exit_2_bounded(case: dict[str, Path], tmp_path: Path, mutation: str) -> None:
    """Issue 10: a malformed contour (also inside > 64 KB of VR UN Contour Data) is exit 2 with a short
    message naming the file and the ROI — never exit 3, never a hang printing megabytes of coordinates."""
    bad = mutate_rtstruct_contour(case["rtstruct"], tmp_path / "bad.dcm", mutation,
                               big=mutation not in ("empty", "missing"))
    result = runner.invoke(app, ["dose", str(case["pet"]), "-s", str(bad), "--ct", str(case["ct"]),
                                 "--delivered-activity-gbq", "2.0", "--engine", "ldm", "-o", str(tmp_path / "o")],
                           env=ENV)
    assert result.exit_code == 2, result.output
    assert "bad.dcm" in result.output and "Liver" in result.output
    assert len(result.output) < 2000 and "12.345678" not in result.output


def test_predict_takes_rtstruct_with_ct(case: dict[str, Path], tmp_path: Path) -> None:
    """`predict --ct` with the RTSTRUCT: compartments measured on the CT-grid masks (tumour volumes within
    2 % of 4/3·π·r³: 14.14 and 4.19 mL), predicted dose map written (exit 0, or 1 for a hard limit)."""
    result = runner.invoke(app, ["predict", str(case["pet"]), "-s", str(case["rtstruct"]), "--ct", str(case["ct"]),
                                 "--engine", "ldm", "-o", str(tmp_path / "plan"), "--json"], env=ENV)
    assert result.exit_code in (0, 1), result.output
    doc = json.loads(result.stdout)["result"]
    volumes = {c["name"]: c["volume_ml"] for c in doc["measured_compartments"]}
    assert volumes["Tumor 1"] == pytest.approx(4 / 3 * 3.141592653589793 * 15.0**3 / 1000, rel=0.02)
    assert volumes["Tumor 2"] == pytest.approx(4 / 3 * 3.141592653589793 * 10.0**3 / 1000, rel=0.02)
    assert any("'Gallbladder'" in w for w in doc["warnings"])


def test_compare_takes_rtstruct_with_ct(case: dict[str, Path], tmp_path: Path) -> None:
    """`compare --ct` reads the RTSTRUCT on its CT; a dose map compared with itself differs by 0 Gy in every
    VOI, and the segmentation warnings reach the JSON."""
    code, _, output = _dose([str(case["pet"]), "-s", str(case["rtstruct"]), "--ct", str(case["ct"]),
                             "--delivered-activity-gbq", "2.0", "--engine", "ldm", "-o", str(tmp_path / "d")])
    assert code == 0, output
    dose = str(tmp_path / "d" / "dose.nrrd")
    result = runner.invoke(app, ["compare", dose, dose, "-s", str(case["rtstruct"]), "--ct", str(case["ct"]),
                                 "-o", str(tmp_path / "c"), "--json"], env=ENV)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)["result"]
    assert any("'Gallbladder'" in w for w in doc["warnings"])
    text = json.dumps(doc)
    assert '"Tumor 1"' in text and '"Liver"' in text


def test_dose_rtstruct_elsewhere_finds_the_ct_in_the_emission_study(case: dict[str, Path], tmp_path: Path) -> None:
    """RTSTRUCT kept apart from the images but beside other files: the referenced CT is found in the study
    folder above the emission series."""
    apart = tmp_path / "exports" / "rs.dcm"
    apart.parent.mkdir()
    shutil.copy(case["rtstruct"], apart)
    (apart.parent / "notes.txt").write_text("not DICOM")
    code, doc, output = _dose([str(case["pet"]), "-s", str(apart), "--delivered-activity-gbq", "2.0",
                               "--engine", "ldm", "-o", str(tmp_path / "o")])
    assert code == 0, output
    assert any("found in" in n and str(case["ct"]) in n for n in doc["result"]["notes"])
