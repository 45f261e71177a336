"""The one argument-check kernel: every estimator, measure and report opens with these checks.

Like pingouin's ``_check_dataframe``, a public function checks its data and arguments here,
before any work, so that the same mistake gets the same message everywhere: what is wrong,
where (argument, column, row, value) and what to do. Every check raises
:class:`~evaluation.errors.ParameterError`.

This module sits below every stage (data, models, measures, reporting) beside
:mod:`evaluation.errors`; it imports nothing else of the package.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"days": [10, 20], "event": [1, 0]})
>>> require_columns(frame, {"duration_col": "days", "event_col": "event"})
>>> require_columns(frame, {"group_col": "unit"})
Traceback (most recent call last):
...
evaluation.errors.ParameterError: group_col='unit' is not a column of data; available columns: days, event.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from evaluation.errors import ParameterError

__all__ = [
    "LANGUAGES",
    "check_alpha",
    "check_case_weights",
    "check_language",
    "check_option",
    "check_times",
    "check_weights",
    "is_flag",
    "numeric_values",
    "refuse_date_times",
    "refuse_missing",
    "require_columns",
    "require_complete_columns",
    "require_dataframe",
]

#: Languages of labels and report text (Swedish is the default everywhere).
LANGUAGES = ("sv", "en")


def require_dataframe(data: Any, name: str = "data") -> pd.DataFrame:
    """Return ``data`` if it is a pandas DataFrame, else raise naming what was given.

    Examples
    --------
    >>> require_dataframe(pd.DataFrame({"a": [1]})).shape
    (1, 1)
    """
    if not isinstance(data, pd.DataFrame):
        raise ParameterError(f"{name} must be a pandas DataFrame, got {type(data).__name__}.")
    return data


def require_columns(data: pd.DataFrame, columns: Mapping[str, Any] | Iterable[str], *,
                    table: str = "data") -> None:
    """Raise unless every named column is a column of ``data``.

    Parameters
    ----------
    data : pandas.DataFrame
        The table to check.
    columns : mapping or iterable
        ``{argument: column}`` (``None`` values are skipped; a list value is a list of columns
        of that argument), or plain column names when the columns are fixed by the table.
    table : str, default "data"
        How the table is named in the message (e.g. ``"episodes"``).

    Raises
    ------
    ParameterError
        Naming the first missing column, the argument that gave it and the columns there are
        (for fixed columns: every missing column and the table).

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"], table="episodes")
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b", "c"], table="episodes")
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: episodes lacks column(s) b, c; available columns: a.
    """
    available = ", ".join(map(str, data.columns))
    if isinstance(columns, Mapping):
        for arg, cols in columns.items():
            if cols is None:
                continue
            for col in ([cols] if isinstance(cols, (str, int)) else list(cols)):
                if col not in data.columns:
                    raise ParameterError(f"{arg}={col!r} is not a column of {table}; "
                                         f"available columns: {available}.")
        return
    missing = [str(c) for c in columns if c not in data.columns]
    if missing:
        raise ParameterError(f"{table} lacks column(s) {', '.join(missing)}; available "
                             f"columns: {available}.")


def require_complete_columns(data: pd.DataFrame, columns: Mapping[str, Any], *,
                             table: str = "data") -> None:
    """:func:`require_columns`, then :func:`refuse_missing` for every named column.

    ``columns`` maps argument -> column (``None`` skipped, a list value is several columns of
    that argument), as for :func:`require_columns`.

    Examples
    --------
    >>> frame = pd.DataFrame({"days": [10, None]})
    >>> require_complete_columns(frame, {"duration_col": "days", "group_col": None})
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: column 'days' (duration_col) has 1 missing value(s), first at row 1; drop or impute those rows first.
    """
    require_columns(data, columns, table=table)
    for arg, cols in columns.items():
        if cols is None:
            continue
        for col in ([cols] if isinstance(cols, (str, int)) else list(cols)):
            refuse_missing(data[col], col, arg)


def check_alpha(alpha: Any) -> float:
    """Return ``alpha`` as a float if it is a real number strictly between 0 and 1.

    NumPy scalars are accepted; booleans, text, None and NaN raise
    :class:`~evaluation.errors.ParameterError`.

    Examples
    --------
    >>> check_alpha(np.float32(0.25))
    0.25
    """
    ok = isinstance(alpha, numbers.Real) and not isinstance(alpha, (bool, np.bool_))
    if not (ok and 0 < alpha < 1):
        raise ParameterError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}; "
                             "use e.g. 0.05.")
    return float(alpha)


def check_language(lang: Any) -> str:
    """Return ``lang`` if it is one of :data:`LANGUAGES` (``"sv"`` or ``"en"``).

    Examples
    --------
    >>> check_language("en")
    'en'
    """
    if lang not in LANGUAGES:
        raise ParameterError(f"Unknown language {lang!r}; use one of {', '.join(LANGUAGES)}.")
    return lang


def check_option(value: Any, name: str, options: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``options``; else raise naming the argument and choices.

    Examples
    --------
    >>> check_option("ATE", "estimand", ("ATE", "ATT"))
    'ATE'
    >>> check_option("ATX", "estimand", ("ATE", "ATT"))
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: estimand='ATX' is unknown; choose one of ('ATE', 'ATT').
    """
    options = tuple(options)
    if value not in options:
        raise ParameterError(f"{name}={value!r} is unknown; choose one of {options}.")
    return value


