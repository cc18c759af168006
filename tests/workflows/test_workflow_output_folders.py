"""Output folders (issue 7 item 9): replaced as a whole, never mixed, foreign folders refused without
--force, interrupted runs leave no staging folder behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sirtkit._outdir import MANIFEST_NAME, remove_stale_staging, staged_output
from sirtkit.cli import app
from sirtkit.errors import InputError

runner = CliRunner()
ENV = {"COLUMNS": "200"}
SRC = str(Path(__file__).resolve().parents[2] / "src")


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".staging-" in p.name or ".old-" in p.name)


def test_rerun_replaces_the_whole_file_set(tmp_path: Path) -> None:
    """A second run into the same folder leaves only its own files (an old RTDOSE/PDF does not survive)."""
    out = tmp_path / "out"
    with staged_output(out, kind="dose") as stage:
        (stage / "rtdose.dcm").write_bytes(b"old")
        (stage / "report.pdf").write_bytes(b"old")
        (stage / "report.html").write_text("old")
    with staged_output(out, kind="dose") as stage:
        (stage / "report.html").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "report.html"]
    assert (out / "report.html").read_text() == "new"
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert manifest["written_by"] == "sirtkit" and manifest["files"] == ["report.html"]
    assert _leftovers(tmp_path) == []


def test_files_not_in_the_manifest_are_named_and_kept(tmp_path: Path) -> None:
    """QA finding 2: a sirtkit folder that also holds the user's files (a scanned signed sheet, notes, a
    sub-folder) is refused without force, naming them, and left untouched; with force it is replaced."""
    out = tmp_path / "out"
    with staged_output(out, kind="plan") as stage:
        (stage / "plan_sheet.pdf").write_bytes(b"pdf")
        (stage / "figures").mkdir()
        (stage / "figures" / "dvh.png").write_bytes(b"png")
    (out / "signed_sheet.pdf").write_bytes(b"scan")
    (out / "figures" / "my_annotated.png").write_bytes(b"mine")
    (out / "notes").mkdir()
    with pytest.raises(InputError) as err, staged_output(out, kind="plan") as stage:
        (stage / "plan_sheet.pdf").write_bytes(b"new")
    message = str(err.value)
    assert "3 item(s)" in message
    for name in ("signed_sheet.pdf", "figures/my_annotated.png", "notes/", "--force"):
        assert name in message
    assert (out / "signed_sheet.pdf").read_bytes() == b"scan" and (out / "plan_sheet.pdf").read_bytes() == b"pdf"
    with staged_output(out, kind="plan", force=True) as stage:
        (stage / "plan_sheet.pdf").write_bytes(b"new")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "plan_sheet.pdf"]
    assert _leftovers(tmp_path) == []


def test_failed_run_leaves_previous_results(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with staged_output(out) as stage:
        (stage / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), staged_output(out) as stage:
        (stage / "b.txt").write_text("half")
        raise RuntimeError("boom")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "a.txt"]
    assert _leftovers(tmp_path) == []


def test_foreign_folder_refused_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("precious")
    with pytest.raises(InputError, match="--force"), staged_output(out) as stage:
        (stage / "x").write_text("x")
    assert (out / "thesis.docx").read_text() == "precious" and _leftovers(tmp_path) == []
    with staged_output(out, force=True) as stage:
        (stage / "x").write_text("x")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "x"]


def test_force_never_replaces_the_working_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "work"
    (work / "inputs").mkdir(parents=True)
    (work / "inputs" / "pet.nrrd").write_text("data")
    monkeypatch.chdir(work / "inputs")
    with pytest.raises(InputError, match="working folder"), staged_output(work, force=True):
        pass
    assert (work / "inputs" / "pet.nrrd").exists()


def test_nested_writers_share_one_file_set(tmp_path: Path) -> None:
    """`demo` writes a plan and a dose report into one folder: one staging, one manifest, both sets."""
    out = tmp_path / "demo"
    with staged_output(out, kind="demo") as stage:
        with staged_output(stage, kind="plan") as inner:
            assert inner == stage
            (inner / "plan_report.html").write_text("p")
        with staged_output(stage, kind="dose") as inner:
            (inner / "post_report.html").write_text("d")
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "plan_report.html", "post_report.html"]
    assert json.loads((out / MANIFEST_NAME).read_text())["kind"] == "demo"


def test_stale_staging_of_dead_runs_removed(tmp_path: Path) -> None:
    """Staging folders of a run that was SIGKILLed (its process is gone) are removed by the next run;
    those of a live process are left alone."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".out.staging-{dead_pid}-abc123"
    stale.mkdir()
    (stale / "half.nrrd").write_text("x")
    live = tmp_path / f".out.staging-{os.getpid()}-zzz999"
    live.mkdir()
    with staged_output(tmp_path / "out") as stage:
        (stage / "a").write_text("a")
    assert not stale.exists() and live.exists()
    assert remove_stale_staging(tmp_path / "out") == []


_CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {src!r})
    from sirtkit._outdir import staged_output
    with staged_output({out!r}) as stage:
        (stage / "partial.nrrd").write_text("half")
        print("ready", flush=True)
        time.sleep(600)
""")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_run_leaves_no_staging(tmp_path: Path, signum: int) -> None:
    """SIGTERM (or Ctrl-C) while results are being written: the process exits, its staging folder is gone
    and the earlier results are untouched."""
    out = tmp_path / "out"
    with staged_output(out) as stage:
        (stage / "earlier.txt").write_text("earlier")
    child = subprocess.Popen([sys.executable, "-c", _CHILD.format(src=SRC, out=str(out))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    assert any(".staging-" in p.name for p in tmp_path.iterdir())
    child.send_signal(signum)
    child.communicate(timeout=120)
    assert child.returncode != 0
    assert _leftovers(tmp_path) == []
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "earlier.txt"]


@pytest.fixture(scope="module")
def nrrd_case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from sirtkit.imaging import make_phantom, masks_to_labelmap, write_volume

    folder = tmp_path_factory.mktemp("outcase")
    p = make_phantom(shape=(20, 32, 32), spacing_mm=(8.0, 8.0, 8.0))
    labelmap, _ = masks_to_labelmap({"liver": p.masks["liver"]})
    return {"pet": write_volume(p.activity, folder / "pet.nrrd"), "seg": write_volume(labelmap, folder / "seg.nrrd")}


def _dose(nrrd_case: dict[str, Path], out: Path, *extra: str) -> object:
    return runner.invoke(app, ["dose", str(nrrd_case["pet"]), "-s", str(nrrd_case["seg"]), "--voi-role",
                               "label_1=liver", "--delivered-activity-gbq", "1.5", "--engine", "ldm", "-o", str(out),
                               *extra], env=ENV)


def test_cli_dose_rerun_and_foreign_folder(tmp_path: Path, nrrd_case: dict[str, Path]) -> None:
    """`sirtkit dose` twice into one --out: only the second file set; a foreign non-empty folder: exit 2 with
    nothing touched, then replaced with --force."""
    out = tmp_path / "out"
    first = _dose(nrrd_case, out)
    assert first.exit_code == 0, first.output
    (out / "extra_user_note.txt").write_text("physicist's note, not sirtkit's")
    refused_rerun = _dose(nrrd_case, out)  # QA finding 2: the user's file would be deleted silently
    assert refused_rerun.exit_code == 2, refused_rerun.output
    assert "extra_user_note.txt" in refused_rerun.output and "--force" in refused_rerun.output
    assert (out / "extra_user_note.txt").is_file()
    second = _dose(nrrd_case, out, "--force")
    assert second.exit_code == 0, second.output
    assert not (out / "extra_user_note.txt").exists() and (out / MANIFEST_NAME).is_file()
    third = _dose(nrrd_case, out)  # its own files only: replaced without asking
    assert third.exit_code == 0, third.output
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    refused = _dose(nrrd_case, foreign)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    forced = _dose(nrrd_case, foreign, "--force")
    assert forced.exit_code == 0, forced.output
    assert not (foreign / "notes.txt").exists() and (foreign / "report.html").is_file()
    assert _leftovers(tmp_path) == []


def test_symlinked_out_keeps_the_link(tmp_path: Path) -> None:
    """--out a symlink to a results folder: the folder it points to is replaced, the link stays."""
    real = tmp_path / "real"
    with staged_output(real) as stage:
        (stage / "old.txt").write_text("old")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    with staged_output(link) as stage:
        (stage / "new.txt").write_text("new")
    assert link.is_symlink() and sorted(p.name for p in link.iterdir()) == [MANIFEST_NAME, "new.txt"]
    assert _leftovers(tmp_path) == []
