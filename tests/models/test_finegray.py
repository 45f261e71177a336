"""Tests of evaluation.models.finegray.fine_gray against R cmprsk::crr (and survival::finegray).

Reference values: tests/reference/finegray_reference.R (R 4.2.2, cmprsk 2.2-11, survival
3.5-3) reads the three data sets below, which this file writes
(``.venv/bin/python tests/test_finegray.py`` regenerates them), and writes
tests/reference/finegray_crr_coef.csv, finegray_crr_predict.csv and finegray_fgcox_coef.csv.
The tests need no R.

- ``finegray_days.csv``: simulated episodes with day-resolution times (heavy ties), causes
  1 (unplanned ending) and 2 (planned ending), numeric, boolean and categorical covariates.
- ``finegray_rossi.csv``: lifelines' Rossi recidivism data (weeks, 49 distinct times) with
  arrests split at random into two causes and extra random censoring (seeded).
- ``finegray_synth.csv``: episodes of ``synth.generate(n_children=600, n_municipalities=5,
  seed=11)``; cause 1 unplanned ending (``planned_ending`` False), 2 planned ending,
  0 ongoing at 2024-12-31, as ``measures.breakdown_risk`` derives them.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.errors import ConvergenceError, ParameterError
from evaluation.models.finegray import FineGrayResult, fine_gray
from tests.helpers import REFERENCE as REF
from tests.helpers import reference_rows

CENSOR_DATE = pd.Timestamp("2024-12-31")
FAMILY_TYPES = ("FH", "NH", "FFH", "JH")


# --------------------------------------------------------------------------- data sets

def days_frame(n: int = 800, seed: int = 7) -> pd.DataFrame:
    """Competing-risks episodes with integer-day times; about a third of children have two
    episodes (``child`` is the cluster id)."""
    rng = np.random.default_rng(seed)
    n_child = int(n / 1.35)
    child = np.sort(rng.integers(0, n_child, n))
    x1 = np.round(rng.normal(size=n), 4)
    x2 = rng.random(n) < 0.4
    age = np.round(rng.uniform(0, 17, n), 1)
    placement = rng.choice(["family", "institution", "kin"], n, p=[0.5, 0.3, 0.2])
    lp1 = 0.5 * x1 - 0.6 * x2 + 0.06 * age + 0.5 * (placement == "institution")
    lp2 = -0.3 * x1 + 0.4 * x2 - 0.03 * age - 0.4 * (placement == "kin")
    t1 = np.ceil(rng.exponential(500 * np.exp(-lp1)))
    t2 = np.ceil(rng.exponential(400 * np.exp(-lp2)))
    cens = np.ceil(rng.uniform(30, 900, n))
    time = np.minimum(np.minimum(t1, t2), cens)
    status = np.where(time == cens, 0, np.where(t1 <= t2, 1, 2))
    return pd.DataFrame({"child": child, "time": time, "status": status, "x1": x1,
                         "x2": x2, "age": age, "placement": placement})


def rossi_frame(seed: int = 3) -> pd.DataFrame:
    """Rossi et al. (1980) recidivism data (public, in lifelines): arrests become cause 1 or
    2 at random (p = 0.6 / 0.4); 30 % of people get a random censoring week in 1-51."""
    from lifelines.datasets import load_rossi

    d = load_rossi()
    rng = np.random.default_rng(seed)
    status = np.where(d["arrest"] == 1, np.where(rng.random(len(d)) < 0.6, 1, 2), 0)
    cens = np.where(rng.random(len(d)) < 0.3, rng.integers(1, 52, len(d)), 99)
    week = d["week"].to_numpy()
    status = np.where(cens < week, 0, status)
    week = np.minimum(week, cens)
    return d.drop(columns=["arrest"]).assign(week=week, status=status)


def synth_frame() -> pd.DataFrame:
    """Episodes of ``synth.generate(n_children=600, n_municipalities=5, seed=11)``."""
    from evaluation.data.synth import generate

    ep = generate(n_children=600, n_municipalities=5, seed=11).tables["episodes"]
    ended = ep["end_date"].notna().to_numpy()
    end = ep["end_date"].where(ep["end_date"].notna(), CENSOR_DATE)
    time = (end - ep["start_date"]).dt.days.to_numpy(dtype=float)
    planned = ep["planned_ending"].fillna(True).to_numpy(dtype=bool)
    status = np.where(~ended, 0, np.where(planned, 2, 1))
    age = ep["start_date"].dt.year.to_numpy() - ep["birth_year"].to_numpy(dtype=float)
    ptype = ep["placement_type"].to_numpy(dtype=str)
    group = np.where(np.isin(ptype, FAMILY_TYPES), "family",
                     np.where(np.isin(ptype, ("HVB", "SIS")), "institution", "other"))
    return pd.DataFrame({"time": time, "status": status, "age_13plus": (age >= 13).astype(int),
                         "criminality": ep["problem_criminality"].to_numpy(dtype=int),
                         "placement": group})


GENERATORS = {"days": days_frame, "rossi": rossi_frame, "synth": synth_frame}


def write_reference_data() -> None:
    for name, make in GENERATORS.items():
        make().to_csv(REF / f"finegray_{name}.csv", index=False)


if __name__ == "__main__":
    write_reference_data()


# --------------------------------------------------------------------------- fixtures

SPECS = {
    "days": ("days", "time", ["x1", "x2", "age", "placement"]),
    "rossi": ("rossi", "week", ["fin", "age", "race", "wexp", "mar", "paro", "prio"]),
    "synth": ("synth", "time", ["age_13plus", "criminality", "placement"]),
    # finegray_days.csv with the first 40 rows' times set to 0 (also in the R script)
    "days_zero": ("days", "time", ["x1", "x2", "age", "placement"]),
}
RTOL = 1e-6


def _data(name: str) -> pd.DataFrame:
    file, _, _ = SPECS[name]
    d = pd.read_csv(REF / f"finegray_{file}.csv")
    if name == "days_zero":
        d.loc[:39, "time"] = 0.0
    return d


def _fit(name: str, cause: int, **kwargs) -> FineGrayResult:
    _, time, covs = SPECS[name]
    return fine_gray(_data(name), time, "status", cause, covs, **kwargs)


# --------------------------------------------------------------------------- reference data

@pytest.mark.parametrize("name", list(GENERATORS))
def test_reference_csv_matches_its_generator(name):
    stored = pd.read_csv(REF / f"finegray_{name}.csv")
    fresh = GENERATORS[name]()
    assert list(stored.columns) == list(fresh.columns)
    pd.testing.assert_frame_equal(stored, pd.read_csv(pd.io.common.StringIO(
        fresh.to_csv(index=False))))


def test_reference_versions_are_recorded():
    versions = json.loads((REF / "finegray_versions.json").read_text())
    assert versions["cmprsk"] == "2.2.11" and versions["survival"] == "3.5.3"


# --------------------------------------------------------------------------- against crr

@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("name", list(SPECS))
def test_fine_gray_matches_r_crr(name, cause):
    """R: crr(ftime, status, model.matrix(~ covariates)[, -1], failcode = cause,
    cencode = 0, gtol = 1e-11, maxiter = 100); coef, sqrt(diag(var)), sqrt(diag(invinf)),
    loglik and loglik.null (tests/reference/finegray_reference.R). crr reports
    converged = FALSE for synth cause 2 and days_zero cause 1 because its line search stalls
    at the optimum (the score is then below 1e-8); the estimates still agree to 1e-7."""
    fit = _fit(name, cause)
    ref = reference_rows("finegray_crr_coef.csv", dataset=name, cause=cause).set_index("term")
    s = fit.summary
    assert list(s.index) == list(ref.index)
    assert_allclose(s["estimate"], ref["coef"], rtol=RTOL)
    assert_allclose(s["se"], ref["se"], rtol=RTOL)
    assert_allclose(s["se_naive"], ref["se_naive"], rtol=RTOL)
    assert_allclose(fit.metadata["loglik"], ref["loglik"].iloc[0], rtol=RTOL)
    assert_allclose(fit.metadata["loglik_null"], ref["loglik_null"].iloc[0], rtol=RTOL)


@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("name", list(SPECS))
def test_predicted_cumulative_incidence_matches_r_predict_crr(name, cause):
    """R: predict(fit, cov1 = rbind(0, x[1, ])): profile 0 has every covariate 0 (dummies
    at the reference level), profile 1 the covariates of the first row."""
    fit = _fit(name, cause)
    _, _, covs = SPECS[name]
    d = _data(name)
    zero = {c: (d[c].iloc[0] * 0 if pd.api.types.is_numeric_dtype(d[c])
                else min(d[c].astype(str).unique())) for c in covs}
    profiles = pd.concat([pd.DataFrame([zero]), d.iloc[[0]][covs]], ignore_index=True)
    pred = fit.predict_cumulative_incidence(profiles)
    ref = reference_rows("finegray_crr_predict.csv", dataset=name, cause=cause)
    for j in (0, 1):
        ours, theirs = pred[pred["profile"] == j], ref[ref["profile"] == j]
        assert_allclose(ours["time"], theirs["time"], rtol=1e-12)
        assert_allclose(ours["estimate"], theirs["cif"], rtol=RTOL)


@pytest.mark.parametrize("cause", [1, 2])
@pytest.mark.parametrize("name", ["days", "rossi", "synth"])
def test_fine_gray_is_close_to_survival_finegray_plus_weighted_coxph(name, cause):
    """R: fg <- finegray(Surv(time, cause_f) ~ ., data, etype = cause); coxph(Surv(fgstart,
    fgstop, fgstatus) ~ covariates, data = fg, weights = fgwt, cluster = row id,
    ties = "breslow" / "efron").

    Not the same estimator, so not 1e-6: finegray() evaluates the censoring weights at the
    ends of its (fgstart, fgstop] intervals and handles times tied between events and
    censorings its own way, while crr uses G(t-)/G(t_j-) for each event time; the robust
    coxph variance also omits crr's term for estimating G. With Breslow ties (as crr) the
    estimates differ by less than 0.5 % of a standard error on these heavily tied data
    (observed up to 0.12 %) and the robust SEs by less than 0.5 % (observed up to 0.08 %);
    with coxph's default Efron ties the estimates move by up to about 2 % of an SE (observed
    1.9 %), so we allow 5 %."""
    fit = _fit(name, cause)
    s = fit.summary
    bres = reference_rows("finegray_fgcox_coef.csv", dataset=name, cause=cause,
                ties="breslow").set_index("term")
    efron = reference_rows("finegray_fgcox_coef.csv", dataset=name, cause=cause,
                 ties="efron").set_index("term")
    assert list(bres.index) == list(s.index)
    assert np.all(np.abs(s["estimate"] - bres["coef"]) <= 0.005 * s["se"])
    assert_allclose(s["se"], bres["robust_se"], rtol=5e-3)
    assert np.all(np.abs(s["estimate"] - efron["coef"]) <= 0.05 * s["se"])


@pytest.mark.parametrize("cause", [1, 2])
def test_cluster_se_is_close_to_finegray_coxph_clustered_by_child(cause):
    """R: as above with ties = "breslow" and cluster = child. Same tolerance and reason
    (coxph ignores the estimation of G); the unclustered SEs differ from these by > 2 %,
    so the test tells the two apart."""
    fit = _fit("days", cause, cluster_col="child")
    plain = _fit("days", cause)
    ref = reference_rows("finegray_fgcox_coef.csv", dataset="days", cause=cause,
               ties="breslow_child").set_index("term")
    assert_allclose(fit.summary["se"], ref["robust_se"], rtol=5e-3)
    assert np.max(np.abs(plain.summary["se"] / ref["robust_se"] - 1)) > 0.02
    assert_allclose(fit.summary["estimate"], plain.summary["estimate"], rtol=1e-12)
    assert fit.metadata["n_clusters"] == _data("days")["child"].nunique()


def test_one_row_clusters_give_the_crr_variance():
    d = _data("days").assign(row=np.arange(800))
    fit = fine_gray(d, "time", "status", 1, SPECS["days"][2], cluster_col="row")
    ref = reference_rows("finegray_crr_coef.csv", dataset="days", cause=1).set_index("term")
    assert_allclose(fit.summary["se"], ref["se"], rtol=RTOL)


# --------------------------------------------------------------------------- known truth

def simulate_fine_gray(n: int, beta: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Fine & Gray (1999, section 5) design: P(cause 1 | x) = 1 - (1 - p)^exp(x'b), p = 0.4,
    F1(t | x) = 1 - (1 - p (1 - exp(-t / 300)))^exp(x'b); cause 2 exponential; times in
    whole days (ties); uniform censoring."""
    x = np.column_stack([rng.normal(size=n), rng.random(n) < 0.4])
    lp = x @ beta
    u = rng.random(n)
    cause1 = u < 1 - 0.6 ** np.exp(lp)
    t1 = -300 * np.log(1 - np.minimum((1 - (1 - u) ** np.exp(-lp)) / 0.4, 1 - 1e-12))
    t = np.ceil(np.where(cause1, t1, rng.exponential(400, n)))
    cens = rng.integers(20, 1200, n)
    status = np.where(t <= cens, np.where(cause1, 1, 2), 0)
    return pd.DataFrame({"time": np.minimum(t, cens), "status": status, "z": x[:, 0],
                         "flag": x[:, 1].astype(bool)})


