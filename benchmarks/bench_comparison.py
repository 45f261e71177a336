"""Benchmark of ``evaluation.models.comparison.risk_standardised`` at national scale.

Random data from the model itself (``simulate_comparison.make_data``): ``--units`` units with
very unequal sizes (log-normal, at least 1 episode), ``--rows`` episodes in all, 6 case-mix
columns (age group with 3 levels, sex, LVU, HVB/SiS, two problem flags), true
random-intercept SD 0.3. Prints the wall time of one fit with 1,000 simulation draws (target:
< 30 s on 2 cores). Coverage of the unit intervals over many data sets:
``benchmarks/simulate_comparison.py``.

    .venv/bin/python benchmarks/bench_comparison.py [--rows 30000] [--units 290] [--seed 1]
"""

from __future__ import annotations

import argparse
import sys
import time

from simulate_comparison import CASE_MIX, make_data

from evaluation.models.comparison import risk_standardised

SIGMA = 0.3


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30_000)
    parser.add_argument("--units", type=int, default=290)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    d, _, _ = make_data(args.rows, args.units, SIGMA, 0.0, args.seed)
    start, cpu = time.perf_counter(), time.process_time()
    fit = risk_standardised(d, "y", "unit", CASE_MIX, reference={"age_group": "0-12"})
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    s = fit.summary
    print(f"rows={len(d)} units={len(s)} events={int(d['y'].sum())} "
          f"smallest unit={int(s['n'].min())} largest={int(s['n'].max())}")
    print(f"risk_standardised (1000 draws): {elapsed:.2f} s wall, {cpu:.2f} s CPU; sigma={fit.sigma_:.3f} "
          f"(true {SIGMA}); flags={s['flag'].value_counts().to_dict()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
