"""The outcomes-and-effects report: notebook hygiene, one full run, disclosure and building blocks."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from evaluation import outcome_report, report, synth

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "02-outcomes-and-effects.ipynb"


@pytest.fixture(scope="module")
def data():
    return synth.generate(n_children=1500, n_municipalities=12, seed=4)


@pytest.fixture(scope="module")
def html_text(data, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    synth.write(data, data_dir)
    out = tmp_path_factory.mktemp("report")
    paths = report.run_report(NOTEBOOK, data_dir, out,
                              {"n_bootstrap": 50, "period_end": "2023-06-30"})
    return Path(paths).read_text(encoding="utf-8")


def _visible_text(html: str) -> str:
    t = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html, flags=re.DOTALL)
    t = re.sub(r"<img[^>]*>", " [IMG] ", t)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", t)))


def test_notebook_is_committed_without_outputs_and_has_parameters_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    for name in ("data_dir", "period_start", "period_end", "data_end", "lang", "threshold",
                 "treated", "control", "horizon", "seed", "n_bootstrap"):
        assert re.search(rf"^{name} = ", tagged[0].source, flags=re.MULTILINE), name


def test_report_runs_and_has_every_section_with_figures(html_text):
    text = _visible_text(html_text)
    for heading in ("Utfallsmått", "Vårdtid", "Sammanbrott", "Barnets väg",
                    "Effekt av placeringsform", "Rättvis jämförelse av kommuner", "Kostnader"):
        assert heading in text, heading
    assert text.count("[IMG]") >= 7  # KM, CIF, journey, love, overlap, funnel, CE plane
    assert "Traceback" not in text and "Error" not in text


def test_report_shows_no_identifiers(html_text, data):
    text = _visible_text(html_text)
    ep = data.tables["episodes"]
    for ident in list(ep["child_id"].head(50)) + list(ep["episode_id"].head(50)):
        assert ident not in text
    assert not re.search(r"\b[0-9a-f]{64}\b", text)  # no pseudonym-shaped strings
    assert not re.search(r"\bE\d{6}\b", text)  # no episode ids


def test_comparison_table_hides_small_counts(data):
    rep = outcome_report.OutcomeReport(data.tables, "2019-01-01", "2023-06-30", "2024-12-31",
                                       n_bootstrap=50)
    raw = rep.comparison().summary
    shown = rep.comparison_table()
    small = raw["observed"].between(1, 4).to_numpy()
    assert small.any()  # the fixture has small municipalities, so the rule is exercised
    assert (shown.loc[small, shown.columns[2]] == "<5").all()


def test_curves_stop_where_few_remain_at_risk():
    summary = pd.DataFrame({"group": ["a"] * 4 + ["b"] * 2, "time": [1, 2, 3, 4, 1, 2],
                            "n_risk": [30, 12, 9, 3, 8, 4], "estimate": np.linspace(1, .4, 6)})
    cut = outcome_report._truncate_curve(summary, summary, 10)
    assert cut["time"][cut["group"] == "a"].tolist() == [1, 2]
    assert (cut["group"] == "b").sum() == 0


def test_episode_outcomes_codes_causes_and_censors_at_data_end():
    ep = pd.DataFrame({"episode_id": ["E1", "E2", "E3"],
                       "start_date": pd.to_datetime(["2020-01-01"] * 3),
                       "end_date": pd.to_datetime(["2020-01-31", "2020-03-01", None]),
                       "planned_ending": pd.array([True, False, pd.NA], dtype="boolean"),
                       "placement_type": ["FH", "HVB", "EGET"]})
    out = outcome_report.episode_outcomes(ep, "2020-12-31")
    assert out["cause"].tolist() == [2, 1, 0]
    assert out["time"].tolist() == [30.0, 60.0, 365.0]
    assert out["placement_group"].tolist() == ["family", "institution", "other"]


def test_texts_exist_in_both_languages(data):
    for lang in ("sv", "en"):
        rep = outcome_report.OutcomeReport(data.tables, "2019-01-01", "2023-06-30",
                                           "2024-12-31", lang=lang)
        for key in outcome_report._TEXT:
            assert rep.text(key).strip()
    en = outcome_report.OutcomeReport(data.tables, "2019-01-01", "2023-06-30", "2024-12-31",
                                      lang="en")
    assert en.text("stay") == "## Length of stay"
