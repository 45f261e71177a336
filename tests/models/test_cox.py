"""Tests of evaluation.models.coxph.cox against R survival::coxph (Efron ties).

Reference values: tests/reference/cox_reference.R (R 4.2.2, survival 3.5-3), which simulates
tests/reference/cox_data.csv and writes tests/reference/cox_coef.csv, and
tests/reference/cox_extra_reference.R (weights, Breslow ties, cox.zph, adjusted survival),
which writes tests/reference/cox_extra_*.csv. No R needed to run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ConvergenceError, ParameterError
from evaluation.models.coxph import CoxResult, cox
from tests.helpers import REFERENCE as REF

COVS = ["x1", "x2", "x3"]


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    d = pd.read_csv(REF / "cox_data.csv")
    d["event"] = (d["status"] == 2).astype(int)
    return d


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REF / "cox_coef.csv")


MODELS = {
    # coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, ties = "efron")
    "plain": {"covariates": COVS},
    # coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, ties = "efron", cluster = child)
    "cluster": {"covariates": COVS, "cluster_col": "child"},
    # coxph(Surv(entry, stop, status == 2) ~ x1 + x2 + x3, ties = "efron", cluster = child)
    "entry_cluster": {"covariates": COVS, "entry_col": "entry", "cluster_col": "child"},
    # coxph(Surv(entry, stop, status == 2) ~ x1 + x2 + x3 + strata(muni), ties = "efron",
    #       cluster = child)
    "strata_entry_cluster": {"covariates": COVS, "entry_col": "entry", "strata_col": "muni",
                             "cluster_col": "child"},
    # coxph(Surv(stop, status == 2) ~ x1 + placement, ties = "efron", cluster = child)
    "factor_cluster": {"covariates": ["x1", "placement"], "cluster_col": "child"},
}


@pytest.mark.parametrize("model", list(MODELS))
def test_cox_matches_r_coxph_efron(episodes, reference, model):
    """R: the coxph calls in tests/reference/cox_reference.R (comments in MODELS), with
    control = coxph.control(eps = 1e-12); coef(fit), sqrt(diag(fit$naive.var)) and
    sqrt(diag(fit$var)) (robust, clustered models) and fit$loglik[2]."""
    fit = cox(episodes, "stop", "event", **MODELS[model])
    ref = reference[reference["model"] == model].set_index("term")
    s = fit.summary
    assert list(s.index) == list(ref.index)
    assert_allclose(s["estimate"], ref["coef"], rtol=1e-6)
    assert_allclose(s["se_naive"], ref["se"], rtol=1e-6)
    assert_allclose(fit.metadata["loglik"], ref["loglik"].iloc[0], rtol=1e-9)
    assert fit.metadata["n"] == ref["n"].iloc[0]
    assert fit.metadata["n_events"] == ref["n_event"].iloc[0]
    if "cluster_col" in MODELS[model]:
        assert_allclose(s["se_robust"], ref["robust_se"], rtol=1e-6)
        assert_allclose(s["se"], s["se_robust"])
        assert fit.metadata["n_clusters"] == episodes["child"].nunique()
    else:
        assert s["se_robust"].isna().all()
        assert_allclose(s["se"], s["se_naive"])


def test_cox_summary_columns_are_numeric_and_consistent(episodes):
    fit = cox(episodes, "stop", "event", COVS, cluster_col="child", alpha=0.1)
    s = fit.summary
    assert isinstance(fit, CoxResult)
    assert list(s.columns) == ["estimate", "se", "se_naive", "se_robust", "z", "ci_lower",
                               "ci_upper", "p_value", "exp_estimate"]
    assert all(pd.api.types.is_float_dtype(s[c]) for c in s.columns)
    assert_allclose(s["ci_upper"] - s["estimate"], 1.6448536269514722 * s["se"])
    assert_allclose(s["exp_estimate"], np.exp(s["estimate"]))
    assert ((s["p_value"] > 0) & (s["p_value"] < 1)).all()
    assert fit.metadata["alpha"] == 0.1


def test_cox_score_residuals_sum_to_zero_at_the_estimate(episodes):
    fit = cox(episodes, "stop", "event", COVS, entry_col="entry", strata_col="muni")
    assert fit.score_residuals_.shape == (len(episodes), 3)
    assert_allclose(fit.score_residuals_.sum(axis=0), 0.0, atol=1e-8)


def test_cox_categorical_dtype_codes_like_object_columns(episodes):
    as_cat = episodes.assign(placement=episodes["placement"].astype("category"))
    a = cox(episodes, "stop", "event", ["x1", "placement"]).summary
    b = cox(as_cat, "stop", "event", ["x1", "placement"]).summary
    pd.testing.assert_frame_equal(a, b)


def test_cox_plot_returns_axes(episodes):
    import matplotlib

    matplotlib.use("Agg")
    ax = cox(episodes, "stop", "event", COVS).plot()
    assert len(ax.get_yticklabels()) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"covariates": ["nope"]}, "covariates='nope' is not a column"),
        ({"covariates": []}, "covariates is empty"),
        ({"covariates": COVS, "cluster_col": "kid"}, "cluster_col='kid' is not a column"),
        ({"covariates": COVS, "alpha": 1.5}, "alpha must be"),
        ({"covariates": ["x1", "x1"]}, "duplicate"),
    ],
)
def test_cox_rejects_bad_parameters(episodes, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        cox(episodes, "stop", "event", **kwargs)


def test_cox_rejects_non_binary_events(episodes):
    with pytest.raises(ParameterError, match=r"must be 0/1 .*\(status == 2\)"):
        cox(episodes, "stop", "status", COVS)


def test_cox_rejects_entry_not_before_stop(episodes):
    bad = episodes.assign(entry=episodes["stop"])
    with pytest.raises(ParameterError, match="entry_col 'entry' must be before"):
        cox(bad, "stop", "event", COVS, entry_col="entry")


def test_cox_rejects_missing_values_and_constant_covariates(episodes):
    with pytest.raises(ParameterError, match=r"column 'x1' \(covariates\) has 1 missing"):
        cox(episodes.assign(x1=episodes["x1"].where(episodes.index != 5)), "stop", "event",
            COVS)
    with pytest.raises(ParameterError, match=r"\['c'\] are constant"):
        cox(episodes.assign(c=1.0), "stop", "event", ["x1", "c"])
    with pytest.raises(ParameterError, match="has no events"):
        cox(episodes.assign(event=0), "stop", "event", COVS)
    with pytest.raises(ParameterError, match="data must be a pandas DataFrame"):
        cox(episodes.to_dict(), "stop", "event", COVS)


def test_cox_raises_convergence_error_on_collinear_or_separated_covariates(episodes):
    with pytest.raises(ConvergenceError, match="collinear"):
        cox(episodes.assign(x4=2 * episodes["x1"]), "stop", "event", ["x1", "x4"])
    # the event happens first in every row with sep = 1: the estimate is infinite
    order = episodes["stop"].rank(method="first")
    sep = episodes.assign(sep=((order <= 50) & (episodes["event"] == 1)).astype(float))
    with pytest.raises(ConvergenceError, match="estimate may be infinite"):
        cox(sep, "stop", "event", ["sep"])


# --------------------------------------------------------------------------- Cox extras
# Reference values: tests/reference/cox_extra_reference.R (R 4.2.2, survival 3.5-3), which
# reads cox_data.csv, cox_weights.csv (case weights written by Python, seeded) and rossi.csv
# (lifelines.datasets.load_rossi) and writes cox_extra_*.csv.

ROSSI_COVS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]


@pytest.fixture(scope="module")
def weighted(episodes) -> pd.DataFrame:
    return pd.concat([episodes, pd.read_csv(REF / "cox_weights.csv")], axis=1)


@pytest.fixture(scope="module")
def rossi() -> pd.DataFrame:
    return pd.read_csv(REF / "rossi.csv")


EXTRA_MODELS = {
    # coxph(Surv(stop, status == 2) ~ x1 + x2 + x3, weights = wint): model-based variance
    "w_int": {"covariates": COVS, "weights_col": "wint"},
    # same with weights = wfrac (non-integer): R sets robust = TRUE, each row a cluster
    "w_frac": {"covariates": COVS, "weights_col": "wfrac"},
    # weights = wint, cluster = child
    "w_int_cluster": {"covariates": COVS, "weights_col": "wint", "cluster_col": "child"},
    # Surv(entry, stop, status == 2) ~ x1 + x2 + x3 + strata(muni), weights = wfrac,
    # cluster = child
    "w_frac_entry_strata_cluster": {"covariates": COVS, "weights_col": "wfrac",
                                    "cluster_col": "child", "entry_col": "entry",
                                    "strata_col": "muni"},
    # Surv(stop, status == 2) ~ x1 + placement, weights = wfrac
    "w_frac_factor": {"covariates": ["x1", "placement"], "weights_col": "wfrac"},
    # Surv(stop, status == 2) ~ x1 + x2 + x3, ties = "breslow"
    "breslow": {"covariates": COVS, "ties": "breslow"},
    # Surv(entry, stop, status == 2) ~ x1 + x2 + x3, ties = "breslow", weights = wfrac,
    # cluster = child
    "breslow_w_entry_cluster": {"covariates": COVS, "ties": "breslow", "weights_col": "wfrac",
                                "cluster_col": "child", "entry_col": "entry"},
    # Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio (Rossi data)
    "rossi": {"covariates": ROSSI_COVS},
    # Surv(stop, status == 2) ~ x1 + placement + x3
    "factor": {"covariates": ["x1", "placement", "x3"]},
    # Surv(stop, status == 2) ~ x1 + x2 + x3 + strata(muni)
    "strata": {"covariates": COVS, "strata_col": "muni"},
    # Surv(entry, stop, status == 2) ~ x1 + x2 + x3 + strata(muni)
    "entry_strata": {"covariates": COVS, "strata_col": "muni", "entry_col": "entry"},
    # Surv(stop, status == 2) ~ x1 + placement, ties = "breslow"
    "breslow_factor": {"covariates": ["x1", "placement"], "ties": "breslow"},
}


def _fit(name, weighted, rossi):
    if name.startswith("rossi"):
        return cox(rossi, "week", "arrest", **EXTRA_MODELS[name])
    return cox(weighted, "stop", "event", **EXTRA_MODELS[name])


@pytest.mark.parametrize("model", list(EXTRA_MODELS))
def test_cox_weights_and_breslow_match_r(weighted, rossi, model):
    """coef, sqrt(diag(naive.var)), sqrt(diag(var)), loglik and R's choice of robust vs
    model-based variance (robust iff cluster or non-integer weights)."""
    ref = pd.read_csv(REF / "cox_extra_coef.csv")
    ref = ref[ref["model"] == model].set_index("term")
    fit = _fit(model, weighted, rossi)
    s = fit.summary
    assert list(s.index) == list(ref.index)
    assert_allclose(s["estimate"], ref["coef"], rtol=1e-6)
    assert_allclose(s["se_naive"], ref["se_naive"], rtol=1e-6)
    assert_allclose(s["se"], ref["se"], rtol=1e-6)
    assert_allclose(fit.metadata["loglik"], ref["loglik"].iloc[0], rtol=1e-9)
    assert fit.metadata["n_events"] == ref["n_event"].iloc[0]
    robust = bool(ref["robust"].iloc[0])
    assert s["se_robust"].notna().all() == robust
    assert fit.metadata["variance"].startswith("robust") == robust


@pytest.mark.parametrize(
    ("model", "transform"),
    [("rossi", "km"), ("rossi", "identity"), ("rossi", "rank"), ("rossi", "log"),
     ("factor", "km"), ("strata", "km"), ("entry_strata", "km"), ("entry_strata", "rank"),
     ("w_int", "km"), ("w_frac", "km"), ("breslow_w_entry_cluster", "km"),
     ("breslow_factor", "identity")])
def test_ph_test_matches_r_cox_zph(weighted, rossi, model, transform):
    """cox.zph(fit, transform = transform)$table: chisq, df and p per term and GLOBAL; the
    factor placement is one term with 2 df (terms = TRUE)."""
    ref = pd.read_csv(REF / "cox_extra_zph.csv")
    ref = ref[(ref["model"] == model) & (ref["transform"] == transform)].set_index("term")
    ph = _fit(model, weighted, rossi).ph_test(transform)
    s = ph.summary
    assert list(s.index) == list(ref.index)
    assert list(s.columns) == ["statistic", "df", "p_value"]
    assert_allclose(s["statistic"], ref["chisq"], rtol=1e-6)
    assert_allclose(s["df"], ref["df"])
    assert_allclose(s["p_value"], ref["p"], rtol=1e-6)


@pytest.mark.parametrize("model", ["rossi", "factor", "strata", "entry_strata"])
def test_ph_scaled_schoenfeld_residuals_match_r(weighted, rossi, model):
    """cox.zph(fit)$y (scaled Schoenfeld residuals, beta(t) + coef), $x (1 - KM(t-)), $time.
    Events are in stratum and time order; within tied times R's order differs for
    (entry, stop] data, so values are compared after sorting within each time."""
    ref = pd.read_csv(REF / "cox_extra_zph_resid.csv")
    ref = ref[ref["model"] == model]
    res = _fit(model, weighted, rossi).ph_test().residuals_
    for term, sub in ref.groupby("term", sort=False):
        assert_allclose(res["time"], sub["time"])
        assert_allclose(res["transformed_time"], sub["x"], rtol=1e-9, atol=1e-12)
        got = res.assign(v=res[term]).sort_values(["time", "v"], kind="stable")["v"]
        want = sub.assign(v=sub["y"]).sort_values(["time", "v"], kind="stable")["v"]
        assert_allclose(got, want, rtol=1e-6)


ADJUSTED = {
    # coxph(Surv(stop, status == 2) ~ x1 + x3 + placement); each level of placement
    "placement": ("episodes", {"covariates": ["x1", "x3", "placement"]}, "placement", None),
    # coxph(Surv(entry, stop, status == 2) ~ x1 + placement, weights = wint)
    "entry_weights": ("episodes", {"covariates": ["x1", "placement"], "entry_col": "entry",
                                   "weights_col": "wint"}, "placement", None),
    # coxph(Surv(stop, status == 2) ~ x1 + placement, ties = "breslow")
    "breslow": ("episodes", {"covariates": ["x1", "placement"], "ties": "breslow"},
                "placement", None),
    # coxph(Surv(week, arrest) ~ fin + age + prio, data = rossi); fin = 0 and 1
    "rossi_fin": ("rossi", {"covariates": ["fin", "age", "prio"]}, "fin", [0, 1]),
}


@pytest.mark.parametrize("model", list(ADJUSTED))
def test_adjusted_survival_matches_r_survfit_newdata(weighted, rossi, model):
    """rowMeans(survfit(fit, newdata = nd)$surv) with nd = data with variable set to a level,
    at R's curve times (all distinct times, including censoring times)."""
    which, kwargs, variable, levels = ADJUSTED[model]
    data, dur, ev = (rossi, "week", "arrest") if which == "rossi" else (weighted, "stop",
                                                                          "event")
    ref = pd.read_csv(REF / "cox_extra_adjsurv.csv")
    ref = ref[ref["model"] == model]
    fit = cox(data, dur, ev, **kwargs)
    adj = fit.adjusted_survival(data, variable, levels=levels, times=np.unique(ref["time"]))
    got = adj.summary.assign(group=adj.summary["group"].astype(str))
    merged = ref.merge(got, on=["group", "time"], suffixes=("_r", ""), validate="1:1")
    assert len(merged) == len(ref)
    assert_allclose(merged["estimate"], merged["estimate_r"], rtol=1e-6)


