"""Tests of :mod:`evaluation.measures` on tiny hand-made tables.

Each test's docstring derives the numerator and denominator by hand; intervals are compared
with statsmodels/scipy references. All children and dates below are invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.rates import confint_poisson

from evaluation import measures as m
from evaluation.data import synth
from evaluation.data.cohort import age_at_start, age_group
from evaluation.errors import ParameterError
from tests.helpers import REFERENCE, wilson

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
    assert list(age_at_start(ep)) == [12, 21]
    assert list(age_group([0, 12, 13, 20])) == ["0-12", "0-12", "13-20", "13-20"]
    assert age_group([21, -1]).isna().all()
    assert list(age_group([3, 16], breaks=(0, 6, 18))) == ["0-5", "6-17"]


def test_age_group_rejects_unordered_breaks():
    with pytest.raises(ParameterError, match="strictly increasing"):
        age_group([1], breaks=(0, 13, 13))


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


# --------------------------------------------------------------------------- re-entry
@pytest.fixture
def re_entry_episodes():
    home = {"destination": "PARENTS", "end_reason": "PLANNED", "birth_year": 2010}
    return episodes(
        [
            {"episode_id": "A1", "child_id": "A", "start_date": "2020-01-10",
             "end_date": "2020-06-01", **home},
            {"episode_id": "A2", "child_id": "A", "start_date": "2021-01-15", "birth_year": 2010},
            {"episode_id": "B1", "child_id": "B", "start_date": "2020-02-01",
             "end_date": "2020-08-01", **home},
            {"episode_id": "B2", "child_id": "B", "start_date": "2021-08-02", "birth_year": 2010},
            {"episode_id": "C1", "child_id": "C", "start_date": "2020-03-01",
             "end_date": "2020-03-05", "sex": "M", **home},
            {"episode_id": "C2", "child_id": "C", "start_date": "2020-04-01",
             "end_date": "2020-09-01", "sex": "M", **home},
            {"episode_id": "C3", "child_id": "C", "start_date": "2021-09-01", "sex": "M",
             "birth_year": 2010},
            {"episode_id": "D1", "child_id": "D", "start_date": "2020-04-01",
             "end_date": "2021-04-02", **home},
            {"episode_id": "E1", "child_id": "E", "start_date": "2020-05-01",
             "end_date": "2021-02-01", **home, "birth_year": 2003},
            {"episode_id": "E2", "child_id": "E", "start_date": "2021-06-01", "birth_year": 2003},
            {"episode_id": "F1", "child_id": "F", "start_date": "2020-06-01",
             "end_date": "2020-12-01", **home, "destination": "NEW_PLACEMENT"},
            {"episode_id": "F2", "child_id": "F", "start_date": "2020-12-02",
             "end_date": "2021-05-01", **home},
            {"episode_id": "G1", "child_id": "G", "start_date": "2020-07-01",
             "end_date": "2020-10-01", **home, "birth_year": 2002},
        ]
    )  # fmt: skip


def test_re_entry_by_hand(re_entry_episodes):
    """Entrants 2020 who went home within 12 months: A1, B1, C2, F2 (4). Excluded: C1 (4-day
    stay), D1 (home one day after 12 months), E1 (went home aged 18), F1 (new placement), G1
    (entered aged 18). Re-entered within 12 months of going home: A1 (A2 after 7.5 months),
    C2 (C3 exactly 12 months later). B2 came 12 months and a day after B1. 2/4.
    By sex: F = A1, B1, F2 (1/3), M = C2 (1/1)."""
    r = m.re_entry_12m(re_entry_episodes, "2020-01-01", "2020-12-31", "2022-12-31")
    assert list(r.columns) == ["measure", *RESULT]
    assert r.loc[0, "measure"] == "re_entry_12m"
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [2, 4]
    lo, hi = wilson(2, 4)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [0.5, lo, hi])
    g = m.re_entry_12m(
        re_entry_episodes, "2020-01-01", "2020-12-31", "2022-12-31", group_cols=["sex"]
    ).set_index("sex")
    assert g.loc["F", ["numerator", "denominator"]].tolist() == [1, 3]
    assert g.loc["M", ["numerator", "denominator"]].tolist() == [1, 1]


def test_re_entry_needs_24_months_of_follow_up_and_takes_destinations(re_entry_episodes):
    """data_end 30 Jun 2022: entrants after 30 Jun 2020 lack 24 months -> F2 drops: 2/3.
    Counting new placements as exits too adds F1, re-entering the next day (F2): 3/5."""
    ep = re_entry_episodes
    r = m.re_entry_12m(ep, "2020-01-01", "2020-12-31", "2022-06-30")
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [2, 3]
    r = m.re_entry_12m(
        ep, "2020-01-01", "2020-12-31", "2022-12-31", destinations=("PARENTS", "NEW_PLACEMENT")
    )
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [3, 5]


def test_re_entry_rejects_bad_input(re_entry_episodes):
    ep = re_entry_episodes
    with pytest.raises(ParameterError, match="destinations"):
        m.re_entry_12m(ep, "2020-01-01", "2020-12-31", "2022-12-31", destinations=("HOME",))
    with pytest.raises(ParameterError, match="data_end"):
        m.re_entry_12m(ep, "2020-01-01", "2020-12-31", "2020-06-30")
    with pytest.raises(ParameterError, match="child_id"):
        m.re_entry_12m(ep.drop(columns="child_id"), "2020-01-01", "2020-12-31", "2022-12-31")


# --------------------------------------------------------------------------- child's voice
@pytest.fixture
def voice_tables():
    ep = episodes(
        [
            {"episode_id": "H1", "birth_year": 2009, "start_date": "2020-01-01"},
            {"episode_id": "H2", "birth_year": 2018, "start_date": "2020-06-01", "sex": "M"},
        ]
    )
    fu = frame(
        [
            {"episode_id": "H1", "followup_date": "2020-12-31", "child_heard": "YES",
             "theme_safety": 1, "theme_leisure": 1},
            {"episode_id": "H1", "followup_date": "2021-03-01", "child_heard": "YES",
             "theme_safety": 4, "theme_leisure": None},
            {"episode_id": "H1", "followup_date": "2021-09-01", "child_heard": "PARTLY",
             "theme_safety": 5, "theme_leisure": 2},
            {"episode_id": "H1", "followup_date": "2022-01-15", "child_heard": "NO",
             "theme_safety": 3, "theme_leisure": None},
            {"episode_id": "H2", "followup_date": "2021-05-01", "child_heard": "NO",
             "theme_safety": None, "theme_leisure": None},
            {"episode_id": "H2", "followup_date": "2021-11-01", "child_heard": None,
             "theme_safety": None, "theme_leisure": None},
            {"episode_id": "H9", "followup_date": "2021-06-01", "child_heard": "YES",
             "theme_safety": 5, "theme_leisure": 5},
        ],
        ("followup_date",),
    )  # fmt: skip
    fu["theme_safety"] = fu["theme_safety"].astype("Int64")
    fu["theme_leisure"] = fu["theme_leisure"].astype("Int64")
    return ep, fu


def test_child_heard_share_by_hand(voice_tables):
    """Follow-ups 2021-2022: H1 YES, PARTLY, NO; H2 NO; H2's missing value and the follow-up
    of an unknown episode (H9) are excluded; H1's 2020 follow-up is outside. YES 1/4,
    YES or PARTLY 2/4. By sex F 1/3, M 0/1. By age at the follow-up (H1 born 2009: 12 in
    2021, 13 in 2022; H2 aged 3): 0-12 = YES, PARTLY, NO -> 1/3; 13-20 = NO -> 0/1."""
    ep, fu = voice_tables
    args = (ep, fu, "2021-01-01", "2022-12-31")
    r = m.child_heard_share(*args, cluster_col=None)
    assert list(r.columns) == ["measure", *RESULT]
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [1, 4]
    lo, hi = wilson(1, 4)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [0.25, lo, hi])
    wide = m.child_heard_share(*args, success=("YES", "PARTLY"))
    assert wide[["numerator", "denominator"]].iloc[0].tolist() == [2, 4]
    g = m.child_heard_share(*args, group_cols=["sex"]).set_index("sex")
    assert g.loc["F", ["numerator", "denominator"]].tolist() == [1, 3]
    assert g.loc["M", ["numerator", "denominator"]].tolist() == [0, 1]
    a = m.child_heard_share(*args, group_cols=["age_group"]).set_index("age_group")
    assert a.loc["0-12", ["numerator", "denominator"]].tolist() == [1, 3]
    assert a.loc["13-20", ["numerator", "denominator"]].tolist() == [0, 1]
    with pytest.raises(ParameterError, match="success codes"):
        m.child_heard_share(*args, success=("MAYBE",))


def test_child_rated_themes_by_hand(voice_tables):
    """2021-2022 safety ratings 4, 5, 3 (H9's 5 has no episode, the 2020 rating 1 is
    outside): n 3, sum 12, mean 4, sd 1 -> 4 +- t(0.975, 2) / sqrt(3). Leisure: one rating,
    2, so no interval. By sex: M (H2) answered nothing, so it has no rows at all."""
    ep, fu = voice_tables
    r = m.child_rated_themes(
        ep, fu, "2021-01-01", "2022-12-31", themes=["theme_safety", "theme_leisure"],
        cluster_col=None,
    )
    assert list(r.columns) == ["measure", "theme", *RESULT]
    assert r["theme"].tolist() == ["theme_safety", "theme_leisure"]
    safety = r.iloc[0]
    assert (safety["numerator"], safety["denominator"], safety["value"]) == (12, 3, 4.0)
    lo, hi = stats_t_interval(4.0, 1.0, 3)
    assert_allclose([safety["ci_lower"], safety["ci_upper"]], [lo, hi], rtol=1e-12)
    # t table: t(0.975, 2 df) = 4.302653 (6 decimals)
    assert_allclose(safety["ci_upper"] - 4.0, 4.302653 / np.sqrt(3), rtol=1e-6)
    leisure = r.iloc[1]
    assert (leisure["denominator"], leisure["value"]) == (1, 2.0)
    assert np.isnan(leisure["ci_lower"]) and np.isnan(leisure["ci_upper"])
    g = m.child_rated_themes(
        ep, fu, "2021-01-01", "2022-12-31", themes="theme_safety", group_cols=["sex"]
    )
    assert g["sex"].tolist() == ["F"]


def stats_t_interval(mean, sd, n, alpha=0.05):
    from scipy import stats

    return stats.t.interval(1 - alpha, n - 1, loc=mean, scale=sd / np.sqrt(n))


def test_child_rated_themes_rejects_ratings_outside_1_to_5(voice_tables):
    ep, fu = voice_tables
    fu = fu.copy()
    fu.loc[1, "theme_safety"] = 7
    with pytest.raises(ParameterError, match="theme_safety"):
        m.child_rated_themes(ep, fu, "2021-01-01", "2022-12-31", themes=["theme_safety"])
    with pytest.raises(ParameterError, match="followups lacks"):
        m.child_rated_themes(ep, fu, "2021-01-01", "2022-12-31", themes=["theme_colour"])


# --------------------------------------------------------------------------- reviews
@pytest.fixture
def review_tables():
    ep = episodes(
        [
            {"episode_id": "V1", "birth_year": 2010, "start_date": "2020-08-15"},
            {"episode_id": "V2", "birth_year": 2010, "start_date": "2021-03-31",
             "end_date": "2021-10-15"},
            {"episode_id": "V3", "birth_year": 2010, "start_date": "2021-01-10",
             "end_date": "2021-07-10"},
            {"episode_id": "V4", "birth_year": 2010, "start_date": "2020-12-20"},
            {"episode_id": "V5", "birth_year": 2005, "start_date": "2018-08-31", "sex": "M"},
        ]
    )  # fmt: skip
    rows = [
        ("V1", "2021-02-20", "FOLLOWUP"), ("V1", "2021-09-05", "FOLLOWUP"),
        ("V2", "2021-09-16", "FOLLOWUP"), ("V2", "2021-10-15", "ENDING"),
        ("V3", "2021-07-10", "ENDING"),
        ("V4", "2021-06-20", "ENDING"),
        ("V5", "2021-03-01", "FOLLOWUP"),
    ]  # fmt: skip
    fu = frame(
        [{"episode_id": i, "followup_date": d, "followup_type": t} for i, d, t in rows],
        ("followup_date",),
    )
    return ep, fu


def test_reviews_on_time_by_hand(review_tables):
    """Due in 2021 (every 6 calendar months from the start, tolerance 14 days):
    V1 15 Feb (held 20 Feb) and 15 Aug (held 5 Sep, 21 days late: missed);
    V2 30 Sep (held 16 Sep, exactly 14 days early: on time);
    V3 10 Jul is its end date, so no review is due;
    V4 20 Jun (only an ENDING assessment: missed) and 20 Dec (nothing: missed);
    V5 (start 31 Aug 2018) 28 Feb (held 1 Mar) and 31 Aug (missed).
    3/7; F (V1-V4) 2/5, M (V5) 1/2."""
    ep, fu = review_tables
    args = (ep, fu, "2021-01-01", "2021-12-31", "2022-06-30")
    r = m.reviews_on_time(*args, cluster_col=None)
    assert list(r.columns) == ["measure", *RESULT]
    assert r.loc[0, "measure"] == "reviews_on_time"
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [3, 7]
    lo, hi = wilson(3, 7)
    assert_allclose(r[["value", "ci_lower", "ci_upper"]].iloc[0], [3 / 7, lo, hi])
    g = m.reviews_on_time(*args, group_cols=["sex"]).set_index("sex")
    assert g.loc["F", ["numerator", "denominator"]].tolist() == [2, 5]
    assert g.loc["M", ["numerator", "denominator"]].tolist() == [1, 2]


def test_reviews_on_time_tolerance_interval_and_observability(review_tables):
    """Tolerance 30 days: V1's review 21 days late counts -> 4/7. Yearly reviews: due V1
    15 Aug (missed), V4 20 Dec (missed), V5 31 Aug (missed) -> 0/3. data_end 31 Dec 2021: the
    20 Dec due date's window runs to 3 Jan 2022, unobservable -> 3/6."""
    ep, fu = review_tables
    args = (ep, fu, "2021-01-01", "2021-12-31")
    assert m.reviews_on_time(*args, "2022-06-30", tolerance_days=30)[
        ["numerator", "denominator"]
    ].iloc[0].tolist() == [4, 7]
    assert m.reviews_on_time(*args, "2022-06-30", interval_months=12)[
        ["numerator", "denominator"]
    ].iloc[0].tolist() == [0, 3]
    assert m.reviews_on_time(*args, "2021-12-31")[["numerator", "denominator"]].iloc[
        0
    ].tolist() == [3, 6]


