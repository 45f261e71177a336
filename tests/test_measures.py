"""Tests of :mod:`evaluation.measures` on tiny hand-made tables.

Each test's docstring derives the numerator and denominator by hand; intervals are compared
with statsmodels/scipy references. All children and dates below are invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.proportion import proportion_confint
from statsmodels.stats.rates import confint_poisson

from evaluation import measures as m
from evaluation import synth
from evaluation.errors import ParameterError

RESULT = ["numerator", "denominator", "value", "ci_lower", "ci_upper"]


def frame(rows: list[dict], dates: tuple[str, ...]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for c in dates:
        df[c] = pd.to_datetime(df[c])
    return df


def episodes(rows: list[dict]) -> pd.DataFrame:
    base = {
        "child_id": None,
        "municipality_code": "0180",
        "sex": "F",
        "end_date": None,
        "legal_basis": "SOL",
        "placement_type": "FH",
        "end_reason": None,
        "planned_ending": None,
        "destination": None,
    }
    full = []
    for i, r in enumerate(rows):
        row = {**base, **r}
        row["child_id"] = row["child_id"] or f"C{i}"
        full.append(row)
    df = frame(full, ("start_date", "end_date"))
    df["planned_ending"] = df["planned_ending"].astype("boolean")
    return df


def wilson(k, n, alpha=0.05):
    return proportion_confint(k, n, alpha=alpha, method="wilson")


# --------------------------------------------------------------------------- intervals
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_interval_matches_statsmodels(alpha):
    k = np.array([0, 1, 5, 10, 3, 17])
    n = np.array([10, 10, 10, 10, 4, 250])
    lo, hi = m.wilson_interval(k, n, alpha)
    ref_lo, ref_hi = wilson(k, n, alpha)
    assert_allclose(lo, ref_lo, rtol=1e-10, atol=1e-12)
    assert_allclose(hi, ref_hi, rtol=1e-10, atol=1e-12)


def test_wilson_interval_is_nan_for_empty_denominator():
    lo, hi = m.wilson_interval([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_poisson_rate_interval_matches_statsmodels_exact(alpha):
    k = np.array([1, 2, 7, 40])
    exposure = np.array([10.0, 50.0, 365.0, 14209.0])
    lo, hi = m.poisson_rate_interval(k, exposure, alpha)
    ref_lo, ref_hi = confint_poisson(k, exposure, method="exact-c", alpha=alpha)
    assert_allclose(lo, ref_lo, rtol=1e-9)
    assert_allclose(hi, ref_hi, rtol=1e-9)


def test_poisson_rate_interval_hand_values():
    """k = 0: [0, -log(0.025)] = [0, 3.68888]; k = 1: [0.025318, 5.571643] (Garwood tables)."""
    lo, hi = m.poisson_rate_interval([0, 1], [1.0, 1.0])
    assert_allclose(lo, [0.0, 0.0253178], atol=1e-6)
    assert_allclose(hi, [-np.log(0.025), 5.5716434], atol=1e-6)
    lo2, hi2 = m.poisson_rate_interval([1], [2.0])
    assert_allclose([lo2[0], hi2[0]], [0.0253178 / 2, 5.5716434 / 2], atol=1e-6)


@pytest.mark.parametrize("func", [m.wilson_interval, m.poisson_rate_interval])
def test_intervals_reject_bad_alpha(func):
    with pytest.raises(ParameterError, match="alpha"):
        func([1], [2], alpha=1.5)


def test_wilson_interval_rejects_k_above_n():
    with pytest.raises(ParameterError, match="k <= n"):
        m.wilson_interval([3], [2])


# --------------------------------------------------------------------------- ages
def test_age_at_start_and_age_group():
    ep = episodes(
        [
            {"start_date": "2020-03-01", "birth_year": 2008},
            {"start_date": "2021-12-31", "birth_year": 2000},
        ]
    )
    assert list(m.age_at_start(ep)) == [12, 21]
    assert list(m.age_group([0, 12, 13, 20])) == ["0-12", "0-12", "13-20", "13-20"]
    assert m.age_group([21, -1]).isna().all()
    assert list(m.age_group([3, 16], breaks=(0, 6, 18))) == ["0-5", "6-17"]


def test_age_group_rejects_unordered_breaks():
    with pytest.raises(ParameterError, match="strictly increasing"):
        m.age_group([1], breaks=(0, 13, 13))


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


# --------------------------------------------------------------------------- permanency
@pytest.fixture
def permanency_episodes():
    return episodes(
        [
            {
                "episode_id": "P1",
                "birth_year": 2010,
                "start_date": "2020-01-10",
                "end_date": "2020-06-01",
                "destination": "PARENTS",
                "end_reason": "PLANNED",
            },
            {
                "episode_id": "P2",
                "birth_year": 2010,
                "start_date": "2020-02-01",
                "end_date": "2020-02-05",
                "destination": "PARENTS",
                "end_reason": "PLANNED",
            },
            {"episode_id": "P3", "birth_year": 2002, "start_date": "2020-03-01"},
            {
                "episode_id": "P4",
                "birth_year": 2010,
                "start_date": "2020-04-01",
                "end_date": "2021-04-02",
                "destination": "PARENTS",
                "end_reason": "PLANNED",
            },
            {
                "episode_id": "P5",
                "birth_year": 2012,
                "start_date": "2020-05-01",
                "end_date": "2020-11-01",
                "destination": "NEW_PLACEMENT",
                "end_reason": "CUSTODY_TRANSFER",
            },
            {"episode_id": "P6", "birth_year": 2012, "start_date": "2020-06-01"},
            {
                "episode_id": "P7",
                "birth_year": 2003,
                "start_date": "2020-01-15",
                "end_date": "2021-01-10",
                "destination": "PARENTS",
                "end_reason": "PLANNED",
            },
            {
                "episode_id": "P8",
                "birth_year": 2006,
                "start_date": "2020-03-01",
                "end_date": "2020-09-01",
                "destination": "NEW_PLACEMENT",
                "end_reason": "BREAKDOWN_CARER",
            },
            {
                "episode_id": "P9",
                "birth_year": 2009,
                "start_date": "2020-12-31",
                "end_date": "2021-03-01",
                "destination": "PARENTS",
                "end_reason": "GOAL_REACHED",
                "sex": "M",
            },
        ]
    )


def test_exit_to_permanency_by_hand(permanency_episodes):
    """Excluded: P2 (4-day stay), P3 (entry age 18). Denominator P1, P4-P9 = 7.
    Numerator: P1 (home), P5 (custody transfer), P9 (home) = 3. P4 went home one day after
    12 months, P7 went home at age 18, P6 is ongoing, P8 broke down."""
    r = m.exit_to_permanency_12m(permanency_episodes, "2020-01-01", "2020-12-31", "2021-12-31")
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [3, 7]
    lo, hi = wilson(3, 7)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [3 / 7, lo, hi])


def test_exit_to_permanency_drops_unobservable_entrants(permanency_episodes):
    """data_end 2021-06-30: P9's 12 months end 2021-12-31, unobservable -> 2 / 6.
    By sex: F = P1, P4-P8 (2/6); P9 (M) drops out so there is no M row."""
    r = m.exit_to_permanency_12m(
        permanency_episodes, "2020-01-01", "2020-12-31", "2021-06-30", group_cols=["sex"]
    )
    assert r["sex"].tolist() == ["F"]
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [2, 6]


def test_exit_to_permanency_rejects_bad_input(permanency_episodes):
    with pytest.raises(ParameterError, match="destination"):
        m.exit_to_permanency_12m(
            permanency_episodes.drop(columns="destination"),
            "2020-01-01",
            "2020-12-31",
            "2021-12-31",
        )
    with pytest.raises(ParameterError, match="data_end"):
        m.exit_to_permanency_12m(permanency_episodes, "2020-01-01", "2020-12-31", "2020-06-30")
    with pytest.raises(ParameterError, match="before period_start"):
        m.exit_to_permanency_12m(permanency_episodes, "2021-01-01", "2020-12-31", "2022-12-31")


# --------------------------------------------------------------------------- re-referral
@pytest.fixture
def referral_tables():
    ep = episodes(
        [
            {
                "episode_id": "R1",
                "child_id": "A",
                "birth_year": 2015,
                "start_date": "2020-01-01",
                "end_date": "2021-03-01",
            },
            {
                "episode_id": "R2",
                "child_id": "B",
                "birth_year": 2005,
                "start_date": "2020-01-01",
                "end_date": "2021-05-01",
            },
            {
                "episode_id": "R3",
                "child_id": "C",
                "birth_year": 2004,
                "start_date": "2020-01-01",
                "end_date": "2021-06-01",
            },
            {
                "episode_id": "R4",
                "child_id": "D",
                "birth_year": 2006,
                "start_date": "2020-01-01",
                "end_date": "2021-07-01",
            },
            {
                "episode_id": "R5",
                "child_id": "E",
                "birth_year": 2010,
                "start_date": "2020-01-01",
                "end_date": "2020-12-31",
            },
            {"episode_id": "R6", "child_id": "F", "birth_year": 2016, "start_date": "2020-01-01"},
            {
                "episode_id": "R7",
                "child_id": "G",
                "birth_year": 2012,
                "start_date": "2020-01-01",
                "end_date": "2021-12-31",
            },
        ]
    )
    ref = frame(
        [
            {
                "referral_id": "X1",
                "child_id": "A",
                "referral_date": "2021-08-01",
                "led_to_investigation": True,
            },
            {
                "referral_id": "X2",
                "child_id": "B",
                "referral_date": "2022-05-02",
                "led_to_investigation": True,
            },
            {
                "referral_id": "X3",
                "child_id": "C",
                "referral_date": "2021-05-01",
                "led_to_investigation": True,
            },
            {
                "referral_id": "X4",
                "child_id": "C",
                "referral_date": "2022-06-01",
                "led_to_investigation": False,
            },
            {
                "referral_id": "X5",
                "child_id": "E",
                "referral_date": "2021-02-01",
                "led_to_investigation": True,
            },
            {
                "referral_id": "X6",
                "child_id": "F",
                "referral_date": "2021-02-01",
                "led_to_investigation": True,
            },
        ],
        ("referral_date",),
    )
    return ep, ref


def test_re_referral_by_hand_default_age_split(referral_tables):
    """Endings in 2021: R1 (age 6), R2 (16), R3 (17), R4 (15), R7 (9); R5 ended 2020, R6 is
    ongoing. Re-referred within 12 months: R1 (Aug 2021), R3 (1 Jun 2022 = exactly 12 months;
    its May 2021 referral precedes the ending). R2's referral is one day late.
    0-12: R1, R7 -> 1/2; 13-20: R2, R3, R4 -> 1/3."""
    ep, ref = referral_tables
    r = m.re_referral_12m(ep, ref, "2021-01-01", "2021-12-31", "2022-12-31")
    assert list(r.columns) == ["measure", "age_group", *RESULT]
    r = r.set_index("age_group")
    assert r.loc["0-12", ["numerator", "denominator"]].tolist() == [1, 2]
    assert r.loc["13-20", ["numerator", "denominator"]].tolist() == [1, 3]
    lo, hi = wilson(1, 3)
    assert_allclose(r.loc["13-20", ["ci_lower", "ci_upper"]].astype(float), [lo, hi])


def test_re_referral_overall_investigation_and_observability(referral_tables):
    """Overall 2/5. Requiring an investigation drops R3 (X4 led to none) -> 1/5.
    data_end 2022-06-30 drops R4 and R7 (12 months unobservable) -> R1, R2, R3: 2/3."""
    ep, ref = referral_tables
    args = ("2021-01-01", "2021-12-31")
    overall = m.re_referral_12m(ep, ref, *args, "2022-12-31", group_cols=None)
    assert overall[["numerator", "denominator"]].iloc[0].tolist() == [2, 5]
    inv = m.re_referral_12m(
        ep, ref, *args, "2022-12-31", group_cols=None, require_investigation=True
    )
    assert inv[["numerator", "denominator"]].iloc[0].tolist() == [1, 5]
    short = m.re_referral_12m(ep, ref, *args, "2022-06-30", group_cols=None)
    assert short[["numerator", "denominator"]].iloc[0].tolist() == [2, 3]


def test_re_referral_rejects_missing_referral_column(referral_tables):
    ep, ref = referral_tables
    with pytest.raises(ParameterError, match="referrals lacks"):
        m.re_referral_12m(
            ep, ref.drop(columns="referral_date"), "2021-01-01", "2021-12-31", "2022-12-31"
        )
    with pytest.raises(ParameterError, match="led_to_investigation"):
        m.re_referral_12m(
            ep,
            ref.drop(columns="led_to_investigation"),
            "2021-01-01",
            "2021-12-31",
            "2022-12-31",
            require_investigation=True,
        )


# --------------------------------------------------------------------------- planned ending
def test_planned_ending_share_by_hand():
    """Endings in 2021: Q1 planned, Q2 unplanned, Q3 planned (municipality 0180), Q4 planned
    (1480); Q5 missing planned_ending is excluded; Q6 ended 2020; Q7 ongoing.
    Overall 3/4; 0180: 2/3; 1480: 1/1."""
    ep = episodes(
        [
            {
                "episode_id": "Q1",
                "birth_year": 2010,
                "start_date": "2020-01-01",
                "end_date": "2021-02-01",
                "planned_ending": True,
            },
            {
                "episode_id": "Q2",
                "birth_year": 2010,
                "start_date": "2020-01-01",
                "end_date": "2021-03-01",
                "planned_ending": False,
            },
            {
                "episode_id": "Q3",
                "birth_year": 2010,
                "start_date": "2020-01-01",
                "end_date": "2021-12-31",
                "planned_ending": True,
            },
            {
                "episode_id": "Q4",
                "birth_year": 2010,
                "start_date": "2020-01-01",
                "end_date": "2021-01-01",
                "planned_ending": True,
                "municipality_code": "1480",
            },
            {
                "episode_id": "Q5",
                "birth_year": 2010,
                "start_date": "2020-01-01",
                "end_date": "2021-05-01",
            },
            {
                "episode_id": "Q6",
                "birth_year": 2010,
                "start_date": "2020-01-01",
                "end_date": "2020-12-31",
                "planned_ending": False,
            },
            {"episode_id": "Q7", "birth_year": 2010, "start_date": "2020-01-01"},
        ]
    )
    r = m.planned_ending_share(ep, "2021-01-01", "2021-12-31")
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [3, 4]
    lo, hi = wilson(3, 4)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [0.75, lo, hi])
    g = m.planned_ending_share(ep, "2021-01-01", "2021-12-31", group_cols=["municipality_code"])
    assert g["municipality_code"].tolist() == ["0180", "1480"]
    assert g[["numerator", "denominator"]].to_numpy().tolist() == [[2, 3], [1, 1]]
    with pytest.raises(ParameterError, match="planned_ending"):
        m.planned_ending_share(ep.drop(columns="planned_ending"), "2021-01-01", "2021-12-31")


# --------------------------------------------------------------------------- goal attainment
@pytest.fixture
def goal_tables():
    ep = episodes(
        [
            {"episode_id": f"G{i}", "birth_year": 2010, "start_date": d}
            for i, d in enumerate(
                ["2020-01-01", "2020-02-01", "2020-03-01", "2020-04-01", "2019-01-01"], start=1
            )
        ]
    )
    fu = frame(
        [
            {"episode_id": "G1", "followup_date": "2020-12-01", "goal_attainment": "NOT"},
            {"episode_id": "G1", "followup_date": "2020-06-01", "goal_attainment": "FULLY"},
            {"episode_id": "G2", "followup_date": "2020-05-01", "goal_attainment": "PARTLY"},
            {
                "episode_id": "G2",
                "followup_date": "2020-11-01",
                "goal_attainment": "NOT_ASSESSABLE",
            },
            {
                "episode_id": "G3",
                "followup_date": "2020-09-01",
                "goal_attainment": "NOT_ASSESSABLE",
            },
            {"episode_id": "G4", "followup_date": "2020-10-01", "goal_attainment": "FULLY"},
            {"episode_id": "G5", "followup_date": "2020-10-01", "goal_attainment": "FULLY"},
        ],
        ("followup_date",),
    )
    return ep, fu


def test_goal_attainment_share_by_hand(goal_tables):
    """Entrants 2020: G1-G4 (G5 entered 2019). Latest assessable: G1 NOT (the later one),
    G2 PARTLY (the later NOT_ASSESSABLE is skipped), G3 none (excluded), G4 FULLY.
    FULLY or PARTLY: 2/3; FULLY only: 1/3."""
    ep, fu = goal_tables
    r = m.goal_attainment_share(ep, fu, "2020-01-01", "2020-12-31")
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [2, 3]
    strict = m.goal_attainment_share(ep, fu, "2020-01-01", "2020-12-31", success=("FULLY",))
    assert strict[["numerator", "denominator"]].iloc[0].tolist() == [1, 3]
    with pytest.raises(ParameterError, match="success codes"):
        m.goal_attainment_share(ep, fu, "2020-01-01", "2020-12-31", success=("YES",))
    with pytest.raises(ParameterError, match="followups lacks"):
        m.goal_attainment_share(ep, fu.drop(columns="goal_attainment"), "2020-01-01", "2020-12-31")


def test_age_group_is_derived_from_entry_age(goal_tables):
    """All entrants born 2010 and entering 2020 are aged 10: one group "0-12" holding 2/3."""
    ep, fu = goal_tables
    r = m.goal_attainment_share(ep, fu, "2020-01-01", "2020-12-31", group_cols=["age_group"])
    assert r["age_group"].tolist() == ["0-12"]
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [2, 3]


# --------------------------------------------------------------------------- synthetic data
@pytest.fixture(scope="module")
def synth_tables():
    return synth.generate(n_children=800, n_municipalities=5, seed=5).tables


def test_measures_on_synthetic_data_are_plausible(synth_tables):
    t = synth_tables
    e, p, f, r = t["episodes"], t["placements"], t["followups"], t["referrals"]
    shares = [
        m.three_or_more_placements(e, p, 2021, group_cols=["municipality_code"]),
        m.exit_to_permanency_12m(
            e, "2020-01-01", "2020-12-31", "2024-12-31", group_cols=["placement_type"]
        ),
        m.re_referral_12m(e, r, "2020-01-01", "2022-12-31", "2024-12-31"),
        m.planned_ending_share(e, "2019-01-01", "2024-12-31", group_cols=["sex"]),
        m.goal_attainment_share(e, f, "2019-01-01", "2022-12-31", group_cols=["legal_basis"]),
    ]
    for res in shares:
        assert (res["denominator"] > 0).all()
        vals = res[["value", "ci_lower", "ci_upper"]].to_numpy(dtype=float)
        assert ((vals >= 0) & (vals <= 1)).all()
        assert (res["ci_lower"] <= res["value"]).all() and (res["value"] <= res["ci_upper"]).all()
    overall = m.planned_ending_share(e, "2019-01-01", "2024-12-31")
    assert 0.55 <= overall.loc[0, "value"] <= 0.9
    rate = m.placement_stability(e, p, "2020-01-01", "2020-12-31", group_cols=["legal_basis"])
    assert (rate["value"] >= 0).all() and (rate["denominator"] > 0).all()
    assert (rate["ci_lower"] <= rate["value"]).all() and (rate["value"] <= rate["ci_upper"]).all()


def _bd_episodes():
    """Four entrants in 2020: A unplanned at day 100, B planned at day 200, C ongoing,
    D unplanned at day 400, plus one entrant of 2023 outside the window."""
    d = pd.Timestamp("2020-01-01")
    days = {"A": 100, "B": 200, "C": None, "D": 400}
    rows = []
    for eid, t in days.items():
        rows.append({
            "episode_id": eid, "start_date": d,
            "end_date": d + pd.Timedelta(days=t) if t is not None else pd.NaT,
            "planned_ending": {"A": False, "B": True, "C": None, "D": False}[eid],
            "birth_year": 2006, "sex": "F" if eid in "AB" else "M",
        })
    rows.append({"episode_id": "E", "start_date": pd.Timestamp("2023-01-01"),
                 "end_date": pd.Timestamp("2023-01-05"), "planned_ending": False,
                 "birth_year": 2006, "sex": "M"})
    return pd.DataFrame(rows)


def test_breakdown_risk_is_the_aalen_johansen_incidence_by_hand():
    """By hand: day 100, 4 at risk, 1 unplanned -> CIF 1/4, S 3/4; day 200, 3 at risk, 1
    planned -> S 1/2; day 400, 2 at risk, 1 unplanned -> CIF 1/4 + 1/2 * 1/2 = 1/2.
    The naive share of the cohort (2/4) agrees at 730 only because nobody is censored early.
    Episode E entered in 2023, outside the window."""
    out = m.breakdown_risk(_bd_episodes(), "2020-01-01", "2020-12-31", "2024-12-31")
    assert out["horizon_days"].tolist() == [365.0, 730.0]
    np.testing.assert_allclose(out["value"], [0.25, 0.5])
    assert out["numerator"].tolist() == [1, 2]
    assert out["denominator"].tolist() == [4, 4]
    assert (out["ci_lower"] <= out["value"]).all() and (out["value"] <= out["ci_upper"]).all()


def test_breakdown_risk_by_group_and_a_group_without_breakdowns():
    ep = _bd_episodes()
    ep.loc[ep["episode_id"] == "A", "planned_ending"] = True
    out = m.breakdown_risk(ep, "2020-01-01", "2020-12-31", "2024-12-31",
                                  horizons=[150], group_cols=["sex"]).set_index("sex")
    # F: A and B both planned, by day 100 and 200: no breakdown by day 150
    assert out.loc["F", "value"] == 0.0 and np.isnan(out.loc["F", "ci_upper"])
    # M: C ongoing and D unplanned at day 400 -> nothing by day 150
    assert out.loc["M", "value"] == 0.0 and out.loc["M", "numerator"] == 0


def test_breakdown_risk_censors_recent_entrants_instead_of_counting_them_as_successes():
    """Entrants of 2024 observed for a few months: the naive share of breakdowns among all
    entrants is lower than the Aalen-Johansen risk at 24 months, which uses only those at risk."""
    ep = synth.generate(n_children=1500, n_municipalities=5, seed=4).tables["episodes"]
    out = m.breakdown_risk(ep, "2022-01-01", "2024-12-31", "2024-12-31", horizons=[730])
    naive = out["numerator"].iloc[0] / out["denominator"].iloc[0]
    # seed 4: Aalen-Johansen 0.195 against a naive 0.154
    assert out["value"].iloc[0] > naive + 0.03


@pytest.mark.parametrize("horizons", [[], [0], [-5], [float("nan")]])
def test_breakdown_risk_rejects_horizons_that_are_not_positive(horizons):
    with pytest.raises(ParameterError, match="horizons must be positive"):
        m.breakdown_risk(_bd_episodes(), "2020-01-01", "2020-12-31", "2024-12-31",
                                horizons=horizons)