def test_cox_integer_weights_equal_replicated_rows_with_breslow_not_efron(weighted):
    """Known truth: with Breslow ties a case weight of k is the same as k copies of the row
    (likelihood, score and information are sums over copies). With Efron ties R (and we)
    use the mean weight of the tied events, which is not the same as replication (R's
    documentation of coxph weights)."""
    copies = weighted.loc[weighted.index.repeat(weighted["wint"])]
    w = cox(weighted, "stop", "event", COVS, weights_col="wint", ties="breslow")
    r = cox(copies, "stop", "event", COVS, ties="breslow")
    assert_allclose(w.summary["estimate"], r.summary["estimate"], rtol=1e-9)
    assert_allclose(w.summary["se_naive"], r.summary["se_naive"], rtol=1e-9)
    assert_allclose(w.metadata["loglik"], r.metadata["loglik"], rtol=1e-12)
    we = cox(weighted, "stop", "event", COVS, weights_col="wint")
    re = cox(copies, "stop", "event", COVS)
    assert np.max(np.abs(we.summary["estimate"] - re.summary["estimate"])) > 1e-4


def test_cox_unit_weights_change_nothing(weighted):
    ones = cox(weighted.assign(w=1.0), "stop", "event", COVS, weights_col="w",
               cluster_col="child").summary
    pd.testing.assert_frame_equal(ones, cox(weighted, "stop", "event", COVS,
                                            cluster_col="child").summary)