def test_reviews_on_time_rejects_bad_input(review_tables):
    ep, fu = review_tables
    args = (ep, fu, "2021-01-01", "2021-12-31", "2022-06-30")
    with pytest.raises(ParameterError, match="tolerance_days"):
        m.reviews_on_time(*args, tolerance_days=-1)
    with pytest.raises(ParameterError, match="interval_months"):
        m.reviews_on_time(*args, interval_months=0)
    with pytest.raises(ParameterError, match="followup_type"):
        m.reviews_on_time(ep, fu.drop(columns="followup_type"), *args[2:])


# --------------------------------------------------------------------------- length of stay
def _los_episodes():
    """Five entrants on 1 Jan 2020 (data end 31 Dec 2020 = day 365): ended at days 10, 20
    and 40, one ongoing and one ending after the data end (both censored at 365); one
    entrant of 2021 outside the window."""
    d = pd.Timestamp("2020-01-01")
    ends = {"S1": 10, "S2": 20, "S3": None, "S4": 40, "S5": 400}
    sex = {"S1": "F", "S2": "F", "S3": "M", "S4": "M", "S5": "M"}
    rows = [
        {"episode_id": k, "start_date": d, "birth_year": 2010, "sex": sex[k],
         "end_date": d + pd.Timedelta(days=v) if v is not None else pd.NaT}
        for k, v in ends.items()
    ]  # fmt: skip
    rows.append({"episode_id": "S6", "start_date": pd.Timestamp("2021-01-05"),
                 "end_date": pd.NaT, "birth_year": 2010, "sex": "F"})  # fmt: skip
    return pd.DataFrame(rows)


