"""The final model as a safe, self-describing bundle under ``reports/<study>/model/``.

Four files are written, each atomically (:func:`analysis.study.io.write_bytes`/``write_text``):

``model.skops``
    The fitted scikit-learn pipeline in the :mod:`skops.io` format, which stores a schema
    and arrays instead of a pickle and constructs only types that the reader trusts.
``model.json``
    Metadata: the study, the outcome and its label, the predictors with their codebook
    entries (the model's inputs, ``study.model_inputs``: with the phenotype as a candidate
    predictor, the phenotype variables that are not predictors too), the derive rules of
    derived predictors, the training range of every numeric
    predictor (its 1st and 99th percentiles rounded to 3 significant digits - never an
    individual's exact value) and the observed levels of every categorical one, ``n`` and
    ``events``, the treatment options, the validation metrics, package versions, and the
    ship gate's verdict: ``status`` (:data:`FIT` or :data:`NOT_FIT`) with
    ``status_reasons`` (one sentence per failed criterion; empty when fit).
    :mod:`analysis.models.predict` needs nothing else to score new patients.
``MODEL_CARD.md``
    A model card with TRIPOD+AI-style headings (aggregate numbers only, no patient rows).
``manifest.json``
    The bundle: the format version and the SHA-256 of each of the three files above (and
    of ``refits.skops`` when there is one).

Optionally (``save_model(..., refits=...)``), a fifth file:

``refits.skops``
    The bootstrap refits of the validation stage (a list of fitted pipelines in the same
    skops format, checked against the same allow-list), from which
    :func:`analysis.models.predict.predict_patients` takes each prediction's 95% interval
    (``ci_lower``, ``ci_upper``); ``model.json`` then says how many there are
    (``intervals``). Read with :func:`load_refits`, which checks its hash against the
    manifest and its types before constructing anything, and keeps the loaded refits in
    memory for the next call with the same file. Folders without it stay valid (no
    interval).

:func:`load_model` refuses the folder unless every hash in ``manifest.json`` matches,
``model.json`` passes a strict schema (:func:`parse_metadata`: known keys only, types,
codebook entries, derive rules, ranges and treatment options checked against each other)
and every type named anywhere in ``model.skops`` is on the exact allow-list
:data:`ALLOWED_TYPES` - the classes the project's pipelines are made of, and no function
at all (so no ``FunctionTransformer``). All of this is checked before any object is
constructed.

What the manifest protects against: a bundle edited or mixed by hand, a truncated copy, a
file from another model. It is not a signature: whoever can write the folder can also
rewrite the manifest, and then the schema and the allow-list are what stand between the
files and the predictions (no code runs; metadata must stay consistent with itself).

The bytes of ``model.skops`` (and so ``manifest.json``) are not reproducible between runs
(skops names its members after object ids and stamps the zip with the time); ``model.json``
and ``MODEL_CARD.md`` apart from the hash it quotes are.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import io
import json
import math
import os
import re
import warnings
import zipfile
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import __version__
from analysis.errors import AnalysisError
from analysis.study.config import TRANSFORMS, VARIABLE_KEYS, VARIABLE_TYPES, Study, Variable
from analysis.study.io import write_bytes, write_text

__all__ = [
    "ALLOWED_TYPES",
    "FIT",
    "NOT_FIT",
    "ModelArtifactError",
    "ModelVersionWarning",
    "RISK_PERCENTILES",
    "check_types",
    "load_model",
    "load_refits",
    "metadata_variables",
    "model_types",
    "parse_metadata",
    "risk_percentiles",
    "save_model",
]

MODEL_FILE = "model.skops"
METADATA_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"
MANIFEST_FILE = "manifest.json"
BUNDLE_FILES = (MODEL_FILE, METADATA_FILE, CARD_FILE)
#: The bootstrap refits behind the prediction intervals (optional member of the bundle).
REFITS_FILE = "refits.skops"
#: Largest ``refits.skops`` written: above it only as many refits as fit are kept (in order).
MAX_REFITS_BYTES = 500_000_000
#: Fewest refits worth a 95% percentile interval when the full set is too large to keep.
MIN_REFITS = 20
#: Coverage of the prediction interval (the refits' 2.5th and 97.5th percentiles).
INTERVAL_LEVEL = 0.95
#: Objects constructed from skops files by :func:`load_model` and :func:`load_refits`, by
#: (file, sha256): the few most recent, so that a calculator scoring one patient after
#: another checks the files every time but builds their objects once.
_LOADED: dict[tuple[str, str], Any] = {}
_LOADED_SIZE = 6
#: 2: manifest.json, strict model.json, exact type allow-list, percentile ranges and the
#: module paths of the reorganised package (files of format 1 cannot load).
#: 3: model.json carries the ship gate's ``status`` and ``status_reasons``.
FORMAT_VERSION = 3
#: ``status`` of a model that passed the ship gate (:mod:`analysis.validation.gate`).
FIT = "fit-for-clinical-use"
#: ``status`` of a model kept for audit only; ``analysis predict`` refuses it by default.
NOT_FIT = "not-for-clinical-use"
STATUSES = (FIT, NOT_FIT)
#: The reason recorded when a model is saved without a ship-gate verdict.
NO_VERDICT = ("saved without a ship-gate verdict (analysis.validation.gate.ship_gate), so "
              "it is not known to beat the intercept-only model")
NUMERIC_TYPES = ("numeric", "integer", "binary")
PREDICTOR_TYPES = ("numeric", "integer", "binary", "categorical")
PACKAGES = {"scikit-learn": "sklearn", "skops": "skops", "numpy": "numpy", "pandas": "pandas"}
#: Significant digits of the stored training percentiles.
RANGE_DIGITS = 3
#: Size limits (bytes) checked before anything is parsed.
MAX_JSON_BYTES = 10_000_000
MAX_MODEL_BYTES = 2_000_000_000
MAX_EXPRESSION_CHARS = 2_000

#: Every type a model file may name: exactly the classes the project's pipelines are made
#: of (found by saving every model of the zoo, the clinical scores and their recalibrated
#: wrappers), plus plain containers and NumPy scalars. No function is trusted, so neither
#: ``FunctionTransformer`` nor a callable parameter can be abused to run code.
ALLOWED_TYPES = frozenset({
    # containers and scalars
    "builtins.dict", "builtins.list", "builtins.tuple", "builtins.slice", "builtins.str",
    "builtins.int", "builtins.float", "builtins.bool", "builtins.set", "builtins.frozenset",
    "numpy.ndarray", "numpy.dtype", "numpy.float64", "numpy.float32", "numpy.int64",
    "numpy.int32", "numpy.int8", "numpy.uint64", "numpy.uint32", "numpy.uint8", "numpy.bool",
    "numpy.bool_", "numpy.str_",
    "numpy.random._generator.Generator", "numpy.random.mtrand.RandomState",
    # scikit-learn
    "sklearn.pipeline.Pipeline",
    "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.impute._base.SimpleImputer",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.preprocessing._label.LabelBinarizer",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.dummy.DummyClassifier",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.Interval",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.svm._classes.SVC",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    # this package
    "analysis.benefit.effect_model.BenefitModel",
    "analysis.models.estimators.AsString",
    "analysis.models.estimators.BracketName",
    "analysis.models.estimators.ClippedLog",
    "analysis.models.estimators.FixedScoreClassifier",
    "analysis.models.estimators.Log1pTransform",
    "analysis.models.estimators.OOBTunedForest",
    "analysis.models.estimators.PublishedScore",
    "analysis.models.estimators.SqrtNonNegative",
    "analysis.models.flexible.FlexibleBasis",
    "analysis.models.flexible.RidgeLogisticCV",
    "analysis.models.phenotype.PhenotypeFeatures",
    "analysis.models.recalibration.RecalibratedClassifier",
    "analysis.regression.latent_classes.MixedStandardiser",
    "analysis.regression.latent_classes.PhenotypeModel",
    "analysis.regression.mixture.LatentClassMixture",
    "analysis.regression.splines.RestrictedCubicSpline",
})
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ModelArtifactError(AnalysisError):
    """A model folder is missing, tampered with or holds types that are not trusted."""


class ModelVersionWarning(UserWarning):
    """The model was saved with other package versions than the ones installed."""


# --------------------------------------------------------------------------- saving


def save_model(pipeline, study: Study, *, model_name: str, metrics: pd.DataFrame | None,
               training_frame: pd.DataFrame, folder: str | os.PathLike | None = None,
               status: str | None = None, status_reasons=(), status_cautions=(),
               recalibration_source: str = "out-of-fold predictions",
               card_sections: dict[str, str] | None = None, refits=None,
               refits_source: str = "bootstrap refits of the validation stage") -> Path:
    """Write ``model.skops``, ``model.json``, ``MODEL_CARD.md`` and ``manifest.json``
    (and ``refits.skops`` when ``refits`` are given).

    Parameters
    ----------
    pipeline : sklearn estimator
        Fitted classifier or Pipeline with ``predict_proba`` on a DataFrame of the
        study's model inputs (``study.model_inputs``: the predictors, plus the phenotype
        variables when the phenotype is a candidate predictor).
    study : Study
        The study the model belongs to (codebook, outcome, treatment options).
    model_name : str
        Short name of the model (e.g. ``"logistic, rcs(age)"``).
    metrics : DataFrame or None
        Validation metrics for the card and ``model.json`` (any tidy table, e.g. the
        output of :func:`analysis.evaluation.scores.performance_summary`).
    training_frame : DataFrame
        The development data (processed cohort): the predictors and the outcome. Only
        aggregates of it are stored.
    folder : path, optional
        Target folder; default ``reports/<study>/model``.
    status : {"fit-for-clinical-use", "not-for-clinical-use"}, optional
        The ship gate's verdict (:class:`analysis.validation.gate.GateVerdict` ``.status``).
        ``None`` (the default) is not a verdict: the model is saved as
        ``"not-for-clinical-use"`` with the reason :data:`NO_VERDICT`, so nothing reaches
        patients without passing the gate.
    status_reasons : sequence of str
        The failed criteria (``GateVerdict.reasons``); must be empty when fit and not
        empty when not fit (``None`` status: ignored).
    status_cautions : sequence of str
        The ship gate's cautions (:class:`analysis.validation.gate.GateVerdict`
        ``.cautions``: a cohort below Riley's minimum sample size), written to model.json
        as ``status_cautions`` when there are any, stated in the model card and shown by
        the calculator beside the result.
    recalibration_source : str, default "out-of-fold predictions"
        ``recalibration.estimated_on`` of a :class:`RecalibratedClassifier` pipeline
        (ignored for other pipelines).
    card_sections : dict of str to str, optional
        Further sections of ``MODEL_CARD.md`` (heading -> markdown), e.g. the model's full
        equation (:func:`analysis.explain.presentation.model_equation`); they follow the
        validation section.
    refits : sequence of fitted estimators, optional
        Refits of the same pipeline on bootstrap samples, made as the shipped model is
        made (``bootstrap_optimism(..., keep_refits=True)``), written to ``refits.skops``:
        each prediction's 95% interval is the 2.5th to 97.5th percentile of their
        probabilities. When they would take more than :data:`MAX_REFITS_BYTES`, only the
        first ones that fit are kept (none, with a warning, if that is fewer than
        :data:`MIN_REFITS`). ``None`` (the default): no intervals, and a
        ``refits.skops`` left by an earlier save is removed.
    refits_source : str
        Where the refits come from, for ``model.json`` and the model card.

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    ModelArtifactError
        If the pipeline has no ``predict_proba``, ``training_frame`` lacks a predictor or
        the outcome, the status and its reasons disagree, a refit has no ``predict_proba``
        or takes other columns, or the pipeline (or a refit) contains a type
        :func:`load_model` would refuse (anything not in :data:`ALLOWED_TYPES`, e.g. a
        ``FunctionTransformer``).

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from analysis.study.paths import StudyPaths
    >>> from analysis.study.config import Study, Variable
    >>> study = Study(name="demo", paths=StudyPaths("demo", Path(tempfile.mkdtemp())),
    ...               title="Demo", data="raw.csv", outcome="y", predictors=("age",),
    ...               variables={"age": Variable("age", "numeric"), "y": Variable("y", "binary")})
    >>> frame = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "y": [0.0, 1.0, 0.0, 1.0]})
    >>> model = DummyClassifier().fit(frame[["age"]], frame["y"])
    >>> folder = save_model(model, study, model_name="dummy", metrics=None, training_frame=frame,
    ...                     status="fit-for-clinical-use")
    >>> sorted(p.name for p in folder.iterdir())
    ['MODEL_CARD.md', 'manifest.json', 'model.json', 'model.skops']
    >>> folder = save_model(model, study, model_name="dummy", metrics=None, training_frame=frame)
    >>> json.loads((folder / "model.json").read_text())["status"]
    'not-for-clinical-use'
    """

    if not hasattr(pipeline, "predict_proba"):
        raise ModelArtifactError(
            f"pipeline: must have predict_proba (got {type(pipeline).__name__})")
    if not isinstance(model_name, str) or not model_name.strip():
        raise ModelArtifactError("model_name: must be a non-empty string")
    if not isinstance(training_frame, pd.DataFrame):
        raise ModelArtifactError("training_frame: must be a pandas DataFrame")
    needed = [*study.model_inputs, study.outcome]
    missing = [c for c in needed if c not in training_frame.columns]
    if missing:
        raise ModelArtifactError(
            f"training_frame: missing column(s) {', '.join(missing)} (needs the predictors "
            "and the outcome)")
    if metrics is not None and not isinstance(metrics, pd.DataFrame):
        raise ModelArtifactError("metrics: must be a pandas DataFrame or None")
    status, reasons = _status(status, status_reasons)
    recalibrated = type(pipeline).__name__ == "RecalibratedClassifier"
    if recalibrated and not (isinstance(recalibration_source, str) and recalibration_source.strip()):
        raise ModelArtifactError("recalibration_source: must say where the recalibration of "
                                 "a RecalibratedClassifier was estimated")

    if refits is not None and not (isinstance(refits_source, str) and refits_source.strip()):
        raise ModelArtifactError("refits_source: must say where the refits come from")

    blob = skops_dumps(pipeline)
    check_types(model_types(blob))
    refits_blob, n_refits = _refits_blob(refits, list(study.model_inputs))
    meta = _metadata(pipeline, study, model_name, metrics, training_frame, recalibration_source)
    meta["status"], meta["status_reasons"] = status, reasons
    cautions = _cautions(status_cautions)
    if cautions:
        meta["status_cautions"] = cautions
    if n_refits:
        meta["intervals"] = {"n_refits": n_refits, "level": INTERVAL_LEVEL,
                             "source": refits_source.strip()}
    meta_text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    parse_metadata(meta_text.encode("utf-8"))  # what load_model will accept, checked now
    card = render_model_card(meta, sha256=_sha256(blob), sections=card_sections)
    folder = Path(folder) if folder is not None else study.paths.model
    contents = {MODEL_FILE: blob, METADATA_FILE: meta_text.encode("utf-8"),
                CARD_FILE: card.encode("utf-8")}
    if refits_blob is not None:
        contents[REFITS_FILE] = refits_blob
    manifest = {"format_version": FORMAT_VERSION,
                "files": {name: {"sha256": _sha256(data)} for name, data in contents.items()}}
    for name, data in contents.items():
        write_bytes(folder / name, data)
    # written last: a bundle interrupted half-way never matches its manifest
    write_text(folder / MANIFEST_FILE, json.dumps(manifest, indent=2) + "\n")
    if refits_blob is None:  # the refits of an earlier model are not this model's
        (folder / REFITS_FILE).unlink(missing_ok=True)
    return folder


def _refits_blob(refits, predictors: list[str]) -> tuple[bytes | None, int]:
    """The bytes of ``refits.skops`` and the number of refits in them (``(None, 0)``: none)."""
    if refits is None:
        return None, 0
    if isinstance(refits, str | bytes | dict) or not hasattr(refits, "__iter__"):
        raise ModelArtifactError("refits: must be a sequence of fitted estimators or None")
    refits = list(refits)
    if not refits:
        raise ModelArtifactError("refits: is empty (pass None for a model without intervals)")
    for i, model in enumerate(refits):
        if not hasattr(model, "predict_proba"):
            raise ModelArtifactError(
                f"refits[{i}]: must have predict_proba (got {type(model).__name__})")
        columns = getattr(model, "feature_names_in_", None)
        if columns is not None and [str(c) for c in columns] != predictors:
            raise ModelArtifactError(
                f"refits[{i}]: takes columns {', '.join(map(str, columns))}, not the "
                f"predictors {', '.join(predictors)}")
    blob = _dump_refits(refits)
    size = _unpacked_size(blob)
    if size > MAX_REFITS_BYTES:
        keep = int(len(refits) * MAX_REFITS_BYTES / size)
        if keep < MIN_REFITS:
            warnings.warn(f"refits: {len(refits)} refits take {size:,} bytes, and fewer than "
                          f"{MIN_REFITS} fit in {MAX_REFITS_BYTES:,}: the model is saved "
                          "without prediction intervals", UserWarning, stacklevel=3)
            return None, 0
        warnings.warn(f"refits: {len(refits)} refits take {size:,} bytes; only the first "
                      f"{keep} are kept (limit {MAX_REFITS_BYTES:,} bytes)", UserWarning,
                      stacklevel=3)
        refits = refits[:keep]
        blob = _dump_refits(refits)
    check_types(model_types(blob, source=REFITS_FILE, max_schema_bytes=MAX_REFITS_BYTES),
                source=REFITS_FILE)
    return blob, len(refits)


def _unpacked_size(blob: bytes) -> int:
    """Bytes of a skops zip once unpacked."""
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        return sum(info.file_size for info in archive.infolist())


def _dump_refits(refits: list) -> bytes:
    # equal plain values shared: skops then builds each of them once when loading (about
    # twice as fast for 200 refits); compressed: their schemas shrink about tenfold
    refits = _share_equal_values(copy.deepcopy(refits))
    return skops_dumps(refits, compression=zipfile.ZIP_DEFLATED, compresslevel=1)


def skops_dumps(obj, *, compression: int = zipfile.ZIP_STORED, compresslevel: int | None = None) -> bytes:
    """``skops.io.dumps(obj)`` with its ``schema.json`` written as compact JSON.

    :func:`skops.io.dumps` indents the schema, which makes :mod:`json` use its pure-Python
    encoder: for the 200 bootstrap refits of a model that was 80% of the time to save
    them.  This is the same archive - the same schema, the same arrays - with the schema
    on one line, encoded in C; :func:`skops.io.loads` reads it unchanged.  With a skops
    release whose internals differ it is :func:`skops.io.dumps` itself.

    Parameters
    ----------
    obj : object
        A fitted estimator, or a list of them.
    compression, compresslevel
        As :func:`skops.io.dumps`.

    Returns
    -------
    bytes

    Examples
    --------
    >>> import skops.io as sio
    >>> from sklearn.dummy import DummyClassifier
    >>> model = DummyClassifier().fit([[0], [1]], [0, 1])
    >>> sio.loads(skops_dumps(model), trusted=["sklearn.dummy.DummyClassifier"]).classes_.tolist()
    [0, 1]
    """
    import skops
    import skops.io as sio

    try:
        from skops.io._utils import SaveContext, get_state
    except ImportError:  # pragma: no cover - another skops layout
        return sio.dumps(obj, compression=compression, compresslevel=compresslevel)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression, compresslevel=compresslevel) as archive:
        # skops.io._persist._save, but json.dumps without indent
        context = SaveContext(zip_file=archive)
        state = get_state(obj, context)
        context.clear_memo()
        state["protocol"] = context.protocol
        state["_skops_version"] = skops.__version__
        archive.writestr("schema.json", json.dumps(state))
    return buffer.getvalue()


_PLAIN = (str, bool, int, float, type(None))


def _is_plain(value, depth: int = 0) -> bool:
    """A JSON-like value: text, numbers, None, and lists/tuples/str-keyed dicts of them."""
    if isinstance(value, _PLAIN):
        return True
    if depth > 20:
        return False
    if type(value) in (list, tuple):
        return all(_is_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(isinstance(k, str) and _is_plain(v, depth + 1) for k, v in value.items())
    return False


def _share_equal_values(objects: list) -> list:
    """Make equal plain values (strings, and lists, tuples and dicts of plain values) of the
    estimators in ``objects`` one shared object each, in place; returns ``objects``.

    Only the identity of values that are equal changes (fitted estimators never modify
    them), so every estimator predicts exactly as before.

    Examples
    --------
    >>> class Box:
    ...     def __init__(self, levels):
    ...         self.levels_ = levels
    >>> a, b = _share_equal_values([Box(["x", "y"]), Box(["x", "y"])])
    >>> a.levels_ is b.levels_, a.levels_
    (True, ['x', 'y'])
    """
    seen: dict = {}

    def canonical(value, depth: int):
        if type(value) in (str, int, float) or (type(value) in (list, tuple, dict)
                                                 and _is_plain(value)):
            try:
                key = (type(value).__name__, json.dumps(value))  # key order matters
            except (TypeError, ValueError):
                return value
            return seen.setdefault(key, value)
        if depth > 20 or isinstance(value, np.ndarray | np.generic):
            return value
        if type(value) is dict:
            for k in list(value):
                value[k] = canonical(value[k], depth + 1)
        elif type(value) is list:
            value[:] = [canonical(v, depth + 1) for v in value]
        elif type(value) is tuple:
            return tuple(canonical(v, depth + 1) for v in value)
        elif hasattr(value, "__dict__") and type(value).__module__.split(".")[0] in (
                "sklearn", "analysis"):
            for k, v in list(vars(value).items()):
                setattr(value, k, canonical(v, depth + 1))
        return value

    for obj in objects:
        canonical(obj, 0)
    return objects


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cautions(cautions) -> list[str]:
    """The gate's cautions written to model.json: a sequence of non-empty sentences."""
    if isinstance(cautions, str) or not all(isinstance(c, str) and c.strip()
                                            for c in (cautions or ())):
        raise ModelArtifactError("status_cautions: must be a sequence of non-empty sentences")
    return [str(c) for c in cautions or ()]


