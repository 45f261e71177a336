"""The table of a fair comparison of units, as strings with disclosure control, in the report's
language: what a report prints of a :class:`~evaluation.models.comparison.ComparisonResult`.

The model (:func:`evaluation.models.risk_standardised`) takes no language; the flag labels in
Swedish and English live here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.checks import check_language
from evaluation.disclosure import DisclosurePolicy, protect_rates
from evaluation.errors import ParameterError
from evaluation.models.comparison import ComparisonResult
from evaluation.reporting.text import phrases

__all__ = ["comparison_display"]

def comparison_display(result: ComparisonResult, *, lang: str = "sv", decimals: int = 3,
                       threshold: int = 5, min_denominator: int = 10,
                       policy: DisclosurePolicy | None = None,
                       counts: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-unit table of a comparison as strings with disclosure control (for reports).

    Parameters
    ----------
    result : ComparisonResult
        A fit of :func:`evaluation.models.risk_standardised`.
    lang : {'sv', 'en'}, default 'sv'
        Language of the flags (``bättre / ingen skillnad / sämre``).
    decimals : int, default 3
        Decimals of rates and ratios (expected and predicted events get 1).
    threshold : int, default 5
        Counts 1 to ``threshold - 1`` of ``n``, ``observed`` and the non-events
        ``n - observed`` are suppressed (shown as ``"<threshold"``), with secondary
        suppression (``".."``) so that no hidden count follows from the others
        (:func:`evaluation.disclosure.protect_counts` on the table observed,
        not observed, n with n as row total); the crude rate follows
        :func:`evaluation.disclosure.protect_rates`.
    min_denominator : int, default 10
        Units with fewer episodes show no rates at all (crude or model-based) and no
        expected or predicted events; their flag is still shown. Wherever the observed
        count is hidden, so are the predicted events, the risk-standardised rate and its
        interval (the unit's estimated effect is a monotone function of its count, so they
        would reveal it); the expected events depend on case mix only and stay.

    Returns
    -------
    pandas.DataFrame
        Columns ``unit, n, observed, observed_rate, expected, predicted, rsr, ci_lower,
        ci_upper, flag``, all strings; suppressed cells are ``"<5"``, ``".."`` or ``""``.

    Raises
    ------
    ParameterError
        If ``lang`` is not ``"sv"`` or ``"en"``.

    Examples
    --------
    >>> s = pd.DataFrame({"unit": ["A", "B"], "n": [40, 60], "observed": [12, 15],
    ...                   "expected": [10.0, 16.0], "predicted": [11.0, 15.5],
    ...                   "rsr": [0.27, 0.24], "ci_lower": [0.2, 0.18], "ci_upper": [0.35, 0.3],
    ...                   "flag": ["no different", "better"]})
    >>> s["observed_rate"] = s["observed"] / s["n"]
    >>> comparison_display(ComparisonResult(summary=s, metadata={}))["flag"].tolist()
    ['ingen skillnad', 'bättre']
    """
    check_language(lang)
    flags = phrases("terms", "flags", lang)
    s = result.summary
    if policy is not None:
        return _published_display(s, flags, decimals, policy, counts)
    shown_n, shown_obs, small, hidden = result.disclosure_masks(threshold, min_denominator)
    rate = protect_rates(s["observed"].reset_index(drop=True),
                         s["n"].reset_index(drop=True), min_denominator=min_denominator,
                         threshold=threshold)

    def fmt(values: pd.Series, digits: int, mask: np.ndarray = small) -> list[str]:
        return ["" if hide or pd.isna(v) else f"{v:.{digits}f}"
                for v, hide in zip(values.to_numpy(), mask, strict=True)]

    return pd.DataFrame({
        "unit": s["unit"].astype(str).to_numpy(),
        "n": shown_n.to_numpy(), "observed": shown_obs.to_numpy(),
        "observed_rate": ["" if pd.isna(v) else f"{v:.{decimals}f}" for v in rate],
        "expected": fmt(s["expected"], 1), "predicted": fmt(s["predicted"], 1, hidden),
        "rsr": fmt(s["rsr"], decimals, hidden),
        "ci_lower": fmt(s["ci_lower"], decimals, hidden),
        "ci_upper": fmt(s["ci_upper"], decimals, hidden),
        "flag": [flags[str(f)] for f in s["flag"]],
    })


def _label(policy: DisclosurePolicy, count: float) -> str:
    """The published count as text (exact in internal mode)."""
    return policy.label(count) if policy.publication else str(round(float(count)))


def _published_display(s: pd.DataFrame, flags: dict, decimals: int, policy: DisclosurePolicy,
                       counts: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`comparison_display` with a disclosure policy (published counts)."""
    units = s["unit"].astype(str)
    if counts is None:
        if policy.publication:
            raise ParameterError("comparison_display in publication mode needs the published "
                                 "counts per unit (counts=...).")
        counts = pd.DataFrame({"n": s["n"].to_numpy(), "observed": s["observed"].to_numpy(),
                               "children": s["n"].to_numpy()}, index=units)
    c = counts.copy()
    c.index = c.index.astype(str)
    c = c.reindex(units.to_numpy()).fillna(0)
    n, obs, kids = (c[k].to_numpy(dtype=float) for k in ("n", "observed", "children"))
    allowed = np.array([policy.allows_rate(k) and policy.allows_rate(m, o)
                        for k, m, o in zip(kids, n, obs, strict=True)], dtype=bool)
    hidden = ~allowed

    def fmt(values, digits: int) -> list[str]:
        return ["" if hide or pd.isna(v) else f"{v:.{digits}f}"
                for v, hide in zip(np.asarray(values, dtype=float), hidden, strict=True)]

    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, obs / n, np.nan)
    return pd.DataFrame({
        "unit": units.to_numpy(),
        "n": [_label(policy, v) for v in n], "observed": [_label(policy, v) for v in obs],
        "observed_rate": fmt(rate, decimals),
        "expected": fmt(s["expected"], 1), "predicted": fmt(s["predicted"], 1),
        "rsr": fmt(s["rsr"], decimals),
        "ci_lower": fmt(s["ci_lower"], decimals),
        "ci_upper": fmt(s["ci_upper"], decimals),
        "flag": [flags[str(f)] for f in s["flag"]],
    })