def test_length_of_stay_is_the_kaplan_meier_quantile_by_hand():
    """S = 4/5 from day 10, 3/5 from 20, 2/5 from 40, then censored at 365. The 25 % point
    is 20 and the median 40; 75 % never leave by the end (NaN). S equals 0.8 exactly on
    [10, 20), so the 20 % point is the midpoint 15, as R quantile.survfit. Events 3 of 5."""
    r = m.length_of_stay(
        _los_episodes(), "2020-01-01", "2020-12-31", "2020-12-31",
        quantiles=(0.2, 0.25, 0.5, 0.75),
    )  # fmt: skip
    assert list(r.columns) == ["measure", "quantile", *RESULT]
    assert_allclose(r["value"], [15.0, 20.0, 40.0, np.nan])
    assert r["numerator"].tolist() == [3] * 4 and r["denominator"].tolist() == [5] * 4


def test_length_of_stay_by_group():
    """F: S1, S2 (10, 20) -> S = 1/2 from 10, 0 from 20: median midpoint 15.
    M: S3 censored, S4 at 40, S5 censored -> S = 2/3 after 40: no median."""
    r = m.length_of_stay(
        _los_episodes(), "2020-01-01", "2020-12-31", "2020-12-31",
        quantiles=[0.5], group_cols=["sex"],
    ).set_index("sex")  # fmt: skip
    assert r.loc["F", "value"] == 15.0 and np.isnan(r.loc["M", "value"])
    assert r.loc["F", ["numerator", "denominator"]].tolist() == [2, 2]
    assert r.loc["M", ["numerator", "denominator"]].tolist() == [1, 3]


