"""The demo: what sirtkit does, on the two bundled anonymised sample patients.

1. **Pre-treatment plan** (sample patient 2, Tc-99m MAA SPECT + segmentation with tumours, perfused
   territory and gallbladder): compartments measured on the images, multi-compartment plan for glass
   microspheres under the EANM 2022 targets and limits, safety checks, vial logistics, predicted dose map.
2. **Post-treatment dosimetry** (sample patient 1, Y-90 PET in Bq/mL + segmentation with liver and six
   tumours): patient-relative quantification to the ~1.4 GBq administered, voxel-S-value dose, DVHs, BED.

The sample data carry no lung segment and no treatment record; the assumptions the demo makes for
them are stated in :data:`DEMO_ASSUMPTIONS` and printed in the reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sirtkit.imaging import sample_path
from sirtkit.progress import ProgressCallback, report
from sirtkit.workflows.imageplan import (
    ImagePlanCase,
    ImagePlanResult,
    run_image_plan,
    write_image_plan_outputs,
)
from sirtkit.workflows.posttreatment import DoseCase, DoseResult, run_dose, write_dose_outputs

__all__ = ["DEMO_ASSUMPTIONS", "DemoResult", "demo_cases", "run_demo"]

# Sample patient 1 received "about 1400 MBq of Y-90 microspheres" (sample-data description); the PET field
# of view holds 1123 MBq as reconstructed (≈ 20 h of decay, or incomplete coverage), so the demo uses
# patient-relative quantification to 1.4 GBq.
PATIENT_1_DELIVERED_GBQ = 1.4
# Sample patient 2 has no lung segment: the demo assumes an LSF of 6 % as if measured on planar MAA imaging.
PATIENT_2_ASSUMED_LSF = 0.06
DEMO_ASSUMPTIONS = (
    "Patient 1 (Y-90 PET): delivered activity 1.4 GBq (sample description: about 1400 MBq administered); the PET "
    "field of view holds less (about 1.12 GBq as reconstructed), so the image is scaled to the delivered activity "
    "(patient-relative). 'Normal Tissue' is taken as normal liver.",
    "Patient 2 (MAA SPECT): no lung segment, so a lung shunt fraction of 0.06 (as from planar imaging) is assumed; "
    "infusion and vial times are illustrative.",
)


@dataclass(frozen=True)
class DemoResult:
    """Both demo results and the files written."""

    plan: ImagePlanResult
    posttreatment: DoseResult
    files: dict[str, Path]


def demo_cases() -> tuple[ImagePlanCase, DoseCase]:
    """The two demo cases (bundled sample data)."""
    cet = timezone(timedelta(hours=1))
    eastern = timezone(timedelta(hours=-5))
    plan_case = ImagePlanCase(
        patient_id="sample patient 2", spect=sample_path("patient_2_spect"),
        segmentation=sample_path("patient_2_seg"), device="glass", intent="palliative",
        lung_shunt_fraction=PATIENT_2_ASSUMED_LSF,
        planned_infusion=datetime(2026, 3, 4, 10, 0, tzinfo=cet),
        vial_calibration=datetime(2026, 3, 1, 12, 0, tzinfo=eastern),
    )
    dose_case = DoseCase(
        emission=sample_path("patient_1_pet"), segmentation=sample_path("patient_1_seg"),
        quantification="relative", delivered_activity_gbq=PATIENT_1_DELIVERED_GBQ,
        voi_roles={"Normal Tissue": "normal_liver"}, engine="vsv", emission_modality="y90_pet",
    )
    return plan_case, dose_case


# The demo's post-treatment report title.
POST_TITLE = "Post-treatment Y-90 PET dosimetry — sample patient 1"


def run_demo(out_dir: Path, *, pdf: bool = False, progress: ProgressCallback | None = None,
             force: bool = False) -> DemoResult:
    """Run both demo workflows and write their reports into ``out_dir`` (replaced as a whole, one file set)."""
    from sirtkit.workflows._output import check_output_folder, staged_output

    check_output_folder(out_dir, force=force)
    plan_case, dose_case = demo_cases()

    def stage(start: float, span: float, label: str) -> ProgressCallback:
        def callback(fraction: float, message: str) -> None:
            report(progress, start + span * fraction, f"{label}: {message}")

        return callback

    plan = run_image_plan(plan_case, progress=stage(0.0, 0.45, "plan (patient 2)"), start_figures=True)
    post = run_dose(dose_case, progress=stage(0.5, 0.45, "post-treatment (patient 1)"), figures_title=POST_TITLE)
    out_dir = Path(out_dir)
    with staged_output(out_dir, force=force, kind="demo") as staging:
        files = {f"plan_{k}": out_dir / v.relative_to(staging)
                 for k, v in write_image_plan_outputs(plan, staging, pdf=pdf).items()}
        files |= {f"post_{k}": out_dir / v.relative_to(staging) for k, v in write_dose_outputs(
            post, staging, title=POST_TITLE,
            subtitle="Y-90 PET (Bq/mL) scaled to the delivered 1.4 GBq; voxel S-value convolution",
            pdf=pdf, prefix="post_", extra_warnings=[DEMO_ASSUMPTIONS[0]]).items()}
    report(progress, 1.0, "done")
    return DemoResult(plan, post, files)
