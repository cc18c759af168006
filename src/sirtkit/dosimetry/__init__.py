"""Voxel dosimetry: S-value kernels, LDM/VSV dose engines, DVHs, radiobiology, comparison and export.

Domain layer: pure functions on :class:`sirtkit.imaging.Volume`; the ``write_*`` functions are the
only I/O and write atomically. See ``docs/dosimetry.md``. Names are imported from their modules on
first use (PEP 562), so that a command imports only the parts it runs (for example not pydicom for an
NRRD dose, nor the gamma index for a plan); type checkers see the imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sirtkit._lazy import lazy_exports

if TYPE_CHECKING:
    from sirtkit.dosimetry.compare import GammaResult, VoiDifference, compare_doses, gamma_index
    from sirtkit.dosimetry.dvh import (
        DEFAULT_V_THRESHOLDS_GY,
        DoseMetrics,
        Dvh,
        compute_dvh,
        dose_at_volume,
        dose_metrics,
        volume_at_dose,
    )
    from sirtkit.dosimetry.engines import (
        LIVER_DENSITY_G_PER_ML,
        density_from_ct,
        dose_ldm,
        dose_vsv,
        fft_convolve_linear,
    )
    from sirtkit.dosimetry.export import read_rtdose, write_rtdose
    from sirtkit.dosimetry.export_dicom import write_dose_parametric_map, write_dose_sr
    from sirtkit.dosimetry.kernels import (
        LANCONELLI_VOXEL_SIZES_MM,
        Kernel,
        generate_kernel,
        get_kernel,
        load_lanconelli_table,
    )
    from sirtkit.dosimetry.radiobiology import (
        DOSE_RESPONSE_ANCHORS,
        RADIOBIOLOGY_PARAMETERS,
        DoseResponseAnchor,
        RadiobiologyParameters,
        bed_permanent_implant,
        effective_dose_lkb,
        eqd2,
        eud,
        ntcp_lkb,
        tcp_logistic,
        tcp_poisson,
    )
    from sirtkit.dosimetry.tables import write_dvh_csv, write_metrics_csv

# public name → module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    **dict.fromkeys(("GammaResult", "VoiDifference", "compare_doses", "gamma_index"), "sirtkit.dosimetry.compare"),
    **dict.fromkeys(("DEFAULT_V_THRESHOLDS_GY", "DoseMetrics", "Dvh", "compute_dvh", "dose_at_volume",
                     "dose_metrics", "volume_at_dose"), "sirtkit.dosimetry.dvh"),
    **dict.fromkeys(("LIVER_DENSITY_G_PER_ML", "density_from_ct", "dose_ldm", "dose_vsv", "fft_convolve_linear"),
                    "sirtkit.dosimetry.engines"),
    **dict.fromkeys(("read_rtdose", "write_rtdose"), "sirtkit.dosimetry.export"),
    **dict.fromkeys(("write_dvh_csv", "write_metrics_csv"), "sirtkit.dosimetry.tables"),
    **dict.fromkeys(("write_dose_parametric_map", "write_dose_sr"), "sirtkit.dosimetry.export_dicom"),
    **dict.fromkeys(("LANCONELLI_VOXEL_SIZES_MM", "Kernel", "generate_kernel", "get_kernel",
                     "load_lanconelli_table"), "sirtkit.dosimetry.kernels"),
    **dict.fromkeys(("DOSE_RESPONSE_ANCHORS", "RADIOBIOLOGY_PARAMETERS", "DoseResponseAnchor",
                     "RadiobiologyParameters", "bed_permanent_implant", "effective_dose_lkb", "eqd2", "eud",
                     "ntcp_lkb", "tcp_logistic", "tcp_poisson"), "sirtkit.dosimetry.radiobiology"),
}

__all__ = [
    "DEFAULT_V_THRESHOLDS_GY",
    "DOSE_RESPONSE_ANCHORS",
    "LANCONELLI_VOXEL_SIZES_MM",
    "LIVER_DENSITY_G_PER_ML",
    "RADIOBIOLOGY_PARAMETERS",
    "DoseMetrics",
    "DoseResponseAnchor",
    "Dvh",
    "GammaResult",
    "Kernel",
    "RadiobiologyParameters",
    "VoiDifference",
    "bed_permanent_implant",
    "compare_doses",
    "compute_dvh",
    "density_from_ct",
    "dose_at_volume",
    "dose_ldm",
    "dose_metrics",
    "dose_vsv",
    "effective_dose_lkb",
    "eqd2",
    "eud",
    "fft_convolve_linear",
    "gamma_index",
    "generate_kernel",
    "get_kernel",
    "load_lanconelli_table",
    "ntcp_lkb",
    "read_rtdose",
    "tcp_logistic",
    "tcp_poisson",
    "volume_at_dose",
    "write_dose_parametric_map",
    "write_dose_sr",
    "write_dvh_csv",
    "write_metrics_csv",
    "write_rtdose",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
