"""`sirtkit dose` end to end on DICOM as real scanners write it, compared with the same data as NRRD.

Issue 7 ("real-world inputs") and issue 10: every realistic series gives exit 0 with the same doses as the
NRRD of the same activity (within the DICOM storage precision), or exit 2 with a message naming the file,
attribute or option — never exit 3.

Tolerance of the DICOM-vs-NRRD comparison: 1e-3 relative on every VOI's mean dose. The PET writer stores
each slice in int16 with its own RescaleSlope (peak / 32000), so each voxel is off by at most half a
stored step (1.6e-5 of the slice peak); summed over a VOI the mean moves by < 1e-4. NM stores uint16 counts
(step = peak / 30000).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, timedelta
from pathlib import Path

import pydicom
import pytest
from typer.testing import CliRunner

from sirtkit.cli import app
from sirtkit.imaging import make_phantom, masks_to_labelmap, write_phantom_dicom, write_volume
from sirtkit.imaging.phantom import Phantom, reorient_phantom

runner = CliRunner()
ENV = {"COLUMNS": "200"}
DICOM_VS_NRRD_RTOL = 1e-3
ROLES = ["--voi-role", "label_1=normal_liver", "--voi-role", "label_2=tumor", "--voi-role", "label_3=tumor",
         "--voi-role", "label_4=lung"]


def _labelmap(phantom: Phantom, path: Path) -> Path:
    m = phantom.masks
    tumours = m["tumor_1"].array | m["tumor_2"].array
    labelmap, _ = masks_to_labelmap({"normal liver": m["liver"].with_array(m["liver"].array & ~tumours),
                                     "tumor_1": m["tumor_1"], "tumor_2": m["tumor_2"], "lung": m["lung"]})
    return write_volume(labelmap, path)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("dicom_cli")
    phantom = make_phantom(shape=(24, 32, 32), spacing_mm=(10.0, 12.0, 12.0), administered_activity_gbq=2.0)
    return {
        "phantom": phantom, "folder": folder, "seg": _labelmap(phantom, folder / "seg.nrrd"),
        "activity": write_volume(phantom.activity, folder / "activity.nrrd"),
        "counts": write_volume(phantom.activity.with_array(phantom.activity.array * 1e-3, quantity="counts",
                                                           unit="counts"), folder / "counts.nrrd"),
        "dicom": write_phantom_dicom(phantom, folder / "clean"),
    }


def _run(args: list[str], out: Path) -> tuple[int, dict | None, str]:
    result = runner.invoke(app, ["dose", *args, *ROLES, "--engine", "ldm", "-o", str(out), "--json"], env=ENV)
    doc = json.loads(result.stdout)["result"] if result.exit_code == 0 else None
    return result.exit_code, doc, result.output


def _means(doc: dict) -> dict[str, float]:
    return {v["name"]: v["metrics"]["mean_gy"] for v in doc["vois"]}


def _absolute(admin: str) -> list[str]:
    return ["--quantification", "absolute", "--administration-time", admin]


def _relative() -> list[str]:
    return ["--delivered-activity-gbq", "2.0"]


def _assert_same_doses(doc: dict, reference: dict) -> None:
    got, want = _means(doc), _means(reference)
    assert set(got) == set(want)
    for name in want:
        assert got[name] == pytest.approx(want[name], rel=DICOM_VS_NRRD_RTOL), name


@pytest.fixture(scope="module")
def nrrd_absolute(case: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    phantom = case["phantom"]
    admin = phantom.administration_time.isoformat()
    code, doc, output = _run([str(case["activity"]), "-s", str(case["seg"]), *_absolute(admin),
                              "--image-time", admin], tmp_path_factory.mktemp("ref_abs"))
    assert code == 0, output
    return doc


@pytest.fixture(scope="module")
def nrrd_relative(case: dict, tmp_path_factory: pytest.TempPathFactory) -> dict:
    code, doc, output = _run([str(case["counts"]), "-s", str(case["seg"]), *_relative()],
                             tmp_path_factory.mktemp("ref_rel"))
    assert code == 0, output
    return doc


@pytest.mark.parametrize("vendor", ["generic", "ge", "siemens", "philips"])
def test_vendor_pet_absolute_equals_nrrd(case: dict, nrrd_absolute: dict, tmp_path: Path, vendor: str) -> None:
    """Absolute Y-90 PET from each vendor style, decayed back from the true scan start: the doses equal
    the NRRD of the administration-time activity (rel 1e-3), and the activity check passes quietly."""
    phantom = case["phantom"]
    series = write_phantom_dicom(phantom, tmp_path / "dicom", vendor=vendor)["pet"]
    code, doc, output = _run([str(series), "-s", str(case["seg"]), *_absolute(phantom.administration_time.isoformat())],
                             tmp_path / "out")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_absolute)
    assert any("Absolute quantification check" in n for n in doc["notes"])
    assert (tmp_path / "out" / "rtdose.dcm").is_file()


def test_enhanced_pet_absolute_equals_nrrd(case: dict, nrrd_absolute: dict, tmp_path: Path) -> None:
    """Issue 7: an Enhanced PET object (read through highdicom) gives the NRRD's doses (rel 1e-3)."""
    from sirtkit.imaging.phantom import write_enhanced_pet

    phantom = case["phantom"]
    enhanced = write_enhanced_pet(phantom, tmp_path / "dicom" / "enhanced.dcm")
    code, doc, output = _run([str(enhanced), "-s", str(case["seg"]), *_absolute(phantom.administration_time.isoformat())],
                             tmp_path / "out")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_absolute)


