"""Tests of :mod:`evaluation.data.cohort`: the age at entry and the age groups."""

from __future__ import annotations

import pytest

from evaluation.data.cohort import age_at_start, age_group
from evaluation.errors import ParameterError
from tests.helpers import episodes


def test_age_at_start_and_age_group():
    ep = episodes(
        [
            {"start_date": "2020-03-01", "birth_year": 2008},
            {"start_date": "2021-12-31", "birth_year": 2000},
        ]
    )
    assert list(age_at_start(ep)) == [12, 21]
    assert list(age_group([0, 12, 13, 20])) == ["0-12", "0-12", "13-20", "13-20"]
    assert age_group([21, -1]).isna().all()
    assert list(age_group([3, 16], breaks=(0, 6, 18))) == ["0-5", "6-17"]


def test_age_group_rejects_unordered_breaks():
    with pytest.raises(ParameterError, match="strictly increasing"):
        age_group([1], breaks=(0, 13, 13))
