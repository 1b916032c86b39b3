"""Score new patients with a saved model: ``python -m analysis predict``.

The input table is checked against the predictors' codebook stored with the model
(``model.json``) by :func:`analysis.study.checks.validate_table`: a missing predictor column,
an unparseable number, a value outside the codebook's plausible range or an unknown level
is an error, and all of them are reported at once. Missing values are allowed: the
pipeline imputes them as it did in development.

The output has the id column (or ``row``, 1-based, if the study has no id), ``probability``
(the contract), one ``probability_<option>`` per treatment option when the study declares
them (each patient scored with the treatment column set to that option), and ``warnings``:
predictors outside the training range, levels not seen in development and missing values.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.models.artifact import load_model, metadata_variables
from analysis.study.checks import validate_table
from analysis.study.config import Study, Variable, load_study

__all__ = ["add_predict_parser", "main", "option_column", "predict_patients", "range_warnings"]

ROW_COLUMN = "row"


def predict_patients(folder_or_study, patients: pd.DataFrame, *,
                     root: str | os.PathLike | None = None, source: str = "input") -> pd.DataFrame:
    """Predicted probabilities for new patients from a saved model.

    Parameters
    ----------
    folder_or_study : Study, str or path
        A :class:`~analysis.study.Study` (its ``reports/<study>/model`` folder is used), a
        model folder holding ``model.json``, or a study name resolved under ``root``.
    patients : DataFrame
        Raw patient rows (text or typed cells): the id column if the study has one and
        every predictor; other columns are ignored.
    root : path, optional
        Project root used when ``folder_or_study`` is a study name.
    source : str, default "input"
        Name of the table in error messages.

    Returns
    -------
    DataFrame
        ``<id>`` (or ``row``), ``probability``, ``probability_<option>`` per treatment
        option, ``warnings`` (``"; "``-separated, empty when none); one row per patient in
        input order.

    Raises
    ------
    DataValidationError
        Listing every violation of the codebook in ``patients``.
    ModelArtifactError
        If the model folder is missing or fails its checks.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.dummy import DummyClassifier
    >>> from analysis.models.artifact import save_model
    >>> from analysis.study.paths import StudyPaths
    >>> study = Study(name="demo", paths=StudyPaths("demo", Path(tempfile.mkdtemp())),
    ...               title="Demo", data="raw.csv", outcome="y", predictors=("age",),
    ...               variables={"age": Variable("age", "numeric", min=0, max=120),
    ...                          "y": Variable("y", "binary")})
    >>> frame = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0], "y": [0.0, 1.0, 0.0, 1.0]})
    >>> model = DummyClassifier().fit(frame[["age"]], frame["y"])
    >>> _ = save_model(model, study, model_name="dummy", metrics=None, training_frame=frame)
    >>> out = predict_patients(study, pd.DataFrame({"age": ["45", "90"]}))
    >>> out.columns.tolist(), out["probability"].tolist()
    (['row', 'probability', 'warnings'], [0.5, 0.5])
    >>> out["warnings"].tolist()
    ['', 'age=90 above the training range [30, 60]']
    """
    pipeline, meta = load_model(_model_folder(folder_or_study, root))
    if not isinstance(patients, pd.DataFrame):
        raise AnalysisError(f"patients: must be a pandas DataFrame, got {type(patients).__name__}")
    predictors = list(meta["predictors"])
    variables: dict[str, Variable] = {}
    id_col = meta["id"]["name"] if meta.get("id") else None
    if id_col:
        variables[id_col] = Variable(id_col, "id", label=meta["id"].get("label"))
    for name, var in metadata_variables(meta).items():
        # missing predictor values are imputed by the pipeline, so none is required here
        variables[name] = replace(var, required=False)
    patients = _derive_missing_predictors(patients, meta, source)
    typed, _ = validate_table(patients, variables, id_col=id_col, source=source)

    X = typed[predictors]
    out = pd.DataFrame({id_col: typed[id_col]} if id_col else
                       {ROW_COLUMN: np.arange(1, len(typed) + 1)})
    out["probability"] = _positive_class(pipeline, X)
    treatment = meta.get("treatment")
    if treatment:
        names = [option_column(o) for o in treatment["options"]]
        if len(set(names)) != len(names):
            raise AnalysisError(
                f"treatment.options: {treatment['options']} give duplicate column names {names}")
        column = treatment["column"]
        numeric = meta["predictors"][column]["type"] in ("numeric", "integer", "binary")
        for option, name in zip(treatment["options"], names, strict=True):
            scored = X.copy()
            scored[column] = float(option) if numeric else str(option)
            out[name] = _positive_class(pipeline, scored)
    out["warnings"] = range_warnings(X, meta["training"]["ranges"])
    return out


def _derive_missing_predictors(patients: pd.DataFrame, meta: dict, source: str) -> pd.DataFrame:
    """Compute derived predictors (e.g. BMI from height and weight) absent from the input,
    with the study's own derive rules stored in model.json."""
    spec = meta.get("derivations") or {}
    rules = spec.get("derive") or {}
    missing = [p for p in meta["predictors"] if p not in patients.columns and p in rules]
    if not missing:
        return patients
    from analysis.study.derive import derive_columns

    inputs = {name: replace(metadata_variables({"predictors": {name: entry}})[name], required=False)
              for name, entry in (spec.get("inputs") or {}).items()}
    frame, _ = validate_table(patients, inputs, source=source)
    derived = derive_columns(frame, rules)
    out = patients.copy()
    for name in missing:
        out[name] = derived[name].to_numpy()
    return out


