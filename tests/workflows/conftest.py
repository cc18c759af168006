"""Fixtures for workflow tests: the analytic phantom written as NRRD files."""

from __future__ import annotations

from pathlib import Path

import pytest

from sirtkit.imaging import make_phantom, masks_to_labelmap, write_volume


@pytest.fixture(scope="session")
def phantom_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Phantom activity (Bq/mL), counts-like copy, CT and a label map with its {label: name} mapping."""
    folder: Path = tmp_path_factory.mktemp("phantom")
    phantom = make_phantom(shape=(40, 64, 64), spacing_mm=(5.0, 5.0, 5.0), administered_activity_gbq=2.0,
                           tumor_to_normal_ratio=5.0, lung_shunt_fraction=0.05, seed=0)
    m = phantom.masks
    # A label map cannot hold overlapping segments: liver parenchyma and tumours get their own labels.
    tumours = m["tumor_1"].array | m["tumor_2"].array
    labelmap, labels = masks_to_labelmap({
        "normal liver": m["liver"].with_array(m["liver"].array & ~tumours),
        "tumor_1": m["tumor_1"], "tumor_2": m["tumor_2"], "lung": m["lung"],
    })
    activity = write_volume(phantom.activity, folder / "activity.nrrd")
    counts = write_volume(phantom.activity.with_array(phantom.activity.array * 1e-3, quantity="counts",
                                                      unit="counts"), folder / "counts.nrrd")
    ct = write_volume(phantom.ct, folder / "ct.nrrd")
    seg = write_volume(labelmap, folder / "labels.nrrd")
    return {"phantom": phantom, "activity": activity, "counts": counts, "ct": ct, "seg": seg, "labels": labels}
