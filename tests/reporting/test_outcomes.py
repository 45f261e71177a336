"""The outcomes-and-effects report: notebook hygiene, one full run, disclosure and building blocks."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from evaluation.data import synth
from evaluation.data.analysis_frame import EFFECT_COVARIATES
from evaluation.data.cohort import episode_outcomes
from evaluation.errors import CaseMixTermDroppedWarning, ConvergenceError
from evaluation.reporting import outcomes as outcome_report
from evaluation.reporting import run as report
from evaluation.reporting.plots import truncate_curve
from evaluation.reporting.tables import measures_display
from evaluation.reporting.text import load_catalog, phrases, term_label
from tests.helpers import ROOT

NOTEBOOK = ROOT / "notebooks" / "02-outcomes-and-effects.ipynb"
# Entry windows (OutcomeReport takes everything after the tables as keywords).
TO_MID_2023 = {"period_start": "2019-01-01", "period_end": "2023-06-30", "data_end": "2024-12-31"}
TO_END_2023 = {"period_start": "2019-01-01", "period_end": "2023-12-31", "data_end": "2024-12-31"}


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


@pytest.fixture(scope="module")
def html_text_en(data, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data_en")
    synth.write(data, data_dir)
    out = tmp_path_factory.mktemp("report_en")
    paths = report.run_report(NOTEBOOK, data_dir, out,
                              {"n_bootstrap": 50, "period_end": "2023-06-30", "lang": "en"})
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
                 "mode", "treated", "control", "horizon", "seed", "n_bootstrap"):
        assert re.search(rf"^{name}(: \w+)? = ", tagged[0].source, flags=re.MULTILINE), name


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


def test_comparison_table_shows_published_counts_and_no_rates_for_small_units(data):
    rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023,
                                       n_bootstrap=50)
    raw = rep.comparison().summary
    shown = rep.comparison_table()
    pub = rep.comparison_counts().reindex(raw["unit"].astype(str)).reset_index(drop=True)
    small = raw["observed"].between(1, 4).to_numpy()
    assert small.any()  # the fixture has small municipalities, so the rule is exercised
    n_col, obs_col, rate_col = shown.columns[1:4]
    assert shown[n_col].tolist() == pub["n"].astype(str).tolist()  # published, not exact
    assert shown[obs_col].tolist() == pub["observed"].astype(str).tolist()
    assert not shown[[n_col, obs_col]].isin([str(k) for k in range(1, 5)]).any().any()
    refused = ~np.array([rep.policy.allows_rate(k) and rep.policy.allows_rate(n, o) for k, n, o
                         in zip(pub["children"], pub["n"], pub["observed"], strict=True)])
    assert refused.any() and (shown.loc[refused, shown.columns[3:9]] == "").all().all()
    rate = pd.to_numeric(shown.loc[~refused, rate_col].str.replace(",", "."))
    expected = (pub["observed"] / pub["n"])[~refused]
    assert np.allclose(rate.to_numpy(), expected.to_numpy(), atol=6e-4)  # published counts


def test_curves_stop_where_few_remain_at_risk():
    summary = pd.DataFrame({"group": ["a"] * 4 + ["b"] * 2, "time": [1, 2, 3, 4, 1, 2],
                            "n_risk": [30, 12, 9, 3, 8, 4], "estimate": np.linspace(1, .4, 6)})
    cut = truncate_curve(summary, summary, 10)
    assert cut["time"][cut["group"] == "a"].tolist() == [1, 2]
    assert (cut["group"] == "b").sum() == 0


def test_episode_outcomes_codes_causes_and_censors_at_data_end():
    ep = pd.DataFrame({"episode_id": ["E1", "E2", "E3"],
                       "start_date": pd.to_datetime(["2020-01-01"] * 3),
                       "end_date": pd.to_datetime(["2020-01-31", "2020-03-01", None]),
                       "planned_ending": pd.array([True, False, pd.NA], dtype="boolean"),
                       "placement_type": ["FH", "HVB", "EGET"]})
    out = episode_outcomes(ep, "2020-12-31")
    assert out["cause"].tolist() == [2, 1, 0]
    assert out["time"].tolist() == [30.0, 60.0, 365.0]
    assert out["placement_group"].tolist() == ["family", "institution", "other"]


def test_texts_exist_in_both_languages(data):
    for lang in ("sv", "en"):
        rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023, lang=lang)
        for key in load_catalog("outcomes")["text"]:
            assert rep.text(key).strip()
    en = outcome_report.OutcomeReport(data.tables, **TO_MID_2023,
                                      lang="en")
    assert en.text("stay") == "## Length of stay"


# ---------------------------------------------------------------- review fixes (unit level)

@pytest.fixture(scope="module")
def small():
    """A small dataset (300 children, 5 municipalities) where the disclosure rules bite."""
    return synth.generate(n_children=300, n_municipalities=5, seed=1)


def test_effect_text_names_every_adjusted_confounder(data):
    for c in EFFECT_COVARIATES:
        assert c in load_catalog("terms")["terms"], c  # a new covariate needs a label
    for lang in ("sv", "en"):
        rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023, lang=lang)
        text = rep.text("effect_text")
        for c in EFFECT_COVARIATES:
            if not c.startswith("age_"):
                assert term_label(c, lang) in text, (lang, c)
        assert "{" not in text


def _measure_rows(rows):
    return pd.DataFrame(rows, columns=["measure", "age_group", "numerator", "denominator",
                                       "value", "ci_lower", "ci_upper"])


def test_measure_denominators_get_secondary_suppression_within_a_measure(data):
    rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023)
    table = _measure_rows([
        ("planned_ending_share", None, 150, 207, 150 / 207, .6, .8),
        ("re_referral_12m", "0-12", 6, 41, 6 / 41, .06, .28),
        ("re_referral_12m", "13-20", 40, 162, 40 / 162, .18, .31),
        ("re_referral_12m", None, 0, 4, 0.0, 0.0, .49)])
    den = measures_display(table, lang=rep.lang, threshold=rep.threshold)["Nämnare"].tolist()
    # 41 + 162 + 4 = 207, the denominator shown for planned endings: the 4 must not be
    # recoverable, so a second cell of the same measure is hidden too.
    assert den[0] == "207" and den[3] == "<5"
    assert den[1:3].count("..") == 1


def test_small_counts_behind_rates_and_shares_are_hidden(data):
    rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023,
                                       lang="en")
    table = _measure_rows([
        ("placement_stability", None, 3, 20000, 0.15, .05, .4),  # 3 moves: days x rate = 3
        ("placement_stability", None, 114, 82200, 1.387, 1.1, 1.7),
        ("long_term_stability", None, 5, 8, 0.625, .3, .86)])  # share on a denominator < 10
    value = measures_display(table, lang=rep.lang, threshold=rep.threshold)["Value"].tolist()
    assert value == ["..", "1.387", ".."]


def test_swedish_tables_use_decimal_comma_and_translated_headers(data):
    rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023)
    m = rep.measures_table()
    assert list(m.columns) == ["Mått", "Värde", "95 % KI", "Nämnare"]
    assert m["Värde"].str.fullmatch(r"\d+,\d{3}|\.\.").all()
    assert m["95 % KI"].str.fullmatch(r"|\(-?\d+,\d{3}; -?\d+,\d{3}\)").all()
    ph = rep.ph_table()
    assert list(ph.columns) == ["Variabel", "Teststorhet", "Frihetsgrader", "p-värde"]
    assert "placement_groupinstitution" not in rep.cox_table()["Variabel"].tolist()
    themes = rep.themes_table()
    assert "trygghet" in themes["Tema"].tolist()
    assert rep.gray_test_text().count(".") == 1  # only the full stop


def test_cost_table_hides_every_cost_of_a_row_with_too_few_children(small):
    for lang, sep in (("sv", "\u00a0"), ("en", ",")):
        rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023, lang=lang)
        t = rep.cost_table()
        counts, money = t.columns[1:3], t.columns[3:]
        assert not t[counts].isin([str(k) for k in range(1, 5)]).any().any()
        children = pd.to_numeric(t[counts[1]].str.replace("\u00a0", "").str.replace(",", ""))
        episodes = pd.to_numeric(t[counts[0]].str.replace("\u00a0", "").str.replace(",", ""))
        hidden = (children < 10) | (episodes < 10)
        assert hidden.any() and (~hidden).any()  # a small type (EGET) and large ones
        assert (t.loc[hidden, money] == "..").all().all()
        assert not (t.loc[~hidden, money] == "..").any().any()
        shown = t.loc[~hidden, t.columns[3]]
        assert shown.str.contains(sep).any()  # thousands separator of the language


def test_cost_per_placement_and_child_are_computed_from_the_published_counts(small):
    rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023, lang="en")
    t = rep.cost_table()
    t = t.set_index(t.columns[0])
    row = t.loc["Family home"]  # the dictionary label of FH (the table shows labels)

    def num(x):
        return float(x.replace(",", ""))

    total = num(row.iloc[-1]) * 1e6  # SEK million, one decimal
    assert num(row.iloc[4]) == pytest.approx(total / num(row.iloc[0]), rel=0.01)
    assert num(row.iloc[5]) == pytest.approx(total / num(row.iloc[1]), rel=0.01)


def test_funnel_plot_draws_only_units_whose_share_is_shown_at_published_counts(data):
    rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023)
    ax = rep.funnel_plot()
    points = np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])
    shown = rep.comparison_table()
    rate_col = shown.columns[3]
    visible = shown[rate_col] != ""
    assert (~visible).any()  # some units are hidden in the table ...
    assert len(points) == visible.sum()  # ... and they are not drawn either
    n = pd.to_numeric(shown.loc[visible, shown.columns[1]]).sort_values().to_numpy()
    assert np.array_equal(np.sort(points[:, 0]), n)  # drawn at the published n


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_cost_effect_that_cannot_be_estimated_gives_a_sentence_not_a_traceback(small):
    rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023,
                                       treated="SIS", n_bootstrap=20)
    if rep.cost_effect() is None:
        assert "kunde inte skattas" in rep.cost_effect_text()
        assert rep.cost_effect_table().empty and rep.cost_effect_plot() is None
    else:  # estimable after all: then the ratio is shown only in its meaningful quadrant
        t = rep.cost_effect_table()
        meaningful = rep.cost_effect().metadata["quadrant"] == "more costly, fewer breakdowns"
        assert (t.iloc[-1, 1] != "–") == meaningful


@pytest.mark.parametrize("lang, kwargs, message", [
    ("sv", {"treated": "XYZ"}, r"treated='XYZ': ingen placering.*finns: \['EGET'"),
    ("en", {"treated": "XYZ"}, r"treated='XYZ': no placement.*present: \['EGET'"),
    ("sv", {"treated": "FH"}, "treated och control är båda 'FH'"),
    ("en", {"treated": "FH"}, "treated and control are both 'FH'"),
    ("sv", {"period_start": "2030-01-01", "period_end": "2030-12-31",
            "data_end": "2031-12-31"}, "Inga placeringar startar mellan 2030-01-01"),
    ("en", {"period_start": "2030-01-01", "period_end": "2030-12-31",
            "data_end": "2031-12-31"}, "No placements start between 2030-01-01"),
    ("sv", {"data_end": "2023-06-30"}, "data_end '2023-06-30' ligger före period_end"),
    ("en", {"data_end": "2023-06-30"}, "data_end '2023-06-30' is before period_end"),
    ("sv", {"period_end": "2018-12-31", "data_end": "2019-12-31"},
     "period_end '2018-12-31' ligger före period_start"),
    ("sv", {"period_start": "2019-13-01"}, "period_start='2019-13-01' är inget datum"),
    ("en", {"period_start": "2019-13-01"}, "period_start='2019-13-01' is not a date"),
    ("sv", {"threshold": 0}, "threshold måste vara ett heltal som är minst 1, angivet: 0"),
    ("en", {"horizon": 0}, "horizon must be a whole number of at least 1, got 0"),
    ("de", {}, "lang måste vara 'sv' eller 'en', angivet: 'de'. / lang must be 'sv' or 'en'"),
])
def test_bad_parameters_are_clear_errors_in_the_report_language(small, lang, kwargs, message):
    from evaluation.errors import ParameterError

    args = {"period_start": "2019-01-01", "period_end": "2023-12-31", "data_end": "2024-12-31",
            "lang": lang, **kwargs}
    with pytest.raises(ParameterError, match=message):
        outcome_report.OutcomeReport(small.tables, **args)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_confounders_constant_in_a_small_sample_are_left_out_not_fatal(small):
    rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023,
                                       horizon=730)
    f = rep.effect_frame()
    f = f[f["placement_type"].isin(["HVB", "FH"])]
    constant = [c for c in EFFECT_COVARIATES if f[c].nunique() == 1]
    assert constant  # this small sample has one (no 13-year-olds with two years' follow-up)
    assert rep.adjustment() == [c for c in EFFECT_COVARIATES if c not in constant]
    assert len(rep.effect_table()) == 4


def test_breakdown_table_hides_risks_where_few_remain_followed(small):
    rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023,
                                       lang="en")
    t = rep.breakdown_table()
    c = rep.cohort
    groups = phrases("outcomes", "groups", "en")
    names = {groups.get(g, g): g for g in c["placement_group"].unique()}
    followed = [int(((c["placement_group"] == names[g]) & (c["time"] >= int(d))).sum())
                for g, d in zip(t["Group"], t["Days"], strict=True)]
    few = np.array(followed) < 10
    assert few.any() and (~few).any()
    assert (t.loc[few, "Estimate"] == "..").all()
    assert not t.loc[~few, "Estimate"].eq("..").any()


# ---------------------------------------------------------------- notes on the models

def _notes_section(text: str, heading: str) -> str:
    assert heading in text, heading
    return text[text.index(heading):]


def test_report_lists_the_model_warnings_in_plain_swedish(html_text):
    notes = _notes_section(_visible_text(html_text), "Anmärkningar om modellerna")
    sentences = list(phrases("notes", "kinds", "sv").values())
    assert any(s in notes for s in sentences)  # at least one recognised warning, in words
    assert "Effekt av placeringsform" in notes  # named by the section that raised it
    assert "row(s)" not in notes and "propensity score below" not in notes  # no raw text


def test_report_lists_the_model_warnings_in_plain_english(html_text_en):
    text = _visible_text(html_text_en)
    notes = _notes_section(text, "Notes on the models")
    sentences = list(phrases("notes", "kinds", "en").values())
    assert any(s in notes for s in sentences)
    assert "Effect of the type of placement" in notes
    assert "Anmärkningar" not in text and "Traceback" not in text


def test_an_unrecognised_warning_is_quoted_without_counts_or_identifiers(small,
                                                                               monkeypatch):
    ep = small.tables["episodes"]
    episode, child = ep["episode_id"].iloc[0], ep["child_id"].iloc[0]
    original = outcome_report.survival.kaplan_meier

    def warning_kaplan_meier(*args, **kwargs):
        import warnings
        # 19991231-1234 is personnummer-shaped but fails the Luhn check: not a real number.
        warnings.warn(f"strange curve: 3 row(s) of 1,250 tied (episode {episode}, child "
                      f"{child}, case 19991231-1234)", UserWarning, stacklevel=2)
        return original(*args, **kwargs)

    monkeypatch.setattr(outcome_report.survival, "kaplan_meier", warning_kaplan_meier)
    for lang, prefix in (("sv", "Varning från en modell (originaltext)"),
                         ("en", "Model warning (original text)")):
        rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023, lang=lang)
        with pytest.warns(UserWarning, match="strange curve: 3 row"):  # still passed on
            rep.length_of_stay_table()
        notes = rep.notes()
        assert notes[["section", "kind"]].values.tolist() == [["stay", "other"]]
        note = notes["note"].iloc[0]
        assert note.startswith(prefix)
        # publication mode (the default): no whole number of a model's message is quoted,
        # grouped thousands included; Markdown-escaped brackets
        assert r"\[n\] row(s) of \[n\] tied" in note
        assert episode not in note and child not in note and "1234" not in note
        assert "1,250" not in note and "250" not in note
        assert note.count(r"\[id\]") == 3
        assert "Vårdtid" in rep.notes_text() or "Length of stay" in rep.notes_text()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_recognised_warnings_become_one_sentence_each_without_counts(small):
    rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023,
                                       n_bootstrap=50)
    assert rep.notes().empty and rep.notes_text() == "Modellerna gav inga varningar."
    rep.effect_table()
    rep.effect_table()  # the naive model is refitted: its warnings must not repeat
    notes = rep.notes()
    raw = [w.message for w in rep.recorded_warnings if "positivity:" in w.message]
    assert raw and re.search(r"\b[1-4] row\(s\)", " ".join(raw))  # raw text has a small count
    assert "positivity" in set(notes["kind"]) and not notes.duplicated().any()
    assert set(notes["section"]) == {"effect"}
    assert not notes["note"].str.contains(r"\d row|propensity score below").any()
    text = rep.notes_text()
    assert text.count("- **Effekt av placeringsform:**") == len(notes)


@pytest.mark.parametrize("lang, expected", [
    ("sv", "kunde inte skattas för dessa data: n_bootstrap måste vara minst 50 (angivet: 20)"),
    ("en", "could not be estimated for these data: n_bootstrap must be at least 50 (given: 20)"),
])
def test_cost_effect_error_for_a_bad_parameter_is_in_the_report_language(small, lang, expected):
    rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023,
                                       lang=lang, n_bootstrap=20)
    assert expected in rep.cost_effect_text()


def test_comparison_leaves_out_a_separating_case_mix_term_and_says_so():
    # 600 children in 5 municipalities: placement type EGET has a handful of rows, all
    # without an unplanned ending, so its fixed effect would be infinite.
    small = synth.generate(n_children=600, n_municipalities=5, seed=1)
    rep = outcome_report.OutcomeReport(small.tables, **TO_MID_2023)
    with pytest.warns(CaseMixTermDroppedWarning, match="'placement_type' left out"):
        res = rep.comparison()
    assert res is not None
    assert "placement_type" not in res.metadata["case_mix"]
    assert rep.comparison_error_text() == ""
    notes = rep.notes()
    assert notes["section"].eq("comparison").any()


def test_comparison_that_cannot_be_fitted_is_explained_not_a_crash(monkeypatch):
    data = synth.generate(n_children=600, n_municipalities=5, seed=1)
    rep = outcome_report.OutcomeReport(data.tables, **TO_MID_2023)

    def fail(*args, **kwargs):
        raise ConvergenceError("conditional modes did not converge in 3 iterations")

    monkeypatch.setattr(outcome_report.comparison, "risk_standardised", fail)
    assert rep.comparison() is None
    assert rep.comparison_table().empty
    assert rep.funnel_plot() is None
    text = rep.comparison_error_text()
    assert text.startswith("Kommunerna kunde inte jämföras")
    assert "3 iterations" not in text  # a small number is masked


def test_everything_after_the_tables_is_passed_by_keyword(small):
    with pytest.raises(TypeError, match="positional"):
        outcome_report.OutcomeReport(small.tables, "2019-01-01", "2023-12-31", "2024-12-31")
    rep = outcome_report.OutcomeReport(small.tables, **TO_END_2023, lang="en", threshold=10)
    assert (rep.lang, rep.threshold, rep.treated) == ("en", 10, "HVB")