@pytest.mark.parametrize(("value", "match"), [
    (-1.0, r"'w' \(weights_col\) must hold case weights > 0 .* row 7 has -1.0"),
    (0.0, r"must hold case weights > 0 \(as R coxph\); row 7 has 0.0"),
    (np.nan, r"column 'w' \(weights_col\) has 1 missing value\(s\), first at row 7"),
    (np.inf, r"column 'w' \(weights_col\) must be finite; row 7 has inf"),
])
def test_cox_rejects_bad_weights(episodes, value, match):
    w = np.ones(len(episodes))
    w[7] = value
    with pytest.raises(ParameterError, match=match):
        cox(episodes.assign(w=w), "stop", "event", COVS, weights_col="w")


def test_cox_rejects_bad_ties_and_weights_column(episodes):
    with pytest.raises(ParameterError, match="ties must be 'efron' or 'breslow'"):
        cox(episodes, "stop", "event", COVS, ties="exact")
    with pytest.raises(ParameterError, match="weights_col='wt' is not a column"):
        cox(episodes, "stop", "event", COVS, weights_col="wt")
    with pytest.raises(ParameterError, match=r"'muni' \(weights_col\) must be numeric"):
        cox(episodes, "stop", "event", COVS, weights_col="muni")


def _simulated(effect_late: float, seed: int) -> pd.DataFrame:
    """x ~ Bernoulli(0.5); hazard 0.01 exp(x) before day 60 and 0.01 exp(effect_late x)
    after (piecewise exponential); censoring uniform on 1-300 days; integer days."""
    rng = np.random.default_rng(seed)
    n = 3000
    x = rng.integers(0, 2, n).astype(float)
    early = rng.exponential(1 / (0.01 * np.exp(x)))
    late = 60 + rng.exponential(1 / (0.01 * np.exp(effect_late * x)))
    t = np.ceil(np.where(early < 60, early, late))
    cens = rng.integers(1, 301, n)
    return pd.DataFrame({"days": np.minimum(t, cens), "event": (t <= cens).astype(int),
                         "x": x, "z": rng.normal(size=n)})


