"""The NumPy fold design against the column transformer it replaces in the inner folds.

The claim of :mod:`analysis.models.fold_design` is *bitwise* equality with
``ColumnTransformer.fit_transform`` / ``transform`` (scikit-learn is the peer), so these
tests compare with ``np.array_equal`` and the dtype, never with a tolerance.
"""

import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import CODEBOOK, REPO, make_data
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

import analysis.models.tuning as tuning
from analysis.errors import AnalysisError
from analysis.models.fold_design import compile_design
from analysis.models.phenotype import PhenotypeFeatures
from analysis.models.preprocessing import build_preprocessor
from analysis.models.zoo import model_zoo
from analysis.study.config import load_study
from analysis.study.prepare import prepare_cohort
from analysis.synthetic import write_demo_cohort

DEMO_STUDIES = ["ra-refractory", "cd-upadacitinib-ius", "ibd-biologics", "sle-belimumab", "cd-msc"]


def assert_same_design(pre, train: pd.DataFrame, valid: pd.DataFrame):
    """fit on ``train``; the training and validation matrices equal scikit-learn's bit for bit."""
    design = compile_design(pre)
    assert design is not None, "the zoo's preprocessor must compile"
    peer = clone(pre)
    expected_train = peer.fit_transform(train)
    expected_valid = peer.transform(valid)
    result = design.fit_transform(train)
    assert result is not None
    Z_train, fitted = result
    Z_valid = fitted.transform(valid)
    assert Z_train.dtype == expected_train.dtype and Z_valid.dtype == expected_valid.dtype
    assert np.array_equal(Z_train, expected_train)
    assert np.array_equal(Z_valid, expected_valid)
    return Z_train, Z_valid


@pytest.mark.parametrize("study", DEMO_STUDIES)
def test_every_zoo_preprocessor_of_every_demo_study_is_reproduced_bit_for_bit(tmp_path, study):
    (tmp_path / "data" / study).mkdir(parents=True)
    shutil.copy(REPO / "data" / study / "study.yaml", tmp_path / "data" / study)
    write_demo_cohort(study, tmp_path)
    cfg = load_study(study, root=tmp_path)
    cohort = prepare_cohort(cfg).cohort
    data = cohort[cohort[cfg.outcome].notna()].reset_index(drop=True)
    inputs = list(cfg.model_inputs)
    X, y = data[inputs], data[cfg.outcome].astype(int).to_numpy()
    zoo = model_zoo(cfg.codebook(inputs), inputs, seed=1)
    compiled = 0
    for name, spec in zoo.items():
        pre = spec.pipeline.steps[0][1]
        if compile_design(pre) is None:  # the flexible model's and a published score's own design
            assert name in ("flexible_logistic", "vedolizumab_cdst")
            continue
        compiled += 1
        # a bootstrap sample's inner fold: repeated rows, a shuffled non-default index
        rng = np.random.default_rng(5)
        boot = X.iloc[rng.integers(0, len(X), len(X))]
        for train, valid in StratifiedKFold(3, shuffle=True, random_state=2).split(boot, y[boot.index]):
            assert_same_design(pre, boot.iloc[train], boot.iloc[valid])
    assert compiled >= 7  # every learner of the zoo except the flexible model's own design


def test_mixed_codebook_with_splines_transforms_and_missing_values():
    codebook = {
        **CODEBOOK,
        "x3": {"type": "numeric", "transform": "sqrt"},
        "count": {"type": "integer", "transform": "log1p"},
        "grade": {"type": "categorical", "levels": [1, 2, 3]},  # levels given as numbers
        "n": {"type": "integer"},
    }
    X, y = make_data(n=160, seed=11)
    rng = np.random.default_rng(3)
    X["x3"] = rng.gamma(2.0, 2.0, len(X)) - 0.5  # some negative values: clipped at 0
    X["count"] = rng.poisson(3, len(X)).astype(float)
    X["grade"] = rng.choice([1, 2, 3], len(X)).astype(object)
    X["n"] = rng.integers(0, 9, len(X))  # an int64 column
    X.loc[X.index[:5], "grade"] = None
    X.loc[X.index[3:9], "x2"] = np.nan
    predictors = list(codebook)
    for splines in (None, {"x1": 4, "x2": 3, "n": 5}):
        for scale in (True, False):
            pre = build_preprocessor(codebook, predictors, splines=splines, scale=scale)
            assert_same_design(pre, X.iloc[:110], X.iloc[110:])