def _status(status, reasons) -> tuple[str, list[str]]:
    """The (status, reasons) written to model.json; a missing verdict is not fit."""
    if status is None:
        return NOT_FIT, [NO_VERDICT]
    if status not in STATUSES:
        raise ModelArtifactError(f"status: must be one of {', '.join(STATUSES)} (got {status!r})")
    if isinstance(reasons, str) or not all(isinstance(r, str) and r.strip() for r in reasons):
        raise ModelArtifactError("status_reasons: must be a sequence of non-empty sentences")
    reasons = [str(r) for r in reasons]
    if status == FIT and reasons:
        raise ModelArtifactError(f"status_reasons: must be empty for a {FIT} model")
    if status == NOT_FIT and not reasons:
        raise ModelArtifactError(f"status_reasons: a {NOT_FIT} model needs its reasons")
    return status, reasons


def derivations_for(study: Study, names) -> dict[str, Any]:
    """The derive rules needed to compute ``names`` from raw columns, with the codebook of
    those raw inputs, so that a model folder can score raw patient tables on its own.

    Returns ``{"derive": {name: expression, ...} in evaluation order, "inputs": codebook}``.
    """
    import ast

    needed: dict[str, str] = {}
    inputs: set[str] = set()

    def visit(name: str) -> None:
        if name in needed or name not in study.derive:
            if name not in study.derive and name in study.variables:
                inputs.add(name)
            return
        expression = study.derive[name]
        for node in ast.walk(ast.parse(expression, mode="eval")):
            if isinstance(node, ast.Name):
                visit(node.id)
        needed[name] = expression

    derived_predictors = [n for n in names if n in study.derive]
    for name in derived_predictors:
        visit(name)
    order = [n for n in study.derive if n in needed]  # study order: dependencies first
    return {"derive": {n: needed[n] for n in order},
            "inputs": study.codebook(sorted(inputs))}


