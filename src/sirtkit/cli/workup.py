"""`sirtkit workup PATIENT.yaml [--all] [--json]`: scores and SIRT eligibility for one patient.

The readable output is laid out for a physician at an 80-column terminal: the verdict first (one line,
with the number of contraindications, cautions and unknown rules), then the scores, then only the rules
that fired or could not be evaluated (``--all`` lists every rule), their sources as numbered notes, and
the inputs still needed, each listed once.

Exit status: 0 eligible or caution; 1 contraindicated; 2 bad input, or incomplete data (a
contraindication rule could not be evaluated: the result is still printed, the missing fields are named).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Group
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from sirtkit.cli._common import EXIT_HARD_LIMIT, EXIT_INPUT, console, emit_json, err_console, handle_errors
from sirtkit.clinical.eligibility import EligibilityResult, RuleEvaluation
from sirtkit.workflows.workup import WorkupResult, load_patient, run_workup

__all__ = ["register", "render_workup", "verdict_line"]

_VERDICT_STYLE = {
    "eligible": "bold green",
    "caution": "bold yellow",
    "contraindicated": "bold red",
    "incomplete": "bold magenta",
}
_OUTCOME_STYLE = {"contraindicated": "red", "caution": "yellow"}

# Groups of the rule table, in display order: (status, heading, shown without --all).
_GROUPS: tuple[tuple[str, str, bool], ...] = (
    ("fired", "FIRED", True),
    ("unknown", "UNKNOWN: data missing", True),
    ("passed", "PASSED", False),
    ("not_applicable", "NOT APPLICABLE", False),
)
# Within a group, contraindications before cautions.
_OUTCOME_ORDER = {"contraindicated": 0, "caution": 1}


def _num(value: float | None, fmt: str = ".3f") -> str:
    return "—" if value is None else format(value, fmt)


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def verdict_line(eligibility: EligibilityResult) -> str:
    """The one-line verdict with its counts (plain text, no markup).

    Examples
    --------
    >>> from sirtkit.clinical.patient import PatientWorkup
    >>> from sirtkit.workflows.workup import run_workup
    >>> verdict_line(run_workup(PatientWorkup(patient_id="P0")).eligibility)[:20]
    'Verdict: INCOMPLETE '
    """
    unknown = len(eligibility.unknown_rules)
    return (f"Verdict: {eligibility.verdict.upper()} — "
            f"{_count(len(eligibility.contraindications), 'contraindication')}, "
            f"{_count(len(eligibility.cautions), 'caution')}, {unknown} unknown")


def _scores_table(result: WorkupResult) -> Table:
    s = result.scores
    scores = Table(title=f"Scores — patient {escape(result.patient_id)}", box=box.SIMPLE_HEAD,
                   show_edge=False, title_justify="left", pad_edge=False)
    scores.add_column("score", no_wrap=True)
    scores.add_column("value", justify="right", no_wrap=True)
    scores.add_column("detail", overflow="fold")
    if s.bsa_dubois_m2 is not None:
        scores.add_row("BSA Du Bois (m²)", _num(s.bsa_dubois_m2), f"Mosteller {_num(s.bsa_mosteller_m2)} m²")
    else:
        scores.add_row("BSA Du Bois (m²)", "—", "missing: " + ", ".join(s.missing.get("bsa", [])))
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
    return scores


def _rules_table(elig: EligibilityResult, show_all: bool, notes: dict[str, int]) -> Table | None:
    """Rules grouped by status; ``notes`` maps each citation to its note number (filled here).

    Each rule takes two lines: its id (never cut: ids are at most ~35 characters) with its outcome and
    note number, then "value vs threshold" indented below, wrapped to the terminal width.
    """
    device = elig.planned_device or "none planned, every device rule"
    rules = Table(title=escape(f"Rules ({elig.rule_set} v{elig.rule_set_version}; device: {device})"),
                  box=box.SIMPLE_HEAD, show_edge=False, title_justify="left", pad_edge=False)
    rules.add_column("rule / value vs threshold", overflow="fold", ratio=1)
    rules.add_column("outcome", no_wrap=True)
    rules.add_column("src", justify="right", no_wrap=True)
    any_row = False
    for status, heading, by_default in _GROUPS:
        group = sorted((e for e in elig.evaluations if e.status == status),
                       key=lambda e: _OUTCOME_ORDER.get(e.outcome, 9))
        if not group or not (by_default or show_all):
            continue
        if any_row:
            rules.add_row()
        rules.add_row(f"[bold]{heading}[/]")
        any_row = True
        for e in group:
            rules.add_row(*_rule_cells(e, notes))
    return rules if any_row else None


def _rule_cells(e: RuleEvaluation, notes: dict[str, int]) -> tuple[Group, Text, Text]:
    note = notes.setdefault(e.citation, len(notes) + 1)
    if e.status == "fired":
        style = _OUTCOME_STYLE.get(e.outcome, "bold")
    else:
        style = "magenta" if e.status == "unknown" else "dim"
    cell = Group(Text(e.rule_id, style="bold"), Padding(Text(e.why or e.condition), (0, 0, 0, 2)))
    return cell, Text(e.outcome, style=style), Text(f"[{note}]")


def _bullets(items: list[tuple[str, str]]) -> Table:
    """A list with a hanging indent: ``marker text``, the text (rich markup) wrapped under itself."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold", ratio=1)
    for marker, text in items:
        grid.add_row(Text(f"  {marker}"), text)
    return grid


