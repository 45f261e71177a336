"""Per-cell rules of validation: parsing values as the dictionary types them, the rule messages
(Swedish and English) and the result of validating a table.

A cell is parsed by :func:`parse_cell` against its dictionary column (type, codes, range,
pattern, length); a failure raises :class:`CellError` naming the rule, and
:func:`rule_messages` words it. :class:`ValidationResult` and :func:`problems_frame` are what
both the table rules (:mod:`evaluation.data.validate`) and the cross-table rules
(:mod:`evaluation.data.crosscheck`) produce. Rule ids are listed in
:mod:`evaluation.data.validate`.

Examples
--------
>>> parse_number("1 234,5")
1234.5
>>> parse_date("01.03.2024")
Timestamp('2024-03-01 00:00:00')
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import Column
from evaluation.data.rawtable import QUARANTINE_COLUMNS
from evaluation.data.safe_text import (
    FORMULA_PREFIXES,
    looks_like_identity_number,
    mask_identity_numbers,
)
from evaluation.errors import ParameterError

__all__ = [
    "ID_IDENTIFIERS",
    "MASK",
    "MAX_CODES_SHOWN",
    "MAX_FIELD_LENGTH",
    "MAX_VALUE_CHARS",
    "CellError",
    "ValidationResult",
    "check_id",
    "code_list",
    "code_lookup",
    "display_value",
    "empty_quarantine",
    "parse_cell",
    "parse_date",
    "parse_number",
    "pattern_words",
    "problems_frame",
    "repair_cell",
    "rule_messages",
    "typed_series",
]

MAX_FIELD_LENGTH = 10_000
MAX_VALUE_CHARS = 200
MASK = "***"
#: Dictionary ``identifier`` kinds whose string columns get the id format check.
ID_IDENTIFIERS = ("key", "pseudonym")
_SPACES = re.compile(r"[\s\u00a0\u2009\u202f\u2007]+")


def empty_quarantine() -> pd.DataFrame:
    """A quarantine (or problems) table without rows."""
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in QUARANTINE_COLUMNS})



@dataclass
class ValidationResult:
    """Outcome of validating one table.

    Attributes
    ----------
    table : str
        Table name.
    accepted : pandas.DataFrame
        Accepted rows, one column per dictionary column (``personnummer`` only when it was in
        the input), typed: date -> ``datetime64[ns]``, integer -> ``Int64``, number ->
        ``float64``, boolean -> ``boolean``, code and string -> ``object`` (str or NaN). Two
        bookkeeping columns follow: ``_row`` (row number in the file, header = 1) and
        ``_source`` (file name), so later rules can still quarantine a row.
    quarantine : pandas.DataFrame
        One row per rejected input row (its first problem); columns ``source_file, row, table,
        column, value, rule, message_sv, message_en``.
    problems : pandas.DataFrame
        Every problem found (same columns); a row may appear several times.
    n_read : int
        Rows read; always ``len(accepted) + len(quarantine)``.
    source : str
        File name.
    extra_columns : list of str
        Input columns not in the dictionary (ignored).
    quarantined_ids : dict of str to tuple
        Primary-key value (first key column, stripped text) of each quarantined row ->
        ``(source_file, row, rule)`` of its first quarantine, so a cross-table rule can say
        *where* a referenced row was rejected.
    """

    table: str
    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    problems: pd.DataFrame
    n_read: int
    source: str = ""
    extra_columns: list[str] = field(default_factory=list)
    quarantined_ids: dict[str, tuple[str, int, str]] = field(default_factory=dict)

    @property
    def n_accepted(self) -> int:
        return len(self.accepted)

    @property
    def n_quarantined(self) -> int:
        return len(self.quarantine)


# --------------------------------------------------------------------------- messages

_COL = {"sv": "i kolumnen", "en": "in column"}


def _short(value: str, n: int = 60) -> str:
    return value if len(value) <= n else value[:n] + "…"


def rule_messages(rule: str, column: str, value: str, **kw: Any) -> tuple[str, str]:
    """The Swedish and English message of a broken cell rule (other rules pass ``sv``/``en``)."""
    v = _short(mask_identity_numbers(value))
    if rule == "required":
        return (
            f"Värde saknas i den obligatoriska kolumnen {column}",
            f"Missing value in required column {column}",
        )
    if rule == "type_integer":
        return (
            f"'{v}' i kolumnen {column} är inte ett heltal",
            f"'{v}' in column {column} is not an integer",
        )
    if rule == "type_number":
        return (
            f"'{v}' i kolumnen {column} är inte ett tal",
            f"'{v}' in column {column} is not a number",
        )
    if rule == "type_date":
        return (
            f"'{v}' i kolumnen {column} är inte ett giltigt datum (använd ÅÅÅÅ-MM-DD)",
            f"'{v}' in column {column} is not a valid date (use YYYY-MM-DD)",
        )
    if rule == "type_boolean":
        return (
            f"'{v}' i kolumnen {column} är inte ja/nej",
            f"'{v}' in column {column} is not yes/no",
        )
    if rule == "code":
        return (
            f"Okänd kod '{v}' i kolumnen {column}; tillåtna: {kw['allowed_sv']}",
            f"Unknown code '{v}' in column {column}; allowed: {kw['allowed_en']}",
        )
    if rule == "range":
        return (
            f"'{v}' i kolumnen {column} ligger utanför intervallet {kw['lo']}–{kw['hi']}",
            f"'{v}' in column {column} is outside the range {kw['lo']}–{kw['hi']}",
        )
    if rule == "pattern":
        want_sv, want_en = pattern_words(kw["pattern"])
        return (
            f"'{v}' i kolumnen {column} har fel format (ska vara {want_sv})",
            f"'{v}' in column {column} has the wrong format (should be {want_en})",
        )
    if rule == "digit_code_repaired" and value.strip().startswith(kw["repaired"]):
        return (
            (
                f"'{v}' i kolumnen {column} var sparat som tal (troligen i Excel) och lästes "
                f"som {kw['repaired']}; rättat, raden är godkänd"
            ),
            (
                f"'{v}' in column {column} was stored as a number (probably in Excel) and was "
                f"read as {kw['repaired']}; repaired, the row is accepted"
            ),
        )
    if rule == "digit_code_repaired":
        return (
            (
                f"'{v}' i kolumnen {column} lästes som {kw['repaired']} (inledande nolla "
                "saknades, troligen borttagen av Excel); rättat, raden är godkänd"
            ),
            (
                f"'{v}' in column {column} was read as {kw['repaired']} (leading zero was "
                "missing, probably dropped by Excel); repaired, the row is accepted"
            ),
        )
    if rule == "field_too_long":
        return (
            (
                f"Fältet i kolumnen {column} är för långt ({kw['n']} tecken, högst "
                f"{MAX_FIELD_LENGTH})"
            ),
            (
                f"Field in column {column} is too long ({kw['n']} characters, at most "
                f"{MAX_FIELD_LENGTH})"
            ),
        )
    if rule == "id_format":
        why_sv, why_en = {
            "formula": (
                "börjar med ett tecken som kalkylprogram läser som formel (= + - @ ' tabb)",
                "starts with a character spreadsheets read as a formula (= + - @ ' tab)",
            ),
            "control": ("innehåller styrtecken", "contains control characters"),
        }[kw["why"]]
        return (
            (
                f"Id-värdet '{v}' i kolumnen {column} {why_sv}; ett id får inte börja med "
                "= + - @ ' eller tabb och inte innehålla styrtecken"
            ),
            (
                f"The id '{v}' in column {column} {why_en}; an id must not start with "
                "= + - @ ' or tab nor hold control characters"
            ),
        )
    if rule == "identity_number":
        return (
            (
                f"Kolumnen {column} innehåller ett personnummer eller samordningsnummer ({v}); "
                "sådana nummer får aldrig finnas i data som valideras. Ta bort det, eller kör "
                "`evaluation pseudonymise` på råextraktet"
            ),
            (
                f"Column {column} holds a personal identity or coordination number ({v}); "
                "such numbers must never be in data that are validated. Remove it, or run "
                "`evaluation pseudonymise` on the raw extract"
            ),
        )
    if rule == "field_count":
        return (
            f"Raden har {kw['n']} fält men rubrikraden {kw['width']}",
            f"The row has {kw['n']} fields but the header {kw['width']}",
        )
    # Row and cross-table rules carry their own text in kw.
    return kw["sv"], kw["en"]


# --------------------------------------------------------------------------- cell parsers


class CellError(Exception):
    """A cell breaks the rule ``rule``; ``kw`` holds what its message needs."""

    def __init__(self, rule: str, **kw: Any) -> None:
        super().__init__(rule)
        self.rule = rule
        self.kw = kw


_DATE_PATTERNS = [
    (
        re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"),
        "ymd",
    ),
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), "ymd"),
    (re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$"), "dmy"),
]


def parse_date(text: str) -> pd.Timestamp:
    """Parse a date as written in Swedish municipal exports.

    Accepts ``2024-03-01`` (optionally followed by a time), ``20240301``, ``2024/03/01``
    and day-first ``01.03.2024`` / ``1/3/2024`` / ``1-3-2024``. Impossible dates and years
    outside 1900–2100 are rejected.

    Raises
    ------
    ValueError
        If the text is not such a date.
    """
    s = text.strip()
    for rx, order in _DATE_PATTERNS:
        m = rx.match(s)
        if m:
            a, b, c = (int(g) for g in m.groups())
            y, mo, d = (a, b, c) if order == "ymd" else (c, b, a)
            if not 1900 <= y <= 2100:
                raise ValueError(f"implausible year {y}")
            return pd.Timestamp(_dt.date(y, mo, d))
    raise ValueError(f"not a date: {text!r}")


def parse_number(text: str) -> float:
    """Parse a number with decimal comma or point and space/thin-space thousands separators.

    Raises
    ------
    ValueError
        If the text is not a finite number.
    """
    s = _SPACES.sub("", text).replace("\u2212", "-")
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif s.count(",") == 1:
        s = s.replace(",", ".")
    elif s.count(",") > 1:
        if not re.match(r"^[+-]?\d{1,3}(,\d{3})+$", s):
            raise ValueError(text)
        s = s.replace(",", "")
    if not re.match(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$", s):
        raise ValueError(text)
    x = float(s)
    if not np.isfinite(x):
        raise ValueError(text)
    return x


def code_lookup(col: Column) -> dict[str, str]:
    """Normalised code, Swedish or English label -> the code of the column."""
    out: dict[str, str] = {}
    for c in col.codes:
        out.setdefault(_norm_code(str(c["code"])), str(c["code"]))
    for c in col.codes:
        for lang in ("sv", "en"):
            out.setdefault(_norm_code(str(c[lang])), str(c["code"]))
    return out


def _norm_code(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


#: At most this many allowed codes are listed in a message.
MAX_CODES_SHOWN = 8


def code_list(col: Column, limit: int = MAX_CODES_SHOWN) -> tuple[str, str]:
    """The allowed codes of a column as the Excel drop-downs show them: Swedish and English
    labels, each followed by its code in parentheses (unless the label is the code), at most
    ``limit`` of them and then how many more.

    >>> from evaluation.data.dictionary import load_dictionary
    >>> code_list(load_dictionary().column("followups", "child_heard"))
    ('Ja (YES), Delvis (PARTLY), Nej (NO)', 'Yes, Partly, No')
    """
    out = []
    for lang, more in (("sv", "och {n} till"), ("en", "and {n} more")):
        items = []
        for c in col.codes[:limit]:
            label, code = str(c[lang]), str(c["code"])
            items.append(label if label.casefold() == code.casefold() else f"{label} ({code})")
        if len(col.codes) > limit:
            items.append(more.format(n=len(col.codes) - limit))
        out.append(", ".join(items))
    return out[0], out[1]


_DIGITS = re.compile(r"^\^\[0-9\]\{(\d+)\}\$$")


def pattern_words(pattern: str) -> tuple[str, str]:
    """A dictionary pattern in words (Swedish, English); a regular expression is never shown.

    >>> pattern_words("^[0-9]{4}$")
    ('fyra siffror, t.ex. 0180', 'four digits, e.g. 0180')
    """
    m = _DIGITS.match(pattern)
    if m:
        n = int(m.group(1))
        sv = {2: "två", 3: "tre", 4: "fyra", 5: "fem", 6: "sex"}.get(n, str(n))
        en = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}.get(n, str(n))
        example = ("0180" + "0" * n)[:n] if n >= 4 else "0" * (n - 1) + "1"
        return f"{sv} siffror, t.ex. {example}", f"{en} digits, e.g. {example}"
    return "det format som dataordboken anger", "the format the data dictionary gives"


def repair_cell(text: str, col: Column) -> str | None:
    """The repaired text of a cell Excel is known to have damaged, or None when there is
    nothing to repair.

    A code of ``n`` digits (pattern ``^[0-9]{n}$``, e.g. the municipality code) that lost its
    leading zero (``180`` for ``0180``) or was stored as a number (``180.0``, ``1480,0``) is
    restored to its ``n`` digits. Only one lost zero is restored: ``18`` stays wrong.

    >>> from evaluation.data.dictionary import load_dictionary
    >>> col = load_dictionary().column("episodes", "municipality_code")
    >>> repair_cell("180", col), repair_cell("180.0", col), repair_cell("0180", col)
    ('0180', '0180', None)
    """
    if col.type != "string" or not col.pattern:
        return None
    m = _DIGITS.match(col.pattern)
    if not m:
        return None
    n = int(m.group(1))
    s = text.strip()
    d = re.match(r"^(\d+)(?:[.,]0+)?$", s)
    if not d or len(d.group(1)) not in (n - 1, n):
        return None
    fixed = d.group(1).zfill(n)
    return None if fixed == s else fixed


def check_id(text: str) -> None:
    """Raise :class:`CellError` unless ``text`` (stripped) is acceptable as an id.

    Rules ``id_format`` (starts with ``= + - @ '``, tab or carriage return, which spreadsheets
    read as a formula, or holds control characters) and ``identity_number`` (anything shaped
    like a personnummer or samordningsnummer, see
    :func:`evaluation.data.safe_text.looks_like_identity_number`).
    """
    if text.startswith((*FORMULA_PREFIXES, "'")):
        raise CellError("id_format", why="formula")
    # A printable text holds no control or format character; only others need the full check.
    if not text.isprintable() and any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise CellError("id_format", why="control")
    if looks_like_identity_number(text):
        raise CellError("identity_number")


def parse_cell(text: str, col: Column, codes: dict[str, str], truthy: set, falsy: set) -> Any:
    """The value of a non-empty cell as its column types it; :class:`CellError` if it breaks a
    rule. Identifier columns (``episode_id``, ``child_id`` ...) also get :func:`check_id`."""
    if len(text) > MAX_FIELD_LENGTH:
        raise CellError("field_too_long", n=len(text))
    s = text.strip()
    t = col.type
    if t == "string":
        value: Any = s
        if col.identifier in ID_IDENTIFIERS:
            check_id(s)
        if col.pattern and not re.search(col.pattern, s):
            raise CellError("pattern", pattern=col.pattern)
        return value
    if t == "code":
        key = _norm_code(s)
        if key not in codes:
            sv, en = code_list(col)
            raise CellError("code", allowed_sv=sv, allowed_en=en)
        return codes[key]
    if t == "boolean":
        key = s.casefold()
        if key in truthy:
            return True
        if key in falsy:
            return False
        raise CellError("type_boolean")
    if t == "date":
        try:
            return parse_date(s)
        except ValueError:
            raise CellError("type_date") from None
    if t == "integer":
        compact = _SPACES.sub("", s)
        m = re.match(r"^([+-]?\d{1,18})(?:[.,]0+)?$", compact)
        if not m:
            raise CellError("type_integer")
        value = int(m.group(1))
    elif t == "number":
        try:
            value = parse_number(s)
        except ValueError:
            raise CellError("type_number") from None
    else:  # pragma: no cover - dictionary types are fixed
        raise ParameterError(f"Unknown column type {t!r}.")
    if (col.min is not None and value < col.min) or (col.max is not None and value > col.max):
        raise CellError("range", lo=_fmt_num(col.min), hi=_fmt_num(col.max))
    return value


def _fmt_num(x: Any) -> str:
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else str(x)


def typed_series(values: list[Any], col: Column) -> pd.Series:
    """Parsed values (None for missing) as a series of the pandas type of the column."""
    if col.type == "date":
        return pd.to_datetime(pd.Series(values, dtype=object), errors="coerce").astype(
            "datetime64[ns]"
        )
    if col.type == "integer":
        return pd.array([None if v is None else int(v) for v in values], dtype="Int64")
    if col.type == "number":
        return pd.Series([np.nan if v is None else float(v) for v in values], dtype="float64")
    if col.type == "boolean":
        return pd.array([None if v is None else bool(v) for v in values], dtype="boolean")
    return pd.Series([np.nan if v is None else v for v in values], dtype=object)


def display_value(value: Any, col: Column | None) -> str:
    """A value as quarantine shows it: ISO dates, '' for missing, direct identifiers masked."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if col is not None and col.is_direct_identifier:
        return MASK
    if isinstance(value, pd.Timestamp):
        return "" if pd.isna(value) else value.strftime("%Y-%m-%d")
    return str(value)


def problems_frame(items: list[dict[str, Any]]) -> pd.DataFrame:
    """Problem dicts as a table of :data:`~evaluation.data.rawtable.QUARANTINE_COLUMNS`.

    Every text field goes through :func:`evaluation.data.safe_text.mask_identity_numbers`, so
    no quarantine or problems row ever shows an identity number."""
    if not items:
        return empty_quarantine()
    items = [
        {k: (mask_identity_numbers(v) if isinstance(v, str) else v) for k, v in it.items()}
        for it in items
    ]
    df = pd.DataFrame(items, columns=QUARANTINE_COLUMNS)
    df["row"] = df["row"].astype("int64")
    return df
