"""The factors that moved one patient's predicted risk most, on the probability scale.

A clinician asks why the calculator gives *this* patient *this* probability. The answer here
is relative to a made-up **reference patient** of the development cohort - every numeric
predictor at its median, every binary one at its more common value, every categorical one
at its most common level (:func:`reference_patient`, from ``model.json``'s
``training.ranges``; the calculator's form starts there too) - and it is given in
**percentage points of probability**, the scale the clinician reads:

* ``contribution`` - the Shapley value of each predictor for the function
  ``x -> P(outcome | x)`` with the reference patient as the only background row
  ("baseline Shapley"): the change of the predicted probability when the predictor is
  moved from the reference value to the patient's, averaged over the orders in which the
  predictors can be moved. The contributions add up exactly to ``prediction -
  reference_prediction``; a predictor at its reference value contributes 0. Computed
  exactly (all ``2**p`` coalitions, one call of the model) up to :data:`MAX_EXACT`
  predictors, else by seeded antithetic permutations (:func:`sampled_shapley`, about
  :data:`SAMPLED_EVALUATIONS` model evaluations), both from
  :mod:`analysis.explain.contributions`.
* ``one_at_a_time`` - ``prediction`` minus the probability with only that predictor moved
  to its reference value: the plain "what if this one were typical" change. For a model
  that is additive on the probability scale it equals the contribution.

:func:`explain_patients` is :func:`analysis.models.predict.predict_patients` (the same
loading, codebook checks, derived predictors and scoring) plus this table, so the
calculator shows both from one call and adds no model logic.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.explain.contributions import coded_probability, exact_shapley, sampled_shapley
from analysis.models.predict import prepare_patients, score_prepared
from analysis.validators import is_finite_number

__all__ = ["FACTOR_COLUMNS", "MAX_EXACT", "explain_patients", "reference_patient",
           "reference_value", "risk_factors"]

#: Up to this many predictors the Shapley values are exact (2**12 = 4096 model rows).
MAX_EXACT = 12
#: Model evaluations per patient of the sampled Shapley values beyond :data:`MAX_EXACT`.
SAMPLED_EVALUATIONS = 4096
#: Columns of :func:`risk_factors`.
FACTOR_COLUMNS = ["row", "rank", "predictor", "label", "value", "reference", "contribution",
                  "one_at_a_time", "prediction", "reference_prediction"]


def reference_value(entry: Mapping[str, Any], rng: Mapping[str, Any] | None):
    """The cohort reference of one predictor, from its codebook entry and training range.

    Numeric and integer: the stored median (integers rounded), else the midpoint of the
    stored 1st-99th percentile range; binary: the more common value (``1.0`` when the
    stored mean exceeds 0.5, else ``0.0``); categorical: the stored most common level, else
    the first level seen in training, else the first codebook level. ``nan`` when nothing
    is stored (the model then imputes it).

    Examples
    --------
    >>> reference_value({"type": "numeric"}, {"kind": "numeric", "median": 41.0})
    41.0
    >>> reference_value({"type": "integer"}, {"kind": "numeric", "p01": 0.0, "p99": 5.0})
    2.0
    >>> reference_value({"type": "binary"}, {"kind": "numeric", "mean": 0.7})
    1.0
    >>> reference_value({"type": "categorical", "levels": ["a", "b"]},
    ...                 {"kind": "categorical", "levels": ["b", "a"]})
    'b'
    """
    rng = rng or {}
    kind = entry.get("type")
    if kind == "binary":
        mean = rng.get("mean")
        return 1.0 if is_finite_number(mean) and float(mean) > 0.5 else 0.0
    if kind == "categorical":
        levels = [str(v) for v in entry.get("levels") or []]
        common = rng.get("most_common")
        if common is not None and str(common) in levels:
            return str(common)
        seen = [str(v) for v in rng.get("levels") or [] if str(v) in levels]
        return seen[0] if seen else (levels[0] if levels else math.nan)
    value = rng.get("median")
    if not is_finite_number(value):
        lo, hi = rng.get("p01"), rng.get("p99")
        if not (is_finite_number(lo) and is_finite_number(hi)):
            return math.nan
        value = float(f"{(float(lo) + float(hi)) / 2:.3g}")
    value = float(value)
    return float(round(value)) if kind == "integer" else value


def reference_patient(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The made-up reference patient of a saved model: :func:`reference_value` per predictor.

    Parameters
    ----------
    meta : mapping
        ``model.json`` (:func:`analysis.models.artifact.load_model`): ``predictors`` and
        ``training.ranges``.

    Returns
    -------
    dict
        Predictor -> value, in the model's order.

    Examples
    --------
    >>> meta = {"predictors": {"age": {"type": "numeric"}, "sex": {"type": "categorical",
    ...                                                          "levels": ["f", "m"]}},
    ...         "training": {"ranges": {"age": {"kind": "numeric", "median": 52.0},
    ...                                 "sex": {"kind": "categorical", "levels": ["f", "m"],
    ...                                         "most_common": "m"}}}}
    >>> reference_patient(meta)
    {'age': 52.0, 'sex': 'm'}
    """
    ranges = (meta.get("training") or {}).get("ranges") or {}
    return {name: reference_value(entry, ranges.get(name))
            for name, entry in meta["predictors"].items()}


