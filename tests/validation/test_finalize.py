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
    SAMPLE_SIZE_COLUMNS,
    FinalModel,
    describe_sample_size,
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


def test_sample_size_uses_the_nested_cv_auc_of_the_reference_with_c_plus_minus_005(data):
    X, y, spec, _ = data
    comparison = pd.DataFrame({"model": ["intercept_only", "logistic", "lasso"],
                               "auc": [0.5, 0.72, 0.9]})
    t = sample_size_requirement(spec, X, y, comparison, seed=1)
    assert list(t.columns) == list(SAMPLE_SIZE_COLUMNS)
    assert t.attrs["parameters"] == 2 and t.attrs["c_statistic"] == 0.72
    assert t.attrs["c_source"] == "nested cross-validated AUC of the reference model"
    assert t["scenario"].unique().tolist() == ["C - 0.05", "anticipated", "C + 0.05"]
    prevalence = float(y.mean())
    for scenario, c in (("C - 0.05", 0.67), ("anticipated", 0.72), ("C + 0.05", 0.77)):
        part = t[t["scenario"] == scenario]
        assert (part["c_statistic"] == c).all()
        expected = riley_binary(2, prevalence, c_statistic=c)
        assert part["criterion"].tolist() == expected["criterion"].tolist()
        assert part["n_required"].tolist() == expected["n_required"].tolist()
        assert part["events_required"].tolist() == expected["events_required"].tolist()
        np.testing.assert_allclose(part["events_per_parameter"], expected["events_per_parameter"])
    overall = t[t["criterion"] == "overall"]["n_required"].tolist()
    assert overall[0] >= overall[1] >= overall[2]  # better discrimination, fewer patients


def test_sample_size_prefers_a_literature_c_statistic(data):
    X, y, spec, _ = data
    comparison = pd.DataFrame({"model": ["logistic"], "auc": [0.6]})
    t = sample_size_requirement(spec, X, y, comparison, anticipated_c=0.8, sensitivity=0.1,
                                seed=1)
    assert t.attrs["c_statistic"] == 0.8 and "literature" in t.attrs["c_source"]
    assert t.query("criterion == 'overall'")["c_statistic"].tolist() == [0.7, 0.8, 0.9]
    # no comparison table is needed when the literature gives C
    t2 = sample_size_requirement(spec, X, y, None, anticipated_c=0.8, sensitivity=0.1, seed=1)
    pd.testing.assert_frame_equal(t, t2)


def test_sample_size_without_discrimination_is_undefined_not_clipped(data):
    # cd-msc: the separating logistic model's corrected AUC was 0.79, its nested CV AUC 0.46
    X, y, spec, _ = data
    t = sample_size_requirement(spec, X, y, pd.DataFrame({"model": ["logistic"], "auc": [0.46]}),
                                seed=1)
    overall = t[t["criterion"] == "overall"].set_index("scenario")
    assert overall.loc[["C - 0.05", "anticipated"], "n_required"].isna().all()
    assert overall.loc["C + 0.05", "n_required"] == riley_binary(
        2, float(y.mean()), c_statistic=0.51).set_index("criterion").loc["overall", "n_required"]
    assert "not above 0.5" in overall.loc["anticipated", "note"]
    text = describe_sample_size(t, len(y), int(y.sum()))
    assert "anticipated C statistic 0.46 (nested cross-validated AUC" in text
    assert "criteria are undefined" in text and "at C = 0.41 it is undefined" in text
    assert "at C = 0.51 it is" in text


def test_describe_sample_size_reports_adequacy_and_the_sensitivity_range(data):
    X, y, spec, _ = data
    t = sample_size_requirement(spec, X, y, pd.DataFrame({"model": ["logistic"], "auc": [0.8]}),
                                seed=1)
    text = describe_sample_size(t, len(y), int(y.sum()))
    overall = t[t["criterion"] == "overall"].set_index("scenario")["n_required"]
    assert text.startswith("2 candidate parameters; anticipated C statistic 0.80 (nested")
    assert "The study is too small: 120 participants" in text
    assert f"at C = 0.75 it is {overall['C - 0.05']} patients" in text
    assert f"at C = 0.85 it is {overall['C + 0.05']} patients" in text
    with pytest.raises(AnalysisError, match="output of sample_size_requirement"):
        describe_sample_size(t.drop(columns="scenario"), 120, 60)


def test_sample_size_needs_one_finite_auc_for_the_reference(data):
    X, y, spec, _ = data
    with pytest.raises(AnalysisError, match="expected one row for the reference model 'logistic'"):
        sample_size_requirement(spec, X, y, pd.DataFrame({"model": ["lasso"], "auc": [0.7]}))
    with pytest.raises(AnalysisError, match="no cross-validated AUC"):
        sample_size_requirement(spec, X, y, pd.DataFrame({"model": ["logistic"], "auc": [np.nan]}))
    with pytest.raises(AnalysisError, match="columns 'model', 'auc'"):
        sample_size_requirement(spec, X, y, pd.DataFrame({"model": ["logistic"]}))


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
    assert settings.reference == "logistic"  # the flexible model is not run: next default
    with_pair = ModellingSettings.from_mapping({"interactions": [["age", "sex"]]}, smoke=True)
    assert with_pair.reference == "flexible_logistic"
    basis = study_models(Study(), with_pair, seed=2)["flexible_logistic"].pipeline["preprocess"]
    assert basis.interactions == [("age", "sex")]
    wrong = ModellingSettings.from_mapping({"interactions": [["age", "bmi"]]}, smoke=True)
    with pytest.raises(AnalysisError, match=r"modelling.interactions: \['age', 'bmi'\] names \['bmi'\]"):
        study_models(Study(), wrong, seed=2)
    full = study_models(Study(), ModellingSettings(), seed=2)
    smoke = study_models(Study(), ModellingSettings().smoke_mode(), seed=2)
    assert len(full) == len(smoke) == 9
    assert len(full["lasso"].param_grid["model__C"]) == 8
    assert len(smoke["lasso"].param_grid["model__C"]) == 2