def test_naive_times_relative_needs_no_clock(case: dict, nrrd_relative: dict, tmp_path: Path) -> None:
    """Issue 7.7: a PET without any timezone works in relative mode without --timezone."""
    series = write_phantom_dicom(case["phantom"], tmp_path / "dicom", write_timezone=False)["pet"]
    code, doc, output = _run([str(series), "-s", str(case["seg"]), *_relative()], tmp_path / "out")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_relative)


def test_naive_times_absolute_needs_timezone_option(case: dict, nrrd_absolute: dict, tmp_path: Path) -> None:
    """Absolute mode on naive DICOM times: exit 2 naming --timezone; with --timezone Europe/Amsterdam (CET in
    March) the doses equal the NRRD's. A naive --administration-time is read in the same zone."""
    phantom = case["phantom"]
    series = write_phantom_dicom(phantom, tmp_path / "dicom", write_timezone=False)["pet"]
    admin = phantom.administration_time
    code, _doc, output = _run([str(series), "-s", str(case["seg"]), *_absolute(admin.isoformat())], tmp_path / "a")
    assert code == 2 and "--timezone" in output and "assume_timezone" not in output
    code, doc, output = _run([str(series), "-s", str(case["seg"]), *_absolute(admin.replace(tzinfo=None).isoformat()),
                              "--timezone", "Europe/Amsterdam"], tmp_path / "b")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_absolute)
    code, _doc, output = _run([str(series), "-s", str(case["seg"]), *_absolute(admin.isoformat()),
                               "--timezone", "Mars/Olympus"], tmp_path / "c")
    assert code == 2 and "--timezone" in output


@pytest.mark.parametrize("correction", ["ADMIN", "START"])
def test_scan_days_later_with_time_only_injection(case: dict, nrrd_absolute: dict, tmp_path: Path,
                                                  correction: str) -> None:
    """Issue 7.7: injection time without a date (TM), scan 74 h later: the dates come from the scan
    (START) or from --administration-time (ADMIN), never from guessing — same doses as NRRD (rel 1e-3)."""
    phantom = case["phantom"]
    series = write_phantom_dicom(phantom, tmp_path / "dicom", decay_correction=correction, acquisition_delay_h=74.0,
                                 radiopharmaceutical_time_only=True)["pet"]
    code, doc, output = _run([str(series), "-s", str(case["seg"]), *_absolute(phantom.administration_time.isoformat())],
                             tmp_path / "out")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_absolute)


