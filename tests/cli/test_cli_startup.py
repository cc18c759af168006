"""Start-up of the `sirtkit` command line: lazy commands, imports per command, closed pipes, bounded
and sanitised messages (issue 9 start-up goal; issue 8 items 16 and 18; issue 10 bounded messages).

Import checks look at ``sys.modules`` in a fresh interpreter (no timing assertions: timings are in
``benchmarks/bench_startup.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sirtkit.cli import COMMANDS, app, load_command
from sirtkit.cli._common import handle_errors
from sirtkit.errors import InputError

REPO = Path(__file__).resolve().parents[2]
PATIENTS = REPO / "examples" / "patients"
SRC = str(REPO / "src")
runner = CliRunner()

# Heavy stacks a command must not import unless it uses them.
HEAVY = ("matplotlib", "highdicom", "nibabel", "scipy.signal", "scipy", "SimpleITK", "pydicom", "pandas")


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "100"}
    return subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _loaded_after(code: str) -> set[str]:
    probe = _python(code + f"\nimport sys, json; print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))")
    assert probe.returncode == 0, probe.stderr
    return set(json.loads(probe.stdout.strip().splitlines()[-1]))


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", list(COMMANDS))
def test_listed_help_is_the_commands_own(name: str) -> None:
    """`sirtkit --help` lists COMMANDS without importing the command modules: the table must say what
    each command's own help says."""
    assert load_command(name).help == COMMANDS[name][1]


def test_help_and_workup_import_no_heavy_stack() -> None:
    """`sirtkit --help` and `sirtkit workup` import no imaging, plotting, DICOM or dataframe library."""
    run = ("import sys\nsys.argv = ['sirtkit', *sys.argv[1:]]\nfrom sirtkit.cli import main\n"
           "try:\n    main()\nexcept SystemExit:\n    pass\n")
    patient = str(PATIENTS / "nelm_eligible_midgut.yaml")
    assert _loaded_after(run.replace("sys.argv[1:]", "['--help']")) == set()
    assert _loaded_after(run.replace("sys.argv[1:]", f"['workup', {patient!r}]")) == set()


def test_nrrd_dose_path_imports_no_dicom_nifti_or_plot_stack() -> None:
    """Reading an NRRD and a .seg.nrrd onto it (the `sirtkit dose` inputs) needs none of highdicom,
    pydicom, nibabel, SimpleITK or matplotlib."""
    loaded = _loaded_after(
        "from sirtkit.imaging import read_segmentation, read_volume, sample_path\n"
        "import sirtkit.workflows.posttreatment\n"
        "pet = read_volume(sample_path('patient_1_pet'))\n"
        "read_segmentation(sample_path('patient_1_seg'), reference=pet)\n")
    assert loaded.isdisjoint({"highdicom", "pydicom", "nibabel", "SimpleITK", "matplotlib", "pandas"}), loaded


def _sirtkit_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run `sirtkit ARGS | head -0`: the reader has closed the pipe before sirtkit writes anything."""
    env = {**os.environ, "PYTHONPATH": SRC}
    code = "import sys; sys.argv[0] = 'sirtkit'; from sirtkit.cli import main; sys.exit(main())"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()  # the only reader goes away at once: every write of sirtkit's meets a closed pipe
    _, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, b"", err)


@pytest.mark.parametrize(("patient", "status"), [("nelm_eligible_midgut.yaml", 0),
                                                 ("nelm_contraindicated_bilirubin_ascites.yaml", 1)])
def test_closed_pipe_keeps_the_commands_own_status(patient: str, status: int) -> None:
    """`sirtkit workup ... | head -1` exits with the command's status (0 eligible, 1 contraindicated),
    not click's 1 "broken pipe" nor a traceback (Python docs, signal module, "Note on SIGPIPE")."""
    done = _sirtkit_into_closed_pipe("workup", str(PATIENTS / patient), "--all")
    assert done.returncode == status, done.stderr.decode()
    assert b"BrokenPipe" not in done.stderr and b"Exception ignored" not in done.stderr


def test_closed_pipe_with_head_in_a_shell() -> None:
    """The issue's own example through a real shell pipe."""
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = (f"{sys.executable} -c \"import sys; sys.argv[0] = 'sirtkit'; from sirtkit.cli import main; "
           f"sys.exit(main())\" workup {PATIENTS / 'nelm_eligible_midgut.yaml'} --json | head -1; "
           "exit ${PIPESTATUS[0]}")
    done = subprocess.run(["bash", "-c", cmd], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{"


def test_control_characters_in_a_patient_id_are_shown_not_obeyed(tmp_path: Path) -> None:
    """An ID holding ESC [2J (clear screen) and an OSC window title reaches the terminal as visible text."""
    text = (PATIENTS / "nelm_eligible_midgut.yaml").read_text(encoding="utf-8")
    patient = tmp_path / "p.yaml"
    patient.write_text(text.replace("patient_id: NELM-EX-001", 'patient_id: "NELM\\e[2J\\e]0;owned\\aX"'),
                       encoding="utf-8")
    result = runner.invoke(app, ["workup", str(patient)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert "NELM\\x1b[2J\\x1b]0;owned\\x07X" in result.output


def test_a_24_mb_message_is_cut_before_printing(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10: an error quoting 24 MB of coordinates is cut to a readable length, saying so."""
    import typer

    @handle_errors
    def command() -> None:
        raise InputError("contour points: " + "12.5\\-3.25\\" * 2_000_000)

    with pytest.raises(typer.Exit) as done:
        command()
    assert done.value.exit_code == 2
    err = capsys.readouterr().err
    assert len(err) < 4000
    assert "characters in all" in err and "contour points" in err
