"""Cross-table rules of validation: episodes of a child must not overlap, placements and
follow-ups need an accepted episode, follow-ups fall inside their episode and placements tile
it. Offending rows move from ``accepted`` to ``quarantine``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.dictionary import load_dictionary
from evaluation.data.rules import MAX_VALUE_CHARS, ValidationResult, display_value, problems_frame
from evaluation.data.safe_text import mask_identity_numbers

__all__ = ["move_to_quarantine", "validate_dataset"]


def move_to_quarantine(
    res: ValidationResult,
    mask: pd.Series | np.ndarray,
    rule: str,
    column: str,
    messages: dict[int, tuple[str, str]] | tuple[str, str],
) -> ValidationResult:
    """Move accepted rows where ``mask`` is true to quarantine (and problems)."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return res
    d = load_dictionary()
    cols = d.table(res.table)
    moved = res.accepted.loc[mask]
    items = []
    for idx, rec in moved.iterrows():
        sv, en = messages[idx] if isinstance(messages, dict) else messages
        items.append(
            {
                "source_file": rec["_source"],
                "row": int(rec["_row"]),
                "table": res.table,
                "column": column,
                "value": mask_identity_numbers(display_value(rec.get(column), cols.get(column)))[
                    :MAX_VALUE_CHARS
                ],
                "rule": rule,
                "message_sv": sv,
                "message_en": en,
            }
        )
    new = problems_frame(items)
    ids = dict(res.quarantined_ids)
    key = d.primary_key(res.table)[0]
    for rec in _moved_ids(moved, key):
        ids.setdefault(rec[0], (rec[1], rec[2], rule))
    quarantine = pd.concat([res.quarantine, new], ignore_index=True) if len(res.quarantine) else new
    problems = pd.concat([res.problems, new], ignore_index=True) if len(res.problems) else new
    return ValidationResult(
        table=res.table,
        accepted=res.accepted.loc[~mask].reset_index(drop=True),
        quarantine=quarantine,
        problems=problems,
        n_read=res.n_read,
        source=res.source,
        extra_columns=res.extra_columns,
        quarantined_ids=ids,
    )


def _moved_ids(moved: pd.DataFrame, key: str) -> list[tuple[str, str, int]]:
    """``(id, source_file, row)`` of moved rows with a filled ``key``."""
    if key not in moved:
        return []
    return [
        (str(rec[key]).strip(), str(rec["_source"]), int(rec["_row"]))
        for _, rec in moved.iterrows()
        if pd.notna(rec[key]) and str(rec[key]).strip()
    ]


def _missing_episode_messages(
    ids: pd.Series, rejected: dict[str, tuple[str, int, str]], episodes_source: str
) -> dict[Any, tuple[str, str]]:
    """Per row: whether its episode was quarantined (and where) or is absent altogether."""
    out: dict[Any, tuple[str, str]] = {}
    for idx, eid in ids.items():
        e = "" if pd.isna(eid) else str(eid).strip()
        if e in rejected:
            src, row, rule = rejected[e]
            out[idx] = (
                (
                    f"Episoden {e} är inte godkänd: den sattes i karantän i {src}, rad {row} "
                    f"(regel {rule}; se quarantine.csv). Rätta episoden så godkänns även "
                    "denna rad"
                ),
                (
                    f"Episode {e} was not accepted: it was quarantined in {src}, row {row} "
                    f"(rule {rule}; see quarantine.csv). Correct the episode and this row is "
                    "accepted too"
                ),
            )
        else:
            out[idx] = (
                f"Episoden {e} finns inte i episodfilen ({episodes_source})",
                f"Episode {e} is not in the episodes file ({episodes_source})",
            )
    return out


def _day(ts: Any) -> str:
    return "" if pd.isna(ts) else pd.Timestamp(ts).strftime("%Y-%m-%d")