def test_fine_gray_recovers_known_subdistribution_hazard_ratios():
    beta = np.array([0.5, -0.7])
    d = simulate_fine_gray(50_000, beta, np.random.default_rng(2024))
    fit = fine_gray(d, "time", "status", 1, ["z", "flag"])
    s = fit.summary
    assert np.all(np.abs(s["estimate"].to_numpy() - beta) < 3.5 * s["se"].to_numpy())
    assert np.all(s["se"] < 0.02)


def test_sandwich_se_matches_the_spread_of_estimates_and_intervals_cover():
    beta = np.array([0.5, -0.7])
    rng = np.random.default_rng(99)
    est, se, cover = [], [], []
    for _ in range(200):
        s = fine_gray(simulate_fine_gray(600, beta, rng), "time", "status", 1,
                      ["z", "flag"]).summary
        est.append(s["estimate"].to_numpy())
        se.append(s["se"].to_numpy())
        cover.append((s["ci_lower"] <= beta) & (beta <= s["ci_upper"]))
    est, se, cover = np.array(est), np.array(se), np.array(cover)
    # 200 replicates: the SD of an SD estimate is about 5 %, coverage SE about 1.5 %
    assert_allclose(se.mean(axis=0), est.std(axis=0, ddof=1), rtol=0.15)
    assert np.all((cover.mean(axis=0) > 0.91) & (cover.mean(axis=0) < 0.99))


