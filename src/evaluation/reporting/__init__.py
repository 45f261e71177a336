"""Reporting: text catalogs, plots, the report sections and the report runner (papermill).

The last stage of the flow: it may import from every other stage, none imports from it.
"""

from __future__ import annotations

from evaluation.reporting.outcomes import (
    OutcomeReport,
)
from evaluation.reporting.overview import (
    AGE_GROUPS,
    SECTIONS,
    display_table,
    distribution,
    overview_tables,
    section_heading,
    section_text,
)
from evaluation.reporting.plots import (
    bar_comparison,
)
from evaluation.reporting.run import (
    notebook_parameters,
    run_report,
)
from evaluation.reporting.teaching import (
    TeachingCase,
    load_case,
)

__all__ = [
    "AGE_GROUPS",
    "SECTIONS",
    "OutcomeReport",
    "TeachingCase",
    "bar_comparison",
    "display_table",
    "distribution",
    "load_case",
    "notebook_parameters",
    "overview_tables",
    "run_report",
    "section_heading",
    "section_text",
]
