"""Large-file benchmark: `evaluation validate` of a ~200 MB episodes CSV (issue 10).

Builds (once, cached in a temp folder) an episodes CSV of about ``--mb`` megabytes by repeating
the episodes of a synthetic dataset with unique ``episode_id`` and ``child_id`` per copy and a
few planted faults per copy (an impossible date, a municipality code that lost its leading
zero, a duplicated episode id), then validates it through the real path
(:func:`evaluation.data.validate.validate_files`) in a subprocess and prints wall time, peak
resident memory of that subprocess and the read/validate/write phase times.

Target: under 1 GB peak RSS and under 40 s on 2 cores for a 200 MB file.

    .venv/bin/python benchmarks/bench_validate_large.py [--mb 200] [--cache DIR] [--keep OUT]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from evaluation.data import validate as v

path, out = sys.argv[1], sys.argv[2]
phases = {}
if "timings" not in v.ValidationSummary.__dataclass_fields__:  # older code: time by wrapping
    def timed(name, fn):
        def run(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t
        return run
    v._read_masked = timed("read", v._read_masked)
    v.validate_table = timed("validate", v.validate_table)
    v.validate_dataset = timed("cross", v.validate_dataset)
    v.write_csv = timed("write", v.write_csv)
t0 = time.perf_counter()
summary = v.validate_files([path], out, progress=False)
wall = time.perf_counter() - t0
print(json.dumps({"wall": wall, "line": summary.line(), "tables": summary.tables,
                  "phases": getattr(summary, "timings", None) or phases}))
"""


def build_file(target: Path, mb: float, seed: int = 1) -> Path:
    """Write an episodes CSV of about ``mb`` megabytes (10**6 bytes) to ``target``."""
    import pandas as pd

    from evaluation.data import synth

    with tempfile.TemporaryDirectory() as tmp:
        data = synth.generate(n_children=20_000, n_municipalities=290, seed=seed)
        synth.write(data, tmp)
        base = pd.read_csv(Path(tmp) / "episodes.csv", dtype=str, keep_default_na=False)
    n = len(base)
    header = ",".join(base.columns) + "\n"
    part = Path(str(target) + ".part")
    written = len(header.encode())
    with open(part, "w", encoding="utf-8", newline="") as fh:
        fh.write(header)
        k = 0
        while written < mb * 1e6:
            df = base.copy()
            df["episode_id"] = df["episode_id"] + f"-c{k}"
            df["child_id"] = df["child_id"] + f"c{k}"
            df.iat[(k * 7) % n, df.columns.get_loc("start_date")] = "2024-13-01"
            mc = df.columns.get_loc("municipality_code")
            i = (k * 11 + 3) % n
            if str(df.iat[i, mc]).startswith("0"):
                df.iat[i, mc] = df.iat[i, mc][1:]
            if k:
                df.iat[(k * 13 + 5) % n, 0] = base.iat[(k * 13 + 5) % n, 0] + f"-c{k - 1}"
            text = df.to_csv(index=False, header=False, lineterminator="\n")
            fh.write(text)
            written += len(text.encode())
            k += 1
    part.replace(target)
    return target


def digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:16]
        for p in sorted(folder.glob("*.csv"))
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200.0, help="file size in MB (default 200)")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "evaluation-bench"),
                    help="folder where the built file is kept between runs")
    ap.add_argument("--keep", default=None, help="keep the validated output in this folder")
    args = ap.parse_args(argv)

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"episodes_{args.mb:g}mb.csv"
    if not path.exists():
        t = time.perf_counter()
        build_file(path, args.mb)
        print(f"built {path} in {time.perf_counter() - t:.1f} s")
    size = path.stat().st_size
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep) if args.keep else Path(tmp) / "valid"
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(out)],
            capture_output=True, text=True, check=False,
        )
        wall = time.perf_counter() - t0
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak = usage.ru_maxrss / 1024  # KiB -> MiB
        cpu = usage.ru_utime + usage.ru_stime
        if proc.returncode:
            print(proc.stderr[-4000:], file=sys.stderr)
            return proc.returncode
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        sums = digest(out)
    print(f"file      {size / 1e6:7.1f} MB  {path}")
    print(f"tables    {res['tables']}")
    print(f"summary   {res['line']}")
    for name, sec in res["phases"].items():
        print(f"  {name:<8}{sec:7.2f} s")
    print(f"validate  {res['wall']:7.2f} s in the subprocess, {wall:.2f} s with start-up "
          "(target < 40 s)")
    print(f"CPU time  {cpu:7.2f} s user+system of the subprocess (other load on the machine "
          f"shows as wall time above CPU time; load average {os.getloadavg()[0]:.1f})")
    print(f"peak RSS  {peak:7.0f} MiB of the subprocess ({peak / (size / 2**20):.1f}x the file; "
          "target < 1024 MiB)")
    print(f"outputs   {sums}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
