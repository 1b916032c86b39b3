"""Demo cohort ``cd-upadacitinib-ius``: Crohn's disease starting upadacitinib, followed by ultrasound.

Design
------
Prospective single-centre cohort of adults aged 18-80 without prior abdominal surgery (the
seed's eligibility criteria) with moderately to severely active Crohn's
disease (CDAI 220–450 and SES-CD >= 6, or >= 4 for isolated ileal disease, as in
U-EXCEL/U-EXCEED) starting upadacitinib 45 mg induction. Intestinal ultrasound (IUS) of the
most affected bowel segment at weeks 0, 4 and 12: bowel wall thickness (BWT, mm), colour
Doppler signal (CDS 0–3), inflammatory fat (i-fat 0–2), bowel wall stratification (BWS 0–3)
and contrast-enhanced ultrasound (CEUS, SonoVue: peak enhancement in dB, time to peak in s,
area under the time–intensity curve in dB·s). Ileocolonoscopy with SES-CD items (4 items ×
5 segments, ``NaN`` for a segment the scope did not reach) at weeks 0 and 12; CDAI
components at weeks 0 and 12; CRP and faecal calprotectin at every visit.

Tables: ``cohort.csv`` (one row per patient: baseline, week-4 IUS, week-12 BWT/CDS/i-fat/BWS,
CDAI components and SES-CD items at weeks 0 and 12) and ``visits.csv`` (long format, one
row per patient and visit at weeks 0, 4, 12: IUS and CEUS parameters, CRP, calprotectin;
its values are the same measurements as the wide table's).

Outcome
-------
Clinical remission at week 12, CDAI < 150, *derived in study.yaml from the raw week-12
CDAI components*. The generator draws the latent remission ``Y ~ Bernoulli(p)`` and then
week-12 components consistent with it (remitters CDAI <= 148, others >= 152), so the derived
outcome equals ``truth.latent_response`` for every patient (asserted here).
Secondary outcomes: clinical response CR-100 (CDAI decrease >= 100, the U-EXCEL/U-EXCEED
definition, ~54%), IUS response (BWT decrease >= 25% at week 12, STARDUST, ~42%) and
endoscopic response (SES-CD decrease >= 50%, ~38%; items heal by
``Binomial(item, heal)`` with ``heal = expit(-1.1 + 1.6 Y + 4 (-r12 - 0.2) + N(0, 0.7))``,
``r12`` the relative week-12 BWT change); they follow ``Y`` and the ultrasound trajectory
but are not part of the oracle. ``derived_outcomes`` evaluates the four rules directly.

Data-generating model (true probability ``p = expit(lp)``)
-----------------------------------------------------------
With ``bwt0``/``bwt4`` the recorded BWT (mm) at weeks 0 and 4,
``dBWT4 = 10 * (bwt0 - bwt4) / bwt0`` (early BWT decrease in units of 10%),
``dCDS4 = cds0 - cds4`` (early drop in Doppler grade, -1..3),
``lcrp = ln(CRP mg/L) - ln(10)``, ``F`` = number of prior biologic failures (0–4) and
``cdai0`` the baseline CDAI::

    lp = -0.35                                 intercept
        + 0.40 * dBWT4                         early transmural response (per 10% decrease)
        + 0.45 * dCDS4                         early Doppler response (per grade)
        - 0.15 * (bwt0 - 6)                    thicker wall, less remission ...
        - 0.40 * max(bwt0 - 8, 0)              nonlinearity: ... and much less beyond 8 mm
        - 0.25 * lcrp
        - 0.30 * F                             prior biologic failures
        - 0.15 * F * lcrp                      interaction: high CRP hurts more after failures
        - 0.40 * current_smoker
        - 0.20 * (cdai0 - 300) / 50

Coefficients are in :data:`COEFFICIENTS`; :func:`true_design` builds the terms from the
recorded (rounded) values and :func:`true_linear_predictor` evaluates the model, so a
logistic fit of ``latent_response`` on ``true_design`` of a large draw recovers them.
The early change is generated from baseline first: the relative BWT change at week 4 is
``r4 ~ N(-0.13 + 0.03 (F - 1.5), 0.11)`` (clipped to -50%..+25%) and the CDS drop follows
it, ``round(-6 r4 - 0.2 + N(0, 0.7))`` clipped to -1..3 and to the 0–3 scale;
the week-12 BWT change continues it (remitters a further ``N(-0.16, 0.09)``, others
``N(-0.02, 0.09)``).

Marginals follow shared/clinical-indices.md §6: CRP lognormal(2.58, 1.19), calprotectin
lognormal(6.92, 1.20), albumin ~41 g/L lower with higher CRP, haemoglobin ~12.8 g/dL,
BMI ~23, disease duration median ~8 y (moderate–severe trial populations), current
smokers ~25%, prior biologic failures 0/1/2/3/4 = 30/25/22/15/8%, location L1/L2/L3 =
25/30/45%, behaviour B1/B2/B3 = 55/30/15%, perianal disease ~25% (more in L2/L3), baseline
BWT lognormal around 6 mm (correlated 0.35 with log CRP), CDAI ~300 ± 55 within 220–450,
week-12 CDAI remission ~44% (U-EXCEL 49.5% / U-EXCEED 38.9%).

Missingness (applied last, so :func:`simulate_complete` returns the same draw unmasked):
CRP 3% and albumin 5% MCAR, haemoglobin 3% MCAR, smoking 3% MCAR, calprotectin ~12% MAR
(older patients and ileal disease), CEUS ~10% MAR per visit (older patients: contrast
skipped), the whole week-4 IUS examination 3% MCAR and the week-12 one 2% MCAR (missed
visit), follow-up CRP 4% MCAR and follow-up calprotectin ~15% MAR (non-remitters return
fewer stool samples). CDAI components and SES-CD items are complete (unexplored segments
are ``NaN`` by design). Recorded outliers inside plausible ranges: a BWT of 12.4 mm, a
calprotectin of 5800 µg/g and an albumin of 24 g/L.

Shared helpers
--------------
The CDAI and SES-CD construction helpers here (:func:`draw_cdai_baseline`,
:func:`cdai_followup`, :func:`draw_ses_baseline`, :func:`ses_followup`, :func:`ses_columns`)
are reused by :mod:`analysis.synthetic.cd_msc`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.indices.crohns import (
    CDAI_HCT_STANDARD,
    cdai,
    cdai_remission,
    cdai_response,
    ius_remission,
    ius_response,
    ses_cd,
    ses_cd_response,
)
from analysis.synthetic._base import (
    DemoCohort,
    as_float_flag,
    clip_round,
    expit,
    mask_mar,
    mask_mcar,
)

NAME = "cd-upadacitinib-ius"
DEFAULT_N = 120
DEFAULT_SEED = 20250312
WEEKS = (0, 4, 12)

COEFFICIENTS = {
    "intercept": -0.35,
    "bwt_decrease_w4_per_10pct": 0.40,
    "cds_decrease_w4": 0.45,
    "bwt_w0_minus_6": -0.15,
    "bwt_w0_above_8": -0.40,
    "log_crp": -0.25,
    "prior_biologic_failures": -0.30,
    "prior_biologic_failures:log_crp": -0.15,
    "current_smoker": -0.40,
    "cdai_w0_per_50": -0.20,
}

CDAI_COMPONENTS = ("stools", "pain", "wellbeing", "complications", "antidiarrheal", "mass")
SES_SEGMENTS = ("ileum", "right", "transverse", "left", "rectum")
SES_ITEMS = ("ulcer_size", "ulcerated", "affected", "narrowing")
IUS_PARAMETERS = ("bwt_mm", "cds", "i_fat", "bws", "ceus_peak_db", "ceus_ttp_s", "ceus_auc")


# ----------------------------------------------------------------------------- the truth
def _baseline_cdai(df: pd.DataFrame) -> np.ndarray:
    if "cdai_w0" in df:
        return df["cdai_w0"].to_numpy(float)
    return np.asarray(cdai(*(df[f"cdai_{k}_w0"] for k in CDAI_COMPONENTS), df["hematocrit_w0"],
                           df["sex"], df["height_cm"], df["weight_kg"]), float)


def true_design(df: pd.DataFrame) -> pd.DataFrame:
    """The true model's terms for each patient.

    ``df`` needs ``bwt_mm_w0, bwt_mm_w4, cds_w0, cds_w4, crp_mg_l, prior_biologic_failures,
    smoking`` and the week-0 CDAI components (or ``cdai_w0``) with no missing values (the
    truth uses the unmasked values: see :func:`simulate_complete`).
    """
    bwt0 = df["bwt_mm_w0"].to_numpy(float)
    bwt4 = df["bwt_mm_w4"].to_numpy(float)
    lcrp = np.log(df["crp_mg_l"].to_numpy(float)) - np.log(10.0)
    failures = df["prior_biologic_failures"].to_numpy(float)
    terms = {
        "intercept": np.ones(len(df)),
        "bwt_decrease_w4_per_10pct": 10.0 * (bwt0 - bwt4) / bwt0,
        "cds_decrease_w4": df["cds_w0"].to_numpy(float) - df["cds_w4"].to_numpy(float),
        "bwt_w0_minus_6": bwt0 - 6.0,
        "bwt_w0_above_8": np.maximum(bwt0 - 8.0, 0.0),
        "log_crp": lcrp,
        "prior_biologic_failures": failures,
        "prior_biologic_failures:log_crp": failures * lcrp,
        "current_smoker": (df["smoking"] == "current").to_numpy(float),
        "cdai_w0_per_50": (_baseline_cdai(df) - 300.0) / 50.0,
    }
    return pd.DataFrame(terms, index=df.index)


def true_linear_predictor(df: pd.DataFrame) -> np.ndarray:
    """``lp`` of the documented model; ``expit(lp)`` is the true remission probability."""
    design = true_design(df)
    return design.to_numpy() @ np.array([COEFFICIENTS[c] for c in design.columns])


# ------------------------------------------------------------------- CDAI construction
def _hematocrit_standard(male: np.ndarray) -> np.ndarray:
    """The CDAI's standard haematocrit of each patient (men 47, women 42)."""
    return np.where(male, CDAI_HCT_STANDARD["M"], CDAI_HCT_STANDARD["F"])


