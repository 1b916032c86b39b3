"""The cd-msc demo cohort: deterministic bytes, valid data, known truth recovered."""


import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import REPO, cohort_csv, study_from_cohort
from sklearn.metrics import roc_auc_score

from analysis.study.config import load_study
from analysis.study.prepare import prepare_cohort
from analysis.synthetic import cd_msc as gen

STUDY = gen.NAME
LABS = ["crp_mg_l", "calprotectin_ug_g", "albumin_g_l", "hemoglobin_g_dl"]
OUTCOMES = ["cdai_response_w24", "cdai_remission_w24", "endoscopic_response_w24", "endoscopic_remission_w24"]
CDAI_VISIT = ["cdai_stools", "cdai_pain", "cdai_wellbeing", "cdai_complications",
              "cdai_antidiarrheal", "cdai_mass", "hematocrit", "weight_kg"]






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


def test_demo_cohort_validates_and_derived_outcome_is_the_latent_response(tmp_path):
    cohort = gen.simulate()
    study = study_from_cohort(tmp_path, STUDY, cohort)
    prepared = prepare_cohort(study)
    out, truth = prepared.cohort, cohort.truth
    assert prepared.notes == []  # every column of the raw table is declared
    assert len(out) == gen.DEFAULT_N == 40
    assert (out["arm"].value_counts() == 20).all()
    assert truth.columns.tolist() == ["patient_id", "true_probability", "true_probability_mucosal",
                                      "true_probability_iv_mucosal", "latent_response"]
    assert (out["cdai_response_w24"].to_numpy() == truth["latent_response"].to_numpy()).all()
    assert "true_probability" not in out and "latent_response" not in out
    raw = cohort.tables["cohort.csv"]
    assert not set(raw.columns) & {*OUTCOMES, "cdai_w0", "cdai_w24", "ses_cd_w0", "ses_cd_w24"}
    assert out["cdai_w0"].between(220, 450).all()
    assert (out["prior_biologic_failures"] >= 2).all()
    direct = gen.derived_outcomes(raw)
    for name in OUTCOMES:
        assert out[name].equals(direct[name]), name
    # the visit table validates and repeats weeks 0 and 24 of the wide table
    visits = prepared.visits
    assert len(visits) == 5 * len(out) and set(visits["week"]) == set(gen.WEEKS)
    wide = raw.set_index("patient_id")
    for week in (0, 24):
        at = visits[visits["week"] == week].set_index("patient_id").loc[wide.index]
        for col in CDAI_VISIT:
            wide_col = "weight_kg" if (col, week) == ("weight_kg", 0) else f"{col}_w{week}"
            assert at[col].equals(wide[wide_col].astype(float)), (col, week)
        assert at["ses_cd"].equals(out.set_index("patient_id")[f"ses_cd_w{week}"]), week
    # SES-CD only where scheduled; adverse events add up
    scheduled = visits["week"].isin(gen.ENDOSCOPY_WEEKS)
    assert visits.loc[~scheduled, "ses_cd"].isna().all()
    assert visits.loc[visits["week"].isin([0, 24]), "ses_cd"].notna().all()
    totals = visits.groupby("patient_id")["ae_count"].sum().loc[wide.index]
    assert np.array_equal(totals.to_numpy(), wide["ae_count_total"].to_numpy(float))
    assert np.array_equal(visits.groupby("patient_id")["sae"].max().loc[wide.index].to_numpy(),
                          wide["sae_any"].to_numpy(float))


def test_a_larger_demo_draw_derives_exactly_the_latent_response(tmp_path):
    """The consistency construction holds for every patient, not only the default 40."""
    cohort = gen.simulate(1200, seed=3)
    out = prepare_cohort(study_from_cohort(tmp_path, STUDY, cohort)).cohort
    assert (out["cdai_response_w24"].to_numpy() == cohort.truth["latent_response"].to_numpy()).all()


def test_event_rates_missingness_and_trajectories_are_realistic(big):
    raw, truth, visits = big.tables["cohort.csv"], big.truth, big.tables["visits.csv"]
    rates = gen.derived_outcomes(raw).mean()
    y = truth["latent_response"] == 1
    assert rates["cdai_response_w24"] == y.mean()
    assert 0.50 <= rates["cdai_remission_w24"] <= 0.60  # MSC combined remission 50-60% at week 24
    assert rates["cdai_remission_w24"] + 0.05 <= rates["cdai_response_w24"] <= 0.72  # a bit higher
    assert 0.30 <= rates["endoscopic_response_w24"] <= 0.48
    assert 0.10 <= rates["endoscopic_remission_w24"] <= 0.25
    by_arm = y.groupby(raw["arm"]).mean()
    assert by_arm["iv_mucosal"] > by_arm["mucosal"] + 0.08
    missing = raw[LABS].isna().mean()
    assert ((missing >= 0.02) & (missing <= 0.15)).all(), missing
    assert raw["calprotectin_ug_g"].median() == pytest.approx(1010, rel=0.2)
    assert 0.05 <= raw["sae_any"].mean() <= 0.15
    # visits: one row per patient and week; weeks 4-12 sometimes missed, 0 and 24 never
    assert len(visits) == 5 * len(raw) and not visits.duplicated(["patient_id", "week"]).any()
    seen = visits["cdai_stools"].notna().groupby(visits["week"]).mean()
    assert seen[0] == seen[24] == 1.0 and all(0.94 <= seen[w] < 1.0 for w in (4, 8, 12))
    lab_missing = visits[["crp_mg_l", "calprotectin_ug_g"]].isna().mean()
    assert ((lab_missing >= 0.02) & (lab_missing <= 0.18)).all(), lab_missing
    # responders improve steadily, non-responders hover around baseline
    resp = visits["patient_id"].map(dict(zip(truth["patient_id"], y, strict=True)))
    stools = visits.groupby([resp, "week"])["cdai_stools"].median()
    assert stools[True].is_monotonic_decreasing and stools[True][24] < 0.6 * stools[True][0]
    assert abs(stools[False][24] - stools[False][0]) < 0.25 * stools[False][0]
    calpro = visits.groupby([resp, "week"])["calprotectin_ug_g"].median()
    assert calpro[True][24] < 0.5 * calpro[True][0]


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
    assert 0.65 < auc < 0.80


def test_known_truth_directions(large):
    """IV + mucosal helps more the more extensive the ulceration (arm x SES-CD)."""
    p = {a: large[f"true_probability_{a}"].to_numpy() for a in gen.ARMS}
    benefit = p["iv_mucosal"] - p["mucosal"]
    ses0 = gen.true_design(large)["ses_cd_w0_minus_12"].to_numpy() + 12
    assert benefit[ses0 >= 20].mean() > benefit[ses0 <= 8].mean() + 0.05
    assert np.allclose(np.where(large["arm"] == "iv_mucosal", p["iv_mucosal"], p["mucosal"]),
                       large["true_probability"])
    rate = large.groupby("prior_bowel_surgery")["latent_response"].mean()
    assert rate[1.0] < rate[0.0] - 0.05


def test_shipped_study_yaml_is_the_one_tested():
    study = load_study(STUDY, root=REPO)
    assert study.outcome == "cdai_response_w24" and study.group == "arm"
    assert study.secondary_outcomes == tuple(OUTCOMES[1:])
    assert study.visits is not None and tuple(study.visits.times) == gen.WEEKS
    assert {k: study.treatment[k] for k in ("column", "options")} == {"column": "arm", "options": list(gen.ARMS)}
    assert study.treatment["reference"] == "mucosal" and study.treatment["effect_modifiers"] == ["ses_cd_w0"]
