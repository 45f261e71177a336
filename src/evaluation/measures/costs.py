"""Costs and what they buy: cost per care day, episode and child, and cost per good outcome.

Costs come from the episodes table's ``daily_cost_sek`` (cost per care day, DOMAIN.md 2):
an episode's cost is its care days times its daily cost. A care day is a day in care:
the episode ``[start_date, end_date)`` (the end date is the day the child leaves and is not
counted, the same convention as the durations in :mod:`evaluation.models.survival`); an ongoing
episode is in care to the end of the period asked for.

Functions
---------
episode_costs
    Care days and cost of each episode (the costs that
    :func:`evaluation.models.cost_effect.incremental_cost_effect` compares between arms).
care_costs
    Care days and costs in a period, per day, per episode and per child, by any columns.
cost_per_outcome
    Cost of the episodes that ended in a period per planned ending and per goal reached.

The adjusted cost per avoided breakdown between two interventions (a model with a bootstrap)
is :func:`evaluation.models.cost_effect.incremental_cost_effect`.

Counts in these tables are raw: pass them through :mod:`evaluation.disclosure` before
publishing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaluation.data.cohort import (
    age_at_start,
    group_list,
    period_bounds,
    require_table,
    with_groups,
)
from evaluation.errors import ParameterError
from evaluation.measures.base import measure_doc

__all__ = [
    "care_costs",
    "cost_per_outcome",
    "episode_costs",
]

_DAY = pd.Timedelta(days=1)


def _cost_column(episodes: pd.DataFrame, cost_col: str) -> pd.Series:
    require_table(episodes, [cost_col], "episodes")
    cost = pd.to_numeric(episodes[cost_col], errors="coerce")
    bad = cost.notna() & ~(cost >= 0)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise ParameterError(
            f"column {cost_col!r} must hold non-negative costs per care day; row {i} "
            f"(episode {episodes['episode_id'].iloc[i]!r}) has {episodes[cost_col].iloc[i]!r}."
        )
    return cost.astype(float)


def episode_costs(episodes: pd.DataFrame, data_end=None,
                  cost_col: str = "daily_cost_sek") -> pd.DataFrame:
    """Care days and cost of each episode from start to end (or to ``data_end`` if ongoing).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, ``cost_col``).
    data_end : date-like, optional
        Last date the data cover; ongoing episodes are counted to it. Without it, ongoing
        episodes get missing days and cost.
    cost_col : str, default "daily_cost_sek"
        Cost per care day.

    Returns
    -------
    pandas.DataFrame
        The episodes with three added columns: ``care_days`` (end - start, in days),
        ``cost_sek`` (care days x daily cost; missing when the daily cost is missing) and
        ``ongoing`` (no end date).

    Examples
    --------
    >>> import pandas as pd
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"],
    ...                    "start_date": pd.to_datetime(["2023-01-01", "2023-06-01"]),
    ...                    "end_date": pd.to_datetime(["2023-01-11", None]),
    ...                    "daily_cost_sek": [1500.0, 4000.0]})
    >>> episode_costs(ep, data_end="2023-06-30")[["care_days", "cost_sek"]]
       care_days  cost_sek
    0         10   15000.0
    1         29  116000.0
    """
    require_table(episodes, ["episode_id", "start_date", "end_date"], "episodes")
    cost = _cost_column(episodes, cost_col)
    start = pd.to_datetime(episodes["start_date"])
    end = pd.to_datetime(episodes["end_date"])
    ongoing = end.isna()
    if data_end is not None:
        d = pd.Timestamp(data_end)
        late = start > d
        if late.any():
            i = int(np.flatnonzero(late.to_numpy())[0])
            raise ParameterError(
                f"data_end {d.date()} is before the start of episode "
                f"{episodes['episode_id'].iloc[i]!r} (row {i}); data_end must be the last date "
                "the data cover."
            )
        end = end.fillna(d)
    out = episodes.copy()
    out["care_days"] = (end - start).dt.days.astype("Int64")
    out["cost_sek"] = out["care_days"].astype(float) * cost.to_numpy()
    out["ongoing"] = ongoing.to_numpy()
    return out


def care_costs(episodes: pd.DataFrame, period_start, period_end, group_cols=None,
               cost_col: str = "daily_cost_sek") -> pd.DataFrame:
    """Care days and costs in a period, per care day, per episode and per child.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, child_id, start_date, end_date, birth_year, ``cost_col``
        and the group columns).
    period_start, period_end : date-like
        The period, inclusive (e.g. a calendar year).
    group_cols : list of str, optional
        Columns to group by, e.g. ``["placement_type"]`` or ``["municipality_code"]``;
        ``"age_group"`` is derived from the age at entry.
    cost_col : str, default "daily_cost_sek"
        Cost per care day.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``episodes`` (episodes in care at some time in the period),
        ``children`` (distinct children), ``care_days`` (days in care within the period),
        ``cost_sek``, ``cost_per_day``, ``cost_per_episode``, ``cost_per_child`` and
        ``episodes_missing_cost`` (episodes without a daily cost: counted in ``episodes``
        and ``care_days`` but not in the cost figures, whose denominators leave them out).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, negative costs or ``period_end`` before
        ``period_start``.

    Notes
    -----
    * Days are counted within the period only, so a year's figures add up across groups to
      the year's cost. An episode's days in the period are the days ``d`` with
      ``start_date <= d < end_date`` and ``period_start <= d <= period_end``.
    * A child counted in two groups (e.g. two placement types in two episodes) is a child of
      each, so ``children`` need not add up across groups.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(300, 5, seed=1).tables["episodes"]
    >>> t = care_costs(ep, "2022-01-01", "2022-12-31", group_cols=["placement_type"])
    >>> bool((t.loc[t.placement_type == "HVB", "cost_per_day"] >
    ...       t.loc[t.placement_type == "FH", "cost_per_day"].to_numpy()).all())
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "child_id", "start_date", "end_date", "birth_year"],
             "episodes")
    start, end = period_bounds(period_start, period_end)
    cost = _cost_column(episodes, cost_col)
    s = pd.to_datetime(episodes["start_date"])
    e = pd.to_datetime(episodes["end_date"]).fillna(end + _DAY)
    first = s.where(s > start, start)
    stop = e.where(e < end + _DAY, end + _DAY)
    days = (stop - first).dt.days
    keep = (days > 0).to_numpy()
    ep = episodes[keep].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    ep["_days"] = days[keep].to_numpy()
    ep["_cost"] = (days[keep] * cost[keep]).to_numpy()
    ep["_has_cost"] = cost[keep].notna().to_numpy()
    ep["_days_costed"] = np.where(ep["_has_cost"], ep["_days"], 0)
    keys = groups if groups else (lambda _: 0)
    g = ep.groupby(keys, dropna=False, observed=True)
    out = pd.DataFrame({
        "episodes": g["episode_id"].nunique(),
        "children": g["child_id"].nunique(),
        "care_days": g["_days"].sum(),
        "cost_sek": g["_cost"].sum(min_count=0),
        "_days_costed": g["_days_costed"].sum(),
        "_ep_costed": g["_has_cost"].sum(),
        "_ch_costed": ep[ep["_has_cost"]].groupby(keys, dropna=False, observed=True)[
            "child_id"].nunique(),
    })
    out["_ch_costed"] = out["_ch_costed"].fillna(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["cost_per_day"] = out["cost_sek"] / out["_days_costed"].where(out["_days_costed"] > 0)
        out["cost_per_episode"] = out["cost_sek"] / out["_ep_costed"].where(out["_ep_costed"] > 0)
        out["cost_per_child"] = out["cost_sek"] / out["_ch_costed"].where(out["_ch_costed"] > 0)
    out["episodes_missing_cost"] = (out["episodes"] - out["_ep_costed"]).astype("int64")
    out = out.reset_index(drop=not groups)
    cols = [*groups, "episodes", "children", "care_days", "cost_sek", "cost_per_day",
            "cost_per_episode", "cost_per_child", "episodes_missing_cost"]
    out = out[cols]
    for c in ("episodes", "children", "care_days"):
        out[c] = out[c].astype("int64")
    return out


@measure_doc
def cost_per_outcome(episodes: pd.DataFrame, followups: pd.DataFrame, period_start, period_end,
                     group_cols=None, cost_col: str = "daily_cost_sek",
                     goal_codes: Sequence[str] = ("FULLY",)) -> pd.DataFrame:
    """Cost of the episodes that ended in a period per planned ending and per goal reached.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, planned_ending, birth_year,
        ``cost_col`` and the group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date, followup_type, goal_attainment).
    period_start, period_end : date-like
        Window of end dates, inclusive (an exit cohort: whole episodes are costed).
    %(group_cols)s
    cost_col : str, default "daily_cost_sek"
        Cost per care day.
    goal_codes : sequence of str, default ("FULLY",)
        ``goal_attainment`` codes at the ending follow-up that count as the goal reached.

    Returns
    -------
    pandas.DataFrame
        Group columns, ``endings`` (costed episodes ending in the window), ``cost_sek``
        (their whole cost), ``planned_endings``, ``cost_per_planned_ending``,
        ``goals_reached`` and ``cost_per_goal_reached`` (missing when there are none).

    Notes
    -----
    * Episodes without a daily cost are left out (they cannot be costed).
    * The goal is read from the ENDING follow-up (the latest one if several); episodes
      without an ending follow-up count as not reached.
    * Dividing all the cost by the good outcomes is a descriptive ratio, not the cost *of*
      a good outcome: use :func:`incremental_cost_effect` to compare interventions.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 5, seed=1).tables
    >>> r = cost_per_outcome(t["episodes"], t["followups"], "2021-01-01", "2023-12-31")
    >>> bool(r["cost_per_goal_reached"].iloc[0] >= r["cost_per_planned_ending"].iloc[0] > 0)
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "planned_ending", "birth_year"],
             "episodes")
    require_table(followups, ["episode_id", "followup_date", "followup_type", "goal_attainment"],
             "followups")
    start, end = period_bounds(period_start, period_end)
    ep = episode_costs(episodes, cost_col=cost_col)
    e = pd.to_datetime(ep["end_date"])
    ep = ep[(e >= start) & (e <= end) & ep["cost_sek"].notna()].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    ending = followups[followups["followup_type"] == "ENDING"].sort_values(
        ["episode_id", "followup_date"]).drop_duplicates("episode_id", keep="last")
    goal = ep["episode_id"].map(ending.set_index("episode_id")["goal_attainment"])
    ep["_goal"] = goal.isin(list(goal_codes)).to_numpy().astype("int64")
    ep["_planned"] = ep["planned_ending"].astype("boolean").fillna(False).astype("int64")
    keys = groups if groups else (lambda _: 0)
    g = ep.groupby(keys, dropna=False, observed=True)
    out = pd.DataFrame({"endings": g["episode_id"].size(), "cost_sek": g["cost_sek"].sum(),
                        "planned_endings": g["_planned"].sum(), "goals_reached": g["_goal"].sum()})
    out["cost_per_planned_ending"] = out["cost_sek"] / out["planned_endings"].where(
        out["planned_endings"] > 0)
    out["cost_per_goal_reached"] = out["cost_sek"] / out["goals_reached"].where(
        out["goals_reached"] > 0)
    out = out.reset_index(drop=not groups)
    return out[[*groups, "endings", "cost_sek", "planned_endings", "cost_per_planned_ending",
                "goals_reached", "cost_per_goal_reached"]]
