"""Variance, balance and E-values of evaluation.models.effects by a second route: R's numerical
Jacobian sandwich and weighted regressions instead of effects_reference.R.

``tests/reference/review_effects.R`` (R 4.2.2, sandwich 3.0.2, numDeriv 2016.8.1.1; run with
``Rscript tests/reference/review_effects.R`` from the repository root) reads the same
``tests/reference/effects_data.csv`` and computes, without the analytic influence functions
of the Python code:

* ``review_effects_sandwich.csv``: the stacked M-estimation sandwich (Stefanski & Boos 2002;
  Lunceford & Davidian 2004) whose bread is the NUMERICAL Jacobian of the estimating
  functions (PS model, per-arm outcome models, arm means), plain and child-clustered;
* ``review_effects_weighted_glm.csv``: Hajek IPW as weighted regressions (``lm`` with
  weights, ``glm(quasipoisson(log))`` with weights) and their HC0 sandwich SEs, which treat
  the weights as known (what ``survey::svyglm`` reports, up to its n/(n-1) factor; the
  ``survey`` package is not installed here);
* ``review_effects_lunceford.csv``: Lunceford & Davidian's (2004) closed-form variance of the
  normalised IPW ATE with an estimated propensity score;
* ``review_effects_balance.csv`` / ``review_effects_ess.csv``: SMDs with the pooled SD of the
  unweighted arms (cobalt's ATE and ATO denominator; for ATT the SD of the treated arm, its
  ATT denominator), weighted variance ratios, Kish ESS;
* ``review_effects_three_arms.csv``: the numerical-Jacobian sandwich for three arms with a
  multinomial propensity score fitted by Newton in R (ATE, ATT in the HVB population, ATO).

Observed agreement: estimates 1e-14, SEs 1e-11 relative (tolerance 1e-6).

The tests need no R.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.models.effects import _e_value, estimate_effect
from tests.helpers import EFFECT_COVARIATES
from tests.helpers import REFERENCE as REF

COVS = EFFECT_COVARIATES


@pytest.fixture(scope="module")
def data(ref_data) -> pd.DataFrame:
    """The data of every test here: ``effects_data.csv`` (see ``conftest.py``)."""
    return ref_data
# numDeriv's Richardson Jacobian is accurate to about 1e-9 relative here; 1e-6 is the
# project tolerance
RTOL = 1e-6


_FITS: dict[tuple, object] = {}


def _fit(data, method, estimand, outcome, cluster=False, **kw):
    key = (method, estimand, outcome, cluster, tuple(sorted(kw.items())))
    if key not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[key] = estimate_effect(data, "treat", outcome, COVS, method=method,
                                         estimand=estimand,
                                         cluster_col="child" if cluster else None, **kw)
    return _FITS[key]


def _python_quantities(fit) -> dict[str, tuple[float, float]]:
    arms = fit.arms.set_index("arm")
    s = fit.summary.set_index("measure")
    out = {f"mu_{a}": (arms.loc[a, "estimate"], arms.loc[a, "se"]) for a in ("0", "1")}
    diff = "risk_difference" if "risk_difference" in s.index else "mean_difference"
    out["difference"] = (s.loc[diff, "estimate"], s.loc[diff, "se"])
    if "risk_ratio" in s.index:
        out["log_ratio"] = (np.log(s.loc["risk_ratio", "estimate"]), s.loc["risk_ratio", "se"])
    return out


SANDWICH = pd.read_csv(REF / "review_effects_sandwich.csv")
CASES = sorted({tuple(r) for r in SANDWICH[["estimand", "method", "outcome", "cluster"]]
                .itertuples(index=False)})


@pytest.mark.parametrize(("estimand", "method", "outcome", "cluster"), CASES)
def test_estimates_and_ses_match_numerical_jacobian_sandwich_in_r(data, estimand, method,
                                                                  outcome, cluster):
    """IPW and AIPW for ATE/ATT/ATO: point estimates and influence-function SEs equal the
    generic stacked sandwich with a numerically differentiated bread (estimated PS and
    outcome models), plain and clustered by child."""
    fit = _fit(data, method, estimand, outcome, cluster == "child")
    got = _python_quantities(fit)
    ref = SANDWICH[(SANDWICH.estimand == estimand) & (SANDWICH.method == method)
                   & (SANDWICH.outcome == outcome) & (SANDWICH.cluster == cluster)]
    assert len(ref) == len(got)
    for _, r in ref.iterrows():
        est, se = got[r["quantity"]]
        assert_allclose(est, r["estimate"], rtol=RTOL, err_msg=r["quantity"])
        assert_allclose(se, r["se"], rtol=RTOL, err_msg=r["quantity"])


THREE = pd.read_csv(REF / "review_effects_three_arms.csv")


@pytest.mark.parametrize(("estimand", "method", "outcome"),
                         sorted({tuple(r) for r in THREE[["estimand", "method", "outcome"]]
                                 .itertuples(index=False)}))
def test_three_arms_match_numerical_jacobian_sandwich_in_r(data, estimand, method, outcome):
    """Multinomial propensity score (Newton in R), generalised ATE/ATT/overlap weights; arm
    means and contrasts vs FH with their SEs against the numerical-Jacobian sandwich. ATT is
    in the HVB population."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = estimate_effect(data, "arm3", outcome, COVS, method=method, estimand=estimand,
                              treated="HVB" if estimand == "ATT" else None)
    ref = THREE[(THREE.estimand == estimand) & (THREE.method == method)
                & (THREE.outcome == outcome)].set_index("quantity")
    arms = fit.arms.set_index("arm")
    for arm in ("FH", "HVB", "SIS"):
        assert_allclose(arms.loc[arm, ["estimate", "se"]].to_numpy(dtype=float),
                        ref.loc[f"mu_{arm}", ["estimate", "se"]].to_numpy(dtype=float),
                        rtol=RTOL, err_msg=arm)
    s = fit.summary[fit.summary["measure"].isin(["risk_difference", "mean_difference"])]
    assert len(s) == (1 if estimand == "ATT" else 2)
    for _, r in s.iterrows():
        arm = r["contrast"].split(" vs ")[0]
        assert_allclose([r["estimate"], r["se"]],
                        ref.loc[f"difference_{arm}", ["estimate", "se"]].to_numpy(dtype=float),
                        rtol=RTOL, err_msg=arm)


