"""Shared helpers of the test suite: paths, stored R reference values and row builders.

Fixtures built on these live in ``conftest.py``; test modules import plain helpers from here
(``from tests.helpers import REFERENCE, read_reference``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: The project root (the folder holding ``pyproject.toml``).
ROOT = Path(__file__).resolve().parents[1]
#: R scripts, the data they read and the values they wrote (``tests/reference/``).
REFERENCE = ROOT / "tests" / "reference"


def read_reference(name: str, **kwargs) -> pd.DataFrame:
    """A CSV of ``tests/reference/`` (written by one of the R scripts there)."""
    return pd.read_csv(REFERENCE / name, **kwargs)


# --------------------------------------------------------------------------- measures


def wilson(k, n, alpha: float = 0.05):
    """The Wilson interval of statsmodels (the reference the measures' shares are checked
    against): ``proportion_confint(k, n, alpha, method="wilson")``."""
    from statsmodels.stats.proportion import proportion_confint

    return proportion_confint(k, n, alpha=alpha, method="wilson")
