"""Tests of the overview report: notebook hygiene, execution, HTML and disclosure."""

from __future__ import annotations

import html as html_lib
import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.load import select_period
from evaluation.errors import ParameterError, ReportError
from evaluation.reporting import overview
from evaluation.reporting import run as report
from tests.helpers import ROOT

NOTEBOOK = ROOT / "notebooks" / "01-overview.ipynb"
CDN = re.compile(r"https?://[^\s\"'<>]*(cdn|unpkg|jsdelivr|cloudflare|googleapis|mathjax|require)",
                 re.IGNORECASE)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    data = synth.generate(n_children=400, n_municipalities=5, seed=3)
    synth.write(data, out)
    return out


@pytest.fixture(scope="module")
def municipality(data_dir):
    episodes = pd.read_csv(data_dir / "episodes.csv", dtype=str)
    # the smallest municipality, so that small counts occur and must be hidden
    return episodes["municipality_code"].value_counts().index[-1]


@pytest.fixture(scope="module")
def report_sv(data_dir, municipality, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_sv")
    return report.run_report(NOTEBOOK, data_dir, out, {"municipality": municipality})


def _table_cells(text: str) -> list[str]:
    cells = re.findall(r"<td[^>]*>(.*?)</td>", text, flags=re.DOTALL)
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def test_notebook_is_committed_without_outputs_and_has_parameters_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert set(report.notebook_parameters(NOTEBOOK)) == {
        "data_dir", "municipality", "period_start", "period_end", "lang", "threshold"}
    assert not any(re.search(r"^\s*(def|class)\s", c.source, flags=re.MULTILINE) for c in code)


def test_report_html_is_self_contained_with_sections_and_figures(report_sv):
    text = report_sv.read_text(encoding="utf-8")
    for heading in ("Målgrupp", "Grundproblematik", "Insatser", "Resultat"):
        assert re.search(rf"<h2[^>]*>{heading}", text)
    assert text.count("<img") >= 4
    assert "data:image/png;base64" in text
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, flags=re.IGNORECASE)
    assert not re.search(r"<link\b", text, flags=re.IGNORECASE)
    assert not CDN.search(text)
    assert "def " not in text and "import " not in text  # no code cells
    assert (report_sv.parent / "01-overview.ipynb").is_file()
    assert (report_sv.parent / "provenance.json").is_file()


def test_report_html_discloses_no_identifiers_or_small_counts(report_sv, data_dir):
    text = report_sv.read_text(encoding="utf-8")
    episodes = pd.read_csv(data_dir / "episodes.csv", dtype=str)
    for value in pd.concat([episodes["child_id"], episodes["episode_id"]]).unique():
        assert value not in text
    assert not re.search(r"\d{6,8}[-+]\d{4}", text)
    cells = _table_cells(text)
    assert cells, "the report shows no tables"
    small = [c for c in cells if re.fullmatch(r"\d+", c) and 1 <= int(c) <= 4]
    assert small == []
    assert "<5" in cells  # the smallest municipality has hidden cells


def test_report_in_english_has_english_headings(data_dir, tmp_path):
    html = report.run_report(NOTEBOOK, data_dir, tmp_path, {"lang": "en"})
    text = html.read_text(encoding="utf-8")
    for heading in ("Target groups", "Presenting problems", "Interventions", "Results"):
        assert re.search(rf"<h2[^>]*>{heading}", text)
    assert "Målgrupp" not in text


def test_unknown_parameter_names_the_closest_match(data_dir, tmp_path):
    with pytest.raises(ParameterError, match=r"'municipalty'.*'municipality'"):
        report.run_report(NOTEBOOK, data_dir, tmp_path, {"municipalty": "0180"})
    assert not list(tmp_path.iterdir())  # nothing ran


def test_parameter_strings_are_coerced_to_the_default_type(data_dir, tmp_path):
    with pytest.raises(ParameterError, match="threshold.*int"):
        report.run_report(NOTEBOOK, data_dir, tmp_path, {"threshold": "five"})
    assert report._coerce("threshold", "10", 5) == 10
    assert report._coerce("flag", "ja", False) is True
    assert report._coerce("rate", "0,5", 1.0) == 0.5


