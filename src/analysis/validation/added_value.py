"""Added value of new predictors over a baseline model: AUC gain, likelihood ratio, net benefit.

The question "does marker Z add to predictors A, B?" is answered three ways by
:func:`added_value`, all comparing the *baseline* logistic model with the nested *extended*
one (baseline plus the new predictors):

1. **Cross-validated discrimination.**  Repeated stratified K-fold cross-validation
   (:class:`~sklearn.model_selection.RepeatedStratifiedKFold`, ``random_state=seed``; the
   same folds for both models, so the comparison is paired).  Each model is the zoo's plain
   unpenalised ``logistic`` pipeline (:func:`analysis.models.zoo.model_zoo`), whose
   imputation, transformation and scaling are refitted in every training fold.  Each repeat
   gives one out-of-fold probability per patient and model.  On each repeat the AUCs, their
   DeLong variances and the DeLong variance of the paired difference (correlated ROC curves,
   :func:`analysis.evaluation.metrics.delong_test`) are computed; the reported estimate is
   the mean over repeats and the interval is ``mean +/- z * sqrt(mean variance)`` (AUCs
   clipped to ``[0, 1]``).  Averaging the per-repeat variances treats the out-of-fold
   predictions as fixed scores: it captures the sampling of patients but not the
   variability of the refitted models, and it does not shrink with the number of repeats
   (repeats reduce the noise of the fold split, not the sampling error).
2. **Likelihood-ratio test** of the nested models fitted by maximum likelihood on the
   complete cases of the extended predictors and the outcome (the same rows for both
   models).  The design is the codebook design of
   :func:`analysis.regression.design.design_matrix` (numeric as is or with the codebook
   ``transform: log``, binary 0/1, categorical one-hot with the first level as reference)
   and the fit is the project's one maximum-likelihood logistic solver
   :func:`analysis.regression.fits.fit_logistic` (statsmodels' binomial GLM: the same
   likelihood and estimates as statsmodels ``Logit``).  ``statistic = 2 (llf_ext -
   llf_base)`` with ``df`` the number of added design columns.
3. **Net benefit** (:func:`analysis.evaluation.decision.net_benefit`) of both models at a
   few thresholds, from each patient's out-of-fold probability averaged over the repeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import RepeatedStratifiedKFold

from analysis.errors import AnalysisError
from analysis.evaluation.decision import net_benefit
from analysis.evaluation.metrics import delong_auc, delong_test
from analysis.formatting import format_pvalue
from analysis.models.zoo import model_zoo
from analysis.regression.design import design_matrix
from analysis.regression.fits import fit_logistic
from analysis.validation.resampling import fit_final
from analysis.validators import as_list, check_alpha, check_outcome, codebook_entry, require_columns

__all__ = [
    "DEFAULT_ADDED_VALUE_THRESHOLDS",
    "AddedValue",
    "added_value",
    "paired_auc_difference",
]

#: Net-benefit thresholds of :func:`added_value` when none are given: 0.1, 0.2, ..., 0.5.
DEFAULT_ADDED_VALUE_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


def paired_auc_difference(y, p_extended, p_baseline, alpha: float = 0.05
                          ) -> tuple[float, float, float, float]:
    """Difference of two correlated AUCs on the same patients, with DeLong CI and p-value.

    A thin, tuple-returning front of :func:`analysis.evaluation.metrics.delong_test`
    (DeLong, DeLong & Clarke-Pearson 1988): ``AUC(p_extended) - AUC(p_baseline)`` with
    variance ``Var_e + Var_b - 2 Cov_eb`` from the structural components, a Wald interval
    and a two-sided normal p-value.

    Parameters
    ----------
    y : array_like
        Binary outcomes 0/1 with both classes.
    p_extended, p_baseline : array_like
        Predicted probabilities (or any finite scores) of the two models.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    tuple of float
        ``(difference, ci_lower, ci_upper, p_value)``.

    Raises
    ------
    AnalysisError
        On invalid inputs.

    Examples
    --------
    >>> d, lo, hi, p = paired_auc_difference([0, 0, 0, 1, 1, 1], [0.1, 0.3, 0.5, 0.4, 0.6, 0.9],
    ...                                      [0.2, 0.1, 0.6, 0.5, 0.3, 0.7])
    >>> round(d, 4), lo < d < hi, 0 < p <= 1
    (0.1111, True, True)
    """
    r = delong_test(y, p_extended, p_baseline, alpha=alpha)
    return float(r.difference), float(r.ci_lower), float(r.ci_upper), float(r.p_value)


@dataclass(frozen=True)
class AddedValue:
    """Result of :func:`added_value`.

    Attributes
    ----------
    auc : pandas.DataFrame
        ``model, predictors, auc, ci_lower, ci_upper`` for ``baseline``, ``extended`` and
        ``difference`` (extended minus baseline; ``predictors`` lists the added ones).
    lr_test : dict
        ``statistic, df, p_value, n`` of the likelihood-ratio test.
    net_benefit : pandas.DataFrame
        ``threshold, net_benefit_baseline, net_benefit_extended, difference``.
    difference_p_value : float
        Two-sided p-value of the averaged paired DeLong comparison.
    predictions : pandas.DataFrame
        ``y, baseline, extended``: each patient's out-of-fold probability, mean over repeats.
    added : tuple of str
        The predictors in ``extended`` but not in ``baseline``.
    settings : dict
        ``n_splits, n_repeats, seed, alpha``.

    Examples
    --------
    >>> AddedValue.__dataclass_params__.frozen
    True
    """

    auc: pd.DataFrame
    lr_test: dict
    net_benefit: pd.DataFrame
    difference_p_value: float = float("nan")
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    added: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """One plain-English sentence with the AUC difference (CI) and the LR test.

        Examples
        --------
        >>> auc = pd.DataFrame({"model": ["baseline", "extended", "difference"],
        ...                     "predictors": ["a", "a, z", "z"], "auc": [0.7, 0.8, 0.1],
        ...                     "ci_lower": [0.6, 0.7, 0.02], "ci_upper": [0.8, 0.9, 0.18]})
        >>> r = AddedValue(auc, {"statistic": 9.0, "df": 1, "p_value": 0.0027, "n": 100},
        ...                pd.DataFrame(), added=("z",), settings={"alpha": 0.05, "n_splits": 5,
        ...                "n_repeats": 5})
        >>> print(r.summary())
        Adding z to the baseline predictors changed the cross-validated AUC from 0.70 to 0.80 (difference 0.10, 95% CI 0.02 to 0.18; 5 x 5-fold cross-validation); likelihood-ratio test p = 0.003 (chi-square 9.00 on 1 df, n = 100).
        """
        rows = self.auc.set_index("model")
        level = round(100 * (1 - self.settings.get("alpha", 0.05)))
        diff = rows.loc["difference"]
        p = format_pvalue(self.lr_test.get("p_value", np.nan)) or "not available"
        p_text = f"p < {p[1:]}" if p.startswith("<") else f"p = {p}"
        added = ", ".join(self.added) or "the new predictors"
        return (
            f"Adding {added} to the baseline predictors changed the cross-validated AUC from "
            f"{rows.loc['baseline', 'auc']:.2f} to {rows.loc['extended', 'auc']:.2f} "
            f"(difference {diff['auc']:.2f}, {level}% CI {diff['ci_lower']:.2f} to "
            f"{diff['ci_upper']:.2f}; {self.settings.get('n_repeats')} x "
            f"{self.settings.get('n_splits')}-fold cross-validation); likelihood-ratio test "
            f"{p_text} (chi-square {self.lr_test['statistic']:.2f} on {self.lr_test['df']} df, "
            f"n = {self.lr_test['n']})."
        )


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise AnalysisError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _lr_test(X: pd.DataFrame, y: np.ndarray, baseline: list[str], extended: list[str],
             codebook: Mapping[str, Mapping]) -> dict:
    rows = X[extended].notna().all(axis=1).to_numpy()
    data, yc = X.loc[rows, extended], y[rows]
    if yc.size == 0 or yc.min() == yc.max():
        raise AnalysisError("the complete cases of the extended predictors hold a single "
                            "outcome class; the likelihood-ratio test is not possible")
    variables = {name: codebook[name] for name in extended}
    design_e = design_matrix(data, extended, variables)
    design_b = design_e[[t for t in design_e.columns
                         if design_e.attrs["term_variable"].get(t) in set(baseline)]]
    fit_b = fit_logistic(design_b, yc, outcome="outcome")
    fit_e = fit_logistic(design_e, yc, outcome="outcome")
    df = int(design_e.shape[1] - design_b.shape[1])
    statistic = float(max(2.0 * (fit_e.llf - fit_b.llf), 0.0))
    p = float(stats.chi2.sf(statistic, df)) if df > 0 and np.isfinite(statistic) else float("nan")
    return {"statistic": statistic, "df": df, "p_value": p, "n": int(yc.size)}


def added_value(
    X: pd.DataFrame,
    y,
    *,
    baseline: Sequence[str],
    extended: Sequence[str],
    codebook: Mapping[str, Mapping],
    n_splits: int = 5,
    n_repeats: int = 5,
    thresholds=None,
    seed: int = 0,
    alpha: float = 0.05,
    model: str = "logistic",
) -> AddedValue:
    """Does ``extended`` (baseline plus new predictors) predict better than ``baseline``?

    See the module docstring for the methods: cross-validated AUCs and their paired
    difference with averaged DeLong intervals, a likelihood-ratio test of the nested
    logistic models on complete cases, and net benefit of the out-of-fold predictions.

    Parameters
    ----------
    X : pandas.DataFrame
        Predictor columns (numeric as float with NaN, categorical as strings), one row per
        patient.
    y : array_like
        Binary outcome 0/1 aligned with the rows of ``X`` (no missing values).
    baseline : sequence of str
        Predictors of the baseline model.
    extended : sequence of str
        Predictors of the extended model; must contain every baseline predictor and at
        least one more.
    codebook : mapping of str to dict
        Codebook entries (``type``, ``levels``, ``transform``) of the predictors.
    n_splits, n_repeats : int, default 5, 5
        Folds and repeats of the repeated stratified cross-validation.
    thresholds : array_like, optional
        Net-benefit thresholds strictly between 0 and 1; default 0.1, 0.2, ..., 0.5.
    seed : int, default 0
        Seed of the fold split and of the zoo's pipelines.
    alpha : float, default 0.05
        One minus the confidence level.
    model : str, default "logistic"
        The zoo model fitted to both sets (e.g. ``"flexible_logistic"``, the study's
        reference: splines and a ridge penalty tuned inside each training fold); a model
        with a grid is tuned by :func:`~analysis.validation.resampling.fit_final` in each
        training fold.

    Returns
    -------
    AddedValue

    Raises
    ------
    AnalysisError
        If ``extended`` lacks a baseline predictor or adds none, a column is missing from
        ``X`` or the codebook, ``y`` is not a binary outcome of the right length, or the
        settings are invalid (e.g. more folds than events).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = pd.DataFrame({"a": rng.normal(size=80), "z": rng.normal(size=80)})
    >>> y = rng.binomial(1, 1 / (1 + np.exp(-(X["a"] + 2 * X["z"]))))
    >>> cb = {"a": {"type": "numeric"}, "z": {"type": "numeric"}}
    >>> r = added_value(X, y, baseline=["a"], extended=["a", "z"], codebook=cb, n_repeats=2)
    >>> r.auc["model"].tolist(), bool(r.auc["auc"].iloc[2] > 0)
    (['baseline', 'extended', 'difference'], True)
    """
    baseline = as_list(baseline, "baseline predictors")
    extended = as_list(extended, "extended predictors")
    lacking = [c for c in baseline if c not in extended]
    if lacking:
        raise AnalysisError(f"extended must contain every baseline predictor; it lacks {lacking}")
    added = [c for c in extended if c not in baseline]
    if not added:
        raise AnalysisError("extended adds no predictor to baseline")
    require_columns(X, extended)
    for name in extended:
        codebook_entry(codebook, name)
    yv = check_outcome(np.asarray(y), name="y")
    if yv.size != len(X):
        raise AnalysisError(f"y must have one value per row of X ({len(X)}), got {yv.size}")
    n_splits = _check_int(n_splits, "n_splits", 2)
    n_repeats = _check_int(n_repeats, "n_repeats", 1)
    if n_splits > min(int(yv.sum()), int(yv.size - yv.sum())):
        raise AnalysisError(f"n_splits = {n_splits} is more than the number of patients in the "
                            "smaller outcome class")
    alpha = check_alpha(alpha)
    try:
        t = np.atleast_1d(np.asarray(
            DEFAULT_ADDED_VALUE_THRESHOLDS if thresholds is None else thresholds, dtype=float))
    except (TypeError, ValueError):
        raise AnalysisError("thresholds must be numbers strictly between 0 and 1") from None
    if t.ndim != 1 or t.size == 0 or not np.all((t > 0) & (t < 1)):
        raise AnalysisError("thresholds must be a non-empty sequence of numbers strictly "
                            "between 0 and 1")

    X = X.reset_index(drop=True)
    predictors = {"baseline": baseline, "extended": extended}
    specs = {m: model_zoo(codebook, cols, include=[model], seed=seed)[model]
             for m, cols in predictors.items()}
    oof = {m: np.full((n_repeats, yv.size), np.nan) for m in predictors}
    folds = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    for k, (train, test) in enumerate(folds.split(np.zeros(yv.size), yv)):
        for m, cols in predictors.items():
            fitted = fit_final(specs[m], X.loc[train, cols].reset_index(drop=True), yv[train],
                               seed=seed)
            oof[m][k // n_splits, test] = fitted.predict_proba(X.loc[test, cols])[:, 1]

    est = np.empty((n_repeats, 3))
    var = np.empty((n_repeats, 3))
    for r in range(n_repeats):
        for j, m in enumerate(predictors):
            a = delong_auc(yv, oof[m][r])
            est[r, j], var[r, j] = a.auc, a.variance
        d = delong_test(yv, oof["extended"][r], oof["baseline"][r])
        est[r, 2], var[r, 2] = d.difference, d.se**2
    mean_est, se = est.mean(axis=0), np.sqrt(var.mean(axis=0))
    z = stats.norm.ppf(1 - alpha / 2)
    lower, upper = mean_est - z * se, mean_est + z * se
    lower[:2], upper[:2] = np.clip(lower[:2], 0, 1), np.clip(upper[:2], 0, 1)
    if se[2] > 0:
        diff_p = float(2 * stats.norm.sf(abs(mean_est[2]) / se[2]))
    else:
        diff_p = 1.0 if mean_est[2] == 0 else 0.0
    auc = pd.DataFrame({
        "model": ["baseline", "extended", "difference"],
        "predictors": [", ".join(baseline), ", ".join(extended), ", ".join(added)],
        "auc": mean_est,
        "ci_lower": lower,
        "ci_upper": upper,
    })

    pooled = {m: oof[m].mean(axis=0) for m in predictors}
    nb_b = net_benefit(yv, pooled["baseline"], t)
    nb_e = net_benefit(yv, pooled["extended"], t)
    nb = pd.DataFrame({"threshold": t, "net_benefit_baseline": nb_b,
                       "net_benefit_extended": nb_e, "difference": nb_e - nb_b})

    return AddedValue(
        auc=auc,
        lr_test=_lr_test(X, yv, baseline, extended, codebook),
        net_benefit=nb,
        difference_p_value=diff_p,
        predictions=pd.DataFrame({"y": yv, **pooled}),
        added=tuple(added),
        settings={"n_splits": n_splits, "n_repeats": n_repeats, "seed": seed, "alpha": alpha},
    )