def cdai_fast(comp: dict, male: np.ndarray, height, weight) -> np.ndarray:
    """Vectorised CDAI with the defaults of :func:`analysis.indices.crohns.cdai`.

    Used inside the search loops (the index function validates every call and codes sex
    row by row); the final values are always checked with the index function itself.
    """
    hct_std = _hematocrit_standard(male)
    std_weight = (np.asarray(height, float) / 100.0) ** 2 * np.where(male, 22.1, 20.8)
    weight_term = np.maximum(100.0 * (1.0 - np.asarray(weight, float) / std_weight), -10.0)
    return (2 * comp["stools"] + 5 * comp["pain"] + 7 * comp["wellbeing"]
            + 20 * comp["complications"] + 30 * comp["antidiarrheal"] + 10 * comp["mass"]
            + 6 * (hct_std - comp["hematocrit"]) + weight_term)


def cdai_exact(comp: dict, sex, height, weight) -> np.ndarray:
    """CDAI by the index function the study.yaml derivation uses."""
    return np.asarray(cdai(comp["stools"], comp["pain"], comp["wellbeing"], comp["complications"],
                           comp["antidiarrheal"], comp["mass"], comp["hematocrit"],
                           np.asarray(sex, dtype=object), height, weight), float)


def draw_cdai_baseline(rng: np.random.Generator, sex, height, weight, hemoglobin, activity,
                       lo: float = 220.0, hi: float = 450.0) -> dict:
    """Week-0 CDAI components of patients eligible with ``lo <= CDAI <= hi``.

    Symptoms rise with the latent ``activity`` (standard normal); patients outside the
    eligibility window are redrawn (screen failures), so the result stays deterministic.
    """
    n = len(sex)
    male = np.asarray(sex) == "male"
    comp = {
        "hematocrit": clip_round(np.asarray(hemoglobin, float) * 2.95 + rng.normal(0, 1.2, n), 22, 55, 1),
    }
    todo = np.arange(n)
    for _ in range(200):
        m = len(todo)
        act = np.asarray(activity, float)[todo]
        draw = {
            "stools": clip_round(rng.gamma(4.0, 7.0, m) * np.exp(0.2 * act), 0, 140),
            "pain": clip_round(rng.normal(11.5, 3.5, m) + 1.2 * act, 0, 21),
            "wellbeing": clip_round(rng.normal(14.5, 4.5, m) + 1.2 * act, 0, 28),
            "complications": rng.binomial(6, 0.14, m).astype(float),
            "antidiarrheal": (rng.random(m) < 0.25).astype(float),
            "mass": rng.choice([0.0, 2.0, 5.0], m, p=[0.6, 0.25, 0.15]),
        }
        for k, v in draw.items():
            comp.setdefault(k, np.zeros(n))[todo] = v
        value = cdai_fast(comp, male, height, weight)
        todo = np.flatnonzero((value < lo + 1) | (value > hi - 1))
        if len(todo) == 0:
            break
    else:  # pragma: no cover - a redraw lands in the window with high probability
        raise RuntimeError("could not draw eligible baseline CDAI components")
    return comp


