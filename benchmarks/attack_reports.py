"""Play the determined reader against the published reports and print what he recovers.

The attacks are those of ``tests/reporting/attacks.py`` (issue 9, item 6): (a) every
municipality's overview and the all view solved as one system of integer constraints, (b) two
periods a day or a month apart differenced (the all view; the outcome measures), (c) the
derived statistics of the outcomes report inverted (Wilson intervals, totals, a naive effect
with the arm sizes), (d) municipalities with a single child. Synthetic data: 300 children,
12 municipalities, seed 7.

Usage (from the repository root)::

    .venv/bin/python benchmarks/attack_reports.py            # the package as it is now
    PYTHONPATH=<old checkout>/src <old venv>/bin/python benchmarks/attack_reports.py --old

``--old`` reads the reports through the module names of the package before the refactor
(``evaluation.synth``, ``evaluation.overview``, ``evaluation.outcome_report``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.reporting import attacks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", action="store_true",
                        help="use the module names of the package before the refactor")
    parser.add_argument("--details", action="store_true", help="print the recovered cells")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    pkg = attacks.old_package() if args.old else attacks.current_package()
    import evaluation

    print(f"package: {pkg.name} ({Path(evaluation.__file__).parent})")
    results = attacks.run_all(pkg, hidden=True)
    counts = attacks.summary(results)
    width = max(len(k) for k in counts)
    for k, v in counts.items():
        print(f"  {k:<{width}}  {v}")
    print(f"  rules the truth breaks (a): "
          f"{sorted({r for rs in results['a']['dropped'].values() for r in rs})}")
    print(f"  naive system infeasible in sections (a): "
          f"{results['a']['naive_infeasible_sections']}")
    print(f"  episodes added by the 31st (b): {results['b_day']['new_episodes']}")
    print(f"  effect reading (c): {results['c_effect'].get('reading', 'not shown')}")
    if args.details:
        for key in ("a", "b_day", "b_month", "b_outcomes", "b_outcomes_month",
                    "b_breakdown_month", "c_wilson",
                    "c_totals",
                    "c_effect", "d"):
            print(f"--- {key}")
            for c in results[key].get("cells", []):
                print("   ", c)
        print("--- b_day rises by one (published)")
        for c in results["b_day"]["rises_by_one"]:
            print("   ", c)
    print(f"time: {time.perf_counter() - t0:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"package": pkg.name, "counts": counts},
                                              indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