def test_ph_test_detects_a_known_change_of_effect_and_not_a_constant_one():
    """Known truth: log HR 1 then -1 after day 60 (non-proportional) must be rejected; a
    constant log HR of 1 must not be (seeded, so the outcome is fixed)."""
    changing = cox(_simulated(-1.0, 5), "days", "event", ["x", "z"]).ph_test()
    assert changing.summary.loc["x", "p_value"] < 1e-6
    constant = cox(_simulated(1.0, 5), "days", "event", ["x", "z"]).ph_test()
    assert constant.summary.loc["x", "p_value"] > 0.05
    # beta(t) from the scaled residuals: early events near +1, late ones near -1
    res = changing.residuals_
    assert res.loc[res["time"] <= 30, "x"].mean() > 0.5
    assert res.loc[res["time"] > 120, "x"].mean() < -0.3


def test_adjusted_survival_recovers_known_curves():
    """Known truth: exponential hazard 0.01 exp(0.7 x + 0.5 z) with z ~ N(0, 1); the
    standardised curve for x = level is mean over rows of exp(-0.01 t exp(0.7 level +
    0.5 z_i)) (no censoring: large sample, tolerance 0.02 in survival probability)."""
    rng = np.random.default_rng(8)
    n = 4000
    df = pd.DataFrame({"x": rng.choice(["a", "b"], n), "z": rng.normal(size=n)})
    lp = 0.7 * (df["x"] == "b") + 0.5 * df["z"]
    df["days"] = np.ceil(rng.exponential(1 / (0.01 * np.exp(lp))))
    df["event"] = 1
    times = [25.0, 50.0, 100.0, 200.0]
    adj = cox(df, "days", "event", ["x", "z"]).adjusted_survival(df, "x", times=times)
    s = adj.summary
    # the curve shape of every result; the limits are not computed (NaN)
    assert list(s.columns) == ["group", "time", "estimate", "ci_lower", "ci_upper"]
    assert s[["ci_lower", "ci_upper"]].isna().all().all()
    for level, shift in (("a", 0.0), ("b", 0.7)):
        truth = [np.exp(-0.01 * t * np.exp(shift + 0.5 * df["z"])).mean() for t in times]
        assert_allclose(s.loc[s["group"] == level, "estimate"], truth, atol=0.02)
    assert adj.metadata["confidence_intervals"] == "not computed"


