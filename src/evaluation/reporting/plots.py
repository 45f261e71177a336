"""Charts for reports. Every function draws already protected tables and returns the Axes.

Labels come from ``catalogs/plots.yaml``; numbers are written by :mod:`evaluation.reporting.text`.
"""

from __future__ import annotations

import pandas as pd

from evaluation.checks import check_language
from evaluation.errors import ParameterError
from evaluation.reporting.text import format_percent, phrase, phrases

__all__ = ["bar_comparison", "chart_alt_text", "truncate_curve"]


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
        ``share``, ``display``; optionally ``variable``); rows in the order to draw. A table
        stacking several variables (a column ``variable`` with several values, e.g. the
        overview's target groups: age group and sex) is drawn as one panel per variable,
        each headed by the variable, sharing the share axis.
    title : str
        Title of the chart.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (one variable only); a new figure is made when None.
    lang : {'sv', 'en'}, default 'sv'
        Language of the axis label and the note on hidden values.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on (with several variables: the first panel; ``ax.figure.axes``
        holds them all).

    Raises
    ------
    ParameterError
        If a required column is missing, or ``ax`` is given for a table of several
        variables.

    Notes
    -----
    Only shares are drawn (computed from published counts by
    :func:`evaluation.reporting.overview.distribution`). A hidden share (NaN) has no bar; its
    mark (``'..'``, or ``'<5'`` if ``display`` says so) is written at zero, except where
    ``display`` is empty: a selection too small to be broken down gets no bar and no mark.
    No count is ever written on the chart. The marks and the note explaining them are
    written at the size of the axis labels.
    """
    import matplotlib.pyplot as plt

    check_language(lang)
    missing = [c for c in ("category", "scope", "share", "display") if c not in table.columns]
    if missing:
        raise ParameterError(
            f"bar_comparison needs the columns of overview.distribution; missing: {missing}."
        )
    variables = (list(dict.fromkeys(table["variable"])) if "variable" in table.columns
                 else [None])
    if len(variables) > 1:
        if ax is not None:
            raise ParameterError(
                "bar_comparison draws a table of several variables as one panel each, so it "
                "makes its own figure: pass ax=None, or one variable "
                "(overview.variable_table(table, column))."
            )
        parts = [table[table["variable"] == v] for v in variables]
        sizes = [len(dict.fromkeys(p["category"])) for p in parts]
        scopes = len(dict.fromkeys(table["scope"]))
        height = sum(0.32 * k * max(1, scopes) + 0.9 for k in sizes) + 1.0
        fig, axes = plt.subplots(len(parts), 1, figsize=(7.5, height), sharex=True,
                                 gridspec_kw={"height_ratios": [k + 1.5 for k in sizes]})
        xmax = max(0.1, float(table["share"].max(skipna=True) or 0) * 1.1)
        hidden_any = False
        for i, (part, axis) in enumerate(zip(parts, axes, strict=True)):
            hidden_any |= _bars(part, axis, lang, legend=i == 0)
            axis.set_title(str(variables[i]), loc="left", fontsize="medium")
            axis.set_xlim(0, xmax)
            if i < len(parts) - 1:
                axis.set_xlabel("")
        fig.suptitle(title)
        if hidden_any:
            _hidden_note(axes[-1], lang)
        return axes[0]
    if ax is None:
        categories = list(dict.fromkeys(table["category"]))
        scopes = list(dict.fromkeys(table["scope"]))
        height = max(2.0, 0.32 * len(categories) * max(1, len(scopes)) + 1.0)
        _fig, ax = plt.subplots(figsize=(7.5, height))
    hidden_any = _bars(table, ax, lang, legend=True)
    ax.set_xlim(0, max(0.1, float(table["share"].max(skipna=True) or 0) * 1.1))
    ax.set_title(title)
    if hidden_any:
        _hidden_note(ax, lang)
    return ax


def _label_size(ax) -> float:
    """Font size (points) of the axis labels and tick labels of ``ax``, whichever is larger:
    marks and notes are written no smaller."""
    import matplotlib as mpl
    from matplotlib.font_manager import FontProperties

    sizes = [ax.xaxis.label.get_size()]
    for key in ("xtick.labelsize", "ytick.labelsize"):
        sizes.append(FontProperties(size=mpl.rcParams[key]).get_size_in_points())
    return float(max(sizes))


def _hidden_note(ax, lang: str) -> None:
    """The note explaining the marks, under the x-axis label of ``ax`` at the labels' size."""
    ax.annotate(phrase("plots", "bars", "hidden_note", lang), xy=(0, 0),
                xycoords=("axes fraction", ax.xaxis.label), xytext=(0, -6),
                textcoords="offset points", fontsize=_label_size(ax), color="0.2",
                va="top", ha="left", annotation_clip=False)


def _bars(table: pd.DataFrame, ax, lang: str, legend: bool) -> bool:
    """Bars of one variable on ``ax``; True when a hidden share got a mark."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    categories = list(dict.fromkeys(table["category"]))
    scopes = list(dict.fromkeys(table["scope"]))
    palette = dict(zip(scopes, sns.color_palette("colorblind", len(scopes))))
    shown = table.loc[table["share"].notna()]
    width = 0.8 / len(scopes)
    # Plain matplotlib bars (as seaborn's dodged barplot draws them, at a fraction of the
    # time): category i at y = i, scope j in its own slot of the 0.8 band.
    for j, scope in enumerate(scopes):
        rows = shown[shown["scope"] == scope]
        if len(rows):
            y = [categories.index(c) - 0.4 + width * (j + 0.5) for c in rows["category"]]
            ax.barh(y, rows["share"].astype(float).to_numpy(), height=width,
                    color=palette[scope], label=scope)
    ax.set_yticks(range(len(categories)), labels=categories)
    ax.set_ylim(len(categories) - 0.5, -0.5)
    size = _label_size(ax)
    hidden_any = False
    for _, row in table.loc[table["share"].isna()].iterrows():
        shown_mark = "" if pd.isna(row["display"]) else str(row["display"])
        if shown_mark == "":  # a selection too small to be broken down: nothing at all
            continue
        mark = shown_mark if shown_mark == ".." or shown_mark.startswith("<") else ".."
        y = categories.index(row["category"]) - 0.4 + width * (scopes.index(row["scope"]) + 0.5)
        ax.text(0.003, y, mark, va="center", ha="left", fontsize=size, color="0.2")
        hidden_any = True
    ax.xaxis.set_major_formatter(lambda x, _pos: format_percent(x, 0, lang))
    ax.set_xlabel(phrase("plots", "bars", "share", lang))
    ax.set_ylabel("")
    if legend and (len(scopes) > 1 or len(shown) == 0):
        handles = [plt.Rectangle((0, 0), 1, 1, color=palette[s]) for s in scopes]
        ax.legend(handles, scopes, title=None, loc="lower right", fontsize=size)
    elif ax.get_legend() is not None:
        ax.get_legend().remove()
    return hidden_any


def chart_alt_text(report: str, name: str, lang: str = "sv", **fields) -> str:
    """The alternative text of a chart a report shows: what it shows, in words.

    Parameters
    ----------
    report : {"outcomes", "overview", "child_perspective"}
        The report (its catalog holds a section ``alt_texts``).
    name : str
        The chart: the name of the method or section that draws it (``"breakdown_plot"``,
        ``"target_groups"``, ``"heard_plot"`` ...).
    lang : {"sv", "en"}, default "sv"
    **fields
        Values of the text's ``{name}`` fields (``treated``, ``horizon``, ``min_children``
        ...).

    Returns
    -------
    str
        Plain text (no Markdown), for the ``alt`` attribute of the chart's image.

    Raises
    ------
    ParameterError
        If the report has no alternative text for ``name`` (the message lists those it has).

    Examples
    --------
    >>> chart_alt_text("outcomes", "journey_plot", "en")[:19]
    'Stacked area chart:'
    """
    texts = phrases(report, "alt_texts", lang)
    if name not in texts:
        raise ParameterError(f"Report {report!r} has no alternative text for {name!r}; "
                             f"charts: {', '.join(texts)}.")
    return texts[name].format(**fields) if fields else texts[name]
