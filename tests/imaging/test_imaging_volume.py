"""The Volume type: geometry maths and validation."""

from __future__ import annotations

import numpy as np
import pytest

from sirtkit.errors import GeometryError
from sirtkit.imaging.volume import Volume, require_same_grid


def _vol(**kw):
    return Volume.from_spacing(np.zeros((4, 5, 6), np.float32), spacing_mm=(2.0, 1.5, 1.0),
                               origin_mm=(10.0, -20.0, 30.0), **kw)


def test_index_patient_round_trip():
    v = _vol()
    idx = np.array([[0, 0, 0], [3, 4, 5], [1.5, 2.25, 0.5]])
    assert np.allclose(v.patient_to_index(v.index_to_patient(idx)), idx)
    assert v.index_to_patient((1, 1, 1)).tolist() == [11.0, -18.5, 32.0]


def test_voxel_volume_and_total():
    v = _vol(quantity="activity_concentration", unit="Bq/mL").with_array(np.ones((4, 5, 6)))
    assert v.voxel_volume_ml == pytest.approx(0.003)
    assert v.total() == pytest.approx(120 * 0.003)


def test_validation_messages():
    with pytest.raises(GeometryError, match="3-D"):
        Volume(np.zeros((2, 2)), np.eye(4))
    bad = np.eye(4)
    bad[0, 0] = 0
    with pytest.raises(GeometryError):
        Volume(np.zeros((2, 2, 2)), bad)
    with pytest.raises(GeometryError, match="differs from the grid"):
        _vol().with_array(np.zeros((1, 1, 1)))


def test_require_same_grid():
    a = _vol(frame_of_reference_uid="1.2.3")
    require_same_grid(a, _vol(frame_of_reference_uid="1.2.3"))
    with pytest.raises(GeometryError, match="frame of reference"):
        require_same_grid(a, _vol(frame_of_reference_uid="9.9"))
    shifted = Volume.from_spacing(np.zeros((4, 5, 6)), spacing_mm=(2.0, 1.5, 1.0), origin_mm=(11.0, -20.0, 30.0))
    with pytest.raises(GeometryError, match="resample"):
        require_same_grid(a, shifted)


def test_affine_is_read_only():
    v = _vol()
    with pytest.raises(ValueError, match="read-only"):
        v.affine[0, 0] = 5.0
