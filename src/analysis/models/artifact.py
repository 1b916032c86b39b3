"""The final model as a safe, self-describing artifact under ``reports/<study>/model/``.

Three files are written, each atomically (:func:`analysis.study.io.write_bytes`/``write_text``):

``model.skops``
    The fitted scikit-learn pipeline in the :mod:`skops.io` format, which stores a schema
    and arrays instead of a pickle and loads only types that the reader trusts.
``model.json``
    Metadata: the study, the outcome and its label, the predictors with their codebook
    entries, the training range of every numeric predictor (min/max and 1st/99th
    percentiles) and the observed levels of every categorical one, ``n`` and ``events``,
    the treatment options, the validation metrics, package versions and the SHA-256 of
    ``model.skops``. :mod:`analysis.models.predict` needs nothing else to score new patients.
``MODEL_CARD.md``
    A model card with TRIPOD+AI-style headings (aggregate numbers only, no patient rows).

:func:`load_model` checks the SHA-256 against ``model.json`` and loads only types on an
allow-list (scikit-learn, NumPy, SciPy sparse and the estimators of this package); any
other type in the file is refused before anything is constructed.

The bytes of ``model.skops`` are not reproducible between runs (skops names its members
after object ids and stamps the zip with the time); everything in ``model.json`` except
the hash is.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import __version__
from analysis.errors import AnalysisError
from analysis.study.config import Study, Variable
from analysis.study.io import write_bytes, write_text

__all__ = [
    "ModelArtifactError",
    "ModelVersionWarning",
    "check_types",
    "load_model",
    "metadata_variables",
    "save_model",
]

MODEL_FILE = "model.skops"
METADATA_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"
FORMAT_VERSION = 1
NUMERIC_TYPES = ("numeric", "integer", "binary")
PACKAGES = {"scikit-learn": "sklearn", "skops": "skops", "numpy": "numpy", "pandas": "pandas"}

#: Modules whose types may be loaded from a model file.
ALLOWED_PREFIXES = ("sklearn.", "numpy.", "scipy.sparse.", "analysis.")
#: Never trusted even under an allowed prefix: functions and modules that touch files or run code.
DENIED_NAMES = frozenset({
    "load", "loads", "save", "savez", "savez_compressed", "savetxt", "loadtxt", "genfromtxt",
    "fromfile", "tofile", "fromregex", "memmap", "DataSource", "open", "exec", "eval",
})
DENIED_PREFIXES = (
    "numpy.lib.npyio.", "numpy.ctypeslib.", "numpy.f2py.", "numpy.distutils.", "numpy.testing.",
    "analysis.study.io.", "analysis.pipeline.runner.", "analysis.pipeline.export.", "analysis.pipeline.report.",
    "analysis.__main__.", "analysis.models.artifact.", "analysis.models.predict.", "analysis.study.prepare.",
    "analysis.synthetic.",
)


class ModelArtifactError(AnalysisError):
    """A model folder is missing, tampered with or holds types that are not trusted."""


class ModelVersionWarning(UserWarning):
    """The model was saved with other package versions than the ones installed."""


# --------------------------------------------------------------------------- saving


def save_model(pipeline, study: Study, *, model_name: str, metrics: pd.DataFrame | None,
               training_frame: pd.DataFrame, folder: str | os.PathLike | None = None) -> Path:
    """Write ``model.skops``, ``model.json`` and ``MODEL_CARD.md`` for a fitted pipeline.

    Parameters
    ----------
    pipeline : sklearn estimator
        Fitted classifier or Pipeline with ``predict_proba`` on a DataFrame of the
        study's predictor columns.
    study : Study
        The study the model belongs to (codebook, outcome, treatment options).
    model_name : str
        Short name of the model (e.g. ``"logistic, rcs(age)"``).
    metrics : DataFrame or None
        Validation metrics for the card and ``model.json`` (any tidy table, e.g. the
        output of :func:`analysis.evaluation.metrics.performance_summary`).
    training_frame : DataFrame
        The development data (processed cohort): the predictors and the outcome. Only
        aggregates of it are stored.
    folder : path, optional
        Target folder; default ``reports/<study>/model``.

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    ModelArtifactError
        If the pipeline has no ``predict_proba``, ``training_frame`` lacks a predictor or
        the outcome, or the pipeline contains a type :func:`load_model` would refuse.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from analysis.study.paths import StudyPaths
    >>> from analysis.study import Study, Variable
    >>> study = Study(name="demo", paths=StudyPaths("demo", Path(tempfile.mkdtemp())),
    ...               title="Demo", data="raw.csv", outcome="y", predictors=("age",),
    ...               variables={"age": Variable("age", "numeric"), "y": Variable("y", "binary")})
    >>> frame = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "y": [0.0, 1.0, 0.0, 1.0]})
    >>> model = DummyClassifier().fit(frame[["age"]], frame["y"])
    >>> folder = save_model(model, study, model_name="dummy", metrics=None, training_frame=frame)
    >>> sorted(p.name for p in folder.iterdir())
    ['MODEL_CARD.md', 'model.json', 'model.skops']
    """
    import skops.io as sio

    if not hasattr(pipeline, "predict_proba"):
        raise ModelArtifactError(
            f"pipeline: must have predict_proba (got {type(pipeline).__name__})")
    if not isinstance(model_name, str) or not model_name.strip():
        raise ModelArtifactError("model_name: must be a non-empty string")
    if not isinstance(training_frame, pd.DataFrame):
        raise ModelArtifactError("training_frame: must be a pandas DataFrame")
    needed = [*study.predictors, study.outcome]
    missing = [c for c in needed if c not in training_frame.columns]
    if missing:
        raise ModelArtifactError(
            f"training_frame: missing column(s) {', '.join(missing)} (needs the predictors "
            "and the outcome)")
    if metrics is not None and not isinstance(metrics, pd.DataFrame):
        raise ModelArtifactError("metrics: must be a pandas DataFrame or None")

    blob = sio.dumps(pipeline)
    check_types(sio.get_untrusted_types(data=blob))
    meta = _metadata(pipeline, study, model_name, metrics, training_frame,
                     hashlib.sha256(blob).hexdigest())
    folder = Path(folder) if folder is not None else study.paths.model
    write_bytes(folder / MODEL_FILE, blob)
    write_text(folder / METADATA_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    write_text(folder / CARD_FILE, render_model_card(meta))
    return folder


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


def _metadata(pipeline, study: Study, model_name, metrics, frame, sha256) -> dict[str, Any]:
    outcome = pd.to_numeric(frame[study.outcome], errors="coerce")
    observed = outcome.dropna()
    ranges: dict[str, Any] = {}
    for name in study.predictors:
        var = study.variables[name]
        ranges[name] = _training_range(frame[name], var)
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
        "predictors": study.codebook(study.predictors),
        "derivations": derivations_for(study, study.predictors),
        "training": {
            "n": int(observed.size),
            "events": int((observed == 1).sum()),
            "rows": int(len(frame)),
            "ranges": ranges,
        },
        "treatment": treatment,
        # notebook 06 recalibrates a model whose cross-validated slope is out of range
        "recalibration": (
            {"intercept": float(pipeline.intercept), "slope": float(pipeline.slope),
             "estimated_on": "out-of-fold predictions"}
            if type(pipeline).__name__ == "RecalibratedClassifier" else None),
        "metrics": None if metrics is None else _records(metrics),
        "versions": {"analysis": __version__, **_package_versions()},
        "files": {MODEL_FILE: {"sha256": sha256}},
    }


def _training_range(values: pd.Series, var: Variable) -> dict[str, Any]:
    if var.type in NUMERIC_TYPES:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        x = x[~np.isnan(x)]
        if x.size == 0:
            return {"kind": "numeric", "min": None, "max": None, "p01": None, "p99": None,
                    "mean": None, "n_missing": int(values.isna().sum())}
        p01, p99 = np.percentile(x, [1, 99])
        return {"kind": "numeric", "min": float(x.min()), "max": float(x.max()),
                "p01": float(p01), "p99": float(p99), "mean": float(x.mean()),
                "n_missing": int(values.isna().sum())}
    seen = {str(v) for v in values.dropna()}
    order = [lv for lv in (var.levels or ()) if lv in seen] + sorted(seen - set(var.levels or ()))
    return {"kind": "categorical", "levels": order, "n_missing": int(values.isna().sum())}


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


def check_types(types) -> list[str]:
    """Return ``types`` if every one is on the allow-list, else raise.

    Parameters
    ----------
    types : iterable of str
        Fully qualified type names, as from :func:`skops.io.get_untrusted_types`.

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
    >>> check_types(["builtins.eval"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.models.artifact.ModelArtifactError: model.skops: refusing to load 1 untrusted type(s): builtins.eval ...
    """
    types = [str(t) for t in types]
    refused = [t for t in types if not _allowed(t)]
    if refused:
        raise ModelArtifactError(
            f"{MODEL_FILE}: refusing to load {len(refused)} untrusted type(s): "
            f"{', '.join(refused)} (allowed: types from {', '.join(ALLOWED_PREFIXES)} except "
            "file and code-execution functions)")
    return types


def _allowed(name: str) -> bool:
    if not name.startswith(ALLOWED_PREFIXES) or name.startswith(DENIED_PREFIXES):
        return False
    return name.rsplit(".", 1)[-1] not in DENIED_NAMES


def load_model(folder: str | os.PathLike) -> tuple[Any, dict[str, Any]]:
    """Load a model folder written by :func:`save_model`.

    The SHA-256 of ``model.skops`` must match ``model.json`` and every type the file
    needs must pass :func:`check_types`; only then is it loaded with that explicit
    trusted list. A :class:`ModelVersionWarning` is issued when scikit-learn, skops,
    NumPy or pandas differ from the versions the model was saved with.

    Parameters
    ----------
    folder : path
        Folder holding ``model.skops`` and ``model.json``.

    Returns
    -------
    pipeline : sklearn estimator
    metadata : dict
        The parsed ``model.json``.

    Raises
    ------
    ModelArtifactError
        Missing or unreadable files, a hash mismatch or an untrusted type.

    Examples
    --------
    >>> load_model("/no/such/folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.models.artifact.ModelArtifactError: folder: no model.json in /no/such/folder ...
    """
    import skops.io as sio

    folder = Path(folder)
    meta_path, model_path = folder / METADATA_FILE, folder / MODEL_FILE
    if not meta_path.is_file():
        raise ModelArtifactError(
            f"folder: no {METADATA_FILE} in {folder} (write the model with save_model first)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelArtifactError(f"{meta_path}: not valid JSON: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise ModelArtifactError(
            f"{meta_path}: format_version must be {FORMAT_VERSION} "
            f"(got {meta.get('format_version') if isinstance(meta, dict) else meta!r})")
    if not model_path.is_file():
        raise ModelArtifactError(f"folder: no {MODEL_FILE} in {folder}")
    blob = model_path.read_bytes()
    expected = (meta.get("files") or {}).get(MODEL_FILE, {}).get("sha256")
    actual = hashlib.sha256(blob).hexdigest()
    if expected != actual:
        raise ModelArtifactError(
            f"{model_path}: sha256 {actual} does not match {METADATA_FILE} ({expected}); "
            "the file was changed or belongs to another model")
    trusted = check_types(sio.get_untrusted_types(data=blob))
    try:
        pipeline = sio.load(model_path, trusted=trusted)
    except Exception as exc:  # skops' own message says what failed
        raise ModelArtifactError(f"{model_path}: cannot load: {type(exc).__name__}: {exc}") from exc
    if not hasattr(pipeline, "predict_proba"):
        raise ModelArtifactError(f"{model_path}: the stored object has no predict_proba")
    _warn_versions(meta.get("versions") or {})
    return pipeline, meta


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
    return Variable(name=name, **entry)


# --------------------------------------------------------------------------- model card


def render_model_card(meta: dict[str, Any]) -> str:
    """The text of ``MODEL_CARD.md`` from the metadata of :func:`save_model`.

    Examples
    --------
    >>> meta = {"title": "T", "model_name": "m", "study": "s", "estimator": "Pipeline",
    ...         "description": "", "outcome": {"name": "y", "label": "Response",
    ...         "definition": None}, "predictors": {}, "treatment": None, "metrics": None,
    ...         "training": {"n": 10, "events": 4, "rows": 10, "ranges": {}},
    ...         "versions": {}, "files": {"model.skops": {"sha256": "0"}}}
    >>> render_model_card(meta).splitlines()[0]
    '# Model card: T (m)'
    """
    out = meta["outcome"]
    tr = meta["training"]
    rate = f"{tr['events'] / tr['n']:.1%}" if tr["n"] else "n/a"
    lines = [
        f"# Model card: {meta['title']} ({meta['model_name']})", "",
        "## Model details", "",
        f"- Study: `{meta['study']}`",
        f"- Model: {meta['model_name']} (`{meta['estimator']}`), stored in `{MODEL_FILE}` "
        f"(sha256 `{meta['files'][MODEL_FILE]['sha256']}`)",
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
                  "because its cross-validated calibration slope was outside 0.8-1.2.", ""]
    if meta.get("metrics"):
        lines.append(markdown_table(pd.DataFrame(meta["metrics"])))
    else:
        lines.append("No validation metrics were supplied with this model.")
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
        "range (minimum to maximum, stored in `model.json`), each categorical level not seen "
        "in development and each missing value. Values outside the codebook's plausible "
        "range (min/max in study.yaml) or unknown to the codebook are rejected as errors.",
        "",
    ]
    return "\n".join(lines)


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
