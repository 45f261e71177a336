"""Tests of :mod:`evaluation.measures.intervals`: the Wilson and exact Poisson intervals,
compared with statsmodels references and hand values."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.rates import confint_poisson

from evaluation import measures as m
from evaluation.errors import ParameterError
from tests.helpers import wilson


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_interval_matches_statsmodels(alpha):
    k = np.array([0, 1, 5, 10, 3, 17])
    n = np.array([10, 10, 10, 10, 4, 250])
    lo, hi = m.wilson_interval(k, n, alpha)
    ref_lo, ref_hi = wilson(k, n, alpha)
    assert_allclose(lo, ref_lo, rtol=1e-10, atol=1e-12)
    assert_allclose(hi, ref_hi, rtol=1e-10, atol=1e-12)


def test_wilson_interval_is_nan_for_empty_denominator():
    lo, hi = m.wilson_interval([0], [0])
    assert np.isnan(lo[0]) and np.isnan(hi[0])


@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_poisson_rate_interval_matches_statsmodels_exact(alpha):
    k = np.array([1, 2, 7, 40])
    exposure = np.array([10.0, 50.0, 365.0, 14209.0])
    lo, hi = m.poisson_rate_interval(k, exposure, alpha)
    ref_lo, ref_hi = confint_poisson(k, exposure, method="exact-c", alpha=alpha)
    assert_allclose(lo, ref_lo, rtol=1e-9)
    assert_allclose(hi, ref_hi, rtol=1e-9)


def test_poisson_rate_interval_hand_values():
    """k = 0: [0, -log(0.025)] = [0, 3.68888]; k = 1: [0.025318, 5.571643] (Garwood tables)."""
    lo, hi = m.poisson_rate_interval([0, 1], [1.0, 1.0])
    assert_allclose(lo, [0.0, 0.0253178], atol=1e-6)
    assert_allclose(hi, [-np.log(0.025), 5.5716434], atol=1e-6)
    lo2, hi2 = m.poisson_rate_interval([1], [2.0])
    assert_allclose([lo2[0], hi2[0]], [0.0253178 / 2, 5.5716434 / 2], atol=1e-6)


@pytest.mark.parametrize("func", [m.wilson_interval, m.poisson_rate_interval])
def test_intervals_reject_bad_alpha(func):
    with pytest.raises(ParameterError, match="alpha"):
        func([1], [2], alpha=1.5)


def test_wilson_interval_rejects_k_above_n():
    with pytest.raises(ParameterError, match="k <= n"):
        m.wilson_interval([3], [2])


@pytest.mark.parametrize("func", [m.wilson_interval, m.poisson_rate_interval])
@pytest.mark.parametrize("alpha", ["0.05", None, np.nan, True])
def test_intervals_reject_non_numeric_alpha_with_a_parameter_error(func, alpha):
    with pytest.raises(ParameterError, match="alpha"):
        func([1], [2], alpha=alpha)


def test_intervals_accept_numpy_alpha():
    lo, hi = m.wilson_interval([3], [10], alpha=np.float32(0.1))
    lo_ref, hi_ref = m.wilson_interval([3], [10], alpha=0.1)
    assert_allclose([lo[0], hi[0]], [lo_ref[0], hi_ref[0]], rtol=1e-6)
