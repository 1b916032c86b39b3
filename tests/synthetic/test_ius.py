"""The cd-upadacitinib-ius demo cohort: deterministic bytes, valid data, known truth recovered."""


import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import REPO, cohort_csv, study_from_cohort
from sklearn.metrics import roc_auc_score

from analysis.study.config import load_study
from analysis.study.prepare import prepare_cohort
from analysis.synthetic import cd_upadacitinib_ius as gen

STUDY = gen.NAME
LABS = ["crp_mg_l", "calprotectin_ug_g", "albumin_g_l", "hemoglobin_g_dl",
        "ceus_peak_db_w0", "bwt_mm_w4", "ceus_peak_db_w4", "bwt_mm_w12"]
OUTCOMES = ["remission_w12", "response_w12", "ius_response_w12", "ius_remission_w12",
            "endoscopic_response_w12"]






@pytest.fixture(scope="module")
def large():
    """One large unmasked draw shared by the truth tests (n = 20,000)."""
    return gen.simulate_complete(20000, 2024)


@pytest.fixture(scope="module")
def big():
    """A masked draw of 5,000 patients for event rates and missingness."""
    return gen.simulate(5000, seed=11)


def test_same_seed_same_bytes_different_seed_different_bytes():
    a, b = cohort_csv(gen.simulate()), cohort_csv(gen.simulate())
    assert set(a) == {"cohort.csv", "visits.csv", "truth.csv"}
    assert a == b
    other = cohort_csv(gen.simulate(seed=1))
    assert all(other[name] != a[name] for name in a)


def test_complete_draw_is_the_simulated_draw_before_masking():
    cohort = gen.simulate(300, seed=5)
    raw = cohort.tables["cohort.csv"]
    full = gen.simulate_complete(300, seed=5)
    observed = [c for c in raw.columns if not c.startswith("ses_")]
    assert full[observed].notna().all().all()
    assert raw[LABS].isna().any().all()
    for col in raw.columns:
        shown = raw[col].notna()
        assert (raw.loc[shown, col] == full.loc[shown, col]).all(), col
        if col.startswith("ses_"):  # unexplored segments are missing by design, not masked
            assert (raw[col].isna() == full[col].isna()).all(), col
    assert np.array_equal(full["latent_response"], cohort.truth["latent_response"])
    assert np.array_equal(full["true_probability"], cohort.truth["true_probability"])


def test_demo_cohort_validates_and_derived_outcome_is_the_latent_response(tmp_path):
    cohort = gen.simulate()
    study = study_from_cohort(tmp_path, STUDY, cohort)
    prepared = prepare_cohort(study)
    out, truth = prepared.cohort, cohort.truth
    assert prepared.notes == []  # every column of the raw table is declared
    assert len(out) == gen.DEFAULT_N == 120
    assert truth.columns.tolist() == ["patient_id", "true_probability", "latent_response"]
    assert (out["remission_w12"].to_numpy() == truth["latent_response"].to_numpy()).all()
    assert "true_probability" not in out and "latent_response" not in out
    # nothing about the outcome is precomputed in the raw table
    raw = cohort.tables["cohort.csv"]
    assert not set(raw.columns) & {*OUTCOMES, "cdai_w0", "cdai_w12", "ses_cd_w0", "ses_cd_w12"}
    # eligibility: moderate-severe disease by CDAI and SES-CD
    assert out["cdai_w0"].between(220, 450).all()
    assert (out["ses_cd_w0"] >= np.where(out["location"] == "L1", 4, 6)).all()
    # the study.yaml rules agree with the index functions evaluated directly
    direct = gen.derived_outcomes(raw)
    for name in OUTCOMES:
        assert out[name].equals(direct[name]), name
    assert np.array_equal(out["ses_cd_w0"], gen.ses_total(raw[gen.ses_columns(0)].to_numpy(float).reshape(-1, 4, 5)))
    # the visit table validates and repeats the wide table's ultrasound
    visits = prepared.visits
    assert len(visits) == 3 * len(out) and set(visits["week"]) == {0, 4, 12}
    wide = raw.set_index("patient_id")
    for week in (0, 4):
        at = visits[visits["week"] == week].set_index("patient_id").loc[wide.index]
        for col in gen.IUS_PARAMETERS:
            assert at[col].equals(wide[f"{col}_w{week}"].astype(float)), (col, week)
    at0 = visits[visits["week"] == 0].set_index("patient_id").loc[wide.index]
    assert at0["crp_mg_l"].equals(wide["crp_mg_l"])
    at12 = visits[visits["week"] == 12].set_index("patient_id").loc[wide.index]
    assert at12["bwt_mm"].equals(wide["bwt_mm_w12"])
    assert visits["ibus_sas"].notna().mean() > 0.9