def test_without_competing_events_fine_gray_is_the_cox_model():
    """With no competing events every weight is 1 and the pseudo-likelihood is Cox's; with
    distinct times Breslow and Efron coincide, so cox() gives the same fit."""
    from evaluation.models.coxph import cox

    rng = np.random.default_rng(5)
    n = 400
    d = pd.DataFrame({"t": rng.exponential(100, n), "x": rng.normal(size=n),
                      "g": rng.choice(["a", "b", "c"], n)})
    d["status"] = (rng.random(n) < 0.7).astype(int)
    fg = fine_gray(d, "t", "status", 1, ["x", "g"])
    cx = cox(d, "t", "status", ["x", "g"])
    assert_allclose(fg.summary["estimate"], cx.summary["estimate"], rtol=1e-9)
    assert_allclose(fg.summary["se_naive"], cx.summary["se_naive"], rtol=1e-9)
    assert_allclose(fg.metadata["loglik"], cx.metadata["loglik"], rtol=1e-9)


def test_fit_does_not_depend_on_row_order_or_covariate_shifts_and_leaves_data_alone():
    d = _data("days")
    fit = fine_gray(d, "time", "status", 1, SPECS["days"][2])
    pd.testing.assert_frame_equal(d, _data("days"))
    shuffled = d.sample(frac=1.0, random_state=3).assign(age=lambda f: f["age"] + 100)
    other = fine_gray(shuffled, "time", "status", 1, SPECS["days"][2])
    assert_allclose(other.summary["estimate"], fit.summary["estimate"], rtol=1e-9)
    assert_allclose(other.summary["se"], fit.summary["se"], rtol=1e-9)


