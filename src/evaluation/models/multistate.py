"""The child's journey as a multi-state model: Aalen–Johansen state occupation probabilities.

:func:`state_occupation` estimates the probability of being in each state over time from
counting-process data (one row per interval per id), as R
``survival::survfit(Surv(tstart, tstop, state) ~ group, data, id = id, istate = ...)``
(optionally with case weights, ``weights = w``), with its infinitesimal-jackknife standard
errors. :func:`journey_states` turns the toolkit's
tables (episodes, placements, referrals) into such data for the journey
placement -> family home / HVB-SiS -> ended planned / unplanned -> re-referred.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from evaluation.checks import (
    check_alpha,
    check_case_weights,
    check_times,
    numeric_values,
    refuse_missing,
    require_columns,
    require_dataframe,
)
from evaluation.data.cohort import DEFAULT_INITIAL, JOURNEY_LABELS
from evaluation.errors import ParameterError
from evaluation.models.results import (
    Result,
    curves_by_group,
    group_labels,
    package_versions,
    step_values,
    with_group,
)

__all__ = [
    "StateOccupationResult",
    "state_occupation",
]



_TIME_LABEL = "tid"                    # default axis labels (reports pass their own)
_PROB_LABEL = "andel i tillståndet"


def _journey_label(value: Any) -> str:
    """The Swedish journey label of a state (or group), else the value as text."""
    return JOURNEY_LABELS.get(str(value), {}).get("sv", str(value))


# --------------------------------------------------------------------------- result
@dataclass
class StateOccupationResult(Result):
    """Aalen–Johansen state occupation; see :func:`state_occupation` for ``summary``.

    Attributes
    ----------
    states_ : list of str
        The states, in the order used by ``summary`` (initial-only states first).
    p0_ : pandas.DataFrame
        Starting distribution: one row (per group, with ``group``), one column per state.
    transitions_ : pandas.DataFrame
        Observed transitions: ``from_state``, ``to_state``, ``n`` (counts, all groups).
    """

    states_: list[str] = field(default_factory=list)
    p0_: pd.DataFrame | None = None
    transitions_: pd.DataFrame | None = None

    def _by_group(self) -> list[tuple[Any, pd.DataFrame]]:
        return curves_by_group(self.summary)

    def _p0(self, group: Any) -> np.ndarray:
        p0 = self.p0_
        if group is not None:
            p0 = p0[p0["group"] == group]
        return p0[self.states_].to_numpy(float)[0]

    def at(self, times: Sequence[float] | float) -> pd.DataFrame:
        """Probabilities at given times (e.g. ``[365, 730]`` days).

        The value at time h is that of the last estimation time <= h; before the first
        time it is the starting distribution ``p0_`` (SE 0, as R); NaN beyond a group's last
        follow-up time. Returns the columns ``group`` (if grouped), ``state``, ``time``
        (the requested time), ``estimate``, ``se``, ``ci_lower``, ``ci_upper``.

        Raises
        ------
        ParameterError
            If ``times`` is empty, not numeric or has missing values.

        Examples
        --------
        >>> d = pd.DataFrame({"id": [1, 2], "start": [0, 0], "stop": [3, 2],
        ...                   "state": ["HVB", 0]})
        >>> fit = state_occupation(d, "id", "start", "stop", "state", initial_state="FH")
        >>> fit.at([1, 3])[["state", "time", "estimate"]].values.tolist()
        [['FH', 1.0, 1.0], ['FH', 3.0, 0.0], ['HVB', 1.0, 0.0], ['HVB', 3.0, 1.0]]
        """
        horizons = check_times(times)
        cols = ["estimate", "se", "ci_lower", "ci_upper"]
        out = []
        for g, tab in self._by_group():
            p0 = self._p0(g)
            for k, state in enumerate(self.states_):
                sub = tab[tab["state"] == state]
                values = step_values(sub["time"].to_numpy(), sub[cols].to_numpy(float),
                                     horizons, [p0[k], 0.0, p0[k], p0[k]])
                frame = pd.DataFrame(values, columns=cols)
                frame.insert(0, "time", horizons)
                frame.insert(0, "state", state)
                out.append(_with_group(frame, g))
        return pd.concat(out, ignore_index=True)

    def plot(self, ax=None, group: Any = None, labels: Mapping[Any, str] | None = None,
             xlabel: str | None = None, ylabel: str | None = None):
        """Stacked-area plot of the state occupation probabilities over time.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw one group (a new figure if None).
        group : optional
            The group to draw. Without it, a grouped result gets one panel per group
            (a new figure, legend in the last panel; ``ax`` must then be None) and the array
            of Axes is returned.
        labels : mapping, optional
            Label per state (legend) and per group (panel title); default the Swedish
            journey label (:data:`evaluation.data.cohort.JOURNEY_LABELS`), else the state or
            group itself. Reports pass the labels in their language.
        xlabel, ylabel : str, optional
            Axis labels; default ``"tid"`` and ``"andel i tillståndet"``.

        Returns
        -------
        matplotlib Axes (or numpy array of Axes, one per group)
        """
        import matplotlib.pyplot as plt

        labels = dict(labels or {})
        names = {s: labels.get(s, _journey_label(s)) for s in self.states_}
        groups = [g for g, _ in self._by_group()]
        if group is None and groups != [None]:
            if ax is not None:
                raise ParameterError("a grouped result draws one panel per group; pass "
                                     "group=... to draw one group on ax.")
            _, axes = plt.subplots(1, len(groups), sharey=True, squeeze=False,
                                     figsize=(4.5 * len(groups), 4))
            for a, g in zip(axes[0], groups):
                self.plot(ax=a, group=g, labels=labels, xlabel=xlabel, ylabel=ylabel)
            for a in axes[0][:-1]:
                a.get_legend().remove()
            return axes[0]
        if group is not None and group not in groups:
            raise ParameterError(f"group={group!r} is not in the result; groups: {groups}.")
        tab = dict(self._by_group())[group]
        ax = ax if ax is not None else plt.subplots()[1]
        p0 = self._p0(group)
        times = np.concatenate([[0.0], np.sort(tab["time"].unique())])
        times[0] = min(0.0, times[1]) if len(times) > 1 else 0.0
        ys = []
        for k, state in enumerate(self.states_):
            est = tab.loc[tab["state"] == state].sort_values("time")["estimate"].to_numpy()
            ys.append(np.concatenate([[p0[k]], est]))
        ax.stackplot(times, *ys, labels=[names[s] for s in self.states_], step="post")
        ax.set_xlabel(_TIME_LABEL if xlabel is None else xlabel)
        ax.set_ylabel(_PROB_LABEL if ylabel is None else ylabel)
        ax.set_ylim(0, 1)
        ax.set_xlim(times[0], times[-1])
        if group is not None:
            ax.set_title(labels.get(group, _journey_label(group)))
        ax.legend(loc="upper right", fontsize="small")
        return ax


_with_group = with_group


# --------------------------------------------------------------------------- validation
def _is_censored(values: pd.Series) -> np.ndarray:
    """True where a state value means 'censored': missing, '' or 0."""
    missing = values.isna().to_numpy()
    text = values.astype("string").fillna("").str.strip().to_numpy(dtype=object)
    zero = np.isin(text, ("", "0", "0.0"))
    return missing | zero


def _labels(values: pd.Series) -> np.ndarray:
    """State labels as text; whole numbers in a float column (NaN = censored) lose '.0'."""
    if pd.api.types.is_float_dtype(values):
        whole = values.dropna()
        if (whole == np.round(whole)).all():
            values = values.astype("Int64")
    return values.astype("string").fillna("").to_numpy(dtype=object)


def _check_frame(data: Any, cols: dict[str, str | None], alpha: float) -> pd.DataFrame:
    require_dataframe(data)
    check_alpha(alpha)
    require_columns(data, cols)
    if len(data) == 0:
        raise ParameterError("data has no rows; nothing to estimate.")
    for arg in ("id_col", "start_col", "stop_col", "group_col", "initial_state", "weights_col"):
        col = cols.get(arg)
        if col is None:
            continue
        refuse_missing(data[col], col, arg)
    out = pd.DataFrame(index=data.index)
    for arg in ("start_col", "stop_col"):
        col = cols[arg]
        out[arg[:-4]] = numeric_values(data[col], col, arg,
                                       hint=" (e.g. days since the time origin)")
    bad = ~np.isfinite(out["start"].to_numpy()) | ~np.isfinite(out["stop"].to_numpy())
    bad |= out["stop"].to_numpy() <= out["start"].to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(f"each interval needs finite times with {cols['stop_col']} > "
                             f"{cols['start_col']}; row {i} has ({out['start'].iloc[i]!r}, "
                             f"{out['stop'].iloc[i]!r}]. Drop or merge zero-length intervals.")
    out["id"] = data[cols["id_col"]].to_numpy()
    return out.reset_index(drop=True)


def _order_states(observed: Sequence[str], initial: Sequence[str],
                  states: Sequence[str] | None) -> list[str]:
    """R's order: initial states that are never entered first, then the entered states."""
    needed = list(dict.fromkeys([*initial, *observed]))
    if states is None:
        entered = sorted(set(observed))
        return sorted(set(initial) - set(entered)) + entered
    states = [str(s) for s in states]
    if len(set(states)) != len(states):
        raise ParameterError(f"states must not repeat a state: {states}.")
    absent = [s for s in needed if s not in states]
    if absent:
        raise ParameterError(f"states={states} lacks state(s) found in the data: {absent}.")
    return states


