"""Tests of ``fine_gray(..., cengroup_col=)`` against R ``cmprsk::crr(..., cengroup = )``.

Reference values: tests/reference/finegray_cengroup_reference.R (R 4.2.2, cmprsk 2.2-11)
reads the two data sets below, which this file writes
(``.venv/bin/python tests/test_finegray_cengroup.py`` regenerates them), and writes
tests/reference/finegray_cengroup_coef.csv and finegray_cengroup_predict.csv. The tests need
no R.

- ``finegray_cengroup_data.csv``: simulated episodes, integer days (heavy ties), causes 1
  (unplanned ending) and 2 (planned ending), a numeric (``x``) and a categorical
  (``placement``) covariate, and two candidate censoring groupings whose follow-up differs:
  ``municipality`` (3 levels: long, short and exponential drop-out) and ``period`` (2 levels:
  the late period is cut at a staggered administrative end of follow-up).
- ``finegray_cengroup_complete.csv``: the same design, except that municipality C has no
  censored rows at all and shorter times (crr then takes G_C = 1 up to C's last time, 0 after).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ParameterError
from evaluation.models import finegray
from evaluation.models.finegray import fine_gray
from tests.helpers import REFERENCE as REF
from tests.helpers import reference_rows

COVARIATES = ["x", "placement"]
RTOL = 1e-6


# --------------------------------------------------------------------------- data sets

def cengroup_frame(n: int = 900, seed: int = 21, complete_group: bool = False) -> pd.DataFrame:
    """Competing-risks episodes whose censoring depends on municipality and period.

    With ``complete_group`` municipality C is followed until every episode ends (no
    censoring) and its episodes end three times faster."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), 4)
    placement = rng.choice(["family", "institution", "kin"], n, p=[0.5, 0.3, 0.2])
    municipality = rng.choice(["A", "B", "C"], n, p=[0.4, 0.35, 0.25])
    period = rng.choice(["2019-2021", "2022-2024"], n)
    lp1 = 0.5 * x + 0.4 * (placement == "institution") - 0.3 * (placement == "kin")
    lp2 = -0.3 * x + 0.3 * (placement == "kin")
    t1 = rng.exponential(500 * np.exp(-lp1))
    t2 = rng.exponential(450 * np.exp(-lp2))
    cens = np.select([municipality == "A", municipality == "B"],
                     [rng.uniform(20, 1500, n), rng.uniform(20, 600, n)],
                     rng.exponential(250, n))
    horizon = rng.uniform(200, 400, n)          # staggered end of follow-up, late period
    cens = np.where(period == "2022-2024", np.minimum(cens, horizon), cens)
    if complete_group:
        in_c = municipality == "C"
        t1, t2 = np.where(in_c, t1 / 3, t1), np.where(in_c, t2 / 3, t2)
        cens = np.where(in_c, np.inf, cens)
    t1, t2, cens = np.ceil(t1), np.ceil(t2), np.ceil(cens)
    time = np.minimum(np.minimum(t1, t2), cens)
    status = np.where(time == cens, 0, np.where(t1 <= t2, 1, 2))
    return pd.DataFrame({"time": time, "status": status, "x": x, "placement": placement,
                         "municipality": municipality, "period": period})


GENERATORS = {"data": cengroup_frame,
              "complete": lambda: cengroup_frame(seed=22, complete_group=True)}


def write_reference_data() -> None:
    for name, make in GENERATORS.items():
        make().to_csv(REF / f"finegray_cengroup_{name}.csv", index=False)


if __name__ == "__main__":
    write_reference_data()


# --------------------------------------------------------------------------- fixtures

# (dataset, censoring-group column) as in the R script; "data_zero" is finegray_cengroup_data
# with the first 30 rows' times set to 0 (crr's G_g(0) convention at time 0)
SPECS = [("data", "municipality"), ("data", "period"), ("complete", "municipality"),
         ("data_zero", "municipality")]


def _data(dataset: str) -> pd.DataFrame:
    d = pd.read_csv(REF / f"finegray_cengroup_{'complete' if dataset == 'complete' else 'data'}"
                    ".csv")
    if dataset == "data_zero":
        d.loc[:29, "time"] = 0.0
    return d


def _fit(dataset: str, cause: int, **kwargs):
    return fine_gray(_data(dataset), "time", "status", cause, COVARIATES, **kwargs)


# --------------------------------------------------------------------------- reference data

@pytest.mark.parametrize("name", list(GENERATORS))
def test_reference_csv_matches_its_generator(name):
    stored = pd.read_csv(REF / f"finegray_cengroup_{name}.csv")
    fresh = pd.read_csv(pd.io.common.StringIO(GENERATORS[name]().to_csv(index=False)))
    pd.testing.assert_frame_equal(stored, fresh)


