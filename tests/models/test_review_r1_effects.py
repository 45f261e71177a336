"""Review R1 of estimate_effect (contrasts='all', weights_col, ATT balance, naive): edge cases
that gave wrong or misleading output. All data are synthetic."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ParameterError
from evaluation.models.effects import estimate_effect
from tests.helpers import REFERENCE as REF

WCOVS = ["age", "sex", "behav", "region"]


@pytest.fixture(scope="module")
def wdata() -> pd.DataFrame:
    return pd.read_csv(REF / "effects_weights_data.csv")


def _quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimate_effect(*args, **kwargs)


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
    assert not [w for w in caught if "positivity" in str(w.message)]
    with warnings.catch_warnings(record=True) as caught:   # the check itself still works
        warnings.simplefilter("always")
        estimate_effect(d.assign(w_frac=1.0), "treat", "yb", WCOVS, method="ipw",
                        weights_col="w_frac")
    assert [w for w in caught if "positivity" in str(w.message)]


@pytest.mark.filterwarnings("ignore:propensity model", "ignore:positivity")
def test_zero_weight_rows_do_not_hide_a_covariate_constant_in_an_arm(wdata):
    """In SIS every row of positive weight has sex 0: the outcome model of SIS cannot
    identify the sex coefficient, and the warning that dropping the zero rows gives must
    not be hidden by the zero-weight rows (which have sex 1)."""
    d = wdata.assign(w=np.where((wdata["arm3"] == "SIS") & (wdata["sex"] == 1), 0.0, 1.0))
    for data in (d, d[d["w"] > 0]):
        with pytest.warns(UserWarning, match=r"outcome model of arm 'SIS': covariate "
                                             r"column\(s\) \['sex'\] are constant"):
            estimate_effect(data, "arm3", "yc", WCOVS, method="regression", weights_col="w")
