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
  ``rms`` naming: the linear term, then the nonlinear terms of :mod:`analysis.splines`).

Fits are unpenalised maximum likelihood (statsmodels ``GLM`` with a binomial family for
binary outcomes, ``OLS`` for continuous ones). Confidence intervals are Wald intervals or,
for logistic models, profile-likelihood intervals found by root finding on the profile
deviance (:func:`profile_likelihood_ci`). Missing predictor values are handled by
complete-case analysis or by multiple imputation (:mod:`analysis.imputation`), pooled with
Rubin's rules.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
import scipy.stats
import statsmodels.api as sm
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from analysis.errors import AnalysisError
from analysis.splines import rcs_basis, rcs_column_names, rcs_knots

__all__ = [
    "LOGISTIC_COLUMNS",
    "LINEAR_COLUMNS",
    "design_matrix",
    "detect_separation",
    "events_per_parameter",
    "linear_regression",
    "multivariable_logistic",
    "nonlinearity_test",
    "profile_likelihood_ci",
    "univariable_logistic",
]

#: Leading columns of every logistic table; further columns follow them.
LOGISTIC_COLUMNS = ["term", "odds_ratio", "ci_lower", "ci_upper", "p_value", "n", "method"]
#: Leading columns of every linear-regression table.
LINEAR_COLUMNS = ["term", "estimate", "ci_lower", "ci_upper", "p_value", "n", "method"]

_MODEL_TYPES = {"numeric", "integer", "binary", "categorical"}
_EPP_THRESHOLD = 10.0


def _stacklevel() -> int:
    """``stacklevel`` that points a warning at the first caller outside this package."""
    frame = sys._getframe(2)
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("analysis."):
        frame = frame.f_back
        level += 1
    return level


# --------------------------------------------------------------------------------------
# codebook helpers
# --------------------------------------------------------------------------------------
def _spec(variables: Mapping[str, Mapping], name: str) -> Mapping:
    if name not in variables:
        raise AnalysisError(f"column '{name}' is not described in the codebook `variables`")
    spec = variables[name]
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise AnalysisError(f"column '{name}': codebook entry must be a mapping with a 'type'")
    return spec


def _require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise AnalysisError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AnalysisError(f"column(s) {missing} not found in the data")


def _as_list(names, what: str) -> list[str]:
    if isinstance(names, str):
        return [names]
    names = list(names)
    if not names:
        raise AnalysisError(f"no {what} given")
    if len(set(names)) != len(names):
        raise AnalysisError(f"{what} contain duplicates: {names}")
    return names


def _numeric_values(series: pd.Series, name: str) -> pd.Series:
    if series.dtype == bool:
        series = series.astype(float)
    if not pd.api.types.is_numeric_dtype(series):
        raise AnalysisError(f"column '{name}' is numeric in the codebook but holds {series.dtype}")
    return series.astype(float)


def _binary_values(series: pd.Series, name: str) -> pd.Series:
    values = _numeric_values(series, name)
    bad = sorted(set(values.dropna().unique()) - {0.0, 1.0})
    if bad:
        raise AnalysisError(f"column '{name}' is binary and must hold 0/1; found {bad[:5]}")
    return values


def _categorical_values(series: pd.Series, name: str, spec: Mapping) -> tuple[pd.Series, list]:
    levels = list(spec.get("levels") or [])
    if len(levels) < 2:
        raise AnalysisError(f"column '{name}' is categorical and needs >= 2 codebook 'levels'")
    if len(set(levels)) != len(levels):
        raise AnalysisError(f"column '{name}': codebook levels are not unique: {levels}")
    values = series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
    observed = values.dropna()
    bad = observed[~observed.isin(levels)].unique().tolist()
    if bad:
        raise AnalysisError(
            f"column '{name}' holds values {bad[:5]} that are not among its codebook levels {levels}"
        )
    return values, levels


