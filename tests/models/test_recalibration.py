"""Logistic recalibration: coefficients against statsmodels, and its effect on new data."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from conftest import make_study
from scipy.special import expit, logit
from sklearn.metrics import roc_auc_score
from test_artifact import PREDICTORS, TINY, fit_pipeline, training_frame

from analysis.errors import AnalysisError
from analysis.evaluation.calibration import calibration_intercept_slope, recalibration_fit
from analysis.models.artifact import load_model, save_model
from analysis.models.recalibration import RecalibratedClassifier, recalibrate
from analysis.models.zoo import model_zoo
from analysis.study.config import load_study
from analysis.validation.resampling import fit_final, nested_cv, oof_probabilities


def test_recalibration_fit_matches_statsmodels():
    rng = np.random.default_rng(5)
    p = rng.uniform(0.02, 0.98, 500)
    y = rng.binomial(1, expit(0.3 + 0.6 * logit(p)))
    ours = recalibration_fit(y, p)
    glm = sm.GLM(y, sm.add_constant(logit(p)), family=sm.families.Binomial()).fit()
    assert ours["intercept"] == pytest.approx(glm.params[0], abs=1e-8)
    assert ours["slope"] == pytest.approx(glm.params[1], abs=1e-8)


def test_recalibrated_probabilities_follow_the_formula_and_keep_the_ranking():
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=200)})
    y = rng.binomial(1, expit(X["x"]))
    base = model_zoo({"x": {"type": "numeric"}}, ["x"], include=["logistic"])["logistic"]
    fitted = base.pipeline.fit(X, y)
    clf = RecalibratedClassifier(fitted, intercept=-0.4, slope=0.5).fit()
    p = fitted.predict_proba(X)[:, 1]
    q = clf.predict_proba(X)[:, 1]
    np.testing.assert_allclose(q, expit(-0.4 + 0.5 * logit(p)), rtol=1e-12)
    assert roc_auc_score(y, q) == pytest.approx(roc_auc_score(y, p))
    with pytest.raises(AnalysisError, match="finite"):
        RecalibratedClassifier(fitted, intercept=np.nan).fit()
    with pytest.raises(AnalysisError, match="values"):
        recalibrate(fitted, p[:10], y)


def test_out_of_fold_recalibration_corrects_an_overfitted_model_on_new_patients():
    # 120 patients, 1 real and 25 noise predictors: the unpenalised logistic model is
    # over-fitted (slope on new patients far below 1); recalibrating it with its
    # out-of-fold probabilities brings the slope on 20,000 new patients close to 1
    rng = np.random.default_rng(11)
    names = [f"x{j}" for j in range(26)]

    def draw(n):
        X = pd.DataFrame(rng.normal(size=(n, 26)), columns=names)
        return X, rng.binomial(1, expit(0.8 * X["x0"])).astype(int)

    X, y = draw(120)
    X_new, y_new = draw(20000)
    codebook = {c: {"type": "numeric"} for c in names}
    zoo = model_zoo(codebook, names, include=["logistic"])
    result = nested_cv(zoo, X, y, outer_splits=5, outer_repeats=2, n_jobs=1, progress=False)
    oof = oof_probabilities(result)["logistic"].to_numpy()
    final = fit_final(zoo["logistic"], X, y)

    def slope(model):
        p = np.clip(model.predict_proba(X_new)[:, 1], 1e-9, 1 - 1e-9)
        table = calibration_intercept_slope(y_new, p).set_index("metric")
        return table.loc["calibration_slope", "estimate"]

    before, after = slope(final), slope(recalibrate(final, oof, y))
    assert before < 0.6
    assert abs(after - 1) < abs(before - 1) and 0.7 < after < 1.4


def test_a_recalibrated_model_is_saved_and_loaded_like_any_other(tmp_path):
    make_study(tmp_path, "tiny", TINY)
    study = load_study("tiny", root=tmp_path)
    frame = training_frame()
    wrapped = RecalibratedClassifier(fit_pipeline(frame), intercept=0.2, slope=0.8).fit()
    folder = save_model(wrapped, study, model_name="logistic, recalibrated", metrics=None,
                        training_frame=frame)
    loaded, meta = load_model(folder)
    assert meta["estimator"] == "RecalibratedClassifier"
    assert meta["recalibration"]["slope"] == 0.8 and meta["recalibration"]["intercept"] == 0.2
    assert "recalibrated: logit(p') = 0.200 + 0.800 x logit(p)" in (folder / "MODEL_CARD.md").read_text()
    X = frame[PREDICTORS]
    np.testing.assert_allclose(loaded.predict_proba(X), wrapped.predict_proba(X))
