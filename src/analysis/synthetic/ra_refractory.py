"""Demo cohort ``ra-refractory``: difficult-to-treat RA starting a new b/tsDMARD mechanism.

Design
------
Prospective cohort of patients with difficult-to-treat rheumatoid arthritis (D2T RA, EULAR
2021, Nagy 2021): every patient failed a csDMARD and at least two b/tsDMARDs with different
mechanisms of action, has at least moderate activity (DAS28-ESR > 3.2 at inclusion) and is
considered problematic to manage. Patients start a further mechanism (JAK inhibitor, IL-6
receptor inhibitor, abatacept, rituximab or a TNF inhibitor not used before), chosen by
indication: rituximab is preferred in seropositive disease, rituximab and abatacept in
interstitial lung disease, JAK inhibitors in younger patients, IL-6 inhibition in
seronegative disease, and a TNF inhibitor less after many failures. Visits at months 0, 3,
6 and 12 record TJC28, SJC28, CRP (mg/L), ESR (mm/h), patient global health (GH, 0-100 mm),
evaluator global assessment (EGA, 0-100 mm), pain VAS (0-100 mm), HAQ-DI (the 8 category
scores at months 0 and 6) and the EQ-5D index.

Phenotypes (latent, ``true_phenotype`` in ``raw/truth.csv`` only)
------------------------------------------------------------------
Each patient belongs to one of three planted clinical/immune subtypes (:data:`PHENOTYPES`,
shares :data:`PHENOTYPE_SHARES`, profile :data:`PHENOTYPE_PROFILE`):

=========================  =====  ========  =======  =====  ============  ============  =========
phenotype                  share  RF/ACPA+  inflam.  pain   fibromyalgia  extra-artic.  remission
=========================  =====  ========  =======  =====  ============  ============  =========
seropositive_inflammatory  52%    95%/95%   +0.75    0      5%            35%, ILD up   ~0.39
seronegative_inflammatory  18%    3%/2%     +0.90    0      5%            8%            ~0.25
pain_dominant              30%    62%/60%   -1.70    +1.30  60%           10%           ~0.06
=========================  =====  ========  =======  =====  ============  ============  =========

(remission: mean true probability in a large draw.)

"inflam." shifts the latent inflammatory factor (sd 0.5 within a phenotype; it raises CRP,
ESR, SJC, TJC and GH), "pain" the non-inflammatory pain factor (TJC, GH, pain, HAQ);
fibromyalgia risk is x 1.1 in women and x 0.6 in men; the pain-dominant subtype has 25
points more depression; ILD is more frequent in the seropositive-inflammatory subtype (+0.7
on the logit). So the subtypes differ in serostatus, CRP/ESR and swollen joints (high in
both inflammatory subtypes, low in the pain-dominant one) and in pain, fibromyalgia,
depression and HAQ. They also differ in response, through their features *and* through a
phenotype term of the true model (below). In the default draw a diagonal Gaussian mixture
on the standardised baseline variables recovers them with an adjusted Rand index of 0.75
(0.74-0.86 in other draws of 200; see tests/synthetic/test_ra.py); the phenotype is never a
column of ``cohort.csv``.

Outcome
-------
DAS28-CRP remission (< 2.6) at month 6, *derived in study.yaml from the raw month-6 TJC28,
SJC28, CRP and GH* with ``das28_crp``. Secondary: EULAR good or moderate response at month 6
(``eular_response`` of DAS28-CRP month 0 -> 6) and a HAQ-DI improvement >= 0.22 (MCID). The
generator draws the latent remission ``Y ~ Bernoulli(p)`` and then month-6 components whose
DAS28-CRP is <= 2.55 for ``Y = 1`` and >= 2.65 for ``Y = 0`` (a margin around the cut-off),
and asserts that the derived remission equals ``Y`` for every patient. SDAI remission
(<= 3.3, with PtGA = GH / 10, PhGA = EGA / 10, CRP in mg/dL), Boolean remission 2.0 and an
EQ-5D index improvement >= :data:`EQ5D_MCID` (0.08) at month 6 are derived the same way (no
latent variable behind them); the visit table carries all three remission definitions at
every visit. EGA is drawn from the joint counts and CRP of the same visit
(``3 SJC + 1.5 TJC + 5 ln(1 + CRP) - 6 + N(0, 7)``, 0-100 mm), not from pain.

Data-generating model (true probability ``p = expit(lp)``)
-----------------------------------------------------------
With ``SP`` = seropositive (RF or ACPA positive), ``BT`` = 1 for a B/T-cell-targeted drug
(abatacept or rituximab), ``lcrp = ln(CRP month 0, mg/L) - ln(10)``, ``HAQ`` = HAQ-DI at
month 0 (mean of the 8 category scores), ``pain`` = pain VAS at month 0 (mm) and
``obesity`` = BMI >= 30 kg/m² (from the recorded height and weight), ``SNI`` / ``PD`` = the
seronegative-inflammatory / pain-dominant phenotype (reference: seropositive-inflammatory)::

    lp = -0.40                                   intercept
        + 0.30 * SP                               seropositive disease responds better
        - 0.90 * BT                               abatacept/rituximab in seronegative disease ...
        + 1.20 * BT * SP                          ... interaction: work best in seropositive
        + 0.40 * jak_inhibitor                    (reference: TNF inhibitor)
        + 0.20 * il6_inhibitor
        + 0.35 * lcrp                             inflammatory (not pain-driven) activity
        - 0.025 * max(pain - 50, 0)               nonlinearity: pain above 50 mm lowers remission
        - 0.50 * (HAQ - 1.5)
        - 0.70 * fibromyalgia
        - 0.45 * obesity                          threshold of BMI
        - 0.40 * depression
        - 0.25 * (n_failed_btsdmard_moa - 2)      each further failed mechanism
        - 0.04 * glucocorticoid_mg
        - 0.01 * (age - 57)
        - 0.30 * SNI                              phenotype: beyond its recorded features,
        - 0.60 * PD                               the pain-dominant subtype responds least

Coefficients are in :data:`COEFFICIENTS`; :func:`true_design` builds the terms from the raw
columns plus ``true_phenotype`` (so it works on :func:`simulate_complete`, or on the cohort
table once the truth's phenotype is joined) and
:func:`true_linear_predictor` evaluates the model, also with the drug forced to each option
(the truth file holds ``true_probability_<drug>`` for every option). About a quarter of
patients reach remission (D2T RA: 20-30%): true probability ~0.39 seropositive-inflammatory,
~0.25 seronegative-inflammatory, ~0.06 pain-dominant (large draw).

Marginals and correlations
--------------------------
Women 80%; age 57 ± 11 y; BMI lognormal (median 27, ~28% obese); disease duration median 12 y;
RF+ ~68%, ACPA+ ~67% (latent correlation 0.8 within a phenotype, ~72% seropositive);
anti-CarP+ ~45% of ACPA-positive and ~15% of ACPA-negative patients; IgM ~1.3 g/L (higher
when RF+); lymphocytes ~1.6 x 10⁹/L; fibromyalgia ~21%, depression ~29% (more with
fibromyalgia and in the pain-dominant phenotype), ILD ~10%, extra-articular disease ~23%;
2-5 failed mechanisms (median 2); CRP median ~9 mg/L. A latent inflammatory factor raises
CRP, ESR, SJC, TJC and GH; a latent non-inflammatory pain factor (higher with fibromyalgia
and depression) raises TJC, GH, pain and HAQ but not CRP; both are shifted by the phenotype.
Patients whose drawn DAS28-ESR is <= 3.25 receive extra tender joints until it exceeds 3.25
(inclusion).

Missingness (raw table): lymphocytes 4% and haemoglobin 3% MCAR, IgM 8% MCAR, anti-CarP ~14%
MAR (tested less often in older and in seronegative patients), weight 2% MCAR, smoking 5%
MCAR, ESR at month 6 4% MCAR; in ``visits.csv`` the month-3 visit is missed by 5% (MCAR) and
the month-12 visit by ~10% (MAR: more often when month-6 DAS28-CRP is high), and CRP/ESR are
missing at 3%/4% of the month-3 and month-12 visits. Months 0 and 6 in ``visits.csv`` equal
the wide columns of ``cohort.csv``. A few recorded outliers stay inside plausible ranges
(ESR 118 mm/h, CRP 162 mg/L, IgM 5.8 g/L, lymphocytes 0.3 x 10⁹/L).

Unmasked values
---------------
:func:`simulate_complete` returns the same patients as :func:`simulate` (same seed) before
masking, with ``true_phenotype``, ``true_probability`` and ``latent_response`` appended: use
it to check the truth (``true_design`` needs no missing values).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.indices.pro import haq_di, haq_di_response
from analysis.indices.rheumatoid import (
    boolean_remission,
    das28_crp,
    das28_esr,
    difficult_to_treat,
    eular_response,
    sdai,
    sdai_category,
)
from analysis.synthetic._base import DemoCohort, clip_round, expit, mask_mar, mask_mcar

NAME = "ra-refractory"
DEFAULT_N = 200
DEFAULT_SEED = 20240921
TREATMENTS = ("jak_inhibitor", "il6_inhibitor", "abatacept", "rituximab", "tnf_inhibitor")
HAQ_CATEGORIES = ("dressing", "arising", "eating", "walking", "hygiene", "reach", "grip", "activities")
REMISSION_BELOW = 2.6
VISIT_MONTHS = (0, 3, 6, 12)
EQ5D_MCID = 0.08  # EQ-5D index improvement counted as important (not in the spec's section 5)
PHENOTYPES = ("seropositive_inflammatory", "seronegative_inflammatory", "pain_dominant")
PHENOTYPE_SHARES = (0.52, 0.18, 0.30)
# per phenotype (order of PHENOTYPES): latent thresholds of RF and ACPA (P = 0.95/0.95,
# 0.03/0.02, 0.62/0.60), fibromyalgia risk (x 1.1 in women, x 0.6 in men), extra risk of
# depression, probability of extra-articular disease, and the shifts of the latent
# inflammatory and pain factors
PHENOTYPE_PROFILE = {
    "rf_z": (1.645, -1.881, 0.305),
    "acpa_z": (1.645, -2.054, 0.253),
    "fibromyalgia": (0.05, 0.05, 0.60),
    "depression_extra": (0.0, 0.0, 0.25),
    "extra_articular": (0.35, 0.08, 0.10),
    "ild_logit": (0.70, 0.0, 0.0),
    "inflammation": (0.75, 0.90, -1.70),
    "pain": (0.0, 0.0, 1.30),
}
INFLAMMATION_SD = 0.50

COEFFICIENTS = {
    "intercept": -0.40,
    "seropositive": 0.30,
    "b_t_cell": -0.90,
    "b_t_cell:seropositive": 1.20,
    "jak_inhibitor": 0.40,
    "il6_inhibitor": 0.20,
    "log_crp": 0.35,
    "pain_above_50": -0.025,
    "haq_di": -0.50,
    "fibromyalgia": -0.70,
    "obesity": -0.45,
    "depression": -0.40,
    "failed_moa_beyond_2": -0.25,
    "glucocorticoid_mg": -0.04,
    "age_per_year": -0.01,
    "phenotype_seronegative_inflammatory": -0.30,
    "phenotype_pain_dominant": -0.60,
}


def _haq_m0(df: pd.DataFrame) -> np.ndarray:
    if "haq_di_m0" in df:
        return df["haq_di_m0"].to_numpy(float)
    return df[[f"haq_{c}_m0" for c in HAQ_CATEGORIES]].to_numpy(float).mean(axis=1)


def true_design(df: pd.DataFrame, treatment: str | None = None) -> pd.DataFrame:
    """The true model's terms for each patient (optionally forcing the drug started).

    ``df`` needs ``btsdmard, rf_positive, acpa_positive, crp_mg_l_m0, pain_vas_m0,
    haq_<category>_m0 (or haq_di_m0), fibromyalgia, height_cm and weight_kg (or bmi),
    depression, n_failed_btsdmard_moa, glucocorticoid_mg, age`` and the latent ``true_phenotype``
    with no missing values (the truth uses the unmasked values: see :func:`simulate_complete`).
    """
    drug = df["btsdmard"] if treatment is None else pd.Series(treatment, index=df.index)
    drug = drug.to_numpy()
    if "true_phenotype" not in df:
        raise KeyError("true_design needs 'true_phenotype' (simulate_complete has it; cohort.csv "
                       "does not: the phenotype is latent)")
    phenotype = df["true_phenotype"].to_numpy()
    if not np.isin(phenotype, PHENOTYPES).all():
        raise ValueError(f"true_phenotype must be one of {', '.join(PHENOTYPES)}")
    sp = ((df["rf_positive"].to_numpy(float) == 1) | (df["acpa_positive"].to_numpy(float) == 1)).astype(float)
    bt = np.isin(drug, ("abatacept", "rituximab")).astype(float)
    bmi = df["bmi"].to_numpy(float) if "bmi" in df else (
        df["weight_kg"].to_numpy(float) / (df["height_cm"].to_numpy(float) / 100) ** 2)
    terms = {
        "intercept": np.ones(len(df)),
        "seropositive": sp,
        "b_t_cell": bt,
        "b_t_cell:seropositive": bt * sp,
        "jak_inhibitor": (drug == "jak_inhibitor").astype(float),
        "il6_inhibitor": (drug == "il6_inhibitor").astype(float),
        "log_crp": np.log(df["crp_mg_l_m0"].to_numpy(float)) - np.log(10.0),
        "pain_above_50": np.maximum(df["pain_vas_m0"].to_numpy(float) - 50.0, 0.0),
        "haq_di": _haq_m0(df) - 1.5,
        "fibromyalgia": df["fibromyalgia"].to_numpy(float),
        "obesity": (bmi >= 30.0).astype(float),
        "depression": df["depression"].to_numpy(float),
        "failed_moa_beyond_2": df["n_failed_btsdmard_moa"].to_numpy(float) - 2.0,
        "glucocorticoid_mg": df["glucocorticoid_mg"].to_numpy(float),
        "age_per_year": df["age"].to_numpy(float) - 57.0,
        "phenotype_seronegative_inflammatory": (phenotype == PHENOTYPES[1]).astype(float),
        "phenotype_pain_dominant": (phenotype == PHENOTYPES[2]).astype(float),
    }
    return pd.DataFrame(terms, index=df.index)


def true_linear_predictor(df: pd.DataFrame, treatment: str | None = None) -> np.ndarray:
    """``lp`` of the documented model; ``expit(lp)`` is the true remission probability."""
    design = true_design(df, treatment)
    return design.to_numpy() @ np.array([COEFFICIENTS[c] for c in design.columns])


def _counts(rng, mean, lo=0, hi=28, shape=3.0):
    """Over-dispersed joint counts (Poisson-gamma) clipped to the 28-joint range."""
    lam = np.asarray(mean, float) * rng.gamma(shape, 1.0 / shape, len(mean))
    return clip_round(rng.poisson(lam), lo, hi)


def _evaluator_global(rng, tjc, sjc, crp):
    """Evaluator global assessment (EGA, 0-100 mm): the physician rates swollen joints, then
    tender joints and CRP, not the patient's pain (the same rule at every visit)."""
    tjc, sjc, crp = (np.asarray(v, float) for v in (tjc, sjc, crp))
    return clip_round(3.0 * sjc + 1.5 * tjc + 5.0 * np.log1p(crp) - 6.0 + rng.normal(0, 7, len(tjc)), 0, 100)


