"""Fixtures shared by the whole suite.

Plain helpers (paths, the stored R reference values, row builders) live in
``tests/helpers.py`` so that test modules can import them; the fixtures here wrap them.
Tests mirror the package: ``tests/data``, ``tests/models``, ``tests/measures``,
``tests/reporting``; ``tests/test_layout.py`` checks the package's layout itself.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import REFERENCE, read_reference


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh random generator with a fixed seed (one seed for the suite)."""
    return np.random.default_rng(20261206)


@pytest.fixture(scope="session")
def reference_dir():
    """``tests/reference/``: R scripts, the data they read and the values they wrote."""
    return REFERENCE


@pytest.fixture(scope="session")
def reference():
    """Read a CSV written by one of the R scripts: ``reference("cox_coef.csv")``."""
    return read_reference
