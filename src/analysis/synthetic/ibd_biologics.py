"""Demo cohort ``ibd-biologics``: IBD patients starting an anti-cytokine or anti-integrin antibody.

Design
------
Observational cohort of Crohn's disease (CD, ~55%) and ulcerative colitis (UC) patients
starting an anti-cytokine antibody (anti-TNF: infliximab, adalimumab; anti-IL-12/23:
ustekinumab) or the anti-integrin vedolizumab. Treatment is chosen by indication: older
patients, UC and prior anti-TNF exposure make vedolizumab more likely.

Outcome
-------
Clinical response at week 14, *derived in study.yaml from raw index components*: for CD a
CDAI decrease of at least 70 points (CR-70), for UC a full Mayo response (decrease >= 3
points and >= 30% with a rectal-bleeding improvement). The generator draws the latent
response ``Y ~ Bernoulli(p)`` and then week-14 components consistent with it.

Data-generating model (true probability ``p = expit(lp)``)
-----------------------------------------------------------
With ``AC`` = 1 for anti-cytokine, ``AI`` = 1 - AC, ``lcrp = ln(CRP mg/L) - ln(10)``,
``lcal = ln(calprotectin µg/g) - ln(1000)``::

    lp =  1.00                                  intercept
        + 0.30 * AC                              treatment main effect
        - 0.90 * prior_anti_tnf * AC             anti-TNF failure predicts anti-cytokine failure
        - 0.35 * prior_anti_tnf * AI
        - 0.15 * lcrp * AC                       treatment x biomarker interaction:
        - 0.60 * lcrp * AI                       high CRP hurts vedolizumab far more (CDST)
        - 0.25 * lcal
        + 0.10 * min(albumin - 40, 0)            nonlinearity: low albumin hurts,
        + 0.02 * max(albumin - 40, 0)            high albumin helps little
        - 0.08 * max(BMI - 25, 0) * AC           obesity -> low anti-TNF drug levels
        + 0.35 * immunomodulator * AC            combination therapy
        - 0.35 * current_smoker
        - 0.40 * prior_bowel_surgery
        - 0.40 * fistulising
        - 0.015 * (age - 40)

Coefficients are in :data:`COEFFICIENTS`; :func:`true_linear_predictor` evaluates the model
for any table (used to score every patient under both treatment classes, and by the tests
that refit the model on a large draw). Marginals follow shared/clinical-indices.md §6:
CRP lognormal(2.58, 1.19), calprotectin lognormal(6.92, 1.20), albumin ~41 g/L lower with
higher CRP, haemoglobin ~12.8 g/dL, BMI ~23, disease duration median ~4 y, current smokers
~25% (fewer in UC), prior anti-TNF ~45%. Missingness: CRP 3% and albumin 5% MCAR,
haemoglobin 2% MCAR, smoking 4% MCAR, calprotectin ~14% MAR (more often missing in older
patients and in UC).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.indices.colitis import mayo_response
from analysis.indices.crohns import cdai, cdai_response
from analysis.synthetic._base import DemoCohort, clip_round, expit, mask_mar, mask_mcar

NAME = "ibd-biologics"
DEFAULT_N = 200
DEFAULT_SEED = 20240614
TREATMENTS = ("anti-cytokine", "anti-integrin")

COEFFICIENTS = {
    "intercept": 1.00,
    "anti_cytokine": 0.30,
    "prior_anti_tnf:anti_cytokine": -0.90,
    "prior_anti_tnf:anti_integrin": -0.35,
    "log_crp:anti_cytokine": -0.15,
    "log_crp:anti_integrin": -0.60,
    "log_calprotectin": -0.25,
    "albumin_below_40": 0.10,
    "albumin_above_40": 0.02,
    "bmi_above_25:anti_cytokine": -0.08,
    "immunomodulator:anti_cytokine": 0.35,
    "current_smoker": -0.35,
    "prior_bowel_surgery": -0.40,
    "fistulising": -0.40,
    "age_per_year": -0.015,
}


def true_design(df: pd.DataFrame, treatment: str | None = None) -> pd.DataFrame:
    """The true model's terms for each patient (optionally forcing a treatment class).

    ``df`` needs ``treatment_class, prior_anti_tnf, crp_mg_l, calprotectin_ug_g, albumin_g_l,
    bmi (or height_cm and weight_kg), immunomodulator, smoking, prior_bowel_surgery,
    fistulising, age`` with no missing values (the truth uses the unmasked values).
    """
    tc = df["treatment_class"] if treatment is None else pd.Series(treatment, index=df.index)
    ac = (tc == "anti-cytokine").astype(float).to_numpy()
    ai = 1.0 - ac
    bmi = df["bmi"] if "bmi" in df else df["weight_kg"] / (df["height_cm"] / 100) ** 2
    prior = df["prior_anti_tnf"].to_numpy(float)
    lcrp = np.log(df["crp_mg_l"].to_numpy(float)) - np.log(10.0)
    alb = df["albumin_g_l"].to_numpy(float) - 40.0
    terms = {
        "intercept": np.ones(len(df)),
        "anti_cytokine": ac,
        "prior_anti_tnf:anti_cytokine": prior * ac,
        "prior_anti_tnf:anti_integrin": prior * ai,
        "log_crp:anti_cytokine": lcrp * ac,
        "log_crp:anti_integrin": lcrp * ai,
        "log_calprotectin": np.log(df["calprotectin_ug_g"].to_numpy(float)) - np.log(1000.0),
        "albumin_below_40": np.minimum(alb, 0.0),
        "albumin_above_40": np.maximum(alb, 0.0),
        "bmi_above_25:anti_cytokine": np.maximum(np.asarray(bmi, float) - 25.0, 0.0) * ac,
        "immunomodulator:anti_cytokine": df["immunomodulator"].to_numpy(float) * ac,
        "current_smoker": (df["smoking"] == "current").to_numpy(float),
        "prior_bowel_surgery": df["prior_bowel_surgery"].to_numpy(float),
        "fistulising": df["fistulising"].to_numpy(float),
        "age_per_year": df["age"].to_numpy(float) - 40.0,
    }
    return pd.DataFrame(terms, index=df.index)


def true_linear_predictor(df: pd.DataFrame, treatment: str | None = None) -> np.ndarray:
    """``lp`` of the documented model; ``expit(lp)`` is the true response probability."""
    design = true_design(df, treatment)
    return design.to_numpy() @ np.array([COEFFICIENTS[c] for c in design.columns])


def _baseline(rng: np.random.Generator, n: int) -> pd.DataFrame:
    disease = np.where(rng.random(n) < 0.55, "CD", "UC")
    cd = disease == "CD"
    sex = np.where(rng.random(n) < 0.48, "female", "male")
    female = sex == "female"
    age = clip_round(18 + rng.gamma(4.0, 5.5, n) + 2, 18, 85)
    height = clip_round(np.where(female, rng.normal(164, 6.5, n), rng.normal(177, 7, n)), 145, 200)
    bmi_true = np.clip(rng.lognormal(np.log(23.0), 0.17, n), 15.5, 42)
    weight = clip_round(bmi_true * (height / 100) ** 2, 38, 150, 1)
    smoke_p = np.where(cd, 0.30, 0.10)
    u = rng.random(n)
    smoking = np.where(u < smoke_p, "current", np.where(u < smoke_p + 0.22, "former", "never"))
    duration = clip_round(rng.lognormal(np.log(4.0), 1.1, n), 0.1, 45, 1)
    prior_anti_tnf = (rng.random(n) < 0.45).astype(float)
    surgery = (rng.random(n) < np.where(cd, 0.28, 0.04)).astype(float)
    fistulising = ((rng.random(n) < 0.22) & cd).astype(float)
    immunomodulator = (rng.random(n) < 0.35).astype(float)
    steroids = (rng.random(n) < 0.40).astype(float)
    # correlated inflammatory burden: log CRP, log calprotectin, albumin, haemoglobin
    z = rng.multivariate_normal(
        np.zeros(3), [[1.0, 0.45, -0.5], [0.45, 1.0, -0.25], [-0.5, -0.25, 1.0]], size=n
    )
    crp = clip_round(np.exp(2.58 + 1.19 * z[:, 0]), 0.2, 250, 1)
    calpro = clip_round(np.exp(6.92 + 1.20 * z[:, 1]), 20, 6000)
    albumin = clip_round(41.0 + 4.0 * z[:, 2] - 1.0 * (np.log(crp) - 2.58), 22, 52)
    hb = clip_round(np.where(female, 12.4, 13.6) + 1.1 * rng.standard_normal(n) + 0.15 * (albumin - 41), 7.5, 17.5, 1)
    # two recorded outliers inside the plausible range
    albumin[rng.choice(n, size=min(2, n), replace=False)] = 23.0
    # treatment by indication
    lp_ai = -0.9 + 0.02 * (age - 40) + 0.9 * prior_anti_tnf + 0.6 * (disease == "UC") - 0.4 * fistulising
    ai = rng.random(n) < expit(lp_ai)
    treatment = np.where(ai, "anti-integrin", "anti-cytokine")
    drug = np.where(ai, "vedolizumab", rng.choice(["infliximab", "adalimumab", "ustekinumab"], n, p=[0.4, 0.35, 0.25]))
    return pd.DataFrame({
        "disease": disease, "treatment_class": treatment, "drug": drug, "age": age, "sex": sex,
        "height_cm": height, "weight_kg": weight, "smoking": smoking,
        "disease_duration_years": duration, "prior_anti_tnf": prior_anti_tnf,
        "prior_bowel_surgery": surgery, "fistulising": fistulising,
        "immunomodulator": immunomodulator, "corticosteroids": steroids, "crp_mg_l": crp,
        "calprotectin_ug_g": calpro, "albumin_g_l": albumin, "hemoglobin_g_dl": hb,
    })


_CDAI_COMPONENTS = ("stools", "pain", "wellbeing", "complications", "antidiarrheal", "mass", "hematocrit")


def _cdai_of(c: dict, sex, height, weight) -> np.ndarray:
    return np.asarray(cdai(c["stools"], c["pain"], c["wellbeing"], c["complications"],
                           c["antidiarrheal"], c["mass"], c["hematocrit"], sex, height, weight), float)


def _crohns_components(rng, base: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """CDAI components at weeks 0 and 14 such that CR-70 at week 14 equals ``y``."""
    n = len(base)
    sex, height = base["sex"].to_numpy(), base["height_cm"].to_numpy(float)
    hb = base["hemoglobin_g_dl"].to_numpy(float)
    w0 = {
        "stools": clip_round(rng.gamma(6.0, 5.0, n), 0, 140),
        "pain": clip_round(rng.normal(12, 3.5, n), 0, 21),
        "wellbeing": clip_round(rng.normal(15, 4.5, n), 0, 28),
        "complications": rng.binomial(6, 0.15, n).astype(float),
        "antidiarrheal": (rng.random(n) < 0.25).astype(float),
        "mass": rng.choice([0.0, 2.0, 5.0], n, p=[0.6, 0.25, 0.15]),
        "hematocrit": clip_round(hb * 2.95 + rng.normal(0, 1.2, n), 22, 55, 1),
    }
    weight0 = base["weight_kg"].to_numpy(float)
    cdai0 = _cdai_of(w0, sex, height, weight0)
    responders = y == 1
    fixed = {
        "complications": np.where(responders, rng.binomial(w0["complications"].astype(int), 0.4), w0["complications"]).astype(float),
        "antidiarrheal": np.where(responders & (rng.random(n) < 0.6), 0.0, w0["antidiarrheal"]),
        "mass": np.where(responders & (rng.random(n) < 0.5), 0.0, w0["mass"]),
        "hematocrit": clip_round(w0["hematocrit"] + np.where(responders, 1.5, 0.0) + rng.normal(0, 1.0, n), 22, 55, 1),
    }
    weight14 = clip_round(weight0 + np.where(responders, 1.5, -0.5) + rng.normal(0, 1.0, n), 38, 150, 1)
    target = cdai0 - np.where(responders, rng.uniform(85, 230, n), rng.uniform(-45, 55, n))
    best = np.full(n, np.nan)
    best_cdai = np.full(n, np.nan)
    chosen = {k: np.zeros(n) for k in ("stools", "pain", "wellbeing")}

    def search(items: dict, rows: np.ndarray) -> None:
        """Scale the symptom items by a grid of factors; keep, per row, the closest value."""
        nonlocal best, best_cdai
        for f in np.round(np.arange(0.0, 1.61, 0.02), 2):
            comp = {
                "stools": clip_round(w0["stools"] * f, 0, 140),
                "pain": clip_round(w0["pain"] * f, 0, 21),
                "wellbeing": clip_round(w0["wellbeing"] * f, 0, 28),
                **items,
            }
            value = _cdai_of(comp, sex, height, weight14)
            consistent = np.where(responders, cdai0 - value >= 75, cdai0 - value <= 65)
            distance = np.abs(value - target)
            better = rows & consistent & (np.isnan(best) | (distance < best))
            best = np.where(better, distance, best)
            best_cdai = np.where(better, value, best_cdai)
            for k in chosen:
                chosen[k] = np.where(better, comp[k], chosen[k])

    search(fixed, np.ones(n, dtype=bool))
    stuck = np.isnan(best) & responders
    if stuck.any():
        # rare responders (about 1 in 20,000 with Crohn's disease) whose baseline CDAI is too
        # low for a 75-point drop through the symptom items alone: their other items also
        # return to normal (no complications, antidiarrhoeal or mass, haematocrit at the
        # standard). No random draw is used, so every other patient, and every cohort without
        # such a patient (the demo cohorts), is unchanged.
        standard = np.where(np.asarray(sex) == "male", 47.0, 42.0)
        relaxed = {"complications": 0.0, "antidiarrheal": 0.0, "mass": 0.0,
                   "hematocrit": np.maximum(fixed["hematocrit"], standard)}
        fixed.update({k: np.where(stuck, relaxed[k], fixed[k]) for k in relaxed})
        search(fixed, stuck)
    if np.isnan(best).any():
        raise RuntimeError(
            f"could not construct week-14 CDAI components consistent with response for "
            f"{int(np.isnan(best).sum())} patient(s)")
    out = {f"cdai_{k}_w0": w0[k] for k in _CDAI_COMPONENTS if k != "hematocrit"}
    out["hematocrit_w0"] = w0["hematocrit"]
    for k in ("stools", "pain", "wellbeing"):
        out[f"cdai_{k}_w14"] = chosen[k]
    for k in ("complications", "antidiarrheal", "mass"):
        out[f"cdai_{k}_w14"] = fixed[k]
    out["hematocrit_w14"] = fixed["hematocrit"]
    out["weight_kg_w14"] = weight14
    frame = pd.DataFrame(out, index=base.index)
    assert np.array_equal(np.asarray(cdai_response(cdai0, best_cdai), bool), responders)
    return frame


def _colitis_components(rng, n: int, y: np.ndarray) -> pd.DataFrame:
    """Mayo subscores at weeks 0 and 14 such that full-Mayo response equals ``y``."""
    sf0 = rng.choice([1, 2, 3], n, p=[0.15, 0.45, 0.40])
    rb0 = rng.choice([0, 1, 2, 3], n, p=[0.05, 0.35, 0.40, 0.20])
    es0 = rng.choice([2, 3], n, p=[0.55, 0.45])
    pga0 = rng.choice([1, 2, 3], n, p=[0.10, 0.50, 0.40])
    base = np.stack([sf0, rb0, es0, pga0], axis=1).astype(int)
    follow = base.copy()
    for i in range(n):
        total0 = base[i].sum()
        if y[i] == 1:
            need = max(3, int(np.ceil(0.3 * total0))) + int(rng.integers(0, 3))
            follow[i, 1] = min(follow[i, 1], int(rng.integers(0, 2)))  # rectal bleeding <= 1
            while base[i].sum() - follow[i].sum() < need and follow[i].sum() > 0:
                j = int(rng.integers(0, 4))
                if follow[i, j] > 0:
                    follow[i, j] -= 1
        else:
            change = int(rng.integers(-1, 3))  # total drop of -1..2 points: never a response
            for _ in range(abs(change)):
                j = int(rng.integers(0, 4))
                follow[i, j] = int(np.clip(follow[i, j] - np.sign(change), 0, 3))
    total0, total14 = base.sum(axis=1), follow.sum(axis=1)
    resp = np.asarray(mayo_response(total0, total14, base[:, 1], follow[:, 1]), dtype=bool)
    # a rare non-responder drawn with an unlucky pattern is moved back to baseline
    wrong = resp != (y == 1)
    follow[wrong & (y == 0)] = base[wrong & (y == 0)]
    names = ("sf", "rb", "es", "pga")
    frame = {f"mayo_{k}_w0": base[:, j].astype(float) for j, k in enumerate(names)}
    frame.update({f"mayo_{k}_w14": follow[:, j].astype(float) for j, k in enumerate(names)})
    out = pd.DataFrame(frame)
    check = np.asarray(mayo_response(base.sum(1), follow.sum(1), base[:, 1], follow[:, 1]), bool)
    assert np.array_equal(check, y == 1)
    return out


def simulate_complete(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The unmasked baseline table with ``true_probability`` and ``latent_response``.

    Same draw as :func:`simulate` (same seed, same patients) before missingness is applied:
    the oracle's view, used to check that the model's coefficients are recoverable.
    """
    return simulate(n, seed, _complete=True)


