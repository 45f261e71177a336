"""Notes on the models: the warnings a report's models raised, in plain Swedish or English.

The estimators warn when a result is valid but fragile (separation, positivity, constant
covariates, extreme weights, non-convergence ...), each with a class of
:mod:`evaluation.errors` (third-party classes too: statsmodels' ``ConvergenceWarning``, NumPy's
``RuntimeWarning`` ...). A note is chosen by the warning's **class**, never by its English
wording: :data:`WARNING_KINDS` maps each class to a kind and ``catalogs/notes.yaml`` holds one
sentence per kind. A warning of any other class is kind ``other`` and is quoted, with
identifiers and pseudonyms replaced by ``[id]`` and whole numbers from 1 to
``threshold - 1`` (possible small counts) by ``"<threshold"``.

:class:`WarningRecorder` records the warnings raised while report sections run;
:func:`notes_table` and :func:`notes_markdown` turn the records into the notes.
"""

from __future__ import annotations

import contextlib
import functools
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.tools import sm_exceptions

from evaluation import disclosure, errors
from evaluation.data.cohort import PLACEMENT_GROUPS
from evaluation.reporting.text import phrase, phrases, term_label

__all__ = [
    "WARNING_KINDS",
    "CapturedWarning",
    "WarningRecorder",
    "collects",
    "escape_markdown",
    "mask_small_numbers",
    "notes_markdown",
    "notes_table",
    "sanitise_text",
    "warning_kind",
]

#: Kind of note of each warning class (a key of the section ``kinds`` of ``notes.yaml``).
#: A class not listed takes the kind of its nearest listed base class
#: (:func:`warning_kind`); a plain ``UserWarning`` is ``other``.
WARNING_KINDS: dict[type[Warning], str] = {
    errors.ConstantCovariateWarning: "constant_covariate",
    errors.PropensitySeparationWarning: "separation_propensity",
    errors.OutcomeSeparationWarning: "separation_outcome",
    errors.CaseMixTermDroppedWarning: "separation",
    errors.SeparationWarning: "separation",
    errors.ExtremeWeightsWarning: "extreme_weights",
    errors.PositivityWarning: "positivity",
    errors.BootstrapFailureWarning: "bootstrap_failed",
    errors.ShortFollowUpWarning: "follow_up_short",
    errors.ConvergenceWarning: "convergence",
    errors.BoundaryWarning: "boundary",
    errors.SmallGroupWarning: "small_group",
    sm_exceptions.ConvergenceWarning: "convergence",
    sm_exceptions.IterationLimitWarning: "convergence",
    sm_exceptions.PerfectSeparationWarning: "separation",
    sm_exceptions.SingularMatrixWarning: "boundary",
    sm_exceptions.HessianInversionWarning: "numerical",
    np.exceptions.RankWarning: "numerical",
    RuntimeWarning: "numerical",  # NumPy's divide by zero, overflow, invalid value ...
}


def warning_kind(category: type[Warning]) -> str:
    """The kind of note for a warning class: that of the class or its nearest listed base.

    Parameters
    ----------
    category : type
        The warning's class (``warnings.WarningMessage.category``).

    Returns
    -------
    str
        A value of :data:`WARNING_KINDS`, or ``"other"``.

    Examples
    --------
    >>> from evaluation.errors import PositivityWarning
    >>> warning_kind(PositivityWarning), warning_kind(UserWarning)
    ('positivity', 'other')
    """
    for cls in getattr(category, "__mro__", ()):
        if cls in WARNING_KINDS:
            return WARNING_KINDS[cls]
    return "other"


@dataclass(frozen=True)
class CapturedWarning:
    """One warning raised while a report section ran.

    Attributes
    ----------
    section : str
        Key of the section (e.g. ``"effect"``).
    category : type
        The warning's class.
    message : str
        Its text.
    details : dict
        Structured facts the warning carries as attributes (e.g. ``arm`` and ``covariates``
        of a :class:`~evaluation.errors.ConstantCovariateWarning`); notes read these, never
        the text.
    """

    section: str
    category: type[Warning]
    message: str
    details: dict = field(default_factory=dict)


