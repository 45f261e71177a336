"""Batch speed: the overview report for every municipality (issue 11's target: 290 reports
in under 3 minutes on 2 cores).

Builds (once, cached) synthetic data with ``synth --children 30000 --municipalities 290`` and
validates it, then runs ``evaluation batch notebooks/01-overview.ipynb --by
municipality_code`` with the given workers and prints the wall time and a per-report
breakdown (execute / render+write, from each report's provenance). ``--kernel`` times a few
single reports through a Jupyter kernel for comparison (the pre-batch way).

    python benchmarks/bench_batch.py [--workers 2] [--units N] [--kernel]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _data(children: int, municipalities: int) -> Path:
    base = Path(tempfile.gettempdir()) / f"evaluation-bench-batch-{children}-{municipalities}"
    data = base / "data"
    if not (data / "episodes.csv").is_file():
        subprocess.run([BIN / "evaluation", "synth", "--children", str(children),
                        "--municipalities", str(municipalities), "--seed", "1", "--out",
                        str(base / "extract")], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([BIN / "evaluation", "validate", *sorted((base / "extract").glob("*.csv")),
                        "--out", str(data)], check=True, stdout=subprocess.DEVNULL)
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--children", type=int, default=30000)
    ap.add_argument("--municipalities", type=int, default=290)
    ap.add_argument("--units", type=int, default=0, help="only the first N units (0: all)")
    ap.add_argument("--kernel", action="store_true", help="also time 3 kernel-based reports")
    args = ap.parse_args()
    data = _data(args.children, args.municipalities)
    out = Path(tempfile.mkdtemp(prefix="evaluation-batch-"))
    cmd = [str(BIN / "evaluation"), "batch", str(ROOT / "notebooks" / "01-overview.ipynb"),
           "--data", str(data), "--out", str(out), "--workers", str(args.workers), "--quiet"]
    if args.units:
        import pandas as pd

        units = sorted(pd.read_csv(data / "episodes.csv", usecols=["municipality_code"],
                                   dtype=str)["municipality_code"].unique())[: args.units]
        cmd += ["--units", ",".join(units)]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    print(done.stdout.strip() or done.stderr.strip()[-2000:])
    provs = [json.loads(p.read_text("utf-8")) for p in out.glob("*/01-overview.provenance.json")]
    n = len(provs)
    print(f"reports: {n}, workers: {args.workers}, wall time: {wall:.1f} s "
          f"({wall / max(n, 1):.2f} s per report overall)")
    if provs:
        total = [p["seconds"] for p in provs]
        execute = [p["phases"]["execute"] for p in provs]
        render = [p["phases"]["render"] for p in provs]
        for label, xs in (("report (in worker)", total), ("  execute", execute),
                          ("  render + results", render)):
            print(f"{label:20s} median {statistics.median(xs):.3f} s, "
                  f"max {max(xs):.3f} s, sum {sum(xs):.1f} s")
    if args.kernel:
        times = []
        for unit in ("0180", "1480", "0580"):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c",
                            "import sys; from evaluation.reporting.run import run_report; "
                            "run_report(sys.argv[1], sys.argv[2], sys.argv[3], "
                            "{'municipality': sys.argv[4]}, kernel_name='python3')",
                            str(ROOT / "notebooks" / "01-overview.ipynb"), str(data),
                            str(out / "kernel" / unit), unit], check=True,
                           capture_output=True)
            times.append(time.perf_counter() - t)
        print("kernel-based single report (new process each): "
              + ", ".join(f"{t:.1f} s" for t in times))
    target = 180.0 * n / 290 if n else 0
    print(f"target for {n} reports: {target:.0f} s -> {'met' if wall < target else 'NOT met'}")


if __name__ == "__main__":
    main()