@pytest.mark.parametrize("quantiles", [[], [0], [1.5], [float("nan")]])
def test_length_of_stay_rejects_quantiles_outside_0_1(quantiles):
    with pytest.raises(ParameterError, match="quantiles must be numbers in"):
        m.length_of_stay(
            _los_episodes(), "2020-01-01", "2020-12-31", "2020-12-31", quantiles=quantiles
        )


# --------------------------------------------------------------------------- every measure
CALLS = {
    "breakdown_risk": lambda t, g: m.breakdown_risk(
        t["episodes"], "2019-01-01", "2021-12-31", "2024-12-31", group_cols=g
    ),
    "placement_stability": lambda t, g: m.placement_stability(
        t["episodes"], t["placements"], "2020-01-01", "2021-12-31", group_cols=g
    ),
    "three_or_more_placements": lambda t, g: m.three_or_more_placements(
        t["episodes"], t["placements"], 2022, group_cols=g
    ),
    "long_term_stability": lambda t, g: m.long_term_stability(
        t["episodes"], t["placements"], "2023-03-31", group_cols=g
    ),
    "exit_to_permanency_12m": lambda t, g: m.exit_to_permanency_12m(
        t["episodes"], "2019-01-01", "2022-12-31", "2024-12-31", group_cols=g
    ),
    "re_entry_12m": lambda t, g: m.re_entry_12m(
        t["episodes"], "2019-01-01", "2021-12-31", "2024-12-31", group_cols=g
    ),
    "re_referral_12m": lambda t, g: m.re_referral_12m(
        t["episodes"], t["referrals"], "2019-01-01", "2022-12-31", "2024-12-31", group_cols=g
    ),
    "goal_attainment_share": lambda t, g: m.goal_attainment_share(
        t["episodes"], t["followups"], "2019-01-01", "2022-12-31", group_cols=g
    ),
    "planned_ending_share": lambda t, g: m.planned_ending_share(
        t["episodes"], "2019-01-01", "2024-12-31", group_cols=g
    ),
    "child_heard_share": lambda t, g: m.child_heard_share(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", group_cols=g
    ),
    "child_rated_themes": lambda t, g: m.child_rated_themes(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", group_cols=g
    ),
    "reviews_on_time": lambda t, g: m.reviews_on_time(
        t["episodes"], t["followups"], "2020-01-01", "2023-12-31", "2024-12-31", group_cols=g
    ),
    "length_of_stay": lambda t, g: m.length_of_stay(
        t["episodes"], "2019-01-01", "2021-12-31", "2024-12-31", group_cols=g
    ),
}
KEYS = {"breakdown_risk": "horizon_days", "length_of_stay": "quantile",
        "child_rated_themes": "theme"}  # fmt: skip
