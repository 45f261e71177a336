"""Benchmark of ``evaluation.models.finegray.fine_gray`` against R ``cmprsk::crr``.

Random episodes from a Fine–Gray model (Fine & Gray 1999, section 5 design, times in
days so that event times tie heavily): 500,000 rows x 8 covariate columns (5 numeric or
boolean, one 4-level placement type = 3 dummies), causes 1 (unplanned ending, the event of
interest) and 2 (planned ending), uniform censoring. Prints the wall time of one
``fine_gray`` fit (estimates + crr sandwich variance). Target: < 30 s on 2 cores.

If ``Rscript`` with cmprsk is available, fits ``crr`` on the first ``--r-rows`` rows
(default 20,000; crr's Fortran is O(n^2) per iteration and its variance slower still:
about 7 minutes on a loaded 2-core machine), times it, fits ours on the same rows and
prints the maximum relative differences of estimates and standard errors.
``--r-full`` runs crr on all rows instead (hours at 500,000 rows).

    .venv/bin/python benchmarks/bench_finegray.py [--rows 500000] [--r-rows 20000]
        [--r-full] [--no-r] [--seed 1]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.models.finegray import fine_gray

TRUE_LOG_SHR = {"age": 0.04, "boy": 0.2, "lvu": 0.3, "criminality": 0.5, "x_noise": 0.0,
                "placementHVB": 0.4, "placementNH": -0.2, "placementSIS": 0.6}
COVARIATES = ["age", "boy", "lvu", "criminality", "x_noise", "placement"]

R_SCRIPT = r"""
suppressPackageStartupMessages(library(cmprsk))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1], stringsAsFactors = TRUE)
x <- model.matrix(~ age + boy + lvu + criminality + x_noise + placement, data = d)[, -1]
elapsed <- system.time(fit <- crr(d$days, d$cause, x, failcode = 1, cencode = 0,
                                  gtol = 1e-10, maxiter = 50))[["elapsed"]]
write.csv(data.frame(term = names(fit$coef), coef = unname(fit$coef),
                     se = sqrt(diag(fit$var)), elapsed = elapsed, converged = fit$converged),
          args[2], row.names = FALSE)
"""


def make_data(rows: int, seed: int) -> pd.DataFrame:
    """Episodes whose cumulative incidence of cause 1 follows a Fine–Gray model with
    log subdistribution hazard ratios ``TRUE_LOG_SHR``: P(cause 1 | x) = 1 - (1 - p)^exp(xb)
    with p = 0.35; given cause 1, F1(t | x) = 1 - (1 - p (1 - exp(-t / 400)))^exp(xb)."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(0, 18, rows).astype(float),
        "boy": rng.random(rows) < 0.55,
        "lvu": (rng.random(rows) < 0.3).astype(int),
        "criminality": (rng.random(rows) < 0.15).astype(int),
        "x_noise": rng.normal(size=rows),
        "placement": rng.choice(["FH", "HVB", "NH", "SIS"], rows, p=[0.55, 0.25, 0.15, 0.05]),
    })
    b = TRUE_LOG_SHR
    lp = (b["age"] * (df["age"] - 9) + b["boy"] * df["boy"] + b["lvu"] * df["lvu"]
          + b["criminality"] * df["criminality"]
          + df["placement"].map({"FH": 0.0, "HVB": b["placementHVB"], "NH": b["placementNH"],
                                 "SIS": b["placementSIS"]})).to_numpy(dtype=float)
    p = 0.35
    u = rng.random(rows)
    cause1 = u < 1 - (1 - p) ** np.exp(lp)
    inner = 1 - (1 - u) ** np.exp(-lp)
    t1 = -400 * np.log(1 - np.minimum(inner / p, 1 - 1e-12))
    t2 = rng.exponential(600 * np.exp(-0.3 * df["lvu"].to_numpy()), rows)
    t = np.ceil(np.where(cause1, t1, t2))
    cens = rng.integers(30, 1500, rows)
    df["days"] = np.minimum(t, cens)
    df["cause"] = np.where(t <= cens, np.where(cause1, 1, 2), 0)
    return df


def _fit(df: pd.DataFrame):
    start = time.perf_counter()
    fit = fine_gray(df, "days", "cause", 1, COVARIATES)
    return fit, time.perf_counter() - start


def _run_r(df: pd.DataFrame) -> pd.DataFrame | None:
    if shutil.which("Rscript") is None:
        print("Rscript not found: skipping the comparison with cmprsk::crr")
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, out, script = (Path(tmp) / n for n in ("data.csv", "out.csv", "crr.R"))
        df.assign(boy=df["boy"].astype(int)).to_csv(data, index=False)
        script.write_text(R_SCRIPT)
        res = subprocess.run(["Rscript", str(script), str(data), str(out)],
                             check=False, capture_output=True, text=True)
        if res.returncode != 0:
            print(f"Rscript failed (is cmprsk installed?):\n{res.stderr}")
            return None
        return pd.read_csv(out)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--r-rows", type=int, default=20_000)
    parser.add_argument("--r-full", action="store_true", help="run crr on all rows (slow)")
    parser.add_argument("--no-r", action="store_true", help="skip the comparison with R")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    df = make_data(args.rows, args.seed)
    fit, elapsed = _fit(df)
    m = fit.metadata
    print(f"fine_gray: {elapsed:.2f} s for {args.rows:,} rows x {len(m['covariates'])} "
          f"covariates, {m['n_events']:,} events of interest, {m['n_competing']:,} competing, "
          f"{m['n_censored']:,} censored, {df['days'].nunique():,} distinct times, "
          f"{m['iterations']} iterations")
    table = fit.summary[["estimate", "se"]].assign(true=pd.Series(TRUE_LOG_SHR))
    print(table.to_string())
    if args.no_r:
        return 0
    sub = df if args.r_full else df.iloc[:args.r_rows]
    ref = _run_r(sub)
    if ref is None:
        return 0
    ours, ours_time = _fit(sub) if len(sub) < len(df) else (fit, elapsed)
    ref = ref.set_index("term")
    s = ours.summary.loc[ref.index]
    print(f"subset of {len(sub):,} rows: cmprsk::crr {ref['elapsed'].iloc[0]:.2f} s "
          f"(converged {bool(ref['converged'].iloc[0])}), fine_gray {ours_time:.2f} s")
    print(f"max relative difference: estimates "
          f"{np.max(np.abs(s['estimate'] / ref['coef'] - 1)):.2e}, standard errors "
          f"{np.max(np.abs(s['se'] / ref['se'] - 1)):.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
