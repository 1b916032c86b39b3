"""Score new patients with a saved model: ``python -m analysis predict``.

The input table is checked against the predictors' codebook stored with the model
(``model.json``) by :func:`analysis.study.checks.validate_table`: a missing predictor column,
an unparseable number, a value outside the codebook's plausible range or an unknown level
is an error, and all of them are reported at once. Missing values are allowed: the
pipeline imputes them as it did in development.

The output has the id column (or ``row``, 1-based, if the study has no id), ``probability``
(the contract), ``ci_lower`` and ``ci_upper`` (its 95% interval: the 2.5th and 97.5th
percentiles of the probabilities of the bootstrap refits of the validation stage, saved
beside the model in ``refits.skops``; empty, with an :class:`IntervalWarning`, for a model
folder without refits), one ``probability_<option>`` per treatment option when the study
declares them (each patient scored with the treatment column set to that option), and
``warnings``: predictors outside the training range (the 1st to 99th percentile of the
development data stored in ``model.json``), levels not seen in development and missing
values.

One scoring path: :func:`prepare_patients` loads and checks the model and the patients'
table (derived predictors computed, codebook checked), :func:`score_prepared` scores them;
:func:`predict_patients` is the two in a row, and the calculator
(:mod:`analysis.app.calculator`) and the per-patient explanations
(:func:`analysis.explain.factors.explain_patients`) go through the same two functions.

Treatment options: when the model folder holds a benefit model (``model/benefit/``, saved
by notebook 08 from the effect model with treatment x modifier interactions), the
per-option columns come from it: per option ``probability_<option>`` with ``ci_lower_<option>``
and ``ci_upper_<option>`` (percentile intervals over its bootstrap refits), per
non-reference option ``benefit_<option>`` (the difference to the reference) with
``benefit_ci_lower_<option>`` and ``benefit_ci_upper_<option>``, and ``preferred_option``: the
option with the highest probability whose benefit interval excludes 0, else ``no clear
difference``, or ``no evidence that the options differ for this patient`` when the benefit
model's c-for-benefit interval includes 0.5.  A patient outside the common support of the
propensity scores gets a warning: the options were not given to patients like them.
Without a benefit model the per-option probabilities come from the main model.

Batch scoring: with ``--skip-invalid`` (:func:`score_valid_rows`) a row that breaks the
codebook no longer stops the run: the valid rows are scored and every broken rule of the
others is written to ``<output stem>.rejected.csv`` (columns ``row``, ``column``, ``rule``,
``value``; ``row`` is the 1-based data row of the input). Problems with the table itself
(a missing predictor column, a repeated header, no rows) still stop the run.

Models kept for audit only: a model whose ``model.json`` says ``"status":
"not-for-clinical-use"`` (it failed the ship gate, :mod:`analysis.validation.gate`) is
refused with :class:`UnvalidatedModelError` and its reasons, unless ``allow_unvalidated``
(``--allow-unvalidated``) is given; then every output row's ``warnings`` starts with
``not for clinical use: <reasons>``.

Outputs are written atomically; the output may not be the input file or a directory.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.models.artifact import (
    FIT,
    INTERVAL_LEVEL,
    load_model,
    load_refits,
    metadata_variables,
)
from analysis.models.predict_cli import add_predict_command, predict_arguments
from analysis.study.checks import validate_table
from analysis.study.config import Study, Variable, load_study
from analysis.study.paths import BENEFIT_FOLDER

__all__ = ["IntervalWarning", "PreparedPatients", "UnvalidatedModelError", "add_predict_parser",
           "main", "option_column", "option_name", "positive_probability", "predict_patients",
           "preload", "prepare_patients", "probability_interval", "range_warnings",
           "refit_probabilities", "rejected_path", "score_prepared", "score_valid_rows",
           "status_warning"]

ROW_COLUMN = "row"
REJECTED_COLUMNS = ["row", "column", "rule", "value"]
#: Warning of a patient outside the common support of the options' propensity scores.
OUTSIDE_SUPPORT = ("outside the common support of the treatment options (patients like this "
                   "received mostly one option): the per-option predictions are extrapolations")
#: Longest cell value echoed into messages and the rejected-rows file.
MAX_VALUE_CHARS = 200
#: Said (as an :class:`IntervalWarning`) when a model folder has no bootstrap refits.
NO_INTERVAL = ("no 95% interval of the probability: the model folder has no bootstrap refits "
               "(refits.skops; saved without them or by an older version), so ci_lower and "
               "ci_upper are empty; re-run notebook 06 to save them")


class UnvalidatedModelError(AnalysisError):
    """The model failed the ship gate and ``allow_unvalidated`` was not given."""


class IntervalWarning(UserWarning):
    """The probability's interval is not available (or rests on fewer refits than saved)."""


