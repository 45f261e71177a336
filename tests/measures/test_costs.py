"""Costs: hand-computed care days and costs per episode, child and good outcome
(evaluation.measures.costs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.errors import ParameterError
from evaluation.measures import costs


def _episodes() -> pd.DataFrame:
    # Three children; C1 has two episodes in different placement types.
    return pd.DataFrame({
        "episode_id": ["E1", "E2", "E3", "E4", "E5"],
        "child_id": ["C1", "C1", "C2", "C3", "C3"],
        "start_date": pd.to_datetime(["2022-12-22", "2023-03-01", "2023-12-01", "2021-01-01",
                                      "2024-02-01"]),
        "end_date": pd.to_datetime(["2023-01-11", "2023-03-31", None, "2021-06-01", None]),
        "birth_year": [2008, 2008, 2010, 2006, 2006],
        "placement_type": ["FH", "HVB", "FH", "FH", "FH"],
        "planned_ending": [True, False, None, True, None],
        "daily_cost_sek": [1000.0, 4000.0, 2000.0, 1500.0, np.nan],
    })


def test_care_costs_counts_days_inside_the_period_only():
    t = costs.care_costs(_episodes(), "2023-01-01", "2023-12-31", group_cols=["placement_type"])
    t = t.set_index("placement_type")
    # E1: 2023-01-01 .. 2023-01-10 = 10 days; E3: 2023-12-01 .. 2023-12-31 = 31 days (ongoing).
    assert t.loc["FH", "care_days"] == 10 + 31
    assert t.loc["FH", "cost_sek"] == 10 * 1000 + 31 * 2000
    assert t.loc["FH", "episodes"] == 2 and t.loc["FH", "children"] == 2
    assert t.loc["FH", "cost_per_day"] == pytest.approx((10_000 + 62_000) / 41)
    assert t.loc["FH", "cost_per_child"] == pytest.approx(72_000 / 2)
    # E2: 2023-03-01 .. 2023-03-30 = 30 days at 4000.
    assert t.loc["HVB", "care_days"] == 30 and t.loc["HVB", "cost_sek"] == 120_000
    # E4 (2021) and E5 (2024) are outside the period.
    assert set(t.index) == {"FH", "HVB"}


def test_care_costs_ungrouped_adds_up_and_counts_children_once():
    t = costs.care_costs(_episodes(), "2023-01-01", "2023-12-31")
    assert len(t) == 1
    row = t.iloc[0]
    assert row["cost_sek"] == 10_000 + 62_000 + 120_000
    assert row["children"] == 2  # C1 (two episodes) and C2
    assert row["cost_per_episode"] == pytest.approx(192_000 / 3)


def test_missing_daily_cost_is_reported_not_silently_costed_as_zero():
    t = costs.care_costs(_episodes(), "2024-01-01", "2024-12-31")
    row = t.iloc[0]
    # E3 all of 2024 (366 days) at 2000; E5 from 2024-02-01 (335 days) without a cost.
    assert row["care_days"] == 366 + 335
    assert row["episodes_missing_cost"] == 1
    assert row["cost_sek"] == 366 * 2000
    assert row["cost_per_day"] == pytest.approx(2000.0)
    assert row["cost_per_episode"] == pytest.approx(366 * 2000)


def test_negative_cost_is_an_error_naming_row_and_episode():
    ep = _episodes()
    ep.loc[3, "daily_cost_sek"] = -5.0
    with pytest.raises(ParameterError, match=r"row 3 \(episode 'E4'\)"):
        costs.care_costs(ep, "2023-01-01", "2023-12-31")


def test_cost_per_outcome_divides_whole_episode_cost_by_good_outcomes():
    ep = _episodes()
    fu = pd.DataFrame({"episode_id": ["E1", "E2", "E4"],
                       "followup_date": pd.to_datetime(["2023-01-11", "2023-03-31", "2021-06-01"]),
                       "followup_type": ["ENDING", "ENDING", "ENDING"],
                       "goal_attainment": ["FULLY", "NOT", "PARTLY"]})
    r = costs.cost_per_outcome(ep, fu, "2023-01-01", "2023-12-31").iloc[0]
    # Ended in 2023: E1 (20 days x 1000) and E2 (30 days x 4000); E1 planned, E1 goal FULLY.
    assert r["endings"] == 2
    assert r["cost_sek"] == 20_000 + 120_000
    assert r["planned_endings"] == 1 and r["goals_reached"] == 1
    assert r["cost_per_planned_ending"] == 140_000
    strict = costs.cost_per_outcome(ep, fu, "2021-01-01", "2021-12-31")
    assert np.isnan(strict["cost_per_goal_reached"].iloc[0])  # PARTLY is not reached
    loose = costs.cost_per_outcome(ep, fu, "2021-01-01", "2021-12-31",
                                   goal_codes=("FULLY", "PARTLY"))
    assert loose["cost_per_goal_reached"].iloc[0] == 151 * 1500


def test_episode_costs_counts_ongoing_to_data_end():
    out = costs.episode_costs(_episodes(), data_end="2024-12-31")
    assert out.loc[2, "care_days"] == (pd.Timestamp("2024-12-31") - pd.Timestamp("2023-12-01")).days
    assert bool(out.loc[2, "ongoing"]) and not bool(out.loc[0, "ongoing"])
    with pytest.raises(ParameterError, match="data_end"):
        costs.episode_costs(_episodes(), data_end="2023-01-01")


# --------------------------------------------------------------------------- cost-effect
