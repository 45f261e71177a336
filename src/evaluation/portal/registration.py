"""One web registration checked by the same code as ``evaluation validate``.

A form's values become a one-row :class:`~evaluation.data.rawtable.RawTable` (text cells, as if
read from a file) and go through :func:`evaluation.data.validate.validate_table` and, with the
episode it belongs to, :func:`evaluation.data.crosscheck.validate_dataset`. Nothing here
knows a rule: the problems found are only mapped back to the form's fields, in Swedish.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.crosscheck import validate_dataset
from evaluation.data.dictionary import load_dictionary
from evaluation.data.rawtable import RawTable
from evaluation.data.safe_text import mask_identity_numbers
from evaluation.data.validate import validate_table
from evaluation.errors import DataValidationError

__all__ = ["SOURCE", "Checked", "canonical_text", "check_rows", "row_text", "stored_text"]

#: The "file name" of a web registration in validation messages.
SOURCE = "webbformulär"


@dataclass
class Checked:
    """Problems of a web registration, by dictionary column.

    Attributes
    ----------
    errors : dict of str to list of str
        ``{table: {column: [message_sv, ...]}}`` flattened as ``(table, column)`` keys.
    general : list of str
        Problems that belong to no column of the form (row and cross-table rules on derived
        columns, refused identity numbers).
    rows : dict of str to dict
        The accepted target rows as canonical text (ISO dates, codes, ``true``/``false``),
        ``{table: {column: text}}``; what is stored.
    """

    errors: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.general


def stored_text(value: Any) -> str:
    """A form value as stored text (stripped; None -> '')."""
    return "" if value is None else str(value).strip()


def row_text(values: dict[str, Any], table: str) -> dict[str, str]:
    """The dictionary columns of ``table`` in ``values`` as text, in dictionary order."""
    cols = load_dictionary().table(table)
    return {c: stored_text(values.get(c)) for c in cols if stored_text(values.get(c))}


def _raw(table: str, rows: list[dict[str, str]]) -> RawTable:
    cols = [c for c in load_dictionary().table(table) if any(c in r for r in rows)]
    data = pd.DataFrame(
        [{c: (r.get(c) or float("nan")) for c in cols} for r in rows], columns=cols, dtype=object
    )
    return RawTable(table=table, data=data, source=SOURCE,
                    row_numbers=list(range(2, len(rows) + 2)))


def _label_words(message: str, table: str) -> str:
    """Write column names in a message as the fields' Swedish labels."""
    cols = load_dictionary().table(table)
    for name in sorted(cols, key=len, reverse=True):
        if f"kolumnen {name}" in message:
            message = message.replace(f"kolumnen {name}", f"fältet «{cols[name].label['sv']}»")
    return message


def canonical_text(value: Any) -> str:
    """A typed value of an accepted row as the text stored (ISO date, ``true``/``false``)."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, (pd.Timestamp, _dt.date)):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def check_rows(
    rows: dict[str, list[dict[str, str]]],
    *,
    target: dict[str, int],
    also: tuple[str, ...] = (),
) -> Checked:
    """Validate rows of several tables together and collect the problems of the target rows.

    Parameters
    ----------
    rows : dict of str to list of dict
        ``{table: [row, ...]}`` of text cells (``episodes`` first); context rows (e.g. the
        episode a follow-up belongs to) are included so that the cross-table rules apply.
    target : dict of str to int
        ``{table: position}`` of the rows being registered; problems of other rows are not
        reported, except those of the rules in ``also``.
    also : tuple of str
        Rule ids (e.g. ``no_overlapping_episodes``) whose problems on context rows are caused
        by the new row and are reported as general problems.

    Returns
    -------
    Checked
    """
    out = Checked()
    results = {}
    for table, table_rows in rows.items():
        try:
            results[table] = validate_table(_raw(table, table_rows))
        except DataValidationError as err:
            text = mask_identity_numbers(str(err))
            out.general.append(
                "Ett fält innehåller ett personnummer eller samordningsnummer. Sådana nummer "
                "får bara skrivas i sökfältet för barnet; ta bort det och försök igen."
                if "identity_number" in text else text.split(" / ")[0]
            )
            return out
    results = validate_dataset(results)
    for table, res in results.items():
        pos = target.get(table)
        if len(res.problems) and also:
            other = res.problems[(res.problems["row"] != (pos if pos is not None else -9) + 2)
                                 & res.problems["rule"].isin(also)]
            out.general += [_label_words(mask_identity_numbers(str(m)), table)
                            for m in other["message_sv"]]
        if pos is None:
            continue
        acc = res.accepted[res.accepted["_row"] == pos + 2]
        if len(acc):
            row = acc.iloc[0]
            out.rows[table] = {c: t for c in acc.columns if not c.startswith("_")
                               and (t := canonical_text(row[c]))}
        if not len(res.problems):
            continue
        probs = res.problems[res.problems["row"] == pos + 2]
        for column, rule, message in zip(probs["column"], probs["rule"], probs["message_sv"]):
            if rule == "digit_code_repaired":   # a repair, not a problem
                continue
            text = _label_words(mask_identity_numbers(str(message)), table)
            if column:
                out.errors.setdefault((table, str(column)), []).append(text)
            else:
                out.general.append(text)
    return out
