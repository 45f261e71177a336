"""Writing synthetic data: clean CSV files, ``truth.json`` and a deliberately messy raw extract.

:func:`write` writes the tables as the toolkit's own files (UTF-8, comma, ISO dates) and, on
request, ``raw/``: the episodes and referrals as a municipal case-management export would
look (identity numbers, Swedish labels, cp1252, ``;``, ~1 % bad rows) for testing reading,
validation and pseudonymisation.

Examples
--------
>>> import tempfile
>>> from evaluation.data.synth.generator import generate
>>> from evaluation.data.synth.raw import write
>>> with tempfile.TemporaryDirectory() as tmp:
...     sorted(write(generate(n_children=50, n_municipalities=2, seed=1), tmp, raw=True))
['episodes', 'followups', 'placements', 'raw/README', 'raw/episodes', 'raw/referrals', 'referrals', 'truth']
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.synth.generator import SynthData

__all__ = ["write"]


def _clean_strings(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """All columns as strings: ISO dates, true/false, '' for missing."""
    cols = load_dictionary().table(table)
    out = {}
    for name in df.columns:
        v = df[name]
        typ = cols[name].type if name in cols else "string"
        if typ == "date":
            s = v.dt.strftime("%Y-%m-%d")
        elif typ == "boolean":
            s = v.map({True: "true", False: "false"}, na_action="ignore")
        elif typ == "number":
            s = v.map(lambda x: f"{x:.2f}", na_action="ignore")
        else:
            s = v.astype("string")
        out[name] = s.astype(object).where(s.notna(), "")
    return pd.DataFrame(out)


def write(data: SynthData, out_dir: str | Path, raw: bool = False) -> dict[str, Path]:
    """Write the tables as CSV files and ``truth.json``; optionally a messy raw extract.

    Parameters
    ----------
    data : SynthData
        Output of :func:`generate`.
    out_dir : str or Path
        Directory (created if needed). Files: ``episodes.csv``, ``placements.csv``,
        ``followups.csv``, ``referrals.csv`` (UTF-8, comma, ISO dates, booleans
        ``true``/``false``, empty for missing) and ``truth.json``.
    raw : bool, default False
        Also write ``out_dir/raw/``: ``episodes.csv`` and ``referrals.csv`` as a municipal
        extract would look (identity numbers in mixed forms, Swedish labels, ``Ja``/``Nej``,
        cp1252, ``;``, decimal comma, some ``YYYYMMDD`` dates, ~1 % deliberately bad rows)
        plus ``README.txt`` describing the faults.

    Returns
    -------
    dict of str to Path
        Written files by name (``episodes``, ..., ``truth``, ``raw/episodes``, ...).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for t in TABLES:
        p = out / f"{t}.csv"
        _clean_strings(data.tables[t], t).to_csv(p, index=False, encoding="utf-8",
                                                 lineterminator="\n")
        paths[t] = p
    p = out / "truth.json"
    p.write_text(json.dumps(data.truth, sort_keys=True, indent=2, ensure_ascii=False) + "\n",
                 encoding="utf-8")
    paths["truth"] = p
    if raw:
        paths.update(_write_raw(data, out / "raw"))
    return paths


def _write_raw(data: SynthData, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    seed = int(data.truth.get("generated", {}).get("seed", 0))
    rng = np.random.default_rng([seed, 424242])
    d = load_dictionary()
    paths: dict[str, Path] = {}
    notes: list[str] = []
    for t in ("episodes", "referrals"):
        df = data.tables[t].copy()
        n = len(df)
        pnr = df["child_id"].map(data.raw_ids).astype(object).to_numpy()
        form = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
        pnr = np.where(form == 1, [p[2:] for p in pnr],
                       np.where(form == 2, [p.replace("-", "") for p in pnr], pnr))
        s = _clean_strings(df, t)
        cols = d.table(t)
        for name, c in cols.items():
            if name not in s.columns:
                continue
            if c.type == "code":
                lab = {x["code"]: x["sv"] for x in c.codes}
                v = s[name].map(lambda x, lab=lab: lab.get(x, x)).to_numpy(dtype=object)
                case = rng.choice(3, size=n, p=[0.7, 0.15, 0.15])
                v = np.array([x.upper() if k == 1 and x else x.lower() if k == 2 and x else x
                              for x, k in zip(v, case)], dtype=object)
                s[name] = v
            elif c.type == "boolean":
                s[name] = s[name].map({"true": "Ja", "false": "Nej", "": ""})
            elif c.type == "number":
                s[name] = s[name].str.replace(".", ",", regex=False)
            elif c.type == "date":
                compact = rng.random(n) < 0.25
                s[name] = np.where(compact, s[name].str.replace("-", "", regex=False), s[name])
        # Deliberately bad rows (~1 %).
        n_bad = min(n, max(3, round(0.01 * n)))
        bad = rng.choice(n, size=n_bad, replace=False)
        id_col = "episode_id" if t == "episodes" else "referral_id"
        kinds = ["bad check digit", "unknown code", "end before start"]
        if t == "referrals":
            kinds = ["bad check digit", "unknown code", "unknown code"]
        for j, row in enumerate(bad.tolist()):
            kind = kinds[j % 3]
            rid = s.at[row, id_col]
            if kind == "bad check digit":
                p = pnr[row]
                pnr[row] = p[:-1] + str((int(p[-1]) + 1) % 10)
            elif kind == "unknown code":
                col = "placement_type" if t == "episodes" else "referral_type"
                s.at[row, col] = "Internatskola" if t == "episodes" else "Telefonsamtal"
            else:
                if s.at[row, "end_date"] == "":
                    kind = "unknown code"
                    s.at[row, "placement_type"] = "Internatskola"
                else:
                    sd = df.at[row, "start_date"]
                    s.at[row, "end_date"] = (sd - pd.Timedelta(days=int(rng.integers(1, 60)))
                                             ).strftime("%Y-%m-%d")
            notes.append(f"{t}.csv  {id_col}={rid}  {kind}")
        s = s.drop(columns=[c for c in ("child_id", "sex", "birth_year") if c in s.columns])
        s.insert(1, "personnummer", pnr)
        p = out / f"{t}.csv"
        text = s.to_csv(index=False, sep=";", lineterminator="\r\n")
        p.write_bytes(text.encode("cp1252"))
        paths[f"raw/{t}"] = p
    readme = out / "README.txt"
    lines = [
        "Raw synthetic extract (evaluation.data.synth.write(raw=True)) - ALL DATA ARE SYNTHETIC.",
        "",
        "Looks like a municipal case-management export: cp1252, ';' delimiter, CRLF,",
        "a 'personnummer' column (synthetic numbers in the forms YYYYMMDD-NNNC, YYMMDD-NNNC",
        "and YYYYMMDDNNNC) instead of child_id/sex/birth_year, coded columns as Swedish",
        "labels in mixed case, booleans Ja/Nej, decimal comma in daily_cost_sek, and about a",
        "quarter of the dates as YYYYMMDD.",
        "",
        "Deliberately bad rows (about 1 % of rows per file; a validator should flag them):",
        *[f"  {x}" for x in notes],
        "",
        "Kinds: 'bad check digit' = last digit of personnummer changed (Luhn fails);",
        "'unknown code' = label not in the data dictionary; 'end before start' = end_date",
        "earlier than start_date.",
    ]
    readme.write_text("\n".join(lines) + "\n", encoding="utf-8")
    paths["raw/README"] = readme
    return paths
