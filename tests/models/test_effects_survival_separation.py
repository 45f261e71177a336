"""The propensity model of ``weighted_survival`` is the logistic fit of ``estimate_effect``
(issue 14): Newton from the intercept-only model with step halving as R's ``glm.fit``, a
finite fit or :class:`ConvergenceError` naming the covariate. Before, it was a plain
statsmodels IRLS fit whose result was refused whenever a fitted probability fell below 1e-12,
so a rare treated arm strongly (but not perfectly) predicted by a covariate raised
ConvergenceError although the maximum-likelihood fit exists and its weights are finite.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy import optimize, special

from evaluation.errors import ConvergenceError, PropensitySeparationWarning
from evaluation.models.effects_survival import weighted_survival


def _follow_up(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"time": rng.integers(1, 400, n), "event": rng.integers(0, 2, n)}


def rare_near_separated(seed: int = 1, n: int = 2000, slope: float = 6.0) -> pd.DataFrame:
    """About 1 % treated, P(treated) = expit(slope (score - 2.5)): the arms overlap only in
    the upper tail of the score, and fitted probabilities of low scores are below 1e-12."""
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    arm = (rng.random(n) < special.expit(slope * (score - 2.5))).astype(int)
    return pd.DataFrame({**_follow_up(n, rng), "arm": arm, "score": score})


def rare_binary(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """20 of 2,000 treated; 18 of them have b = 1, against 40 of the 1,980 controls (the case
    of issue 10, where plain Newton overshoots)."""
    rng = np.random.default_rng(seed)
    arm, b = np.zeros(n, dtype=int), np.zeros(n, dtype=int)
    arm[:20] = 1
    b[:18] = 1
    b[20:60] = 1
    return pd.DataFrame({**_follow_up(n, rng), "arm": arm, "b": b})


def _ml_propensity(x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Logistic ML fit by BFGS on the exact gradient (an independent reference)."""
    def nll(g):
        eta = x @ g
        return np.sum(np.logaddexp(0, eta) - a * eta), x.T @ (special.expit(eta) - a)

    res = optimize.minimize(nll, np.zeros(x.shape[1]), jac=True, method="BFGS",
                            options={"gtol": 1e-10, "maxiter": 10_000})
    return special.expit(x @ res.x)


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
@pytest.mark.parametrize("case", ["near_separated", "binary"])
def test_rare_near_separated_treatment_gives_finite_weighted_survival(case, estimand):
    d, cov = ((rare_near_separated(), ["score"]) if case == "near_separated"
              else (rare_binary(), ["b"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # overlap exists: no separation warning
        res = weighted_survival(d, "time", "event", "arm", cov, treated=1, control=0,
                                estimand=estimand, horizons=[180, 365])
    assert np.isfinite(res.summary[["estimate", "se", "ci_lower", "ci_upper"]]
                       .to_numpy(float)).all()
    assert np.isfinite(res.arms[["estimate", "se", "ess"]].to_numpy(float)).all()
    # the same as weighting by an independent maximum-likelihood fit of the propensity model
    x = np.column_stack([np.ones(len(d)), d[cov].to_numpy(float)])
    a = d["arm"].to_numpy()
    e = _ml_propensity(x, a)
    w = (np.where(a == 1, 1 / e, 1 / (1 - e)) if estimand == "ATE"
         else np.where(a == 1, 1.0, e / (1 - e)))
    given = weighted_survival(d.assign(w=w), "time", "event", "arm", weights_col="w",
                              treated=1, control=0, horizons=[180, 365])
    assert_allclose(res.summary["estimate"], given.summary["estimate"], rtol=1e-5)
    assert_allclose(res.summary["se"], given.summary["se"], rtol=1e-5)


def test_near_separated_propensity_fits_below_the_old_1e_12_cutoff():
    """The case is one the old code refused: some fitted probabilities are below 1e-12."""
    d = rare_near_separated()
    x = np.column_stack([np.ones(len(d)), d["score"].to_numpy()])
    assert _ml_propensity(x, d["arm"].to_numpy()).min() < 1e-12


@pytest.mark.parametrize("estimand", ["ATE", "ATT"])
def test_completely_separated_arms_warn_with_finite_results_or_raise(estimand):
    """Treated exactly when score > 0: the ATE weights stay finite (about 1) and the fit
    warns of separation, as estimate_effect does; the ATT weights of the controls,
    e / (1 - e), are 0, so the fit is refused. Never a silent NaN."""
    rng = np.random.default_rng(3)
    n = 400
    score = rng.normal(size=n)
    d = pd.DataFrame({**_follow_up(n, rng), "arm": (score > 0).astype(int), "score": score})
    if estimand == "ATE":
        with pytest.warns(PropensitySeparationWarning, match="separation"):
            res = weighted_survival(d, "time", "event", "arm", ["score"], treated=1,
                                    control=0, estimand=estimand)
        assert np.isfinite(res.summary[["estimate", "se"]].to_numpy(float)).all()
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PropensitySeparationWarning)
            with pytest.raises(ConvergenceError, match="predicts an arm with certainty"):
                weighted_survival(d, "time", "event", "arm", ["score"], treated=1,
                                  control=0, estimand=estimand)
