"""Hyper-parameter search that fits each fold's preprocessing once.

:func:`grid_search` does what :class:`sklearn.model_selection.GridSearchCV` does with
``scoring="neg_log_loss"`` and ``refit=True`` for a two-step pipeline
``Pipeline([("preprocess", ...), ("model", ...)])`` whose grid only touches the final
step - the shape of every model in :func:`analysis.models.zoo.model_zoo` - but fits the
preprocessing (transforms, imputation, splines, scaling, one-hot coding) once per inner
fold instead of once per fold *and grid point*.  Nothing leaks: the preprocessing of
each inner fold is still fitted on that fold's training part only, exactly as in
``GridSearchCV``; the result (chosen parameters, mean inner score, refitted pipeline) is
the same, which the tests check against ``GridSearchCV`` itself.

On 200 patients, fitting the column transformer costs about as much as fitting a
penalised logistic regression, so this cuts the tuned fits of the linear models, the
SVM and the neural network 3-5 fold; the nested cross-validation and the bootstrap,
which repeat tuned fits hundreds of times, gain the same.

Any other grid (one reaching into the preprocessing) falls back to ``GridSearchCV``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, ParameterGrid, StratifiedKFold
from sklearn.pipeline import Pipeline

__all__ = ["SearchResult", "grid_search"]

_MODEL_PREFIX = "model__"


@dataclass(frozen=True)
class SearchResult:
    """Outcome of :func:`grid_search`.

    Attributes
    ----------
    estimator : sklearn.pipeline.Pipeline
        The pipeline refitted on all rows with ``params``.
    params : dict
        Chosen grid point (pipeline parameter names, as in ``GridSearchCV.best_params_``).
    score : float
        Mean inner-fold ``neg_log_loss`` of ``params`` (``GridSearchCV.best_score_``).
    """

    estimator: Pipeline
    params: dict
    score: float


def _fold_cacheable(pipeline, grid: Mapping) -> bool:
    steps = getattr(pipeline, "steps", None)
    if not steps or len(steps) != 2 or steps[-1][0] != "model":
        return False
    return all(key.startswith(_MODEL_PREFIX) for key in grid)


def _neg_log_loss(model, Z, y) -> float:
    proba = model.predict_proba(Z)
    # the scorer of GridSearchCV(scoring="neg_log_loss"): columns in classes_ order
    return -float(log_loss(y, proba, labels=model.classes_))


def grid_search(
    pipeline: Pipeline,
    grid: Mapping[str, list],
    X: pd.DataFrame,
    y: np.ndarray,
    cv: StratifiedKFold,
    groups: np.ndarray | None = None,
) -> SearchResult:
    """Tune ``pipeline`` over ``grid`` by inner-fold log loss and refit on all rows.

    Grid points are visited in :class:`~sklearn.model_selection.ParameterGrid` order and
    the first point with the highest mean score wins (``GridSearchCV``'s rule).  A grid
    point whose fit or prediction fails in some fold scores NaN and is never chosen
    (``error_score=np.nan``).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted; ``[("preprocess", transformer), ("model", estimator)]`` for the fast
        path, anything else for the ``GridSearchCV`` fallback.
    grid : dict of str to list
        Parameter grid with pipeline parameter names (``"model__C"``).
    X : pandas.DataFrame
    y : numpy.ndarray
        Binary outcome 0/1.
    cv : sklearn.model_selection.StratifiedKFold
        Inner folds (``StratifiedGroupKFold`` with ``groups``).
    groups : numpy.ndarray, optional
        Group of each row, passed to ``cv.split``: in a bootstrap sample, the original
        patient, so that a patient's copies never sit on both sides of an inner split.

    Returns
    -------
    SearchResult
        ``score`` is NaN when every grid point failed (the caller decides what to do).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.preprocessing import StandardScaler
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    >>> pipe = Pipeline([("preprocess", StandardScaler()), ("model", LogisticRegression())])
    >>> r = grid_search(pipe, {"model__C": [0.01, 1.0]}, X, y, StratifiedKFold(3))
    >>> r.params
    {'model__C': 1.0}
    """
    grid = {key: list(values) for key, values in grid.items()}
    if not _fold_cacheable(pipeline, grid):
        search = GridSearchCV(
            clone(pipeline), grid, scoring="neg_log_loss", cv=cv, refit=True, n_jobs=1,
            error_score=np.nan,
        ).fit(X, y, groups=groups)
        return SearchResult(search.best_estimator_, dict(search.best_params_),
                            float(search.best_score_))
    preprocess, model = pipeline.steps[0][1], pipeline.steps[1][1]
    folds = []
    for train, valid in cv.split(X, y, groups):
        fitted = clone(preprocess).fit(X.iloc[train], y[train])
        folds.append((fitted.transform(X.iloc[train]), y[train],
                      fitted.transform(X.iloc[valid]), y[valid]))
    candidates = list(ParameterGrid(grid))
    scores = np.full(len(candidates), np.nan)
    for i, params in enumerate(candidates):
        model_params = {key[len(_MODEL_PREFIX):]: value for key, value in params.items()}
        fold_scores = []
        for Z_train, y_train, Z_valid, y_valid in folds:
            try:
                fitted_model = clone(model).set_params(**model_params).fit(Z_train, y_train)
                fold_scores.append(_neg_log_loss(fitted_model, Z_valid, y_valid))
            except (ValueError, ArithmeticError, np.linalg.LinAlgError):
                fold_scores.append(np.nan)
        scores[i] = float(np.mean(fold_scores))
    if not np.isfinite(scores).any():
        return SearchResult(clone(pipeline), {}, float("nan"))
    # GridSearchCV ranks by the mean score (rounded as in its rank computation) and takes
    # the first of the best; np.nanargmax returns the first maximum
    best = int(np.nanargmax(scores))
    params = dict(candidates[best])
    estimator = clone(pipeline).set_params(**params).fit(X, y)
    return SearchResult(estimator, params, float(scores[best]))