def test_a_larger_demo_draw_derives_exactly_the_latent_response(tmp_path):
    """The consistency construction holds for every patient, not only the default 120."""
    cohort = gen.simulate(1200, seed=3)
    out = prepare_cohort(study_from_cohort(tmp_path, STUDY, cohort)).cohort
    assert (out["remission_w12"].to_numpy() == cohort.truth["latent_response"].to_numpy()).all()


def test_a_severely_anaemic_patient_in_remission_gets_a_cdai_below_150(tmp_path):
    """Seed 3785 (n = 120) holds a man with baseline haematocrit 24.1% in remission: the
    haematocrit term alone kept his week-12 CDAI at 151 and the draw raised; his
    haematocrit now recovers and the derived remission is still the latent one."""
    cohort = gen.simulate(120, seed=3785)
    out = prepare_cohort(study_from_cohort(tmp_path, STUDY, cohort)).cohort
    assert (out["remission_w12"].to_numpy() == cohort.truth["latent_response"].to_numpy()).all()


def test_followup_cdai_meets_an_upper_bound_the_haematocrit_alone_would_break():
    rng = np.random.default_rng(0)
    w0 = {"stools": np.array([30.0]), "pain": np.array([10.0]), "wellbeing": np.array([12.0]),
          "complications": np.array([2.0]), "antidiarrheal": np.array([1.0]),
          "mass": np.array([5.0]), "hematocrit": np.array([22.0])}
    sex, height, weight = np.array(["male"]), np.array([173.0]), np.array([50.0])
    # every symptom resolved and the haematocrit 4 points up: still above the bound
    floor = gen.cdai_fast({k: np.zeros(1) for k in w0} | {"hematocrit": w0["hematocrit"] + 4},
                          sex == "male", height, weight)
    assert floor[0] > 148
    comp, value = gen.cdai_followup(rng, w0, sex, height, weight, np.array([0.0]),
                                    np.array([100.0]), lo=np.array([-np.inf]), hi=np.array([148.0]))
    assert value[0] <= 148 and comp["hematocrit"][0] >= 47.0
    exact = gen.cdai_exact(comp, sex, height, weight)
    assert np.allclose(exact, value)