GROUPS = ["municipality_code", "placement_type", "age_group", "sex", "legal_basis"]
#: Measures whose unit lies below the child: by default they cluster by child_id and append
#: design_effect and n_effective (tests/test_measures_cluster.py).
CLUSTERED = ("child_heard_share", "child_rated_themes", "reviews_on_time")


def test_calls_cover_every_measure():
    assert set(CALLS) == set(m.MEASURES)


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_measure_groups_by_the_standard_columns(synth_tables, name, group):
    """Grouped numerators and denominators add up to the overall ones (each unit falls in
    exactly one group, a missing age group included), and the columns are the documented
    ones."""
    overall = CALLS[name](synth_tables, None)
    grouped = CALLS[name](synth_tables, [group])
    key = [KEYS[name]] if name in KEYS else []
    clustered = ["design_effect", "n_effective"] if name in CLUSTERED else []
    assert list(grouped.columns) == ["measure", group, *key, *RESULT, *clustered]
    assert (grouped["measure"] == name).all()
    assert grouped[group].nunique() >= 2
    assert (overall["denominator"] > 0).all()
    if key:
        sums = grouped.groupby(key, sort=False)[["numerator", "denominator"]].sum()
        ref = overall.set_index(key[0])[["numerator", "denominator"]]
        assert_allclose(sums.loc[ref.index].to_numpy(float), ref.to_numpy(float))
    else:
        assert grouped["numerator"].sum() == overall["numerator"].sum()
        assert grouped["denominator"].sum() == overall["denominator"].sum()
    if name in ("length_of_stay", "child_rated_themes", "placement_stability"):
        return
    ok = grouped.dropna(subset=["ci_lower"])
    assert ((ok["ci_lower"] <= ok["value"]) & (ok["value"] <= ok["ci_upper"])).all()


