"""The attack suite of issue 9 (item 6): the determined reader against the published reports.

Small synthetic data (300 children, 12 municipalities, seed 7), every report called with its
defaults (publication mode). The attacker's tools are in ``tests/reporting/attacks.py``; they
count recoveries of true counts 1-4 and of a single child's attributes that follow with
certainty from everything published (see that module's docstring for how). Each attack must
find nothing. ``benchmarks/attack_reports.py`` prints the same counts, also for the package
before disclosure control.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.reporting import attacks


@pytest.fixture(scope="module")
def package():
    return attacks.current_package()


@pytest.fixture(scope="module")
def tables(package):
    return package.tables(300, 12, seed=7)


@pytest.fixture(scope="module")
def overview(package, tables):
    """Every municipality's overview and the all view, 2019-2024."""
    return attacks.Overview.publish(package, tables, *attacks.PERIOD)


@pytest.fixture(scope="module")
def constraints(overview):
    """(a) on the overviews (solved once for the tests that read it)."""
    return attacks.integer_constraints(overview)


@pytest.fixture(scope="module")
def all_views(package, tables):
    """The all view for periods ending 30 November, 30 December and 31 December 2024."""
    return {end: attacks.Overview.publish(package, tables, "2019-01-01", end, municipalities=[])
            for end in ("2024-11-30", "2024-12-30", "2024-12-31")}


@pytest.fixture(scope="module")
def outcomes(package, tables):
    """The outcomes report with the small arm JH (family emergency homes) as treated."""
    return attacks.Outcomes.publish(package, tables, **attacks.OUTCOME_PERIOD, treated="JH")


# --------------------------------------------------------------------------------------------
# The attacker's tools find what there is to find


def test_the_solver_pins_a_small_count_from_a_total_and_the_other_published_cells():
    system = attacks.System()
    total = system.var("total", 9)
    cells = [system.var(c, t) for c, t in (("a", 3), ("b", 6), ("c", 0))]
    system.add({total: 1}, 9, 9, attacks.EXACT)
    system.add({cells[1]: 1}, 6, 6, attacks.EXACT)
    system.add({cells[2]: 1}, 0, 0, attacks.EXACT)
    system.add({cells[0]: 1}, 1, 4, attacks.SMALL_MARK)
    system.add({**{i: 1 for i in cells}, total: -1}, 0, 0, attacks.CATEGORIES_SUM)
    r = attacks.recoveries(system, {"a": {cells[0]: 1.0}})
    assert r["recovered"] == ["a"]


def test_a_rule_that_the_truth_breaks_is_not_used_even_where_it_happens_to_hold():
    system = attacks.System()
    x, y = system.var("x", 2), system.var("y", 7)
    system.add({x: 1}, 2, 2, attacks.EXACT)  # holds here ...
    system.add({y: 1}, 6, 6, attacks.EXACT)  # ... but not here: "exact" is not sound
    system.add({x: 1}, 0, 5, attacks.NOISE)
    system.add({y: 1}, 3, 9, attacks.NOISE)
    assert system.sound_rules() == {attacks.NOISE}
    assert attacks.recoveries(system, {"x": {x: 1.0}}, naive=False)["recovered"] == []


def test_the_noise_support_of_a_published_count_comes_from_the_perturbation_table(package):
    support = attacks.noise_support(package.ptable)
    assert support(0)[0] == 0
    for p in (0, 5, 6, 20):
        lo, hi = support(p)
        assert lo <= p <= hi and hi - lo <= 2 * attacks.NOISE_BOUND
    assert attacks.noise_support(None)(10) == (7, 13)


def test_a_wilson_interval_with_its_proportion_has_few_candidate_counts():
    lo, hi = attacks._wilson(np.array([14.0]), np.array([44.0]))
    value = (round(14 / 44, 3), 0.0005)
    interval = ((round(lo[0], 3), 0.0005), (round(hi[0], 3), 0.0005))
    k, n = attacks.wilson_candidates(value, interval, attacks.Cell("unknown"), None)
    assert (14, 44) in set(zip(k.tolist(), n.tolist(), strict=True))
    assert len(k) < 5


def test_the_attacks_recover_small_counts_from_the_exact_numbers_of_internal_mode(package,
                                                                                  tables):
    """The suite is not blind: on exact numbers it finds what the issue found."""
    if package.internal is None:
        pytest.skip("the package has no internal mode")
    exact = package.internal_mode()
    ov = attacks.Overview.publish(exact, tables, *attacks.PERIOD)
    assert attacks.single_child(ov)["revealed"] > 0
    views = {end: attacks.Overview.publish(exact, tables, "2019-01-01", end, municipalities=[])
             for end in ("2024-12-30", "2024-12-31")}
    assert attacks.differencing(views["2024-12-30"], views["2024-12-31"])["recovered"] > 0
    rep = attacks.Outcomes.publish(exact, tables, **attacks.OUTCOME_PERIOD, treated="JH")
    assert attacks.naive_effect_inversion(rep)["recovered"] > 0


