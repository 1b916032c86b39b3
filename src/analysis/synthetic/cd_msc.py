"""Demo cohort ``cd-msc``: mesenchymal stromal cells in refractory luminal Crohn's disease.

Design
------
Open-label study of 40 adults with refractory Crohn's disease (failure of >= 2 biologics,
CDAI 220–450, SES-CD >= 6, or >= 4 for isolated ileal disease) treated with allogeneic
mesenchymal stromal cells (MSC), allocated 1:1 to two arms (``arm``): ``mucosal``
(endoscopic submucosal injection into the inflamed segments) or ``iv_mucosal`` (the same
mucosal injection plus an intravenous infusion). Visits at weeks 0, 4, 8, 12 and 24: CDAI
components, CRP and faecal calprotectin at every visit, ileocolonoscopy with SES-CD items
(4 items × 5 segments, ``NaN`` for a segment the scope did not reach) at weeks 0, 12 and 24,
adverse events (AE count and serious AE) at every visit.

Tables: ``visits.csv`` (long format, one row per patient and visit: week, CDAI components,
weight, haematocrit, CRP, calprotectin, SES-CD items where scheduled and ``NaN`` otherwise,
``ae_count`` new AEs since the previous visit, ``sae`` a serious AE since the previous
visit) and ``cohort.csv`` (one row per patient: baseline characteristics and laboratory
values, CDAI components and SES-CD items at weeks 0 and 24, ``ae_count_total`` and
``sae_any`` over the 24 weeks); both hold the same measurements.

Outcome
-------
Clinical response at week 24, a CDAI decrease of at least 70 points (CR-70), *derived in
study.yaml from the raw week-0 and week-24 CDAI components*. The generator draws the latent
response ``Y ~ Bernoulli(p)`` and then a CDAI trajectory consistent with it: responders
improve steadily (35%, 60% and 80% of their week-24 improvement at weeks 4, 8 and 12) to a
week-24 CDAI at least 72 points below baseline, 80% of them (and all with a baseline CDAI
below 250) below 150; non-responders
fluctuate around baseline and end at most 68 points below it. The derived outcome equals
``truth.latent_response`` for every patient (asserted here). Secondary outcomes: clinical
remission (CDAI < 150, only responders reach it, ~54%), endoscopic response (SES-CD decrease
>= 50%, ~39%) and endoscopic remission (SES-CD <= 2, ~15%), which follow ``Y`` and the arm
(``heal = expit(-1.8 + 2.0 Y + 0.4 IV + N(0, 0.8))`` per patient) but are not part of the
oracle. The truth table also holds each patient's probability under either arm
(``true_probability_mucosal``, ``true_probability_iv_mucosal``) for the treatment options
declared in study.yaml.

Data-generating model (true probability ``p = expit(lp)``)
-----------------------------------------------------------
With ``IV`` = 1 for the ``iv_mucosal`` arm, ``cdai0`` the baseline CDAI, ``ses0`` the
baseline SES-CD and ``lcal = ln(calprotectin µg/g) - ln(1000)``::

    lp =  0.70                                  intercept
        + 0.60 * IV                             arm effect (at SES-CD 12)
        - 0.30 * (cdai0 - 300) / 50             more active disease, less response ...
        - 0.40 * max(cdai0 - 350, 0) / 50       nonlinearity: ... much less above 350
        - 0.35 * lcal
        - 0.60 * prior_bowel_surgery
        - 0.06 * (ses0 - 12)                    extensive ulceration hurts local therapy ...
        + 0.07 * (ses0 - 12) * IV               interaction: ... unless cells are also given IV

Coefficients are in :data:`COEFFICIENTS`; :func:`true_design` builds the terms from the
recorded values and :func:`true_linear_predictor` evaluates the model, so a logistic fit of
``latent_response`` on ``true_design`` of a large draw recovers them. Week-24 CR-70 ~64%
(mucosal ~57%, IV + mucosal ~71%).

Marginals: age median ~40, disease duration median ~12 y, current smokers ~30%, prior
biologic failures 2/3/4/5 = 35/35/20/10%, prior bowel resection ~45%, perianal disease ~40%,
location L1/L2/L3 = 20/30/50%, behaviour B1/B2/B3 = 45/35/20%, CRP lognormal(2.58, 1.19)
and calprotectin lognormal(6.92, 1.20) (shared/clinical-indices.md §6), albumin ~40 g/L
lower with higher CRP, haemoglobin ~12.6 g/dL, CDAI ~300 ± 55 within 220–450. CRP and
calprotectin fall along the CDAI trajectory in responders. AEs: Poisson per visit interval
(more after the infusion), any serious AE ~10%.

Missingness (applied last, so :func:`simulate_complete` returns the same draw unmasked):
baseline CRP 3% and albumin 5% MCAR, haemoglobin 3% MCAR, smoking 3% MCAR, baseline
calprotectin ~10% MAR (older patients, perianal disease); a whole visit at week 4, 8 or 12
is missed with probability 3% (its measurements ``NaN``; AEs are collected by telephone);
follow-up CRP 4% MCAR, follow-up calprotectin ~12% MAR (more often missing when that
visit's CDAI is high). Week-0 and week-24 CDAI components and SES-CD items are complete.
Recorded outliers inside plausible ranges: a CRP of 185 mg/L and a calprotectin of
5900 µg/g.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.indices.crohns import cdai_remission, cdai_response, ses_cd_remission, ses_cd_response
from analysis.synthetic._base import (
    DemoCohort,
    as_float_flag,
    clip_round,
    expit,
    mask_mar,
    mask_mcar,
)
from analysis.synthetic.cd_upadacitinib_ius import (
    CDAI_COMPONENTS,
    SES_ITEMS,
    SES_SEGMENTS,
    cdai_at,
    cdai_exact,
    cdai_followup,
    draw_cdai_baseline,
    draw_ses_baseline,
    ses_cd_at,
    ses_columns,
    ses_followup,
    ses_frame,
    ses_total,
)

NAME = "cd-msc"
DEFAULT_N = 40
DEFAULT_SEED = 20250410
ARMS = ("mucosal", "iv_mucosal")
WEEKS = (0, 4, 8, 12, 24)
ENDOSCOPY_WEEKS = (0, 12, 24)
#: Share of the week-24 improvement reached at each visit by a responder.
PROGRESS = {0: 0.0, 4: 0.35, 8: 0.60, 12: 0.80, 24: 1.0}

COEFFICIENTS = {
    "intercept": 0.70,
    "iv_mucosal": 0.60,
    "cdai_w0_per_50": -0.30,
    "cdai_w0_above_350_per_50": -0.40,
    "log_calprotectin": -0.35,
    "prior_bowel_surgery": -0.60,
    "ses_cd_w0_minus_12": -0.06,
    "ses_cd_w0_minus_12:iv_mucosal": 0.07,
}


def _baseline_scores(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "cdai_w0" in df:
        cdai0 = df["cdai_w0"].to_numpy(float)
    else:
        comp = {k: df[f"cdai_{k}_w0"].to_numpy(float) for k in CDAI_COMPONENTS}
        comp["hematocrit"] = df["hematocrit_w0"].to_numpy(float)
        cdai0 = cdai_exact(comp, df["sex"].to_numpy(), df["height_cm"], df["weight_kg"])
    if "ses_cd_w0" in df:
        ses0 = df["ses_cd_w0"].to_numpy(float)
    else:
        ses0 = ses_total(df[ses_columns(0)].to_numpy(float).reshape(len(df), 4, 5))
    return cdai0, ses0


def true_design(df: pd.DataFrame, arm: str | None = None) -> pd.DataFrame:
    """The true model's terms for each patient (optionally forcing an arm).

    ``df`` needs ``arm, calprotectin_ug_g, prior_bowel_surgery`` and the week-0 CDAI
    components and SES-CD items (or ``cdai_w0`` and ``ses_cd_w0``) with no missing values
    (the truth uses the unmasked values: see :func:`simulate_complete`).
    """
    arms = df["arm"] if arm is None else pd.Series(arm, index=df.index)
    iv = (arms == "iv_mucosal").to_numpy(float)
    cdai0, ses0 = _baseline_scores(df)
    terms = {
        "intercept": np.ones(len(df)),
        "iv_mucosal": iv,
        "cdai_w0_per_50": (cdai0 - 300.0) / 50.0,
        "cdai_w0_above_350_per_50": np.maximum(cdai0 - 350.0, 0.0) / 50.0,
        "log_calprotectin": np.log(df["calprotectin_ug_g"].to_numpy(float)) - np.log(1000.0),
        "prior_bowel_surgery": df["prior_bowel_surgery"].to_numpy(float),
        "ses_cd_w0_minus_12": ses0 - 12.0,
        "ses_cd_w0_minus_12:iv_mucosal": (ses0 - 12.0) * iv,
    }
    return pd.DataFrame(terms, index=df.index)


def true_linear_predictor(df: pd.DataFrame, arm: str | None = None) -> np.ndarray:
    """``lp`` of the documented model; ``expit(lp)`` is the true response probability."""
    design = true_design(df, arm)
    return design.to_numpy() @ np.array([COEFFICIENTS[c] for c in design.columns])


def _baseline(rng: np.random.Generator, n: int) -> pd.DataFrame:
    arm = rng.permutation(np.resize(np.array(ARMS), n))
    sex = np.where(rng.random(n) < 0.50, "female", "male")
    female = sex == "female"
    age = clip_round(18 + rng.gamma(3.5, 7.0, n), 18, 80)
    height = clip_round(np.where(female, rng.normal(165, 6.5, n), rng.normal(178, 7, n)), 145, 200)
    bmi_true = np.clip(rng.lognormal(np.log(22.0), 0.18, n), 15.0, 38)
    weight = clip_round(bmi_true * (height / 100) ** 2, 36, 150, 1)
    u = rng.random(n)
    smoking = np.where(u < 0.30, "current", np.where(u < 0.52, "former", "never"))
    duration = clip_round(rng.lognormal(np.log(12.0), 0.7, n), 1.0, 55, 1)
    location = rng.choice(["L1", "L2", "L3"], n, p=[0.20, 0.30, 0.50])
    behaviour = rng.choice(["B1", "B2", "B3"], n, p=[0.45, 0.35, 0.20])
    perianal = (rng.random(n) < np.where(location == "L1", 0.25, 0.45)).astype(float)
    failures = rng.choice([2.0, 3.0, 4.0, 5.0], n, p=[0.35, 0.35, 0.20, 0.10])
    surgery = (rng.random(n) < 0.30 + 0.25 * (behaviour != "B1")).astype(float)
    steroids = (rng.random(n) < 0.45).astype(float)
    corr = [
        [1.0, 0.45, -0.5, 0.30],
        [0.45, 1.0, -0.25, 0.25],
        [-0.5, -0.25, 1.0, -0.15],
        [0.30, 0.25, -0.15, 1.0],
    ]
    z = rng.multivariate_normal(np.zeros(4), corr, size=n)
    crp = clip_round(np.exp(2.58 + 1.19 * z[:, 0]), 0.2, 250, 1)
    calpro = clip_round(np.exp(6.92 + 1.20 * z[:, 1]), 20, 6000)
    albumin = clip_round(40.0 + 4.0 * z[:, 2] - 1.0 * (np.log(crp) - 2.58), 22, 52)
    hb = clip_round(np.where(female, 12.2, 13.4) + 1.1 * rng.standard_normal(n) + 0.15 * (albumin - 40), 7.5, 17.5, 1)
    # recorded outliers inside the plausible range
    if n >= 2:
        picks = rng.choice(n, size=2, replace=False)
        crp[picks[0]] = 185.0
        calpro[picks[1]] = 5900.0
    frame = pd.DataFrame({
        "arm": arm, "age": age, "sex": sex, "height_cm": height, "weight_kg": weight,
        "smoking": smoking, "disease_duration_years": duration, "location": location,
        "behaviour": behaviour, "perianal": perianal, "prior_biologic_failures": failures,
        "prior_bowel_surgery": surgery, "corticosteroids": steroids, "crp_mg_l": crp,
        "calprotectin_ug_g": calpro, "albumin_g_l": albumin, "hemoglobin_g_dl": hb,
    })
    w0 = draw_cdai_baseline(rng, sex, height, weight, hb, z[:, 3])
    for k in CDAI_COMPONENTS:
        frame[f"cdai_{k}_w0"] = w0[k]
    frame["hematocrit_w0"] = w0["hematocrit"]
    ses0 = draw_ses_baseline(rng, location, behaviour, 0.5 * z[:, 3] + 0.85 * rng.standard_normal(n) + 0.2)
    return pd.concat([frame, ses_frame(ses0, 0)], axis=1)


def _ses_between(rng: np.random.Generator, start: np.ndarray, end: np.ndarray, share: float) -> np.ndarray:
    """Items part of the way from ``start`` to ``end`` (each point of change kept with ``share``)."""
    a, b = np.nan_to_num(start), np.nan_to_num(end)
    diff = (b - a).astype(int)
    moved = np.sign(diff) * rng.binomial(np.abs(diff), share)
    out = a + moved
    size, ulcerated, affected = out[:, 0, :], out[:, 1, :], out[:, 2, :]
    out[:, 0, :] = np.where(ulcerated == 0, 0.0, np.where(size == 0, 1.0, size))
    out[:, 2, :] = np.maximum(affected, ulcerated)
    out[np.isnan(start)] = np.nan
    return out


def _draw(n: int, seed: int, complete: bool) -> DemoCohort:
    rng = np.random.default_rng(seed)
    base = _baseline(rng, n)
    p = expit(true_linear_predictor(base))
    p_options = {a: expit(true_linear_predictor(base, a)) for a in ARMS}
    y = (rng.random(n) < p).astype(int)
    resp = y == 1
    iv = (base["arm"] == "iv_mucosal").to_numpy()

    # CDAI trajectory: week 24 first (consistent with Y), then the visits in between
    sex, height = base["sex"].to_numpy(), base["height_cm"].to_numpy(float)
    weight0 = base["weight_kg"].to_numpy(float)
    w0 = {k: base[f"cdai_{k}_w0"].to_numpy(float) for k in CDAI_COMPONENTS}
    w0["hematocrit"] = base["hematocrit_w0"].to_numpy(float)
    cdai0 = cdai_exact(w0, sex, height, weight0)
    remit = resp & ((rng.random(n) < 0.80) | (cdai0 < 250))
    target = np.where(remit, rng.uniform(60, 145, n),
                      np.where(resp, cdai0 - rng.uniform(80, 140, n), cdai0 - rng.uniform(-50, 60, n)))
    lo = np.where(resp, np.where(remit, -np.inf, 152.0), cdai0 - 68.0)
    hi = np.where(resp, np.where(remit, np.minimum(148.0, cdai0 - 72.0), cdai0 - 72.0), np.inf)
    improve24 = np.where(resp, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.3, n))
    weight_gain = np.where(resp, rng.normal(2.0, 1.5, n), rng.normal(-0.5, 1.5, n))
    comps: dict[int, dict] = {0: {**w0, "weight_kg": weight0}}
    weight24 = clip_round(weight0 + weight_gain, 36, 150, 1)
    w24, _ = cdai_followup(rng, w0, sex, height, weight24, improve24, target, lo=lo, hi=hi)
    cdai24 = cdai_exact(w24, sex, height, weight24)
    comps[24] = {**w24, "weight_kg": weight24}
    assert np.array_equal(np.asarray(cdai_response(cdai0, cdai24), bool), resp)
    assert not np.asarray(cdai_remission(cdai24), bool)[~resp].any()
    for week in (4, 8, 12):
        g = PROGRESS[week]
        weight_t = clip_round(weight0 + g * weight_gain + rng.normal(0, 0.8, n), 36, 150, 1)
        target_t = cdai0 - g * (cdai0 - cdai24) + rng.normal(0, 20, n)
        comp_t, _ = cdai_followup(rng, w0, sex, height, weight_t, g * improve24, target_t)
        comps[week] = {**comp_t, "weight_kg": weight_t}

    # endoscopy at weeks 12 and 24: healing follows the response and the arm
    ses = {0: base[ses_columns(0)].to_numpy(float).reshape(n, 4, 5)}
    heal = expit(-1.8 + 2.0 * resp + 0.4 * iv + rng.normal(0, 0.8, n))
    ses[24] = ses_followup(rng, ses[0], heal)
    ses[12] = _ses_between(rng, ses[0], ses[24], 0.7)

    # laboratory values along the trajectory
    lcrp0 = np.log(base["crp_mg_l"].to_numpy(float))
    lcal0 = np.log(base["calprotectin_ug_g"].to_numpy(float))
    fall = np.where(resp, rng.uniform(0.6, 1.4, n), rng.uniform(-0.2, 0.4, n))
    labs = {0: (base["crp_mg_l"].to_numpy(float), base["calprotectin_ug_g"].to_numpy(float))}
    for week in WEEKS[1:]:
        g = PROGRESS[week]
        labs[week] = (clip_round(np.exp(lcrp0 - g * fall + rng.normal(0, 0.35, n)), 0.2, 250, 1),
                      clip_round(np.exp(lcal0 - 1.2 * g * fall + rng.normal(0, 0.4, n)), 20, 6000))

    # adverse events since the previous visit (week 0: the day of administration)
    ae_rate = {0: (0.10, 0.25), 4: (0.45, 0.60), 8: (0.30, 0.35), 12: (0.30, 0.35), 24: (0.60, 0.70)}
    sae_p = {0: 0.01, 4: 0.015, 8: 0.015, 12: 0.015, 24: 0.03}
    ae = {w: rng.poisson(np.where(iv, ae_rate[w][1], ae_rate[w][0])).astype(float) for w in WEEKS}
    sae = {w: (rng.random(n) < sae_p[w] + 0.01 * iv).astype(float) for w in WEEKS}

    width = 4 if n < 10000 else 6
    ids = [f"MSC-{i + 1:0{width}d}" for i in range(n)]
    truth = pd.DataFrame({
        "patient_id": ids,
        "true_probability": np.round(p, 6),
        **{f"true_probability_{a}": np.round(v, 6) for a, v in p_options.items()},
        "latent_response": y,
    })

    # missingness, drawn last so that simulate_complete() is the same draw unmasked
    raw = base.copy()
    missed = {w: np.zeros(n, bool) for w in WEEKS}
    if not complete:
        raw["crp_mg_l"] = mask_mcar(rng, raw["crp_mg_l"], 0.03)
        raw["albumin_g_l"] = mask_mcar(rng, raw["albumin_g_l"], 0.05)
        raw["hemoglobin_g_dl"] = mask_mcar(rng, raw["hemoglobin_g_dl"], 0.03)
        driver = raw["age"].to_numpy(float) + 15.0 * raw["perianal"].to_numpy(float)
        raw["calprotectin_ug_g"] = mask_mar(rng, raw["calprotectin_ug_g"], driver, 0.10)
        raw["smoking"] = raw["smoking"].where(~(rng.random(n) < 0.03), None)
        labs[0] = (raw["crp_mg_l"].to_numpy(float), raw["calprotectin_ug_g"].to_numpy(float))
        for week in (4, 8, 12):
            missed[week] = rng.random(n) < 0.03
        for week in WEEKS[1:]:
            cdai_t = cdai_exact(comps[week], sex, height, comps[week]["weight_kg"])
            crp = mask_mcar(rng, pd.Series(labs[week][0]), 0.04).to_numpy()
            cal = mask_mar(rng, pd.Series(labs[week][1]), cdai_t, 0.12).to_numpy()
            labs[week] = (np.where(missed[week], np.nan, crp), np.where(missed[week], np.nan, cal))
            comps[week] = {k: np.where(missed[week], np.nan, v) for k, v in comps[week].items()}
        ses[12] = np.where(missed[12][:, None, None], np.nan, ses[12])

    cohort = pd.concat([pd.Series(ids, name="patient_id"), raw], axis=1)
    for k in CDAI_COMPONENTS:
        cohort[f"cdai_{k}_w24"] = comps[24][k]
    cohort["hematocrit_w24"] = comps[24]["hematocrit"]
    cohort["weight_kg_w24"] = comps[24]["weight_kg"]
    cohort = pd.concat([cohort, ses_frame(ses[24], 24)], axis=1)
    cohort["ae_count_total"] = sum(ae[w] for w in WEEKS)
    cohort["sae_any"] = np.maximum.reduce([sae[w] for w in WEEKS])

    item_names = [f"ses_{item}_{seg}" for item in SES_ITEMS for seg in SES_SEGMENTS]
    rows = []
    for week in WEEKS:
        frame = pd.DataFrame({"patient_id": ids, "week": float(week)})
        for k in CDAI_COMPONENTS:
            frame[f"cdai_{k}"] = comps[week][k]
        frame["hematocrit"] = comps[week]["hematocrit"]
        frame["weight_kg"] = comps[week]["weight_kg"]
        frame["crp_mg_l"], frame["calprotectin_ug_g"] = labs[week]
        items = ses[week].reshape(n, -1) if week in ENDOSCOPY_WEEKS else np.full((n, 20), np.nan)
        frame = pd.concat([frame, pd.DataFrame(items, columns=item_names)], axis=1)
        frame["ae_count"] = ae[week]
        frame["sae"] = sae[week]
        rows.append(frame)
    visits = pd.concat(rows).sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)

    # the secondary outcomes are computable for every patient
    s0, s24 = ses_total(ses[0]), ses_total(ses[24])
    assert not pd.isna(pd.Series(ses_cd_response(s0, s24))).any()
    _ = ses_cd_remission(s24)
    return DemoCohort(tables={"cohort.csv": cohort, "visits.csv": visits}, truth=truth)


def derived_outcomes(df: pd.DataFrame) -> pd.DataFrame:
    """The study.yaml outcome rules evaluated directly (used in tests as a cross-check)."""
    cdai0, cdai24 = cdai_at(df, 0, "weight_kg"), cdai_at(df, 24, "weight_kg_w24")
    ses0, ses24 = ses_cd_at(df, 0), ses_cd_at(df, 24)
    return pd.DataFrame({
        "cdai_response_w24": as_float_flag(cdai_response(cdai0, cdai24)),
        "cdai_remission_w24": as_float_flag(cdai_remission(cdai24)),
        "endoscopic_response_w24": as_float_flag(ses_cd_response(ses0, ses24)),
        "endoscopic_remission_w24": as_float_flag(ses_cd_remission(ses24)),
    }, index=df.index)


def simulate(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> DemoCohort:
    """Draw ``n`` patients from the documented model (deterministic for a seed).

    Examples
    --------
    >>> cohort = simulate(20, seed=1)
    >>> sorted(cohort.tables)
    ['cohort.csv', 'visits.csv']
    >>> cohort.truth["patient_id"].iloc[0]
    'MSC-0001'
    """
    return _draw(n, seed, complete=False)


def simulate_complete(n: int = DEFAULT_N, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The cohort table of :func:`simulate` (same patients) *before* masking.

    Every value equals the one :func:`simulate` records (the missingness is drawn last)
    and nothing is missing except SES-CD items of unexplored segments. Adds
    ``true_probability`` and ``latent_response``; the input of :func:`true_design` when
    checking the truth.

    Examples
    --------
    >>> df = simulate_complete(30, seed=2)
    >>> bool(df["calprotectin_ug_g"].notna().all()), "latent_response" in df
    (True, True)
    """
    cohort = _draw(n, seed, complete=True)
    table = cohort.tables["cohort.csv"]
    return pd.concat([table, cohort.truth.drop(columns="patient_id")], axis=1)