def test_nm_tilted_feet_first_equals_nrrd(case: dict, tmp_path: Path) -> None:
    """Multi-frame NM (counts) from a tilted detector, stored feet-first, GE negative spacing: relative
    doses equal those of the same grid given as NRRD (rel 1e-3)."""
    phantom = reorient_phantom(case["phantom"], tilt_deg=12.0, feet_first=True)
    nm = write_phantom_dicom(phantom, tmp_path / "dicom", modality="NM", nm_negative_spacing=True)["nm"]
    seg = _labelmap(phantom, tmp_path / "seg.nrrd")
    counts = write_volume(phantom.activity.with_array(phantom.activity.array, quantity="counts", unit="counts"),
                          tmp_path / "counts.nrrd")
    code, reference, output = _run([str(counts), "-s", str(seg), *_relative()], tmp_path / "ref")
    assert code == 0, output
    code, doc, output = _run([str(nm), "-s", str(seg), *_relative()], tmp_path / "out")
    assert code == 0, output
    _assert_same_doses(doc, reference)


def test_missing_study_id_and_time_still_writes_everything(case: dict, nrrd_relative: dict, tmp_path: Path) -> None:
    """Issue 10: a series without StudyID and StudyTime (Type 2) is dosed and its DICOM outputs written."""
    folder = tmp_path / "pet"
    shutil.copytree(case["dicom"]["pet"], folder)
    for f in folder.iterdir():
        ds = pydicom.dcmread(f)
        del ds.StudyID, ds.StudyTime
        ds.save_as(f)
    code, doc, output = _run([str(folder), "-s", str(case["seg"]), *_relative()], tmp_path / "out")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_relative)
    assert any("StudyID" in n for n in doc["notes"])


def test_slice_order_contradiction_is_a_json_warning(case: dict, tmp_path: Path) -> None:
    """Issue 10: positions that disagree with instance numbers are reported in the JSON warnings."""
    folder = tmp_path / "pet"
    shutil.copytree(case["dicom"]["pet"], folder)
    a, b = pydicom.dcmread(folder / "pet_0010.dcm"), pydicom.dcmread(folder / "pet_0011.dcm")
    a.InstanceNumber, b.InstanceNumber = b.InstanceNumber, a.InstanceNumber
    a.save_as(folder / "pet_0010.dcm")
    b.save_as(folder / "pet_0011.dcm")
    code, doc, output = _run([str(folder), "-s", str(case["seg"]), *_relative()], tmp_path / "out")
    assert code == 0, output
    assert any("InstanceNumber" in w for w in doc["warnings"])


def test_mixed_folder_picks_the_emission_or_needs_series_uid(case: dict, nrrd_relative: dict, tmp_path: Path) -> None:
    """Issue 7.7: a PET/CT export folder (one PET, one CT) yields its PET series (noted); with two PET series
    the run stops naming --series-uid, and --series-uid picks one — doses equal the NRRD's (rel 1e-3)."""
    folder = tmp_path / "mixed"
    shutil.copytree(case["dicom"]["pet"], folder / "pet")
    shutil.copytree(case["dicom"]["ct"], folder / "ct")
    code, doc, output = _run([str(folder), "-s", str(case["seg"]), *_relative()], tmp_path / "a")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_relative)
    assert any("only PT/NM series" in n for n in doc["notes"])
    code, doc, output = _run([str(folder), "-s", str(case["seg"]), *_relative(), "--ct", str(folder)], tmp_path / "ct")
    assert code == 0, output  # --ct on the same folder reads its CT series (lung mass from it)
    write_phantom_dicom(case["phantom"], tmp_path / "second", vendor="siemens")
    shutil.copytree(tmp_path / "second" / "pet", folder / "pet2")
    code, _doc, output = _run([str(folder), "-s", str(case["seg"]), *_relative()], tmp_path / "b")
    assert code == 2 and "--series-uid" in output and "series_instance_uid" not in output
    uid = str(pydicom.dcmread(next((folder / "pet").iterdir())).SeriesInstanceUID)
    code, doc, output = _run([str(folder), "-s", str(case["seg"]), *_relative(), "--series-uid", uid], tmp_path / "c")
    assert code == 0, output
    _assert_same_doses(doc, nrrd_relative)