def test_new_measures_on_synthetic_data_are_plausible(synth_tables):
    """Theme means lie in 1-5 in dictionary order; the length-of-stay quartiles increase."""
    t = synth_tables
    th = m.child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2023-12-31")
    assert th["theme"].tolist()[:2] == ["theme_treatment", "theme_participation"]
    assert len(th) == 8 and th["value"].between(1, 5).all()
    assert (th["ci_lower"] < th["value"]).all() and (th["value"] < th["ci_upper"]).all()
    los = m.length_of_stay(t["episodes"], "2019-01-01", "2020-12-31", "2024-12-31")
    assert los["value"].is_monotonic_increasing and los["value"].notna().all()


def test_length_of_stay_matches_r_quantile_survfit():
    """R 4.2.2, survival 3.5-3 (tests/reference/length_of_stay_reference.R):
    quantile(survfit(Surv(time, event) ~ placement_type, conf.type = "log-log"),
    probs = c(.25, .5, .75), conf.int = TRUE) on an entry cohort of stored synthetic episodes,
    overall and by placement type; R computes the cohort, durations and censoring itself.
    Quantiles are whole or half days, compared at 1e-6 relative; NaN where R gives NA."""

    ref_dir = REFERENCE
    data = pd.read_csv(ref_dir / "length_of_stay_data.csv", parse_dates=["start_date", "end_date"])
    data["episode_id"] = [f"E{i}" for i in range(len(data))]
    data["birth_year"] = 2010
    ref = pd.read_csv(ref_dir / "length_of_stay_quantiles.csv", keep_default_na=False,
                      na_values=[""])  # fmt: skip
    ref["group"] = ref["group"].fillna("")
    args = (data, "2019-01-01", "2021-12-31", "2024-12-31")
    overall = m.length_of_stay(*args).assign(group="")
    by_type = m.length_of_stay(*args, group_cols=["placement_type"]).rename(
        columns={"placement_type": "group"}
    )
    ours = pd.concat([overall, by_type], ignore_index=True)
    merged = ref.merge(ours, on=["group", "quantile"], suffixes=("_r", ""), validate="1:1")
    assert len(merged) == len(ref) == len(ours)
    assert_allclose(merged["value"], merged["estimate"], rtol=1e-6)
    assert_allclose(merged["ci_lower"], merged["ci_lower_r"], rtol=1e-6)
    assert_allclose(merged["ci_upper"], merged["ci_upper_r"], rtol=1e-6)
    assert (merged["denominator"] == merged["n"]).all()
    assert (merged["numerator"] == merged["n_event"]).all()


