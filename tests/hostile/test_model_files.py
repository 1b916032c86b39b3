"""Hostile and broken model bundles: ``predict`` refuses each one with a clear error.

Every case copies a project with two saved models (``tiny`` and ``derived``, whose BMI is
computed from height and weight by a derive rule stored in ``model.json``), breaks its
bundle in one way, and runs ``analysis predict`` in-process through the CLI entry. Most
forgeries also rewrite ``manifest.json`` with matching hashes, as an attacker would: then
the strict schema of ``model.json`` and the exact type allow-list are what must refuse it.
The crafted model files are built here, never committed as binaries.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from conftest import make_study
from numpy.lib.format import open_memmap
from sklearn.datasets import dump_svmlight_file
from sklearn.dummy import DummyClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "models"))
from test_artifact import make_project  # noqa: E402

from analysis.indices.scores import vedolizumab_cdst  # noqa: E402
from analysis.models.artifact import save_model  # noqa: E402
from analysis.models.preprocessing import as_string  # noqa: E402
from analysis.pipeline.cli import main  # noqa: E402
from analysis.study.config import load_study  # noqa: E402
from analysis.study.io import read_table  # noqa: E402

PREDICT_ERROR = 1  # exit status of `analysis predict` on any refused input
MARKER = "pwned"

DERIVED = {
    "title": "Derived BMI",
    "id": "pid",
    "outcome": "response",
    "predictors": ["age", "bmi"],
    "derive": {"bmi": "weight_kg / (height_cm / 100) ** 2"},
    "variables": {
        "pid": {"type": "id"},
        "age": {"type": "numeric", "min": 18, "max": 100},
        "weight_kg": {"type": "numeric", "min": 30, "max": 250},
        "height_cm": {"type": "numeric", "min": 120, "max": 220},
        "bmi": {"type": "numeric", "min": 10, "max": 80},
        "response": {"type": "binary"},
    },
}
PATIENTS = {
    "tiny": "pid,age,crp_mg_l,smoking,treatment,prior_biologic\nN1,45,12.5,never,anti-TNF,0\n",
    "derived": "pid,age,weight_kg,height_cm\nN1,45,80,180\n",
}


def _derived_model(root: Path) -> None:
    make_study(root, "derived", DERIVED)
    study = load_study("derived", root=root)
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"age": rng.uniform(20, 80, 120), "bmi": rng.normal(26, 4, 120)})
    frame["response"] = (rng.random(120) < 0.4).astype(float)
    model = make_pipeline(SimpleImputer(), LogisticRegression()).fit(
        frame[["age", "bmi"]], frame["response"].astype(int))
    save_model(model, study, model_name="logistic", metrics=None, training_frame=frame,
               status="fit-for-clinical-use")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    make_project(root)
    _derived_model(root)
    return root


# --------------------------------------------------------------------------- forging helpers


def folder(root: Path, study: str = "tiny") -> Path:
    return root / "reports" / study / "model"


def rehash(model_folder: Path) -> None:
    """Rewrite manifest.json so that every hash matches, as an attacker would."""
    files = {n: {"sha256": hashlib.sha256((model_folder / n).read_bytes()).hexdigest()}
             for n in ("model.skops", "model.json", "MODEL_CARD.md")}
    (model_folder / "manifest.json").write_text(json.dumps({"format_version": 3, "files": files}))


def put_model(root: Path, blob: bytes, study: str = "tiny") -> None:
    (folder(root, study) / "model.skops").write_bytes(blob)
    rehash(folder(root, study))


def edit_meta(root: Path, change, study: str = "tiny", *, forge: bool = True) -> None:
    path = folder(root, study) / "model.json"
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))
    if forge:
        rehash(folder(root, study))


def put_meta_bytes(root: Path, data: bytes) -> None:
    (folder(root) / "model.json").write_bytes(data)
    rehash(folder(root))


def with_schema_module(blob: bytes, old: str, new: str) -> bytes:
    """The skops zip with ``"__module__": old`` renamed to ``new`` in schema.json."""
    source = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "schema.json":
                data = data.replace(json.dumps(old).encode(), json.dumps(new).encode())
            target.writestr(info.filename, data)
    return out.getvalue()


def shell_pipeline(command: str) -> Pipeline:
    """FunctionTransformer steps that build ["sh", "-c", command] and run it on transform."""
    return Pipeline([
        ("a", FunctionTransformer(np.full_like,
                                  kw_args={"fill_value": "sh", "dtype": object, "shape": 1})),
        ("b", FunctionTransformer(np.append, kw_args={"values": ["-c", command]})),
        ("c", FunctionTransformer(subprocess.check_output)),
        ("model", DummyClassifier().fit([[0], [1]], [0, 1])),
    ])


def crafted_shell_model(root: Path, *, via: str = "sklearn.utils._testing") -> bytes:
    """The finding of issue 16: check_output re-exported by sklearn.utils._testing."""
    blob = sio.dumps(shell_pipeline(f"touch {root / MARKER}"))
    return with_schema_module(blob, "subprocess", via)


def function_step_model(func, module: str | None = None) -> bytes:
    """A pipeline whose one FunctionTransformer calls ``func`` (renamed to ``module``)."""
    pipe = Pipeline([("f", FunctionTransformer(func)),
                     ("model", DummyClassifier().fit([[0], [1]], [0, 1]))])
    blob = sio.dumps(pipe)
    return blob if module is None else with_schema_module(blob, func.__module__, module)


def renamed_class_model(root: Path, new: str) -> bytes:
    """The real model with one of its classes renamed in the schema."""
    blob = (folder(root) / "model.skops").read_bytes()
    return with_schema_module(blob, "sklearn.linear_model._logistic", new)


def zip_without_schema() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        target.writestr("other.json", "{}")
    return out.getvalue()


def zip_with_schema(text: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        target.writestr("schema.json", text)
    return out.getvalue()


def old_format_bundle(root: Path) -> None:
    """A model folder as the package wrote it before the reorganisation (format 1)."""
    (folder(root) / "manifest.json").unlink()
    edit_meta(root, lambda m: m.update(format_version=1,
                                       files={"model.skops": {"sha256": "0" * 64}}), forge=False)


def remove(key_path: str):
    def change(meta):
        *parents, last = key_path.split(".")
        for key in parents:
            meta = meta[key]
        del meta[last]
    return change


def setting(key_path: str, value):
    def change(meta):
        *parents, last = key_path.split(".")
        for key in parents:
            meta = meta[key]
        meta[last] = value
    return change


def manifest_edit(change):
    def apply(root):
        path = folder(root) / "manifest.json"
        manifest = json.loads(path.read_text())
        change(manifest)
        path.write_text(json.dumps(manifest))
    return apply


def _with_extra_level(meta):
    meta["predictors"]["treatment"]["levels"].append("rituximab")
    meta["treatment"]["options"].append("rituximab")


# --------------------------------------------------------------------------- the cases

# (case, study, how the bundle is broken, expected exit status, message fragment,
#  files that must not exist afterwards (relative to the project root))
OUT = ["out.csv"]
CASES = [
    # -- code execution through the model file (security finding 1)
    ("shell via sklearn.utils._testing.check_output", "tiny",
     lambda r: put_model(r, crafted_shell_model(r)), PREDICT_ERROR,
     "sklearn.utils._testing.check_output", [MARKER, *OUT]),
    ("shell via subprocess.check_output", "tiny",
     lambda r: put_model(r, crafted_shell_model(r, via="subprocess")), PREDICT_ERROR,
     "subprocess.check_output", [MARKER, *OUT]),
    ("numpy.full_like and numpy.append are functions", "tiny",
     lambda r: put_model(r, crafted_shell_model(r)), PREDICT_ERROR,
     "numpy.append, numpy.full_like", [MARKER, *OUT]),
    ("FunctionTransformer itself", "tiny",
     lambda r: put_model(r, function_step_model(np.log)), PREDICT_ERROR,
     "sklearn.preprocessing._function_transformer.FunctionTransformer", OUT),
    ("re-export analysis.study.checks.read_table", "tiny",
     lambda r: put_model(r, function_step_model(read_table, "analysis.study.checks")),
     PREDICT_ERROR, "analysis.study.checks.read_table", OUT),
    ("analysis.study.io.read_table", "tiny",
     lambda r: put_model(r, function_step_model(read_table)), PREDICT_ERROR,
     "analysis.study.io.read_table", OUT),
    ("re-export sklearn.datasets.dump_svmlight_file", "tiny",
     lambda r: put_model(r, function_step_model(dump_svmlight_file, "sklearn.datasets")),
     PREDICT_ERROR, "sklearn.datasets.dump_svmlight_file", OUT),
    ("numpy.lib._format_impl.open_memmap", "tiny",
     lambda r: put_model(r, function_step_model(open_memmap, "numpy.lib._format_impl")),
     PREDICT_ERROR, "numpy.lib._format_impl.open_memmap", OUT),
    ("builtins.eval", "tiny", lambda r: put_model(r, function_step_model(eval)),
     PREDICT_ERROR, "builtins.eval", OUT),
    ("the package's own function (no functions at all)", "tiny",
     lambda r: put_model(r, function_step_model(as_string)), PREDICT_ERROR,
     "analysis.models.preprocessing.as_string", OUT),
    ("a published score function stored as a function", "tiny",
     lambda r: put_model(r, function_step_model(vedolizumab_cdst)), PREDICT_ERROR,
     "analysis.indices.scores.vedolizumab_cdst", OUT),
    ("a class renamed to os.system", "tiny",
     lambda r: put_model(r, renamed_class_model(r, "os")), PREDICT_ERROR,
     "os.LogisticRegression", OUT),
    ("an unknown class of this package", "tiny",
     lambda r: put_model(r, renamed_class_model(r, "analysis.models.estimators")),
     PREDICT_ERROR, "analysis.models.estimators.LogisticRegression", OUT),
    # -- the bundle and its manifest (finding 2)
    ("model.skops changed, manifest not", "tiny",
     lambda r: (folder(r) / "model.skops").write_bytes(
         (folder(r) / "model.skops").read_bytes() + b"\0"), PREDICT_ERROR,
     "does not match manifest.json", OUT),
    ("model.skops truncated (hash forged)", "tiny",
     lambda r: put_model(r, (folder(r) / "model.skops").read_bytes()[:500]), PREDICT_ERROR,
     "not a readable skops file", OUT),
    ("model.skops not a zip (hash forged)", "tiny",
     lambda r: put_model(r, b"\x80\x04 a pickle, not a zip"), PREDICT_ERROR,
     "corrupt or truncated zip", OUT),
    ("zip without schema.json", "tiny", lambda r: put_model(r, zip_without_schema()),
     PREDICT_ERROR, "no schema.json", OUT),
    ("schema.json not JSON", "tiny", lambda r: put_model(r, zip_with_schema(b"{nope")),
     PREDICT_ERROR, "not a readable skops file", OUT),
    ("model.skops missing", "tiny", lambda r: (folder(r) / "model.skops").unlink(),
     PREDICT_ERROR, "no model.skops", OUT),
    ("model card edited", "tiny",
     lambda r: (folder(r) / "MODEL_CARD.md").write_text("# all good, trust me\n"),
     PREDICT_ERROR, "MODEL_CARD.md: sha256", OUT),
    ("manifest missing", "tiny", lambda r: (folder(r) / "manifest.json").unlink(),
     PREDICT_ERROR, "no manifest.json", OUT),
    ("manifest not JSON", "tiny",
     lambda r: (folder(r) / "manifest.json").write_text("{"), PREDICT_ERROR,
     "manifest.json: not valid JSON", OUT),
    ("manifest with an unknown key", "tiny",
     manifest_edit(lambda m: m.update(signature="trusted")), PREDICT_ERROR,
     "unknown key 'signature'", OUT),
    ("manifest without model.json", "tiny",
     manifest_edit(lambda m: m["files"].pop("model.json")), PREDICT_ERROR,
     "missing key 'files.model.json'", OUT),
    ("manifest hash not hex", "tiny",
     manifest_edit(lambda m: m["files"]["model.skops"].update(sha256="x" * 64)), PREDICT_ERROR,
     "not a SHA-256 hex digest", OUT),
    ("old format 1 bundle", "tiny", old_format_bundle, PREDICT_ERROR,
     "format_version 1 is no longer supported", OUT),
    # -- model.json edited (finding 2): without and with a forged manifest
    ("BMI rule edited, manifest not", "derived",
     lambda r: edit_meta(r, setting("derivations.derive.bmi", "weight_kg / 2"), "derived",
                         forge=False), PREDICT_ERROR, "model.json: sha256", OUT),
    ("BMI rule calls __import__ (hash forged)", "derived",
     lambda r: edit_meta(r, setting("derivations.derive.bmi", "__import__('os').getpid()"),
                         "derived"), PREDICT_ERROR,
     "derivations.derive.bmi: uses __import__", OUT),
    ("BMI rule not an expression (hash forged)", "derived",
     lambda r: edit_meta(r, setting("derivations.derive.bmi", "import os"), "derived"),
     PREDICT_ERROR, "derivations.derive.bmi: cannot parse", OUT),
    ("BMI rule of 1 MB (hash forged)", "derived",
     lambda r: edit_meta(r, setting("derivations.derive.bmi", "1+" * 500_000 + "1"), "derived"),
     PREDICT_ERROR, "at most 2000 characters", OUT),
    ("ranges widened, manifest not", "tiny",
     lambda r: edit_meta(r, setting("predictors.age.max", 1000), forge=False), PREDICT_ERROR,
     "model.json: sha256", OUT),
    ("training range beyond the codebook (hash forged)", "tiny",
     lambda r: edit_meta(r, setting("training.ranges.age.p99", 900)), PREDICT_ERROR,
     "outside the codebook range", OUT),
    ("codebook min above max (hash forged)", "tiny",
     lambda r: edit_meta(r, setting("predictors.age.min", 500)), PREDICT_ERROR,
     "min (500) is greater than max (100)", OUT),
    ("treatment option added (hash forged)", "tiny",
     lambda r: edit_meta(r, lambda m: m["treatment"]["options"].append("rituximab")),
     PREDICT_ERROR, "treatment.options: rituximab not among the levels", OUT),
    ("treatment option and level added, manifest not", "tiny",
     lambda r: edit_meta(r, _with_extra_level, forge=False), PREDICT_ERROR,
     "model.json: sha256", OUT),
    ("unknown key in model.json", "tiny",
     lambda r: edit_meta(r, setting("postprocess", "eval")), PREDICT_ERROR,
     "unknown key 'postprocess'", OUT),
    ("unknown key in a range", "tiny",
     lambda r: edit_meta(r, setting("training.ranges.age.min", 0)), PREDICT_ERROR,
     "unknown key 'training.ranges.age.min'", OUT),
    ("missing key training", "tiny", lambda r: edit_meta(r, remove("training")),
     PREDICT_ERROR, "missing key 'training'", OUT),
    ("missing key outcome.label", "tiny", lambda r: edit_meta(r, remove("outcome.label")),
     PREDICT_ERROR, "missing key 'outcome.label'", OUT),
    ("missing range of a predictor", "tiny",
     lambda r: edit_meta(r, remove("training.ranges.crp_mg_l")), PREDICT_ERROR,
     "missing key 'training.ranges.crp_mg_l'", OUT),
    ("n as text", "tiny", lambda r: edit_meta(r, setting("training.n", "240")), PREDICT_ERROR,
     "training.n: must be an integer (got str)", OUT),
    ("events above n", "tiny", lambda r: edit_meta(r, setting("training.events", 10**6)),
     PREDICT_ERROR, "events <= n <= rows", OUT),
    ("unknown predictor type", "tiny",
     lambda r: edit_meta(r, setting("predictors.age.type", "python")), PREDICT_ERROR,
     "predictors.age.type: must be one of", OUT),
    ("unknown transform", "tiny",
     lambda r: edit_meta(r, setting("predictors.crp_mg_l.transform", "exp")), PREDICT_ERROR,
     "predictors.crp_mg_l.transform: must be one of", OUT),
    ("predictor dropped from model.json", "tiny",
     lambda r: edit_meta(r, lambda m: (m["predictors"].pop("crp_mg_l"),
                                       m["training"]["ranges"].pop("crp_mg_l"))),
     PREDICT_ERROR, "the model takes columns", OUT),
    ("estimator mislabelled", "tiny", lambda r: edit_meta(r, setting("estimator", "Evil")),
     PREDICT_ERROR, "holds a Pipeline, model.json says Evil", OUT),
    ("recalibration invented", "tiny",
     lambda r: edit_meta(r, setting("recalibration", {"intercept": 5.0, "slope": 1.0,
                                                      "estimated_on": "x"})),
     PREDICT_ERROR, "recalibration does not describe the model", OUT),
    ("model.json not UTF-8", "tiny",
     lambda r: put_meta_bytes(r, "{\"title\": \"Über\"}".encode("latin-1")), PREDICT_ERROR,
     "model.json: not UTF-8 text", OUT),
    ("model.json malformed", "tiny", lambda r: put_meta_bytes(r, b"{\"format_version\": 3,"),
     PREDICT_ERROR, "model.json: not valid JSON", OUT),
    ("model.json with NaN", "tiny",
     lambda r: put_meta_bytes(r, (folder(r) / "model.json").read_bytes().replace(
         b'"n_missing": 1', b'"n_missing": NaN', 1)), PREDICT_ERROR, "NaN is not valid JSON", OUT),
    ("model.json with a duplicate key", "tiny",
     lambda r: put_meta_bytes(r, b'{"study": "tiny", "study": "other"}'), PREDICT_ERROR,
     "duplicate key 'study'", OUT),
    ("model.json a list", "tiny", lambda r: put_meta_bytes(r, b"[]"), PREDICT_ERROR,
     "top level: must be an object (got list)", OUT),
]


def run_predict(root: Path, study: str, tmp: Path, capsys) -> tuple[int, str]:
    source = tmp / "patients.csv"
    source.write_text(PATIENTS[study])
    status = main(["predict", "--study", study, "--input", str(source),
                   "--output", str(root / "out.csv"), "--root", str(root)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


@pytest.mark.parametrize(("case", "study", "build", "status", "fragment", "absent"), CASES,
                         ids=[c[0] for c in CASES])
def test_hostile_model_bundle_is_refused(case, study, build, status, fragment, absent,
                                         pristine, tmp_path, capsys):
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    build(root)
    got, text = run_predict(root, study, tmp_path, capsys)
    assert got == status, text
    assert fragment in text, text
    assert "Traceback" not in text
    assert len(text) < 3000, "the message must stay short"
    for name in absent:
        assert not (root / name).exists(), name


@pytest.mark.parametrize("study", ["tiny", "derived"])
def test_untouched_bundles_score(study, pristine, tmp_path, capsys):
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    got, text = run_predict(root, study, tmp_path, capsys)
    assert got == 0, text
    assert (root / "out.csv").read_text().startswith("pid,probability")


def test_the_crafted_file_really_runs_a_command_when_trusted_blindly(tmp_path):
    """Control: the crafted file is a working exploit if its types are trusted."""
    blob = crafted_shell_model(tmp_path)
    untrusted = sio.get_untrusted_types(data=blob)
    assert "sklearn.utils._testing.check_output" in untrusted
    model = sio.loads(blob, trusted=untrusted)
    with contextlib.suppress(Exception):  # whatever the dummy makes of the output
        model.predict_proba(np.zeros((1, 1)))
    assert (tmp_path / MARKER).exists()


def test_forged_edits_that_stay_consistent_are_the_documented_limit(pristine, tmp_path, capsys):
    """Not a signature: a rehashed, self-consistent edit loads (documented in artifact.py)."""
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    edit_meta(root, setting("title", "Renamed"))
    got, text = run_predict(root, "tiny", tmp_path, capsys)
    assert got == 0, text
