"""Benchmark of the synthetic data generator: 30,000 children in 290 municipalities.

Prints wall time of ``generate`` and ``write`` (clean tables + raw extract), the row counts,
and peak memory: the process's peak resident set size (``resource.getrusage``) and, with
``--tracemalloc``, the peak of traced allocations during ``generate`` (slower; a second run).
Target: generate well under 30 s.

    .venv/bin/python benchmarks/bench_synth.py [--children 30000] [--municipalities 290]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from evaluation.data import synth


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; return the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, default=30_000)
    ap.add_argument("--municipalities", type=int, default=290)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tracemalloc", action="store_true",
                    help="also measure the traced peak of generate (extra run)")
    args = ap.parse_args(argv)

    rss0 = peak_rss_mib()
    t0 = time.perf_counter()
    data = synth.generate(n_children=args.children, n_municipalities=args.municipalities,
                          seed=args.seed)
    t1 = time.perf_counter()
    rss_gen = peak_rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        synth.write(data, Path(tmp) / "synth", raw=True)
    t2 = time.perf_counter()

    rows = {t: len(df) for t, df in data.tables.items()}
    print(f"children={args.children} municipalities={args.municipalities} rows={rows}")
    print(f"generate     {t1 - t0:7.2f} s   (target well under 30 s)")
    print(f"write (+raw) {t2 - t1:7.2f} s")
    print(f"peak RSS     {peak_rss_mib():7.0f} MiB (after imports {rss0:.0f} MiB, "
          f"after generate {rss_gen:.0f} MiB)")
    if args.tracemalloc:
        tracemalloc.start()
        synth.generate(n_children=args.children, n_municipalities=args.municipalities,
                       seed=args.seed)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"generate traced peak {peak / 2**20:7.0f} MiB (tracemalloc)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