# --------------------------------------------------------------------------------------------
# (a) integer constraints


def test_every_municipalitys_overview_is_published_with_a_sound_reading_of_its_numbers(
        overview, constraints):
    assert all("error" not in overview.reports[m] for m in overview.municipalities)
    a = constraints
    assert a["targets"] > 0  # there are true counts of 1-4 to protect
    for section, dropped in a["dropped"].items():
        assert attacks.NOISE not in dropped, section  # the noise bound is a true statement


def test_solving_all_overviews_as_integer_constraints_recovers_no_count_of_1_to_4(
        constraints):
    a = constraints
    assert a["recovered"] == 0, a["cells"]


def test_the_reader_who_takes_every_published_count_as_exact_recovers_no_count_of_1_to_4(
        constraints):
    assert constraints["naive_hits"] == 0


# --------------------------------------------------------------------------------------------
# (b) differencing


def test_differencing_periods_ending_30_and_31_december_recovers_no_count_of_1_to_4(all_views):
    b = attacks.differencing(all_views["2024-12-30"], all_views["2024-12-31"])
    assert b["recovered"] == 0, b["cells"]
    assert b["naive_hits"] == 0


def test_no_category_rises_by_exactly_one_from_30_to_31_december(all_views):
    """The issue's reader read a child's age, sex, placement, legal basis and problems from
    the categories that rose by one."""
    assert attacks.rises_by_one(all_views["2024-12-30"], all_views["2024-12-31"]) == []


def test_differencing_periods_a_month_apart_recovers_no_count_of_1_to_4(all_views):
    b = attacks.differencing(all_views["2024-11-30"], all_views["2024-12-31"])
    assert b["chance_targets"] > 0  # a month adds a few episodes to many categories
    assert b["recovered"] == 0, b["cells"]
    assert b["naive_hits"] == 0


def test_the_outcome_measures_of_periods_a_day_apart_differ_by_no_recoverable_count(
        package, tables, outcomes):
    short = attacks.Outcomes.publish(package, tables,
                                     **{**attacks.OUTCOME_PERIOD, "period_end": "2023-12-30"},
                                     treated="JH", effect=False)
    b = attacks.outcome_differencing(short, outcomes)
    assert b["recovered"] == 0, b["cells"]


@pytest.fixture(scope="module")
def outcomes_month_before(package, tables):
    """The outcomes report of an entry period ending a month earlier (30 November 2023)."""
    return attacks.Outcomes.publish(package, tables,
                                    **{**attacks.OUTCOME_PERIOD, "period_end": "2023-11-30"},
                                    treated="JH")


def test_the_outcome_measures_of_periods_a_month_apart_differ_by_no_recoverable_count(
        outcomes_month_before, outcomes):
    """A measure shown as an exact estimate (not from published counts) pins its counts in
    each report, and so their difference."""
    b = attacks.outcome_differencing(outcomes_month_before, outcomes)
    assert b["recovered"] == 0, b["cells"]


def test_the_breakdown_risk_by_group_of_periods_a_month_apart_gives_back_no_count_of_1_to_4(
        outcomes_month_before, outcomes):
    """With a year of follow-up for everyone the one-year risk is breakdowns / entrants; the
    cost table bounds the entrants of each group."""
    b = attacks.breakdown_differencing(outcomes_month_before, outcomes)
    assert b["recovered"] == 0, b["cells"]


# --------------------------------------------------------------------------------------------
# (c) derived statistics


def test_inverting_the_wilson_intervals_of_the_outcome_measures_recovers_no_count_of_1_to_4(
        outcomes):
    assert not outcomes.truth["numerator"].isna().any()  # the rows are read against the truth
    w = attacks.wilson_inversion(outcomes)
    assert w["recovered"] == 0, w["cells"]
    t = attacks.denominator_totals(outcomes, w["pinned_denominators"])
    assert t["recovered"] == 0, t["cells"]


def test_the_naive_effect_with_the_arm_sizes_gives_back_no_event_count_of_1_to_4(outcomes):
    e = attacks.naive_effect_inversion(outcomes)
    assert e["recovered"] == 0, e["cells"]


# --------------------------------------------------------------------------------------------
# (d) single child


def test_no_municipality_with_a_single_child_is_described_by_its_published_cells(overview):
    d = attacks.single_child(overview)
    assert d["selections"]  # the data hold such a municipality
    assert d["revealed"] == 0, d["cells"]
