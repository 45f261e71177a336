"""Numbers as a page shows them, read back as numbers for ``results.json``.

One job: turn a table cell written for readers ("1 234", "0,126", "13 %", "(0,05; 0,20)") into
what a machine wants (1234, 0.126, 0.13, lower and upper bounds), in the page's language, and
leave everything else as text: codes with a leading zero ("0132"), thresholds ("<0,001"),
marks (".."), labels. Nothing is computed: only what the reader sees is read back.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["read_number", "table_numbers"]

_SPACES = "\u00a0\u202f\u2009 "
_INTERVAL = re.compile(r"^\((?P<lower>[^;]+);\s*(?P<upper>[^)]+)\)$")


def read_number(text: Any, lang: str = "sv") -> Any:
    """A cell as a number when it is one in the page's format, else unchanged.

    Parameters
    ----------
    text : object
        The cell as shown.
    lang : {"sv", "en"}
        Swedish: decimal comma, spaces between thousands; English: decimal point, commas
        between thousands.

    Returns
    -------
    int, float, None or the input
        A whole number as int, a decimal as float, a percentage as a fraction
        (``"13 %"`` -> 0.13), None for an empty cell (nothing shown); the input itself when
        it is not a plain number.

    Examples
    --------
    >>> read_number("1\\u00a0234"), read_number("0,126"), read_number("13 %")
    (1234, 0.126, 0.13)
    >>> read_number("0132"), read_number("<0,001"), read_number("..")
    ('0132', '<0,001', '..')
    >>> read_number("1,234", "en"), read_number("-0.5", "en")
    (1234, -0.5)
    """
    if not isinstance(text, str):
        return text
    s = text.strip()
    if not s:
        return None
    percent = s.endswith("%")
    if percent:
        s = s[:-1].strip()
    s = s.replace("\u2212", "-")
    decimal, thousands = (",", _SPACES) if lang == "sv" else (".", ",")
    body = s[1:] if s.startswith("-") else s
    if not body or not body[0].isdigit():
        return text
    digits = body
    for t in thousands:
        digits = digits.replace(t, "")
    whole, _, frac = digits.partition(decimal)
    if not whole.isdigit() or (frac and not frac.isdigit()) or (decimal in digits and not frac):
        return text
    if len(whole) > 1 and whole.startswith("0"):
        return text  # a code such as 0132, not a number
    if len(body) != len(digits) and not _grouped(body, thousands, decimal):
        return text
    sign = -1 if s.startswith("-") else 1
    value: float | int = sign * (float(f"{whole}.{frac}") if frac else int(whole))
    if percent:
        return round(value / 100, 12)
    return value


def _grouped(body: str, thousands: str, decimal: str) -> bool:
    """Whether the thousands separators sit every three digits of the whole part."""
    whole = body.split(decimal)[0]
    groups = re.split("[" + re.escape(thousands) + "]", whole)
    return len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def table_numbers(columns: list[str], rows: list[list[Any]], lang: str = "sv"
                  ) -> dict[str, list]:
    """A shown table read back: numbers as numbers, and a column of intervals
    ``"(a; b)"`` split into ``"<column> (lower)"`` and ``"<column> (upper)"``.

    Returns
    -------
    dict
        ``{"columns": [...], "rows": [[...], ...]}`` as in ``results.json``'s ``data``.
    """
    split = []
    for j, _ in enumerate(columns):
        cells = [r[j] for r in rows if isinstance(r[j], str) and r[j].strip()]
        split.append(bool(cells) and all(_INTERVAL.match(c.strip()) for c in cells))
    out_columns: list[str] = []
    for name, is_interval in zip(columns, split):
        out_columns += [f"{name} (lower)", f"{name} (upper)"] if is_interval else [name]
    out_rows = []
    for row in rows:
        cells: list[Any] = []
        for value, is_interval in zip(row, split):
            if not is_interval:
                cells.append(read_number(value, lang))
                continue
            m = _INTERVAL.match(value.strip()) if isinstance(value, str) else None
            if m:
                cells += [read_number(m["lower"].strip(), lang),
                          read_number(m["upper"].strip(), lang)]
            else:
                cells += [None, None]
        out_rows.append(cells)
    return {"columns": out_columns, "rows": out_rows}
