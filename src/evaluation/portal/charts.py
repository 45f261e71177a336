"""The live Webbkollen overview as accessible HTML: tables with inline SVG bars.

The numbers come from :func:`evaluation.reporting.overview.overview_tables` in publication
mode, i.e. through the same disclosure control as the published reports (no count of 1-4, no
share on too few children, consistent cell-key noise). The bars are decorative (``aria-hidden``)
beside the numbers they draw; nothing is loaded from a network.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from evaluation.disclosure import DisclosurePolicy
from evaluation.errors import ParameterError
from evaluation.reporting.overview import display_table, overview_tables, section_heading

__all__ = ["BAR_WIDTH", "overview_sections", "period"]

#: Width of a full (100 %) bar in pixels.
BAR_WIDTH = 160


def period(today: Any = None) -> tuple[str, str]:
    """The overview's period: from 1 January five years back to today."""
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today)
    return f"{today.year - 5}-01-01", today.strftime("%Y-%m-%d")


def _bar(share: float) -> int:
    return 0 if share is None or not math.isfinite(share) else round(share * BAR_WIDTH)


def overview_sections(
    tables: dict[str, pd.DataFrame] | None, municipality: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """Sections of the overview ready for the template.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame or None
        Validated tables of the whole service (:func:`evaluation.portal.tables.overview_source`).
    municipality : str or None
        Municipality shown beside all (None: all only).

    Returns
    -------
    sections : list of dict
        ``heading`` and ``variables``; each variable has a ``label`` and ``rows`` with
        ``category`` and, per scope (``selected``, ``all``), ``count``, ``share`` (text) and
        ``width`` (bar in pixels).
    has_selected : bool
        False when the municipality has no episodes in the period (only all is shown).
    """
    if not tables:
        return [], False
    start, end = period()
    policy = DisclosurePolicy()
    try:
        result = overview_tables(tables, municipality=municipality, period_start=start,
                                 period_end=end, lang="sv", policy=policy)
        has_selected = municipality is not None
    except ParameterError:
        result = overview_tables(tables, municipality=None, period_start=start,
                                 period_end=end, lang="sv", policy=policy)
        has_selected = False
    sections = []
    for key, frame in result.items():
        shown = display_table(frame, lang="sv", policy=policy)
        frame = frame.assign(_count=shown.iloc[:, 2].to_numpy(), _share=shown.iloc[:, 3].to_numpy())
        variables = []
        for label, part in frame.groupby("variable", sort=False):
            rows: dict[str, dict[str, Any]] = {}
            scopes = list(dict.fromkeys(part["scope"]))
            for _, r in part.iterrows():
                scope = "all" if r["scope"] == scopes[-1] else "selected"
                row = rows.setdefault(r["code"], {"category": r["category"]})
                row[scope] = {"count": r["_count"], "share": r["_share"],
                              "width": _bar(r["share"])}
            variables.append({"label": label, "rows": list(rows.values())})
        sections.append({"key": key, "heading": section_heading(key, lang="sv"),
                         "variables": variables})
    return sections, has_selected
