"""The effect model, the meta-learners, the benefit model and their cross-validated comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from scipy.stats import spearmanr
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from analysis.benefit.comparison import compare_benefit_models, pairwise_overlap_weights
from analysis.benefit.effect_model import (
    NO_CLEAR_DIFFERENCE,
    NO_EVIDENCE,
    BenefitModel,
    TLearner,
    counterfactual_probabilities,
    cross_fitted_counterfactuals,
    effect_interactions,
    effect_model_spec,
    learner_specs,
    preferred_options,
)
from analysis.benefit.propensity import overlap_weights, propensity_pipeline
from analysis.benefit.validation import BENEFIT_VALIDATION_COLUMNS
from analysis.errors import AnalysisError
from analysis.models.zoo import ModelSpec

CODEBOOK = {"age": {"type": "numeric"}, "marker": {"type": "numeric"},
            "drug": {"type": "categorical", "levels": ["a", "b"]}}
TREATMENT = {"column": "drug", "options": ["a", "b"], "reference": "a",
             "effect_modifiers": ["marker"], "confounders": ["age"]}


def simulate(n: int, seed: int):
    """Benefit of b over a grows with the marker; b is given more often to older patients."""
    rng = np.random.default_rng(seed)
    age = rng.normal(50, 10, n)
    marker = rng.normal(0, 1, n)
    drug = np.where(rng.random(n) < expit((age - 50) / 15), "b", "a")
    lp = {o: -0.2 + 0.02 * (age - 50) + 0.3 * marker + (o == "b") * (0.1 + 1.2 * marker)
          for o in ("a", "b")}
    truth = pd.DataFrame({o: expit(v) for o, v in lp.items()})
    p = np.where(drug == "b", truth["b"], truth["a"])
    y = (rng.random(n) < p).astype(int)
    X = pd.DataFrame({"age": age, "marker": marker, "drug": drug})
    return X, y, truth


def test_effect_interactions_add_treatment_by_modifier_once():
    assert effect_interactions(TREATMENT) == [("drug", "marker")]
    assert effect_interactions(TREATMENT, [("marker", "drug")]) == [("marker", "drug")]


def test_effect_model_spec_is_the_flexible_model_with_the_interactions():
    spec = effect_model_spec(CODEBOOK, ["age", "marker", "drug"], TREATMENT, smoke=True)
    assert spec.name == "effect_model"
    assert spec.pipeline["preprocess"].interactions == [("drug", "marker")]


def test_counterfactuals_of_a_main_effect_model_equal_the_hand_computation():
    X, y, _ = simulate(400, 0)
    pre = make_column_transformer((OneHotEncoder(drop="first"), ["drug"]), remainder="passthrough")
    model = make_pipeline(pre, LogisticRegression(C=1e6, max_iter=5000)).fit(X, y)
    got = counterfactual_probabilities(model, X, "drug", ["a", "b"])
    coef = model[-1].coef_[0]  # [drug=b, age, marker]
    lp_a = model[-1].intercept_[0] + coef[1] * X["age"] + coef[2] * X["marker"]
    np.testing.assert_allclose(got["a"], expit(lp_a), rtol=1e-10)
    np.testing.assert_allclose(got["b"], expit(lp_a + coef[0]), rtol=1e-10)
    # an additive model: the same odds ratio for every patient
    np.testing.assert_allclose(logit(got["b"]) - logit(got["a"]), coef[0], rtol=1e-8)


def test_counterfactuals_in_one_call_equal_one_call_per_option():
    """All options are scored in one stacked call: the same numbers as one call per option,
    in the rows' order and index, for the flexible effect model of the benefit notebook."""
    X, y, _ = simulate(300, 2)
    X.index = X.index + 100
    spec = effect_model_spec(CODEBOOK, ["age", "marker", "drug"], TREATMENT, smoke=True)
    model = spec.pipeline.fit(X, y)
    got = counterfactual_probabilities(model, X, "drug", ["a", "b"])
    assert got.columns.tolist() == ["a", "b"] and got.index.equals(X.index)
    for option in ("a", "b"):
        one = model.predict_proba(X.assign(drug=option))[:, 1]
        np.testing.assert_allclose(got[option].to_numpy(), one, rtol=0, atol=1e-15)
    single = counterfactual_probabilities(model, X.iloc[:1], "drug", ["b"])
    assert single.shape == (1, 1)


