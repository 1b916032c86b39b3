"""The bootstrap refits behind ``predict``'s 95% interval: kept by the validation bootstrap,
saved safely beside the model, loaded fast, and turned into ``ci_lower``/``ci_upper``."""

from __future__ import annotations

import hashlib
import json
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from test_artifact import PREDICTORS, fit_pipeline, make_project, training_frame
from test_predict import NEW, cli

from analysis.models.artifact import (
    REFITS_FILE,
    ModelArtifactError,
    load_model,
    load_refits,
    save_model,
)
from analysis.models.predict import IntervalWarning, predict_patients, probability_interval
from analysis.models.recalibration import RecalibratedClassifier
from analysis.models.zoo import model_zoo
from analysis.validation.resampling import bootstrap_optimism


def bootstrap_refits(frame: pd.DataFrame, n: int = 30, seed: int = 4) -> list:
    rng = np.random.default_rng(seed)
    return [fit_pipeline(frame.iloc[rng.integers(0, len(frame), len(frame))]) for _ in range(n)]


@pytest.fixture(scope="module")
def with_refits(tmp_path_factory):
    root = tmp_path_factory.mktemp("refits")
    study, pipeline, frame = make_project(root)
    refits = bootstrap_refits(frame)
    save_model(pipeline, study, model_name="logistic, rcs(age)", metrics=None,
               training_frame=frame, status="fit-for-clinical-use", refits=refits)
    return root, study, pipeline, frame, refits


def _positive(models, X) -> np.ndarray:
    return np.array([m.predict_proba(X)[:, 1] for m in models])


# --------------------------------------------------------------------------- the interval


def test_ci_columns_are_the_percentiles_of_the_refits_predictions(with_refits):
    _, study, pipeline, _, refits = with_refits
    with warnings.catch_warnings():
        warnings.simplefilter("error", IntervalWarning)  # refits present: no warning
        got = predict_patients(study, NEW)
    assert got.columns.tolist()[:4] == ["pid", "probability", "ci_lower", "ci_upper"]
    X = NEW[PREDICTORS].astype({"age": float, "crp_mg_l": float, "prior_biologic": float})
    draws = _positive(refits, X)
    np.testing.assert_allclose(got["ci_lower"], np.percentile(draws, 2.5, axis=0), rtol=1e-12)
    np.testing.assert_allclose(got["ci_upper"], np.percentile(draws, 97.5, axis=0), rtol=1e-12)
    assert (got["ci_lower"] < got["ci_upper"]).all()
    # the shipped model's probability sits inside its interval for these patients
    assert ((got["ci_lower"] <= got["probability"]) & (got["probability"] <= got["ci_upper"])).all()
    np.testing.assert_array_equal(got["probability"], pipeline.predict_proba(X)[:, 1])


def test_cli_writes_the_interval_beside_the_probability(with_refits, tmp_path, capsys):
    root, *_ = with_refits
    src, out = tmp_path / "p.csv", tmp_path / "o.csv"
    NEW.to_csv(src, index=False)
    assert cli(["predict", "--study", "tiny", "--input", str(src), "--output", str(out),
                "--root", str(root)]) == 0
    assert "warning" not in capsys.readouterr().err
    got = pd.read_csv(out)
    assert got.columns.tolist() == ["pid", "probability", "ci_lower", "ci_upper",
                                    "probability_anti_TNF", "probability_anti_IL_17", "warnings"]
    assert got[["ci_lower", "ci_upper"]].notna().all().all()


def test_a_folder_without_refits_stays_valid_with_empty_columns_and_a_warning(tmp_path, capsys):
    study, pipeline, _ = make_project(tmp_path)  # saved as before: no refits
    assert not (study.paths.model / REFITS_FILE).exists()
    assert load_refits(study.paths.model) is None
    with pytest.warns(IntervalWarning, match="no 95% interval"):
        got = predict_patients(study, NEW)
    assert got[["ci_lower", "ci_upper"]].isna().all().all()
    assert (got["warnings"].str.contains("interval") == False).all()  # noqa: E712 - per model
    src, out = tmp_path / "p.csv", tmp_path / "o.csv"
    NEW.to_csv(src, index=False)
    assert cli(["predict", "--study", "tiny", "--input", str(src), "--output", str(out),
                "--root", str(tmp_path)]) == 0
    assert "warning: no 95% interval of the probability" in capsys.readouterr().err


def test_probability_interval_skips_a_refit_that_cannot_score():
    X = pd.DataFrame({"x": [0.0, 1.0, 2.0]})
    y = [0, 1, 1]
    good = [LogisticRegression().fit(X, y) for _ in range(3)]
    broken = LogisticRegression().fit(pd.DataFrame({"z": [0.0, 1.0, 2.0]}), y)
    with pytest.warns(IntervalWarning, match="1 of 4 bootstrap refits could not score"):
        lo, hi = probability_interval([*good, broken], X)
    np.testing.assert_allclose(lo, good[0].predict_proba(X)[:, 1])
    with pytest.warns(IntervalWarning):
        lo, hi = probability_interval([broken], X)
    assert np.isnan(lo).all() and np.isnan(hi).all()


