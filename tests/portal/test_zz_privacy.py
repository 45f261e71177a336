"""Last in the session: the database and the logs hold no identity number.

Runs after the other portal tests (file order) and scans what they left: every row of every
table and everything logged, for anything shaped like a valid personnummer or
samordningsnummer standing on its own; and those plus the SQLite file itself (with its
write-ahead log, where deleted rows may linger) for each number the tests typed, in 12- and
10-digit forms. Raw file pages glue unrelated bytes together, so only typed numbers are
looked for there.
"""

from __future__ import annotations

import re

import pytest

from evaluation.data.safe_text import find_identity_numbers
from tests.portal.conftest import BACKEND, DB_PATH, LOG_PATH, TYPED_NUMBERS

SHAPE = re.compile(r"(?<![0-9A-Za-z])(?:\d{6}|\d{8})[-+ ]?\d{4}(?![0-9A-Za-z])")


def _forms(number: str) -> set[str]:
    digits = re.sub(r"\D", "", number)
    return {digits, digits[2:], f"{digits[:8]}-{digits[8:]}", f"{digits[2:8]}-{digits[8:]}"}


def _database_text() -> str:
    """Every row of every table as text, values separated by `` | ``."""
    from django.db import connection

    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            parts += [" | ".join(str(v) for v in row) for row in cursor.fetchall()]
    return "\n".join(parts)


def _database_file() -> str:
    """The SQLite file and its write-ahead log as bytes (deleted rows may linger there)."""
    parts = []
    for suffix in ("", "-wal", "-journal"):
        path = DB_PATH.with_name(DB_PATH.name + suffix)
        if path.is_file():
            parts.append(path.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def test_no_identity_number_in_the_database_or_the_logs():
    import logging

    for handler in logging.getLogger().handlers:
        handler.flush()
    if not TYPED_NUMBERS:
        pytest.skip("no portal test typed a number in this session: run the whole tests/portal")
    texts = {"database": _database_text(), "logs": LOG_PATH.read_text("utf-8")}
    for where, text in texts.items():
        shaped = [m for m in SHAPE.findall(text) if find_identity_numbers(m)]
        assert not shaped, f"identity numbers in the {where}: {shaped[:3]}"
    if BACKEND == "sqlite":   # binary pages: only the numbers typed, in every form
        texts["database file"] = _database_file()
    for where, text in texts.items():
        typed = [n for n in TYPED_NUMBERS if any(f in text for f in _forms(n))]
        assert not typed, f"{len(typed)} typed numbers found in the {where}"
    assert len(texts["database"]) > 10_000   # the scan saw real data
