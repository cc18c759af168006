"""Bundled sample patients (two anonymised SIRT cases; see ``data/samples/PROVENANCE.md``).

* ``patient_1_pet``: post-treatment Y-90 PET (Bq/mL); ``patient_1_seg``: its 3D Slicer segmentation
  (Liver, Tumor 1–6, Normal Tissue) on an MRI grid.
* ``patient_2_spect``: Tc-99m MAA SPECT (counts); ``patient_2_seg``: its segmentation (liver, Tumor 1,
  Tumor 2, whole liver normal, perfused volume, perfused normal, gallbladder) on a CT grid.

Source: SlicerRadioembolizationDosimetry_SampleImages (MIT licence, copyright 2025 Burak Demir).

Examples
--------
>>> sample_path("patient_1_pet").name
'patient_1_pet.nrrd'
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal, get_args

from sirtkit.errors import InputError

__all__ = ["SAMPLE_FILES", "SampleName", "sample_path"]

SampleName = Literal["patient_1_pet", "patient_1_seg", "patient_2_spect", "patient_2_seg"]

SAMPLE_FILES: dict[str, str] = {
    "patient_1_pet": "patient_1_pet.nrrd",
    "patient_1_seg": "patient_1_seg.seg.nrrd",
    "patient_2_spect": "patient_2_spect.nrrd",
    "patient_2_seg": "patient_2_seg.seg.nrrd",
}


def sample_path(name: SampleName) -> Path:
    """Path of a bundled sample file.

    Parameters
    ----------
    name
        One of ``"patient_1_pet"``, ``"patient_1_seg"``, ``"patient_2_spect"``, ``"patient_2_seg"``.

    Raises
    ------
    InputError
        If the name is unknown or the file is missing from the installation.
    """
    if name not in SAMPLE_FILES:
        raise InputError(f"unknown sample {name!r}: use one of {', '.join(get_args(SampleName))}")
    ref = resources.files("sirtkit").joinpath("data", "samples", SAMPLE_FILES[name])
    path = Path(str(ref))
    if not path.is_file():
        raise InputError(
            f"sample file {path} is missing from this installation: reinstall sirtkit (package data "
            "'data/samples') or install from a source checkout"
        )
    return path
