"""Untrusted names in every CSV sirtkit writes (issue 8 item 16): formula cells are neutralised.

Reference: OWASP "CSV Injection" — cells starting with = + - @ (tab, CR) get a leading single quote.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sirtkit.workflows.compare import CompareCase, run_compare, write_compare_outputs
from sirtkit.workflows.posttreatment import DoseCase, run_dose, write_dose_outputs

EVIL = '=HYPERLINK("http://evil.example","x")'


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def _evil_labels(labels: dict[int, str]) -> dict[int, str]:
    return {k: (EVIL if v == "tumor_2" else "@lung" if v == "lung" else v) for k, v in labels.items()}


def test_dose_csvs_neutralise_segment_names(phantom_files, tmp_path):
    case = DoseCase(emission=phantom_files["counts"], segmentation=phantom_files["seg"],
                    segment_labels=_evil_labels(phantom_files["labels"]), quantification="relative",
                    delivered_activity_gbq=2.0, engine="ldm", voi_roles={EVIL: "tumor", "@lung": "lung"})
    files = write_dose_outputs(run_dose(case), tmp_path / "out")
    for key in ("dvh_csv", "metrics_csv", "voi_table_csv"):
        cells = _cells(files[key])
        assert "'" + EVIL in cells and "'@lung" in cells, key
        assert not any(c.startswith(("=", "@")) for c in cells), key


def test_compare_csv_neutralises_segment_names(phantom_files, tmp_path):
    from sirtkit.dosimetry import dose_ldm
    from sirtkit.imaging import read_volume, write_volume

    dose = write_volume(dose_ldm(read_volume(phantom_files["activity"], quantity="activity_concentration",
                                             unit="Bq/mL")), tmp_path / "dose.nrrd")
    case = CompareCase(predicted=dose, delivered=dose, segmentation=phantom_files["seg"],
                       segment_labels=_evil_labels(phantom_files["labels"]),
                       voi_roles={EVIL: "tumor", "@lung": "lung"})
    files = write_compare_outputs(run_compare(case), tmp_path / "cmp")
    cells = [c for p in files.values() if str(p).endswith(".csv") for c in _cells(Path(p))]
    assert "'" + EVIL in cells
    assert not any(c.startswith(("=", "@")) for c in cells)
