"""Base class of fitted results: a numeric ``summary``, provenance ``metadata`` and renderings.

Numbers stay unrounded in ``summary``; rounding happens only in :meth:`Result.to_html`.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


def package_versions(*names: str) -> dict[str, str]:
    """Versions of Python and the named installed packages (for ``metadata``)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for name in ("evaluation", *names):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


@dataclass
class Result:
    """A fitted result.

    Attributes
    ----------
    summary : pandas.DataFrame
        Numeric table with fixed snake_case columns; the only non-numeric column allowed is
        ``group`` in grouped results.
    metadata : dict
        Provenance: ``method``, ``alpha``, ``n`` (rows used), ``versions`` and method details.
    """

    summary: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_html(self, decimals: int = 3) -> str:
        """Render ``summary`` as an HTML table rounded to ``decimals`` (presentation only)."""
        numeric = [c for c in self.summary.columns if pd.api.types.is_float_dtype(self.summary[c])]
        styler = self.summary.style.format({c: f"{{:.{decimals}f}}" for c in numeric},
                                           na_rep="")
        return styler.hide(axis="index").to_html()

    def plot(self, ax=None):  # pragma: no cover - overridden by every subclass
        """Plot the result on ``ax`` (a new figure if None) and return the Axes."""
        raise NotImplementedError(f"{type(self).__name__} has no plot")
