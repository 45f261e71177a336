"""Tests of the overview report: notebook hygiene, execution, HTML and disclosure."""

from __future__ import annotations

import html as html_lib
import re

import nbformat
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.load import select_period
from evaluation.disclosure import DisclosurePolicy
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
    # the smallest municipality, so that small counts occur and must be protected
    return episodes["municipality_code"].value_counts().index[-1]


INTERNAL = DisclosurePolicy(mode="internal")


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
        "data_dir", "municipality", "period_start", "period_end", "lang", "threshold", "mode"}
    assert report.notebook_parameters(NOTEBOOK)["mode"] == "publication"
    assert not any(re.search(r"^\s*(def|class)\s", c.source, flags=re.MULTILINE) for c in code)


def test_report_html_is_self_contained_with_sections_and_figures(report_sv):
    text = report_sv.read_text(encoding="utf-8")
    for heading in ("Målgrupp", "Grundproblematik", "Insatser", "Resultat"):
        assert re.search(rf"<h2[^>]*>{heading}", text)
    assert text.count("<img") >= 4
    assert "data:image/svg+xml;base64" in text
    assert not re.search(r"<script[^>]*\bsrc\s*=", text, flags=re.IGNORECASE)
    assert not re.search(r"<link\b", text, flags=re.IGNORECASE)
    assert not CDN.search(text)
    assert "def " not in text and "import " not in text  # no code cells
    assert (report_sv.parent / "01-overview.ipynb").is_file()
    assert (report_sv.parent / "01-overview.provenance.json").is_file()


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
    assert "<5" not in cells  # perturbed counts are never 1-4, so nothing needs hiding


def test_publication_report_has_the_footer_and_no_banner(report_sv):
    text = html_lib.unescape(report_sv.read_text(encoding="utf-8"))
    assert "Röjandeskydd" in text and "docs/disclosure.sv.md" in text
    assert "INTERNT" not in text
    provenance = (report_sv.parent / "01-overview.provenance.json").read_text(encoding="utf-8")
    assert '"mode": "publication"' in provenance


def test_internal_report_needs_the_flag_and_then_carries_the_banner(data_dir, municipality,
                                                                    tmp_path):
    with pytest.raises(ParameterError, match="--internal"):
        report.run_report(NOTEBOOK, data_dir, tmp_path / "refused", {"mode": "internal"})
    assert not (tmp_path / "refused").exists()
    html = report.run_report(NOTEBOOK, data_dir, tmp_path / "internal",
                             {"municipality": municipality}, internal=True)
    text = html_lib.unescape(html.read_text(encoding="utf-8"))
    assert text.index("INTERNT") < text.index("Målgrupp")  # the banner is at the top
    assert "Internt läge: exakta tal" in text and "Röjandeskydd" not in text
    provenance = (html.parent / "01-overview.provenance.json").read_text(encoding="utf-8")
    assert '"mode": "internal"' in provenance


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
    with pytest.raises(ParameterError, match="publication, internal"):
        report.run_report(NOTEBOOK, data_dir, tmp_path, {"mode": "secret"})
    from evaluation.reporting.params import ParameterSpec, check_parameters

    specs = {"threshold": ParameterSpec("threshold", int, 5),
             "flag": ParameterSpec("flag", bool, False),
             "rate": ParameterSpec("rate", float, 1.0)}
    got = check_parameters({"threshold": "10", "flag": "ja", "rate": "0,5"}, specs, "x.ipynb")
    assert got == {"threshold": 10, "flag": True, "rate": 0.5}


