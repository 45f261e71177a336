"""Text that is safe to show and to write: identity numbers masked, spreadsheet formulas defused.

Two promises of the toolkit live here, each in ONE function that every output path uses:

* :func:`mask_identity_numbers` hides every identity number (personnummer or
  samordningsnummer, 10 or 12 digits, with or without separator, in ASCII or other Unicode
  digits) in a text, keeping only the date part: ``19900101-1234`` -> ``19900101-****``. It
  masks anything shaped like an identity number with a plausible date, whether or not its check
  digit is right (a mistyped number still points at a person). Messages, quarantine and
  problems rows and error texts pass through it.
* :func:`neutralise_formula` makes a CSV cell safe to open in Excel, LibreOffice or Google
  Sheets, following OWASP's CSV-injection guidance: a text cell starting with ``=``, ``+``,
  ``-``, ``@``, tab or carriage return (or line feed, NUL and their full-width forms) gets a
  leading single quote, so the spreadsheet shows it as text instead of evaluating it. Plain
  numbers such as ``-1.5`` stay as they are. :func:`write_csv` applies it to every cell of every
  CSV the toolkit writes.

Detection is stricter than masking: :func:`find_identity_numbers` reports only VALID numbers
(a real calendar date, day + 60 for a samordningsnummer, and a correct Luhn check digit) that
stand on their own (not inside a longer run of letters and digits such as a hex pseudonym), and
:func:`looks_like_identity_number` reports anything of that shape with a plausible date; the
identifier columns use the latter.

Examples
--------
The numbers in these examples fail the Luhn check: they belong to nobody.

>>> mask_identity_numbers("row 7: '900101-1234' is not a code")
"row 7: '900101-****' is not a code"
>>> neutralise_formula("=HYPERLINK(\\"http://x\\")")
'\\'=HYPERLINK("http://x")'
>>> neutralise_formula("-1.5")
'-1.5'
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FORMULA_PREFIXES",
    "IDENTITY_MASK",
    "check_output_folder",
    "find_identity_numbers",
    "is_identity_header",
    "looks_like_identity_number",
    "mask_frame",
    "mask_identity_numbers",
    "neutralise_formula",
    "normalise_digits",
    "safe_frame",
    "write_csv",
]

#: Stands for an identity number where not even its date part may be shown.
IDENTITY_MASK = "[personnummer]"

#: First characters that make a spreadsheet read a cell as a formula (OWASP, plus line feed,
#: NUL and the full-width forms of = + - @).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\0", "\uff1d", "\uff0b", "\uff0d", "\uff20")

_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63\uff0d"), "-")
_SEP = r"[-+ \t]?"
# Shape of an identity number in digit-normalised text: 6 or 8 digits, optional separator,
# 4 digits, not part of a longer run of digits.
_SHAPE = re.compile(rf"(?<![0-9])([0-9]{{6}}|[0-9]{{8}}){_SEP}([0-9]{{4}})(?![0-9])")
# The same shape standing on its own: not inside a longer run of letters and digits.
_STANDALONE = re.compile(
    rf"(?<![0-9A-Za-z])([0-9]{{6}}|[0-9]{{8}}){_SEP}([0-9]{{4}})(?![0-9A-Za-z])"
)
# Six ASCII digits in a row: an ASCII text without them holds no identity number.
_SIX_DIGITS = re.compile(r"[0-9]{6}")
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?$")


def normalise_digits(text: str) -> str:
    """Unicode-normalise a text (NFKC) and write every decimal digit and dash in ASCII.

    Full-width (``１９９０``), Arabic-Indic and other Unicode digits become ``0-9``, dashes
    and minus signs become ``-``; ASCII text is returned unchanged.
    """
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text).translate(_DASHES)
    if text.isascii():
        return text
    return "".join(
        str(unicodedata.decimal(ch)) if not ch.isascii() and ch.isdecimal() else ch for ch in text
    )


def _plausible(date_part: str) -> bool:
    """Month 01-12 and day 01-31 (or 61-91, samordningsnummer); 8 digits: year 1850-2100."""
    if len(date_part) == 8 and not 1850 <= int(date_part[:4]) <= 2100:
        return False
    month, day = int(date_part[-4:-2]), int(date_part[-2:])
    return 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)


def _luhn_ok(ten: str) -> bool:
    total = 0
    for i, ch in enumerate(ten):
        p = int(ch) * (2 if i % 2 == 0 else 1)
        total += p // 10 + p % 10
    return total % 10 == 0


def _real_date(date_part: str) -> bool:
    month, day = int(date_part[-4:-2]), int(date_part[-2:])
    if day > 60:
        day -= 60
    years = [int(date_part[:4])] if len(date_part) == 8 else [1900 + int(date_part[:2])]
    if len(date_part) == 6:
        years.append(2000 + int(date_part[:2]))
    for y in years:
        try:
            _dt.date(y, month, day)
        except ValueError:
            continue
        return True
    return False


def _valid(date_part: str, tail: str) -> bool:
    return _plausible(date_part) and _real_date(date_part) and _luhn_ok(date_part[-6:] + tail)


def mask_identity_numbers(text: Any) -> str:
    """Hide every identity number in ``text``, keeping only its date part (``YYMMDD-****``).

    The one masking function of the toolkit: every message, quarantine or problems row, log
    line and error text that may hold a value from the data goes through it. Anything shaped
    like a personnummer or samordningsnummer (6 or 8 digits with a plausible date, an optional
    ``-``, ``+`` or space, then 4 digits; digits in any Unicode script) is masked whether or not
    its check digit is right.

    Parameters
    ----------
    text : object
        Converted with ``str``; ``None`` gives ``''``.

    Returns
    -------
    str
        The text with each such number replaced by ``<date part>-****``; a text holding
        non-ASCII digits is returned in normalised form (see :func:`normalise_digits`).
    """
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    if not any(ch.isdigit() for ch in s):
        return s
    s = normalise_digits(s)

    def repl(m: re.Match[str]) -> str:
        return f"{m.group(1)}-****" if _plausible(m.group(1)) else m.group(0)

    return _SHAPE.sub(repl, s)


def find_identity_numbers(text: Any) -> list[str]:
    """The VALID identity numbers standing on their own in ``text``, masked.

    Valid means a plausible and real calendar date (samordningsnummer: day + 60; a 10-digit
    number in either the 1900s or the 2000s) and a correct Luhn check digit; the number must
    not be part of a longer run of letters and digits (a hex pseudonym holds digit runs that are
    not identity numbers). Unicode digits are normalised first.

    Returns
    -------
    list of str
        One masked form (``YYMMDD-****``) per number found; empty when there is none.
    """
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    s = text if isinstance(text, str) else str(text)
    if s.isascii() and not _SIX_DIGITS.search(s):  # fast path: no number can be there
        return []
    s = normalise_digits(s)
    return [f"{m.group(1)}-****" for m in _STANDALONE.finditer(s) if _valid(m.group(1), m.group(2))]


def looks_like_identity_number(text: Any) -> bool:
    """Whether ``text`` holds something shaped like an identity number, valid or mistyped.

    The shape with a plausible date (check digit not required), standing on its own as in
    :func:`find_identity_numbers`. Used for identifier columns, where no such number belongs.
    """
    if text is None:
        return False
    s = text if isinstance(text, str) else str(text)
    if s.isascii() and not _SIX_DIGITS.search(s):  # fast path: no number can be there
        return False
    s = normalise_digits(s)
    return any(_plausible(m.group(1)) for m in _STANDALONE.finditer(s))


_HEADER_PARTS = (
    "personnummer",
    "personnr",
    "samordningsnummer",
    "samordningsnr",
    "personalidentity",
    "identitynumber",
    "coordinationnumber",
    "socialsecurity",
)
_HEADER_EXACT = {"pnr", "persnr", "prsnr", "samnr", "ssn"}


def is_identity_header(name: Any) -> bool:
    """Whether a column header names identity numbers (``Personnummer``, ``pnr``,
    ``Samordningsnummer``, ``personal identity number`` ...), after normalising case, accents
    of digits, spaces and punctuation."""
    s = normalise_digits("" if name is None else str(name)).casefold()
    s = re.sub(r"[^0-9a-zåäö]", "", s)
    return s in _HEADER_EXACT or any(p in s for p in _HEADER_PARTS)


def neutralise_formula(value: Any) -> Any:
    """A cell value that a spreadsheet will not evaluate as a formula (OWASP CSV injection).

    A text starting with one of :data:`FORMULA_PREFIXES` gets a leading single quote, unless it
    is a plain number (``-1.5``, ``+3``, ``-2,5``), which stays a number. Other values are
    returned unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with :func:`neutralise_formula` applied to every text cell and header (a copy when
    anything changes, else ``df`` itself). Each distinct value of a column is checked once."""
    out = df
    for c in df.columns:
        col = df[c]
        if not (col.dtype == object or pd.api.types.is_string_dtype(col.dtype)):
            continue
        try:
            values = pd.unique(col.to_numpy(dtype=object))
        except TypeError:  # unhashable cells: check them all
            values = col.to_numpy(dtype=object)
        if any(isinstance(v, str) and neutralise_formula(v) is not v for v in values):
            if out is df:
                out = df.copy()
            out[c] = col.map(neutralise_formula, na_action="ignore")
    names = [neutralise_formula(c) if isinstance(c, str) else c for c in df.columns]
    if names != list(df.columns):
        if out is df:
            out = df.copy()
        out.columns = names
    return out


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`mask_identity_numbers` applied to every text cell."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c].dtype):
            out[c] = out[c].map(
                lambda v: mask_identity_numbers(v) if isinstance(v, str) else v,
                na_action="ignore",
            )
    return out


def write_csv(
    df: pd.DataFrame, path: str | os.PathLike[str], *, mask: bool = False, **kwargs: Any
) -> Path:
    """Write ``df`` as UTF-8 CSV without index, safe to open in a spreadsheet.

    Every CSV the toolkit writes goes through here: formula-leading text cells are neutralised
    (:func:`neutralise_formula`); with ``mask=True`` identity numbers in text cells are masked
    too (:func:`mask_identity_numbers`; quarantine and problems files). Lines end in CRLF
    (RFC 4180), so that cells holding a line break are quoted.

    Parameters
    ----------
    df : pandas.DataFrame
        The table (not modified).
    path : path-like
        File to write.
    mask : bool, default False
        Also mask identity numbers.
    **kwargs
        Passed to :meth:`pandas.DataFrame.to_csv` (e.g. ``date_format``).

    Returns
    -------
    pathlib.Path
    """
    out = mask_frame(df) if mask else df
    out = safe_frame(out)
    kwargs.setdefault("index", False)
    kwargs.setdefault("encoding", "utf-8")
    # RFC 4180 line ends: the csv module then quotes every cell holding a CR or LF. With "\n"
    # alone a bare CR inside a cell is written unquoted, and a spreadsheet starts a new row
    # there, whose first cell could be a formula.
    kwargs.setdefault("lineterminator", "\r\n")
    p = Path(path)
    out.to_csv(p, **kwargs)
    return p


def check_output_folder(out_dir: str | os.PathLike[str], inputs: list[Any]) -> None:
    """Refuse an output folder that would overwrite the input: the folder of an input file,
    an input file itself, or an existing file (not a folder).

    Raises
    ------
    ParameterError
        Naming the folder, in Swedish and English.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "episodes.csv").write_text("x")
    1
    >>> check_output_folder(d / "validated", [d / "episodes.csv"])
    >>> check_output_folder(d, [d / "episodes.csv"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    evaluation.errors.ParameterError: --out ... är indatafilernas mapp; ...
    """
    from evaluation.errors import ParameterError

    out = Path(out_dir)
    resolved = out.resolve()
    if out.exists() and not out.is_dir():
        raise ParameterError(
            f"--out {out} är en fil, inte en mapp; ange en mapp. / "
            f"--out {out} is a file, not a folder; give a folder.")
    for p in inputs:
        src = Path(p).resolve()
        if resolved == src.parent or resolved == src:
            raise ParameterError(
                f"--out {out} är indatafilernas mapp; välj en annan mapp så att uttaget "
                f"lämnas orört. / --out {out} is the folder of the input files; choose "
                "another folder so that the extract is kept unchanged.")