# --------------------------------------------------------------------------- the file


def test_refits_are_listed_in_the_manifest_and_announced_in_model_json(with_refits):
    _, study, _, frame, refits = with_refits
    folder = study.paths.model
    manifest = json.loads((folder / "manifest.json").read_text())
    data = (folder / REFITS_FILE).read_bytes()
    assert manifest["files"][REFITS_FILE]["sha256"] == hashlib.sha256(data).hexdigest()
    meta = json.loads((folder / "model.json").read_text())
    assert meta["intervals"] == {"n_refits": len(refits), "level": 0.95,
                                 "source": "bootstrap refits of the validation stage"}
    assert "2.5th to 97.5th percentile" in (folder / "MODEL_CARD.md").read_text()
    loaded = load_refits(folder)
    assert len(loaded) == len(refits)
    X = frame[PREDICTORS]
    np.testing.assert_array_equal(_positive(loaded, X), _positive(refits, X))
    load_model(folder)  # the main bundle is untouched


def test_saving_again_without_refits_removes_the_old_ones(tmp_path):
    study, pipeline, frame = make_project(tmp_path)
    save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
               status="fit-for-clinical-use", refits=bootstrap_refits(frame, n=3))
    assert (study.paths.model / REFITS_FILE).exists()
    save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
               status="fit-for-clinical-use")
    assert not (study.paths.model / REFITS_FILE).exists()
    assert load_refits(study.paths.model) is None


def test_a_changed_refits_file_is_refused(with_refits, tmp_path):
    _, study, *_ = with_refits
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(study.paths.model, folder)
    path = folder / REFITS_FILE
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ModelArtifactError, match=r"refits\.skops: sha256 .* does not match"):
        load_refits(folder)
    with pytest.raises(ModelArtifactError, match=r"refits\.skops: sha256"):
        predict_patients(folder, NEW)
    path.unlink()
    with pytest.raises(ModelArtifactError, match=r"no refits\.skops"):
        load_refits(folder)


def _reverse(x):
    return np.asarray(x)[:, ::-1]


def _forge_refits(source, folder, blob: bytes, n_refits: int | None = None):
    """Copy a bundle and put ``blob`` in as its refits, with a matching manifest."""
    import shutil

    shutil.copytree(source, folder)
    meta = json.loads((folder / "model.json").read_text())
    meta["intervals"] = {"n_refits": n_refits or 1, "level": 0.95, "source": "forged"}
    meta_bytes = json.dumps(meta).encode()
    (folder / "model.json").write_bytes(meta_bytes)
    (folder / REFITS_FILE).write_bytes(blob)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.json"] = {"sha256": hashlib.sha256(meta_bytes).hexdigest()}
    manifest["files"][REFITS_FILE] = {"sha256": hashlib.sha256(blob).hexdigest()}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_untrusted_types_in_refits_are_refused_on_save_and_on_load(with_refits, tmp_path,
                                                                    monkeypatch):
    _, study, _, frame, _ = with_refits
    numbers = frame[PREDICTORS].apply(lambda c: pd.factorize(c)[0] if c.dtype == object else c)
    evil = make_pipeline(FunctionTransformer(_reverse), LogisticRegression())
    evil.fit(numbers.fillna(0.0), frame["response"])
    with pytest.raises(ModelArtifactError, match=r"refits\.skops: refusing to load .*_reverse"):
        save_model(fit_pipeline(frame), study, model_name="x", metrics=None,
                   training_frame=frame, folder=tmp_path / "m", refits=[evil])
    # a crafted file with a matching manifest: refused before anything is constructed
    constructed = []
    monkeypatch.setattr(FunctionTransformer, "__setstate__",
                        lambda self, state: constructed.append(state), raising=False)
    folder = _forge_refits(study.paths.model, tmp_path / "forged", sio.dumps([evil]))
    with pytest.raises(ModelArtifactError, match=r"refits\.skops: refusing to load 2 untrusted "
                       r"type\(s\): sklearn\..*FunctionTransformer, test_refits\._reverse"):
        load_refits(folder)
    with pytest.raises(ModelArtifactError, match="untrusted"):
        predict_patients(folder, NEW)
    assert constructed == []


def test_refits_must_match_the_model(with_refits, tmp_path):
    _, study, pipeline, frame, refits = with_refits
    other = LogisticRegression().fit(frame[["age"]].fillna(50.0), frame["response"])
    with pytest.raises(ModelArtifactError, match=r"refits\[0\]: takes columns age"):
        save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                   folder=tmp_path / "a", refits=[other])
    with pytest.raises(ModelArtifactError, match="empty"):
        save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
                   folder=tmp_path / "b", refits=[])
    # the number announced in model.json must be the number stored
    folder = _forge_refits(study.paths.model, tmp_path / "count",
                           sio.dumps(list(refits[:2])), n_refits=3)
    with pytest.raises(ModelArtifactError, match="must hold a list of 3 refits"):
        load_refits(folder)


