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
from evaluation.disclosure import DisclosurePolicy
from evaluation.errors import ParameterError
from evaluation.measures.intervals import poisson_rate_interval, wilson_interval
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
    "CARE_DAYS_PRECISION",
    "COST_PRECISION",
    "care_costs_display",
    "column_label",
    "cost_effect_display",
    "count_label",
    "measure_label",
    "measures_display",
    "ph_test_display",
    "published_measure_values",
    "ratio_display",
    "table_caption",
    "themes_display",
    "themes_scale_text",
]


def count_label(policy: DisclosurePolicy, count: float, lang: str = "sv") -> str:
    """A count as the report shows it: in publication mode the published count
    (:meth:`DisclosurePolicy.label`), in internal mode the exact number; with the language's
    thousands separator.

    Examples
    --------
    >>> count_label(DisclosurePolicy(mode="internal"), 3), count_label(DisclosurePolicy(), 3)
    ('3', '<5')
    >>> count_label(DisclosurePolicy(), 1234, "sv")
    '1\u00a0234'
    """
    if count is None or pd.isna(count):
        return ""
    shown = policy.label(count) if policy.publication else str(round(float(count)))
    return format_count(shown, lang)


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


def measures_display(table: pd.DataFrame, *, lang: str = "sv", threshold: int = 5,
                     policy: DisclosurePolicy | None = None) -> pd.DataFrame:
    """Outcome measures (rows of :mod:`evaluation.measures`) as a protected display table.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``measure, numerator, denominator, value, ci_lower, ci_upper`` and
        optionally ``age_group`` and ``horizon_days``.
    lang : {"sv", "en"}, default "sv"
        Language of the labels (the dictionary's measure labels) and numbers.
    threshold : int, default 5
        Smallest count shown (without ``policy``).
    policy : DisclosurePolicy, optional
        With a policy, ``numerator`` and ``denominator`` must already be *published* counts
        (:meth:`DisclosurePolicy.count` of the records of each cell) and the table must have
        a column ``children`` (published count of the distinct children behind the row):
        values and intervals are recomputed from the published counts by
        :func:`published_measure_values`, and each count is shown as published (no
        suppression pattern is needed: the perturbation never publishes 1 to
        ``threshold - 1``). Without a policy, the suppression rules below apply (kept for
        callers of the older interface).

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
    if policy is not None:
        pub = published_measure_values(table, policy)
        out = pd.DataFrame({column_label("measure", lang): label})
        out[column_label("value", lang)] = np.where(
            pub["shown"], pub["value"].map(lambda x: format_number(x, 3, lang)),
            disclosure.SECONDARY_MARK)
        out[column_label("ci", lang)] = np.where(
            pub["shown"], [format_interval(lo, hi, 3, lang)
                           for lo, hi in zip(pub["ci_lower"], pub["ci_upper"], strict=True)], "")
        out[column_label("denominator", lang)] = [
            format_integer(d, lang) if m == "placement_stability" else
            count_label(policy, d, lang)
            for m, d in zip(table["measure"].astype(str), pub["denominator"], strict=True)]
        return out
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


#: Care days (denominator of moves per 1,000 care days) are published rounded to this many
#: days in publication mode: a sum of days, not a count of children, but one child's days
#: should not be readable from two reports.
CARE_DAYS_ROUNDING = 100

#: Measures whose value is not a share numerator / denominator: a cumulative incidence
#: (a model estimate, shown as estimated) and a rate per 1,000 care days.
_MODEL_MEASURES = ("breakdown_risk",)
_RATE_MEASURES = ("placement_stability",)


def published_measure_values(table: pd.DataFrame, policy: DisclosurePolicy) -> pd.DataFrame:
    """Values and intervals of outcome measures recomputed from published counts.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows of :mod:`evaluation.measures` whose ``numerator`` and ``denominator`` are
        published counts (:meth:`DisclosurePolicy.count`), with a column ``children`` (the
        published count of the children behind the row). For ``placement_stability`` the
        denominator is care days (not a count: it is rounded to :data:`CARE_DAYS_ROUNDING`
        days in publication mode).
    policy : DisclosurePolicy

    Returns
    -------
    pandas.DataFrame
        ``numerator, denominator, value, ci_lower, ci_upper, shown`` in the order of
        ``table``. A share is the published numerator over the published denominator with
        the Wilson interval of those two counts, so inverting the interval gives back only
        the published counts; a rate per 1,000 care days is the published number of moves
        over the care days with its exact Poisson interval; ``breakdown_risk`` is an
        Aalen–Johansen estimate and keeps its model value and interval. ``shown`` is False
        where :meth:`DisclosurePolicy.allows_rate` refuses the row: fewer than
        ``min_children`` children, or fewer than ``min_events`` events or non-events
        (moves, for the rate).

    Examples
    --------
    >>> rows = pd.DataFrame({"measure": ["planned_ending_share"], "numerator": [150],
    ...                      "denominator": [207], "children": [190], "value": [0.7],
    ...                      "ci_lower": [0.6], "ci_upper": [0.8]})
    >>> r = published_measure_values(rows, DisclosurePolicy()).iloc[0]
    >>> round(float(r["value"]), 3), bool(r["shown"])
    (0.725, True)
    """
    t = table.reset_index(drop=True)
    measure = t["measure"].astype(str)
    num = t["numerator"].astype(float).to_numpy()
    den = t["denominator"].astype(float).to_numpy()
    kids = t["children"].astype(float).to_numpy()
    is_rate = measure.isin(_RATE_MEASURES).to_numpy()
    is_model = measure.isin(_MODEL_MEASURES).to_numpy()
    share_num = np.minimum(num, den)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(den > 0, share_num / den, np.nan)
    lo, hi = wilson_interval(share_num, np.where(den > 0, den, 1.0))
    lo, hi = np.where(den > 0, lo, np.nan), np.where(den > 0, hi, np.nan)
    if is_rate.any():
        days = den[is_rate]
        if policy.publication:
            days = np.round(days / CARE_DAYS_ROUNDING) * CARE_DAYS_ROUNDING
        den = den.copy()
        den[is_rate] = days
        safe = np.where(days > 0, days, 1.0)
        rlo, rhi = poisson_rate_interval(num[is_rate], safe)
        value[is_rate] = np.where(days > 0, 1000 * num[is_rate] / safe, np.nan)
        lo[is_rate] = np.where(days > 0, 1000 * np.asarray(rlo), np.nan)
        hi[is_rate] = np.where(days > 0, 1000 * np.asarray(rhi), np.nan)
    value = np.where(is_model, t["value"].to_numpy(dtype=float), value)
    lo = np.where(is_model, t["ci_lower"].to_numpy(dtype=float), lo)
    hi = np.where(is_model, t["ci_upper"].to_numpy(dtype=float), hi)
    shown = np.array([
        policy.allows_rate(k) and (
            (d > 0 and (not policy.publication or n >= policy.min_events)) if r
            else policy.allows_rate(d, n))
        for k, n, d, r in zip(kids, num, den, is_rate, strict=True)], dtype=bool)
    shown &= ~np.isnan(value)
    return pd.DataFrame({"numerator": num, "denominator": den, "value": value,
                         "ci_lower": lo, "ci_upper": hi, "shown": shown})


def themes_display(table: pd.DataFrame, *, lang: str = "sv", threshold: int = 5,
                   policy: DisclosurePolicy | None = None) -> pd.DataFrame:
    """Mean of the child's own ratings (1-5) per theme
    (:func:`evaluation.measures.child_rated_themes`), protected.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``theme, value, ci_lower, ci_upper, denominator``.
    lang : {"sv", "en"}, default "sv"
    threshold : int, default 5
        Smallest count shown (without ``policy``).
    policy : DisclosurePolicy, optional
        With a policy, ``denominator`` is the published count of ratings and the table has
        a column ``children`` (published count of the children who rated): mean and
        interval are shown only where :meth:`DisclosurePolicy.allows_rate` allows
        ``children`` (and the ratings), and n is the published count.

    Returns
    -------
    pandas.DataFrame
        Columns theme (the dictionary's label without "Barnets betyg: "), value, CI and n;
        value and CI are empty for themes rated by fewer than 10 children, and n is a
        protected count.
    """
    if policy is not None:
        small = ~np.array([policy.allows_rate(k) and policy.allows_rate(d) for k, d in
                           zip(table["children"], table["denominator"], strict=True)])
        n = table["denominator"].map(lambda v: count_label(policy, v, lang))
    else:
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
        "n": list(n) if policy is not None else [format_count(v, lang) for v in n],
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


#: Publication mode rounds care days to this many days and costs to this many SEK (the
#: cost per day to 10 SEK, per placement and per child to 1,000 SEK).
CARE_DAYS_PRECISION = 100
COST_PRECISION = 100_000


def care_costs_display(table: pd.DataFrame, *, lang: str = "sv", threshold: int = 5,
                       policy: DisclosurePolicy | None = None) -> pd.DataFrame:
    """Care days and costs by placement type (:func:`evaluation.measures.costs.care_costs`),
    protected.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``placement_type, episodes, children, care_days, cost_per_day,
        cost_per_episode, cost_per_child, cost_sek``.
    lang : {"sv", "en"}, default "sv"
    threshold : int, default 5
        Smallest count shown (without ``policy``).
    policy : DisclosurePolicy, optional
        With a policy, ``episodes`` and ``children`` must be *published* counts: they are
        shown as published, the costs per placement and per child are the cost over those
        published counts, and every cost of a row is hidden ("..") where
        :meth:`DisclosurePolicy.allows_rate` refuses its children. In publication mode care
        days are rounded to :data:`CARE_DAYS_PRECISION` days and the total cost to
        :data:`COST_PRECISION` SEK before anything is derived from them.

    Returns
    -------
    pandas.DataFrame
        The columns as strings (costs in SEK, the total in SEK million); the placement type
        is the dictionary's label in ``lang`` (``Familjehem``/``Family home``, not ``FH``).

    Notes
    -----
    Counts of placements and children are protected with secondary suppression (the total
    may be known from elsewhere). Every cost figure of a row with a hidden count, or with
    fewer than 10 placements, is hidden too: cost divided by cost per placement (or per
    child) would give the count back.
    """
    t = table
    if policy is not None:
        t = t.copy()
        counts = pd.DataFrame({c: t[c].map(lambda v: count_label(policy, v, lang))
                               for c in ("episodes", "children")})
        hide = ~np.array([policy.allows_rate(k) and policy.allows_rate(e) for k, e in
                          zip(t["children"], t["episodes"], strict=True)])
        if policy.publication:  # sums of days and money are rounded (docs/disclosure.*.md):
            # exact day sums of two periods a month apart would bound the placements active
            # in between
            t["care_days"] = (t["care_days"] / CARE_DAYS_PRECISION).round() * CARE_DAYS_PRECISION
            t["cost_sek"] = (t["cost_sek"] / COST_PRECISION).round() * COST_PRECISION
            t["cost_per_day"] = (t["cost_per_day"] / 10).round() * 10
        with np.errstate(divide="ignore", invalid="ignore"):
            t["cost_per_episode"] = t["cost_sek"] / t["episodes"].where(t["episodes"] > 0)
            t["cost_per_child"] = t["cost_sek"] / t["children"].where(t["children"] > 0)
        if policy.publication:
            for c in ("cost_per_episode", "cost_per_child"):
                t[c] = (t[c] / 1000).round() * 1000
    else:
        prot = disclosure.protect_counts(t[["episodes", "children"]].astype("int64"),
                                         threshold=threshold)
        counts = prot.to_display()
        hide = (t["episodes"] < 10).to_numpy() | prot.suppressed.any(axis=1).to_numpy()
    kind = load_dictionary().column("episodes", "placement_type")
    out = pd.DataFrame({column_label("placement_type", lang): [
        kind.code_label(str(c), lang) for c in t["placement_type"]]})
    for c in ("episodes", "children"):
        out[column_label(c, lang)] = (list(counts[c]) if policy is not None
                                      else [format_count(v, lang) for v in counts[c]])
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


def table_caption(report: str, name: str, lang: str = "sv", **fields) -> str:
    """The caption of a table a report shows: what it shows and how to read it.

    Parameters
    ----------
    report : {"outcomes", "overview", "child_perspective"}
        The report (its catalog holds a section ``captions``).
    name : str
        The table: the name of the method or section that makes it (``"cox_table"``,
        ``"target_groups"``, ``"heard_table"`` ...).
    lang : {"sv", "en"}, default "sv"
    **fields
        Values of the caption's ``{name}`` fields (``treated``, ``control``, ``horizon``,
        ``min_children`` ...), as the report's own ``caption`` method passes them.

    Returns
    -------
    str
        Markdown (one or two sentences, in italics where the report prints it).

    Raises
    ------
    ParameterError
        If the report has no caption for ``name`` (the message lists those it has).

    Examples
    --------
    >>> table_caption("outcomes", "ph_table", "en")[:30]
    'Test of proportional hazards ('
    """
    texts = phrases(report, "captions", lang)
    if name not in texts:
        raise ParameterError(f"Report {report!r} has no caption for {name!r}; captions: "
                             f"{', '.join(texts)}.")
    return texts[name].format(**fields) if fields else texts[name]


def themes_scale_text(lang: str = "sv") -> str:
    """One sentence explaining the scale of the children's theme ratings, from the
    dictionary's ``scales.themes`` (its anchors and direction).

    Examples
    --------
    >>> themes_scale_text("en")
    'Scale: 1 = very poor, 3 = neither good nor poor, 5 = very good; a higher value is better. The value shown is the mean of the ratings given (3 is the middle of the scale).'
    """
    scale = load_dictionary().scale("themes")
    anchors = ", ".join(f"{a['value']} = {a[lang]}" for a in scale["anchors"])
    middle = format_number((scale["min"] + scale["max"]) / 2, None, lang)
    key = "scale_higher_better" if scale.get("higher_is_better", True) else "scale"
    return phrase("terms", "scales", key, lang, anchors=anchors, middle=middle)
