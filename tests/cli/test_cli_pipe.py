"""A reader that closes the pipe (`sirtkit plan CASE | head -1`) does not change the exit status (QA finding 5):
rich exited 1 on a broken pipe, which sirtkit documents as "a hard clinical limit is broken"."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "examples" / "cases"


@pytest.mark.parametrize(("case", "status"), [("nelm_glass_partition_right_lobe.yaml", 0),
                                               ("nelm_resin_high_lsf_refused.yaml", 1)])
@pytest.mark.parametrize("json_out", [False, True])
def test_closed_stdout_keeps_the_exit_status(case: str, status: int, json_out: bool) -> None:
    """The read end is closed before the command writes anything, so every write meets EPIPE (deterministic,
    unlike a real `head`). The exit status is the command's own: 0 for a plan within limits, 1 only for the
    refused plan — never 1 for the pipe."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "80"}
    command = [sys.executable, "-c", "from sirtkit.cli import main; main()", "plan", str(CASES / case),
               *(["--json"] if json_out else [])]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    assert proc.stdout is not None
    proc.stdout.close()
    assert proc.wait(timeout=120) == status
