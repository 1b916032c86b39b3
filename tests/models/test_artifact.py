"""The saved model: skops round trip, metadata against independent summaries, safety checks."""

from __future__ import annotations

import hashlib
import json
from importlib import metadata as importlib_metadata

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from conftest import make_study
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import analysis
from analysis.models.artifact import (
    ModelArtifactError,
    ModelVersionWarning,
    check_types,
    load_model,
    markdown_table,
    save_model,
)
from analysis.regression.splines import RestrictedCubicSpline
from analysis.study.config import load_study

PREDICTORS = ["age", "crp_mg_l", "smoking", "treatment", "prior_biologic"]
TINY = {
    "title": "Tiny response study",
    "description": "Adults starting a biologic; response at week 12.",
    "id": "pid",
    "outcome": "response",
    "predictors": PREDICTORS,
    "treatment": {"column": "treatment", "options": ["anti-TNF", "anti-IL-17"]},
    "variables": {
        "pid": {"type": "id"},
        "age": {"type": "numeric", "min": 18, "max": 100, "unit": "years", "label": "Age"},
        "crp_mg_l": {"type": "numeric", "min": 0, "max": 1000, "unit": "mg/L",
                     "label": "C-reactive protein", "transform": "log"},
        "smoking": {"type": "categorical", "levels": ["never", "former", "current"],
                    "label": "Smoking"},
        "treatment": {"type": "categorical", "levels": ["anti-TNF", "anti-IL-17"],
                      "label": "Treatment", "required": True},
        "prior_biologic": {"type": "binary", "label": "Prior biologic"},
        "response": {"type": "binary", "label": "Response at week 12"},
    },
}


def training_frame(n: int = 240, seed: int = 1) -> pd.DataFrame:
    """A processed cohort: floats with NaN, categories as text; 'current' smokers absent."""
    rng = np.random.default_rng(seed)
    age = np.round(rng.uniform(20, 80, n), 1)
    crp = np.clip(np.round(rng.lognormal(2.0, 1.0, n), 1), 0.3, 250.0)
    crp[:2] = [0.3, 250.0]  # training range exactly [0.3, 250]
    smoking = rng.choice(["never", "former"], n).astype(object)
    treatment = rng.choice(["anti-TNF", "anti-IL-17"], n).astype(object)
    prior = rng.integers(0, 2, n).astype(float)
    lp = -1 + 0.03 * (age - 50) + 0.5 * np.log(crp) - 0.7 * prior + 0.6 * (treatment == "anti-TNF")
    response = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(float)
    age[5], smoking[6], crp[7] = np.nan, np.nan, np.nan
    return pd.DataFrame({"pid": [f"T{i:03d}" for i in range(n)], "age": age, "crp_mg_l": crp,
                         "smoking": smoking, "treatment": treatment, "prior_biologic": prior,
                         "response": response})


def fit_pipeline(frame: pd.DataFrame) -> Pipeline:
    """Spline of age, log CRP (FunctionTransformer(np.log)), one-hot categories, logistic."""
    prep = ColumnTransformer([
        ("age", make_pipeline(SimpleImputer(strategy="median"), RestrictedCubicSpline(3)), ["age"]),
        ("crp", make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(np.log),
                              StandardScaler()), ["crp_mg_l"]),
        ("cat", make_pipeline(SimpleImputer(strategy="most_frequent"),
                              OneHotEncoder(handle_unknown="ignore")), ["smoking", "treatment"]),
        ("bin", SimpleImputer(strategy="most_frequent"), ["prior_biologic"]),
    ])
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=1000))])
    return model.fit(frame[PREDICTORS], frame["response"].astype(int))


