"""The fold-cached grid search against scikit-learn's GridSearchCV (the peer library)."""

import numpy as np
import pandas as pd
import pytest
from conftest import CODEBOOK, make_data
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from analysis.models.tuning import grid_search
from analysis.models.zoo import model_zoo


@pytest.fixture(scope="module")
def full_zoo():
    return model_zoo(CODEBOOK, list(CODEBOOK), seed=3)


@pytest.mark.parametrize("name", ["lasso", "elastic_net", "svm", "mlp", "gradient_boosting"])
def test_grid_search_equals_gridsearchcv(full_zoo, name):
    X, y = make_data(n=150, seed=7)
    X = X.reset_index(drop=True)
    spec = full_zoo[name]
    cv = StratifiedKFold(3, shuffle=True, random_state=9)
    ours = grid_search(spec.pipeline, spec.param_grid, X, y, cv)
    peer = GridSearchCV(
        clone(spec.pipeline), spec.param_grid, scoring="neg_log_loss", cv=cv, refit=True
    ).fit(X, y)
    assert ours.params == peer.best_params_
    assert ours.score == pytest.approx(peer.best_score_, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(
        ours.estimator.predict_proba(X), peer.best_estimator_.predict_proba(X), rtol=1e-9
    )


def test_grid_search_ties_take_the_first_point_and_failures_are_skipped():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60)})
    y = (X["x"] + rng.normal(size=60) > 0).astype(int).to_numpy()
    pipe = Pipeline([("preprocess", StandardScaler()), ("model", LogisticRegression())])
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    # a negative C makes scikit-learn raise: that point scores NaN and is never chosen;
    # the two identical points tie and the first wins, as in GridSearchCV
    result = grid_search(pipe, {"model__C": [-1.0, 0.5, 0.5]}, X, y, cv)
    assert result.params == {"model__C": 0.5}
    assert np.isfinite(result.score)
    failed = grid_search(pipe, {"model__C": [-1.0, -2.0]}, X, y, cv)
    assert np.isnan(failed.score)


def test_grid_search_falls_back_to_gridsearchcv_for_preprocessing_grids():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=60)})
    y = (X["x"] + rng.normal(size=60) > 0).astype(int).to_numpy()
    pipe = Pipeline([("preprocess", StandardScaler()), ("model", LogisticRegression())])
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    grid = {"preprocess__with_mean": [True, False], "model__C": [0.1, 1.0]}
    ours = grid_search(pipe, grid, X, y, cv)
    peer = GridSearchCV(clone(pipe), grid, scoring="neg_log_loss", cv=cv).fit(X, y)
    assert ours.params == peer.best_params_
    assert ours.score == pytest.approx(peer.best_score_)
