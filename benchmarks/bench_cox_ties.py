"""Benchmark of ``evaluation.models.coxph.cox`` on heavily tied integer times, paired with
lifelines' ``CoxPHFitter`` (and optionally R's ``survival::coxph``).

Random data: ``--rows`` rows (default 1,000,000) x ``--covariates`` numeric covariates
(default 6; the last one binary), integer-day durations 1..999 (999 distinct times, so
some 650 tied events per time), about two thirds of the rows with an event. Both fitters use
Efron ties and no robust variance. After one untimed warm-up fit of each, every repeat times
ours and lifelines' fit one after the other, alternating which goes first, so that both see
the same machine load; the script prints each pair, the ratio lifelines / ours per pair and
its median, and the largest absolute difference of the coefficients. (lifelines chooses its
"batch" Efron code, its fastest here, from about 6 covariates at 1,000,000 rows; with 4
covariates it uses its "single" code, several times slower.)

``--r`` also fits the same data with ``coxph(..., ties = "efron")`` through ``Rscript``
(skipped if it is not on PATH) and prints R's time (``system.time`` of ``coxph`` only) and
the largest coefficient difference.

    .venv/bin/python benchmarks/bench_cox_ties.py [--rows 1000000] [--covariates 6]
        [--repeats 5] [--seed 1] [--r]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.models.coxph import cox

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- if (requireNamespace("data.table", quietly = TRUE)) {
  as.data.frame(data.table::fread(args[1]))
} else read.csv(args[1])
covs <- grep("^x", names(d), value = TRUE)
f <- as.formula(paste("Surv(days, ended) ~", paste(covs, collapse = " + ")))
tm <- system.time(fit <- coxph(f, data = d, ties = "efron",
                               control = coxph.control(eps = 1e-12, iter.max = 50)))
write.csv(data.frame(term = names(coef(fit)), coef = unname(coef(fit)),
                     seconds = unname(tm["elapsed"])), args[2], row.names = FALSE)
"""


def make_data(rows: int, n_cov: int, seed: int) -> pd.DataFrame:
    """Random episodes with integer durations 1..999 and a known log hazard ratio."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n_cov))
    x[:, -1] = rng.random(rows) < 0.3
    beta = np.linspace(-0.3, 0.4, n_cov)
    t_event = np.ceil(rng.exponential(400 * np.exp(-(x @ beta))))
    t_cens = rng.integers(1, 1000, rows)
    df = pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(n_cov)])
    df["days"] = np.minimum(np.minimum(t_event, t_cens), 999).astype(float)
    df["ended"] = (t_event <= np.minimum(t_cens, 999)).astype(int)
    return df


def fit_ours(df: pd.DataFrame, covs: list[str]) -> tuple[float, float, np.ndarray]:
    """(wall seconds, CPU seconds of this process, coefficients) of one fit."""
    start, cpu = time.perf_counter(), time.process_time()
    fit = cox(df, "days", "ended", covs)
    return (time.perf_counter() - start, time.process_time() - cpu,
            fit.summary.loc[covs, "estimate"].to_numpy())


def fit_lifelines(df: pd.DataFrame, covs: list[str]) -> tuple[float, float, np.ndarray]:
    """(wall seconds, CPU seconds of this process, coefficients) of one fit."""
    from lifelines import CoxPHFitter

    sub = df[covs + ["days", "ended"]]
    start, cpu = time.perf_counter(), time.process_time()
    cph = CoxPHFitter().fit(sub, duration_col="days", event_col="ended")
    return (time.perf_counter() - start, time.process_time() - cpu,
            cph.params_.loc[covs].to_numpy())


def fit_r(df: pd.DataFrame, covs: list[str], rscript: str) -> tuple[float, np.ndarray]:
    with tempfile.TemporaryDirectory() as tmp:
        data_csv, out_csv, script = (Path(tmp) / n for n in ("data.csv", "out.csv", "fit.R"))
        df.to_csv(data_csv, index=False)
        script.write_text(R_SCRIPT)
        subprocess.run([rscript, str(script), str(data_csv), str(out_csv)], check=True)
        ref = pd.read_csv(out_csv).set_index("term")
    return float(ref["seconds"].iloc[0]), ref.loc[covs, "coef"].to_numpy()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--covariates", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--r", action="store_true", help="also fit with R (needs Rscript)")
    args = parser.parse_args(argv)
    df = make_data(args.rows, args.covariates, args.seed)
    covs = [c for c in df.columns if c.startswith("x")]
    print(f"{len(df):,} rows x {len(covs)} covariates, {int(df['ended'].sum()):,} events, "
          f"{df['days'].nunique():,} distinct times")
    fit_ours(df, covs)                      # warm-up (imports, first allocations), untimed
    fit_lifelines(df, covs)
    ratios, cpu_ratios, diffs, ours_s, theirs_s = [], [], [], [], []
    for rep in range(args.repeats):
        if rep % 2 == 0:
            t_ours, c_ours, b_ours = fit_ours(df, covs)
            t_ll, c_ll, b_ll = fit_lifelines(df, covs)
        else:
            t_ll, c_ll, b_ll = fit_lifelines(df, covs)
            t_ours, c_ours, b_ours = fit_ours(df, covs)
        ratios.append(t_ll / t_ours)
        cpu_ratios.append(c_ll / c_ours)
        diffs.append(float(np.max(np.abs(b_ours - b_ll))))
        ours_s.append(t_ours)
        theirs_s.append(t_ll)
        first = "ours first" if rep % 2 == 0 else "lifelines first"
        print(f"  repeat {rep + 1} ({first:15s}): ours {t_ours:5.2f} s ({c_ours:5.2f} CPU)  "
              f"lifelines {t_ll:5.2f} s ({c_ll:5.2f} CPU)  lifelines/ours {t_ll / t_ours:5.2f} "
              f"wall, {c_ll / c_ours:5.2f} CPU  max|coef diff| {diffs[-1]:.1e}")
    print(f"median: ours {statistics.median(ours_s):.2f} s, lifelines "
          f"{statistics.median(theirs_s):.2f} s; ratio lifelines/ours wall "
          f"{statistics.median(ratios):.2f} (min {min(ratios):.2f}, max {max(ratios):.2f}), CPU "
          f"{statistics.median(cpu_ratios):.2f} (min {min(cpu_ratios):.2f}, max "
          f"{max(cpu_ratios):.2f}); max|coef diff| {max(diffs):.1e}")
    if args.r:
        rscript = shutil.which("Rscript")
        if rscript is None:
            print("Rscript not found on PATH: R comparison skipped.")
        else:
            t_r, b_r = fit_r(df, covs, rscript)
            print(f"R coxph: {t_r:.2f} s; max|coef diff| ours - R {np.max(np.abs(b_ours - b_r)):.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
