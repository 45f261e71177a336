"""Incremental cost per avoided breakdown: an adjusted cost-effect model with a bootstrap.

:func:`incremental_cost_effect` estimates, with the same method, estimand and covariates
(:func:`evaluation.models.effects.estimate_effect`), the difference in cost per episode and
in breakdown risk between two interventions, their ratio (the ICER) and a percentile bootstrap
that refits both models in every replicate. :class:`CostEffectResult` keeps the replicates for
the cost-effectiveness plane and the acceptability curve.

The costs it compares come from :func:`evaluation.measures.costs.episode_costs` (care days
times the daily cost); this module only models them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from evaluation.checks import check_alpha, require_columns, require_dataframe
from evaluation.errors import (
    BootstrapError,
    BootstrapFailureWarning,
    EvaluationError,
    LevelError,
    ParameterError,
)
from evaluation.models.effects import estimate_effect
from evaluation.models.results import Result, package_versions

__all__ = ["MAX_BOOTSTRAP_FAILED", "CostEffectResult", "incremental_cost_effect"]


@dataclass
class CostEffectResult(Result):
    """Incremental cost and effect of ``treated`` against ``control``; see
    :func:`incremental_cost_effect`.

    Attributes
    ----------
    draws : pandas.DataFrame
        One row per bootstrap replicate: ``cost_difference``, ``risk_difference`` and
        ``avoided`` (avoided breakdowns per episode, ``-risk_difference``).
    """

    draws: pd.DataFrame = field(default_factory=pd.DataFrame)

    def ceac(self, willingness_to_pay: Sequence[float]) -> pd.DataFrame:
        """Cost-effectiveness acceptability curve.

        Parameters
        ----------
        willingness_to_pay : float or sequence of float
            Values (SEK) of one avoided breakdown, finite and non-negative.

        Returns
        -------
        pandas.DataFrame
            ``willingness_to_pay`` and ``probability_cost_effective``: the share of bootstrap
            replicates whose net monetary benefit ``wtp * avoided - cost_difference`` is
            positive.

        Raises
        ------
        ParameterError
            If a value is negative, missing or not finite.
        """
        wtp = np.atleast_1d(np.asarray(willingness_to_pay, dtype=float))
        bad = ~np.isfinite(wtp) | (wtp < 0)
        if wtp.ndim != 1 or bad.any():
            shown = wtp[bad][0] if bad.any() else willingness_to_pay
            raise ParameterError(f"willingness_to_pay must be finite values >= 0 (SEK per "
                                 f"avoided breakdown) in one dimension; got {shown!r}.")
        d = self.draws
        nmb = wtp[:, None] * d["avoided"].to_numpy()[None, :] - d["cost_difference"].to_numpy()
        return pd.DataFrame({"willingness_to_pay": wtp,
                             "probability_cost_effective": (nmb > 0).mean(axis=1)})

    def plot(self, ax=None, willingness_to_pay: float | None = None):
        """Cost-effectiveness plane: bootstrap replicates and the estimate; returns the Axes.

        The x axis is avoided breakdowns per 100 episodes, the y axis the extra cost per
        episode (SEK). With ``willingness_to_pay`` (SEK per avoided breakdown) the threshold
        line is drawn: points below it are cost-effective at that value.
        """
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        d = self.draws
        est = self.summary.set_index("measure")["estimate"]
        ax.scatter(100 * d["avoided"], d["cost_difference"], s=6, alpha=0.3,
                   label="bootstrap")
        ax.scatter([100 * est["avoided_breakdowns"]], [est["cost_difference"]], color="black",
                   zorder=3, label="estimate")
        ax.axhline(0, color="grey", linewidth=1)
        ax.axvline(0, color="grey", linewidth=1)
        if willingness_to_pay is not None:
            lim = np.array(ax.get_xlim())
            ax.plot(lim, willingness_to_pay * lim / 100, linestyle="--", color="tab:red",
                    label=f"{willingness_to_pay:,.0f} SEK per avoided breakdown")
        m = self.metadata
        ax.set_xlabel(f"avoided breakdowns per 100 episodes ({m['treated']} vs {m['control']})")
        ax.set_ylabel("extra cost per episode (SEK)")
        ax.legend(loc="best", fontsize="small")
        return ax


MAX_BOOTSTRAP_FAILED = 0.10
"""Largest share of bootstrap replicates that may fail before the bootstrap is refused."""


def _check_bootstrap_failures(n_failed: int, n_bootstrap: int, first_error: list[str]) -> None:
    """Warn when some bootstrap replicates failed; raise when more than 10 % did.

    Dropping failed replicates conditions the bootstrap on samples where the estimator works
    (e.g. both arms present), which narrows the interval a little: harmless when few fail,
    misleading when many do.
    """
    if not n_failed:
        return
    first = first_error[0] if first_error else "(no message)"
    share = n_failed / n_bootstrap
    if share > MAX_BOOTSTRAP_FAILED:
        raise BootstrapError(
            f"{n_failed} of {n_bootstrap} bootstrap replicates ({share:.0%}) could not be "
            f"estimated, more than the {MAX_BOOTSTRAP_FAILED:.0%} allowed; the arms are too "
            f"small for a bootstrap (merge levels, widen the period or use fewer covariates). "
            f"First error: {first}")
    warnings.warn(
        f"{n_failed} of {n_bootstrap} bootstrap replicates ({share:.1%}) could not be estimated "
        f"and were dropped; the interval uses the other {n_bootstrap - n_failed} "
        f"(metadata['bootstrap_failed']). First error: {first}", BootstrapFailureWarning,
        stacklevel=3)


def _effect_estimates(data: pd.DataFrame, treatment_col: str, cost_col: str, outcome_col: str,
                      covariates, treated, control, method: str, estimand: str,
                      alpha: float, cluster_col: str | None) -> tuple[pd.Series, pd.Series]:
    kw = {"method": method, "estimand": estimand, "treated": treated, "control": control,
          "alpha": alpha}
    if cluster_col is not None:
        kw["cluster_col"] = cluster_col
    cost = estimate_effect(data, treatment_col, cost_col, covariates, **kw).summary
    risk = estimate_effect(data, treatment_col, outcome_col, covariates, **kw).summary
    return (cost[cost["measure"] == "mean_difference"].iloc[0],
            risk[risk["measure"] == "risk_difference"].iloc[0])


def incremental_cost_effect(data: pd.DataFrame, treatment_col: str, cost_col: str,
                            outcome_col: str, covariates, treated, control,
                            method: str = "aipw", estimand: str = "ATE",
                            cluster_col: str | None = None, n_bootstrap: int = 500,
                            seed: int | None = None, alpha: float = 0.05) -> CostEffectResult:
    """Adjusted incremental cost per avoided breakdown of one intervention against another.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per episode with the treatment, the episode's cost, the breakdown indicator
        and the covariates (e.g. :func:`evaluation.measures.costs.episode_costs` joined with the
        outcome).
    treatment_col : str
        Column naming the intervention (e.g. ``placement_type``).
    cost_col : str
        Cost of the episode (SEK), e.g. ``cost_sek`` from
        :func:`evaluation.measures.costs.episode_costs` over a fixed
        horizon so that arms are costed over the same time.
    outcome_col : str
        0/1 (or boolean) breakdown indicator: 1 is the outcome to avoid.
    covariates : list of str or str
        Confounders, as for :func:`evaluation.models.effects.estimate_effect`.
    treated, control : str
        The two levels of ``treatment_col`` compared.
    method, estimand : str
        Passed to :func:`evaluation.models.effects.estimate_effect` (default doubly robust ATE).
    cluster_col : str, optional
        Bootstrap resamples these clusters (children) rather than rows.
    n_bootstrap : int, default 500
        Bootstrap replicates (at least 50).
    seed : int, optional
        Seed of the bootstrap; the same seed gives the same interval.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    CostEffectResult
        ``summary`` has one row per ``measure``: ``cost_difference`` (SEK per episode),
        ``risk_difference`` (breakdown risk, treated minus control), ``avoided_breakdowns``
        (per episode, minus the risk difference) and ``cost_per_avoided_breakdown`` (the
        ICER), with columns ``estimate, se, ci_lower, ci_upper, p_value, n``. Intervals and
        ``se`` are from the percentile bootstrap; ``p_value`` is the analytic one of
        ``estimate_effect`` (missing for the ICER). ``draws`` keeps the replicates for the
        cost-effectiveness plane (:meth:`CostEffectResult.plot`) and :meth:`~CostEffectResult.ceac`.
        ``metadata`` records ``n_bootstrap`` (asked for), ``n_bootstrap_used`` (estimated),
        ``bootstrap_failed`` (replicates that could not be estimated and were dropped) and
        ``bootstrap_first_error`` (the first failure's message, or None).

    Raises
    ------
    ParameterError
        Unknown columns or levels, a non-binary outcome, fewer than 50 replicates, or more
        than 10 % of the replicates failing (the message gives the first error).

    Warns
    -----
    BootstrapFailureWarning
        (a ``UserWarning``) when some replicates (at most 10 %) fail, e.g. a resample with no row of one arm or
        a model that does not converge: how many of how many, and the first error message.

    Notes
    -----
    * Cost and outcome are estimated with the same method, estimand and covariates; each
      bootstrap replicate refits both (propensity and outcome models), so the interval
      carries all the estimation uncertainty and the correlation between cost and effect.
    * A ratio has no useful interval when the effect may be zero: if the bootstrap interval
      of ``avoided_breakdowns`` contains 0, the ICER interval is left missing (the plane and
      the acceptability curve are the honest summaries then) and ``metadata["icer_note"]``
      says so. A negative ICER is not "cheap": it means one arm is both cheaper and better
      (``metadata["quadrant"]``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> n = 1500
    >>> x = rng.normal(size=n)
    >>> t = np.where(rng.random(n) < 1 / (1 + np.exp(-x)), "B", "A")
    >>> cost = 100_000 + 20_000 * x + 50_000 * (t == "B") + rng.normal(0, 10_000, n)
    >>> y = (rng.random(n) < 1 / (1 + np.exp(-(-1 + x - 0.6 * (t == "B"))))).astype(int)
    >>> d = pd.DataFrame({"t": t, "cost": cost, "y": y, "x": x})
    >>> r = incremental_cost_effect(d, "t", "cost", "y", ["x"], treated="B", control="A",
    ...                             n_bootstrap=50, seed=1)
    >>> bool(r.summary.set_index("measure").loc["cost_difference", "estimate"] > 40_000)
    True
    """
    require_dataframe(data)
    require_columns(data, {"treatment_col": treatment_col, "cost_col": cost_col,
                           "outcome_col": outcome_col, "cluster_col": cluster_col})
    check_alpha(alpha)
    levels = set(pd.Series(data[treatment_col]).dropna().unique())
    for name, lev in (("treated", treated), ("control", control)):
        if lev not in levels:
            raise LevelError(f"{name}={lev!r} is not a level of {treatment_col!r}; levels "
                             f"are {sorted(map(str, levels))}.", parameter=name, value=lev)
    y = pd.Series(data[outcome_col])
    if not y.dropna().isin([0, 1, True, False]).all():
        raise ParameterError(f"outcome_col {outcome_col!r} must be 0/1 or boolean (1 = the "
                             "breakdown to avoid).")
    if int(n_bootstrap) < 50:
        raise ParameterError(f"n_bootstrap must be at least 50, got {n_bootstrap!r}.",
                             parameter="n_bootstrap", value=n_bootstrap, minimum=50)
    sub = data[data[treatment_col].isin([treated, control])].reset_index(drop=True)
    args = (treatment_col, cost_col, outcome_col, covariates, treated, control, method,
            estimand, alpha, cluster_col)
    cost, risk = _effect_estimates(sub, *args)

    rng = np.random.default_rng(seed)
    if cluster_col is not None:
        codes, uniq = pd.factorize(sub[cluster_col])
        rows_of = pd.Series(np.arange(len(sub))).groupby(codes).apply(np.asarray).to_list()
        n_units = len(uniq)
    else:
        n_units = len(sub)
    draws, failed = [], []
    for _ in range(int(n_bootstrap)):
        pick = rng.integers(0, n_units, n_units)
        idx = (np.concatenate([rows_of[i] for i in pick]) if cluster_col is not None else pick)
        try:
            with warnings.catch_warnings():  # positivity warnings were given for the estimate
                warnings.simplefilter("ignore")
                c, r = _effect_estimates(sub.iloc[idx].reset_index(drop=True), *args)
        except EvaluationError as exc:  # a replicate without one arm or a non-converging model
            failed.append(f"{type(exc).__name__}: {exc}")
            continue
        draws.append((c["estimate"], r["estimate"]))
    _check_bootstrap_failures(len(failed), int(n_bootstrap), failed[:1])
    d = pd.DataFrame(draws, columns=["cost_difference", "risk_difference"])
    d["avoided"] = -d["risk_difference"]

    q = (alpha / 2, 1 - alpha / 2)
    icer = cost["estimate"] / -risk["estimate"] if risk["estimate"] != 0 else np.nan
    lo_av, hi_av = np.quantile(d["avoided"], q)
    icer_ci = (np.nan, np.nan)
    note = "the interval of avoided breakdowns contains 0: no interval for the ratio"
    if lo_av > 0 or hi_av < 0:
        icer_ci = tuple(np.quantile(d["cost_difference"] / d["avoided"], q))
        note = "percentile interval of the ratio (the effect interval excludes 0)"
    rows = []
    for measure, est, se_draws, pval in (
        ("cost_difference", cost["estimate"], d["cost_difference"], cost["p_value"]),
        ("risk_difference", risk["estimate"], d["risk_difference"], risk["p_value"]),
        ("avoided_breakdowns", -risk["estimate"], d["avoided"], risk["p_value"]),
    ):
        lo, hi = np.quantile(se_draws, q)
        rows.append((measure, est, float(np.std(se_draws, ddof=1)), lo, hi, pval))
    rows.append(("cost_per_avoided_breakdown", icer, np.nan, *icer_ci, np.nan))
    summary = pd.DataFrame(rows, columns=["measure", "estimate", "se", "ci_lower", "ci_upper",
                                          "p_value"])
    summary["n"] = len(sub)
    dc, av = cost["estimate"], -risk["estimate"]
    quadrant = ("more costly, fewer breakdowns" if dc >= 0 and av >= 0 else
                "less costly, fewer breakdowns (dominant)" if dc < 0 and av >= 0 else
                "more costly, more breakdowns (dominated)" if dc >= 0 else
                "less costly, more breakdowns")
    return CostEffectResult(
        summary=summary,
        draws=d,
        metadata={"method": f"incremental cost-effect ({method}, {estimand})", "alpha": alpha,
                  "n": len(sub), "treated": treated, "control": control,
                  "n_bootstrap": int(n_bootstrap), "n_bootstrap_used": len(d),
                  "bootstrap_failed": len(failed),
                  "bootstrap_first_error": failed[0] if failed else None, "seed": seed,
                  "cluster_col": cluster_col, "icer_note": note, "quadrant": quadrant,
                  "versions": package_versions("numpy", "pandas", "statsmodels")},
    )
