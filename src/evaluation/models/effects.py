"""Intervention effects from observational data: naive comparison, regression
(g-computation), inverse probability weighting (Hajek) and augmented IPW (doubly robust),
for the ATE, ATT and ATO (overlap weights), with influence-function standard errors,
balance and overlap diagnostics and E-values.

The one public entry point is :func:`estimate_effect`, which returns an :class:`EffectResult`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import (
    check_alpha,
    check_option,
    check_weights,
    require_complete_columns,
    require_dataframe,
)
from evaluation.errors import (
    BootstrapFailureWarning,
    ConstantCovariateWarning,
    ConvergenceError,
    LevelError,
    ParameterError,
)
from evaluation.models.effects_core import (
    SMD_THRESHOLD,
    arm_means,
    balance_table,
    bootstrap_init,
    bootstrap_replicate,
    effect_design,
    if_covariance,
    is_binary,
    positivity_warnings,
    treatment_levels,
    weighted_var,
)
from evaluation.models.results import Result, package_versions

__all__ = ["EffectResult", "estimate_effect"]

METHODS = ("naive", "regression", "ipw", "aipw")
ESTIMANDS = ("ATE", "ATT", "ATO")
CONTRASTS = ("control", "all")

_METHOD_NAMES = {
    "naive": "naive difference of observed means",
    "regression": "regression standardisation (g-computation)",
    "ipw": "inverse probability weighting (Hajek, normalised weights)",
    "aipw": "augmented inverse probability weighting (doubly robust)",
}


# --------------------------------------------------------------------------- result
@dataclass
class EffectResult(Result):
    """Estimated intervention effects; see :func:`estimate_effect` for every column.

    Attributes
    ----------
    summary : pandas.DataFrame
        One row per contrast and measure (``contrast``, ``measure``, ``estimate``, ``se``,
        ``ci_lower``, ``ci_upper``, ``p_value``, ``n``).
    arms : pandas.DataFrame
        Potential-outcome mean (risk) per arm in the target population.
    balance : pandas.DataFrame
        Standardised mean differences before and after weighting, per contrast and
        covariate (design column).
    ess : pandas.Series
        Effective sample size of the balancing weights per arm (Kish).
    propensity_ : numpy.ndarray
        Estimated generalised propensity scores (rows x arms, arms in ``arms`` order), before
        truncation.
    weights_ : numpy.ndarray
        Balancing weight of each row for its own arm (after truncation), times the row's
        sampling weight when ``weights_col`` is given.
    influence_ : numpy.ndarray
        Influence-function values of the arm means (rows x arms), scaled so that
        var = sum(phi**2) / n**2 (summed within clusters first when clustered).
    """

    arms: pd.DataFrame = field(default_factory=pd.DataFrame)
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    ess: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    propensity_: np.ndarray | None = None
    weights_: np.ndarray | None = None
    influence_: np.ndarray | None = None
    treatment_: np.ndarray | None = None
    bootstrap_: pd.DataFrame | None = None

    # ------------------------------------------------------------------ renderings
    def plot(self, ax=None, measure: str | None = None):
        """Forest plot of the contrasts for one measure (default: the first) with CIs.

        Risk ratios are drawn on a log axis with a reference line at 1, differences with a
        reference line at 0. Returns the Axes.
        """
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        s = self.summary
        measure = measure if measure is not None else str(s["measure"].iloc[0])
        if measure not in set(s["measure"]):
            raise ParameterError(f"measure={measure!r} is not in the summary; choose one of "
                                 f"{sorted(set(s['measure']))}.")
        s = s[s["measure"] == measure]
        y = np.arange(len(s))[::-1]
        est = s["estimate"].to_numpy()
        lo, hi = s["ci_lower"].to_numpy(), s["ci_upper"].to_numpy()
        ax.errorbar(est, y, xerr=[est - lo, hi - est], fmt="o", capsize=3)
        ratio = measure == "risk_ratio"
        ax.axvline(1.0 if ratio else 0.0, color="grey", linestyle="--", linewidth=1)
        if ratio:
            from matplotlib.ticker import NullFormatter, ScalarFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_yticks(y)
        ax.set_yticklabels(s["contrast"].astype(str).tolist())
        ax.set_ylim(-0.6, len(s) - 0.4)
        ax.set_xlabel(f"{measure.replace('_', ' ')} ({self.metadata.get('estimand', '')}, "
                      f"{1 - self.metadata.get('alpha', 0.05):.0%} CI)")
        return ax

    def love_plot(self, ax=None, contrast: str | None = None):
        """Love plot: absolute SMD per covariate before and after weighting, with the 0.1
        threshold. ``contrast`` picks one contrast (default: the first). Returns the Axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        b = self.balance
        contrast = contrast if contrast is not None else str(b["contrast"].iloc[0])
        b = b[b["contrast"] == contrast]
        y = np.arange(len(b))[::-1]
        ax.scatter(b["smd_unadjusted"].abs(), y, marker="o", facecolors="none",
                   edgecolors="C0", label="unadjusted")
        ax.scatter(b["smd_adjusted"].abs(), y, marker="o", color="C1", label="weighted")
        ax.axvline(SMD_THRESHOLD, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(y)
        ax.set_yticklabels(b["covariate"].tolist())
        ax.set_xlabel("absolute standardised mean difference")
        ax.set_title(contrast)
        ax.legend()
        return ax

    def overlap_plot(self, ax=None, level: Any = None, bins: int = 40):
        """Distributions of the propensity score P(A = level | X) by observed arm.

        ``level`` defaults to the first non-control arm. Returns the Axes.
        """
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        labels = [str(v) for v in self.arms["arm"]]
        level = labels[1] if level is None else str(level)
        if level not in labels:
            raise ParameterError(f"level={level!r} is not an arm; arms are {labels}.")
        k = labels.index(level)
        ps = self.propensity_[:, k]
        edges = np.linspace(0, 1, bins + 1)
        for j, lab in enumerate(labels):
            ax.hist(ps[self.treatment_ == j], bins=edges, density=True, alpha=0.5,
                    label=f"{lab}")
        ax.set_xlabel(f"propensity score P(treatment = {level} | covariates)")
        ax.set_ylabel("density")
        ax.legend(title="observed arm")
        return ax

    def e_value(self) -> pd.DataFrame:
        """E-values (VanderWeele & Ding 2017) for each row of ``summary``.

        Returns
        -------
        pandas.DataFrame
            ``contrast``, ``measure``, ``rr`` (the estimate as a risk ratio), ``rr_limit``
            (the CI limit nearest the null, as a risk ratio), ``e_value`` (for the estimate)
            and ``e_value_ci`` (for that limit; 1 if the CI includes the null).

        Notes
        -----
        E = RR + sqrt(RR (RR - 1)) for RR >= 1, and the same for 1/RR when RR < 1.
        Risk ratios are used as they are. A risk difference is converted to a risk ratio
        through the arms' risks, holding the control arm's risk p0 fixed:
        RR = (p0 + RD) / p0 for the estimate and for the CI limit (so the point E-value equals
        that of the risk ratio). A mean difference d is standardised by the pooled
        within-arm SD of the outcome and converted with RR ~ exp(0.91 d) (VanderWeele & Ding's
        approximation for continuous outcomes).
        """
        rows = []
        arm_mu = dict(zip(self.arms["arm"].astype(str), self.arms["estimate"]))
        sd = self.metadata.get("outcome_sd_pooled", {})
        controls = {c["contrast"]: c["control"] for c in self.metadata.get("contrasts", [])}
        for _, r in self.summary.iterrows():
            control = controls[r["contrast"]]
            est, lo, hi = r["estimate"], r["ci_lower"], r["ci_upper"]
            if r["measure"] == "risk_ratio":
                rr, rlo, rhi = est, lo, hi
            elif r["measure"] == "risk_difference":
                p0 = arm_mu[control]
                rr, rlo, rhi = (p0 + est) / p0, (p0 + lo) / p0, (p0 + hi) / p0
            else:
                s = sd[r["contrast"]]
                rr, rlo, rhi = (np.exp(0.91 * v / s) for v in (est, lo, hi))
            if rlo <= 1 <= rhi:
                limit = 1.0
            else:
                limit = rlo if rr > 1 else rhi
            rows.append({"contrast": r["contrast"], "measure": r["measure"], "rr": rr,
                         "rr_limit": limit, "e_value": _e_value(rr),
                         "e_value_ci": _e_value(limit)})
        return pd.DataFrame(rows)

    def to_html(self, decimals: int = 3) -> str:
        """Summary, arm means and balance as HTML tables rounded to ``decimals``."""
        def table(df: pd.DataFrame) -> str:
            numeric = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
            return df.style.format({c: f"{{:.{decimals}f}}" for c in numeric},
                                   na_rep="").hide(axis="index").to_html()

        m = self.metadata
        head = (f"<p>{m.get('method_name', '')}; estimand {m.get('estimand', '')}; "
                f"n = {m.get('n', '')}; variance: {m.get('variance', '')}.</p>")
        return (head + "<h4>Effects</h4>" + table(self.summary) + "<h4>Arms</h4>"
                + table(self.arms) + "<h4>Balance</h4>" + table(self.balance))


@functools.cache
def _versions() -> dict[str, str]:
    """Package versions for ``metadata`` (looked up once per process: the lookup is slow)."""
    return package_versions("numpy", "pandas", "scipy", "patsy")


def _e_value(rr: float) -> float:
    """VanderWeele–Ding E-value of a risk ratio (1 for the null, NaN if undefined)."""
    if not np.isfinite(rr) or rr <= 0:
        return float("nan")
    rr = rr if rr >= 1 else 1 / rr
    return float(rr + np.sqrt(rr * (rr - 1)))


# --------------------------------------------------------------------------- public function
def estimate_effect(data: pd.DataFrame, treatment_col: str, outcome_col: str,
                    covariates: Sequence[str] | str, *, method: str = "aipw",
                    estimand: str = "ATE", treated: Any = None, control: Any = None,
                    alpha: float = 0.05, cluster_col: str | None = None,
                    n_bootstrap: int = 0, seed: int | None = None, n_jobs: int = 1,
                    truncate: float | None = None, outcome_type: str | None = None,
                    contrasts: str = "control", weights_col: str | None = None
                    ) -> EffectResult:
    """Estimate the effect of an intervention (treatment arm) on an outcome.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per episode (unit of analysis).
    treatment_col : str
        The arm: 0/1 or boolean, or a categorical/string column with two or more levels.
    outcome_col : str
        Outcome: 0/1 or boolean (binary) or numeric (continuous).
    covariates : list of str or str
        Confounders. A list of column names (numeric and boolean columns enter linearly;
        string and categorical columns are dummy coded against their *first* level: the
        first category of a pandas categorical, else the first in sorted order, as R's
        ``factor``), or a patsy right-hand-side formula such as
        ``"bs(age, df=4) + I(age**2) + C(placement_type, Treatment('FH')) + sex"``
        (patsy's own reference rules). Reference levels are in ``metadata``.
    method : {"aipw", "ipw", "regression", "naive"}, default "aipw"
        ``naive``: difference of observed arm means (no adjustment; the same for every
        estimand). ``regression``: g-computation, averaging per-arm outcome-model predictions
        over the target population. ``ipw``: Hajek (normalised) inverse probability weighting.
        ``aipw``: augmented IPW, doubly robust.
    estimand : {"ATE", "ATT", "ATO"}, default "ATE"
        Average effect in everyone (ATE), in those who received ``treated`` (ATT), or in the
        overlap population (ATO, overlap weights; with more than two arms the generalised
        overlap weights h = 1 / sum_l 1/e_l of Li & Li 2019).
    treated, control : optional
        Levels of ``treatment_col``. ``control`` defaults to 0/False for a binary column, else
        the first level (category order or sorted). Contrasts are every other level versus
        ``control``, or only ``treated`` versus ``control`` when ``treated`` is given. ATT
        with more than two arms needs ``treated`` (the population the effect refers to).
    alpha : float, default 0.05
        Confidence intervals have level 1 - alpha.
    cluster_col : str, optional
        Cluster (e.g. child id for children with several episodes): influence functions are
        summed within clusters before squaring; the bootstrap resamples clusters.
    n_bootstrap : int, default 0
        Number of bootstrap replicates. If > 0, ``se`` is the bootstrap SD (of log RR for
        risk ratios), the CI the percentile interval and the p-value Wald with that SE; the
        influence-function summary stays in ``metadata['summary_influence']``.
    seed : int, optional
        Seed of the bootstrap (replicate r uses ``SeedSequence(seed).spawn``; results do not
        depend on ``n_jobs``).
    n_jobs : int, default 1
        Processes for the bootstrap (``concurrent.futures``).
    truncate : float, optional
        Bound the estimated propensity scores below at ``truncate`` (for two arms: into
        [truncate, 1 - truncate]) before forming weights; the number of truncated values is
        reported in ``metadata['truncated']``. Truncated scores are treated as fixed in the
        influence functions.
    outcome_type : {"binary", "continuous"}, optional
        Default: binary if the outcome is boolean or only 0/1, else continuous.
    contrasts : {"control", "all"}, default "control"
        Which contrasts to report. ``"control"``: every other arm versus ``control`` (or only
        ``treated`` versus ``control`` when ``treated`` is given). ``"all"``: every pair of
        arms, as (later level) vs (earlier level) in level order with the control first,
        e.g. for FH (control), HVB, SIS: ``HVB vs FH``, ``SIS vs FH``, ``SIS vs HVB``. With
        ``estimand="ATT"``, ``treated`` names the target population and every pair is
        estimated in it; with ATE or ATO, ``treated`` together with ``"all"`` is an error.
        ``summary``, ``balance``, :meth:`EffectResult.e_value`, the forest plot, the
        bootstrap and ``metadata['contrasts']`` follow the pairs.
    weights_col : str, optional
        Non-negative finite case or sampling weights (e.g. inverse sampling probabilities of
        a survey of files). Every model and mean is weighted: the propensity model is a
        weighted ML fit (as R ``glm``/``nnet::multinom`` with ``weights=``), the outcome
        models weighted least squares or weighted logistic ML, the arm means weighted means;
        standard errors are the survey-style linearisation (each row's score multiplied by
        its weight; cluster-robust as without weights). Balance, ``ess`` and ``weights_`` use
        the product of the sampling and the balancing weights; the bootstrap resamples rows
        (or clusters) with their weights. Rows of weight 0 contribute nothing but are
        counted in ``n`` and ``metadata['n_clusters']`` (not in the positivity warnings or
        the pooled outcome SD of the E-values). All weights 1 give exactly the unweighted
        results.

    Returns
    -------
    EffectResult
        ``summary``: one row per contrast and measure with columns

        - ``contrast``: ``"<treated> vs <control>"`` (the later and the earlier level of
          the pair for ``contrasts="all"``)
        - ``measure``: ``risk_difference`` and ``risk_ratio`` (binary outcome) or
          ``mean_difference`` (continuous)
        - ``estimate``: the difference, or the ratio
        - ``se``: standard error of the difference; for ``risk_ratio`` of log(RR)
        - ``ci_lower``, ``ci_upper``: estimate -+ z se; for ratios exp(log RR -+ z se)
        - ``p_value``: two-sided Wald p-value (null 0, or log RR = 0)
        - ``n``: rows in the two arms of the contrast

        ``arms``: ``arm``, ``estimate`` (potential-outcome mean or risk in the target
        population), ``se``, ``ci_lower``, ``ci_upper``, ``n`` (rows), ``ess``.
        ``balance``: ``contrast``, ``covariate`` (design column), ``smd_unadjusted``,
        ``smd_adjusted`` (weighted; both divided by the pooled SD of the pair's arms, for
        ATT by the SD of the target arm, see Notes), ``variance_ratio_adjusted`` (weighted
        treated / control variance), ``imbalanced`` (|smd_adjusted| > 0.1). ``ess``: Kish
        effective sample size per arm. ``metadata``: method, estimand, alpha, n, levels,
        reference levels, truncation, variance type, clusters, ``contrast_set``,
        ``contrasts`` (pairs), ``weights_col``, ``sum_weights``, versions.

    Raises
    ------
    ParameterError
        If a column is missing or has missing values, an option is unknown, a level is not
        in the treatment column, the outcome is not binary when said to be, an arm is
        empty (or has only rows of weight 0), ``treated`` is combined with
        ``contrasts="all"`` for ATE or ATO, ``weights_col`` is not numeric or has a
        missing, negative or infinite value (the message names the first such row), or
        ``cluster_col`` has fewer than two clusters (with positive weight).
    ConvergenceError
        If the propensity or a logistic outcome model does not converge (separation).

    Warns
    -----
    PositivityWarning
        (Truncated) propensity scores below 0.01 for an arm that is weighted by 1/e (ATE:
        every arm; ATT: the comparison arms, among the treated).
    ExtremeWeightsWarning
        One row carrying more than 10 % of an arm's weight (arms of 20 rows or more).
    PropensitySeparationWarning
        A separated propensity model. None of these three for ``method="naive"``, which uses
        no propensity score.
    OutcomeSeparationWarning
        A separated logistic outcome model.
    ConstantCovariateWarning
        A covariate column is constant within an arm whose outcome model is fitted.
    BootstrapFailureWarning
        Some bootstrap replicates failed and were dropped.

    All are :class:`evaluation.errors.EvaluationWarning` (and ``UserWarning``) subclasses.

    Notes
    -----
    Propensity model: logistic (two arms) or multinomial logistic (more arms; generalised
    propensity score e_j(x)), fitted by Newton's method on the design [1, X]. Outcome
    model: fitted separately in each arm on [1, X] (equivalent to a full treatment x covariate
    interaction), logistic for binary and linear for continuous outcomes; predictions
    m_j(x) are made for every row.

    With a tilting function h (ATE: 1; ATT: 1{A = t}; ATO: 1 / sum_l 1/e_l) and weights
    w_j = h / e_j (ATT: e_t / e_j), the arm mean mu_j solves sum_i psi_i = 0 with

    - naive: psi = 1{A=j} (Y - mu)
    - regression: psi = h (m_j(X) - mu)
    - ipw: psi = 1{A=j} w_j (Y - mu)
    - aipw: psi = h (m_j(X) - mu) + 1{A=j} w_j (Y - m_j(X))

    Standard errors come from the stacked estimating equations (M-estimation sandwich) of
    the propensity model, the per-arm outcome models and mu: the influence function is
    phi = (psi + G_gamma' I_gamma^-1 s_gamma + G_beta' I_beta^-1 s_beta) / D with
    G the mean derivatives of psi, s the model scores, I their information matrices and
    D the mean of -dpsi/dmu; var = sum(phi^2) / n^2 (HC0-type, no small-sample factor),
    with phi summed within clusters first. Differences of a pair of arms (t, c) use
    phi_t - phi_c, log risk ratios phi_t / mu_t - phi_c / mu_c (delta method).

    With sampling weights s_i (``weights_col``) every estimating equation is multiplied by
    s_i: the models are weighted ML / least-squares fits, mu_j the correspondingly weighted
    means, G, I and D weighted means of the derivatives, and phi_i = s_i (psi_i + ...) / D
    (the linearisation variance of a with-replacement design with the rows, or the
    clusters, as primary sampling units; no n / (n - 1) factor). With integer weights this
    equals the row-clustered analysis of the data with each row repeated s_i times.

    Balance, ``ess`` and ``weights_`` use the weights w_j of the estimand (the IPW weights;
    also reported, as a diagnostic, for the naive and regression methods, which do not use
    them; treated ATT weights are 1). Each SMD is (mean_t - mean_c) / s*, with the same
    standardiser s* before and after weighting, computed from the unweighted arms and
    chosen by the estimand as cobalt's default ``s.d.denom`` is: for ATE and ATO the pooled
    SD sqrt((s_t^2 + s_c^2) / 2) of the pair's two arms; for ATT the SD s_g of the target
    (treated) arm, ``metadata['att_population']``, for every pair (the population the
    weights make the arms resemble). Where that SD is 0 or undefined (a covariate constant
    in the target arm, or in both arms of the pair; an arm with one row of positive weight)
    the SD over all rows (ATT) or over the pair's rows (ATE, ATO) is used instead, as
    cobalt's fallback for a zero SD, so a covariate that separates the arms shows a large
    SMD rather than 0.
    ``variance_ratio_adjusted`` uses weighted variances. With sampling weights, the
    unadjusted means and the SDs use the sampling weights (variance divisor
    sum s - sum s^2 / sum s, as cobalt's ``s.weights``), the adjusted means, ``ess`` and
    ``weights_`` the product of sampling and balancing weights.

    ``method="naive"`` uses no model, but the propensity model is still fitted for the
    balance table, ``ess``, ``weights_``, ``propensity_`` and :meth:`EffectResult.overlap_plot`
    (which show how far the unadjusted comparison is from balance). Its positivity,
    extreme-weight and separation warnings are not raised then, as they concern weights the
    naive estimate does not use; a propensity model that does not converge still raises
    :class:`~evaluation.errors.ConvergenceError`.

    Fits that end in separation (fitted probabilities numerically 0 or 1) stop as R's
    ``glm`` does, on a negligible change of deviance, with a warning. Under near-violations
    of positivity the IF standard errors of 1/e-weighted estimands can be far too small;
    prefer ATO, ATT or truncation then (the warnings say so).

    Validated against base R 4.2.2 (``glm`` plus the formulas above written out,
    ``tests/reference/effects_reference.R``, two arms for every method x estimand x outcome
    type, three arms with a Newton-fitted multinomial model for IPW and AIPW): arm means,
    contrasts and SEs (plain and clustered) agree to 1e-6 (observed: 1e-13). A simulation
    with a closed-form truth checks bias, the SEs against the sampling SD and that the naive
    contrast is biased (``tests/test_effects.py``). Sampling weights: validated against R
    4.2.2 (``tests/reference/effects_weights_reference.R``: ``glm(quasibinomial,
    weights=)``, ``nnet::multinom(weights=)``, the weighted influence functions written out
    and, as a check, the numerically differentiated stacked sandwich) for two and three
    arms, naive, regression, IPW and AIPW, ATE and ATT, binary and continuous outcomes,
    integer and non-integer weights, every pair of arms: estimates and SEs (plain and
    clustered) agree to 1e-6; with integer weights the results equal those of repeated rows
    (``tests/test_effects_pairs_weights.py``).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> n = 1000
    >>> age = rng.uniform(0, 17, n)
    >>> hvb = rng.random(n) < 1 / (1 + np.exp(-(age - 10) / 3))
    >>> breakdown = rng.random(n) < 0.1 + 0.01 * age + 0.1 * hvb
    >>> df = pd.DataFrame({"hvb": hvb, "breakdown": breakdown, "age": age})
    >>> fit = estimate_effect(df, "hvb", "breakdown", ["age"])
    >>> fit.summary[["contrast", "measure"]].values.tolist()
    [['True vs False', 'risk_difference'], ['True vs False', 'risk_ratio']]

    Every pair of three placement types (FH is the control, first in sorted order):

    >>> u = rng.random(n)
    >>> df["placement"] = np.where(u < 0.5, "FH", np.where(u < 0.8, "HVB", "SIS"))
    >>> fit3 = estimate_effect(df, "placement", "breakdown", ["age"], contrasts="all")
    >>> fit3.summary["contrast"].unique().tolist()
    ['HVB vs FH', 'SIS vs FH', 'SIS vs HVB']

    Sampling weights (say children under 10 were sampled with probability 1/2):

    >>> df["w"] = np.where(df["age"] < 10, 2.0, 1.0)
    >>> wfit = estimate_effect(df, "hvb", "breakdown", ["age"], weights_col="w")
    >>> wfit.metadata["weights_col"], wfit.metadata["sum_weights"] == float(df["w"].sum())
    ('w', True)
    """
    require_dataframe(data)
    check_option(method, "method", METHODS)
    check_option(estimand, "estimand", ESTIMANDS)
    alpha = check_alpha(alpha)
    if truncate is not None and not (isinstance(truncate, (int, float)) and 0 < truncate < 0.5):
        raise ParameterError(f"truncate must be a number in (0, 0.5), e.g. 0.01, got "
                             f"{truncate!r}.")
    if not (isinstance(n_bootstrap, (int, np.integer)) and n_bootstrap >= 0) or n_bootstrap == 1:
        raise ParameterError(f"n_bootstrap must be 0 (none) or an integer >= 2, got "
                             f"{n_bootstrap!r}.")
    if not (isinstance(n_jobs, (int, np.integer)) and n_jobs >= 1):
        raise ParameterError(f"n_jobs must be a positive integer, got {n_jobs!r}.")
    if contrasts not in CONTRASTS:
        raise ParameterError(f"contrasts={contrasts!r} is unknown; choose one of {CONTRASTS} "
                             "('control': every arm versus the control; 'all': every pair of "
                             "arms).")
    if outcome_type not in (None, "binary", "continuous"):
        raise ParameterError(f"outcome_type={outcome_type!r} is unknown; choose 'binary', "
                             "'continuous' or None (auto).")
    require_complete_columns(data, {"treatment_col": treatment_col, "outcome_col": outcome_col,
                          "cluster_col": cluster_col, "weights_col": weights_col})
    if len(data) == 0:
        raise ParameterError("data has no rows; nothing to estimate.")
    sw = (np.ones(len(data)) if weights_col is None
          else check_weights(data[weights_col], weights_col))
    if isinstance(covariates, str) and covariates in data.columns:
        covariates = [covariates]
    x, names, refs = effect_design(data, covariates)

    # treatment levels, with control first
    s = data[treatment_col]
    binary_treatment = is_binary(s)
    levels = [False, True] if pd.api.types.is_bool_dtype(s) else treatment_levels(s)
    if binary_treatment and not pd.api.types.is_bool_dtype(s):
        levels = [lv for lv in (0, 1) if (s == lv).any()]
    if len(levels) < 2:
        raise ParameterError(f"treatment_col {treatment_col!r} has a single level "
                             f"({levels}); two or more arms are needed.")

    def find(value: Any, arg: str) -> int:
        for i, lv in enumerate(levels):
            if lv == value or str(lv) == str(value):
                return i
        raise LevelError(f"{arg}={value!r} is not a level of {treatment_col!r}; levels "
                         f"are {levels}.", parameter=arg, value=value)

    c0 = 0 if control is None else find(control, "control")
    levels = [levels[c0]] + [lv for i, lv in enumerate(levels) if i != c0]
    k = len(levels)
    labels = [str(lv) for lv in levels]
    a = np.full(len(s), -1, dtype=np.int64)
    for i, lv in enumerate(levels):
        a[(s == lv).to_numpy()] = i
    if (a < 0).any():
        raise ParameterError(f"treatment_col {treatment_col!r} has values outside {levels}.")
    t_idx = None if treated is None else find(treated, "treated")
    if t_idx == 0:
        raise ParameterError(f"treated={treated!r} equals control; choose different levels.")
    if estimand == "ATT" and t_idx is None and k > 2:
        raise ParameterError("estimand='ATT' with more than two arms needs treated=<level>"
                             f" (the population the effect refers to); levels: {labels}.")
    if contrasts == "all" and t_idx is not None and estimand != "ATT":
        raise ParameterError(f"treated={treated!r} with contrasts='all' is only meaningful for "
                             f"estimand='ATT' (treated names the target population); with "
                             f"estimand={estimand!r} drop treated= to get every pair of arms, "
                             "or use contrasts='control' for the single treated-vs-control "
                             "contrast.")
    target = 1 if t_idx is None else t_idx          # the ATT population (used for ATT only)
    if contrasts == "all":      # (later level) vs (earlier level), control first
        pairs = [(t, c) for c in range(k) for t in range(c + 1, k)]
    elif t_idx is not None:
        pairs = [(t_idx, 0)]
    else:
        pairs = [(j, 0) for j in range(1, k)]
    counts = np.bincount(a, minlength=k)
    if (counts == 0).any():
        raise ParameterError(f"arm(s) {[labels[j] for j in np.flatnonzero(counts == 0)]} "
                             "have no rows.")
    empty = np.bincount(a, weights=sw, minlength=k) <= 0
    if empty.any():
        raise ParameterError(f"arm(s) {[labels[j] for j in np.flatnonzero(empty)]} have only "
                             f"rows of weight 0 in weights_col {weights_col!r}; every arm needs "
                             "a positive total weight.")

    # outcome
    ys = data[outcome_col]
    if outcome_type is None:
        outcome_type = "binary" if is_binary(ys) else "continuous"
    if outcome_type == "binary" and not is_binary(ys):
        raise ParameterError(f"outcome_col {outcome_col!r} must be 0/1 or boolean for "
                             "outcome_type='binary'.")
    if not (pd.api.types.is_numeric_dtype(ys) or pd.api.types.is_bool_dtype(ys)):
        raise ParameterError(f"outcome_col {outcome_col!r} must be numeric or boolean, got "
                             f"dtype {ys.dtype}.")
    y = ys.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise ParameterError(f"outcome_col {outcome_col!r} must be finite.")
    binary = outcome_type == "binary"
    cluster = None if cluster_col is None else pd.factorize(data[cluster_col])[0]
    if cluster is not None:
        n_used = len(np.unique(cluster[sw > 0]))
        if n_used < 2:
            raise ParameterError(
                f"cluster_col {cluster_col!r} has {n_used} cluster"
                + (" with positive weight" if weights_col is not None else "")
                + "; a cluster-robust variance needs at least two (with one, the summed "
                "influence function is 0 and every standard error would be 0). Drop "
                "cluster_col or name the column that identifies the clusters (e.g. the child).")

    if method in ("regression", "aipw"):
        for j in range(k):
            rj = (a == j) & (sw > 0)        # rows of weight 0 do not identify anything
            const = np.flatnonzero(np.ptp(x[rj, 1:], axis=0) == 0) if len(names) else []
            if len(const):
                constant = [names[i] for i in const]
                warnings.warn(ConstantCovariateWarning(
                    f"outcome model of arm {labels[j]!r}: covariate column(s) "
                    f"{constant} are constant within the arm, so their "
                    "coefficients are not identified there (a minimum-norm solution is used "
                    "and predictions for other arms' rows extrapolate). Merge sparse levels or "
                    "drop those covariates.", arm=str(labels[j]), covariates=tuple(constant)),
                    stacklevel=2)
    fit = arm_means(x, a, y, sw, k, binary, method, estimand, target, truncate, want_if=True,
                    names=names)
    mu, phi = fit["mu"], fit["phi"]
    w_obs = sw * fit["w"][np.arange(len(a)), a]          # sampling x balancing weight
    if method != "naive":  # the naive means use no propensity score: nothing to warn about
        pos = sw > 0        # rows of weight 0 take no part in the estimate
        for category, msg in positivity_warnings(fit["e_used"][pos], a[pos], w_obs[pos],
                                                 estimand, target, labels, truncate):
            warnings.warn(msg, category, stacklevel=2)

    # contrasts: differences and log ratios as linear combinations of influence functions
    zcrit = stats.norm.ppf(1 - alpha / 2)
    cols, meta_rows = [], []
    for t, c in pairs:
        label = f"{labels[t]} vs {labels[c]}"
        nn = int(counts[t] + counts[c])
        cols.append(phi[:, t] - phi[:, c])
        meta_rows.append((label, "risk_difference" if binary else "mean_difference",
                          mu[t] - mu[c], nn))
        if binary:
            cols.append(phi[:, t] / mu[t] - phi[:, c] / mu[c])
            meta_rows.append((label, "risk_ratio", np.log(mu[t] / mu[c]), nn))
    cov_c = if_covariance(np.column_stack(cols), cluster)
    cov_a = if_covariance(phi, cluster)
    se_c = np.sqrt(np.diag(cov_c))
    est_c = np.array([r[2] for r in meta_rows])
    summary = _summary_frame(meta_rows, est_c, se_c, zcrit)
    se_a = np.sqrt(np.diag(cov_a))
    ess = pd.Series([w_obs[a == j].sum() ** 2 / (w_obs[a == j] ** 2).sum() for j in range(k)],
                    index=pd.Index(labels, name="arm"), name="ess")
    arms = pd.DataFrame({"arm": labels, "estimate": mu, "se": se_a,
                         "ci_lower": mu - zcrit * se_a, "ci_upper": mu + zcrit * se_a,
                         "n": counts.astype(np.int64), "ess": ess.to_numpy()})
    balance = balance_table(x, names, a, sw, w_obs, pairs, labels, estimand, target)
    sd_pooled = {}
    for t, c in pairs:      # rows of weight 0 take no part (nor in the counts)
        rt, rc = (a == t) & (sw > 0), (a == c) & (sw > 0)
        sd_pooled[f"{labels[t]} vs {labels[c]}"] = float(np.sqrt(
            ((rt.sum() - 1) * weighted_var(y[rt], sw[rt])
             + (rc.sum() - 1) * weighted_var(y[rc], sw[rc])) / (rt.sum() + rc.sum() - 2)))

    metadata: dict[str, Any] = {
        "method": method, "method_name": _METHOD_NAMES[method], "estimand": estimand,
        "alpha": alpha, "n": len(a), "treatment_col": treatment_col,
        "outcome_col": outcome_col, "outcome_type": outcome_type, "levels": labels,
        "control": labels[0], "treated": None if t_idx is None else labels[t_idx],
        "att_population": labels[target] if estimand == "ATT" else None,
        "covariates": names, "reference_levels": {kk: str(v) for kk, v in refs.items()},
        "propensity_model": "logistic" if k == 2 else "multinomial logistic",
        "outcome_model": (None if method in ("naive", "ipw") else
                          ("logistic" if binary else "linear") + ", fitted per arm"),
        "truncate": truncate,
        "truncated": int(fit["clipped"].any(axis=1).sum() if k == 2 else fit["clipped"].sum()),
        "variance": "influence function (stacked M-estimation sandwich)"
                    + (", cluster-robust" if cluster is not None else ""),
        "cluster_col": cluster_col,
        "n_clusters": None if cluster is None else int(cluster.max()) + 1,
        "weights_col": weights_col, "sum_weights": float(sw.sum()),
        "contrast_set": contrasts,
        "contrasts": [{"contrast": f"{labels[t]} vs {labels[c]}", "treated": labels[t],
                       "control": labels[c]} for t, c in pairs],
        "n_bootstrap": int(n_bootstrap), "seed": seed, "outcome_sd_pooled": sd_pooled,
        "versions": dict(_versions()),
    }
    result = EffectResult(summary=summary, metadata=metadata, arms=arms, balance=balance,
                          ess=ess, propensity_=fit["e"], weights_=w_obs, influence_=phi,
                          treatment_=a)
    if n_bootstrap:
        _apply_bootstrap(result, x, a, y, sw, k, binary, method, estimand, target, truncate,
                         cluster, pairs, n_bootstrap, seed, n_jobs, alpha, zcrit)
    return result


def _exp_rows(ratio: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``exp`` of the ratio rows (log scale) only; differences stay as they are."""
    out = np.array(v, dtype=float, copy=True)
    out[ratio] = np.exp(out[ratio])
    return out


def _summary_frame(rows: list[tuple], est: np.ndarray, se: np.ndarray, zcrit: float
                   ) -> pd.DataFrame:
    """Summary rows; ``est`` holds differences and log ratios, se on that scale."""
    ratio = np.array([r[1] == "risk_ratio" for r in rows])
    lo, hi = est - zcrit * se, est + zcrit * se
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 2 * stats.norm.sf(np.abs(est / se))
    return pd.DataFrame({
        "contrast": [r[0] for r in rows], "measure": [r[1] for r in rows],
        "estimate": _exp_rows(ratio, est), "se": se,
        "ci_lower": _exp_rows(ratio, lo), "ci_upper": _exp_rows(ratio, hi),
        "p_value": p, "n": np.array([r[3] for r in rows], dtype=np.int64)})


def _apply_bootstrap(result: EffectResult, x, a, y, sw, k, binary, method, estimand, target,
                     truncate, cluster, pairs, n_bootstrap, seed, n_jobs, alpha, zcrit) -> None:
    seqs = np.random.SeedSequence(seed).spawn(n_bootstrap)
    shared = (x, a, y, sw, k, binary, method, estimand, target, truncate, cluster)
    if n_jobs > 1:
        with ProcessPoolExecutor(max_workers=n_jobs, initializer=bootstrap_init,
                                 initargs=(shared,)) as ex:
            reps = list(ex.map(bootstrap_replicate, seqs,
                               chunksize=max(1, n_bootstrap // (4 * n_jobs))))
    else:
        bootstrap_init(shared)
        try:
            reps = [bootstrap_replicate(sq) for sq in seqs]
        finally:
            bootstrap_init(None)
    reps = np.array(reps)
    failed = int(np.isnan(reps).any(axis=1).sum())
    reps = reps[~np.isnan(reps).any(axis=1)]
    if len(reps) < 2:
        raise ConvergenceError("fewer than two bootstrap replicates could be fitted.")
    if failed:
        warnings.warn(f"{failed} of {n_bootstrap} bootstrap replicates failed (an empty arm or "
                      "non-convergence) and were dropped.", BootstrapFailureWarning, stacklevel=3)
    s = result.summary
    est_scale, boot_cols = [], []
    for t, c in pairs:
        boot_cols.append(reps[:, t] - reps[:, c])
        if binary:
            boot_cols.append(np.log(reps[:, t] / reps[:, c]))
    boot = np.column_stack(boot_cols)
    mu = result.arms["estimate"].to_numpy()
    for t, c in pairs:
        est_scale.append(mu[t] - mu[c])
        if binary:
            est_scale.append(np.log(mu[t] / mu[c]))
    est = np.array(est_scale)
    se = boot.std(axis=0, ddof=1)
    lo = np.quantile(boot, alpha / 2, axis=0)
    hi = np.quantile(boot, 1 - alpha / 2, axis=0)
    ratio = (s["measure"] == "risk_ratio").to_numpy()
    result.metadata["summary_influence"] = s.copy()
    new = s.copy()
    new["se"] = se
    new["ci_lower"] = _exp_rows(ratio, lo)
    new["ci_upper"] = _exp_rows(ratio, hi)
    new["p_value"] = 2 * stats.norm.sf(np.abs(est / se))
    result.summary = new
    result.bootstrap_ = pd.DataFrame(reps, columns=result.arms["arm"].tolist())
    result.metadata["variance"] = (f"{'cluster ' if cluster is not None else ''}bootstrap "
                                   f"({len(reps)} replicates, percentile CI, SD as se)")
    result.metadata["bootstrap_failed"] = failed