def cdai_followup(rng: np.random.Generator, w0: dict, sex, height, weight, improve, target,
                  lo=None, hi=None) -> tuple[dict, np.ndarray]:
    """Follow-up CDAI components close to ``target`` and inside ``[lo, hi]``.

    The fixed components (complications, antidiarrhoeal use, abdominal mass, haematocrit)
    improve with probability ``improve`` (0–1); stools, pain and well-being are the
    baseline sums scaled by a common factor 0–1.6 chosen on a grid so that the CDAI is as
    close to ``target`` as the bounds allow. Rows whose bounds cannot be met with the drawn
    fixed components are retried with all of them resolved (when an upper bound applies)
    or back at baseline (lower bound only), and, under an upper bound, finally with the
    haematocrit recovered to the sex's standard. Returns the components and the CDAI.
    """
    n = len(sex)
    male = np.asarray(sex) == "male"
    improve = np.asarray(improve, float)
    lo = np.full(n, -np.inf) if lo is None else np.broadcast_to(np.asarray(lo, float), (n,))
    hi = np.full(n, np.inf) if hi is None else np.broadcast_to(np.asarray(hi, float), (n,))
    fixed = {
        "complications": (w0["complications"] - rng.binomial(w0["complications"].astype(int), 0.8 * improve)).astype(float),
        "antidiarrheal": np.where(rng.random(n) < 0.8 * improve, 0.0, w0["antidiarrheal"]),
        "mass": np.where(rng.random(n) < 0.8 * improve, 0.0, w0["mass"]),
        "hematocrit": clip_round(w0["hematocrit"] + 2.0 * improve + rng.normal(0, 1.0, n), 22, 55, 1),
    }
    fallback = {
        "complications": np.where(np.isfinite(hi), 0.0, w0["complications"]),
        "antidiarrheal": np.where(np.isfinite(hi), 0.0, w0["antidiarrheal"]),
        "mass": np.where(np.isfinite(hi), 0.0, w0["mass"]),
        "hematocrit": np.where(np.isfinite(hi), np.maximum(fixed["hematocrit"], w0["hematocrit"]), w0["hematocrit"]),
    }
    # last resort under an upper bound: a severely anaemic patient in remission (baseline
    # haematocrit near 24%) can stay above the bound on the haematocrit term alone, so the
    # haematocrit recovers to the sex's standard; then only the weight term (< 60) remains
    last_resort = dict(fallback, hematocrit=np.where(
        np.isfinite(hi), np.maximum(fallback["hematocrit"], _hematocrit_standard(male)),
        fallback["hematocrit"]))
    grid = np.round(np.arange(0.0, 1.61, 0.02), 2)
    chosen: dict = {}
    value = np.full(n, np.nan)
    for attempt in (fixed, fallback, last_resort):
        rows = np.isnan(value)
        best = np.full(n, np.inf)
        for f in grid:
            comp = {
                "stools": clip_round(w0["stools"] * f, 0, 140),
                "pain": clip_round(w0["pain"] * f, 0, 21),
                "wellbeing": clip_round(w0["wellbeing"] * f, 0, 28),
                **attempt,
            }
            v = cdai_fast(comp, male, height, weight)
            distance = np.abs(v - target)
            better = rows & (v >= lo) & (v <= hi) & (distance < best)
            best = np.where(better, distance, best)
            value = np.where(better, v, value)
            for k, c in comp.items():
                chosen[k] = np.where(better, c, chosen.get(k, np.zeros(n)))
        if not np.isnan(value).any():
            break
    if np.isnan(value).any():  # pragma: no cover - the last resort always reaches both sides
        raise RuntimeError("could not construct follow-up CDAI components inside the bounds")
    return chosen, value