def test_reference_data_have_the_censoring_patterns_the_tests_rely_on():
    d, c = _data("data"), _data("complete")
    assert d["municipality"].nunique() == 3 and d["period"].nunique() == 2
    assert (d.groupby("municipality")["status"].apply(lambda s: (s == 0).sum()) > 50).all()
    # municipality C of the complete data has no censored rows but competing events
    in_c = c["municipality"] == "C"
    assert (c.loc[in_c, "status"] != 0).all() and (c.loc[in_c, "status"] == 2).any()
    # ... and ends before the others: crr's G_C(t-) = 0 after C's last time then matters
    assert c.loc[in_c, "time"].max() < c.loc[~in_c & (c["status"] == 1), "time"].max()
    assert d["time"].nunique() < len(d) / 2                       # heavy ties (days)


def test_reference_versions_are_recorded():
    versions = json.loads((REF / "finegray_cengroup_versions.json").read_text())
    assert versions["cmprsk"] == "2.2.11" and versions["R"] == "4.2.2"


# --------------------------------------------------------------------------- against crr

@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("dataset, cengroup", SPECS)
def test_fine_gray_with_cengroup_matches_r_crr(dataset, cengroup, cause):
    """R: crr(time, status, model.matrix(~ x + placement)[, -1], cengroup = d[[cengroup]],
    failcode = cause, cencode = 0, gtol = 1e-11, maxiter = 100); coef, sqrt(diag(var)),
    sqrt(diag(invinf)), loglik, loglik.null (tests/reference/finegray_cengroup_reference.R).
    Where crr reports converged = FALSE its line search stalled at the optimum; the
    estimates still agree to 4e-7 and the SEs to 1e-7."""
    fit = _fit(dataset, cause, cengroup_col=cengroup)
    ref = reference_rows("finegray_cengroup_coef.csv", dataset=dataset, cengroup=cengroup,
               cause=cause).set_index("term")
    s = fit.summary
    assert list(s.index) == list(ref.index)
    assert_allclose(s["estimate"], ref["coef"], rtol=RTOL)
    assert_allclose(s["se"], ref["se"], rtol=RTOL)
    assert_allclose(s["se_naive"], ref["se_naive"], rtol=RTOL)
    assert_allclose(fit.metadata["loglik"], ref["loglik"].iloc[0], rtol=RTOL)
    assert_allclose(fit.metadata["loglik_null"], ref["loglik_null"].iloc[0], rtol=RTOL)


@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("dataset, cengroup", SPECS)
def test_predicted_cumulative_incidence_with_cengroup_matches_r_predict_crr(dataset, cengroup,
                                                                            cause):
    """R: predict(fit, cov1 = rbind(0, x[1, ])) read at days 30, 90, 180, 365 and 730:
    profile 0 has x = 0 and placement at its reference level (family), profile 1 the
    covariates of the first row."""
    fit = _fit(dataset, cause, cengroup_col=cengroup)
    ref = reference_rows("finegray_cengroup_predict.csv", dataset=dataset, cengroup=cengroup,
               cause=cause)
    profiles = pd.concat([pd.DataFrame({"x": [0.0], "placement": ["family"]}),
                          _data(dataset).iloc[[0]][COVARIATES]], ignore_index=True)
    for j in (0, 1):
        theirs = ref[ref["profile"] == j]
        ours = fit.predict_cumulative_incidence(profiles.iloc[[j]], times=theirs["time"])
        assert_allclose(ours["time"], theirs["time"], rtol=1e-12)
        assert_allclose(ours["estimate"], theirs["cif"], rtol=RTOL)


def test_censoring_groups_change_the_fit():
    """Guards against the column being silently ignored: on these data the per-municipality
    censoring distributions move the estimates by several percent (the R comparison above
    would also fail)."""
    grouped = _fit("data", 2, cengroup_col="municipality").summary
    plain = _fit("data", 2).summary
    assert np.max(np.abs(grouped["estimate"] / plain["estimate"] - 1)) > 0.03


# --------------------------------------------------------------------------- one group

@pytest.mark.parametrize("dataset", ["data", "data_zero"])
def test_one_censoring_group_equals_the_fit_without_cengroup_exactly(dataset):
    plain = _fit(dataset, 1)
    one = fine_gray(_data(dataset).assign(everyone="all"), "time", "status", 1, COVARIATES,
                    cengroup_col="everyone")
    pd.testing.assert_frame_equal(one.summary, plain.summary, check_exact=True)
    np.testing.assert_array_equal(one.var_, plain.var_)
    pd.testing.assert_frame_equal(one.baseline_, plain.baseline_, check_exact=True)
    assert one.metadata["n_censoring_groups"] == plain.metadata["n_censoring_groups"] == 1
    assert one.metadata["cengroup_col"] == "everyone" and plain.metadata["cengroup_col"] is None


