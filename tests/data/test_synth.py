"""Tests of the synthetic data generator (evaluation.data.synth)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from evaluation.data import analysis_frame, synth
from evaluation.data.dictionary import TABLES, load_dictionary
from evaluation.data.synth.truth import cif_unplanned
from evaluation.errors import ParameterError

N_CHILDREN = 3000
N_MUNI = 30
SEED = 1
END = pd.Timestamp("2024-12-31")


@pytest.fixture(scope="module")
def data():
    return synth.generate(n_children=N_CHILDREN, n_municipalities=N_MUNI, seed=SEED)


@pytest.fixture(scope="module")
def written(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    return out, synth.write(data, out, raw=True)


def _files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_same_bytes_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    synth.write(synth.generate(1500, 10, seed=5), a, raw=True)
    synth.write(synth.generate(1500, 10, seed=5), b, raw=True)
    synth.write(synth.generate(1500, 10, seed=6), c, raw=True)
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert set(fa) >= {"episodes.csv", "placements.csv", "followups.csv", "referrals.csv",
                       "truth.json", "raw/episodes.csv", "raw/referrals.csv", "raw/README.txt"}
    assert fa == fb
    assert fa["episodes.csv"] != fc["episodes.csv"]
    assert fa["truth.json"] != fc["truth.json"]


def test_columns_are_the_dictionary_columns_in_order(data, written):
    d = load_dictionary()
    _out, paths = written
    for t in TABLES:
        expected = [c for c in d.table(t) if c != "personnummer"]
        assert list(data.tables[t].columns) == expected, t
        header = paths[t].read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header == expected, t
        assert "personnummer" not in paths[t].read_text(encoding="utf-8")


def test_codes_types_and_derived_columns_are_valid(data):
    d = load_dictionary()
    for t in TABLES:
        df = data.tables[t]
        for name, col in d.table(t).items():
            if name not in df.columns:
                continue
            v = df[name]
            if col.type == "code":
                assert set(v.dropna()) <= set(col.code_values), (t, name)
            elif col.type == "boolean":
                assert str(v.dtype) == "boolean", (t, name)
            elif col.type == "date":
                assert pd.api.types.is_datetime64_any_dtype(v), (t, name)
            if col.pattern:
                assert v.str.fullmatch(col.pattern).all(), (t, name)
            if col.min is not None and col.type in ("integer", "number"):
                assert (v.dropna() >= col.min).all() and (v.dropna() <= col.max).all(), (t, name)
            if col.required:
                assert v.notna().all(), (t, name)
    ep = data.tables["episodes"]
    ended = ep["end_date"].notna()
    assert (ep["end_reason"].notna() == ended).all()
    assert (ep["planned_ending"].notna() == ended).all()
    planned = ep.loc[ended, "end_reason"].isin(d.planned_codes())
    assert (ep.loc[ended, "planned_ending"].astype(bool) == planned).all()
    assert (ep.loc[ended, "end_date"] >= ep.loc[ended, "start_date"]).all()
    assert (ep["end_date"].dropna() <= END).all()
    assert ep["episode_id"].is_unique
    assert data.tables["referrals"]["referral_id"].is_unique
    assert not data.tables["followups"].duplicated(["episode_id", "followup_date"]).any()
    assert not data.tables["placements"].duplicated(["episode_id", "placement_seq"]).any()


def test_placements_tile_their_episodes(data):
    ep = data.tables["episodes"].set_index("episode_id")
    pl = data.tables["placements"].sort_values(["episode_id", "placement_seq"])
    g = pl.groupby("episode_id", sort=False)
    assert set(pl["episode_id"]) == set(ep.index)
    first = g.head(1).set_index("episode_id")
    last = g.tail(1).set_index("episode_id")
    assert (first["placement_seq"] == 1).all()
    assert (first["start_date"] == ep.loc[first.index, "start_date"]).all()
    assert (first["placement_type"] == ep.loc[first.index, "placement_type"]).all()
    assert first["change_reason"].isna().all()
    e = ep.loc[last.index, "end_date"]
    assert ((last["end_date"] == e) | (last["end_date"].isna() & e.isna())).all()
    seq_ok = g["placement_seq"].apply(lambda s: list(s) == list(range(1, len(s) + 1)))
    assert seq_ok.all()
    nxt = g["start_date"].shift(-1)
    inner = nxt.notna()
    assert ((nxt[inner] - pl.loc[inner, "end_date"]).dt.days == 1).all()
    assert (pl["end_date"].dropna() >= pl.loc[pl["end_date"].notna(), "start_date"]).all()
    assert pl.loc[pl["placement_seq"] > 1, "change_reason"].notna().all()
    assert (pl["placement_seq"] > 1).mean() > 0.1  # moves happen


def test_followups_fall_inside_their_episodes(data):
    ep = data.tables["episodes"].set_index("episode_id")
    fu = data.tables["followups"]
    s = ep.loc[fu["episode_id"], "start_date"].to_numpy()
    e = ep.loc[fu["episode_id"], "end_date"].fillna(END).to_numpy()
    assert (fu["followup_date"].to_numpy() >= s).all()
    assert (fu["followup_date"].to_numpy() <= e).all()
    ending = fu[fu["followup_type"] == "ENDING"].set_index("episode_id")
    ended = ep[ep["end_date"].notna()]
    assert set(ending.index) == set(ended.index)
    assert (ending["followup_date"] == ended.loc[ending.index, "end_date"]).all()
    themes = load_dictionary().group("followups", "themes")
    vals = fu[themes].stack()
    assert vals.between(1, 5).all()
    assert fu[themes].isna().any().all()  # some missing
    # Goal attainment is better at planned endings than at breakdowns.
    fully = (ending["goal_attainment"] == "FULLY")
    planned = ended.loc[ending.index, "planned_ending"].astype(bool)
    assert fully[planned].mean() > fully[~planned].mean() + 0.2


def test_one_childs_episodes_do_not_overlap_and_ages_are_valid(data):
    ep = data.tables["episodes"].sort_values(["child_id", "start_date"])
    prev_end = ep.groupby("child_id")["end_date"].shift()
    has_prev = ep["child_id"].duplicated()
    assert has_prev.sum() > 50  # re-entries exist
    assert prev_end[has_prev].notna().all()
    assert (ep.loc[has_prev, "start_date"] > prev_end[has_prev]).all()
    # Child attributes are constant per child.
    assert (ep.groupby("child_id")[["sex", "birth_year", "birth_region"]].nunique() == 1).all().all()
    age = ep["start_date"].dt.year - ep["birth_year"]
    assert age.between(0, 20).all()


def test_calibration_within_loose_bands(data):
    ep = data.tables["episodes"]
    age = ep["start_date"].dt.year - ep["birth_year"]
    ended = ep["end_date"].notna()
    assert 0.60 <= ep["placement_type"].isin(["FH", "NH", "FFH", "JH"]).mean() <= 0.80
    assert 0.50 <= (ep["sex"] == "M").mean() <= 0.65
    assert (age >= 15).mean() > 0.50
    assert (age <= 3).mean() > 0.03
    unplanned = ~ep.loc[ended, "planned_ending"].astype(bool)
    assert 0.15 <= unplanned.mean() <= 0.40
    assert 0.60 <= (ep["legal_basis"] == "SOL").mean() <= 0.80
    assert 0.03 <= ep["unaccompanied"].astype(bool).mean() <= 0.12
    dur = (ep.loc[ended, "end_date"] - ep.loc[ended, "start_date"]).dt.days
    assert 0.55 <= (dur[unplanned] < 365).mean() <= 0.85
    boys = ep.groupby("placement_type")["sex"].apply(lambda s: (s == "M").mean())
    assert boys["HVB"] > boys["FH"]
    cost = ep.groupby("placement_type")["daily_cost_sek"]
    assert cost.min()["FH"] >= 1000 and cost.max()["FH"] <= 2000
    assert cost.min()["HVB"] >= 3000 and cost.max()["HVB"] <= 6000
    realised = data.truth["realised"]["rereferral_within_12m_share_13plus"]
    assert 0.12 <= realised <= 0.32


def test_referrals_precede_episodes(data):
    ep = data.tables["episodes"]
    rf = data.tables["referrals"]
    assert (rf["referral_date"] <= END).all()
    led = rf[rf["led_to_investigation"].astype(bool)]
    m = ep[["episode_id", "child_id", "start_date"]].merge(led, on="child_id")
    gap = (m["start_date"] - m["referral_date"]).dt.days
    ok = m[(gap >= 0) & (gap <= 180)].groupby("episode_id").size()
    assert set(ok.index) == set(ep["episode_id"])
    assert set(ep["child_id"]) < set(rf["child_id"])  # plus a few never-placed children


def test_identity_numbers_match_sex_birth_year_and_pseudonym(data):
    from evaluation.data.pseudonymise import pseudonymise_id

    ep = data.tables["episodes"].drop_duplicates("child_id").head(200)
    key = synth.demo_key(SEED)
    for row in ep.itertuples():
        pnr = data.raw_ids[row.child_id]
        assert len(pnr) == 13 and pnr[8] == "-"
        assert int(pnr[:4]) == row.birth_year
        assert (int(pnr[-2]) % 2 == 1) == (row.sex == "M")
        assert pseudonymise_id(pnr, key) == row.child_id
    assert "raw_ids" not in repr(data)
    assert len(set(data.raw_ids.values())) == len(data.raw_ids)


def test_truth_file_states_every_parameter(data, written):
    _out, paths = written
    truth = json.loads(paths["truth"].read_text(encoding="utf-8"))
    bm = truth["breakdown_model"]
    assert bm["type"] == "cause-specific Weibull proportional hazards"
    assert bm["time_unit"] == "days"
    assert bm["log_hr"] == synth.TRUE_BREAKDOWN_LOG_HR
    assert set(bm["municipality_effects"]) == set(truth["municipalities"]["codes"])
    assert set(data.tables["episodes"]["municipality_code"]) <= set(bm["municipality_effects"])
    assert len(bm["municipality_effects"]) == N_MUNI
    assert {"shape", "scale", "reference", "municipality_sd"} <= set(bm)
    assert {"log_hr", "shape", "scale"} <= set(truth["planned_model"])
    assert truth["generated"]["seed"] == SEED
    assert truth["generated"]["n_children"] == N_CHILDREN
    assert synth.demo_key(SEED).hex() not in paths["truth"].read_text(encoding="utf-8")
    sizes = sorted(truth["municipalities"]["size_weights"].values())
    assert sizes[-1] > 10 * sizes[0]  # very unequal sizes


def test_raw_extract_is_messy_as_documented(data, written):
    out, _paths = written
    raw = out / "raw"
    key_hex = synth.demo_key(SEED).hex()
    readme = (raw / "README.txt").read_text(encoding="utf-8")
    assert key_hex not in readme
    for t in ("episodes", "referrals"):
        b = (raw / f"{t}.csv").read_bytes()
        text = b.decode("cp1252")
        assert key_hex not in text
        df = pd.read_csv(raw / f"{t}.csv", sep=";", encoding="cp1252", dtype=str,
                         keep_default_na=False)
        assert "personnummer" in df.columns
        assert not {"child_id", "sex", "birth_year"} & set(df.columns)
        assert len(df) == len(data.tables[t])
        pnr = df["personnummer"]
        assert pnr.str.fullmatch(r"\d{8}-\d{4}").any()
        assert pnr.str.fullmatch(r"\d{6}-\d{4}").any()
        assert pnr.str.fullmatch(r"\d{12}").any()
        assert f"{t}.csv" in readme
    ep = pd.read_csv(raw / "episodes.csv", sep=";", encoding="cp1252", dtype=str,
                     keep_default_na=False)
    assert set(ep["unaccompanied"]) <= {"Ja", "Nej"}
    assert ep["daily_cost_sek"].str.contains(",").all()
    assert ep["start_date"].str.fullmatch(r"\d{8}").any()
    assert ep["placement_type"].str.lower().eq("familjehem").any()
    assert "SOL" not in set(ep["legal_basis"])
    n_bad = sum(1 for line in readme.splitlines() if line.startswith("  episodes.csv"))
    assert 3 <= n_bad <= 0.02 * len(ep) + 3
    for kind in ("bad check digit", "unknown code", "end before start"):
        assert kind in readme


def test_invalid_parameters_raise():
    with pytest.raises(ParameterError):
        synth.generate(n_children=0)
    with pytest.raises(ParameterError):
        synth.generate(n_children=10, start="2024-01-01", end="2023-01-01")
    with pytest.raises(ParameterError):
        synth.generate(n_children=10, start="not a date")


def _cox_frame(ep: pd.DataFrame) -> pd.DataFrame:
    stop = ep["end_date"].fillna(END)
    df = pd.DataFrame({
        "T": (stop - ep["start_date"]).dt.days + 0.5,
        "E": (ep["end_date"].notna() & ~ep["planned_ending"].fillna(True).astype(bool)).astype(int),
    })
    for t in ("NH", "FFH", "JH", "HVB", "SIS", "SB", "EGET"):
        df[t] = (ep["placement_type"] == t).astype(float)
    df["age_13plus"] = ((ep["start_date"].dt.year - ep["birth_year"]) >= 13).astype(float)
    for p in ("problem_criminality", "problem_child_substance", "problem_child_mental"):
        df[p] = ep[p].astype(float)
    df["muni"] = ep["municipality_code"].astype(str)
    return df


def test_known_truth_adjusted_cox_recovers_hvb_effect_naive_is_biased(data):
    """Cause-specific Cox for breakdown (planned endings and ongoing episodes censored).

    At seed 1, 3,000 children, 30 municipalities (3,407 episodes, ~710 breakdowns) the
    adjusted model (placement-type dummies + age 13+, criminality, child substance use,
    child mental illness, stratified by municipality) gives HVB log-HR ~0.40 (SE ~0.11)
    against the true 0.40, while the naive model (placement type only) gives ~0.90:
    upward bias ~0.5, well beyond 3 SE of the adjusted estimate. (Seeds 2-4 gave adjusted
    0.34-0.44 and naive 0.83-0.95.)
    """
    from lifelines import CoxPHFitter

    df = _cox_frame(data.tables["episodes"])
    true = synth.TRUE_BREAKDOWN_LOG_HR["placement_type[HVB]"]
    adj = CoxPHFitter().fit(df, "T", "E", strata=["muni"])
    naive = CoxPHFitter().fit(df[["T", "E", "NH", "FFH", "JH", "HVB", "SIS", "SB", "EGET"]],
                              "T", "E")
    est, se = adj.params_["HVB"], adj.standard_errors_["HVB"]
    assert abs(est - true) < 3 * se
    assert naive.params_["HVB"] - true > 3 * se
    for name in ("age_13plus", "problem_criminality", "problem_child_substance"):
        assert abs(adj.params_[name] - synth.TRUE_BREAKDOWN_LOG_HR[name]) < 3 * adj.standard_errors_[name]


# --------------------------------------------------------------------------------------------
# Known true effects of placement type on unplanned ending within 365 / 730 days
# --------------------------------------------------------------------------------------------


def test_cumulative_incidence_integration_matches_adaptive_quadrature():
    from scipy.integrate import quad

    def direct(lp_b, lp_p, upper):
        def h_b(t):
            return (np.exp(lp_b) * synth.BREAKDOWN_SHAPE / synth.BREAKDOWN_SCALE_DAYS
                    * (t / synth.BREAKDOWN_SCALE_DAYS) ** (synth.BREAKDOWN_SHAPE - 1))

        def surv(t):
            return np.exp(-np.exp(lp_b) * (t / synth.BREAKDOWN_SCALE_DAYS) ** synth.BREAKDOWN_SHAPE
                          - np.exp(lp_p) * (t / synth.PLANNED_SCALE_DAYS) ** synth.PLANNED_SHAPE)

        return quad(lambda t: h_b(t) * surv(t), 0, upper, epsabs=1e-13, epsrel=1e-12,
                    limit=200)[0]

    rng = np.random.default_rng(7)
    lp_b, lp_p = rng.normal(0, 1, 40), rng.normal(0, 1.2, 40)
    upper = np.r_[0.0, 1.0, rng.uniform(0, 800, 38)]
    got = cif_unplanned(lp_b, lp_p, upper)
    want = np.array([direct(a, b, u) if u > 0 else 0.0 for a, b, u in zip(lp_b, lp_p, upper)])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_placement_effect_truth_is_complete_and_consistent(data, written):
    _out, paths = written
    pe = json.loads(paths["truth"].read_text(encoding="utf-8"))["placement_effects"]
    assert pe["horizons_days"] == [365, 730]
    assert set(pe["confounders"]) == set(synth.EFFECT_CONFOUNDERS)
    assert "reference sample" in pe["population"]["method"]
    for kind in ("population", "sample"):
        for h in ("365", "730"):
            v = pe[kind]["values"][h]
            risk = v["potential_risk"]
            assert 0 < risk["FH"] < risk["HVB"] < 1 and risk["FH"] < risk["SIS"] < 1
            for arm in ("HVB", "SIS"):
                c = v["contrasts"][f"{arm} vs FH"]
                assert set(c) == {"ATE", f"ATE_FH_or_{arm}", "ATT"}
                ate = c["ATE"]
                assert ate["risk_treated"] == pytest.approx(risk[arm])
                assert ate["risk_difference"] == pytest.approx(risk[arm] - risk["FH"])
                assert ate["risk_ratio"] == pytest.approx(risk[arm] / risk["FH"])
                assert 0 < c["ATT"]["n_episodes"] < c[f"ATE_FH_or_{arm}"]["n_episodes"]
                # Those placed in HVB/SIS are at higher risk whatever the placement.
                assert c["ATT"]["risk_control"] > ate["risk_control"]
    # 730-day risks exceed 365-day risks.
    p = pe["population"]["values"]
    assert all(p["730"]["potential_risk"][a] > p["365"]["potential_risk"][a]
               for a in ("FH", "HVB", "SIS"))
    mc = p["365"]["contrasts"]["HVB vs FH"]["ATE"]["mc_se_risk_difference"]
    assert 0 < mc < 0.001


def test_population_truth_does_not_depend_on_sample_size_but_sample_truth_does(data):
    small = synth.generate(n_children=400, n_municipalities=N_MUNI, seed=SEED)
    a, b = data.truth["placement_effects"], small.truth["placement_effects"]
    assert a["population"] == b["population"]
    assert a["sample"] != b["sample"]
    # The sample truth of a large sample is close to the population truth.
    pop = a["population"]["values"]["365"]["contrasts"]["HVB vs FH"]["ATE"]["risk_difference"]
    smp = a["sample"]["values"]["365"]["contrasts"]["HVB vs FH"]["ATE"]["risk_difference"]
    assert abs(pop - smp) < 0.01


def test_exact_risks_agree_with_the_simulated_outcomes(data):
    """Mean observed outcome of HVB (and SIS) episodes in the frame vs the mean of their exact
    risks under their own placement (``ATT.risk_treated`` of the sample truth): within 3.5
    binomial SEs. Across seeds 3 and 4 with 40,000 children the z-values were -0.6 to 1.1."""
    for h in (365, 730):
        frame = analysis_frame.effect_frame(data, horizon=h)
        v = data.truth["placement_effects"]["sample"]["values"][str(h)]
        assert v["n_episodes"] == len(frame)
        for arm in ("HVB", "SIS"):
            y = frame.loc[frame["placement_type"] == arm, f"unplanned_{h}d"]
            p = v["contrasts"][f"{arm} vs FH"]["ATT"]["risk_treated"]
            assert len(y) == v["contrasts"][f"{arm} vs FH"]["ATT"]["n_episodes"]
            assert abs(y.mean() - p) < 3.5 * np.sqrt(p * (1 - p) / len(y)), (h, arm)


def test_effect_frame_and_covariates_have_one_address_in_analysis_frame():
    """effect_frame and EFFECT_COVARIATES live only in evaluation.data.analysis_frame (their own
    tests are in tests/data/test_analysis_frame.py); synth does not re-export them and the
    generator never imports the analysis frame."""
    assert not hasattr(synth, "effect_frame") and not hasattr(synth, "EFFECT_COVARIATES")
    assert {"effect_frame", "EFFECT_COVARIATES"}.isdisjoint(synth.__all__)
    assert analysis_frame.effect_frame.__module__ == "evaluation.data.analysis_frame"


def test_known_truth_adjusted_effect_is_recovered_naive_is_biased(data):
    """HVB vs FH on unplanned ending within 365 days (episodes in FH or HVB), with
    evaluation.models.effects: AIPW with the generator's confounders is within 3 SE of the
    population truth ATE_FH_or_HVB; the naive difference is > 3 SE above it.
    (Seed 1: truth ~0.047, AIPW ~0.05, naive ~0.13 with SE ~0.02.)"""
    from evaluation.models.effects import estimate_effect

    frame = analysis_frame.effect_frame(data)
    frame = frame[frame["placement_type"].isin(["FH", "HVB"])]
    pop = data.truth["placement_effects"]["population"]["values"]["365"]
    true = pop["contrasts"]["HVB vs FH"]["ATE_FH_or_HVB"]["risk_difference"]
    cov = ["age_13", "age_14_15", "age_16", "age_17", "age_18", "age_19_20", "behaviour",
           "teen_behaviour", "unaccompanied", "problem_criminality", "problem_child_substance",
           "problem_child_mental", "goal_REUNIFICATION", "goal_LONGTERM",
           "goal_CUSTODY_TRANSFER"]
    with warnings.catch_warnings():
        # Sparse cells (e.g. no unplanned ending among HVB episodes aged 19-20) make the
        # per-arm logistic outcome model predict 0 there; estimate_effect warns about it.
        warnings.filterwarnings("ignore", message="logistic outcome model")
        res = {m: estimate_effect(frame, "placement_type", "unplanned_365d", cov, method=m,
                                  treated="HVB", control="FH").summary.set_index("measure")
               .loc["risk_difference"] for m in ("aipw", "naive")}
    assert abs(res["aipw"]["estimate"] - true) < 3 * res["aipw"]["se"]
    assert res["naive"]["estimate"] - true > 3 * res["naive"]["se"]


def test_effect_truth_of_a_tiny_sample_has_no_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny = synth.generate(n_children=1, n_municipalities=1, seed=3)
    v = tiny.truth["placement_effects"]["sample"]["values"]["730"]
    text = json.dumps(tiny.truth, allow_nan=False)  # raises on NaN
    assert "placement_effects" in text
    if v["n_episodes"] == 0:
        assert v["potential_risk"] == {"FH": None, "HVB": None, "SIS": None}
    assert v["contrasts"]["SIS vs FH"]["ATT"]["n_episodes"] == 0
