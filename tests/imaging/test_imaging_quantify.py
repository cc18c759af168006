"""Activity quantification on the analytic phantom (hand-calculable answers)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from sirtkit.errors import InputError, UnitsError
from sirtkit.imaging import (
    activity_at_administration,
    activity_report,
    make_phantom,
    read_dicom_series,
    scale_to_delivered_activity,
)
from sirtkit.imaging.phantom import Phantom


def test_phantom_split_is_exact() -> None:
    """Partition split: lungs A·LSF, liver A·(1 − LSF), tumour/normal concentration ratio = T/N.

    Hand calculation for A = 2 GBq, LSF = 0.05: lungs 100 MBq, liver 1900 MBq.
    """
    ph = make_phantom()
    vv = ph.activity.voxel_volume_ml
    assert ph.voi_activity_mbq["lung"] == pytest.approx(100.0, rel=1e-12)
    assert ph.voi_activity_mbq["liver"] == pytest.approx(1900.0, rel=1e-12)
    for name in ("liver", "tumor_1", "tumor_2", "lung"):
        measured = ph.activity.array[ph.masks[name].array].sum() * vv / 1e6
        assert measured == pytest.approx(ph.voi_activity_mbq[name], rel=1e-9)
    tumour = ph.activity.array[ph.masks["tumor_1"].array].mean()
    normal = ph.activity.array[ph.masks["liver"].array & ~ph.masks["tumor_1"].array & ~ph.masks["tumor_2"].array]
    assert tumour / normal.mean() == pytest.approx(5.0, rel=1e-12)
    assert ph.activity.total() == pytest.approx(2.0e9, rel=1e-12)
    liver_ml = ph.masks["liver"].array.sum() * vv
    assert 1000 < liver_ml < 2500


def test_absolute_decay_back_from_dicom(small_phantom: Phantom, phantom_pet_dicom: dict[str, Path]) -> None:
    """PET decay-corrected to scan start (2 h after administration) decayed back to administration.

    Reference: A_admin = A_scan · exp(+ln2 · 2/64.1) → the phantom's 2.000 GBq; per-voxel within the
    stored int16 precision (slice peak / 32000), total within 1e-4.
    """
    pet = read_dicom_series(phantom_pet_dicom["pet"])
    at_admin = activity_at_administration(pet, administration_time=small_phantom.administration_time)
    assert at_admin.unit == "Bq/mL"
    assert at_admin.metadata["reference_datetime"] == small_phantom.administration_time
    expected = small_phantom.activity.array
    assert_allclose(at_admin.array, expected, atol=expected.max() / 32000 * 1.03)
    assert at_admin.total() == pytest.approx(2.0e9, rel=1e-4)
    report = activity_report(at_admin, small_phantom.masks)
    assert report.in_liver_mbq == pytest.approx(1900.0, rel=1e-3)
    assert report.in_lungs_mbq == pytest.approx(100.0, rel=1e-3)


def test_absolute_refuses_naive_times_and_counts(small_phantom: Phantom) -> None:
    with pytest.raises(InputError, match="timezone"):
        activity_at_administration(small_phantom.activity, administration_time=datetime(2026, 3, 2, 10))
    counts = small_phantom.activity.with_array(small_phantom.activity.array, quantity="counts", unit="counts")
    with pytest.raises(UnitsError, match="counts"):
        activity_at_administration(counts, administration_time=small_phantom.administration_time)
    no_time = small_phantom.activity.with_array(small_phantom.activity.array, metadata={})
    with pytest.raises(InputError, match="reference_datetime"):
        activity_at_administration(no_time, administration_time=small_phantom.administration_time)


def test_decay_back_is_analytic(small_phantom: Phantom) -> None:
    """64.1 h after administration the image holds half the activity: decaying back doubles it."""
    later = small_phantom.administration_time + timedelta(hours=64.1)
    image = small_phantom.activity.with_array(
        small_phantom.activity.array / 2.0, metadata={"reference_datetime": later}
    )
    back = activity_at_administration(image, administration_time=small_phantom.administration_time)
    assert_allclose(back.array, small_phantom.activity.array, rtol=1e-12)


def test_relative_scaling_with_lungs_in_image(small_phantom: Phantom) -> None:
    """Counts ∝ activity, liver + lungs in the image: liver ∪ lungs sum to the delivered 1.5 GBq
    (within 1e-6), split 95 / 5 % as in the phantom."""
    counts = small_phantom.activity.with_array(small_phantom.activity.array * 0.37, quantity="counts", unit="counts")
    activity, report = scale_to_delivered_activity(counts, small_phantom.masks, delivered_activity_gbq=1.5)
    liver, lung = small_phantom.masks["liver"].array, small_phantom.masks["lung"].array
    in_both = activity.array[liver | lung].sum() * activity.voxel_volume_ml
    assert in_both == pytest.approx(1.5e9, rel=1e-6)
    assert report.in_liver_mbq == pytest.approx(1500.0 * 0.95, rel=1e-6)
    assert report.in_lungs_mbq == pytest.approx(1500.0 * 0.05, rel=1e-6)
    assert report.mode == "relative"
    assert report.outside_liver_and_lungs_fraction == pytest.approx(0.0, abs=1e-12)
    assert activity.unit == "Bq/mL" and activity.quantity == "activity_concentration"


def test_relative_scaling_without_lungs_uses_lsf(small_phantom: Phantom) -> None:
    """No lung mask, LSF = 0.10: the liver gets A·(1 − LSF) = 1.8 GBq of 2 GBq."""
    masks = {"liver": small_phantom.masks["liver"]}
    counts = small_phantom.activity.with_array(small_phantom.activity.array, quantity="counts", unit="counts")
    _, report = scale_to_delivered_activity(counts, masks, delivered_activity_gbq=2.0, lung_shunt_fraction=0.10)
    assert report.in_liver_mbq == pytest.approx(1800.0, rel=1e-6)
    assert report.in_lungs_mbq is None
    assert any("1 − 0.1000" in n for n in report.notes)
    _, no_lsf = scale_to_delivered_activity(counts, masks, delivered_activity_gbq=2.0)
    assert no_lsf.in_liver_mbq == pytest.approx(2000.0, rel=1e-6)
    with pytest.raises(UnitsError, match="fraction"):
        scale_to_delivered_activity(counts, masks, delivered_activity_gbq=2.0, lung_shunt_fraction=12.0)
    with pytest.raises(InputError, match="liver"):
        scale_to_delivered_activity(counts, {}, delivered_activity_gbq=2.0)


def test_given_lsf_takes_precedence_over_noisy_lung_counts(small_phantom: Phantom) -> None:
    """Issue 7 item 4: one precedence rule — a given LSF wins over the image's lung counts. The phantom's
    image LSF is 0.05; with noise added to the lungs (×4 lung counts → image LSF ≈ 0.174) and a given LSF
    of 0.05, the liver gets A·0.95 and the lungs A·0.05 exactly (rel 1e-6), both LSFs are reported side by
    side, and the source is "given". Without a given LSF the image-derived one is used."""
    liver, lung = small_phantom.masks["liver"].array, small_phantom.masks["lung"].array
    noisy = np.where(lung & ~liver, small_phantom.activity.array * 4.0, small_phantom.activity.array)
    counts = small_phantom.activity.with_array(noisy, quantity="counts", unit="counts")
    _, given = scale_to_delivered_activity(counts, small_phantom.masks, delivered_activity_gbq=2.0,
                                           lung_shunt_fraction=0.05)
    assert given.in_liver_mbq == pytest.approx(1900.0, rel=1e-6)
    assert given.in_lungs_mbq == pytest.approx(100.0, rel=1e-6)
    assert given.lung_shunt_fraction_source == "given" and given.lung_shunt_fraction_used == 0.05
    assert given.lung_shunt_fraction_given == 0.05
    assert given.lung_shunt_fraction_image == pytest.approx(0.2 / (0.95 + 0.2), rel=1e-6)
    assert any("takes precedence" in n and "not used" in n for n in given.notes)
    _, image = scale_to_delivered_activity(counts, small_phantom.masks, delivered_activity_gbq=2.0)
    assert image.lung_shunt_fraction_source == "image"
    assert image.in_lungs_mbq == pytest.approx(2000.0 * 0.2 / 1.15, rel=1e-6)
    # Lungs without counts but a given LSF: the lung activity is spread uniformly over the lung segment.
    empty = small_phantom.activity.with_array(np.where(lung & ~liver, 0.0, small_phantom.activity.array),
                                              quantity="counts", unit="counts")
    act, spread = scale_to_delivered_activity(empty, small_phantom.masks, delivered_activity_gbq=2.0,
                                              lung_shunt_fraction=0.05)
    assert spread.in_lungs_mbq == pytest.approx(100.0, rel=1e-6)
    assert float(np.ptp(act.array[lung & ~liver])) == pytest.approx(0.0, abs=1e-6)


def test_report_fractions_and_body(small_phantom: Phantom) -> None:
    """Add 50 MBq outside the body and 30 MBq in the body but outside liver/lungs."""
    act = small_phantom.activity.array.copy()
    vv = small_phantom.activity.voxel_volume_ml
    body = small_phantom.masks["body"].array
    organs = small_phantom.masks["liver"].array | small_phantom.masks["lung"].array
    act[~body] += 50e6 / (~body).sum() / vv
    soft = body & ~organs
    act[soft] += 30e6 / soft.sum() / vv
    rep = activity_report(small_phantom.activity.with_array(act), small_phantom.masks)
    assert rep.total_in_fov_mbq == pytest.approx(2080.0, rel=1e-9)
    assert rep.outside_body_mbq == pytest.approx(50.0, rel=1e-9)
    assert rep.outside_liver_and_lungs_fraction == pytest.approx(80.0 / 2080.0, rel=1e-9)
    no_body = {k: v for k, v in small_phantom.masks.items() if k != "body"}
    assert activity_report(small_phantom.activity, no_body).outside_body_mbq is None
    counts = small_phantom.activity.with_array(act, quantity="counts", unit="counts")
    with pytest.raises(UnitsError):
        activity_report(counts, small_phantom.masks)
    thresholded = activity_report(small_phantom.activity, no_body, body_threshold=1.0)
    assert thresholded.outside_body_mbq == pytest.approx(0.0, abs=1e-12)
    assert np.isfinite(thresholded.total_in_fov_mbq)


def test_given_lsf_with_bq_per_ml_image(small_phantom: Phantom) -> None:
    """The same precedence rule on a Bq/mL image (not counts): liver A·(1 − LSF), lungs A·LSF, rel 1e-6."""
    _, report = scale_to_delivered_activity(small_phantom.activity, small_phantom.masks, delivered_activity_gbq=1.2,
                                            lung_shunt_fraction=0.10)
    assert report.in_liver_mbq == pytest.approx(1080.0, rel=1e-6)
    assert report.in_lungs_mbq == pytest.approx(120.0, rel=1e-6)
    _, image = scale_to_delivered_activity(small_phantom.activity, small_phantom.masks, delivered_activity_gbq=1.2)
    assert image.in_liver_mbq + image.in_lungs_mbq == pytest.approx(1200.0, rel=1e-6)


def test_recovery_curve_reading_and_refusals(tmp_path: Path) -> None:
    """Recovery curves (issue 7 item 8): diameter_mm rows become sphere volumes π/6·d³ (37 mm → 26.52 mL, the
    NEMA NU 2 largest sphere, CLINICAL.md §11.4; rel 1e-3); RC interpolated in log volume; no extrapolation;
    percentages, one row, or a wrong header are refused naming the file."""
    from sirtkit.imaging.quantify import read_recovery_curve

    good = tmp_path / "rc.csv"
    good.write_text("# NEMA\ndiameter_mm,recovery_coefficient\n37,0.86\n10,0.2\n", encoding="utf-8")
    curve = read_recovery_curve(good)
    assert curve.volumes_ml[-1] == pytest.approx(26.52, rel=1e-3) and curve.coefficients == (0.2, 0.86)
    assert curve.at(curve.volumes_ml[0]) == pytest.approx(0.2) and curve.at(100.0) is None and curve.at(0.1) is None
    middle = float(np.sqrt(curve.volumes_ml[0] * curve.volumes_ml[-1]))
    assert curve.at(middle) == pytest.approx(0.53, rel=1e-9)
    for text, match in (("volume_ml,recovery_coefficient\n1,86\n5,90\n", "fraction"),
                        ("volume_ml,recovery_coefficient\n1,0.5\n", "two rows"),
                        ("size,rc\n1,0.5\n2,0.6\n", "header")):
        bad = tmp_path / "bad.csv"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(InputError, match=match):
            read_recovery_curve(bad)
    with pytest.raises(InputError, match="no such file"):
        read_recovery_curve(tmp_path / "missing.csv")


def test_recovery_curve_errors_name_the_files_own_line(tmp_path):
    """Comment lines are skipped, but an error names the line of the file a person opens (here line 5)."""
    from sirtkit.errors import InputError
    from sirtkit.imaging.quantify import read_recovery_curve

    path = tmp_path / "rc.csv"
    path.write_text("# phantom 2024\nvolume_ml,recovery_coefficient\n# spheres\n0.5,0.4\n2.0,x\n")
    with pytest.raises(InputError, match=r"line 5: .* is not two numbers"):
        read_recovery_curve(path)
