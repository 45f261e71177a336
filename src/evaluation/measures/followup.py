"""Outcome measures counted per follow-up or due review: the child heard, the child's ratings
and reviews on time.

Their unit lies below the child and recurs over time, so they take ``cluster_col`` (the child
pseudonym column of episodes, normally ``"child_id"``): the value is unchanged, the interval
uses the effective sample size of the design effect of children as clusters
(:func:`evaluation.measures.intervals.design_effect`), and ``design_effect`` and
``n_effective`` are appended to the output. Other conventions are those of
:mod:`evaluation.measures.base`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import check_alpha
from evaluation.data.cohort import (
    data_end_date,
    group_list,
    period_bounds,
    require_table,
    with_groups,
)
from evaluation.errors import ParameterError
from evaluation.measures.base import RESULT_COLUMNS, measure_doc, positive_int
from evaluation.measures.intervals import (
    check_cluster_col,
    share_measure,
    with_design_effect,
)

__all__ = ["child_heard_share", "child_rated_themes", "reviews_on_time"]


def _followups_in_window(
    followups: pd.DataFrame,
    episodes: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    groups: list[str],
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """Follow-ups dated in the window, with the episode's group columns and birth year.

    ``extra`` names further episode columns to carry (e.g. the cluster column); like the
    group columns, a column the follow-ups already have is taken from the follow-ups.
    """
    d = pd.to_datetime(followups["followup_date"])
    fu = followups[(d >= start) & (d <= end)]
    ep_cols = ["episode_id", "birth_year"] + [
        g
        for g in [*groups, *extra]
        if g in episodes.columns and g not in fu.columns and g != "episode_id"
    ]
    fu = fu.merge(episodes[list(dict.fromkeys(ep_cols))], on="episode_id", how="inner")
    age = pd.to_datetime(fu["followup_date"]).dt.year.astype("Int64") - fu["birth_year"].astype(
        "Int64"
    )
    return with_groups(fu, groups, "episodes or followups", age)


@measure_doc
def child_heard_share(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    group_cols=None,
    success=("YES",),
    alpha: float = 0.05,
    cluster_col: str | None = "child_id",
) -> pd.DataFrame:
    """Share of follow-ups in a period at which the child was heard.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date, child_heard).
    period_start, period_end : date-like
        Window of follow-up dates, inclusive.
    group_cols : list of str, optional
        Columns of episodes or followups to group by (``"age_group"`` from the age at the
        follow-up).
    success : tuple of str, default ("YES",)
        ``child_heard`` codes counted as heard. The default is strict; report
        ``("YES", "PARTLY")`` beside it as "heard at least partly".
    %(alpha)s
    cluster_col : str or None, default "child_id"
        Column of ``episodes`` identifying the child (the pseudonym, normally
        ``"child_id"``). When given, the interval allows for the correlation of follow-ups of
        one child (see Notes); ``None`` gives the plain interval, which treats follow-ups as
        independent.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("child_heard_share"), group columns, ``numerator`` (follow-ups with
        ``child_heard`` in ``success``), ``denominator`` (follow-ups with ``child_heard``
        recorded), ``value``, ``ci_lower``, ``ci_upper`` (Wilson); with ``cluster_col``
        also ``design_effect`` and ``n_effective`` (last), and the Wilson interval on
        ``n_effective``.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, unknown success codes, ``period_end``
        before ``period_start``, or a ``cluster_col`` that is not a column of ``episodes``
        or has missing values.

    Notes
    -----
    * Unit: the follow-up (FOLLOWUP and ENDING), since the child should be heard at every
      one. A process measure of the period, by follow-up date, not a cohort.
    * Exclusions: follow-ups with a missing ``child_heard``, and follow-ups whose episode is
      not in ``episodes``.
    * Interval: follow-ups of one child are correlated, so the plain Wilson interval
      (``cluster_col=None``) is too narrow when children have several follow-ups. With
      ``cluster_col`` the value is unchanged and the interval is Wilson's with the
      effective sample size ``n_effective = denominator / design_effect`` (Korn &
      Graubard 1998), where ``design_effect`` is the ratio-estimator (linearisation)
      variance with children as clusters over the binomial variance, at least 1, computed
      per group row by :func:`design_effect` (validated against R ``survey::svymean``).
      With follow-ups of a single child (or none) in a group row the between-child
      variance cannot be estimated and the interval, ``design_effect`` and ``n_effective``
      are NaN.
    * Young children are included (synthetic and real data record NO for infants); group by
      ``age_group`` to separate them.
    * Source: UN Convention on the Rights of the Child art. 12, SoL 11 kap. 10 §, and the
      participation theme of Vårdanalys 2018:9 *Fatta läget* (DOMAIN.md 1 and 4.10).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = child_heard_share(t["episodes"], t["followups"], "2020-01-01", "2022-12-31")
    >>> bool(0 <= r.loc[0, "value"] <= 1)
    True
    >>> c = child_heard_share(t["episodes"], t["followups"], "2020-01-01", "2022-12-31",
    ...                       cluster_col="child_id")
    >>> bool(c.loc[0, "design_effect"] >= 1 and c.loc[0, "ci_lower"] <= r.loc[0, "ci_lower"])
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", "child_heard"], "followups")
    codes = ("YES", "PARTLY", "NO")
    succ = (success,) if isinstance(success, str) else tuple(success)
    bad = [c for c in succ if c not in codes]
    if bad or not succ:
        raise ParameterError(
            f"success codes must be a non-empty subset of {codes}, got {success!r}."
        )
    cluster = check_cluster_col(cluster_col, episodes)
    start, end = period_bounds(period_start, period_end)
    fu = _followups_in_window(followups, episodes, start, end, groups, [cluster] if cluster else [])
    fu = fu[fu["child_heard"].notna()].copy()
    fu["_num"] = fu["child_heard"].isin(succ).astype("int64")
    fu["_den"] = 1
    return share_measure(fu, groups, "child_heard_share", alpha, cluster)


