"""The ra-refractory demo cohort: deterministic bytes, valid data, known truth recovered."""

import shutil

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import REPO, cohort_csv
from sklearn.metrics import adjusted_rand_score, roc_auc_score
from sklearn.mixture import GaussianMixture

from analysis.indices.rheumatoid import boolean_remission, das28_crp, sdai, sdai_category
from analysis.study.config import load_study
from analysis.study.prepare import prepare_cohort
from analysis.synthetic import ra_refractory as gen
from analysis.synthetic._base import write_cohort

STUDY = gen.NAME
LABS = ["igm_g_l", "lymphocytes_10e9_l", "hemoglobin_g_dl", "anti_carp_positive"]
NEW_SECONDARY = ("sdai_remission_m6", "boolean_remission_m6", "eq5d_mcid_m6")


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
    for name in ("eular_good_moderate_m6", "haq_mcid_m6", *NEW_SECONDARY):
        assert (out[name].to_numpy() == direct[name].to_numpy()).all(), name
    for name in ("eular_good_moderate_m6", "haq_mcid_m6", "eq5d_mcid_m6"):
        assert 0.2 < out[name].mean() < 0.8, name
    # SDAI and Boolean remission are stricter than DAS28-CRP remission
    for name in ("sdai_remission_m6", "boolean_remission_m6"):
        assert 0.05 < out[name].mean() <= out["remission_m6"].mean(), name
    assert np.allclose(out["eq5d_change_m6"], wide_change := (
        cohort.tables["cohort.csv"]["eq5d_index_m6"] - cohort.tables["cohort.csv"]["eq5d_index_m0"]))
    assert ((out["eq5d_mcid_m6"] == 1) == (wide_change.round(3) >= gen.EQ5D_MCID)).all()
    # the visit table validates and repeats months 0 and 6 of the wide table
    visits = prepared.visits
    assert set(visits["month"].unique()) == {0, 3, 6, 12}
    wide = cohort.tables["cohort.csv"].set_index("patient_id")
    for month in (0, 6):
        at = visits[visits["month"] == month].set_index("patient_id").loc[wide.index]
        assert len(at) == gen.DEFAULT_N
        for col in ("tjc28", "sjc28", "crp_mg_l", "gh", "ega", "pain_vas", "eq5d_index"):
            assert np.array_equal(at[col].to_numpy(float), wide[f"{col}_m{month}"].to_numpy(float)), col
        assert np.allclose(at["das28_crp"], das28_crp(wide[f"tjc28_m{month}"], wide[f"sjc28_m{month}"],
                                                      wide[f"crp_mg_l_m{month}"], wide[f"gh_m{month}"]))
    assert np.allclose(visits.loc[visits["month"] == 0, "haq_di"].to_numpy(),
                       out["haq_di_m0"].to_numpy())


def test_visit_remissions_follow_the_index_functions(ra_project):
    """The visit derive rules (DAS28-CRP, SDAI, Boolean 2.0, EQ-5D) equal a direct computation."""
    root, cohort = ra_project
    prepared = prepare_cohort(load_study(STUDY, root=root))
    visits, out = prepared.visits, prepared.cohort
    raw = cohort.tables["visits.csv"]
    assert {"ega", "eq5d_index"} <= set(raw.columns)
    assert np.array_equal(visits["patient_id"], raw["patient_id"])
    ptga, phga, crp_mg_dl = raw["gh"] / 10, raw["ega"] / 10, raw["crp_mg_l"] / 10
    das = das28_crp(raw["tjc28"], raw["sjc28"], raw["crp_mg_l"], raw["gh"])
    sdai_direct = sdai(raw["tjc28"], raw["sjc28"], ptga, phga, crp_mg_dl)
    direct = pd.DataFrame({
        "das28_remission": (das < 2.6).astype(float).where(das.notna()),
        "sdai_remission": (sdai_category(sdai_direct) == "remission").astype(float).where(sdai_direct.notna()),
        "boolean_remission": boolean_remission(raw["tjc28"], raw["sjc28"], crp_mg_dl, ptga).astype("Float64"),
    })
    for name in direct:
        got = visits[name].astype("Float64")
        want = direct[name].astype("Float64")
        assert got.isna().equals(want.isna()), name
        assert (got.dropna() == want.dropna()).all(), name
    m6 = visits["month"] == 6
    wide = out.set_index("patient_id")
    at6 = visits[m6].set_index("patient_id").loc[wide.index]
    # month 6 of the visit table gives the cohort's month-6 outcomes
    assert np.array_equal(at6["das28_remission"], wide["remission_m6"])
    assert np.array_equal(at6["sdai_remission"], wide["sdai_remission_m6"])
    assert np.array_equal(at6["boolean_remission"], wide["boolean_remission_m6"])
    assert np.allclose(at6["eq5d_change"], wide["eq5d_change_m6"])
    # nobody is in remission at inclusion; stricter definitions never exceed DAS28-CRP at month 6
    m0 = visits["month"] == 0
    assert (visits.loc[m0, ["das28_remission", "sdai_remission", "boolean_remission"]] == 0).all().all()
    rates = visits.groupby("month")[["das28_remission", "sdai_remission", "boolean_remission"]].mean()
    assert rates.loc[6, "sdai_remission"] <= rates.loc[6, "das28_remission"]
    assert (rates.loc[[3, 6, 12]] < 0.4).all().all()


