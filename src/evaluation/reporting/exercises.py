"""Exercises of the teaching course (``notebooks/teaching/``): answer checks and small helpers.

A lesson asks the learner to write an answer into a named variable (``svar_1 = None``) and
then runs a *check* cell that compares it with the known answer and prints, in Swedish,
either ``Rätt! ...`` or a hint about what to look at again. A missing answer (``None``), an
answer of the wrong type (text where a number is asked for, a list, ``True``) or a wrong
value gives a hint, never a traceback: the check functions print and return nothing.

The lesson-specific wording (why the answer is right, what to look at again) is written in
the notebooks, where a teacher reads and edits it; the few generic sentences below are the
same in every lesson. The course is in Swedish only, so they are not in the sv/en catalogs.

The helpers :func:`share_table`, :func:`unit_counts` and :func:`curve_plot` keep disclosure
control out of the learners' way: every count they show is a published count of a
:class:`~evaluation.disclosure.DisclosurePolicy` (cell-key method, never 1-4), every share
is computed from published counts and shown only when the policy allows it, and a curve
stops where fewer than ``min_at_risk`` remain at risk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from evaluation.disclosure import SECONDARY_MARK, DisclosurePolicy
from evaluation.errors import ParameterError

__all__ = ["FEEDBACK", "check_choice", "check_interval", "check_number", "curve_plot",
           "share_table", "unit_counts"]

#: The generic sentences of the checks (Swedish; the course is in Swedish).
FEEDBACK = {
    "right": "Rätt!",
    "wrong": "Inte riktigt än.",
    "missing": ("Du har inte svarat än: skriv ditt svar i övningscellen ovan "
                "(ersätt None) och kör den cellen, sedan den här."),
    "hint": "Ledtråd:",
    "number_type": "Svaret ska vara ett tal, till exempel 0.25 (utan citattecken).",
    "number_text": ("Du skrev talet som text (inom citattecken). Skriv det utan citattecken "
                    "och med punkt som decimaltecken, till exempel 0.25."),
    "percent": ("Det ser ut som procent. Skriv svaret som andel i stället: "
                "25 procent skrivs 0.25."),
    "interval_type": ("Svaret ska vara två tal inom parentes, nedre och övre gräns, "
                      "till exempel (0.10, 0.30)."),
    "interval_order": "Den nedre gränsen ska stå först och vara mindre än den övre.",
    "choice_type": "Svaret ska vara ett av alternativen: {options}.",
    "text_type": "Svaret ska vara text inom citattecken, till exempel \"{example}\".",
    "bool_type": "Svaret ska vara True (ja) eller False (nej), utan citattecken.",
}


def _say(*parts: str) -> None:
    print(" ".join(p for p in parts if p))


def _wrong(hint: str, detail: str = "") -> None:
    _say(FEEDBACK["wrong"], detail, f"{FEEDBACK['hint']} {hint}" if hint else "")


def _as_number(answer: Any) -> tuple[float | None, str]:
    """The answer as a float, or None and the reason it is not a number."""
    if isinstance(answer, (bool, np.bool_)):
        return None, FEEDBACK["number_type"]
    if isinstance(answer, str):
        try:
            float(answer.strip().replace(",", ".").replace("%", ""))
        except ValueError:
            return None, FEEDBACK["number_type"]
        return None, FEEDBACK["number_text"]
    if isinstance(answer, (Real, np.number)):
        value = float(answer)
        return (value, "") if math.isfinite(value) else (None, FEEDBACK["number_type"])
    return None, FEEDBACK["number_type"]


def check_number(answer: Any, expected: float, *, tolerance: float, right: str,
                 hint: str, share: bool = False) -> None:
    """Print whether a numeric answer is within ``tolerance`` of ``expected``.

    Parameters
    ----------
    answer : any
        What the learner wrote (``None`` if nothing yet).
    expected : float
        The known answer.
    tolerance : float
        Largest accepted absolute difference (rounding in the learner's reading).
    right : str
        What to say after "Rätt!" (why it is right, what it means).
    hint : str
        What to look at again when the answer is missing, of the wrong type or wrong.
    share : bool, default False
        The answer is a share (0-1): an answer that is right as a percentage gets a note
        to write it as a share.

    Examples
    --------
    >>> check_number(0.251, 0.25, tolerance=0.005, right="Andelen är 25 %.", hint="Se tabellen.")
    Rätt! Andelen är 25 %.
    >>> check_number("0,25", 0.25, tolerance=0.005, right="", hint="Se tabellen.")
    Inte riktigt än. Du skrev talet som text (inom citattecken). Skriv det utan citattecken och med punkt som decimaltecken, till exempel 0.25. Ledtråd: Se tabellen.
    """
    if answer is None:
        _say(FEEDBACK["missing"], f"{FEEDBACK['hint']} {hint}")
        return
    value, problem = _as_number(answer)
    if value is None:
        _wrong(hint, problem)
        return
    if abs(value - float(expected)) <= tolerance:
        _say(FEEDBACK["right"], right)
    elif share and abs(value / 100 - float(expected)) <= tolerance:
        _wrong(hint, FEEDBACK["percent"])
    else:
        _wrong(hint)


def check_interval(answer: Any, expected: Sequence[float], *, tolerance: float, right: str,
                   hint: str) -> None:
    """Print whether an interval ``(lower, upper)`` matches ``expected`` within ``tolerance``.

    Parameters
    ----------
    answer : any
        What the learner wrote: a tuple or list of two numbers.
    expected : sequence of two floats
        The known lower and upper limits.
    tolerance : float
        Largest accepted absolute difference of each limit.
    right, hint : str
        As :func:`check_number`.

    Examples
    --------
    >>> check_interval((0.1, 0.3), (0.1, 0.3), tolerance=0.01, right="", hint="Se raden.")
    Rätt!
    >>> check_interval(0.2, (0.1, 0.3), tolerance=0.01, right="", hint="Se raden.")
    Inte riktigt än. Svaret ska vara två tal inom parentes, nedre och övre gräns, till exempel (0.10, 0.30). Ledtråd: Se raden.
    """
    if answer is None:
        _say(FEEDBACK["missing"], f"{FEEDBACK['hint']} {hint}")
        return
    if isinstance(answer, (str, bytes)) or not isinstance(answer, (Sequence, np.ndarray)) \
            or len(answer) != 2:
        _wrong(hint, FEEDBACK["interval_type"])
        return
    values = [_as_number(a) for a in answer]
    problem = next((p for v, p in values if v is None), "")
    if problem:
        _wrong(hint, FEEDBACK["interval_type"])
        return
    lower, upper = (v for v, _ in values)
    if lower > upper:
        _wrong(hint, FEEDBACK["interval_order"])
        return
    if all(abs(a - float(e)) <= tolerance for a, e in zip((lower, upper), expected, strict=True)):
        _say(FEEDBACK["right"], right)
    else:
        _wrong(hint)


def check_choice(answer: Any, expected: Any, *, right: str, hint: str,
                 options: Sequence[Any] | None = None) -> None:
    """Print whether a choice (a letter, a name, True/False) equals ``expected``.

    Text is compared without regard to case and surrounding spaces.

    Parameters
    ----------
    answer : any
        What the learner wrote.
    expected : str or bool
        The known answer: a letter among ``options``, a name (e.g. a municipality code) or
        True/False.
    right, hint : str
        As :func:`check_number`.
    options : sequence, optional
        The allowed answers (e.g. ``"ABC"``); an answer outside them gets a note listing them.

    Examples
    --------
    >>> check_choice("b", "B", options="ABC", right="Barnen skiljer sig.", hint="Läs igen.")
    Rätt! Barnen skiljer sig.
    >>> check_choice("D", "B", options="ABC", right="", hint="Läs igen.")
    Inte riktigt än. Svaret ska vara ett av alternativen: "A", "B", "C". Ledtråd: Läs igen.
    >>> check_choice("True", True, right="", hint="Jämför intervallet med sanningen.")
    Inte riktigt än. Svaret ska vara True (ja) eller False (nej), utan citattecken. Ledtråd: Jämför intervallet med sanningen.
    """
    if answer is None:
        _say(FEEDBACK["missing"], f"{FEEDBACK['hint']} {hint}")
        return
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(answer, (bool, np.bool_)):
            _wrong(hint, FEEDBACK["bool_type"])
        elif bool(answer) == bool(expected):
            _say(FEEDBACK["right"], right)
        else:
            _wrong(hint)
        return
    if not isinstance(answer, str):
        detail = (FEEDBACK["choice_type"].format(options=_options(options)) if options
                  else FEEDBACK["text_type"].format(example=expected))
        _wrong(hint, detail)
        return
    given = answer.strip().casefold()
    if options is not None and given not in {str(o).casefold() for o in options}:
        _wrong(hint, FEEDBACK["choice_type"].format(options=_options(options)))
    elif given == str(expected).strip().casefold():
        _say(FEEDBACK["right"], right)
    else:
        _wrong(hint)


def _options(options: Sequence[Any]) -> str:
    return ", ".join(f'"{o}"' for o in options)


# --------------------------------------------------------------------------- display helpers


def _record_ids(frame: pd.DataFrame) -> pd.Series:
    """Record id of each episode for the cell key: ``child_id|episode_id`` (as the reports)."""
    return frame["child_id"].astype(str) + "|" + frame["episode_id"].astype(str)


def share_table(frame: pd.DataFrame, by: str | Sequence[str], outcome_col: str,
                policy: DisclosurePolicy, *, decimals: int = 0) -> pd.DataFrame:
    """Published number of episodes and share with the outcome, per group (as text).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per episode with ``child_id``, ``episode_id``, the ``by`` columns and a 0/1
        ``outcome_col`` (e.g. a frame of :func:`evaluation.data.effect_frame`).
    by : str or list of str
        Group columns (e.g. ``"placement_type"``).
    outcome_col : str
        0/1 column whose share is shown (e.g. ``"unplanned_365d"`` or ``"age_13plus"``).
    policy : DisclosurePolicy
        The disclosure policy of the reports.
    decimals : int, default 0
        Decimals of the percentage.

    Returns
    -------
    pandas.DataFrame
        The group columns, ``antal`` (published count of episodes) and ``andel`` (percentage
        from the published counts of episodes and of episodes with the outcome; ``".."`` where
        the policy allows no share: too few children, events or non-events).

    Raises
    ------
    ParameterError
        If a column is missing.

    Examples
    --------
    >>> from evaluation.data import effect_frame, synth
    >>> frame = effect_frame(synth.generate(400, 3, seed=1), horizon=365)
    >>> share_table(frame, "placement_type", "age_13plus", DisclosurePolicy()).columns.tolist()
    ['placement_type', 'antal', 'andel']
    """
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in [*by, outcome_col, "child_id", "episode_id"] if c not in frame]
    if missing:
        raise ParameterError(f"share_table: the frame has no column {missing}; pass a frame "
                             "with one row per episode (e.g. evaluation.data.effect_frame).")
    ids = _record_ids(frame)
    rows = []
    for key, sub in frame.groupby(by, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        sub_ids = ids.loc[sub.index]
        n = policy.count(sub_ids)
        k = policy.count(sub_ids[(sub[outcome_col] == 1).to_numpy()])
        kids = policy.count(sub["child_id"].astype(str))
        allowed = policy.allows_rate(kids) and policy.allows_rate(n, k)
        share = (f"{100 * k / n:.{decimals}f} %".replace(".", ",") if allowed and n > 0
                 else SECONDARY_MARK)
        rows.append({**dict(zip(by, key, strict=True)), "antal": policy.label(n),
                     "andel": share})
    return pd.DataFrame(rows)


def unit_counts(frame: pd.DataFrame, unit_col: str, outcome_col: str,
                policy: DisclosurePolicy) -> pd.DataFrame:
    """Published counts per unit for
    :func:`evaluation.reporting.comparison_table.comparison_display`.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per episode with ``child_id``, ``episode_id``, ``unit_col`` and a 0/1
        ``outcome_col``.
    unit_col : str
        The unit compared (e.g. ``"municipality_code"``).
    outcome_col : str
        The outcome of the comparison.
    policy : DisclosurePolicy
        The disclosure policy of the reports.

    Returns
    -------
    pandas.DataFrame
        Indexed by unit (text): ``n`` (episodes), ``observed`` (episodes with the outcome)
        and ``children``, all published counts.
    """
    ids = _record_ids(frame)
    unit = frame[unit_col].astype(str)
    event = (frame[outcome_col] == 1).to_numpy()
    units = unit.unique()
    return pd.DataFrame({
        "n": policy.counts(ids, unit, categories=units),
        "observed": policy.counts(ids[event], unit[event], categories=units),
        "children": policy.counts(frame["child_id"].astype(str), unit, categories=units),
    }).fillna(0).astype(int)


def curve_plot(curve: pd.DataFrame, *, at_risk: pd.DataFrame | None = None,
               min_at_risk: int = 10, complement: bool = False, start: float = 0.0,
               label: str | None = None, ax=None, **style):
    """Draw one step curve, stopped where fewer than ``min_at_risk`` remain at risk.

    Parameters
    ----------
    curve : pandas.DataFrame
        ``time`` and ``estimate`` (the ``summary`` of an ungrouped Kaplan–Meier or
        cumulative incidence fit).
    at_risk : pandas.DataFrame, optional
        ``time`` and ``n_risk`` (an ungrouped Kaplan–Meier ``summary``); default ``curve``
        itself if it has ``n_risk``, else the whole curve is drawn.
    min_at_risk : int, default 10
        Smallest number at risk drawn (the last steps of a curve can reveal single
        children); use the policy's ``min_children``.
    complement : bool, default False
        Draw 1 - estimate (e.g. 1 - Kaplan–Meier as a risk).
    start : float, default 0
        Value of the drawn curve at time 0 (1 for a survival curve).
    label : str, optional
        Legend label.
    ax : matplotlib Axes, optional
        Axes to draw on (a new figure if None).
    **style
        Passed to ``Axes.step`` (e.g. ``color``, ``linestyle``).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.subplots(figsize=(7, 4))[1]
    at_risk = at_risk if at_risk is not None else (curve if "n_risk" in curve else None)
    shown = curve
    if at_risk is not None:
        last = at_risk.loc[at_risk["n_risk"] >= min_at_risk, "time"].max()
        shown = curve[curve["time"] <= last] if pd.notna(last) else curve.iloc[:0]
    y = shown["estimate"].to_numpy(dtype=float)
    y = 1 - y if complement else y
    ax.step(np.r_[0.0, shown["time"].to_numpy(dtype=float)], np.r_[start, y], where="post",
            label=label, **style)
    if label:
        ax.legend(fontsize="small")
    return ax
