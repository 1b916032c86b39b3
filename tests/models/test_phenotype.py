"""The phenotype as a candidate predictor: PhenotypeFeatures, its number of classes, the zoo with
it, and the saved model (skops through the project's allow-list, inputs in model.json).

Simulated cohort: 240 patients in 3 planted phenotypes (shares 50/30/20%) seen through two
numeric, one integer, one binary and one categorical variable, with missing values; the
outcome depends on the phenotype only.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline

from analysis.errors import AnalysisError
from analysis.models.artifact import ALLOWED_TYPES, load_model, save_model
from analysis.models.phenotype import (
    PhenotypeFeatures,
    choose_phenotype_classes,
    phenotype_codebook_entry,
)
from analysis.models.preprocessing import build_preprocessor, feature_names
from analysis.models.zoo import MODEL_NAMES, model_zoo
from analysis.study.config import Study, Variable
from analysis.study.paths import StudyPaths

VARIABLES = ["crp", "pain", "tjc", "rf", "line"]
CODEBOOK = {
    "crp": {"type": "numeric"},
    "pain": {"type": "numeric"},
    "tjc": {"type": "integer"},
    "rf": {"type": "binary"},
    "line": {"type": "categorical", "levels": ["first", "second", "third"]},
}


def planted(n: int = 240, seed: int = 0, missing: float = 0.05):
    """Patients in 3 planted phenotypes (0: 50%, 1: 30%, 2: 20%), with an outcome and an age."""
    rng = np.random.default_rng(seed)
    truth = np.repeat([0, 1, 2], [n // 2, 3 * n // 10, n - n // 2 - 3 * n // 10])
    rng.shuffle(truth)
    frame = pd.DataFrame({
        "age": rng.normal(55, 10, n),
        "crp": rng.normal(np.array([1.0, 4.0, 1.0])[truth], 0.5),
        "pain": rng.normal(np.array([20.0, 40.0, 80.0])[truth], 8.0),
        "tjc": rng.poisson(np.array([2.0, 12.0, 6.0])[truth]).astype(float),
        "rf": (rng.random(n) < np.array([0.9, 0.8, 0.1])[truth]).astype(float),
        "line": np.array(["first", "second", "third"])[
            [rng.choice(3, p=p) for p in np.array([[.8, .15, .05], [.2, .6, .2], [.1, .3, .6]])[truth]]],
    })
    for col in VARIABLES:  # missing completely at random
        frame.loc[rng.random(n) < missing, col] = np.nan
    y = (rng.random(n) < np.array([0.15, 0.6, 0.35])[truth]).astype(int)
    return frame, y, truth


@pytest.fixture(scope="module")
def cohort():
    return planted()


def test_adds_one_categorical_column_after_the_kept_predictors(cohort):
    X, _, _ = cohort
    pf = PhenotypeFeatures(VARIABLES, CODEBOOK, 3, predictors=["age", "crp"]).fit(X)
    out = pf.transform(X)
    assert list(out.columns) == ["age", "crp", "phenotype"] == list(pf.get_feature_names_out())
    assert out.shape == (len(X), 3) and out.index.equals(X.index)
    assert set(out["phenotype"]) == {"1", "2", "3"} and pf.levels_ == ["1", "2", "3"]
    assert out[["age", "crp"]].equals(X[["age", "crp"]])
    probs = pf.class_probabilities(X)
    assert probs.shape == (len(X), 3) and np.allclose(probs.sum(axis=1), 1)
    # the column is the most probable class
    assert (out["phenotype"].astype(int).to_numpy() == probs.argmax(axis=1) + 1).all()
    # without predictors, every input column is passed on
    assert list(PhenotypeFeatures(VARIABLES, CODEBOOK, 2).fit(X).transform(X).columns) == [
        *X.columns, "phenotype"]


def test_a_planted_three_class_structure_is_recovered_in_canonical_order(cohort):
    X, _, truth = cohort
    pf = PhenotypeFeatures(VARIABLES, CODEBOOK, 3, seed=0).fit(X)
    labels = pf.transform(X)["phenotype"].astype(int).to_numpy()
    assert adjusted_rand_score(truth, labels) > 0.8
    # canonical order: class 1 is the largest, then decreasing size
    assert list(pf.class_sizes_) == sorted(pf.class_sizes_, reverse=True)
    assert pf.class_sizes_.sum() == len(X)
    # so the planted groups (50/30/20%) map onto classes 1, 2, 3 in that order
    for group, cls in zip([0, 1, 2], [1, 2, 3], strict=True):
        assert np.mean(labels[truth == group] == cls) > 0.85


def test_same_seed_same_labels_and_refits_on_reordered_rows_agree(cohort):
    X, _, _ = cohort
    first = PhenotypeFeatures(VARIABLES, CODEBOOK, 3, seed=7).fit(X)
    again = PhenotypeFeatures(VARIABLES, CODEBOOK, 3, seed=7).fit(X)
    assert first.transform(X).equals(again.transform(X))
    assert np.array_equal(first.class_probabilities(X), again.class_probabilities(X))
    # a refit on the same patients in another order (another EM start) labels them the same
    order = np.random.default_rng(1).permutation(len(X))
    shuffled = PhenotypeFeatures(VARIABLES, CODEBOOK, 3, seed=3).fit(X.iloc[order])
    assert shuffled.transform(X)["phenotype"].equals(first.transform(X)["phenotype"])


def test_missing_values_drop_out_of_the_likelihood(cohort):
    X, _, _ = cohort
    assert X[VARIABLES].isna().any().all()  # the training data have gaps in every variable
    pf = PhenotypeFeatures(VARIABLES, CODEBOOK, 3).fit(X)
    gap = X.iloc[[0]].copy()
    gap[VARIABLES] = np.nan
    # no information: the class probabilities are the class weights, the class the most likely
    weights = pf.model_.mixture_.weights_[pf.model_.order_]
    assert np.allclose(pf.class_probabilities(gap)[0], weights)
    assert pf.transform(gap)["phenotype"].item() == str(int(np.argmax(weights)) + 1)
    # one observed variable decides alone: a high pain score is class 3 (the 80-mm group)
    gap["pain"] = 85.0
    assert pf.transform(gap)["phenotype"].item() == "3"


def test_clone_keeps_the_parameters_and_drops_the_fit(cohort):
    X, _, _ = cohort
    pf = PhenotypeFeatures(VARIABLES, CODEBOOK, 3, predictors=["age"], seed=5, n_init=4).fit(X)
    twin = clone(pf)
    assert twin.get_params() == pf.get_params() and not hasattr(twin, "model_")
    assert twin.set_params(n_classes=2).get_params()["n_classes"] == 2
    assert twin.fit(X).transform(X)["phenotype"].isin(["1", "2"]).all()
    with pytest.raises(AnalysisError, match="call fit before transform"):
        clone(pf).transform(X)


@pytest.mark.parametrize("n_classes", [1, 0, 2.0, True])
def test_invalid_number_of_classes_is_refused(cohort, n_classes):
    X, _, _ = cohort
    with pytest.raises(AnalysisError, match="n_classes: must be an integer of at least 2"):
        PhenotypeFeatures(VARIABLES, CODEBOOK, n_classes).fit(X)


def test_refitted_in_every_fold_of_a_pipeline(cohort):
    X, y, _ = cohort
    book = {"age": {"type": "numeric"}, "phenotype": phenotype_codebook_entry(3)}
    pipe = Pipeline([
        ("phenotype", PhenotypeFeatures(VARIABLES, CODEBOOK, 3, predictors=["age"])),
        ("design", build_preprocessor(book, ["age", "phenotype"])),
        ("model", LogisticRegression()),
    ])
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    scores = cross_val_score(pipe, X, y, cv=cv, scoring="roc_auc")
    again = cross_val_score(pipe, X, y, cv=cv, scoring="roc_auc")
    assert np.array_equal(scores, again)
    # the outcome depends on the phenotype only: it discriminates out of fold
    assert scores.mean() > 0.65
    fitted = clone(pipe).fit(X.iloc[:120], y[:120])
    assert fitted.named_steps["phenotype"].class_sizes_.sum() == 120  # fitted on the training rows
    assert fitted.named_steps["design"].get_feature_names_out().tolist() == [
        "age", "phenotype[2]", "phenotype[3]"]


def test_number_of_classes_declared_or_by_bic_without_the_outcome(cohort):
    X, _, _ = cohort
    chosen = choose_phenotype_classes(X, VARIABLES, CODEBOOK, max_clusters=5, seed=0)
    assert chosen.n_classes == 3 and chosen.bic["k"].tolist() == [2, 3, 4, 5]
    assert chosen.bic.loc[chosen.bic["chosen"], "k"].item() == 3
    assert "without the outcome" in chosen.source and "k = 2 to 5" in chosen.source
    declared = choose_phenotype_classes(X, VARIABLES, CODEBOOK, k=4)
    assert (declared.n_classes, declared.bic) == (4, None)
    with pytest.raises(AnalysisError, match="phenotypes.k: must be an integer from 2"):
        choose_phenotype_classes(X, VARIABLES, CODEBOOK, k=1)
    features = chosen.features(CODEBOOK, predictors=["age"], seed=2)
    assert features.get_params()["n_classes"] == 3 and features.get_params()["seed"] == 2


def test_every_zoo_model_gets_the_phenotype(cohort):
    X, y, _ = cohort
    cb = {"age": {"type": "numeric"}, "crp": {"type": "numeric"}}
    features = PhenotypeFeatures(VARIABLES, CODEBOOK, 3)
    zoo = model_zoo(cb, ["age", "crp"], smoke=True, phenotype=features)
    assert list(zoo) == list(MODEL_NAMES)
    for name, spec in zoo.items():
        steps = spec.pipeline.named_steps["preprocess"].named_steps
        assert list(steps) == ["phenotype", "design"], name
        assert steps["phenotype"].get_params()["predictors"] == ["age", "crp"]
    for name in ("logistic", "flexible_logistic", "random_forest"):
        fitted = clone(zoo[name].pipeline).fit(X, y)
        names = feature_names(fitted)
        assert "phenotype[2]" in names and "phenotype[3]" in names and "pain" not in names, name
    with pytest.raises(AnalysisError, match="expected a PhenotypeFeatures"):
        model_zoo(cb, ["age"], phenotype="yes")


def test_saved_model_round_trips_through_the_safe_loader_with_the_phenotype_inputs(cohort):
    X, y, _ = cohort
    variables = {"age": Variable("age", "numeric", min=18, max=100),
                 "crp": Variable("crp", "numeric"), "pain": Variable("pain", "numeric"),
                 "tjc": Variable("tjc", "integer", min=0, max=28), "rf": Variable("rf", "binary"),
                 "line": Variable("line", "categorical", levels=("first", "second", "third")),
                 "y": Variable("y", "binary")}
    study = Study(name="demo", paths=StudyPaths("demo", Path(tempfile.mkdtemp())), title="Demo",
                  data="raw.csv", outcome="y", predictors=("age", "crp"), variables=variables,
                  phenotypes={"variables": VARIABLES, "outcomes": [], "max_clusters": 6,
                              "candidate_predictor": True})
    assert study.model_inputs == ("age", "crp", "pain", "tjc", "rf", "line")
    cb = {n: variables[n].as_dict() for n in ("age", "crp")}
    features = PhenotypeFeatures(VARIABLES, {n: variables[n].as_dict() for n in VARIABLES}, 3)
    pipe = clone(model_zoo(cb, ["age", "crp"], include=["logistic"], phenotype=features)
                 ["logistic"].pipeline)
    inputs = list(study.model_inputs)
    pipe.fit(X[inputs], y)
    folder = save_model(pipe, study, model_name="logistic", metrics=None,
                        training_frame=X[inputs].assign(y=y), status="fit-for-clinical-use")
    loaded, meta = load_model(folder)  # constructs only ALLOWED_TYPES
    assert {"analysis.models.phenotype.PhenotypeFeatures",
            "analysis.regression.latent_classes.PhenotypeModel",
            "analysis.regression.mixture.LatentClassMixture"} <= ALLOWED_TYPES
    assert np.array_equal(loaded.predict_proba(X[inputs]), pipe.predict_proba(X[inputs]))
    assert list(meta["predictors"]) == inputs
    saved = json.loads((folder / "model.json").read_text())
    assert saved["predictors"]["line"]["levels"] == ["first", "second", "third"]
    assert saved["training"]["ranges"]["tjc"]["kind"] == "numeric"
    assert set(saved["training"]["ranges"]["line"]["levels"]) == {"first", "second", "third"}