def _without_slope(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    victim = target / "pet_0007.dcm"
    ds = pydicom.dcmread(victim)
    del ds.RescaleSlope
    ds.save_as(victim)
    return target


@pytest.mark.parametrize(
    ("what", "words"),
    [
        ("ct_as_emission", ["CT", "--ct"]),
        ("pet_without_slope", ["pet_0007.dcm", "RescaleSlope"]),
        ("f18_setup", ["RadionuclideHalfLife", "6586"]),
        ("cnts_absolute", ["7053,1009", "--quantification relative"]),
        ("mci_as_gbq", ["--delivered-activity-gbq", "mCi"]),
        ("ho166_expected", ["Ho-166"]),
    ],
)
def test_refusals_exit_2(case: dict, tmp_path: Path, what: str, words: list[str]) -> None:
    """Issue 7.5 / 7.7: impossible scaling, wrong modality, wrong units, wrong nuclide set-up and an
    activity off by a factor > 10 are refused with exit 2 and a message naming file, tag or option."""
    phantom: Phantom = case["phantom"]
    admin = phantom.administration_time.isoformat()
    seg = ["-s", str(case["seg"])]
    if what == "ct_as_emission":
        args = [str(case["dicom"]["ct"]), *seg, *_relative()]
    elif what == "pet_without_slope":
        args = [str(_without_slope(case["dicom"]["pet"], tmp_path / "pet")), *seg, *_relative()]
    elif what == "f18_setup":
        args = [str(write_phantom_dicom(phantom, tmp_path / "d", pet_half_life_s=6586.0)["pet"]), *seg, *_relative()]
    elif what == "cnts_absolute":
        args = [str(write_phantom_dicom(phantom, tmp_path / "d", as_counts=True)["pet"]), *seg, *_absolute(admin)]
    elif what == "mci_as_gbq":
        args = [str(case["dicom"]["pet"]), *seg, *_absolute(admin), "--delivered-activity-gbq", "27"]
    else:
        args = [str(case["dicom"]["pet"]), *seg, *_relative(), "--nuclide", "Ho-166"]
    out = tmp_path / "out"
    code, _doc, output = _run(args, out)
    assert code == 2, output
    flat = " ".join(output.split())
    for word in words:
        assert word in flat, (word, flat)
    assert not out.exists()


def test_activity_mismatch_beyond_tolerance_warns(case: dict, tmp_path: Path) -> None:
    """The image holds 2.0 GBq at administration; a stated 1.5 GBq is 133 %: outside ±25 %, a warning."""
    phantom = case["phantom"]
    code, doc, output = _run([str(case["dicom"]["pet"]), "-s", str(case["seg"]),
                              *_absolute(phantom.administration_time.isoformat()), "--delivered-activity-gbq", "1.5"],
                             tmp_path / "out")
    assert code == 0, output
    assert any("133 %" in w for w in doc["warnings"])


def test_injection_time_disagreement_warns(case: dict, tmp_path: Path) -> None:
    """DICOM RadiopharmaceuticalStartDateTime vs --administration-time one day apart: a warning."""
    phantom = case["phantom"]
    later = (phantom.administration_time + timedelta(days=1)).astimezone(UTC).isoformat()
    code, doc, output = _run([str(case["dicom"]["pet"]), "-s", str(case["seg"]), *_absolute(later),
                              "--image-time", (phantom.administration_time + timedelta(days=2)).isoformat()],
                             tmp_path / "out")
    assert code == 0, output
    assert any("RadiopharmaceuticalStartDateTime" in w for w in doc["warnings"])


def test_error_messages_are_bounded(tmp_path: Path) -> None:
    """Issue 10: an error quoting a huge value prints at most MAX_MESSAGE_CHARS (+ a short tail)."""
    import typer

    from sirtkit.cli._common import MAX_MESSAGE_CHARS, handle_errors
    from sirtkit.errors import InputError

    @handle_errors
    def fails() -> None:
        raise InputError("x" * 5_000_000)

    app_ = typer.Typer()
    app_.command()(fails)
    result = runner.invoke(app_, [], env=ENV)
    assert result.exit_code == 2
    assert len(result.output) < MAX_MESSAGE_CHARS + 500