@pytest.mark.parametrize("dataset", ["data", "data_zero"])
def test_grouped_risk_sets_with_one_group_reproduce_the_ungrouped_ones(dataset, monkeypatch):
    """The one-group call above dispatches to the ungrouped code, so this forces the
    grouped code (cells, difference arrays, per-group psi) on a single group."""
    plain = _fit(dataset, 2)

    class OneGroup(finegray._FineGrayGroupedRiskSets):
        def __init__(self, time, status):
            super().__init__(time, status, np.zeros(len(time), dtype=np.int64))

    monkeypatch.setattr(finegray, "_FineGrayRiskSets", OneGroup)
    forced = _fit(dataset, 2)
    assert_allclose(forced.summary.to_numpy(), plain.summary.to_numpy(), rtol=1e-10)
    assert_allclose(forced.baseline_["cumulative_hazard"],
                    plain.baseline_["cumulative_hazard"], rtol=1e-10)


# --------------------------------------------------------------------------- invariances

def test_group_labels_and_row_order_do_not_matter():
    d = _data("data")
    fit = fine_gray(d, "time", "status", 1, COVARIATES, cengroup_col="municipality")
    relabelled = d.assign(municipality=d["municipality"].map({"A": 3, "B": 1, "C": 2}))
    relabelled = relabelled.sample(frac=1.0, random_state=4)
    other = fine_gray(relabelled, "time", "status", 1, COVARIATES, cengroup_col="municipality")
    assert_allclose(other.summary.to_numpy(), fit.summary.to_numpy(), rtol=1e-10)
    cat = d.assign(municipality=pd.Categorical(d["municipality"], categories=["C", "Z", "A",
                                                                             "B"]))
    as_cat = fine_gray(cat, "time", "status", 1, COVARIATES, cengroup_col="municipality")
    assert_allclose(as_cat.summary.to_numpy(), fit.summary.to_numpy(), rtol=1e-10)
    assert as_cat.metadata["n_censoring_groups"] == 3                  # unused level "Z"


def test_metadata_records_the_censoring_groups():
    fit = _fit("data", 1, cengroup_col="period")
    assert fit.metadata["cengroup_col"] == "period"
    assert fit.metadata["n_censoring_groups"] == 2
    assert "'period'" in fit.metadata["variance"]
    assert fit.metadata["n"] == len(_data("data"))


def test_one_row_clusters_give_the_grouped_crr_variance():
    d = _data("data").assign(row=lambda f: np.arange(len(f)))
    fit = fine_gray(d, "time", "status", 1, COVARIATES, cengroup_col="municipality",
                    cluster_col="row")
    ref = reference_rows("finegray_cengroup_coef.csv", dataset="data", cengroup="municipality",
               cause=1).set_index("term")
    assert_allclose(fit.summary["se"], ref["se"], rtol=RTOL)


# --------------------------------------------------------------------------- known truth

def simulate_group_censoring(n: int, beta: np.ndarray, rng: np.random.Generator
                             ) -> pd.DataFrame:
    """Fine & Gray (1999, section 5) design as in test_finegray.py, but follow-up depends
    on the binary covariate: flagged rows are censored uniformly on days 10-250, the
    others on days 200-3000. A single censoring distribution then misweights the
    competing rows of each group."""
    x = np.column_stack([rng.normal(size=n), rng.random(n) < 0.5])
    lp = x @ beta
    u = rng.random(n)
    cause1 = u < 1 - 0.6 ** np.exp(lp)
    t1 = -300 * np.log(1 - np.minimum((1 - (1 - u) ** np.exp(-lp)) / 0.4, 1 - 1e-12))
    t = np.ceil(np.where(cause1, t1, rng.exponential(400, n)))
    cens = np.where(x[:, 1], rng.integers(10, 250, n), rng.integers(200, 3000, n))
    status = np.where(t <= cens, np.where(cause1, 1, 2), 0)
    return pd.DataFrame({"time": np.minimum(t, cens), "status": status, "z": x[:, 0],
                         "flag": x[:, 1].astype(bool)})


def test_cengroup_recovers_the_true_ratios_when_censoring_depends_on_a_covariate():
    beta = np.array([0.5, -0.7])
    d = simulate_group_censoring(40_000, beta, np.random.default_rng(2024))
    grouped = fine_gray(d, "time", "status", 1, ["z", "flag"], cengroup_col="flag").summary
    plain = fine_gray(d, "time", "status", 1, ["z", "flag"]).summary
    z_grouped = np.abs(grouped["estimate"].to_numpy() - beta) / grouped["se"].to_numpy()
    z_plain = np.abs(plain["estimate"].to_numpy() - beta) / plain["se"].to_numpy()
    assert np.all(z_grouped < 3.5)
    assert z_plain[1] > 5                       # one censoring distribution: biased


