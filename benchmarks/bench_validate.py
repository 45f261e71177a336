"""National-scale benchmark: generate and validate 30,000 children in 290 municipalities.

Prints wall time per step and peak resident memory of the process. Target (issue 2):
under 30 s and 2 GB on 2 cores for generate + validate.

    .venv/bin/python benchmarks/bench_validate.py [--children 30000] [--municipalities 290]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from evaluation.data import synth
from evaluation.data.validate import validate_files


def peak_mb() -> float:
    """Peak resident set size of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--children", type=int, default=30_000)
    ap.add_argument("--municipalities", type=int, default=290)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        data = synth.generate(
            n_children=args.children, n_municipalities=args.municipalities, seed=args.seed
        )
        t1 = time.perf_counter()
        synth.write(data, out / "extract")
        t2 = time.perf_counter()
        files = [out / "extract" / f"{t}.csv" for t in data.tables]
        summary = validate_files(files, out / "valid")
        t3 = time.perf_counter()

    rows = {t: len(df) for t, df in data.tables.items()}
    print(f"children={args.children} municipalities={args.municipalities} rows={rows}")
    print(f"generate  {t1 - t0:7.2f} s")
    print(f"write     {t2 - t1:7.2f} s")
    print(f"validate  {t3 - t2:7.2f} s   ({summary.line()})")
    print("  phases  " + ", ".join(f"{k} {v:.2f} s" for k, v in summary.timings.items()))
    print(f"total     {t3 - t0:7.2f} s   (target < 30 s)")
    print(f"peak RSS  {peak_mb():7.0f} MiB (target < 2048 MiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