@dataclass(frozen=True)
class PreparedPatients:
    """Patients checked against a saved model's codebook, ready to be scored.

    ``typed`` holds the valid rows (the id column if the study has one and every
    predictor, typed); ``rows`` their 1-based row numbers in the input; ``status`` the
    ``not for clinical use`` text every output row starts with (``""`` for a model fit
    for clinical use).
    """

    folder: Path
    pipeline: Any
    meta: dict
    typed: pd.DataFrame
    id_col: str | None
    rows: np.ndarray
    status: str = ""

    @property
    def X(self) -> pd.DataFrame:
        """The predictor columns, in the model's order."""
        return self.typed[list(self.meta["predictors"])]


def status_warning(meta: dict[str, Any]) -> str:
    """``""`` for a fit-for-clinical-use model, else ``"not for clinical use: <reasons>"``.

    Examples
    --------
    >>> status_warning({"status": "fit-for-clinical-use", "status_reasons": []})
    ''
    >>> status_warning({"status": "not-for-clinical-use", "status_reasons": ["AUC 0.52."]})
    'not for clinical use: AUC 0.52.'
    """
    if meta.get("status") == FIT:
        return ""
    reasons = " ".join(str(r) for r in meta.get("status_reasons") or []) or "no reason recorded"
    return f"not for clinical use: {reasons}"


def _check_status(meta: dict[str, Any], allow_unvalidated: bool) -> str:
    """Refuse an unvalidated model unless allowed; return the warning for every row."""
    warning = status_warning(meta)
    if warning and not allow_unvalidated:
        reasons = " ".join(str(r) for r in meta.get("status_reasons") or [])
        raise UnvalidatedModelError(
            f"the model of study {meta.get('study')!r} ({meta.get('model_name')}) is marked "
            f"\"{meta.get('status')}\": no model fit for clinical use. Reasons: {reasons} "
            "It is kept for audit only; to score patients anyway pass --allow-unvalidated "
            "(allow_unvalidated=True), and every output row will say so in 'warnings'.")
    return warning


