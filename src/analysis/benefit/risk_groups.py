"""Risk-based analysis of treatment benefit (the PATH statement, Kent et al., Ann Intern Med 2020).

The first step the PATH statement asks for: a *treatment-blind* model of baseline risk
(the study's flexible model without the treatment column and its interactions, predictions
cross-fitted so that no patient is scored by a model that saw them), patients grouped by
quarters of predicted risk, and in each group the observed response under each option with
the difference to the reference option, adjusted for baseline risk.

The adjusted difference in a risk group is a g-computation on a logistic model fitted to the
group's patients, ``logit P(y = 1) = b0 + b_option + c * logit(risk)``: the mean predicted
response of the group's patients had all received the option minus had all received the
reference, with a delta-method CI from the model's covariance.  When that model cannot be
fitted (an option without events or non-events in the group: separation) the row falls
back to the unadjusted difference with Newcombe's hybrid score CI, and ``method`` says so.

These are observational comparisons: patients were not randomised to the options, and
baseline risk adjusts for confounding only as far as the risk model captures it.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> n = 400
>>> risk = rng.uniform(0.1, 0.9, n)
>>> option = rng.choice(["a", "b"], n)
>>> y = (rng.random(n) < np.clip(risk + 0.1 * (option == "b"), 0, 1)).astype(int)
>>> t = benefit_by_risk(y, option, risk, options=["a", "b"], reference="a")
>>> t.columns.tolist()
['risk_group', 'option', 'n', 'events', 'response', 'difference', 'ci_lower', 'ci_upper', 'method']
>>> t["risk_group"].unique().tolist()
['Q1 (lowest risk)', 'Q2', 'Q3', 'Q4 (highest risk)']
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, logit
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold
from statsmodels.discrete.discrete_model import Logit

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import newcombe_difference
from analysis.models.zoo import model_zoo
from analysis.validators import clip_probabilities

__all__ = [
    "BENEFIT_BY_RISK_COLUMNS",
    "benefit_by_risk",
    "cross_fitted_risk",
    "newcombe_difference",
    "treatment_blind_spec",
]

#: Columns of ``tables/benefit_by_risk.csv`` (issue 12's public interface).
BENEFIT_BY_RISK_COLUMNS = ("risk_group", "option", "n", "events", "response", "difference",
                           "ci_lower", "ci_upper", "method")
METHOD_ADJUSTED = ("risk-adjusted difference (g-computation on logit(y) ~ option + "
                   "logit(baseline risk) within the group; delta-method CI)")
METHOD_UNADJUSTED = ("unadjusted difference, Newcombe hybrid score CI (the adjusted model "
                     "cannot be fitted in this group: an option without events or non-events)")
METHOD_REFERENCE = "reference option"


def cross_fitted_risk(pipeline, X: pd.DataFrame, y, *, n_splits: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predicted risk of every patient from a treatment-blind model.

    Each patient is scored by the pipeline fitted on the other folds
    (``StratifiedKFold(n_splits, shuffle=True, random_state=seed)``), so the risk groups are
    not shaped by the model having seen the patient's outcome.

    Parameters
    ----------
    pipeline : sklearn estimator
        Unfitted; fitted (cloned) once per fold.
    X : pandas.DataFrame
        Predictors without the treatment column.
    y : array_like of {0, 1}
    n_splits : int, default 5
    seed : int, default 0

    Returns
    -------
    numpy.ndarray
        Predicted probabilities, one per row of ``X``.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"x": rng.normal(size=100)})
    >>> y = (rng.random(100) < expit(X["x"])).astype(int).to_numpy()
    >>> cross_fitted_risk(LogisticRegression(), X, y).shape
    (100,)
    """
    y = np.asarray(y).astype(int)
    out = np.full(len(y), np.nan)
    folds = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    for train, test in folds.split(X, y):
        fitted = clone(pipeline).fit(X.iloc[train], y[train])
        classes = list(fitted.classes_)
        out[test] = fitted.predict_proba(X.iloc[test])[:, classes.index(1)]
    return out


def _adjusted_differences(y, option, z, options, reference, alpha):
    """g-computation risk differences (option - reference) and delta-method CIs, or None."""
    others = [o for o in options if o != reference]
    design = np.column_stack([np.ones(len(y)), *[(option == o).astype(float) for o in others], z])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # separation shows as non-convergence: checked below
            fit = Logit(y, design).fit(disp=0, method="newton", maxiter=100)
    except Exception:  # noqa: BLE001 - separation or a singular design: no adjusted estimate
        return None
    if not fit.mle_retvals.get("converged", False):
        return None
    params, cov = np.asarray(fit.params), np.asarray(fit.cov_params())
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(cov))) or np.abs(params).max() > 15:
        return None
    eta = params[0] + params[-1] * z
    p0 = expit(eta)
    q = stats.norm.ppf(1 - alpha / 2)
    out = {}
    for k, o in enumerate(others, start=1):
        p1 = expit(eta + params[k])
        d = float(np.mean(p1) - np.mean(p0))
        w1, w0 = p1 * (1 - p1), p0 * (1 - p0)
        grad = np.zeros(len(params))
        grad[0] = np.mean(w1) - np.mean(w0)
        grad[k] = np.mean(w1)
        grad[-1] = np.mean(w1 * z) - np.mean(w0 * z)
        se = float(np.sqrt(grad @ cov @ grad))
        out[o] = (d, d - q * se, d + q * se)
    return out