def _metadata(pipeline, study: Study, model_name, metrics, frame,
              recalibration_source: str = "out-of-fold predictions") -> dict[str, Any]:
    outcome = pd.to_numeric(frame[study.outcome], errors="coerce")
    observed = outcome.dropna()
    ranges: dict[str, Any] = {}
    for name in study.model_inputs:
        var = study.variables[name]
        ranges[name] = _training_range(frame[name], var)
    # the raw inputs of derived predictors (height and weight for BMI): the prediction tool's
    # form asks for them, and starts at their medians too
    for name in derivations_for(study, study.model_inputs)["inputs"]:
        if name not in ranges and name in frame.columns and name in study.variables:
            ranges[name] = _training_range(frame[name], study.variables[name])
    treatment = None
    if study.treatment:
        column = study.treatment["column"]
        var = study.variables[column]
        options = study.treatment.get("options") or list(var.levels or (0, 1))
        allowed = [str(v) for v in var.levels] if var.levels else ["0", "1", "0.0", "1.0"]
        unknown = [str(o) for o in options if str(o) not in allowed]
        if unknown:
            raise ModelArtifactError(
                f"treatment.options: {', '.join(unknown)} not among the levels of "
                f"{column!r} ({', '.join(allowed)})")
        treatment = {"column": column, "options": [str(o) for o in options]}
    return {
        "format_version": FORMAT_VERSION,
        "study": study.name,
        "title": study.title,
        "description": study.description,
        "model_name": model_name,
        "estimator": type(pipeline).__name__,
        "outcome": {
            "name": study.outcome,
            "label": study.label(study.outcome),
            "definition": study.derive.get(study.outcome),
        },
        "id": {"name": study.id, **study.codebook([study.id])[study.id]} if study.id else None,
        "predictors": study.codebook(study.model_inputs),
        "derivations": derivations_for(study, study.model_inputs),
        "training": {
            "n": int(observed.size),
            "events": int((observed == 1).sum()),
            "rows": int(len(frame)),
            "ranges": ranges,
            "risk_percentiles": risk_percentiles(pipeline, frame[list(study.model_inputs)]),
        },
        "treatment": treatment,
        # notebook 06 recalibrates a model whose cross-validated slope is out of range
        "recalibration": (
            {"intercept": float(pipeline.intercept), "slope": float(pipeline.slope),
             "estimated_on": recalibration_source}
            if type(pipeline).__name__ == "RecalibratedClassifier" else None),
        "metrics": None if metrics is None else _records(metrics),
        "versions": {"analysis": __version__, **_package_versions()},
    }