@dataclass
class WarningRecorder:
    """Records the warnings raised in report sections, then passes them on unchanged.

    Only the outermost :meth:`capture` records (a section's table calling its cached model
    does not record twice). The warnings are re-issued afterwards, so the caller's filters
    (e.g. ``warnings.simplefilter("ignore")`` in a notebook) still decide whether they show.

    Examples
    --------
    >>> import warnings
    >>> rec = WarningRecorder()
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     with rec.capture("effect"):
    ...         warnings.warn("fragile", UserWarning)
    >>> [(r.section, r.category.__name__, r.message) for r in rec.records]
    [('effect', 'UserWarning', 'fragile')]
    """

    records: list[CapturedWarning] = field(default_factory=list)
    _capturing: bool = field(default=False, repr=False)

    @contextlib.contextmanager
    def capture(self, section: str) -> Iterator[None]:
        """Record the warnings raised in the ``with`` block under ``section``."""
        if self._capturing:
            yield
            return
        caught: list[warnings.WarningMessage] = []
        self._capturing = True
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield
        finally:
            self._capturing = False
            self.records += [CapturedWarning(section, w.category, str(w.message),
                                             _details(w.message)) for w in caught]
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _details(message: Warning | str) -> dict:
    """The structured attributes of a warning instance (those its class declares)."""
    return {name: getattr(message, name) for name in ("arm", "covariates")
            if hasattr(message, name)}


def collects(section: str) -> Callable:
    """Decorator of report methods: record the warnings the method raises under ``section``
    in the report's ``_recorder`` (a :class:`WarningRecorder`).

    Only the outermost call records; the warnings are passed on afterwards.
    """

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            with self._recorder.capture(section):
                return method(self, *args, **kwargs)
        return wrapper
    return decorate


# --------------------------------------------------------------------------- sanitising
# A whole number standing alone: not part of a decimal ("0.01", "1,234"), a percentage, a
# name ("age_13") or an exponent ("2e-14").
# A whole number written with thousands separators ("1,250", "12 345").
_GROUPED_NUMBER = re.compile(r"(?<![\w.,])\d{1,3}(?:[,\u00a0 ]\d{3})+(?![\w%]|[.,]\d)")
_WHOLE_NUMBER = re.compile(r"(?<![\w.,])(?<![eE][-+])\d+(?![\w%]|[.,]\d)")
# (YY)YYMMDD-NNNN and long digit strings (personal or case numbers), also before a comma or
# full stop that ends a clause (not before a decimal part).
_PERSONAL_NUMBER = re.compile(r"(?<![\w.,])(?:\d{2})?\d{6}[-+]\d{4}(?!\w|[.,]\d)")
_LONG_DIGITS = re.compile(r"(?<![\w.,])\d{8,}(?!\w|[.,]\d)")
_HEX = re.compile(r"\b[0-9a-fA-F]{16,}\b")  # pseudonyms


def mask_small_numbers(text: str, threshold: int) -> str:
    """Replace whole numbers that could be small counts (1 to ``threshold - 1``) by "<threshold".

    The numbers are protected with :func:`evaluation.disclosure.protect_counts` (primary
    suppression only: a warning gives no totals to recompute a hidden number from). Decimals,
    percentages, exponents and numbers inside names are left alone.

    Parameters
    ----------
    text : str
        A warning or error message.
    threshold : int
        Smallest count shown.

    Returns
    -------
    str

    Examples
    --------
    >>> mask_small_numbers("3 row(s) of 120, 22% of weight, age_13", 5)
    '<5 row(s) of 120, 22% of weight, age_13'
    """
    found = list(_WHOLE_NUMBER.finditer(text))
    if not found:
        return text
    counts = pd.DataFrame({"n": [int(m.group(0)) for m in found]})
    shown = disclosure.protect_counts(counts, threshold=threshold,
                                      totals_public=False).to_display()["n"].tolist()
    out, last = [], 0
    for m, s in zip(found, shown, strict=True):
        out += [text[last:m.start()], s]
        last = m.end()
    return "".join(out + [text[last:]])


def sanitise_text(text: str, identifiers: Iterable[str], threshold: int, *,
                  all_numbers: bool = False) -> str:
    """A warning or error text without identifiers, pseudonyms or small counts.

    Pseudonym-shaped hex strings, personal-number-shaped and long digit strings and every
    word in ``identifiers`` become ``[id]``; small whole numbers are masked
    (:func:`mask_small_numbers`), or, with ``all_numbers`` (publication mode: a model's
    message quotes exact counts, which the cell-key gate never saw), every whole number
    becomes ``[n]``.

    Parameters
    ----------
    text : str
        A warning or error message.
    identifiers : iterable of str
        Identifiers and pseudonyms of the data (e.g. every value of the ``*_id`` columns).
    threshold : int
        Smallest count shown.

    Returns
    -------
    str

    Examples
    --------
    >>> sanitise_text("child C17 has 2 placements", {"C17"}, 5)
    'child [id] has <5 placements'
    >>> sanitise_text("arm 'JH' has 61 of 1,250 rows, 2.5 %", (), 5, all_numbers=True)
    "arm 'JH' has [n] of [n] rows, 2.5 %"
    """
    text = _HEX.sub("[id]", text)
    text = _PERSONAL_NUMBER.sub("[id]", text)
    text = _LONG_DIGITS.sub("[id]", text)
    ids = frozenset(identifiers)
    if ids:
        text = re.sub(r"[\w\-]+", lambda m: "[id]" if m.group(0) in ids else m.group(0), text)
    if all_numbers:
        return _WHOLE_NUMBER.sub("[n]", _GROUPED_NUMBER.sub("[n]", text))
    return mask_small_numbers(text, threshold)


