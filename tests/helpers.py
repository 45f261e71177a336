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


def reference_rows(name: str, **where) -> pd.DataFrame:
    """The rows of a reference CSV whose columns equal the given values
    (``reference_rows("finegray_crr_coef.csv", data="days")``)."""
    d = read_reference(name)
    for col, value in where.items():
        d = d[d[col] == value]
    return d


# --------------------------------------------------------------------------- measures


def wilson(k, n, alpha: float = 0.05):
    """The Wilson interval of statsmodels (the reference the measures' shares are checked
    against): ``proportion_confint(k, n, alpha, method="wilson")``."""
    from statsmodels.stats.proportion import proportion_confint

    return proportion_confint(k, n, alpha=alpha, method="wilson")


# --------------------------------------------------------------------------- models: effects
#: Confounders of ``tests/reference/effects_data.csv`` (``effects_reference.R``).
EFFECT_COVARIATES = ["age", "sex", "behav", "placement"]
#: Confounders of ``tests/reference/effects_weights_data.csv`` (``effects_weights_reference.R``).
WEIGHTS_COVARIATES = ["age", "sex", "behav", "region"]


def estimate_effect_quietly(*args, **kwargs):
    """:func:`evaluation.models.estimate_effect` with its warnings silenced (for tests that
    check numbers, not warnings)."""
    import warnings

    from evaluation.models.effects import estimate_effect

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimate_effect(*args, **kwargs)


# --------------------------------------------------------------------------- measures: tables

#: The result columns every measure returns after ``measure``, the groups and any key column.
RESULT = ["numerator", "denominator", "value", "ci_lower", "ci_upper"]


def frame(rows: list[dict], dates: tuple[str, ...]) -> pd.DataFrame:
    """A table of ``rows`` with the columns ``dates`` parsed as dates."""
    df = pd.DataFrame(rows)
    for c in dates:
        df[c] = pd.to_datetime(df[c])
    return df


def episodes(rows: list[dict]) -> pd.DataFrame:
    """An episodes table from hand-made rows: each row names at least ``start_date`` (and
    ``episode_id``, ``birth_year`` as the test needs); the other columns default to a girl in
    municipality 0180 in a family home under SoL, ongoing, and ``child_id`` to ``C<row>``."""
    base = {
        "child_id": None,
        "municipality_code": "0180",
        "sex": "F",
        "end_date": None,
        "legal_basis": "SOL",
        "placement_type": "FH",
        "end_reason": None,
        "planned_ending": None,
        "destination": None,
    }
    full = []
    for i, r in enumerate(rows):
        row = {**base, **r}
        row["child_id"] = row["child_id"] or f"C{i}"
        full.append(row)
    df = frame(full, ("start_date", "end_date"))
    df["planned_ending"] = df["planned_ending"].astype("boolean")
    return df


# --------------------------------------------------------------------------- data: raw columns

#: The core columns of an episodes export, up to ``end_reason`` (tests of reading and
#: validation add the optional ones they need after these).
EPISODE_COLUMNS = [
    "episode_id",
    "child_id",
    "municipality_code",
    "sex",
    "birth_year",
    "start_date",
    "end_date",
    "legal_basis",
    "placement_type",
    "end_reason",
]
#: The columns of a referrals export (without the raw extract's ``personnummer``).
REFERRAL_COLUMNS = [
    "referral_id",
    "child_id",
    "municipality_code",
    "referral_date",
    "referral_type",
    "led_to_investigation",
]
