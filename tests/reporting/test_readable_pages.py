"""Pages people can use (issue 11): captions, alternative texts, the period, labels instead of
codes, municipality names, the rating scale, readable notes under charts, the target-group
chart split by variable and a note when there are no follow-ups."""

from __future__ import annotations

import ast
import json
import re

import matplotlib
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.dictionary import load_dictionary, municipality_label
from evaluation.disclosure import DisclosurePolicy
from evaluation.errors import ParameterError
from evaluation.reporting import OutcomeReport, overview, plots
from evaluation.reporting.tables import table_caption, themes_scale_text
from evaluation.reporting.text import phrase
from tests.helpers import ROOT

matplotlib.use("Agg")

PERIOD = {"period_start": "2019-01-01", "period_end": "2024-12-31"}
OUTCOME_PERIOD = {"period_start": "2019-01-01", "period_end": "2023-06-30",
                  "data_end": "2024-12-31"}


def _notebook_calls(name: str, prefix: str) -> set[str]:
    """Names of the methods a notebook calls as ``prefix.name(...)``."""
    nb = json.loads((ROOT / "notebooks" / name).read_text("utf-8"))
    found = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        source = "\n".join(line for line in source.splitlines() if not line.startswith("%"))
        for node in ast.walk(ast.parse(source)):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == prefix):
                found.add(node.func.attr)
            # show_table_of(rep, "cox_table") / show_chart_of(rep, "funnel_plot")
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("show_table_of", "show_chart_of") and len(node.args) >= 2
                    and isinstance(node.args[0], ast.Name) and node.args[0].id == prefix
                    and isinstance(node.args[1], ast.Constant)):
                found.add(node.args[1].value)
    return found


@pytest.fixture(scope="module")
def data():
    return synth.generate(n_children=400, n_municipalities=5, seed=3)


@pytest.fixture(scope="module")
def rep(data):
    return OutcomeReport(data.tables, **OUTCOME_PERIOD, n_bootstrap=20)


# ---------------------------------------------------------------- the outcomes report


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_outcomes_intro_states_the_entry_window_and_the_data_end(data, lang):
    rep = OutcomeReport(data.tables, **OUTCOME_PERIOD, lang=lang)
    intro = rep.text("intro")
    assert "2019-01-01 – 2023-06-30" in intro and "2024-12-31" in intro
    assert phrase("outcomes", "period", "entry_window", lang, start="2019-01-01",
                  end="2023-06-30", data_end="2024-12-31") in intro


def test_the_cost_table_shows_the_dictionarys_labels_not_codes(rep):
    kinds = load_dictionary().column("episodes", "placement_type")
    first = rep.cost_table().iloc[:, 0].tolist()
    codes = {c for c in kinds.code_values if kinds.code_label(c, "sv") != c}  # not HVB
    assert first and not set(first) & codes
    assert set(first) <= {kinds.code_label(c, "sv") for c in kinds.code_values}
    english = OutcomeReport(rep.tables, **OUTCOME_PERIOD, lang="en").cost_table()
    assert "Family home" in english.iloc[:, 0].tolist()


def test_every_table_of_the_outcomes_notebook_has_a_caption_in_both_languages(data):
    tables = {m for m in _notebook_calls("02-outcomes-and-effects.ipynb", "rep")
              if m.endswith("_table")}
    assert {"cox_table", "ph_table", "fine_gray_table", "cost_table"} <= tables
    for lang in ("sv", "en"):
        r = OutcomeReport(data.tables, **OUTCOME_PERIOD, lang=lang)
        for name in tables:
            assert len(r.caption(name)) > 40, name
    hr = OutcomeReport(data.tables, **OUTCOME_PERIOD, lang="en").caption("cox_table")
    assert "above 1" in hr and "below 1" in hr


def test_every_chart_of_the_outcomes_notebook_has_an_alternative_text(data):
    charts = {m for m in _notebook_calls("02-outcomes-and-effects.ipynb", "rep")
              if m.endswith("_plot")}
    assert {"breakdown_plot", "funnel_plot", "journey_plot"} <= charts
    for lang in ("sv", "en"):
        r = OutcomeReport(data.tables, **OUTCOME_PERIOD, lang=lang, treated="HVB")
        for name in charts:
            text = r.alt_text(name)
            assert len(text) > 40 and "{" not in text, name
    with pytest.raises(ParameterError, match="no alternative text for 'nope'"):
        r.alt_text("nope")
    with pytest.raises(ParameterError, match="no caption for 'nope'"):
        r.caption("nope")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_the_theme_caption_explains_the_scale_from_the_dictionary(data, lang):
    caption = OutcomeReport(data.tables, **OUTCOME_PERIOD, lang=lang).caption("themes_table")
    assert themes_scale_text(lang) in caption
    for anchor in load_dictionary().scale("themes")["anchors"]:
        assert f"{anchor['value']} = {anchor[lang]}" in caption


