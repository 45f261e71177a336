"""Parse Swedish identity numbers and replace them with keyed pseudonyms.

A personnummer (or samordningsnummer, coordination number: day + 60) is parsed and checked
(format, real calendar date, Luhn check digit), sex and birth year are derived from it, and
the number is replaced by ``child_id``: the HMAC-SHA256 of the normalised 12-digit form under a
secret key. A plain hash would be trivially reversible by enumerating the roughly 36 million
valid numbers of a century, which is why a key is required.

The key lives outside the data and the repository, in a file readable only by its owner
(create one with ``evaluation keygen PATH``) or in the environment variable
``EVALUATION_KEY`` (64 hex characters). The same key gives the same pseudonym across extracts,
so tables can be linked; different keys give unlinkable pseudonyms. Nothing in this module
logs, prints or returns the key, and clear identity numbers are never written to quarantine
or to error messages (only a masked form such as ``19900101-****``).

Examples
--------
>>> import hashlib
>>> import numpy as np
>>> from evaluation.data.pseudonymise import parse_personnummer, pseudonymise_id, synthetic_personnummer
>>> pnr = synthetic_personnummer("2008-05-17", "F", np.random.default_rng(1))  # synthetic
>>> p = parse_personnummer(pnr)
>>> (p.birth_year, p.sex)
(2008, 'F')
>>> key = hashlib.sha256(b"demo only").digest()  # a real key comes from load_key()
>>> pseudonymise_id(pnr, key) == pseudonymise_id(pnr.replace("-", "")[2:], key)
True
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import itertools
import os
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import load_dictionary
from evaluation.data.rawtable import PROVENANCE_COLUMNS, QUARANTINE_COLUMNS, RawTable
from evaluation.data.rules import problems_frame
from evaluation.data.safe_text import (
    check_output_folder,
    mask_identity_numbers,
    normalise_digits,
    write_csv,
)
from evaluation.errors import (
    DataValidationError,
    EvaluationError,
    ParameterError,
    PseudonymKeyError,
)

__all__ = [
    "InvalidIdentityNumber",
    "PersonNumber",
    "generate_key",
    "load_key",
    "luhn_check_digit",
    "parse_personnummer",
    "pseudonymise_id",
    "pseudonymise_table",
    "synthetic_personnummer",
]

KEY_BYTES = 32
INVALID_MASK = "<ogiltigt personnummer>"
_PATTERN = re.compile(r"^([0-9]{6}|[0-9]{8})([-+]?)([0-9]{4})$")
# A key with fewer distinct bytes, or a longer run of one byte, is refused as low-entropy;
# a random 32-byte key has about 30 distinct bytes and almost never a run of 4.
MIN_DISTINCT_KEY_BYTES = 16
MAX_KEY_BYTE_RUN = 4
_KEYGEN_HINT = "Create a key with `evaluation keygen PATH` (outside the data folders)."


class InvalidIdentityNumber(EvaluationError):
    """An identity number is not a valid personnummer or samordningsnummer.

    Parameters
    ----------
    rule : str
        Short snake_case reason: ``missing``, ``format``, ``date`` or ``check_digit``.
    masked : str
        The value with its personal part hidden (``YYMMDD-****``) or
        ``<ogiltigt personnummer>``; never the clear number.
    message_sv, message_en : str
        Explanations in Swedish and English; ``str(error)`` is the English one.

    Attributes
    ----------
    rule, masked, message_sv, message_en
        As given.
    """

    def __init__(self, rule: str, masked: str, message_sv: str, message_en: str) -> None:
        super().__init__(message_en)
        self.rule = rule
        self.masked = masked
        self.message_sv = message_sv
        self.message_en = message_en


@dataclass(frozen=True)
class PersonNumber:
    """A parsed and checked identity number.

    Attributes
    ----------
    normalised : str
        12 digits ``YYYYMMDDNNNC`` (the day as written, so coordination numbers keep day + 60).
    birth_date : datetime.date
        Date of birth (for coordination numbers, the day minus 60).
    sex : str
        ``'M'`` if the 9th digit of the 10-digit form is odd, else ``'F'``.
    birth_year : int
        Year of birth.
    is_coordination : bool
        True for a samordningsnummer (day + 60).
    """

    normalised: str
    birth_date: _dt.date
    sex: str
    birth_year: int
    is_coordination: bool

    def __repr__(self) -> str:  # never show the clear number in reprs or tracebacks
        return f"PersonNumber(normalised='{self.normalised[:8]}****', sex='{self.sex}')"


def luhn_check_digit(nine_digits: str) -> int:
    """Return the Luhn (mod 10) check digit of the first 9 digits of the 10-digit form.

    Digits are multiplied by 2, 1, 2, 1, ... from the left; the digits of the products are
    summed, and the check digit is ``(10 - sum % 10) % 10``.

    Parameters
    ----------
    nine_digits : str
        Exactly nine digits, ``YYMMDDNNN``.

    Returns
    -------
    int
        The check digit, 0-9.

    Raises
    ------
    ParameterError
        If ``nine_digits`` is not a string of exactly nine digits.
    """
    if not isinstance(nine_digits, str) or not re.fullmatch(r"\d{9}", nine_digits):
        raise ParameterError(
            "luhn_check_digit needs exactly nine digits (YYMMDDNNN of the 10-digit form), "
            f"got a value of length {len(str(nine_digits))}."
        )
    total = 0
    for i, ch in enumerate(nine_digits):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def _invalid(rule: str, masked: str, sv: str, en: str) -> InvalidIdentityNumber:
    return InvalidIdentityNumber(
        rule,
        masked,
        f"Ogiltigt personnummer ({masked}): {sv}",
        f"Invalid identity number ({masked}): {en}",
    )


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        if np.isnan(value):
            return None
        if float(value).is_integer():
            return str(int(value))
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def parse_personnummer(value: Any, reference_year: int | None = None) -> PersonNumber:
    """Parse and check a personnummer or samordningsnummer.

    Parameters
    ----------
    value : str
        10 digits (``YYMMDD-NNNC``) or 12 digits (``YYYYMMDD-NNNC``), optionally with ``-``,
        ``+`` or spaces between the date and the last four digits. Digits and dashes in other
        Unicode forms (full-width ``２０１５…``) are normalised first (NFKC). Integers are
        accepted (leading zeros are then lost, so prefer strings).
    reference_year : int, optional
        Year used to infer the century of a 10-digit number: the latest year not after the
        reference year, or a century earlier with ``+`` (a person aged 100 or more).
        Defaults to the current year. Ignored for 12-digit numbers.

    Returns
    -------
    PersonNumber
        The normalised number, birth date, sex, birth year and coordination flag.

    Raises
    ------
    InvalidIdentityNumber
        With ``rule`` ``missing`` (empty), ``format`` (not 10 or 12 digits), ``date`` (no such
        calendar date) or ``check_digit`` (Luhn check fails). The message shows only a masked
        value.
    """
    text = _as_text(value)
    if text is None or not text.strip():
        raise _invalid("missing", INVALID_MASK, "värdet saknas.", "the value is missing.")
    compact = re.sub(r"\s+", "", normalise_digits(text))
    m = _PATTERN.match(compact)
    if m is None:
        raise _invalid(
            "format",
            INVALID_MASK,
            "ska vara 10 eller 12 siffror, t.ex. ÅÅMMDD-NNNK eller ÅÅÅÅMMDD-NNNK.",
            "expected 10 or 12 digits such as YYMMDD-NNNC or YYYYMMDD-NNNC.",
        )
    date_part, sep, tail = m.groups()
    masked = f"{date_part}-****"
    if len(date_part) == 8:
        year = int(date_part[:4])
    else:
        ref = _dt.date.today().year if reference_year is None else int(reference_year)
        yy = int(date_part[:2])
        year = ref - ref % 100 + yy
        if year > ref:
            year -= 100
        if sep == "+":
            year -= 100
    month = int(date_part[-4:-2])
    day_written = int(date_part[-2:])
    is_coordination = day_written > 60
    day = day_written - 60 if is_coordination else day_written
    try:
        birth_date = _dt.date(year, month, day)
    except ValueError:
        raise _invalid(
            "date",
            masked,
            f"datumet {year:04d}-{month:02d}-{day:02d} finns inte.",
            f"the date {year:04d}-{month:02d}-{day:02d} does not exist.",
        ) from None
    ten = date_part[-6:] + tail
    if luhn_check_digit(ten[:9]) != int(ten[9]):
        raise _invalid(
            "check_digit",
            masked,
            "kontrollsiffran stämmer inte (felskrivet nummer?).",
            "the check digit does not match (mistyped number?).",
        )
    normalised = f"{year:04d}{date_part[-4:]}{tail}"
    return PersonNumber(
        normalised=normalised,
        birth_date=birth_date,
        sex="M" if int(ten[8]) % 2 == 1 else "F",
        birth_year=year,
        is_coordination=is_coordination,
    )


def synthetic_personnummer(birth_date: Any, sex: str, rng: np.random.Generator) -> str:
    """Draw a random identity number that is valid in form, for synthetic data only.

    The three serial digits are random (the third is odd for ``'M'`` and even for ``'F'``)
    and the check digit is computed. These numbers are generated only at run time for
    synthetic data and never committed to the repository. Being random but valid in form,
    they may coincide with the number of a real person, which is why they must never
    accompany real data.

    Parameters
    ----------
    birth_date : datetime.date, datetime.datetime, pandas.Timestamp, numpy.datetime64 or str
        Date of birth.
    sex : {'M', 'F'}
        Legal sex.
    rng : numpy.random.Generator
        Source of randomness (seed it for reproducible data).

    Returns
    -------
    str
        ``'YYYYMMDD-NNNC'``.

    Raises
    ------
    ParameterError
        If ``sex`` is not ``'M'`` or ``'F'`` or the date cannot be read.
    """
    if sex not in ("M", "F"):
        raise ParameterError(f"sex must be 'M' or 'F', got {sex!r}.")
    if isinstance(birth_date, _dt.datetime):
        d = birth_date.date()
    elif isinstance(birth_date, _dt.date):
        d = birth_date
    else:
        try:
            d = pd.Timestamp(birth_date).date()
        except (ValueError, TypeError):
            raise ParameterError(f"birth_date must be a date, got {birth_date!r}.") from None
    first_two = int(rng.integers(0, 100))
    third = int(rng.integers(0, 5)) * 2 + (1 if sex == "M" else 0)
    serial = f"{first_two:02d}{third}"
    check = luhn_check_digit(d.strftime("%y%m%d") + serial)
    return f"{d.strftime('%Y%m%d')}-{serial}{check}"


def generate_key(path: str | os.PathLike[str]) -> Path:
    """Write a new random pseudonymisation key (32 bytes as 64 hex characters), mode 0600.

    Parameters
    ----------
    path : str or path-like
        File to create; keep it outside the data folders and never commit it.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    PseudonymKeyError
        If the file already exists (a key is never overwritten: pseudonyms made with the old
        key could no longer be linked) or cannot be created.

    Notes
    -----
    Missing parent folders are created, readable only by the owner (mode 0700).
    """
    p = Path(path)
    if p.exists():
        raise PseudonymKeyError(
            f"The key file {p} already exists; refusing to overwrite it (pseudonyms made with "
            "it could no longer be linked). Choose another path or remove the old file yourself."
        )
    _make_private_parents(p)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PseudonymKeyError(
            f"The key file {p} already exists; refusing to overwrite it."
        ) from None
    except OSError as exc:
        raise PseudonymKeyError(
            f"Cannot create the key file {p}: {exc.strerror}. Check that the folder exists "
            "and is writable."
        ) from None
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)
        key = secrets.token_bytes(KEY_BYTES)
        while _low_entropy(key):  # about one key in a million; draw again
            key = secrets.token_bytes(KEY_BYTES)
        os.write(fd, (key.hex() + "\n").encode("ascii"))
    finally:
        os.close(fd)
    return p


def _make_private_parents(p: Path) -> None:
    """Create the missing folders above ``p``, each with mode 0700."""
    missing = []
    d = p.parent
    while not d.exists() and d != d.parent:
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            os.mkdir(d, 0o700)
            if os.name == "posix":
                os.chmod(d, 0o700)  # the umask may have narrowed or widened nothing; be explicit
        except FileExistsError:
            continue
        except OSError as exc:
            raise PseudonymKeyError(
                f"Cannot create the folder {d} for the key file: {exc.strerror}."
            ) from None


def _low_entropy(key: bytes) -> str | None:
    """Why ``key`` is obviously not random (too few distinct bytes, a long run), or None."""
    distinct = len(set(key))
    if distinct < MIN_DISTINCT_KEY_BYTES:
        return f"it has only {distinct} distinct byte values (a random key has about 30)"
    run = longest = 1
    for a, b in itertools.pairwise(key):
        run = run + 1 if a == b else 1
        longest = max(longest, run)
    if longest > MAX_KEY_BYTE_RUN:
        return f"it repeats one byte {longest} times in a row"
    return None


def _refuse_weak(key: bytes, where: str) -> None:
    why = _low_entropy(key)
    if why is not None:
        raise PseudonymKeyError(
            f"The key in {where} is not random: {why}. Pseudonyms under such a key can be "
            f"guessed. Create a random key with `evaluation keygen PATH`."
        )


def _decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    if not text:
        raise PseudonymKeyError(f"The key in {where} is empty. {_KEYGEN_HINT}")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise PseudonymKeyError(
            f"The key in {where} is not hexadecimal (expected {2 * KEY_BYTES} characters "
            f"0-9a-f). {_KEYGEN_HINT}"
        ) from None
    if len(key) < KEY_BYTES:
        raise PseudonymKeyError(
            f"The key in {where} is too short: {len(key)} bytes, at least {KEY_BYTES} needed "
            f"({2 * KEY_BYTES} hex characters). {_KEYGEN_HINT}"
        )
    _refuse_weak(key, where)
    return key


def load_key(
    key_file: str | os.PathLike[str] | None = None, env_var: str = "EVALUATION_KEY"
) -> bytes:
    """Load the pseudonymisation key from a file or, failing that, an environment variable.

    Parameters
    ----------
    key_file : str or path-like, optional
        File holding the key as hex (as written by :func:`generate_key`). It must not be
        readable or writable by group or others.
    env_var : str, default "EVALUATION_KEY"
        Environment variable holding the key as hex, used when ``key_file`` is None.

    Returns
    -------
    bytes
        The key (at least 32 bytes). Never log or print it.

    Raises
    ------
    PseudonymKeyError
        If there is no key, the file is missing or open to group/others, the key is not hex,
        it is shorter than 32 bytes, or it is obviously not random (fewer than
        :data:`MIN_DISTINCT_KEY_BYTES` distinct bytes, or one byte repeated more than
        :data:`MAX_KEY_BYTE_RUN` times in a row, e.g. all zeros). The message says how to fix it.
    """
    if key_file is not None:
        p = Path(key_file)
        if not p.is_file():
            raise PseudonymKeyError(f"The key file {p} does not exist. {_KEYGEN_HINT}")
        mode = p.stat().st_mode
        if os.name == "posix" and mode & 0o077:
            raise PseudonymKeyError(
                f"The key file {p} is accessible to group or others (mode {mode & 0o777:o}); "
                f"restrict it with `chmod 600 {p}`."
            )
        return _decode_key(p.read_text(encoding="ascii", errors="replace"), f"file {p}")
    text = os.environ.get(env_var)
    if text is None or not text.strip():
        raise PseudonymKeyError(
            f"No pseudonymisation key: give a key file (--key-file PATH) or set the environment "
            f"variable {env_var} to {2 * KEY_BYTES} hex characters. {_KEYGEN_HINT}"
        )
    return _decode_key(text, f"environment variable {env_var}")


def _check_key(key: Any) -> bytes:
    if not isinstance(key, (bytes, bytearray)):
        raise PseudonymKeyError("The key must be bytes; load it with load_key().")
    if len(key) < KEY_BYTES:
        raise PseudonymKeyError(
            f"The key is too short: {len(key)} bytes, at least {KEY_BYTES} needed. {_KEYGEN_HINT}"
        )
    key = bytes(key)
    _refuse_weak(key, "use")
    return key


def _hmac(normalised: str, key: bytes) -> str:
    return hmac.new(key, normalised.encode("ascii"), hashlib.sha256).hexdigest()


def pseudonymise_id(value: str, key: bytes) -> str:
    """Return the pseudonym of an identity number: HMAC-SHA256 of its 12-digit form.

    Parameters
    ----------
    value : str
        A personnummer or samordningsnummer in any form :func:`parse_personnummer` accepts;
        all forms of one number give the same pseudonym.
    key : bytes
        Secret key of at least 32 bytes (see :func:`load_key`).

    Returns
    -------
    str
        64 lowercase hex characters.

    Raises
    ------
    InvalidIdentityNumber
        If ``value`` is not a valid number.
    PseudonymKeyError
        If ``key`` is not bytes of at least 32 bytes.
    """
    key = _check_key(key)
    return _hmac(parse_personnummer(value).normalised, key)


def pseudonymise_table(
    data: pd.DataFrame,
    table: str,
    key: bytes,
    id_col: str = "personnummer",
    source: str = "<data>",
    row_numbers: Sequence[Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replace the identity numbers of a table by pseudonyms; invalid numbers go to quarantine.

    Parameters
    ----------
    data : pandas.DataFrame
        A raw table holding identity numbers in ``id_col``. Not modified.
    table : str
        Dictionary table name (``episodes``, ``referrals`` ...), used to find the columns
        marked as direct identifiers.
    key : bytes
        Secret key of at least 32 bytes (see :func:`load_key`).
    id_col : str, default "personnummer"
        Column holding the identity numbers.
    source : str, default "<data>"
        File name written to the quarantine and to error messages.
    row_numbers : sequence, optional
        Row numbers aligned with ``data`` (e.g. line numbers of the source file). Defaults to
        spreadsheet line numbers: position + 2 (the header is line 1).

    Returns
    -------
    accepted : pandas.DataFrame
        Rows with a valid number, index reset, with ``child_id`` (pseudonym, first column),
        ``sex`` ('M'/'F') and ``birth_year`` (int) derived from the number (replacing any
        existing columns of those names), and without ``id_col`` and every direct identifier
        of ``table``.
    quarantine : pandas.DataFrame
        One row per invalid number with columns ``source_file, row, table, column, value,
        rule, message_sv, message_en``. ``value`` is masked (``YYMMDD-****`` or
        ``<ogiltigt personnummer>``), never the clear number. ``rule`` is ``missing``,
        ``format``, ``date`` or ``check_digit``.

    Raises
    ------
    DataValidationError
        If ``id_col`` is not a column of ``data``.
    ParameterError
        If ``row_numbers`` does not have one entry per row.
    PseudonymKeyError
        If ``key`` is not bytes of at least 32 bytes.

    Notes
    -----
    ``len(accepted) + len(quarantine) == len(data)`` always holds.
    """
    key = _check_key(key)
    if id_col not in data.columns:
        raise DataValidationError(
            mask_identity_numbers(
                f"{source}: the identity-number column {id_col!r} is missing; available "
                f"columns: {', '.join(map(str, data.columns))}. Rename the column or pass id_col=."
            )
        )
    if row_numbers is None:
        rows = list(range(2, len(data) + 2))
    else:
        rows = list(row_numbers)
        if len(rows) != len(data):
            raise ParameterError(
                f"row_numbers has {len(rows)} entries but the data have {len(data)} rows; "
                "give one row number per row."
            )
    direct = load_dictionary().direct_identifiers(table)

    ok = np.zeros(len(data), dtype=bool)
    ids: list[str] = []
    sexes: list[str] = []
    years: list[int] = []
    problems: list[dict[str, Any]] = []
    for i, value in enumerate(data[id_col].tolist()):
        try:
            pn = parse_personnummer(value)
        except InvalidIdentityNumber as err:
            problems.append(
                {
                    "source_file": source,
                    "row": rows[i],
                    "table": table,
                    "column": id_col,
                    "value": err.masked,
                    "rule": err.rule,
                    "message_sv": err.message_sv,
                    "message_en": err.message_en,
                }
            )
            continue
        ok[i] = True
        ids.append(_hmac(pn.normalised, key))
        sexes.append(pn.sex)
        years.append(pn.birth_year)

    drop = {id_col, "child_id", "sex", "birth_year", *direct}
    accepted = data.loc[ok, [c for c in data.columns if c not in drop]].reset_index(drop=True)
    accepted.insert(0, "child_id", pd.Series(ids, dtype=object))
    accepted["sex"] = pd.Series(sexes, dtype=object)
    accepted["birth_year"] = pd.Series(years, dtype="int64")
    quarantine = problems_frame(problems)
    return accepted, quarantine


