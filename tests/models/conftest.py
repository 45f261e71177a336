"""Fixtures of the model tests: the data sets the R reference scripts read."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import read_reference


@pytest.fixture(scope="session")
def ref_data() -> pd.DataFrame:
    """``tests/reference/effects_data.csv``: two and three arms, binary and continuous
    outcomes, children with several episodes (read by ``effects_reference.R``)."""
    return read_reference("effects_data.csv")


@pytest.fixture(scope="session")
def wdata() -> pd.DataFrame:
    """``tests/reference/effects_weights_data.csv``: the same with integer and fractional
    sampling weights (read by ``effects_weights_reference.R``)."""
    return read_reference("effects_weights_data.csv")
