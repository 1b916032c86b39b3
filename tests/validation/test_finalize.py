"""From selected model to final model: refit, recalibration by the rule, subgroups, sample size."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.evaluation.subgroups import subgroup_performance
from analysis.models.recalibration import RecalibratedClassifier, recalibrate
from analysis.models.zoo import model_zoo
from analysis.study.settings import ModellingSettings, SelectionRule, Subgroup
from analysis.validation.finalize import (
    FinalModel,
    finalize_model,
    read_oof_probabilities,
    sample_size_requirement,
    study_models,
    subgroup_table,
)
from analysis.validation.resampling import fit_final
from analysis.validation.sample_size import riley_binary
from analysis.validation.selection import selected_model


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"x": rng.normal(size=120), "z": rng.normal(size=120)})
    y = (X["x"] + 0.5 * X["z"] + rng.normal(size=120) > 0).astype(int).to_numpy()
    spec = model_zoo({"x": {"type": "numeric"}, "z": {"type": "numeric"}}, ["x", "z"],
                     smoke=True, seed=1)["logistic"]
    oof = np.clip(1 / (1 + np.exp(-2.5 * X["x"].to_numpy())), 0.01, 0.99)
    return X, y, spec, oof


def _table(slope):
    return pd.DataFrame({"model": ["intercept_only", "logistic"], "calibration_slope": [np.nan, slope]})


def test_slope_within_the_rule_keeps_the_refitted_model(data):
    X, y, spec, oof = data
    final = finalize_model(spec, X, y, comparison=_table(0.95), oof_probability=oof,
                           rule=SelectionRule(), seed=1)
    assert not final.recalibrated and final.cv_slope == 0.95
    expected = fit_final(spec, X, y, seed=1).predict_proba(X)
    np.testing.assert_array_equal(final.estimator.predict_proba(X), expected)
    assert final.describe().endswith("within [0.8, 1.2]: no recalibration.")
    assert np.isnan(final.as_frame()["recalibration_slope"].item())


@pytest.mark.parametrize("slope", [1.6, np.nan])
def test_slope_outside_the_rule_or_undefined_recalibrates_on_oof(data, slope):
    X, y, spec, oof = data
    final = finalize_model(spec, X, y, comparison=_table(slope), oof_probability=oof,
                           rule=SelectionRule(), seed=1)
    assert final.recalibrated and isinstance(final.estimator, RecalibratedClassifier)
    reference = recalibrate(fit_final(spec, X, y, seed=1), oof, y)
    assert (final.estimator.intercept, final.estimator.slope) == (reference.intercept, reference.slope)
    row = final.as_frame().iloc[0]
    assert row["recalibrated"] and row["recalibration_slope"] == reference.slope
    assert "outside [0.8, 1.2]: its probabilities are recalibrated" in final.describe()


def test_the_given_rule_decides_not_a_default_one(data):
    X, y, spec, oof = data
    wide = SelectionRule(slope_range=(0.5, 2.0))
    final = finalize_model(spec, X, y, comparison=_table(1.6), oof_probability=oof, rule=wide, seed=1)
    assert not final.recalibrated and final.slope_range == (0.5, 2.0)


def test_missing_model_row_is_an_error(data):
    X, y, spec, oof = data
    table = pd.DataFrame({"model": ["lasso"], "calibration_slope": [1.0]})
    with pytest.raises(AnalysisError, match="no row for the selected model 'logistic'"):
        finalize_model(spec, X, y, comparison=table, oof_probability=oof, rule=SelectionRule())


def test_final_model_description_quotes_the_recalibration():
    est = RecalibratedClassifier(None, intercept=-0.25, slope=0.5)
    text = FinalModel("m", "M", est, 1.7, (0.8, 1.2), True).describe()
    assert "logit(p') = -0.250 + 0.500 × logit(p)" in text and "1.70" in text


def test_subgroup_table_reproduces_the_sex_group_age_table():
    rng = np.random.default_rng(0)
    n = 200
    frame = pd.DataFrame({
        "sex": pd.Series(rng.choice(["female", "male"], n)).where(rng.random(n) > 0.05),
        "arm": rng.choice(["a", "b", "c"], n),
        "age": rng.uniform(20, 80, n).round(),
    })
    y = rng.binomial(1, 0.4, n)
    p = rng.uniform(0.1, 0.9, n)
    subs = (Subgroup("sex"), Subgroup("arm"), Subgroup("age", (40.0, 60.0)))
    old = subgroup_performance(y, p, frame, ["sex", "arm"], age_column="age")
    pd.testing.assert_frame_equal(subgroup_table(y, p, frame, subs), old)
    assert old.to_csv(index=False) == subgroup_table(y, p, frame, subs).to_csv(index=False)


def test_subgroup_table_bands_several_numeric_columns_in_declared_order():
    frame = pd.DataFrame({"age": [30, 50, 70, 35], "crp": [1.0, 12.0, 6.0, 2.0]})
    t = subgroup_table([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.3], frame,
                       [Subgroup("crp", (5.0, 10.0)), Subgroup("age", (40.0, 60.0))])
    assert t["subgroup"].tolist() == ["overall", "crp", "crp", "crp", "age", "age", "age"]
    assert t["level"].tolist()[1:4] == ["<5", "5–9", "≥10"]
    assert t.loc[t["subgroup"] == "crp", "n"].tolist() == [2, 1, 1]


def test_sample_size_clips_the_anticipated_c_statistic(data):
    X, y, spec, _ = data
    for corrected, expected in ((0.51, 0.55), (0.99, 0.95), (0.7, 0.7)):
        v = pd.DataFrame({"model": ["logistic", "lasso"], "metric": ["auc", "auc"],
                          "corrected": [corrected, 0.6]})
        t = sample_size_requirement(spec, X, y, v, seed=1)
        assert t.attrs["c_statistic"] == expected and t.attrs["parameters"] == 2
        pd.testing.assert_frame_equal(t, riley_binary(2, float(y.mean()), c_statistic=expected))
    with pytest.raises(AnalysisError, match="one 'auc' row for model 'logistic'"):
        sample_size_requirement(spec, X, y, v.iloc[1:], seed=1)


def test_read_oof_probabilities_averages_repeats(tmp_path):
    pred = pd.DataFrame({"model": ["a", "a", "b", "b", "a", "b"], "row": [1, 0, 0, 1, 1, 0],
                         "probability": [0.2, 0.4, 0.6, 0.8, 0.6, 0.2]})
    pred.to_parquet(tmp_path / "oof.parquet")
    wide = read_oof_probabilities(tmp_path / "oof.parquet")
    assert wide.index.tolist() == [0, 1] and list(wide.columns) == ["a", "b"]
    np.testing.assert_allclose(wide.to_numpy(), [[0.4, 0.4], [0.4, 0.8]])
    pred.drop(columns="row").to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(AnalysisError, match=r"lacks column\(s\) \['row'\]"):
        read_oof_probabilities(tmp_path / "bad.parquet")


def test_study_models_follow_the_settings():
    class Study:
        predictors = ("age", "sex")

        def codebook(self, names):
            return {"age": {"type": "numeric"}, "sex": {"type": "binary"}}

    settings = ModellingSettings.from_mapping({"models": ["intercept_only", "logistic"]}, smoke=True)
    models = study_models(Study(), settings, seed=2)
    assert list(models) == ["intercept_only", "logistic"]
    full = study_models(Study(), ModellingSettings(), seed=2)
    smoke = study_models(Study(), ModellingSettings().smoke_mode(), seed=2)
    assert len(full) == len(smoke) == 8
    assert len(full["lasso"].param_grid["model__C"]) == 8
    assert len(smoke["lasso"].param_grid["model__C"]) == 2


def test_selected_model_needs_exactly_one():
    assert selected_model(pd.DataFrame({"model": ["a", "b"], "selected": [True, False]})) == "a"
    with pytest.raises(AnalysisError, match="exactly one model must be selected, found 2"):
        selected_model(pd.DataFrame({"model": ["a", "b"], "selected": [True, True]}))
