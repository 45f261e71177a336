"""Benchmark of ``evaluation.models.coxph.cox`` with cluster-robust standard errors, and a
comparison with R's ``survival::coxph`` when ``Rscript`` is on PATH.

Random data: 1,000,000 rows x 8 numeric covariates, integer-day durations (many tied event
times), about 500,000 clusters (children with 1-3 episodes). Prints the wall time of one
``cox(..., cluster_col=...)`` fit (Efron ties, robust sandwich variance). Target: < 10 s.

R comparison (skipped if ``Rscript`` is not found, or with ``--no-r``): the same generated
data at ``--r-rows`` rows (default 100,000), and also at ``--rows`` with ``--r-full`` (R may
take minutes there), are written to a temporary CSV, read by R with ``data.table::fread``
(``read.csv`` if data.table is missing) and fitted with ``coxph(Surv(days, ended) ~ x1 + ...,
cluster = child, control = coxph.control(eps = 1e-12))``. Printed: the Python and R fit
times (R: ``system.time`` of ``coxph`` only, not reading the file), their ratio, and the
maximum relative differences of the coefficients, model-based and robust SEs. R's time is
dominated by the score residuals behind the robust variance, which grew about quadratically
here (20,000 rows: 2.7 s CPU; 100,000 rows: 64 s CPU), so ``--r-full`` at 1,000,000 rows
may take an hour or more.

    .venv/bin/python benchmarks/bench_cox.py [--rows 1000000] [--covariates 8] [--seed 1]
        [--r-rows 100000] [--r-full] [--no-r]
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

from evaluation.models.coxph import cox

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- if (requireNamespace("data.table", quietly = TRUE)) {
  as.data.frame(data.table::fread(args[1]))
} else read.csv(args[1])
covs <- grep("^x", names(d), value = TRUE)
f <- as.formula(paste("Surv(days, ended) ~", paste(covs, collapse = " + ")))
tm <- system.time(fit <- coxph(f, data = d, cluster = child, ties = "efron",
                               control = coxph.control(eps = 1e-12, toler.chol = 1e-14,
                                                       iter.max = 50)))
out <- data.frame(term = names(coef(fit)), coef = unname(coef(fit)),
                  se_naive = sqrt(diag(fit$naive.var)), se_robust = sqrt(diag(fit$var)),
                  seconds = unname(tm["elapsed"]),
                  cpu = unname(tm["user.self"] + tm["sys.self"]), iterations = fit$iter,
                  survival = as.character(packageVersion("survival")))
write.csv(out, args[2], row.names = FALSE)
"""


def make_data(rows: int, n_cov: int, seed: int) -> pd.DataFrame:
    """Random episodes with a known log hazard ratio of 0.1 * (j + 1) - 0.4 for covariate j."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n_cov))
    beta = 0.1 * np.arange(1, n_cov + 1) - 0.4
    t_event = np.ceil(rng.exponential(200 * np.exp(-(x @ beta))))
    t_cens = rng.integers(30, 1000, rows)
    df = pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(n_cov)])
    df["days"] = np.minimum(t_event, t_cens)
    df["ended"] = (t_event <= t_cens).astype(int)
    df["child"] = rng.integers(0, rows // 2, rows)
    return df


def fit_python(df: pd.DataFrame) -> tuple[float, float, object]:
    """Time one cluster-robust fit; return (wall seconds, CPU seconds, CoxResult)."""
    covs = [c for c in df.columns if c.startswith("x")]
    start, cpu = time.perf_counter(), time.process_time()
    fit = cox(df, "days", "ended", covs, cluster_col="child")
    return time.perf_counter() - start, time.process_time() - cpu, fit


def compare_with_r(df: pd.DataFrame, rscript: str) -> None:
    """Fit the same data in R and print times, ratio and maximum relative differences."""
    py_seconds, py_cpu, fit = fit_python(df)
    with tempfile.TemporaryDirectory() as tmp:
        data_csv, out_csv, script = (Path(tmp) / n for n in ("data.csv", "out.csv", "fit.R"))
        df.to_csv(data_csv, index=False)
        script.write_text(R_SCRIPT)
        wall = time.perf_counter()
        subprocess.run([rscript, str(script), str(data_csv), str(out_csv)], check=True)
        wall = time.perf_counter() - wall
        ref = pd.read_csv(out_csv).set_index("term")
    s = fit.summary.loc[ref.index]

    def rel(a: pd.Series, b: pd.Series) -> float:
        return float(np.max(np.abs(a.to_numpy() - b.to_numpy()) / np.abs(b.to_numpy())))

    r_seconds, r_cpu = float(ref["seconds"].iloc[0]), float(ref["cpu"].iloc[0])
    print(f"\n== R comparison at {len(df):,} rows (R survival {ref['survival'].iloc[0]}) ==")
    print(f"  Python cox(cluster_col=child): {py_seconds:8.2f} s wall {py_cpu:8.2f} s CPU  "
          f"({fit.metadata['iterations']} iterations)")
    print(f"  R coxph(cluster = child):      {r_seconds:8.2f} s wall {r_cpu:8.2f} s CPU  "
          f"({int(ref['iterations'].iloc[0])} iterations; Rscript incl. reading CSV "
          f"{wall:.1f} s)")
    print(f"  ratio R / Python:              {r_seconds / py_seconds:8.2f} wall "
          f"{r_cpu / py_cpu:8.2f} CPU")
    print(f"  max relative difference: coef {rel(s['estimate'], ref['coef']):.1e}, "
          f"naive SE {rel(s['se_naive'], ref['se_naive']):.1e}, "
          f"robust SE {rel(s['se_robust'], ref['se_robust']):.1e}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--covariates", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--r-rows", type=int, default=100_000,
                        help="rows of the R comparison (default 100,000)")
    parser.add_argument("--r-full", action="store_true",
                        help="also compare with R at --rows (R may take minutes)")
    parser.add_argument("--no-r", action="store_true", help="skip the R comparison")
    args = parser.parse_args(argv)
    df = make_data(args.rows, args.covariates, args.seed)
    elapsed, cpu, fit = fit_python(df)
    print(f"cox(cluster_col=...): {elapsed:.2f} s ({cpu:.2f} s CPU) for {args.rows:,} rows x {args.covariates} "
          f"covariates, {fit.metadata['n_events']:,} events, "
          f"{df['days'].nunique():,} distinct times, {fit.metadata['n_clusters']:,} clusters, "
          f"{fit.metadata['iterations']} iterations")
    print(fit.summary[["estimate", "se_naive", "se_robust"]].to_string())
    rscript = shutil.which("Rscript")
    if args.no_r:
        return 0
    if rscript is None:
        print("\nRscript not found on PATH: R comparison skipped.")
        return 0
    compare_with_r(make_data(args.r_rows, args.covariates, args.seed), rscript)
    if args.r_full and args.rows != args.r_rows:
        compare_with_r(df, rscript)
    return 0


if __name__ == "__main__":
    sys.exit(main())
