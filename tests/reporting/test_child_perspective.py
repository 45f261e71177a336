"""The child's-perspective report (notebooks/04-child-perspective.ipynb): notebook hygiene,
runs in both languages, disclosure control on every count, and its building blocks."""

from __future__ import annotations

import html as html_lib
import re
from itertools import product

import matplotlib
import nbformat
import numpy as np
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.disclosure import DisclosurePolicy
from evaluation.errors import ParameterError
from evaluation.reporting import run as report
from evaluation.reporting.child_perspective import (
    AGREEMENT_PAIRS,
    LEVELS,
    ChildPerspective,
    weighted_kappa,
)
from evaluation.reporting.text import phrase
from tests.helpers import ROOT
from tests.reporting.attacks import Cell

matplotlib.use("Agg")

NOTEBOOK = ROOT / "notebooks" / "04-child-perspective.ipynb"
PERIOD = {"period_start": "2019-01-01", "period_end": "2024-12-31"}
INTERNAL = DisclosurePolicy(mode="internal")
TABLE_METHODS = [("heard_table", ()), ("view_table", ()), ("themes_table", ()),
                 ("heard_by_table", ("placement_type",)), ("heard_by_table", ("year",)),
                 ("themes_by_table", ("placement_type",)), ("themes_by_table", ("year",)),
                 ("agreement_table", ("health",)), ("agreement_table", ("school",)),
                 ("agreement_by_table", ("placement_type", "health")),
                 ("agreement_by_table", ("year", "school"))]


@pytest.fixture(scope="module")
def data():
    return synth.generate(n_children=400, n_municipalities=6, seed=3)


