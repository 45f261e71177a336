"""Disclosure control: small-count suppression and the cell-key perturbation kernel.

Part of the base of the package (beside :mod:`evaluation.errors` and :mod:`evaluation.checks`);
it imports nothing else of the package.

- :mod:`evaluation.disclosure.suppression` — primary and secondary suppression of small counts
  (``"<5"``, ``".."``) and the rate rule, used by every report today;
- :mod:`evaluation.disclosure.ptable` — the perturbation table of the cell-key method, built
  from its parameters (maximum deviation ``D``, variance ``V``, threshold) and kept as data;
- :mod:`evaluation.disclosure.policy` — publication (default) or internal mode and the one
  gate every published count passes (:class:`DisclosurePolicy`);
- :mod:`evaluation.disclosure.cellkey` — record keys from the keyed pseudonym, cell keys and the
  perturbation of counts, so that the same set of children gets the same noise everywhere.
"""

from __future__ import annotations

from evaluation.disclosure.cellkey import (
    RECORD_KEY_BITS,
    cell_key,
    perturb_counts,
    perturbed_count,
    record_keys,
)
from evaluation.disclosure.policy import MODES, DisclosurePolicy, month_period
from evaluation.disclosure.ptable import (
    DEFAULT_MAX_DEVIATION,
    DEFAULT_PTABLE_FILE,
    DEFAULT_THRESHOLD,
    DEFAULT_VARIANCE,
    default_table,
    load_table,
    perturbation_table,
    save_table,
    table_summary,
    validate_table,
)
from evaluation.disclosure.suppression import (
    SECONDARY_MARK,
    ProtectedTable,
    protect_counts,
    protect_rates,
)

__all__ = [
    "DEFAULT_MAX_DEVIATION",
    "DEFAULT_PTABLE_FILE",
    "DEFAULT_THRESHOLD",
    "DEFAULT_VARIANCE",
    "MODES",
    "RECORD_KEY_BITS",
    "SECONDARY_MARK",
    "DisclosurePolicy",
    "ProtectedTable",
    "cell_key",
    "default_table",
    "load_table",
    "month_period",
    "perturb_counts",
    "perturbation_table",
    "perturbed_count",
    "protect_counts",
    "protect_rates",
    "record_keys",
    "save_table",
    "table_summary",
    "validate_table",
]