def predict_patients(folder_or_study, patients: pd.DataFrame, *,
                     root: str | os.PathLike | None = None, source: str = "input",
                     allow_unvalidated: bool = False) -> pd.DataFrame:
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
    allow_unvalidated : bool, default False
        Score a model marked ``not-for-clinical-use`` anyway; every row's ``warnings``
        then starts with ``not for clinical use: <reasons>``.

    Returns
    -------
    DataFrame
        ``<id>`` (or ``row``), ``probability``, ``ci_lower`` and ``ci_upper`` (the 95%
        interval from the saved bootstrap refits, :func:`probability_interval`; NaN when
        the folder has none), ``probability_<option>`` per treatment option (with the
        benefit model's columns when there is one), ``warnings`` (``"; "``-separated,
        empty when none); one row per patient in input order.

    Raises
    ------
    DataValidationError
        Listing every violation of the codebook in ``patients``.
    ModelArtifactError
        If the model folder is missing or fails its checks.
    UnvalidatedModelError
        If the model is marked ``not-for-clinical-use`` and ``allow_unvalidated`` is False.

    Warns
    -----
    IntervalWarning
        When the model folder has no bootstrap refits (``ci_lower``/``ci_upper`` NaN).

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
    >>> refits = [DummyClassifier().fit(frame[["age"]], y) for y in ([0, 0, 0, 1], [0, 1, 1, 1])]
    >>> _ = save_model(model, study, model_name="dummy", metrics=None, training_frame=frame,
    ...                status="fit-for-clinical-use", refits=refits)
    >>> out = predict_patients(study, pd.DataFrame({"age": ["45", "90"]}))
    >>> out.columns.tolist(), out["probability"].tolist()
    (['row', 'probability', 'ci_lower', 'ci_upper', 'warnings'], [0.5, 0.5])
    >>> out[["ci_lower", "ci_upper"]].round(4).values.tolist()
    [[0.2625, 0.7375], [0.2625, 0.7375]]
    >>> out["warnings"].tolist()
    ['', 'age=90 above the training range [30.3, 59.7]']
    """
    return score_prepared(prepare_patients(folder_or_study, patients, root=root, source=source,
                                           allow_unvalidated=allow_unvalidated))


def prepare_patients(folder_or_study, patients: pd.DataFrame, *,
                     root: str | os.PathLike | None = None, source: str = "input",
                     allow_unvalidated: bool = False) -> PreparedPatients:
    """Load the model and check the patients against its codebook, as :func:`predict_patients`.

    Derived predictors absent from ``patients`` (BMI from height and weight) are computed
    with the study's derive rules stored in ``model.json``; every codebook violation is
    reported at once (:class:`~analysis.errors.DataValidationError`).

    Parameters
    ----------
    folder_or_study, patients, root, source, allow_unvalidated
        As for :func:`predict_patients`.

    Returns
    -------
    PreparedPatients
        For :func:`score_prepared` (and any explanation of the same predictions).
    """
    folder = _model_folder(folder_or_study, root)
    pipeline, meta = load_model(folder)
    status = _check_status(meta, allow_unvalidated)
    if not isinstance(patients, pd.DataFrame):
        raise AnalysisError(f"patients: must be a pandas DataFrame, got {type(patients).__name__}")
    variables, id_col = _variables(meta)
    patients = _derive_missing_predictors(patients, meta, source)
    typed, _ = validate_table(patients, variables, id_col=id_col, source=source)
    return PreparedPatients(folder, pipeline, meta, typed, id_col,
                            np.arange(1, len(typed) + 1), status)


def score_prepared(prepared: PreparedPatients) -> pd.DataFrame:
    """The output of :func:`predict_patients` for patients from :func:`prepare_patients`.

    The probability from the saved model, its 95% interval from the saved bootstrap
    refits (:func:`~analysis.models.artifact.load_refits`, :func:`probability_interval`),
    the treatment options' columns (from the benefit model saved beside the main model
    when there is one) and the warnings.
    """
    if not isinstance(prepared, PreparedPatients):
        raise AnalysisError("prepared: must come from prepare_patients")
    refits = load_refits(prepared.folder)
    if refits is None:
        warnings.warn(NO_INTERVAL, IntervalWarning, stacklevel=2)
    return _score(prepared.pipeline, prepared.meta, prepared.typed, prepared.id_col,
                  prepared.rows, prepared.status,
                  benefit=_benefit_model(prepared.folder, prepared.meta), refits=refits)


def score_valid_rows(folder_or_study, patients: pd.DataFrame, *,
                     root: str | os.PathLike | None = None, source: str = "input",
                     allow_unvalidated: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the rows that pass the codebook and list the broken rules of the others.

    Like :func:`predict_patients`, but a row with an invalid value (not a number, outside
    the codebook's range, an unknown level, a duplicate id, or an impossible derived
    value) is set aside instead of stopping the run. Table-level problems (a missing
    predictor column, a repeated header, no rows, no valid row at all) still raise.

    Parameters
    ----------
    folder_or_study, patients, root, source, allow_unvalidated
        As for :func:`predict_patients`.

    Returns
    -------
    scores : DataFrame
        As :func:`predict_patients` for the valid rows (``row`` keeps the input's row
        numbers when the study has no id).
    rejected : DataFrame
        One line per broken rule: ``row`` (1-based data row of the input), ``column``,
        ``rule``, ``value`` (the raw cell, cut at 200 characters).

    Raises
    ------
    DataValidationError
        For table-level problems, or when no row is valid.

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
    >>> _ = save_model(model, study, model_name="dummy", metrics=None, training_frame=frame,
    ...                status="fit-for-clinical-use")
    >>> scores, rejected = score_valid_rows(study, pd.DataFrame({"age": ["45", "900", "x"]}))
    >>> scores["row"].tolist()
    [1]
    >>> rejected.values.tolist()
    [[2, 'age', 'value above max 120', '900'], [3, 'age', 'not a number', 'x']]
    """
    folder = _model_folder(folder_or_study, root)
    pipeline, meta = load_model(folder)
    status = _check_status(meta, allow_unvalidated)
    if not isinstance(patients, pd.DataFrame):
        raise AnalysisError(f"patients: must be a pandas DataFrame, got {type(patients).__name__}")
    variables, id_col = _variables(meta)
    frame = patients.reset_index(drop=True)
    rejected: list[pd.DataFrame] = []
    inputs = _derivation_inputs(frame, meta)
    if inputs:
        bad = _row_failures(frame, inputs, None, source)
        rejected.append(bad)
        frame = frame.drop(index=bad["row"].unique() - 1)
        if len(frame):
            frame = _derive_missing_predictors(frame, meta, source).set_axis(frame.index)
    if len(frame):
        bad = _row_failures(frame, variables, id_col, source)
        rejected.append(bad)
        frame = frame.drop(index=bad["row"].unique() - 1)
    rejected_rows = (pd.concat(rejected, ignore_index=True) if rejected
                     else pd.DataFrame(columns=REJECTED_COLUMNS))
    if not len(frame):
        # nothing to score: report every problem as without --skip-invalid
        predict_patients(folder_or_study, patients, root=root, source=source,
                         allow_unvalidated=allow_unvalidated)
    typed, _ = validate_table(frame, variables, id_col=id_col, source=source)
    scores = score_prepared(PreparedPatients(folder, pipeline, meta, typed, id_col,
                                             frame.index.to_numpy() + 1, status))
    rejected_rows = rejected_rows.sort_values(["row"], kind="stable", ignore_index=True)
    return scores, rejected_rows


