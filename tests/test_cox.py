"""Tests of evaluation.survival.cox against R survival::coxph (Efron ties).

Reference values: tests/reference/cox_reference.R (R 4.2.2, survival 3.5-3), which simulates
tests/reference/cox_data.csv and writes tests/reference/cox_coef.csv. No R needed to run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ConvergenceError, ParameterError
from evaluation.survival import CoxResult, cox

REF = Path(__file__).parent / "reference"
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
    "strata_entry_cluster": {"covariates": COVS, "entry_col": "entry", "strata": "muni",
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
    fit = cox(episodes, "stop", "event", COVS, entry_col="entry", strata="muni")
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
        ({"covariates": ["nope"]}, "covariates names 'nope', which is not a column"),
        ({"covariates": []}, "covariates is empty"),
        ({"covariates": COVS, "cluster_col": "kid"}, "cluster_col names 'kid'"),
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