def _current_states(frame: pd.DataFrame, first_state: np.ndarray, status: np.ndarray,
                    id_name: str) -> tuple[np.ndarray, np.ndarray]:
    """State at the start of each row (carried forward within id) and first-row flags.

    ``frame`` must be sorted by id, stop, start. Raises on overlapping intervals and on gaps
    (R survfit refuses both for multi-state data).
    """
    ids = frame["id"].to_numpy()
    start = frame["start"].to_numpy()
    stop = frame["stop"].to_numpy()
    new_id = np.ones(len(frame), dtype=bool)
    new_id[1:] = ids[1:] != ids[:-1]
    prev_stop = np.concatenate([[np.nan], stop[:-1]])
    inside = ~new_id
    overlap = inside & (start < prev_stop)
    gap = inside & (start > prev_stop)
    problems = [(overlap, "overlapping intervals", "intervals of one id must not overlap"),
                (gap, "a gap between intervals",
                 ("R survfit refuses gaps in multi-state data; close the gap with a censored "
                  "row or split the id"))]
    for mask, what, fix in problems:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise ParameterError(f"{id_name} {ids[i]!r} has {what} (interval starting at "
                                 f"{start[i]:g} after one ending at {prev_stop[i]:g}); {fix}.")
    cur = np.empty(len(frame), dtype=np.int64)
    for i in range(len(frame)):
        if new_id[i]:
            cur[i] = first_state[i]
        else:
            cur[i] = status[i - 1] if status[i - 1] >= 0 else cur[i - 1]
    return cur, new_id


