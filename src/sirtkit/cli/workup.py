"""`sirtkit workup PATIENT.yaml [--json]`: scores and SIRT eligibility for one patient.

Exit status: 0 eligible or caution; 1 contraindicated; 2 bad input, or incomplete data (a
contraindication rule could not be evaluated: the result is still printed, the missing fields are named).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sirtkit.cli._common import EXIT_HARD_LIMIT, EXIT_INPUT, console, emit_json, err_console, handle_errors
from sirtkit.workflows.workup import WorkupResult, load_patient, run_workup

__all__ = ["register", "render_workup"]

_VERDICT_STYLE = {
    "eligible": "bold green",
    "caution": "bold yellow",
    "contraindicated": "bold red",
    "incomplete": "bold magenta",
}
_STATUS_STYLE = {"fired": "red", "passed": "green", "unknown": "magenta", "not_applicable": "dim"}


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "—" if value is None else format(value, fmt)


def render_workup(result: WorkupResult) -> None:
    """Print scores, verdict and every rule's status to the console (rich)."""
    s = result.scores
    scores = Table(title=f"Work-up scores — {result.patient_id}", show_lines=False)
    scores.add_column("score")
    scores.add_column("value", justify="right")
    scores.add_column("detail")
    scores.add_row("BSA Du Bois (m²)", _num(s.bsa_dubois_m2), f"Mosteller {_num(s.bsa_mosteller_m2)} m²")
    if s.child_pugh is not None:
        cp = s.child_pugh
        detail = (f"bili {cp.bilirubin_points} + alb {cp.albumin_points} + INR {cp.inr_points} + "
                  f"ascites {cp.ascites_points} + HE {cp.encephalopathy_points}")
        scores.add_row("Child-Pugh", f"{cp.total_points} ({cp.child_pugh_class})", detail)
    else:
        scores.add_row("Child-Pugh", "—", "missing: " + ", ".join(s.missing.get("child_pugh", [])))
    if s.albi is not None:
        scores.add_row("ALBI", f"{s.albi.albi_score:.3f}", f"grade {s.albi.albi_grade}")
    else:
        scores.add_row("ALBI", "—", "missing: " + ", ".join(s.missing.get("albi", [])))
    if s.meld is not None:
        scores.add_row("MELD (original)", f"{s.meld:.2f}", f"rounded {s.meld_rounded}")
    else:
        scores.add_row("MELD (original)", "—", "missing: " + ", ".join(s.missing.get("meld", [])))
    scores.add_row("ECOG", "—" if s.ecog is None else str(s.ecog), s.ecog_description or "missing: ecog")
    console.print(scores)

    elig = result.eligibility
    rules = Table(title=f"Eligibility rules ({elig.rule_set} v{elig.rule_set_version}; "
                        f"device {elig.planned_device or 'not set: all device rules'})")
    rules.add_column("rule")
    rules.add_column("outcome")
    rules.add_column("status")
    rules.add_column("value vs threshold")
    rules.add_column("source")
    for e in elig.evaluations:
        style = _STATUS_STYLE[e.status]
        rules.add_row(e.rule_id, e.outcome, f"[{style}]{e.status}[/]", escape(e.why or e.condition),
                      escape(e.citation))
    console.print(rules)
    for e in elig.evaluations:
        if e.status == "fired":
            line = f"[{_STATUS_STYLE['fired']}]{e.outcome}[/] {e.rule_id}: {escape(e.message)}"
            if e.advice:
                line += f" [bold]Advice:[/] {escape(e.advice)}"
            console.print(line)
    style = _VERDICT_STYLE[elig.verdict]
    console.print(f"Verdict: [{style}]{elig.verdict.upper()}[/] — {escape(elig.summary)}")


def register(app: typer.Typer) -> None:
    """Add the `workup` command to ``app``."""

    @app.command("workup")
    @handle_errors
    def workup(
        patient_file: Annotated[Path, typer.Argument(help="Patient work-up YAML file (see docs/workup.md).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the stable JSON document instead.")] = False,
    ) -> None:
        """Scores (BSA, Child-Pugh, ALBI, MELD, ECOG) and SIRT eligibility for one patient."""
        result = run_workup(load_patient(patient_file))
        if as_json:
            emit_json("workup", result)
        else:
            render_workup(result)
        verdict = result.eligibility.verdict
        if verdict == "contraindicated":
            raise typer.Exit(EXIT_HARD_LIMIT)
        if verdict == "incomplete":
            err_console.print(
                "[bold magenta]incomplete:[/] contraindication rule(s) could not be evaluated; provide: "
                + escape("; ".join(result.eligibility.missing_inputs)),
                markup=True,
            )
            raise typer.Exit(EXIT_INPUT)