# --------------------------------------------------------------------------- result object

def test_summary_columns_metadata_and_renderings():
    import matplotlib

    matplotlib.use("Agg")
    fit = _fit("synth", 1)
    assert list(fit.summary.columns) == ["estimate", "se", "se_naive", "z", "ci_lower",
                                         "ci_upper", "p_value", "exp_estimate"]
    assert all(pd.api.types.is_float_dtype(t) for t in fit.summary.dtypes)
    s = fit.summary
    assert_allclose(s["exp_estimate"], np.exp(s["estimate"]))
    assert_allclose(s["ci_upper"] - s["estimate"], 1.959963984540054 * s["se"])
    m = fit.metadata
    d = _data("synth")
    assert m["n"] == len(d) and m["alpha"] == 0.05
    assert (m["n_events"], m["n_competing"], m["n_censored"]) == tuple(
        int((d["status"] == k).sum()) for k in (1, 2, 0))
    assert "numpy" in m["versions"]
    ax = fit.plot()
    assert [t.get_text() for t in ax.get_yticklabels()] == list(s.index)
    assert "<table" in fit.to_html()


def test_alpha_sets_the_interval_level():
    narrow = _fit("rossi", 1, alpha=0.2).summary
    wide = _fit("rossi", 1).summary
    assert np.all(narrow["ci_upper"] < wide["ci_upper"])
    assert_allclose(narrow["estimate"], wide["estimate"])


