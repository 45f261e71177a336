"""Coverage simulation: do the effect estimators recover the synthetic data's known truth?

For each seed, :func:`evaluation.synth.generate` makes a dataset; :func:`evaluation.synth.effect_frame`
gives one row per episode with 365 days of possible follow-up, restricted here to episodes
placed in a family home (FH, control) or an HVB home (treated). The effect of HVB versus FH on
"unplanned ending within 365 days" is estimated by :func:`evaluation.effects.estimate_effect`
with the methods naive, regression, ipw and aipw, for the estimands ATE (in the population of
FH and HVB episodes: the truth's ``ATE_FH_or_HVB``) and ATT (among HVB episodes: ``ATT``).
Each estimate is compared with the seed's *population* truth in
``truth["placement_effects"]["population"]`` (not the sample average). A second part fits the
cause-specific Cox model of unplanned ending (:func:`evaluation.survival.cox`, stratified by
municipality, with the true confounders) and checks coverage of the true log-HR of
``placement_type[HVB]`` in ``breakdown_model``.

Covariate specification (chosen to match the generator, see ``synth.EFFECT_CONFOUNDERS``):
the two-arm propensity P(HVB | FH or HVB) depends only on teen (continuous age 13+), behaviour
problems (criminality or substance use) and unaccompanied status, with an interaction of teen
and behaviour; observed age (start year minus birth year) 13 mixes children under and over 13,
so age 13 has its own dummy. The outcome depends on age 13+, criminality, substance use,
child mental illness, care-plan goal and the age limit (age 17 and 18 dummies), so those enter
too. The goals LONGTERM and CUSTODY_TRANSFER are merged into one indicator: custody transfer
is a goal only for children under 13, who are almost never placed in HVB, so its own dummy
separates the propensity model in about 1 seed in 12. Municipality is not a confounder and is left out of the
effect models (its random effect makes the logistic outcome model slightly misspecified;
ipw and aipw stay consistent because the propensity model is correct).

    .venv/bin/python benchmarks/simulate_effects.py [--seeds 200] [--children 3000]
        [--municipalities 30] [--workers 2] [--cluster] [--out estimates.csv]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from evaluation import synth

COVARIATES = synth.EFFECT_COVARIATES
METHODS = ("naive", "regression", "ipw", "aipw")
ESTIMANDS = {"ATE": "ATE_FH_or_HVB", "ATT": "ATT"}
COX_COVARIATES = ["pt_NH", "pt_FFH", "pt_JH", "pt_HVB", "pt_SIS", "pt_SB", "pt_EGET",
                  "age_13plus", "problem_criminality", "problem_child_substance",
                  "problem_child_mental"]


def _cox_frame(ep: pd.DataFrame, end: str) -> pd.DataFrame:
    stop = ep["end_date"].fillna(pd.Timestamp(end))
    df = pd.DataFrame({
        "time": (stop - ep["start_date"]).dt.days.to_numpy() + 0.5,
        "event": (ep["end_date"].notna()
                  & ~ep["planned_ending"].fillna(True).astype(bool)).astype(int).to_numpy(),
        "municipality_code": ep["municipality_code"].astype(str).to_numpy(),
    })
    for t in ("NH", "FFH", "JH", "HVB", "SIS", "SB", "EGET"):
        df[f"pt_{t}"] = (ep["placement_type"] == t).astype(float).to_numpy()
    df["age_13plus"] = ((ep["start_date"].dt.year - ep["birth_year"]) >= 13).astype(float)
    for p in ("problem_criminality", "problem_child_substance", "problem_child_mental"):
        df[p] = ep[p].astype(float).to_numpy()
    return df


def one_seed(args: tuple[int, int, int, bool]) -> list[dict]:
    """Estimates of every method and estimand (and the Cox log-HR) for one seed."""
    from evaluation.effects import estimate_effect
    from evaluation.errors import ConvergenceError
    from evaluation.survival import cox

    seed, n_children, n_muni, cluster = args
    data = synth.generate(n_children=n_children, n_municipalities=n_muni, seed=seed)
    truth = data.truth["placement_effects"]["population"]["values"]["365"]["contrasts"]
    frame = synth.effect_frame(data, horizon=365)
    frame = frame[frame["placement_type"].isin(["FH", "HVB"])]
    rows = []
    for estimand, key in ESTIMANDS.items():
        for method in METHODS:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = estimate_effect(frame, "placement_type", "unplanned_365d",
                                          COVARIATES, method=method, estimand=estimand,
                                          treated="HVB", control="FH",
                                          cluster_col="child_id" if cluster else None)
            except ConvergenceError:  # separation in a sparse cell: counted as a failure
                continue
            s = res.summary.set_index("measure")
            for measure in ("risk_difference", "risk_ratio"):
                r = s.loc[measure]
                true = truth["HVB vs FH"][key][measure]
                log = measure == "risk_ratio"
                rows.append({
                    "seed": seed, "method": method, "estimand": estimand, "measure": measure,
                    "true": true, "estimate": float(r["estimate"]), "se": float(r["se"]),
                    # SE of a ratio is on the log scale: bias and SD there too
                    "est_scale": float(np.log(r["estimate"]) if log else r["estimate"]),
                    "true_scale": float(np.log(true) if log else true),
                    "covered": bool(r["ci_lower"] <= true <= r["ci_upper"]),
                })
    cf = _cox_frame(data.tables["episodes"], data.truth["generated"]["end"])
    fit = cox(cf, "time", "event", COX_COVARIATES, strata="municipality_code")
    r = fit.summary.loc["pt_HVB"]
    true = synth.TRUE_BREAKDOWN_LOG_HR["placement_type[HVB]"]
    rows.append({"seed": seed, "method": "cox (strata muni)", "estimand": "log HR",
                 "measure": "log_hazard_ratio", "true": true, "estimate": float(r["estimate"]),
                 "se": float(r["se"]), "est_scale": float(r["estimate"]), "true_scale": true,
                 "covered": bool(r["ci_lower"] <= true <= r["ci_upper"])})
    return rows


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """method, estimand, true value, mean estimate, bias, empirical SD, mean SE, coverage.

    For risk ratios, bias, SD and SE are on the log scale (the estimator's SE is of log RR).
    """
    g = df.groupby(["measure", "estimand", "method"], sort=False)
    out = g.agg(true=("true", "mean"), mean_estimate=("estimate", "mean"),
                bias=("est_scale", "mean"), empirical_sd=("est_scale", "std"),
                mean_se=("se", "mean"), coverage=("covered", "mean"), n_seeds=("seed", "size"))
    out["bias"] = out["bias"] - g["true_scale"].mean()
    return out.reset_index()


def main(argv: list[str] | None = None) -> int:
    """Run the simulation and print the table; return the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=200)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--children", type=int, default=3000)
    ap.add_argument("--municipalities", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cluster", action="store_true",
                    help="cluster-robust SEs by child (re-entries are a child's 2nd episode)")
    ap.add_argument("--out", help="optional CSV of the per-seed estimates")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    tasks = [(s, args.children, args.municipalities, args.cluster)
             for s in range(args.first_seed, args.first_seed + args.seeds)]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        rows = [r for chunk in pool.map(one_seed, tasks, chunksize=4) for r in chunk]
    df = pd.DataFrame(rows)
    if args.out:
        df.to_csv(args.out, index=False)
    table = summarise(df)
    n_fail = args.seeds - table["n_seeds"]
    table["failed"] = n_fail.to_numpy()
    mc = np.sqrt(0.95 * 0.05 / args.seeds)
    print(f"seeds={args.seeds} (from {args.first_seed}) children={args.children} "
          f"municipalities={args.municipalities} workers={args.workers} "
          f"cluster={'child_id' if args.cluster else 'none'} "
          f"time={time.perf_counter() - t0:.0f} s")
    print("HVB vs FH, unplanned ending within 365 days; truth = population values "
          "(ATE: episodes in FH or HVB; ATT: episodes in HVB). Risk ratio: bias, SD and SE "
          f"on the log scale. Coverage Monte Carlo SE ~{mc:.3f}. failed = seeds whose "
          "models did not converge (left out).")
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