def preload(folder_or_study, *, root: str | os.PathLike | None = None) -> dict[str, Any]:
    """Load a model folder's model, refits and benefit model once, ahead of scoring.

    :func:`analysis.models.artifact.load_model` and
    :func:`~analysis.models.artifact.load_refits` keep what they build in memory, so a
    server that preloads its model (the calculator) scores its first patient as fast as
    the next ones. Every later call still checks the files.

    Returns
    -------
    dict
        The model's metadata (``model.json``).
    """
    folder = _model_folder(folder_or_study, root)
    _, meta = load_model(folder)
    load_refits(folder)
    _benefit_model(folder, meta)
    return meta


def _variables(meta) -> tuple[dict[str, Variable], str | None]:
    variables: dict[str, Variable] = {}
    id_col = meta["id"]["name"] if meta.get("id") else None
    if id_col:
        variables[id_col] = Variable(id_col, "id", label=meta["id"].get("label"))
    for name, var in metadata_variables(meta).items():
        # missing predictor values are imputed by the pipeline, so none is required here
        variables[name] = replace(var, required=False)
    return variables, id_col


def _benefit_model(folder: Path, meta: dict[str, Any]):
    """The benefit model saved beside the main model (``<folder>/benefit``), or None.

    It must describe the same study, predictors and treatment as the main model.
    """
    sub = folder / BENEFIT_FOLDER
    if not (sub / "model.json").is_file():
        return None
    model, sub_meta = load_model(sub)
    for key in ("study", "predictors", "treatment"):
        if sub_meta.get(key) != meta.get(key):
            raise AnalysisError(
                f"{sub}: the benefit model's {key} differs from the main model's (saved from "
                "another run); re-run notebook 08 or remove the folder")
    if not callable(getattr(model, "option_table", None)):
        raise AnalysisError(f"{sub}: the stored object is not a benefit model")
    return model