def test_predict_evaluates_the_step_function_at_given_times():
    fit = _fit("days", 1)
    prof = {"x1": 0.3, "x2": True, "age": 12.0, "placement": "kin"}
    full = fit.predict_cumulative_incidence(prof)
    t = full["time"].to_numpy()
    at = fit.predict_cumulative_incidence(prof, times=[t[0] - 0.5, t[3], t[3] + 0.5, 1e6])
    assert_allclose(at["estimate"], [0.0, full["estimate"].iloc[3], full["estimate"].iloc[3],
                                     full["estimate"].iloc[-1]])
    assert np.all(np.diff(full["estimate"]) >= 0)
    with pytest.raises(ParameterError, match="level"):
        fit.predict_cumulative_incidence({**prof, "placement": "moon"})
    with pytest.raises(ParameterError, match="age"):
        fit.predict_cumulative_incidence({k: v for k, v in prof.items() if k != "age"})


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("change, kwargs, match", [
    (None, {"event_of_interest": 3}, "causes present: \\[1, 2\\]"),
    (None, {"event_of_interest": 0}, "0 is censoring"),
    (None, {"event_of_interest": "1"}, "numeric cause code"),
    (None, {"alpha": 1.5}, "alpha"),
    (None, {"covariates": ["nope"]}, "'nope'"),
    (None, {"duration_col": "nope"}, "'nope'"),
    (None, {"event_col": "nope"}, "'nope'"),
    (None, {"cluster_col": "nope"}, "'nope'"),
    (lambda d: d.assign(status=d["status"] - 1), {}, "non-negative integer"),
    (lambda d: d.assign(status=d["status"] + 0.5), {}, "non-negative integer"),
    (lambda d: d.assign(status=d["status"] > 0), {}, "numeric cause codes"),
    (lambda d: d.assign(time=-d["time"]), {}, "non-negative"),
    (lambda d: d.assign(x1=np.where(d.index == 5, np.nan, d["x1"])), {}, "row 5"),
    (lambda d: d.assign(x1=1.0), {}, "constant"),
])
def test_bad_input_raises_parameter_error_naming_the_problem(change, kwargs, match):
    d = _data("days")
    if change is not None:
        d = change(d)
    args = {"duration_col": "time", "event_col": "status", "event_of_interest": 1,
            "covariates": ["x1", "x2"]} | kwargs
    with pytest.raises(ParameterError, match=match):
        fine_gray(d, **args)