def make_project(root, spec=None, name: str = "tiny"):
    """A study under ``root`` with a saved model; returns (study, pipeline, frame)."""
    make_study(root, name, spec or TINY)
    study = load_study(name, root=root)
    frame = training_frame()
    pipeline = fit_pipeline(frame)
    metrics = pd.DataFrame({"metric": ["auc", "brier"], "estimate": [0.7312, 0.2011],
                            "ci_lower": [0.66, 0.18], "ci_upper": [0.80, 0.22]})
    save_model(pipeline, study, model_name="logistic, rcs(age)", metrics=metrics,
               training_frame=frame)
    return study, pipeline, frame


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    study, pipeline, frame = make_project(root)
    return root, study, pipeline, frame


def test_files_are_written_to_the_study_model_folder(project):
    root, study, _, _ = project
    folder = root / "reports" / "tiny" / "model"
    assert study.paths.model == folder
    assert sorted(p.name for p in folder.iterdir()) == ["MODEL_CARD.md", "model.json", "model.skops"]


def test_round_trip_predictions_are_identical(project):
    _, study, pipeline, frame = project
    loaded, meta = load_model(study.paths.model)
    X = frame[PREDICTORS]
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    steps = loaded.named_steps["prep"].named_transformers_
    assert isinstance(steps["age"][-1], RestrictedCubicSpline)
    assert steps["crp"][1].func is np.log
    assert meta["model_name"] == "logistic, rcs(age)"


def test_metadata_matches_independent_summaries(project):
    _, study, _, frame = project
    meta = json.loads((study.paths.model / "model.json").read_text())
    assert meta["study"] == "tiny" and meta["title"] == "Tiny response study"
    assert meta["outcome"]["name"] == "response"
    assert meta["outcome"]["label"] == "Response at week 12"
    assert meta["training"]["n"] == len(frame)
    assert meta["training"]["events"] == int(frame["response"].sum())
    assert meta["predictors"] == study.codebook(PREDICTORS)
    assert list(meta["predictors"]) == PREDICTORS
    for col in ["age", "crp_mg_l", "prior_biologic"]:
        x = frame[col].dropna().to_numpy()
        rng = meta["training"]["ranges"][col]
        assert rng["min"] == x.min() and rng["max"] == x.max()
        assert rng["p01"] == pytest.approx(np.quantile(x, 0.01), abs=1e-12)
        assert rng["p99"] == pytest.approx(np.quantile(x, 0.99), abs=1e-12)
        assert rng["mean"] == pytest.approx(x.mean(), abs=1e-12)
        assert rng["n_missing"] == int(frame[col].isna().sum())
    assert meta["training"]["ranges"]["crp_mg_l"]["min"] == 0.3
    assert meta["training"]["ranges"]["crp_mg_l"]["max"] == 250.0
    # observed levels only, in codebook order
    assert meta["training"]["ranges"]["smoking"]["levels"] == ["never", "former"]
    assert meta["training"]["ranges"]["treatment"]["levels"] == ["anti-TNF", "anti-IL-17"]
    assert meta["treatment"] == {"column": "treatment", "options": ["anti-TNF", "anti-IL-17"]}
    assert meta["id"]["name"] == "pid"
    assert meta["versions"]["analysis"] == analysis.__version__
    for dist in ("scikit-learn", "skops", "numpy", "pandas"):
        assert meta["versions"][dist] == importlib_metadata.version(dist)
    digest = hashlib.sha256((study.paths.model / "model.skops").read_bytes()).hexdigest()
    assert meta["files"]["model.skops"]["sha256"] == digest
    assert meta["metrics"][0] == {"metric": "auc", "estimate": 0.7312, "ci_lower": 0.66,
                                  "ci_upper": 0.8}


