"""Cohorts: ages, periods, entry cohorts, episode outcomes and the child's journey as states.

Data preparation shared by the measures, the models' callers and the reports: everything here
turns validated tables into the rows an estimator needs, and checks the period and grouping
arguments on the way. Nothing here estimates anything.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from evaluation.checks import require_dataframe
from evaluation.errors import ParameterError

__all__ = [
    "AGE_BREAKS",
    "DEFAULT_INITIAL",
    "JOURNEY_LABELS",
    "PLACEMENT_GROUPS",
    "PLACEMENT_STATES",
    "age_at_start",
    "age_group",
    "as_date",
    "data_end_date",
    "entrants",
    "episode_outcomes",
    "group_list",
    "journey_dates",
    "journey_states",
    "period_bounds",
    "require_table",
    "stay_days",
    "with_groups",
]



# --------------------------------------------------------------------------- ages
AGE_BREAKS = (0, 13, 21)


def age_at_start(
    episodes: pd.DataFrame, *, date_col: str = "start_date", birth_year_col: str = "birth_year"
) -> pd.Series:
    """Age at a date (by default the episode start) in whole years from the birth year.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Table with ``date_col`` and ``birth_year_col``.
    date_col : str, default "start_date"
        Date column at which age is taken.
    birth_year_col : str, default "birth_year"
        Birth year column.

    Returns
    -------
    pandas.Series
        Nullable integer ages ``date.year - birth_year`` (the age reached during that
        calendar year), indexed like ``episodes``.

    Raises
    ------
    ParameterError
        If a column is missing.

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(50, 3, seed=1).tables["episodes"]
    >>> bool((age_at_start(ep) >= 0).all())
    True
    """
    require_table(episodes, [date_col, birth_year_col], "episodes")
    dates = pd.to_datetime(episodes[date_col])
    return (dates.dt.year.astype("Int64") - episodes[birth_year_col].astype("Int64")).rename("age")


def age_group(age, breaks: Sequence[int] = AGE_BREAKS) -> pd.Series:
    """Cut ages into labelled groups such as ``"0-12"`` and ``"13-20"``.

    Parameters
    ----------
    age : array_like or pandas.Series
        Ages in whole years.
    breaks : sequence of int, default (0, 13, 21)
        Increasing group limits; group ``i`` holds ``breaks[i] <= age < breaks[i + 1]``.

    Returns
    -------
    pandas.Series
        String labels ``"{lo}-{hi - 1}"``; missing where the age is missing or outside.

    Raises
    ------
    ParameterError
        If ``breaks`` is not strictly increasing with at least two values.

    Examples
    --------
    >>> list(age_group([0, 12, 13, 20]))
    ['0-12', '0-12', '13-20', '13-20']
    """
    breaks = list(breaks)
    if len(breaks) < 2 or any(hi <= lo for lo, hi in itertools.pairwise(breaks)):
        raise ParameterError(f"breaks must be strictly increasing with >= 2 values, got {breaks}.")
    s = pd.Series(age) if not isinstance(age, pd.Series) else age
    s = pd.to_numeric(s.astype("Float64"), errors="coerce")
    labels = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(breaks)]
    cut = pd.cut(s.astype(float), bins=breaks, right=False, labels=labels)
    return pd.Series(cut.astype("string"), index=s.index, name="age_group")


# --------------------------------------------------------------------------- periods and groups
def require_table(data: pd.DataFrame, cols: Sequence[str], table: str) -> None:
    """Raise unless ``data`` is a DataFrame holding the columns ``cols`` of the table ``table``.

    :func:`evaluation.checks.require_dataframe` with the table's name; a missing column of a
    dictionary table is answered with the dictionary (unlike
    :func:`evaluation.checks.require_columns`, which names the argument that gave a column).
    """
    require_dataframe(data, table)
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ParameterError(
            f"{table} lacks required column(s) {missing}; pass the validated '{table}' table "
            "(see data_dictionary/dictionary.yaml)."
        )


def period_bounds(period_start, period_end) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period ``[period_start, period_end]`` as timestamps, checked (dates, in order)."""
    try:
        start, end = pd.Timestamp(period_start), pd.Timestamp(period_end)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"period bounds must be dates, got {period_start!r}, {period_end!r}."
        ) from exc
    if pd.isna(start) or pd.isna(end):
        raise ParameterError("period_start and period_end must both be given.")
    if end < start:
        raise ParameterError(
            f"period_end {end.date()} is before period_start {start.date()}; swap them."
        )
    return start, end