#: Percentiles of the development cohort's predicted risk stored in ``model.json``.
RISK_PERCENTILES = tuple(range(5, 100, 5))


def risk_percentiles(pipeline, X: pd.DataFrame) -> list[float] | None:
    """The 5th, 10th, ..., 95th percentiles of the model's predicted risk in development.

    Rounded to 3 decimals (aggregates only): where a new patient's risk sits in the cohort's
    distribution, as the prediction tool shows it.  ``None`` when the model cannot score the
    development data.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> risk_percentiles(DummyClassifier().fit(X, [0, 1, 1, 1]), X)[:2]
    [0.75, 0.75]
    """
    try:
        proba = np.asarray(pipeline.predict_proba(X), dtype=float)
    except Exception:  # noqa: BLE001 - not every stored model scores its training frame
        return None
    classes = list(getattr(pipeline, "classes_", [0, 1]))
    p = proba[:, classes.index(1) if 1 in classes else -1]
    p = p[np.isfinite(p)]
    if p.size == 0:
        return None
    return [round(float(v), 3) for v in np.percentile(p, RISK_PERCENTILES)]


def _training_range(values: pd.Series, var: Variable) -> dict[str, Any]:
    if var.type in NUMERIC_TYPES:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        if x.size == 0:
            return {"kind": "numeric", "p01": None, "p99": None, "mean": None,
                    "n_missing": int(values.isna().sum())}
        p01, p50, p99 = np.percentile(x, [1, 50, 99])
        return {"kind": "numeric", "p01": _rounded(p01, var), "p99": _rounded(p99, var),
                "mean": float(x.mean()), "median": _rounded(p50, var),
                "n_missing": int(values.isna().sum())}
    seen = {str(v) for v in values.dropna()}
    order = [lv for lv in (var.levels or ()) if lv in seen] + sorted(seen - set(var.levels or ()))
    counts = values.dropna().astype(str).value_counts()
    # the most common level (ties: the first in codebook order): the prediction tool's default
    most_common = next((lv for lv in order if counts.get(lv, 0) == counts.max()), None) if len(counts) else None
    return {"kind": "categorical", "levels": order, "most_common": most_common,
            "n_missing": int(values.isna().sum())}


def _rounded(value: float, var: Variable) -> float:
    """A percentile to :data:`RANGE_DIGITS` significant digits, kept inside the codebook range.

    Examples
    --------
    >>> _rounded(20.6432, Variable("age", "numeric")), _rounded(0.29, Variable("c", "numeric", min=0.3))
    (20.6, 0.3)
    """
    out = float(f"{float(value):.{RANGE_DIGITS}g}")
    if var.min is not None:
        out = max(out, float(var.min))
    if var.max is not None:
        out = min(out, float(var.max))
    return out


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return None if pd.isna(value) else str(value)


def _package_versions() -> dict[str, str | None]:
    out = {}
    for dist in PACKAGES:
        try:
            out[dist] = importlib_metadata.version(dist)
        except importlib_metadata.PackageNotFoundError:
            out[dist] = None
    return out


# --------------------------------------------------------------------------- loading


