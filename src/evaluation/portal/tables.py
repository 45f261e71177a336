"""From the portal's database to the toolkit's tables.

:func:`export_tables` writes the four tables exactly as ``evaluation validate`` writes them: the
rows are dumped as a raw extract into a private temporary folder and passed through
:func:`evaluation.data.validate.validate_files`, so every report runs on an export and any row
the validator would refuse lands in ``quarantine.csv`` as usual. :func:`overview_source` loads
the same validated tables for the live overview (cached until the next registration).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.load import load_tables
from evaluation.data.validate import ValidationSummary, validate_files

__all__ = [
    "episode_row",
    "export_tables",
    "followup_row",
    "overview_source",
    "placement_row",
    "raw_frames",
]


def episode_row(episode: Any) -> dict[str, str]:
    """The ``episodes`` row of an episode (text cells)."""
    return {"episode_id": episode.episode_id, "child_id": episode.child_id,
            "municipality_code": episode.municipality_code, **episode.values}


def placement_row(episode: Any) -> dict[str, str]:
    """The one ``placements`` row of an episode: the portal registers no moves, so the
    episode is one placement (sequence 1) of its placement type and provider."""
    v = episode.values
    row = {"episode_id": episode.episode_id, "placement_seq": "1",
           "start_date": v.get("start_date", ""), "end_date": v.get("end_date", ""),
           "placement_type": v.get("placement_type", ""), "provider": v.get("provider", "")}
    return {k: x for k, x in row.items() if x}


def followup_row(followup: Any) -> dict[str, str]:
    """The ``followups`` row of a follow-up or ending assessment."""
    return {"episode_id": followup.episode.episode_id,
            "followup_date": followup.followup_date.isoformat(),
            "followup_type": followup.followup_type, **followup.values}


def raw_frames(episodes: Any) -> dict[str, pd.DataFrame]:
    """Raw text frames of the four tables for a queryset of episodes.

    Parameters
    ----------
    episodes : QuerySet of Episode

    Returns
    -------
    dict of str to pandas.DataFrame
        ``episodes``, ``placements``, ``followups`` and ``referrals`` (the portal registers
        no referrals: header only), columns in dictionary order.
    """
    from evaluation.portal.models import Followup

    eps = list(episodes.order_by("created_at", "id"))
    fus = list(Followup.objects.filter(episode__in=[e.pk for e in eps])
               .select_related("episode").order_by("created_at", "id")) if eps else []
    rows = {
        "episodes": [episode_row(e) for e in eps],
        "placements": [placement_row(e) for e in eps],
        "followups": [followup_row(f) for f in fus],
        "referrals": [],
    }
    dic = load_dictionary()
    out = {}
    for table in TABLES:
        cols = [c for c in dic.table(table) if not dic.column(table, c).is_direct_identifier]
        out[table] = pd.DataFrame(rows[table], columns=cols, dtype=object)
    return out


def export_tables(episodes: Any, out_dir: str | Path) -> ValidationSummary:
    """Write the validated tables of ``episodes`` to ``out_dir``.

    Parameters
    ----------
    episodes : QuerySet of Episode
        Already scoped to what the caller may export.
    out_dir : str or Path
        Output folder: ``episodes.csv``, ``placements.csv``, ``followups.csv``,
        ``referrals.csv``, ``quarantine.csv`` and ``problems.csv``, as ``evaluation validate``
        writes them.

    Returns
    -------
    ValidationSummary
    """
    from django.db import transaction

    with transaction.atomic():   # one consistent snapshot
        frames = raw_frames(episodes)
    with tempfile.TemporaryDirectory(prefix="portal-export-") as tmp:
        paths = []
        for table, df in frames.items():
            p = Path(tmp) / f"{table}.csv"
            df.to_csv(p, index=False, encoding="utf-8")
            paths.append(p)
        return validate_files(paths, out_dir, progress=False)


_CACHE: dict[str, Any] = {"state": None, "tables": None}
_LOCK = threading.Lock()


def _state() -> tuple[Any, ...]:
    from django.db.models import Count, Max

    from evaluation.portal.models import Episode, Followup

    e = Episode.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    f = Followup.objects.aggregate(n=Count("id"), at=Max("updated_at"))
    return e["n"], e["at"], f["n"], f["at"]


def overview_source() -> dict[str, pd.DataFrame] | None:
    """Validated tables of the whole service for the live overview (None without episodes).

    The tables are rebuilt only when an episode or follow-up was added or changed since the
    last call (one cache per process).
    """
    from evaluation.portal.models import Episode

    state = _state()
    with _LOCK:
        if _CACHE["state"] == state:
            return _CACHE["tables"]
        if not state[0]:
            tables = None
        else:
            with tempfile.TemporaryDirectory(prefix="portal-overview-") as tmp:
                export_tables(Episode.objects.all(), tmp)
                tables = load_tables(tmp)
        _CACHE.update(state=state, tables=tables)
        return tables