@pytest.fixture(scope="module")
def data_dir(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("data")
    synth.write(data, out)
    return out


@pytest.fixture(scope="module")
def tables(data_dir):
    from evaluation.data import load_tables

    return load_tables(data_dir)


@pytest.fixture(scope="module")
def municipalities(tables):
    """Codes from the largest to the smallest municipality."""
    return tables["episodes"]["municipality_code"].value_counts().index.astype(str).tolist()


@pytest.fixture(scope="module")
def report_sv(data_dir, municipalities, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_sv")
    return report.run_report(NOTEBOOK, data_dir, out, {"municipality": municipalities[1]})


@pytest.fixture(scope="module")
def report_en(data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_en")
    return report.run_report(NOTEBOOK, data_dir, out, {"lang": "en"})


def _table_cells(text: str) -> list[str]:
    cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", text, flags=re.DOTALL)
    return [html_lib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells]


def _visible(text: str) -> str:
    t = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", text, flags=re.DOTALL)
    t = re.sub(r"<img[^>]*>", " [IMG] ", t)
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", t)))


def _small_counts(frame: pd.DataFrame) -> list[str]:
    """Cells of a display table that read as a count of 1 to 4 (or '<5')."""
    out = []
    for value in frame.astype(str).to_numpy().ravel():
        cell = Cell.parse(value.replace("\u00a0", "").replace(" ", ""))
        if cell.kind == "small" or (cell.kind == "number" and 1 <= cell.value <= 4):
            out.append(value)
    return out


# ---------------------------------------------------------------- the notebook


def test_notebook_is_committed_without_outputs_and_has_the_overview_parameters():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    params = report.notebook_parameters(NOTEBOOK)
    assert set(params) == {"data_dir", "municipality", "period_start", "period_end", "lang",
                           "threshold", "mode"}
    assert params["mode"] == "publication" and params["municipality"] == "all"
    assert all("  # " in line for line in tagged[0].source.splitlines())  # a comment each
    assert not any(re.search(r"^\s*(def|class)\s", c.source, flags=re.MULTILINE) for c in code)
    assert "page_banner" in code[2].source and "page_footer" in code[-1].source


def test_the_swedish_report_runs_and_has_its_sections_and_figures(report_sv, municipalities):
    text = report_sv.read_text(encoding="utf-8")
    visible = _visible(text)
    for heading in ("Fick barnet komma till tals?", "Barnets inställning till placeringen",
                    "Barnens egna betyg", "Ser barnet och socialsekreteraren likadant"):
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}", text), heading
    assert text.count("<img") >= 4 and "data:image/png;base64" in text
    assert "Skala: 1 = mycket dåligt" in visible
    assert "Röjandeskydd" in visible and "INTERNT" not in visible
    assert f"kommun {municipalities[1]}" in visible
    assert "def " not in text and "import " not in text


def test_the_english_report_runs_in_english(report_en):
    text = report_en.read_text(encoding="utf-8")
    for heading in ("Was the child heard?", "The child's view of the placement",
                    "The children's own ratings", "Do the child and the social worker"):
        assert re.search(rf"<h2[^>]*>{re.escape(heading)}", text), heading
    visible = _visible(text)
    assert "Scale: 1 = very poor" in visible and "Disclosure control" in visible
    assert "Barnet" not in visible


@pytest.mark.parametrize("which", ["report_sv", "report_en"])
def test_the_report_publishes_no_count_of_1_to_4_and_no_identifiers(which, request, data_dir):
    text = request.getfixturevalue(which).read_text(encoding="utf-8")
    cells = _table_cells(text)
    assert cells
    assert [c for c in cells if re.fullmatch(r"\d+", c) and 1 <= int(c) <= 4] == []
    assert "<5" not in cells
    episodes = pd.read_csv(data_dir / "episodes.csv", dtype=str)
    for value in pd.concat([episodes["child_id"], episodes["episode_id"]]).unique():
        assert value not in text


# ---------------------------------------------------------------- disclosure control


def test_no_table_of_any_municipality_shows_a_count_of_1_to_4(tables, municipalities):
    for m in ["all", *municipalities]:
        cp = ChildPerspective(tables, municipality=m, **PERIOD)
        for method, args in TABLE_METHODS:
            assert _small_counts(getattr(cp, method)(*args)) == [], (m, method, args)
        assert not re.search(r"\b[1-4] (uppföljningar|barn)\b", cp.selection_text())


def test_a_small_selection_is_not_broken_down(tables, municipalities):
    small = next(m for m in reversed(municipalities)
                 if not ChildPerspective(tables, municipality=m, **PERIOD).broken_down())
    cp = ChildPerspective(tables, municipality=small, **PERIOD)
    mine = cp.heard()[cp.heard()["scope"] == "Vald kommun"]
    assert (mine["display"] == "").all() and mine["share"].isna().all()
    for method, args in TABLE_METHODS[3:]:
        assert getattr(cp, method)(*args).empty, method
    assert cp.themes()["mean"].isna().all()
    assert phrase("disclosure", "page", "small_selection", "sv", min_children=10) in \
        cp.selection_text()
    assert cp.agreement_text().startswith("Överensstämmelsen om barnets hälsa visas inte")


def test_groups_with_too_few_children_show_no_shares_or_means(tables):
    cp = ChildPerspective(tables, municipality="all", **PERIOD)
    by = cp.heard_by("placement_type")
    small = by["children"] < 10
    assert small.any(), "the data should have a placement type with few children"
    assert by.loc[small, ["share_YES", "share_PARTLY", "share_NO"]].isna().all().all()
    shown = cp.heard_by_table("placement_type")
    assert (shown.loc[small.to_numpy(), shown.columns[2:]] == "").all().all()


def test_shares_and_kappa_are_computed_from_the_published_counts(tables):
    cp = ChildPerspective(tables, municipality="all", **PERIOD)
    a = cp.agreement("health")
    assert a["shown"]
    assert a["share"] == pytest.approx(a["agree"] / a["followups"])
    assert a["kappa"] == pytest.approx(weighted_kappa(a["table"].to_numpy()))
    heard = cp.heard()
    assert (heard["share"] * 100).round(6).tolist() == (
        (heard["n"] / heard["denominator"] * 100).round().tolist())


def test_periods_a_day_apart_within_a_month_publish_the_same_tables(tables, municipalities):
    a = ChildPerspective(tables, municipality=municipalities[0], period_start="2019-01-01",
                         period_end="2024-12-30")
    b = ChildPerspective(tables, municipality=municipalities[0], period_start="2019-01-01",
                         period_end="2024-12-31")
    for method, args in TABLE_METHODS:
        pd.testing.assert_frame_equal(getattr(a, method)(*args), getattr(b, method)(*args))


def test_internal_mode_counts_exactly(tables):
    cp = ChildPerspective(tables, municipality="all", **PERIOD, policy=INTERNAL)
    fu = cp.followups_
    heard = cp.heard().set_index("code")
    exact = fu["child_heard"].value_counts()
    assert heard["n"].astype(int).to_dict() == exact.reindex(heard.index).to_dict()
    table = cp.agreement("health")["table"]
    theme, worker = AGREEMENT_PAIRS["health"]
    both = fu[fu[theme].notna() & fu[worker].notna()]
    assert int(table.to_numpy().sum()) == len(both)


# ---------------------------------------------------------------- building blocks


def test_weighted_kappa_matches_its_definition_on_paired_ratings(rng):
    a = rng.integers(0, 3, size=200)
    b = np.clip(a + rng.integers(-1, 2, size=200), 0, 2)
    table = np.zeros((3, 3))
    np.add.at(table, (a, b), 1)
    # Cohen (1968) with disagreement weights |i - j|: 1 - sum(w * obs) / sum(w * exp)
    w = np.abs(np.subtract.outer(np.arange(3), np.arange(3)))
    observed = (w[a, b]).mean()
    expected = sum(w[i, j] * (a == i).mean() * (b == j).mean()
                   for i, j in product(range(3), range(3)))
    assert weighted_kappa(table) == pytest.approx(1 - observed / expected)
    assert weighted_kappa(np.eye(3) * 7) == pytest.approx(1.0)
    assert np.isnan(weighted_kappa(np.zeros((3, 3))))
    with pytest.raises(ParameterError, match="square table"):
        weighted_kappa(np.ones((2, 3)))


def test_every_table_and_chart_has_a_caption_or_alt_text_in_both_languages(tables):
    captions = ["heard_table", "view_table", "themes_table", "agreement_table",
                *(f"{t}_by_{by}" for t in ("heard", "themes", "agreement")
                  for by in ("placement_type", "year"))]
    for lang in ("sv", "en"):
        cp = ChildPerspective(tables, **PERIOD, lang=lang)
        for name in captions:
            assert len(cp.caption(name)) > 40 and "{" not in cp.caption(name), name
        for name in ("heard_plot", "view_plot", "heard_by_year_plot", "themes_plot"):
            assert len(cp.alt_text(name)) > 40, name


def test_the_plots_return_axes(tables):
    import matplotlib.pyplot as plt

    cp = ChildPerspective(tables, **PERIOD)
    for method in ("heard_plot", "view_plot", "heard_by_year_plot", "themes_plot"):
        ax = getattr(cp, method)()
        assert hasattr(ax, "figure"), method
    plt.close("all")


def test_parameters_are_checked_with_the_fix_in_the_message(tables):
    with pytest.raises(ParameterError, match="codes present"):
        ChildPerspective(tables, municipality="9999", **PERIOD, lang="en")
    with pytest.raises(ParameterError, match="no 'followups' table"):
        ChildPerspective({"episodes": tables["episodes"]}, **PERIOD, lang="en")
    cp = ChildPerspective(tables, **PERIOD, lang="en")
    with pytest.raises(ParameterError, match="choose one of: placement_type, year"):
        cp.heard_by_table("sex")
    with pytest.raises(ParameterError, match="choose one of: health, school"):
        cp.agreement_table("mood")
    assert list(cp.agreement("school")["table"].index) == list(LEVELS)