def test_event_rates_missingness_and_marginals_are_realistic(big):
    raw, truth = big.tables["cohort.csv"], big.truth
    rates = gen.derived_outcomes(raw).mean()
    assert 0.39 <= truth["latent_response"].mean() <= 0.50  # U-EXCEED 38.9% .. U-EXCEL 49.5%
    assert rates["remission_w12"] == truth["latent_response"].mean()
    assert 0.48 <= rates["response_w12"] <= 0.62  # CR-100
    assert 0.35 <= rates["ius_response_w12"] <= 0.45  # STARDUST-like
    assert 0.33 <= rates["endoscopic_response_w12"] <= 0.46  # U-EXCEL 45.5% / U-EXCEED 34.6%
    missing = raw[LABS].isna().mean()
    assert ((missing >= 0.02) & (missing <= 0.15)).all(), missing
    cdai_cols = [c for c in raw.columns if c.startswith(("cdai_", "hematocrit_", "weight_kg"))]
    assert raw[cdai_cols].notna().all().all()
    # MAR: calprotectin more often missing in older patients
    old = raw["age"] > raw["age"].median()
    assert raw.loc[old, "calprotectin_ug_g"].isna().mean() > raw.loc[~old, "calprotectin_ug_g"].isna().mean()
    assert raw["crp_mg_l"].median() == pytest.approx(13.2, rel=0.15)
    assert raw["calprotectin_ug_g"].median() == pytest.approx(1010, rel=0.2)
    assert 5.5 <= raw["bwt_mm_w0"].median() <= 6.5
    assert raw["bwt_mm_w0"].between(3.0, 13.0).all()
    assert 0.20 <= (raw["smoking"] == "current").mean() <= 0.30
    # CRP and wall thickness go together; the wall thins more in remitters
    assert np.corrcoef(np.log(raw["crp_mg_l"].dropna()), raw.loc[raw["crp_mg_l"].notna(), "bwt_mm_w0"])[0, 1] > 0.15
    change = (raw["bwt_mm_w12"] - raw["bwt_mm_w0"]) / raw["bwt_mm_w0"]
    y = truth["latent_response"] == 1
    assert change[y].median() < change[~y].median() - 0.1
    # long visit table: one row per patient and visit, weeks 0, 4, 12
    visits = big.tables["visits.csv"]
    assert len(visits) == 3 * len(raw)
    assert not visits.duplicated(["patient_id", "week"]).any()
    means = visits.groupby("week")["bwt_mm"].mean()
    assert means[0] > means[4] > means[12]


def test_large_draw_recovers_the_documented_coefficients(large):
    """A logistic fit of the latent response on the true design recovers every coefficient.

    With n = 20,000 each estimate is within 4 standard errors of the documented value.
    """
    design = gen.true_design(large)
    assert design.notna().all().all()
    fit = sm.Logit(large["latent_response"].to_numpy(), design.to_numpy()).fit(disp=0)
    est = pd.Series(fit.params, index=design.columns)
    se = pd.Series(fit.bse, index=design.columns)
    truth = pd.Series(gen.COEFFICIENTS)
    z = (est - truth) / se
    assert (z.abs() < 4).all(), pd.DataFrame({"est": est, "se": se, "true": truth, "z": z})
    assert (se < 0.1).all()
    p = 1 / (1 + np.exp(-gen.true_linear_predictor(large)))
    assert np.allclose(large["true_probability"], p, atol=1e-6)
    auc = roc_auc_score(large["latent_response"], large["true_probability"])
    assert 0.70 < auc < 0.85


def test_known_truth_directions(large):
    """Early ultrasound response raises remission; the BWT effect bends beyond 8 mm."""
    drop = (large["bwt_mm_w0"] - large["bwt_mm_w4"]) / large["bwt_mm_w0"]
    rate = large.groupby(drop > 0.2)["latent_response"].mean()
    assert rate[True] > rate[False] + 0.15
    cds = large.groupby(large["cds_w0"] > large["cds_w4"])["latent_response"].mean()
    assert cds[True] > cds[False] + 0.1
    c = gen.COEFFICIENTS
    assert c["bwt_w0_above_8"] < 0 and c["prior_biologic_failures:log_crp"] < 0
    # the failures x CRP interaction: CRP matters more after prior failures
    high = np.log(large["crp_mg_l"]) > np.log(10)
    gap = {f: large.loc[(large["prior_biologic_failures"] == f) & ~high, "true_probability"].mean()
           - large.loc[(large["prior_biologic_failures"] == f) & high, "true_probability"].mean() for f in (0, 3)}
    assert gap[3] > gap[0]


def test_shipped_study_yaml_is_the_one_tested():
    study = load_study(STUDY, root=REPO)
    assert study.outcome == "remission_w12"
    assert study.secondary_outcomes == tuple(OUTCOMES[1:])
    assert study.visits is not None and tuple(study.visits.times) == gen.WEEKS
    assert {"bwt_change_w4_pct", "cds_change_w4", "bwt_mm_w0", "crp_mg_l",
            "prior_biologic_failures", "smoking"} <= set(study.predictors)
    # the seed's eligibility: adults aged 18-80 without prior abdominal surgery
    assert study.variables["age"].max == 80 and "prior_bowel_surgery" not in study.variables