# ------------------------------------------------------------------ SES-CD construction
def ses_columns(week: int) -> list[str]:
    """Raw SES-CD item columns of one visit, item-major: ``ses_<item>_<segment>_w<week>``."""
    return [f"ses_{item}_{seg}_w{week}" for item in SES_ITEMS for seg in SES_SEGMENTS]


def ses_frame(items: np.ndarray, week: int, index=None) -> pd.DataFrame:
    """An ``(n, 4, 5)`` item cube as raw columns (see :func:`ses_columns`)."""
    return pd.DataFrame(items.reshape(len(items), -1), columns=ses_columns(week), index=index)


def ses_total(items: np.ndarray) -> np.ndarray:
    """SES-CD over explored segments (unexplored segments are all-NaN) of an item cube."""
    return np.nansum(items, axis=(1, 2))


def _ses_draw(rng, location, behaviour, severity) -> np.ndarray:
    n = len(location)
    loc = np.asarray(location)
    involved = np.zeros((n, 5), bool)
    colon_p = np.where(loc == "L2", 0.6, np.where(loc == "L3", 0.45, 0.04))[:, None]
    involved[:, 1:] = rng.random((n, 4)) < colon_p * np.array([1.0, 0.95, 1.0, 0.8])
    involved[:, 0] = loc != "L2"
    none = (loc == "L2") & ~involved[:, 1:].any(axis=1)
    pick = rng.integers(1, 5, n)
    involved[none, pick[none]] = True
    s = np.asarray(severity, float)[:, None] + rng.normal(0, 0.6, (n, 5))
    affected = np.where(involved, np.clip(np.round(1.9 + 0.8 * s), 1, 3), 0.0)
    ulcerated = np.where(involved, np.clip(np.round(1.4 + 0.9 * s + rng.normal(0, 0.4, (n, 5))), 0, 3), 0.0)
    ulcerated = np.minimum(ulcerated, affected)
    size = np.where(ulcerated > 0, np.clip(np.round(1.5 + 0.8 * s + rng.normal(0, 0.5, (n, 5))), 1, 3), 0.0)
    beh = np.asarray(behaviour)
    p_narrow = 0.08 + 0.35 * (beh == "B2") + 0.12 * (beh == "B3")
    narrowed = involved & (rng.random((n, 5)) < p_narrow[:, None])
    narrowing = np.where(narrowed, np.where(rng.random((n, 5)) < 0.3, 2.0, 1.0), 0.0)
    # at most one impassable stricture; the scope cannot reach the segments proximal to it
    impassable = rng.random(n) < 0.12 * (beh == "B2") + 0.04 * (beh == "B3")
    weights = involved * np.array([3.0, 1.0, 1.0, 1.0, 1.0])
    cum = np.cumsum(weights, axis=1)
    u = rng.random(n) * cum[:, -1]
    segment = (cum < u[:, None]).sum(axis=1).clip(0, 4)
    items = np.stack([size, ulcerated, affected, narrowing], axis=1)  # (n, item, segment)
    rows = np.flatnonzero(impassable)
    items[rows, 3, segment[rows]] = 3.0
    proximal = np.arange(5)[None, :] < segment[:, None]
    unexplored = impassable[:, None] & proximal
    # failed ileal intubation (rare when the ileum is the known disease site)
    unexplored[:, 0] |= rng.random(n) < np.where(loc == "L2", 0.15, np.where(loc == "L3", 0.03, 0.0))
    items[np.repeat(unexplored[:, None, :], 4, axis=1)] = np.nan
    return items