def test_adjusted_survival_defaults_and_errors(weighted):
    fit = cox(weighted, "stop", "event", ["x1", "x2", "placement"])
    adj = fit.adjusted_survival(weighted, "placement")
    assert list(pd.unique(adj.summary["group"])) == ["family", "institution", "kin"]
    est = adj.summary.pivot(index="time", columns="group", values="estimate")
    assert (np.diff(est.to_numpy(), axis=0) <= 1e-15).all()     # non-increasing in time
    assert list(pd.unique(fit.adjusted_survival(weighted, "x2").summary["group"])) == [0, 1]
    with pytest.raises(ParameterError, match="'x3' is not a covariate of the model"):
        fit.adjusted_survival(weighted, "x3")
    with pytest.raises(ParameterError, match="level 'home' is not a level of 'placement'"):
        fit.adjusted_survival(weighted, "placement", levels=["home"])
    with pytest.raises(ParameterError, match=r"'x1' is numeric with \d+ distinct values"):
        fit.adjusted_survival(weighted, "x1")
    with pytest.raises(ParameterError, match="covariates='x2' is not a column of data"):
        fit.adjusted_survival(weighted.drop(columns="x2"), "placement")
    stratified = cox(weighted, "stop", "event", COVS, strata_col="muni")
    with pytest.raises(ParameterError, match=r"row 0 of data is in a stratum \(muni\) that"):
        stratified.adjusted_survival(weighted.assign(muni="D"), "x2")
    with pytest.raises(ParameterError, match="strata_col='muni' is not a column of data"):
        stratified.adjusted_survival(weighted.drop(columns="muni"), "x2")


