"""Display tables of the outcomes report: model and measure results as protected strings.

Each function takes a numeric result (a frame of :mod:`evaluation.measures`, a model summary)
and returns the table a report prints: headed in the report's language (``catalogs/
outcomes.yaml``), numbers written by :mod:`evaluation.reporting.text`, and every count, share
or cost that could reveal a small count hidden (:mod:`evaluation.disclosure`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation import disclosure
from evaluation.data.dictionary import load_dictionary
from evaluation.reporting.text import (
    format_count,
    format_integer,
    format_interval,
    format_number,
    format_p_value,
    phrase,
    phrases,
    term_label,
)

__all__ = [
    "care_costs_display",
    "column_label",
    "cost_effect_display",
    "measure_label",
    "measures_display",
    "ph_test_display",
    "ratio_display",
    "themes_display",
]


def column_label(key: str, lang: str = "sv") -> str:
    """Heading of column ``key`` in ``lang`` (section ``columns`` of ``outcomes.yaml``).

    Parameters
    ----------
    key : str
        Column name of a result (``ci``, ``estimate``, ``n`` ...).
    lang : {"sv", "en"}, default "sv"
        Language.

    Returns
    -------
    str
        The heading; a key without one is returned unchanged.

    Examples
    --------
    >>> column_label("ci", "sv"), column_label("ci", "en"), column_label("n", "en")
    ('95 % KI', '95% CI', 'Placements')
    """
    return phrases("outcomes", "columns", lang).get(key, key)


def measure_label(measure: str, lang: str = "sv", horizon: int = 365) -> str:
    """Label of an effect or cost measure (section ``measures`` of ``outcomes.yaml``).

    Parameters
    ----------
    measure : str
        ``risk_difference``, ``risk_ratio``, ``cost_difference``, ... (unknown names are
        returned unchanged).
    lang : {"sv", "en"}, default "sv"
        Language.
    horizon : int, default 365
        Days of follow-up named in cost labels.

    Returns
    -------
    str

    Examples
    --------
    >>> measure_label("cost_difference", "en", horizon=365)
    'extra cost per placement (SEK, first 365 days)'
    """
    return phrases("outcomes", "measures", lang).get(measure, measure).format(horizon=horizon)


def measures_display(table: pd.DataFrame, *, lang: str = "sv", threshold: int = 5
                     ) -> pd.DataFrame:
    """Outcome measures (rows of :mod:`evaluation.measures`) as a protected display table.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``measure, numerator, denominator, value, ci_lower, ci_upper`` and
        optionally ``age_group`` and ``horizon_days``.
    lang : {"sv", "en"}, default "sv"
        Language of the labels (the dictionary's measure labels) and numbers.
    threshold : int, default 5
        Smallest count shown.

    Returns
    -------
    pandas.DataFrame
        Columns measure (label), value, CI and denominator, headed and written in ``lang``.

    Notes
    -----
    A share is hidden ("..") on a small denominator or a small count or complement
    (:func:`evaluation.disclosure.protect_rates`). Moves per 1,000 care days
    (``placement_stability``) have care days as denominator, so the share rules do not
    apply, but rate x days gives the number of moves back: the rate is hidden when that
    number is small. Denominators get secondary suppression within each measure: the
    age-group rows of one measure add up to a total shown elsewhere in the report.

    Examples
    --------
    >>> rows = pd.DataFrame({"measure": ["planned_ending_share"], "numerator": [150],
    ...                      "denominator": [207], "value": [150 / 207],
    ...                      "ci_lower": [0.66], "ci_upper": [0.78]})
    >>> measures_display(rows, lang="en").iloc[0, 1:].tolist()
    ['0.725', '(0.660, 0.780)', '207']
    """
    labels = {m["name"]: m["label"][lang] for m in load_dictionary().measures}
    label = table["measure"].map(lambda m: labels.get(m, m))
    if "horizon_days" in table.columns:
        days = table["horizon_days"]
        label = label.where(days.isna(), label.str.replace(
            r" (inom|within) 12 (och|and) 24 (månader|months)", "", regex=True))
        years = phrase("outcomes", "labels", "years_unit", lang)
        label = label + np.where(days.notna(), ", " + (days.fillna(0) // 365).astype(int)
                                 .astype(str) + years, "")
    if "age_group" in table.columns:
        # Rows without an age group: ages outside 0-20 at ending (by birth year a few
        # endings get age 21) or an unknown birth year (see measures.re_referral_12m).
        other = phrase("outcomes", "labels", "age_unknown", lang)
        has_age = table["measure"].isin(table.loc[table["age_group"].notna(), "measure"])
        label = label + np.where(table["age_group"].notna(),
                                 " (" + table["age_group"].astype(str) + ")",
                                 np.where(has_age, other, ""))
    # (long_term_stability is a share of children and follows the share rules.)
    is_rate = (table["measure"].astype(str) == "placement_stability").to_numpy()
    num = table["numerator"].round().to_numpy()
    small_num = (num >= 1) & (num < threshold)
    den = table["denominator"].round()
    shown = disclosure.protect_rates(table["numerator"].round().clip(upper=den), den,
                                     threshold=threshold)
    hidden = np.where(is_rate, small_num, shown.isna().to_numpy())
    out = pd.DataFrame({column_label("measure", lang): label})
    out[column_label("value", lang)] = np.where(
        hidden, disclosure.SECONDARY_MARK, table["value"].map(lambda x: format_number(x, 3, lang)))
    out[column_label("ci", lang)] = np.where(
        hidden, "", [format_interval(lo, hi, 3, lang)
                     for lo, hi in zip(table["ci_lower"], table["ci_upper"], strict=True)])
    out[column_label("denominator", lang)] = _protect_denominators(table, lang, threshold)
    return out


def themes_display(table: pd.DataFrame, *, lang: str = "sv", threshold: int = 5
                   ) -> pd.DataFrame:
    """Mean of the child's own ratings (1-5) per theme
    (:func:`evaluation.measures.child_rated_themes`), protected.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``theme, value, ci_lower, ci_upper, denominator``.
    lang : {"sv", "en"}, default "sv"
    threshold : int, default 5
        Smallest count shown.

    Returns
    -------
    pandas.DataFrame
        Columns theme (the dictionary's label without "Barnets betyg: "), value, CI and n;
        value and CI are empty for themes rated by fewer than 10 children, and n is a
        protected count.
    """
    small = (table["denominator"] < 10).to_numpy()
    n = disclosure.protect_counts(table[["denominator"]].astype("int64"),
                                  threshold=threshold).to_display()["denominator"]
    names = {k: c.label[lang] for k, c in load_dictionary().table("followups").items()}
    prefix = phrase("outcomes", "labels", "rating_prefix", lang)
    theme = table["theme"].map(lambda c: names.get(c, c).replace(prefix, ""))
    ci = [format_interval(lo, hi, 2, lang)
          for lo, hi in zip(table["ci_lower"], table["ci_upper"], strict=True)]
    return pd.DataFrame({
        column_label("theme", lang): theme.str.replace("theme_", "", regex=False),
        column_label("value", lang): np.where(
            small, "", table["value"].map(lambda x: format_number(x, 2, lang))),
        column_label("ci", lang): np.where(small, "", ci),
        "n": [format_count(v, lang) for v in n],
    })


def _protect_denominators(table: pd.DataFrame, lang: str, threshold: int) -> np.ndarray:
    """Denominators as display strings, each measure's rows protected as one column whose
    total is public (secondary suppression)."""
    shown = np.empty(len(table), dtype=object)
    den = table["denominator"].round().astype("int64").reset_index(drop=True)
    measure = table["measure"].astype(str).to_numpy()
    for name in pd.unique(measure):
        rows = np.flatnonzero(measure == name)
        col = pd.DataFrame({"denominator": den.iloc[rows].to_numpy()})
        disp = disclosure.protect_counts(col, threshold=threshold).to_display()
        shown[rows] = [format_count(v, lang) for v in disp["denominator"]]
    return shown


def ratio_display(summary: pd.DataFrame, *, lang: str = "sv") -> pd.DataFrame:
    """Hazard ratios (``exp`` of a Cox or Fine–Gray summary) with 95% CIs and p-values.

    Parameters
    ----------
    summary : pandas.DataFrame
        A model summary indexed by term, with ``estimate, ci_lower, ci_upper, p_value`` on
        the log scale.
    lang : {"sv", "en"}, default "sv"

    Returns
    -------
    pandas.DataFrame
        Columns term (readable label), ratio, CI and p-value, as strings.
    """
    s = summary.reset_index()
    term = s.columns[0]
    return pd.DataFrame({
        column_label("term", lang): s[term].map(lambda t: term_label(t, lang)),
        column_label("exp_estimate", lang): np.exp(s["estimate"]).map(
            lambda x: format_number(x, 2, lang)),
        column_label("ci", lang): [format_interval(lo, hi, 2, lang) for lo, hi in
                                   zip(np.exp(s["ci_lower"]), np.exp(s["ci_upper"]),
                                       strict=True)],
        column_label("p_value", lang): s["p_value"].map(lambda x: format_p_value(x, lang)),
    })


def ph_test_display(summary: pd.DataFrame, *, lang: str = "sv") -> pd.DataFrame:
    """The proportional-hazards test per term and globally, as strings.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``ph_test().summary`` of a Cox model (indexed by term, with ``statistic, df,
        p_value``).
    lang : {"sv", "en"}, default "sv"

    Returns
    -------
    pandas.DataFrame
        Columns term, statistic, df and p-value.
    """
    ph = summary.reset_index()
    term = ph.columns[0]
    return pd.DataFrame({
        column_label("term", lang): ph[term].map(lambda t: term_label(t, lang)),
        column_label("statistic", lang): ph["statistic"].map(lambda x: format_number(x, 2, lang)),
        column_label("df", lang): ph["df"].map(lambda x: format_number(x, 0, lang)),
        column_label("p_value", lang): ph["p_value"].map(lambda x: format_p_value(x, lang)),
    })


def care_costs_display(table: pd.DataFrame, *, lang: str = "sv", threshold: int = 5
                       ) -> pd.DataFrame:
    """Care days and costs by placement type (:func:`evaluation.measures.costs.care_costs`),
    protected.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``placement_type, episodes, children, care_days, cost_per_day,
        cost_per_episode, cost_per_child, cost_sek``.
    lang : {"sv", "en"}, default "sv"
    threshold : int, default 5
        Smallest count shown.

    Returns
    -------
    pandas.DataFrame
        The columns as strings (costs in SEK, the total in SEK million).

    Notes
    -----
    Counts of placements and children are protected with secondary suppression (the total
    may be known from elsewhere). Every cost figure of a row with a hidden count, or with
    fewer than 10 placements, is hidden too: cost divided by cost per placement (or per
    child) would give the count back.
    """
    t = table
    prot = disclosure.protect_counts(t[["episodes", "children"]].astype("int64"),
                                     threshold=threshold)
    counts = prot.to_display()
    hide = (t["episodes"] < 10).to_numpy() | prot.suppressed.any(axis=1).to_numpy()
    out = pd.DataFrame({column_label("placement_type", lang): t["placement_type"].to_numpy()})
    for c in ("episodes", "children"):
        out[column_label(c, lang)] = [format_count(v, lang) for v in counts[c]]
    for c in ("care_days", "cost_per_day", "cost_per_episode", "cost_per_child"):
        out[column_label(c, lang)] = np.where(hide, disclosure.SECONDARY_MARK,
                                              t[c].map(lambda x: format_integer(x, lang)))
    out[column_label("cost_msek", lang)] = np.where(
        hide, disclosure.SECONDARY_MARK,
        (t["cost_sek"] / 1e6).map(lambda x: format_number(x, 1, lang)))
    return out


def cost_effect_display(result, *, lang: str = "sv", horizon: int = 365) -> pd.DataFrame:
    """The summary of an incremental cost effect as strings.

    Parameters
    ----------
    result
        Output of :func:`evaluation.measures.costs.incremental_cost_effect` (``summary``
        with ``measure, estimate, ci_lower, ci_upper``; ``metadata["quadrant"]``).
    lang : {"sv", "en"}, default "sv"
    horizon : int, default 365
        Days the costs cover (named in the labels).

    Returns
    -------
    pandas.DataFrame
        Columns measure, estimate and CI. Money is in whole SEK with thousands separators.
        The ratio (cost per avoided breakdown) is shown only when the estimate lies in the
        quadrant "more costly, fewer breakdowns" ("–" elsewhere, where a negative ratio has
        no meaning as a price of an avoided breakdown).
    """
    meaningful = result.metadata["quadrant"] == "more costly, fewer breakdowns"
    rows = []
    for _, r in result.summary.iterrows():
        m = r["measure"]
        if m == "cost_per_avoided_breakdown" and not meaningful:
            est = ci = "–"
        elif m in ("cost_difference", "cost_per_avoided_breakdown"):  # money
            est = format_integer(r["estimate"], lang)
            ci = ("" if pd.isna(r["ci_lower"])
                  else format_interval(r["ci_lower"], r["ci_upper"], None, lang))
        else:
            est = format_number(r["estimate"], 3, lang)
            ci = format_interval(r["ci_lower"], r["ci_upper"], 3, lang)
        rows.append({column_label("measure", lang): measure_label(m, lang, horizon),
                     column_label("estimate", lang): est, column_label("ci", lang): ci})
    return pd.DataFrame(rows)