def test_event_rates_missingness_and_marginals_are_realistic():
    cohort = gen.simulate(5000, seed=11)
    raw, truth, visits = cohort.tables["cohort.csv"], cohort.truth, cohort.tables["visits.csv"]
    assert 0.20 <= truth["latent_response"].mean() <= 0.30  # D2T RA: low remission rates
    direct = gen.derived_outcomes(raw)
    assert 0.45 <= direct["eular_good_moderate_m6"].mean() <= 0.75
    assert 0.30 <= direct["haq_mcid_m6"].mean() <= 0.60
    assert 0.08 <= direct["sdai_remission_m6"].mean() <= 0.20
    assert 0.08 <= direct["boolean_remission_m6"].mean() <= 0.25
    assert 0.35 <= direct["eq5d_mcid_m6"].mean() <= 0.65
    assert "true_phenotype" not in raw and "true_phenotype" in truth
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
    with pytest.raises(KeyError, match="true_phenotype"):
        gen.true_design(large.drop(columns="true_phenotype"))


def test_planted_phenotypes_differ_as_documented(large):
    """Three subtypes of the documented sizes, immune/clinical profiles and response."""
    ph = large["true_phenotype"]
    assert set(ph) == set(gen.PHENOTYPES)
    share = ph.value_counts(normalize=True)
    for name, expected in zip(gen.PHENOTYPES, gen.PHENOTYPE_SHARES, strict=True):
        assert share[name] == pytest.approx(expected, abs=0.02), name
    sero = ((large["rf_positive"] == 1) | (large["acpa_positive"] == 1)).groupby(ph).mean()
    crp = large.groupby(ph)["crp_mg_l_m0"].median()
    by = large.groupby(ph)[["fibromyalgia", "depression", "pain_vas_m0", "sjc28_m0", "extra_articular"]].mean()
    spi, sni, pd_ = gen.PHENOTYPES
    assert sero[spi] > 0.9 and sero[sni] < 0.1 and 0.55 < sero[pd_] < 0.85
    assert crp[spi] > 2 * crp[pd_] and crp[sni] > 2 * crp[pd_]
    assert by.loc[pd_, "fibromyalgia"] > 0.4 > 0.1 > by.loc[[spi, sni], "fibromyalgia"].max()
    assert by.loc[pd_, "depression"] > by.loc[[spi, sni], "depression"].max() + 0.2
    assert by.loc[pd_, "pain_vas_m0"] > by.loc[[spi, sni], "pain_vas_m0"].max() + 10
    assert by.loc[pd_, "sjc28_m0"] < by.loc[[spi, sni], "sjc28_m0"].min() - 1.5
    assert by.loc[spi, "extra_articular"] > by.loc[[sni, pd_], "extra_articular"].max() + 0.15
    # response: seropositive-inflammatory > seronegative-inflammatory > pain-dominant
    p = large.groupby(ph)["true_probability"].mean()
    y = large.groupby(ph)["latent_response"].mean()
    assert p[spi] > p[sni] + 0.08 and p[sni] > p[pd_] + 0.10
    assert y[spi] > y[sni] > y[pd_]
    # ... also with the drug and the recorded features held fixed: the phenotype terms
    assert gen.COEFFICIENTS["phenotype_pain_dominant"] < gen.COEFFICIENTS["phenotype_seronegative_inflammatory"] < 0


def _phenotype_features(raw: pd.DataFrame) -> np.ndarray:
    """Standardised baseline phenotype variables (numeric log-scaled where skewed, z-scored;
    indicators 0/1), built here without the package's phenotype module."""
    numeric = pd.DataFrame({
        "crp": np.log(raw["crp_mg_l_m0"]), "esr": np.log(raw["esr_mm_h_m0"]),
        "tjc": np.log1p(raw["tjc28_m0"]), "sjc": np.log1p(raw["sjc28_m0"]),
        "pain": raw["pain_vas_m0"],
        "haq": raw[[f"haq_{c}_m0" for c in gen.HAQ_CATEGORIES]].mean(axis=1),
    })
    numeric = (numeric - numeric.mean()) / numeric.std()
    flags = raw[["rf_positive", "acpa_positive", "fibromyalgia", "depression", "ild", "extra_articular"]]
    return pd.concat([numeric, flags.astype(float)], axis=1).to_numpy()


def test_gaussian_mixture_recovers_the_planted_phenotypes():
    """A 3-component diagonal Gaussian mixture on the demo cohort's baseline variables finds the
    planted subtypes (adjusted Rand index >= 0.6), but not trivially (< 0.95).

    ``reg_covar = 0.1`` floors every within-cluster variance (0.1 for the 0/1 indicators), so a
    component cannot collapse onto one value of an indicator.
    """
    cohort = gen.simulate()
    X = _phenotype_features(cohort.tables["cohort.csv"])
    assert not np.isnan(X).any()
    labels = GaussianMixture(3, covariance_type="diag", reg_covar=0.1, n_init=20,
                             init_params="random_from_data", random_state=0).fit(X).predict(X)
    ari = adjusted_rand_score(cohort.truth["true_phenotype"], labels)
    assert 0.6 <= ari < 0.95, ari
    sizes = cohort.truth["true_phenotype"].value_counts()
    assert sizes.min() >= 25


def test_shipped_study_yaml_is_the_one_tested():
    study = load_study(STUDY, root=REPO)
    assert study.outcome == "remission_m6"
    assert study.secondary_outcomes == ("eular_good_moderate_m6", "haq_mcid_m6", *NEW_SECONDARY)
    assert study.endpoints["outcomes"] == ["das28_remission", "sdai_remission", "boolean_remission"]
    assert set(study.phenotypes["outcomes"]) >= {"remission_m6", "sdai_remission_m6", "boolean_remission_m6"}
    assert not study.phenotypes["candidate_predictor"]
    assert "true_phenotype" not in study.variables
    assert study.visits is not None and tuple(study.visits.times) == gen.VISIT_MONTHS
    assert set(study.treatment["options"]) == set(gen.TREATMENTS)
