"""Review R2 of ``fine_gray(..., cengroup_col=)``: edge cases of the censoring groups.

Checked by hand against R 4.2.2, cmprsk 2.2-11 ``crr(..., cengroup = )`` (throwaway
scripts): one-row groups (censored, competing, event of interest alone), a group of a
competing and a censored row, and rows at time 0 in the large groups agree to 1e-10. One
known disagreement is crr's, not ours: for a group whose every row has time 0, crr's
``approx()`` collapses the tied knots at 0 (R warns "collapsing to unique 'x' values") and
carries G_g = 0.5 to every later time, so that group's competing rows never leave the risk
sets; here, as for every other group, G_g(t-) is 0 after the group's last time.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.testing import assert_allclose

from evaluation.models.finegray import fine_gray


def _episodes() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 200
    return pd.DataFrame({"time": rng.integers(1, 100, n).astype(float),
                         "status": rng.choice([0, 1, 2], n, p=[0.3, 0.4, 0.3]),
                         "x": rng.normal(size=n), "group": rng.choice(["a", "b"], n)})


def test_a_censoring_group_of_one_row_censored_at_time_zero_is_silent_and_inert():
    """Known truth: a row censored at time 0 is in no risk set, and alone in its censoring
    group it weighs no competing row, so the fit equals the fit without it (estimates and
    SEs); computing its group's G_g(0) = 0 must not leak numpy warnings to the user."""
    d = _episodes()
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
    fit equals the fit without it. (cmprsk 2.2-11 differs here, see the module docstring:
    it keeps the row in every risk set with weight 1.)"""
    d = _episodes()
    d.loc[6, ["group", "status", "time"]] = ["alone", 2, 0.0]
    fit = fine_gray(d, "time", "status", 1, ["x"], cengroup_col="group")
    without = fine_gray(d.drop(index=6), "time", "status", 1, ["x"], cengroup_col="group")
    assert_allclose(fit.summary[["estimate", "se", "se_naive"]],
                    without.summary[["estimate", "se", "se_naive"]], rtol=1e-10)
    # the same row in a group that is followed beyond time 0 stays in the risk sets
    kept = fine_gray(d.assign(group=d["group"].replace("alone", "a")), "time", "status", 1,
                     ["x"], cengroup_col="group")
    assert not np.allclose(kept.summary["estimate"], without.summary["estimate"], rtol=1e-6)