def test_selected_model_needs_exactly_one():
    assert selected_model(pd.DataFrame({"model": ["a", "b"], "selected": [True, False]})) == "a"
    with pytest.raises(AnalysisError, match="exactly one model must be selected, found 2"):
        selected_model(pd.DataFrame({"model": ["a", "b"], "selected": [True, True]}))


# --------------------------------------------------------------------------- the shipped model


def test_recalibration_comes_from_the_models_own_bootstrap(data):
    """With bootstrap_optimism(recalibrate=True) rows, the final model is recalibrated with
    exactly the (a, b) the bootstrap estimated for it - not on the fold models' OOF."""
    from analysis.validation.finalize import OWN_BOOTSTRAP
    from analysis.validation.resampling import bootstrap_optimism

    X, y, spec, oof = data
    validation = bootstrap_optimism(spec, X, y, n_boot=10, seed=1, n_jobs=1, progress=False,
                                    inner_splits=2, recalibrate=True)
    rows = validation.set_index("metric")["apparent"]
    final = finalize_model(spec, X, y, comparison=_table(1.6), oof_probability=oof,
                           rule=SelectionRule(), seed=1, inner_splits=2, validation=validation)
    assert final.recalibrated and final.estimated_on == OWN_BOOTSTRAP
    assert final.estimator.intercept == rows["recalibration_intercept"]
    assert final.estimator.slope == rows["recalibration_slope"]
    oof_fit = recalibrate(fit_final(spec, X, y, seed=1, inner_splits=2), oof, y)
    assert final.estimator.slope != oof_fit.slope
    # the validation table's apparent AUC is the shipped model's on all patients
    from analysis.evaluation.scores import score_binary

    p = final.estimator.predict_proba(X)[:, 1]
    assert score_binary(y, p, metrics=["auc"])["auc"] == pytest.approx(rows["auc"])
    assert "validated the model with this recalibration step" in final.describe()
    assert final.as_frame()["recalibration_estimated_on"].item() == OWN_BOOTSTRAP


def test_recalibration_due_without_coefficients_or_oof_is_a_clear_error(data):
    X, y, spec, _ = data
    with pytest.raises(AnalysisError, match="recalibrate=True"):
        finalize_model(spec, X, y, comparison=_table(1.6), rule=SelectionRule(), seed=1)
    # no recalibration due: neither is needed
    final = finalize_model(spec, X, y, comparison=_table(1.0), rule=SelectionRule(), seed=1)
    assert not final.recalibrated and final.estimated_on == ""


def test_model_to_finalize_keeps_the_reference_for_audit_when_none_is_selected():
    from analysis.validation.finalize import model_to_finalize, needs_recalibration

    t = pd.DataFrame({"model": ["intercept_only", "logistic", "lasso"],
                      "selected": [False, False, False], "log_loss": [0.69, 0.71, 0.70],
                      "calibration_slope": [np.nan, 0.5, 1.0]})
    assert model_to_finalize(t, "logistic") == ("logistic", True)
    assert model_to_finalize(t, "not_in_table") == ("lasso", True)
    assert model_to_finalize(t.assign(selected=[False, True, False]), "lasso") == ("logistic", False)
    with pytest.raises(AnalysisError, match="at most one model"):
        model_to_finalize(t.assign(selected=True))
    assert needs_recalibration(t, "logistic", SelectionRule())
    assert not needs_recalibration(t, "lasso", SelectionRule())
    with pytest.raises(AnalysisError, match="no row for the selected model 'svm'"):
        needs_recalibration(t, "svm", SelectionRule())


def test_a_model_that_tunes_its_penalty_is_not_recalibrated_and_says_why():
    from analysis.validation.finalize import needs_recalibration, tunes_own_shrinkage

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"x": rng.normal(size=120), "z": rng.normal(size=120)})
    y = (X["x"] + rng.normal(size=120) > 0).astype(int).to_numpy()
    zoo = model_zoo({"x": {"type": "numeric"}, "z": {"type": "numeric"}}, ["x", "z"], smoke=True)
    table = pd.DataFrame({"model": list(zoo), "calibration_slope": 0.6})
    assert needs_recalibration(table, "lasso", SelectionRule())  # the rule alone says so
    for name in ("lasso", "elastic_net", "flexible_logistic"):
        assert tunes_own_shrinkage(zoo[name])
        assert not needs_recalibration(table, name, SelectionRule(), spec=zoo[name])
        final = finalize_model(zoo[name], X, y, comparison=table, rule=SelectionRule())
        assert not final.recalibrated and final.penalty_tuned
        assert "not recalibrated" in final.describe() and "0.60" in final.describe()
    # an unpenalised or a memorising model is still recalibrated by the rule
    for name in ("logistic", "svm"):
        assert not tunes_own_shrinkage(zoo[name])
        assert needs_recalibration(table, name, SelectionRule(), spec=zoo[name])
