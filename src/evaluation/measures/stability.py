"""Placement stability measures: moves per 1,000 care days, three or more placements in a
year (NI 062) and long-term stability (NI 063).

Conventions (periods, ages, groups, the result columns) are those of
:mod:`evaluation.measures.base`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.data.cohort import (
    age_at_start,
    as_date,
    entrants,
    group_list,
    period_bounds,
    require_table,
    stay_days,
    with_groups,
)
from evaluation.errors import ParameterError
from evaluation.measures.base import RESULT_COLUMNS, measure_doc, positive_int
from evaluation.measures.intervals import poisson_rate_interval, share_measure, sum_by_group

__all__ = ["long_term_stability", "placement_stability", "three_or_more_placements"]


@measure_doc
def placement_stability(
    episodes: pd.DataFrame,
    placements: pd.DataFrame,
    period_start,
    period_end,
    per: float = 1000,
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Placement moves per ``per`` days in care for an entry cohort (US CFSR).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year and group columns).
    placements : pandas.DataFrame
        Placements table (episode_id, placement_seq, start_date).
    period_start, period_end : date-like
        Entry window, inclusive (CFSR uses 12 months).
    per : float, default 1000
        Days of exposure the rate is expressed per.
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` is derived from the age at entry).
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        One row per group with columns ``measure`` ("placement_stability"), the group
        columns, ``numerator`` (moves), ``denominator`` (days in care), ``value``
        (moves per ``per`` days), ``ci_lower`` and ``ci_upper`` (exact Poisson, per ``per``).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        non-positive ``per``.

    Notes
    -----
    * Cohort: episodes starting in the window.
    * Exclusions: episodes that ended after a stay of fewer than 8 days
      (``end_date - start_date < 8``), and entry age >= 18.
    * Observation: from entry to the exit or to ``period_end``, whichever comes first (CFSR:
      "the end of the 12-month period"). Days in care are counted inclusively,
      ``min(end_date, period_end) - start_date + 1``.
    * Numerator: placements of the episode that start within the observation, excluding the
      first placement of the episode (ordered by ``placement_seq``): each later placement is
      one move. An episode without placement rows has one placement and no move.
    * Denominator: summed days in care. Rate: numerator / denominator * ``per``.
    * Source: CFSR Round 3/4 statewide data indicator "placement stability" (DOMAIN.md 4.2),
      adapted to episodes as the unit.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = placement_stability(t["episodes"], t["placements"], "2020-01-01", "2020-12-31")
    >>> list(r.columns)[-5:]
    ['numerator', 'denominator', 'value', 'ci_lower', 'ci_upper']
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    require_table(placements, ["episode_id", "placement_seq", "start_date"], "placements")
    start, end = period_bounds(period_start, period_end)
    if not per > 0:
        raise ParameterError(f"per must be positive, got {per!r}.")
    ep = entrants(episodes, start, end)
    age = age_at_start(ep)
    keep = ~(stay_days(ep) < 8) & (age < 18).fillna(False).astype(bool)
    ep = ep[keep]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    obs_end = pd.to_datetime(ep["end_date"]).where(lambda d: d.notna() & (d <= end), end)
    ep["_den"] = (obs_end - pd.to_datetime(ep["start_date"])).dt.days + 1
    pl = placements[placements["episode_id"].isin(ep["episode_id"])].copy()
    pl = pl.sort_values(["episode_id", "placement_seq"])
    pl["_first"] = ~pl.duplicated("episode_id")
    pl = pl.merge(
        pd.DataFrame({"episode_id": ep["episode_id"], "_obs_end": obs_end}), on="episode_id"
    )
    pl["_move"] = (~pl["_first"]) & (pd.to_datetime(pl["start_date"]) <= pl["_obs_end"])
    moves = pl.groupby("episode_id")["_move"].sum()
    ep["_num"] = ep["episode_id"].map(moves).fillna(0).astype("int64")
    out = sum_by_group(ep, groups, "_num", "_den")
    out["numerator"] = out["numerator"].astype("int64")
    out["denominator"] = out["denominator"].astype("int64")
    d = out["denominator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["value"] = np.where(d > 0, out["numerator"] / d * per, np.nan)
    lo, hi = poisson_rate_interval(out["numerator"], d, alpha)
    out["ci_lower"], out["ci_upper"] = lo * per, hi * per
    out.insert(0, "measure", "placement_stability")
    return out[["measure", *groups, *RESULT_COLUMNS]]


@measure_doc
def three_or_more_placements(
    episodes: pd.DataFrame,
    placements: pd.DataFrame,
    year: int,
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of children in care during a year with three or more placements (England NI 062).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, child_id, start_date, end_date, birth_year, group columns).
    placements : pandas.DataFrame
        Placements table (episode_id, start_date, end_date).
    year : int
        Calendar year.
    group_cols : list of str, optional
        Columns to group by; the child takes the values of its latest episode (by start)
        that is in care during the year; ``"age_group"`` uses the age at that episode's start.
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("three_or_more_placements"), group columns, ``numerator`` (children
        with >= 3 placements in the year), ``denominator`` (children in care during the
        year), ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns or a non-integer year.

    Notes
    -----
    * This is a period-prevalence measure by definition, not an entry cohort.
    * Unit: child. In care during the year: an episode with ``start_date <= 31 Dec`` and
      ``end_date`` missing or ``>= 1 Jan``.
    * Numerator: children for whom the placements overlapping the year (over all their
      episodes; a placement counts if it starts on or before 31 Dec and its end date is
      missing or on or after 1 Jan) number three or more. Placements continuing from the
      previous year count, as in NI 062.
    * No age exclusion (Swedish care covers ages 0-20; NI 062 covers under-18s: group by
      ``age_group`` to separate them).
    * Source: England NI 062 "stability of placements: number of moves" (DOMAIN.md 4.3).

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "child_id": ["A", "B"],
    ...                    "start_date": pd.to_datetime(["2020-05-01", "2021-02-01"]),
    ...                    "end_date": pd.NaT, "birth_year": 2010})
    >>> pl = pd.DataFrame({"episode_id": ["E1", "E1", "E1", "E2"],
    ...                    "start_date": pd.to_datetime(["2020-05-01", "2021-01-10",
    ...                                                  "2021-06-01", "2021-02-01"]),
    ...                    "end_date": pd.to_datetime(["2021-01-09", "2021-05-31", None, None])})
    >>> three_or_more_placements(ep, pl, 2021)[["numerator", "denominator", "value"]]
       numerator  denominator  value
    0          1            2    0.5
    """
    groups = group_list(group_cols)
    require_table(
        episodes, ["episode_id", "child_id", "start_date", "end_date", "birth_year"], "episodes"
    )
    require_table(placements, ["episode_id", "start_date", "end_date"], "placements")
    if isinstance(year, bool) or not isinstance(year, (int, np.integer)):
        raise ParameterError(f"year must be an integer such as 2022, got {year!r}.")
    y0, y1 = pd.Timestamp(int(year), 1, 1), pd.Timestamp(int(year), 12, 31)

    def overlaps(df: pd.DataFrame) -> pd.Series:
        s, e = pd.to_datetime(df["start_date"]), pd.to_datetime(df["end_date"])
        return (s <= y1) & (e.isna() | (e >= y0))

    ep = episodes[overlaps(episodes)].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    pl = placements[placements["episode_id"].isin(ep["episode_id"])]
    pl = pl[overlaps(pl)].merge(ep[["episode_id", "child_id"]], on="episode_id")
    n_pl = pl.groupby("child_id").size()
    children = ep.sort_values(["child_id", "start_date"]).drop_duplicates("child_id", keep="last")
    children["_num"] = (children["child_id"].map(n_pl).fillna(0) >= 3).astype("int64")
    children["_den"] = 1
    return share_measure(children, groups, "three_or_more_placements", alpha)



