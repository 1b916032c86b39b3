"""A known-truth cohort for method benchmarks: where plain linear logistic regression falls short.

Not a study profile: a small IBD-like simulation whose true model has the features that
separate a careful regression model from a default one - labs that act on the log scale
with right-skewed distributions, a quadratic BMI effect, an age x prior anti-TNF
interaction - plus noise predictors and 5% missing lab values.  ``benchmarks/accuracy.py``
and the flexible model's tests draw from it.

Examples
--------
>>> X, y, p = simulate(500, seed=1)
>>> X.shape, round(float(p.mean()), 2)
((500, 12), 0.55)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

__all__ = ["CODEBOOK", "INTERACTIONS", "PREDICTORS", "simulate"]

#: The simulated study's codebook (as ``study.codebook`` returns it): no transform declared anywhere.
CODEBOOK = {
    "age": {"type": "numeric"},
    "sex": {"type": "categorical", "levels": ["female", "male"]},
    "bmi": {"type": "numeric"},
    "smoking": {"type": "categorical", "levels": ["never", "former", "current"]},
    "prior_anti_tnf": {"type": "binary"},
    "disease_duration_years": {"type": "numeric"},
    "crp_mg_l": {"type": "numeric"},
    "calprotectin_ug_g": {"type": "numeric"},
    "albumin_g_l": {"type": "numeric"},
    "hemoglobin_g_dl": {"type": "numeric"},
    "platelets": {"type": "numeric"},
    "corticosteroids": {"type": "binary"},
}
PREDICTORS = list(CODEBOOK)
INTERACTIONS = (("age", "prior_anti_tnf"),)


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``n`` patients: predictors (5% of lab values missing), outcome and true probability.

    True model::

        lp = 1.2 - 0.9 ln(CRP / 10) - 0.6 ln(calprotectin / 1000) - 0.02 (BMI - 25)^2
             + 0.06 (albumin - 40) - 1.0 prior_anti_tnf + 0.06 (age - 40) prior_anti_tnf
             - 0.4 corticosteroids
    """
    rng = np.random.default_rng(seed)
    age = np.clip(rng.normal(40, 14, n), 18, 85)
    sex = rng.choice(["female", "male"], n)
    bmi = np.clip(rng.normal(25, 5, n), 15, 48)
    smoking = rng.choice(["never", "former", "current"], n, p=[0.55, 0.25, 0.2])
    prior = (rng.random(n) < 0.4).astype(float)
    duration = np.exp(rng.normal(1.8, 0.8, n))
    z = rng.standard_normal((n, 2))
    crp = np.exp(np.log(10) + 1.1 * z[:, 0])
    calpro = np.exp(np.log(1000) + 0.9 * (0.5 * z[:, 0] + 0.87 * z[:, 1]))
    albumin = 40 - 1.5 * z[:, 0] + rng.normal(0, 3.5, n)
    hb = rng.normal(13, 1.5, n)
    platelets = np.exp(rng.normal(np.log(300), 0.3, n))
    steroids = (rng.random(n) < 0.35).astype(float)
    lp = (1.2 - 0.9 * np.log(crp / 10) - 0.6 * np.log(calpro / 1000)
          - 0.02 * (bmi - 25) ** 2 + 0.06 * (albumin - 40) - 1.0 * prior
          + 0.06 * (age - 40) * prior - 0.4 * steroids)
    p = expit(lp)
    y = (rng.random(n) < p).astype(int)
    X = pd.DataFrame({"age": age.round(0), "sex": sex, "bmi": bmi.round(1), "smoking": smoking,
                      "prior_anti_tnf": prior, "disease_duration_years": duration.round(1),
                      "crp_mg_l": crp.round(1), "calprotectin_ug_g": calpro.round(0),
                      "albumin_g_l": albumin.round(0), "hemoglobin_g_dl": hb.round(1),
                      "platelets": platelets.round(0), "corticosteroids": steroids})
    for column in ("crp_mg_l", "calprotectin_ug_g", "albumin_g_l", "hemoglobin_g_dl"):
        X.loc[rng.random(n) < 0.05, column] = np.nan
    return X, y, p
