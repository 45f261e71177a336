"""Loading validated tables: the reader every report, lesson and analysis starts from.

:func:`load_tables` reads a folder written by ``evaluation validate`` or ``evaluation synth``
with the types of the data dictionary; :func:`select_period` and
:func:`attach_latest_followup` make the selections the reports share.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.errors import ParameterError

__all__ = ["attach_latest_followup", "load_tables", "select_period"]


def find_data_dir(data_dir: str | Path, *, levels: int = 3) -> Path:
    """Where a (relative) data folder is: itself, else the same path under a parent folder.

    A notebook opened in JupyterLab runs in its own folder (``notebooks/``) while its default
    ``data_dir`` is written relative to the project (``reports/demo/data``); this finds it
    from either place.

    Parameters
    ----------
    data_dir : str or Path
        Absolute or relative folder.
    levels : int, default 3
        How many parent folders of the working folder to try.

    Returns
    -------
    Path
        The folder found (absolute).

    Raises
    ------
    ParameterError
        If it is found nowhere; the message lists where it looked (Swedish and English).
    """
    path = Path(data_dir)
    if path.is_absolute():
        return path
    here = Path.cwd().resolve()
    tried = []
    for base in [here, *list(here.parents)[:levels]]:
        candidate = base / path
        tried.append(str(candidate))
        if candidate.is_dir():
            return candidate
    raise ParameterError(
        f"Datamappen {str(path)!r} finns inte (sökte i {', '.join(tried)}). Kör `make demo` "
        f"eller ange data_dir. / The data folder {str(path)!r} does not exist (looked in "
        f"{', '.join(tried)}). Run `make demo` or set data_dir.", parameter="data_dir",
        value=str(path))


def load_tables(data_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Read the pseudonymised CSV files of a data folder, parsing dates.

    Parameters
    ----------
    data_dir : str or Path
        Folder holding ``episodes.csv`` and optionally ``placements.csv``, ``followups.csv``
        and ``referrals.csv`` as written by :func:`evaluation.data.synth.write` (UTF-8, comma,
        ISO dates, booleans ``true``/``false``).

    Returns
    -------
    dict of str to pandas.DataFrame
        One frame per table found, keyed by table name. Date columns (per the data
        dictionary) are ``datetime64``; codes, ids and municipality codes stay strings;
        booleans are the nullable ``boolean`` dtype.

    Raises
    ------
    ParameterError
        If the folder does not exist or holds no ``episodes.csv``.

    Notes
    -----
    Minimal reader with no validation: run ``evaluation validate`` on raw data first.

    The tables last read are kept in memory, keyed by the folder and each file's size and
    modification time; a call for the same unchanged files returns fresh copies of them
    without reading again (a batch of reports in one process reads its data once).
    """
    folder = Path(data_dir)
    if not (folder / "episodes.csv").is_file():
        raise ParameterError(
            f"No episodes.csv in data folder {str(folder)!r}; point data_dir to a folder "
            "written by `evaluation synth` or by validation (episodes.csv, followups.csv, ...)."
        )
    stamp = _stamp(folder)
    if _LAST and _LAST[0] == stamp:
        return {name: df.copy() for name, df in _LAST[1].items()}
    out = _read_tables(folder)
    _LAST[:] = [stamp, {name: df.copy() for name, df in out.items()}]
    return out


#: The last tables read: [stamp, tables] (see :func:`load_tables`).
_LAST: list = []


def _stamp(folder: Path) -> tuple:
    """What identifies the files of a data folder: path, and each table's size and mtime."""
    parts: list = [str(folder.resolve())]
    for table in TABLES:
        try:
            st = (folder / f"{table}.csv").stat()
        except OSError:
            parts.append(None)
            continue
        parts.append((st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(parts)


def _read_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Read and type the tables of ``folder`` (no cache)."""
    dic = load_dictionary()
    out: dict[str, pd.DataFrame] = {}
    for table in TABLES:
        path = folder / f"{table}.csv"
        if not path.is_file():
            continue
        cols = dic.table(table)
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
        for name in df.columns:
            col = cols.get(name)
            if col is None:
                continue
            if col.type == "date":
                df[name] = pd.to_datetime(df[name], errors="coerce", format="%Y-%m-%d")
            elif col.type == "integer":
                df[name] = pd.to_numeric(df[name], errors="coerce").astype("Int64")
            elif col.type == "number":
                df[name] = pd.to_numeric(df[name], errors="coerce")
            elif col.type == "boolean":
                low = df[name].str.strip().str.lower()
                df[name] = low.map(
                    lambda v: True if v in dic.true_values else (False if v in dic.false_values
                                                                  else pd.NA)
                ).astype("boolean")
        out[table] = df
    return out


def select_period(
    episodes: pd.DataFrame, period_start: str | pd.Timestamp, period_end: str | pd.Timestamp
) -> pd.DataFrame:
    """Keep the episodes active at any time during a period.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes with ``start_date`` and ``end_date`` (NaT while ongoing).
    period_start, period_end : str or Timestamp
        First and last day of the period (inclusive), e.g. ``"2019-01-01"``.

    Returns
    -------
    pandas.DataFrame
        The rows with ``start_date <= period_end`` and (``end_date`` missing or
        ``end_date >= period_start``), index unchanged.

    Raises
    ------
    ParameterError
        If a date cannot be parsed or the period ends before it starts.
    """
    try:
        start = pd.Timestamp(period_start)
        end = pd.Timestamp(period_end)
    except (ValueError, TypeError) as exc:
        raise ParameterError(
            f"period_start/period_end must be dates like '2019-01-01'; got {period_start!r}, "
            f"{period_end!r}."
        ) from exc
    if end < start:
        raise ParameterError(
            f"period_end {period_end!r} is before period_start {period_start!r}; swap them."
        )
    active = (episodes["start_date"] <= end) & (
        episodes["end_date"].isna() | (episodes["end_date"] >= start)
    )
    return episodes.loc[active.fillna(False).astype(bool)]


def attach_latest_followup(
    episodes: pd.DataFrame, followups: pd.DataFrame, columns: tuple[str, ...] = ("goal_attainment",)
) -> pd.DataFrame:
    """Add the values of each episode's latest follow-up as columns.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Episodes with ``episode_id``.
    followups : pandas.DataFrame
        Follow-ups with ``episode_id``, ``followup_date`` and ``columns``.
    columns : tuple of str, default ('goal_attainment',)
        Follow-up columns to copy.

    Returns
    -------
    pandas.DataFrame
        ``episodes`` with ``columns`` added (missing where an episode has no follow-up with a
        value); follow-ups without a value in a column are skipped for that column.
    """
    out = episodes.copy()
    fu = followups.sort_values(["episode_id", "followup_date"])
    for col in columns:
        latest = fu.loc[fu[col].notna()].groupby("episode_id")[col].last()
        out[col] = out["episode_id"].map(latest)
    return out