def escape_markdown(text: str) -> str:
    r"""Backslash-escape the characters Markdown would read as formatting or HTML.

    Parameters
    ----------
    text : str
        Plain text to put into Markdown.

    Returns
    -------
    str

    Examples
    --------
    >>> escape_markdown("<5 rows_x")
    '\\<5 rows\\_x'
    """
    return re.sub(r"([\\`*_\[\]<>#|~])", r"\\\1", text)


# --------------------------------------------------------------------------- notes
def _constant_detail(details: dict, lang: str) -> str:
    """" Variable: ...; group: ..." for a constant-covariate warning, from its attributes.

    :class:`~evaluation.errors.ConstantCovariateWarning` carries its ``arm`` and
    ``covariates``; only placement types are safe to name, so any other arm gives no detail.
    """
    arm, covariates = details.get("arm"), details.get("covariates") or ()
    if arm not in PLACEMENT_GROUPS or not covariates:
        return ""
    names = [term_label(str(v), lang) for v in covariates]
    return phrase("notes", "notes", "constant_detail", lang, names=", ".join(names), group=arm)


def notes_table(records: Iterable[CapturedWarning], *, lang: str, threshold: int,
                identifiers: Iterable[str] = (), sections: Sequence[str] = (),
                all_numbers: bool = False) -> pd.DataFrame:
    """The recorded warnings as notes, once each, in plain words.

    Parameters
    ----------
    records : iterable of CapturedWarning
        E.g. :attr:`WarningRecorder.records`.
    lang : {"sv", "en"}
        Language of the notes.
    threshold : int
        Smallest count shown in a quoted warning.
    identifiers : iterable of str
        Identifiers and pseudonyms of the data, replaced by ``[id]`` in a quoted warning.
    sections : sequence of str
        Report order of the sections (sections not listed come last, in recorded order).
    all_numbers : bool, default False
        Mask every whole number of a quoted warning as ``[n]`` (publication mode), not only
        the small ones.

    Returns
    -------
    pandas.DataFrame
        One row per section and distinct note, sections in report order: ``section``,
        ``kind`` (:func:`warning_kind`) and ``note`` (Markdown; for ``other`` the sanitised,
        escaped original text).

    Examples
    --------
    >>> from evaluation.errors import PositivityWarning
    >>> recs = [CapturedWarning("effect", PositivityWarning, "positivity: 3 row(s)")] * 2
    >>> notes_table(recs, lang="en", threshold=5)[["section", "kind"]].values.tolist()
    [['effect', 'positivity']]
    """
    ids = frozenset(identifiers)
    sentences = phrases("notes", "kinds", lang)
    rows = []
    for r in records:
        kind = warning_kind(r.category)
        if kind == "other":
            text = escape_markdown(sanitise_text(r.message, ids, threshold,
                                                 all_numbers=all_numbers))
            note = sentences["other"].format(text=text)
        else:
            note = sentences[kind]
            if kind == "constant_covariate":
                note += _constant_detail(r.details, lang)
        rows.append((r.section, kind, note))
    out = pd.DataFrame(rows, columns=["section", "kind", "note"]).drop_duplicates()
    order = {s: i for i, s in enumerate(sections)}
    out = out.assign(_order=out["section"].map(order).fillna(len(order)))
    out = out.sort_values("_order", kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)


def notes_markdown(notes: pd.DataFrame, *, lang: str, intro: str,
                   headings: Mapping[str, str] | Callable[[str], str]) -> str:
    """Notes as Markdown: ``intro`` and one bullet per note naming the sections it arose in.

    Parameters
    ----------
    notes : pandas.DataFrame
        Output of :func:`notes_table`.
    lang : {"sv", "en"}
        Language of the sentence said when there are no notes.
    intro : str
        Paragraph put before the bullets.
    headings : mapping or callable
        Heading of each section key (without ``#``).

    Returns
    -------
    str

    Examples
    --------
    >>> empty = pd.DataFrame(columns=["section", "kind", "note"])
    >>> notes_markdown(empty, lang="sv", intro="", headings={})
    'Modellerna gav inga varningar.'
    """
    if notes.empty:
        return phrase("notes", "notes", "none", lang)
    heading = headings if callable(headings) else headings.__getitem__
    lines = [intro, ""]
    for note, sub in notes.groupby("note", sort=False):
        where = ", ".join(heading(s) for s in pd.unique(sub["section"]))
        lines.append(f"- **{where}:** {note}")
    return "\n".join(lines)
