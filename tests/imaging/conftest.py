"""Shared fixtures of the imaging tests: a small analytic phantom and its DICOM export."""

from __future__ import annotations

from pathlib import Path

import pytest

from sirtkit.imaging.phantom import Phantom, make_phantom, write_phantom_dicom

# A coarse phantom keeps the DICOM tests fast: 24 slices of 32×32, 8 mm voxels.
SMALL_SHAPE = (24, 32, 32)
SMALL_SPACING_MM = (10.0, 12.0, 12.0)


@pytest.fixture(scope="session")
def small_phantom() -> Phantom:
    return make_phantom(shape=SMALL_SHAPE, spacing_mm=SMALL_SPACING_MM, administered_activity_gbq=2.0)


@pytest.fixture(scope="session")
def phantom_pet_dicom(small_phantom: Phantom, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_phantom_dicom(small_phantom, tmp_path_factory.mktemp("phantom_pet"))
