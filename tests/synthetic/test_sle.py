"""The sle-belimumab demo cohort: deterministic bytes, valid data, known truth recovered."""

import shutil

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import REPO, cohort_csv
from sklearn.metrics import roc_auc_score

from analysis.indices.lupus import SLEDAI_2K_WEIGHTS
from analysis.study.config import load_study
from analysis.study.prepare import prepare_cohort
from analysis.synthetic import sle_belimumab as gen
from analysis.synthetic._base import write_cohort

STUDY = gen.NAME
LABS = ["c3_g_l_w0", "c4_g_l_w0", "anti_dsdna_iu_ml_w0", "hemoglobin_g_dl", "lymphocytes_10e9_l",
        "egfr_ml_min", "c3_g_l_w48", "c4_g_l_w48", "anti_dsdna_iu_ml_w48"]




@pytest.fixture(scope="module")
def large():
    """One large unmasked draw shared by the truth tests (n = 20,000)."""
    return gen.simulate_complete(20000, 2024)


@pytest.fixture
def sle_project(tmp_path):
    folder = tmp_path / "data" / STUDY
    folder.mkdir(parents=True)
    shutil.copy(REPO / "data" / STUDY / "study.yaml", folder)
    cohort = gen.simulate()
    write_cohort(cohort, folder / "raw")
    return tmp_path, cohort


def test_same_seed_same_bytes_different_seed_different_bytes():
    a, b = cohort_csv(gen.simulate()), cohort_csv(gen.simulate())
    assert set(a) == {"cohort.csv", "truth.csv"}
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


def test_demo_cohort_validates_and_derived_outcome_is_the_latent_response(sle_project):
    root, cohort = sle_project
    study = load_study(STUDY, root=root)
    prepared = prepare_cohort(study)
    out, truth = prepared.cohort, cohort.truth
    assert len(out) == gen.DEFAULT_N
    assert (out["sri4_w48"].to_numpy() == truth["latent_response"].to_numpy()).all()
    assert "true_probability" not in out and "latent_response" not in out
    # suffixed("_w0") picks exactly the descriptors: same totals as the weighted sum written out
    for week in ("w0", "w48"):
        explicit = sum(w * out[f"{item}_{week}"] for item, w in SLEDAI_2K_WEIGHTS.items())
        assert np.array_equal(out[f"sledai_{week}"].to_numpy(), explicit.to_numpy())
    assert (out["sledai_w0"] >= gen.INCLUSION_SLEDAI).all()


def test_serology_agrees_with_the_sledai_descriptors():
    raw = gen.simulate(3000, seed=4).tables["cohort.csv"]
    for week in ("w0", "w48"):
        c3, c4 = raw[f"c3_g_l_{week}"], raw[f"c4_g_l_{week}"]
        low = (c3 < gen.C3_LOW_BELOW) | (c4 < gen.C4_LOW_BELOW)
        both = c3.notna() & c4.notna()
        assert (low[both] == (raw.loc[both, f"low_complement_{week}"] == 1)).all()
        titre = raw[f"anti_dsdna_iu_ml_{week}"]
        known = titre.notna()
        positive = titre[known] >= gen.DSDNA_POSITIVE_FROM
        assert (positive == (raw.loc[known, f"increased_dna_binding_{week}"] == 1)).all()
    assert (raw["anti_dsdna_positive"] == raw["increased_dna_binding_w0"]).all()


def test_event_rate_missingness_and_marginals_follow_bliss():
    cohort = gen.simulate(5000, seed=11)
    raw, truth = cohort.tables["cohort.csv"], cohort.truth
    assert 0.45 <= truth["latent_response"].mean() <= 0.58  # BLISS-52/76: 57.6% / 43.2%
    missing = raw[LABS].isna().mean()
    assert ((missing >= 0.015) & (missing <= 0.15)).all(), missing
    items = raw[[f"{i}_w0" for i in SLEDAI_2K_WEIGHTS]].set_axis(list(SLEDAI_2K_WEIGHTS), axis=1)
    sledai = sum(w * items[i] for i, w in SLEDAI_2K_WEIGHTS.items())
    assert sledai.mean() == pytest.approx(9.7, abs=0.6)
    assert sledai.std() == pytest.approx(3.8, abs=0.6)
    assert (raw["sex"] == "female").mean() == pytest.approx(0.94, abs=0.02)
    assert raw["age"].mean() == pytest.approx(37.8, abs=1.0)
    assert raw["anti_dsdna_positive"].mean() == pytest.approx(0.69, abs=0.03)
    assert (raw["c3_g_l_w0"].dropna() < 0.9).mean() == pytest.approx(0.45, abs=0.03)
    assert (raw["c4_g_l_w0"].dropna() < 0.1).mean() == pytest.approx(0.56, abs=0.03)
    assert (raw["prednisone_mg_w0"] > 0).mean() == pytest.approx(0.86, abs=0.03)
    assert raw["sf36_pcs_w0"].mean() == pytest.approx(39.1, abs=1.5)


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
    assert 0.60 < auc < 0.80


def test_known_truth_directions(large):
    """SLEDAI >= 10, low complement and anti-dsDNA positivity mean a larger benefit."""
    s0 = gen.sledai_of(large, "_w0")
    y = large["latent_response"]
    assert y[s0 >= 10].mean() > y[s0 < 10].mean() + 0.08
    serology = (large["low_complement_w0"] == 1) & (large["anti_dsdna_positive"] == 1)
    assert y[serology].mean() > y[~serology].mean() + 0.10
    # non-responders fail mostly on the SLEDAI decrease
    s48 = gen.sledai_of(large, "_w48")
    fail = y == 0
    assert 0.7 < ((s0 - s48)[fail] < 4).mean() < 0.9


def test_shipped_study_yaml_is_the_one_tested():
    study = load_study(STUDY, root=REPO)
    assert study.outcome == "sri4_w48"
    assert all(f"{i}_w0" in study.variables and f"{i}_w48" in study.variables for i in SLEDAI_2K_WEIGHTS)