def draw_ses_baseline(rng: np.random.Generator, location, behaviour, severity) -> np.ndarray:
    """Baseline SES-CD item cube ``(n, item, segment)`` of eligible patients.

    Segments follow the Montreal location (L1 ileum, L2 colon, L3 both); items rise with
    ``severity`` (standard normal); stricturing behaviour brings narrowing and, in some
    patients, one impassable stricture beyond which segments are unexplored (``NaN``).
    Eligibility (SES-CD >= 6, >= 4 for isolated ileal disease) is met by redrawing screen
    failures with a slightly higher severity.
    """
    loc = np.asarray(location)
    beh = np.asarray(behaviour)
    sev = np.asarray(severity, float).copy()
    items = _ses_draw(rng, loc, beh, sev)
    minimum = np.where(loc == "L1", 4.0, 6.0)
    for _ in range(200):
        todo = np.flatnonzero(ses_total(items) < minimum)
        if len(todo) == 0:
            break
        sev[todo] += 0.25
        items[todo] = _ses_draw(rng, loc[todo], beh[todo], sev[todo])
    else:  # pragma: no cover
        raise RuntimeError("could not draw eligible baseline SES-CD items")
    return items


def ses_followup(rng: np.random.Generator, base: np.ndarray, heal) -> np.ndarray:
    """Follow-up item cube: each ulcer/surface item heals by ``Binomial(item, heal)``.

    ``heal`` (0–1 per patient) is perturbed per segment; poor healers may worsen by one
    grade in involved segments. Narrowing rarely improves and never becomes impassable,
    so the explored segments stay the same. Items stay coherent (no ulcer size without
    ulcerated surface, ulcerated surface not above affected surface).
    """
    n = len(base)
    heal = np.asarray(heal, float)
    h = np.clip(heal[:, None] + rng.normal(0, 0.15, (n, 5)), 0.0, 1.0)
    out = base.copy()
    explored = ~np.isnan(base[:, 0, :])
    b = np.nan_to_num(base)
    for j in range(3):
        item = b[:, j, :].astype(int)
        healed = rng.binomial(item, h)
        worse = (item > 0) & (heal[:, None] < 0.25) & (rng.random((n, 5)) < 0.08)
        out[:, j, :] = np.clip(item - healed + worse, 0, 3)
    narrowing = b[:, 3, :]
    better = (narrowing > 0) & (narrowing < 3) & (rng.random((n, 5)) < 0.15 * h)
    out[:, 3, :] = narrowing - better
    size, ulcerated, affected = out[:, 0, :], out[:, 1, :], out[:, 2, :]
    size = np.where(ulcerated == 0, 0.0, np.where(size == 0, 1.0, size))
    affected = np.maximum(affected, ulcerated)
    out[:, 0, :], out[:, 2, :] = size, affected
    out[np.repeat(~explored[:, None, :], 4, axis=1)] = np.nan
    return out


