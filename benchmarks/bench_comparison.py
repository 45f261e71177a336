"""Benchmark of ``evaluation.comparison.risk_standardised`` at national scale, and coverage.

Random data from the model itself: ``--units`` units with very unequal sizes (log-normal,
at least 1 episode), ``--rows`` episodes in all, 6 case-mix columns (age group with 3
levels, sex, LVU, HVB/SiS, two problem flags), true random-intercept SD 0.3. Prints the wall
time of one fit with 1,000 simulation draws (target: < 30 s on 2 cores) and, with
``--coverage R``, the share of units whose interval covers the true risk-standardised rate
(true beta and unit effects, the realised overall rate) over R smaller replicates.

    .venv/bin/python benchmarks/bench_comparison.py [--rows 30000] [--units 290] [--seed 1]
        [--coverage 0]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from scipy import special

from evaluation.comparison import risk_standardised

CASE_MIX = ["age_group", "sex", "lvu", "institution", "criminality", "substance"]
BETA = {"intercept": -1.8, "age_group13-15": 0.4, "age_group16-20": 0.6, "sexM": 0.1,
        "lvu": 0.2, "institution": 0.4, "criminality": 0.6, "substance": 0.5}
SIGMA = 0.3


def make_data(rows: int, units: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Episodes, the true unit effects and the true linear predictor without them."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 1.3, units)
    n = np.maximum(1, np.round(size / size.sum() * rows)).astype(int)
    unit = np.repeat(np.arange(units), n)
    m = len(unit)
    age = rng.choice(["0-12", "13-15", "16-20"], m, p=[0.35, 0.3, 0.35])
    crim = rng.random(m) < np.where(age == "0-12", 0.03, 0.25)
    d = pd.DataFrame({
        "unit": [f"K{u:03d}" for u in unit], "age_group": age,
        "sex": rng.choice(["F", "M"], m, p=[0.45, 0.55]),
        "lvu": (rng.random(m) < 0.3).astype(int),
        "institution": (rng.random(m) < np.where(crim, 0.6, 0.2)).astype(int),
        "criminality": crim.astype(int),
        "substance": (rng.random(m) < np.where(age == "0-12", 0.01, 0.15)).astype(int)})
    lin = (BETA["intercept"] + BETA["age_group13-15"] * (age == "13-15")
           + BETA["age_group16-20"] * (age == "16-20") + BETA["sexM"] * (d["sex"] == "M")
           + sum(BETA[c] * d[c] for c in ("lvu", "institution", "criminality", "substance")))
    lin = np.asarray(lin, dtype=float)
    b = rng.normal(0.0, SIGMA, units)
    d["y"] = (rng.random(m) < special.expit(lin + b[unit])).astype(int)
    return d, b, lin


def true_rsr(d: pd.DataFrame, b: np.ndarray, lin: np.ndarray) -> np.ndarray:
    unit = d["unit"].str[1:].astype(int).to_numpy()
    pred = np.bincount(unit, special.expit(lin + b[unit]))
    exp = np.bincount(unit, special.expit(lin))
    return pred / exp * d["y"].mean()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--units", type=int, default=290)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--coverage", type=int, default=0,
                        help="replicates (of 3,000 rows, 60 units) for interval coverage")
    args = parser.parse_args(argv)

    d, _, _ = make_data(args.rows, args.units, args.seed)
    start, cpu = time.perf_counter(), time.process_time()
    fit = risk_standardised(d, "y", "unit", CASE_MIX, reference={"age_group": "0-12"})
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    s = fit.summary
    print(f"rows={len(d)} units={len(s)} events={int(d['y'].sum())} "
          f"smallest unit={int(s['n'].min())} largest={int(s['n'].max())}")
    print(f"risk_standardised (1000 draws): {elapsed:.2f} s wall, {cpu:.2f} s CPU; sigma={fit.sigma_:.3f} "
          f"(true {SIGMA}); flags={s['flag'].value_counts().to_dict()}")
    if args.coverage:
        covered, total, flagged = 0, 0, 0
        for r in range(args.coverage):
            d, b, lin = make_data(3000, 60, 1000 + r)
            res = risk_standardised(d, "y", "unit", CASE_MIX, reference={"age_group": "0-12"},
                                    n_sims=500)
            truth = true_rsr(d, b, lin)
            s = res.summary
            covered += int(((s["ci_lower"] <= truth) & (truth <= s["ci_upper"])).sum())
            total += len(s)
            flagged += int((s["flag"] != "no different").sum())
        print(f"coverage of the true rsr by the 95 % intervals: {covered / total:.3f} "
              f"({total} units in {args.coverage} replicates); flagged share "
              f"{flagged / total:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