def _model_folder(folder_or_study, root) -> Path:
    if isinstance(folder_or_study, Study):
        return folder_or_study.paths.model
    if not isinstance(folder_or_study, str | os.PathLike):
        raise AnalysisError(
            "folder_or_study: must be a Study, a model folder or a study name, "
            f"got {type(folder_or_study).__name__}")
    path = Path(folder_or_study)
    if path.is_dir() and (path / "model.json").is_file():
        return path
    return load_study(str(folder_or_study), root).paths.model


def _positive_class(pipeline, X: pd.DataFrame) -> np.ndarray:
    proba = np.asarray(pipeline.predict_proba(X))
    classes = list(getattr(pipeline, "classes_", [0, 1]))
    col = next((i for i, c in enumerate(classes) if c == 1), proba.shape[1] - 1)
    return proba[:, col]


def option_column(option) -> str:
    """Output column of one treatment option: ``probability_`` + option, non-alphanumerics as ``_``.

    Examples
    --------
    >>> option_column("anti-TNF + MTX")
    'probability_anti_TNF___MTX'
    """
    return "probability_" + re.sub(r"[^0-9A-Za-z]", "_", str(option))


def range_warnings(X: pd.DataFrame, ranges: dict[str, dict[str, Any]]) -> list[str]:
    """One text per row naming predictors outside the training data, unseen levels and gaps.

    Parameters
    ----------
    X : DataFrame
        Typed predictor columns (numbers as float, categories as text).
    ranges : dict
        ``model.json``'s ``training.ranges``.

    Returns
    -------
    list of str
        ``"; "``-joined findings per row, ``""`` when there are none.

    Examples
    --------
    >>> ranges = {"crp": {"kind": "numeric", "min": 0.3, "max": 250.0},
    ...           "smoking": {"kind": "categorical", "levels": ["never", "former"]}}
    >>> X = pd.DataFrame({"crp": [900.0, np.nan], "smoking": ["current", "never"]})
    >>> range_warnings(X, ranges)  # doctest: +NORMALIZE_WHITESPACE
    ['crp=900 above the training range [0.3, 250];
      smoking=current not seen in training (levels: never, former)',
     'crp missing (imputed by the model)']
    """
    found: list[list[str]] = [[] for _ in range(len(X))]
    for name, rng in ranges.items():
        if name not in X.columns:
            continue
        for i, value in enumerate(X[name].tolist()):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                found[i].append(f"{name} missing (imputed by the model)")
            elif rng.get("kind") == "numeric":
                lo, hi = rng.get("min"), rng.get("max")
                span = f"[{_num(lo)}, {_num(hi)}]"
                if lo is not None and value < lo:
                    found[i].append(f"{name}={_num(value)} below the training range {span}")
                elif hi is not None and value > hi:
                    found[i].append(f"{name}={_num(value)} above the training range {span}")
            elif str(value) not in rng.get("levels", []):
                found[i].append(f"{name}={value} not seen in training "
                                f"(levels: {', '.join(rng.get('levels', []))})")
    return ["; ".join(items) for items in found]


def _num(x) -> str:
    return "?" if x is None else np.format_float_positional(float(x), trim="-")


# --------------------------------------------------------------------------- command line


def _add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--study", required=True,
                        help="study name (its model is in reports/<study>/model)")
    parser.add_argument("--input", required=True, help="patients table (CSV, XLSX or Parquet)")
    parser.add_argument("--output", required=True, help="CSV to write (atomically)")
    parser.add_argument("--root", default=None, help="project root (default: this project)")
    parser.set_defaults(func=run_predict)
    return parser


def add_predict_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``predict --study S --input IN --output OUT [--root DIR]`` on ``subparsers``.

    The sub-command's ``func`` is :func:`run_predict`, which returns the exit code.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="analysis")
    >>> _ = add_predict_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(
    ...     ["predict", "--study", "s", "--input", "a.csv", "--output", "b.csv"])
    >>> args.func is run_predict, args.root
    (True, None)
    """
    parser = subparsers.add_parser(
        "predict", help="score new patients with a study's saved model",
        description="Write predicted probabilities (and per-treatment-option probabilities) "
                    "for the patients in --input to --output.")
    return _add_arguments(parser)


def run_predict(args: argparse.Namespace) -> int:
    """Handler of the ``predict`` command: 0 when the output is written, 1 on an error.

    Errors (:class:`~analysis.errors.AnalysisError`) are printed to stderr and no output
    file is written.
    """
    from analysis.study.io import read_table, write_text

    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            study = load_study(args.study, args.root)
            patients = read_table(args.input)
            out = predict_patients(study, patients, source=Path(args.input).name)
        for w in caught:
            print(f"warning: {w.message}", file=sys.stderr)
        write_text(args.output, out.to_csv(index=False))
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    flagged = int((out["warnings"] != "").sum())
    print(f"wrote {args.output}: {len(out)} patient(s), {flagged} with warnings")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run ``predict`` with its flags only (``python -m analysis.models.predict --study ...``).

    Examples
    --------
    >>> main(["--study", "no-such-study", "--input", "x.csv", "--output", "y.csv"])
    1
    """
    parser = _add_arguments(argparse.ArgumentParser(
        prog="analysis predict", description="Score new patients with a study's saved model."))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