@measure_doc
def long_term_stability(
    episodes: pd.DataFrame,
    placements: pd.DataFrame,
    census_date,
    group_cols=None,
    min_care_months: int = 30,
    min_placement_months: int = 24,
    max_age: int = 16,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of children long in care who have been in the same placement >= 2 years (NI 063).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, group columns).
    placements : pandas.DataFrame
        Placements table (episode_id, placement_seq, start_date).
    census_date : date-like
        The day the children in care are counted (NI 063 uses 31 March).
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at ``census_date``).
    min_care_months : int, default 30
        Months in care (continuously, in the current episode) for the denominator (2.5 years).
    min_placement_months : int, default 24
        Months in the current placement for the numerator (2 years).
    max_age : int, default 16
        Children aged ``max_age`` or older at ``census_date`` are excluded.
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("long_term_stability"), group columns, ``numerator`` (children in the
        same placement >= ``min_placement_months``), ``denominator`` (children under
        ``max_age`` in care >= ``min_care_months`` on ``census_date``), ``value`` (share),
        ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, a census date that is not a date, or month
        and age limits that are not positive integers.

    Notes
    -----
    * A point-in-time (census) measure by definition, like NI 063; not an entry cohort.
    * In care on ``census_date``: an episode with ``start_date <= census_date`` and
      ``end_date`` missing or ``>= census_date`` (``end_date`` is the last day in care).
      One child has at most one such episode (episodes do not overlap).
    * Denominator: those episodes with ``start_date + min_care_months <= census_date`` and
      age ``census_date.year - birth_year < max_age``.
    * Numerator: the current placement (the one with the highest ``placement_seq`` among the
      episode's placements starting on or before ``census_date``) started on or before
      ``census_date - min_placement_months``. An episode without placement rows has one
      placement starting with the episode.
    * Adaptation: NI 063 also counts children "placed for adoption". Swedish care has no
      ongoing equivalent (a custody transfer ends the episode), so that clause is left out.
      "Continuously looked after" is read as "in the same episode".
    * Source: England NI 063 "stability of placements: length of placement" (DOMAIN.md 4.4).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(600, 3, seed=1).tables
    >>> r = long_term_stability(t["episodes"], t["placements"], "2023-03-31")
    >>> bool(r.loc[0, "numerator"] <= r.loc[0, "denominator"])
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    require_table(placements, ["episode_id", "placement_seq", "start_date"], "placements")
    census = as_date(census_date, "census_date")
    care = positive_int(min_care_months, "min_care_months")
    stay = positive_int(min_placement_months, "min_placement_months")
    max_age = positive_int(max_age, "max_age")
    s, e = pd.to_datetime(episodes["start_date"]), pd.to_datetime(episodes["end_date"])
    age = census.year - episodes["birth_year"].astype("Int64")
    keep = (
        (s <= census)
        & (e.isna() | (e >= census))
        & (s + pd.DateOffset(months=care) <= census)
        & (age < max_age).fillna(False).astype(bool)
    )
    ep = episodes[keep].copy()
    ep = with_groups(ep, groups, "episodes", census.year - ep["birth_year"].astype("Int64"))
    pl = placements[
        placements["episode_id"].isin(ep["episode_id"])
        & (pd.to_datetime(placements["start_date"]) <= census)
    ]
    current = pl.sort_values(["episode_id", "placement_seq"]).drop_duplicates(
        "episode_id", keep="last"
    )
    since = ep["episode_id"].map(current.set_index("episode_id")["start_date"])
    since = pd.to_datetime(since).fillna(pd.to_datetime(ep["start_date"]))
    ep["_num"] = (since + pd.DateOffset(months=stay) <= census).astype("int64").to_numpy()
    ep["_den"] = 1
    return share_measure(ep, groups, "long_term_stability", alpha)

