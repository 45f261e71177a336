"""The simulation behind the unit intervals of ``risk_standardised`` is reproducible: for a
fixed input, seed and number of draws it gives the same draws (to 1e-10 relative) as the
implementation it replaced (issue 14), which re-solved each unit's mode over a draws x rows
array.

``risk_standardised_simulation_reference.json`` holds the outputs of that implementation
(commit ba989c5) on the inputs built by :func:`simulation_case` below: the fixed effects,
sigma, every unit's rsr, interval limits and the mean of its draws, and three whole draws.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from evaluation.models.comparison import risk_standardised

REFERENCE_FILE = Path(__file__).with_name("risk_standardised_simulation_reference.json")
CASES = {
    # categorical and binary case mix only: few covariate patterns per unit; 4 chunks of draws
    "patterns": {"rows": 6000, "units": 70, "continuous": False, "n_draws": 700, "seed": 5},
    # with a continuous covariate (every row its own pattern); 3 chunks of draws
    "continuous": {"rows": 4000, "units": 45, "continuous": True, "n_draws": 600, "seed": 11},
}


def simulation_case(rows: int, units: int, continuous: bool, seed: int) -> tuple[pd.DataFrame, list[str]]:
    """Episodes of units with log-normal sizes and a random intercept (SD 0.4)."""
    rng = np.random.default_rng(seed)
    size = rng.lognormal(0.0, 1.2, units)
    n = np.maximum(1, np.round(size / size.sum() * rows)).astype(int)
    unit = np.repeat(np.arange(units), n)
    m = len(unit)
    d = pd.DataFrame({"unit": [f"U{u:03d}" for u in unit],
                      "age_group": rng.choice(["0-12", "13-15", "16-20"], m),
                      "sex": rng.choice(["F", "M"], m),
                      "lvu": (rng.random(m) < 0.3).astype(int),
                      "problem": (rng.random(m) < 0.2).astype(int)})
    lin = (-1.0 + 0.4 * (d["age_group"] == "13-15") + 0.7 * (d["age_group"] == "16-20")
           + 0.2 * (d["sex"] == "M") + 0.5 * d["lvu"] + 0.6 * d["problem"]).to_numpy(float)
    case_mix = ["age_group", "sex", "lvu", "problem"]
    if continuous:
        d["score"] = rng.normal(size=m)
        lin = lin + 0.3 * d["score"].to_numpy()
        case_mix.append("score")
    b = rng.normal(0.0, 0.4, units)
    d["y"] = (rng.random(m) < 1 / (1 + np.exp(-(lin + b[unit])))).astype(int)
    return d, case_mix


def run_case(name: str) -> dict[str, list[float]]:
    """risk_standardised on one case; the numbers the reference file keeps."""
    c = CASES[name]
    d, case_mix = simulation_case(c["rows"], c["units"], c["continuous"], c["seed"])
    fit = risk_standardised(d, "y", "unit", case_mix, reference={"age_group": "0-12"},
                            n_draws=c["n_draws"], seed=3)
    s, draws = fit.summary, fit.rsr_draws_
    return {"fixed": fit.fixed_effects["estimate"].tolist(), "sigma": [fit.sigma_],
            "rsr": s["rsr"].tolist(), "ci_lower": s["ci_lower"].tolist(),
            "ci_upper": s["ci_upper"].tolist(), "draws_mean": draws.mean(axis=0).tolist(),
            "draws_first": draws[:2].ravel().tolist(), "draws_last": draws[-1].tolist()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_risk_standardised_draws_equal_those_of_the_earlier_implementation(name):
    ref = json.loads(REFERENCE_FILE.read_text("utf-8"))[name]
    got = run_case(name)
    for key in ("fixed", "sigma", "rsr"):
        assert_allclose(got[key], ref[key], rtol=1e-8, err_msg=key)
    for key in ("ci_lower", "ci_upper", "draws_mean", "draws_first", "draws_last"):
        assert_allclose(got[key], ref[key], rtol=1e-10, atol=0, err_msg=key)


if __name__ == "__main__":   # rewrites the reference file (only with the reference commit)
    REFERENCE_FILE.write_text(json.dumps({name: run_case(name) for name in sorted(CASES)},
                                         indent=1) + "\n", "utf-8")
