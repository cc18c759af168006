"""`sirtkit compare` from the command line: exit statuses, messages, files (local Typer app)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from sirtkit.cli import compare
from sirtkit.dosimetry import dose_ldm
from sirtkit.imaging import make_phantom, masks_to_labelmap, write_volume

runner = CliRunner()
ENV = {"COLUMNS": "200"}


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)

    @app.callback()
    def _root() -> None:
        """Test application holding only ``compare``."""

    compare.register(app)
    return app


APP = _app()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Phantom LDM dose (predicted), 1.1 × that dose (delivered), the activity map and a label map."""
    folder = tmp_path_factory.mktemp("cli_compare")
    p = make_phantom(shape=(32, 48, 48), spacing_mm=(6.0, 6.0, 6.0))
    dose = dose_ldm(p.activity)
    labelmap, _ = masks_to_labelmap({"liver": p.masks["liver"], "tumor_1": p.masks["tumor_1"]})
    return {
        "pred": write_volume(dose, folder / "pred.nrrd"),
        "deli": write_volume(dose.with_array(dose.array.astype(np.float64) * 1.1), folder / "deli.nrrd"),
        "activity": write_volume(p.activity, folder / "activity.nrrd"),
        "seg": write_volume(labelmap, folder / "seg.nrrd"),
    }


def _args(files, out, *extra):
    return ["compare", str(files["pred"]), str(files["deli"]), "-s", str(files["seg"]),
            "--voi-role", "label_1=liver", "--voi-role", "label_2=tumor", "-o", str(out), *extra]


def test_compare_success_table_and_files(files, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(APP, _args(files, out), env=ENV)
    assert result.exit_code == 0, result.output
    assert "Delivered − predicted dose per VOI" in result.output
    assert "Gamma pass rate (3 %/3 mm global, cut-off 10 %" in result.output
    assert "+10.0" in result.output
    assert (out / "compare_report.html").is_file() and (out / "compare_vois.csv").is_file()


def test_compare_json_document(files, tmp_path):
    """Reference: delivered = 1.1 × predicted ⇒ +10 % in every VOI (rel 1e-6); criteria echoed."""
    result = runner.invoke(APP, _args(files, tmp_path / "o", "--json", "--dose-percent", "5",
                                      "--distance-mm", "4", "--cutoff-percent", "20"), env=ENV)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "compare"
    assert set(doc["result"]) >= {"case", "grid", "gamma", "vois", "notes", "warnings", "provenance", "files"}
    gamma = doc["result"]["gamma"]
    assert (gamma["dose_percent"], gamma["distance_mm"], gamma["lower_dose_cutoff_percent"]) == (5.0, 4.0, 20.0)
    for voi in doc["result"]["vois"]:
        assert voi["mean_difference_percent"] == pytest.approx(10.0, rel=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"deli": "activity"}, "Bq/mL"),
        ({"extra": ["--resample-to", "ct"]}, "use delivered or predicted"),
        ({"extra": ["--dose-percent", "-3"]}, "dose_percent"),
        ({"extra": ["--dose-unit", "cGy"]}, "only Gy"),
        ({"extra": ["--voi-role", "nonsense"]}, "SEGMENT=ROLE"),
        ({"extra": ["--voi-role", "label_1=kidney"]}, "unknown"),
        ({"deli": "missing"}, "nope.nrrd"),
    ],
)
def test_compare_bad_input_exit_2_nothing_written(files, tmp_path, change, message):
    out = tmp_path / "never"
    paths = dict(files)
    if change.get("deli") == "activity":
        paths["deli"] = files["activity"]
    elif change.get("deli") == "missing":
        paths["deli"] = tmp_path / "nope.nrrd"
    result = runner.invoke(APP, _args(paths, out, *change.get("extra", [])), env=ENV)
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
    assert not out.exists()
    assert not any(p.name.startswith(".never") for p in tmp_path.iterdir())


def test_compare_table_readable_at_80_columns(files, tmp_path):
    """QA finding 12: at 80 columns the two "Differ…" columns (Gy and %) could not be told apart and
    "Predic…/Delive…" were cut. Short headers keep every column named, and the table is not cropped."""
    result = runner.invoke(APP, _args(files, tmp_path / "out"), env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = " ".join(line for line in lines if line.startswith("┃"))
    for label in ("pred.", "deliv.", "mean", "Δ Gy", "Δ %", "D70", "γ pass"):  # headers may wrap, never cut
        assert label in header, label
    assert "…" not in header
    assert all(line.endswith(("┓", "┐")) for line in lines if line.startswith(("┏", "┌")))
