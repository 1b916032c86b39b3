"""Tests of analysis.models.zoo: preprocessing, the model zoo and the clinical score model."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy.special import expit
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from analysis.errors import AnalysisError
from analysis.indices.scores import vedolizumab_cdst
from analysis.models.estimators import ClippedLog, FixedScoreClassifier
from analysis.models.preprocessing import build_preprocessor, feature_names
from analysis.models.zoo import (
    CLINICAL_SCORES,
    COMPLEXITY,
    MODEL_NAMES,
    ModelSpec,
    clinical_score_spec,
    model_zoo,
)

CODEBOOK = {
    "age": {"type": "numeric"},
    "crp": {"type": "numeric", "transform": "log"},
    "visits": {"type": "integer", "transform": "log1p"},
    "smoker": {"type": "binary"},
    "sex": {"type": "categorical", "levels": ["female", "male"]},
    "stage": {"type": "categorical", "levels": ["I", "II", "III"]},
}
PREDICTORS = list(CODEBOOK)


def make_cohort(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "age": rng.normal(50, 12, n),
            "crp": np.round(rng.lognormal(2.5, 1.0, n), 1),
            "visits": rng.poisson(3, n).astype(float),
            "smoker": rng.binomial(1, 0.3, n).astype(float),
            "sex": rng.choice(["female", "male"], n),
            "stage": rng.choice(["I", "II", "III"], n),
        }
    )
    lp = -0.5 + 0.04 * (X["age"] - 50) + 0.5 * np.log(X["crp"] + 0.1) - 1.3 + 0.8 * X["smoker"]
    y = rng.binomial(1, expit(lp)).astype(int)
    for col, k in [("age", 5), ("crp", 6), ("smoker", 4), ("sex", 3), ("stage", 4)]:
        X.loc[rng.choice(n, k, replace=False), col] = np.nan
    X.loc[0, "crp"] = 0.0  # below the detection limit
    return X, y


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------


def test_feature_names_are_readable_and_grouped():
    X, _ = make_cohort()
    pre = build_preprocessor(CODEBOOK, PREDICTORS, splines={"age": 4}).fit(X)
    assert pre.get_feature_names_out().tolist() == [
        "age",
        "age'",
        "age''",
        "crp",
        "visits",
        "smoker",
        "sex[male]",
        "stage[II]",
        "stage[III]",
    ]


def test_imputation_transform_and_scaling_use_training_data_only():
    X, _ = make_cohort()
    train, test = X.iloc[:80].reset_index(drop=True), X.iloc[80:].reset_index(drop=True)
    pre = build_preprocessor(CODEBOOK, PREDICTORS, scale=False).fit(train)
    Z = pd.DataFrame(pre.transform(test), columns=pre.get_feature_names_out())
    # numeric: a missing age becomes the training median
    na = test["age"].isna().to_numpy()
    assert na.any()
    assert np.allclose(Z.loc[na, "age"], np.nanmedian(train["age"]))
    assert np.allclose(Z.loc[~na, "age"], test.loc[~na, "age"])
    # log: zero clipped at half the smallest positive training value; NaN -> median of logs
    floor = train["crp"][train["crp"] > 0].min() / 2
    logged = np.log(np.maximum(train["crp"].dropna(), floor))
    expected = np.log(np.maximum(test["crp"], floor)).fillna(np.median(logged))
    assert np.allclose(Z["crp"], expected)
    # log1p
    assert np.allclose(Z["visits"], np.log1p(test["visits"]))
    # binary: most frequent value
    mode = train["smoker"].mode()[0]
    assert np.allclose(Z["smoker"], test["smoker"].fillna(mode))
    # categorical: reference dropped, missing -> most frequent level
    sex = test["sex"].fillna(train["sex"].mode()[0])
    assert np.array_equal(Z["sex[male]"], (sex == "male").astype(float))


def test_scaling_standardises_with_training_mean_and_sd():
    X, _ = make_cohort()
    pre = build_preprocessor({"age": {"type": "numeric"}}, ["age"]).fit(X)
    filled = X["age"].fillna(np.nanmedian(X["age"]))
    expected = (filled - filled.mean()) / filled.std(ddof=0)
    assert np.allclose(pre.transform(X).ravel(), expected)


@pytest.mark.filterwarnings("ignore:Found unknown categories")
def test_unknown_level_codes_as_reference_and_none_counts_as_missing():
    cb = {"stage": CODEBOOK["stage"]}
    train = pd.DataFrame({"stage": ["I", "II", "II", "III", None]})
    pre = build_preprocessor(cb, ["stage"]).fit(train)
    out = pre.transform(pd.DataFrame({"stage": ["IV", "III", None]}))
    assert out.tolist() == [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]]  # None -> mode "II"


def test_clipped_log_floor():
    t = ClippedLog().fit(np.array([[0.0], [0.4], [3.0], [np.nan]]))
    assert t.floor_.tolist() == [0.2]
    assert np.allclose(t.transform([[0.0], [3.0]]).ravel(), np.log([0.2, 3.0]))
    with pytest.raises(AnalysisError, match="negative"):
        ClippedLog().fit([[-1.0], [2.0]])


@pytest.mark.parametrize(
    ("codebook", "predictors", "kwargs", "match"),
    [
        ({"age": {"type": "numeric"}}, ["bmi"], {}, "'bmi' is not in the codebook"),
        ({"d": {"type": "date"}}, ["d"], {}, "type 'date'"),
        ({"s": {"type": "categorical", "levels": ["a"]}}, ["s"], {}, "two codebook levels"),
        ({"a": {"type": "numeric", "transform": "exp"}}, ["a"], {}, "unknown transform"),
        ({"s": {"type": "binary"}}, ["s"], {"splines": {"s": 3}}, "splines need a numeric"),
        ({"a": {"type": "numeric"}}, ["a"], {"splines": {"b": 3}}, "not one of the predictors"),
        ({"a": {"type": "numeric"}}, [], {}, "at least one column"),
    ],
)
def test_preprocessor_errors(codebook, predictors, kwargs, match):
    with pytest.raises(AnalysisError, match=match):
        build_preprocessor(codebook, predictors, **kwargs)


# ---------------------------------------------------------------------------
# Zoo
# ---------------------------------------------------------------------------


def test_zoo_names_complexity_and_smoke_grids():
    zoo = model_zoo(CODEBOOK, PREDICTORS, smoke=True)
    assert (
        tuple(zoo)
        == MODEL_NAMES
        == (
            "intercept_only",
            "logistic",
            "lasso",
            "elastic_net",
            "flexible_logistic",
            "random_forest",
            "gradient_boosting",
            "svm",
            "mlp",
        )
    )
    assert {k: s.complexity for k, s in zoo.items()} == COMPLEXITY
    assert COMPLEXITY["intercept_only"] == 0 < COMPLEXITY["logistic"] == COMPLEXITY["lasso"]
    assert COMPLEXITY["lasso"] < COMPLEXITY["flexible_logistic"] == 2 < COMPLEXITY["random_forest"]
    assert COMPLEXITY["random_forest"] == 3 < COMPLEXITY["mlp"] == 4
    for spec in zoo.values():
        assert isinstance(spec, ModelSpec)
        assert all(1 <= len(v) <= 2 for v in spec.param_grid.values())
    full = model_zoo(CODEBOOK, PREDICTORS)
    assert full["lasso"].tuned and full["elastic_net"].tuned and not full["logistic"].tuned
    assert {"model__C", "model__l1_ratio"} == set(full["elastic_net"].param_grid)


def test_zoo_include_extra_and_errors():
    zoo = model_zoo(CODEBOOK, PREDICTORS, include=["logistic", "intercept_only"])
    assert list(zoo) == ["intercept_only", "logistic"]
    cb = {c: {"type": "binary"} for c in ("prior_bowel_surgery", "prior_anti_tnf", "fistulising")}
    cb |= {"albumin_g_l": {"type": "numeric"}, "crp_mg_l": {"type": "numeric"}}
    zoo = model_zoo(cb, list(cb), include=["logistic"], extra=["vedolizumab_cdst"])
    assert list(zoo) == ["logistic", "vedolizumab_cdst"]
    assert zoo["vedolizumab_cdst"].complexity == 0
    with pytest.raises(AnalysisError, match="include: unknown"):
        model_zoo(CODEBOOK, PREDICTORS, include=["xgboost"])
    with pytest.raises(AnalysisError, match="needs predictor column"):
        model_zoo(CODEBOOK, PREDICTORS, extra=["vedolizumab_cdst"])
    with pytest.raises(AnalysisError, match="unknown"):
        model_zoo(CODEBOOK, PREDICTORS, extra=["no_such_score"])


def test_every_model_fits_with_missing_values_and_is_deterministic():
    X, y = make_cohort()
    assert X.isna().any().any()
    for name, spec in model_zoo(CODEBOOK, PREDICTORS, smoke=True, seed=3).items():
        p1 = spec.pipeline.fit(X, y).predict_proba(X)[:, 1]
        p2 = model_zoo(CODEBOOK, PREDICTORS, smoke=True, seed=3)[name].pipeline.fit(X, y)
        assert np.array_equal(p1, p2.predict_proba(X)[:, 1]), name
        assert np.all((p1 >= 0) & (p1 <= 1)) and np.isfinite(p1).all(), name


def test_logistic_is_unpenalised_maximum_likelihood():
    X, y = make_cohort(n=300, seed=1)
    pipe = model_zoo(CODEBOOK, PREDICTORS, include=["logistic"])["logistic"].pipeline.fit(X, y)
    design = pipe.named_steps["preprocess"].transform(X)
    fit = sm.Logit(y, sm.add_constant(design)).fit(disp=0, tol=1e-12, maxiter=200)
    coef = np.r_[pipe.named_steps["model"].intercept_, pipe.named_steps["model"].coef_.ravel()]
    assert np.allclose(coef, fit.params, atol=1e-4)
    assert feature_names(pipe)[:2] == ["age", "crp"]


def test_strong_lasso_penalty_zeroes_every_coefficient():
    X, y = make_cohort()
    pipe = model_zoo(CODEBOOK, PREDICTORS, include=["lasso"])["lasso"].pipeline
    pipe.set_params(model__C=1e-3).fit(X, y)
    assert np.all(pipe.named_steps["model"].coef_ == 0)
    pipe.set_params(model__C=10.0).fit(X, y)
    assert np.count_nonzero(pipe.named_steps["model"].coef_) > 3


def test_intercept_only_predicts_training_prevalence():
    X, y = make_cohort()
    pipe = model_zoo(CODEBOOK, PREDICTORS, include=["intercept_only"])["intercept_only"].pipeline
    p = pipe.fit(X, y).predict_proba(X)[:, 1]
    assert np.allclose(p, y.mean())


# ---------------------------------------------------------------------------
# Clinical score
# ---------------------------------------------------------------------------


def cdst_frame():
    # hand-computed (spec section 6): surgery, anti-TNF, fistula, albumin, CRP -> score
    rows = [
        (0, 0, 0, 40.0, 5.0, 2 + 3 + 2 + 16 - 0.5),  # 22.5
        (1, 1, 1, 30.0, 25.0, 12 - 3),  # 9
        (0, 1, 0, 35.0, 2.0, 2 + 2 + 14),  # 18, CRP < 3: no points
        (1, 0, 1, 42.0, 3.0, 3 + 16.8 - 0.5),  # CRP exactly 3: -0.5
        (1, 0, 0, 38.0, 10.0, 3 + 2 + 15.2 - 0.5),  # CRP exactly 10: -0.5
        (0, 0, 1, 38.0, 10.1, 2 + 3 + 15.2 - 3),  # CRP just above 10: -3
    ]
    cols = ["prior_bowel_surgery", "prior_anti_tnf", "fistulising", "albumin_g_l", "crp_mg_l"]
    df = pd.DataFrame([r[:5] for r in rows], columns=cols).astype(float)
    return df, np.array([r[5] for r in rows])


def test_cdst_hand_computed_patients():
    df, expected = cdst_frame()
    assert np.allclose(vedolizumab_cdst(df), expected)
    assert np.allclose(expected[:3], [22.5, 9.0, 18.0])
    df.loc[0, "albumin_g_l"] = np.nan
    assert np.isnan(vedolizumab_cdst(df)[0])
    with pytest.raises(AnalysisError, match="crp_mg_l"):
        vedolizumab_cdst(df.drop(columns="crp_mg_l"))
    fn, cols = CLINICAL_SCORES["vedolizumab_cdst"]
    assert fn is vedolizumab_cdst and list(cols) == list(df.columns)


def test_fixed_score_classifier_recalibrates_without_reweighting():
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame(
        {
            "prior_bowel_surgery": rng.binomial(1, 0.3, n),
            "prior_anti_tnf": rng.binomial(1, 0.5, n),
            "fistulising": rng.binomial(1, 0.2, n),
            "albumin_g_l": rng.normal(40, 5, n).round(),
            "crp_mg_l": rng.lognormal(2.5, 1.2, n).round(1),
            "other": rng.normal(size=n),
        }
    ).astype(float)
    score = vedolizumab_cdst(df)
    y = rng.binomial(1, expit(-4 + 0.2 * score))
    spec = clinical_score_spec("vedolizumab_cdst", predictors=list(df.columns))
    pipe = spec.pipeline.fit(df, y)
    clf = pipe.named_steps["model"]
    ref = sm.Logit(y, sm.add_constant(score)).fit(disp=0, tol=1e-12)
    assert np.allclose([clf.intercept_, clf.slope_], ref.params, atol=1e-4)
    p = pipe.predict_proba(df)[:, 1]
    assert np.allclose(p, ref.predict(sm.add_constant(score)), atol=1e-6)
    assert roc_auc_score(y, p) == pytest.approx(roc_auc_score(y, score))
    # missing inputs take the training medians
    new = df.iloc[:2].copy()
    new.loc[new.index[0], "crp_mg_l"] = np.nan
    filled = new.copy()
    filled.loc[filled.index[0], "crp_mg_l"] = df["crp_mg_l"].median()
    assert np.allclose(clf.clinical_score(new), vedolizumab_cdst(filled))
    with pytest.raises(AnalysisError, match="lacks the score's column"):
        pipe.predict_proba(df.drop(columns="fistulising"))


def test_fixed_score_classifier_generic_score():
    X = pd.DataFrame({"s": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    y = np.array([0, 0, 1, 0, 1, 0, 1, 1])
    unfitted = FixedScoreClassifier(score_fn=lambda d: d["s"], name="s")
    with pytest.raises(NotFittedError):
        unfitted.predict_proba(X)
    clf = unfitted.fit(X, y)
    # unpenalised maximum likelihood of y on the score: statsmodels gives
    # intercept -2.0792952607, slope 0.5940843602 (both solvers converge to ~1e-12)
    ref = sm.Logit(y, sm.add_constant(X["s"].to_numpy())).fit(disp=0, tol=1e-12)
    assert ref.params == pytest.approx([-2.0792952607, 0.5940843602], abs=1e-9)
    assert [clf.intercept_, clf.slope_] == pytest.approx(ref.params, abs=1e-6)
    assert clf.predict(X).tolist() == (clf.predict_proba(X)[:, 1] >= 0.5).astype(int).tolist()
    with pytest.raises(AnalysisError, match="callable"):
        FixedScoreClassifier(score_fn=None).fit(X, y)


def test_oob_tuned_forest_keeps_the_grid_point_with_the_best_out_of_bag_log_loss():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import log_loss

    from analysis.models.estimators import OOBTunedForest

    rng = np.random.default_rng(3)
    X = rng.normal(size=(150, 3))
    y = (X[:, 0] - X[:, 1] + rng.normal(size=150) > 0).astype(int)
    grid = {"min_samples_leaf": [1, 5, 25]}
    tuned = OOBTunedForest(grid, n_estimators=60, random_state=4).fit(X, y)
    # the peer computation: one scikit-learn forest per point, scored by its OOB log loss
    scores = []
    for leaf in grid["min_samples_leaf"]:
        rf = RandomForestClassifier(
            n_estimators=60, min_samples_leaf=leaf, oob_score=True, random_state=4
        ).fit(X, y)
        scores.append(-log_loss(y, np.clip(rf.oob_decision_function_[:, 1], 1e-6, 1 - 1e-6)))
    np.testing.assert_allclose(tuned.oob_scores_, scores, rtol=1e-9)
    best = int(np.argmax(scores))
    assert tuned.best_params_ == {"min_samples_leaf": grid["min_samples_leaf"][best]}
    assert tuned.best_score_ == pytest.approx(max(scores))
    peer = RandomForestClassifier(
        n_estimators=60, min_samples_leaf=grid["min_samples_leaf"][best], random_state=4
    ).fit(X, y)
    np.testing.assert_allclose(tuned.predict_proba(X), peer.predict_proba(X))