def risk_factors(pipeline, patients: pd.DataFrame, reference: Mapping[str, Any], *,
                 labels: Mapping[str, str] | None = None, top: int | None = None,
                 seed: int = 0) -> pd.DataFrame:
    """Each predictor's share of the patient's distance from the reference patient's risk.

    Parameters
    ----------
    pipeline : fitted estimator
        With ``predict_proba`` on a DataFrame of the predictor columns.
    patients : DataFrame
        Typed predictor columns (numbers as float, categories as text), one row per patient;
        the index labels become ``row``.
    reference : mapping
        Predictor -> reference value (:func:`reference_patient`); must name every column
        of ``patients``.
    labels : mapping, optional
        Predictor -> label shown (default: the predictor's name).
    top : int, optional
        Keep only the ``top`` predictors of largest absolute contribution per patient.
    seed : int, default 0
        Seed of the sampled Shapley values (more than :data:`MAX_EXACT` predictors).

    Returns
    -------
    DataFrame
        :data:`FACTOR_COLUMNS`: per patient (in input order) its predictors by decreasing
        absolute ``contribution`` (``rank`` 1, 2, ...; ties keep the model's order).
        ``contribution`` and ``one_at_a_time`` are differences of probabilities (0.042 is
        4.2 percentage points); ``prediction`` and ``reference_prediction`` repeat the
        patient's and the reference patient's probability. ``attrs["method"]`` is
        ``"exact"`` or ``"sampled"``.

    Examples
    --------
    A logistic model ``logit p = -1 + 2 x1 + 1 x2`` with reference ``(0, 0)``: for the
    patient ``(1, 0)`` only ``x1`` moved, by ``expit(1) - expit(-1)``.

    >>> from scipy.special import expit
    >>> class Logistic:
    ...     classes_ = np.array([0, 1])
    ...     def predict_proba(self, d):
    ...         p = expit(-1 + 2 * d["x1"].to_numpy() + d["x2"].to_numpy())
    ...         return np.column_stack([1 - p, p])
    >>> out = risk_factors(Logistic(), pd.DataFrame({"x1": [1.0], "x2": [0.0]}),
    ...                    {"x1": 0.0, "x2": 0.0})
    >>> out[["predictor", "contribution"]].round(4).values.tolist()
    [['x1', 0.4621], ['x2', 0.0]]
    """
    if not isinstance(patients, pd.DataFrame) or patients.empty:
        raise AnalysisError("patients: must be a non-empty DataFrame of predictor columns")
    columns = [str(c) for c in patients.columns]
    missing = [c for c in columns if c not in reference]
    if missing:
        raise AnalysisError(f"reference: no value for {', '.join(missing)}")
    if top is not None and (isinstance(top, bool) or not isinstance(top, int | np.integer)
                            or top < 1):
        raise AnalysisError(f"top: must be a positive integer or None, got {top!r}")
    categorical = [c for c in columns if not pd.api.types.is_numeric_dtype(patients[c])
                   or isinstance(reference[c], str)]
    ref = pd.DataFrame([{c: reference[c] for c in columns}], columns=columns)
    frames = []
    for frame in (ref, patients[columns]):
        frame = frame.copy()
        for c in columns:
            frame[c] = (frame[c].astype(object).where(frame[c].notna(), np.nan)
                        if c in categorical else pd.to_numeric(frame[c], errors="coerce"))
        frames.append(frame)
    ref, pts = frames
    f, encode = coded_probability(pipeline, columns, [ref, pts])
    r, x_all = encode(ref)[0], encode(pts)
    p = len(columns)
    method = "exact" if p <= MAX_EXACT else "sampled"
    rng = np.random.default_rng(seed)
    n_pairs = max(10, SAMPLED_EVALUATIONS // (2 * p + 1))
    labels = dict(labels or {})
    values = pts.to_numpy(dtype=object)
    parts = []
    for i, (label, x) in enumerate(zip(pts.index, x_all, strict=True)):
        if method == "exact":
            phi, base, pred = exact_shapley(f, x, r[None, :])
        else:
            phi, base, pred = sampled_shapley(f, x, r[None, :], n_pairs, rng)
        moved = np.repeat(x[None, :], p, axis=0)
        moved[np.arange(p), np.arange(p)] = r
        single = pred - f(moved)
        # exactly 0 where the patient has the reference value (no rounding residue)
        phi = np.where(np.abs(phi) < 1e-12, 0.0, phi)
        single = np.where(np.abs(single) < 1e-12, 0.0, single)
        order = np.argsort(-np.abs(np.round(phi, 12)), kind="stable")
        keep = order[:top] if top is not None else order
        parts.append(pd.DataFrame({
            "row": [label] * len(keep), "rank": np.arange(1, len(keep) + 1),
            "predictor": [columns[j] for j in keep],
            "label": [str(labels.get(columns[j], columns[j])) for j in keep],
            "value": [values[i][j] for j in keep],
            "reference": [ref.iloc[0, j] for j in keep],
            "contribution": phi[keep], "one_at_a_time": single[keep],
            "prediction": pred, "reference_prediction": base,
        }))
    out = pd.concat(parts, ignore_index=True)
    out.attrs["method"] = method
    return out[FACTOR_COLUMNS]


def explain_patients(folder_or_study, patients: pd.DataFrame, *,
                     root: str | os.PathLike | None = None, source: str = "input",
                     allow_unvalidated: bool = False, top: int | None = 5,
                     seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`~analysis.models.predict.predict_patients` and each patient's risk factors.

    The patients go through :func:`analysis.models.predict.prepare_patients` and
    :func:`~analysis.models.predict.score_prepared` - the scoring path of ``analysis
    predict`` - and the same loaded model and typed predictors give :func:`risk_factors`
    against :func:`reference_patient`.

    Parameters
    ----------
    folder_or_study, patients, root, source, allow_unvalidated
        As for :func:`analysis.models.predict.predict_patients`.
    top : int or None, default 5
        Predictors kept per patient (None: all).
    seed : int, default 0

    Returns
    -------
    scores : DataFrame
        Exactly what ``predict_patients`` returns for ``patients``.
    factors : DataFrame
        :func:`risk_factors` with ``row`` the patient's id (or 1-based row number, as in
        ``scores``); labels from the model's codebook.
    """
    prepared = prepare_patients(folder_or_study, patients, root=root, source=source,
                                allow_unvalidated=allow_unvalidated)
    scores = score_prepared(prepared)
    meta = prepared.meta
    labels = {name: str(entry.get("label") or name) for name, entry in meta["predictors"].items()}
    X = prepared.X.copy()
    X.index = (prepared.typed[prepared.id_col].to_numpy() if prepared.id_col
               else np.asarray(prepared.rows))
    factors = risk_factors(prepared.pipeline, X, reference_patient(meta), labels=labels,
                           top=top, seed=seed)
    return scores, factors
