"""Tests of :mod:`evaluation.measures.stability` on tiny hand-made tables: placement
stability, NI 062 (three or more placements) and NI 063 (long-term stability).

Each test's docstring derives the numerator and denominator by hand; intervals are compared
with statsmodels references. All children and dates below are invented.
"""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.rates import confint_poisson

from evaluation import measures as m
from evaluation.errors import ParameterError
from tests.helpers import RESULT, episodes, frame, wilson


# --------------------------------------------------------------------------- stability
@pytest.fixture
def stability_tables():
    ep = episodes(
        [
            {
                "episode_id": "E1",
                "birth_year": 2010,
                "start_date": "2020-03-01",
                "end_date": "2020-03-05",
            },
            {"episode_id": "E2", "birth_year": 2002, "start_date": "2020-02-01"},
            {
                "episode_id": "E3",
                "birth_year": 2012,
                "start_date": "2020-01-01",
                "end_date": "2020-01-31",
            },
            {"episode_id": "E4", "birth_year": 2008, "start_date": "2020-12-22", "sex": "M"},
            {"episode_id": "E5", "birth_year": 2015, "start_date": "2019-06-01"},
            {
                "episode_id": "E6",
                "birth_year": 2011,
                "start_date": "2020-06-01",
                "end_date": "2020-06-08",
            },
            {
                "episode_id": "E7",
                "birth_year": 2011,
                "start_date": "2020-07-01",
                "end_date": "2020-07-09",
            },
        ]
    )
    pl = frame(
        [
            {"episode_id": "E2", "placement_seq": 1, "start_date": "2020-02-01", "end_date": None},
            {"episode_id": "E2", "placement_seq": 2, "start_date": "2020-03-01", "end_date": None},
            {
                "episode_id": "E3",
                "placement_seq": 1,
                "start_date": "2020-01-01",
                "end_date": "2020-01-10",
            },
            {
                "episode_id": "E3",
                "placement_seq": 2,
                "start_date": "2020-01-11",
                "end_date": "2020-01-31",
            },
            {
                "episode_id": "E4",
                "placement_seq": 1,
                "start_date": "2020-12-22",
                "end_date": "2020-12-25",
            },
            {
                "episode_id": "E4",
                "placement_seq": 2,
                "start_date": "2020-12-26",
                "end_date": "2021-01-05",
            },
            {"episode_id": "E4", "placement_seq": 3, "start_date": "2021-01-06", "end_date": None},
            {
                "episode_id": "E6",
                "placement_seq": 1,
                "start_date": "2020-06-01",
                "end_date": "2020-06-03",
            },
            {
                "episode_id": "E6",
                "placement_seq": 2,
                "start_date": "2020-06-04",
                "end_date": "2020-06-08",
            },
            {
                "episode_id": "E7",
                "placement_seq": 1,
                "start_date": "2020-07-01",
                "end_date": "2020-07-09",
            },
        ],
        ("start_date", "end_date"),
    )
    return ep, pl


def test_placement_stability_by_hand(stability_tables):
    """Entrants 2020: E1 (4-day stay), E6 (7 days) and E2 (age 18) are excluded; E5 entered
    in 2019. E3: 31 days, 1 move. E4: 22-31 Dec = 10 days to period_end, its 2nd placement
    is a move, the 3rd starts after period_end. E7: 9 days, no move.
    Moves 2 / days 50 -> 40 per 1,000 days."""
    ep, pl = stability_tables
    r = m.placement_stability(ep, pl, "2020-01-01", "2020-12-31")
    assert list(r.columns) == ["measure", *RESULT]
    assert r.loc[0, "measure"] == "placement_stability"
    assert (r.loc[0, "numerator"], r.loc[0, "denominator"]) == (2, 50)
    assert_allclose(r.loc[0, "value"], 40.0)
    lo, hi = confint_poisson(2, 50, method="exact-c")
    assert_allclose([r.loc[0, "ci_lower"], r.loc[0, "ci_upper"]], [lo * 1000, hi * 1000], rtol=1e-9)


def test_placement_stability_groups_and_per(stability_tables):
    """By sex: F = E3 + E7 (1 move / 40 days), M = E4 (1 move / 10 days); per 100 days."""
    ep, pl = stability_tables
    r = m.placement_stability(ep, pl, "2020-01-01", "2020-12-31", per=100, group_cols=["sex"])
    r = r.set_index("sex")
    assert r.loc["F", ["numerator", "denominator"]].tolist() == [1, 40]
    assert r.loc["M", ["numerator", "denominator"]].tolist() == [1, 10]
    assert_allclose(r["value"], [2.5, 10.0])


