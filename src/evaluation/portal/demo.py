"""Synthetic demo cases for the portal (municipalities 0180 and 1480).

The cases come from :func:`evaluation.data.synth.generate`: pseudonymised already (their child
ids are pseudonyms under the public demo key, so they are not found by typing a number), with no
identity number anywhere.
"""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd

from evaluation.data.synth import generate
from evaluation.portal.registration import canonical_text

__all__ = ["DEMO_MUNICIPALITIES", "add_demo_cases"]

DEMO_MUNICIPALITIES = ("0180", "1480")


def _values(row: pd.Series, skip: set[str]) -> dict[str, str]:
    out = {}
    for k, v in row.items():
        if k in skip:
            continue
        t = canonical_text(v)
        if t:
            out[str(k)] = t
    return out


def add_demo_cases(n_children: int = 400, seed: int = 13) -> dict[str, int]:
    """Add synthetic episodes and follow-ups to the portal's database.

    Parameters
    ----------
    n_children : int, default 400
        Children in the synthetic data (two municipalities, very unequal in size).
    seed : int, default 13

    Returns
    -------
    dict
        Numbers added: ``episodes``, ``followups``.
    """
    from django.db import transaction

    from evaluation.portal.models import Episode, Followup

    data = generate(n_children=n_children, n_municipalities=len(DEMO_MUNICIPALITIES), seed=seed)
    eps = data.tables["episodes"]
    fus = data.tables["followups"]
    ids: dict[str, Any] = {}
    with transaction.atomic():
        objs = []
        for _, row in eps.iterrows():
            ep = Episode(id=uuid.uuid4(), child_id=str(row["child_id"]),
                         municipality_code=str(row["municipality_code"]),
                         values=_values(row, {"episode_id", "child_id", "municipality_code",
                                              "planned_ending"}),
                         submission_id=uuid.uuid4())
            ids[str(row["episode_id"])] = ep.id
            objs.append(ep)
        Episode.objects.bulk_create(objs, batch_size=500)
        fobjs = []
        for _, row in fus.iterrows():
            fobjs.append(Followup(
                episode_id=ids[str(row["episode_id"])],
                followup_date=pd.Timestamp(row["followup_date"]).date(),
                followup_type=str(row["followup_type"]),
                values=_values(row, {"episode_id", "followup_date", "followup_type"}),
                submission_id=uuid.uuid4()))
        Followup.objects.bulk_create(fobjs, batch_size=500)
    return {"episodes": len(objs), "followups": len(fobjs)}