def _baseline(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    # the planted phenotype (0, 1, 2 = PHENOTYPES) shapes the immune and clinical variables
    phenotype = (rng.random(n)[:, None] > np.cumsum(PHENOTYPE_SHARES)[None, :-1]).sum(axis=1)
    spec = {k: np.asarray(v, float)[phenotype] for k, v in PHENOTYPE_PROFILE.items()}
    female = rng.random(n) < 0.80
    sex = np.where(female, "female", "male")
    age = clip_round(rng.normal(57, 11, n), 20, 88)
    height = clip_round(np.where(female, rng.normal(163, 6.5, n), rng.normal(176, 7, n)), 145, 200)
    bmi_true = np.clip(rng.lognormal(np.log(27.0), 0.18, n), 16.5, 48)
    weight = clip_round(bmi_true * (height / 100) ** 2, 38, 160, 1)
    u = rng.random(n)
    smoking = np.where(u < 0.18, "current", np.where(u < 0.53, "former", "never"))
    duration = clip_round(rng.lognormal(np.log(12.0), 0.6, n), 1, 55, 1)
    sero = rng.multivariate_normal([0.0, 0.0], [[1.0, 0.8], [0.8, 1.0]], size=n)
    rf = (sero[:, 0] < spec["rf_z"]).astype(float)
    acpa = (sero[:, 1] < spec["acpa_z"]).astype(float)
    anti_carp = (rng.random(n) < np.where(acpa == 1, 0.45, 0.15)).astype(float)
    igm = clip_round(rng.lognormal(np.log(1.25), 0.40, n) + 0.2 * rf, 0.2, 6.0, 2)
    fibro = (rng.random(n) < spec["fibromyalgia"] * np.where(female, 1.1, 0.6)).astype(float)
    depression = (rng.random(n) < np.where(fibro == 1, 0.45, 0.15) + spec["depression_extra"]).astype(float)
    sp = np.maximum(rf, acpa)
    ild = (rng.random(n) < expit(-3.7 + 0.04 * (age - 57) + 0.8 * sp + 0.6 * (smoking != "never")
                                  + spec["ild_logit"])).astype(float)
    extra_articular = (rng.random(n) < spec["extra_articular"]).astype(float)
    n_failed = 2.0 + rng.choice([0, 1, 2, 3], n, p=[0.45, 0.30, 0.17, 0.08])
    gc = np.where(rng.random(n) < 0.40, 0.0,
                  rng.choice([2.5, 5.0, 7.5, 10.0, 15.0, 20.0], n, p=[0.12, 0.35, 0.22, 0.18, 0.10, 0.03]))
    lymph = clip_round(rng.lognormal(np.log(1.6), 0.35, n) - 0.02 * gc, 0.2, 5.0, 2)
    concomitant = (rng.random(n) < 0.55).astype(float)
    progression = (rng.random(n) < 0.12).astype(float)
    qol = (rng.random(n) < 0.80).astype(float)
    obese = (weight / (height / 100) ** 2 >= 30).astype(float)
    # disease activity: latent inflammatory (z_inf) and non-inflammatory pain (z_pain) factors,
    # both shifted by the phenotype
    z_inf = spec["inflammation"] + INFLAMMATION_SD * rng.standard_normal(n)
    z_pain = 0.8 * rng.standard_normal(n) + 1.0 * fibro + 0.5 * depression - 0.3 + spec["pain"]
    crp = clip_round(np.exp(np.log(6.6) + 0.8 * z_inf + 0.6 * rng.standard_normal(n)
                            + 0.25 * obese - 0.3 * fibro), 0.3, 200, 1)
    esr = clip_round(np.exp(np.log(26.0) + 0.40 * z_inf + 0.35 * rng.standard_normal(n)
                            + 0.15 * female + 0.005 * (age - 57)), 2, 130)
    sjc = _counts(rng, np.exp(np.log(4.5) + 0.35 * z_inf))
    tjc = np.maximum(_counts(rng, np.exp(np.log(7.0) + 0.2 * z_inf + 0.35 * z_pain)), sjc)
    gh = clip_round(55 + 6 * z_inf + 12 * z_pain + rng.normal(0, 10, n), 0, 100)
    pain = clip_round(0.6 * gh + 22 + 7 * z_pain + rng.normal(0, 8, n), 0, 100)
    h = 1.25 + 0.30 * z_pain + 0.12 * z_inf + 0.15 * obese + 0.01 * (age - 57) + rng.normal(0, 0.25, n)
    offsets = dict(zip(HAQ_CATEGORIES, (-0.1, 0.0, -0.3, 0.0, -0.1, 0.1, 0.2, 0.3), strict=True))
    haq = {c: clip_round(h + offsets[c] + rng.normal(0, 0.45, n), 0, 3) for c in HAQ_CATEGORIES}
    # recorded outliers inside the plausible range (before the truth is computed)
    esr[rng.choice(n, size=min(2, n), replace=False)] = 118.0
    crp[rng.choice(n, size=min(1, n), replace=False)] = 162.0
    igm[rng.choice(n, size=min(1, n), replace=False)] = 5.8
    lymph[rng.choice(n, size=min(1, n), replace=False)] = 0.3
    # inclusion: DAS28-ESR > 3.2 (a margin of 0.05 keeps the derived D2T flag unambiguous)
    for _ in range(28):
        low = np.asarray(das28_esr(tjc, sjc, esr, gh)) <= 3.25
        if not low.any():
            break
        tjc = np.where(low, np.minimum(tjc + 1, 28), tjc)
    ega = _evaluator_global(rng, tjc, sjc, crp)
    haq_mean = np.mean(np.stack([haq[c] for c in HAQ_CATEGORIES], axis=1), axis=1)
    eq5d = clip_round(0.80 - 0.17 * haq_mean - 0.003 * (pain - 50) + rng.normal(0, 0.08, n), -0.3, 1.0, 3)
    hb = clip_round(np.where(female, 12.6, 13.8) - 0.35 * z_inf + rng.normal(0, 1.0, n), 7.5, 17.5, 1)
    # b/tsDMARD chosen by indication (softmax; reference TNF inhibitor)
    logits = np.stack([
        0.55 - 0.03 * (age - 57) + 0.3 * (n_failed >= 3),            # JAK inhibitor
        0.10 + 0.5 * (1 - sp) + 0.2 * (n_failed >= 3),               # IL-6 inhibitor
        -0.45 + 0.7 * ild + 0.02 * (age - 57),                       # abatacept
        -1.10 + 1.1 * sp + 0.9 * ild + 0.4 * extra_articular,        # rituximab
        -0.4 * (n_failed - 2),                                       # TNF inhibitor
    ], axis=1)
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob /= prob.sum(axis=1, keepdims=True)
    pick = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
    drug = np.asarray(TREATMENTS)[np.minimum(pick, len(TREATMENTS) - 1)]
    frame = {
        "age": age, "sex": sex, "height_cm": height, "weight_kg": weight, "smoking": smoking,
        "disease_duration_years": duration, "rf_positive": rf, "acpa_positive": acpa,
        "anti_carp_positive": anti_carp, "igm_g_l": igm, "lymphocytes_10e9_l": lymph,
        "hemoglobin_g_dl": hb, "fibromyalgia": fibro, "depression": depression,
        "ild": ild, "extra_articular": extra_articular,
        "n_failed_btsdmard_moa": n_failed, "csdmard_failed": np.ones(n),
        "glucocorticoid_mg": gc, "concomitant_csdmard": concomitant,
        "rapid_radiographic_progression": progression, "qol_limiting_symptoms": qol,
        "management_problematic": np.ones(n), "btsdmard": drug,
        "tjc28_m0": tjc, "sjc28_m0": sjc, "crp_mg_l_m0": crp, "esr_mm_h_m0": esr,
        "gh_m0": gh, "ega_m0": ega, "pain_vas_m0": pain,
        **{f"haq_{c}_m0": haq[c] for c in HAQ_CATEGORIES},
        "eq5d_index_m0": eq5d,
    }
    return pd.DataFrame(frame), np.asarray(PHENOTYPES)[phenotype]


def _follow_up(rng, base: pd.DataFrame, y: np.ndarray) -> tuple[pd.DataFrame, dict]:
    """Month-6 components such that DAS28-CRP < 2.6 exactly when ``y`` = 1; months 3 and 12."""
    n = len(base)
    tjc0, sjc0 = base["tjc28_m0"].to_numpy(float), base["sjc28_m0"].to_numpy(float)
    crp0, gh0 = base["crp_mg_l_m0"].to_numpy(float), base["gh_m0"].to_numpy(float)
    esr0, pain0 = base["esr_mm_h_m0"].to_numpy(float), base["pain_vas_m0"].to_numpy(float)
    fibro = base["fibromyalgia"].to_numpy(float)
    das0 = np.asarray(das28_crp(tjc0, sjc0, crp0, gh0), float)
    remit = y == 1
    jt, js = rng.lognormal(0, 0.3, n), rng.lognormal(0, 0.3, n)
    jg, jc = rng.lognormal(0, 0.2, n), rng.lognormal(0, 0.4, n)
    g_floor = 0.2 + 0.3 * fibro  # fibromyalgia keeps the global assessment up
    target = np.where(remit, rng.uniform(1.6, 2.5, n),
                      np.clip(das0 - rng.normal(0.8, 0.9, n), 2.8, 8.0))

    def components(f):
        return {
            "tjc": clip_round(tjc0 * f * jt, 0, 28),
            "sjc": clip_round(sjc0 * f * js, 0, 28),
            "crp": clip_round(crp0 * (0.15 + 0.85 * f) * jc, 0.2, 200, 1),
            "gh": clip_round(gh0 * (g_floor + (1 - g_floor) * f) * jg, 0, 100),
        }

    best = np.full(n, np.nan)
    chosen = {k: np.zeros(n) for k in ("tjc", "sjc", "crp", "gh")}
    chosen_f = np.zeros(n)
    for f in np.round(np.arange(0.0, 2.01, 0.02), 2):
        comp = components(f)
        value = np.asarray(das28_crp(comp["tjc"], comp["sjc"], comp["crp"], comp["gh"]), float)
        consistent = np.where(remit, value <= 2.55, value >= 2.65)
        distance = np.abs(value - target)
        better = consistent & (np.isnan(best) | (distance < best))
        best = np.where(better, distance, best)
        chosen_f = np.where(better, f, chosen_f)
        for k in chosen:
            chosen[k] = np.where(better, comp[k], chosen[k])
    for _ in range(30):
        # rare leftovers: a non-remitter with tiny counts gets tender joints back; a remitter
        # with a very high CRP or global assessment has them lowered further
        stuck = np.isnan(best)
        if not stuck.any():
            break
        up, down = stuck & ~remit, stuck & remit
        chosen["tjc"] = np.where(up, np.minimum(chosen["tjc"] + 1, 28), chosen["tjc"])
        chosen["crp"] = np.where(down, np.maximum(np.round(chosen["crp"] / 2, 1), 0.2), chosen["crp"])
        chosen["gh"] = np.where(down, np.maximum(chosen["gh"] - 8, 0), chosen["gh"])
        value = np.asarray(das28_crp(chosen["tjc"], chosen["sjc"], chosen["crp"], chosen["gh"]), float)
        best = np.where(stuck & np.where(remit, value <= 2.55, value >= 2.65), 0.0, best)
    if np.isnan(best).any():  # pragma: no cover - both loops reach their side of the cut-off
        raise RuntimeError("could not construct month-6 components consistent with remission")
    das6 = np.asarray(das28_crp(chosen["tjc"], chosen["sjc"], chosen["crp"], chosen["gh"]), float)
    esr6 = clip_round(esr0 * (chosen["crp"] / crp0) ** 0.5 * rng.lognormal(0, 0.15, n), 2, 130)
    pain6 = clip_round(pain0 + 0.9 * (chosen["gh"] - gh0) + rng.normal(0, 8, n), 0, 100)
    ega6 = _evaluator_global(rng, chosen["tjc"], chosen["sjc"], chosen["crp"])
    delta = np.where(remit, rng.normal(0.45, 0.35, n), rng.normal(0.12, 0.35, n)) + 0.1 * (das0 - das6 - 1)
    haq6 = {c: clip_round(base[f"haq_{c}_m0"].to_numpy(float) - delta + rng.normal(0, 0.35, n), 0, 3)
            for c in HAQ_CATEGORIES}
    haq0_mean = _haq_m0(base)
    haq6_mean = np.mean(np.stack([haq6[c] for c in HAQ_CATEGORIES], axis=1), axis=1)
    eq5d6 = clip_round(base["eq5d_index_m0"].to_numpy(float) + 0.17 * (haq0_mean - haq6_mean)
                       + 0.003 * (pain0 - pain6) + rng.normal(0, 0.05, n), -0.3, 1.0, 3)
    m6 = pd.DataFrame({
        "tjc28_m6": chosen["tjc"], "sjc28_m6": chosen["sjc"], "crp_mg_l_m6": chosen["crp"],
        "esr_mm_h_m6": esr6, "gh_m6": chosen["gh"], "ega_m6": ega6, "pain_vas_m6": pain6,
        **{f"haq_{c}_m6": haq6[c] for c in HAQ_CATEGORIES},
        "eq5d_index_m6": eq5d6,
    }, index=base.index)
    derived = np.asarray(das28_crp(m6["tjc28_m6"], m6["sjc28_m6"], m6["crp_mg_l_m6"], m6["gh_m6"]), float)
    assert np.array_equal(derived < REMISSION_BELOW, remit)
    # month 3 partway from month 0 to month 6 (a fraction w of the way back to baseline, so
    # some month-6 remitters are already in remission), month 12 = month 6 with drift
    w = rng.beta(1.0, 2.5, n)
    f3 = chosen_f + w * (1.0 - chosen_f)
    m3 = {
        "tjc28": clip_round(tjc0 * f3 * rng.lognormal(0, 0.3, n), 0, 28),
        "sjc28": clip_round(sjc0 * f3 * rng.lognormal(0, 0.3, n), 0, 28),
        "crp_mg_l": clip_round(crp0 ** w * chosen["crp"] ** (1 - w) * rng.lognormal(0, 0.3, n), 0.2, 200, 1),
        "esr_mm_h": clip_round(esr0 ** w * esr6 ** (1 - w) * rng.lognormal(0, 0.15, n), 2, 130),
        "gh": clip_round(w * gh0 + (1 - w) * chosen["gh"] + rng.normal(0, 7, n), 0, 100),
        "pain_vas": clip_round(w * pain0 + (1 - w) * pain6 + rng.normal(0, 7, n), 0, 100),
        "haq_di": np.round(np.clip(w * haq0_mean + (1 - w) * haq6_mean + rng.normal(0, 0.12, n), 0, 3) * 8) / 8,
    }
    m3["ega"] = _evaluator_global(rng, m3["tjc28"], m3["sjc28"], m3["crp_mg_l"])
    m3["eq5d_index"] = clip_round(w * base["eq5d_index_m0"].to_numpy(float) + (1 - w) * eq5d6
                                  + rng.normal(0, 0.04, n), -0.3, 1.0, 3)
    m12 = {
        "tjc28": clip_round(chosen["tjc"] * rng.lognormal(0, 0.3, n) + rng.poisson(0.4, n), 0, 28),
        "sjc28": clip_round(chosen["sjc"] * rng.lognormal(0, 0.3, n) + rng.poisson(0.2, n), 0, 28),
        "crp_mg_l": clip_round(chosen["crp"] * rng.lognormal(0, 0.35, n), 0.2, 200, 1),
        "esr_mm_h": clip_round(esr6 * rng.lognormal(0, 0.2, n), 2, 130),
        "gh": clip_round(chosen["gh"] + rng.normal(2, 8, n), 0, 100),
        "pain_vas": clip_round(pain6 + rng.normal(2, 8, n), 0, 100),
        "haq_di": np.round(np.clip(haq6_mean + rng.normal(0.03, 0.12, n), 0, 3) * 8) / 8,
    }
    m12["ega"] = _evaluator_global(rng, m12["tjc28"], m12["sjc28"], m12["crp_mg_l"])
    m12["eq5d_index"] = clip_round(eq5d6 + rng.normal(-0.01, 0.05, n), -0.3, 1.0, 3)
    return m6, {"m3": m3, "m12": m12, "das28_crp_m6": das6, "haq_di_m6": haq6_mean}


def _visits(rng, ids, raw: pd.DataFrame, extra: dict) -> pd.DataFrame:
    """Long table: one row per patient and attended visit (months 0, 3, 6, 12)."""
    n = len(ids)
    haq0 = _haq_m0(raw)
    rows = []
    for month, suffix in ((0, "m0"), (6, "m6")):
        rows.append(pd.DataFrame({
            "patient_id": ids, "month": month,
            "tjc28": raw[f"tjc28_{suffix}"].to_numpy(), "sjc28": raw[f"sjc28_{suffix}"].to_numpy(),
            "crp_mg_l": raw[f"crp_mg_l_{suffix}"].to_numpy(), "esr_mm_h": raw[f"esr_mm_h_{suffix}"].to_numpy(),
            "gh": raw[f"gh_{suffix}"].to_numpy(), "ega": raw[f"ega_{suffix}"].to_numpy(),
            "pain_vas": raw[f"pain_vas_{suffix}"].to_numpy(),
            "haq_di": haq0 if month == 0 else extra["haq_di_m6"],
            "eq5d_index": raw[f"eq5d_index_{suffix}"].to_numpy(),
        }))
    for month, key in ((3, "m3"), (12, "m12")):
        values = pd.DataFrame({"patient_id": ids, "month": month, **extra[key]})
        values["crp_mg_l"] = mask_mcar(rng, values["crp_mg_l"], 0.03)
        values["esr_mm_h"] = mask_mcar(rng, values["esr_mm_h"], 0.04)
        if month == 3:
            attended = rng.random(n) >= 0.05
        else:
            dropped = mask_mar(rng, pd.Series(np.ones(n)), extra["das28_crp_m6"], 0.10, strength=0.8)
            attended = dropped.notna().to_numpy()
        rows.append(values[attended])
    visits = pd.concat(rows, ignore_index=True)
    order = np.lexsort((visits["month"].to_numpy(), np.searchsorted(ids, visits["patient_id"].to_numpy())))
    return visits.iloc[order].reset_index(drop=True)


def _generate(n: int, seed: int) -> tuple[pd.DataFrame, DemoCohort]:
    rng = np.random.default_rng(seed)
    base, phenotype = _baseline(rng, n)
    latent = base.assign(true_phenotype=phenotype)
    p = expit(true_linear_predictor(latent))
    p_options = {t: expit(true_linear_predictor(latent, t)) for t in TREATMENTS}
    y = (rng.random(n) < p).astype(int)
    ids = np.array([f"RA-{i + 1:04d}" if n < 10000 else f"RA-{i + 1:06d}" for i in range(n)])
    m6, extra = _follow_up(rng, base, y)
    complete = pd.concat([pd.Series(ids, name="patient_id"), base, m6], axis=1)
    # the inclusion criteria hold for everyone: the derived D2T flag is true
    d2t = difficult_to_treat(
        complete["n_failed_btsdmard_moa"], complete["csdmard_failed"],
        das28_esr=das28_esr(complete["tjc28_m0"], complete["sjc28_m0"], complete["esr_mm_h_m0"], complete["gh_m0"]),
        glucocorticoid_mg=complete["glucocorticoid_mg"],
        rapid_radiographic_progression=complete["rapid_radiographic_progression"],
        qol_limiting_symptoms=complete["qol_limiting_symptoms"],
        management_problematic=complete["management_problematic"],
    )
    assert bool(d2t.all())
    raw = complete.copy()
    raw["lymphocytes_10e9_l"] = mask_mcar(rng, raw["lymphocytes_10e9_l"], 0.04)
    raw["hemoglobin_g_dl"] = mask_mcar(rng, raw["hemoglobin_g_dl"], 0.03)
    raw["igm_g_l"] = mask_mcar(rng, raw["igm_g_l"], 0.08)
    driver = raw["age"].to_numpy(float) + 20.0 * (1 - np.maximum(raw["rf_positive"], raw["acpa_positive"]).to_numpy(float))
    raw["anti_carp_positive"] = mask_mar(rng, raw["anti_carp_positive"], driver, 0.14)
    raw["weight_kg"] = mask_mcar(rng, raw["weight_kg"], 0.02)
    raw["esr_mm_h_m6"] = mask_mcar(rng, raw["esr_mm_h_m6"], 0.04)
    smoking_missing = rng.random(n) < 0.05
    raw["smoking"] = raw["smoking"].where(~smoking_missing, None)
    visits = _visits(rng, ids, raw, extra)
    truth = pd.DataFrame({
        "patient_id": ids,
        "true_probability": np.round(p, 6),
        **{f"true_probability_{t}": np.round(v, 6) for t, v in p_options.items()},
        "latent_response": y,
        "true_phenotype": phenotype,
    })
    complete["true_phenotype"] = phenotype
    complete["true_probability"] = p
    complete["latent_response"] = y
    return complete, DemoCohort(tables={"cohort.csv": raw, "visits.csv": visits}, truth=truth)


def simulate(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> DemoCohort:
    """Draw ``n`` patients from the documented model (deterministic for a seed).

    Examples
    --------
    >>> cohort = simulate(50, seed=1)
    >>> sorted(cohort.tables)
    ['cohort.csv', 'visits.csv']
    >>> cohort.truth.columns.tolist()[:2]
    ['patient_id', 'true_probability']
    """
    return _generate(n, seed)[1]


def simulate_complete(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The cohort table of :func:`simulate` (same patients) *before* masking.

    Adds ``true_phenotype``, ``true_probability`` and ``latent_response``; the input of
    :func:`true_design` when checking the truth.

    Examples
    --------
    >>> df = simulate_complete(30, seed=2)
    >>> bool(df["igm_g_l"].notna().all()), "latent_response" in df
    (True, True)
    """
    return _generate(n, seed)[0]


def derived_outcomes(df: pd.DataFrame) -> pd.DataFrame:
    """The study.yaml outcome rules evaluated directly (used in tests as a cross-check)."""
    haq0 = haq_di(df[[f"haq_{c}_m0" for c in HAQ_CATEGORIES]])
    haq6 = haq_di(df[[f"haq_{c}_m6" for c in HAQ_CATEGORIES]])
    d0 = das28_crp(df["tjc28_m0"], df["sjc28_m0"], df["crp_mg_l_m0"], df["gh_m0"])
    d6 = das28_crp(df["tjc28_m6"], df["sjc28_m6"], df["crp_mg_l_m6"], df["gh_m6"])
    crp6_mg_dl = df["crp_mg_l_m6"] / 10
    sdai6 = sdai(df["tjc28_m6"], df["sjc28_m6"], df["gh_m6"] / 10, df["ega_m6"] / 10, crp6_mg_dl)
    eq5d_change = (df["eq5d_index_m6"] - df["eq5d_index_m0"]).round(3)
    return pd.DataFrame({
        "remission_m6": (d6 < REMISSION_BELOW).astype(float),
        "eular_good_moderate_m6": eular_response(d0, d6).isin(["good", "moderate"]).astype(float),
        "haq_mcid_m6": haq_di_response(haq0, haq6).astype(float),
        "sdai_remission_m6": (sdai_category(sdai6) == "remission").astype(float),
        "boolean_remission_m6": boolean_remission(df["tjc28_m6"], df["sjc28_m6"], crp6_mg_dl,
                                                  df["gh_m6"] / 10).astype(float),
        "eq5d_mcid_m6": (eq5d_change >= EQ5D_MCID).astype(float),
    }, index=df.index)
