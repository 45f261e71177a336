"""Outcome measures counted per episode: exit to permanency, re-entry and re-referral within
12 months, planned endings, goal attainment, breakdown risk and length of stay.

Conventions (periods, ages, groups, the result columns) are those of
:mod:`evaluation.measures.base`; placement stability is in :mod:`evaluation.measures.stability`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evaluation.checks import check_alpha
from evaluation.data.cohort import (
    age_at_start,
    data_end_date,
    entrants,
    group_list,
    period_bounds,
    require_table,
    stay_days,
    with_groups,
)
from evaluation.errors import ParameterError
from evaluation.measures.base import RESULT_COLUMNS, measure_doc
from evaluation.measures.intervals import share_measure

__all__ = ["breakdown_risk", "exit_to_permanency_12m", "goal_attainment_share", "length_of_stay",
           "planned_ending_share", "re_entry_12m", "re_referral_12m"]

_YEAR = pd.DateOffset(months=12)


@measure_doc
def exit_to_permanency_12m(
    episodes: pd.DataFrame, period_start, period_end, data_end, group_cols=None, alpha: float = 0.05
) -> pd.DataFrame:
    """Share of entrants who exit to permanency within 12 months of entry (US CFSR).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, end_reason,
        destination, group columns).
    period_start, period_end : date-like
        Entry window, inclusive.
    %(data_end)s
    %(group_cols)s
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("exit_to_permanency_12m"), group columns, ``numerator``,
        ``denominator``, ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        ``data_end`` before ``period_end``.

    Notes
    -----
    * Denominator: episodes starting in the window, excluding stays shorter than 8 days
      (ended with ``end_date - start_date < 8``), entry age >= 18, and entrants whose
      12 months are not observable (``start_date + 12 months > data_end``).
    * Numerator: of these, episodes ending on or before ``start_date + 12 months`` with
      destination ``PARENTS`` (reunification) or end reason ``CUSTODY_TRANSFER``, while the
      child was under 18 (``end_date.year - birth_year < 18``).
    * Source: CFSR Round 3/4 "permanency in 12 months for children entering care"
      (DOMAIN.md 4.5); guardianship/adoption are represented by custody transfer.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "birth_year": 2012,
    ...                    "start_date": pd.to_datetime(["2020-02-01", "2020-03-01"]),
    ...                    "end_date": pd.to_datetime(["2020-09-01", None]),
    ...                    "end_reason": ["PLANNED", None], "destination": ["PARENTS", None]})
    >>> r = exit_to_permanency_12m(ep, "2020-01-01", "2020-12-31", "2021-12-31")
    >>> r[["numerator", "denominator", "value"]]
       numerator  denominator  value
    0          1            2    0.5
    """
    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "start_date", "end_date", "birth_year", "end_reason", "destination"],
        "episodes",
    )
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    ep = entrants(episodes, start, end)
    age = age_at_start(ep)
    s = pd.to_datetime(ep["start_date"])
    keep = ~(stay_days(ep) < 8) & (age < 18).fillna(False).astype(bool) & (s + _YEAR <= dend)
    ep = ep[keep]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    s, e = pd.to_datetime(ep["start_date"]), pd.to_datetime(ep["end_date"])
    exit_age = age_at_start(ep, date_col="end_date")
    permanent = (ep["destination"] == "PARENTS").fillna(False) | (
        ep["end_reason"] == "CUSTODY_TRANSFER"
    ).fillna(False)
    ok = e.notna() & (e <= s + _YEAR) & permanent & (exit_age < 18).fillna(False)
    ep["_num"] = ok.astype("int64").to_numpy()
    ep["_den"] = 1
    return share_measure(ep, groups, "exit_to_permanency_12m", alpha)


@measure_doc
def re_referral_12m(
    episodes: pd.DataFrame,
    referrals: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    group_cols=("age_group",),
    require_investigation: bool = False,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of ended episodes followed by a new referral within 12 months (Swedish benchmark).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, child_id, end_date, birth_year, group columns).
    referrals : pandas.DataFrame
        Referrals table (child_id, referral_date, and ``led_to_investigation`` when
        ``require_investigation`` is true).
    period_start, period_end : date-like
        Window of end dates, inclusive.
    %(data_end)s
    group_cols : list of str or None, default ("age_group",)
        Columns to group by. By default the benchmark split 0-12 / 13-20, with
        ``age_group`` derived from the age at the ending. ``None`` gives one overall row.
    require_investigation : bool, default False
        Count only referrals that led to an investigation (the benchmark's "new
        investigation"); by default any new referral counts.
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("re_referral_12m"), group columns, ``numerator``, ``denominator``,
        ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        ``data_end`` before ``period_end``.

    Notes
    -----
    * Denominator: episodes with ``end_date`` in the window whose following 12 months are
      observable (``end_date + 12 months <= data_end``). This is an exit cohort by
      definition.
    * Numerator: episodes whose child has a referral with
      ``end_date < referral_date <= end_date + 12 months``.
    * Source: Swedish municipal benchmark (DOMAIN.md 3 and 4.7: ~22 % of youths 13-20
      re-referred within a year).
    * With ages from birth years, a few endings get age 21 (``end_date.year - birth_year``);
      they fall outside 0-20 and form a row with a missing ``age_group``.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "child_id": ["A", "B"],
    ...                    "end_date": pd.to_datetime(["2021-03-01", "2021-06-01"]),
    ...                    "birth_year": [2005, 2004]})
    >>> ref = pd.DataFrame({"child_id": ["A"], "referral_date": pd.to_datetime(["2021-09-01"])})
    >>> r = re_referral_12m(ep, ref, "2021-01-01", "2021-12-31", "2022-12-31")
    >>> r[["age_group", "numerator", "denominator", "value"]]
      age_group  numerator  denominator  value
    0     13-20          1            2    0.5
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "child_id", "end_date", "birth_year"], "episodes")
    ref_cols = ["child_id", "referral_date"] + (
        ["led_to_investigation"] if require_investigation else []
    )
    require_table(referrals, ref_cols, "referrals")
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    e = pd.to_datetime(episodes["end_date"])
    ep = episodes[(e >= start) & (e <= end) & (e + _YEAR <= dend)].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep, date_col="end_date"))
    ref = referrals
    if require_investigation:
        ref = ref[ref["led_to_investigation"].fillna(False).astype(bool)]
    pairs = ep[["episode_id", "child_id", "end_date"]].merge(
        ref[["child_id", "referral_date"]], on="child_id"
    )
    rd, ed = pd.to_datetime(pairs["referral_date"]), pd.to_datetime(pairs["end_date"])
    hit = set(pairs.loc[(rd > ed) & (rd <= ed + _YEAR), "episode_id"])
    ep["_num"] = ep["episode_id"].isin(hit).astype("int64")
    ep["_den"] = 1
    return share_measure(ep, groups, "re_referral_12m", alpha)


@measure_doc
def planned_ending_share(
    episodes: pd.DataFrame, period_start, period_end, group_cols=None, alpha: float = 0.05
) -> pd.DataFrame:
    """Share of episodes ending in a period that ended as planned.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, end_date, planned_ending, birth_year, group columns).
    period_start, period_end : date-like
        Window of end dates, inclusive.
    %(group_cols)s
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("planned_ending_share"), group columns, ``numerator`` (planned
        endings), ``denominator`` (endings), ``value``, ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns or ``period_end`` before ``period_start``.

    Notes
    -----
    * Exit cohort by definition: episodes with ``end_date`` in the window.
    * Numerator: ``planned_ending`` true (derived from ``end_reason``: not a breakdown and
      not absconded). Episodes with a missing ``planned_ending`` are excluded from both.
    * Source: DOMAIN.md 4.9; Socialstyrelsen's ~1 in 4 premature endings.

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2", "E3", "E4"], "birth_year": 2010,
    ...                    "start_date": pd.to_datetime(["2020-01-01"] * 4),
    ...                    "end_date": pd.to_datetime(["2021-02-01"] * 4),
    ...                    "planned_ending": [True, True, True, False]})
    >>> planned_ending_share(ep, "2021-01-01", "2021-12-31")[["numerator", "denominator"]]
       numerator  denominator
    0          3            4
    """
    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "start_date", "end_date", "planned_ending", "birth_year"],
        "episodes",
    )
    start, end = period_bounds(period_start, period_end)
    e = pd.to_datetime(episodes["end_date"])
    ep = episodes[(e >= start) & (e <= end) & episodes["planned_ending"].notna()].copy()
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    ep["_num"] = ep["planned_ending"].astype(bool).astype("int64")
    ep["_den"] = 1
    return share_measure(ep, groups, "planned_ending_share", alpha)


@measure_doc
def goal_attainment_share(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    group_cols=None,
    success=("FULLY", "PARTLY"),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of entrants whose latest assessable follow-up shows the goal (partly) attained.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date, goal_attainment).
    period_start, period_end : date-like
        Entry window, inclusive.
    %(group_cols)s
    success : tuple of str, default ("FULLY", "PARTLY")
        Goal-attainment codes counted as success; use ``("FULLY",)`` for a strict version.
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("goal_attainment_share"), group columns, ``numerator``,
        ``denominator``, ``value``, ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, unknown success codes or ``period_end``
        before ``period_start``.

    Notes
    -----
    * Cohort: episodes starting in the window.
    * For each, the latest follow-up (FOLLOWUP or ENDING, by ``followup_date``) whose
      ``goal_attainment`` is assessable (FULLY, PARTLY or NOT; NOT_ASSESSABLE and missing
      are skipped). All follow-ups recorded in the data count, whatever their date.
    * Denominator: entrants with at least one assessable follow-up (entrants without are
      excluded, so compare the denominator with the cohort size).
    * Numerator: those whose latest assessable value is in ``success``.
    * Source: BBIC goal attainment as used by SKL's Webbkollen (DOMAIN.md 1 and 4.8).

    Examples
    --------
    >>> ep = pd.DataFrame({"episode_id": ["E1", "E2"], "birth_year": 2010,
    ...                    "start_date": pd.to_datetime(["2020-01-01", "2020-02-01"])})
    >>> fu = pd.DataFrame({"episode_id": ["E1", "E1", "E2"],
    ...                    "followup_date": pd.to_datetime(["2020-07-01", "2021-01-01",
    ...                                                     "2020-08-01"]),
    ...                    "goal_attainment": ["NOT", "PARTLY", "NOT"]})
    >>> goal_attainment_share(ep, fu, "2020-01-01", "2020-12-31")[["numerator", "denominator"]]
       numerator  denominator
    0          1            2
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", "goal_attainment"], "followups")
    assessable = ("FULLY", "PARTLY", "NOT")
    bad = [c for c in success if c not in assessable]
    if bad or not success:
        raise ParameterError(
            f"success codes must be a non-empty subset of {assessable}, got {success!r}."
        )
    start, end = period_bounds(period_start, period_end)
    ep = entrants(episodes, start, end)
    fu = followups[
        followups["goal_attainment"].isin(assessable).fillna(False)
        & followups["episode_id"].isin(ep["episode_id"])
    ]
    latest = fu.sort_values(["episode_id", "followup_date"]).drop_duplicates(
        "episode_id", keep="last"
    )
    ep = ep[ep["episode_id"].isin(latest["episode_id"])]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    status = ep["episode_id"].map(latest.set_index("episode_id")["goal_attainment"])
    ep["_num"] = status.isin(list(success)).astype("int64").to_numpy()
    ep["_den"] = 1
    return share_measure(ep, groups, "goal_attainment_share", alpha)


@measure_doc
def breakdown_risk(
    episodes: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    horizons: Sequence[float] = (365, 730),
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Risk of an unplanned ending (breakdown) within 12 and 24 months of entry.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, planned_ending, birth_year and the
        group columns).
    period_start, period_end : date-like
        Entry window (start dates, inclusive).
    data_end : date-like
        Last date the data cover; episodes still running then are censored there.
    horizons : sequence of float, default (365, 730)
        Horizons in days since entry.
    %(group_cols)s
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        One row per group and horizon: ``measure`` ("breakdown_risk"), group columns,
        ``horizon_days``, ``numerator`` (unplanned endings observed by the horizon),
        ``denominator`` (entrants), ``value`` (Aalen–Johansen cumulative incidence),
        ``ci_lower``, ``ci_upper`` (as :func:`evaluation.models.cumulative_incidence`). With
        no unplanned ending in a group the value is 0 and the interval is not estimable
        (NaN); beyond a group's last follow-up the value is NaN.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ``period_end`` before ``period_start`` or
        ``data_end`` before ``period_end``.

    Notes
    -----
    * Entry cohort: episodes starting in the window (DOMAIN.md 4.1). Time is days from
      ``start_date`` to ``end_date``, or to ``data_end`` for episodes ongoing then (censored,
      status 0).
    * Competing risks: status 1 planned ending, status 2 unplanned ending (``planned_ending``
      false: breakdown or absconding). Ended episodes with a missing ``planned_ending`` are
      excluded (they cannot be classified).
    * Estimator: Aalen–Johansen, exact with tied days, validated against R ``cmprsk::cuminc``
      in ``tests/test_survival.py``. A naive share (breakdowns / entrants) would be biased
      down by the censoring of recent entrants; this is why the measure is not a proportion.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> from evaluation.measures import breakdown_risk
    >>> ep = synth.generate(n_children=400, n_municipalities=3, seed=2).tables["episodes"]
    >>> r = breakdown_risk(ep, "2019-01-01", "2022-12-31", "2024-12-31")
    >>> r["horizon_days"].tolist()
    [365.0, 730.0]
    """
    from evaluation.models.competing_risks import cumulative_incidence

    check_alpha(alpha)
    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "start_date", "end_date", "planned_ending", "birth_year"],
        "episodes",
    )
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    hz = np.atleast_1d(np.asarray(horizons, dtype=float))
    if hz.size == 0 or np.isnan(hz).any() or (hz <= 0).any():
        raise ParameterError(f"horizons must be positive numbers of days, got {horizons!r}.")
    ep = entrants(episodes, start, end)
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    s = pd.to_datetime(ep["start_date"])
    e = pd.to_datetime(ep["end_date"])
    ended = e.notna() & (e <= dend)
    planned = ep["planned_ending"].astype("boolean")
    ep = ep[~(ended & planned.isna())].copy()
    ended, s, e, planned = ended[ep.index], s[ep.index], e[ep.index], planned[ep.index]
    ep["_time"] = (e.where(ended, dend) - s).dt.days.astype(float)
    ep["_status"] = np.where(~ended, 0, np.where(planned.fillna(True).to_numpy(bool), 1, 2))

    rows = []
    parts = ep.groupby(groups, dropna=False, observed=True) if groups else [((), ep)]
    for key, sub in parts:
        key = key if isinstance(key, tuple) else (key,)
        if (sub["_status"] == 2).any():
            at = cumulative_incidence(sub, "_time", "_status", 2, alpha=alpha).at(hz)
            value, lo, hi = (at[c].to_numpy() for c in ("estimate", "ci_lower", "ci_upper"))
        else:
            value = np.where(hz <= sub["_time"].max(), 0.0, np.nan)
            lo = hi = np.full(hz.size, np.nan)
        for i, h in enumerate(hz):
            rows.append({
                **dict(zip(groups, key)),
                "horizon_days": h,
                "numerator": int(((sub["_status"] == 2) & (sub["_time"] <= h)).sum()),
                "denominator": len(sub),
                "value": value[i],
                "ci_lower": lo[i],
                "ci_upper": hi[i],
            })
    out = pd.DataFrame(rows, columns=[*groups, "horizon_days", *RESULT_COLUMNS])
    out.insert(0, "measure", "breakdown_risk")
    return out