def _merge_interior_censored(frame: pd.DataFrame) -> pd.DataFrame:
    """Drop censored rows followed without gap by a row of the same id, as R survfitCI does.

    The following row takes over the dropped row's start. This changes only the time grid
    (such times are no longer reported unless another row stops there), not the estimates.
    ``frame`` must be sorted by id, stop.
    """
    ids = frame["id"].to_numpy()
    start = frame["start"].to_numpy()
    stop = frame["stop"].to_numpy()
    n = len(frame)
    first = np.ones(n, dtype=bool)
    first[1:] = (ids[1:] != ids[:-1]) | (stop[:-1] < start[1:])
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    extra = ~first & ~last & (frame["status"].to_numpy() < 0)
    if not extra.any():
        return frame
    segment = np.concatenate([[0], np.cumsum(~extra)[:-1]])
    seg_start = pd.Series(start).groupby(segment).transform("first").to_numpy()
    out = frame.assign(start=seg_start)
    return out.loc[~extra].reset_index(drop=True)


# --------------------------------------------------------------------------- estimator
def _aalen_johansen(entry: np.ndarray, etime: np.ndarray, status: np.ndarray,
                    person: np.ndarray, cstate0: np.ndarray, p0: np.ndarray,
                    nstate: int, weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """R survival's ``survfitci`` (case weights, influence of p0 not included) in numpy.

    ``status`` is -1 for censored rows, else the index of the state entered; ``cstate0``
    is each person's state at their first row; ``weight`` is each person's (positive) case
    weight, default 1. Hazards use weighted numbers at risk and of transitions; ``n_risk``
    and ``n_event`` are unweighted counts (as R's ``n.risk``, ``n.event``).
    """
    times = np.unique(etime)
    ntime = len(times)
    nperson = len(cstate0)
    cstate = cstate0.copy()
    p = p0.astype(float).copy()
    umat = np.zeros((nperson, nstate))
    atrisk = np.zeros(nperson, dtype=bool)
    wp = np.ones(nperson) if weight is None else np.asarray(weight, dtype=float)
    ns = np.zeros(nstate)  # number at risk per state (unweighted, for n_risk and occupancy)
    ws = np.zeros(nstate)  # weighted number at risk per state (R's ws)
    pmat = np.empty((ntime, nstate))
    vmat = np.empty((ntime, nstate))
    nrisk = np.empty((ntime, nstate))
    nevent = np.zeros((ntime, nstate))
    order_entry = np.argsort(entry, kind="mergesort")
    entry_sorted = entry[order_entry]
    order_exit = np.argsort(etime, kind="mergesort")
    exit_sorted = etime[order_exit]
    se = np.zeros(nstate)  # U changes only at transition times
    add_from = 0
    ends = np.searchsorted(exit_sorted, times, side="right")
    begin = 0
    for it, ctime in enumerate(times):
        add_to = int(np.searchsorted(entry_sorted, ctime, side="left"))
        rows_in = order_entry[add_from:add_to]
        add_from = add_to
        if len(rows_in):
            who = person[rows_in]
            np.add.at(ns, cstate[who], 1.0)
            np.add.at(ws, cstate[who], wp[who])
            atrisk[who] = True
        rows_out = order_exit[begin:ends[it]]
        begin = ends[it]
        who_out = person[rows_out]
        old = cstate[who_out]
        new = status[rows_out]
        moved = (new >= 0) & (new != old)
        if moved.any():
            hmat = np.zeros((nstate, nstate))
            np.add.at(hmat, (old[moved], new[moved]), wp[who_out[moved]])
            np.add.at(nevent[it], new[moved], 1.0)
            occupied = ns > 0
            hmat[occupied] /= ws[occupied, None]
            hmat[np.diag_indices(nstate)] = np.where(occupied, 1.0 - hmat.sum(axis=1), 1.0)
            dstate = cstate.copy()
            dstate[who_out[moved]] = new[moved]
            umat = umat @ hmat
            risk = np.flatnonzero(atrisk)
            rold = cstate[risk]
            with np.errstate(divide="ignore", invalid="ignore"):
                lever = np.where(ns > 0, p / ws, 0.0)
            umat[risk] -= hmat[rold] * lever[rold, None]
            np.add.at(umat, (risk, dstate[risk]), lever[rold])
            p = p @ hmat
            wu = umat if weight is None else wp[:, None] * umat  # R: sum (w_i U_i)^2
            se = np.sqrt(np.einsum("ij,ij->j", wu, wu))
        pmat[it] = p
        nrisk[it] = ns
        vmat[it] = se
        np.add.at(ns, old, -1.0)
        np.add.at(ws, old, -wp[who_out])
        cstate[who_out[new >= 0]] = new[new >= 0]
        atrisk[who_out] = False
    return {"time": times, "pstate": pmat, "std_err": vmat, "n_risk": nrisk,
            "n_event": nevent}


def _log_ci(p: np.ndarray, se: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """R ``survfit_confint(conf.type = "log", logse = FALSE)``: exp(log p -+ z se / p)."""
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = np.where(se == 0, 0.0, se / p)
        lower = np.where(p > 0, np.exp(np.log(p) - z * se_log), np.nan)
        upper = np.where(p > 0, np.minimum(np.exp(np.log(p) + z * se_log), 1.0), np.nan)
    return lower, upper


def state_occupation(data: pd.DataFrame, id_col: str, start_col: str, stop_col: str,
                     state_col: str, *, initial_state: str | None = None,
                     group_col: str | None = None, alpha: float = 0.05,
                     states: Sequence[str] | None = None,
                     weights_col: str | None = None) -> StateOccupationResult:
    """Probability of being in each state over time (Aalen–Johansen), as R ``survfit``.

    Parameters
    ----------
    data : pandas.DataFrame
        Counting-process data: one row per interval (start, stop] per id, e.g. from
        :func:`journey_states`. Intervals of one id must neither overlap nor leave gaps.
    id_col : str
        Identifier of the unit followed (e.g. ``episode_id``); used only to link its rows.
    start_col, stop_col : str
        Interval start and stop (numeric, stop > start), e.g. days since the time origin.
    state_col : str
        The state the interval ENDS in (a transition at ``stop``), or censored: missing,
        ``""`` or 0. A "transition" into the current state is ignored, as in R.
    initial_state : str, optional
        Name of a column holding the state at the start of each row (R's ``istate``; only
        each id's first row is used, later rows are checked against the carried-forward
        state), or, if it is not a column of ``data``, one state label for every id's start.
        Default: ``"(s0)"``, R's unnamed initial state.
    group_col : str, optional
        One set of curves per group, each with its own starting distribution. Groups are
        labelled as text and ordered naturally: the category order of a categorical column,
        else by value (9 before 10).
    alpha : float, default 0.05
        Confidence intervals have level 1 - alpha.
    states : sequence of str, optional
        All states, in the order wanted; must include every observed and initial state.
        Default: initial states never entered (sorted), then entered states (sorted).
    weights_col : str, optional
        Case weights (keyword only): a numeric column, finite and non-negative, constant
        within each id (one weight per id), e.g. inverse probability of treatment weights
        (``EffectResult.weights_`` of :func:`evaluation.models.effects.estimate_effect`, mapped
        from its episodes to their rows here). Ids of weight 0 are left out, exactly as if
        dropped from ``data`` (but the states, and the groups, are still found from all
        rows; a group whose ids all have weight 0 is refused). Default: every id has
        weight 1.

    Returns
    -------
    StateOccupationResult
        ``summary`` has one row per group, state and distinct stop time (ordered so):

        - ``group``: group label (only with ``group_col``)
        - ``state``: the state (a label, not a number)
        - ``time``: a distinct stop time (event or censoring) of the group
        - ``n_risk``: number in the state and under follow-up just before ``time``
          (a count of ids, unweighted also with ``weights_col``, as R's ``n.risk``)
        - ``n_event``: transitions into the state at ``time`` (unweighted count)
        - ``estimate``: P(in state at ``time``); the states sum to 1 at every time
        - ``se``: infinitesimal-jackknife standard error (R ``std.err``)
        - ``ci_lower``, ``ci_upper``: R's default "log" limits, exp(log p -+ z se / p),
          upper capped at 1; NaN where the estimate is 0

        plus ``states_``, ``p0_`` (starting distribution), ``transitions_`` (unweighted
        counts) and ``metadata`` (method, alpha, rows ``n``, ``n_ids``, ``se``, the column
        arguments including ``weights_col``, ``sum_weights`` over ids, ``n_ids_zero_weight``,
        ``states``, versions); ``at(times)`` reads the curves at given times and ``plot()``
        stacks them.

    Raises
    ------
    ParameterError
        If a column is missing or has missing values (except censored states), times are
        not numeric or stop <= start, intervals of an id overlap or leave a gap, given
        initial states contradict the carried-forward state, ``states`` lacks a state,
        alpha is outside (0, 1), or ``weights_col`` is not numeric, has a negative or
        non-finite value, varies within an id, is 0 for every id or for every id of a group.

    Notes
    -----
    At each distinct stop time t the transition matrix is H = I + dA with
    dA[j, k] = (transitions j -> k at t) / (number in j at risk at t) and rows summing to 1;
    p(t) = p(t-) H (the Aalen–Johansen product integral). An interval (s, u] is at risk at t
    when s < t <= u, so entries at t are not at risk at t, censorings at t are, and all
    transitions at one time enter the same H (ties exactly as R). The state at the start of
    each row is carried forward from the id's previous row. The starting distribution p0 is
    the distribution of current states over the rows at risk at the first transition time.
    The standard error is the infinitesimal jackknife over ids, computed as R's C routine
    ``survfitci``; like R's default (``influence = FALSE``) it treats p0 as fixed.
    Validated against R 4.2.2, survival 3.5-3 ``survfit(Surv(tstart, tstop, state) ~ group,
    id = id, istate = istate)`` (``tests/reference/multistate_reference.R``): ``pstate``,
    ``std.err``, ``lower``, ``upper``, ``n.risk``, ``n.event`` to a relative tolerance 1e-6.

    With case weights w_i (``weights_col``), as R ``survfit(..., weights = w)``: the numbers
    at risk and of transitions in dA are sums of weights, p0 is the weighted distribution
    of the rows at risk at the first transition time, and the variance is
    sum_i (w_i U_i(t))^2, where U_i is the derivative of p(t) with respect to id i's
    weight (R's ``std.err`` with ``id``: each id is a cluster carrying its weight). The
    weights are treated as fixed: estimated weights (IPW) add variance this SE ignores.
    Integer weights give the same estimates as repeating each id w_i times (as separate
    ids) but not the same SE: repeating gives sum_i w_i U_i^2 instead (R agrees on both).
    Validated against the same R version (``tests/reference/multistate_weights_reference.R``)
    with non-integer weights, grouped and ungrouped: ``pstate``, ``std.err``, ``lower``,
    ``upper``, ``n.risk``, ``n.event`` and p0 to a relative tolerance 1e-8 (the largest
    relative difference is about 3e-14). Ids of weight 0 are dropped before estimation, whereas R keeps them: R reports
    their times and counts them in ``n.risk`` and ``n.event``, lets their transitions set
    the time at which p0 is taken, and returns NaN once every id at risk in a state has
    weight 0 at a transition time; elsewhere the estimates and SEs agree with R's.
    The influence of p0 is not implemented.

    Examples
    --------
    >>> d = pd.DataFrame({"id": [1, 2, 2, 3, 4], "start": [0, 0, 2, 0, 0],
    ...                   "stop": [3, 2, 5, 4, 1], "state": ["HVB", "HVB", "end", 0, "end"]})
    >>> fit = state_occupation(d, "id", "start", "stop", "state", initial_state="FH")
    >>> fit.at(4).round(3)[["state", "estimate"]].values.tolist()
    [['FH', 0.25], ['HVB', 0.5], ['end', 0.25]]

    Case weights, one per id (here id 2 counts three times as much as the others):

    >>> d["w"] = d["id"].map({1: 1.0, 2: 3.0, 3: 1.0, 4: 1.0})
    >>> wfit = state_occupation(d, "id", "start", "stop", "state", initial_state="FH",
    ...                         weights_col="w")
    >>> wfit.at(4).round(3)[["state", "estimate"]].values.tolist()
    [['FH', 0.167], ['HVB', 0.667], ['end', 0.167]]
    >>> wfit.metadata["weights_col"], wfit.metadata["sum_weights"]
    ('w', 6.0)
    """
    cols = {"id_col": id_col, "start_col": start_col, "stop_col": stop_col,
            "state_col": state_col, "group_col": group_col, "weights_col": weights_col}
    istate_is_col = isinstance(initial_state, str) and initial_state in data.columns \
        if isinstance(data, pd.DataFrame) else False
    if istate_is_col:
        cols["initial_state"] = initial_state
    frame = _check_frame(data, cols, alpha)
    alpha = float(alpha)
    frame["weight"] = (1.0 if weights_col is None else
                       check_case_weights(data[weights_col], frame["id"].to_numpy(), weights_col,
                                         id_col))
    censored = _is_censored(data[state_col])
    frame["to"] = np.where(censored, "", _labels(data[state_col]))
    if istate_is_col:
        frame["given"] = _labels(data[initial_state])
    else:
        label = DEFAULT_INITIAL if initial_state is None else str(initial_state)
        frame["given"] = label
    groups = [""]
    if group_col is not None:
        labels = group_labels(data[group_col])
        frame["group"] = np.asarray(labels, dtype=object)
        groups = list(labels.categories)
    else:
        frame["group"] = ""
    frame = frame.sort_values(["id", "stop", "start"], kind="mergesort").reset_index(drop=True)
    new_id = np.ones(len(frame), dtype=bool)
    new_id[1:] = frame["id"].to_numpy()[1:] != frame["id"].to_numpy()[:-1]
    observed = sorted(set(frame["to"]) - {""})
    initial = sorted(set(frame.loc[new_id, "given"]))
    state_list = _order_states(observed, initial, states)
    index = {s: k for k, s in enumerate(state_list)}
    frame["status"] = np.array([index[s] if s else -1 for s in frame["to"]], dtype=np.int64)
    first_state = np.array([index.get(s, -1) for s in frame["given"]], dtype=np.int64)
    cur, _ = _current_states(frame, first_state, frame["status"].to_numpy(), id_col)
    if istate_is_col:
        clash = ~new_id & (first_state != cur)
        if clash.any():
            i = int(np.flatnonzero(clash)[0])
            raise ParameterError(
                f"column {initial_state!r} (initial_state) says {frame['given'].iloc[i]!r} at "
                f"the interval starting at {frame['start'].iloc[i]:g} of {id_col} "
                f"{frame['id'].iloc[i]!r}, but the previous interval ended in "
                f"{state_list[cur[i]]!r}; fix the state column or the initial states.")
    frame["cur"] = cur
    zero = frame["weight"].to_numpy() == 0
    n_zero_ids = int(frame.loc[zero, "id"].nunique())
    if zero.any():  # an id of weight 0 is left out, exactly as if dropped from data
        frame = frame.loc[~zero].reset_index(drop=True)
        empty = [g for g in groups if not (frame["group"] == g).any()]
        if empty:
            raise ParameterError(f"every id of group {empty[0]!r} ({group_col}) has weight 0 "
                                 f"in {weights_col!r} (weights_col); drop the group or give "
                                 "its ids positive weights.")
    transitions = (frame.loc[frame["status"] >= 0]
                   .assign(from_state=lambda f: [state_list[k] for k in f["cur"]],
                           to_state=lambda f: [state_list[k] for k in f["status"]])
                   .query("from_state != to_state")
                   .groupby(["from_state", "to_state"]).size().rename("n").reset_index())
    frame = _merge_interior_censored(frame)

    tables, p0_rows = [], []
    nstate = len(state_list)
    for g in groups:
        sub = frame[frame["group"] == g]
        entry = sub["start"].to_numpy()
        etime = sub["stop"].to_numpy()
        status = sub["status"].to_numpy()
        cur_state = sub["cur"].to_numpy()
        _, person = np.unique(sub["id"].astype(str).to_numpy(), return_inverse=True)
        # R: state of each person's first row by entry time (rows are sorted by stop).
        by_entry = pd.DataFrame({"p": person, "e": entry, "s": cur_state})
        cstate0 = (by_entry.sort_values(["p", "e"], kind="mergesort").groupby("p")["s"]
                   .first().to_numpy())
        t0 = etime[status >= 0].min() if (status >= 0).any() else etime.max()
        at_zero = (entry < t0) & (etime >= t0)
        weight = sub["weight"].to_numpy(dtype=float)
        # R: p0 = weighted share of each state among the rows at risk at t0
        p0 = (np.bincount(cur_state[at_zero], weights=weight[at_zero], minlength=nstate)
              / weight[at_zero].sum())
        person_weight = None
        if weights_col is not None:
            person_weight = np.empty(len(cstate0))
            person_weight[person] = weight
        fit = _aalen_johansen(entry, etime, status, person, cstate0, p0, nstate,
                              person_weight)
        lower, upper = _log_ci(fit["pstate"], fit["std_err"], alpha)
        ntime = len(fit["time"])
        table = pd.DataFrame({
            "state": np.repeat(state_list, ntime),
            "time": np.tile(fit["time"], nstate),
            "n_risk": fit["n_risk"].T.ravel(),
            "n_event": fit["n_event"].T.ravel(),
            "estimate": fit["pstate"].T.ravel(),
            "se": fit["std_err"].T.ravel(),
            "ci_lower": lower.T.ravel(),
            "ci_upper": upper.T.ravel(),
        })
        tables.append(_with_group(table, g if group_col is not None else None))
        p0_rows.append(_with_group(pd.DataFrame([p0], columns=state_list),
                                   g if group_col is not None else None))
    weighted = weights_col is not None
    return StateOccupationResult(
        summary=pd.concat(tables, ignore_index=True),
        metadata={"method": "Aalen-Johansen state occupation (multi-state)", "alpha": alpha,
                  "n": len(data), "n_ids": int(data[id_col].nunique()),
                  "se": ("infinitesimal jackknife with case weights, sum over ids of "
                         "(w_i U_i)^2" if weighted else "infinitesimal jackknife")
                  + " (R survfit std.err, p0 fixed)",
                  "weights_col": weights_col,
                  "sum_weights": float(frame.drop_duplicates("id")["weight"].sum()),
                  "n_ids_zero_weight": n_zero_ids,
                  "conf_type": "log (R survfit default)", "states": list(state_list),
                  "id_col": id_col, "start_col": start_col, "stop_col": stop_col,
                  "state_col": state_col, "initial_state": initial_state,
                  "group_col": group_col,
                  "versions": package_versions("numpy", "pandas", "scipy")},
        states_=list(state_list),
        p0_=pd.concat(p0_rows, ignore_index=True),
        transitions_=transitions,
    )


# --------------------------------------------------------------------------- journey data


