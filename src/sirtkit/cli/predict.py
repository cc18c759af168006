"""``sirtkit predict``: plan from an MAA SPECT and a segmentation, with the predicted dose map."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import typer

from sirtkit.cli._common import (
    EXIT_HARD_LIMIT,
    build_from_options,
    console,
    emit_json,
    handle_errors,
    parse_roles,
    parse_time,
    progress_bar,
)
from sirtkit.cli._help import VOI_ROLE_HELP
from sirtkit.errors import InputError
from sirtkit.workflows._output import check_output_folder

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``predict`` command to ``app``."""

    @app.command("predict")
    @handle_errors
    def predict(
        spect: Path = typer.Argument(..., help="Tc-99m MAA SPECT (or Ho-166 scout): NRRD, NIfTI or DICOM folder."),
        segmentation: Path = typer.Option(..., "--segmentation", "-s",
                                          help="Liver, tumours, perfused territory (+ lungs) on the SPECT/CT."),
        ct: Path = typer.Option(None, "--ct", help="CT of the SPECT/CT: the image an RTSTRUCT was drawn on, and "
                                                    "the RTDOSE grid with --dose-grid ct."),
        patient_id: str = typer.Option("patient", "--patient-id", help="Shown in the report."),
        device: str = typer.Option("glass", help="glass, resin or holmium."),
        intent: str = typer.Option("palliative",
                                   help="palliative, radiation_lobectomy, radiation_segmentectomy or neoadjuvant."),
        lung_shunt_fraction: float = typer.Option(None, "--lung-shunt-fraction",
                                                  help="LSF 0–1; takes precedence over the SPECT's lung "
                                                       "counts (needed without lungs)."),
        lung_mass_kg: float = typer.Option(None, "--lung-mass-kg", help="Default 1.0 kg."),
        tumour_target_gy: float = typer.Option(None, "--tumour-target-gy", help="Override the intent's target."),
        normal_liver_limit_gy: float = typer.Option(None, "--normal-liver-limit-gy", help="Override the limit."),
        planned_infusion: str = typer.Option(None, "--planned-infusion",
                                             help="ISO time with offset (or without, with --timezone)."),
        vial_calibration: str = typer.Option(None, "--vial-calibration",
                                             help="ISO time with offset (or without, with --timezone; vial label)."),
        voi_role: list[str] = typer.Option([], "--voi-role", help=VOI_ROLE_HELP),
        engine: str = typer.Option("vsv", help="vsv or ldm for the predicted dose map (device's nuclide: Y-90 or "
                                               "Ho-166)."),
        fwhm_mm: float = typer.Option(None, "--fwhm-mm",
                                      help="SPECT resolution (FWHM, mm) for the partial-volume warning."),
        timezone: str = typer.Option(None, "--timezone",
                                     help="IANA zone of DICOM times without offset, e.g. Europe/Amsterdam."),
        series_uid: str = typer.Option(None, "--series-uid",
                                       help="SeriesInstanceUID of the SPECT in a folder of several series "
                                            "(e.g. attenuation-corrected and uncorrected reconstructions)."),
        out: Path = typer.Option(Path("sirtkit-plan"), "--out", "-o", help="Folder for the report and maps."),
        pdf: bool = typer.Option(False, "--pdf", help="Also write a PDF report."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        dose_grid: str = typer.Option("emission", "--dose-grid",
                                      help="Grid of the RTDOSE: emission (the SPECT grid) or ct (the DICOM CT "
                                           "given with --ct, e.g. of the SPECT/CT)."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder that sirtkit did not write."),
    ) -> None:
        """Measure compartments on the images, plan the activity under the device/intent limits, and
        compute the predicted dose map (MAA scaled to the planned activity). Exit 1 if a hard limit fails."""
        from sirtkit.cli.demo import render_image_plan
        from sirtkit.workflows.imageplan import ImagePlanCase, run_image_plan, write_image_plan_outputs

        if engine not in ("vsv", "ldm"):
            raise InputError(f"--engine {engine!r}: use vsv or ldm")
        if dose_grid not in ("emission", "ct"):
            raise InputError(f"--dose-grid {dose_grid!r}: use emission or ct")
        if dose_grid == "ct" and ct is None:
            raise InputError("--dose-grid ct needs the CT: give --ct with the DICOM CT series folder (of the "
                             "SPECT/CT), or use --dose-grid emission (the SPECT grid)")
        check_output_folder(out, force=force)
        case = build_from_options(ImagePlanCase, {
            "patient_id": patient_id, "spect": spect, "segmentation": segmentation, "ct": ct, "device": device,
            "intent": intent, "lung_shunt_fraction": lung_shunt_fraction, "lung_mass_kg": lung_mass_kg,
            "tumour_target_gy": tumour_target_gy, "normal_liver_limit_gy": normal_liver_limit_gy,
            "planned_infusion": parse_time(planned_infusion, "--planned-infusion", timezone),
            "vial_calibration": parse_time(vial_calibration, "--vial-calibration", timezone),
            "voi_roles": parse_roles(voi_role), "engine": engine, "fwhm_mm": fwhm_mm, "timezone": timezone,
            "series_uid": series_uid,
        })
        with progress_bar("plan", enabled=not json_out) as callback:
            result = run_image_plan(case, progress=callback, start_figures=True)
            files = write_image_plan_outputs(
                result, out, pdf=pdf, prefix="", force=force, dose_grid=cast(Literal["emission", "ct"], dose_grid),
                ct=ct if dose_grid == "ct" else None) if result.predicted else {}
        if json_out:
            emit_json("predict", {**result.summary(), "files": {k: str(v) for k, v in files.items()}})
        else:
            render_image_plan(result)
            if files:
                console.print(f"\nReport: [bold]{files['html']}[/]")
        if not result.plan.passes_hard_limits:
            raise typer.Exit(EXIT_HARD_LIMIT)