def simulate(n: int = DEFAULT_N, seed: int = DEFAULT_SEED, _complete: bool = False):
    """Draw ``n`` patients from the documented model (deterministic for a seed).

    Examples
    --------
    >>> cohort = simulate(50, seed=1)
    >>> sorted(cohort.tables)
    ['cohort.csv']
    >>> cohort.truth.columns.tolist()[:2]
    ['patient_id', 'true_probability']
    """
    rng = np.random.default_rng(seed)
    base = _baseline(rng, n)
    p = expit(true_linear_predictor(base))
    p_options = {t: expit(true_linear_predictor(base, t)) for t in TREATMENTS}
    y = (rng.random(n) < p).astype(int)
    if _complete:
        return base.assign(true_probability=p, latent_response=y)
    ids = [f"IBD-{i + 1:04d}" if n < 10000 else f"IBD-{i + 1:06d}" for i in range(n)]
    cd = (base["disease"] == "CD").to_numpy()
    cd_frame = _crohns_components(rng, base[cd], y[cd])
    uc_frame = _colitis_components(rng, int((~cd).sum()), y[~cd])
    uc_frame.index = base.index[~cd]
    components = pd.concat([cd_frame, uc_frame]).sort_index().reindex(base.index)
    raw = base.copy()
    raw["crp_mg_l"] = mask_mcar(rng, raw["crp_mg_l"], 0.03)
    raw["albumin_g_l"] = mask_mcar(rng, raw["albumin_g_l"], 0.05)
    raw["hemoglobin_g_dl"] = mask_mcar(rng, raw["hemoglobin_g_dl"], 0.02)
    driver = raw["age"].to_numpy(float) + 15.0 * (raw["disease"] == "UC").to_numpy(float)
    raw["calprotectin_ug_g"] = mask_mar(rng, raw["calprotectin_ug_g"], driver, 0.14)
    smoking_missing = rng.random(n) < 0.04
    raw["smoking"] = raw["smoking"].where(~smoking_missing, None)
    cohort = pd.concat([pd.Series(ids, name="patient_id"), raw, components], axis=1)
    truth = pd.DataFrame({
        "patient_id": ids,
        "true_probability": np.round(p, 6),
        **{f"true_probability_{t.replace('-', '_')}": np.round(v, 6) for t, v in p_options.items()},
        "latent_response": y,
    })
    return DemoCohort(tables={"cohort.csv": cohort}, truth=truth)