def _outcome_binary(df: pd.DataFrame, outcome: str, variables: Mapping) -> pd.Series:
    spec = _spec(variables, outcome)
    if spec["type"] != "binary":
        raise AnalysisError(
            f"outcome '{outcome}' has codebook type '{spec['type']}'; logistic regression needs 'binary'"
        )
    return _binary_values(df[outcome], outcome)


def _outcome_continuous(df: pd.DataFrame, outcome: str, variables: Mapping) -> pd.Series:
    spec = _spec(variables, outcome)
    if spec["type"] not in {"numeric", "integer"}:
        raise AnalysisError(
            f"outcome '{outcome}' has codebook type '{spec['type']}'; linear regression needs "
            "'numeric' or 'integer'"
        )
    return _numeric_values(df[outcome], outcome)


# --------------------------------------------------------------------------------------
# design matrix
# --------------------------------------------------------------------------------------
def design_matrix(
    df: pd.DataFrame,
    predictors: Sequence[str],
    variables: Mapping[str, Mapping],
    splines: Mapping[str, int | Sequence[float]] | None = None,
    drop_constant: bool = True,
) -> pd.DataFrame:
    """Build the model columns (no intercept) for ``predictors``.

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data; missing values give NaN in every column of that predictor.
    predictors : sequence of str
        Predictor columns, each described in ``variables`` with type numeric, integer,
        binary or categorical.
    variables : mapping
        Codebook. Categorical entries list ``levels``; the first is the reference.
        ``"transform": "log"`` log-transforms a numeric predictor (values must be > 0).
    splines : mapping of str to int or sequence of float, optional
        Predictors to expand as restricted cubic splines: a number of knots (3 to 7, placed
        at Harrell's quantiles of the non-missing values) or the knots themselves.
    drop_constant : bool, default True
        Drop, with a warning naming the column, predictors that are constant among the
        non-missing rows and categorical levels that never occur. If the reference level
        never occurs, the first observed level becomes the reference (with a warning).

    Returns
    -------
    pandas.DataFrame
        Float columns named ``var``, ``var[level]`` or ``var``, ``var'``, ... (splines),
        same index as ``df``. ``.attrs`` holds ``reference_levels`` ({var: level}),
        ``term_variable`` ({term: var}), ``variable_terms`` ({var: [terms]}), ``knots``
        ({var: [knots]}) and ``dropped`` (list of dropped predictors or terms).

    Raises
    ------
    AnalysisError
        Unknown column, codebook type that cannot be modelled (id, date), values outside
        the codebook (non-0/1 binary, unknown level), log of values <= 0, or splines of a
        non-numeric predictor.

    Examples
    --------
    >>> df = pd.DataFrame({"age": [30.0, 40, 50, 60], "race": ["white", "black", "other", "white"]})
    >>> codebook = {"age": {"type": "numeric"},
    ...             "race": {"type": "categorical", "levels": ["white", "black", "other"]}}
    >>> X = design_matrix(df, ["age", "race"], codebook)
    >>> list(X.columns)
    ['age', 'race[black]', 'race[other]']
    >>> X.attrs["reference_levels"]
    {'race': 'white'}
    """
    predictors = _as_list(predictors, "predictors")
    _require_columns(df, predictors)
    splines = dict(splines or {})
    unknown = set(splines) - set(predictors)
    if unknown:
        raise AnalysisError(f"splines requested for {sorted(unknown)}, which are not predictors")

    blocks: list[pd.DataFrame] = []
    reference_levels: dict[str, object] = {}
    term_variable: dict[str, str] = {}
    variable_terms: dict[str, list[str]] = {}
    knots_used: dict[str, list[float]] = {}
    dropped: list[str] = []

    for name in predictors:
        spec = _spec(variables, name)
        vtype = spec["type"]
        if vtype not in _MODEL_TYPES:
            raise AnalysisError(
                f"column '{name}' has codebook type '{vtype}' and cannot be a model predictor"
            )
        if name in splines and vtype not in {"numeric", "integer"}:
            raise AnalysisError(f"column '{name}' has type '{vtype}'; splines need a numeric predictor")

        if vtype == "categorical":
            values, levels = _categorical_values(df[name], name, spec)
            present = [lv for lv in levels if values.isin([lv]).any()]
            ref = levels[0]
            keep_levels = levels[1:]
            if drop_constant:
                if len(present) <= 1:
                    warnings.warn(
                        f"predictor '{name}' has {len(present)} observed level(s) "
                        f"{present} in the analysis rows; dropped from the model",
                        UserWarning,
                        stacklevel=_stacklevel(),
                    )
                    dropped.append(name)
                    continue
                if ref not in present:
                    warnings.warn(
                        f"predictor '{name}': reference level {ref!r} never occurs in the "
                        f"analysis rows; using {present[0]!r} as the reference instead",
                        UserWarning,
                        stacklevel=_stacklevel(),
                    )
                    ref = present[0]
                empty = [lv for lv in levels[1:] if lv not in present]
                for lv in empty:
                    warnings.warn(
                        f"predictor '{name}': level {lv!r} never occurs in the analysis rows; "
                        f"term '{name}[{lv}]' dropped",
                        UserWarning,
                        stacklevel=_stacklevel(),
                    )
                    dropped.append(f"{name}[{lv}]")
                keep_levels = [lv for lv in levels if lv in present and lv != ref]
            missing = values.isna().to_numpy()
            cols = {}
            for lv in keep_levels:
                col = values.isin([lv]).to_numpy(dtype=float)
                col[missing] = np.nan
                cols[f"{name}[{lv}]"] = col
            block = pd.DataFrame(cols, index=df.index)
            reference_levels[name] = ref
        else:
            if vtype == "binary":
                values = _binary_values(df[name], name)
            else:
                values = _numeric_values(df[name], name)
            if spec.get("transform") == "log":
                if (values.dropna() <= 0).any():
                    raise AnalysisError(
                        f"column '{name}' has transform 'log' but holds values <= 0"
                    )
                values = np.log(values)
            elif spec.get("transform") not in (None, "", "none"):
                raise AnalysisError(
                    f"column '{name}': unknown transform {spec.get('transform')!r} (only 'log')"
                )
            if drop_constant and values.dropna().nunique() <= 1:
                warnings.warn(
                    f"predictor '{name}' is constant in the analysis rows "
                    f"(values {values.dropna().unique()[:1].tolist()}); dropped from the model",
                    UserWarning,
                    stacklevel=_stacklevel(),
                )
                dropped.append(name)
                continue
            if name in splines:
                spec_knots = splines[name]
                if isinstance(spec_knots, int | np.integer) and not isinstance(spec_knots, bool):
                    knots = rcs_knots(values.to_numpy(), int(spec_knots), name=name)
                else:
                    knots = np.asarray(spec_knots, dtype=float)
                basis = rcs_basis(values.to_numpy(), knots)
                names = rcs_column_names(name, len(knots))
                block = pd.DataFrame(basis, index=df.index, columns=names)
                knots_used[name] = [float(k) for k in knots]
            else:
                block = pd.DataFrame({name: values.to_numpy(dtype=float)}, index=df.index)
        blocks.append(block)
        variable_terms[name] = list(block.columns)
        for term in block.columns:
            term_variable[term] = name

    X = pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=df.index)
    X.attrs = {
        "reference_levels": reference_levels,
        "term_variable": term_variable,
        "variable_terms": variable_terms,
        "knots": knots_used,
        "dropped": dropped,
    }
    return X