def test_model_card_has_the_headings_and_no_patient_rows(project):
    _, study, _, frame = project
    card = (study.paths.model / "MODEL_CARD.md").read_text()
    for heading in ["## Intended use", "## Population and data source", "## Outcome",
                    "## Predictors", "## Treatment options", "## Development and validation",
                    "## Limitations", "## Out-of-range behaviour"]:
        assert heading in card
    assert "| auc | 0.7312 | 0.66 | 0.8 |" in card
    assert f"{len(frame)} patients with a known outcome, {int(frame['response'].sum())} events" in card
    assert "| smoking | Smoking | categorical |  |  | never, former | 1 |" in card
    share = frame["prior_biologic"].mean()
    assert f"| prior_biologic | Prior biologic | binary |  |  | 1 in {share:.1%} | 0 |" in card
    meta_text = (study.paths.model / "model.json").read_text()
    for pid in frame["pid"]:
        assert pid not in card and pid not in meta_text


def test_tampered_model_file_is_refused(tmp_path):
    study, _, _ = make_project(tmp_path)
    path = study.paths.model / "model.skops"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelArtifactError, match="sha256 .* does not match model.json"):
        load_model(study.paths.model)


def _reverse(x):
    return np.asarray(x)[:, ::-1]


def test_untrusted_types_are_refused_on_save_and_on_load(tmp_path, project):
    _, study, _, frame = project
    evil = make_pipeline(FunctionTransformer(_reverse), LogisticRegression())
    evil.fit(frame[["age"]].fillna(50.0), frame["response"])
    with pytest.raises(ModelArtifactError, match=r"untrusted type\(s\): .*_reverse"):
        save_model(evil, study, model_name="x", metrics=None, training_frame=frame,
                   folder=tmp_path / "m")
    # a file written by someone else: the hash matches but the type is not on the allow-list
    folder = tmp_path / "forged"
    folder.mkdir()
    blob = sio.dumps(evil)
    (folder / "model.skops").write_bytes(blob)
    meta = json.loads((study.paths.model / "model.json").read_text())
    meta["files"]["model.skops"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (folder / "model.json").write_text(json.dumps(meta))
    with pytest.raises(ModelArtifactError, match=r"refusing to load 1 untrusted type\(s\): .*_reverse"):
        load_model(folder)


@pytest.mark.parametrize("name", ["numpy.load", "builtins.eval", "os.system", "posix.system",
                                  "analysis.study.io.write_text", "numpy.lib.npyio.NpzFile",
                                  "sklearn.utils.fixes.something.savez"])
def test_allow_list_refuses(name):
    with pytest.raises(ModelArtifactError, match=name.replace(".", r"\.")):
        check_types([name])


def test_allow_list_accepts_estimators():
    names = ["numpy.dtype", "numpy.log", "sklearn.linear_model._logistic.LogisticRegression",
             "analysis.regression.splines.RestrictedCubicSpline", "scipy.sparse._csr.csr_matrix"]
    assert check_types(names) == names


def test_bad_arguments_name_the_problem(project, tmp_path):
    _, study, pipeline, frame = project
    with pytest.raises(ModelArtifactError, match="training_frame: missing column.*response"):
        save_model(pipeline, study, model_name="m", metrics=None,
                   training_frame=frame.drop(columns="response"), folder=tmp_path)
    with pytest.raises(ModelArtifactError, match="pipeline: must have predict_proba"):
        save_model(StandardScaler(), study, model_name="m", metrics=None, training_frame=frame,
                   folder=tmp_path)
    with pytest.raises(ModelArtifactError, match="folder: no model.json"):
        load_model(tmp_path / "empty")


def test_version_mismatch_warns(tmp_path):
    study, _, _ = make_project(tmp_path)
    path = study.paths.model / "model.json"
    meta = json.loads(path.read_text())
    meta["versions"]["scikit-learn"] = "0.0.1"
    path.write_text(json.dumps(meta))
    with pytest.warns(ModelVersionWarning, match="scikit-learn 0.0.1"):
        load_model(study.paths.model)


def test_markdown_table_escapes_and_blanks():
    df = pd.DataFrame({"a": ["x|y", None], "b": [np.nan, 1.23456]})
    assert markdown_table(df).splitlines() == ["| a | b |", "| --- | --- |",
                                                "| x\\|y |  |", "|  | 1.2346 |"]
