"""Review R1 of the clustering-aware follow-up measures (cluster_col, design_effect): a
period without any unit must give the 0/0 row as before, not crash. Invented data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation import measures as m
from evaluation.errors import ParameterError

NEW = ["design_effect", "n_effective"]


def _tables():
    """Two invented children, one episode each from 2020, follow-ups only in June 2019."""
    ep = pd.DataFrame({"episode_id": ["E-A", "E-B"], "child_id": ["A", "B"],
                       "birth_year": 2008,
                       "start_date": pd.to_datetime(["2020-01-01", "2020-02-01"]),
                       "end_date": pd.NaT})
    fu = pd.DataFrame({"episode_id": ["E-A", "E-B"],
                       "followup_date": pd.to_datetime(["2019-06-01", "2019-06-01"]),
                       "child_heard": ["YES", "NO"], "followup_type": "FOLLOWUP"})
    return ep, fu


CALLS = {
    # no follow-up dated in 2021
    "child_heard_share": lambda ep, fu, **kw: m.child_heard_share(
        ep, fu, "2021-01-01", "2021-12-31", **kw),
    # no review falls due in Jan-Mar 2020 (the first is due in July)
    "reviews_on_time": lambda ep, fu, **kw: m.reviews_on_time(
        ep, fu, "2020-01-01", "2020-03-31", "2022-01-01", **kw),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_period_without_units_gives_the_empty_row_with_the_default_cluster_col(name):
    """cluster_col defaults to 'child_id' (so the outcomes report uses it); with no unit in
    the period the plain measure returns one row 0/0 with NaN value and interval, and the
    clustered one raised ValueError ('Length of values (0) does not match')."""
    ep, fu = _tables()
    plain = CALLS[name](ep, fu, cluster_col=None)
    clus = CALLS[name](ep, fu)
    assert len(plain) == len(clus) == 1
    assert list(clus.columns) == [*plain.columns, *NEW]
    pd.testing.assert_frame_equal(clus[plain.columns], plain)
    assert (clus.loc[0, "numerator"], clus.loc[0, "denominator"]) == (0, 0)
    assert clus.loc[0, NEW].isna().all()
    assert np.isnan(clus.loc[0, "ci_lower"]) and np.isnan(clus.loc[0, "ci_upper"])


def test_design_effect_of_no_rows_is_an_empty_table():
    d = pd.DataFrame({"child_id": pd.Series(dtype=str), "y": pd.Series(dtype=float)})
    out = m.design_effect(d, "y", "child_id")
    assert len(out) == 0
    assert list(out.columns) == ["n", "n_clusters", "estimate", "variance", "variance_srs",
                                 "design_effect", "n_effective"]


def test_design_effect_of_a_share_refuses_values_other_than_0_and_1():
    """kind='proportion' (the default) divides by the binomial r (1 - r) / n, which is
    negative for a mean rating of 3: it reported variance_srs = -1 and a design effect of 1
    instead of naming the problem (kind='mean' is the right call)."""
    d = pd.DataFrame({"child_id": list("AABBCC"), "rating": [1.0, 5, 1, 5, 3, 3]})
    with pytest.raises(ParameterError, match=r"column 'rating' has values other than 0 "
                                               r"and 1 \(first 5.0\).*kind='mean'"):
        m.design_effect(d, "rating", "child_id")
    assert m.design_effect(d, "rating", "child_id", kind="mean")["variance_srs"].iloc[0] > 0
    ok = d.assign(heard=[True, False, True, True, False, False])
    assert m.design_effect(ok, "heard", "child_id")["estimate"].iloc[0] == 0.5
