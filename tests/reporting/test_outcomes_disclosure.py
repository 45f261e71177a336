"""The outcomes and teaching reports through the disclosure gate (issue 9): publication mode by
default, every count published by the cell-key method, derived statistics from published
counts, no model output on small arms, internal mode exact and bannered."""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest

from evaluation import measures
from evaluation.data import synth
from evaluation.disclosure import DisclosurePolicy
from evaluation.measures import costs
from evaluation.measures.intervals import wilson_interval
from evaluation.reporting import teaching
from evaluation.reporting.outcomes import OutcomeReport
from evaluation.reporting.tables import column_label
from evaluation.reporting.text import phrase
from tests.helpers import ROOT

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: A whole-month entry window (publication and internal mode then cover the same cohort).
PERIOD = {"period_start": "2019-01-01", "period_end": "2023-12-31", "data_end": "2024-12-31"}
INTERNAL = DisclosurePolicy(mode="internal")
SMALL_COUNTS = {str(k) for k in range(1, 5)}


@pytest.fixture(scope="module")
def data():
    """The issue's attack data: ``synth --children 300 --municipalities 12 --seed 7``."""
    return synth.generate(n_children=300, n_municipalities=12, seed=7)


@pytest.fixture(scope="module")
def published(data):
    return OutcomeReport(data.tables, **PERIOD, n_bootstrap=50)


@pytest.fixture(scope="module")
def internal(data):
    return OutcomeReport(data.tables, **PERIOD, n_bootstrap=50, policy=INTERNAL)


def _tables(rep: OutcomeReport) -> dict[str, pd.DataFrame]:
    """Every table the report shows."""
    return {name: getattr(rep, name)() for name in (
        "measures_table", "themes_table", "length_of_stay_table", "breakdown_table",
        "cox_table", "ph_table", "fine_gray_table", "effect_table", "balance_table",
        "e_value_table", "comparison_table", "cost_table", "cost_effect_table")}


def _texts(rep: OutcomeReport) -> list[str]:
    return [rep.text("intro"), rep.gray_test_text(), rep.effect_sizes_text(),
            rep.cost_effect_text(), rep.models_withheld_text(), rep.notes_text(),
            rep.footer_text()]


#: Columns that hold counts, in both languages.
COUNT_COLUMNS = {column_label(k, lang) for k in ("denominator", "n", "observed", "episodes",
                                                 "children") for lang in ("sv", "en")} | {"n"}


def _count_cells(rep: OutcomeReport) -> list[str]:
    cells = []
    for table in _tables(rep).values():
        for col in table.columns:
            if col in COUNT_COLUMNS:
                cells += [str(v).replace("\u00a0", "").replace(",", "") for v in table[col]]
    return cells


# ---------------------------------------------------------------- defaults

def test_publication_is_the_default_of_reports_and_notebooks(data):
    assert OutcomeReport(data.tables, **PERIOD).policy.publication
    assert teaching.TeachingCase(data.tables["episodes"], data.truth).policy.publication
    for name in ("02-outcomes-and-effects", "03-teaching-confounding"):
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assert re.search(r'^mode(: str)? = "publication"', params.source, flags=re.MULTILINE), name
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "DisclosurePolicy(mode=mode" in code and "footer_text()" in code
        assert "banner_text()" in code
        assert not re.search(r"^\s*(def|class) ", code, flags=re.MULTILINE)


def test_publication_mode_ends_with_the_footer_and_has_no_banner(published, internal):
    assert published.banner_text() == ""
    assert published.footer_text().startswith("Röjandeskydd")
    assert "INTERNT" in internal.banner_text()
    assert internal.footer_text() == phrase("disclosure", "page", "footer_internal", "sv")


# ---------------------------------------------------------------- counts

@pytest.mark.parametrize("treated", ["HVB", "JH"])
def test_no_published_count_is_between_1_and_4_anywhere_in_the_report(data, treated):
    rep = OutcomeReport(data.tables, **PERIOD, n_bootstrap=50, treated=treated)
    cells = _count_cells(rep)
    assert len(cells) > 50  # measures, themes, comparison and cost counts were all scanned
    assert not SMALL_COUNTS & set(cells)
    for text in _texts(rep):
        assert not re.search(r"(?<![\d,.])[1-4](?![\d,.])\s*(placeringar|barn|placements|"
                             r"children)", text)


def test_the_exact_report_of_the_same_data_does_show_small_counts(internal):
    # The scan above is not vacuous: without the gate these tables hold counts of 1 to 4.
    assert SMALL_COUNTS & set(_count_cells(internal))


def test_every_count_is_the_cell_key_count_of_its_records(published, data):
    c = published.cohort
    ids = c["child_id"].astype(str) + "|" + c["episode_id"].astype(str)
    rows = published.measures_counts().set_index("measure")
    risk = rows.loc["breakdown_risk"].iloc[0]
    assert risk["denominator"] == published.policy.count(ids)
    assert risk["children"] == published.policy.count(c["child_id"].astype(str))
    event = ((c["cause"] == 1) & (c["time"] <= 365)).to_numpy()
    assert risk["numerator"] == published.policy.count(ids[event])