def test_grouped_sandwich_se_matches_the_spread_of_estimates():
    beta = np.array([0.5, -0.7])
    rng = np.random.default_rng(7)
    est, se = [], []
    for _ in range(150):
        s = fine_gray(simulate_group_censoring(800, beta, rng), "time", "status", 1,
                      ["z", "flag"], cengroup_col="flag").summary
        est.append(s["estimate"].to_numpy())
        se.append(s["se"].to_numpy())
    est, se = np.array(est), np.array(se)
    # 150 replicates: the SD of an SD estimate is about 6 %
    assert_allclose(se.mean(axis=0), est.std(axis=0, ddof=1), rtol=0.18)
    assert np.all(np.abs(est.mean(axis=0) - beta) < 3 * est.std(axis=0) / np.sqrt(150))


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("value", [np.nan, None])
def test_missing_censoring_group_raises_naming_the_column_and_row(value):
    d = _data("data").astype({"municipality": object})
    d.loc[7, "municipality"] = value
    with pytest.raises(ParameterError,
                       match="'municipality' \\(cengroup_col\\) has 1 missing.*row 7"):
        fine_gray(d, "time", "status", 1, COVARIATES, cengroup_col="municipality")


def test_unknown_cengroup_column_raises_listing_the_columns():
    with pytest.raises(ParameterError, match="cengroup_col='kommun' is not a column.*available columns"):
        _fit("data", 1, cengroup_col="kommun")


# --------------------------------------------------------------------------- edge cases
# Edge cases of the censoring groups (once found by review):
#
# Checked by hand against R 4.2.2, cmprsk 2.2-11 ``crr(..., cengroup = )`` (throwaway
# scripts): one-row groups (censored, competing, event of interest alone), a group of a
# competing and a censored row, and rows at time 0 in the large groups agree to 1e-10. One
# known disagreement is crr's, not ours: for a group whose every row has time 0, crr's
# ``approx()`` collapses the tied knots at 0 (R warns "collapsing to unique 'x' values") and
# carries G_g = 0.5 to every later time, so that group's competing rows never leave the risk
# sets; here, as for every other group, G_g(t-) is 0 after the group's last time.


def _edge_episodes() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 200
    return pd.DataFrame({"time": rng.integers(1, 100, n).astype(float),
                         "status": rng.choice([0, 1, 2], n, p=[0.3, 0.4, 0.3]),
                         "x": rng.normal(size=n), "group": rng.choice(["a", "b"], n)})


def test_a_censoring_group_of_one_row_censored_at_time_zero_is_silent_and_inert():
    """Known truth: a row censored at time 0 is in no risk set, and alone in its censoring
    group it weighs no competing row, so the fit equals the fit without it (estimates and
    SEs); computing its group's G_g(0) = 0 must not leak numpy warnings to the user."""
    d = _edge_episodes()
    d.loc[5, ["group", "status", "time"]] = ["alone", 0, 0.0]
    for cause in (1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fit = fine_gray(d, "time", "status", cause, ["x"], cengroup_col="group")
        without = fine_gray(d.drop(index=5), "time", "status", cause, ["x"],
                            cengroup_col="group")
        assert fit.metadata["n_censoring_groups"] == 3
        assert_allclose(fit.summary[["estimate", "se", "se_naive"]],
                        without.summary[["estimate", "se", "se_naive"]], rtol=1e-10)


def test_a_group_whose_rows_all_have_time_zero_stops_weighing_its_competing_rows():
    """Known truth of the documented rule (G_g(t-) = 0 after the group's last time): a
    competing row alone in its censoring group at time 0 is in no later risk set, so the
    fit equals the fit without it. (cmprsk 2.2-11 differs here, see the comment above:
    it keeps the row in every risk set with weight 1.)"""
    d = _edge_episodes()
    d.loc[6, ["group", "status", "time"]] = ["alone", 2, 0.0]
    fit = fine_gray(d, "time", "status", 1, ["x"], cengroup_col="group")
    without = fine_gray(d.drop(index=6), "time", "status", 1, ["x"], cengroup_col="group")
    assert_allclose(fit.summary[["estimate", "se", "se_naive"]],
                    without.summary[["estimate", "se", "se_naive"]], rtol=1e-10)
    # the same row in a group that is followed beyond time 0 stays in the risk sets
    kept = fine_gray(d.assign(group=d["group"].replace("alone", "a")), "time", "status", 1,
                     ["x"], cengroup_col="group")
    assert not np.allclose(kept.summary["estimate"], without.summary["estimate"], rtol=1e-6)
