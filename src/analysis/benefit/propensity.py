"""Confounding and overlap in an observational comparison of treatment options (PATH statement).

Patients in an observational cohort were not randomised to the options, so a comparison of
options is confounded by whatever led clinicians and patients to choose them.  This module
does the design work that precedes any treatment-effect estimate:

* the **propensity model**: ``P(option | confounders)``, a logistic model (multinomial for
  more than two options) on the study's preprocessing (imputation, one-hot coded levels,
  standardised numeric columns) with a mild L2 penalty (``C = 1`` on standardised
  predictors), because small cohorts separate;
* **overlap (common support)**: for each option ``k`` the range of ``e_k(x)`` shared by all
  groups of patients who received the options; patients outside it have no comparable
  patients under some option, and new patients outside it are outside the evidence;
* **generalised overlap weights** (Li, Morgan & Zaslavsky, JASA 2018; Li & Li, Ann Appl
  Stat 2019): ``h(x) = 1 / sum_k 1 / e_k(x)`` and ``w_i = h(x_i) / e_{t_i}(x_i)``; for two
  options ``1 - e`` for the treated and ``e`` for the controls.  They target the population
  with the most overlap, are bounded (no extreme weights), and, for two options with a
  main-effects logistic propensity model fitted by unpenalised maximum likelihood, give
  *exact* balance of the weighted means of every covariate of the model (the score
  equations of the logistic likelihood are the balance equations).  With the default
  mild penalty the balance is close to, not exactly, zero;
* **balance diagnostics**: standardised mean differences (SMD, option minus reference)
  before and after weighting, ``(m1 - m0) / sqrt((s1^2 + s0^2) / 2)``; ``0.1`` is the
  usual threshold of a meaningful imbalance.

Balance on measured confounders says nothing about unmeasured ones: these remain
observational comparisons.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> n = 200
>>> X = pd.DataFrame({"age": rng.normal(50, 10, n), "male": rng.integers(0, 2, n)})
>>> treated = rng.random(n) < 1 / (1 + np.exp(-(X["age"] - 50) / 10))
>>> t = np.where(treated, "new", "old")
>>> cb = {"age": {"type": "numeric"}, "male": {"type": "binary"}}
>>> fitted, e = propensity_scores(propensity_pipeline(cb, ["age", "male"]), X, t, ["old", "new"])
>>> e.columns.tolist()
['old', 'new']
>>> w = overlap_weights(e, t, ["old", "new"])
>>> table = standardized_differences(X, t, ["old", "new"], "old", cb, weights=w)
>>> bool((table["smd_weighted"].abs() < table["smd_unweighted"].abs()).all())
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from analysis.errors import AnalysisError
from analysis.models.preprocessing import NUMERIC_TYPES, build_preprocessor

__all__ = [
    "BALANCE_COLUMNS",
    "SMD_THRESHOLD",
    "balance_summary",
    "common_support",
    "overlap_weights",
    "propensity_pipeline",
    "propensity_scores",
    "score_propensity",
    "standardized_differences",
    "treatment_labels",
    "within_support",
]

#: Columns of :func:`standardized_differences`.
BALANCE_COLUMNS = ("variable", "level", "option", "smd_unweighted", "smd_weighted")
#: The usual threshold of a meaningful absolute standardised difference.
SMD_THRESHOLD = 0.1


# --------------------------------------------------------------------------- helpers

def treatment_labels(values) -> np.ndarray:
    """Treatment values as an object array of str, ``None`` where missing.

    Whole floats are written without the decimals (``1.0`` -> ``"1"``), so a 0/1 column
    read as float matches options ``"0"``/``"1"``.

    Examples
    --------
    >>> treatment_labels([1.0, 0, None, "a"]).tolist()
    ['1', '0', None, 'a']
    """
    out = []
    for v in pd.Series(values, dtype=object).tolist():
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
            out.append(None)
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(str(int(v)))
        else:
            out.append(str(v))
    return np.array(out, dtype=object)


def _options(options) -> list[str]:
    if isinstance(options, str):
        raise AnalysisError("options must be a sequence of option names, not one string")
    opts = [str(o) for o in options]
    if len(opts) < 2:
        raise AnalysisError(f"at least two options are needed, got {opts}")
    if len(set(opts)) != len(opts):
        raise AnalysisError(f"options contain duplicates: {opts}")
    return opts


def _score_matrix(scores, options: list[str]) -> np.ndarray:
    if not isinstance(scores, pd.DataFrame):
        raise AnalysisError(f"scores must be a DataFrame with one column per option, got "
                            f"{type(scores).__name__}")
    missing = [o for o in options if o not in scores.columns]
    if missing:
        raise AnalysisError(f"scores lack column(s) for option(s) {missing}")
    e = scores[options].to_numpy(dtype=float)
    finite = e[np.isfinite(e)]
    if finite.size and (finite.min() < 0 or finite.max() > 1):
        raise AnalysisError("propensity scores must lie in [0, 1]")
    return e


def _treatment_for(scores_or_x, treatment) -> np.ndarray:
    t = treatment_labels(treatment)
    if len(t) != len(scores_or_x):
        raise AnalysisError(f"treatment has {len(t)} values for {len(scores_or_x)} rows")
    return t


# --------------------------------------------------------------------------- the model

def propensity_pipeline(codebook: Mapping[str, Mapping], confounders: Sequence[str], *,
                        seed: int = 0) -> Pipeline:
    """The propensity model: preprocessing from the codebook and a mildly penalised logistic model.

    Parameters
    ----------
    codebook : mapping of str to dict
        ``study.codebook(confounders)``: per column ``type`` (numeric, integer, binary or
        categorical) and, for categorical columns, ``levels``.
    confounders : sequence of str
        The columns the choice of option may depend on (not the treatment itself).
    seed : int, default 0
        ``random_state`` of the logistic model (lbfgs is deterministic; kept for a uniform
        interface).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted: ``preprocess`` (:func:`analysis.models.preprocessing.build_preprocessor`)
        then ``model`` (``LogisticRegression(C=1.0, max_iter=2000)``; multinomial for more
        than two options).

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"}}
    >>> [name for name, _ in propensity_pipeline(cb, ["age"]).steps]
    ['preprocess', 'model']
    """
    confounders = list(confounders)
    return Pipeline([
        ("preprocess", build_preprocessor(codebook, confounders)),
        ("model", LogisticRegression(C=1.0, max_iter=2000, random_state=seed)),
    ])


def score_propensity(fitted_pipeline, X: pd.DataFrame, options: Sequence[str]) -> pd.DataFrame:
    """Propensity scores of (new) patients from a fitted propensity model.

    Parameters
    ----------
    fitted_pipeline : fitted sklearn classifier
        From :func:`propensity_scores`; its ``classes_`` must be the options.
    X : pandas.DataFrame
        The confounders of the patients.
    options : sequence of str
        Column order of the result.

    Returns
    -------
    pandas.DataFrame
        One column per option (named by the option, in ``options`` order), index of ``X``;
        each row sums to 1.

    Raises
    ------
    AnalysisError
        If the model was fitted on other options.

    Examples
    --------
    >>> cb = {"x": {"type": "numeric"}}
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> t = ["b", "a", "b", "a", "a", "b"]
    >>> fitted, _ = propensity_scores(propensity_pipeline(cb, ["x"]), X, t, ["b", "a"])
    >>> score_propensity(fitted, X.head(2), ["b", "a"]).sum(axis=1).round(12).tolist()
    [1.0, 1.0]
    """
    options = _options(options)
    classes = [str(c) for c in treatment_labels(fitted_pipeline.classes_)]
    if sorted(classes) != sorted(options):
        raise AnalysisError(f"the propensity model was fitted on options {classes}, not {options}")
    proba = np.asarray(fitted_pipeline.predict_proba(X), dtype=float)
    order = [classes.index(o) for o in options]
    index = X.index if isinstance(X, pd.DataFrame) else None
    return pd.DataFrame(proba[:, order], columns=options, index=index)


def propensity_scores(pipeline, X: pd.DataFrame, treatment, options: Sequence[str]):
    """Fit the propensity model on the patients who received one of the options and score everyone.

    Parameters
    ----------
    pipeline : sklearn classifier
        Unfitted (:func:`propensity_pipeline`); a clone is fitted.
    X : pandas.DataFrame
        Confounders, one row per patient.
    treatment : array_like
        The option each patient received (str, or 0/1 compared as ``"0"``/``"1"``);
        rows with another or a missing value are not used in the fit but are scored.
    options : sequence of str
        The options compared; the column order of the scores.

    Returns
    -------
    fitted_pipeline : sklearn classifier
    scores : pandas.DataFrame
        :func:`score_propensity` of every row of ``X``.

    Raises
    ------
    AnalysisError
        On lengths that differ, or an option received by fewer than 2 patients.

    Examples
    --------
    >>> cb = {"x": {"type": "numeric"}}
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0]})
    >>> _, e = propensity_scores(propensity_pipeline(cb, ["x"]), X, [0, 1, 0, 1, None], ["1", "0"])
    >>> e.columns.tolist(), len(e)
    (['1', '0'], 5)
    """
    options = _options(options)
    t = _treatment_for(X, treatment)
    counts = {o: int(np.sum(t == o)) for o in options}
    few = {o: n for o, n in counts.items() if n < 2}
    if few:
        raise AnalysisError(f"option(s) received by fewer than 2 patients: {few}; the "
                            "propensity model cannot be fitted")
    keep = np.isin(t.astype(str), options) & pd.notna(t)
    Xfit = X.iloc[np.flatnonzero(keep)] if isinstance(X, pd.DataFrame) else np.asarray(X)[keep]
    fitted = clone(pipeline).fit(Xfit, t[keep].astype(str))
    return fitted, score_propensity(fitted, X, options)


# --------------------------------------------------------------------------- weights and overlap

def overlap_weights(scores: pd.DataFrame, treatment, options: Sequence[str]) -> np.ndarray:
    """Generalised overlap weights ``h(x) / e_t(x)`` with ``h(x) = 1 / sum_k 1 / e_k(x)``.

    Computed as ``1 / (1 + e_t * sum_{k != t} 1 / e_k)``, which is the same number and
    has the right limits when a score is 0.

    Parameters
    ----------
    scores : pandas.DataFrame
        Propensity scores, one column per option (:func:`propensity_scores`).
    treatment : array_like
        The option each patient received.
    options : sequence of str

    Returns
    -------
    numpy.ndarray
        One weight per row; NaN where the treatment is not one of the options (or missing).

    Examples
    --------
    >>> e = pd.DataFrame({"a": [0.2, 0.7], "b": [0.8, 0.3]})
    >>> overlap_weights(e, ["b", "a"], ["a", "b"]).round(2).tolist()   # 1 - e_b, 1 - e_a
    [0.2, 0.3]
    """
    options = _options(options)
    e = _score_matrix(scores, options)
    t = _treatment_for(e, treatment)
    w = np.full(len(t), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / e
        for k, o in enumerate(options):
            rows = t == o
            if not rows.any():
                continue
            others = np.delete(inv[rows], k, axis=1).sum(axis=1)
            ek = e[rows, k]
            prod = np.where(ek == 0, 0.0, ek * others)
            w[rows] = 1.0 / (1.0 + prod)
    return w


def common_support(scores: pd.DataFrame, treatment, options: Sequence[str]):
    """Patients inside the common support of the propensity scores, and its bounds.

    For each option ``k`` the common range of ``e_k`` is ``[max_g min_{i in g} e_k(x_i),
    min_g max_{i in g} e_k(x_i)]`` over the groups ``g`` of patients who received each
    option; a patient is inside when every ``e_k`` lies within its range.

    Parameters
    ----------
    scores : pandas.DataFrame
        One column per option.
    treatment : array_like
        Received option; rows with another value are judged but do not set the bounds.
    options : sequence of str

    Returns
    -------
    inside : numpy.ndarray of bool
        One per row (False where a score is missing).
    bounds : dict of str to (float, float)
        Option -> (lower, upper); lower > upper means no overlap at all.

    Examples
    --------
    >>> e = pd.DataFrame({"a": [0.2, 0.6, 0.4, 0.8], "b": [0.8, 0.4, 0.6, 0.2]})
    >>> inside, bounds = common_support(e, ["a", "a", "b", "b"], ["a", "b"])
    >>> inside.tolist(), bounds["a"]
    ([False, True, True, False], (0.4, 0.6))
    """
    options = _options(options)
    e = _score_matrix(scores, options)
    t = _treatment_for(e, treatment)
    groups = [t == o for o in options]
    if not all(g.any() for g in groups):
        empty = [o for o, g in zip(options, groups, strict=True) if not g.any()]
        raise AnalysisError(f"no patient received option(s) {empty}: no common support")
    bounds = {}
    for k, o in enumerate(options):
        lower = max(float(np.nanmin(e[g, k])) for g in groups)
        upper = min(float(np.nanmax(e[g, k])) for g in groups)
        bounds[o] = (lower, upper)
    return within_support(scores, bounds), bounds


def within_support(scores: pd.DataFrame, bounds: Mapping[str, tuple[float, float]]) -> np.ndarray:
    """Whether (new) patients lie in the common support stored by :func:`common_support`.

    Parameters
    ----------
    scores : pandas.DataFrame
        Propensity scores with a column per option named in ``bounds``.
    bounds : mapping of str to (float, float)

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> within_support(pd.DataFrame({"a": [0.3, 0.45], "b": [0.7, 0.55]}),
    ...                {"a": (0.4, 0.5), "b": (0.5, 0.6)}).tolist()
    [False, True]
    """
    options = list(bounds)
    e = _score_matrix(scores, options)
    inside = np.ones(len(e), dtype=bool)
    for k, o in enumerate(options):
        lower, upper = bounds[o]
        with np.errstate(invalid="ignore"):
            inside &= (e[:, k] >= lower) & (e[:, k] <= upper)
    return inside


# --------------------------------------------------------------------------- balance

def _indicators(values: pd.Series, name: str, spec: Mapping):
    """(level, float array with NaN for missing) per summarised quantity of one variable."""
    kind = spec.get("type")
    if kind in NUMERIC_TYPES:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        return [("", x, False)]
    if kind == "binary":
        x = pd.to_numeric(values.astype(object).where(values.notna(), None),
                          errors="coerce").to_numpy(dtype=float)
        ok = np.isnan(x) | np.isin(x, [0.0, 1.0])
        if not ok.all():
            raise AnalysisError(f"binary column '{name}' is not coded 0/1")
        return [("", x, True)]
    if kind == "categorical":
        levels = [str(v) for v in spec.get("levels") or []]
        if len(levels) < 2:
            raise AnalysisError(f"categorical column '{name}' needs at least two codebook levels")
        s = treatment_labels(values)
        missing = pd.isna(s)
        out = []
        for level in levels:
            x = np.where(missing, np.nan, (s == level).astype(float))
            out.append((level, x, True))
        return out
    raise AnalysisError(f"column '{name}' has type {kind!r}; balance needs numeric, integer, "
                        "binary or categorical columns")


def _moments(x: np.ndarray, w: np.ndarray | None, proportion: bool):
    """Mean and variance of ``x`` (weighted by ``w`` if given); NaN when undefined."""
    if w is None:
        n = len(x)
        if n == 0:
            return np.nan, np.nan
        m = float(np.mean(x))
        if proportion:
            return m, m * (1 - m)
        return m, float(np.var(x, ddof=1)) if n > 1 else np.nan
    total = float(np.sum(w))
    if len(x) == 0 or total <= 0:
        return np.nan, np.nan
    m = float(np.sum(w * x) / total)
    if proportion:
        return m, m * (1 - m)
    denom = total ** 2 - float(np.sum(w ** 2))
    if denom <= 0:
        return m, np.nan
    return m, float(total / denom * np.sum(w * (x - m) ** 2))


def _smd(g1, g0) -> float:
    (m1, v1), (m0, v0) = g1, g0
    if not np.all(np.isfinite([m1, m0, v1, v0])):
        return np.nan
    diff = m1 - m0
    pooled = np.sqrt((v1 + v0) / 2)
    if pooled == 0:
        return 0.0 if diff == 0 else float(np.copysign(np.inf, diff))
    return float(diff / pooled)


def standardized_differences(X: pd.DataFrame, treatment, options: Sequence[str], reference: str,
                             codebook: Mapping[str, Mapping], weights=None) -> pd.DataFrame:
    """Standardised mean differences of the confounders, option minus reference, before and after weighting.

    ``SMD = (m1 - m0) / sqrt((s1^2 + s0^2) / 2)`` with ``m1, s1^2`` the mean and variance
    among the patients who received the option and ``m0, s0^2`` among those who received
    the reference.  Numeric columns use the sample variance (``ddof = 1``; weighted: the
    reliability-weights form ``sum w / ((sum w)^2 - sum w^2) * sum w (x - m)^2``); binary
    columns and each level of a categorical column use ``p (1 - p)``.  The unweighted SMD
    equals ``tableone``'s up to sign (ours is option minus reference).  Missing values are
    left out per variable.  0/0 gives 0; a non-zero difference with zero variance gives
    +-inf.

    Parameters
    ----------
    X : pandas.DataFrame
        The confounders.
    treatment : array_like
        The option each patient received.
    options : sequence of str
    reference : str
        One of ``options``.
    codebook : mapping of str to dict
        The confounders to summarise (every key must be a column of ``X``), with ``type``
        and, for categorical columns, ``levels``.
    weights : array_like, optional
        One weight per row (:func:`overlap_weights`); ``smd_weighted`` is NaN without.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BALANCE_COLUMNS`: one row per confounder (per codebook level for a
        categorical one; ``level`` is ``""`` otherwise) and non-reference option.

    Raises
    ------
    AnalysisError
        On a reference outside ``options``, a column missing from ``X``, lengths that
        differ, or negative weights.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [40.0, 50.0, 60.0, 70.0]})
    >>> t = standardized_differences(X, ["a", "a", "b", "b"], ["a", "b"], "a",
    ...                              {"age": {"type": "numeric"}})
    >>> t[["variable", "option", "smd_unweighted"]].round(3).to_dict("records")
    [{'variable': 'age', 'option': 'b', 'smd_unweighted': 2.828}]
    """
    options = _options(options)
    reference = str(reference)
    if reference not in options:
        raise AnalysisError(f"reference {reference!r} is not one of the options {options}")
    if not isinstance(X, pd.DataFrame):
        raise AnalysisError(f"X must be a pandas DataFrame, got {type(X).__name__}")
    missing = [c for c in codebook if c not in X.columns]
    if missing:
        raise AnalysisError(f"column(s) {missing} of the codebook are not in X")
    t = _treatment_for(X, treatment)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=float)
        if w.shape != (len(X),):
            raise AnalysisError(f"weights must have one value per row ({len(X)}), got {w.shape}")
        if np.any(w[np.isfinite(w)] < 0):
            raise AnalysisError("weights must not be negative")
    in_ref = t == reference
    rows = []
    for name, spec in codebook.items():
        for level, x, proportion in _indicators(X[name].reset_index(drop=True), name, spec):
            observed = ~np.isnan(x)
            for option in options:
                if option == reference:
                    continue
                in_opt = t == option
                g1, g0 = observed & in_opt, observed & in_ref
                smd_u = _smd(_moments(x[g1], None, proportion), _moments(x[g0], None, proportion))
                smd_w = np.nan
                if w is not None:
                    g1w, g0w = g1 & np.isfinite(w), g0 & np.isfinite(w)
                    smd_w = _smd(_moments(x[g1w], w[g1w], proportion),
                                 _moments(x[g0w], w[g0w], proportion))
                rows.append({"variable": name, "level": level, "option": option,
                             "smd_unweighted": smd_u, "smd_weighted": smd_w})
    return pd.DataFrame(rows, columns=list(BALANCE_COLUMNS))


def _largest(values: pd.Series) -> float:
    a = np.abs(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float))
    a = a[~np.isnan(a)]
    return float(a.max()) if a.size else np.nan


def balance_summary(table: pd.DataFrame) -> str:
    """One plain-English line on the balance in a :func:`standardized_differences` table.

    Examples
    --------
    >>> t = pd.DataFrame({"variable": ["age", "sex"], "level": ["", ""], "option": ["b", "b"],
    ...                   "smd_unweighted": [0.41, -0.2], "smd_weighted": [0.0, 0.001]})
    >>> balance_summary(t)
    'largest absolute standardised difference 0.41 before and 0.00 after overlap weighting (0.1 is the usual threshold)'
    """
    missing = [c for c in ("smd_unweighted", "smd_weighted") if c not in table.columns]
    if missing:
        raise AnalysisError(f"table lacks column(s) {missing}")
    before, after = _largest(table["smd_unweighted"]), _largest(table["smd_weighted"])

    def fmt(v: float) -> str:
        return "not available" if np.isnan(v) else ("infinite" if np.isinf(v) else f"{v:.2f}")

    threshold = f"({SMD_THRESHOLD:g} is the usual threshold)"
    if np.isnan(after):
        return f"largest absolute standardised difference {fmt(before)} without weighting {threshold}"
    return (f"largest absolute standardised difference {fmt(before)} before and {fmt(after)} "
            f"after overlap weighting {threshold}")