def test_reviews_on_time_ignores_row_labels_and_missing_follow_up_types():
    """Duplicate row labels must not duplicate due dates. A: due 1 Jul 2020, held that day.
    B: due 1 Sep 2020; the follow-up that day has no type (not a review) and the next is
    30 days late. 1/2."""
    ep = pd.DataFrame(
        {"episode_id": ["A", "B"], "start_date": pd.to_datetime(["2020-01-01", "2020-03-01"]),
         "end_date": pd.NaT, "birth_year": 2010},
        index=[0, 0],
    )  # fmt: skip
    fu = pd.DataFrame(
        {"episode_id": ["A", "B", "B"],
         "followup_date": pd.to_datetime(["2020-07-01", "2020-09-01", "2020-10-01"]),
         "followup_type": pd.array(["FOLLOWUP", None, "FOLLOWUP"], dtype="string")}
    )  # fmt: skip
    r = m.reviews_on_time(ep, fu, "2020-01-01", "2020-12-31", "2021-06-30", cluster_col=None)
    assert r[["numerator", "denominator"]].iloc[0].tolist() == [1, 2]


def test_reviews_and_child_heard_recover_the_synthetic_truth(synth_tables):
    """The generator (evaluation.data.synth.generator._followups) holds a FOLLOWUP every 182 days +- U{-30..30}
    days, each missed with probability 0.08, and records child_heard as YES/PARTLY/NO with
    probabilities 0.62/0.25/0.13 from age 4. Hence: with a tolerance of 45 days every held
    review is on time (truth 0.92); with 14 days, 29 of the 61 equally likely offsets are
    within tolerance (truth 0.92 * 29 / 61 = 0.437; calendar months drift from 182 days by
    < 3 days over the first years, ignored). Among children aged 13-20: heard 0.62, at least
    partly 0.87. Each 95 % interval must cover its truth (fixed seed, n > 1,000)."""
    t = synth_tables
    e, f = t["episodes"], t["followups"]
    args = (e, f, "2020-01-01", "2023-12-31", "2024-12-31")
    for tol, truth in [(45, 0.92), (14, 0.92 * 29 / 61)]:
        r = m.reviews_on_time(*args, tolerance_days=tol).iloc[0]
        assert r["denominator"] > 1000
        assert r["ci_lower"] <= truth <= r["ci_upper"], (tol, r["value"])
    for success, truth in [(("YES",), 0.62), (("YES", "PARTLY"), 0.87)]:
        r = m.child_heard_share(
            e, f, "2019-01-01", "2024-12-31", group_cols="age_group", success=success
        ).set_index("age_group").loc["13-20"]
        assert r["denominator"] > 1000
        assert r["ci_lower"] <= truth <= r["ci_upper"], (success, r["value"])


@pytest.mark.parametrize("func", [m.wilson_interval, m.poisson_rate_interval])
@pytest.mark.parametrize("alpha", ["0.05", None, np.nan, True])
def test_intervals_reject_non_numeric_alpha_with_a_parameter_error(func, alpha):
    with pytest.raises(ParameterError, match="alpha"):
        func([1], [2], alpha=alpha)


def test_intervals_accept_numpy_alpha():
    lo, hi = m.wilson_interval([3], [10], alpha=np.float32(0.1))
    lo_ref, hi_ref = m.wilson_interval([3], [10], alpha=0.1)
    assert_allclose([lo[0], hi[0]], [lo_ref[0], hi_ref[0]], rtol=1e-6)
