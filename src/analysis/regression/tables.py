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
binary outcomes, ``OLS`` for continuous ones), except where maximum likelihood breaks down
for a logistic model: under complete or quasi-complete separation, with sparse cells (a
level of a binary or categorical predictor with fewer than 5 events or non-events,
:func:`analysis.regression.fits.sparse_cells`) or, for the multivariable model, with fewer
than 10 events per parameter, the model is fitted by Firth's penalised likelihood
(:func:`analysis.regression.fits.fit_firth`, the method of R's ``logistf``) with profile
penalised-likelihood CIs and penalised likelihood-ratio p-values, and ``method`` says so
(under multiple imputation: Firth fits pooled by Rubin's rules, Wald CIs). No table holds an
infinite odds ratio: a log-odds ratio that is not finite or exceeds
:data:`MAX_ABS_LOG_ODDS` in size is reported as NaN (not estimable). Confidence intervals are Wald intervals or,
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
    EPP_THRESHOLD,
    binary_outcome,
    complete_rows,
    continuous_outcome,
    design_matrix,
    warn_events_per_parameter,
)
from analysis.regression.fits import (
    FIRTH_METHOD,
    ModelFit,
    detect_separation,
    fit_firth,
    fit_linear,
    fit_logistic,
    profile_likelihood_ci,
    sparse_cells,
)
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
#: Largest |log odds ratio| a table reports (OR about 1e13); beyond it, or when not
#: finite, the estimate or bound is NaN: never an infinite or 1e20 odds ratio in an export.
MAX_ABS_LOG_ODDS = 30.0


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


def _check_penalty(penalty: str) -> None:
    if penalty not in {"auto", "none", "firth"}:
        raise AnalysisError(f"penalty must be 'auto', 'none' or 'firth', got {penalty!r}")


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


def _odds_ratio(log_odds) -> np.ndarray:
    """``exp`` of finite log-odds within :data:`MAX_ABS_LOG_ODDS`, NaN otherwise."""
    x = np.asarray(log_odds, dtype=float)
    ok = np.isfinite(x) & (np.abs(x) <= MAX_ABS_LOG_ODDS)
    return np.where(ok, np.exp(np.where(ok, x, 0.0)), np.nan)


def _firth_reasons(X: pd.DataFrame, y: np.ndarray, separated: np.ndarray, epp: float | None,
                   penalty: str = "auto") -> list[str]:
    """Why maximum likelihood is not trusted for this logistic model (empty: use ML)."""
    if penalty == "none":
        return []
    if penalty == "firth":
        return ["penalty='firth'"]
    reasons = []
    if separated.any():
        terms = ["(intercept)", *X.columns]
        flagged = [t for t, s in zip(terms, separated, strict=True) if s and t != "(intercept)"]
        reasons.append(f"complete or quasi-complete separation ({', '.join(flagged) or 'all terms'})")
    sparse = sparse_cells(X, y)
    if sparse:
        reasons.append("sparse cells (" + "; ".join(sparse) + ")")
    if epp is not None and epp < EPP_THRESHOLD:
        reasons.append(f"{epp:.1f} events per parameter (fewer than {EPP_THRESHOLD:g})")
    return reasons


def _warn_firth(outcome: str, what: str, reasons: list[str]) -> None:
    warnings.warn(
        f"{what} for '{outcome}': fitted by Firth's penalised likelihood instead of maximum "
        f"likelihood because of {' and '.join(reasons)}; odds ratios are shrunk towards 1 "
        "and stay finite",
        UserWarning,
        stacklevel=caller_stacklevel(),
    )


def _logistic_table(rows: pd.DataFrame, events: int) -> pd.DataFrame:
    with np.errstate(over="ignore"):
        table = pd.DataFrame(
            {
                "term": rows["term"],
                "odds_ratio": _odds_ratio(rows["estimate"]),
                "ci_lower": _odds_ratio(rows["ci_lower"]),
                "ci_upper": _odds_ratio(rows["ci_upper"]),
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


def _logistic_complete(df, predictors, outcome, variables, ci, splines, label, what,
                       multivariable=True, penalty="auto"):
    data = complete_rows(df, [*predictors, outcome])
    if len(data) == 0:
        raise AnalysisError(f"no complete rows for outcome '{outcome}' and {list(predictors)}")
    y = binary_outcome(data, outcome, variables).to_numpy()
    X = design_matrix(data, predictors, variables, splines=splines)
    if X.shape[1] == 0:
        raise AnalysisError(f"no model terms left for {list(predictors)} after dropping")
    epp = warn_events_per_parameter(y, X.shape[1], outcome, what)
    if len(np.unique(y)) == 2:
        separated = detect_separation(X.to_numpy(dtype=float), y)
        reasons = _firth_reasons(X, y, separated, epp if multivariable else None, penalty)
        if reasons:
            if penalty == "auto":
                _warn_firth(outcome, what, reasons)
            fit = fit_firth(X, y, outcome)
            fit.separated = separated
            rows = _term_rows(X, fit, fit.ci, fit.pvalues, len(y), f"{FIRTH_METHOD}, {label}")
            return _logistic_table(rows, int(y.sum()))
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
    penalty: str = "auto",
) -> pd.DataFrame:
    """One logistic regression per predictor (complete cases for that predictor).

    Maximum likelihood, or Firth's penalised likelihood for a predictor whose model
    separates or has sparse cells (see the module docstring; ``method`` says which).

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
    penalty : {"auto", "none", "firth"}, default "auto"
        ``"auto"``: Firth's method where maximum likelihood fails (separation, sparse
        cells); ``"none"``: always maximum likelihood; ``"firth"``: always Firth's method.

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
    _check_penalty(penalty)
    predictors = as_list(predictors, "predictors")
    require_columns(df, [*predictors, outcome])
    splines = dict(splines or {})
    tables = [
        _logistic_complete(
            df, [p], outcome, variables, ci, {p: splines[p]} if p in splines else None,
            "complete cases (univariable)", "univariable logistic model", multivariable=False,
            penalty=penalty,
        )
        for p in predictors
    ]
    return pd.concat(tables, ignore_index=True)


def _mi_firth(fits, df, predictors, outcome, variables, what, penalty):
    """Refit the imputed data sets by Firth's method if needed (None: keep the ML fits)."""
    X = fits.design
    y = df[outcome].to_numpy(dtype=float)
    epp = min(int((y == 1).sum()), int((y == 0).sum())) / X.shape[1]
    reasons = _firth_reasons(X, y, fits.separated, epp, penalty)
    if not reasons:
        return None
    if penalty == "auto":
        _warn_firth(outcome, what, reasons)
    estimates, variances = [], []
    for imp in fits.imputations:
        Xi = design_matrix(imp, predictors, variables, splines=fits.knots or None,
                           drop_constant=False)[list(X.columns)]
        fit = fit_firth(Xi, imp[outcome].to_numpy(dtype=float), outcome, inference=False)
        estimates.append(fit.params)
        variances.append(fit.bse**2)
    return np.vstack(estimates), np.vstack(variances)


def _mi_table(df, predictors, outcome, variables, splines, m, seed, model,
              what="multivariable logistic model", penalty="auto"):
    from analysis.regression.imputation import mice_fits, rubins_rules

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fits = mice_fits(df, predictors, outcome, variables, m=m, seed=seed, splines=splines,
                         model=model)
    firth = None
    if model == "logistic":
        firth = _mi_firth(fits, df, predictors, outcome, variables, what, penalty)
    for w in caught:  # the ML separation warning is moot once Firth's method replaces ML
        if firth is None or "separation" not in str(w.message):
            warnings.warn(w.message, w.category, stacklevel=caller_stacklevel())
    estimates, variances = (fits.estimates, fits.variances) if firth is None else firth
    pooled = rubins_rules(estimates, variances, df_complete=fits.df_complete)
    q = scipy.stats.t.ppf(0.975, pooled["df"].to_numpy())
    est = pooled["estimate"].to_numpy()
    se = pooled["se"].to_numpy()
    stat = est / se
    p = 2 * scipy.stats.t.sf(np.abs(stat), pooled["df"].to_numpy())
    X = fits.design
    name = "logistic ML" if model == "logistic" else "linear OLS"
    if firth is not None:
        name = "Firth penalised likelihood"
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
    penalty: str = "auto",
) -> pd.DataFrame:
    """Multivariable logistic regression: maximum likelihood, or Firth's method when ML fails.

    Maximum likelihood unless the model separates, has sparse cells or fewer than 10
    events per parameter; then Firth's penalised likelihood (see the module docstring),
    with profile penalised-likelihood CIs on one data set and Wald CIs pooled by Rubin's
    rules under multiple imputation.

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
    penalty : {"auto", "none", "firth"}, default "auto"
        ``"auto"``: Firth's method where maximum likelihood fails (separation, sparse
        cells, fewer than 10 events per parameter); ``"none"``: always maximum
        likelihood; ``"firth"``: always Firth's method.

    Returns
    -------
    pandas.DataFrame
        ``term, odds_ratio, ci_lower, ci_upper, p_value, n, method`` then ``variable,
        reference, events, log_odds, se, separation`` (and ``df, fmi`` under MI).

    Warns
    -----
    UserWarning
        Events per parameter below 10; Firth's method used instead of ML (with the
        reasons); separation (rows flagged in ``separation``);
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
    _check_penalty(penalty)
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
                                  "complete data (no missing values)", what, penalty=penalty)
    if missing == "complete":
        return _logistic_complete(data, predictors, outcome, variables, ci, splines,
                                  "complete cases", what, penalty=penalty)
    if ci == "profile":
        raise AnalysisError(
            "ci='profile' is not available with missing='mi' (profile likelihoods of pooled "
            "estimates are not defined); use ci='wald' or missing='complete'"
        )
    rows, fits = _mi_table(data, predictors, outcome, variables, splines, m, seed, "logistic",
                           what, penalty)
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


