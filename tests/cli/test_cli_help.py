"""`--help` reads as the commands parse (QA finding 9 of the new-user pass)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from sirtkit.cli import app
from sirtkit.imaging.segmentation import STANDARD_VOI_NAMES

runner = CliRunner()


@pytest.mark.parametrize("command", ["dose", "predict", "compare", "plan", "demo", "workup"])
def test_flags_show_no_value_type(command: str) -> None:
    """`--pdf <bool>` suggested `--pdf true`, which is refused: on/off flags show no value type."""
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


@pytest.mark.parametrize("command", ["dose", "predict", "compare"])
def test_voi_role_help_lists_every_role(command: str) -> None:
    """The --voi-role help lists the roles the reader knows (STANDARD_VOI_NAMES, the one source), not 5 of 9."""
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    text = re.sub(r"[\s│]+", " ", result.output)
    for role in (*STANDARD_VOI_NAMES, "other"):
        assert re.search(rf"\b{role}\b", text), role


def test_pdf_flag_parses_as_documented(tmp_path) -> None:
    """`--pdf true` stays refused (a flag takes no value) — the help no longer suggests it."""
    result = runner.invoke(app, ["dose", "x.nrrd", "--pdf", "true", "-o", str(tmp_path / "o")])
    assert result.exit_code == 2
