"""Demo cohort ``sle-belimumab``: patients with active SLE on belimumab, SRI-4 at week 48.

Design
------
Observational cohort of patients with active systemic lupus
erythematosus (SLEDAI-2K >= 6 at inclusion, as in BLISS) starting belimumab on top of
standard therapy (glucocorticoids, antimalarials, immunosuppressants). The 24 SLEDAI-2K
descriptors are recorded at weeks 0 and 48 (``<item>_w0``, ``<item>_w48``), with the
physician global assessment (PGA, 0-3), anti-dsDNA (IU/mL; positive >= 30 IU/mL), C3 and C4
(g/L; low below 0.9 and 0.10 g/L) at both visits, and the number of new BILAG A and B
domain scores at week 48. Interim visits at weeks 12, 24 and 36 are in the visit table
(see *Visits* below).

Outcome
-------
SRI-4 at week 48, *derived in study.yaml*: SLEDAI-2K totals with
``sledai_2k(suffixed("_w0"))`` and ``sledai_2k(suffixed("_w48"))``, then ``sri4(...)``
(SLEDAI decrease >= 4, no new BILAG A, < 2 new BILAG B, PGA increase < 0.3). The generator
draws the latent response ``Y ~ Bernoulli(p)`` and then week-48 descriptors, PGA and BILAG
counts consistent with it; it asserts that SRI-4 computed from the recorded values equals
``Y`` for every patient. Non-responders fail mostly on the SLEDAI decrease (80%), otherwise on
a new BILAG A, two or more new BILAG B or a PGA increase of >= 0.4.

Data-generating model (true probability ``p = expit(lp)``)
-----------------------------------------------------------
With ``S`` = SLEDAI-2K at week 0, ``LC`` = low complement descriptor at week 0 (C3 < 0.9 or
C4 < 0.10 g/L), ``DNA`` = anti-dsDNA positive (>= 30 IU/mL) and ``pred`` = prednisone
(mg/day) at week 0::

    lp = -0.55                                   intercept
        + 0.55 * (S >= 10)                        nonlinearity: threshold of activity
        + 0.25 * LC
        + 0.25 * DNA
        + 0.45 * LC * DNA                         interaction: serologically active disease
        - 0.06 * max(pred - 7.5, 0)               nonlinearity: high steroid need (hinge)
        + 0.25 * antimalarial
        - 0.20 * immunosuppressant
        - 0.45 * renal_involvement
        - 0.01 * (age - 38)

Coefficients are in :data:`COEFFICIENTS`; :func:`true_design` builds the terms from the raw
columns (the 24 ``_w0`` descriptors, or ``sledai_w0``) and :func:`true_linear_predictor`
evaluates the model. The default draw gives an SRI-4 rate of about 50% (BLISS-52 57.6%,
BLISS-76 43.2%).

Marginals and correlations (clinical-indices.md §6, BLISS)
-----------------------------------------------------------
Women 94%; age 37.8 ± 11.5 y; disease duration median ~5 y; anti-dsDNA lognormal (median
~57 IU/mL, 69% positive); C3 and C4 lognormal with log-correlation 0.7 and negatively
correlated with anti-dsDNA (low C3 ~45%, low C4 ~56%); SLEDAI-2K ~9.7 ± 3.8 (mucocutaneous and
musculoskeletal items dominate; renal items mostly in the ~15% with renal involvement; CNS
items rare); glucocorticoids 86% (prednisone 2.5-40 mg/day, more with higher activity and
renal disease); antimalarials ~65%; immunosuppressants ~45% (more with renal involvement);
SF-36 PCS 39.1 ± 9.7 (lower with higher PGA). Serology normalises at week 48 more often in
responders; week-48 C3, C4 and anti-dsDNA agree with the week-48 serological descriptors.

Missingness (raw table): C3 2%, C4 4%, haemoglobin 3%, lymphocytes 5% and SF-36 PCS 7% MCAR;
anti-dsDNA titre ~6% MAR (only the qualitative result reported, more often in less active
patients), eGFR ~8% MAR (measured less often without renal involvement); week-48 C3 5%, C4 6%
MCAR and anti-dsDNA ~10% MAR. The SLEDAI descriptors, PGA, BILAG counts and the anti-dsDNA
flag are complete. A few recorded outliers stay inside plausible ranges (anti-dsDNA
2400 IU/mL, C3 0.25 g/L, eGFR 28 mL/min/1.73 m², lymphocytes 0.2 x 10⁹/L).

Visits (``raw/visits.csv``)
---------------------------
One row per patient and week 0, 12, 24, 36 and 48 (the seed's 48 weeks of follow-up), with
the 24 SLEDAI-2K descriptors named without a suffix, ``pga`` (0-3), ``prednisone_mg``
(mg/day), ``new_bilag_a``/``new_bilag_b`` (new BILAG A/B domains compared with week 0; empty
at week 0), ``new_activity`` (new lupus activity since the last attended visit; empty at week
0) and ``proteinuria_g_day`` (urine protein). Weeks 0 and 48 repeat the cohort table's
``_w0``/``_w48`` values of the same patient (descriptors, PGA, prednisone, BILAG counts), so
the SRI-4 the study derives from the visits at week 48 is ``sri4_w48``. The interim visits are
drawn afterwards from their own stream ``np.random.default_rng([seed, 48])``: the cohort and
truth tables are the same bytes as without visits. Their model:

* descriptors: each descriptor that differs between weeks 0 and 48 changes once, at a switch
  week drawn from 12/24/36/48 with probabilities :data:`RESOLVE_P` (0.35, 0.30, 0.20, 0.15)
  for one that resolves and :data:`ONSET_P` (0.15, 0.25, 0.25, 0.35) for one that starts;
  unchanged descriptors keep their value, except transient flares: at each interim visit a
  minor descriptor absent at weeks 0 and 48 (arthritis, rash, alopecia, ulcers, proteinuria,
  haematuria, cytopenias, pleurisy) appears with probability 0.04 in responders and 0.10 in
  non-responders (:data:`TRANSIENT_FLARE_P`);
* PGA: ``pga0 + g * (pga48 - pga0) + N(0, 0.2) + 0.4 * flare`` with ``g`` = 0.5, 0.75, 0.9 at
  weeks 12, 24, 36 (:data:`PGA_PROGRESS`), clipped to 0-3, one decimal;
* prednisone: tapered from the week-0 to the week-48 dose, 45%, 75% and 90% of the way at
  weeks 12, 24, 36 (:data:`PREDNISONE_PROGRESS`), +5 mg/day in half of the transient flares
  (patients on steroids), rounded to 2.5 mg;
* new BILAG domains: each of the week-48 new A/B domains is present from an onset week drawn
  with :data:`ONSET_P`; a transient flare adds a new B domain with probability 0.5, and a
  transient new A domain occurs with probability 0.01 per interim visit;
* ``new_activity`` = a clinical descriptor present that was absent at the last attended visit,
  or more new BILAG A or B domains than then;
* urine protein (g/day) agrees with the proteinuria descriptor (> 0.5 g/day): lognormal with
  median 1.4 (0.51-8) when present, otherwise median 0.25 with renal involvement and 0.10
  without (at most 0.49); a patient effect correlates the visits;
* missed visits: the interim visits are missed completely at random (5%, 6% and 8% at weeks
  12, 24 and 36; :data:`MISSED_VISIT_P`), the row kept with every value empty. There is no
  dropout: the cohort table records week 48 for every patient, so the week-48 visit does too.

The default draw gives SRI-4 rising from about 15% at week 12 to 53% at week 48, LLDAS at
week 48 about 22% and DORIS remission about 7%.

Unmasked values
---------------
:func:`simulate_complete` returns the same patients as :func:`simulate` (same seed) before
masking, with ``true_probability`` and ``latent_response`` appended: use it to check the
truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.indices.lupus import SEROLOGICAL_DESCRIPTORS, SLEDAI_2K_WEIGHTS, sledai_2k, sri4
from analysis.synthetic._base import DemoCohort, clip_round, expit, mask_mar, mask_mcar

NAME = "sle-belimumab"
DEFAULT_N = 150
DEFAULT_SEED = 20241001
ITEMS = tuple(SLEDAI_2K_WEIGHTS)
CLINICAL_ITEMS = tuple(i for i in ITEMS if i not in SEROLOGICAL_DESCRIPTORS)
C3_LOW_BELOW = 0.9  # g/L
C4_LOW_BELOW = 0.10  # g/L
DSDNA_POSITIVE_FROM = 30.0  # IU/mL
INCLUSION_SLEDAI = 6
WEEKS = (0, 12, 24, 36, 48)
INTERIM_WEEKS = (12, 24, 36)
#: Probability that a change between weeks 0 and 48 is first seen at week 12, 24, 36 or 48.
RESOLVE_P = (0.35, 0.30, 0.20, 0.15)  # a descriptor present at week 0 resolves
ONSET_P = (0.15, 0.25, 0.25, 0.35)    # a descriptor or new BILAG domain of week 48 starts
#: Share of the week-0 to week-48 change of PGA and prednisone reached at the interim visits.
PGA_PROGRESS = {12: 0.5, 24: 0.75, 36: 0.9}
PREDNISONE_PROGRESS = {12: 0.45, 24: 0.75, 36: 0.9}
TRANSIENT_FLARE_P = (0.04, 0.10)  # per interim visit: responders, non-responders
MISSED_VISIT_P = {12: 0.05, 24: 0.06, 36: 0.08}

COEFFICIENTS = {
    "intercept": -0.55,
    "sledai_ge_10": 0.55,
    "low_complement": 0.25,
    "anti_dsdna_positive": 0.25,
    "low_complement:anti_dsdna_positive": 0.45,
    "prednisone_above_7_5": -0.06,
    "antimalarial": 0.25,
    "immunosuppressant": -0.20,
    "renal_involvement": -0.45,
    "age_per_year": -0.01,
}

# week-0 prevalence of the clinical descriptors (renal ones depend on renal involvement)
_ITEM_P = {
    "seizure": 0.002, "psychosis": 0.002, "organic_brain_syndrome": 0.002,
    "visual_disturbance": 0.004, "cranial_nerve": 0.004, "lupus_headache": 0.01, "cva": 0.002,
    "vasculitis": 0.05, "arthritis": 0.48, "myositis": 0.02, "rash": 0.52, "alopecia": 0.42,
    "mucosal_ulcers": 0.27, "pleurisy": 0.04, "pericarditis": 0.02, "fever": 0.03,
    "thrombocytopenia": 0.03, "leukopenia": 0.08,
}
_RENAL_P = {  # (with renal involvement, without)
    "urinary_casts": (0.10, 0.005), "hematuria": (0.30, 0.03),
    "proteinuria": (0.60, 0.05), "pyuria": (0.20, 0.03),
}
_FLARE_ITEMS = ("arthritis", "rash", "alopecia", "mucosal_ulcers", "proteinuria", "hematuria",
                "leukopenia", "thrombocytopenia", "pleurisy")


def sledai_of(df: pd.DataFrame, suffix: str) -> np.ndarray:
    """SLEDAI-2K from the 24 ``<item><suffix>`` columns."""
    items = df[[f"{i}{suffix}" for i in ITEMS]].set_axis(list(ITEMS), axis=1)
    return np.asarray(sledai_2k(items), float)


def true_design(df: pd.DataFrame) -> pd.DataFrame:
    """The true model's terms for each patient.

    ``df`` needs the 24 descriptors ``<item>_w0`` (or ``sledai_w0``), ``anti_dsdna_positive``,
    ``prednisone_mg_w0, antimalarial, immunosuppressant, renal_involvement, age`` with no
    missing values (see :func:`simulate_complete`).
    """
    s = df["sledai_w0"].to_numpy(float) if "sledai_w0" in df else sledai_of(df, "_w0")
    lc = df["low_complement_w0"].to_numpy(float)
    dna = df["anti_dsdna_positive"].to_numpy(float)
    terms = {
        "intercept": np.ones(len(df)),
        "sledai_ge_10": (s >= 10).astype(float),
        "low_complement": lc,
        "anti_dsdna_positive": dna,
        "low_complement:anti_dsdna_positive": lc * dna,
        "prednisone_above_7_5": np.maximum(df["prednisone_mg_w0"].to_numpy(float) - 7.5, 0.0),
        "antimalarial": df["antimalarial"].to_numpy(float),
        "immunosuppressant": df["immunosuppressant"].to_numpy(float),
        "renal_involvement": df["renal_involvement"].to_numpy(float),
        "age_per_year": df["age"].to_numpy(float) - 38.0,
    }
    return pd.DataFrame(terms, index=df.index)


def true_linear_predictor(df: pd.DataFrame) -> np.ndarray:
    """``lp`` of the documented model; ``expit(lp)`` is the true SRI-4 probability."""
    design = true_design(df)
    return design.to_numpy() @ np.array([COEFFICIENTS[c] for c in design.columns])


def _baseline(rng: np.random.Generator, n: int) -> pd.DataFrame:
    female = rng.random(n) < 0.94
    sex = np.where(female, "female", "male")
    age = clip_round(rng.normal(37.8, 11.5, n), 18, 75)
    ethnicity = rng.choice(["white", "black", "asian", "hispanic", "other"], n,
                           p=[0.38, 0.12, 0.30, 0.16, 0.04])
    duration = clip_round(rng.lognormal(np.log(5.0), 0.9, n), 0.3, 45, 1)
    renal = (rng.random(n) < np.where(np.isin(ethnicity, ["black", "asian", "hispanic"]), 0.19, 0.10)).astype(float)
    # serology: log anti-dsDNA, log C3, log C4 (complement consumed when anti-dsDNA is high)
    z = rng.multivariate_normal(
        np.zeros(3), [[1.0, -0.35, -0.35], [-0.35, 1.0, 0.7], [-0.35, 0.7, 1.0]], size=n)
    dsdna = clip_round(np.exp(np.log(57.0) + 1.3 * z[:, 0] + 0.3 * renal), 1, 3000)
    c3 = clip_round(np.exp(np.log(0.935) + 0.30 * z[:, 1]), 0.2, 2.5, 2)
    c4 = clip_round(np.exp(np.log(0.088) + 0.50 * z[:, 2]), 0.01, 0.8, 2)
    # recorded outliers inside the plausible range (before the descriptors are set)
    dsdna[rng.choice(n, size=min(1, n), replace=False)] = 2400.0
    c3[rng.choice(n, size=min(1, n), replace=False)] = 0.25
    items = {}
    for item in CLINICAL_ITEMS:
        p = np.where(renal == 1, *_RENAL_P[item]) if item in _RENAL_P else _ITEM_P[item]
        items[item] = (rng.random(n) < p).astype(float)
    items["low_complement"] = ((c3 < C3_LOW_BELOW) | (c4 < C4_LOW_BELOW)).astype(float)
    items["increased_dna_binding"] = (dsdna >= DSDNA_POSITIVE_FROM).astype(float)
    # inclusion: SLEDAI-2K >= 6; add the commonest descriptors until it is reached
    for item in ("arthritis", "rash", "alopecia", "mucosal_ulcers"):
        total = sum(SLEDAI_2K_WEIGHTS[i] * items[i] for i in ITEMS)
        items[item] = np.where(total < INCLUSION_SLEDAI, 1.0, items[item])
    sledai = sum(SLEDAI_2K_WEIGHTS[i] * items[i] for i in ITEMS)
    steroid_p = expit(1.9 + 0.15 * (sledai - 9.7) + 0.8 * renal)
    dose = rng.choice([2.5, 5.0, 7.5, 10.0, 12.5, 15.0, 20.0, 25.0, 30.0, 40.0], n,
                      p=[0.06, 0.22, 0.18, 0.22, 0.06, 0.10, 0.09, 0.03, 0.03, 0.01])
    dose = np.where((sledai >= 12) | (renal == 1), np.maximum(dose, rng.choice([5.0, 7.5, 10.0], n)), dose)
    prednisone = np.where(rng.random(n) < steroid_p, dose, 0.0)
    antimalarial = (rng.random(n) < 0.65).astype(float)
    immuno = (rng.random(n) < np.where(renal == 1, 0.75, 0.40)).astype(float)
    pga = clip_round(1.35 + 0.07 * (sledai - 9.7) + rng.normal(0, 0.4, n), 0.3, 3.0, 1)
    pcs = clip_round(39.1 - 4.0 * (pga - 1.4) + rng.normal(0, 9.3, n), 10, 65, 1)
    hb = clip_round(np.where(female, 12.3, 13.6) - 0.6 * items["thrombocytopenia"]
                    + rng.normal(0, 1.2, n), 7.0, 17.0, 1)
    lymph = clip_round(rng.lognormal(np.log(1.25), 0.40, n) * np.where(items["leukopenia"] == 1, 0.6, 1.0), 0.2, 4.5, 2)
    egfr = clip_round(np.where(renal == 1, rng.normal(82, 24, n), rng.normal(104, 16, n)), 15, 150)
    egfr[rng.choice(n, size=min(1, n), replace=False)] = 28.0
    lymph[rng.choice(n, size=min(1, n), replace=False)] = 0.2
    frame = {
        "age": age, "sex": sex, "ethnicity": ethnicity, "disease_duration_years": duration,
        "renal_involvement": renal, "antimalarial": antimalarial, "immunosuppressant": immuno,
        "prednisone_mg_w0": prednisone, "anti_dsdna_iu_ml_w0": dsdna,
        "anti_dsdna_positive": items["increased_dna_binding"].copy(),
        "c3_g_l_w0": c3, "c4_g_l_w0": c4, "hemoglobin_g_dl": hb, "lymphocytes_10e9_l": lymph,
        "egfr_ml_min": egfr, "sf36_pcs_w0": pcs, "pga_w0": pga,
        **{f"{i}_w0": items[i] for i in ITEMS},
    }
    return pd.DataFrame(frame)


def _week48(rng, base: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """Week-48 descriptors, labs, PGA and BILAG counts such that SRI-4 equals ``y``."""
    n = len(base)
    resp = y == 1
    w0 = {i: base[f"{i}_w0"].to_numpy(float) for i in ITEMS}
    lc0, dna0 = w0["low_complement"].astype(bool), w0["increased_dna_binding"].astype(bool)
    # serology first: normalisation more frequent in responders
    u1, u2 = rng.random(n), rng.random(n)
    lc48 = np.where(lc0, u1 < np.where(resp, 0.60, 0.80), u1 < 0.05)
    dna48 = np.where(dna0, u2 < np.where(resp, 0.70, 0.88), u2 < 0.04)
    mode_other = ~resp & (rng.random(n) < 0.20)  # non-response not driven by the SLEDAI
    failure = rng.choice(["bilag_a", "bilag_b", "pga"], n, p=[0.4, 0.3, 0.3])
    pga0 = base["pga_w0"].to_numpy(float)
    failure = np.where((failure == "pga") & (pga0 > 2.5), "bilag_a", failure)
    w48 = {i: w0[i].copy() for i in CLINICAL_ITEMS}
    weights = np.array([SLEDAI_2K_WEIGHTS[i] for i in CLINICAL_ITEMS], float)
    clinical0 = np.stack([w0[i] for i in CLINICAL_ITEMS], axis=1)
    clinical48 = clinical0.copy()
    order = np.argsort(rng.random((n, len(CLINICAL_ITEMS))), axis=1)
    u_resolve = rng.random((n, len(CLINICAL_ITEMS)))
    u_flare, flare_pick = rng.random(n), rng.integers(0, len(_FLARE_ITEMS), n)
    flare_idx = np.array([CLINICAL_ITEMS.index(i) for i in _FLARE_ITEMS])
    for k in range(n):
        sero_drop = 2 * (int(lc0[k]) - int(lc48[k])) + 2 * (int(dna0[k]) - int(dna48[k]))
        row = clinical48[k]
        if resp[k] or mode_other[k]:
            drop = sero_drop
            for j in order[k]:  # resolve most active descriptors
                if row[j] == 1 and (u_resolve[k, j] < 0.85 or drop < 4):
                    row[j] = 0
                    drop += weights[j]
            if drop < 4:  # serology has to normalise too
                if lc48[k]:
                    lc48[k], drop = False, drop + 2
                if drop < 4 and dna48[k]:
                    dna48[k], drop = False, drop + 2
            j = flare_idx[flare_pick[k]]
            if u_flare[k] < 0.08 and row[j] == 0 and drop - weights[j] >= 4:
                row[j] = 1  # a minor new manifestation that does not spoil the response
        else:
            if sero_drop >= 4:  # keep the SLEDAI decrease below 4
                lc48[k] = lc0[k]
                sero_drop = 2 * (int(dna0[k]) - int(dna48[k]))
            drop = sero_drop
            for j in order[k]:
                if row[j] == 1 and u_resolve[k, j] < 0.45 and drop + weights[j] <= 3:
                    row[j] = 0
                    drop += weights[j]
            j = flare_idx[flare_pick[k]]
            if u_flare[k] < 0.15 and row[j] == 0:
                row[j] = 1
    for j, item in enumerate(CLINICAL_ITEMS):
        w48[item] = clinical48[:, j]
    w48["low_complement"] = lc48.astype(float)
    w48["increased_dna_binding"] = dna48.astype(float)
    # PGA and BILAG
    pga48_resp = clip_round(pga0 - rng.uniform(-0.2, 1.0, n), 0, 3, 1)
    pga48_non = clip_round(pga0 + rng.normal(-0.1, 0.45, n), 0, 3, 1)
    pga48_worse = clip_round(pga0 + rng.uniform(0.4, 0.8, n), 0, 3, 1)
    bilag_a_non = (rng.random(n) < 0.10).astype(float)
    bilag_b_non = rng.choice([0.0, 1.0, 2.0, 3.0], n, p=[0.70, 0.18, 0.09, 0.03])
    bilag_b_resp = (rng.random(n) < 0.12).astype(float)
    pga48 = np.where(resp, pga48_resp, pga48_non)
    bilag_a = np.where(resp, 0.0, bilag_a_non)
    bilag_b = np.where(resp, bilag_b_resp, bilag_b_non)
    other = mode_other
    pga48 = np.where(other & (failure == "pga"), pga48_worse, np.where(other, pga48_resp, pga48))
    bilag_a = np.where(other, (failure == "bilag_a").astype(float), bilag_a)
    bilag_b = np.where(other, np.where(failure == "bilag_b", rng.choice([2.0, 3.0], n, p=[0.8, 0.2]),
                                       bilag_b_resp), bilag_b)
    # week-48 labs consistent with the serological descriptors
    c3_0, c4_0 = base["c3_g_l_w0"].to_numpy(float), base["c4_g_l_w0"].to_numpy(float)
    shift = np.where(resp, 0.10, 0.02)
    c3 = clip_round(c3_0 * np.exp(shift + rng.normal(0, 0.12, n)), 0.2, 2.5, 2)
    c4 = clip_round(c4_0 * np.exp(shift + rng.normal(0, 0.18, n)), 0.01, 0.8, 2)
    low_now = (c3 < C3_LOW_BELOW) | (c4 < C4_LOW_BELOW)
    fix_c3 = c3 / C3_LOW_BELOW < c4 / C4_LOW_BELOW
    need_low = lc48 & ~low_now
    c3 = np.where(need_low & fix_c3, np.round(rng.uniform(0.70, 0.88, n), 2), c3)
    c4 = np.where(need_low & ~fix_c3, np.round(rng.uniform(0.05, 0.09, n), 2), c4)
    c3 = np.where(~lc48 & (c3 < C3_LOW_BELOW), np.round(rng.uniform(0.91, 1.10, n), 2), c3)
    c4 = np.where(~lc48 & (c4 < C4_LOW_BELOW), np.round(rng.uniform(0.10, 0.16, n), 2), c4)
    d0 = base["anti_dsdna_iu_ml_w0"].to_numpy(float)
    dsdna = clip_round(d0 * np.exp(np.where(resp, -0.45, -0.15) + rng.normal(0, 0.35, n)), 1, 3000)
    dsdna = np.where(dna48 & (dsdna < DSDNA_POSITIVE_FROM), np.round(rng.uniform(31, 70, n)), dsdna)
    dsdna = np.where(~dna48 & (dsdna >= DSDNA_POSITIVE_FROM), np.round(rng.uniform(4, 28, n)), dsdna)
    assert np.array_equal((c3 < C3_LOW_BELOW) | (c4 < C4_LOW_BELOW), lc48)
    assert np.array_equal(dsdna >= DSDNA_POSITIVE_FROM, dna48)
    pred0 = base["prednisone_mg_w0"].to_numpy(float)
    taper = np.where(resp, rng.choice([0.0, 0.5, 0.75, 1.0], n, p=[0.1, 0.35, 0.3, 0.25]),
                     rng.choice([0.5, 0.75, 1.0, 1.5], n, p=[0.1, 0.25, 0.5, 0.15]))
    pred48 = np.round(np.clip(pred0 * taper, 0, 60) / 2.5) * 2.5
    out = pd.DataFrame({
        "prednisone_mg_w48": pred48, "anti_dsdna_iu_ml_w48": dsdna, "c3_g_l_w48": c3,
        "c4_g_l_w48": c4, "pga_w48": pga48,
        **{f"{i}_w48": w48[i] for i in ITEMS},
        "new_bilag_a_w48": bilag_a, "new_bilag_b_w48": bilag_b,
    }, index=base.index)
    check = sri4(sledai_of(base, "_w0"), sledai_of(out, "_w48"), base["pga_w0"].to_numpy(float),
                 out["pga_w48"].to_numpy(float), bilag_a, bilag_b)
    assert np.array_equal(np.asarray(check, bool), resp)
    return out


def _switch_weeks(rng: np.random.Generator, shape, p) -> np.ndarray:
    """Week (12, 24, 36 or 48) from which a change between week 0 and week 48 is seen."""
    return rng.choice(np.array(INTERIM_WEEKS + (48,), float), size=shape, p=p)


def _draw_visits(complete: pd.DataFrame, y: np.ndarray, seed: int) -> pd.DataFrame:
    """The long visit table (weeks 0, 12, 24, 36, 48) of the patients of ``complete``.

    Weeks 0 and 48 copy the cohort's ``_w0``/``_w48`` values; the interim visits are drawn
    from ``np.random.default_rng([seed, 48])`` only, so the cohort and truth tables do not
    change (see the module docstring, *Visits*).
    """
    rng = np.random.default_rng([seed, 48])
    n = len(complete)
    resp = y == 1
    renal = complete["renal_involvement"].to_numpy(float) == 1
    items = {w: {i: complete[f"{i}_w{w}"].to_numpy(float) for i in ITEMS} for w in (0, 48)}
    # descriptors: each change between week 0 and week 48 is seen from a switch week on
    for week in INTERIM_WEEKS:
        items[week] = {}
    for item in ITEMS:
        a, b = items[0][item], items[48][item]
        resolve_at = _switch_weeks(rng, n, RESOLVE_P)
        onset_at = _switch_weeks(rng, n, ONSET_P)
        for week in INTERIM_WEEKS:
            switched = np.where(a > b, resolve_at <= week, onset_at <= week)
            items[week][item] = np.where((a != b) & switched, b, a)
    # transient flares: a minor descriptor absent at weeks 0 and 48 seen at one interim visit
    transient = {}
    for week in INTERIM_WEEKS:
        pick = rng.integers(0, len(_FLARE_ITEMS), n)
        hit = rng.random(n) < np.where(resp, TRANSIENT_FLARE_P[0], TRANSIENT_FLARE_P[1])
        transient[week] = np.zeros(n, bool)
        for j, item in enumerate(_FLARE_ITEMS):
            new = hit & (pick == j) & (items[0][item] == 0) & (items[48][item] == 0)
            items[week][item] = np.where(new, 1.0, items[week][item])
            transient[week] |= new
    # PGA and prednisone: part of the way from week 0 to week 48, higher with a flare
    pga = {0: complete["pga_w0"].to_numpy(float), 48: complete["pga_w48"].to_numpy(float)}
    pred = {0: complete["prednisone_mg_w0"].to_numpy(float),
            48: complete["prednisone_mg_w48"].to_numpy(float)}
    for week in INTERIM_WEEKS:
        g = PGA_PROGRESS[week]
        pga[week] = clip_round(pga[0] + g * (pga[48] - pga[0]) + rng.normal(0, 0.2, n)
                               + 0.4 * transient[week], 0, 3, 1)
        dose = pred[0] + PREDNISONE_PROGRESS[week] * (pred[48] - pred[0])
        bump = transient[week] & (pred[0] > 0) & (rng.random(n) < 0.5)
        pred[week] = np.clip(np.round((dose + 5.0 * bump) / 2.5) * 2.5, 0, 60)
    # new BILAG A/B domains (compared with week 0): week-48 domains appear from an onset week
    bilag_a48 = complete["new_bilag_a_w48"].to_numpy(float)
    bilag_b48 = complete["new_bilag_b_w48"].to_numpy(float)
    onset_a = _switch_weeks(rng, n, ONSET_P)
    onset_b = _switch_weeks(rng, (n, 3), ONSET_P)
    slots = np.arange(3)[None, :] < bilag_b48[:, None]
    bilag_a, bilag_b = {48: bilag_a48}, {48: bilag_b48}
    for week in INTERIM_WEEKS:
        bilag_a[week] = np.where(onset_a <= week, bilag_a48, 0.0) + (rng.random(n) < 0.01)
        bilag_b[week] = ((slots & (onset_b <= week)).sum(axis=1)
                         + (transient[week] & (rng.random(n) < 0.5))).astype(float)
    # urine protein (g/day) agreeing with the proteinuria descriptor (> 0.5 g/day)
    z_patient = rng.standard_normal(n)
    protein = {}
    for week in WEEKS:
        z = 0.7 * z_patient + 0.7 * rng.standard_normal(n)
        high = clip_round(np.exp(np.log(1.4) + 0.6 * z), 0.51, 8.0, 2)
        low = clip_round(np.exp(np.where(renal, np.log(0.25), np.log(0.10)) + 0.5 * z), 0.03, 0.49, 2)
        protein[week] = np.where(items[week]["proteinuria"] == 1, high, low)
    # missed interim visits (MCAR); week 48 is recorded for everyone (as in the cohort table)
    missed = {week: np.zeros(n, bool) for week in WEEKS}
    for week in INTERIM_WEEKS:
        missed[week] = rng.random(n) < MISSED_VISIT_P[week]
    # new activity since the last attended visit: a clinical descriptor or BILAG domain
    new_activity = {0: np.full(n, np.nan)}
    last = {"items": np.stack([items[0][i] for i in CLINICAL_ITEMS], axis=1),
            "a": np.zeros(n), "b": np.zeros(n)}
    for week in WEEKS[1:]:
        now = np.stack([items[week][i] for i in CLINICAL_ITEMS], axis=1)
        new = ((now > last["items"]).any(axis=1) | (bilag_a[week] > last["a"])
               | (bilag_b[week] > last["b"]))
        new_activity[week] = np.where(missed[week], np.nan, new.astype(float))
        seen = ~missed[week]
        last = {"items": np.where(seen[:, None], now, last["items"]),
                "a": np.where(seen, bilag_a[week], last["a"]), "b": np.where(seen, bilag_b[week], last["b"])}
    rows = []
    for week in WEEKS:
        frame = pd.DataFrame({
            "patient_id": complete["patient_id"].to_numpy(), "week": float(week),
            **{item: items[week][item] for item in ITEMS},
            "pga": pga[week], "prednisone_mg": pred[week],
            "new_bilag_a": bilag_a[week] if week else np.nan,
            "new_bilag_b": bilag_b[week] if week else np.nan,
            "new_activity": new_activity[week], "proteinuria_g_day": protein[week],
        })
        value_cols = frame.columns[2:]
        frame.loc[missed[week], value_cols] = np.nan
        rows.append(frame)
    visits = pd.concat(rows).sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)
    # interim SRI-4 is computable on attended visits; week 48 reproduces the cohort's SRI-4
    at48 = visits[visits["week"] == 48]
    check = sri4(sledai_of(complete, "_w0"), np.asarray(sledai_2k(at48[list(ITEMS)]), float),
                 pga[0], at48["pga"].to_numpy(float), at48["new_bilag_a"].to_numpy(float),
                 at48["new_bilag_b"].to_numpy(float))
    assert np.array_equal(np.asarray(check, bool), resp)
    return visits


def _generate(n: int, seed: int) -> tuple[pd.DataFrame, DemoCohort]:
    rng = np.random.default_rng(seed)
    base = _baseline(rng, n)
    p = expit(true_linear_predictor(base))
    y = (rng.random(n) < p).astype(int)
    ids = [f"SLE-{i + 1:04d}" if n < 10000 else f"SLE-{i + 1:06d}" for i in range(n)]
    follow = _week48(rng, base, y)
    complete = pd.concat([pd.Series(ids, name="patient_id"), base, follow], axis=1)
    raw = complete.copy()
    raw["c3_g_l_w0"] = mask_mcar(rng, raw["c3_g_l_w0"], 0.02)
    raw["c4_g_l_w0"] = mask_mcar(rng, raw["c4_g_l_w0"], 0.04)
    raw["hemoglobin_g_dl"] = mask_mcar(rng, raw["hemoglobin_g_dl"], 0.03)
    raw["lymphocytes_10e9_l"] = mask_mcar(rng, raw["lymphocytes_10e9_l"], 0.05)
    raw["sf36_pcs_w0"] = mask_mcar(rng, raw["sf36_pcs_w0"], 0.07)
    activity = sledai_of(base, "_w0")
    raw["anti_dsdna_iu_ml_w0"] = mask_mar(rng, raw["anti_dsdna_iu_ml_w0"], -activity, 0.06)
    raw["egfr_ml_min"] = mask_mar(rng, raw["egfr_ml_min"], -raw["renal_involvement"].to_numpy(float), 0.08,
                                  strength=0.8)
    raw["c3_g_l_w48"] = mask_mcar(rng, raw["c3_g_l_w48"], 0.05)
    raw["c4_g_l_w48"] = mask_mcar(rng, raw["c4_g_l_w48"], 0.06)
    raw["anti_dsdna_iu_ml_w48"] = mask_mar(rng, raw["anti_dsdna_iu_ml_w48"], -activity, 0.10)
    truth = pd.DataFrame({
        "patient_id": ids,
        "true_probability": np.round(p, 6),
        "latent_response": y,
    })
    complete["true_probability"] = p
    complete["latent_response"] = y
    visits = _draw_visits(complete, y, seed)  # its own random stream: drawn last
    return complete, DemoCohort(tables={"cohort.csv": raw, "visits.csv": visits}, truth=truth)


def simulate(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> DemoCohort:
    """Draw ``n`` patients from the documented model (deterministic for a seed).

    Examples
    --------
    >>> cohort = simulate(50, seed=1)
    >>> sorted(cohort.tables)
    ['cohort.csv', 'visits.csv']
    >>> cohort.truth.columns.tolist()
    ['patient_id', 'true_probability', 'latent_response']
    """
    return _generate(n, seed)[1]


def simulate_complete(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The cohort table of :func:`simulate` (same patients) *before* masking.

    Adds ``true_probability`` and ``latent_response``; the input of :func:`true_design`
    when checking the truth.

    Examples
    --------
    >>> df = simulate_complete(30, seed=2)
    >>> bool(df["c4_g_l_w0"].notna().all()), "latent_response" in df
    (True, True)
    """
    return _generate(n, seed)[0]