def model_types(blob: bytes, source: str = MODEL_FILE,
                max_schema_bytes: int = MAX_JSON_BYTES * 10) -> list[str]:
    """Every type named anywhere in a ``model.skops`` file, read from its schema only.

    Nothing is imported or constructed: the zip's ``schema.json`` is parsed as plain JSON
    and every ``{"__module__": ..., "__class__": ...}`` pair in it is collected.

    Parameters
    ----------
    blob : bytes
        The bytes of a ``.skops`` file.
    source : str, default "model.skops"
        The file's name in messages.
    max_schema_bytes : int
        Largest uncompressed ``schema.json`` read.

    Returns
    -------
    list of str
        Sorted fully qualified names.

    Raises
    ------
    ModelArtifactError
        If the bytes are not a readable skops zip.

    Examples
    --------
    >>> import skops.io as sio
    >>> from sklearn.dummy import DummyClassifier
    >>> "sklearn.dummy.DummyClassifier" in model_types(sio.dumps(DummyClassifier()))
    True
    >>> model_types(b"not a zip")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.models.artifact.ModelArtifactError: model.skops: not a readable skops file ...
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            info = archive.getinfo("schema.json")
            if info.file_size > max_schema_bytes:
                raise ModelArtifactError(
                    f"{source}: schema.json is {info.file_size} bytes uncompressed, "
                    f"more than the limit of {max_schema_bytes}")
            text = archive.read(info).decode("utf-8")
        found: set[str] = set()

        def collect(node: dict) -> dict:  # called for every object of the schema
            if "__module__" in node or "__class__" in node:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            return node

        json.loads(text, object_hook=collect)
    except ModelArtifactError:
        raise
    except (zipfile.BadZipFile, KeyError, EOFError, OSError, UnicodeDecodeError, ValueError,
            RecursionError, NotImplementedError, RuntimeError) as exc:
        raise ModelArtifactError(
            f"{source}: not a readable skops file (corrupt or truncated zip, or no "
            f"schema.json): {type(exc).__name__}: {_short(exc)}") from exc
    return sorted(found)


def check_types(types, source: str = MODEL_FILE) -> list[str]:
    """Return ``types`` if every one is in :data:`ALLOWED_TYPES`, else raise.

    Parameters
    ----------
    types : iterable of str
        Fully qualified type names, as from :func:`model_types`.
    source : str, default "model.skops"
        The file's name in messages.

    Returns
    -------
    list of str

    Raises
    ------
    ModelArtifactError
        Naming every refused type.

    Examples
    --------
    >>> check_types(["numpy.dtype", "analysis.regression.splines.RestrictedCubicSpline"])
    ['numpy.dtype', 'analysis.regression.splines.RestrictedCubicSpline']
    >>> check_types(["numpy.full_like"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.models.artifact.ModelArtifactError: model.skops: refusing to load 1 untrusted type(s): numpy.full_like ...
    """
    types = [str(t) for t in types]
    refused = sorted({t for t in types if t not in ALLOWED_TYPES})
    if refused:
        shown = ", ".join(_short(t, 120) for t in refused[:20])
        more = f" and {len(refused) - 20} more" if len(refused) > 20 else ""
        raise ModelArtifactError(
            f"{source}: refusing to load {len(refused)} untrusted type(s): {shown}{more} "
            "(only the estimator and transformer classes of this package's pipelines are "
            "trusted, no functions; see analysis.models.artifact.ALLOWED_TYPES)")
    return types


def load_model(folder: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """Load a model folder written by :func:`save_model`.

    In this order, and before any object is constructed: ``manifest.json`` is read and
    the SHA-256 of ``model.skops``, ``model.json`` and ``MODEL_CARD.md`` must match it;
    ``model.json`` must pass :func:`parse_metadata`; every type named in ``model.skops``
    must be in :data:`ALLOWED_TYPES`. Only then is the pipeline loaded with that explicit
    trusted list, and its type, recalibration and input columns must agree with
    ``model.json``. A :class:`ModelVersionWarning` is issued when scikit-learn, skops,
    NumPy or pandas differ from the versions the model was saved with.

    The files are read and checked on every call; the pipeline built from a
    ``model.skops`` is kept in memory by file and hash and returned again when the bytes
    are the same (scoring one patient after another does not rebuild a large model). The
    returned pipeline may therefore be shared: do not modify it.

    Parameters
    ----------
    folder : path
        Folder holding the bundle.

    Returns
    -------
    pipeline : sklearn estimator
    metadata : dict
        The parsed ``model.json``.

    Raises
    ------
    ModelArtifactError
        A missing, unreadable or changed file, a model of an older format, metadata that
        breaks the schema, or an untrusted type.

    Examples
    --------
    >>> load_model("/no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.models.artifact.ModelArtifactError: folder: no model.json in /no/such/folder ...
    """
    import skops.io as sio

    folder = Path(folder)
    if not folder.is_dir() or not (folder / METADATA_FILE).exists():
        raise ModelArtifactError(
            f"folder: no {METADATA_FILE} in {folder} (write the model with save_model first)")
    manifest = _read_manifest(folder)
    contents, digests = {}, {}
    for name in BUNDLE_FILES:
        data = _read_bytes(folder / name, MAX_MODEL_BYTES if name == MODEL_FILE else MAX_JSON_BYTES)
        expected = manifest["files"][name]["sha256"]
        actual = _sha256(data)
        if expected != actual:
            raise ModelArtifactError(
                f"{folder / name}: sha256 {actual} does not match {MANIFEST_FILE} ({expected}); "
                "the file was changed or belongs to another model")
        contents[name], digests[name] = data, actual
    meta = parse_metadata(contents[METADATA_FILE])
    blob = contents[MODEL_FILE]
    pipeline = _recall(folder / MODEL_FILE, digests[MODEL_FILE])
    if pipeline is None:
        types = check_types(model_types(blob))
        try:
            # skops audits the file again against exactly these (already allowed) types, as
            # load_refits does: a type the schema walk above missed is refused by skops
            pipeline = sio.loads(blob, trusted=sorted(set(types)))
        except ModelArtifactError:
            raise
        except Exception as exc:  # skops' own message says what failed
            raise ModelArtifactError(f"{folder / MODEL_FILE}: cannot load: "
                                     f"{type(exc).__name__}: {_short(exc)}") from exc
        _remember(folder / MODEL_FILE, digests[MODEL_FILE], pipeline)
    _check_agrees(pipeline, meta, folder / MODEL_FILE)
    _check_refits_listed(manifest, meta, folder)
    _warn_versions(meta.get("versions") or {})
    return pipeline, meta


def _recall(path: Path, sha256: str):
    """The object built before from this file with these contents (their hash), or None."""
    return _LOADED.get((str(path.resolve()), sha256))


def _remember(path: Path, sha256: str, obj) -> None:
    while len(_LOADED) >= _LOADED_SIZE:
        _LOADED.pop(next(iter(_LOADED)))
    _LOADED[(str(path.resolve()), sha256)] = obj


def _check_refits_listed(manifest: dict[str, Any], meta: dict[str, Any], folder: Path) -> None:
    """``model.json`` announces refits exactly when the manifest lists ``refits.skops``."""
    listed = REFITS_FILE in manifest["files"]
    if listed != (meta.get("intervals") is not None):
        raise ModelArtifactError(
            f"{folder / MANIFEST_FILE}: " + (f"lists {REFITS_FILE} but {METADATA_FILE} has no "
                                              "intervals" if listed else
                                              f"does not list {REFITS_FILE} but {METADATA_FILE} "
                                              "announces intervals")
            + "; save the model again")


def load_refits(folder: str | os.PathLike) -> list | None:
    """The bootstrap refits saved with a model (``refits.skops``), or None without them.

    Safe as :func:`load_model`: the manifest (and ``model.json``, through
    :func:`load_model`'s checks) must list the file, its SHA-256 must match, every type
    named in it must be in :data:`ALLOWED_TYPES` (read from its schema before anything is
    constructed), and skops constructs it with exactly those types trusted. Each refit
    must have ``predict_proba`` and take the model's predictor columns, and their number
    must be the one in ``model.json``.

    The refits are kept in memory by folder and hash (the few most recent), so a later
    call for the same file only reads and hashes it again.

    Parameters
    ----------
    folder : path
        A model folder written by :func:`save_model`.

    Returns
    -------
    list of fitted estimators, or None
        None when the folder has no refits (saved without them, or by an older version).

    Raises
    ------
    ModelArtifactError
        A missing or changed file, an untrusted type, or refits that do not fit the model.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from analysis.study.paths import StudyPaths
    >>> from analysis.study.config import Study, Variable
    >>> study = Study(name="demo", paths=StudyPaths("demo", Path(tempfile.mkdtemp())),
    ...               title="Demo", data="raw.csv", outcome="y", predictors=("age",),
    ...               variables={"age": Variable("age", "numeric"), "y": Variable("y", "binary")})
    >>> frame = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "y": [0.0, 1.0, 0.0, 1.0]})
    >>> model = DummyClassifier().fit(frame[["age"]], frame["y"])
    >>> folder = save_model(model, study, model_name="dummy", metrics=None,
    ...                     training_frame=frame, status="fit-for-clinical-use",
    ...                     refits=[model, model])
    >>> len(load_refits(folder)), json.loads((folder / "model.json").read_text())["intervals"]
    (2, {'n_refits': 2, 'level': 0.95, 'source': 'bootstrap refits of the validation stage'})
    >>> load_refits(save_model(model, study, model_name="dummy", metrics=None,
    ...                        training_frame=frame, status="fit-for-clinical-use")) is None
    True
    """
    import skops.io as sio

    folder = Path(folder)
    manifest = _read_manifest(folder)
    entry = manifest["files"].get(REFITS_FILE)
    meta_bytes = _read_bytes(folder / METADATA_FILE, MAX_JSON_BYTES)
    if _sha256(meta_bytes) != manifest["files"][METADATA_FILE]["sha256"]:
        raise ModelArtifactError(f"{folder / METADATA_FILE}: sha256 does not match "
                                 f"{MANIFEST_FILE}; the file was changed or belongs to another "
                                 "model")
    meta = parse_metadata(meta_bytes)
    _check_refits_listed(manifest, meta, folder)
    if entry is None:
        return None
    path = folder / REFITS_FILE
    data = _read_bytes(path, MAX_MODEL_BYTES)
    actual = _sha256(data)
    if actual != entry["sha256"]:
        raise ModelArtifactError(
            f"{path}: sha256 {actual} does not match {MANIFEST_FILE} ({entry['sha256']}); the "
            "file was changed or belongs to another model")
    cached = _recall(path, actual)
    if cached is not None:
        return cached
    types = check_types(model_types(data, source=REFITS_FILE,
                                    max_schema_bytes=MAX_REFITS_BYTES), source=REFITS_FILE)
    try:
        # skops audits the file again against exactly these (already allowed) types
        refits = sio.loads(data, trusted=sorted(set(types)))
    except Exception as exc:  # skops' own message says what failed
        raise ModelArtifactError(f"{path}: cannot load: {type(exc).__name__}: "
                                 f"{_short(exc)}") from exc
    expected = meta["intervals"]["n_refits"]
    if not isinstance(refits, list) or len(refits) != expected:
        raise ModelArtifactError(f"{path}: must hold a list of {expected} refits "
                                 f"({METADATA_FILE} intervals.n_refits)")
    predictors = list(meta["predictors"])
    for i, model in enumerate(refits):
        columns = getattr(model, "feature_names_in_", None)
        if not hasattr(model, "predict_proba") or (
                columns is not None and [str(c) for c in columns] != predictors):
            raise ModelArtifactError(f"{path}: refit {i} does not score the model's predictors")
    _remember(path, actual, refits)
    return refits


def _short(value, limit: int = 300) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _read_bytes(path: Path, limit: int) -> bytes:
    if not path.is_file():
        raise ModelArtifactError(f"folder: no {path.name} in {path.parent} (the bundle is "
                                 f"{', '.join(BUNDLE_FILES)} and {MANIFEST_FILE})")
    size = path.stat().st_size
    if size > limit:
        raise ModelArtifactError(f"{path}: {size} bytes, more than the limit of {limit}")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelArtifactError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _read_json(path: Path, data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelArtifactError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc

    def refuse_constant(name):
        raise ValueError(f"{name} is not valid JSON")

    def unique_keys(pairs):
        out = {}
        for key, value in pairs:
            if key in out:
                raise ValueError(f"duplicate key {key!r}")
            out[key] = value
        return out

    try:
        return json.loads(text, parse_constant=refuse_constant, object_pairs_hook=unique_keys)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise ModelArtifactError(f"{path}: not valid JSON: {_short(exc)}") from exc


def _read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST_FILE
    if not path.is_file():
        old = _old_format(folder)
        if old is not None:
            raise ModelArtifactError(
                f"{folder / METADATA_FILE}: format_version {old} is no longer supported "
                f"(this version reads format {FORMAT_VERSION}: the package's module paths "
                "changed and a model is now a bundle with manifest.json); save the model "
                "again by re-running notebook 06 (make all)")
        raise ModelArtifactError(
            f"folder: no {MANIFEST_FILE} in {folder} (the bundle is incomplete; save the "
            "model again)")
    manifest = _read_json(path, _read_bytes(path, MAX_JSON_BYTES))
    problems = _keys(manifest, "", {"format_version": int, "files": dict})
    if not problems and manifest["format_version"] != FORMAT_VERSION:
        problems.append(f"format_version must be {FORMAT_VERSION} (got "
                        f"{_short(manifest['format_version'], 40)}); save the model again")
    if not problems:
        problems += _keys(manifest["files"], "files",
                          dict.fromkeys((*BUNDLE_FILES, REFITS_FILE), dict),
                          optional=(REFITS_FILE,))
    if not problems:
        for name in (n for n in (*BUNDLE_FILES, REFITS_FILE) if n in manifest["files"]):
            entry = manifest["files"][name]
            problems += _keys(entry, f"files.{name}", {"sha256": str})
            if not problems and not _SHA256.fullmatch(entry["sha256"]):
                problems.append(f"files.{name}.sha256: not a SHA-256 hex digest")
    if problems:
        raise ModelArtifactError(f"{path}: " + "; ".join(problems[:10]))
    return manifest


def _old_format(folder: Path):
    try:
        meta = json.loads((folder / METADATA_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    version = meta.get("format_version") if isinstance(meta, dict) else None
    return version if isinstance(version, int) and version < FORMAT_VERSION else None


def _check_agrees(pipeline, meta: dict[str, Any], path: Path) -> None:
    if not hasattr(pipeline, "predict_proba"):
        raise ModelArtifactError(f"{path}: the stored object has no predict_proba")
    if type(pipeline).__name__ != meta["estimator"]:
        raise ModelArtifactError(
            f"{path}: holds a {type(pipeline).__name__}, {METADATA_FILE} says "
            f"{meta['estimator']}")
    columns = getattr(pipeline, "feature_names_in_", None)
    if columns is not None and [str(c) for c in columns] != list(meta["predictors"]):
        raise ModelArtifactError(
            f"{path}: the model takes columns {', '.join(map(str, columns))}; "
            f"{METADATA_FILE} lists predictors {', '.join(meta['predictors'])}")
    recal = meta["recalibration"]
    if (recal is None) != (type(pipeline).__name__ != "RecalibratedClassifier"):
        raise ModelArtifactError(f"{METADATA_FILE}: recalibration does not describe the model")
    if recal is not None and (recal["intercept"] != float(pipeline.intercept)
                              or recal["slope"] != float(pipeline.slope)):
        raise ModelArtifactError(
            f"{METADATA_FILE}: recalibration intercept/slope differ from the model's")


# --------------------------------------------------------------------------- model.json schema

_STR, _OPT_STR = (str,), (str, type(None))
_NUMBER = (int, float)


def parse_metadata(data: bytes, source: str = METADATA_FILE) -> dict[str, Any]:
    """Parse ``model.json`` with a strict schema and return it as a dict.

    Every key must be known and present (``null`` where a value may be absent), every
    value of the right type, and the parts consistent with each other: codebook entries
    as in study.yaml, derive rules that parse and use only their inputs, earlier rules and
    known functions, a training range per predictor of the kind its type needs and inside
    its codebook limits, categorical levels and treatment options among the codebook
    levels, ``events <= n <= rows``.

    Parameters
    ----------
    data : bytes
        The file's bytes (UTF-8 JSON).
    source : str
        Name used in messages.

    Returns
    -------
    dict

    Raises
    ------
    ModelArtifactError
        Naming each offending key (up to 10).

    Examples
    --------
    >>> parse_metadata(b'{"format_version": 2, "colour": "red"}')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.models.artifact.ModelArtifactError: model.json: unknown key 'colour'; missing key 'study'; ...
    """
    meta = _read_json(Path(source), data)
    problems = _keys(meta, "", {
        "format_version": int, "study": _STR, "title": _STR, "description": _OPT_STR,
        "model_name": _STR, "estimator": _STR, "outcome": dict, "id": (dict, type(None)),
        "predictors": dict, "derivations": dict, "training": dict,
        "treatment": (dict, type(None)), "recalibration": (dict, type(None)),
        "metrics": (list, type(None)), "versions": dict, "status": _STR,
        "status_reasons": list, "intervals": (dict, type(None)), "status_cautions": list,
    }, optional=("intervals", "status_cautions"))
    if not problems and meta["format_version"] != FORMAT_VERSION:
        problems.append(f"format_version must be {FORMAT_VERSION} (got {meta['format_version']})")
    if not problems:
        for check in (_check_outcome, _check_id, _check_predictors, _check_derivations,
                      _check_training, _check_treatment, _check_recalibration, _check_metrics,
                      _check_versions, _check_status, _check_intervals):
            problems += check(meta)
            if problems:
                break
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ModelArtifactError(f"{source}: {shown}{more}")
    return meta


def _keys(value, where: str, spec: dict[str, Any], optional=()) -> list[str]:
    """Problems of a JSON object against ``{key: allowed type(s)}``: unknown, missing, type."""
    label = where or "top level"
    if not isinstance(value, dict):
        return [f"{label}: must be an object (got {type(value).__name__})"]
    prefix = f"{where}." if where else ""
    problems = [f"unknown key {_short(prefix + str(k), 80)!r}" for k in value if k not in spec]
    for key, types in spec.items():
        if key not in value:
            if key not in optional:
                problems.append(f"missing key {prefix + key!r}")
            continue
        if not _is(value[key], types):
            problems.append(f"{prefix + key}: must be {_type_names(types)} "
                            f"(got {type(value[key]).__name__})")
    return problems


def _is(value, types) -> bool:
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    return isinstance(value, types)


def _type_names(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {dict: "an object", list: "a list", str: "a string", int: "an integer",
             float: "a number", bool: "true/false", type(None): "null"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _check_outcome(meta) -> list[str]:
    return _keys(meta["outcome"], "outcome",
                 {"name": _STR, "label": _STR, "definition": _OPT_STR})


def _entry_problems(entry, where: str, types) -> list[str]:
    """A codebook entry as written by ``Variable.as_dict`` (keys absent when unset)."""
    spec = {"type": _STR, "label": _STR, "unit": _STR, "min": (int, float, str),
            "max": (int, float, str), "levels": list, "description": _STR, "summary": _STR,
            "transform": _STR, "required": bool, "format": _STR, "level_labels": dict}
    problems = _keys(entry, where, spec, optional=set(VARIABLE_KEYS) - {"type"})
    if problems:
        return problems
    if "level_labels" in entry and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in entry["level_labels"].items()):
        return [f"{where}.level_labels: must map each level to text"]
    kind = entry["type"]
    if kind not in types or kind not in VARIABLE_TYPES:
        return [f"{where}.type: must be one of {', '.join(types)} (got {_short(kind, 40)!r})"]
    bounds = [entry[k] for k in ("min", "max") if k in entry]
    if bounds and kind in ("numeric", "integer"):
        if not all(_is(b, _NUMBER) for b in bounds):
            return [f"{where}: min/max must be numbers"]
    elif bounds and kind != "date":
        problems.append(f"{where}: min/max only apply to numeric, integer or date variables")
    elif bounds and not all(isinstance(b, str) for b in bounds):
        problems.append(f"{where}: min/max of a date must be text")
    if "min" in entry and "max" in entry and str(kind) != "date" and entry["min"] > entry["max"]:
        problems.append(f"{where}: min ({entry['min']}) is greater than max ({entry['max']})")
    levels = entry.get("levels")
    if kind == "categorical":
        if not levels or not all(_is(v, (str, int, float)) for v in levels):
            problems.append(f"{where}.levels: a categorical variable needs a list of levels")
        elif len({str(v) for v in levels}) != len(levels):
            problems.append(f"{where}.levels: has duplicates")
    elif levels is not None:
        problems.append(f"{where}.levels: only applies to categorical variables")
    if entry.get("transform") is not None and entry["transform"] not in TRANSFORMS:
        problems.append(f"{where}.transform: must be one of {', '.join(TRANSFORMS)}")
    return problems


def _check_id(meta) -> list[str]:
    entry = meta["id"]
    if entry is None:
        return []
    if not isinstance(entry.get("name"), str):
        return ["id.name: must be a string"]
    return _entry_problems({k: v for k, v in entry.items() if k != "name"}, "id", ("id",))


def _check_predictors(meta) -> list[str]:
    predictors = meta["predictors"]
    if not predictors:
        return ["predictors: must name at least one predictor"]
    problems = []
    for name, entry in predictors.items():
        problems += _entry_problems(entry, f"predictors.{name}", PREDICTOR_TYPES)
    return problems


def _check_derivations(meta) -> list[str]:
    from analysis.study.derive import available_functions

    spec = meta["derivations"]
    problems = _keys(spec, "derivations", {"derive": dict, "inputs": dict})
    if problems:
        return problems
    inputs = spec["inputs"]
    for name, entry in inputs.items():
        problems += _entry_problems(entry, f"derivations.inputs.{name}", VARIABLE_TYPES)
    functions = set(available_functions())
    known = set(inputs)
    for name, expression in spec["derive"].items():
        where = f"derivations.derive.{name}"
        if not isinstance(expression, str) or len(expression) > MAX_EXPRESSION_CHARS:
            problems.append(f"{where}: must be an expression of at most "
                            f"{MAX_EXPRESSION_CHARS} characters")
            continue
        try:
            tree = ast.parse(expression.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            problems.append(f"{where}: cannot parse {_short(expression, 80)!r}")
            continue
        unknown = sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
                         - known - functions)
        if unknown:
            problems.append(f"{where}: uses {', '.join(unknown)}, neither an input nor an "
                            "earlier rule")
        known.add(name)
    return problems


def _check_training(meta) -> list[str]:
    training = meta["training"]
    problems = _keys(training, "training", {"n": int, "events": int, "rows": int, "ranges": dict,
                                            "risk_percentiles": (list, type(None))},
                     optional=("risk_percentiles",))
    if problems:
        return problems
    risk = training.get("risk_percentiles")
    if risk is not None and not (
            len(risk) == len(RISK_PERCENTILES) and all(_is(v, _NUMBER) and 0 <= v <= 1 for v in risk)
            and all(a <= b for a, b in zip(risk, risk[1:], strict=False))):
        problems.append(f"training.risk_percentiles: must be {len(RISK_PERCENTILES)} non-decreasing "
                        "probabilities")
    if not 0 <= training["events"] <= training["n"] <= training["rows"]:
        problems.append("training: needs 0 <= events <= n <= rows")
    ranges = training["ranges"]
    inputs = (meta.get("derivations") or {}).get("inputs") or {}
    for name in ranges:
        if name not in meta["predictors"] and name not in inputs:
            problems.append(f"unknown key 'training.ranges.{_short(name, 60)}' (not a predictor "
                            "or an input of a derived predictor)")
    for name, entry in inputs.items():
        if name in ranges and name not in meta["predictors"] and isinstance(entry, dict):
            where = f"training.ranges.{name}"
            problems += (_categorical_range(ranges[name], where, entry)
                         if entry.get("type") == "categorical"
                         else _numeric_range(ranges[name], where, entry))
    for name, entry in meta["predictors"].items():
        where = f"training.ranges.{name}"
        if name not in ranges:
            problems.append(f"missing key {where!r}")
            continue
        if entry["type"] == "categorical":
            problems += _categorical_range(ranges[name], where, entry)
        else:
            problems += _numeric_range(ranges[name], where, entry)
    return problems


def _numeric_range(rng, where: str, entry) -> list[str]:
    problems = _keys(rng, where, {"kind": _STR, "p01": (int, float, type(None)),
                                  "p99": (int, float, type(None)),
                                  "mean": (int, float, type(None)),
                                  "median": (int, float, type(None)), "n_missing": int},
                     optional=("median",))
    if problems:
        return problems
    if rng["kind"] != "numeric":
        return [f"{where}.kind: must be 'numeric' for a {entry['type']} predictor"]
    lo, hi = rng["p01"], rng["p99"]
    if (lo is None) != (hi is None):
        return [f"{where}: p01 and p99 must both be numbers or both null"]
    if lo is not None:
        if lo > hi:
            problems.append(f"{where}: p01 ({lo}) is greater than p99 ({hi})")
        if "min" in entry and lo < entry["min"] or "max" in entry and hi > entry["max"]:
            problems.append(f"{where}: [{lo}, {hi}] is outside the codebook range "
                            f"[{entry.get('min', '-inf')}, {entry.get('max', 'inf')}]")
    if rng["n_missing"] < 0:
        problems.append(f"{where}.n_missing: must be >= 0")
    return problems


def _categorical_range(rng, where: str, entry) -> list[str]:
    problems = _keys(rng, where, {"kind": _STR, "levels": list, "most_common": _OPT_STR,
                                  "n_missing": int}, optional=("most_common",))
    if problems:
        return problems
    if rng["kind"] != "categorical":
        return [f"{where}.kind: must be 'categorical' for a categorical predictor"]
    allowed = {str(v) for v in entry["levels"]}
    if rng.get("most_common") is not None and rng["most_common"] not in rng["levels"]:
        problems.append(f"{where}.most_common: not one of the levels seen in training")
    unknown = [str(v) for v in rng["levels"] if not isinstance(v, str) or v not in allowed]
    if unknown:
        problems.append(f"{where}.levels: {', '.join(_short(v, 40) for v in unknown[:5])} "
                        "not among the codebook levels")
    if rng["n_missing"] < 0:
        problems.append(f"{where}.n_missing: must be >= 0")
    return problems


def _check_treatment(meta) -> list[str]:
    treatment = meta["treatment"]
    if treatment is None:
        return []
    problems = _keys(treatment, "treatment", {"column": _STR, "options": list})
    if problems:
        return problems
    column, options = treatment["column"], treatment["options"]
    if column not in meta["predictors"]:
        return [f"treatment.column: {_short(column, 60)!r} is not a predictor"]
    entry = meta["predictors"][column]
    allowed = ([str(v) for v in entry["levels"]] if entry["type"] == "categorical"
               else ["0", "1", "0.0", "1.0"])
    if not options or not all(isinstance(o, str) for o in options):
        return ["treatment.options: must be a non-empty list of strings"]
    unknown = [o for o in options if o not in allowed]
    if unknown:
        problems.append(f"treatment.options: {', '.join(_short(o, 40) for o in unknown[:5])} "
                        f"not among the levels of {column!r} ({', '.join(allowed)})")
    if len(set(options)) != len(options):
        problems.append("treatment.options: has duplicates")
    return problems


def _check_recalibration(meta) -> list[str]:
    recal = meta["recalibration"]
    if recal is None:
        return []
    return _keys(recal, "recalibration",
                 {"intercept": _NUMBER, "slope": _NUMBER, "estimated_on": _STR})


def _check_intervals(meta) -> list[str]:
    intervals = meta.get("intervals")
    if intervals is None:
        return []
    problems = _keys(intervals, "intervals", {"n_refits": int, "level": _NUMBER, "source": _STR})
    if problems:
        return problems
    if intervals["n_refits"] < 1:
        problems.append("intervals.n_refits: must be at least 1")
    if not 0 < intervals["level"] < 1:
        problems.append("intervals.level: must be between 0 and 1")
    return problems


def _check_metrics(meta) -> list[str]:
    metrics = meta["metrics"]
    if metrics is None:
        return []
    scalar = (str, int, float, bool, type(None))
    for i, row in enumerate(metrics):
        if not isinstance(row, dict) or not all(_is(v, scalar) for v in row.values()):
            return [f"metrics[{i}]: must be an object of plain values"]
    return []


def _check_status(meta) -> list[str]:
    status, reasons = meta["status"], meta["status_reasons"]
    if status not in STATUSES:
        return [f"status: must be one of {', '.join(STATUSES)} (got {_short(status, 40)!r})"]
    if not all(isinstance(r, str) and r.strip() for r in reasons):
        return ["status_reasons: must be a list of non-empty strings"]
    if status == FIT and reasons:
        return [f"status_reasons: must be empty when status is {FIT!r}"]
    if status == NOT_FIT and not reasons:
        return [f"status_reasons: must give the reasons when status is {NOT_FIT!r}"]
    cautions = meta.get("status_cautions", [])
    if not all(isinstance(c, str) and c.strip() for c in cautions):
        return ["status_cautions: must be a list of non-empty strings"]
    return []


def _check_versions(meta) -> list[str]:
    versions = meta["versions"]
    bad = [k for k, v in versions.items() if not isinstance(v, str | type(None))]
    return [f"versions.{_short(k, 40)}: must be a string or null" for k in bad]


def _warn_versions(saved: dict[str, Any]) -> None:
    current = _package_versions()
    differ = [f"{p} {saved.get(p)} (installed {current[p]})" for p in PACKAGES
              if saved.get(p) and current.get(p) and saved[p] != current[p]]
    if differ:
        warnings.warn("model saved with " + ", ".join(differ) + "; predictions may differ",
                      ModelVersionWarning, stacklevel=3)


def metadata_variables(meta: dict[str, Any]) -> dict[str, Variable]:
    """The predictors' codebook stored in ``model.json`` as :class:`Variable` objects.

    Examples
    --------
    >>> meta = {"predictors": {"age": {"type": "numeric", "min": 18, "unit": "years"}}}
    >>> metadata_variables(meta)["age"].display_label
    'age, years'
    """
    return {name: _variable(name, entry) for name, entry in meta["predictors"].items()}


def _variable(name: str, entry: dict[str, Any]) -> Variable:
    entry = dict(entry)
    if entry.get("levels") is not None:
        entry["levels"] = tuple(str(x) for x in entry["levels"])
    if entry.get("level_labels") is not None:
        entry["level_labels"] = tuple(entry["level_labels"].items())
    return Variable(name=name, **entry)


# --------------------------------------------------------------------------- model card


def render_model_card(meta: dict[str, Any], sha256: str | None = None,
                      sections: dict[str, str] | None = None) -> str:
    """The text of ``MODEL_CARD.md`` from the metadata of :func:`save_model`.

    ``sha256`` is the hash of ``model.skops`` quoted in the card (``None``: not quoted).

    Examples
    --------
    >>> meta = {"title": "T", "model_name": "m", "study": "s", "estimator": "Pipeline",
    ...         "description": "", "outcome": {"name": "y", "label": "Response",
    ...         "definition": None}, "predictors": {}, "treatment": None, "metrics": None,
    ...         "training": {"n": 10, "events": 4, "rows": 10, "ranges": {}},
    ...         "versions": {}}
    >>> render_model_card(meta).splitlines()[0]
    '# Model card: T (m)'
    """
    out = meta["outcome"]
    tr = meta["training"]
    rate = f"{tr['events'] / tr['n']:.1%}" if tr["n"] else "n/a"
    lines = [
        f"# Model card: {meta['title']} ({meta['model_name']})", "",
        *_status_lines(meta),
        "## Model details", "",
        f"- Study: `{meta['study']}`",
        f"- Model: {meta['model_name']} (`{meta['estimator']}`), stored in `{MODEL_FILE}`"
        + (f" (sha256 `{sha256}`)" if sha256 else ""),
        "- Software: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v), "",
        "## Intended use", "",
        f"Estimates the probability of *{out['label']}* for an individual patient of the "
        "population below, to support (not replace) shared decisions between clinicians and "
        "patients. It is a research tool: use it for care only after external validation in "
        "the setting where it will be used. Score patients with "
        f"`python -m analysis predict --study {meta['study']} --input patients.csv "
        "--output predictions.csv`.", "",
        "## Population and data source", "",
        (meta.get("description") or "").strip() or "See the study description in study.yaml.", "",
        f"Development data: {tr['n']} patients with a known outcome, {tr['events']} events "
        f"({rate}).", "",
        "## Outcome", "",
        f"`{out['name']}`: {out['label']} (binary, 1 = event).",
    ]
    if out.get("definition"):
        lines += ["", f"Derived as `{out['definition']}`."]
    lines += ["", "## Predictors", "", _predictor_table(meta)]
    if meta.get("treatment"):
        t = meta["treatment"]
        lines += ["", "## Treatment options", "",
                  f"Each patient is also scored under every option of `{t['column']}`: "
                  + ", ".join(t["options"]) + ". These are predictions under the development "
                  "data's treatment allocation, not estimates of causal treatment effects."]
    lines += ["", "## Development and validation", ""]
    if meta.get("recalibration"):
        r = meta["recalibration"]
        lines += [f"Probabilities are recalibrated: logit(p') = {r['intercept']:.3f} + "
                  f"{r['slope']:.3f} x logit(p), estimated on the model's {r['estimated_on']} "
                  "because its cross-validated calibration slope was outside the selection "
                  "rule's range.", ""]
    if meta.get("intervals"):
        iv = meta["intervals"]
        tail = 100 * (1 - iv["level"]) / 2
        lines += [f"Each prediction comes with a {iv['level']:.0%} interval: the "
                  f"{_fmt(tail)}th to {_fmt(100 - tail)}th percentile of the probabilities "
                  f"that {iv['n_refits']} {iv['source']} give the patient (`{REFITS_FILE}`; "
                  "each refit repeats the whole pipeline on a bootstrap sample, tuning "
                  + ("and recalibration " if meta.get("recalibration") else "")
                  + "included). It shows how much the prediction depends on the development "
                  "sample; it is not a range of the patient's outcome.", ""]
    else:
        lines += ["No prediction intervals: the model was saved without the bootstrap "
                  "refits they come from.", ""]
    if meta.get("metrics"):
        lines.append(markdown_table(pd.DataFrame(meta["metrics"])))
    else:
        lines.append("No validation metrics were supplied with this model.")
    for heading, text in (sections or {}).items():
        lines += ["", f"## {heading}", "", str(text).strip()]
    lines += [
        "", "## Limitations", "",
        "- Developed in one cohort; performance in other settings, periods and populations "
        "is unknown until externally validated.",
        "- Missing predictor values are imputed inside the pipeline as in development; "
        "many missing values make a prediction less reliable.",
        "- Associations are not causal; treatment-option scores inherit confounding by "
        "indication.",
        "", "## Out-of-range behaviour", "",
        "The model is not refused outside the development data, but every prediction is "
        "returned with a `warnings` text naming each numeric predictor outside the training "
        "range (its 1st to 99th percentile in the development data, rounded to 3 significant "
        "digits and stored in `model.json`), each categorical level not seen "
        "in development and each missing value. Values outside the codebook's plausible "
        "range (min/max in study.yaml) or unknown to the codebook are rejected as errors.",
        "",
    ]
    return "\n".join(lines)


def _status_lines(meta: dict[str, Any]) -> list[str]:
    """The card's opening statement of the ship gate's verdict (absent: nothing)."""
    status = meta.get("status")
    cautions = [f"**Caution:** {c}" for c in meta.get("status_cautions") or []]
    cautions = [*cautions, ""] if cautions else []
    if status == FIT:
        return [f"**Status: {FIT}.** The model passed the ship gate (it beats the "
                "intercept-only model, its AUC is distinguishable from chance and its "
                "corrected calibration slope is in range).", "", *cautions]
    if status == NOT_FIT:
        reasons = meta.get("status_reasons") or []
        return [f"**Status: {NOT_FIT}. No model fit for clinical use:** this model is "
                "kept for audit only and `analysis predict` refuses it unless "
                "`--allow-unvalidated` is given. Reasons:", "",
                *[f"- {r}" for r in reasons], "", *cautions]
    return []


def _predictor_table(meta: dict[str, Any]) -> str:
    rows = []
    for name, entry in meta["predictors"].items():
        rng = meta["training"]["ranges"].get(name, {})
        if rng.get("kind") == "numeric" and rng.get("p01") is None:
            span = "all missing"
        elif rng.get("kind") == "numeric" and entry["type"] == "binary":
            span = f"1 in {rng['mean']:.1%}"
        elif rng.get("kind") == "numeric":
            span = f"{_fmt(rng['p01'])} to {_fmt(rng['p99'])} (1st-99th percentile)"
        else:
            span = ", ".join(rng.get("levels", []))
        rows.append({"predictor": name, "label": entry.get("label") or name,
                     "type": entry["type"], "unit": entry.get("unit") or "",
                     "transform": entry.get("transform") or "", "development data": span,
                     "missing": rng.get("n_missing", "")})
    if not rows:
        return "None."
    return markdown_table(pd.DataFrame(rows))


def _fmt(x) -> str:
    if isinstance(x, float | np.floating):
        return np.format_float_positional(float(x), precision=4, unique=True, trim="-")
    return str(x)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table of ``df`` (floats to at most 4 decimals).

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"metric": ["auc"], "estimate": [0.81234]})))
    | metric | estimate |
    | --- | --- |
    | auc | 0.8123 |
    """
    def cell(v):
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return ""
        return _fmt(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |",
             "| " + " | ".join("---" for _ in df.columns) + " |"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in df.itertuples(index=False, name=None)]
    return "\n".join(lines)