@measure_doc
def child_rated_themes(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    themes=None,
    group_cols=None,
    alpha: float = 0.05,
    cluster_col: str | None = "child_id",
) -> pd.DataFrame:
    """Mean of the child's own 1-5 ratings per theme (Fatta läget), with t intervals.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date and the theme columns).
    period_start, period_end : date-like
        Window of follow-up dates, inclusive.
    themes : list of str, optional
        Theme columns; by default the dictionary's ``themes`` group of the followups table
        (theme_treatment ... theme_independence).
    group_cols : list of str, optional
        Columns of episodes or followups to group by (``"age_group"`` from the age at the
        follow-up).
    %(alpha)s
    cluster_col : str or None, default "child_id"
        Column of ``episodes`` identifying the child (the pseudonym, normally
        ``"child_id"``). When given, the interval allows for the correlation of ratings of
        one child (see Notes); ``None`` gives the plain interval, which treats ratings as
        independent.

    Returns
    -------
    pandas.DataFrame
        One row per group and theme (themes in the order given): ``measure``
        ("child_rated_themes"), group columns, ``theme`` (column name), ``numerator`` (sum
        of the ratings), ``denominator`` (n: ratings given), ``value`` (mean rating),
        ``ci_lower``, ``ci_upper`` (Student t). A theme nobody answered in a group has no row.
        With ``cluster_col`` also ``design_effect`` and ``n_effective`` (last), and the
        interval described in Notes.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, ratings outside 1-5, ``period_end``
        before ``period_start``, or a ``cluster_col`` that is not a column of ``episodes``
        or has missing values.

    Notes
    -----
    * Unit: the answered theme on a follow-up dated in the window; missing ratings are
      excluded theme by theme, so ``denominator`` differs between themes.
    * Interval: ``mean +- t(1 - alpha/2, n - 1) * sd / sqrt(n)`` with the sample SD
      (``ddof=1``); NaN for n = 1. Validated against ``scipy.stats.t.interval``. The
      interval is not clipped to 1-5. Without ``cluster_col`` it treats the ratings of one
      child as independent, and is too narrow when children rate at several follow-ups.
    * Clustering-aware interval (``cluster_col`` given): the mean is unchanged and the
      interval is ``mean +- t(1 - alpha/2, C - 1) * sd / sqrt(n_effective)`` with ``C``
      children in the group row, ``n_effective = n / design_effect`` (Korn & Graubard
      1998) and ``design_effect`` the ratio-estimator (linearisation) variance of the mean
      with children as clusters over ``sd^2 / n``, at least 1 (:func:`design_effect`,
      validated against R ``survey::svymean``). When the design effect exceeds 1 the
      half-width is ``t * sqrt(linearisation variance)``. The degrees of freedom are those
      of the design (children - 1), so the interval equals the plain one when every child
      gave one rating. NaN when the ratings come from a single child.
    * Small n: ``denominator`` is the number of answers, so disclosure control can suppress
      means based on few answers (treat ``denominator`` as the count to protect); a mean of
      very few ratings can reveal individual answers. ``numerator`` is not a count of
      children: do not pass it to ``disclosure.protect_rates``.
    * Source: the eight themes of Vårdanalys 2018:9 *Fatta läget* (DOMAIN.md 1 and 4.10).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2022-12-31")
    >>> bool(r["value"].between(1, 5).all())
    True
    >>> c = child_rated_themes(t["episodes"], t["followups"], "2020-01-01", "2022-12-31",
    ...                        cluster_col="child_id")
    >>> bool((c["value"] == r["value"]).all() and (c["design_effect"] >= 1).all())
    True
    """
    groups = group_list(group_cols)
    if themes is None:
        from evaluation.data.dictionary import load_dictionary

        themes = load_dictionary().group("followups", "themes")
    themes = [themes] if isinstance(themes, str) else list(themes)
    if not themes:
        raise ParameterError("themes must name at least one theme column of followups.")
    check_alpha(alpha)
    require_table(episodes, ["episode_id", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", *themes], "followups")
    cluster = check_cluster_col(cluster_col, episodes)
    start, end = period_bounds(period_start, period_end)
    extra = [cluster] if cluster else []
    fu = _followups_in_window(followups, episodes, start, end, groups, extra)
    id_vars = list(dict.fromkeys([*groups, *extra]))
    long = fu.melt(id_vars=id_vars, value_vars=themes, var_name="theme", value_name="_score")
    long = long[long["_score"].notna()].copy()
    long["_score"] = pd.to_numeric(long["_score"], errors="coerce").astype(float)
    bad = long[~long["_score"].between(1, 5)]
    if len(bad):
        raise ParameterError(
            f"theme ratings must be numbers 1-5; column {bad['theme'].iloc[0]!r} holds "
            f"{bad['_score'].iloc[0]!r}. Validate the followups table first."
        )
    long["theme"] = pd.Categorical(long["theme"], categories=themes, ordered=True)
    agg = (
        long.groupby([*groups, "theme"], dropna=False, observed=True)["_score"]
        .agg(numerator="sum", denominator="count", value="mean", _sd="std")
        .reset_index()
    )
    n = agg["denominator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = stats.t.ppf(1 - alpha / 2, n - 1) * agg["_sd"].to_numpy() / np.sqrt(n)
    agg["ci_lower"] = np.where(n > 1, agg["value"] - half, np.nan)
    agg["ci_upper"] = np.where(n > 1, agg["value"] + half, np.nan)
    agg.insert(0, "measure", "child_rated_themes")
    if cluster:
        agg = with_design_effect(agg, long, [*groups, "theme"], "_score", cluster, "mean", alpha)
    agg["theme"] = agg["theme"].astype(str)
    agg["denominator"] = agg["denominator"].astype("int64")
    extra_cols = ["design_effect", "n_effective"] if cluster else []
    return agg[["measure", *groups, "theme", *RESULT_COLUMNS, *extra_cols]]


# --------------------------------------------------------------------------- reviews
@measure_doc
def reviews_on_time(
    episodes: pd.DataFrame,
    followups: pd.DataFrame,
    period_start,
    period_end,
    data_end,
    group_cols=None,
    interval_months: int = 6,
    tolerance_days: int = 14,
    alpha: float = 0.05,
    cluster_col: str | None = "child_id",
) -> pd.DataFrame:
    """Share of six-monthly reviews due in a period that were held on time.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes table (episode_id, start_date, end_date, birth_year, group columns).
    followups : pandas.DataFrame
        Follow-ups table (episode_id, followup_date, followup_type).
    period_start, period_end : date-like
        Window of due dates, inclusive.
    %(data_end)s
    group_cols : list of str, optional
        Columns to group by (``"age_group"`` from the age at the due date).
    interval_months : int, default 6
        Months between reviews, counted from the episode start.
    tolerance_days : int, default 14
        A review is on time if held at most this many days before or after its due date.
    %(alpha)s
    cluster_col : str or None, default "child_id"
        Column of ``episodes`` identifying the child (the pseudonym, normally
        ``"child_id"``). When given, the interval allows for the correlation of due reviews of
        one child (see Notes); ``None`` gives the plain interval, which treats due reviews as
        independent.

    Returns
    -------
    pandas.DataFrame
        ``measure`` ("reviews_on_time"), group columns, ``numerator`` (due reviews held on
        time), ``denominator`` (reviews due), ``value``, ``ci_lower``, ``ci_upper`` (Wilson);
        with ``cluster_col`` also ``design_effect`` and ``n_effective`` (last), and the
        Wilson interval on ``n_effective``.

    Raises
    ------
    ParameterError
        Missing columns, unknown group columns, a non-integer interval or tolerance,
        ``period_end`` before ``period_start``, ``data_end`` before ``period_end``, or a
        ``cluster_col`` that is not a column of ``episodes`` or has missing values.

    Notes
    -----
    * Due dates: ``start_date + k * interval_months`` for k = 1, 2, ... (calendar months),
      while the child is in care, i.e. ``end_date`` missing or after the due date.
    * Denominator: due dates in the window whose tolerance window is observable
      (``due + tolerance_days <= data_end``).
    * Numerator: due dates with a follow-up of type FOLLOWUP dated within
      ``[due - tolerance_days, due + tolerance_days]``. ENDING assessments do not count as
      reviews; an episode ending after a due date but before its review is a missed review.
      With the defaults the windows of successive due dates cannot overlap.
    * Unit: the due review. Reviews of one child are correlated, so the plain Wilson
      interval (``cluster_col=None``) is too narrow. With ``cluster_col`` the interval is
      Wilson's on ``n_effective = denominator / design_effect`` (Korn & Graubard 1998),
      with the design effect of the ratio-estimator (linearisation) variance with children
      as clusters over the binomial variance, at least 1, per group row
      (:func:`design_effect`); as for :func:`child_heard_share`.
    * Adaptation: Swedish law requires the placement to be considered (SoL 6 kap. 8 §) or
      reviewed (LVU 13 §) at least every six months; the fixed schedule from the start date
      and the symmetric tolerance are the toolkit's operational definition (configurable).
    * Source: DOMAIN.md 4.11; the "six-month review" of the follow-up cycle (section 2).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> t = synth.generate(300, 3, seed=1).tables
    >>> r = reviews_on_time(t["episodes"], t["followups"], "2021-01-01", "2022-12-31",
    ...                     "2024-12-31", tolerance_days=30)
    >>> bool(r.loc[0, "denominator"] > 0)
    True
    """
    groups = group_list(group_cols)
    require_table(episodes, ["episode_id", "start_date", "end_date", "birth_year"], "episodes")
    require_table(followups, ["episode_id", "followup_date", "followup_type"], "followups")
    months = positive_int(interval_months, "interval_months")
    tol = positive_int(tolerance_days, "tolerance_days", minimum=0)
    cluster = check_cluster_col(cluster_col, episodes)
    start, end = period_bounds(period_start, period_end)
    dend = data_end_date(data_end, end)
    episodes = episodes.reset_index(drop=True)  # row labels below must be unique
    s, e = pd.to_datetime(episodes["start_date"]), pd.to_datetime(episodes["end_date"])
    live = episodes[(s <= end) & (e.isna() | (e > start))]
    s, e = s[live.index], e[live.index]
    parts, k = [], 1
    while len(s):
        due = s + pd.DateOffset(months=months * k)
        ok = due <= end
        if not ok.any():
            break
        sel = ok & (due >= start) & (e.isna() | (e > due)) & (due + pd.Timedelta(days=tol) <= dend)
        parts.append(
            pd.DataFrame({"_row": live.index[sel.to_numpy()], "_due": due[sel].to_numpy()})
        )
        keep = ok & (e.isna() | (e > due))
        s, e, live = s[keep], e[keep], live[keep.to_numpy()]
        k += 1
    dues = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"_row": pd.Series(dtype="int64"), "_due": pd.Series(dtype="datetime64[ns]")}
    )
    rows = episodes.loc[dues["_row"]].reset_index(drop=True)
    rows["_due"] = dues["_due"].to_numpy()
    rows["_id"] = np.arange(len(rows))
    age = rows["_due"].dt.year.astype("Int64") - rows["birth_year"].astype("Int64")
    rows = with_groups(rows, groups, "episodes", age)
    is_review = followups["followup_type"].eq("FOLLOWUP").fillna(False).astype(bool)
    fu = followups[is_review][["episode_id", "followup_date"]]
    pairs = rows[["_id", "episode_id", "_due"]].merge(fu, on="episode_id")
    gap = (pd.to_datetime(pairs["followup_date"]) - pairs["_due"]).dt.days.abs()
    held = set(pairs.loc[gap <= tol, "_id"])
    rows["_num"] = rows["_id"].isin(held).astype("int64")
    rows["_den"] = 1
    return share_measure(rows, groups, "reviews_on_time", alpha, cluster)