def test_the_comparison_table_names_the_municipalities(rep):
    table = rep.comparison_table()
    if table.empty:
        pytest.skip("the comparison could not be fitted on this small dataset")
    units = table.iloc[:, 0].tolist()
    codes = rep.comparison().summary["unit"].astype(str).tolist()
    assert units == [municipality_label(c) for c in codes]
    assert "0180 Stockholm" in units


# ---------------------------------------------------------------- the overview


def test_the_selection_text_shows_code_and_name(data):
    text = overview.selection_text(data.tables, municipality="0180", **PERIOD)
    assert "kommun 0180 Stockholm" in text


@pytest.fixture(scope="module")
def result(data):
    return overview.overview_tables(data.tables, municipality="0180", **PERIOD)


def test_the_target_group_chart_has_one_panel_per_variable(result):
    import matplotlib.pyplot as plt

    ax = plots.bar_comparison(result["target_groups"], title="Målgrupp")
    panels = ax.figure.axes
    assert len(panels) == 2
    assert [p.get_title(loc="left") for p in panels] == ["Åldersgrupp vid start", "Kön"]
    sex = [t.get_text() for t in panels[1].get_yticklabels()]
    assert sex == ["Pojke", "Flicka"]
    plt.close("all")
    with pytest.raises(ParameterError, match="one panel each"):
        plots.bar_comparison(result["target_groups"], title="x", ax=ax)


def test_variable_table_takes_one_variable_out_of_a_section(result):
    ages = overview.variable_table(result["target_groups"], "age_group")
    sex = overview.variable_table(result["target_groups"], "sex")
    assert len(ages) + len(sex) == len(result["target_groups"])
    assert set(sex["code"]) == {"M", "F"}
    with pytest.raises(ParameterError, match="holds no variable 'legal_basis'"):
        overview.variable_table(result["target_groups"], "legal_basis")


def test_the_note_on_hidden_shares_is_as_large_as_the_axis_labels(data):
    import matplotlib.pyplot as plt

    tiny = pd.DataFrame({"variable": "v", "category": ["a", "b"], "code": ["a", "b"],
                         "scope": "Alla", "n": [30.0, 0.0], "denominator": [30.0, 30.0],
                         "share": [1.0, float("nan")], "display": ["30", "0"]})
    ax = plots.bar_comparison(tiny, title="t")
    label = ax.xaxis.label.get_size()
    notes = [t for t in ax.texts if t.get_text() == ".."]
    note = [c for c in ax.get_children() if isinstance(c, matplotlib.text.Annotation)]
    assert notes and note
    assert all(t.get_fontsize() >= label for t in notes + note)
    assert note[0].get_text() == phrase("plots", "bars", "hidden_note", "sv")
    plt.close("all")


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_overview_section_has_a_caption_and_an_alternative_text(result, lang):
    for section in (*overview.SECTIONS, "age_group", "sex"):
        assert len(overview.table_caption(section, lang=lang)) > 30
        assert len(overview.alt_text(section, lang=lang)) > 30
    text = overview.alt_text("target_groups", lang=lang, table=result["target_groups"])
    shown = overview.display_table(result["target_groups"], lang=lang)
    for share in shown.iloc[:, 3]:
        assert share in text


def test_without_follow_ups_the_results_section_says_so(data):
    no_followups = {k: v for k, v in data.tables.items() if k != "followups"}
    result = overview.overview_tables(no_followups, municipality="all", **PERIOD)
    assert overview.section_note("results", result) == phrase(
        "overview", "notes", "no_followups", "sv")
    empty = dict(data.tables, followups=data.tables["followups"].iloc[:0])
    result = overview.overview_tables(empty, municipality="all", **PERIOD, lang="en")
    assert "goal" not in " ".join(result["results"]["variable"]).lower()
    assert overview.section_note("results", result, lang="en").startswith(
        "Goal attainment is not shown")
    full = overview.overview_tables(data.tables, municipality="all", **PERIOD)
    assert overview.section_note("results", full) == ""
    assert overview.section_note("problems", full) == ""


def test_captions_are_refused_for_unknown_tables():
    with pytest.raises(ParameterError, match="has no caption for 'nope'"):
        table_caption("overview", "nope")


def test_the_internal_overview_names_the_municipality_too(data):
    text = overview.selection_text(data.tables, municipality="0180", **PERIOD,
                                   policy=DisclosurePolicy(mode="internal"))
    assert re.search(r"0180 Stockholm", text)
