"""The Cox fit aggregates by event time (issue 14): its likelihood, score, information and
score residuals equal the per-event Efron/Breslow formulas (``event_terms``/``info_sum``, the
terms of R's coxfit6/agfit4), whatever the order of the rows, the number of strata or the
kind of ties. (Agreement with R itself: tests/models/test_cox.py.)"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.models.cox_core import EfronLikelihood, EfronRiskSets, event_terms, info_sum
from evaluation.models.coxph import cox


def tied_data(n: int = 1500, n_strata: int = 1, entry: bool = False, seed: int = 4
              ) -> dict[str, np.ndarray]:
    """Integer times 1..40 (many ties), delayed entry for half the rows if ``entry``."""
    rng = np.random.default_rng(seed)
    stop = rng.integers(1, 41, n).astype(float)
    start = np.where(rng.random(n) < 0.5, stop - rng.integers(1, 20, n), -np.inf) if entry \
        else np.full(n, -np.inf)
    return {"entry": start, "stop": stop, "event": rng.random(n) < 0.6,
            "stratum": rng.integers(0, n_strata, n), "x": rng.normal(size=(n, 3)),
            "wt": rng.uniform(0.3, 3.0, n)}


def per_event(rs, x, beta, wt):
    """Log likelihood, score and information from the per-event terms."""
    eta, r, den, a, mw = event_terms(rs, x, beta, wt)
    ev = rs.event_rows
    w_ev = np.ones(len(ev)) if wt is None else wt[ev]
    return (w_ev @ eta[ev] - mw @ np.log(den), w_ev @ x[ev] - mw @ a,
            info_sum(rs, x, r, den, a, mw))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("n_strata, entry", [(1, False), (3, True), (300, True), (300, False)])
@pytest.mark.parametrize("weighted", [False, True])
def test_aggregated_efron_terms_equal_the_per_event_terms(ties, n_strata, entry, weighted):
    d = tied_data(n_strata=n_strata, entry=entry)
    wt = d["wt"] if weighted else None
    rs = EfronRiskSets(d["entry"], d["stop"], d["event"], d["stratum"], ties)
    assert (rs.blocks is None) == (n_strata > EfronRiskSets.MAX_BLOCKS)
    beta = np.array([0.3, -0.2, 0.1])
    loglik, score, info = EfronLikelihood(rs, d["x"], wt).evaluate(beta)
    ref = per_event(rs, d["x"], beta, wt)
    assert_allclose(loglik, ref[0], rtol=1e-12)
    assert_allclose(score, ref[1], rtol=1e-10, atol=1e-10)
    assert_allclose(info, ref[2], rtol=1e-10, atol=1e-10)
    # the risk-set sums through the aggregation matrix equal a direct sum over each risk set
    k = 7
    at_risk = (rs.lo <= k) & (k <= rs.hi)
    assert_allclose(rs.risk_sum(d["x"])[k], d["x"][at_risk].sum(axis=0), rtol=1e-12)


def test_the_fit_does_not_depend_on_the_order_of_the_rows():
    d = tied_data(n_strata=2, entry=True)
    df = pd.DataFrame({"start": d["entry"], "stop": d["stop"], "event": d["event"].astype(int),
                       "s": d["stratum"], "x1": d["x"][:, 0], "x2": d["x"][:, 1],
                       "w": d["wt"], "id": np.arange(len(d["stop"])) // 3})
    df["start"] = np.where(np.isfinite(df["start"]), df["start"], -1.0)
    kw = {"entry_col": "start", "strata_col": "s", "weights_col": "w", "cluster_col": "id"}
    fit = cox(df, "stop", "event", ["x1", "x2"], **kw)
    perm = np.random.default_rng(1).permutation(len(df))
    shuffled = cox(df.iloc[perm].reset_index(drop=True), "stop", "event", ["x1", "x2"], **kw)
    assert_allclose(shuffled.summary.to_numpy(), fit.summary.to_numpy(), rtol=1e-10)
    assert_allclose(shuffled.score_residuals_, fit.score_residuals_[perm], rtol=1e-9,
                    atol=1e-12)
    assert_allclose(shuffled.model_["hazard_increments"], fit.model_["hazard_increments"],
                    rtol=1e-10)
