"""`sirtkit plan CASE.yaml [--json] [--out DIR [--no-pdf]]`: pre-treatment activity plan with safety checks.

Parses the arguments, calls :func:`sirtkit.workflows.planning.run_plan` and renders the result (rich
tables, or the stable JSON document of ``docs/cli-plan.md``); with ``--out`` it also writes the plan
sheet (HTML and PDF) to sign. Exit status: 0 the plan passes every hard limit; 1 a check FAILs a hard
limit (named on stderr; the sheet is still written, with the failures at its top); 2 bad input.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sirtkit.cli._common import EXIT_HARD_LIMIT, console, emit_json, err_console, handle_errors
from sirtkit.planning.checks import CheckStatus
from sirtkit.planning.methods import ActivityPlan
from sirtkit.workflows._output import check_output_folder
from sirtkit.workflows.planning import PlanResult, load_case, run_plan, write_plan_sheet

__all__ = ["register"]

_STATUS_STYLE = {
    CheckStatus.PASS: "[green]pass[/]",
    CheckStatus.WARN: "[yellow]warn[/]",
    CheckStatus.FAIL: "[bold red]FAIL[/]",
    CheckStatus.UNKNOWN: "[magenta]unknown[/]",
}


def _fmt(value: float | None, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}g}"


def _plan_tables(plan: ActivityPlan, title: str) -> None:
    summary = Table(title=title, show_header=False)
    summary.add_column("quantity")
    summary.add_column("value", justify="right")
    summary.add_row("activity to prepare (GBq)", f"{plan.activity_prepared_gbq:.4f}")
    summary.add_row("activity delivered, expected (GBq)", f"{plan.activity_delivered_gbq:.4f}")
    summary.add_row("expected residual fraction", f"{plan.expected_residual_fraction:.4f}")
    summary.add_row("dose constant K (Gy·kg/GBq)", f"{plan.dose_constant_gy_kg_per_gbq:g}")
    summary.add_row("lung shunt fraction", f"{plan.lung_shunt_fraction:.4f}")
    summary.add_row("lung dose (Gy)", f"{plan.lung_dose_gy:.2f}")
    summary.add_row("cumulative lung dose (Gy)", f"{plan.cumulative_lung_dose_gy:.2f}")
    summary.add_row("T/N", _fmt(plan.tumour_to_normal_ratio, 3))
    summary.add_row("binding constraint", f"[bold]{plan.binding_constraint.value}[/]")
    summary.add_row("perfused normal-liver dose (Gy)", _fmt(plan.perfused_normal_liver_dose_gy))
    summary.add_row("whole normal-liver dose (Gy)", _fmt(plan.whole_normal_liver_dose_gy))
    summary.add_row("non-perfused normal-liver dose (Gy)", _fmt(plan.nonperfused_normal_liver_dose_gy))
    summary.add_row("whole-liver dose, tumours included (Gy)", _fmt(plan.whole_liver_dose_gy))
    for key, value in plan.intermediates.items():
        summary.add_row(key, f"{value:.4g}")
    console.print(summary)

    comps = Table(title="Compartments (mass kg, activity GBq, dose Gy)")
    for col in ("territory", "compartment", "kind", "kg", "GBq", "Gy", "T/N"):
        left = col in ("territory", "compartment", "kind")
        comps.add_column(col, justify="left" if left else "right", overflow="fold" if left else "ellipsis",
                         min_width={"compartment": 11, "kind": 12}.get(col))
    for c in plan.compartments:
        comps.add_row(escape(c.territory), escape(c.name), c.kind, f"{c.mass_kg:.4g}", f"{c.activity_gbq:.4f}", f"{c.dose_gy:.1f}",
                      _fmt(c.tumour_to_normal_ratio, 3))
    console.print(comps)

    # Two narrow tables rather than one wide one: at 80 columns the per-constraint activities used to wrap
    # into fragments ("tumour_… 1.710, lung_li… 20.133").
    terr = Table(title="Territories (GBq; window = efficacy → first limit, delivered)")
    for col in ("territory", "prepare", "deliver", "perfused dose (Gy)", "binding", "window"):
        terr.add_column(col, overflow="fold", justify="left" if col in ("territory", "binding", "window") else "right")
    limits = Table(title="Activity each constraint allows or needs (delivered GBq)")
    for col in ("territory", "constraint", "GBq"):
        limits.add_column(col, overflow="fold", justify="right" if col == "GBq" else "left")
    for t in plan.territories:
        pos = t.window_position
        window = (f"{_fmt(t.efficacy_activity_gbq)} → {_fmt(t.first_limit_activity_gbq)}"
                  + ("" if pos is None else f" at {pos:.2f}"))
        terr.add_row(escape(t.name), f"{t.activity_prepared_gbq:.4f}", f"{t.activity_delivered_gbq:.4f}",
                     f"{t.perfused_dose_gy:.1f}", t.binding_constraint.value, window)
        for k, v in t.constraint_activities_gbq.items():
            limits.add_row(escape(t.name), str(getattr(k, "value", k)), f"{v:.3f}")
    console.print(terr)
    if limits.row_count:
        console.print(limits)


def _render(result: PlanResult, *, infusion: datetime | None = None) -> None:
    console.print(f"[bold]sirtkit plan[/] — patient {escape(result.patient_id)}: {escape(result.product)}, method "
                  f"{result.method}, intent {result.intent} ({result.nuclide})")
    console.print(f"LSF {result.lung_shunt_fraction:.4f} ({result.lung_shunt_fraction_source}); lung mass "
                  f"{result.lung_mass_kg:.3f} kg ({result.lung_mass_source})"
                  + (f"; BSA {result.bsa_m2:.4f} m²" if result.bsa_m2 is not None else ""))
    console.print(f"objective {result.objective}"
                  + (f" ({result.stated_dose_gy:g} Gy)" if result.stated_dose_gy is not None else "")
                  + f"; liver compromise: {escape('; '.join(result.liver_compromise) or 'none stated')}; "
                  f"non-perfused normal liver: {_fmt(result.nonperfused_normal_liver_mass_kg)} kg "
                  f"({escape(result.nonperfused_normal_liver_source)})")
    for key, ov in result.overrides.items():
        console.print(f"[bold red]OVERRIDE[/] {key} = {ov['value_gy']:g} Gy: {escape(str(ov['reason']))}")
    if result.plan is not None:
        _plan_tables(result.plan, "Plan")
    w = result.activity_window
    if w is not None and (w["efficacy_reached_prepared_gbq"] is not None or w["first_limit_prepared_gbq"] is not None):
        lo, hi = w["efficacy_reached_prepared_gbq"], w["first_limit_prepared_gbq"]
        where = ("[bold red]empty: the targets need more than the first limit allows[/]" if w["empty"]
                 else ("—" if w["position"] is None else f"{w['position']:.2f} (0 = efficacy, 1 = first limit)"))
        console.print(f"Activity window (prepared GBq): efficacy reached at {_fmt(lo)}, first limit "
                      f"({w['first_limit'] or '—'}) at {_fmt(hi)}; plan {w['planned_prepared_gbq']:.4f} → {where}")
    if result.refusal is not None:
        console.print(f"[bold red]REFUSED:[/] {escape(result.refusal)}")

    checks = Table(title="Checks")
    for col in ("check", "status", "measured", "threshold", "source"):
        checks.add_column(col, overflow="fold")
    for c in result.checks:
        checks.add_row(c.name, _STATUS_STYLE[c.status], f"{_fmt(c.measured)} {c.unit}",
                       f"{c.comparison} {c.threshold:g} {c.unit}", escape(c.source))
    console.print(checks)
    for c in result.checks:  # the table has no room for the reasons; a warning's reason is read in full
        if c.status == CheckStatus.WARN:
            console.print(f"[yellow]WARN[/] {c.name}: {escape(c.message)}")

    if result.glass_vial is not None:
        g = result.glass_vial
        vial = Table(title="Glass vial order")
        vial.add_column("item")
        vial.add_column("value", justify="right")
        vial.add_row("hours after calibration at infusion", f"{g.hours_after_calibration:.2f}")
        vial.add_row("activity needed at calibration (GBq)", f"{g.activity_needed_at_calibration_gbq:.4f}")
        vial.add_row("stock vial (GBq at calibration)", _fmt(g.vial_size_gbq))
        vial.add_row("vial activity at infusion (GBq)", _fmt(g.vial_activity_at_infusion_gbq))
        vial.add_row("excess over required", "—" if g.excess_fraction is None else f"{g.excess_fraction:.1%}")
        for o in g.options:
            vial.add_row(f"{o.vial_size_gbq:g} GBq vial reaches the activity at",
                         f"{o.time.isoformat(timespec='minutes')} (t_cal + {o.hours_after_calibration:.2f} h)"
                         + ("" if o.within_window else " [yellow]outside window[/]"))
        console.print(vial)
    for title, d in (("Resin draw", result.resin_draw), ("Ho-166 vial", result.holmium_vial)):
        if d is None:
            continue
        draw = Table(title=title)
        draw.add_column("item")
        draw.add_column("value", justify="right")
        draw.add_row("hours after calibration at infusion", f"{d.hours_after_calibration:.2f}")
        draw.add_row("vial activity at infusion (GBq)", f"{d.vial_activity_at_infusion_gbq:.4f}")
        draw.add_row("fraction of vial to draw", f"{d.fraction_of_vial:.4f}")
        draw.add_row("vial activity from", escape(result.vial_activity_source or "—"))
        console.print(draw)
    if result.scout is not None:
        console.print("Ho-166 scout: " + ", ".join(f"{k} {v:.3g}" for k, v in result.scout.items()))
    if result.decay_table:
        table = Table(title="Decay table (vial; times in the infusion's time zone)")
        for col in ("time", "h from calibration", "decay factor", "activity (GBq)"):
            table.add_column(col)
        for row in result.decay_table:
            shown = row.time.astimezone(infusion.tzinfo) if infusion is not None else row.time
            mark = f" [bold]← {escape(row.event)}[/]" if row.event else ""
            table.add_row(shown.isoformat(timespec="minutes") + mark, f"{row.hours_from_reference:.1f}",
                          f"{row.decay_factor:.5f}", f"{row.activity_gbq:.4f}")
        console.print(table)
    if result.delivered is not None and result.delivered_plan is not None:
        console.print(f"Delivered {result.delivered.activity_delivered_gbq:.4f} GBq (residual fraction "
                      f"{result.delivered.residual_fraction:.4f})")
        _plan_tables(result.delivered_plan, "Delivered (recomputed from residual measurement)")


def register(app: typer.Typer) -> None:
    """Add the `plan` command to ``app``."""

    @app.command("plan")
    @handle_errors
    def plan(
        case: Annotated[Path, typer.Argument(help="YAML case file (see docs/planning.md and examples/cases).")],
        as_json: Annotated[bool, typer.Option("--json", help="Print the stable JSON document (docs/cli-plan.md).")]
        = False,
        out: Annotated[Path | None, typer.Option(
            "--out", help="Folder for the plan sheet to sign (plan_sheet.html and plan_sheet.pdf).")] = None,
        pdf: Annotated[bool, typer.Option("--pdf/--no-pdf", help="Also write the PDF plan sheet (with --out).")]
        = True,
        force: Annotated[bool, typer.Option(
            "--force", help="Replace a non-empty --out folder that sirtkit did not write.")] = False,
    ) -> None:
        """Plan the activity of a SIRT treatment from a case file and check it against safety limits."""
        if out is not None:
            check_output_folder(out, force=force)
        plan_case = load_case(case)
        result = run_plan(plan_case)
        if out is not None:
            written = write_plan_sheet(result, plan_case, out, pdf=pdf, force=force)
            err_console.print("plan sheet: " + ", ".join(escape(str(p)) for p in written.values()))
        if as_json:
            emit_json("plan", result)
        else:
            _render(result, infusion=plan_case.schedule.planned_infusion if plan_case.schedule else None)
        if not result.passes_hard_limits:
            err_console.print("[bold red]refused:[/] the plan breaks a hard limit — "
                              + escape("; ".join(result.hard_failures)), markup=True)
            raise typer.Exit(EXIT_HARD_LIMIT)