# -------------------------------------------------------------------------- the draw
def _baseline(rng: np.random.Generator, n: int) -> pd.DataFrame:
    sex = np.where(rng.random(n) < 0.50, "female", "male")
    female = sex == "female"
    age = clip_round(18 + rng.gamma(3.5, 6.5, n), 18, 80)
    height = clip_round(np.where(female, rng.normal(165, 6.5, n), rng.normal(178, 7, n)), 145, 200)
    bmi_true = np.clip(rng.lognormal(np.log(23.0), 0.18, n), 15.5, 40)
    weight = clip_round(bmi_true * (height / 100) ** 2, 38, 150, 1)
    u = rng.random(n)
    smoking = np.where(u < 0.25, "current", np.where(u < 0.45, "former", "never"))
    duration = clip_round(rng.lognormal(np.log(8.0), 0.9, n), 0.3, 50, 1)
    location = rng.choice(["L1", "L2", "L3"], n, p=[0.25, 0.30, 0.45])
    behaviour = rng.choice(["B1", "B2", "B3"], n, p=[0.55, 0.30, 0.15])
    perianal = (rng.random(n) < np.where(location == "L1", 0.12, 0.30)).astype(float)
    failures = rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], n, p=[0.30, 0.25, 0.22, 0.15, 0.08])
    # prior abdominal surgery excludes a patient (the seed's eligibility): the draw is kept so
    # the random stream, and every other value, stays as before, but nobody enrolled has it
    rng.random(n)
    steroids = (rng.random(n) < 0.35).astype(float)
    # correlated inflammatory burden: log CRP, log calprotectin, albumin, log BWT, activity
    corr = [
        [1.0, 0.45, -0.5, 0.35, 0.30],
        [0.45, 1.0, -0.25, 0.30, 0.25],
        [-0.5, -0.25, 1.0, -0.15, -0.15],
        [0.35, 0.30, -0.15, 1.0, 0.25],
        [0.30, 0.25, -0.15, 0.25, 1.0],
    ]
    z = rng.multivariate_normal(np.zeros(5), corr, size=n)
    crp = clip_round(np.exp(2.58 + 1.19 * z[:, 0]), 0.2, 250, 1)
    calpro = clip_round(np.exp(6.92 + 1.20 * z[:, 1]), 20, 6000)
    albumin = clip_round(41.0 + 4.0 * z[:, 2] - 1.0 * (np.log(crp) - 2.58), 22, 52)
    hb = clip_round(np.where(female, 12.4, 13.6) + 1.1 * rng.standard_normal(n) + 0.15 * (albumin - 41), 7.5, 17.5, 1)
    bwt0 = clip_round(np.exp(np.log(6.0) + 0.22 * z[:, 3]), 3.1, 13.0, 1)
    # recorded outliers inside the plausible range
    if n >= 3:
        picks = rng.choice(n, size=3, replace=False)
        bwt0[picks[0]] = 12.4
        calpro[picks[1]] = 5800.0
        albumin[picks[2]] = 24.0
    zb = (np.log(bwt0) - np.log(6.0)) / 0.22
    cds0 = np.digitize(0.7 * zb + 0.71 * rng.standard_normal(n), [-1.4, -0.25, 0.77]).astype(float)
    ifat0 = np.digitize(0.6 * zb + 0.8 * rng.standard_normal(n), [-0.52, 0.67]).astype(float)
    bws0 = np.digitize(0.6 * zb + 0.8 * rng.standard_normal(n), [-0.25, 0.52, 1.28]).astype(float)
    washout = rng.normal(35.0, 6.0, n)
    peak0 = clip_round(18.0 + 2.5 * (cds0 - 1.5) + 2.0 * rng.standard_normal(n), 5, 40, 1)
    ttp0 = clip_round(22.0 - 1.5 * (cds0 - 1.5) + 4.0 * rng.standard_normal(n), 8, 60, 1)
    auc0 = clip_round(peak0 * np.clip(washout + rng.normal(0, 3, n), 15, 60), 100, 3000)
    frame = pd.DataFrame({
        "age": age, "sex": sex, "height_cm": height, "weight_kg": weight, "smoking": smoking,
        "disease_duration_years": duration, "location": location, "behaviour": behaviour,
        "perianal": perianal, "prior_biologic_failures": failures,
        "corticosteroids": steroids, "crp_mg_l": crp, "calprotectin_ug_g": calpro,
        "albumin_g_l": albumin, "hemoglobin_g_dl": hb,
        "bwt_mm_w0": bwt0, "cds_w0": cds0, "i_fat_w0": ifat0, "bws_w0": bws0,
        "ceus_peak_db_w0": peak0, "ceus_ttp_s_w0": ttp0, "ceus_auc_w0": auc0,
    })
    w0 = draw_cdai_baseline(rng, sex, height, weight, hb, z[:, 4])
    for k in CDAI_COMPONENTS:
        frame[f"cdai_{k}_w0"] = w0[k]
    frame["hematocrit_w0"] = w0["hematocrit"]
    ses0 = draw_ses_baseline(rng, location, behaviour, 0.6 * z[:, 4] + 0.8 * rng.standard_normal(n))
    frame = pd.concat([frame, ses_frame(ses0, 0)], axis=1)
    frame.attrs["washout"] = washout
    return frame


def _ius_step(rng, prev: dict, bwt0, rel_change, cds_drop_mean, washout) -> dict:
    """IUS parameters after a relative BWT change from baseline (and a mean CDS drop)."""
    n = len(bwt0)
    bwt = clip_round(bwt0 * (1.0 + rel_change), 1.5, 14.0, 1)
    drop = np.clip(np.round(cds_drop_mean + rng.normal(0, 0.7, n)), -1, 3)
    cds = np.clip(prev["cds"] - drop, 0, 3)
    shrink = (bwt0 - bwt) / bwt0
    ifat = np.clip(prev["i_fat"] - (rng.random(n) < 0.1 + 1.2 * np.clip(shrink, 0, None)), 0, 2)
    bws = np.clip(prev["bws"] - (rng.random(n) < 0.1 + 1.2 * np.clip(shrink, 0, None)), 0, 3)
    peak = clip_round(prev["ceus_peak_db"] - 1.5 * (prev["cds"] - cds) + rng.normal(0, 1.5, n), 5, 40, 1)
    ttp = clip_round(prev["ceus_ttp_s"] + 1.0 * (prev["cds"] - cds) + rng.normal(0, 2.0, n), 8, 60, 1)
    auc = clip_round(peak * np.clip(washout + rng.normal(0, 3, n), 15, 60), 100, 3000)
    return {"bwt_mm": bwt, "cds": cds, "i_fat": ifat, "bws": bws, "ceus_peak_db": peak,
            "ceus_ttp_s": ttp, "ceus_auc": auc}