def test_failing_run_raises_report_error_and_keeps_the_executed_notebook(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    with pytest.raises(ReportError, match="ParameterError") as info:
        report.run_report(NOTEBOOK, empty, out)
    saved = out / "01-overview.ipynb"
    assert str(saved) in str(info.value)
    assert saved.is_file()


# ---------------------------------------------------------------------------------- overview


@pytest.fixture
def small_episodes():
    """Hand-made episodes: municipality 0001 has 12, 0002 has 30; some counts are small."""
    rows = []
    for i in range(42):
        muni = "0001" if i < 12 else "0002"
        rows.append({
            "episode_id": f"E{i:03d}",
            "municipality_code": muni,
            "sex": "M" if (i < 3 or i >= 12 and i % 2) else "F",
            "birth_year": 2005,
            "start_date": pd.Timestamp("2020-03-01"),
            "end_date": pd.Timestamp("2021-03-01") if i % 3 else pd.NaT,
            "end_reason": ("BREAKDOWN_CHILD" if i % 7 == 0 else "PLANNED") if i % 3 else None,
            "placement_type": "HVB" if i in (0, 1) else "FH",
            "problem_neglect": i < 2,
        })
    return pd.DataFrame(rows)


def test_distribution_suppresses_small_counts_and_their_shares(small_episodes):
    out = overview.distribution(small_episodes, "sex", municipality="0001", lang="en")
    assert list(out.columns) == ["variable", "category", "code", "scope", "n", "denominator",
                                 "share", "display"]
    sel = out[out["scope"] == "Selected municipality"].set_index("code")
    assert np.isnan(sel.loc["M", "n"]) and sel.loc["M", "display"] == "<5"
    assert np.isnan(sel.loc["M", "share"])
    # 9 girls would give the 3 boys back from the total of 12: hidden as well
    assert np.isnan(sel.loc["F", "n"]) and sel.loc["F", "display"] == ".."
    assert np.isnan(sel.loc["F", "share"])
    everyone = out[out["scope"] == "All"].set_index("code")
    assert everyone.loc["M", "n"] + everyone.loc["F", "n"] == 42
    assert everyone["share"].notna().all()


def test_distribution_of_flags_and_planned_endings(small_episodes):
    flags = overview.distribution(small_episodes, "problem_neglect", lang="sv")
    assert flags.loc[0, "display"] == "<5" and np.isnan(flags.loc[0, "share"])
    assert flags.loc[0, "denominator"] == 42
    ends = overview.distribution(small_episodes, "planned_ending", lang="en").set_index("code")
    ended = int(small_episodes["end_reason"].notna().sum())
    assert ends["denominator"].iloc[0] == ended
    assert ends.loc["UNPLANNED", "display"] in ("<5", "..") or ends.loc["UNPLANNED", "n"] >= 5


def test_distribution_age_groups_and_unknown_municipality(small_episodes):
    ages = overview.distribution(small_episodes, "age_group")
    assert ages.set_index("code").loc["13-15", "n"] == 42  # 2020 - 2005 = 15
    with pytest.raises(ParameterError, match="9999"):
        overview.distribution(small_episodes, "sex", municipality="9999")


def test_select_period_keeps_episodes_active_in_the_period(small_episodes):
    assert len(select_period(small_episodes, "2022-01-01", "2022-12-31")) == 14
    assert len(select_period(small_episodes, "2019-01-01", "2019-12-31")) == 0
    with pytest.raises(ParameterError, match="before"):
        select_period(small_episodes, "2022-01-01", "2021-01-01")


def test_distribution_hides_selected_counts_that_would_reveal_small_counts_elsewhere(small_episodes):
    """Selecting 0002 (15 boys, 15 girls) beside all (18 boys, 24 girls) would give 0001's
    3 boys by subtraction; a line may not show both the selected and the all count."""
    out = overview.distribution(small_episodes, "sex", municipality="0002", lang="en")
    sel = out[out["scope"] == "Selected municipality"].set_index("code")
    everyone = out[out["scope"] == "All"].set_index("code")
    assert np.isnan(sel.loc["M", "n"]) or np.isnan(everyone.loc["M", "n"])
    assert sel.loc["M", "display"] == ".."
    # and the hidden cell cannot come back from the selected total either
    assert np.isnan(sel.loc["F", "n"]) or np.isnan(everyone.loc["F", "n"])


def test_distribution_of_flags_protects_the_other_municipalities(small_episodes):
    out = overview.distribution(small_episodes, "problem_neglect", municipality="0002",
                                lang="en")
    sel = out[out["scope"] == "Selected municipality"].iloc[0]
    # 0 of 30 in 0002 and 2 of 42 overall: the 2 in 0001 must not be derivable
    assert np.isnan(sel["n"]) or np.isnan(out[out["scope"] == "All"].iloc[0]["n"])


def test_selection_text_states_unit_period_and_hides_a_small_episode_count(small_episodes):
    tables = {"episodes": small_episodes.iloc[:3]}
    sv = overview.selection_text(tables, municipality="0001", period_start="2019-01-01",
                                 period_end="2024-12-31", lang="sv", threshold=5)
    assert "kommun 0001" in sv and "<5 episoder" in sv
    en = overview.selection_text({"episodes": small_episodes}, municipality="all",
                                 period_start="2019-01-01", period_end="2024-12-31",
                                 lang="en", threshold=5)
    assert "all municipalities" in en and "42 episodes" in en