def test_internal_mode_reproduces_the_exact_numbers(internal, data):
    t, ep = data.tables, data.tables["episodes"]
    ps, pe, de = PERIOD["period_start"], PERIOD["period_end"], PERIOD["data_end"]
    rows = internal.measures_counts().set_index("measure")
    for name, exact in (
            ("planned_ending_share", measures.planned_ending_share(ep, ps, pe)),
            ("goal_attainment_share", measures.goal_attainment_share(ep, t["followups"], ps,
                                                                     pe)),
            ("child_heard_share", measures.child_heard_share(ep, t["followups"], ps, pe)),
            ("placement_stability", measures.placement_stability(ep, t["placements"], ps,
                                                                 pe)),
            ("long_term_stability", measures.long_term_stability(ep, t["placements"], pe))):
        got = rows.loc[[name]].iloc[0]
        assert (got["numerator"], got["denominator"]) == tuple(
            exact[["numerator", "denominator"]].iloc[0]), name
    risk = measures.breakdown_risk(ep, ps, pe, de)
    assert rows.loc["breakdown_risk", "numerator"].tolist() == risk["numerator"].tolist()
    assert rows.loc["breakdown_risk", "denominator"].tolist() == risk["denominator"].tolist()
    summary = internal.comparison().summary.set_index("unit")
    counts = internal.comparison_counts().reindex(summary.index.astype(str))
    assert counts["n"].tolist() == summary["n"].astype(int).tolist()
    assert counts["observed"].tolist() == summary["observed"].astype(int).tolist()
    care = costs.care_costs(ep, ps, pe, group_cols=["placement_type"])
    shown = internal.cost_table()
    assert shown.iloc[:, 1].str.replace("\u00a0", "").astype(int).tolist() == \
        care["episodes"].tolist()
    m = internal.measures_table()
    value = m.set_index(m.columns[0]).iloc[0, 0]  # planned endings, exact share
    exact = measures.planned_ending_share(ep, ps, pe)["value"].iloc[0]
    assert value == f"{exact:.3f}".replace(".", ",")
    assert internal.period_end == PERIOD["period_end"]


# ---------------------------------------------------------------- derived statistics

def _fmt(x: float) -> str:
    return f"{x:.3f}".replace(".", ",")


def test_a_shown_share_and_its_interval_invert_only_to_the_published_counts(published):
    counts = published.measures_counts().reset_index(drop=True)
    shown = published.measures_table()
    value_col, ci_col, den_col = shown.columns[1:4]
    checked = 0
    for i, row in counts.iterrows():
        if row["measure"] in ("breakdown_risk", "placement_stability"):
            continue
        if shown.loc[i, value_col] == "..":
            continue
        n = int(shown.loc[i, den_col].replace("\u00a0", ""))
        assert n == row["denominator"]  # the shown denominator is the published one
        fits = []
        for k in range(n + 1):
            lo, hi = wilson_interval(k, n)
            if (_fmt(k / n) == shown.loc[i, value_col]
                    and f"({_fmt(float(lo))}; {_fmt(float(hi))})" == shown.loc[i, ci_col]):
                fits.append(k)
        assert fits == [row["numerator"]], row["measure"]
        checked += 1
    assert checked >= 6


def test_national_figures_are_within_the_documented_noise_of_the_exact_ones(published,
                                                                             internal):
    max_deviation = published.policy.table.attrs["D"]
    pub, exact = published.measures_counts(), internal.measures_counts()
    for col in ("numerator", "denominator", "children"):
        if col == "denominator":
            keep = pub["measure"] != "placement_stability"  # care days, not a count
        else:
            keep = pub["measure"] != "child_rated_themes"
        diff = (pub.loc[keep, col] - exact.loc[keep, col]).abs()
        assert diff.max() <= max_deviation, col
    shares = pub["measure"].isin(["planned_ending_share", "goal_attainment_share",
                                  "child_heard_share", "reviews_on_time"])
    p = pub.loc[shares, "numerator"] / pub.loc[shares, "denominator"]
    e = exact.loc[shares, "numerator"] / exact.loc[shares, "denominator"]
    assert (p - e).abs().max() < 0.02  # denominators of 200-600: well within the CI