def _score(pipeline, meta, typed: pd.DataFrame, id_col, rows, status: str = "",
           benefit=None, refits=None) -> pd.DataFrame:
    predictors = list(meta["predictors"])
    X = typed[predictors]
    out = pd.DataFrame({id_col: typed[id_col]} if id_col else {ROW_COLUMN: np.asarray(rows)})
    out["probability"] = positive_probability(pipeline, X)
    level = (meta.get("intervals") or {}).get("level", INTERVAL_LEVEL)
    out["ci_lower"], out["ci_upper"] = probability_interval(refits, X, level=level)
    treatment = meta.get("treatment")
    support = np.ones(len(X), dtype=bool)
    if benefit is not None:
        try:
            table = benefit.option_table(X.reset_index(drop=True))
        except AnalysisError:
            raise
        except Exception as exc:  # a benefit model that cannot score these rows: say so
            raise AnalysisError(f"the benefit model could not score the input: "
                                f"{type(exc).__name__}: {_cut(exc)}") from exc
        support = table.pop("in_common_support").to_numpy(dtype=bool)
        for name in table.columns:
            out[name] = table[name].to_numpy()
    elif treatment:
        names = [option_column(o) for o in treatment["options"]]
        if len(set(names)) != len(names):
            raise AnalysisError(
                f"treatment.options: {treatment['options']} give duplicate column names {names}")
        column = treatment["column"]
        numeric = meta["predictors"][column]["type"] in ("numeric", "integer", "binary")
        for option, name in zip(treatment["options"], names, strict=True):
            scored = X.copy()
            scored[column] = float(option) if numeric else str(option)
            out[name] = positive_probability(pipeline, scored)
    found = range_warnings(X, meta["training"]["ranges"])
    out["warnings"] = ["; ".join(w for w in (status, text, "" if inside else OUTSIDE_SUPPORT) if w)
                       for text, inside in zip(found, support, strict=True)]
    return out


def refit_probabilities(refits, X: pd.DataFrame) -> np.ndarray:
    """The probability of the positive class under each bootstrap refit, one row per refit.

    Parameters
    ----------
    refits : sequence of fitted estimators
        :func:`analysis.models.artifact.load_refits`.
    X : DataFrame
        Typed predictor columns.

    Returns
    -------
    ndarray, shape (len(refits), len(X))
        A refit that cannot score the rows gives a row of NaN.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> X = pd.DataFrame({"x": [0.0, 1.0]})
    >>> refit_probabilities([DummyClassifier().fit(X, [0, 1])], X).tolist()
    [[0.5, 0.5]]
    """
    draws = np.full((len(refits), len(X)), np.nan)
    with warnings.catch_warnings():
        # a refit whose bootstrap sample missed a rare level meets it as unknown: ignored
        warnings.filterwarnings("ignore", message="Found unknown categories")
        for i, model in enumerate(refits):
            try:
                draws[i] = positive_probability(model, X)
            except AnalysisError:
                pass
    return draws