def test_hajek_ipw_equals_weighted_regression_and_known_weight_se_is_conservative(data):
    """Hajek IPW = coefficient of the weighted regression y ~ a (R lm / quasipoisson glm with
    weights, as svyglm). Its sandwich SE treats the weights as known; with an estimated
    propensity score the ATE variance is smaller (Lunceford & Davidian 2004, section 3.2),
    so the known-weight SE must be larger for the ATE. For ATT and ATO no ordering holds,
    so only the estimate is compared there."""
    ref = pd.read_csv(REF / "review_effects_weighted_glm.csv")
    for _, r in ref.iterrows():
        fit = _fit(data, "ipw", r["estimand"], r["outcome"])
        est, se = _python_quantities(fit)[r["quantity"]]
        assert_allclose(est, r["estimate"], rtol=RTOL)
        if r["estimand"] == "ATE":
            assert se < r["se_known_weights"]
            # the gain from estimating the PS is real but modest in these data (4-20 %)
            assert se > 0.75 * r["se_known_weights"]


def test_known_weight_regression_agrees_between_statsmodels_and_r(data):
    """The same weighted regressions in statsmodels (GLM with var_weights, HC0), with the
    propensity score refitted by statsmodels' own logistic GLM, reproduce the stored R
    numbers: the survey-style route without R."""
    import statsmodels.api as sm

    ref = pd.read_csv(REF / "review_effects_weighted_glm.csv")
    x = pd.get_dummies(data[["age", "sex", "behav", "placement"]], columns=["placement"],
                       drop_first=True, dtype=float)
    a = data["treat"].to_numpy(dtype=float)
    e = sm.GLM(a, sm.add_constant(x), family=sm.families.Binomial()).fit(tol=1e-14).fittedvalues
    e = np.asarray(e)
    weights = {"ATE": np.where(a == 1, 1 / e, 1 / (1 - e)),
               "ATT": np.where(a == 1, 1.0, e / (1 - e)),
               "ATO": np.where(a == 1, 1 - e, e)}
    for _, r in ref.iterrows():
        fam = sm.families.Gaussian() if r["quantity"] == "difference" else \
            sm.families.Poisson()
        g = sm.GLM(data[r["outcome"]].to_numpy(dtype=float), sm.add_constant(a), family=fam,
                   var_weights=weights[r["estimand"]]).fit(cov_type="HC0", tol=1e-14)
        assert_allclose(g.params[1], r["estimate"], rtol=RTOL)
        assert_allclose(g.bse[1], r["se_known_weights"], rtol=RTOL)