def test_t_learner_is_one_model_per_option():
    X, y, _ = simulate(300, 1)
    t = TLearner(LogisticRegression(), column="drug", options=["a", "b"]).fit(X, y)
    for option, model in zip(["a", "b"], t.estimators_, strict=True):
        mask = X["drug"] == option
        own = LogisticRegression().fit(X.loc[mask, ["age", "marker"]], y[mask])
        np.testing.assert_allclose(model.coef_, own.coef_)
        np.testing.assert_allclose(t.predict_proba(X[mask])[:, 1],
                                   own.predict_proba(X.loc[mask, ["age", "marker"]])[:, 1])


def test_t_learner_refuses_an_option_without_both_outcomes():
    X = pd.DataFrame({"drug": ["a"] * 6 + ["b"] * 6, "x": np.arange(12.0)})
    y = np.r_[[0, 1] * 3, [1] * 6]
    with pytest.raises(AnalysisError, match="option 'b'.*not both outcomes"):
        TLearner(LogisticRegression(), column="drug", options=["a", "b"]).fit(X, y)


def test_cross_fitting_scores_each_patient_with_a_model_that_did_not_see_it():
    X, y, _ = simulate(200, 2)
    pipe = make_pipeline(make_column_transformer((OneHotEncoder(), ["drug"]),
                                                 remainder="passthrough"), LogisticRegression())
    spec = ModelSpec("lr", "lr", pipe, {}, 1)
    got = cross_fitted_counterfactuals(spec, X, y, "drug", ["a", "b"], n_splits=5, seed=3)
    strata = pd.factorize(X["drug"], sort=True)[0] * 2 + y
    expected = np.full((len(y), 2), np.nan)
    for train, test in StratifiedKFold(5, shuffle=True, random_state=3).split(X, strata):
        fitted = pipe.fit(X.iloc[train].reset_index(drop=True), y[train])
        expected[test] = counterfactual_probabilities(fitted, X.iloc[test], "drug", ["a", "b"])
    np.testing.assert_allclose(got.to_numpy(), expected)


def test_preferred_option_needs_an_interval_that_excludes_zero():
    table = pd.DataFrame({"probability_a": [0.3, 0.5, 0.4], "probability_b": [0.6, 0.2, 0.45],
                          "benefit_ci_lower_b": [0.1, -0.5, -0.1],
                          "benefit_ci_upper_b": [0.5, -0.1, 0.2]})
    assert preferred_options(table, ["a", "b"], "a") == ["b", "a", NO_CLEAR_DIFFERENCE]
    assert preferred_options(table, ["a", "b"], "a", evidence=None) == [NO_EVIDENCE] * 3
    assert preferred_options(table, ["a", "b"], "a", evidence={"b": True})[0] == "b"


def fitted_benefit_model(n=1500, seed=4, n_boot=30):
    X, y, truth = simulate(n, seed)
    spec = effect_model_spec(CODEBOOK, ["age", "marker", "drug"], TREATMENT)
    model = BenefitModel(spec.pipeline, column="drug", options=["a", "b"], reference="a",
                         propensity_estimator=propensity_pipeline({"age": CODEBOOK["age"]}, ["age"]),
                         n_boot=n_boot, seed=5).fit(X, y)
    return model, X, y, truth


@pytest.fixture(scope="module")
def benefit():
    return fitted_benefit_model()


def test_benefit_model_recovers_the_true_benefit(benefit):
    model, X, _, truth = benefit
    X_new, _, truth_new = simulate(3000, 99)
    table = model.option_table(X_new, evidence=True)
    true_benefit = truth_new["b"] - truth_new["a"]
    assert spearmanr(table["benefit_b"], true_benefit).statistic > 0.9
    clear = table["preferred_option"] != NO_CLEAR_DIFFERENCE
    assert clear.mean() > 0.3
    truly_better = np.where(true_benefit > 0, "b", "a")
    assert (table.loc[clear, "preferred_option"] == truly_better[clear]).mean() > 0.95