def test_failing_run_raises_report_error_and_keeps_the_executed_notebook(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    with pytest.raises(ReportError, match="ParameterError") as info:
        report.run_report(NOTEBOOK, empty, out)
    saved = out / "01-overview.failed.ipynb"
    assert str(saved) in str(info.value)
    assert saved.is_file()


# ---------------------------------------------------------------------------------- overview


@pytest.fixture
def small_episodes():
    """Hand-made episodes, one per child: municipality 0001 has 12, 0002 has 30; some counts
    are small."""
    rows = []
    for i in range(42):
        muni = "0001" if i < 12 else "0002"
        rows.append({
            "episode_id": f"E{i:03d}",
            "child_id": f"{i:02d}" * 32,  # stands in for a keyed pseudonym (64 hex digits)
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


def test_internal_mode_shows_exact_counts_and_shares_without_suppression(small_episodes):
    out = overview.distribution(small_episodes, "sex", municipality="0001", lang="en",
                                policy=INTERNAL)
    assert list(out.columns) == ["variable", "category", "code", "scope", "n", "denominator",
                                 "share", "display"]
    sel = out[out["scope"] == "Selected municipality"].set_index("code")
    assert sel.loc["M", "n"] == 3 and sel.loc["M", "display"] == "3"
    assert sel.loc["F", "n"] == 9 and sel.loc["M", "share"] == pytest.approx(3 / 12)
    assert (sel["denominator"] == 12).all()
    everyone = out[out["scope"] == "All"].set_index("code")
    assert everyone.loc["M", "n"] + everyone.loc["F", "n"] == 42
    assert everyone["share"].notna().all()


def test_publication_mode_publishes_no_small_counts_and_shares_from_published_counts(
        small_episodes):
    out = overview.distribution(small_episodes, "sex", municipality="0002", lang="en")
    assert out["display"].ne("<5").all()
    for column in ("n", "denominator"):
        values = out[column].dropna()
        assert not values.between(1, 4).any()
        assert (values == values.round()).all()
    shown = out[out["share"].notna()]
    expected = (shown["n"] / shown["denominator"] * 100).clip(upper=100).round()
    assert len(shown) and (shown["share"] * 100).tolist() == pytest.approx(expected.tolist())
    assert out.equals(overview.distribution(small_episodes, "sex", municipality="0002",
                                            lang="en", policy=DisclosurePolicy()))


def test_distribution_of_flags_and_planned_endings(small_episodes):
    flags = overview.distribution(small_episodes, "problem_neglect", lang="sv", policy=INTERNAL)
    assert flags.loc[0, "display"] == "2" and flags.loc[0, "denominator"] == 42
    assert flags.loc[0, "share"] == pytest.approx(2 / 42)
    ends = overview.distribution(small_episodes, "planned_ending", lang="en",
                                 policy=INTERNAL).set_index("code")
    ended = int(small_episodes["end_reason"].notna().sum())
    assert (ends["denominator"] == ended).all()
    assert ends["n"].sum() == ended
    published = overview.distribution(small_episodes, "problem_neglect", lang="sv")
    assert published.loc[0, "n"] in (0, 5)  # the 2 neglected children are never shown as 2


def test_distribution_age_groups_and_unknown_municipality(small_episodes):
    ages = overview.distribution(small_episodes, "age_group", policy=INTERNAL)
    assert ages.set_index("code").loc["13-15", "n"] == 42  # 2020 - 2005 = 15
    with pytest.raises(ParameterError, match="9999"):
        overview.distribution(small_episodes, "sex", municipality="9999")


def test_publication_mode_needs_the_pseudonym_for_the_cell_key(small_episodes):
    anonymous = small_episodes.drop(columns="child_id")
    with pytest.raises(ParameterError, match="child_id"):
        overview.distribution(anonymous, "sex")
    assert overview.distribution(anonymous, "sex", policy=INTERNAL)["n"].sum() == 42


def test_select_period_keeps_episodes_active_in_the_period(small_episodes):
    assert len(select_period(small_episodes, "2022-01-01", "2022-12-31")) == 14
    assert len(select_period(small_episodes, "2019-01-01", "2019-12-31")) == 0
    with pytest.raises(ParameterError, match="before"):
        select_period(small_episodes, "2022-01-01", "2021-01-01")


def test_selection_text_states_unit_period_and_says_when_a_selection_is_too_small(
        small_episodes):
    tables = {"episodes": small_episodes.iloc[:3]}
    sv = overview.selection_text(tables, municipality="0001", period_start="2019-01-01",
                                 period_end="2024-12-31", lang="sv")
    assert "kommun 0001" in sv and "för få barn (färre än 10)" in sv
    assert re.search(r", (0|5) episoder", sv)  # a published count, never the true 3
    exact = overview.selection_text(tables, municipality="0001", period_start="2019-01-01",
                                    period_end="2024-12-31", lang="sv", policy=INTERNAL)
    assert "3 episoder" in exact and "för få barn" not in exact
    en = overview.selection_text({"episodes": small_episodes}, municipality="all",
                                 period_start="2019-01-01", period_end="2024-12-31",
                                 lang="en", policy=INTERNAL)
    assert "all municipalities" in en and "42 episodes" in en
