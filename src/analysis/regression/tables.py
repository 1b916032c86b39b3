"""Logistic and linear regression tables from a DataFrame and its codebook.

Every public function takes the analysis DataFrame, the predictor names, the outcome name
and the codebook ``variables`` (``{name: {"type": ..., "levels": [...], ...}}``) and
returns a tidy :class:`pandas.DataFrame` with one row per model term.

Model terms are named by :func:`design_matrix`:

* ``var`` for a numeric, integer or binary predictor (after ``"transform": "log"`` if the
  codebook asks for it; the name stays ``var``);
* ``var[level]`` for each non-reference level of a categorical predictor, the reference
  being the first level listed in the codebook;
* ``var``, ``var'``, ``var''``, ... for a restricted cubic spline of ``var`` (Harrell's
  ``rms`` naming: the linear term, then the nonlinear terms of :mod:`analysis.regression.splines`).

Fits are unpenalised maximum likelihood (statsmodels ``GLM`` with a binomial family for
binary outcomes, ``OLS`` for continuous ones). Confidence intervals are Wald intervals or,
for logistic models, profile-likelihood intervals found by root finding on the profile
deviance (:func:`profile_likelihood_ci`). Missing predictor values are handled by
complete-case analysis or by multiple imputation (:mod:`analysis.regression.imputation`), pooled with
Rubin's rules.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
import scipy.stats

from analysis.errors import AnalysisError
from analysis.regression.design import (
    binary_outcome,
    complete_rows,
    continuous_outcome,
    design_matrix,
    warn_events_per_parameter,
)
from analysis.regression.fits import ModelFit, fit_linear, fit_logistic, profile_likelihood_ci
from analysis.validators import as_list, caller_stacklevel, require_columns

__all__ = [
    "LOGISTIC_COLUMNS",
    "LINEAR_COLUMNS",
    "design_matrix",
    "linear_regression",
    "multivariable_logistic",
    "profile_likelihood_ci",
    "univariable_logistic",
]

#: Leading columns of every logistic table; further columns follow them.
LOGISTIC_COLUMNS = ["term", "odds_ratio", "ci_lower", "ci_upper", "p_value", "n", "method"]
#: Leading columns of every linear-regression table.
LINEAR_COLUMNS = ["term", "estimate", "ci_lower", "ci_upper", "p_value", "n", "method"]


# --------------------------------------------------------------------------------------
# codebook helpers
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# design matrix
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# events per parameter
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# separation
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------
def _ci_label(ci: str) -> str:
    return {"wald": "Wald CI", "profile": "profile-likelihood CI"}[ci]


def _check_ci(ci: str) -> None:
    if ci not in {"wald", "profile"}:
        raise AnalysisError(f"ci must be 'wald' or 'profile', got {ci!r}")


def _check_missing(missing: str) -> None:
    if missing not in {"mi", "complete"}:
        raise AnalysisError(f"missing must be 'mi' or 'complete', got {missing!r}")


def _term_rows(X: pd.DataFrame, fit: ModelFit, ci_bounds: np.ndarray, p_values: np.ndarray,
               n: int, method: str) -> pd.DataFrame:
    """Rows without the intercept. ``ci_bounds``: (k, 2) incl. intercept row."""
    term_variable = X.attrs["term_variable"]
    refs = X.attrs["reference_levels"]
    variable = [term_variable[t] for t in X.columns]
    return pd.DataFrame(
        {
            "term": list(X.columns),
            "estimate": fit.params[1:],
            "ci_lower": ci_bounds[1:, 0],
            "ci_upper": ci_bounds[1:, 1],
            "p_value": p_values[1:],
            "n": n,
            "method": method,
            "variable": variable,
            "reference": [refs.get(v) for v in variable],
            "se": fit.bse[1:],
            "separation": fit.separated[1:],
        }
    )


def _logistic_table(rows: pd.DataFrame, events: int) -> pd.DataFrame:
    with np.errstate(over="ignore"):
        table = pd.DataFrame(
            {
                "term": rows["term"],
                "odds_ratio": np.exp(rows["estimate"]),
                "ci_lower": np.exp(rows["ci_lower"]),
                "ci_upper": np.exp(rows["ci_upper"]),
                "p_value": rows["p_value"],
                "n": rows["n"].astype(int),
                "method": rows["method"],
                "variable": rows["variable"],
                "reference": rows["reference"],
                "events": events,
                "log_odds": rows["estimate"],
                "se": rows["se"],
                "separation": rows["separation"].astype(bool),
            }
        )
    return table.reset_index(drop=True)


def _wald_bounds(fit: ModelFit, level: float = 0.95, df: float | None = None) -> np.ndarray:
    q = scipy.stats.norm.ppf(0.5 + level / 2) if df is None else scipy.stats.t.ppf(0.5 + level / 2, df)
    return np.column_stack([fit.params - q * fit.bse, fit.params + q * fit.bse])


def _logistic_complete(df, predictors, outcome, variables, ci, splines, label, what):
    data = complete_rows(df, [*predictors, outcome])
    if len(data) == 0:
        raise AnalysisError(f"no complete rows for outcome '{outcome}' and {list(predictors)}")
    y = binary_outcome(data, outcome, variables).to_numpy()
    X = design_matrix(data, predictors, variables, splines=splines)
    if X.shape[1] == 0:
        raise AnalysisError(f"no model terms left for {list(predictors)} after dropping")
    warn_events_per_parameter(y, X.shape[1], outcome, what)
    fit = fit_logistic(X, y, outcome)
    bounds = _wald_bounds(fit)
    if ci == "profile":
        for i in range(X.shape[1]):
            if fit.separated[i + 1] or not np.isfinite(fit.params[i + 1]):
                bounds[i + 1] = (np.nan, np.nan)
            else:
                bounds[i + 1] = profile_likelihood_ci(X.to_numpy(dtype=float), y, i)
    method = f"logistic ML, {_ci_label(ci)}, {label}"
    rows = _term_rows(X, fit, bounds, fit.pvalues, len(y), method)
    return _logistic_table(rows, int(y.sum()))


def univariable_logistic(
    df: pd.DataFrame,
    predictors: Sequence[str],
    outcome: str,
    variables: Mapping[str, Mapping],
    ci: str = "wald",
    splines: Mapping[str, int | Sequence[float]] | None = None,
) -> pd.DataFrame:
    """One logistic regression per predictor (complete cases for that predictor).

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data.
    predictors : sequence of str
        Predictors, each fitted alone.
    outcome : str
        0/1 outcome (codebook type ``binary``).
    variables : mapping
        Codebook (see :func:`design_matrix`).
    ci : {"wald", "profile"}, default "wald"
        Confidence-interval method.
    splines : mapping, optional
        Predictors to model as restricted cubic splines (see :func:`design_matrix`).

    Returns
    -------
    pandas.DataFrame
        ``term, odds_ratio, ci_lower, ci_upper, p_value, n, method`` then ``variable,
        reference, events, log_odds, se, separation``; one row per term, predictors in
        the given order.

    Examples
    --------
    >>> df = pd.DataFrame({"y": [0, 1, 0, 1, 1, 0, 1, 0], "x": [1.0, 2, 3, 4, 5, 2, 3, 4]})
    >>> codebook = {"y": {"type": "binary"}, "x": {"type": "numeric"}}
    >>> univariable_logistic(df, ["x"], "y", codebook)[["term", "n"]].to_dict("records")
    [{'term': 'x', 'n': 8}]
    """
    _check_ci(ci)
    predictors = as_list(predictors, "predictors")
    require_columns(df, [*predictors, outcome])
    splines = dict(splines or {})
    tables = [
        _logistic_complete(
            df, [p], outcome, variables, ci, {p: splines[p]} if p in splines else None,
            "complete cases (univariable)", "univariable logistic model",
        )
        for p in predictors
    ]
    return pd.concat(tables, ignore_index=True)


def _mi_table(df, predictors, outcome, variables, splines, m, seed, model):
    from analysis.regression.imputation import mice_fits, rubins_rules

    fits = mice_fits(df, predictors, outcome, variables, m=m, seed=seed, splines=splines,
                     model=model)
    pooled = rubins_rules(fits.estimates, fits.variances, df_complete=fits.df_complete)
    q = scipy.stats.t.ppf(0.975, pooled["df"].to_numpy())
    est = pooled["estimate"].to_numpy()
    se = pooled["se"].to_numpy()
    stat = est / se
    p = 2 * scipy.stats.t.sf(np.abs(stat), pooled["df"].to_numpy())
    X = fits.design
    name = "logistic ML" if model == "logistic" else "linear OLS"
    ci_name = "Wald CI" if model == "logistic" else "t CI"
    method = f"{name}, {ci_name}, MICE m={m} pooled by Rubin's rules"
    terms = list(X.columns)
    term_variable = X.attrs["term_variable"]
    refs = X.attrs["reference_levels"]
    variable = [term_variable[t] for t in terms]
    rows = pd.DataFrame(
        {
            "term": terms,
            "estimate": est[1:],
            "ci_lower": (est - q * se)[1:],
            "ci_upper": (est + q * se)[1:],
            "p_value": p[1:],
            "n": fits.n,
            "method": method,
            "variable": variable,
            "reference": [refs.get(v) for v in variable],
            "se": se[1:],
            "separation": fits.separated[1:],
            "df": pooled["df"].to_numpy()[1:],
            "fmi": pooled["fmi"].to_numpy()[1:],
        }
    )
    return rows, fits


def multivariable_logistic(
    df: pd.DataFrame,
    predictors: Sequence[str],
    outcome: str,
    variables: Mapping[str, Mapping],
    ci: str = "wald",
    missing: str = "mi",
    m: int = 20,
    seed: int = 0,
    splines: Mapping[str, int | Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Multivariable logistic regression by unpenalised maximum likelihood.

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data.
    predictors : sequence of str
        Predictors entered together.
    outcome : str
        0/1 outcome (codebook type ``binary``); rows with a missing outcome are dropped.
    variables : mapping
        Codebook (see :func:`design_matrix`).
    ci : {"wald", "profile"}, default "wald"
        Confidence-interval method. Profile intervals need complete data.
    missing : {"mi", "complete"}, default "mi"
        ``"mi"``: multiple imputation by chained equations (:func:`analysis.regression.imputation.mice_fits`)
        pooled with Rubin's rules (t-based CIs and p-values with Barnard-Rubin df);
        ``"complete"``: complete-case analysis. When no predictor value is missing both give
        the complete-data fit.
    m : int, default 20
        Number of imputations.
    seed : int, default 0
        Seed of the imputations.
    splines : mapping, optional
        Predictors to model as restricted cubic splines (see :func:`design_matrix`).

    Returns
    -------
    pandas.DataFrame
        ``term, odds_ratio, ci_lower, ci_upper, p_value, n, method`` then ``variable,
        reference, events, log_odds, se, separation`` (and ``df, fmi`` under MI).

    Warns
    -----
    UserWarning
        Events per parameter below 10; separation (rows flagged in ``separation``);
        dropped constant predictors or empty levels; rows dropped for a missing outcome.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=300), "g": rng.choice(["a", "b"], 300)})
    >>> df["y"] = (rng.uniform(size=300) < 1 / (1 + np.exp(-df["x"]))).astype(int)
    >>> codebook = {"x": {"type": "numeric"}, "y": {"type": "binary"},
    ...             "g": {"type": "categorical", "levels": ["a", "b"]}}
    >>> table = multivariable_logistic(df, ["x", "g"], "y", codebook)
    >>> table["term"].tolist(), table["method"].iloc[0]
    (['x', 'g[b]'], 'logistic ML, Wald CI, complete data (no missing values)')
    """
    _check_ci(ci)
    _check_missing(missing)
    predictors = as_list(predictors, "predictors")
    require_columns(df, [*predictors, outcome])
    binary_outcome(df, outcome, variables)
    what = "multivariable logistic model"
    n_missing_outcome = int(df[outcome].isna().sum())
    data = df
    if n_missing_outcome:
        warnings.warn(
            f"outcome '{outcome}' is missing in {n_missing_outcome} rows; they are excluded",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
        data = df.loc[df[outcome].notna()]
    has_missing = bool(data[predictors].isna().any().any())
    if not has_missing:
        return _logistic_complete(data, predictors, outcome, variables, ci, splines,
                                  "complete data (no missing values)", what)
    if missing == "complete":
        return _logistic_complete(data, predictors, outcome, variables, ci, splines,
                                  "complete cases", what)
    if ci == "profile":
        raise AnalysisError(
            "ci='profile' is not available with missing='mi' (profile likelihoods of pooled "
            "estimates are not defined); use ci='wald' or missing='complete'"
        )
    rows, fits = _mi_table(data, predictors, outcome, variables, splines, m, seed, "logistic")
    y = data[outcome].to_numpy(dtype=float)
    warn_events_per_parameter(y, len(rows), outcome, what)
    table = _logistic_table(rows, int(y.sum()))
    table["df"] = rows["df"].to_numpy()
    table["fmi"] = rows["fmi"].to_numpy()
    return table


def linear_regression(
    df: pd.DataFrame,
    predictors: Sequence[str],
    outcome: str,
    variables: Mapping[str, Mapping],
    missing: str = "mi",
    m: int = 20,
    seed: int = 0,
    splines: Mapping[str, int | Sequence[float]] | None = None,
) -> pd.DataFrame:
    """Multiple linear regression (OLS) of a continuous outcome, e.g. change in CDAI.

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data.
    predictors : sequence of str
        Predictors entered together.
    outcome : str
        Continuous outcome (codebook type ``numeric`` or ``integer``); rows where it is
        missing are dropped.
    variables : mapping
        Codebook (see :func:`design_matrix`).
    missing : {"mi", "complete"}, default "mi"
        As in :func:`multivariable_logistic`.
    m, seed : int
        Number of imputations and their seed.
    splines : mapping, optional
        Predictors to model as restricted cubic splines.

    Returns
    -------
    pandas.DataFrame
        ``term, estimate, ci_lower, ci_upper, p_value, n, method`` then ``variable,
        reference, se`` (and ``df, fmi`` under MI). CIs and p-values use the t
        distribution with the residual df (Barnard-Rubin df under MI).

    Examples
    --------
    >>> df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "y": [1.1, 1.9, 3.2, 3.9, 5.1, 6.0]})
    >>> codebook = {"x": {"type": "numeric"}, "y": {"type": "numeric"}}
    >>> round(float(linear_regression(df, ["x"], "y", codebook)["estimate"].iloc[0]), 3)
    0.994
    """
    _check_missing(missing)
    predictors = as_list(predictors, "predictors")
    require_columns(df, [*predictors, outcome])
    continuous_outcome(df, outcome, variables)
    n_missing_outcome = int(df[outcome].isna().sum())
    data = df
    if n_missing_outcome:
        warnings.warn(
            f"outcome '{outcome}' is missing in {n_missing_outcome} rows; they are excluded",
            UserWarning,
            stacklevel=caller_stacklevel(),
        )
        data = df.loc[df[outcome].notna()]
    has_missing = bool(data[predictors].isna().any().any())
    if has_missing and missing == "mi":
        rows, _ = _mi_table(data, predictors, outcome, variables, splines, m, seed, "linear")
        cols = [*LINEAR_COLUMNS, "variable", "reference", "se", "df", "fmi"]
        return rows[cols].reset_index(drop=True)
    label = "complete cases" if has_missing else "complete data (no missing values)"
    sub = complete_rows(data, [*predictors, outcome])
    y = continuous_outcome(sub, outcome, variables).to_numpy()
    X = design_matrix(sub, predictors, variables, splines=splines)
    fit = fit_linear(X, y, outcome)
    bounds = _wald_bounds(fit, df=fit.df_resid)
    rows = _term_rows(X, fit, bounds, fit.pvalues, len(y), f"linear OLS, t CI, {label}")
    return rows[[*LINEAR_COLUMNS, "variable", "reference", "se"]].reset_index(drop=True)