def benefit_by_risk(y, treatment, risk, *, options: Sequence[str], reference: str,
                    n_groups: int = 4, alpha: float = 0.05) -> pd.DataFrame:
    """Response under each option by quarter of baseline risk, with adjusted differences.

    Parameters
    ----------
    y : array_like of {0, 1}
        Outcome.
    treatment : array_like of str
        The option each patient received; patients with another value (or missing) are
        left out.
    risk : array_like of float
        Treatment-blind predicted baseline risk (:func:`cross_fitted_risk`).
    options : sequence of str
        The options compared (study.yaml ``treatment.options``).
    reference : str
        The option differences are taken against.
    n_groups : int, default 4
        Risk groups: quantiles of ``risk`` (quarters by default).
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        Columns :data:`BENEFIT_BY_RISK_COLUMNS`, one row per risk group and option:
        ``response`` = events / n; ``difference`` with its CI against the reference
        (NaN on the reference row); ``method`` names the estimate.  ``attrs["cut_points"]``
        holds the risk quantiles that bound the groups.

    Raises
    ------
    AnalysisError
        On inputs of different lengths, a reference outside ``options``, or too few
        patients for ``n_groups`` groups.
    """
    y = np.asarray(y, dtype=float)
    treatment = np.asarray(pd.Series(treatment).astype(object).where(pd.notna(treatment), None))
    risk = np.asarray(risk, dtype=float)
    if not (len(y) == len(treatment) == len(risk)):
        raise AnalysisError("y, treatment and risk must have the same length")
    options = [str(o) for o in options]
    if reference not in options or len(options) < 2:
        raise AnalysisError(f"reference {reference!r} must be one of at least two options {options}")
    keep = np.isin(treatment.astype(str), options) & np.isfinite(risk) & np.isfinite(y)
    y, treatment, risk = y[keep].astype(int), treatment[keep].astype(str), risk[keep]
    if len(y) < 2 * n_groups:
        raise AnalysisError(f"{len(y)} patients are too few for {n_groups} risk groups")
    cuts = np.quantile(risk, np.linspace(0, 1, n_groups + 1))
    group = np.clip(np.searchsorted(cuts[1:-1], risk, side="right"), 0, n_groups - 1)
    labels = [f"Q{g + 1}" for g in range(n_groups)]
    labels[0] += " (lowest risk)"
    labels[-1] += " (highest risk)"
    z = logit(clip_probabilities(risk))
    rows = []
    for g in range(n_groups):
        member = group == g
        yg, tg, zg = y[member], treatment[member], z[member]
        present = [o for o in options if (tg == o).any()]
        adjusted = None
        if reference in present and len(present) >= 2:
            adjusted = _adjusted_differences(yg, tg, zg, present, reference, alpha)
        for o in options:
            n = int((tg == o).sum())
            events = int(yg[tg == o].sum())
            row = {"risk_group": labels[g], "option": o, "n": n, "events": events,
                   "response": events / n if n else np.nan, "difference": np.nan,
                   "ci_lower": np.nan, "ci_upper": np.nan, "method": ""}
            n_ref = int((tg == reference).sum())
            if o == reference:
                row["method"] = METHOD_REFERENCE
            elif n == 0 or n_ref == 0:
                row["method"] = "no patients with this option (or the reference) in the group"
            elif adjusted is not None and o in adjusted:
                row["difference"], row["ci_lower"], row["ci_upper"] = adjusted[o]
                row["method"] = METHOD_ADJUSTED
            else:
                ref_events = int(yg[tg == reference].sum())
                d, lo, hi = newcombe_difference(events, n, ref_events, n_ref, alpha=alpha)
                row.update(difference=d, ci_lower=lo, ci_upper=hi, method=METHOD_UNADJUSTED)
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(BENEFIT_BY_RISK_COLUMNS))
    table.attrs["cut_points"] = [float(c) for c in cuts]
    return table


def treatment_blind_spec(codebook, predictors, treatment_column: str, *,
                         interactions=(), smoke: bool = False, seed: int = 0):
    """The study's flexible model without the treatment column: the baseline-risk model.

    Interactions that involve the treatment column are dropped with it; the others stay.

    Parameters
    ----------
    codebook : mapping
        ``study.codebook(predictors)``.
    predictors : sequence of str
        The study's predictors (the treatment column among them).
    treatment_column : str
    interactions : iterable of (str, str), optional
        ``settings.interactions``.
    smoke : bool, default False
    seed : int, default 0

    Returns
    -------
    analysis.models.zoo.ModelSpec

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"}, "drug": {"type": "categorical", "levels": ["a", "b"]}}
    >>> spec = treatment_blind_spec(cb, ["age", "drug"], "drug", interactions=[("age", "drug")])
    >>> list(spec.pipeline["preprocess"].variables), spec.pipeline["preprocess"].interactions
    (['age'], [])
    """
    blind = [p for p in predictors if p != treatment_column]
    if not blind:
        raise AnalysisError("the baseline-risk model needs predictors besides the treatment")
    pairs = [tuple(p) for p in interactions if treatment_column not in p]
    return model_zoo({k: codebook[k] for k in blind}, blind, smoke=smoke, seed=seed,
                     include=["flexible_logistic"], interactions=pairs)["flexible_logistic"]