def test_adjusted_survival_stratified_matches_r(weighted):
    """coxph(Surv(entry, stop, status == 2) ~ x1 + placement + strata(muni)); newdata holds
    muni, so each row's curve is in its own stratum; rowMeans of
    summary(survfit(fit, newdata = nd), times, extend = TRUE)$surv."""
    ref = pd.read_csv(REF / "cox_extra_adjsurv_strata.csv")
    fit = cox(weighted, "stop", "event", ["x1", "placement"], entry_col="entry",
              strata_col="muni")
    adj = fit.adjusted_survival(weighted, "placement", times=np.unique(ref["time"]))
    merged = ref.merge(adj.summary, on=["group", "time"], suffixes=("_r", ""),
                       validate="1:1")
    assert len(merged) == len(ref) == 42
    assert_allclose(merged["estimate"], merged["estimate_r"], rtol=1e-6)


def test_ph_and_adjusted_plots_return_axes(weighted):
    import matplotlib

    matplotlib.use("Agg")
    fit = cox(weighted, "stop", "event", ["x1", "placement"])
    ax = fit.plot_ph("x1")
    assert "x1" in ax.get_title() and len(ax.collections) == 1
    assert "placement" in fit.plot_ph("placement").get_ylabel()
    with pytest.raises(ParameterError, match="term 'x9' is not a term"):
        fit.plot_ph("x9")
    with pytest.raises(ParameterError, match="transform must be one of km"):
        fit.ph_test("loglog")
    ax = fit.adjusted_survival(weighted, "placement").plot()
    assert len(ax.get_lines()) == 3


