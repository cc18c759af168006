"""Post-treatment dosimetry workflow on the analytic phantom (hand-calculable answers)."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import pydantic
import pytest

from sirtkit.errors import InputError, UnitsError
from sirtkit.imaging import write_volume
from sirtkit.physics.nuclides import Y90
from sirtkit.workflows.posttreatment import DoseCase, run_dose, write_dose_outputs

LIVER_DENSITY_KG_PER_ML = 1.03e-3


def _case(files, **kw):
    base = {"emission": files["counts"], "segmentation": files["seg"], "segment_labels": files["labels"],
            "quantification": "relative", "delivered_activity_gbq": 2.0, "engine": "ldm"}
    return DoseCase(**{**base, **kw})


def _by_name(result):
    return {v.name: v for v in result.voi_doses}


def test_relative_ldm_matches_mird(phantom_files):
    """Reference: MIRD single compartment D = K·A/M (CLINICAL.md §2.2, W23 form) for each tumour.

    The phantom holds 1900 MBq in the liver and 100 MBq in the lungs (2.0 GBq in all); the counts image
    is scaled so liver + lungs hold the delivered 2.0 GBq, so the LDM mean tumour dose is
    49.67 Gy·kg/GBq × A_T / (V_T × 1.03 g/mL). Tolerance 1e-4 relative (float32 dose grid).
    """
    phantom = phantom_files["phantom"]
    result = run_dose(_case(phantom_files))
    vois = _by_name(result)
    assert result.activity_summary.in_liver_mbq == pytest.approx(1900.0, rel=1e-6)
    for name in ("tumor_1", "tumor_2"):
        volume_ml = phantom.masks[name].array.sum() * phantom.activity.voxel_volume_ml
        expected = Y90.dose_constant_gy_kg_per_gbq * phantom.voi_activity_mbq[name] / 1000 / (
            volume_ml * LIVER_DENSITY_KG_PER_ML)
        assert vois[name].metrics.mean_gy == pytest.approx(expected, rel=1e-4)
        assert vois[name].activity_mbq == pytest.approx(phantom.voi_activity_mbq[name], rel=1e-5)
    # Derived VOIs: liver = normal ∪ tumours is built, all tumours and its BED present.
    assert "All tumours" in vois
    assert vois["tumor_1"].mean_bed_gy > vois["tumor_1"].metrics.mean_gy


def test_vsv_agrees_with_ldm_in_large_uniform_region(phantom_files):
    """Invariant: in a large region of uniform activity VSV equals LDM (energy conservation), so the
    normal-liver mean dose agrees within 3 % (edges lose some energy to spill-out)."""
    ldm = _by_name(run_dose(_case(phantom_files, engine="ldm")))
    vsv = _by_name(run_dose(_case(phantom_files, engine="vsv")))
    assert vsv["normal liver"].metrics.mean_gy == pytest.approx(ldm["normal liver"].metrics.mean_gy, rel=0.03)
    # Small hot tumours lose dose to their surroundings with VSV.
    assert vsv["tumor_2"].metrics.mean_gy < ldm["tumor_2"].metrics.mean_gy


def test_absolute_quantification_decays_back(phantom_files, tmp_path):
    """Reference: A(t) = A₀·2^(−t/T½). An image of half the activity, acquired one half-life (64.1 h)
    after administration, gives the same dose as the administration-time image (rel 1e-5)."""
    phantom = phantom_files["phantom"]
    late = write_volume(phantom.activity.with_array(phantom.activity.array * 0.5), tmp_path / "late.nrrd")
    t0 = phantom.administration_time
    absolute = run_dose(_case(phantom_files, emission=late, quantification="absolute", delivered_activity_gbq=None,
                              administration_time=t0, image_reference_time=t0 + timedelta(hours=64.1)))
    relative = run_dose(_case(phantom_files))
    a, r = _by_name(absolute), _by_name(relative)
    for name in ("tumor_1", "normal liver", "lung"):
        assert a[name].metrics.mean_gy == pytest.approx(r[name].metrics.mean_gy, rel=1e-5)


def test_bad_inputs_are_named(phantom_files):
    with pytest.raises(pydantic.ValidationError, match="MBq or mCi"):
        _case(phantom_files, delivered_activity_gbq=1400)
    with pytest.raises(pydantic.ValidationError, match="needs a segmentation"):
        DoseCase(emission=phantom_files["counts"], delivered_activity_gbq=1.0)
    with pytest.raises(pydantic.ValidationError, match="administration_time"):
        _case(phantom_files, quantification="absolute")
    t0 = phantom_files["phantom"].administration_time
    with pytest.raises(UnitsError, match="counts"):
        run_dose(_case(phantom_files, quantification="absolute", administration_time=t0))
    with pytest.raises(InputError, match="--image-time"):
        run_dose(_case(phantom_files, emission=phantom_files["activity"], quantification="absolute",
                       administration_time=t0))
    with pytest.raises(InputError, match="voi-role"):
        run_dose(_case(phantom_files, segment_labels={3: "lung"}))


def test_outputs_written_together(phantom_files, tmp_path):
    result = run_dose(_case(phantom_files))
    out = tmp_path / "out"
    files = write_dose_outputs(result, out)
    for key in ("dose", "dvh_csv", "metrics_csv", "json", "dvh_png", "overlay_png", "html"):
        assert files[key].is_file(), key
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.staging")]
    doc = json.loads(files["json"].read_text())
    names = [v["name"] for v in doc["dosimetry"]["vois"]]
    assert "tumor_1" in names
    assert "RTDOSE" not in files  # no DICOM reference for NRRD input
    html = files["html"].read_text()
    assert "tumor_1" in html and "data:image/png;base64," in html


def test_negative_values_clipped_and_reported(phantom_files, tmp_path):
    phantom = phantom_files["phantom"]
    arr = phantom.activity.array.copy()
    arr[0, 0, :5] = -1000.0
    noisy = write_volume(phantom.activity.with_array(arr), tmp_path / "noisy.nrrd")
    result = run_dose(_case(phantom_files, emission=noisy))
    assert any("negative values" in n for n in result.notes + result.warnings)
    assert float(np.min(result.dose.array)) >= 0.0


def test_label_map_liver_without_tumours_gives_the_same_doses(phantom_files):
    """A label map's "liver" label excludes the tumours (one label per voxel). Treating it as the whole
    liver would scale the delivered activity into the parenchyma only and inflate tumour doses (3.5× in
    a new-user trial); the whole liver must be liver ∪ tumours, so the doses equal the reference case."""
    labels = {k: ("liver" if v == "normal liver" else v) for k, v in phantom_files["labels"].items()}
    as_liver = _by_name(run_dose(_case(phantom_files, segment_labels=labels)))
    reference = _by_name(run_dose(_case(phantom_files)))
    assert as_liver["tumor_1"].metrics.mean_gy == pytest.approx(reference["tumor_1"].metrics.mean_gy, rel=1e-6)


def test_image_time_before_administration_refused(phantom_files):
    t0 = phantom_files["phantom"].administration_time
    with pytest.raises(InputError, match="before the administration"):
        run_dose(_case(phantom_files, emission=phantom_files["activity"], quantification="absolute",
                       delivered_activity_gbq=None, administration_time=t0,
                       image_reference_time=t0 - timedelta(hours=2)))


def _lung_activity_mbq(phantom):
    return phantom.voi_activity_mbq["lung"]


@pytest.mark.parametrize("engine", ["ldm", "vsv"])
def test_lung_dose_uses_conventional_lung_mass(phantom_files, engine):
    """Issue 7 item 3: a lung VOI never gets liver density. Without CT the lung mass is the conventional
    1 kg of MIRD lung dosimetry (TheraSphere IFU: lung limits "based on 30 Gy to a lung mass of 1.0 kg";
    CLINICAL.md §3), so the lung mean dose equals D_L = K·A_lung/1 kg = 49.67 × 0.100 GBq / 1 kg = 4.967 Gy
    (phantom: 100 MBq in the lungs), with either engine (lung voxels by local deposition). Tolerance 1e-4.
    With 1.03 g/mL (the old behaviour) it was 49.67 × 0.1 / 0.719 kg = 6.9 Gy here and 4–7× too low for
    real whole-lung segments (3–5 L)."""
    phantom = phantom_files["phantom"]
    result = run_dose(_case(phantom_files, engine=engine))
    lung = _by_name(result)["lung"]
    expected = Y90.dose_constant_gy_kg_per_gbq * _lung_activity_mbq(phantom) / 1000.0 / 1.0
    assert lung.metrics.mean_gy == pytest.approx(expected, rel=1e-4)
    assert lung.metrics.mass_g == pytest.approx(1000.0, rel=1e-4)
    assert "conventional 1 kg" in lung.density_source
    assert result.provenance["lung_mass_kg"] == 1.0
    # The phantom's lung segment (699 mL) cannot be whole lungs of 1 kg: said loudly, not silently used.
    assert any(w.startswith("LUNG SEGMENT") for w in result.warnings)
    # A given lung mass replaces the convention.
    given = _by_name(run_dose(_case(phantom_files, engine=engine, lung_mass_kg=0.8)))["lung"]
    assert given.metrics.mean_gy == pytest.approx(expected / 0.8, rel=1e-4)


def test_lung_dose_with_ct_density(phantom_files):
    """Issue 7 item 3: with a CT the lung mass comes from the CT (Kao et al., EJNMMI Res 2014;4:33) through
    the Schneider et al. 2000 calibration: D_L = K·A_lung / Σ ρ(HU)·V. The liver keeps 1.03 g/mL with
    density 'uniform', and gets the calibrated CT density with density 'ct'. Tolerance 1e-3 (CT resampled
    onto the same grid, float32)."""
    from sirtkit.physics.tissue import hu_to_density

    phantom = phantom_files["phantom"]
    lung_mask = phantom.masks["lung"].array & ~phantom.masks["liver"].array
    mass_kg = float(hu_to_density(phantom.ct.array[lung_mask]).sum()) * phantom.ct.voxel_volume_ml / 1000.0
    expected = Y90.dose_constant_gy_kg_per_gbq * _lung_activity_mbq(phantom) / 1000.0 / mass_kg
    for density in ("uniform", "ct"):
        result = run_dose(_case(phantom_files, ct=phantom_files["ct"], density=density))
        lung = _by_name(result)["lung"]
        assert lung.metrics.mean_gy == pytest.approx(expected, rel=1e-3)
        assert lung.metrics.mass_g == pytest.approx(1000 * mass_kg, rel=1e-3)
        assert "CT" in lung.density_source
    uniform = _by_name(run_dose(_case(phantom_files, ct=phantom_files["ct"])))
    assert uniform["tumor_1"].density_source.startswith("uniform 1.03")


def test_contrast_enhanced_ct_liver_density(phantom_files, tmp_path):
    """Issue 7 item 3: contrast-enhanced liver (+60 HU, portal-venous ≈ 120 HU) must not read as 1.10 g/mL.
    Auto-detected (liver median > 90 HU): the liver reads 1.031 g/mL (Schneider 2000 unenhanced soft tissue),
    so delivered doses stay comparable with the 1.03 g/mL plan (within 0.1 %), and a warning says so."""
    phantom = phantom_files["phantom"]
    liver = phantom.masks["liver"].array
    enhanced = write_volume(phantom.ct.with_array(np.where(liver, phantom.ct.array + 60.0, phantom.ct.array)),
                            tmp_path / "ct_enhanced.nrrd")
    result = run_dose(_case(phantom_files, ct=enhanced, density="ct"))
    assert result.provenance["ct_contrast"] == "enhanced"
    assert result.provenance["liver_mean_density_g_per_ml"] == pytest.approx(1.031, abs=1e-3)
    assert any(w.startswith("CONTRAST-ENHANCED CT") for w in result.warnings)
    reference = _by_name(run_dose(_case(phantom_files)))
    assert _by_name(result)["normal liver"].metrics.mean_gy == pytest.approx(
        reference["normal liver"].metrics.mean_gy * 1.03 / 1.031, rel=2e-3)
    forced = run_dose(_case(phantom_files, ct=enhanced, density="ct", ct_contrast="none"))
    assert forced.provenance["liver_mean_density_g_per_ml"] > 1.08


def test_given_lsf_takes_precedence_and_is_shown(phantom_files, tmp_path):
    """Issue 7 item 4: noisy lung counts (×4, image LSF 0.174) and a given LSF 0.05: the given LSF wins, the
    lung holds 0.05 × 2 GBq = 100 MBq (rel 1e-6), and notes and provenance show both values and the rule."""
    phantom = phantom_files["phantom"]
    lung = phantom.masks["lung"].array & ~phantom.masks["liver"].array
    noisy = write_volume(phantom.activity.with_array(np.where(lung, phantom.activity.array * 4.0,
                                                              phantom.activity.array) * 1e-3,
                                                     quantity="counts", unit="counts"), tmp_path / "noisy.nrrd")
    result = run_dose(_case(phantom_files, emission=noisy, lung_shunt_fraction=0.05))
    assert _by_name(result)["lung"].activity_mbq == pytest.approx(100.0, rel=1e-6)
    p = result.provenance
    assert p["lung_shunt_fraction_source"] == "given" and p["lung_shunt_fraction_used"] == 0.05
    assert p["lung_shunt_fraction_image"] == pytest.approx(0.2 / 1.15, rel=1e-4)
    sentence = next(n for n in result.notes if n.startswith("Lung shunt fraction used"))
    assert "0.0500" in sentence and "0.1739" in sentence and "precedence" in sentence
    image = run_dose(_case(phantom_files, emission=noisy))
    assert image.provenance["lung_shunt_fraction_source"] == "image"
    assert not any(w.startswith("SUSPICIOUS LUNG COUNTS") for w in image.warnings)  # 0.174 < 0.20


def test_implausible_inputs_refused_or_warned(phantom_files, tmp_path):
    """Issue 7 item 6: 27 GBq (27 mCi typed as GBq) is refused (Y-90 at most 20 GBq, TheraSphere's largest
    vial); an empty liver segment is refused (it would scale the tumours to thousands of Gy); swapped liver ↔
    lung roles are refused (image LSF > 0.5); a segmentation shifted by 2 cm earns a loud MISALIGNED warning
    and one shifted by 8 cm is refused; implausible mean doses are flagged."""
    with pytest.raises(pydantic.ValidationError, match="mCi"):
        _case(phantom_files, delivered_activity_gbq=27.0)
    labels = phantom_files["labels"]
    swapped = {k: {"normal liver": "lung", "lung": "normal liver"}.get(v, v) for k, v in labels.items()}
    with pytest.raises(InputError, match="swapped"):
        run_dose(_case(phantom_files, segment_labels=swapped))
    from sirtkit.imaging import read_volume

    labelmap = read_volume(phantom_files["seg"])
    liver_value = next(k for k, v in labels.items() if v == "normal liver")
    emptied = write_volume(labelmap.with_array(np.where(labelmap.array == liver_value, 0, labelmap.array)),
                           tmp_path / "no_liver.nrrd")
    with pytest.raises(InputError, match="liver"):
        run_dose(_case(phantom_files, segmentation=emptied))
    shifted = write_volume(labelmap.with_array(np.roll(labelmap.array, 4, axis=2)), tmp_path / "shift2cm.nrrd")
    result = run_dose(_case(phantom_files, segmentation=shifted))
    assert any(w.startswith("SEGMENTATION MISALIGNED") for w in result.warnings)
    far = write_volume(labelmap.with_array(np.roll(labelmap.array, 16, axis=2)), tmp_path / "shift8cm.nrrd")
    with pytest.raises(InputError, match="does not match"):
        run_dose(_case(phantom_files, segmentation=far))
    clean = run_dose(_case(phantom_files))
    assert not any(w.startswith(("SEGMENTATION", "IMPLAUSIBLE")) for w in clean.warnings)
    hot = run_dose(_case(phantom_files, delivered_activity_gbq=19.0))  # 9.5× the phantom's 2 GBq
    assert any(w.startswith("IMPLAUSIBLE DOSE: normal liver") for w in hot.warnings)


def test_partial_volume_warning_by_resolution_and_recovery_curve(phantom_files, tmp_path):
    """Issue 7 item 8: the PVE warning depends on the system FWHM, not on voxels: tumour_2 (4.0 mL, 19.7 mm
    equivalent diameter) is flagged with the Y-90 PET default (8 mm → below 24 mm) and not with a 5 mm FWHM
    (below 15 mm). A recovery curve (RC 0.5 at 4 mL, user-supplied, e.g. NEMA/IEC spheres) gives a
    separately labelled corrected mean = mean / RC (rel 1e-9) only when asked; tables keep the measured dose."""
    assumed = run_dose(_case(phantom_files))  # counts NRRD without modality: bremsstrahlung SPECT assumed, said
    assert assumed.provenance["fwhm_mm"] == 15.0 and any("assumed bremsstrahlung" in n for n in assumed.notes)
    default = run_dose(_case(phantom_files, emission_modality="y90_pet"))
    assert default.provenance["fwhm_mm"] == 8.0
    assert any(w.startswith("PARTIAL VOLUME: tumor_2") for w in default.warnings)
    sharp = run_dose(_case(phantom_files, fwhm_mm=5.0))
    assert not any("PARTIAL VOLUME: tumor_2" in w for w in sharp.warnings)
    assert all(v.mean_gy_recovery_corrected is None for v in default.voi_doses)
    curve = tmp_path / "rc.csv"
    curve.write_text("# NEMA IEC body phantom, Y-90 PET\nvolume_ml,recovery_coefficient\n0.5,0.3\n4.0,0.5\n"
                     "26.5,0.85\n", encoding="utf-8")
    corrected = run_dose(_case(phantom_files, recovery_curve=curve))
    t2 = _by_name(corrected)["tumor_2"]
    assert t2.recovery_coefficient == pytest.approx(0.5, abs=0.01)
    assert t2.mean_gy_recovery_corrected == pytest.approx(t2.metrics.mean_gy / t2.recovery_coefficient, rel=1e-9)
    assert t2.metrics.mean_gy == pytest.approx(_by_name(default)["tumor_2"].metrics.mean_gy, rel=1e-9)
    assert any(n.startswith("RECOVERY-CORRECTED (user curve rc.csv): tumor_2") for n in corrected.notes)
    assert _by_name(corrected)["normal liver"].mean_gy_recovery_corrected is None  # tumours only


def test_empty_liver_on_the_grid_is_refused(phantom_files):
    """Issue 7 item 6 (defence in depth behind the segmentation readers): a liver segment that is empty on the
    emission grid would make liver ∪ tumours = tumours and scale the whole delivered activity into them (the
    "4,000 Gy tumours" of the issue). It is refused with a message naming the cause."""
    from sirtkit.workflows.posttreatment import _liver_and_lungs
    from sirtkit.workflows.vois import build_voi_set

    phantom = phantom_files["phantom"]
    m = phantom.masks
    vois = build_voi_set({"Liver": m["liver"].with_array(np.zeros(m["liver"].shape, bool)),
                          "tumor_1": m["tumor_1"]})
    with pytest.raises(InputError, match="empty on the emission grid"):
        _liver_and_lungs(_case(phantom_files), vois, [], [])


def test_label_map_reports_the_whole_liver_incl_tumours(phantom_files):
    """QA finding 1: a label map's liver label excludes the tumours, but quantification uses liver ∪ tumours.
    The table must then show the whole liver (incl. tumours) — its mean dose is K·A_liver/M_liver with the
    1900 MBq of the phantom's liver in (normal + tumour) volume — and the label itself as normal liver, not a
    "Liver" row that is really the normal liver. Reference: MIRD D = K·A/M (CLINICAL.md §2.2); tol 1e-4."""
    from sirtkit.workflows.vois import WHOLE_LIVER

    phantom = phantom_files["phantom"]
    labels = {k: ("liver" if v == "normal liver" else v) for k, v in phantom_files["labels"].items()}
    result = run_dose(_case(phantom_files, segment_labels=labels))
    vois = _by_name(result)
    liver_ml = phantom.masks["liver"].array.sum() * phantom.activity.voxel_volume_ml
    expected = Y90.dose_constant_gy_kg_per_gbq * 1.9 / (liver_ml * LIVER_DENSITY_KG_PER_ML)
    assert vois[WHOLE_LIVER].role == "liver"
    assert vois[WHOLE_LIVER].metrics.mean_gy == pytest.approx(expected, rel=1e-4)
    assert vois[WHOLE_LIVER].metrics.volume_ml == pytest.approx(liver_ml, rel=1e-9)
    # the label's own region is the normal liver, and no second "Normal liver" duplicates it
    assert vois["liver"].role == "normal_liver"
    assert "Normal liver" not in vois
    assert vois["liver"].metrics.mean_gy < vois[WHOLE_LIVER].metrics.mean_gy
    assert any("Whole liver (incl. tumours)" in n for n in result.notes)


def test_overlapping_liver_segment_is_not_double_counted(phantom_files):
    """With overlapping layers (Slicer .seg.nrrd) "Liver" already holds the tumours: no derived whole liver is
    added, the liver row equals the whole liver and its activity is the 1900 MBq once (tol 1e-5)."""
    from sirtkit.workflows.vois import WHOLE_LIVER, build_voi_set

    m = phantom_files["phantom"].masks
    vois = build_voi_set({"Liver": m["liver"], "Tumor 1": m["tumor_1"], "Tumor 2": m["tumor_2"], "Lung": m["lung"]})
    assert WHOLE_LIVER not in vois.masks and vois.roles["Liver"] == "liver" and not vois.notes
    assert np.array_equal(vois.union("liver"), m["liver"].array.astype(bool))
    # a lesion that sticks out of the liver contour by a few boundary voxels (< 1 %) changes nothing either
    both = m["tumor_1"].array | m["tumor_2"].array
    edge = np.argwhere(both)[0]
    liver = m["liver"].array.astype(bool).copy()
    liver[tuple(edge)] = False
    vois = build_voi_set({"Liver": m["liver"].with_array(liver), "Tumor 1": m["tumor_1"], "Tumor 2": m["tumor_2"]})
    assert WHOLE_LIVER not in vois.masks


def test_partially_overlapping_liver_segment_becomes_liver_segment(phantom_files):
    """A liver segment that holds one tumour but not the other is neither the whole nor the normal liver: it is
    kept as role ``liver_segment``, and the derived whole and normal liver are exact unions/differences."""
    from sirtkit.workflows.vois import NORMAL_LIVER, WHOLE_LIVER, build_voi_set

    m = phantom_files["phantom"].masks
    liver = m["liver"].array.astype(bool) & ~m["tumor_2"].array.astype(bool)
    vois = build_voi_set({"Liver": m["liver"].with_array(liver), "Tumor 1": m["tumor_1"], "Tumor 2": m["tumor_2"]})
    assert vois.roles["Liver"] == "liver_segment"
    assert np.array_equal(vois.masks[WHOLE_LIVER].array, m["liver"].array.astype(bool))
    tumours = m["tumor_1"].array.astype(bool) | m["tumor_2"].array.astype(bool)
    assert np.array_equal(vois.masks[NORMAL_LIVER].array, m["liver"].array.astype(bool) & ~tumours)


@pytest.mark.parametrize(("changes", "match"), [
    ({"fwhm_mm": 0.8}, r"finer than any clinical PET or SPECT.*0\.8 cm = 8 mm"),
    ({"fwhm_mm": 80.0}, "FWHM in mm, 2–50"),
    ({"lung_mass_kg": 1000.0}, r"grams \(1000 g = 1 kg\)"),
    ({"lung_mass_kg": 0.05}, "plausible 0.1–5 kg"),
])
def test_resolution_and_lung_mass_unit_slips_refused(phantom_files, changes, match):
    """QA finding 7: --fwhm-mm 0.8 (cm typed as mm) silenced every partial-volume warning; no clinical PET or
    SPECT is sharper than ~2 mm FWHM (Moses, NIM A 2011). --lung-mass-kg 1000 gave a raw validator message;
    now the grams reading is given. The image-plan case reads both the same way."""
    from sirtkit.workflows.imageplan import ImagePlanCase

    with pytest.raises(pydantic.ValidationError, match=match):
        _case(phantom_files, **changes)
    with pytest.raises(pydantic.ValidationError, match=match):
        ImagePlanCase(patient_id="P", spect=phantom_files["counts"], segmentation=phantom_files["seg"], **changes)
    assert _case(phantom_files, fwhm_mm=2.0, lung_mass_kg=1.2).fwhm_mm == 2.0


@pytest.mark.parametrize("where", ["figure", "data"])
def test_a_failure_while_writing_outputs_leaves_nothing(phantom_files, tmp_path, monkeypatch, where):
    """An error while a figure is drawn or a data file is written, with the command's background threads
    on (as under the `sirtkit` command), comes back with its own type and message; the output folder is not
    created and no staging folder is left."""
    from sirtkit import _concurrent
    from sirtkit.report import render
    from sirtkit.workflows import posttreatment

    monkeypatch.setattr(_concurrent, "_enabled", True)
    monkeypatch.setenv("SIRTKIT_SERIAL", "0")
    result = run_dose(_case(phantom_files))

    def broken(*args, **kwargs):
        raise UnitsError("broken on purpose")

    if where == "figure":
        monkeypatch.setattr(render, "figure_png", broken)
    else:
        monkeypatch.setattr(posttreatment.dosimetry, "write_metrics_csv", broken)
    with pytest.raises(UnitsError, match="broken on purpose"):
        write_dose_outputs(result, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
