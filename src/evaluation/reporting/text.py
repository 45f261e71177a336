"""Report wording and number formats: the catalogs in ``reporting/catalogs/`` and the formatters.

Every word a report shows in Swedish or English lives in a YAML catalog beside this module
(``outcomes.yaml``, ``overview.yaml``, ``teaching.yaml``, ``notes.yaml``, ``plots.yaml``,
``terms.yaml``, ``formats.yaml``). A catalog is a mapping *section -> key -> {sv, en}*; every
key has both languages (:func:`load_catalog` refuses a catalog where one is missing).

Numbers are written here and nowhere else: decimal mark, thousands separator, interval
separator and percent sign come from ``formats.yaml`` (decimal comma and no-break space as
thousands separator in Swedish).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from evaluation.checks import LANGUAGES, check_language
from evaluation.data.analysis_frame import EFFECT_COVARIATES
from evaluation.errors import ParameterError

__all__ = [
    "CATALOG_DIR",
    "catalog_names",
    "confounder_text",
    "format_count",
    "format_integer",
    "format_interval",
    "format_number",
    "format_p_value",
    "format_percent",
    "load_catalog",
    "number_legend",
    "number_ticks",
    "phrase",
    "phrases",
    "term_label",
    "with_decimal_mark",
]

#: Folder of the YAML catalogs (package data).
CATALOG_DIR = Path(__file__).with_name("catalogs")


def catalog_names() -> tuple[str, ...]:
    """Names of the catalogs shipped with the package (file names without ``.yaml``).

    Examples
    --------
    >>> "outcomes" in catalog_names()
    True
    """
    return tuple(sorted(p.stem for p in CATALOG_DIR.glob("*.yaml")))


@functools.cache
def load_catalog(name: str) -> dict[str, dict[str, dict[str, str]]]:
    """Read the catalog ``name`` (cached): section -> key -> {"sv": text, "en": text}.

    Parameters
    ----------
    name : str
        One of :func:`catalog_names`, e.g. ``"outcomes"``.

    Returns
    -------
    dict
        The parsed catalog. It is cached and shared: do not modify it.

    Raises
    ------
    ParameterError
        If there is no such catalog, or an entry is not a mapping with exactly the languages
        of :data:`evaluation.checks.LANGUAGES` holding strings.

    Examples
    --------
    >>> load_catalog("outcomes")["text"]["stay"]["en"]
    '## Length of stay'
    """
    path = CATALOG_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ParameterError(f"No catalog {name!r}; catalogs: {', '.join(catalog_names())}.")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for section, entries in data.items():
        for key, entry in entries.items():
            if (not isinstance(entry, dict) or set(entry) != set(LANGUAGES)
                    or not all(isinstance(v, str) for v in entry.values())):
                raise ParameterError(
                    f"{path.name}: {section}.{key} must give a text for each of "
                    f"{', '.join(LANGUAGES)} (and nothing else); found {entry!r}.")
    return data


def phrases(catalog: str, section: str, lang: str = "sv") -> dict[str, str]:
    """Every text of one section of a catalog in ``lang``: key -> text.

    Parameters
    ----------
    catalog, section : str
        Which catalog and which of its sections.
    lang : {"sv", "en"}
        Language.

    Returns
    -------
    dict of str to str
        A new dict (changing it does not change the catalog).

    Raises
    ------
    ParameterError
        On an unknown catalog, section or language.

    Examples
    --------
    >>> phrases("outcomes", "groups", "en")["family"]
    'Family homes'
    """
    check_language(lang)
    entries = load_catalog(catalog)
    if section not in entries:
        raise ParameterError(f"Catalog {catalog!r} has no section {section!r}; sections: "
                             f"{', '.join(entries)}.")
    return {key: entry[lang] for key, entry in entries[section].items()}


def phrase(catalog: str, section: str, key: str, lang: str = "sv", **fields: Any) -> str:
    """One text of a catalog in ``lang``, with ``{name}`` fields filled in from ``fields``.

    Parameters
    ----------
    catalog, section, key : str
        Where the text is.
    lang : {"sv", "en"}
        Language.
    **fields
        Values of the text's ``{name}`` fields (:meth:`str.format`); without fields the text
        is returned as written.

    Returns
    -------
    str

    Raises
    ------
    ParameterError
        On an unknown catalog, section, key or language.

    Examples
    --------
    >>> phrase("outcomes", "labels", "naive", "sv")
    'ojusterad'
    >>> phrase("plots", "axes", "extra_cost", "en", horizon=365)
    'extra cost per placement (SEK, first 365 days)'
    """
    texts = phrases(catalog, section, lang)
    if key not in texts:
        raise ParameterError(f"Catalog {catalog!r}, section {section!r} has no key {key!r}.")
    return texts[key].format(**fields) if fields else texts[key]


def _number_format(name: str, lang: str) -> str:
    return phrase("formats", "numbers", name, lang)


# --------------------------------------------------------------------------- numbers
def format_number(x: float, decimals: int | None = 3, lang: str = "en") -> str:
    """A number with ``decimals`` decimals in the language's notation ("" for a missing value).

    Parameters
    ----------
    x : float
        The number.
    decimals : int or None, default 3
        Decimals shown; None writes the shortest form (``format(x, "g")``), as for tick labels.
    lang : {"sv", "en"}, default "en"
        Decimal comma in Swedish, decimal point in English.

    Returns
    -------
    str

    Examples
    --------
    >>> format_number(0.12345, 3, "sv"), format_number(0.12345, 2, "en")
    ('0,123', '0.12')
    >>> format_number(float("nan"))
    ''
    """
    if pd.isna(x):
        return ""
    s = f"{x:g}" if decimals is None else f"{x:.{decimals}f}"
    return s.replace(".", _number_format("decimal_mark", lang))


def format_integer(x: float, lang: str = "en") -> str:
    """A rounded number with thousands separators ("" for a missing value).

    Parameters
    ----------
    x : float
        The number.
    lang : {"sv", "en"}, default "en"
        A no-break space between thousands in Swedish, a comma in English.

    Returns
    -------
    str

    Examples
    --------
    >>> format_integer(1234567.8, "en")
    '1,234,568'
    >>> format_integer(1234567.8, "sv") == "1\\u00a0234\\u00a0568"
    True
    """
    if pd.isna(x):
        return ""
    return f"{x:,.0f}".replace(",", _number_format("thousands_separator", lang))


def format_interval(lower: float, upper: float, decimals: int | None = 3,
                    lang: str = "en") -> str:
    """An interval ``(lower, upper)``; ``(lower; upper)`` in Swedish, whose comma is decimal.

    Parameters
    ----------
    lower, upper : float
        The limits.
    decimals : int or None, default 3
        Decimals of the limits (:func:`format_number`); None writes them as whole numbers
        with thousands separators (:func:`format_integer`).
    lang : {"sv", "en"}, default "en"
        Language.

    Returns
    -------
    str
        "" when both limits are missing.

    Examples
    --------
    >>> format_interval(0.1, 0.25, 2, "sv")
    '(0,10; 0,25)'
    >>> format_interval(-1500, 2500, None, "en")
    '(-1,500, 2,500)'
    """
    if pd.isna(lower) and pd.isna(upper):
        return ""
    def fmt(v):
        return format_integer(v, lang) if decimals is None else format_number(v, decimals, lang)
    return f"({fmt(lower)}{_number_format('interval_separator', lang)}{fmt(upper)})"


def format_p_value(p: float, lang: str = "en") -> str:
    """A p-value with three decimals, ``<0.001`` (``<0,001``) below that; "" if missing.

    Parameters
    ----------
    p : float
        The p-value.
    lang : {"sv", "en"}, default "en"
        Language.

    Returns
    -------
    str

    Examples
    --------
    >>> format_p_value(0.04321, "sv"), format_p_value(1e-6, "en")
    ('0,043', '<0.001')
    """
    if pd.isna(p):
        return ""
    return ("<" + format_number(0.001, 3, lang)) if p < 0.001 else format_number(p, 3, lang)


def format_count(shown: Any, lang: str = "en") -> str:
    """A protected count (from ``to_display``) with thousands separators; "<5" and ".." kept.

    Parameters
    ----------
    shown : str or int
        A cell of :meth:`evaluation.disclosure.ProtectedTable.to_display`.
    lang : {"sv", "en"}, default "en"
        Language.

    Returns
    -------
    str

    Examples
    --------
    >>> format_count("12345", "en"), format_count("<5", "sv"), format_count("..", "sv")
    ('12,345', '<5', '..')
    """
    return format_integer(int(shown), lang) if str(shown).isdigit() else str(shown)


def format_percent(share: float, decimals: int | None = 1, lang: str = "en", *,
                   scale: float = 100.0) -> str:
    """A share as a percentage: ``scale * share`` with the language's percent sign.

    Parameters
    ----------
    share : float
        The share (0.25 is 25 %); pass a percentage with ``scale=1``.
    decimals : int or None, default 1
        Decimals (see :func:`format_number`).
    lang : {"sv", "en"}, default "en"
        ``"25,0 %"`` in Swedish, ``"25.0%"`` in English.
    scale : float, default 100
        Factor applied to ``share`` before it is written.

    Returns
    -------
    str
        "" for a missing share.

    Examples
    --------
    >>> format_percent(0.25, 1, "sv"), format_percent(0.25, 0, "en"), format_percent(99.8, None, "sv", scale=1)
    ('25,0 %', '25%', '99,8 %')
    """
    if share is None or pd.isna(share):
        return ""
    return (format_number(scale * share, decimals, lang)
            + _number_format("percent_sign", lang))


def with_decimal_mark(text: str, lang: str = "en") -> str:
    """``text`` with the decimal point of every number written as the language's decimal mark.

    For tables that come formatted with decimal points (e.g. a comparison table).

    Parameters
    ----------
    text : str
        Text with numbers written with a decimal point.
    lang : {"sv", "en"}, default "en"
        Language.

    Returns
    -------
    str

    Examples
    --------
    >>> with_decimal_mark("0.125 (0.1-0.2). End.", "sv")
    '0,125 (0,1-0,2). End.'
    """
    return re.sub(r"(?<=\d)\.(?=\d)", _number_format("decimal_mark", lang), str(text))


def number_ticks(ax, lang: str = "en", axes: str = "xy") -> None:
    """Write the tick labels of a matplotlib ``ax`` in the language's notation.

    Where the language writes numbers as matplotlib does (a decimal point, as in English) the
    ticks are left alone; otherwise each tick is written with :func:`format_number` (shortest
    form), e.g. ``0,25`` in Swedish.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes.
    lang : {"sv", "en"}, default "en"
        Language.
    axes : str, default "xy"
        Which axes: ``"x"``, ``"y"`` or both.
    """
    if _number_format("decimal_mark", lang) == ".":
        return

    def fmt(v, _pos):
        return format_number(v, None, lang)

    if "x" in axes:
        ax.xaxis.set_major_formatter(fmt)
    if "y" in axes:
        ax.yaxis.set_major_formatter(fmt)


def number_legend(ax, lang: str = "en") -> None:
    """Write the percentages in the legend of ``ax`` in the language's notation.

    Legend entries such as ``"99.8%"`` (matplotlib's notation) become ``"99,8 %"`` in Swedish;
    other entries are kept. As with :func:`number_ticks`, nothing changes where the language
    writes numbers as matplotlib does.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        The axes (its legend is redrawn with the new labels).
    lang : {"sv", "en"}, default "en"
        Language.
    """
    handles, labels = ax.get_legend_handles_labels()
    if not handles or _number_format("decimal_mark", lang) == ".":
        return

    def relabel(lab: str) -> str:
        value = lab.rstrip("%")
        if not value.replace(".", "").isdigit():
            return lab
        return format_percent(float(value), None, lang, scale=1)

    ax.legend(handles, [relabel(lab) for lab in labels])


# --------------------------------------------------------------------------- terms
def term_label(term: Any, lang: str = "sv") -> str:
    """Readable label of a model term or covariate (``terms.yaml``); unknown terms unchanged.

    Parameters
    ----------
    term : str
        A term of a model summary or a covariate name.
    lang : {"sv", "en"}, default "sv"
        Language.

    Returns
    -------
    str

    Examples
    --------
    >>> term_label("problem_criminality", "sv"), term_label("xyz", "en")
    ('kriminalitet', 'xyz')
    """
    return phrases("terms", "terms", lang).get(str(term), str(term))


def confounder_text(lang: str = "sv") -> str:
    """The adjustment set of the effect models in words, in ``lang``.

    The set is :data:`evaluation.data.analysis_frame.EFFECT_COVARIATES`: the age bands become
    one phrase, every other covariate its :func:`term_label`, joined as a list.

    Returns
    -------
    str

    Examples
    --------
    >>> confounder_text("en").startswith("age (one- and two-year bands from 13), ")
    True
    """
    words = []
    if any(c.startswith("age_") for c in EFFECT_COVARIATES):
        words.append(phrase("terms", "phrases", "age_bands", lang))
    words += [term_label(c, lang) for c in EFFECT_COVARIATES if not c.startswith("age_")]
    last = phrase("terms", "phrases", "and", lang)
    return ", ".join(words[:-1]) + last + words[-1] if len(words) > 1 else "".join(words)