def test_ipw_ate_se_matches_lunceford_davidian_closed_form(data):
    """L&D (2004) eq. for the normalised IPW with the H' E^-1 X (Z - e) correction. With the
    sample normalisers mean(Z/e), mean((1-Z)/(1-e)) kept, it equals ours to 1e-6; in L&D's
    own form (normalisers replaced by their limit 1) it differs by O(n^-1/2): 1.1 % here,
    so that form is compared at 2 %."""
    ref = pd.read_csv(REF / "review_effects_lunceford.csv").set_index("outcome")
    for outcome in ("yb", "yc"):
        est, se = _python_quantities(_fit(data, "ipw", "ATE", outcome))["difference"]
        r = ref.loc[outcome]
        assert_allclose(est, r["estimate"], rtol=RTOL)
        assert_allclose(se, r["se_estimated_ps_normalised"], rtol=RTOL)
        assert_allclose(se, r["se_estimated_ps"], rtol=0.02)
        assert se < r["se_known_ps_normalised"]


def test_balance_and_ess_match_r_definitions(data):
    """SMD with the pooled SD of the unweighted arms (ATE, ATO) or the SD of the treated arm
    (ATT) before and after weighting (cobalt's default s.d.denom per estimand), weighted
    variance ratio (normalised weights, divisor sum w), Kish ESS."""
    bal = pd.read_csv(REF / "review_effects_balance.csv")
    ess = pd.read_csv(REF / "review_effects_ess.csv")
    for estimand in ("ATE", "ATT", "ATO"):
        fit = _fit(data, "ipw", estimand, "yb")
        b = fit.balance.set_index("covariate")
        r = bal[bal.estimand == estimand]
        r = r.assign(covariate=r["covariate"].str.replace(
            r"^placement(\w+)$", r"placement[\1]", regex=True)).set_index("covariate")
        assert sorted(b.index) == sorted(r.index)
        for col in ("smd_unadjusted", "smd_adjusted", "variance_ratio_adjusted"):
            assert_allclose(b.loc[r.index, col], r[col], rtol=RTOL, atol=1e-12, err_msg=col)
        e = ess[ess.estimand == estimand].set_index("arm")["ess"]
        assert_allclose(fit.ess[["0", "1"]].to_numpy(), e.loc[[0, 1]].to_numpy(), rtol=RTOL)


def test_overlap_weights_exact_balance_holds_for_two_arms_only(data):
    """Li, Morgan & Zaslavsky (2018): with a logistic PS, overlap weights give exact mean
    balance of every PS-model covariate (R file: |SMD| < 1e-12). The generalised overlap
    weights for three arms (Li & Li 2019) do not balance exactly (finding; the docstring
    does not claim it)."""
    r = pd.read_csv(REF / "review_effects_balance.csv")
    assert r.loc[r.estimand == "ATO", "smd_adjusted"].abs().max() < 1e-10
    assert _fit(data, "ipw", "ATO", "yb").balance["smd_adjusted"].abs().max() < 1e-10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        three = estimate_effect(data, "arm3", "yb", COVS, method="ipw", estimand="ATO")
    assert three.balance["smd_adjusted"].abs().max() > 1e-3