def _check_rank(X: pd.DataFrame) -> None:
    """Raise if the design (with intercept) is rank deficient, naming a culprit term."""
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    if A.shape[1] > A.shape[0]:
        raise AnalysisError(
            f"{A.shape[1]} model parameters but only {A.shape[0]} complete rows"
        )
    _, r, piv = scipy.linalg.qr(A, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    tol = diag.max() * max(A.shape) * np.finfo(float).eps * 10
    rank = int((diag > tol).sum())
    if rank < A.shape[1]:
        names = ["(intercept)", *X.columns]
        culprits = [names[i] for i in piv[rank:]]
        raise AnalysisError(
            f"model terms are collinear: {culprits} are linear combinations of the other terms"
        )


# --------------------------------------------------------------------------------------
# events per parameter
# --------------------------------------------------------------------------------------
def events_per_parameter(df: pd.DataFrame, outcome: str, n_parameters: int) -> float:
    """Events per candidate parameter (EPP) of a binary outcome.

    Parameters
    ----------
    df : pandas.DataFrame
        Data; rows with a missing outcome are ignored.
    outcome : str
        0/1 outcome column.
    n_parameters : int
        Number of regression parameters, intercept excluded.

    Returns
    -------
    float
        ``min(#1, #0) / n_parameters``: the count of the rarer outcome class (Harrell's
        limiting sample size) per parameter.

    Examples
    --------
    >>> events_per_parameter(pd.DataFrame({"y": [1, 1, 0, 0, 0, 0]}), "y", 1)
    2.0
    """
    _require_columns(df, [outcome])
    if isinstance(n_parameters, bool) or not isinstance(n_parameters, int | np.integer) or n_parameters < 1:
        raise AnalysisError(f"n_parameters must be a positive integer, got {n_parameters!r}")
    y = _binary_values(df[outcome], outcome).dropna()
    events = min(int((y == 1).sum()), int((y == 0).sum()))
    return events / int(n_parameters)


def _warn_epp(y: np.ndarray, n_parameters: int, outcome: str, what: str) -> float:
    if n_parameters < 1:
        return np.inf
    ones, zeros = int((y == 1).sum()), int((y == 0).sum())
    limiting = min(ones, zeros)
    epp = limiting / n_parameters
    if epp < _EPP_THRESHOLD:
        warnings.warn(
            f"{what} for '{outcome}': events per parameter (EPP) = {epp:.1f} "
            f"({limiting} events of the rarer outcome class / {n_parameters} parameters) is "
            f"below {_EPP_THRESHOLD:g}; estimates may be unstable and overfitted",
            UserWarning,
            stacklevel=_stacklevel(),
        )
    return epp


# --------------------------------------------------------------------------------------
# separation
# --------------------------------------------------------------------------------------
def detect_separation(X, y) -> np.ndarray:
    """Find parameters whose maximum likelihood estimates are infinite (separation).

    Solves Konis' (2007) linear program: maximise ``sum_i s_i x_i'b`` subject to
    ``s_i x_i'b >= 0`` and ``-1 <= b <= 1``, with ``s_i = 2 y_i - 1`` and an intercept
    column added. A positive optimum means complete or quasi-complete separation; the
    non-zero components of ``b`` are directions in which the likelihood keeps increasing.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Model columns without intercept, no missing values.
    y : array_like, shape (n,)
        0/1 outcome.

    Returns
    -------
    numpy.ndarray of bool, shape (p + 1,)
        Element 0 is the intercept; ``True`` marks a parameter that diverges.

    Examples
    --------
    >>> detect_separation(np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 0, 1, 1])).tolist()
    [True, True]
    >>> detect_separation(np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([0, 1, 0, 1])).tolist()
    [False, False]
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    A = np.column_stack([np.ones(len(X)), (X - X.mean(axis=0)) / sd])
    s = 2.0 * y - 1.0
    SA = s[:, None] * A
    res = scipy.optimize.linprog(
        c=-SA.sum(axis=0),
        A_ub=-SA,
        b_ub=np.zeros(len(A)),
        bounds=[(-1.0, 1.0)] * A.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun <= 1e-7 * len(A):
        return np.zeros(A.shape[1], dtype=bool)
    b = res.x.copy()
    # back to the original (uncentred, unscaled) parametrisation
    slopes = b[1:] / sd
    intercept = b[0] - np.sum(slopes * X.mean(axis=0))
    direction = np.concatenate([[intercept], slopes])
    scale = np.abs(direction).max()
    return np.abs(direction) > 1e-6 * scale


# --------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------
@dataclass
class _Fit:
    """Plain container for one fitted model (intercept first in every array)."""

    params: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray
    cov: np.ndarray
    llf: float
    n: int
    df_resid: float
    separated: np.ndarray


def _unpack(result, n: int, separated: np.ndarray) -> _Fit:
    """Evaluate statsmodels' lazy results (inside the caller's warning filters)."""
    k = len(result.params)
    return _Fit(
        params=np.asarray(result.params),
        bse=np.asarray(result.bse),
        pvalues=np.asarray(result.pvalues),
        cov=np.asarray(result.cov_params()),
        llf=float(result.llf),
        n=n,
        df_resid=float(n - k),
        separated=separated,
    )


def _fit_logistic(X: pd.DataFrame, y: np.ndarray, outcome: str, warn: bool = True) -> _Fit:
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    if len(np.unique(y)) < 2:
        raise AnalysisError(f"outcome '{outcome}' takes a single value in the analysis rows")
    _check_rank(X)
    separated = detect_separation(X.to_numpy(dtype=float), y)
    sm_separation = False
    fit = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.GLM(y, A, family=sm.families.Binomial()).fit(maxiter=100)
            fit = _unpack(result, len(y), separated)
        except (PerfectSeparationError, np.linalg.LinAlgError, ValueError):
            sm_separation = True
    for w in caught:
        if issubclass(w.category, PerfectSeparationWarning):
            sm_separation = True
        elif issubclass(w.category, ConvergenceWarning) and not separated.any() and warn:
            warnings.warn(
                f"logistic model for '{outcome}' did not converge: {w.message}",
                UserWarning,
                stacklevel=_stacklevel(),
            )
    if sm_separation and not separated.any():
        separated[:] = True
    terms = ["(intercept)", *X.columns]
    if separated.any() and warn:
        flagged = [t for t, s in zip(terms, separated, strict=True) if s and t != "(intercept)"]
        warnings.warn(
            f"logistic model for '{outcome}': complete or quasi-complete separation for "
            f"term(s) {flagged or terms[1:]}; their maximum likelihood estimates do not exist "
            "(they diverge), so odds ratios, confidence intervals and p-values of the flagged "
            "rows are meaningless (consider merging categories or penalised (Firth) regression)",
            UserWarning,
            stacklevel=_stacklevel(),
        )
    if fit is None:
        k = A.shape[1]
        nan = np.full(k, np.nan)
        fit = _Fit(nan, nan, nan, np.full((k, k), np.nan), np.nan, len(y), float(len(y) - k),
                   separated)
    return fit


def _fit_linear(X: pd.DataFrame, y: np.ndarray, outcome: str) -> _Fit:
    A = np.column_stack([np.ones(len(X)), X.to_numpy(dtype=float)])
    _check_rank(X)
    if len(y) <= A.shape[1]:
        raise AnalysisError(
            f"linear model for '{outcome}': {len(y)} complete rows for {A.shape[1]} parameters"
        )
    result = sm.OLS(y, A).fit()
    return _unpack(result, len(y), np.zeros(A.shape[1], dtype=bool))


def profile_likelihood_ci(X, y, index: int, alpha: float = 0.05) -> tuple[float, float]:
    """Profile-likelihood confidence interval of one logistic-regression coefficient.

    The profile log-likelihood at ``beta_j = b`` is the maximum over the other parameters
    of the log-likelihood with ``b * x_j`` entered as a fixed offset. The interval is the
    set where ``2 (l_max - l_p(b)) <= chi2_{1, 1-alpha}``; its ends are found with Brent's
    root finder after bracketing outward from the estimate.

    Parameters
    ----------
    X : array_like, shape (n, p)
        Model columns without intercept.
    y : array_like, shape (n,)
        0/1 outcome.
    index : int
        Column of ``X`` (0-based, intercept excluded) whose coefficient is profiled.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    tuple of float
        ``(lower, upper)`` on the log-odds scale; ``-inf``/``inf`` if the profile deviance
        never reaches the threshold on that side (e.g. under separation).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=200)
    >>> y = (rng.uniform(size=200) < 1 / (1 + np.exp(-x))).astype(float)
    >>> lo, hi = profile_likelihood_ci(x[:, None], y, 0)
    >>> bool(lo < 1 < hi)
    True
    """
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float)
    A = np.column_stack([np.ones(len(X)), X])
    j = index + 1
    full = sm.GLM(y, A, family=sm.families.Binomial()).fit()
    beta, se, llf = float(full.params[j]), float(full.bse[j]), float(full.llf)
    others = np.delete(A, j, axis=1)
    start = np.delete(np.asarray(full.params), j)
    threshold = scipy.stats.chi2.ppf(1 - alpha, 1)
    xj = A[:, j]

    def excess(b: float) -> float:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = sm.GLM(y, others, family=sm.families.Binomial(), offset=b * xj).fit(
                start_params=start
            )
            profile_llf = float(fit.llf)
        return 2.0 * (llf - profile_llf) - threshold

    z = scipy.stats.norm.ppf(1 - alpha / 2)
    ends = []
    for sign in (-1.0, 1.0):
        step = z * se
        inner = beta
        outer = beta + sign * step
        found = False
        for _ in range(40):
            if excess(outer) > 0:
                found = True
                break
            inner, step = outer, step * 2.0
            outer = beta + sign * step
        if not found:
            ends.append(sign * np.inf)
            continue
        lo_b, hi_b = sorted((inner, outer))
        ends.append(scipy.optimize.brentq(excess, lo_b, hi_b, xtol=1e-10, rtol=1e-12))
    return float(ends[0]), float(ends[1])


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


def _term_rows(X: pd.DataFrame, fit: _Fit, ci_bounds: np.ndarray, p_values: np.ndarray,
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


def _wald_bounds(fit: _Fit, level: float = 0.95, df: float | None = None) -> np.ndarray:
    q = scipy.stats.norm.ppf(0.5 + level / 2) if df is None else scipy.stats.t.ppf(0.5 + level / 2, df)
    return np.column_stack([fit.params - q * fit.bse, fit.params + q * fit.bse])


def _complete_rows(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return df.loc[df[list(columns)].notna().all(axis=1), list(columns)]


def _logistic_complete(df, predictors, outcome, variables, ci, splines, label, what):
    data = _complete_rows(df, [*predictors, outcome])
    if len(data) == 0:
        raise AnalysisError(f"no complete rows for outcome '{outcome}' and {list(predictors)}")
    y = _outcome_binary(data, outcome, variables).to_numpy()
    X = design_matrix(data, predictors, variables, splines=splines)
    if X.shape[1] == 0:
        raise AnalysisError(f"no model terms left for {list(predictors)} after dropping")
    _warn_epp(y, X.shape[1], outcome, what)
    fit = _fit_logistic(X, y, outcome)
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
    predictors = _as_list(predictors, "predictors")
    _require_columns(df, [*predictors, outcome])
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
    from analysis.imputation import mice_fits, rubins_rules

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
        ``"mi"``: multiple imputation by chained equations (:func:`analysis.imputation.mice_fits`)
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
    predictors = _as_list(predictors, "predictors")
    _require_columns(df, [*predictors, outcome])
    _outcome_binary(df, outcome, variables)
    what = "multivariable logistic model"
    n_missing_outcome = int(df[outcome].isna().sum())
    data = df
    if n_missing_outcome:
        warnings.warn(
            f"outcome '{outcome}' is missing in {n_missing_outcome} rows; they are excluded",
            UserWarning,
            stacklevel=_stacklevel(),
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
    _warn_epp(y, len(rows), outcome, what)
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
    predictors = _as_list(predictors, "predictors")
    _require_columns(df, [*predictors, outcome])
    _outcome_continuous(df, outcome, variables)
    n_missing_outcome = int(df[outcome].isna().sum())
    data = df
    if n_missing_outcome:
        warnings.warn(
            f"outcome '{outcome}' is missing in {n_missing_outcome} rows; they are excluded",
            UserWarning,
            stacklevel=_stacklevel(),
        )
        data = df.loc[df[outcome].notna()]
    has_missing = bool(data[predictors].isna().any().any())
    if has_missing and missing == "mi":
        rows, _ = _mi_table(data, predictors, outcome, variables, splines, m, seed, "linear")
        cols = [*LINEAR_COLUMNS, "variable", "reference", "se", "df", "fmi"]
        return rows[cols].reset_index(drop=True)
    label = "complete cases" if has_missing else "complete data (no missing values)"
    sub = _complete_rows(data, [*predictors, outcome])
    y = _outcome_continuous(sub, outcome, variables).to_numpy()
    X = design_matrix(sub, predictors, variables, splines=splines)
    fit = _fit_linear(X, y, outcome)
    bounds = _wald_bounds(fit, df=fit.df_resid)
    rows = _term_rows(X, fit, bounds, fit.pvalues, len(y), f"linear OLS, t CI, {label}")
    return rows[[*LINEAR_COLUMNS, "variable", "reference", "se"]].reset_index(drop=True)


def nonlinearity_test(
    df: pd.DataFrame,
    predictor: str,
    outcome: str,
    variables: Mapping[str, Mapping],
    knots: int | Sequence[float] = 4,
    adjust_for: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Likelihood-ratio test of the nonlinear spline terms of one predictor.

    Compares a model with a restricted cubic spline of ``predictor`` to the model with
    ``predictor`` entered linearly (both optionally adjusted for ``adjust_for``), on the
    complete cases. Logistic for a binary outcome, linear (Gaussian likelihood) otherwise.

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data.
    predictor : str
        Numeric predictor to test.
    outcome : str
        Binary or continuous outcome.
    variables : mapping
        Codebook.
    knots : int or sequence of float, default 4
        Number of knots (Harrell's quantiles) or the knots themselves.
    adjust_for : sequence of str, optional
        Other predictors entered in both models.

    Returns
    -------
    pandas.DataFrame
        One row: ``variable, df, chi2, p_value`` then ``n, knots`` (knots as a list).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.uniform(-3, 3, 400)})
    >>> df["y"] = df["x"] ** 2 + rng.normal(size=400)
    >>> codebook = {"x": {"type": "numeric"}, "y": {"type": "numeric"}}
    >>> row = nonlinearity_test(df, "x", "y", codebook).iloc[0]
    >>> int(row["df"]), bool(row["p_value"] < 1e-10)
    (2, True)
    """
    adjust = list(adjust_for or [])
    if predictor in adjust:
        raise AnalysisError(f"predictor '{predictor}' is also listed in adjust_for")
    _require_columns(df, [predictor, outcome, *adjust])
    ptype = _spec(variables, predictor)["type"]
    if ptype not in {"numeric", "integer"}:
        raise AnalysisError(f"column '{predictor}' has type '{ptype}'; a spline needs a numeric predictor")
    otype = _spec(variables, outcome)["type"]
    sub = _complete_rows(df, [predictor, outcome, *adjust])
    preds = [predictor, *adjust]
    X_lin = design_matrix(sub, preds, variables)
    if predictor not in X_lin.attrs["variable_terms"]:
        raise AnalysisError(f"predictor '{predictor}' is constant in the complete cases")
    X_rcs = design_matrix(sub, preds, variables, splines={predictor: knots})
    if otype == "binary":
        y = _outcome_binary(sub, outcome, variables).to_numpy()
        full = _fit_logistic(X_rcs, y, outcome)
        lin = _fit_logistic(X_lin, y, outcome, warn=False)
    else:
        y = _outcome_continuous(sub, outcome, variables).to_numpy()
        full = _fit_linear(X_rcs, y, outcome)
        lin = _fit_linear(X_lin, y, outcome)
    dof = X_rcs.shape[1] - X_lin.shape[1]
    chi2 = max(2.0 * (full.llf - lin.llf), 0.0)
    return pd.DataFrame(
        {
            "variable": [predictor],
            "df": [int(dof)],
            "chi2": [chi2],
            "p_value": [float(scipy.stats.chi2.sf(chi2, dof))],
            "n": [len(y)],
            "knots": [X_rcs.attrs["knots"][predictor]],
        }
    )
