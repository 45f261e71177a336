"""Tests of ``contrasts="all"`` (every pair of arms) and ``weights_col`` (sampling weights) in
evaluation.models.effects.estimate_effect.

The all-pairs contrasts are checked by hand against the per-arm influence functions of the
same fit. The sampling-weighted estimates are compared with
``tests/reference/effects_weights_reference.R`` (run with
``Rscript tests/reference/effects_weights_reference.R`` from the repository root), which
reads ``tests/reference/effects_weights_data.csv`` (written by :func:`make_weights_data`;
``.venv/bin/python tests/test_effects_pairs_weights.py`` regenerates it). The tests need no R.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ConstantCovariateWarning, ParameterError, PositivityWarning
from evaluation.models.effects import estimate_effect
from tests.helpers import EFFECT_COVARIATES, WEIGHTS_COVARIATES, estimate_effect_quietly
from tests.helpers import REFERENCE as REF

COVS = EFFECT_COVARIATES


WCOVS = WEIGHTS_COVARIATES


def make_weights_data(n: int = 900, seed: int = 20261130) -> pd.DataFrame:
    """The 900 synthetic rows of ``effects_weights_data.csv``: covariates age, sex, behav and
    region (M/N/S), a confounded binary ``treat`` and three-arm ``arm3`` (FH/HVB/SIS), a
    binary ``yb`` and a continuous ``yc`` outcome, ``child`` clusters and two sets of
    sampling weights: ``w_int`` (integers 1-5) and ``w_frac`` (inverse sampling
    probabilities between 1.25 and 5, depending on age and behav, so they are informative)."""
    rng = np.random.default_rng(seed)
    child = np.sort(rng.integers(1, int(n * 0.7), n))
    age = np.round(rng.uniform(0, 17.99, n), 2)
    sex = rng.integers(0, 2, n)
    behav = (rng.random(n) < 0.2 + 0.03 * np.maximum(age - 10, 0)).astype(int)
    region = rng.choice(["M", "N", "S"], n, p=[0.5, 0.2, 0.3])
    lp = -1.8 + 0.1 * age + 0.8 * behav - 0.3 * sex + 0.4 * (region == "S")
    treat = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    eta1 = 0.1 * (age - 9) + 0.7 * behav
    eta2 = -0.4 + 0.15 * (age - 9) + 0.3 * sex - 0.3 * (region == "N")
    pr = np.column_stack([np.ones(n), np.exp(eta1), np.exp(eta2)])
    pr /= pr.sum(axis=1, keepdims=True)
    u = rng.random(n)
    arm3 = np.array(["FH", "HVB", "SIS"])[(u[:, None] > np.cumsum(pr, axis=1)[:, :2]).sum(axis=1)]
    yb_lp = (-1.4 + 0.05 * age + 0.6 * behav + 0.4 * treat + 0.2 * (region == "N")
             + 0.3 * (arm3 == "SIS"))
    yb = (rng.random(n) < 1 / (1 + np.exp(-yb_lp))).astype(int)
    yc = np.round(10 + 0.3 * age + 2 * behav + 1.5 * treat - 0.5 * sex + 0.1 * age * treat
                  - 1.0 * (arm3 == "HVB") + rng.normal(0, 3, n), 3)
    w_int = rng.integers(1, 6, n)
    prob = 0.2 + 0.6 / (1 + np.exp(-(0.25 * (age - 9) - 0.8 * behav)))
    w_frac = np.round(1 / prob, 6)
    return pd.DataFrame({"child": child, "age": age, "sex": sex, "behav": behav,
                         "region": region, "treat": treat, "arm3": arm3, "yb": yb, "yc": yc,
                         "w_int": w_int, "w_frac": w_frac})


_quiet = estimate_effect_quietly


# --------------------------------------------------------------------------- all pairs
@pytest.mark.parametrize("cluster", [None, "child"])
@pytest.mark.parametrize(("method", "estimand", "outcome"),
                         [("aipw", "ATE", "yb"), ("ipw", "ATO", "yc"),
                          ("regression", "ATE", "yc"), ("aipw", "ATT", "yb")])
def test_all_pairs_add_the_non_control_pair_to_the_control_contrasts(
        ref_data, method, estimand, outcome, cluster):
    kw = {"method": method, "estimand": estimand, "cluster_col": cluster}
    if estimand == "ATT":
        kw["treated"] = "HVB"                 # the target population
    default = _quiet(ref_data, "arm3", outcome, COVS, **kw)
    every = _quiet(ref_data, "arm3", outcome, COVS, contrasts="all", **kw)
    s = every.summary
    assert s["contrast"].unique().tolist() == ["HVB vs FH", "SIS vs FH", "SIS vs HVB"]
    # the control contrasts are exactly those of the default call
    shared = s[s["contrast"].isin(default.summary["contrast"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(shared, default.summary)
    pd.testing.assert_frame_equal(every.arms, default.arms)

    # the non-control pair, computed independently from the arm means and influence_
    arms = every.arms.set_index("arm")["estimate"]
    phi = every.influence_
    t, c = 2, 1                                              # SIS, HVB
    if cluster is not None:
        codes = pd.factorize(ref_data[cluster])[0]
        phi = np.column_stack([np.bincount(codes, weights=phi[:, j]) for j in range(3)])
    n = len(ref_data)
    cov = phi.T @ phi / n ** 2
    pair = s[s["contrast"] == "SIS vs HVB"].set_index("measure")
    diff = "risk_difference" if outcome == "yb" else "mean_difference"
    assert_allclose(pair.loc[diff, "estimate"], arms["SIS"] - arms["HVB"], rtol=1e-12)
    assert_allclose(pair.loc[diff, "se"],
                    np.sqrt(cov[t, t] + cov[c, c] - 2 * cov[t, c]), rtol=1e-10)
    counts = ref_data["arm3"].value_counts()
    assert (pair["n"] == counts["SIS"] + counts["HVB"]).all()
    if outcome == "yb":
        mt, mc = arms["SIS"], arms["HVB"]
        assert_allclose(pair.loc["risk_ratio", "estimate"], mt / mc, rtol=1e-12)
        var_log = cov[t, t] / mt ** 2 + cov[c, c] / mc ** 2 - 2 * cov[t, c] / (mt * mc)
        assert_allclose(pair.loc["risk_ratio", "se"], np.sqrt(var_log), rtol=1e-10)
    assert every.metadata["contrast_set"] == "all"
    assert [m["control"] for m in every.metadata["contrasts"]] == ["FH", "FH", "HVB"]
    if estimand == "ATT":
        assert every.metadata["att_population"] == "HVB"


def test_all_pairs_follow_into_balance_e_values_and_plot(ref_data):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fit = _quiet(ref_data, "arm3", "yb", COVS, method="ipw", contrasts="all")
    pairs = ["HVB vs FH", "SIS vs FH", "SIS vs HVB"]
    assert fit.balance["contrast"].unique().tolist() == pairs
    # balance of SIS vs HVB by hand: SMD of age, weighted by each row's own-arm weight
    a, x, w = ref_data["arm3"].to_numpy(), ref_data["age"].to_numpy(), fit.weights_
    rs, rh = a == "SIS", a == "HVB"
    sd = np.sqrt((x[rs].var(ddof=1) + x[rh].var(ddof=1)) / 2)
    smd = (np.average(x[rs], weights=w[rs]) - np.average(x[rh], weights=w[rh])) / sd
    b = fit.balance.set_index(["contrast", "covariate"])
    assert_allclose(b.loc[("SIS vs HVB", "age"), "smd_adjusted"], smd, rtol=1e-9)
    # E-value of the pair's risk difference uses the HVB arm's risk as the baseline
    ev = fit.e_value().set_index(["contrast", "measure"])
    row = fit.summary.set_index(["contrast", "measure"]).loc[("SIS vs HVB", "risk_difference")]
    p0 = fit.arms.set_index("arm").loc["HVB", "estimate"]
    assert_allclose(ev.loc[("SIS vs HVB", "risk_difference"), "rr"],
                    (p0 + row["estimate"]) / p0, rtol=1e-12)
    assert_allclose(ev.loc[("SIS vs HVB", "risk_difference"), "rr"],
                    ev.loc[("SIS vs HVB", "risk_ratio"), "rr"], rtol=1e-10)
    ax = fit.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == pairs
    plt.close("all")


def test_all_pairs_bootstrap_follows_the_pairs(ref_data):
    fit = _quiet(ref_data, "arm3", "yc", COVS, method="ipw", contrasts="all", n_bootstrap=60,
                 seed=11, cluster_col="child")
    boot = fit.bootstrap_
    s = fit.summary.set_index("contrast")
    influence = fit.metadata["summary_influence"].set_index("contrast")
    assert list(s.index) == ["HVB vs FH", "SIS vs FH", "SIS vs HVB"]
    assert_allclose(s.loc["SIS vs HVB", "se"], (boot["SIS"] - boot["HVB"]).std(ddof=1),
                    rtol=1e-12)
    assert_allclose(s.loc["SIS vs HVB", "ci_lower"],
                    np.quantile(boot["SIS"] - boot["HVB"], 0.025), rtol=1e-12)
    assert_allclose(s["estimate"], influence["estimate"], rtol=1e-12)
    # the bootstrap SD estimates the same quantity as the IF SE (60 replicates: ~10 % MC error)
    ratio = s["se"] / influence["se"]
    assert ((ratio > 0.6) & (ratio < 1.5)).all(), ratio


def test_all_pairs_with_two_arms_is_the_single_contrast(ref_data):
    one = estimate_effect(ref_data, "treat", "yb", COVS)
    every = estimate_effect(ref_data, "treat", "yb", COVS, contrasts="all")
    pd.testing.assert_frame_equal(one.summary, every.summary)


def test_contrasts_errors_name_the_problem(ref_data):
    with pytest.raises(ParameterError, match=r"contrasts='pairs' is unknown; choose one of "
                                             r"\('control', 'all'\)"):
        estimate_effect(ref_data, "arm3", "yb", COVS, contrasts="pairs")
    for estimand in ("ATE", "ATO"):
        with pytest.raises(ParameterError, match=f"treated='HVB' with contrasts='all' is only "
                                                 f".*estimand='ATT'.*estimand='{estimand}'"):
            estimate_effect(ref_data, "arm3", "yb", COVS, estimand=estimand, treated="HVB",
                            contrasts="all")
    with pytest.raises(ParameterError, match="needs treated="):
        estimate_effect(ref_data, "arm3", "yb", COVS, estimand="ATT", contrasts="all")


# --------------------------------------------------------------------------- sampling weights
R_WEIGHTS = pd.read_csv(REF / "effects_weights_estimates.csv")
R_CASES = sorted({tuple(r) for r in R_WEIGHTS[["weights", "treatment", "estimand", "method",
                                               "outcome"]].itertuples(index=False)})


def test_weights_csv_is_reproduced_by_make_weights_data(wdata):
    pd.testing.assert_frame_equal(make_weights_data(), wdata, check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("cluster", [False, True])
@pytest.mark.parametrize(("weights", "treatment", "estimand", "method", "outcome"), R_CASES)
def test_weighted_estimates_match_r(wdata, weights, treatment, estimand, method, outcome,
                                    cluster):
    """R: effects_weights_reference.R, e.g. for treat/ATE/aipw/yb/w_frac
    ps <- glm(A ~ age + sex + behav + region, quasibinomial, weights = w_frac) (three arms:
    nnet::multinom(arm3 ~ ..., weights = w_frac)); per-arm glm(y ~ ..., weights = w_frac);
    mu_a = (sum(s h m_a) + sum(s 1{A=a} w_a (y - m_a))) / sum(s h); phi = s (psi + G_g' I_g^-1
    score_g + G_b' I_b^-1 score_b) / D written out; se = sqrt(sum(phi^2)) / n (clustered:
    rowsum by child first). Checked also against the numerical-Jacobian sandwich. Every arm
    mean, every pair's difference and log risk ratio and their SEs agree at 1e-6."""
    kw = {"treated": "HVB"} if (treatment == "arm3" and estimand == "ATT") else {}
    fit = _quiet(wdata, treatment, outcome, WCOVS, method=method, estimand=estimand,
                 weights_col=weights, contrasts="all",
                 cluster_col="child" if cluster else None, **kw)
    ref = R_WEIGHTS[(R_WEIGHTS["weights"] == weights) & (R_WEIGHTS["treatment"] == treatment)
                    & (R_WEIGHTS["estimand"] == estimand) & (R_WEIGHTS["method"] == method)
                    & (R_WEIGHTS["outcome"] == outcome)]
    arms = fit.arms.set_index("arm")
    summary = fit.summary.set_index(["contrast", "measure"])
    diff = "risk_difference" if outcome == "yb" else "mean_difference"
    for _, r in ref.iterrows():
        q = r["quantity"]
        if q.startswith("mu_"):
            est, se = arms.loc[q[3:], "estimate"], arms.loc[q[3:], "se"]
        else:
            kind, t, c = q.rsplit("_", 2)
            measure = diff if kind == "difference" else "risk_ratio"
            row = summary.loc[(f"{t} vs {c}", measure)]
            est, se = row["estimate"], row["se"]
            if measure == "risk_ratio":
                est = np.log(est)
        assert_allclose(est, r["estimate"], rtol=1e-6, atol=1e-12, err_msg=q)
        assert_allclose(se, r["se_cluster" if cluster else "se"], rtol=1e-6, err_msg=q)
        if not cluster:
            assert_allclose(se, r["se_numderiv"], rtol=1e-6, err_msg=q)
    k = 2 if treatment == "treat" else 3
    assert len(ref) == k + (k * (k - 1) // 2) * (2 if outcome == "yb" else 1)
    assert fit.metadata["weights_col"] == weights
    assert fit.metadata["sum_weights"] == pytest.approx(wdata[weights].sum())


@pytest.mark.parametrize(("treatment", "estimand", "method", "outcome"),
                         [("treat", "ATE", "aipw", "yb"), ("treat", "ATO", "regression", "yc"),
                          ("arm3", "ATT", "ipw", "yb"), ("arm3", "ATE", "naive", "yc"),
                          ("arm3", "ATO", "aipw", "yb")])
def test_unit_weights_give_exactly_the_unweighted_results(wdata, treatment, estimand, method,
                                                          outcome):
    d = wdata.assign(one=1.0)
    kw = {"method": method, "estimand": estimand, "cluster_col": "child", "contrasts": "all"}
    if estimand == "ATT":
        kw["treated"] = "HVB"
    plain = _quiet(d, treatment, outcome, WCOVS, **kw)
    ones = _quiet(d, treatment, outcome, WCOVS, weights_col="one", **kw)
    for attr in ("summary", "arms", "balance"):
        pd.testing.assert_frame_equal(getattr(ones, attr), getattr(plain, attr),
                                      check_exact=True)
    pd.testing.assert_series_equal(ones.ess, plain.ess, check_exact=True)
    np.testing.assert_array_equal(ones.influence_, plain.influence_)
    np.testing.assert_array_equal(ones.weights_, plain.weights_)
    assert ones.e_value().equals(plain.e_value())


@pytest.mark.parametrize(("treatment", "estimand", "method", "outcome"),
                         [("treat", "ATE", "aipw", "yb"), ("treat", "ATT", "regression", "yc"),
                          ("arm3", "ATO", "ipw", "yb"), ("arm3", "ATE", "aipw", "yc")])
def test_integer_weights_equal_repeated_rows_clustered_by_row(wdata, treatment, estimand,
                                                             method, outcome):
    """Frequency-weight identity: with integer weights the estimates equal those of the data
    with each row repeated w times, and the linearisation SE equals the SE of that expanded
    analysis with the original rows as clusters (the copies of a row are one unit)."""
    kw = {"method": method, "estimand": estimand, "contrasts": "all"}
    weighted = _quiet(wdata, treatment, outcome, WCOVS, weights_col="w_int", **kw)
    expanded = wdata.loc[wdata.index.repeat(wdata["w_int"])].rename_axis("row").reset_index()
    repeated = _quiet(expanded, treatment, outcome, WCOVS, cluster_col="row", **kw)
    for col in ("estimate", "se", "ci_lower", "ci_upper"):
        assert_allclose(weighted.summary[col], repeated.summary[col], rtol=1e-9)
        assert_allclose(weighted.arms[col], repeated.arms[col], rtol=1e-9)
    # (balance and ESS differ by design: sampling weights are not frequencies, so the pooled
    # SD uses the divisor sum w - sum w^2 / sum w, not sum w - 1, and the Kish ESS of the
    # product weights is not that of repeated rows)


def test_weighted_balance_and_ess_use_the_product_of_weights(wdata):
    fit = estimate_effect(wdata, "treat", "yc", ["age", "behav"], method="ipw",
                          weights_col="w_frac")
    a = wdata["treat"].to_numpy()
    s = wdata["w_frac"].to_numpy()
    e = fit.propensity_[:, 1]
    w = s * np.where(a == 1, 1 / e, 1 / (1 - e))
    assert_allclose(fit.weights_, w, rtol=1e-12)
    for arm in (0, 1):
        wa = w[a == arm]
        assert_allclose(fit.ess[str(arm)], wa.sum() ** 2 / (wa ** 2).sum(), rtol=1e-12)

    def wvar(v, sw):           # reliability-weighted variance (divisor sum s - sum s^2/sum s)
        m = np.average(v, weights=sw)
        return (sw * (v - m) ** 2).sum() / (sw.sum() - (sw ** 2).sum() / sw.sum())

    x = wdata["age"].to_numpy()
    t, c = a == 1, a == 0
    sd = np.sqrt((wvar(x[t], s[t]) + wvar(x[c], s[c])) / 2)
    b = fit.balance.set_index("covariate").loc["age"]
    assert_allclose(b["smd_unadjusted"],
                    (np.average(x[t], weights=s[t]) - np.average(x[c], weights=s[c])) / sd,
                    rtol=1e-10)
    assert_allclose(b["smd_adjusted"],
                    (np.average(x[t], weights=w[t]) - np.average(x[c], weights=w[c])) / sd,
                    rtol=1e-10)


def test_weighted_bootstrap_resamples_rows_with_their_weights(wdata):
    kw = {"method": "aipw", "weights_col": "w_frac", "cluster_col": "child", "seed": 5}
    fit = _quiet(wdata, "arm3", "yb", WCOVS, contrasts="all", n_bootstrap=80, **kw)
    again = _quiet(wdata, "arm3", "yb", WCOVS, contrasts="all", n_bootstrap=80, n_jobs=2, **kw)
    pd.testing.assert_frame_equal(fit.summary, again.summary)
    influence = fit.metadata["summary_influence"]
    assert_allclose(fit.summary["estimate"], influence["estimate"], rtol=1e-12)
    ratio = fit.summary["se"] / influence["se"]
    assert ((ratio > 0.6) & (ratio < 1.5)).all(), ratio
    # the replicates are weighted: the unweighted bootstrap centres elsewhere
    plain = _quiet(wdata, "arm3", "yb", WCOVS, contrasts="all", n_bootstrap=80,
                   **{**kw, "weights_col": None})
    assert not np.allclose(fit.bootstrap_.mean(), plain.bootstrap_.mean(), rtol=1e-3)
    assert_allclose(fit.bootstrap_.mean(), fit.arms["estimate"].to_numpy(), atol=0.02)


BAD_FINITE = r"column 'w' \(weights_col\) must be finite and non-negative; 1 value\(s\) are not, "
MISSING = r"column 'w' \(weights_col\) has 1 missing value\(s\), "


@pytest.mark.parametrize(("value", "message"),
                         [(np.nan, MISSING + "first at row 7"),
                          (-1.0, BAD_FINITE + r"first at row 7 \(value -1.0\)"),
                          (np.inf, BAD_FINITE + r"first at row 7 \(value inf\)")])
def test_bad_weights_name_the_column_and_first_row(wdata, value, message):
    d = wdata.assign(w=wdata["w_frac"])
    d.loc[7, "w"] = value
    with pytest.raises(ParameterError, match=message):
        estimate_effect(d, "treat", "yb", WCOVS, weights_col="w")


def test_other_weight_errors_name_the_problem(wdata):
    with pytest.raises(ParameterError, match="weights_col='nope' is not a column"):
        estimate_effect(wdata, "treat", "yb", WCOVS, weights_col="nope")
    d = wdata.assign(w="a")
    with pytest.raises(ParameterError, match=r"column 'w' \(weights_col\) must be numeric"):
        estimate_effect(d, "treat", "yb", WCOVS, weights_col="w")
    d = wdata.assign(w=np.where(wdata["arm3"] == "SIS", 0.0, 1.0))
    with pytest.raises(ParameterError, match=r"arm\(s\) \['SIS'\] have only rows of weight 0 "
                                             "in weights_col 'w'"):
        estimate_effect(d, "arm3", "yb", WCOVS, weights_col="w")


def test_zero_weights_drop_rows(wdata):
    """Rows of weight 0 contribute nothing: the estimates equal those without the rows."""
    d = wdata.assign(w=np.where(np.arange(len(wdata)) % 7 == 0, 0.0, wdata["w_frac"]))
    weighted = _quiet(d, "arm3", "yc", WCOVS, weights_col="w")
    dropped = _quiet(d[d["w"] > 0], "arm3", "yc", WCOVS, weights_col="w")
    assert_allclose(weighted.summary["estimate"], dropped.summary["estimate"], rtol=1e-9)
    assert_allclose(weighted.summary["se"], dropped.summary["se"], rtol=1e-9)


if __name__ == "__main__":
    make_weights_data().to_csv(REF / "effects_weights_data.csv", index=False)


# --------------------------------------------------------------------------- edge cases
# (contrasts='all', weights_col, ATT balance, naive: cases that once gave wrong or misleading
# output)
def _separated(n: int = 200) -> pd.DataFrame:
    """Two arms; ``sep`` is 1 in every treated row and 0 in every control row."""
    rng = np.random.default_rng(3)
    t = np.repeat([0, 1], n // 2)
    return pd.DataFrame({"t": t, "y": rng.integers(0, 2, n), "sep": t.astype(float),
                         "age": rng.normal(10, 3, n)})


@pytest.mark.parametrize("estimand", ["ATE", "ATO"])
def test_covariate_constant_within_each_arm_but_different_is_flagged_imbalanced(estimand):
    """Both arms' SDs are 0, so the pooled SD is 0; as cobalt (col_w_smd's zero-SD
    fallback) the SMD is then standardised by the SD of the pair's rows: the difference of
    means 1 over sqrt(0.25 * 200 / 199), not 0 ("balanced")."""
    d = _separated()
    fit = _quiet(d, "t", "y", ["sep", "age"], method="naive", estimand=estimand)
    row = fit.balance.set_index("covariate").loc["sep"]
    sd_all = d["sep"].std(ddof=1)
    assert_allclose(row["smd_unadjusted"], 1.0 / sd_all, rtol=1e-12)
    assert row["imbalanced"]


def test_arm_with_one_positive_weight_row_has_a_finite_smd(wdata):
    """An arm whose positive weight sits on one row has no within-arm SD (NaN); the SMD
    falls back to the SD of the pair's rows instead of being reported as 0."""
    d = wdata.assign(w=1.0)
    sis = np.flatnonzero(d["arm3"].to_numpy() == "SIS")
    d.loc[sis[1:], "w"] = 0.0
    fit = _quiet(d, "arm3", "yc", ["age"], method="naive", weights_col="w")
    b = fit.balance.set_index(["contrast", "covariate"])
    x, a, w = d["age"].to_numpy(), d["arm3"].to_numpy(), d["w"].to_numpy()
    pair = (a == "SIS") | (a == "FH")
    xs, ws = x[pair], w[pair]
    m = np.average(xs, weights=ws)
    sd = np.sqrt((ws * (xs - m) ** 2).sum() / (ws.sum() - (ws ** 2).sum() / ws.sum()))
    diff = x[sis[0]] - np.average(x[a == "FH"], weights=w[a == "FH"])
    assert_allclose(b.loc[("SIS vs FH", "age"), "smd_unadjusted"], diff / sd, rtol=1e-10)


@pytest.mark.parametrize("weights", [None, "w"])
def test_a_single_cluster_is_an_error_not_a_zero_standard_error(wdata, weights):
    """With one cluster the summed influence function is 0, so the cluster-robust SE was
    ~1e-17 and every p-value 0. Clusters of weight 0 do not count."""
    d = wdata.assign(cl=1, w=wdata["w_frac"])
    with pytest.raises(ParameterError, match=r"cluster_col 'cl' has 1 cluster"):
        estimate_effect(d, "treat", "yb", WCOVS, cluster_col="cl", weights_col=weights)
    d2 = d.assign(cl=np.where(np.arange(len(d)) < 10, 2, 1),
                  w=np.where(np.arange(len(d)) < 10, 0.0, d["w_frac"]))
    with pytest.raises(ParameterError, match=r"cluster_col 'cl' has 1 cluster with positive"):
        estimate_effect(d2, "treat", "yb", WCOVS, cluster_col="cl", weights_col="w")


def test_zero_weight_rows_do_not_change_the_e_values(wdata):
    """Rows of weight 0 'contribute nothing': the pooled outcome SD behind the E-value of a
    mean difference (metadata['outcome_sd_pooled']) must not count them."""
    d = wdata.assign(w=np.where(np.arange(len(wdata)) % 7 == 0, 0.0, wdata["w_frac"]))
    kw = {"weights_col": "w", "contrasts": "all"}
    weighted = _quiet(d, "arm3", "yc", WCOVS, **kw)
    dropped = _quiet(d[d["w"] > 0], "arm3", "yc", WCOVS, **kw)
    for key, value in dropped.metadata["outcome_sd_pooled"].items():
        assert_allclose(weighted.metadata["outcome_sd_pooled"][key], value, rtol=1e-12)
    assert_allclose(weighted.e_value()[["e_value", "e_value_ci"]],
                    dropped.e_value()[["e_value", "e_value_ci"]], rtol=1e-9)
    pd.testing.assert_frame_equal(weighted.balance, dropped.balance, rtol=1e-9)


def test_zero_weight_rows_raise_no_positivity_warnings(wdata):
    """Rows of weight 0 whose propensity is extreme are not part of the analysis, so they
    must not trigger positivity warnings (they did: the check used every row)."""
    d = wdata.copy()
    extra = d.iloc[:30].assign(age=60.0, treat=1, w_frac=0.0)   # far outside the data
    d = pd.concat([d, extra], ignore_index=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimate_effect(d, "treat", "yb", WCOVS, method="ipw", weights_col="w_frac")
    assert not [w for w in caught if issubclass(w.category, PositivityWarning)]
    with warnings.catch_warnings(record=True) as caught:   # the check itself still works
        warnings.simplefilter("always")
        estimate_effect(d.assign(w_frac=1.0), "treat", "yb", WCOVS, method="ipw",
                        weights_col="w_frac")
    assert [w for w in caught if issubclass(w.category, PositivityWarning)]


@pytest.mark.filterwarnings("ignore:propensity model", "ignore:positivity")
def test_zero_weight_rows_do_not_hide_a_covariate_constant_in_an_arm(wdata):
    """In SIS every row of positive weight has sex 0: the outcome model of SIS cannot
    identify the sex coefficient, and the warning that dropping the zero rows gives must
    not be hidden by the zero-weight rows (which have sex 1)."""
    d = wdata.assign(w=np.where((wdata["arm3"] == "SIS") & (wdata["sex"] == 1), 0.0, 1.0))
    for data in (d, d[d["w"] > 0]):
        with pytest.warns(ConstantCovariateWarning,
                          match=r"outcome model of arm 'SIS': covariate "
                                r"column\(s\) \['sex'\] are constant") as caught:
            estimate_effect(data, "arm3", "yc", WCOVS, method="regression", weights_col="w")
        constant = [w.message for w in caught
                    if isinstance(w.message, ConstantCovariateWarning)]
        assert [(w.arm, w.covariates) for w in constant] == [("SIS", ("sex",))]