def test_unknown_categories_and_missing_values_in_the_held_out_part():
    X, _ = make_data(n=90, seed=4)
    valid = X.iloc[60:].copy()
    valid.iloc[0, valid.columns.get_loc("group")] = "never seen"
    valid.iloc[1, valid.columns.get_loc("x1")] = np.nan
    valid.iloc[2, valid.columns.get_loc("flag")] = np.nan
    pre = build_preprocessor(CODEBOOK, list(CODEBOOK))
    with pytest.warns(UserWarning, match="unknown categories"):  # scikit-learn warns; we do not
        _, Z_valid = assert_same_design(pre, X.iloc[:60], valid)
    names = clone(pre).fit(X.iloc[:60]).get_feature_names_out().tolist()
    group_columns = [i for i, n in enumerate(names) if n.startswith("group[")]
    assert (Z_valid[0, group_columns] == 0).all()  # an unknown level is coded as the reference


def test_a_constant_column_and_ties_in_the_most_frequent_value():
    X = pd.DataFrame({
        "x1": [2.0] * 12,  # constant: the scaler's scale is 1, the column becomes 0
        "x2": np.linspace(1, 5, 12),
        "flag": [0.0, 1.0] * 6,  # a tie: the smaller value fills
        "group": ["c", "b"] * 6,  # a tie: the smaller text fills
    })
    X.loc[0, "flag"] = np.nan
    X.loc[1, "group"] = np.nan
    X.loc[2, "x2"] = np.nan
    valid = X.iloc[:4]
    pre = build_preprocessor(CODEBOOK, list(CODEBOOK))
    Z_train, Z_valid = assert_same_design(pre, X, valid)
    assert (Z_train[:, 0] == 0).all()


def test_the_log_transform_refuses_negative_values_as_the_transformer_does():
    X, _ = make_data(n=40, seed=2)
    X.loc[X.index[0], "x2"] = -1.0
    design = compile_design(build_preprocessor(CODEBOOK, list(CODEBOOK)))
    with pytest.raises(AnalysisError, match="negative"):
        design.fit_transform(X)
    with pytest.raises(AnalysisError, match="negative"):
        clone(build_preprocessor(CODEBOOK, list(CODEBOOK))).fit(X)


def test_data_it_does_not_reproduce_are_declined():
    X, _ = make_data(n=40, seed=2)
    design = compile_design(build_preprocessor(CODEBOOK, list(CODEBOOK)))
    empty = X.copy()
    empty["x1"] = np.nan  # the imputer would drop the column: leave it to the imputer
    assert design.fit_transform(empty) is None
    empty_group = X.copy()
    empty_group["group"] = np.nan
    assert design.fit_transform(empty_group) is None
    nullable = X.copy()
    nullable["flag"] = nullable["flag"].astype("Int64")  # a pandas extension dtype
    assert design.fit_transform(nullable) is None
    assert design.fit_transform(X.to_numpy()) is None  # only DataFrames


def test_other_preprocessing_is_not_compiled():
    assert compile_design(StandardScaler()) is None
    assert compile_design(PhenotypeFeatures(["x1"], {"x1": {"type": "numeric"}}, 2)) is None
    custom = ColumnTransformer([("num", SimpleImputer(strategy="mean"), ["x1"])])
    assert compile_design(custom) is None
    passthrough = ColumnTransformer([("num", SimpleImputer(strategy="median"), ["x1"])],
                                    remainder="passthrough")
    assert compile_design(passthrough) is None
    pre = build_preprocessor(CODEBOOK, list(CODEBOOK))
    pre.transformers[0][1].set_params(scale__with_mean=False)
    assert compile_design(pre) is None


@pytest.mark.parametrize("name", ["lasso", "svm", "mlp"])
def test_grid_search_gives_the_same_result_with_and_without_the_fold_design(monkeypatch, name):
    X, y = make_data(n=150, seed=8)
    spec = model_zoo(CODEBOOK, list(CODEBOOK), seed=3, include=[name])[name]
    cv = StratifiedKFold(3, shuffle=True, random_state=4)
    fast = tuning.grid_search(spec.pipeline, spec.param_grid, X, y, cv)
    calls = []
    original = tuning.compile_design
    monkeypatch.setattr(tuning, "compile_design", lambda pre: calls.append(pre) or None)
    slow = tuning.grid_search(spec.pipeline, spec.param_grid, X, y, cv)
    assert calls  # the slow run really took the transformer's path
    assert original(spec.pipeline.steps[0][1]) is not None  # and the fast one the design's
    assert fast.params == slow.params
    assert fast.score == slow.score  # bitwise: the same matrices give the same fits
    assert np.array_equal(fast.estimator.predict_proba(X), slow.estimator.predict_proba(X))
