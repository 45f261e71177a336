"""Calendar helpers of the synthetic generator: dates as integer days since 1970-01-01.

The generator draws and compares dates as ``int64`` day numbers (fast, exact); these helpers
convert them to dates, years and anniversaries.

Examples
--------
>>> import numpy as np
>>> from evaluation.data.synth.days import add_years, parse_date, to_date
>>> day = parse_date("2008-02-29", "start")
>>> str(to_date(add_years(np.array([day]), np.array([18])))[0])
'2026-02-28'
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.errors import ParameterError

__all__ = ["add_years", "parse_date", "to_date", "year_of"]


def to_date(days: np.ndarray) -> np.ndarray:
    """Day numbers as ``datetime64[D]`` dates."""
    return np.asarray(days, dtype="int64").astype("datetime64[D]")


def parse_date(value: str, name: str) -> int:
    """Day number of the ISO date ``value`` (argument ``name`` in the message)."""
    try:
        return int(np.datetime64(pd.Timestamp(value).date(), "D").astype("int64"))
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"{name}={value!r} is not a date (use YYYY-MM-DD).") from exc


def year_of(days: np.ndarray) -> np.ndarray:
    """Calendar year of each day number."""
    return to_date(days).astype("datetime64[Y]").astype(int) + 1970


def add_years(days: np.ndarray, years: np.ndarray) -> np.ndarray:
    """Same calendar day ``years`` later (29 February -> 28 February)."""
    d = pd.DatetimeIndex(to_date(days))
    frame = pd.DataFrame({"year": d.year + np.asarray(years), "month": d.month,
                          "day": np.where((d.month == 2) & (d.day == 29), 28, d.day)})
    out = pd.to_datetime(frame).to_numpy().astype("datetime64[D]").astype("int64")
    return out
