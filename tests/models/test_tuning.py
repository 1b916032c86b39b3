"""The fold-cached grid search against scikit-learn's GridSearchCV (the peer library)."""

import numpy as np
import pandas as pd
import pytest
from conftest import CODEBOOK, make_data
from sklearn.base import clone
from sklearn.calibration import _sigmoid_calibration
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from analysis.models.tuning import binary_log_loss, grid_search, platt_sigmoid
from analysis.models.zoo import model_zoo


@pytest.fixture(scope="module")
def full_zoo():
    return model_zoo(CODEBOOK, list(CODEBOOK), seed=3)


@pytest.mark.parametrize("name", ["lasso", "elastic_net", "mlp", "gradient_boosting"])
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


def test_binary_log_loss_equals_scikit_learn_including_clipped_edges():
    y = np.array([0, 1, 1, 0, 1, 0])
    p = np.array([0.0, 1.0, 0.3, 0.2, 0.999, 1.0])  # 0 and 1 are clipped, as sklearn does
    assert binary_log_loss(y, p) == pytest.approx(log_loss(y, p), rel=1e-12)


def test_platt_sigmoid_equals_scikit_learns_platt_fit():
    rng = np.random.default_rng(4)
    d = rng.normal(size=120)
    y = (d + rng.normal(size=120) > 0.3).astype(int)
    a, b = platt_sigmoid(d, y)
    # scikit-learn's P = 1 / (1 + exp(A f + B)): A = -b, B = -a
    peer_a, peer_b = _sigmoid_calibration(d, y)
    assert (-b, -a) == pytest.approx((peer_a, peer_b), rel=1e-6, abs=1e-8)


def test_svm_grid_scored_by_cross_fitted_platt_log_loss(full_zoo):
    """Each grid point's score, recomputed by brute force with scikit-learn's own pieces."""
    X, y = make_data(n=150, seed=7)
    X = X.reset_index(drop=True)
    spec = full_zoo["svm"]
    cv = StratifiedKFold(3, shuffle=True, random_state=9)
    ours = grid_search(spec.pipeline, spec.param_grid, X, y, cv)
    preprocess, calibrated = spec.pipeline.steps[0][1], spec.pipeline.steps[1][1]
    expected = {}
    for C in spec.param_grid["model__estimator__C"]:
        for gamma in spec.param_grid["model__estimator__gamma"]:
            decisions, targets = [], []
            for train, valid in cv.split(X, y):
                pre = clone(preprocess).fit(X.iloc[train], y[train])
                svc = clone(calibrated.estimator).set_params(C=C, gamma=gamma)
                svc.fit(pre.transform(X.iloc[train]), y[train])
                decisions.append(svc.decision_function(pre.transform(X.iloc[valid])))
                targets.append(y[valid])
            fold_losses = []
            for k in range(len(decisions)):
                A, B = _sigmoid_calibration(
                    np.concatenate([d for j, d in enumerate(decisions) if j != k]),
                    np.concatenate([t for j, t in enumerate(targets) if j != k]))
                p = 1 / (1 + np.exp(A * decisions[k] + B))
                fold_losses.append(log_loss(targets[k], p, labels=[0, 1]))
            expected[(C, gamma)] = -float(np.mean(fold_losses))
    best = max(expected, key=expected.get)
    assert ours.params == {"model__estimator__C": best[0], "model__estimator__gamma": best[1]}
    assert ours.score == pytest.approx(expected[best], rel=1e-5)
    # the chosen point is refitted as the full Platt-scaled model, as GridSearchCV refits it
    refit = clone(spec.pipeline).set_params(**ours.params).fit(X, y)
    np.testing.assert_allclose(ours.estimator.predict_proba(X), refit.predict_proba(X), rtol=1e-12)


def test_patient_stratified_folds_keep_copies_together_and_balance_the_outcome():
    from sklearn.model_selection import StratifiedKFold

    from analysis.models.tuning import PatientStratifiedKFold

    rng = np.random.default_rng(3)
    y_patient = (rng.random(60) < 0.4).astype(int)
    draw = rng.integers(0, 60, size=60)          # a bootstrap sample: copies of patients
    y, groups = y_patient[draw], draw
    folds = list(PatientStratifiedKFold(3, random_state=1).split(None, y, groups))
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(60))
    for train, test in folds:
        assert set(groups[train]).isdisjoint(groups[test])
    # the folds are StratifiedKFold over the distinct patients, each copy with its patient
    patients, first = np.unique(groups, return_index=True)
    expected = [set(patients[t]) for _, t in
                StratifiedKFold(3, shuffle=True, random_state=1).split(patients, y[first])]
    assert [set(groups[test]) for _, test in folds] == expected


def test_patient_stratified_folds_fall_back_when_a_group_mixes_outcomes():
    from sklearn.model_selection import StratifiedGroupKFold

    from analysis.models.tuning import PatientStratifiedKFold

    y = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 0])
    groups = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])     # every group holds both outcomes
    ours = [t.tolist() for _, t in PatientStratifiedKFold(2, random_state=0).split(None, y, groups)]
    peer = [t.tolist() for _, t in
            StratifiedGroupKFold(2, shuffle=True, random_state=0).split(np.zeros((10, 1)), y, groups)]
    assert ours == peer