QUARANTINE_FILE = "quarantine.csv"


def pseudonymise_files(
    paths: Sequence[str | os.PathLike[str]],
    key: bytes,
    out_dir: str | os.PathLike[str],
    id_col: str = "personnummer",
    progress: bool | None = None,
    *,
    table: str | None = None,
) -> str:
    """Pseudonymise extract files and write them, with a quarantine file, to ``out_dir``.

    Each file is read with :func:`evaluation.data.io.read_tables` (any supported format). Tables
    with an ``id_col`` column go through :func:`pseudonymise_table`; tables without one
    (placements, follow-ups) are copied unchanged, as text, so that ``out_dir`` holds a
    complete set for ``evaluation validate``. Output is UTF-8 CSV named ``<table>.csv``, with
    two last columns ``source_file`` and ``source_row`` naming the file (and sheet) and row
    each row came from (:data:`~evaluation.data.rawtable.PROVENANCE_COLUMNS`), so that
    ``evaluation validate`` names the user's own file and row in its quarantine and messages.

    Parameters
    ----------
    paths : sequence of path-like
        Input files.
    key : bytes
        Secret key from :func:`load_key`; never written anywhere.
    out_dir : path-like
        Output folder (created). Must not be the folder of an input file, so that the raw
        extract is never overwritten.
    id_col : str, default "personnummer"
        Column holding identity numbers.
    progress : bool, optional
        Show a progress bar on standard error; default: only when it is a terminal.
    table : str, optional
        Read every file as this table (English or Swedish name; the CLI's ``--table``);
        default: the table set by :func:`evaluation.data.rawtable.forced_table`, else
        inferred per file.

    Returns
    -------
    str
        One-line summary: rows read, accepted, quarantined and where the output went.

    Raises
    ------
    DataValidationError
        An input file cannot be read (see :func:`evaluation.data.io.read_table`).
    ParameterError
        ``out_dir`` is the folder of an input file.
    PseudonymKeyError
        The key is not usable.
    """
    import sys

    from tqdm import tqdm

    from evaluation.data.io import read_tables

    key = _check_key(key)
    out = Path(out_dir)
    paths = list(paths)
    check_output_folder(out, paths)
    show = sys.stderr.isatty() if progress is None else progress
    read: list[tuple[str, RawTable]] = []
    for path in tqdm(paths, desc="pseudonymise", unit="file", disable=not show):
        try:
            tables = read_tables([path], table=table)
        except DataValidationError as err:  # a headerless file shows its first row as names
            raise DataValidationError(mask_identity_numbers(str(err))) from None
        read += list(tables.items())
    sources: dict[str, str] = {}
    for name, raw in read:   # one output per table: never let a file overwrite another
        if name in sources:
            raise ParameterError(
                f"tabellen {name!r} finns i två filer ({sources[name]} och {raw.source}); "
                "slå ihop dem till en fil först. / "
                f"table {name!r} is in two files ({sources[name]} and {raw.source}); "
                "combine them into one file first.")
        sources[name] = raw.source
    out.mkdir(parents=True, exist_ok=True)
    n_read = n_ok = 0
    quarantines: list[pd.DataFrame] = []
    written: list[str] = []
    for name, raw in read:
        n_read += len(raw.data)
        origin = {  # where each row came from, for the messages of `evaluation validate`
            PROVENANCE_COLUMNS[0]: raw.row_sources or [raw.source] * len(raw.data),
            PROVENANCE_COLUMNS[1]: list(raw.row_numbers),
        }
        data = raw.data.assign(**origin) if len(raw.row_numbers) == len(raw.data) else raw.data
        if id_col in raw.data.columns:
            accepted, quarantine = pseudonymise_table(
                data, name, key, id_col=id_col, source=raw.source,
                row_numbers=raw.row_numbers,
            )
            quarantines.append(quarantine)
        else:
            accepted = data
        kept = [c for c in accepted.columns if c not in PROVENANCE_COLUMNS]
        accepted = accepted[kept + [c for c in PROVENANCE_COLUMNS if c in accepted.columns]]
        n_ok += len(accepted)
        target = out / f"{name}.csv"
        write_csv(accepted, target)
        written.append(target.name)
    q = (
        pd.concat(quarantines, ignore_index=True)
        if quarantines
        else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )
    write_csv(q, out / QUARANTINE_FILE, mask=True)
    return (
        f"read {n_read} rows, accepted {n_ok}, quarantined {len(q)} -> {out}/ "
        f"({', '.join(written)}, {QUARANTINE_FILE})"
    )
