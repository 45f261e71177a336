"""Tests of :mod:`evaluation.measures.episode` on tiny hand-made tables: exit to
permanency, re-referral, planned endings, goal attainment, breakdown risk, re-entry and
length of stay.

Each test's docstring derives the numerator and denominator by hand; intervals are compared
with statsmodels references and R. All children and dates below are invented.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation import measures as m
from evaluation.data import synth
from evaluation.errors import ParameterError
from tests.helpers import REFERENCE, RESULT, episodes, frame, wilson


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


# --------------------------------------------------------------------------- breakdown risk
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
