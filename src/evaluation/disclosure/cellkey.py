"""Record keys, cell keys and the perturbation of counts (the cell-key method).

Every child gets a **record key**, a number in [0, 1) derived deterministically from the keyed
pseudonym ``child_id`` (an HMAC-SHA256 hex string, :mod:`evaluation.data`); a cell's **cell
key** is the fractional part of the sum of the record keys of the distinct children in it; the
cell key picks the deviation added to the cell's count from the row of the perturbation table
(:mod:`evaluation.disclosure.ptable`) for that count. Hence the same set of children gets the
same noise in every table, report, period and municipality view, and the difference of two
cells that differ by one child is the true difference plus the difference of two noises, not
the true difference.

The noise is only as secret as the pseudonym key: without it a reader cannot compute record
keys. With another pseudonym key the noise changes (consistently across everything computed
with that key).

Examples
--------
>>> ids = ["9f" * 32, "1c" * 32, "7a" * 32, "e4" * 32, "05" * 32, "b3" * 32, "42" * 32]
>>> perturbed_count(ids) == perturbed_count(ids[::-1] + ids[:2])   # order, duplicates
True
>>> perturbed_count(ids[:3]) in (0, 5, 6)                          # never 1-4
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import pandas as pd

from evaluation.disclosure.ptable import default_table, validate_table
from evaluation.errors import ParameterError

__all__ = ["RECORD_KEY_BITS", "cell_key", "perturb_counts", "perturbed_count", "record_keys"]

#: Bits of a record key: keys are multiples of 2**-52 in [0, 1), so sums of them are exact.
RECORD_KEY_BITS = 52
_SCALE = 2 ** RECORD_KEY_BITS
#: Domain tag hashed before the pseudonym, so record keys are no other use's hash of it.
_DOMAIN = b"evaluation.disclosure.record-key.v1\x00"


def record_keys(ids: Iterable[str]) -> np.ndarray:
    """Record key in [0, 1) of each pseudonymised id.

    Parameters
    ----------
    ids : iterable of str
        Keyed pseudonyms (``child_id``), one per record; duplicates allowed.

    Returns
    -------
    numpy.ndarray
        Float64, one key per id in the order given: the first 52 bits of
        ``sha256(domain tag + id)`` divided by ``2**52`` (exact in float64).

    Raises
    ------
    ParameterError
        If an id is missing or not a string (pseudonymise first; never pass a personnummer).

    Notes
    -----
    The record key is a deterministic function of the pseudonym, so a child has the same key
    in every table and report computed with the same pseudonym key. SHA-256 of a uniformly
    random HMAC output gives keys that are uniform in [0, 1) for all practical purposes; the
    domain tag ``evaluation.disclosure.record-key.v1`` separates them from any other hash of
    the pseudonym.

    Examples
    --------
    >>> k = record_keys(["ab" * 32, "ab" * 32, "cd" * 32])
    >>> bool(k[0] == k[1]), bool(0 <= k.min() and k.max() < 1)
    (True, True)
    """
    if isinstance(ids, (str, bytes)):
        raise ParameterError("record_keys needs a list or Series of ids, not one string.",
                             parameter="ids")
    values = ids.to_numpy(dtype=object) if isinstance(ids, pd.Series) else np.asarray(
        list(ids), dtype=object)
    if values.size == 0:
        return np.zeros(0, dtype=np.float64)
    # Hash each distinct id once (a report asks for the same children cell after cell).
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if (codes < 0).any():
        bad = values[np.flatnonzero(codes < 0)[0]]
        raise ParameterError(f"Every id must be a non-empty pseudonym string, got {bad!r}; "
                             "pseudonymise the data first.", parameter="ids", value=bad)
    return _CACHE.lookup(np.asarray(uniques, dtype=object))[codes].astype(np.float64) / _SCALE


def _key_int(x: object) -> int:
    """The 52-bit integer record key of one id."""
    if not isinstance(x, str) or x == "":
        raise ParameterError(f"Every id must be a non-empty pseudonym string, got {x!r}; "
                             "pseudonymise the data first.", parameter="ids", value=x)
    digest = hashlib.sha256(_DOMAIN + x.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - RECORD_KEY_BITS)


class _KeyCache:
    """Integer record keys of the ids seen so far, looked up by a hash index (C speed), so
    that a report of hundreds of cells hashes each child once. Bounded: cleared past
    :attr:`limit` ids."""

    limit = 4_000_000

    def __init__(self) -> None:
        self.index = pd.Index([], dtype=object)
        self.keys = np.zeros(0, dtype=np.uint64)

    def lookup(self, ids: np.ndarray) -> np.ndarray:
        """Integer keys of distinct ``ids`` (object array of str), in their order."""
        pos = self.index.get_indexer(ids)
        new = pos < 0
        if new.any():
            fresh = ids[new]
            computed = np.fromiter((_key_int(x) for x in fresh), dtype=np.uint64,
                                   count=len(fresh))
            if len(self.index) + len(fresh) > self.limit:
                self.index, self.keys = pd.Index([], dtype=object), np.zeros(0, np.uint64)
            start = len(self.index)
            self.index = self.index.append(pd.Index(fresh, dtype=object))
            self.keys = np.concatenate([self.keys, computed])
            pos = pos.copy()
            pos[new] = np.arange(start, start + len(fresh))
        return self.keys[pos]


_CACHE = _KeyCache()


def cell_key(record_keys: Iterable[float]) -> float:
    """Cell key: the fractional part of the sum of the distinct record keys of a cell.

    Parameters
    ----------
    record_keys : array-like of float
        Record keys of the cell's records (:func:`record_keys`); repeated keys (the same child
        on several rows) count once.

    Returns
    -------
    float
        In [0, 1); NaN for a cell without records (it has no cell key; its count stays 0).

    Raises
    ------
    ParameterError
        If a key is missing or outside [0, 1).

    Notes
    -----
    Keys are used to :data:`RECORD_KEY_BITS` bits (exactly, for keys of :func:`record_keys`)
    and summed as integers modulo ``2**52``, so the cell key does not depend on the order of
    the records and has no rounding error. Works as a ``groupby(...).agg`` function.

    Examples
    --------
    >>> cell_key([0.75, 0.5, 0.75])
    0.25
    >>> cell_key([0.5, 0.75]) == cell_key([0.75, 0.5])
    True
    """
    k = np.asarray(record_keys, dtype=np.float64).ravel()
    if k.size == 0:
        return float("nan")
    if np.isnan(k).any() or (k < 0).any() or (k >= 1).any():
        raise ParameterError("Record keys must lie in [0, 1) without missing values; compute "
                             "them with record_keys().", parameter="record_keys")
    ints = np.unique(np.floor(k * _SCALE).astype(np.uint64))
    # uint64 wraps modulo 2**64, a multiple of 2**52: the sum modulo 2**52 stays exact.
    total = int(ints.sum(dtype=np.uint64)) % _SCALE
    return total / _SCALE


def _as_int_counts(counts: object) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64).ravel()
    if np.isnan(c).any() or (c < 0).any() or (c != np.round(c)).any():
        raise ParameterError("Counts to perturb must be non-negative whole numbers without "
                             "missing values.", parameter="counts")
    return c.astype(np.int64)


def perturb_counts(counts: object, cell_keys: object,
                   table: pd.DataFrame | None = None) -> np.ndarray | pd.Series:
    """Add the cell-key noise to counts.

    Parameters
    ----------
    counts : array-like or pandas.Series of int
        True counts (distinct children per cell), non-negative.
    cell_keys : array-like of float
        The cell key of each count (:func:`cell_key`), same length; NaN only where the count
        is 0.
    table : pandas.DataFrame, optional
        A perturbation table (:func:`~evaluation.disclosure.ptable.perturbation_table`);
        default the shipped one (:func:`~evaluation.disclosure.ptable.default_table`).

    Returns
    -------
    numpy.ndarray or pandas.Series
        The perturbed counts as int64, ``count + v`` where ``v`` is the deviation whose
        interval ``[p_lower, p_upper)`` in the row of the count contains the cell key; a Series
        (same index and name) when ``counts`` is one. Counts above the table's largest ``i``
        use that row. Zeros stay zero and no result is in ``1..js``.

    Raises
    ------
    ParameterError
        If counts are negative, fractional or missing, the lengths differ, a cell key of a
        positive count is missing or outside [0, 1), or the table is inconsistent.

    Examples
    --------
    >>> perturb_counts([0, 10, 10, 10], [float("nan"), 0.01, 0.5, 0.99]).tolist()
    [0, 8, 10, 12]
    """
    table = default_table() if table is None else table
    validate_table(table)
    c = _as_int_counts(counts)
    k = np.asarray(cell_keys, dtype=np.float64).ravel()
    if k.shape != c.shape:
        raise ParameterError(f"counts and cell_keys differ in length ({c.size} and {k.size}).",
                             parameter="cell_keys")
    pos = c > 0
    if np.isnan(k[pos]).any() or (k[pos] < 0).any() or (k[pos] >= 1).any():
        raise ParameterError("Every positive count needs a cell key in [0, 1); compute them "
                             "with cell_key().", parameter="cell_keys")
    i, dev = table["i"].to_numpy(), table["v"].to_numpy()
    upper = table["p_upper"].to_numpy()
    row = np.minimum(c, i[-1])
    v = np.zeros(c.size, dtype=np.int64)
    for r in np.unique(row[pos]):
        at = pos & (row == r)
        first, stop = np.searchsorted(i, [r, r + 1])
        v[at] = dev[first + np.searchsorted(upper[first:stop], k[at], side="right")]
    out = c + v
    if isinstance(counts, pd.Series):
        return pd.Series(out, index=counts.index, name=counts.name)
    return out


def perturbed_count(ids: Iterable[str], table: pd.DataFrame | None = None) -> int:
    """The perturbed count of one cell from the ids of its records.

    Parameters
    ----------
    ids : iterable of str
        Pseudonymised ``child_id`` of every record in the cell; a child on several records
        counts once.
    table : pandas.DataFrame, optional
        A perturbation table; default the shipped one.

    Returns
    -------
    int
        The number of distinct children plus the cell-key deviation (0 for no records).

    Raises
    ------
    ParameterError
        As :func:`record_keys` and :func:`perturb_counts`.

    Examples
    --------
    >>> perturbed_count([])
    0
    >>> perturbed_count(["ab" * 32] * 3)            # one child, published as 0
    0
    """
    if isinstance(ids, (str, bytes)):
        keys = record_keys(ids)  # refused there with a clear message
    else:
        keys = record_keys(pd.unique(np.asarray(list(ids) if not isinstance(ids, pd.Series)
                                                else ids.to_numpy(dtype=object), dtype=object)))
    n = len(keys)
    return int(perturb_counts([n], [cell_key(keys) if n else np.nan], table)[0])