def is_flag(value: Any) -> bool:
    """True if ``value`` is a Python or NumPy boolean (for ``True``/``False`` options).

    Examples
    --------
    >>> is_flag(True), is_flag(np.bool_(False)), is_flag(1)
    (True, True, False)
    """
    return isinstance(value, (bool, np.bool_))


def refuse_date_times(values: pd.Series, col: str, arg: str) -> None:
    """Raise if a time column holds dates or timedeltas (``pd.to_numeric`` would silently turn
    them into nanoseconds).

    Examples
    --------
    >>> refuse_date_times(pd.Series([1.0, 2.0]), "days", "duration_col")  # numbers pass
    """
    if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(values):
        raise ParameterError(f"column {col!r} ({arg}) holds {values.dtype} values; give numbers "
                             "in one unit, e.g. days: (end - start).dt.days.")


def refuse_missing(values: pd.Series, col: str, arg: str) -> None:
    """Raise if ``values`` (column ``col`` given as argument ``arg``) has missing values,
    naming how many and the position of the first.

    Examples
    --------
    >>> refuse_missing(pd.Series([1.0, 2.0]), "days", "duration_col")  # complete: passes
    """
    missing = values.isna().to_numpy()
    if missing.any():
        raise ParameterError(f"column {col!r} ({arg}) has {int(missing.sum())} missing "
                             f"value(s), first at row {int(np.flatnonzero(missing)[0])}; "
                             "drop or impute those rows first.")


def numeric_values(values: pd.Series, col: str, arg: str, *, hint: str = "") -> np.ndarray:
    """Values of column ``col`` (given as argument ``arg``) as floats, refusing text and dates.

    Dates and timedeltas are refused first (:func:`refuse_date_times`); numbers written as
    text are converted as :func:`pandas.to_numeric` does, booleans become 0/1.

    Parameters
    ----------
    values : pandas.Series
        The column.
    col, arg : str
        Column name and the argument that named it (both appear in the message).
    hint : str, default ""
        Words added after "must be numeric", e.g. ``" (e.g. days of follow-up)"``.

    Examples
    --------
    >>> numeric_values(pd.Series(["1", "2.5"]), "days", "duration_col").tolist()
    [1.0, 2.5]
    >>> numeric_values(pd.Series(["a"]), "days", "duration_col", hint=" (e.g. days)")
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: column 'days' (duration_col) must be numeric (e.g. days).
    """
    refuse_date_times(values, col, arg)
    try:
        return pd.to_numeric(values).to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"column {col!r} ({arg}) must be numeric{hint}.") from exc


