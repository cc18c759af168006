"""Cohort report: HTML/PDF/JSON/CSV written atomically; figures render; numbers in the PDF text match JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from pypdf import PdfReader

from sirtkit.errors import InputError, MissingExtraError
from sirtkit.outcomes.analysis import CohortAnalysis, analyse_cohort
from sirtkit.outcomes.survival import kaplan_meier
from sirtkit.outcomes.synthetic import synthetic_cohort
from sirtkit.report import cohort as rc
from sirtkit.report import plots_outcomes as plots


@pytest.fixture(scope="module")
def analysis() -> CohortAnalysis:
    return analyse_cohort(synthetic_cohort(80, rng=21), n_bootstrap=30)


@pytest.mark.slow
def test_full_report_with_pdf(tmp_path: Path, analysis: CohortAnalysis) -> None:
    out = tmp_path / "rep"
    files = rc.write_cohort_report(analysis, out, pdf=True, source="synthetic")
    assert files.html.exists() and files.pdf is not None and files.pdf.exists()
    summary = json.loads(files.summary_json.read_text())
    assert summary["result"]["n_patients"] == 80
    names = {p.stem for p in files.tables}
    assert {"best_response", "toxicity", "survival", "cox_multivariable", "literature_comparison"} <= names
    best = pd.read_csv(out / "tables" / "best_response.csv")
    assert len(best) == 80
    assert {p.stem for p in files.figures} >= {"km_os", "forest", "waterfall", "swimmer", "dose_response"}
    text = "".join(page.extract_text() for page in PdfReader(files.pdf).pages)
    orr = summary["result"]["orr"]
    assert f"{orr['count']}/{orr['total']}" in text
    assert "Headline results" in text and "Published NELM radioembolization series" in text
    html = files.html.read_text()
    assert "data:image/png;base64," in html and "<table>" in html and "&lt;table" not in html
    assert "End-point definitions" in html and "Eisenhauer" in html and "Event sources in this cohort" in html
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # running again replaces the earlier report
    rc.write_cohort_report(analysis, out, pdf=False)
    assert not (out / "report.pdf").exists()


def test_refuses_foreign_folder(tmp_path: Path, analysis: CohortAnalysis) -> None:
    d = tmp_path / "mine"
    d.mkdir()
    (d / "thesis.docx").write_text("precious")
    with pytest.raises(InputError, match="not empty"):
        rc.write_cohort_report(analysis, d, pdf=False)
    assert (d / "thesis.docx").read_text() == "precious"
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="is a file"):
        rc.write_cohort_report(analysis, f, pdf=False)


def test_missing_weasyprint_names_the_extra(tmp_path: Path, analysis: CohortAnalysis,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingExtraError, match=r"'pdf' extra.*libpango"):
        rc.write_cohort_report(analysis, tmp_path / "r", pdf=True)
    assert not (tmp_path / "r").exists()
    assert not list(tmp_path.iterdir())


def test_html_escapes_cell_text(analysis: CohortAnalysis) -> None:
    html = rc._html_table(pd.DataFrame({"term": ["<script>x</script>"], "p_value": [0.0001]}))
    assert "&lt;script&gt;" in html and "< 0.001" not in html and "&lt; 0.001" in html


def test_figures_render_png() -> None:
    kms = [kaplan_meier([1, 2, 3, 5, 8], [1, 0, 1, 1, 0], label="a"), kaplan_meier([2, 4, 6], [1, 1, 0], label="b")]
    assert plots.figure_png(plots.km_figure(kms, title="t", p_value=0.04)).startswith(b"\x89PNG")
    table = pd.DataFrame({"label": ["x", "y"], "hazard_ratio": [1.5, 0.7], "ci_low": [1.1, 0.4],
                          "ci_high": [2.0, 1.2], "p_value": [0.01, 0.2]})
    assert plots.figure_png(plots.forest_figure(table)).startswith(b"\x89PNG")
    assert plots.figure_png(plots.forest_figure(table.iloc[:0])).startswith(b"\x89PNG")
    best = pd.DataFrame({"best_response": ["PR", "SD", "PD"] * 200,
                         "best_change_fraction": [-0.5, 0.0, 0.3] * 200})
    assert plots.figure_png(plots.waterfall_figure(best)).startswith(b"\x89PNG")  # > 400: line collection
    assert plots.figure_png(plots.waterfall_figure(best.iloc[:0])).startswith(b"\x89PNG")
    assert plots.figure_png(plots.dose_response_figure(pd.DataFrame(), {})).startswith(b"\x89PNG")


def test_report_labels_header_rows_and_reasons() -> None:
    """Issue 8 item 13: human labels, table headers in <thead> (repeated on each PDF page), no interval when
    there are too few events (and the reason shown), the REILD and symptom rates with exact intervals."""
    small = analyse_cohort(synthetic_cohort(14, rng=5), n_bootstrap=10)
    html = rc.render_cohort_html(small, {})
    assert "<thead><tr>" in html and "thead { display: table-header-group; }" in html
    for raw in (">age_years<", ">hepatic_tumour_burden_percent<", ">orr_ci_low_percent<", ">child_pugh_class<"):
        assert raw not in html
    assert "Age (years)" in html and "ORR 95 % CI low (%)" in html
    uni = small.cox_univariable
    few = uni[uni["events"] < 10]
    assert len(few) and few["ci_low"].isna().all() and few["note"].str.contains("fewer than 10").all()
    assert "multivariable Cox not fitted" in html and "Peduzzi" in html
    assert "REILD detected from labs and events (Sangro 2008)" in html
    assert small.reild_rate is not None and small.reild_rate.total == 14


def test_dose_estimate_never_negative() -> None:
    """A dose read off a fitted curve below 0 Gy (or outside the observed doses) is withheld with a reason."""
    from sirtkit.outcomes.analysis import _dose_estimate

    out = _dose_estimate("dose_at_10_percent_risk", (-12.0, -40.0, 15.0), pd.Series([5.0, 60.0]).to_numpy())
    assert out["dose_at_10_percent_risk_gy"] is None and out["dose_at_10_percent_risk_ci_gy"] == [None, None]
    assert "-12 Gy" in out["dose_at_10_percent_risk_note"]
    out = _dose_estimate("d", (20.0, -3.0, 50.0), pd.Series([5.0, 60.0]).to_numpy())
    assert out["d_gy"] == 20.0 and out["d_ci_gy"] == [None, 50.0]