def _draw(n: int, seed: int, complete: bool) -> DemoCohort:
    rng = np.random.default_rng(seed)
    base = _baseline(rng, n)
    washout = base.attrs.pop("washout")
    ius = {0: {k: base[f"{k}_w0"].to_numpy(float) for k in IUS_PARAMETERS}}
    bwt0 = ius[0]["bwt_mm"]
    failures = base["prior_biologic_failures"].to_numpy(float)
    r4 = np.clip(rng.normal(-0.13 + 0.03 * (failures - 1.5), 0.11), -0.5, 0.25)
    ius[4] = _ius_step(rng, ius[0], bwt0, r4, -6.0 * r4 - 0.2, washout)
    for k in IUS_PARAMETERS:
        base[f"{k}_w4"] = ius[4][k]
    p = expit(true_linear_predictor(base))
    y = (rng.random(n) < p).astype(int)
    rem = y == 1

    # week 12: ultrasound continues the early trajectory, faster in remitters
    r12 = np.clip(r4 + rng.normal(np.where(rem, -0.16, -0.02), 0.09), -0.7, 0.4)
    rel4 = (ius[4]["bwt_mm"] - bwt0) / bwt0
    ius[12] = _ius_step(rng, ius[4], bwt0, r12, np.where(rem, 0.8, 0.2) + 4.0 * (rel4 - r12), washout)

    # week-12 CDAI components consistent with the latent remission
    sex, height = base["sex"].to_numpy(), base["height_cm"].to_numpy(float)
    w0 = {k: base[f"cdai_{k}_w0"].to_numpy(float) for k in CDAI_COMPONENTS}
    w0["hematocrit"] = base["hematocrit_w0"].to_numpy(float)
    cdai0 = cdai_exact(w0, sex, height, base["weight_kg"])
    weight12 = clip_round(base["weight_kg"].to_numpy(float) + np.where(rem, 1.2, -0.3) + rng.normal(0, 1.0, n), 38, 150, 1)
    big_drop = rng.random(n) < 0.25
    target = np.where(rem, rng.uniform(55, 145, n),
                      np.maximum(cdai0 - np.where(big_drop, rng.uniform(100, 180, n), rng.uniform(-40, 90, n)), 160))
    improve = np.where(rem, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.3, n))
    w12, _ = cdai_followup(rng, w0, sex, height, weight12, improve, target,
                           lo=np.where(rem, -np.inf, 152.0), hi=np.where(rem, 148.0, np.inf))
    cdai12 = cdai_exact(w12, sex, height, weight12)
    assert np.array_equal(np.asarray(cdai_remission(cdai12), bool), rem)

    # week-12 endoscopy: healing follows remission and the ultrasound response
    ses0 = base[ses_columns(0)].to_numpy(float).reshape(n, 4, 5)
    heal = expit(-1.1 + 1.6 * rem + 4.0 * (-r12 - 0.2) + rng.normal(0, 0.7, n))
    ses12 = ses_followup(rng, ses0, heal)

    # laboratory values at weeks 4 and 12
    crp0 = base["crp_mg_l"].to_numpy(float)
    cal0 = base["calprotectin_ug_g"].to_numpy(float)
    labs = {0: (crp0, cal0)}
    labs[4] = (clip_round(np.exp(np.log(crp0) - 0.35 + 2.0 * r4 + rng.normal(0, 0.45, n)), 0.2, 250, 1),
               clip_round(np.exp(np.log(cal0) - 0.30 + 2.0 * r4 + rng.normal(0, 0.5, n)), 20, 6000))
    labs[12] = (clip_round(np.exp(np.log(crp0) + np.where(rem, -0.9, -0.2) + rng.normal(0, 0.5, n)), 0.2, 250, 1),
                clip_round(np.exp(np.log(cal0) + np.where(rem, -1.1, -0.25) + rng.normal(0, 0.6, n)), 20, 6000))

    ids = [f"UPA-{i + 1:04d}" if n < 10000 else f"UPA-{i + 1:06d}" for i in range(n)]
    truth = pd.DataFrame({"patient_id": ids, "true_probability": np.round(p, 6), "latent_response": y})

    # missingness, drawn last so that simulate_complete() is the same draw unmasked
    raw = base.copy()
    if not complete:
        raw["crp_mg_l"] = mask_mcar(rng, raw["crp_mg_l"], 0.03)
        raw["albumin_g_l"] = mask_mcar(rng, raw["albumin_g_l"], 0.05)
        raw["hemoglobin_g_dl"] = mask_mcar(rng, raw["hemoglobin_g_dl"], 0.03)
        driver = raw["age"].to_numpy(float) + 15.0 * (raw["location"] == "L1").to_numpy(float)
        raw["calprotectin_ug_g"] = mask_mar(rng, raw["calprotectin_ug_g"], driver, 0.12)
        raw["smoking"] = raw["smoking"].where(~(rng.random(n) < 0.03), None)
        labs[0] = (raw["crp_mg_l"].to_numpy(float), raw["calprotectin_ug_g"].to_numpy(float))
        for week in WEEKS:
            ceus_missing = np.isnan(mask_mar(rng, pd.Series(np.ones(n)), raw["age"].to_numpy(float), 0.10))
            missed = rng.random(n) < {0: 0.0, 4: 0.03, 12: 0.02}[week]
            for k in IUS_PARAMETERS:
                gone = missed | (ceus_missing if k.startswith("ceus") else False)
                ius[week][k] = np.where(gone, np.nan, ius[week][k])
        for week in (4, 12):
            crp, cal = labs[week]
            crp = mask_mcar(rng, pd.Series(crp), 0.04).to_numpy()
            cal = mask_mar(rng, pd.Series(cal), 1.0 - rem, 0.15).to_numpy()
            labs[week] = (crp, cal)
        for week in (0, 4):
            for k in IUS_PARAMETERS:
                raw[f"{k}_w{week}"] = ius[week][k]
    follow = pd.DataFrame({f"{k}_w12": ius[12][k] for k in ("bwt_mm", "cds", "i_fat", "bws")})
    for k in CDAI_COMPONENTS:
        follow[f"cdai_{k}_w12"] = w12[k]
    follow["hematocrit_w12"] = w12["hematocrit"]
    follow["weight_kg_w12"] = weight12
    cohort = pd.concat([pd.Series(ids, name="patient_id"), raw, follow, ses_frame(ses12, 12)], axis=1)

    visits = pd.concat([
        pd.DataFrame({
            "patient_id": ids, "week": float(week),
            **{k: ius[week][k] for k in IUS_PARAMETERS},
            "crp_mg_l": labs[week][0], "calprotectin_ug_g": labs[week][1],
        }) for week in WEEKS
    ]).sort_values(["patient_id", "week"], kind="stable").reset_index(drop=True)

    # the secondary outcomes are computable wherever their inputs were recorded
    assert not np.isnan(ses_total(ses12)).any()
    _ = ius_response(cohort["bwt_mm_w0"], cohort["bwt_mm_w12"])
    _ = ses_cd_response(ses_total(ses0), ses_total(ses12))
    return DemoCohort(tables={"cohort.csv": cohort, "visits.csv": visits}, truth=truth)


