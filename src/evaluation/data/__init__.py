"""Data: the data dictionary, reading and validating extracts, pseudonymisation, synthetic data
with known truth, loading validated tables and building analysis frames.

The first stage of the flow: nothing here imports from models, measures or reporting.
"""

from __future__ import annotations

from evaluation.data.analysis_frame import (
    EFFECT_COVARIATES,
    effect_frame,
)
from evaluation.data.cohort import (
    AGE_BREAKS,
    DEFAULT_INITIAL,
    JOURNEY_LABELS,
    PLACEMENT_GROUPS,
    PLACEMENT_STATES,
    age_at_start,
    age_group,
    as_date,
    data_end_date,
    entrants,
    episode_outcomes,
    group_list,
    journey_dates,
    journey_states,
    period_bounds,
    require_table,
    stay_days,
    with_groups,
)
from evaluation.data.crosscheck import validate_dataset
from evaluation.data.io import read_table, read_tables
from evaluation.data.load import (
    attach_latest_followup,
    find_data_dir,
    load_tables,
    select_period,
)
from evaluation.data.pages import (
    FIXED_TIMESTAMP,
    MEASURE_FIELDS,
    TEMPLATE_ROWS,
    render_html,
    render_markdown,
    template_columns,
    write_excel_template,
    write_pages,
)
from evaluation.data.pseudonymise import (
    InvalidIdentityNumber,
    PersonNumber,
    generate_key,
    load_key,
    luhn_check_digit,
    parse_personnummer,
    pseudonymise_id,
    pseudonymise_table,
    synthetic_personnummer,
)
from evaluation.data.rawtable import (
    QUARANTINE_COLUMNS,
    SUPPORTED_EXTENSIONS,
    RawTable,
    normalise_header,
)
from evaluation.data.rules import (
    MAX_FIELD_LENGTH,
    ValidationResult,
)
from evaluation.data.validate import (
    ValidationSummary,
    validate_files,
    validate_table,
)

__all__ = [
    "AGE_BREAKS",
    "DEFAULT_INITIAL",
    "EFFECT_COVARIATES",
    "FIXED_TIMESTAMP",
    "JOURNEY_LABELS",
    "MAX_FIELD_LENGTH",
    "MEASURE_FIELDS",
    "PLACEMENT_GROUPS",
    "PLACEMENT_STATES",
    "QUARANTINE_COLUMNS",
    "SUPPORTED_EXTENSIONS",
    "TEMPLATE_ROWS",
    "InvalidIdentityNumber",
    "PersonNumber",
    "RawTable",
    "ValidationResult",
    "ValidationSummary",
    "age_at_start",
    "age_group",
    "as_date",
    "attach_latest_followup",
    "data_end_date",
    "effect_frame",
    "entrants",
    "episode_outcomes",
    "generate_key",
    "group_list",
    "journey_dates",
    "journey_states",
    "load_key",
    "find_data_dir",
    "load_tables",
    "luhn_check_digit",
    "normalise_header",
    "parse_personnummer",
    "period_bounds",
    "pseudonymise_id",
    "pseudonymise_table",
    "read_table",
    "read_tables",
    "render_html",
    "render_markdown",
    "require_table",
    "select_period",
    "stay_days",
    "synthetic_personnummer",
    "template_columns",
    "validate_dataset",
    "validate_files",
    "validate_table",
    "with_groups",
    "write_excel_template",
    "write_pages",
]
