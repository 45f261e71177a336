"""Benchmark: AIPW (ATE) with influence-function SEs on 500,000 episodes x 15 covariates.

Run: ``.venv/bin/python benchmarks/bench_effects.py [n_rows]``. Target: < 10 s on 2 cores.
Prints the data size, the wall-clock time of :func:`evaluation.models.effects.estimate_effect` and
the estimate.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

from evaluation.models.effects import estimate_effect


def make_data(n: int, seed: int = 1) -> tuple[pd.DataFrame, list[str]]:
    """n episodes: 12 numeric, 2 binary and one 4-level categorical covariate (15 columns,
    17 design columns), a binary treatment, a binary outcome and a child cluster id."""
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n, 12))
    df = pd.DataFrame(num, columns=[f"x{j}" for j in range(12)])
    df["b0"] = rng.random(n) < 0.3
    df["b1"] = rng.random(n) < 0.6
    df["placement"] = pd.Categorical(rng.choice(["FH", "NH", "HVB", "SIS"], n,
                                                p=[0.6, 0.2, 0.15, 0.05]))
    lp = -0.5 + num[:, :6] @ np.linspace(0.3, -0.2, 6) + 0.5 * df["b0"] \
        + 0.8 * (df["placement"] == "HVB")
    df["treated"] = rng.random(n) < 1 / (1 + np.exp(-lp))
    ly = -1 + num[:, 3:9] @ np.linspace(-0.2, 0.3, 6) + 0.4 * df["treated"] + 0.3 * df["b1"]
    df["breakdown"] = rng.random(n) < 1 / (1 + np.exp(-ly))
    df["child"] = rng.integers(0, int(n * 0.8), n)
    covs = [f"x{j}" for j in range(12)] + ["b0", "b1", "placement"]
    return df, covs


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    df, covs = make_data(n)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = estimate_effect(df, "treated", "breakdown", covs, method="aipw", estimand="ATE",
                              cluster_col="child")
    elapsed = time.perf_counter() - t0
    rd = fit.summary.iloc[0]
    print(f"rows={n:,} covariates={len(covs)} (design columns {len(fit.metadata['covariates'])})")
    print(f"estimate_effect aipw ATE, clustered IF SEs: {elapsed:.2f} s")
    print(f"risk difference {rd['estimate']:.4f} (se {rd['se']:.4f})")


if __name__ == "__main__":
    main()