def test_data_must_be_a_dataframe():
    with pytest.raises(ParameterError, match="DataFrame"):
        fine_gray({"time": [1, 2]}, "time", "status", 1, ["x"])


def test_collinear_or_separating_covariates_raise_convergence_error():
    d = _data("days")
    with pytest.raises(ConvergenceError, match="collinear"):
        fine_gray(d.assign(x3=2 * d["x1"]), "time", "status", 1, ["x1", "x3"])
    # a level with no events of interest: its log SHR is -infinity
    with pytest.raises(ConvergenceError, match="'never'.*(appears infinite|may be infinite)"):
        fine_gray(d.assign(never=(d["status"] != 1) & (d.index % 3 == 0)), "time", "status",
                  1, ["x1", "never"])


@pytest.mark.parametrize("max_iter", [3, 8, 50])
def test_an_infinite_estimate_is_named_whether_or_not_newton_stops_converging(
        monkeypatch, max_iter):
    # Newton-Raphson may stop at the iteration limit or converge on a huge value, depending
    # on rounding (numpy/BLAS versions); either way the error names the covariate.
    import evaluation.models.finegray as fg

    monkeypatch.setattr(fg, "_FG_MAX_ITER", max_iter)
    d = _data("days")
    never = (d["status"] != 1) & (d.index % 3 == 0)
    with pytest.raises(ConvergenceError, match="'never'.*(appears infinite|may be infinite)"):
        fine_gray(d.assign(never=never), "time", "status", 1, ["x1", "never"])


def test_fine_gray_has_one_address_in_the_models_facade():
    from evaluation import models

    assert models.fine_gray is fine_gray
    assert models.FineGrayResult is FineGrayResult


@pytest.mark.parametrize("change", [{"age": np.nan}, {"age": None}, {"placement": None}])
def test_predict_rejects_missing_covariate_values(change):
    fit = _fit("days", 1)
    prof = {"x1": 0.3, "x2": True, "age": 12.0, "placement": "kin", **change}
    with pytest.raises(ParameterError, match=f"{next(iter(change))!r}.*missing"):
        fit.predict_cumulative_incidence(prof)
    nullable = pd.DataFrame({k: [v] for k, v in prof.items()}).astype({"age": "Float64"})
    with pytest.raises(ParameterError, match="missing"):
        fit.predict_cumulative_incidence(nullable)


def test_predict_follows_the_fit_coding_of_a_categorical_with_its_own_order():
    d = days_frame(n=400, seed=3)
    d["placement"] = pd.Categorical(d["placement"], categories=["kin", "institution", "family"])
    fit = fine_gray(d, "time", "status", 1, ["x1", "placement"])
    assert list(fit.summary.index) == ["x1", "placementinstitution", "placementfamily"]
    t = [100.0, 300.0]
    got = fit.predict_cumulative_incidence(
        pd.DataFrame({"x1": [0.0, 0.0, 0.0], "placement": ["kin", "institution", "family"]}),
        times=t)
    b = fit.summary["estimate"]
    base = fit.baseline_
    lam = [base.loc[base["time"] <= s, "cumulative_hazard"].iloc[-1] for s in t]
    for profile, lp in enumerate([0.0, b["placementinstitution"], b["placementfamily"]]):
        want = 1 - np.exp(-np.exp(lp) * np.asarray(lam))
        assert_allclose(got.loc[got["profile"] == profile, "estimate"], want, rtol=1e-12)