def test_placement_stability_rejects_bad_input(stability_tables):
    ep, pl = stability_tables
    with pytest.raises(ParameterError, match="placement_seq"):
        m.placement_stability(ep, pl.drop(columns="placement_seq"), "2020-01-01", "2020-12-31")
    with pytest.raises(ParameterError, match="before period_start"):
        m.placement_stability(ep, pl, "2020-12-31", "2020-01-01")
    with pytest.raises(ParameterError, match="per must be positive"):
        m.placement_stability(ep, pl, "2020-01-01", "2020-12-31", per=0)
    with pytest.raises(ParameterError, match="not in episodes"):
        m.placement_stability(ep, pl, "2020-01-01", "2020-12-31", group_cols=["region"])


# --------------------------------------------------------------------------- NI 062
def test_three_or_more_placements_by_hand():
    """Year 2021. A: 3 of 4 placements overlap 2021 (yes). B: 2 + 1 placements in two
    episodes (yes). C: left care 31 Dec 2020 (not in care). D: 2 placements in 2021, the 3rd
    in 2022 (no). E: entered 31 Dec 2021 (no). 2 / 4; by sex F = B (1/1), M = A, D, E (1/3)."""
    ep = episodes(
        [
            {
                "episode_id": "A1",
                "child_id": "A",
                "sex": "M",
                "birth_year": 2010,
                "start_date": "2020-06-01",
            },
            {
                "episode_id": "B1",
                "child_id": "B",
                "birth_year": 2009,
                "start_date": "2021-01-10",
                "end_date": "2021-03-01",
            },
            {"episode_id": "B2", "child_id": "B", "birth_year": 2009, "start_date": "2021-08-01"},
            {
                "episode_id": "C1",
                "child_id": "C",
                "birth_year": 2012,
                "start_date": "2019-01-01",
                "end_date": "2020-12-31",
            },
            {
                "episode_id": "D1",
                "child_id": "D",
                "sex": "M",
                "birth_year": 2007,
                "start_date": "2021-03-01",
                "end_date": "2022-02-01",
            },
            {
                "episode_id": "E1",
                "child_id": "E",
                "sex": "M",
                "birth_year": 2014,
                "start_date": "2021-12-31",
            },
        ]
    )
    pl = frame(
        [
            {"episode_id": "A1", "start_date": "2020-06-01", "end_date": "2020-12-31"},
            {"episode_id": "A1", "start_date": "2021-01-01", "end_date": "2021-05-31"},
            {"episode_id": "A1", "start_date": "2021-06-01", "end_date": "2021-09-30"},
            {"episode_id": "A1", "start_date": "2021-10-01", "end_date": None},
            {"episode_id": "B1", "start_date": "2021-01-10", "end_date": "2021-02-01"},
            {"episode_id": "B1", "start_date": "2021-02-02", "end_date": "2021-03-01"},
            {"episode_id": "B2", "start_date": "2021-08-01", "end_date": None},
            {"episode_id": "C1", "start_date": "2019-01-01", "end_date": "2020-12-31"},
            {"episode_id": "D1", "start_date": "2021-03-01", "end_date": "2021-06-01"},
            {"episode_id": "D1", "start_date": "2021-06-02", "end_date": "2022-01-14"},
            {"episode_id": "D1", "start_date": "2022-01-15", "end_date": "2022-02-01"},
            {"episode_id": "E1", "start_date": "2021-12-31", "end_date": None},
        ],
        ("start_date", "end_date"),
    )
    r = m.three_or_more_placements(ep, pl, 2021)
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [2, 4]
    lo, hi = wilson(2, 4)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [0.5, lo, hi])
    g = m.three_or_more_placements(ep, pl, 2021, group_cols=["sex"]).set_index("sex")
    assert g.loc["F", ["numerator", "denominator"]].tolist() == [1, 1]
    assert g.loc["M", ["numerator", "denominator"]].tolist() == [1, 3]
    with pytest.raises(ParameterError, match="year must be an integer"):
        m.three_or_more_placements(ep, pl, "2021")