def test_benefit_model_intervals_and_columns(benefit):
    model, X, _, _ = benefit
    table = model.option_table(X.head(50), evidence=True)
    assert table.columns.tolist() == [
        "probability_a", "ci_lower_a", "ci_upper_a", "probability_b", "ci_lower_b", "ci_upper_b",
        "benefit_b", "benefit_ci_lower_b", "benefit_ci_upper_b", "preferred_option",
        "in_common_support"]
    assert (table["ci_lower_b"] <= table["ci_upper_b"]).all()
    assert (table["benefit_ci_lower_b"] <= table["benefit_ci_upper_b"]).all()
    np.testing.assert_allclose(table["benefit_b"], table["probability_b"] - table["probability_a"])
    # the treatment column of the input does not change the per-option predictions
    flipped = X.head(50).assign(drug=np.where(X.head(50)["drug"] == "a", "b", "a"))
    pd.testing.assert_frame_equal(model.option_table(flipped, evidence=True), table)
    # not validated: no recommendation
    assert set(model.option_table(X.head(5))["preferred_option"]) == {NO_EVIDENCE}


def test_benefit_model_refits_keep_the_penalty_of_the_main_fit(benefit):
    model, *_ = benefit
    assert len(model.refits_) == 30
    main = model.model_[-1]
    for refit in model.refits_[:5]:
        assert refit[-1].alpha_ == main.alpha_
        assert refit[-1].nonlinear_ratio_ == main.nonlinear_ratio_


def test_benefit_model_is_reproducible():
    a, X, *_ = fitted_benefit_model(n=300, seed=6, n_boot=5)
    b, *_ = fitted_benefit_model(n=300, seed=6, n_boot=5)
    pd.testing.assert_frame_equal(a.option_table(X, evidence=True), b.option_table(X, evidence=True))


def test_common_support_flags_patients_unlike_either_group(benefit):
    model, X, _, _ = benefit
    lo = model.support_["b"][0]
    extreme = pd.DataFrame({"age": [-100.0, 50.0], "marker": [0.0, 0.0], "drug": ["a", "a"]})
    assert lo > 0
    assert model.in_support(extreme).tolist() == [False, True]


def test_learner_specs_cover_s_and_t_learners():
    specs = learner_specs(CODEBOOK, ["age", "marker", "drug"], TREATMENT, smoke=True)
    assert {kind for _, kind in specs.values()} == {"S", "T"}
    assert isinstance(specs["T: flexible_logistic"][0].pipeline, TLearner)


def test_compare_benefit_models_rows_and_pairwise_weights():
    X, y, _ = simulate(240, 7)
    scores = pd.DataFrame({"a": np.full(240, 0.6), "b": np.full(240, 0.4)})
    spec = effect_model_spec(CODEBOOK, ["age", "marker", "drug"], TREATMENT, smoke=True)
    table, cf = compare_benefit_models({"effect_model": spec}, X, y, column="drug",
                                       options=["a", "b"], reference="a", scores=scores,
                                       n_splits=3, n_boot=20, seed=0)
    assert table.columns[:7].tolist() == list(BENEFIT_VALIDATION_COLUMNS)
    assert table["weighted"].tolist() == [False, True]
    assert (table["n_pairs"] == min((X["drug"] == "a").sum(), (X["drug"] == "b").sum())).all()
    assert cf["effect_model"].notna().all().all()
    # two options: the pairwise weights are the overlap weights themselves
    np.testing.assert_allclose(pairwise_overlap_weights(scores, X["drug"], "b", "a"),
                               overlap_weights(scores, X["drug"], ["a", "b"]))


def test_a_binary_treatment_read_as_float_matches_options_zero_and_one():
    X, y, _ = simulate(300, 8)
    X = X.assign(drug=(X["drug"] == "b").astype(float))  # 0.0 / 1.0, options "0" / "1"
    t = TLearner(LogisticRegression(), column="drug", options=["0", "1"]).fit(X, y)
    assert [int(m.n_features_in_) for m in t.estimators_] == [2, 2]
    assert np.isfinite(t.predict_proba(X)).all()
    probs = counterfactual_probabilities(t, X.head(5), "drug", ["0", "1"])
    assert probs.notna().all().all()
