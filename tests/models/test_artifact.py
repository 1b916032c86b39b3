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
from analysis.errors import AnalysisError
from analysis.models.artifact import (
    ALLOWED_TYPES,
    ModelArtifactError,
    ModelVersionWarning,
    check_types,
    load_model,
    markdown_table,
    model_types,
    save_model,
)
from analysis.models.estimators import ClippedLog
from analysis.models.zoo import MODEL_NAMES, model_zoo
from analysis.regression.splines import RestrictedCubicSpline
from analysis.study.config import load_study
from analysis.validation.resampling import fit_final

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
    """Spline of age, log CRP (ClippedLog), one-hot categories, logistic."""
    prep = ColumnTransformer([
        ("age", make_pipeline(SimpleImputer(strategy="median"), RestrictedCubicSpline(3)), ["age"]),
        ("crp", make_pipeline(SimpleImputer(strategy="median"), ClippedLog(),
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
               training_frame=frame, status="fit-for-clinical-use")
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
    assert sorted(p.name for p in folder.iterdir()) == [
        "MODEL_CARD.md", "manifest.json", "model.json", "model.skops"]


def test_round_trip_predictions_are_identical(project):
    _, study, pipeline, frame = project
    loaded, meta = load_model(study.paths.model)
    X = frame[PREDICTORS]
    np.testing.assert_array_equal(loaded.predict_proba(X), pipeline.predict_proba(X))
    steps = loaded.named_steps["prep"].named_transformers_
    assert isinstance(steps["age"][-1], RestrictedCubicSpline)
    assert isinstance(steps["crp"][1], ClippedLog)
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
        # the 1st/50th/99th percentiles to 3 significant digits, never the exact min/max
        assert set(rng) == {"kind", "p01", "p99", "mean", "median", "n_missing"}
        assert rng["p01"] == float(f"{np.quantile(x, 0.01):.3g}")
        assert rng["median"] == float(f"{np.quantile(x, 0.5):.3g}")
        assert rng["p99"] == float(f"{np.quantile(x, 0.99):.3g}")
        assert rng["mean"] == pytest.approx(x.mean(), abs=1e-12)
        assert rng["n_missing"] == int(frame[col].isna().sum())
    crp = frame["crp_mg_l"].dropna()
    assert meta["training"]["ranges"]["crp_mg_l"]["p01"] > crp.min() == 0.3
    assert meta["training"]["ranges"]["crp_mg_l"]["p99"] < crp.max() == 250.0
    assert "250.0" not in json.dumps(meta["training"]) and "0.3," not in json.dumps(meta["training"])
    # observed levels only, in codebook order
    assert meta["training"]["ranges"]["smoking"]["levels"] == ["never", "former"]
    # the cohort's predicted risk, 5th to 95th percentile (3 decimals): the tool's "where you sit"
    _, _, pipeline, _ = project
    p = pipeline.predict_proba(frame[PREDICTORS])[:, 1]
    assert meta["training"]["risk_percentiles"] == [round(float(v), 3)
                                                    for v in np.percentile(p, range(5, 100, 5))]
    smoking = frame["smoking"].value_counts()
    assert meta["training"]["ranges"]["smoking"]["most_common"] == smoking.idxmax()
    assert meta["training"]["ranges"]["treatment"]["levels"] == ["anti-TNF", "anti-IL-17"]
    assert meta["treatment"] == {"column": "treatment", "options": ["anti-TNF", "anti-IL-17"]}
    assert meta["id"]["name"] == "pid"
    assert meta["versions"]["analysis"] == analysis.__version__
    for dist in ("scikit-learn", "skops", "numpy", "pandas"):
        assert meta["versions"][dist] == importlib_metadata.version(dist)
    manifest = json.loads((study.paths.model / "manifest.json").read_text())
    assert manifest["format_version"] == 3
    for name in ("model.skops", "model.json", "MODEL_CARD.md"):
        digest = hashlib.sha256((study.paths.model / name).read_bytes()).hexdigest()
        assert manifest["files"][name]["sha256"] == digest
    assert "files" not in meta
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
    with pytest.raises(ModelArtifactError, match="sha256 .* does not match manifest.json"):
        load_model(study.paths.model)


def forge_bundle(source, folder, *, model: bytes | None = None, meta: dict | None = None,
                 card: bytes | None = None):
    """Copy the bundle in ``source`` to ``folder``, replacing parts, with a matching manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"model.skops": model if model is not None else (source / "model.skops").read_bytes(),
             "model.json": (json.dumps(meta).encode() if meta is not None
                            else (source / "model.json").read_bytes()),
             "MODEL_CARD.md": card if card is not None else (source / "MODEL_CARD.md").read_bytes()}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    manifest = {"format_version": 3, "files": {
        n: {"sha256": hashlib.sha256(d).hexdigest()} for n, d in files.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


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
    forge_bundle(study.paths.model, folder, model=sio.dumps(evil))
    with pytest.raises(ModelArtifactError, match=r"refusing to load 2 untrusted type\(s\): "
                       r"sklearn\..*FunctionTransformer, test_artifact\._reverse"):
        load_model(folder)


@pytest.mark.parametrize("name", ["numpy.load", "builtins.eval", "os.system", "posix.system",
                                  "analysis.study.io.write_text", "numpy.lib.npyio.NpzFile",
                                  "sklearn.utils.fixes.something.savez", "numpy.log",
                                  "numpy.full_like", "numpy.append",
                                  "sklearn.utils._testing.check_output",
                                  "sklearn.preprocessing._function_transformer.FunctionTransformer",
                                  "analysis.study.io.read_table", "analysis.checks.read_table",
                                  "sklearn.datasets.dump_svmlight_file",
                                  "numpy.lib._format_impl.open_memmap",
                                  "analysis.models.preprocessing.as_string",
                                  "analysis.indices.scores.vedolizumab_cdst"])
def test_allow_list_refuses(name):
    with pytest.raises(ModelArtifactError, match=name.replace(".", r"\.")):
        check_types([name])


def test_allow_list_accepts_estimators():
    names = ["numpy.dtype", "sklearn.linear_model._logistic.LogisticRegression",
             "analysis.regression.splines.RestrictedCubicSpline",
             "analysis.models.estimators.PublishedScore"]
    assert check_types(names) == names
    assert not any(t.endswith(("Transformer", "_like")) and "Column" not in t
                   for t in ALLOWED_TYPES)


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
    meta = json.loads((study.paths.model / "model.json").read_text())
    meta["versions"]["scikit-learn"] = "0.0.1"
    forge_bundle(study.paths.model, tmp_path / "old", meta=meta)
    with pytest.warns(ModelVersionWarning, match="scikit-learn 0.0.1"):
        load_model(tmp_path / "old")


def test_markdown_table_escapes_and_blanks():
    df = pd.DataFrame({"a": ["x|y", None], "b": [np.nan, 1.23456]})
    assert markdown_table(df).splitlines() == ["| a | b |", "| --- | --- |",
                                                "| x\\|y |  |", "|  | 1.2346 |"]


# --------------------------------------------------------------------------- the allow-list


def _zoo_data(n: int = 160, seed: int = 3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.normal(50, 10, n), "crp_mg_l": rng.lognormal(1, 1, n),
        "flares": rng.poisson(2, n).astype(float), "ses": rng.normal(4, 3, n),
        "smoking": rng.choice(["never", "former", "current"], n).astype(object),
        "prior_bowel_surgery": rng.integers(0, 2, n).astype(float),
        "prior_anti_tnf": rng.integers(0, 2, n).astype(float),
        "fistulising": rng.integers(0, 2, n).astype(float),
        "albumin_g_l": rng.normal(38, 4, n)})
    X.loc[3, "age"], X.loc[4, "smoking"] = np.nan, np.nan
    codebook = {"age": {"type": "numeric"}, "crp_mg_l": {"type": "numeric", "transform": "log"},
                "flares": {"type": "integer", "transform": "log1p"},
                "ses": {"type": "numeric", "transform": "sqrt"},
                "smoking": {"type": "categorical", "levels": ["never", "former", "current"]},
                "prior_bowel_surgery": {"type": "binary"}, "prior_anti_tnf": {"type": "binary"},
                "fistulising": {"type": "binary"}, "albumin_g_l": {"type": "numeric"}}
    return X, rng.integers(0, 2, n), codebook


def test_every_zoo_model_and_clinical_score_needs_only_allowed_types():
    from analysis.models.recalibration import RecalibratedClassifier
    from analysis.models.zoo import model_zoo

    X, y, codebook = _zoo_data()
    zoo = model_zoo(codebook, list(X), smoke=True, extra=["vedolizumab_cdst"], splines={"age": 4})
    seen = set()
    for name, spec in zoo.items():
        fitted = spec.pipeline.fit(X, y)
        for model in (fitted, RecalibratedClassifier(fitted, 0.2, 0.9).fit()):
            blob = sio.dumps(model)
            types = set(check_types(model_types(blob)))  # raises naming any refused type
            assert not any("FunctionTransformer" in t for t in types), name
            assert set(sio.get_untrusted_types(data=blob)) <= ALLOWED_TYPES, name
            seen |= types
    assert "analysis.models.estimators.PublishedScore" in seen
    assert "analysis.models.estimators.Log1pTransform" in seen
    assert "analysis.indices.scores.vedolizumab_cdst" not in seen


def test_clinical_score_model_round_trips_without_storing_a_function(project, tmp_path):
    from analysis.indices.scores import vedolizumab_cdst
    from analysis.models.estimators import PublishedScore
    from analysis.models.recalibration import RecalibratedClassifier
    from analysis.models.zoo import clinical_score_spec

    X, y, _ = _zoo_data()
    model = clinical_score_spec("vedolizumab_cdst").pipeline.fit(X, y)
    blob = sio.dumps(RecalibratedClassifier(model, 0.1, 1.1).fit())
    assert b"vedolizumab_cdst" in blob  # by name, inside a PublishedScore
    assert "analysis.indices.scores.vedolizumab_cdst" not in model_types(blob)
    loaded = sio.loads(blob, trusted=sio.get_untrusted_types(data=blob))
    assert loaded.estimator.steps[-1][1].score_fn is vedolizumab_cdst
    np.testing.assert_array_equal(loaded.estimator.predict_proba(X), model.predict_proba(X))
    # a forged name is refused when the model is loaded, not run
    with pytest.raises(AnalysisError, match="published score 'os.system' is unknown"):
        PublishedScore("os.system")(X)


def test_function_transformers_were_replaced_by_equal_classes():
    from analysis.models.preprocessing import (
        as_string,
        bracket_name,
        build_preprocessor,
        log1p_nonneg,
        sqrt_nonneg,
    )

    X, y, codebook = _zoo_data()
    pre = build_preprocessor(codebook, list(codebook)).fit(X, y)
    assert pre.get_feature_names_out().tolist() == [
        "age", "albumin_g_l", "crp_mg_l", "flares", "ses", "smoking[former]", "smoking[current]",
        "prior_bowel_surgery", "prior_anti_tnf", "fistulising"]
    assert not any(isinstance(step, FunctionTransformer)
                   for _, pipe, _ in pre.transformers_ if hasattr(pipe, "steps")
                   for _, step in pipe.steps)
    log1p = pre.named_transformers_["numeric:log1p"].steps[0][1]
    sqrt = pre.named_transformers_["numeric:sqrt"].steps[0][1]
    text = pre.named_transformers_["categorical"].steps[0][1]
    x = X[["flares"]].to_numpy()
    np.testing.assert_array_equal(log1p.transform(x), log1p_nonneg(x))
    np.testing.assert_array_equal(sqrt.transform(X[["ses"]]), sqrt_nonneg(X[["ses"]]))
    cells = pd.DataFrame({"s": [1, None, "b", pd.NA]}, dtype=object)
    assert text.transform(cells).tolist() == as_string(cells).tolist() == [
        ["1"], [np.nan], ["b"], [np.nan]]
    assert bracket_name("sex", "male") == "sex[male]"


# --------------------------------------------------------------------------- the ship gate


def test_status_is_stored_checked_and_stated_at_the_top_of_the_card(project, tmp_path):
    _, study, pipeline, frame = project
    meta = json.loads((study.paths.model / "model.json").read_text())
    assert meta["status"] == "fit-for-clinical-use" and meta["status_reasons"] == []
    reasons = ["No candidate model was selected.", "The corrected calibration slope is 0.31."]
    folder = save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                        folder=tmp_path / "audit", status="not-for-clinical-use",
                        status_reasons=reasons)
    _, meta = load_model(folder)
    assert meta["status"] == "not-for-clinical-use" and meta["status_reasons"] == reasons
    card = (folder / "MODEL_CARD.md").read_text().splitlines()
    assert card[2].startswith("**Status: not-for-clinical-use. No model fit for clinical use:**")
    assert "- The corrected calibration slope is 0.31." in card[:8]


def test_the_gates_cautions_are_stored_and_stated_in_the_card(project, tmp_path):
    _, study, pipeline, frame = project
    assert "status_cautions" not in json.loads((study.paths.model / "model.json").read_text())
    caution = "The cohort (200 patients, 60 events) is smaller than Riley's minimum."
    folder = save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                        folder=tmp_path / "cautioned", status="fit-for-clinical-use",
                        status_cautions=[caution])
    _, meta = load_model(folder)
    assert meta["status"] == "fit-for-clinical-use" and meta["status_cautions"] == [caution]
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"**Caution:** {caution}" in card
    assert card.index("**Status: fit-for-clinical-use.**") < card.index("**Caution:**")
    with pytest.raises(ModelArtifactError, match="status_cautions: must be a sequence"):
        save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                   folder=tmp_path / "bad", status="fit-for-clinical-use", status_cautions=caution)
    meta["status_cautions"] = [""]
    with pytest.raises(ModelArtifactError, match="status_cautions: must be a list of non-empty"):
        load_model(forge_bundle(folder, tmp_path / "forged", meta=meta))


@pytest.mark.parametrize("status, reasons, message", [
    ("fit-for-clinical-use", ["a reason"], "must be empty"),
    ("not-for-clinical-use", [], "needs its reasons"),
    ("shipped", [], "status: must be one of"),
    ("not-for-clinical-use", "one string", "sequence of non-empty sentences"),
])
def test_save_refuses_an_inconsistent_status(project, tmp_path, status, reasons, message):
    _, study, pipeline, frame = project
    with pytest.raises(ModelArtifactError, match=message):
        save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                   folder=tmp_path, status=status, status_reasons=reasons)


@pytest.mark.parametrize("change, message", [
    (lambda m: m.pop("status"), "missing key 'status'"),
    (lambda m: m.update(status="ok"), "status: must be one of"),
    (lambda m: m.update(status_reasons=[]), "must give the reasons"),
    (lambda m: m.update(status="fit-for-clinical-use"), "must be empty when status"),
])
def test_load_refuses_a_forged_status(project, tmp_path, change, message):
    _, study, pipeline, frame = project
    source = save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                        folder=tmp_path / "src")
    meta = json.loads((source / "model.json").read_text())
    change(meta)
    with pytest.raises(ModelArtifactError, match=message):
        load_model(forge_bundle(source, tmp_path / "forged", meta=meta))


@pytest.mark.parametrize("name", [n for n in MODEL_NAMES if n != "intercept_only"])
def test_every_zoo_model_round_trips_through_the_allow_list(tmp_path, name):
    # ALLOWED_TYPES is "the classes the project's pipelines are made of": every zoo model,
    # fitted in smoke mode, saves and loads with identical predictions
    make_study(tmp_path, "tiny", TINY)
    study = load_study("tiny", root=tmp_path)
    frame = training_frame()
    spec = model_zoo(study.codebook(PREDICTORS), PREDICTORS, smoke=True, seed=1, include=[name],
                     interactions=[("treatment", "crp_mg_l")])[name]
    pipeline = fit_final(spec, frame[PREDICTORS], frame["response"].astype(int), seed=1)
    save_model(pipeline, study, model_name=name, metrics=None, training_frame=frame,
               status="fit-for-clinical-use")
    loaded, _ = load_model(study.paths.model)
    np.testing.assert_array_equal(loaded.predict_proba(frame[PREDICTORS]),
                                  pipeline.predict_proba(frame[PREDICTORS]))


def test_most_common_level_must_be_a_seen_level(project):
    from analysis.models.artifact import parse_metadata

    _, study, _, _ = project
    meta = json.loads((study.paths.model / "model.json").read_text())
    meta["training"]["ranges"]["smoking"]["most_common"] = "current"  # not seen in training
    with pytest.raises(ModelArtifactError, match="most_common: not one of the levels seen"):
        parse_metadata(json.dumps(meta).encode())
    del meta["training"]["ranges"]["smoking"]["most_common"]  # models saved before: still valid
    del meta["training"]["ranges"]["age"]["median"]
    assert parse_metadata(json.dumps(meta).encode())["training"]["ranges"]["age"]["p01"] > 0


def test_compact_skops_archive_holds_the_same_schema_and_arrays_as_skops_itself():
    """skops_dumps writes what skops.io.dumps writes (the peer), with the schema on one line."""
    import io as _io
    import zipfile as _zipfile

    import skops.io as sio
    from conftest import CODEBOOK, make_data

    from analysis.models.artifact import skops_dumps
    from analysis.models.zoo import model_zoo

    X, y = make_data(n=80, seed=1)
    models = [spec.pipeline.fit(X, y) for spec in
              model_zoo(CODEBOOK, list(CODEBOOK), seed=2, include=["lasso", "svm"]).values()]
    for obj in (models[0], models):  # one pipeline, and a list of refits
        for kwargs in ({}, {"compression": _zipfile.ZIP_DEFLATED, "compresslevel": 1}):
            ours, peer = skops_dumps(obj, **kwargs), sio.dumps(obj, **kwargs)
            with _zipfile.ZipFile(_io.BytesIO(ours)) as a, _zipfile.ZipFile(_io.BytesIO(peer)) as b:
                schema = a.read("schema.json")
                assert b"\n" not in schema and len(schema) < len(b.read("schema.json"))
                # array members are named by object ids, which differ between two dumps:
                # compare each schema with its ids dropped and its files by content
                assert _normalised(json.loads(schema), a) == _normalised(
                    json.loads(b.read("schema.json")), b)
                arrays = sorted(a.read(n) for n in a.namelist() if n != "schema.json")
                assert arrays and arrays == sorted(b.read(n) for n in b.namelist() if n != "schema.json")
                assert {i.compress_type for i in a.infolist()} == {i.compress_type for i in b.infolist()}
            trusted = sio.get_untrusted_types(data=peer)
            loaded = sio.loads(ours, trusted=trusted)
            pairs = zip(loaded, obj, strict=True) if isinstance(obj, list) else [(loaded, obj)]
            for back, model in pairs:
                assert np.array_equal(back.predict_proba(X), model.predict_proba(X))


def _normalised(node, archive):
    """A skops schema without object ids, with each array file replaced by its bytes."""
    if isinstance(node, dict):
        return {k: (archive.read(v) if k == "file" else _normalised(v, archive))
                for k, v in node.items() if k != "__id__"}
    if isinstance(node, list):
        return [_normalised(v, archive) for v in node]
    return node
