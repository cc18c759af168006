"""`sirtkit cohort` command: cohort outcome report, empty template, synthetic cohort.

``sirtkit cohort DATA.xlsx|DIR --out DIR`` is shorthand for ``sirtkit cohort report DATA --out DIR``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from typer.core import TyperGroup

from sirtkit.cli._common import console, emit_json, handle_errors, progress_bar

__all__ = ["register"]

_SUBCOMMANDS = ("report", "template", "synthetic")


class _DefaultReportGroup(TyperGroup):
    """A group whose first positional argument, when not a sub-command, is the data of ``report``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["report", *args]
        return super().parse_args(ctx, args)


cohort_app = typer.Typer(cls=_DefaultReportGroup, no_args_is_help=True, add_completion=False,
                         help="Cohort outcomes: `sirtkit cohort DATA.xlsx --out DIR` writes the report "
                              "(HTML, PDF, JSON, CSV); `template` and `synthetic` write input files.")


@cohort_app.command("report")
@handle_errors
def report_cmd(
    data: Path = typer.Argument(..., help="Cohort workbook (.xlsx, one sheet per table) or folder of CSV files."),
    out: Path = typer.Option(..., "--out", "-o", help="Report folder (new, empty or an earlier report)."),
    pdf: bool = typer.Option(True, "--pdf/--no-pdf", help="Also write report.pdf (needs the pdf extra)."),
    criteria: str = typer.Option("recist1.1", help="Primary response criteria: recist1.1, mrecist, easl, who, "
                                                   "choi, modified_choi."),
    confirm_days: float | None = typer.Option(None, help="Confirm CR/PR after at least this many days (RECIST "
                                                         "1.1: 28)."),
    bootstrap: int = typer.Option(1000, help="Bootstrap resamples for the dose-threshold CI."),
    seed: int = typer.Option(0, help="Seed of the bootstrap."),
    json_out: bool = typer.Option(False, "--json", help="Print the stable JSON document instead of text."),
    force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder that sirtkit did not write."),
) -> None:
    """Analyse a cohort and write the outcome report."""
    from sirtkit.workflows.cohort import run_cohort_report

    with progress_bar("cohort report", enabled=not json_out) as cb:
        res = run_cohort_report(data, out, pdf=pdf, criteria=criteria, confirmation_min_days=confirm_days,
                                n_bootstrap=bootstrap, seed=seed, progress=cb, force=force)
    if json_out:
        emit_json("cohort_report", res.summary())
        return
    s = res.analysis.summary()
    t = Table(title=f"Cohort: {s['n_patients']} patients ({s['criteria']})")
    t.add_column("outcome")
    t.add_column("value", justify="right")
    t.add_column("95 % CI", justify="right")
    for key in ("orr", "dcr"):
        p = s[key]
        t.add_row(key.upper(), f"{p.count}/{p.total} ({p.percent:.1f} %)",
                  f"{100 * p.ci_low:.1f}–{100 * p.ci_high:.1f} %")
    for key, v in s["survival"].items():
        lo, hi = v["median_ci_months"]
        med = "not reached" if v["median_months"] is None else f"{v['median_months']:.1f} mo"
        t.add_row(f"median {key.upper()}", med, f"{_num(lo)}–{_num(hi)}")
    console.print(t)
    for w in s["warnings"]:
        console.print(f"[yellow]caveat:[/] {w}")
    console.print(f"report: {res.files.html}" + (f" and {res.files.pdf}" if res.files.pdf else ""))


def _num(v: Any) -> str:
    return "NR" if v is None else f"{v:.1f}"


@cohort_app.command("template")
@handle_errors
def template_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Folder for cohort_template.xlsx and cohort_example.xlsx."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write the empty cohort template and a small synthetic example."""
    from sirtkit.workflows.cohort import write_cohort_examples

    paths = write_cohort_examples(out)
    if json_out:
        emit_json("cohort_template", {"files": paths})
        return
    for p in paths:
        console.print(f"wrote {p}")


@cohort_app.command("synthetic")
@handle_errors
def synthetic_cmd(
    out: Path = typer.Option(..., "--out", "-o", help="Output .xlsx file, or a folder name (no suffix) for CSV."),
    n: int = typer.Option(200, "--n", help="Number of patients."),
    seed: int = typer.Option(1, help="Random seed (same seed, same cohort)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write a seeded synthetic cohort (no patient data) in the template format."""
    from sirtkit.workflows.cohort import write_synthetic_cohort

    p = write_synthetic_cohort(out, n, seed)
    if json_out:
        emit_json("cohort_synthetic", {"file": p, "n_patients": n, "seed": seed})
        return
    console.print(f"wrote {p} ({n} synthetic patients, seed {seed})")


def register(app: typer.Typer) -> None:
    """Add the `cohort` command group to ``app``."""
    app.add_typer(cohort_app, name="cohort")