def cdai_at(df: pd.DataFrame, week: int, weight: str) -> np.ndarray:
    """CDAI of the wide table's week-``week`` components (``weight`` names the weight column)."""
    comp = {k: df[f"cdai_{k}_w{week}"].to_numpy(float) for k in CDAI_COMPONENTS}
    comp["hematocrit"] = df[f"hematocrit_w{week}"].to_numpy(float)
    return cdai_exact(comp, df["sex"].to_numpy(), df["height_cm"].to_numpy(float), df[weight].to_numpy(float))


def ses_cd_at(df: pd.DataFrame, week: int) -> np.ndarray:
    """SES-CD of the wide table's week-``week`` items, by :func:`analysis.indices.crohns.ses_cd`."""
    blocks = [df[[f"ses_{item}_{seg}_w{week}" for seg in SES_SEGMENTS]] for item in SES_ITEMS]
    return np.asarray(ses_cd(*blocks), float)


def derived_outcomes(df: pd.DataFrame) -> pd.DataFrame:
    """The study.yaml outcome rules evaluated directly (used in tests as a cross-check)."""
    cdai0, cdai12 = cdai_at(df, 0, "weight_kg"), cdai_at(df, 12, "weight_kg_w12")
    return pd.DataFrame({
        "remission_w12": as_float_flag(cdai_remission(cdai12)),
        "response_w12": as_float_flag(cdai_response(cdai0, cdai12, threshold=100)),
        "ius_response_w12": as_float_flag(ius_response(df["bwt_mm_w0"].to_numpy(float), df["bwt_mm_w12"].to_numpy(float))),
        "ius_remission_w12": as_float_flag(ius_remission(df["bwt_mm_w12"].to_numpy(float))),
        "endoscopic_response_w12": as_float_flag(ses_cd_response(ses_cd_at(df, 0), ses_cd_at(df, 12))),
    }, index=df.index)


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
    >>> bool(df["crp_mg_l"].notna().all()), "latent_response" in df
    (True, True)
    """
    cohort = _draw(n, seed, complete=True)
    table = cohort.tables["cohort.csv"]
    return pd.concat([table, cohort.truth.drop(columns="patient_id")], axis=1)
