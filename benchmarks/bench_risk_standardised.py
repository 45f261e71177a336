"""Benchmark of ``evaluation.models.comparison.risk_standardised`` at 30,000 rows / 290 units,
split into the model fit and the simulation of the unit intervals, with peak memory.

Data as ``bench_comparison.py`` (``simulate_comparison.make_data``: log-normal unit sizes,
6 case-mix columns, random-intercept SD 0.3). Each repeat times one full call with 1,000
draws; the split into fit and simulation times the module's two internal steps by wrapping
them (benchmark-only instrumentation). Peak memory: a separate call under
:mod:`tracemalloc` (numpy reports its buffers to it), and the process's maximum resident
set size from :mod:`resource`.

    .venv/bin/python benchmarks/bench_risk_standardised.py [--rows 30000] [--units 290]
        [--draws 1000] [--repeats 3] [--seed 1]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc

from simulate_comparison import CASE_MIX, make_data

from evaluation.models import comparison

SIGMA = 0.3


def _timed(fn, log: dict[str, float], key: str):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            log[key] = log.get(key, 0.0) + time.perf_counter() - start
    return wrapper


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--units", type=int, default=290)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    d, _, _ = make_data(args.rows, args.units, SIGMA, 0.0, args.seed)
    print(f"rows={len(d):,} units={d['unit'].nunique()} events={int(d['y'].sum()):,} "
          f"draws={args.draws}")
    log: dict[str, float] = {}
    fit_glmm, simulate = comparison._fit_glmm, comparison._simulate_rsr
    comparison._fit_glmm = _timed(fit_glmm, log, "fit")
    comparison._simulate_rsr = _timed(simulate, log, "simulation")
    try:
        for rep in range(args.repeats):
            log.clear()
            start, cpu = time.perf_counter(), time.process_time()
            fit = comparison.risk_standardised(d, "y", "unit", CASE_MIX,
                                               reference={"age_group": "0-12"},
                                               n_draws=args.draws)
            total, cpu = time.perf_counter() - start, time.process_time() - cpu
            print(f"  repeat {rep + 1}: total {total:5.2f} s ({cpu:5.2f} s CPU)  fit "
                  f"{log['fit']:5.2f} s  "
                  f"simulation {log['simulation']:5.2f} s  other "
                  f"{total - log['fit'] - log['simulation']:5.2f} s")
    finally:
        comparison._fit_glmm, comparison._simulate_rsr = fit_glmm, simulate
    tracemalloc.start()
    comparison.risk_standardised(d, "y", "unit", CASE_MIX, reference={"age_group": "0-12"},
                                 n_draws=args.draws)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak traced memory of one call {peak / 2**20:.1f} MiB; process max RSS "
          f"{maxrss:.0f} MiB; sigma {fit.sigma_:.4f}; "
          f"mean interval width {(fit.summary['ci_upper'] - fit.summary['ci_lower']).mean():.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