def test_adjusted_survival_and_ph_test_reject_bad_inputs(weighted):
    fit = cox(weighted, "stop", "event", ["x1", "x2", "placement"])
    with pytest.raises(ParameterError, match="times must be a non-empty list"):
        fit.adjusted_survival(weighted, "x2", times=[])
    with pytest.raises(ParameterError, match="levels is empty"):
        fit.adjusted_survival(weighted, "x2", levels=[])
    with pytest.raises(ParameterError, match="levels of numeric 'x2' must be finite numbers"):
        fit.adjusted_survival(weighted, "x2", levels=[np.nan])
    with pytest.raises(ParameterError, match=r"column 'x1' \(covariates\) has \d+ missing value"):
        fit.adjusted_survival(weighted.assign(x1=np.nan), "x2")
    with pytest.raises(ParameterError, match="data has no rows"):
        fit.adjusted_survival(weighted.iloc[:0], "x2")
    with pytest.raises(ParameterError, match="data must be a pandas DataFrame"):
        fit.adjusted_survival(weighted.to_dict(), "x2")
    zero = weighted.assign(stop=weighted["stop"].where(weighted.index != 3, 0.0))
    with pytest.raises(ParameterError, match="transform 'log' needs durations > 0"):
        cox(zero, "stop", "event", COVS).ph_test("log")


def test_unused_categories_of_a_categorical_covariate_are_dropped_like_r_droplevels():
    rng = np.random.default_rng(8)
    n = 300
    df = pd.DataFrame({"days": rng.integers(1, 400, n), "ended": rng.integers(0, 2, n),
                       "placement": rng.choice(["FH", "HVB"], n)})
    plain = cox(df, "days", "ended", ["placement"])
    df["placement"] = pd.Categorical(df["placement"], categories=["SIS", "FH", "JH", "HVB"])
    fit = cox(df, "days", "ended", ["placement"])  # SIS and JH never occur
    assert list(fit.summary.index) == ["placementHVB"]
    assert_allclose(fit.summary.to_numpy(float), plain.summary.to_numpy(float), equal_nan=True)
    adj = fit.adjusted_survival(df, "placement", times=[100.0])
    assert list(adj.summary["group"]) == ["FH", "HVB"]
