"""The ra-refractory demo cohort: deterministic bytes, valid data, known truth recovered."""

import shutil

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import REPO, cohort_csv
from sklearn.metrics import roc_auc_score

from analysis.indices.rheumatoid import das28_crp
from analysis.study.config import load_study
from analysis.study.prepare import prepare_cohort
from analysis.synthetic import ra_refractory as gen
from analysis.synthetic._base import write_cohort

STUDY = gen.NAME
LABS = ["igm_g_l", "lymphocytes_10e9_l", "hemoglobin_g_dl", "anti_carp_positive"]




@pytest.fixture(scope="module")
def large():
    """One large unmasked draw shared by the truth tests (n = 20,000)."""
    return gen.simulate_complete(20000, 2024)


@pytest.fixture
def ra_project(tmp_path):
    folder = tmp_path / "data" / STUDY
    folder.mkdir(parents=True)
    shutil.copy(REPO / "data" / STUDY / "study.yaml", folder)
    cohort = gen.simulate()
    write_cohort(cohort, folder / "raw")
    return tmp_path, cohort


def test_same_seed_same_bytes_different_seed_different_bytes():
    a, b = cohort_csv(gen.simulate()), cohort_csv(gen.simulate())
    assert set(a) == {"cohort.csv", "visits.csv", "truth.csv"}
    assert a == b
    other = cohort_csv(gen.simulate(seed=1))
    assert all(other[name] != a[name] for name in a)


def test_complete_draw_is_the_simulated_draw_before_masking():
    raw = gen.simulate(300, seed=5).tables["cohort.csv"]
    full = gen.simulate_complete(300, seed=5)
    assert full[raw.columns].notna().all().all()
    shown = raw.notna()
    for col in raw.columns:
        assert (raw.loc[shown[col], col] == full.loc[shown[col], col]).all(), col


def test_demo_cohort_validates_and_derived_outcome_is_the_latent_response(ra_project):
    root, cohort = ra_project
    study = load_study(STUDY, root=root)
    prepared = prepare_cohort(study)
    out, truth = prepared.cohort, cohort.truth
    assert len(out) == gen.DEFAULT_N
    assert (out["remission_m6"].to_numpy() == truth["latent_response"].to_numpy()).all()
    assert "true_probability" not in out and "latent_response" not in out
    # everyone included is difficult-to-treat (EULAR 2021) with DAS28-ESR > 3.2
    assert (out["d2t"] == 1).all()
    assert (out["das28_esr_m0"] > 3.2).all()
    assert (out["n_failed_btsdmard_moa"] >= 2).all()
    # the secondary outcomes follow the same rules evaluated directly
    direct = gen.derived_outcomes(cohort.tables["cohort.csv"])
    for name in ("eular_good_moderate_m6", "haq_mcid_m6"):
        assert (out[name].to_numpy() == direct[name].to_numpy()).all(), name
        assert 0.2 < out[name].mean() < 0.8
    # the visit table validates and repeats months 0 and 6 of the wide table
    visits = prepared.visits
    assert set(visits["month"].unique()) == {0, 3, 6, 12}
    wide = cohort.tables["cohort.csv"].set_index("patient_id")
    for month in (0, 6):
        at = visits[visits["month"] == month].set_index("patient_id").loc[wide.index]
        assert len(at) == gen.DEFAULT_N
        for col in ("tjc28", "sjc28", "crp_mg_l", "gh", "pain_vas"):
            assert np.array_equal(at[col].to_numpy(float), wide[f"{col}_m{month}"].to_numpy(float)), col
        assert np.allclose(at["das28_crp"], das28_crp(wide[f"tjc28_m{month}"], wide[f"sjc28_m{month}"],
                                                      wide[f"crp_mg_l_m{month}"], wide[f"gh_m{month}"]))
    assert np.allclose(visits.loc[visits["month"] == 0, "haq_di"].to_numpy(),
                       out["haq_di_m0"].to_numpy())


def test_event_rates_missingness_and_marginals_are_realistic():
    cohort = gen.simulate(5000, seed=11)
    raw, truth, visits = cohort.tables["cohort.csv"], cohort.truth, cohort.tables["visits.csv"]
    assert 0.20 <= truth["latent_response"].mean() <= 0.30  # D2T RA: low remission rates
    direct = gen.derived_outcomes(raw)
    assert 0.45 <= direct["eular_good_moderate_m6"].mean() <= 0.75
    assert 0.30 <= direct["haq_mcid_m6"].mean() <= 0.60
    missing = raw[LABS].isna().mean()
    assert ((missing >= 0.02) & (missing <= 0.16)).all(), missing
    assert raw[["tjc28_m6", "sjc28_m6", "crp_mg_l_m6", "gh_m6"]].notna().all().all()
    assert 0.75 <= (raw["sex"] == "female").mean() <= 0.85
    sero = (raw["rf_positive"] == 1) | (raw["acpa_positive"] == 1)
    assert 0.70 <= sero.mean() <= 0.85
    assert raw["crp_mg_l_m0"].median() == pytest.approx(9.0, rel=0.2)
    # treatment by indication: rituximab more often in seropositive disease
    rtx = raw["btsdmard"] == "rituximab"
    assert rtx[sero].mean() > rtx[~sero].mean() + 0.05
    assert set(raw["btsdmard"]) == set(gen.TREATMENTS)
    # visits: months 3 and 12 are sometimes missed, months 0 and 6 never
    per_month = visits.groupby("month").size() / len(raw)
    assert per_month[0] == per_month[6] == 1.0
    assert 0.9 <= per_month[3] < 1.0 and 0.85 <= per_month[12] < 0.95
    assert not visits.duplicated(["patient_id", "month"]).any()


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
    assert np.allclose(large["true_probability"], 1 / (1 + np.exp(-gen.true_linear_predictor(large))))
    auc = roc_auc_score(large["latent_response"], large["true_probability"])
    assert 0.65 < auc < 0.80


def test_known_truth_directions(large):
    """Drug class x serostatus: B/T-cell agents help seropositive, hurt seronegative patients."""
    sero = ((large["rf_positive"] == 1) | (large["acpa_positive"] == 1)).to_numpy()
    p = {t: 1 / (1 + np.exp(-gen.true_linear_predictor(large, t))) for t in gen.TREATMENTS}
    assert (p["rituximab"][sero] > p["tnf_inhibitor"][sero]).all()
    assert (p["rituximab"][~sero] < p["tnf_inhibitor"][~sero]).all()
    rate = large.groupby("fibromyalgia")["latent_response"].mean()
    assert rate[1.0] < rate[0.0] - 0.05
    truth = gen.simulate(500, seed=3).truth
    assert {f"true_probability_{t}" for t in gen.TREATMENTS} <= set(truth.columns)


def test_shipped_study_yaml_is_the_one_tested():
    study = load_study(STUDY, root=REPO)
    assert study.outcome == "remission_m6"
    assert study.secondary_outcomes == ("eular_good_moderate_m6", "haq_mcid_m6")
    assert study.visits is not None and tuple(study.visits.times) == gen.VISIT_MONTHS
    assert set(study.treatment["options"]) == set(gen.TREATMENTS)
