"""The pseudonymisation key of a running portal and the one place a number becomes a pseudonym.

The key is loaded by ``evaluation portal serve`` (``--key-file`` or ``$EVALUATION_KEY``, as for
``evaluation pseudonymise``) and kept in this process only: not in Django's settings, never
logged. The typed number is parsed and hashed at once; only the pseudonym, the sex and the
birth year derived from it are kept (in the session, then on the episode).
"""

from __future__ import annotations

from typing import Any

from evaluation.data.pseudonymise import pseudonymise_id
from evaluation.errors import PseudonymKeyError

__all__ = ["child_from_number", "has_key", "set_key"]

_KEY: dict[str, bytes | None] = {"key": None}


def set_key(key: bytes | None) -> None:
    """Install (or, with None, remove) the pseudonymisation key of this process."""
    _KEY["key"] = key


def has_key() -> bool:
    """True when a key is installed."""
    return _KEY["key"] is not None


def child_from_number(number: Any) -> dict[str, Any]:
    """Pseudonym, sex and birth year of a parsed number.

    Parameters
    ----------
    number : evaluation.data.pseudonymise.PersonNumber
        As returned by :func:`~evaluation.data.pseudonymise.parse_personnummer`.

    Returns
    -------
    dict
        ``child_id`` (HMAC-SHA256 hex, as ``evaluation pseudonymise`` makes it), ``sex`` and
        ``birth_year``. The number itself is not in it.

    Raises
    ------
    PseudonymKeyError
        If no key is installed.
    """
    key = _KEY["key"]
    if key is None:
        raise PseudonymKeyError(
            "Portalen saknar pseudonymiseringsnyckel; starta den med --key-file eller "
            "$EVALUATION_KEY. / The portal has no pseudonymisation key; start it with "
            "--key-file or $EVALUATION_KEY.")
    return {"child_id": pseudonymise_id(number.normalised, key), "sex": number.sex,
            "birth_year": int(number.birth_year)}
