"""Charts for reports. Every function draws already protected tables and returns the Axes.

Labels come from ``catalogs/plots.yaml``; numbers are written by :mod:`evaluation.reporting.text`.
"""

from __future__ import annotations

import pandas as pd

from evaluation.checks import check_language
from evaluation.errors import ParameterError
from evaluation.reporting.text import format_percent, phrase

__all__ = ["bar_comparison", "truncate_curve"]


def truncate_curve(summary: pd.DataFrame, at_risk: pd.DataFrame | None,
                   min_at_risk: int) -> pd.DataFrame:
    """Drop the points of each group's curve after its number at risk falls below a minimum.

    A curve's last steps can reveal single children; reports stop each curve where fewer
    than ``min_at_risk`` (``2 * threshold``) episodes remain at risk.

    Parameters
    ----------
    summary : pandas.DataFrame
        The curve: columns ``group`` and ``time`` (and the estimates).
    at_risk : pandas.DataFrame or None
        Numbers at risk: columns ``group``, ``time`` and ``n_risk`` (e.g. a Kaplan–Meier
        summary); None keeps the curve whole.
    min_at_risk : int
        Smallest number at risk shown.

    Returns
    -------
    pandas.DataFrame
        The rows of ``summary`` up to the last time at which ``at_risk`` has at least
        ``min_at_risk`` in the group (none for a group that never has).

    Examples
    --------
    >>> s = pd.DataFrame({"group": ["a"] * 3, "time": [1, 2, 3], "n_risk": [30, 12, 3]})
    >>> truncate_curve(s, s, 10)["time"].tolist()
    [1, 2]
    """
    if at_risk is None:
        return summary
    keep = []
    for g, sub in summary.groupby("group", sort=False):
        risk = at_risk[at_risk["group"] == g]
        last = risk.loc[risk["n_risk"] >= min_at_risk, "time"].max()
        keep.append(sub[sub["time"] <= last] if pd.notna(last) else sub.iloc[:0])
    return pd.concat(keep, ignore_index=True)


def bar_comparison(table: pd.DataFrame, *, title: str, ax=None, lang: str = "sv"):
    """Horizontal bars of shares by category, selected municipality beside all.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`evaluation.reporting.overview.distribution` (columns ``category``, ``scope``,
        ``share``, ``display``); rows in the order to draw.
    title : str
        Title of the chart.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when None.
    lang : {'sv', 'en'}, default 'sv'
        Language of the axis label and the note on hidden values.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ParameterError
        If a required column is missing.

    Notes
    -----
    Only shares are drawn (computed from published counts by
    :func:`evaluation.reporting.overview.distribution`). A hidden share (NaN) has no bar; its
    mark (``'..'``, or ``'<5'`` if ``display`` says so) is written at zero, except where
    ``display`` is empty: a selection too small to be broken down gets no bar and no mark.
    No count is ever written on the chart.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    check_language(lang)
    missing = [c for c in ("category", "scope", "share", "display") if c not in table.columns]
    if missing:
        raise ParameterError(
            f"bar_comparison needs the columns of overview.distribution; missing: {missing}."
        )
    categories = list(dict.fromkeys(table["category"]))
    scopes = list(dict.fromkeys(table["scope"]))
    if ax is None:
        height = max(2.0, 0.32 * len(categories) * max(1, len(scopes)) + 1.0)
        _fig, ax = plt.subplots(figsize=(7.5, height))
    palette = dict(zip(scopes, sns.color_palette("colorblind", len(scopes))))
    shown = table.loc[table["share"].notna()]
    if len(shown):
        sns.barplot(
            data=shown, y="category", x="share", hue="scope", order=categories,
            hue_order=scopes, palette=palette, orient="h", ax=ax, errorbar=None,
            dodge=len(scopes) > 1,
        )
    else:
        ax.set_yticks(range(len(categories)), labels=categories)
        ax.set_ylim(len(categories) - 0.5, -0.5)
    width = 0.8 / len(scopes)
    hidden_any = False
    for _, row in table.loc[table["share"].isna()].iterrows():
        shown_mark = "" if pd.isna(row["display"]) else str(row["display"])
        if shown_mark == "":  # a selection too small to be broken down: nothing at all
            continue
        mark = shown_mark if shown_mark == ".." or shown_mark.startswith("<") else ".."
        y = categories.index(row["category"]) - 0.4 + width * (scopes.index(row["scope"]) + 0.5)
        ax.text(0.003, y, mark, va="center", ha="left", fontsize=8, color="0.25")
        hidden_any = True
    ax.set_xlim(0, max(0.1, float(table["share"].max(skipna=True) or 0) * 1.1))
    ax.xaxis.set_major_formatter(lambda x, _pos: format_percent(x, 0, lang))
    ax.set_xlabel(phrase("plots", "bars", "share", lang))
    ax.set_ylabel("")
    ax.set_title(title)
    if len(scopes) > 1 or len(shown) == 0:
        handles = [plt.Rectangle((0, 0), 1, 1, color=palette[s]) for s in scopes]
        ax.legend(handles, scopes, title=None, loc="lower right", fontsize=8)
    elif ax.get_legend() is not None:
        ax.get_legend().remove()
    if hidden_any:
        ax.annotate(phrase("plots", "bars", "hidden_note", lang), xy=(0, -0.12), xycoords="axes fraction", fontsize=7,
                    color="0.35", va="top", annotation_clip=False)
    return ax
