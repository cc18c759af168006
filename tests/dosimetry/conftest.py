"""Shared fixtures of the dosimetry tests: synthetic activity, dose and mask Volumes built in code."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sirtkit.imaging import Volume

VolumeFactory = Callable[..., Volume]


@pytest.fixture
def activity_volume() -> VolumeFactory:
    """Factory: an activity-concentration Volume (Bq/mL) from an array and a spacing."""

    def make(array: np.ndarray, spacing_mm: tuple[float, float, float] = (4.0, 4.0, 4.0)) -> Volume:
        return Volume.from_spacing(
            np.asarray(array), spacing_mm, origin_mm=(-10.0, 20.0, 5.0),
            quantity="activity_concentration", unit="Bq/mL", frame_of_reference_uid="1.2.3.4",
        )

    return make


@pytest.fixture
def dose_volume() -> VolumeFactory:
    """Factory: a dose Volume (Gy) from an array and a spacing."""

    def make(array: np.ndarray, spacing_mm: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Volume:
        return Volume.from_spacing(
            np.asarray(array), spacing_mm, origin_mm=(0.0, 0.0, 0.0), quantity="dose", unit="Gy",
            frame_of_reference_uid="1.2.3.4",
        )

    return make


@pytest.fixture
def mask_like() -> Callable[[Volume, np.ndarray], Volume]:
    """Factory: a boolean mask Volume on the grid of another Volume."""

    def make(grid: Volume, mask: np.ndarray) -> Volume:
        return grid.with_array(np.asarray(mask, dtype=bool), quantity="mask", unit="1")

    return make