def render_workup(result: WorkupResult, *, show_all: bool = False) -> None:
    """Print the work-up for a physician, fitted to the terminal width (80 columns is enough).

    In order: the verdict line (:func:`verdict_line`, coloured); the scores; the rules that fired or
    could not be evaluated, grouped by status, each as its full id, outcome, source note number and
    "value vs threshold" below; one line counting the rules that passed or do not apply; the advice of
    fired rules; the numbered sources; the inputs still needed (each listed once).

    Parameters
    ----------
    result : WorkupResult
        From :func:`sirtkit.workflows.workup.run_workup`.
    show_all : bool
        Also list the rules that passed or do not apply to the planned device (``--all``).
    """
    elig = result.eligibility
    console.print(f"[{_VERDICT_STYLE[elig.verdict]}]{escape(verdict_line(elig))}[/]")
    console.print()
    console.print(_scores_table(result))
    console.print()

    notes: dict[str, int] = {}
    table = _rules_table(elig, show_all, notes)
    if table is not None:
        console.print(table)
        console.print()
    counts = {s: sum(e.status == s for e in elig.evaluations) for s in ("passed", "not_applicable")}
    hint = "" if show_all else " (--all to list them)"
    console.print(f"{_count(counts['passed'], 'rule')} passed, {counts['not_applicable']} not applicable{hint}")

    advice = [("•", f"[bold]{escape(e.rule_id)}[/]: {escape(e.advice)}")
              for e in elig.evaluations if e.status == "fired" and e.advice]
    if advice:
        console.print()
        console.print("[bold]Advice[/]")
        console.print(_bullets(advice))
    if notes:
        console.print()
        console.print("[bold]Sources[/]")
        console.print(_bullets([(f"[{n}]", escape(c)) for c, n in notes.items()]))
    if elig.missing_inputs:
        console.print()
        need = "to complete the work-up" if elig.verdict == "incomplete" else "to evaluate the unknown rules"
        console.print(f"[bold]Missing inputs[/] — provide {need}:")
        console.print(_bullets([("•", escape(item)) for item in elig.missing_inputs]))


def register(app: typer.Typer) -> None:
    """Add the `workup` command to ``app``."""

    @app.command("workup")
    @handle_errors
    def workup(
        patient_file: Annotated[Path, typer.Argument(help="Patient work-up YAML file (see docs/workup.md).")],
        show_all: Annotated[bool, typer.Option(
            "--all", help="List every rule (also those that passed or do not apply to the planned device).",
        )] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the stable JSON document instead.")] = False,
    ) -> None:
        """Scores (BSA, Child-Pugh, ALBI, MELD, ECOG) and SIRT eligibility for one patient."""
        result = run_workup(load_patient(patient_file))
        if as_json:
            emit_json("workup", result)
        else:
            render_workup(result, show_all=show_all)
        verdict = result.eligibility.verdict
        if verdict == "contraindicated":
            raise typer.Exit(EXIT_HARD_LIMIT)
        if verdict == "incomplete":
            if as_json:  # stdout holds the JSON document: name what is missing on stderr
                err_console.print(
                    "[bold magenta]incomplete:[/] contraindication rule(s) could not be evaluated; provide: "
                    + escape("; ".join(result.eligibility.missing_inputs)),
                    markup=True,
                )
            raise typer.Exit(EXIT_INPUT)
