"""``sirtkit dose``: emission image + segmentation (+ CT) + activity → dose map, DVHs, metrics, report."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

import typer

from sirtkit.cli._common import (
    build_from_options,
    console,
    emit_json,
    handle_errors,
    parse_roles,
    parse_time,
    print_notes,
    print_selected_columns,
    progress_bar,
)
from sirtkit.cli._help import VOI_ROLE_HELP
from sirtkit.errors import InputError
from sirtkit.physics.nuclides import get_nuclide
from sirtkit.workflows._output import check_output_folder

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add the ``dose`` command to ``app``."""

    @app.command("dose")
    @handle_errors
    def dose(
        emission: Path = typer.Argument(..., help="Y-90 PET / SPECT: NRRD, NIfTI or a DICOM series folder."),
        segmentation: Path = typer.Option(None, "--segmentation", "-s", help="Slicer .seg.nrrd, label map, SEG, RTSTRUCT."),
        ct: Path = typer.Option(None, "--ct", help="CT: the image an RTSTRUCT was drawn on; density (--density ct), display."),
        out: Path = typer.Option(Path("sirtkit-output"), "--out", "-o", help="Folder for the results."),
        quantification: str = typer.Option("relative", help="relative (scale to delivered activity) or absolute (Bq/mL)."),
        delivered_activity_gbq: float = typer.Option(None, "--delivered-activity-gbq", help="Activity delivered, GBq."),
        lung_shunt_fraction: float = typer.Option(None, "--lung-shunt-fraction", help="LSF as a fraction 0–1."),
        administration_time: str = typer.Option(
            None, "--administration-time", help="ISO time with offset (or without, with --timezone)."),
        timezone: str = typer.Option(
            None, "--timezone", help="IANA zone (e.g. Europe/Amsterdam) of DICOM times without an offset; DST by date."),
        series_uid: str = typer.Option(None, "--series-uid", help="SeriesInstanceUID of the emission series in a mixed folder."),
        image_time: str = typer.Option(None, "--image-time", help="When the image's Bq/mL apply (files without timing)."),
        engine: str = typer.Option("vsv", help="vsv (voxel S-value convolution) or ldm (local deposition)."),
        nuclide: str = typer.Option("Y-90", help="Y-90 or Ho-166 (both with vsv or ldm)."),
        density: str = typer.Option("uniform", help="uniform (liver 1.03 g/mL) or ct (Schneider 2000 HU→density). "
                                                    "Lung VOIs always get lung mass: CT, else 1 kg."),
        lung_mass_kg: float = typer.Option(None, "--lung-mass-kg",
                                           help="Whole-lung mass without CT (default: the conventional 1.0 kg)."),
        ct_contrast: str = typer.Option("auto", "--ct-contrast",
                                        help="auto, none or enhanced: contrast-enhanced soft tissue is read as "
                                             "unenhanced (1.031 g/mL)."),
        emission_modality: str = typer.Option(None, "--emission-modality",
                                              help="y90_pet, bremsstrahlung_spect, tc99m_spect or ho166_spect "
                                                   "(default resolution; from DICOM when not given)."),
        fwhm_mm: float = typer.Option(None, "--fwhm-mm",
                                      help="System resolution (FWHM, mm) for the partial-volume warning."),
        recovery_curve: Path = typer.Option(None, "--recovery-curve",
                                            help="CSV volume_ml|diameter_mm,recovery_coefficient: adds labelled "
                                                 "recovery-corrected tumour means."),
        emission_unit: str = typer.Option(None, "--emission-unit", help="Bq/mL or counts, when the file does not say (NRRD, NIfTI)."),
        voi_role: list[str] = typer.Option([], "--voi-role", help=VOI_ROLE_HELP),
        pdf: bool = typer.Option(False, "--pdf", help="Also write report.pdf."),
        json_out: bool = typer.Option(False, "--json", help="Print the result as JSON."),
        dose_grid: str = typer.Option("emission", "--dose-grid", help="Grid of the RTDOSE: emission (the dose grid) or ct (resampled onto --ct)."),
        force: bool = typer.Option(False, "--force", help="Replace a non-empty --out folder that sirtkit did not write."),
    ) -> None:
        """Compute a voxel dose map with DVHs, metrics, pictures and an HTML report."""
        from sirtkit.workflows.posttreatment import DOSE_REPORT_TITLE, DoseCase, run_dose, write_dose_outputs

        if quantification not in ("relative", "absolute"):
            raise InputError(f"--quantification {quantification!r}: use relative or absolute")
        if engine not in ("vsv", "ldm"):
            raise InputError(f"--engine {engine!r}: use vsv or ldm")
        if density not in ("uniform", "ct"):
            raise InputError(f"--density {density!r}: use uniform or ct")
        if dose_grid not in ("emission", "ct"):
            raise InputError(f"--dose-grid {dose_grid!r}: use emission or ct")
        if dose_grid == "ct" and ct is None:
            raise InputError("--dose-grid ct needs the CT (--ct): give it, or use --dose-grid emission")
        check_output_folder(out, force=force)
        if emission_unit not in (None, "Bq/mL", "counts"):
            raise InputError(f"--emission-unit {emission_unit!r}: use Bq/mL or counts")
        if ct_contrast not in ("auto", "none", "enhanced"):
            raise InputError(f"--ct-contrast {ct_contrast!r}: use auto, none or enhanced")
        if emission_modality not in (None, "y90_pet", "bremsstrahlung_spect", "tc99m_spect", "ho166_spect"):
            raise InputError(f"--emission-modality {emission_modality!r}: use y90_pet, bremsstrahlung_spect, "
                             "tc99m_spect or ho166_spect")
        case = build_from_options(DoseCase, {
            "emission": emission, "segmentation": segmentation, "ct": ct, "emission_unit": emission_unit,
            "quantification": quantification, "delivered_activity_gbq": delivered_activity_gbq,
            "lung_shunt_fraction": lung_shunt_fraction,
            "administration_time": parse_time(administration_time, "--administration-time", timezone),
            "image_reference_time": parse_time(image_time, "--image-time", timezone),
            "timezone": timezone, "series_uid": series_uid,
            "engine": engine, "density": density, "voi_roles": parse_roles(voi_role),
            "nuclide": get_nuclide(nuclide).name, "lung_mass_kg": lung_mass_kg, "ct_contrast": ct_contrast,
            "emission_modality": emission_modality, "fwhm_mm": fwhm_mm, "recovery_curve": recovery_curve,
        })
        with progress_bar("dose", enabled=not json_out) as callback:
            result = run_dose(case, progress=callback, figures_title=DOSE_REPORT_TITLE)
            files = write_dose_outputs(result, out, pdf=pdf, subtitle=str(emission), force=force,
                                       dose_grid=cast(Literal["emission", "ct"], dose_grid))
        if json_out:
            emit_json("dose", {**result.summary(), "files": {k: str(v) for k, v in files.items()}})
            return
        render_dose_table(result)
        console.print(f"\nFiles written to [bold]{out}[/]: " + ", ".join(p.name for p in files.values()))


# Columns of the terminal table (the HTML report and metrics.csv carry all of them).
_TERMINAL_COLUMNS = ("VOI", "Volume (mL)", "Mean (Gy)", "D70 (Gy)", "D2 (Gy)", "V100 (%)", "V205 (%)",
                     "Mean BED (Gy)")


def render_dose_table(result: object) -> None:
    """Print the per-VOI dose table, notes and warnings of a :class:`DoseResult`."""
    from sirtkit.workflows.posttreatment import VOI_TABLE_HEADER, DoseResult, voi_table_row

    assert isinstance(result, DoseResult)
    print_selected_columns("Absorbed dose per VOI", VOI_TABLE_HEADER,
                           (voi_table_row(v) for v in result.voi_doses), _TERMINAL_COLUMNS)
    print_notes(result.notes, result.warnings)