def test_a_manifest_and_model_json_that_disagree_about_refits_are_refused(with_refits, tmp_path):
    _, study, *_ = with_refits
    import shutil

    folder = tmp_path / "unlisted"
    shutil.copytree(study.paths.model, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"][REFITS_FILE]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelArtifactError, match="does not list refits.skops but model.json"):
        load_model(folder)


def test_loading_many_refits_is_bounded_and_cached(tmp_path, monkeypatch):
    # B = 200 refits of the project's own pipeline (spline, log, one-hot, logistic). Cold,
    # checking and building them all costs a few seconds of CPU (skops builds each object of
    # each pipeline); a second call - the calculator's next patient - checks the files again
    # but builds nothing.  Speed itself is measured by benchmarks, not here: the CPU bound is
    # only a guard against a pathological regression (an order of magnitude).
    import skops.io

    study, pipeline, frame = make_project(tmp_path)
    save_model(pipeline, study, model_name="m", metrics=None, training_frame=frame,
               status="fit-for-clinical-use", refits=bootstrap_refits(frame, n=200))
    one = NEW.iloc[[0]]
    predict_patients(study, one)  # imports
    from analysis.models import artifact

    built = []
    real_loads = skops.io.loads

    def counting_loads(*args, **kwargs):
        built.append(1)
        return real_loads(*args, **kwargs)

    monkeypatch.setattr(skops.io, "loads", counting_loads)
    artifact._LOADED.clear()
    start = time.process_time()
    got = predict_patients(study, one)
    cold = time.process_time() - start
    cold_builds = len(built)
    again = predict_patients(study, one)
    assert got["ci_lower"].notna().all()
    pd.testing.assert_frame_equal(got, again)
    assert cold_builds == 2  # the model and its 200 refits, one skops file each
    assert len(built) == cold_builds  # the second patient builds nothing again
    assert cold < 60.0, f"scoring one patient with 200 refits took {cold:.2f} s of CPU"


# --------------------------------------------------------------------------- from the bootstrap


def test_the_validation_bootstrap_keeps_its_refits_without_changing_its_table(tmp_path):
    frame = training_frame(n=160, seed=2)
    codebook = {"age": {"type": "numeric"}, "crp_mg_l": {"type": "numeric"},
                "smoking": {"type": "categorical", "levels": ["never", "former", "current"]},
                "treatment": {"type": "categorical", "levels": ["anti-TNF", "anti-IL-17"]},
                "prior_biologic": {"type": "binary"}}
    spec = model_zoo(codebook, PREDICTORS, include=["logistic"])["logistic"]
    X, y = frame[PREDICTORS], frame["response"].astype(int)
    plain = bootstrap_optimism(spec, X, y, n_boot=6, seed=3, n_jobs=1, progress=False)
    table, refits = bootstrap_optimism(spec, X, y, n_boot=6, seed=3, n_jobs=2, progress=False,
                                       keep_refits=True)
    pd.testing.assert_frame_equal(plain, table)
    assert len(refits) == 6 - int(table["n_failed"].max())
    # the refits are the replicates' fits: refitting replicate 0's sample gives the same model
    rng = np.random.default_rng(3)
    idx = rng.integers(0, len(y), size=(6, len(y)))
    again = clone(spec.pipeline).fit(X.iloc[idx[0]], y.to_numpy()[idx[0]])
    np.testing.assert_allclose(refits[0].predict_proba(X), again.predict_proba(X), atol=1e-8)
    # recalibrated: each refit carries the shipped model's recalibration (regression-type)
    table, recal = bootstrap_optimism(spec, X, y, n_boot=6, seed=3, n_jobs=1, progress=False,
                                      recalibrate=True, keep_refits=True)
    rows = table.set_index("metric")["apparent"]
    assert all(isinstance(m, RecalibratedClassifier) for m in recal)
    assert {(m.intercept, m.slope) for m in recal} == {
        (rows["recalibration_intercept"], rows["recalibration_slope"])}
    # a memorising learner's refits carry their own out-of-bag recalibration
    _, own = bootstrap_optimism(spec, X, y, n_boot=6, seed=3, n_jobs=1, progress=False,
                                recalibrate=True, keep_refits=True, method=".632+")
    assert len({(m.intercept, m.slope) for m in own}) == len(own)
    # and they go into the model folder and out as intervals
    from conftest import make_study
    from test_artifact import TINY

    from analysis.study.config import load_study

    make_study(tmp_path, "tiny", TINY)
    study = load_study("tiny", root=tmp_path)
    final = RecalibratedClassifier(clone(spec.pipeline).fit(X, y),
                                   rows["recalibration_intercept"],
                                   rows["recalibration_slope"]).fit()
    save_model(final, study, model_name="logistic", metrics=table, training_frame=frame,
               status="fit-for-clinical-use", recalibration_source="own bootstrap",
               refits=recal)
    got = predict_patients(study, NEW)
    assert got[["ci_lower", "ci_upper"]].notna().all().all()
