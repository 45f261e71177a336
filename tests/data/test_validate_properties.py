"""Property-based tests: arbitrary cell text never breaks the quarantine invariant."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaluation.data.crosscheck import validate_dataset
from evaluation.data.io import read_table
from evaluation.data.validate import validate_table
from evaluation.errors import DataValidationError
from tests.helpers import EPISODE_COLUMNS

COLUMNS = [*EPISODE_COLUMNS, "planned_ending", "daily_cost_sek", "unaccompanied"]
VALID = ["E1", "c1", "0180", "M", "2012", "2022-01-01", "", "SOL", "FH", "", "", "100,5", "nej"]

weird = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
cell = st.one_of(
    weird,
    st.sampled_from(
        [
            "",
            " ",
            ";",
            ",",
            '"',
            "\n",
            "\t",
            "1 234,5",
            "2024-02-30",
            "Familjehem",
            "ja",
            "\ufeff",
            "\x00",
            "2022-12-31",
            "PLANNED",
            "ABSCONDED",
        ]
    ),
)
row = st.lists(cell, min_size=len(COLUMNS), max_size=len(COLUMNS))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(st.one_of(row, st.just(VALID)), max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_random_episode_cells_are_accepted_or_quarantined(rows, delimiter):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter)
    w.writerow(COLUMNS)
    w.writerows(rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "episodes.csv"
        path.write_text(buf.getvalue(), encoding="utf-8", newline="")
        try:
            raw = read_table(path)
        except DataValidationError:
            return
    res = validate_table(raw)
    assert len(res.accepted) + len(res.quarantine) == res.n_read
    assert res.n_read == raw.n_rows
    out = validate_dataset({"episodes": res})["episodes"]
    assert len(out.accepted) + len(out.quarantine) == out.n_read
    assert out.quarantine.groupby("row").size().max() in (1, None) or out.quarantine.empty
