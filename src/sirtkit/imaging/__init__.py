"""Images in and out: the :class:`Volume` type, readers, writers, resampling and quantification.

Names are imported from their modules on first use (PEP 562 module ``__getattr__``), so that reading an
NRRD does not import the DICOM, NIfTI or SimpleITK stacks; type checkers see the imports below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sirtkit._lazy import lazy_exports
from sirtkit.imaging.volume import Volume, require_same_grid

if TYPE_CHECKING:
    from sirtkit.imaging.convert import volume_from_nifti, volume_from_sitk, volume_to_nifti, volume_to_sitk
    from sirtkit.imaging.dicom import read_dicom_series
    from sirtkit.imaging.files import read_volume, write_volume
    from sirtkit.imaging.phantom import Phantom, make_phantom, write_phantom_dicom
    from sirtkit.imaging.quantify import (
        ActivityReport,
        activity_at_administration,
        activity_report,
        scale_to_delivered_activity,
    )
    from sirtkit.imaging.resample import overlap_fraction, resample_to
    from sirtkit.imaging.rtstruct import read_rtstruct
    from sirtkit.imaging.samples import sample_path
    from sirtkit.imaging.segload import LoadedSegmentation, load_segmentation
    from sirtkit.imaging.segmentation import (
        masks_onto,
        masks_to_labelmap,
        read_segmentation,
        standard_voi_name,
        write_dicom_seg,
    )

# public name → module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    **dict.fromkeys(("volume_from_nifti", "volume_from_sitk", "volume_to_nifti", "volume_to_sitk"),
                    "sirtkit.imaging.convert"),
    "read_dicom_series": "sirtkit.imaging.dicom",
    **dict.fromkeys(("read_volume", "write_volume"), "sirtkit.imaging.files"),
    **dict.fromkeys(("Phantom", "make_phantom", "write_phantom_dicom"), "sirtkit.imaging.phantom"),
    **dict.fromkeys(("ActivityReport", "activity_at_administration", "activity_report",
                     "scale_to_delivered_activity"), "sirtkit.imaging.quantify"),
    **dict.fromkeys(("overlap_fraction", "resample_to"), "sirtkit.imaging.resample"),
    "sample_path": "sirtkit.imaging.samples",
    "read_rtstruct": "sirtkit.imaging.rtstruct",
    **dict.fromkeys(("LoadedSegmentation", "load_segmentation"), "sirtkit.imaging.segload"),
    **dict.fromkeys(("masks_onto", "masks_to_labelmap", "read_segmentation", "standard_voi_name",
                     "write_dicom_seg"), "sirtkit.imaging.segmentation"),
}

__all__ = [
    "ActivityReport",
    "LoadedSegmentation",
    "Phantom",
    "Volume",
    "activity_at_administration",
    "activity_report",
    "load_segmentation",
    "make_phantom",
    "masks_onto",
    "masks_to_labelmap",
    "overlap_fraction",
    "read_dicom_series",
    "read_rtstruct",
    "read_segmentation",
    "read_volume",
    "require_same_grid",
    "resample_to",
    "sample_path",
    "scale_to_delivered_activity",
    "standard_voi_name",
    "volume_from_nifti",
    "volume_from_sitk",
    "volume_to_nifti",
    "volume_to_sitk",
    "write_dicom_seg",
    "write_phantom_dicom",
    "write_volume",
]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