def check_times(times: Any) -> np.ndarray:
    """Horizons for reading a curve, as a 1-D float array (a scalar is one horizon).

    Raises :class:`~evaluation.errors.ParameterError` for text, an empty list or missing
    values.

    Examples
    --------
    >>> check_times(365).tolist(), check_times([365, 730]).tolist()
    ([365.0], [365.0, 730.0])
    """
    try:
        horizons = np.atleast_1d(np.asarray(times, dtype=float)).ravel()
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"times must be numbers (horizons in the units of time), got "
                             f"{times!r}.") from exc
    if horizons.size == 0 or np.isnan(horizons).any():
        raise ParameterError(f"times must be a non-empty list of numbers without missing "
                             f"values, got {times!r}.")
    return horizons


def check_weights(values: pd.Series, col: str, arg: str = "weights_col", *,
                  kind: str = "weights", ids: Any = None, id_name: str = "id") -> np.ndarray:
    """Row weights of column ``col`` as floats: numeric, finite, non-negative, positive total.

    Missing values are refused first (:func:`refuse_missing`). Used for sampling and case
    weights alike; :func:`check_case_weights` adds "constant within id". ``kind`` names the
    weights in the message (e.g. ``"case weights"``); with ``ids`` (one per row) a bad row is
    named by its id too.

    Examples
    --------
    >>> check_weights(pd.Series([1, 2.5]), "w").tolist()
    [1.0, 2.5]
    >>> check_weights(pd.Series([0.0, 0.0]), "w")
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: column 'w' (weights_col) is 0 in every row; weights must have a positive total.
    """
    refuse_missing(values, col, arg)
    per_id = ids is not None
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        raise ParameterError(f"column {col!r} ({arg}) must be numeric {kind} (finite, "
                             f"non-negative{', one per ' + id_name if per_id else ''}), got "
                             f"dtype {values.dtype}.")
    w = values.to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = (f"{id_name} {np.asarray(ids, dtype=object)[i]!r}, value {float(w[i])!r}"
                 if per_id else f"value {float(w[i])!r}")
        raise ParameterError(f"column {col!r} ({arg}) must be finite and non-negative; "
                             f"{int(bad.sum())} value(s) are not, first at row {i} ({where}). "
                             f"Fix or drop those {id_name + 's' if per_id else 'rows'}.")
    if not w.sum() > 0:
        raise ParameterError(f"column {col!r} ({arg}) is 0 "
                             f"{'for every ' + id_name if per_id else 'in every row'}; weights "
                             "must have a positive total.")
    return w


def check_case_weights(values: pd.Series, ids: Any, col: str, id_name: str = "id",
                       arg: str = "weights_col") -> np.ndarray:
    """:func:`check_weights`, and the weight must be constant within each id (one per id).

    Examples
    --------
    >>> check_case_weights(pd.Series([2.0, 2.0, 1.0]), ["a", "a", "b"], "w").tolist()
    [2.0, 2.0, 1.0]
    """
    w = check_weights(values, col, arg, kind="case weights", ids=ids, id_name=id_name)
    ids = np.asarray(ids, dtype=object)  # plain Python values in messages
    by_id = pd.Series(w).groupby(pd.Series(ids, dtype=object), sort=False)
    low, high = by_id.transform("min").to_numpy(), by_id.transform("max").to_numpy()
    varies = low != high
    if varies.any():
        i = int(np.flatnonzero(varies)[0])
        raise ParameterError(f"column {col!r} ({arg}) must be constant within each id "
                             f"(one case weight per {id_name}); {id_name} {ids[i]!r} has "
                             f"weights from {float(low[i])!r} to {float(high[i])!r}. Give every "
                             "row of an id its id's weight.")
    return w