def probability_interval(refits, X: pd.DataFrame, *, level: float = INTERVAL_LEVEL
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the probability over bootstrap refits, one per row of ``X``.

    The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles (2.5th and 97.5th
    percentiles for 95%, linear interpolation) of the refits' probabilities for each
    patient. A refit that cannot score the rows is left out (with an
    :class:`IntervalWarning`).

    Parameters
    ----------
    refits : sequence of fitted estimators, or None
        :func:`analysis.models.artifact.load_refits`; None or empty: NaN bounds.
    X : DataFrame
        Typed predictor columns.
    level : float, default 0.95

    Returns
    -------
    (lower, upper) : tuple of ndarray

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> X = pd.DataFrame({"x": [0.0, 1.0]})
    >>> refits = [DummyClassifier().fit(X, [0, 1]), DummyClassifier().fit(X, [1, 1])]
    >>> [v.tolist() for v in probability_interval(refits, X)]
    [[0.5125, 0.5125], [0.9875, 0.9875]]
    >>> probability_interval(None, X)[0].tolist()
    [nan, nan]
    """
    nan = np.full(len(X), np.nan)
    if not refits:
        return nan, nan.copy()
    if not 0 < float(level) < 1:
        raise AnalysisError(f"level: must be between 0 and 1, got {level!r}")
    draws = refit_probabilities(refits, X)
    failed = int(np.isnan(draws).all(axis=1).sum()) if len(X) else 0
    if failed:
        warnings.warn(f"{failed} of {len(refits)} bootstrap refits could not score the input; "
                      "the 95% interval uses the others", IntervalWarning, stacklevel=3)
    if failed == len(refits):
        return nan, nan.copy()
    tail = 100 * (1 - float(level)) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a row no refit could score: NaN
        lower, upper = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    return lower, upper


def _derivation_inputs(patients: pd.DataFrame, meta) -> dict[str, Variable]:
    spec = meta.get("derivations") or {}
    rules = spec.get("derive") or {}
    if not any(p not in patients.columns and p in rules for p in meta["predictors"]):
        return {}
    return {name: replace(metadata_variables({"predictors": {name: entry}})[name], required=False)
            for name, entry in (spec.get("inputs") or {}).items()}


def _row_failures(frame: pd.DataFrame, variables: dict[str, Variable], id_col, source) -> pd.DataFrame:
    """Broken rules per row as (row, column, rule, value); raises for table-level problems."""
    from pandera.errors import SchemaErrors

    from analysis.study.checks import build_schema, parse_text

    if frame.shape[0] == 0 or frame.columns.duplicated().any():
        validate_table(frame, variables, id_col=id_col, source=source)  # raises, naming it
    parts = [pd.DataFrame(columns=REJECTED_COLUMNS)]
    try:
        build_schema(variables).validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
        if cases["index"].isna().any():
            validate_table(frame, variables, id_col=id_col, source=source)  # raises, naming it
        cases = cases[cases["check"].astype(str) != "field_uniqueness"]
        parts.append(pd.DataFrame({
            "row": cases["index"].astype(int).to_numpy() + 1,
            "column": cases["column"].astype(str).to_numpy(),
            "rule": cases["check"].astype(str).to_numpy(),
            "value": [_cut(v) for v in cases["failure_case"]],
        }))
    if id_col and id_col in frame.columns:
        # ids compared as validate_table does: after stripping surrounding spaces
        ids = parse_text(frame[id_col])
        dupes = ids.notna() & ids.duplicated(keep=False)
        parts.append(pd.DataFrame({
            "row": frame.index[dupes.to_numpy()].to_numpy() + 1, "column": id_col,
            "rule": "duplicate id", "value": [_cut(v) for v in frame[id_col][dupes]]}))
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(
        len(p) for p in parts) else parts[0]
    return out.astype({"row": int}) if len(out) else out


def _cut(value) -> str:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if len(text) > MAX_VALUE_CHARS:
        return text[:MAX_VALUE_CHARS] + f"... ({len(text)} characters)"
    return text


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
    if path.is_dir() and ((path / "model.json").is_file() or (path / "manifest.json").is_file()):
        return path
    return load_study(str(folder_or_study), root).paths.model


def positive_probability(pipeline, X: pd.DataFrame) -> np.ndarray:
    """The fitted classifier's probability of the positive class (label 1, else the last
    column) for each row of ``X``; a model that cannot score ``X`` raises
    :class:`~analysis.errors.AnalysisError` with the reason, not a traceback.

    Examples
    --------
    >>> from sklearn.dummy import DummyClassifier
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> positive_probability(DummyClassifier().fit(X, [0, 1, 1, 1]), X).tolist()
    [0.75, 0.75, 0.75, 0.75]
    """
    try:
        proba = np.asarray(pipeline.predict_proba(X), dtype=float)
    except AnalysisError:
        raise
    except Exception as exc:  # a model that cannot score these columns: say so, no traceback
        raise AnalysisError(f"the model could not score the input: {type(exc).__name__}: "
                            f"{_cut(exc)}") from exc
    if proba.ndim != 2 or proba.shape[0] != len(X):
        raise AnalysisError(f"the model returned probabilities of shape {proba.shape} for "
                            f"{len(X)} rows")
    classes = list(getattr(pipeline, "classes_", [0, 1]))
    col = next((i for i, c in enumerate(classes) if c == 1), proba.shape[1] - 1)
    return proba[:, col]


def option_name(option) -> str:
    """A treatment option as a column-name suffix: non-alphanumerics become ``_``.

    Every per-option column (``probability_<o>``, ``ci_lower_<o>``, ``benefit_<o>``, ...)
    uses it.

    Examples
    --------
    >>> option_name("anti-integrin")
    'anti_integrin'
    """
    return re.sub(r"[^0-9A-Za-z]", "_", str(option))


def option_column(option) -> str:
    """Output column of one treatment option: ``probability_`` + option, non-alphanumerics as ``_``.

    Examples
    --------
    >>> option_column("anti-TNF + MTX")
    'probability_anti_TNF___MTX'
    """
    return "probability_" + option_name(option)


def range_warnings(X: pd.DataFrame, ranges: dict[str, dict[str, Any]]) -> list[str]:
    """One text per row naming predictors outside the training data, unseen levels and gaps.

    Parameters
    ----------
    X : DataFrame
        Typed predictor columns (numbers as float, categories as text).
    ranges : dict
        ``model.json``'s ``training.ranges``: the 1st and 99th percentiles (``p01``,
        ``p99``) of numeric predictors, the observed levels of categorical ones.

    Returns
    -------
    list of str
        ``"; "``-joined findings per row, ``""`` when there are none.

    Examples
    --------
    >>> ranges = {"crp": {"kind": "numeric", "p01": 0.3, "p99": 250.0},
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
                lo, hi = rng.get("p01"), rng.get("p99")
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
    predict_arguments(parser)
    parser.set_defaults(func=run_predict)
    return parser


def rejected_path(output: str | os.PathLike) -> Path:
    """Where ``--skip-invalid`` writes the rejected rows: ``<output stem>.rejected.csv``.

    Examples
    --------
    >>> rejected_path("out/predictions.csv").as_posix()
    'out/predictions.rejected.csv'
    """
    output = Path(output)
    return output.with_name(output.stem + ".rejected.csv")


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse outputs that would overwrite the input or cannot be files."""
    source = Path(args.input)
    targets = [("--output", Path(args.output))]
    if getattr(args, "skip_invalid", False):
        targets.append(("the rejected-rows file", rejected_path(args.output)))
    for what, target in targets:
        if target.is_dir():
            raise AnalysisError(f"{what}: {target} is a directory; give a file name such as "
                                f"{target / 'predictions.csv'}")
        if _same_file(source, target):
            raise AnalysisError(f"{what}: {target} is the input file; write the predictions "
                                "to another file (the input is left untouched)")


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def add_predict_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``predict --study S --input IN --output OUT [--root DIR] [--skip-invalid]
    [--allow-unvalidated]``.

    The sub-command's ``func`` is :func:`run_predict`, which returns the exit code.

    Examples
    --------
    >>> parser = argparse.ArgumentParser(prog="analysis")
    >>> _ = add_predict_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(
    ...     ["predict", "--study", "s", "--input", "a.csv", "--output", "b.csv"])
    >>> args.func is run_predict, args.root, args.skip_invalid, args.allow_unvalidated
    (True, None, False, False)
    """
    return add_predict_command(subparsers, run_predict)


def run_predict(args: argparse.Namespace) -> int:
    """Handler of the ``predict`` command: 0 when the output is written, 1 on an error.

    Errors are printed to stderr as one ``error: ...`` message (no traceback) and no
    output file is written. With ``--skip-invalid`` the summary line counts the scored
    and the rejected rows.
    """
    from analysis.study.io import read_table, write_text

    skip = bool(getattr(args, "skip_invalid", False))
    allow = bool(getattr(args, "allow_unvalidated", False))
    try:
        _check_paths(args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            study = load_study(args.study, args.root)
            patients = read_table(args.input)
            source = Path(args.input).name
            if skip:
                out, rejected = score_valid_rows(study, patients, source=source,
                                                 allow_unvalidated=allow)
            else:
                out, rejected = predict_patients(study, patients, source=source,
                                                 allow_unvalidated=allow), None
        for w in caught:
            print(f"warning: {_cut(w.message)}", file=sys.stderr)
        write_text(args.output, out.to_csv(index=False))
        if rejected is not None:
            write_text(rejected_path(args.output), rejected.to_csv(index=False))
    except AnalysisError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory while scoring (split the input into smaller files)",
              file=sys.stderr)
        return 1
    except (OSError, UnicodeError) as exc:
        print(f"error: {type(exc).__name__}: {_cut(exc)}", file=sys.stderr)
        return 1
    flagged = int((out["warnings"] != "").sum())
    line = f"wrote {args.output}: {len(out)} patient(s), {flagged} with warnings"
    if allow and out["warnings"].str.startswith("not for clinical use").any():
        line += "; the model is NOT for clinical use (every row says so in 'warnings')"
    if rejected is not None:
        rows = rejected["row"].nunique()
        line += (f"; {rows} row(s) rejected ({len(rejected)} broken rule(s)) -> "
                 f"{rejected_path(args.output)}")
    print(line)
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