@measure_doc
def re_entry_12m(
    episodes: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    group_cols=None,
    destinations=("PARENTS",),
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Share of children going home within 12 months of entry who re-enter within 12 months (CFSR).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, child_id, start_date, end_date, birth_year, destination,
        group columns).
    period_start, period_end : date-like
        Entry window, inclusive.
    %(data_end)s
    %(group_cols)s
    destinations : tuple of str, default ("PARENTS",)
        Destination codes counted as an exit home (reunification).
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("re_entry_12m"), group columns, ``numerator`` (re-entries),
        ``denominator`` (exits home), ``value`` (share), ``ci_lower``, ``ci_upper`` (Wilson).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, unknown destination codes, ``period_end``
        before ``period_start`` or ``data_end`` before ``period_end``.

    Notes
    -----
    * Cohort: episodes starting in the window, excluding stays shorter than 8 days, entry
      age >= 18, and entrants whose 24 months after entry are not observable
      (``start_date + 24 months > data_end``): an exit may come up to 12 months after entry
      and its re-entry up to 12 months later, so the whole entry window needs 24 months of
      follow-up (excluding late exits instead would bias the cohort towards early exits).
    * Denominator: of these, episodes ending on or before ``start_date + 12 months`` with a
      destination in ``destinations``, while the child was under 18
      (``end_date.year - birth_year < 18``; a child who turns 18 has no CFSR re-entry).
    * Numerator: those whose child has another episode starting after the exit
      (``end_date < start_date' <= end_date + 12 months``), whatever its length.
    * Source: CFSR Round 3/4 statewide data indicator "re-entry to foster care in 12 months"
      (DOMAIN.md 4.6). CFSR also counts exits to relatives and guardianship: pass e.g.
      ``destinations=("PARENTS", "OWN_HOME")`` for a wider reading.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(600, 3, seed=1).tables["episodes"]
    >>> r = re_entry_12m(ep, "2019-01-01", "2021-12-31", "2024-12-31")
    >>> r["measure"].tolist()
    ['re_entry_12m']
    """
    from evaluation.data.dictionary import load_dictionary

    groups = group_list(group_cols)
    require_table(
        episodes,
        ["episode_id", "child_id", "start_date", "end_date", "birth_year", "destination"],
        "episodes",
    )
    known = load_dictionary().column("episodes", "destination").code_values
    dest = (destinations,) if isinstance(destinations, str) else tuple(destinations)
    bad = [c for c in dest if c not in known]
    if bad or not dest:
        raise ParameterError(
            f"destinations must be a non-empty subset of {known}, got {destinations!r}."
        )
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    ep = entrants(episodes, start, end)
    s, e = pd.to_datetime(ep["start_date"]), pd.to_datetime(ep["end_date"])
    home = ep["destination"].isin(dest).fillna(False).astype(bool)
    keep = (
        ~(stay_days(ep) < 8)
        & (age_at_start(ep) < 18).fillna(False).astype(bool)
        & (s + pd.DateOffset(months=24) <= dend)
        & e.notna()
        & (e <= s + _YEAR)
        & home
        & (age_at_start(ep, date_col="end_date") < 18).fillna(False).astype(bool)
    )
    ep = ep[keep]
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    later = episodes[["child_id", "start_date"]].rename(columns={"start_date": "_next"})
    pairs = ep[["episode_id", "child_id", "end_date"]].merge(later, on="child_id")
    nxt, ed = pd.to_datetime(pairs["_next"]), pd.to_datetime(pairs["end_date"])
    hit = set(pairs.loc[(nxt > ed) & (nxt <= ed + _YEAR), "episode_id"])
    ep["_num"] = ep["episode_id"].isin(hit).astype("int64")
    ep["_den"] = 1
    return share_measure(ep, groups, "re_entry_12m", alpha)



def _km_quantiles(fit, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quantile times of a one-group Kaplan–Meier fit and their confidence limits."""
    q = fit.quantiles(probs)
    return tuple(q[c].to_numpy(dtype=float) for c in ("estimate", "ci_lower", "ci_upper"))


@measure_doc
def length_of_stay(
    episodes: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    quantiles: Sequence[float] = (0.25, 0.5, 0.75),
    group_cols=None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Median and quartiles of the length of stay of an entry cohort (Kaplan–Meier).

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, group columns).
    period_start, period_end : date-like
        Entry window (start dates, inclusive).
    data_end : date-like
        Last date the data cover; episodes still running then are censored there.
    quantiles : sequence of float, default (0.25, 0.5, 0.75)
        Fractions of the cohort that have left care, each in (0, 1).
    %(group_cols)s
    %(alpha)s

    Returns
    -------
    pandas.DataFrame
        One row per group and quantile: ``measure`` ("length_of_stay"), group columns,
        ``quantile``, ``numerator`` (episodes ended by ``data_end``), ``denominator``
        (entrants), ``value`` (days by which that fraction had left care; NaN if not
        reached), ``ci_lower``, ``ci_upper`` (NaN where the confidence band never reaches
        the fraction).

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, quantiles outside (0, 1), ``period_end``
        before ``period_start`` or ``data_end`` before ``period_end``.

    Notes
    -----
    * Entry cohort (DOMAIN.md 4.12 and 4.13): episodes starting in the window; never a
      sample of exits or of children in care on a day, which over-represent long stays.
    * Time: ``end_date - start_date`` in days for episodes ended by ``data_end`` (event),
      otherwise ``data_end - start_date`` (censored). All endings count as exits, including
      the age limit (a child turning 18 under LVU, or 21); no exclusions.
    * Estimator: :func:`evaluation.models.survival.kaplan_meier` (validated against R ``survfit``),
      quantiles as R ``quantile.survfit``: the smallest time with S(t) <= 1 - q (the
      midpoint where S equals 1 - q over a flat stretch).
    * Confidence limits: where the pointwise log-log band of S(t) crosses 1 - q
      (Brookmeyer–Crowley in R's form, :meth:`KaplanMeierResult.quantiles`). Validated
      against R ``quantile(survfit(..., conf.type = "log-log"), conf.int = TRUE)`` in
      ``tests/reference/length_of_stay_reference.R``.
    * Source: Chapin Hall / CFSR practice of entry-cohort length of stay.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(400, 3, seed=2).tables["episodes"]
    >>> r = length_of_stay(ep, "2019-01-01", "2020-12-31", "2024-12-31")
    >>> r["quantile"].tolist()
    [0.25, 0.5, 0.75]
    """
    from evaluation.models.survival import kaplan_meier

    check_alpha(alpha)
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    qs = np.atleast_1d(np.asarray(quantiles, dtype=float))
    if qs.size == 0 or np.isnan(qs).any() or (qs <= 0).any() or (qs >= 1).any():
        raise ParameterError(f"quantiles must be numbers in (0, 1), got {quantiles!r}.")
    ep = entrants(episodes, start, end)
    ep = with_groups(ep, groups, "episodes", age_at_start(ep))
    s, e = pd.to_datetime(ep["start_date"]), pd.to_datetime(ep["end_date"])
    ended = e.notna() & (e <= dend)
    ep["_time"] = (e.where(ended, dend) - s).dt.days.astype(float)
    ep["_event"] = ended.astype("int64").to_numpy()

    rows = []
    parts = ep.groupby(groups, dropna=False, observed=True) if groups else [((), ep)]
    for key, sub in parts:
        key = key if isinstance(key, tuple) else (key,)
        fit = kaplan_meier(sub, "_time", "_event", alpha=alpha)
        value, lo, hi = _km_quantiles(fit, qs)
        for i, q in enumerate(qs):
            rows.append({
                **dict(zip(groups, key)),
                "quantile": q,
                "numerator": int(sub["_event"].sum()),
                "denominator": len(sub),
                "value": value[i],
                "ci_lower": lo[i],
                "ci_upper": hi[i],
            })
    out = pd.DataFrame(rows, columns=[*groups, "quantile", *RESULT_COLUMNS])
    out.insert(0, "measure", "length_of_stay")
    return out