def validate_dataset(results: dict[str, ValidationResult]) -> dict[str, ValidationResult]:
    """Apply the cross-table rules, moving offending rows from accepted to quarantine.

    Parameters
    ----------
    results : dict of str to ValidationResult
        Per-table results of :func:`validate_table`.

    Returns
    -------
    dict of str to ValidationResult
        New results (inputs are not modified); ``accepted + quarantine == n_read`` still holds
        per table.

    Notes
    -----
    Order: ``no_overlapping_episodes`` (per child, sorted by start date; an episode starting
    before the end of the previous kept one, open end = infinity, is quarantined), then
    ``episode_exists`` (placements and follow-ups whose episode is not accepted),
    ``followup_within_episode`` and ``placements_tile_episode`` (all placements of an episode
    are quarantined when they do not tile it; the episode stays). Without an episodes table
    the placement and follow-up rules are skipped. Children are identified by ``child_id``
    (validation refuses tables holding identity numbers). Every quarantine and problems row
    passes through :func:`evaluation.data.safe_text.mask_identity_numbers`.
    """
    out = dict(results)
    ep = out.get("episodes")
    if ep is None:
        return out

    acc = ep.accepted
    child = acc["child_id"] if "child_id" in acc else pd.Series(np.nan, index=acc.index)
    far = pd.Timestamp.max
    viol = np.zeros(len(acc), dtype=bool)
    msgs: dict[int, tuple[str, str]] = {}
    # Fast vectorised pre-filter on children as integer codes: only children with a start
    # before the latest end of an earlier episode, or with two episodes starting the same day
    # (whose order the episode id decides), can violate the rule; the exact loop below runs
    # on those alone, in the order (child, start date, episode id).
    codes = pd.Series(pd.factorize(child.to_numpy(dtype=object))[0], index=acc.index)
    pre = pd.DataFrame({"_child": codes, "start_date": acc["start_date"],
                        "end_date": acc["end_date"]})
    pre = pre[pre["_child"] >= 0].sort_values(["_child", "start_date"], kind="mergesort")
    ends = pre["end_date"].fillna(far)
    prev_max = ends.groupby(pre["_child"], sort=False).shift().groupby(
        pre["_child"], sort=False
    ).cummax()
    same_day = pre.duplicated(["_child", "start_date"], keep=False)
    suspects = pre.loc[(pre["start_date"] < prev_max).fillna(False) | same_day, "_child"]
    sel = codes.isin(suspects.unique()).to_numpy()
    order = acc.loc[sel].assign(_child=child.to_numpy(dtype=object)[sel]).sort_values(
        ["_child", "start_date", "episode_id"], kind="mergesort"
    )
    for _, grp in order.groupby("_child", sort=False):
        prev_end, prev_id = None, None
        for idx, rec in grp.iterrows():
            if prev_end is not None and rec["start_date"] < prev_end:
                viol[acc.index.get_loc(idx)] = True
                msgs[idx] = (
                    (
                        f"Episoden börjar {_day(rec['start_date'])}, innan barnets episod "
                        f"{prev_id} slutar"
                    ),
                    (
                        f"The episode starts {_day(rec['start_date'])}, before the child's episode "
                        f"{prev_id} ends"
                    ),
                )
                continue
            prev_end = far if pd.isna(rec["end_date"]) else rec["end_date"]
            prev_id = rec["episode_id"]
    out["episodes"] = move_to_quarantine(ep, viol, "no_overlapping_episodes", "start_date", msgs)
    episodes = out["episodes"].accepted.set_index("episode_id")

    for t in ("placements", "followups"):
        res = out.get(t)
        if res is None:
            continue
        missing = ~res.accepted["episode_id"].isin(episodes.index)
        msgs = _missing_episode_messages(
            res.accepted.loc[missing, "episode_id"],
            out["episodes"].quarantined_ids,
            out["episodes"].source or "episodes",
        )
        out[t] = move_to_quarantine(
            res, missing.to_numpy(), "episode_exists", "episode_id", msgs
        )

    fu = out.get("followups")
    if fu is not None and len(fu.accepted):
        a = fu.accepted
        st = a["episode_id"].map(episodes["start_date"])
        en = a["episode_id"].map(episodes["end_date"])
        viol = (a["followup_date"] < st) | (en.notna() & (a["followup_date"] > en))
        msgs = {
            idx: (
                (
                    f"Uppföljningen {_day(a.at[idx, 'followup_date'])} ligger utanför episoden "
                    f"{_day(st[idx])}–{_day(en[idx])}"
                ),
                (
                    f"The follow-up {_day(a.at[idx, 'followup_date'])} falls outside the episode "
                    f"{_day(st[idx])}–{_day(en[idx])}"
                ),
            )
            for idx in a.index[viol.to_numpy()]
        }
        out["followups"] = move_to_quarantine(
            fu, viol.to_numpy(), "followup_within_episode", "followup_date", msgs
        )

    pl = out.get("placements")
    if pl is not None and len(pl.accepted):
        a = pl.accepted
        viol = np.zeros(len(a), dtype=bool)
        msgs = {}
        one_day = pd.Timedelta(days=1)
        # Fast vectorised pre-filter; the exact loop (which writes the messages) runs only on
        # episodes where some placement fails one of the checks.
        srt = a.sort_values(["episode_id", "placement_seq"], kind="mergesort")
        g = srt.groupby("episode_id", sort=False)
        pos = g.cumcount() + 1
        size = g["placement_seq"].transform("size")
        e_start = srt["episode_id"].map(episodes["start_date"])
        e_end = srt["episode_id"].map(episodes["end_date"])
        gap = srt["start_date"] - g["end_date"].shift()
        ok = (
            (srt["placement_seq"].astype("int64") == pos)
            & ((pos != 1) | (srt["start_date"] == e_start))
            & ((pos == 1) | gap.isin([pd.Timedelta(0), one_day]))
            & (
                (pos != size)
                | (srt["end_date"].isna() & e_end.isna())
                | (srt["end_date"] == e_end)
            )
        )
        bad_episodes = srt.loc[~ok.to_numpy(), "episode_id"].unique()
        for eid, grp in a[a["episode_id"].isin(bad_episodes)].groupby("episode_id", sort=False):
            grp = grp.sort_values("placement_seq")
            e_start = episodes.at[eid, "start_date"]
            e_end = episodes.at[eid, "end_date"]
            reason = None
            seqs = grp["placement_seq"].astype(int).tolist()
            if seqs != list(range(1, len(seqs) + 1)):
                reason = (
                    f"ordningsnumren {seqs} är inte 1..{len(seqs)}",
                    f"sequence numbers {seqs} are not 1..{len(seqs)}",
                )
            elif grp["start_date"].iloc[0] != e_start:
                reason = (
                    (
                        f"första placeringen börjar {_day(grp['start_date'].iloc[0])}, "
                        f"episoden {_day(e_start)}"
                    ),
                    (
                        f"the first placement starts {_day(grp['start_date'].iloc[0])}, "
                        f"the episode {_day(e_start)}"
                    ),
                )
            else:
                starts, ends = grp["start_date"].tolist(), grp["end_date"].tolist()
                for i in range(1, len(starts)):
                    gap = None if pd.isna(ends[i - 1]) else starts[i] - ends[i - 1]
                    if gap is None or gap not in (pd.Timedelta(0), one_day):
                        reason = (
                            (
                                f"placering {i + 1} börjar {_day(starts[i])} men placering {i} "
                                f"slutar {_day(ends[i - 1]) or 'aldrig'}"
                            ),
                            (
                                f"placement {i + 1} starts {_day(starts[i])} but placement {i} "
                                f"ends {_day(ends[i - 1]) or 'never'}"
                            ),
                        )
                        break
                if reason is None:
                    last = ends[-1]
                    if not (
                        (pd.isna(last) and pd.isna(e_end))
                        or (pd.notna(last) and pd.notna(e_end) and last == e_end)
                    ):
                        reason = (
                            (
                                f"sista placeringen slutar {_day(last) or 'aldrig'}, episoden "
                                f"{_day(e_end) or 'pågår'}"
                            ),
                            (
                                f"the last placement ends {_day(last) or 'never'}, the episode "
                                f"{_day(e_end) or 'is ongoing'}"
                            ),
                        )
            if reason is not None:
                for idx in grp.index:
                    viol[a.index.get_loc(idx)] = True
                    msgs[idx] = (
                        f"Placeringarna fyller inte episoden {eid}: {reason[0]}",
                        f"The placements do not tile episode {eid}: {reason[1]}",
                    )
        out["placements"] = move_to_quarantine(pl, viol, "placements_tile_episode", "episode_id", msgs)
    return out