def data_end_date(data_end, period_end: pd.Timestamp) -> pd.Timestamp:
    """``data_end`` as a timestamp, checked not to precede ``period_end``."""
    try:
        d = pd.Timestamp(data_end)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"data_end must be a date, got {data_end!r}.") from exc
    if pd.isna(d) or d < period_end:
        raise ParameterError(
            f"data_end {data_end!r} is before period_end {period_end.date()}; data_end is the "
            "last date the data cover and must not precede the period."
        )
    return d


def group_list(group_cols) -> list[str]:
    """``group_cols`` as a list (None -> [], one name -> [name])."""
    if group_cols is None:
        return []
    if isinstance(group_cols, str):
        return [group_cols]
    return list(group_cols)


def with_groups(data: pd.DataFrame, groups: list[str], table: str, age: pd.Series) -> pd.DataFrame:
    """Add a derived ``age_group`` if asked for, and check the group columns exist."""
    data = data.copy()
    if "age_group" in groups and "age_group" not in data.columns:
        data["age_group"] = age_group(age).to_numpy()
    missing = [g for g in groups if g not in data.columns]
    if missing:
        raise ParameterError(
            f"group column(s) {missing} are not in {table}; use columns of {table} or 'age_group'."
        )
    return data


def entrants(episodes: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Episodes starting in ``[start, end]`` (the entry cohort), as a copy."""
    s = pd.to_datetime(episodes["start_date"])
    return episodes[(s >= start) & (s <= end)].copy()


def stay_days(ep: pd.DataFrame) -> pd.Series:
    """Full length of stay in days (end - start); NaN for ongoing episodes."""
    return (pd.to_datetime(ep["end_date"]) - pd.to_datetime(ep["start_date"])).dt.days


def as_date(value, name: str) -> pd.Timestamp:
    """``value`` as a timestamp; ``name`` is the argument named in the message."""
    try:
        d = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} must be a date such as '2022-03-31', got {value!r}.") from exc
    if pd.isna(d):
        raise ParameterError(f"{name} must be a date such as '2022-03-31', got {value!r}.")
    return d


# --------------------------------------------------------------------------- episode outcomes
#: Placement types grouped into the settings compared in the report.
PLACEMENT_GROUPS = {"FH": "family", "NH": "family", "FFH": "family", "JH": "family",
                    "HVB": "institution", "SIS": "institution", "SB": "other", "EGET": "other"}


def episode_outcomes(episodes: pd.DataFrame, data_end) -> pd.DataFrame:
    """Time to ending and its cause for each episode, ready for the survival estimators.

    Parameters
    ----------
    episodes : pandas.DataFrame
        Validated episodes table.
    data_end : date-like
        Last date the data cover; ongoing episodes are censored there.

    Returns
    -------
    pandas.DataFrame
        The episodes with ``time`` (days from start to end or ``data_end``), ``ended``
        (0/1), ``cause`` (0 ongoing, 1 unplanned ending, 2 planned ending) and
        ``placement_group`` (family / institution / other, :data:`PLACEMENT_GROUPS`).

    Examples
    --------
    >>> from evaluation.data import synth
    >>> ep = synth.generate(200, 4, seed=1).tables["episodes"]
    >>> out = episode_outcomes(ep, "2024-12-31")
    >>> sorted(out["cause"].unique().tolist())
    [0, 1, 2]
    """
    end = pd.Timestamp(data_end)
    out = episodes.copy()
    stop = pd.to_datetime(out["end_date"]).fillna(end)
    out["time"] = (stop - pd.to_datetime(out["start_date"])).dt.days.astype(float)
    ended = out["end_date"].notna().to_numpy()
    planned = out["planned_ending"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    out["ended"] = ended.astype(int)
    out["cause"] = np.where(~ended, 0, np.where(planned, 2, 1))
    out["placement_group"] = out["placement_type"].map(PLACEMENT_GROUPS).fillna("other")
    return out


# --------------------------------------------------------------------------- journey states
DEFAULT_INITIAL = "(s0)"  # R survcheck2's name for an unnamed initial state

#: Default mapping of placement types (placements.placement_type) to journey states.
#: SB (supported housing, stödboende) is a staffed, non-family setting and goes with HVB/SiS;
#: EGET (own home/other) is not an institution and goes with the family-type settings.
#: Both choices are judgements (confidence L); pass ``placement_states`` to change them.
PLACEMENT_STATES: dict[str, str] = {
    "FH": "family_home", "NH": "family_home", "FFH": "family_home", "JH": "family_home",
    "EGET": "family_home", "HVB": "residential", "SIS": "residential", "SB": "residential",
}


#: Swedish and English labels of the journey states (used by plots; Swedish is the default).
JOURNEY_LABELS: dict[str, dict[str, str]] = {
    "investigation": {"sv": "Under utredning", "en": "Under investigation"},
    "family_home": {"sv": "I familjehem", "en": "In family home"},
    "residential": {"sv": "I HVB/SiS/stödboende", "en": "In HVB/SiS/supported housing"},
    "ended_planned": {"sv": "Avslutad planerat", "en": "Ended as planned"},
    "ended_unplanned": {"sv": "Avslutad oplanerat", "en": "Ended unplanned"},
    "re_referred": {"sv": "Återaktualiserad", "en": "Re-referred"},
    DEFAULT_INITIAL: {"sv": "Starttillstånd", "en": "Initial state"},
}


_ORIGINS = ("placement", "referral")


_JOURNEY_COLUMNS = ["episode_id", "tstart", "tstop", "state", "istate", "first_setting"]


def journey_dates(frame: pd.DataFrame, col: str, table: str) -> pd.Series:
    if col not in frame.columns:
        raise ParameterError(f"tables[{table!r}] has no column {col!r}; it needs the "
                             "dictionary's columns (see data_dictionary/dictionary.yaml).")
    try:
        return pd.to_datetime(frame[col])
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"column {col!r} of tables[{table!r}] must hold dates.") from exc


def journey_states(tables: Mapping[str, pd.DataFrame], origin: str = "placement",
                   data_end: str | pd.Timestamp | None = None,
                   placement_states: Mapping[str, str] | None = None,
                   covariates: Sequence[str] = ("municipality_code", "legal_basis", "sex"),
                   ) -> pd.DataFrame:
    """Counting-process data of the child's journey, one row per interval per episode.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        The toolkit's tables, as ``evaluation.data.synth.generate(...).tables`` or validated data:
        ``episodes`` (required: ``episode_id, child_id, start_date, end_date,
        placement_type, planned_ending``), ``placements`` (optional: moves between settings)
        and ``referrals`` (optional: re-referrals, and the investigation phase).
    origin : {"placement", "referral"}
        Time 0: the episode's start date, or the date of the referral that opened it (the
        latest referral of the child on or before the start date and after the child's
        previous episode, preferring referrals that led to an investigation); the time from
        that referral to the start is then spent in state ``investigation``. Episodes
        without such a referral start directly in their first placement.
    data_end : date, optional
        The last day covered by the data; follow-up is censored at the end of this day.
        Default: the latest date found in the tables (pass the extract date when known).
    placement_states : mapping, optional
        State of each placement type; default :data:`PLACEMENT_STATES` (FH, NH, FFH, JH, EGET
        -> ``family_home``; HVB, SIS, SB -> ``residential``). Every type in the data must
        be mapped.
    covariates : sequence of str
        Episode columns copied to every row (e.g. for ``group_col``); missing ones are skipped.

    Returns
    -------
    pandas.DataFrame
        One row per interval (``tstart``, ``tstop``] in days since the origin, sorted by
        ``episode_id`` and ``tstart``:

        - ``episode_id``: the episode (the id for :func:`state_occupation`)
        - ``tstart``, ``tstop``: interval in days (float)
        - ``state``: the state entered at ``tstop``, or ``""`` if follow-up is censored
        - ``istate``: the state during the interval
        - ``first_setting``: the state of the first placement (``family_home`` or
          ``residential`` by default), for grouping
        - the ``covariates`` found on ``episodes``

    Raises
    ------
    ParameterError
        If a table or column is missing, ``origin`` is unknown, a placement type is not
        mapped, or an ended episode lacks ``planned_ending``.

    Notes
    -----
    States (labels in :data:`JOURNEY_LABELS`):

    - ``investigation``: referred, not yet placed (only with ``origin="referral"``);
    - ``family_home`` / ``residential``: in care, by the type of the current placement;
      consecutive placements of the same state are one stay;
    - ``ended_planned`` / ``ended_unplanned``: the episode has ended, by ``planned_ending``
      (derived from the end reason: breakdowns and absconding are unplanned; death, moving
      and "other" count as planned, as in the dictionary);
    - ``re_referred`` (absorbing): after the ending, the child's first new referral dated
      after the end date, or the start of a new episode, whichever comes first.

    Day convention: day 0 is the origin date. A move takes effect on the next placement's
    start date; an ending, a re-referral and censoring take effect at the end of their day
    (time = days from the origin to the date + 1), so a one-day episode has length 1 and a
    referral on the day after the end date still leaves one day in the ended state.
    Referrals on the end date itself do not count as re-referrals. Children who died stay
    in the ended state until the data end (they cannot be re-referred). Placements of zero
    days are skipped. Episodes starting after ``data_end`` are dropped; episodes still
    running at ``data_end`` and ended episodes not re-referred by then are censored at
    ``data_end``. Each episode is its own id, so a child's re-entry episode is also followed
    from its own start. The cohort is placed children; referrals that never led to a
    placement are not part of it.

    Examples
    --------
    >>> from evaluation.data.synth import generate
    >>> from evaluation.models import state_occupation
    >>> tables = generate(n_children=100, n_municipalities=2, seed=3).tables
    >>> d = journey_states(tables, data_end="2024-12-31")
    >>> fit = state_occupation(d, "episode_id", "tstart", "tstop", "state",
    ...                        initial_state="istate", group_col="first_setting")
    >>> sorted(fit.states_)
    ['ended_planned', 'ended_unplanned', 'family_home', 're_referred', 'residential']
    """
    if origin not in _ORIGINS:
        raise ParameterError(f"origin must be one of {_ORIGINS}, got {origin!r}.")
    if "episodes" not in tables:
        raise ParameterError("tables must contain 'episodes' (and optionally 'placements', "
                             "'referrals').")
    ep = tables["episodes"]
    for col in ("episode_id", "child_id", "placement_type", "planned_ending"):
        if col not in ep.columns:
            raise ParameterError(f"tables['episodes'] has no column {col!r}; it needs the "
                                 "dictionary's columns (see data_dictionary/dictionary.yaml).")
    mapping = dict(PLACEMENT_STATES if placement_states is None else placement_states)
    ep_start = journey_dates(ep, "start_date", "episodes")
    ep_end = journey_dates(ep, "end_date", "episodes")
    pl = tables.get("placements")
    rf = tables.get("referrals")
    candidates = [ep_start.max(), ep_end.max()]
    if pl is not None:
        pl = pl.assign(start_date=journey_dates(pl, "start_date", "placements"),
                       end_date=journey_dates(pl, "end_date", "placements"))
        candidates += [pl["start_date"].max(), pl["end_date"].max()]
    if rf is not None:
        rf = rf.assign(referral_date=journey_dates(rf, "referral_date", "referrals"))
        candidates.append(rf["referral_date"].max())
    end_day = (pd.Timestamp(data_end) if data_end is not None
               else max(d for d in candidates if pd.notna(d)))
    types = set(ep["placement_type"].dropna().astype(str))
    if pl is not None:
        types |= set(pl["placement_type"].dropna().astype(str))
    unmapped = sorted(types - set(mapping))
    if unmapped:
        raise ParameterError(f"placement type(s) {unmapped} have no state in "
                             f"placement_states; map every type, e.g. {PLACEMENT_STATES}.")
    backwards = (ep_end < ep_start).to_numpy(dtype=bool)
    if backwards.any():
        i = int(np.flatnonzero(backwards)[0])
        raise ParameterError(f"episode {ep['episode_id'].iloc[i]!r} ends before it starts; "
                             "validate the data first (evaluation validate).")
    missing_planned = ep_end.notna() & ep["planned_ending"].isna()
    if missing_planned.any():
        i = int(np.flatnonzero(missing_planned.to_numpy())[0])
        raise ParameterError(f"episode {ep['episode_id'].iloc[i]!r} has an end_date but no "
                             "planned_ending; derive it from end_reason (validate the data).")

    day0 = pd.Timestamp("1970-01-01")

    def days(s: pd.Series) -> np.ndarray:
        return ((s - day0).dt.days).to_numpy(dtype=float)  # NaN for NaT

    stays: dict[Any, list[tuple[float, str]]] = {}
    if pl is not None:
        pl_sorted = pl.sort_values(["episode_id", "start_date", "placement_seq"]
                                   if "placement_seq" in pl.columns
                                   else ["episode_id", "start_date"], kind="mergesort")
        pl_days = days(pl_sorted["start_date"])
        for e_id, s, t in zip(pl_sorted["episode_id"].tolist(), pl_days,
                              pl_sorted["placement_type"].astype(str).tolist()):
            stays.setdefault(e_id, []).append((s, mapping[t]))
    child_events: dict[Any, list[float]] = {}   # dates that count as re-referral
    child_refs: dict[Any, list[tuple[float, bool]]] = {}
    if rf is not None:
        led = (rf["led_to_investigation"].fillna(False).astype(bool).tolist()
               if "led_to_investigation" in rf.columns else [True] * len(rf))
        for c, r, lead in zip(rf["child_id"].tolist(), days(rf["referral_date"]), led):
            child_events.setdefault(c, []).append(r)
            child_refs.setdefault(c, []).append((r, lead))
    starts = days(ep_start)
    ends = days(ep_end)
    child = ep["child_id"].tolist()
    for c, s in zip(child, starts):
        child_events.setdefault(c, []).append(s)
    prev_end: dict[Any, float] = {}
    order = np.lexsort((starts, np.asarray([str(c) for c in child])))
    previous = np.full(len(ep), -np.inf)
    for i in order:
        previous[i] = prev_end.get(child[i], -np.inf)
        if not np.isnan(ends[i]):
            prev_end[child[i]] = ends[i]
    last = float((end_day - day0).days)
    planned = ep["planned_ending"].fillna(False).astype(bool).tolist()
    rows: list[tuple[Any, float, float, str, str, str, int]] = []
    for i, e_id in enumerate(ep["episode_id"].tolist()):
        s = starts[i]
        if s > last:
            continue
        settings = [(max(t, s), st) for t, st in stays.get(e_id, []) if t <= last]
        if not settings or settings[0][0] > s:
            settings.insert(0, (s, mapping[str(ep["placement_type"].iloc[i])]))
        o = s
        if origin == "referral":
            window = [(r, lead) for r, lead in child_refs.get(child[i], [])
                      if previous[i] < r <= s]
            if window:
                led_refs = [r for r, lead in window if lead]
                o = max(led_refs) if led_refs else max(r for r, _ in window)
        ended = not np.isnan(ends[i]) and ends[i] <= last
        stop_day = (ends[i] if ended else last) + 1 - o
        # Path of (time the state begins, state): investigation, stays, ending.
        path: list[tuple[float, str]] = []
        if o < s:
            path.append((0.0, "investigation"))
        for t, st in settings:
            if t - o >= stop_day:
                break
            if path and path[-1][1] == st:
                continue
            if path and t - o <= path[-1][0]:
                path[-1] = (path[-1][0], st)  # zero-length stay: replaced by the next one
                if len(path) > 1 and path[-2][1] == st:
                    path.pop()
                continue
            path.append((t - o, st))
        first_setting = next(st for _, st in path if st != "investigation")
        if ended:
            path.append((stop_day, "ended_planned" if planned[i] else "ended_unplanned"))
            after = [r for r in child_events.get(child[i], []) if r > ends[i]]
            nxt = min(after) if after else np.inf
            if nxt <= last:
                path.append((nxt + 1 - o, "re_referred"))
                censor_at = None
            else:
                censor_at = last + 1 - o
        else:
            censor_at = stop_day
        for (t0, st0), (t1, st1) in pairwise(path):
            rows.append((e_id, t0, t1, st1, st0, first_setting, i))
        if censor_at is not None and censor_at > path[-1][0]:
            rows.append((e_id, path[-1][0], censor_at, "", path[-1][1], first_setting, i))
    out = pd.DataFrame(rows, columns=[*_JOURNEY_COLUMNS, "_row"])
    for col in covariates:
        if col in ep.columns:
            out[col] = ep[col].to_numpy()[out["_row"].to_numpy()]
    out = out.drop(columns="_row")
    out["tstart"] = out["tstart"].astype(float)
    out["tstop"] = out["tstop"].astype(float)
    return out.sort_values(["episode_id", "tstart"], kind="mergesort").reset_index(drop=True)
