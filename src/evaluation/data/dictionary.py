"""The data dictionary: load the YAML, look up tables, columns, labels and code lists.

The YAML file ``data_dictionary/dictionary.yaml`` is the single source of truth. A copy is
shipped inside the package (``evaluation/data/dictionary.yaml``) so that an installed package works;
a test checks the two are identical.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evaluation.checks import check_language
from evaluation.errors import ParameterError

TABLES = ("episodes", "placements", "followups", "referrals")

_REPO_YAML = Path(__file__).resolve().parents[3] / "data_dictionary" / "dictionary.yaml"
_PACKAGE_YAML = Path(__file__).resolve().parent / "dictionary.yaml"
_MUNICIPALITIES_YAML = Path(__file__).resolve().parent / "municipalities.yaml"


def dictionary_path() -> Path:
    """Return the path of the dictionary YAML in use (the repository copy when present)."""
    return _REPO_YAML if _REPO_YAML.exists() else _PACKAGE_YAML


@dataclass(frozen=True)
class Column:
    """One column of a table as the dictionary defines it."""

    name: str
    table: str
    type: str  # string | integer | number | date | boolean | code
    label: dict[str, str]
    description: dict[str, str]
    required: bool = False
    stage: str = "start"
    source: str = "entered"  # entered | derived
    identifier: str = "none"  # none | key | pseudonym | direct
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    group: str | None = None
    codes: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def code_values(self) -> tuple[str, ...]:
        """Allowed codes, in dictionary order (empty unless ``type == 'code'``)."""
        return tuple(c["code"] for c in self.codes)

    def code_label(self, code: str, lang: str = "sv") -> str:
        """Label of ``code`` in ``lang``; the code itself when unknown."""
        for c in self.codes:
            if c["code"] == code:
                return c[lang]
        return str(code)

    @property
    def is_direct_identifier(self) -> bool:
        return self.identifier == "direct"


@dataclass(frozen=True)
class Dictionary:
    """The whole data dictionary."""

    version: str
    tables: dict[str, dict[str, Any]]
    columns: dict[str, dict[str, Column]]
    rules: tuple[dict[str, Any], ...]
    true_values: tuple[str, ...]
    false_values: tuple[str, ...]
    raw: dict[str, Any]
    measures: tuple[dict[str, Any], ...] = ()

    def table(self, name: str) -> dict[str, Column]:
        """Columns of table ``name`` in order.

        Raises
        ------
        ParameterError
            If the table is unknown.
        """
        if name not in self.columns:
            raise ParameterError(
                f"Unknown table {name!r}; the dictionary defines: {', '.join(self.columns)}."
            )
        return self.columns[name]

    def column(self, table: str, name: str) -> Column:
        cols = self.table(table)
        if name not in cols:
            raise ParameterError(f"Table {table!r} has no column {name!r}.")
        return cols[name]

    def primary_key(self, table: str) -> list[str]:
        return list(self.tables[table]["primary_key"])

    def required_columns(self, table: str, include_derived: bool = True) -> list[str]:
        return [
            c.name
            for c in self.table(table).values()
            if c.required and (include_derived or c.source != "derived")
        ]

    def direct_identifiers(self, table: str) -> list[str]:
        return [c.name for c in self.table(table).values() if c.is_direct_identifier]

    def label(self, table: str, column: str, lang: str = "sv") -> str:
        check_language(lang)
        return self.column(table, column).label[lang]

    def code_label(self, table: str, column: str, code: str, lang: str = "sv") -> str:
        check_language(lang)
        return self.column(table, column).code_label(code, lang)

    def group(self, table: str, group: str) -> list[str]:
        """Columns of ``table`` in a named group (e.g. ``problems``, ``themes``)."""
        return [c.name for c in self.table(table).values() if c.group == group]

    def rule(self, rule_id: str) -> dict[str, Any]:
        for r in self.rules:
            if r["id"] == rule_id:
                return r
        raise ParameterError(f"Unknown rule {rule_id!r}.")

    def measure(self, name: str) -> dict[str, Any]:
        """Documentation of the outcome measure ``name`` (a function of evaluation.measures).

        Raises
        ------
        ParameterError
            If the dictionary documents no such measure.
        """
        for entry in self.measures:
            if entry["name"] == name:
                return entry
        known = ", ".join(e["name"] for e in self.measures)
        raise ParameterError(f"Unknown measure {name!r}; the dictionary documents: {known}.")

    def planned_codes(self) -> set[str]:
        """End-reason codes that count as a planned ending."""
        col = self.column("episodes", "end_reason")
        return {c["code"] for c in col.codes if c.get("planned")}

    def scale(self, name: str) -> dict[str, Any]:
        """The answer scale ``name`` of the dictionary's ``scales`` section (e.g. ``themes``):
        ``group``, ``min``, ``max``, ``label`` ({sv, en}), ``anchors`` (list of
        ``{value, sv, en}``) and ``higher_is_better``.

        Raises
        ------
        ParameterError
            If the dictionary defines no such scale.

        Examples
        --------
        >>> load_dictionary().scale("themes")["max"]
        5
        """
        scales = self.raw.get("scales") or {}
        if name not in scales:
            raise ParameterError(
                f"Unknown scale {name!r}; the dictionary defines: {', '.join(scales) or 'none'}."
            )
        return scales[name]



@lru_cache(maxsize=4)
def load_dictionary(path: str | Path | None = None) -> Dictionary:
    """Load and index the data dictionary.

    Parameters
    ----------
    path : str or Path, optional
        YAML file; defaults to :func:`dictionary_path`.

    Returns
    -------
    Dictionary
    """
    p = Path(path) if path is not None else dictionary_path()
    raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    columns: dict[str, dict[str, Column]] = {}
    for tname, tdef in raw["tables"].items():
        cols = {}
        for c in tdef["columns"]:
            cols[c["name"]] = Column(
                name=c["name"],
                table=tname,
                type=c["type"],
                label=c["label"],
                description=c["description"],
                required=bool(c.get("required", False)),
                stage=c.get("stage", "start"),
                source=c.get("source", "entered"),
                identifier=c.get("identifier", "none"),
                unit=c.get("unit"),
                min=c.get("min"),
                max=c.get("max"),
                pattern=c.get("pattern"),
                group=c.get("group"),
                codes=tuple(c.get("codes") or ()),
            )
        columns[tname] = cols
    return Dictionary(
        version=str(raw["version"]),
        tables=raw["tables"],
        columns=columns,
        rules=tuple(raw.get("rules", ())),
        true_values=tuple(raw["booleans"]["true_values"]),
        false_values=tuple(raw["booleans"]["false_values"]),
        raw=raw,
        measures=tuple(raw.get("measures") or ()),
    )


@lru_cache(maxsize=1)
def municipality_names() -> dict[str, str]:
    """SCB's municipality codes and names (``municipalities.yaml``): all 290 municipalities.

    Returns
    -------
    dict of str to str
        Four-digit code (``"0580"``) to name (``"Linköping"``), in code order.

    Examples
    --------
    >>> municipality_names()["1480"], len(municipality_names())
    ('Göteborg', 290)
    """
    raw = yaml.safe_load(_MUNICIPALITIES_YAML.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in raw["municipalities"].items()}


def municipality_label(code: Any) -> str:
    """A municipality as reports show it: ``"0580 Linköping"``, or the code alone when it is
    not one of SCB's codes (e.g. a code invented by the synthetic data); ``""`` when missing.

    Examples
    --------
    >>> municipality_label("0580"), municipality_label("0199"), municipality_label(None)
    ('0580 Linköping', '0199', '')
    """
    if code is None or (not isinstance(code, str) and pd.isna(code)):
        return ""
    text = str(code)
    name = municipality_names().get(text)
    return f"{text} {name}" if name else text
