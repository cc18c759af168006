"""The `sirtkit` command uses the second core (issue 9: inputs read ahead, report stack imported in the
background) and its own allocator settings: its files are the same as when everything runs in order
(`SIRTKIT_SERIAL=1`), and an NRRD dose imports no DICOM library.

Whole processes (the console entry point `sirtkit.cli.main`, which enables the concurrency); the tolerance is
none: every data file and figure byte-identical, JSON and HTML identical but for the run's own time stamp
and output paths.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sirtkit.imaging import sample_path

SRC = str(Path(__file__).resolve().parents[2] / "src")
_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d|# on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\(GMT\)")
_RUN = ("import sys\nsys.argv = ['sirtkit', *sys.argv[1:]]\nfrom sirtkit.cli import main\n"
        "try:\n    main()\nfinally:\n    print('MODULES', sorted(m for m in ('pydicom', 'highdicom') if m in sys.modules), "
        "file=sys.stderr)\n"
        "    print('WORKER', sorted(m for m in ('matplotlib',) if m in sys.modules), file=sys.stderr)\n")


def _sirtkit(out: Path, serial: bool, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "SIRTKIT_SERIAL": "1" if serial else "0", "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-c", _RUN, *args, "-o", str(out)], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def _normalised(path: Path, root: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix in (".json", ".html", ".nrrd"):
        data = _STAMP.sub("T", data.decode("utf-8", errors="surrogateescape").replace(str(root), "OUT")).encode(
            "utf-8", errors="surrogateescape")
    return data


@pytest.mark.parametrize(("command", "args"), [
    ("dose", [str(sample_path("patient_1_pet")), "-s", str(sample_path("patient_1_seg")),
              "--delivered-activity-gbq", "1.4", "--voi-role", "Normal Tissue=normal_liver"]),
    ("predict", [str(sample_path("patient_2_spect")), "-s", str(sample_path("patient_2_seg")), "--device", "glass",
                 "--intent", "palliative", "--lung-shunt-fraction", "0.06"]),
])
def test_concurrent_run_writes_the_same_files_as_a_serial_one(tmp_path: Path, command: str, args: list[str]) -> None:
    concurrent = _sirtkit(tmp_path / "c", False, command, *args)
    serial = _sirtkit(tmp_path / "s", True, command, *args)
    assert concurrent.returncode == serial.returncode == 0, concurrent.stderr + serial.stderr
    names = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "s").iterdir())
    assert {"dose.nrrd", "dose_slices.png", "dvh.png", "report.html"} <= set(names)
    for name in names:
        a, b = tmp_path / "c" / name, tmp_path / "s" / name
        if name == ".sirtkit-output.json":
            continue  # the manifest names its own run
        assert _normalised(a, tmp_path / "c") == _normalised(b, tmp_path / "s"), name
    assert json.loads((tmp_path / "c" / "dosimetry.json").read_text())["dosimetry"]["vois"]
    assert "MODULES []" in concurrent.stderr, concurrent.stderr[-500:]  # NRRD in, no DICOM library loaded
    # The worker process drew the figures: the command's own process did not import matplotlib (the serial
    # run did).
    assert "WORKER []" in concurrent.stderr, concurrent.stderr[-500:]
    assert "WORKER ['matplotlib']" in serial.stderr, serial.stderr[-500:]


def test_concurrent_compare_writes_the_same_files_as_a_serial_one(tmp_path: Path) -> None:
    """`sirtkit compare` draws its two figures in the worker process: the same files as in order."""
    import numpy as np

    from sirtkit.dosimetry import dose_ldm
    from sirtkit.imaging import make_phantom, masks_to_labelmap, write_volume

    p = make_phantom(shape=(32, 48, 48), spacing_mm=(6.0, 6.0, 6.0))
    dose = dose_ldm(p.activity)
    labelmap, _ = masks_to_labelmap({"liver": p.masks["liver"], "tumor_1": p.masks["tumor_1"]})
    args = ["compare", str(write_volume(dose, tmp_path / "pred.nrrd")),
            str(write_volume(dose.with_array(dose.array.astype(np.float64) * 1.1), tmp_path / "deli.nrrd")),
            "-s", str(write_volume(labelmap, tmp_path / "seg.nrrd")), "--voi-role", "label_1=liver",
            "--voi-role", "label_2=tumor"]
    concurrent = _sirtkit(tmp_path / "run_c", False, *args)
    serial = _sirtkit(tmp_path / "run_s", True, *args)
    assert concurrent.returncode == serial.returncode == 0, concurrent.stderr + serial.stderr
    names = sorted(p.name for p in (tmp_path / "run_c").iterdir() if p.name != ".sirtkit-output.json")
    assert {"dvh_comparison.png", "gamma_slices.png", "compare_report.html"} <= set(names)
    for name in names:
        assert _normalised(tmp_path / "run_c" / name, tmp_path / "run_c") == _normalised(tmp_path / "run_s" / name,
                                                                               tmp_path / "run_s"), name


def test_concurrent_demo_writes_the_same_files_as_a_serial_one(tmp_path: Path) -> None:
    """`sirtkit demo` (the README's first command) draws its four figures in the worker process: the same
    files as in order."""
    concurrent = _sirtkit(tmp_path / "run_c", False, "demo")
    serial = _sirtkit(tmp_path / "run_s", True, "demo")
    assert concurrent.returncode == serial.returncode == 0, concurrent.stderr + serial.stderr
    names = sorted(p.name for p in (tmp_path / "run_c").iterdir() if p.name != ".sirtkit-output.json")
    assert {"plan_dose_slices.png", "post_dvh.png", "post_report.html"} <= set(names)
    for name in names:
        assert _normalised(tmp_path / "run_c" / name, tmp_path / "run_c") == _normalised(
            tmp_path / "run_s" / name, tmp_path / "run_s"), name
    assert "WORKER []" in concurrent.stderr, concurrent.stderr[-500:]


def test_ctrl_c_while_the_command_starts_ends_quietly_with_130() -> None:
    """Ctrl-C while the command's modules are still importing (before `main()` runs): status 130 and one
    line, not Python's traceback from inside an import; once `main()` runs, Ctrl-C is a KeyboardInterrupt again."""
    code = ("import os, signal, sys\nsys.argv = ['sirtkit', 'dose', '--help']\nimport sirtkit.cli\n"
            "assert signal.getsignal(signal.SIGINT) is sirtkit.cli._interrupted_while_starting\n"
            "os.kill(os.getpid(), signal.SIGINT)\nimport time\ntime.sleep(5)\nprint('not interrupted')\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC}, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "sirtkit: interrupted\n" and "not interrupted" not in done.stdout
    restored = ("import signal, sys\nsys.argv = ['sirtkit', '--version']\nfrom sirtkit.cli import main\n"
                "try:\n    main()\nexcept SystemExit:\n    pass\n"
                "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)\n")
    after = subprocess.run([sys.executable, "-c", restored], env={**os.environ, "PYTHONPATH": SRC},
                           capture_output=True, text=True, timeout=120, check=False)
    assert after.stdout.strip().endswith("True"), after.stdout + after.stderr
