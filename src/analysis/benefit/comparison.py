"""Cross-validated validation of predicted benefit for the effect model and the meta-learners.

Each candidate (the effect model of :mod:`analysis.benefit.effect_model` and the zoo's learners
as S- and T-learners) predicts every patient's probability under every option *out of fold*
(:func:`~analysis.benefit.effect_model.cross_fitted_counterfactuals`); for every
non-reference option, the patients who received it or the reference are then matched on
predicted benefit and scored by the c-for-benefit and the calibration of benefit
(:func:`analysis.benefit.validation.validate_benefit`), with and without the overlap weights
of the propensity model restricted to the two options (:func:`pairwise_overlap_weights`).

Examples
--------
>>> scores = pd.DataFrame({"a": [0.5, 0.2, 0.6], "b": [0.3, 0.3, 0.2], "c": [0.2, 0.5, 0.2]})
>>> pairwise_overlap_weights(scores, ["a", "b", "a"], "b", "a").round(3).tolist()
[0.375, 0.4, 0.25]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.benefit.effect_model import cross_fitted_counterfactuals
from analysis.benefit.propensity import overlap_weights, treatment_labels
from analysis.benefit.validation import validate_benefit
from analysis.models.zoo import ModelSpec

__all__ = ["compare_benefit_models", "pairwise_overlap_weights", "predicted_benefit"]


def pairwise_overlap_weights(scores: pd.DataFrame, treatment, option: str, reference: str) -> np.ndarray:
    """Overlap weights of one option against the reference, from a (multi-option) propensity model.

    The two options' scores are renormalised to sum to 1 (the propensity of the option among
    patients who received one of the two) and weighted as for two options: ``1 - e`` for the
    option's patients, ``e`` for the reference's; NaN for patients of other options.
    """
    pair = scores[[str(option), str(reference)]].to_numpy(dtype=float)
    pair = pd.DataFrame(pair / pair.sum(axis=1, keepdims=True),
                        columns=[str(option), str(reference)], index=scores.index)
    return overlap_weights(pair, treatment, [str(option), str(reference)])


def predicted_benefit(counterfactuals: pd.DataFrame, option: str, reference: str) -> np.ndarray:
    """Probability under ``option`` minus under ``reference``, per row."""
    return (counterfactuals[str(option)] - counterfactuals[str(reference)]).to_numpy(dtype=float)


def compare_benefit_models(models: Mapping[str, ModelSpec], X: pd.DataFrame, y, *, column: str,
                           options: Sequence[str], reference: str, scores: pd.DataFrame | None = None,
                           n_splits: int = 5, n_boot: int = 200, seed: int = 0
                           ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """c-for-benefit and calibration of benefit of every model, cross-fitted.

    Parameters
    ----------
    models : mapping of str to ModelSpec
        Candidates; each pipeline sees ``column`` among its inputs.
    X : pandas.DataFrame
        The study's predictors.
    y : array_like of {0, 1}
    column, options, reference
        ``study.treatment``.
    scores : pandas.DataFrame, optional
        Propensity scores (:func:`analysis.benefit.propensity.propensity_scores`); with them
        every comparison is also validated with overlap weights.
    n_splits : int, default 5
        Cross-fitting folds.
    n_boot : int, default 200
        Bootstrap resamples of the c-for-benefit CI.
    seed : int, default 0

    Returns
    -------
    table : pandas.DataFrame
        One row per model, non-reference option and weighting, columns of
        :func:`analysis.benefit.validation.validate_benefit`.
    counterfactuals : dict of str to DataFrame
        Each model's out-of-fold probabilities under every option.
    """
    X = X.reset_index(drop=True)
    y = np.asarray(y).astype(int)
    received = treatment_labels(X[column])
    options = [str(o) for o in options]
    rows, predictions = [], {}
    for name, spec in models.items():
        cf = cross_fitted_counterfactuals(spec, X, y, column, options, n_splits=n_splits, seed=seed)
        predictions[name] = cf
        for option in options:
            if option == str(reference):
                continue
            member = np.isin(received, [option, str(reference)])
            benefit = predicted_benefit(cf, option, reference)[member]
            got = received[member] == option
            weightings = [None]
            if scores is not None:
                weightings.append(pairwise_overlap_weights(scores, received, option, reference)[member])
            for weights in weightings:
                rows.append(validate_benefit(y[member], got, benefit, model=name, option=option,
                                             weights=weights, n_boot=n_boot, seed=seed))
    return pd.concat(rows, ignore_index=True), predictions