# --------------------------------------------------------------------------- E-values
def test_e_value_published_examples():
    """VanderWeele & Ding (2017), Ann Intern Med 167:268: RR 3.9 (CI 1.8-8.7) -> E-values
    7.26 and 3.0; a protective RR uses 1/RR; the null gives 1."""
    assert round(_e_value(3.9), 2) == 7.26
    assert round(_e_value(1.8), 1) == 3.0
    assert _e_value(1 / 3.9) == pytest.approx(_e_value(3.9), rel=1e-12)
    assert _e_value(1.0) == 1.0
    assert np.isnan(_e_value(-0.2))


def _formula_e(rr: float) -> float:
    rr = 1 / rr if rr < 1 else rr
    return rr + np.sqrt(rr * (rr - 1))


def test_e_value_table_protective_effect_uses_upper_limit(data):
    """For a protective effect (RR < 1, CI below 1) the limit nearest the null is the upper
    one; for a mean difference d, RR = exp(0.91 d / SD) and the limit exp(0.91 d / SD -
    1.78 se / SD) (VanderWeele & Ding 2017, continuous outcomes; 1.78 = 0.91 x 1.96)."""
    d = data.assign(yb_rev=1 - data["yb"], yc_rev=-data["yc"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fb = estimate_effect(d, "treat", "yb_rev", COVS)
        fc = estimate_effect(d, "treat", "yc_rev", COVS)
    ev = fb.e_value().set_index("measure")
    s = fb.summary.set_index("measure")
    assert s.loc["risk_ratio", "ci_upper"] < 1
    assert ev.loc["risk_ratio", "rr_limit"] == s.loc["risk_ratio", "ci_upper"]
    assert_allclose(ev.loc["risk_ratio", "e_value_ci"],
                    _formula_e(s.loc["risk_ratio", "ci_upper"]), rtol=1e-12)
    arms = fb.arms.set_index("arm")["estimate"]
    assert_allclose(ev.loc["risk_difference", "rr"], arms["1"] / arms["0"], rtol=1e-12)
    c = fc.summary.iloc[0]
    sd = fc.metadata["outcome_sd_pooled"]["1 vs 0"]
    evc = fc.e_value().iloc[0]
    assert c["ci_upper"] < 0
    assert_allclose(evc["rr"], np.exp(0.91 * c["estimate"] / sd), rtol=1e-12)
    assert_allclose(evc["rr_limit"], np.exp(0.91 * c["estimate"] / sd
                                            + 0.91 * 1.959963984540054 * c["se"] / sd),
                    rtol=1e-10)
    assert_allclose(evc["e_value"], _formula_e(np.exp(0.91 * c["estimate"] / sd)), rtol=1e-12)


# --------------------------------------------------------------------------- findings
def test_two_arm_truncation_bounds_scores_into_the_documented_interval(data):
    fit = _fit(data, "ipw", "ATE", "yb", truncate=0.1)
    e1 = np.clip(fit.propensity_[:, 1], 0.1, 0.9)
    a = fit.treatment_
    expected = np.where(a == 1, 1 / e1, 1 / (1 - e1))
    assert_allclose(fit.weights_, expected, rtol=1e-12)


def test_cluster_bootstrap_replicates_resample_whole_children(data):
    """Replay the documented generator: replicate r uses default_rng(SeedSequence(seed)
    .spawn(B)[r]) to draw n_clusters children with replacement and takes all their rows.
    The stored replicate arm means must equal a fresh fit on that resample."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = estimate_effect(data, "treat", "yb", COVS, method="ipw", cluster_col="child",
                              n_bootstrap=20, seed=7)
    codes, uniq = pd.factorize(data["child"])
    rows_of = [np.flatnonzero(codes == k) for k in range(len(uniq))]
    for r, seq in enumerate(np.random.SeedSequence(7).spawn(20)[:3]):
        pick = np.random.default_rng(seq).integers(0, len(uniq), len(uniq))
        boot = data.iloc[np.concatenate([rows_of[k] for k in pick])].reset_index(drop=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            again = estimate_effect(boot, "treat", "yb", COVS, method="ipw")
        assert_allclose(fit.bootstrap_.iloc[r].to_numpy(dtype=float),
                        again.arms["estimate"].to_numpy(), rtol=1e-10)
