"""Reporting: text catalogs, notes on model warnings, display tables, plots, the report
sections and the report runner (papermill).

The last stage of the flow: it may import from every other stage, none imports from it.

- :mod:`~evaluation.reporting.text` — the wording catalogs (``catalogs/*.yaml``, Swedish and
  English) and the number formatters;
- :mod:`~evaluation.reporting.notes` — model warnings, by class, as plain sentences;
- :mod:`~evaluation.reporting.tables`, :mod:`~evaluation.reporting.comparison_table` —
  results as protected display tables;
- :mod:`~evaluation.reporting.plots` — charts;
- :mod:`~evaluation.reporting.overview`, :mod:`~evaluation.reporting.outcomes`,
  :mod:`~evaluation.reporting.teaching` — the report sections behind the notebooks;
- :mod:`~evaluation.reporting.run` — runs a notebook and renders HTML.
"""

from __future__ import annotations

from evaluation.reporting.comparison_table import (
    comparison_display,
)
from evaluation.reporting.notes import (
    WARNING_KINDS,
    CapturedWarning,
    WarningRecorder,
    escape_markdown,
    mask_small_numbers,
    notes_markdown,
    notes_table,
    sanitise_text,
    warning_kind,
)
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
    truncate_curve,
)
from evaluation.reporting.run import (
    notebook_parameters,
    run_report,
)
from evaluation.reporting.tables import (
    care_costs_display,
    column_label,
    cost_effect_display,
    measure_label,
    measures_display,
    ph_test_display,
    ratio_display,
    themes_display,
)
from evaluation.reporting.teaching import (
    TeachingCase,
    load_case,
)
from evaluation.reporting.text import (
    catalog_names,
    confounder_text,
    format_count,
    format_integer,
    format_interval,
    format_number,
    format_p_value,
    format_percent,
    load_catalog,
    number_legend,
    number_ticks,
    phrase,
    phrases,
    term_label,
    with_decimal_mark,
)

__all__ = [
    "AGE_GROUPS",
    "SECTIONS",
    "WARNING_KINDS",
    "CapturedWarning",
    "OutcomeReport",
    "TeachingCase",
    "WarningRecorder",
    "bar_comparison",
    "care_costs_display",
    "catalog_names",
    "column_label",
    "comparison_display",
    "confounder_text",
    "cost_effect_display",
    "display_table",
    "distribution",
    "escape_markdown",
    "format_count",
    "format_integer",
    "format_interval",
    "format_number",
    "format_p_value",
    "format_percent",
    "load_case",
    "load_catalog",
    "mask_small_numbers",
    "measure_label",
    "measures_display",
    "notebook_parameters",
    "notes_markdown",
    "notes_table",
    "number_legend",
    "number_ticks",
    "overview_tables",
    "ph_test_display",
    "phrase",
    "phrases",
    "ratio_display",
    "run_report",
    "sanitise_text",
    "section_heading",
    "section_text",
    "term_label",
    "themes_display",
    "truncate_curve",
    "warning_kind",
    "with_decimal_mark",
]