# --------------------------------------------------------------------------- NI 063
@pytest.fixture
def ni063_tables():
    ep = episodes(
        [
            {"episode_id": "L1", "birth_year": 2010, "start_date": "2020-01-01"},
            {"episode_id": "L2", "birth_year": 2012, "start_date": "2020-06-01", "sex": "M"},
            {"episode_id": "L3", "birth_year": 2007, "start_date": "2019-01-01"},
            {"episode_id": "L4", "birth_year": 2010, "start_date": "2020-10-01"},
            {"episode_id": "L5", "birth_year": 2010, "start_date": "2020-09-30"},
            {
                "episode_id": "L6",
                "birth_year": 2011,
                "start_date": "2019-01-01",
                "end_date": "2023-03-30",
            },
            {
                "episode_id": "L7",
                "birth_year": 2011,
                "start_date": "2019-01-01",
                "end_date": "2023-03-31",
            },
            {"episode_id": "L8", "birth_year": 2010, "start_date": "2020-01-01"},
        ]
    )
    rows = [
        ("L1", 1, "2020-01-01"), ("L1", 2, "2020-07-01"), ("L1", 3, "2023-04-15"),
        ("L2", 1, "2020-06-01"), ("L2", 2, "2022-02-01"),
        ("L3", 1, "2019-01-01"), ("L4", 1, "2020-10-01"),
        ("L6", 1, "2019-01-01"),
        ("L7", 1, "2019-01-01"), ("L7", 2, "2021-04-01"),
        ("L8", 1, "2020-01-01"), ("L8", 2, "2021-03-31"),
    ]  # fmt: skip
    pl = frame(
        [{"episode_id": i, "placement_seq": s, "start_date": d} for i, s, d in rows],
        ("start_date",),
    )
    return ep, pl


def test_long_term_stability_by_hand(ni063_tables):
    """Census 31 Mar 2023. Excluded: L3 (aged 16), L4 (2.5 years reached 1 Apr 2023), L6
    (left care the day before). Denominator L1, L2, L5, L7, L8 (L7 leaves on the census day,
    still in care). Same placement >= 2 years: L1 (since 1 Jul 2020; its 3rd placement starts
    after the census), L5 (no placement rows: since entry 30 Sep 2020), L8 (since 31 Mar 2021,
    exactly 2 years). Not: L2 (since Feb 2022), L7 (since 1 Apr 2021, one day short). 3/5;
    F (L1, L5, L7, L8) 3/4, M (L2) 0/1; by age at the census: 0-12 (L2 11, L7 12) 0/2,
    13-20 (L1, L5, L8 aged 13) 3/3."""
    ep, pl = ni063_tables
    r = m.long_term_stability(ep, pl, "2023-03-31")
    assert list(r.columns) == ["measure", *RESULT]
    assert r.loc[0, "measure"] == "long_term_stability"
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [3, 5]
    lo, hi = wilson(3, 5)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [0.6, lo, hi])
    g = m.long_term_stability(ep, pl, "2023-03-31", group_cols=["sex"]).set_index("sex")
    assert g.loc["F", ["numerator", "denominator"]].tolist() == [3, 4]
    assert g.loc["M", ["numerator", "denominator"]].tolist() == [0, 1]
    a = m.long_term_stability(ep, pl, "2023-03-31", group_cols="age_group").set_index("age_group")
    assert a.loc["0-12", ["numerator", "denominator"]].tolist() == [0, 2]
    assert a.loc["13-20", ["numerator", "denominator"]].tolist() == [3, 3]


def test_long_term_stability_limits_are_parameters(ni063_tables):
    """One year in the placement suffices for L2 and L7 too -> 5/5. max_age 13 drops the
    13-year-olds L1, L5 and L8 -> L2, L7: 0/2."""
    ep, pl = ni063_tables
    r = m.long_term_stability(ep, pl, "2023-03-31", min_placement_months=12)
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [5, 5]
    r = m.long_term_stability(ep, pl, "2023-03-31", max_age=13)
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [0, 2]


def test_long_term_stability_rejects_bad_input(ni063_tables):
    ep, pl = ni063_tables
    with pytest.raises(ParameterError, match="census_date"):
        m.long_term_stability(ep, pl, "not a date")
    with pytest.raises(ParameterError, match="min_care_months"):
        m.long_term_stability(ep, pl, "2023-03-31", min_care_months=0)
    with pytest.raises(ParameterError, match="placement_seq"):
        m.long_term_stability(ep, pl.drop(columns="placement_seq"), "2023-03-31")