def test_with_a_small_arm_the_naive_and_adjusted_effects_are_not_shown(data):
    # JH: 25 placements and 4 unplanned endings in a year (the attack: naive risk
    # difference and ratio with the arm sizes gave the 4 back).
    rep = OutcomeReport(data.tables, **PERIOD, n_bootstrap=50, treated="JH")
    exact = OutcomeReport(data.tables, **PERIOD, n_bootstrap=50, treated="JH", policy=INTERNAL)
    assert exact._arm_counts()["JH"]["events"] == 4
    assert not rep.effect_allowed()
    assert rep.effect_table().empty and rep.e_value_table().empty
    assert rep.balance_table().empty
    assert rep.love_plot() is None and rep.overlap_plot() is None
    assert rep.effect_sizes_text() == rep.withheld_text()
    assert rep.cost_effect() is None and rep.cost_effect_text().endswith(rep.withheld_text())
    assert not exact.effect_table().empty  # internal mode shows it, exactly


def test_the_naive_effect_is_computed_from_the_published_arm_counts(data):
    rep = OutcomeReport(data.tables, **PERIOD, n_bootstrap=50, treated="SIS")
    assert rep.effect_allowed()
    n = rep._arm_counts()
    p_t = n["SIS"]["events"] / n["SIS"]["placements"]
    p_c = n["FH"]["events"] / n["FH"]["placements"]
    naive = rep.naive_effect().set_index("measure")["estimate"]
    assert naive["risk_difference"] == pytest.approx(p_t - p_c)
    assert naive["risk_ratio"] == pytest.approx(p_t / p_c)
    assert str(n["SIS"]["placements"]) in rep.effect_sizes_text()


def test_model_tables_are_withheld_as_a_whole_when_a_group_is_small(data, published):
    tiny = synth.generate(n_children=120, n_municipalities=4, seed=3)
    rep = OutcomeReport(tiny.tables, **PERIOD, n_bootstrap=50)
    if rep.models_allowed():  # pragma: no cover - depends on the synthetic draw
        pytest.skip("every group is large enough in this draw")
    assert rep.cox_table().empty and rep.fine_gray_table().empty and rep.ph_table().empty
    assert rep.models_withheld_text() == rep.withheld_text()
    assert published.models_allowed() and not published.cox_table().empty


# ---------------------------------------------------------------- periods

def test_periods_snap_to_whole_months_and_the_intro_says_so(data):
    day_before = OutcomeReport(data.tables, **{**PERIOD, "period_end": "2023-12-30"},
                               n_bootstrap=50)
    whole = OutcomeReport(data.tables, **PERIOD, n_bootstrap=50)
    assert day_before.period_end == "2023-12-31"
    assert "hela månader: 2019-01-01 – 2023-12-31" in day_before.text("intro")
    assert "hela månader" not in whole.text("intro")
    pd.testing.assert_frame_equal(day_before.measures_table(), whole.measures_table())
    exact = OutcomeReport(data.tables, **{**PERIOD, "period_end": "2023-12-30"},
                          n_bootstrap=50, policy=INTERNAL)
    assert exact.period_end == "2023-12-30"


def test_a_snapped_period_stops_at_the_last_whole_month_of_the_data(data):
    rep = OutcomeReport(data.tables, period_start="2019-01-15", period_end="2024-06-10",
                        data_end="2024-06-20", n_bootstrap=50)
    assert (rep.period_start, rep.period_end) == ("2019-01-01", "2024-05-31")


def test_a_threshold_below_the_floor_is_refused_in_publication_mode(data):
    from evaluation.errors import ParameterError

    with pytest.raises(ParameterError, match="publication floor"):
        OutcomeReport(data.tables, **PERIOD, threshold=3)
    rep = OutcomeReport(data.tables, **PERIOD, policy=DisclosurePolicy(mode="internal",
                                                                       threshold=3))
    assert rep.threshold == 3


# ---------------------------------------------------------------- teaching

@pytest.fixture(scope="module")
def lesson():
    return synth.generate(n_children=1500, n_municipalities=10, seed=1)


def test_teaching_counts_are_published_and_internal_mode_is_exact(lesson):
    ep = lesson.tables["episodes"]
    pub = teaching.TeachingCase(ep, lesson.truth)
    exact = teaching.TeachingCase(ep, lesson.truth, policy=INTERNAL)
    f = pub.frame
    for arm in ("HVB", "FH"):
        rows = f[f["placement_type"] == arm]
        ids = rows["child_id"] + "|" + rows["episode_id"].astype(str)
        assert pub.characteristics_table().iloc[-1][arm].replace("\u00a0", "") == \
            str(pub.policy.count(ids))
        assert exact.characteristics_table().iloc[-1][arm].replace("\u00a0", "") == \
            str(len(rows))
    # the plain comparison's risks are the published breakdowns over published placements
    n, k, _ = pub.counts(f["placement_type"] == "HVB", pub.outcome)
    assert pub.strata_table().iloc[-1]["HVB"] == f"{k / n:.3f}".replace(".", ",")
    # the truth stays exact: it is a parameter, not a count
    assert pub.estimates()["truth"].iloc[0] == exact.estimates()["truth"].iloc[0]
    assert pub.banner_text() == "" and "INTERNT" in exact.banner_text()
    assert not SMALL_COUNTS & set(pub.characteristics_table().iloc[-1, 1:])
