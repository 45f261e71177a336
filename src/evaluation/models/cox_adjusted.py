"""What a fitted Cox model gives beyond its coefficients: the proportional-hazards test of R's
``cox.zph`` and adjusted (directly standardised) survival curves with influence-function
confidence intervals and contrasts (as R ``riskRegression::ate``).

The user-facing entry points are :meth:`evaluation.models.coxph.CoxResult.ph_test` and
:meth:`~evaluation.models.coxph.CoxResult.adjusted_survival`; they call
:func:`cox_ph_test` and :func:`cox_adjusted_survival` here with the fitted model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import check_alpha, require_complete_columns, require_dataframe
from evaluation.errors import ParameterError
from evaluation.models.cox_core import (
    EfronRiskSets,
    efron_pass,
    encode_design,
    event_terms,
    info_sum,
)
from evaluation.models.results import Result, package_versions, step_curves_plot

__all__ = ["PH_TRANSFORMS", "AdjustedSurvivalResult", "PHTestResult", "cox_adjusted_survival",
           "cox_ph_test"]

#: Time transforms of the proportional-hazards test (R ``cox.zph(transform = )``).
PH_TRANSFORMS = ("km", "identity", "rank", "log")


@dataclass
class PHTestResult(Result):
    """Test of proportional hazards on scaled Schoenfeld residuals (R ``cox.zph``).

    ``summary`` is indexed by ``term`` (one row per model term, then ``GLOBAL``) with the
    columns ``statistic`` (score chi-square), ``df`` and ``p_value``.

    Attributes
    ----------
    residuals_ : pandas.DataFrame
        One row per event, ordered by stratum and time: ``time``, ``transformed_time``
        (g(t) before centring, the x axis of R's ``plot.cox.zph``) and one column per term
        with the scaled Schoenfeld residuals (``$y`` of ``cox.zph``; NaN where a covariate is
        constant within the event's stratum).
    """

    residuals_: pd.DataFrame | None = field(default=None, repr=False)
    html_index: ClassVar[bool] = True

    def plot(self, ax=None, term: str | None = None):
        """Scaled Schoenfeld residuals of ``term`` (default: the first) against transformed
        time, with a lowess smooth and the Cox estimate as a dashed line; returns the Axes."""
        import matplotlib.pyplot as plt
        from statsmodels.nonparametric.smoothers_lowess import lowess

        terms = [t for t in self.summary.index if t != "GLOBAL"]
        term = terms[0] if term is None else term
        if term not in terms:
            raise ParameterError(f"term {term!r} is not a term of the model; terms: "
                                 f"{', '.join(terms)}.")
        ax = ax if ax is not None else plt.subplots()[1]
        res = self.residuals_.dropna(subset=[term])
        xt, y = res["transformed_time"].to_numpy(), res[term].to_numpy()
        ax.scatter(xt, y, s=8, alpha=0.5, color="grey")
        if len(np.unique(xt)) > 3:
            smooth = lowess(y, xt, frac=2 / 3, return_sorted=True)
            ax.plot(smooth[:, 0], smooth[:, 1], color="C0")
        level = self.metadata["estimates"].get(term)
        ax.axhline(1.0 if level is None else level, color="C3", linestyle="--", linewidth=1)
        ax.set_xlabel(f"time ({self.metadata['transform']} transform)")
        ax.set_ylabel(f"beta(t) for {term}")
        p = self.summary.loc[term, "p_value"]
        ax.set_title(f"{term}: test of proportional hazards, p = {p:.3g}")
        return ax


@dataclass
class AdjustedSurvivalResult(Result):
    """Survival curves standardised over the rows of a data set, one per level of a
    covariate (see :meth:`CoxResult.adjusted_survival`).

    ``summary`` has the columns ``group`` (the level), ``time``, ``estimate``, then, when
    confidence intervals were asked for, ``se``, and ``ci_lower``, ``ci_upper`` (NaN when
    they were not).

    Attributes
    ----------
    influence_ : numpy.ndarray or None
        Influence functions of the estimates: one row per row of the fit (per cluster when
        the fit used ``cluster_col``), one column per row of ``summary``, scaled so that
        the variance matrix of the estimates is ``influence_.T @ influence_`` (as the
        ``iid`` of R ``riskRegression::ate``). None when no intervals were computed.
    """

    influence_: np.ndarray | None = field(default=None, repr=False)

    def plot(self, ax=None):
        """Step plot of the adjusted survival curves, one per group (with the confidence
        band if computed); returns the Axes."""
        return step_curves_plot(self.summary, ax=ax, start=1.0, ylabel="adjusted survival",
                                ci=self.influence_ is not None,
                                legend_title=self.metadata["variable"])

    def contrast(self, reference: Any = None) -> pd.DataFrame:
        """Risk (1 - survival) differences and ratios of every level against a reference.

        Parameters
        ----------
        reference : optional
            The reference level (a value of ``summary["group"]``). Default: the first level.

        Returns
        -------
        pandas.DataFrame
            One row per level other than the reference and per time, with the columns
            ``group``, ``reference``, ``time``, ``risk`` (1 - S of the level), ``risk_reference``,
            ``difference`` (risk - risk_reference), ``difference_se``,
            ``difference_ci_lower``, ``difference_ci_upper``, ``difference_p_value``
            (Wald test of no difference), ``ratio`` (risk / risk_reference), ``ratio_se``,
            ``ratio_ci_lower``, ``ratio_ci_upper`` and ``ratio_p_value`` (Wald test of
            ratio 1).

        Raises
        ------
        ParameterError
            If the result has no influence functions (``adjusted_survival`` was called
            without ``conf_type``), or ``reference`` is not one of the levels.

        Notes
        -----
        Standard errors come from the joint influence functions of the curves (so the
        correlation between the levels, which share the model and the rows, is accounted
        for): IF(difference) = IF(risk) - IF(risk_reference) and IF(ratio) = IF(risk) /
        risk_reference - ratio IF(risk_reference) / risk_reference. Confidence limits are
        plain Wald limits estimate -+ z_{1-alpha/2} se on the difference and the ratio
        scale, and p-values use z = difference / se and z = (ratio - 1) / se, which is what
        R ``riskRegression::ate`` reports with its default ``diffRisk.transform = "none"``
        and ``ratioRisk.transform = "none"`` (validated against riskRegression 2022.11.28,
        ``tests/reference/adjusted_survival_reference.R``). A reference risk of 0 (a time
        before the first event) gives a NaN ratio.

        Examples
        --------
        >>> from evaluation.models.coxph import cox
        >>> rng = np.random.default_rng(3)
        >>> df = pd.DataFrame({"days": rng.integers(1, 400, 300), "ended": rng.integers(0, 2, 300),
        ...                    "age": rng.uniform(0, 17, 300),
        ...                    "placement": rng.choice(["family", "HVB"], 300)})
        >>> fit = cox(df, "days", "ended", ["age", "placement"], ties="breslow")
        >>> adj = fit.adjusted_survival(df, "placement", times=[100, 200], conf_type="plain")
        >>> c = adj.contrast(reference="family")
        >>> c[["group", "reference", "time"]].values.tolist()
        [['HVB', 'family', 100.0], ['HVB', 'family', 200.0]]
        """
        if self.influence_ is None:
            raise ParameterError("this result has no influence functions; call "
                                 "adjusted_survival(..., conf_type='plain') (or 'log-log') "
                                 "to get standard errors and contrasts.")
        levels = list(self.metadata["levels"])
        reference = levels[0] if reference is None else reference
        matches = [i for i, lev in enumerate(levels) if lev == reference]
        if not matches:
            raise ParameterError(f"reference {reference!r} is not one of the levels; levels: "
                                 f"{', '.join(map(str, levels))}.")
        ref_i = matches[0]
        n_times = len(self.summary) // len(levels)
        est = self.summary["estimate"].to_numpy().reshape(len(levels), n_times)
        infl = self.influence_.reshape(len(self.influence_), len(levels), n_times)
        zcrit = stats.norm.ppf(1 - self.metadata["alpha"] / 2)
        times = self.summary["time"].to_numpy()[:n_times]
        risk_ref, if_ref = 1 - est[ref_i], -infl[:, ref_i]
        tables = []
        for i, lev in enumerate(levels):
            if i == ref_i:
                continue
            risk, if_risk = 1 - est[i], -infl[:, i]
            diff = risk - risk_ref
            diff_se = np.sqrt(((if_risk - if_ref) ** 2).sum(axis=0))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(risk_ref > 0, risk / risk_ref, np.nan)
                ratio_se = np.sqrt(((if_risk / risk_ref - ratio * if_ref / risk_ref) ** 2)
                                   .sum(axis=0))
                z_diff = np.where(diff_se > 0, diff / diff_se, np.nan)
                z_ratio = np.where(ratio_se > 0, (ratio - 1) / ratio_se, np.nan)
            tables.append(pd.DataFrame({
                "group": lev, "reference": reference, "time": times, "risk": risk,
                "risk_reference": risk_ref, "difference": diff, "difference_se": diff_se,
                "difference_ci_lower": diff - zcrit * diff_se,
                "difference_ci_upper": diff + zcrit * diff_se,
                "difference_p_value": 2 * stats.norm.sf(np.abs(z_diff)),
                "ratio": ratio, "ratio_se": ratio_se,
                "ratio_ci_lower": ratio - zcrit * ratio_se,
                "ratio_ci_upper": ratio + zcrit * ratio_se,
                "ratio_p_value": 2 * stats.norm.sf(np.abs(z_ratio))}))
        if not tables:
            raise ParameterError("contrast needs at least two levels; the result has only "
                                 f"{reference!r}.")
        return pd.concat(tables, ignore_index=True)




def cox_adjusted_survival(m: dict[str, Any], metadata: dict[str, Any], data: pd.DataFrame,
                          variable: str, levels: Sequence[Any] | None = None,
                          times: Sequence[float] | None = None, conf_type: str | None = None,
                          alpha: float | None = None,
                          standardise_over_fit_data: bool | None = None
                          ) -> AdjustedSurvivalResult:
    """Adjusted survival curves of the fitted Cox model ``m`` (with the fit's ``metadata``);
    see :meth:`evaluation.models.coxph.CoxResult.adjusted_survival` for the parameters."""
    require_dataframe(data)
    if variable not in m["coding"]:
        raise ParameterError(f"variable {variable!r} is not a covariate of the model; "
                             f"covariates: {', '.join(m['coding'])}.")
    require_complete_columns(data, {"covariates": list(m["coding"]),
                                    "strata_col": m["strata_cols"]})
    if len(data) == 0:
        raise ParameterError("data has no rows; nothing to standardise over.")
    if conf_type not in (None, "plain", "log-log"):
        raise ParameterError(f"conf_type must be None, 'plain' or 'log-log'; got "
                             f"{conf_type!r}.")
    alpha = metadata["alpha"] if alpha is None else check_alpha(alpha)
    if standardise_over_fit_data not in (None, True, False):
        raise ParameterError("standardise_over_fit_data must be None, True or False; got "
                             f"{standardise_over_fit_data!r}.")
    coding = m["coding"][variable]
    if levels is None:
        if coding is not None:
            levels = list(coding)
        else:
            levels = sorted(pd.unique(data[variable]))
            if len(levels) > 10:
                raise ParameterError(f"covariate {variable!r} is numeric with "
                                     f"{len(levels)} distinct values; give levels.")
    levels = list(levels)
    if not levels:
        raise ParameterError("levels is empty; give at least one value.")
    for lev in levels:
        if coding is not None and lev not in coding:
            raise ParameterError(f"level {lev!r} is not a level of {variable!r}; levels: "
                                 f"{', '.join(map(str, coding))}.")
        if coding is None and not (isinstance(lev, (int, float, np.number))
                                   and np.isfinite(lev)):
            raise ParameterError(f"levels of numeric {variable!r} must be finite "
                                 f"numbers; got {lev!r}.")
    ev_time, dh, ev_stratum = m["event_times"], m["hazard_increments"], m["event_strata"]
    if times is None:
        grid = np.unique(ev_time)
    else:
        grid = np.asarray(times, dtype=float).ravel()
        if grid.size == 0 or not np.isfinite(grid).all():
            raise ParameterError("times must be a non-empty list of finite numbers.")
    row_stratum = np.zeros(len(data), dtype=np.int64)
    if m["strata_cols"]:
        keys = pd.MultiIndex.from_frame(data[m["strata_cols"]])
        row_stratum = m["strata_keys"].get_indexer(keys)
        if (row_stratum < 0).any():
            i = int(np.flatnonzero(row_stratum < 0)[0])
            raise ParameterError(f"row {i} of data is in a stratum "
                                 f"({', '.join(m['strata_cols'])}) that the fit does not "
                                 "have; a stratum's baseline hazard is needed.")
    cumhaz = np.zeros((m["n_strata"], len(grid)))   # H0 of each stratum at grid
    for s_ in range(len(cumhaz)):
        sel = ev_stratum == s_
        cumhaz[s_] = np.concatenate([[0.0], np.cumsum(dh[sel])])[
            np.searchsorted(ev_time[sel], grid, side="right")]
    over_fit = None
    if conf_type is not None:
        if metadata.get("weights_col") is not None:
            raise ParameterError(
                "confidence intervals of adjusted survival are not available for a fit "
                f"with case weights (weights_col={metadata['weights_col']!r}): that "
                "variance has not been validated. Refit without weights, or use "
                "conf_type=None.")
        over_fit = _rows_of_fit(m, metadata, data, row_stratum, standardise_over_fit_data)
    tables = []
    step = max(1, 5_000_000 // len(grid))
    influence = []
    if conf_type is not None:
        parts = _baseline_influence(m, grid)
    for lev in levels:
        x = encode_design(data.assign(**{variable: lev}), m["coding"]) - m["center"]
        risk = np.exp(x @ m["beta"])
        if conf_type is None:
            est = np.zeros(len(grid))
            for i in range(0, len(risk), step):
                est += np.exp(-risk[i:i + step, None]
                              * cumhaz[row_stratum[i:i + step]]).sum(axis=0)
            est = est / len(risk)
        else:
            surv = np.exp(-risk[:, None] * cumhaz[row_stratum])
            est = surv.sum(axis=0) / len(risk)
            influence.append(_standardised_influence(m, parts, x, risk, surv, est,
                                                      row_stratum, cumhaz, over_fit))
        tables.append(pd.DataFrame({"group": lev, "time": grid, "estimate": est,
                                    "ci_lower": np.nan, "ci_upper": np.nan}))
    summary = pd.concat(tables, ignore_index=True)
    infl = None
    variance = None
    if conf_type is not None:
        infl = np.hstack(influence)
        variance = "influence function (functional delta method)"
        if m["cluster"] is not None:
            infl = pd.DataFrame(infl).groupby(m["cluster"]).sum().to_numpy()
            variance += ", summed within clusters (cluster-robust)"
        se = np.sqrt((infl ** 2).sum(axis=0))
        summary.insert(3, "se", se)
        lower, upper = _survival_limits(summary["estimate"].to_numpy(), se, alpha,
                                        conf_type)
        summary["ci_lower"], summary["ci_upper"] = lower, upper
    return AdjustedSurvivalResult(
        summary=summary,
        metadata={"method": "direct standardisation of Cox model survival curves "
                            f"({m['ties']} baseline, survfit.coxph)",
                  "alpha": alpha, "n": len(data), "variable": variable,
                  "levels": levels,
                  "confidence_intervals": ("not computed" if conf_type is None else
                                           f"{conf_type} (influence functions)"),
                  "conf_type": conf_type, "standardise_over_fit_data": over_fit,
                  "variance": variance, "n_clusters": metadata.get("n_clusters"),
                  "versions": package_versions("numpy", "pandas", "scipy")},
        influence_=infl)


def _rows_of_fit(m: dict[str, Any], metadata: dict[str, Any], data: pd.DataFrame,
                 row_stratum: np.ndarray, requested: bool | None) -> bool:
    """Whether ``data`` are the rows of the fit, in order (see ``adjusted_survival``);
    raises if ``requested`` is True and they are not."""
    n = len(m["stop"])
    problem = None
    if len(data) != n:
        problem = f"data has {len(data)} rows, the fit {n}"
    else:
        x = encode_design(data, m["coding"]) - m["center"]
        if not np.allclose(x, m["x"], rtol=0, atol=1e-9):
            problem = "a covariate differs from the fit's rows"
        elif not np.array_equal(row_stratum, m["stratum"]):
            problem = "a stratum differs from the fit's rows"
        else:
            checks = [("duration_col", m["stop"]), ("event_col", m["event"])]
            if metadata.get("entry_col") is not None:
                checks.append(("entry_col", m["entry"]))
            for arg, values in checks:
                col = metadata[arg]
                if col not in data.columns:
                    problem = f"data has no column {col!r} ({arg}) to match the fit"
                    break
                got = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
                if not np.array_equal(got, values.astype(float)):
                    problem = f"column {col!r} ({arg}) differs from the fit's rows"
                    break
    if requested and problem is not None:
        raise ParameterError(f"standardise_over_fit_data=True but data are not the rows "
                             f"of the fit ({problem}); pass the fitted data in the same "
                             "order, or standardise_over_fit_data=False for a fixed "
                             "target population.")
    if requested is None:
        return problem is None
    return bool(requested)


def _baseline_influence(m: dict[str, Any], grid: np.ndarray) -> dict[str, np.ndarray]:
    """Pieces of the influence functions of beta and of the baseline cumulative hazard at
    ``grid`` for the rows of an unweighted fit (Breslow or Efron terms).

    Returns ``if_beta`` (rows x p: I^-1 U_k), ``own`` (rows x times: the row's influence on
    H0 of its own stratum, without the beta part) and ``h1`` (strata x times x p: the
    derivative of H0 with respect to beta).
    """
    rs = EfronRiskSets(m["entry"], m["stop"], m["event"], m["stratum"], m["ties"])
    x, beta = m["x"], m["beta"]
    _, _, den, a, _ = event_terms(rs, x, beta, None)
    *_, resid = efron_pass(rs, x, beta, None, residuals=True)
    if_beta = resid @ np.linalg.inv(m["info"])
    ev, k, f = rs.event_rows, rs.event_time, rs.frac
    h = 1.0 / den
    d_haz = rs.time_sum(h)                               # increments of H0 per event time
    prefix_h2 = np.concatenate([[0.0], np.cumsum(rs.time_sum(h * h))])
    tie_h2 = rs.time_sum(f * h * h)                      # Efron: the l/d part; 1 - l/d net with prefix_h2
    prefix_h1 = np.vstack([np.zeros((1, x.shape[1])),
                           np.cumsum(rs.time_sum(h[:, None] * a), axis=0)])
    # last event time index <= grid, per stratum (event times are sorted by stratum, time)
    n_strata = m["n_strata"]
    ev_stratum, ev_time = m["event_strata"], m["event_times"]
    start = np.searchsorted(ev_stratum, np.arange(n_strata), side="left")
    last = np.empty((n_strata, len(grid)), dtype=np.int64)
    for s_ in range(n_strata):
        sel = slice(start[s_], np.searchsorted(ev_stratum, s_, side="right"))
        last[s_] = start[s_] - 1 + np.searchsorted(ev_time[sel], grid, side="right")
    h1 = prefix_h1[last + 1] - prefix_h1[start][:, None, :]
    r = np.exp(x @ beta)
    upper = np.minimum(rs.hi[:, None], last[m["stratum"]])             # rows x times
    lo = rs.lo[:, None]
    own = -r[:, None] * np.where(upper >= lo, prefix_h2[np.maximum(upper, lo - 1) + 1]
                                 - prefix_h2[np.minimum(lo, rs.n_times)], 0.0)
    reached = k[:, None] <= last[m["stratum"][ev]]                      # events x times
    own[ev] += reached * (d_haz[k] / rs.n_dead[k] + r[ev] * tie_h2[k])[:, None]
    return {"if_beta": if_beta, "own": own, "h1": h1}


def _standardised_influence(m: dict[str, Any], parts: dict[str, np.ndarray], x: np.ndarray,
                            risk: np.ndarray, surv: np.ndarray, est: np.ndarray,
                            row_stratum: np.ndarray, cumhaz: np.ndarray,
                            over_fit: bool) -> np.ndarray:
    """Influence functions (fit rows x times) of mean_i S_i(t) over the rows ``x`` (centred
    design with the level set), see :meth:`CoxResult.adjusted_survival`."""
    n_rows = len(risk)
    w = surv * risk[:, None] / n_rows                                  # -dS_i/dH0 / n
    c = np.zeros((m["n_strata"], surv.shape[1]))
    np.add.at(c, row_stratum, -w)                                      # per stratum
    d_beta = -(w * cumhaz[row_stratum]).T @ x                          # times x p
    coef = d_beta - np.einsum("sg,sgp->gp", c, parts["h1"])
    out = parts["if_beta"] @ coef.T + c[m["stratum"]] * parts["own"]
    if over_fit:
        out += (surv - est) / n_rows
    return out


def _survival_limits(est: np.ndarray, se: np.ndarray, alpha: float,
                     conf_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Confidence limits of survival probabilities: plain Wald (cut to [0, 1]) or log-log;
    where se is 0 or the estimate is 0 or 1 the limits are the estimate."""
    z = stats.norm.ppf(1 - alpha / 2)
    if conf_type == "plain":
        return np.clip(est - z * se, 0.0, 1.0), np.clip(est + z * se, 0.0, 1.0)
    ok = (se > 0) & (est > 0) & (est < 1)
    safe = np.where(ok, est, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.where(ok, z * se / (safe * np.abs(np.log(safe))), 0.0)
    lower = np.where(ok, safe ** np.exp(width), est)      # 0 < S < 1: a larger power is lower
    upper = np.where(ok, safe ** np.exp(-width), est)
    return lower, upper


def cox_ph_test(m: dict[str, Any], transform: str, alpha: float) -> PHTestResult:
    """The score tests and scaled Schoenfeld residuals of R's ``cox.zph`` (zph1/zph2 C code)."""
    rs = EfronRiskSets(m["entry"], m["stop"], m["event"], m["stratum"], m["ties"])
    x, beta, wt, stop, entry = m["x"], m["beta"], m["weights"], m["stop"], m["entry"]
    _, r, den, a, mw = event_terms(rs, x, beta, wt)
    ev, k = rs.event_rows, rs.event_time
    if transform == "km":                   # 1 - left-continuous KM of all rows (survfitKM)
        u = np.unique(stop)
        n_risk = (len(stop) - np.searchsorted(np.sort(stop), u, side="left")
                  - (len(entry) - np.searchsorted(np.sort(entry), u, side="left")))
        dead = np.bincount(np.searchsorted(u, stop[ev]), minlength=len(u))
        surv = np.cumprod(1 - dead / np.maximum(n_risk, 1))
        idx = np.searchsorted(u, stop, side="left") - 1
        ttimes = 1 - np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)
    elif transform == "rank":
        ttimes = stats.rankdata(stop)
    elif transform == "log":
        if (stop <= 0).any():
            raise ParameterError("transform 'log' needs durations > 0; use 'km' or 'rank'.")
        ttimes = np.log(stop)
    else:
        ttimes = stop.astype(float)
    g = (ttimes - ttimes[ev].mean())[ev]
    w_ev = np.ones(len(ev)) if wt is None else wt[ev]
    p = len(beta)
    u_gamma = g @ (w_ev[:, None] * x[ev] - mw[:, None] * a)
    g1 = info_sum(rs, x, r, den, a, mw * g)
    imat = np.block([[m["info"], g1], [g1, info_sum(rs, x, r, den, a, mw * g * g)]])
    score = np.concatenate([np.zeros(p), u_gamma])
    terms = m["terms"]
    rows = []
    for name, jj in terms.items():
        kk = list(range(p)) + [p + j for j in jj]
        uk = score[kk]
        rows.append((name, float(uk @ np.linalg.solve(imat[np.ix_(kk, kk)], uk)), len(jj)))
    rows.append(("GLOBAL", float(score @ np.linalg.solve(imat, score)), p))
    summary = pd.DataFrame(rows, columns=["term", "statistic", "df"]).set_index("term")
    summary["df"] = summary["df"].astype(float)
    summary["p_value"] = stats.chi2.sf(summary["statistic"], summary["df"])

    # scaled Schoenfeld residuals, as cox.zph: solve(mean information per event) + coef
    stratum = m["stratum"]
    abar = rs.time_sum(a) / rs.n_dead[:, None]
    schoen = x[ev] - abar[k]
    order = np.lexsort((ev, stop[ev], stratum[ev]))
    schoen, ev_sorted = schoen[order], ev[order]
    n_strata = int(stratum.max()) + 1
    frame = pd.DataFrame(x).groupby(stratum)
    varies = (frame.max() - frame.min()).reindex(range(n_strata)).to_numpy() > 0
    used = varies * np.bincount(stratum[ev], minlength=n_strata)[:, None]
    wtmat = sum(np.minimum.outer(row, row) for row in used)
    vmean = m["info"] / np.where(wtmat == 0, 1, wtmat)
    tmat = np.zeros((p, len(terms)))
    for i, jj in enumerate(terms.values()):
        tmat[jj, i] = 1.0 if len(jj) == 1 else beta[jj]
    sres = schoen @ tmat
    vmean = tmat.T @ vmean @ tmat
    used = used[:, [jj[0] for jj in terms.values()]]
    ev_stratum = stratum[ev_sorted]
    for s in range(n_strata):
        sel = ev_stratum == s
        kk = np.flatnonzero(used[s] > 0)
        if kk.size:
            sres[np.ix_(sel, kk)] = np.linalg.solve(vmean[np.ix_(kk, kk)], sres[np.ix_(sel, kk)].T).T
        sres[np.ix_(sel, np.flatnonzero(used[s] == 0))] = np.nan
    estimates = {name: float(beta[jj[0]]) if len(jj) == 1 else None
                 for name, jj in terms.items()}
    sres += np.array([1.0 if v is None else v for v in estimates.values()])
    residuals = pd.DataFrame(sres, columns=list(terms))
    residuals.insert(0, "transformed_time", ttimes[ev_sorted])
    residuals.insert(0, "time", stop[ev_sorted])
    return PHTestResult(
        summary=summary,
        metadata={"method": "test of proportional hazards on scaled Schoenfeld residuals "
                            "(survival::cox.zph, survival 3.x)", "alpha": alpha,
                  "n": len(stop), "n_events": len(ev), "transform": transform,
                  "estimates": estimates,
                  "versions": package_versions("numpy", "pandas", "scipy")},
        residuals_=residuals)
