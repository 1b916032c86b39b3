"""Preprocessing inside every model pipeline: transforms, imputation, splines, scaling and one-hot coding from the codebook."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd  # noqa: F401  (used by the doctests)
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from analysis.errors import AnalysisError
from analysis.models.estimators import (
    AsString,
    BracketName,
    ClippedLog,
    Log1pTransform,
    SqrtNonNegative,
)

NUMERIC_TYPES = ("numeric", "integer")


def sqrt_nonneg(x):
    """Square root of ``x`` clipped below at 0 (what :class:`SqrtNonNegative` applies).

    Examples
    --------
    >>> sqrt_nonneg([4.0, -1.0]).tolist()
    [2.0, 0.0]
    """
    return np.sqrt(np.clip(np.asarray(x, dtype=float), 0.0, None))


def log1p_nonneg(x):
    """``log(1 + x)`` (what :class:`Log1pTransform` applies).

    Examples
    --------
    >>> log1p_nonneg([0.0]).tolist()
    [0.0]
    """
    return np.log1p(np.asarray(x, dtype=float))


def as_string(x):
    """Categorical values as str (what :class:`AsString` applies).

    Examples
    --------
    >>> as_string([["a"], [None]]).tolist()
    [['a'], [nan]]
    """
    return AsString().fit(x).transform(x)


def bracket_name(feature: str, category) -> str:
    """One-hot column name ``feature[category]`` (what :class:`BracketName` returns).

    Examples
    --------
    >>> bracket_name("sex", "male")
    'sex[male]'
    """
    return BracketName()(feature, category)


def transform_step(name: str, transform):
    if transform in (None, "", "none"):
        return None
    if transform == "log":
        return ClippedLog()
    if transform == "log1p":
        return Log1pTransform()
    if transform == "sqrt":
        return SqrtNonNegative()
    raise AnalysisError(
        f"column '{name}': unknown transform {transform!r} (use log, log1p, sqrt or none)"
    )


def build_preprocessor(
    codebook: Mapping[str, Mapping],
    predictors: Iterable[str],
    *,
    splines: Mapping[str, int] | None = None,
    scale: bool = True,
) -> ColumnTransformer:
    """A :class:`~sklearn.compose.ColumnTransformer` preparing the predictors for a model.

    See the module docstring for the steps per codebook type.  Columns processed alike
    share one transformer (numeric columns with the same transform; each spline; all
    binary; all categorical), so the output is grouped in that order of first
    appearance, in predictor order within a group.  Output names are readable
    (``age``, ``sex[male]``, and ``age``, ``age'``, ``age''`` for a spline).

    Parameters
    ----------
    codebook : mapping of str to dict
        ``study.codebook(predictors)``: per column at least ``type`` and, for categorical
        columns, ``levels`` (the first is the reference); optional ``transform``.
    predictors : iterable of str
        Columns to use, in order.
    splines : mapping of str to int, optional
        Numeric predictors to expand in a restricted cubic spline with that many knots
        (3-7, Harrell's default quantiles of the training data after the transform).
    scale : bool, default True
        Standardise numeric columns (and spline bases) with training mean and SD.

    Returns
    -------
    sklearn.compose.ColumnTransformer
        Unfitted; ``get_feature_names_out()`` gives the design-column names after fit.

    Raises
    ------
    AnalysisError
        If a predictor is missing from the codebook or of an unusable type, a
        categorical column has no levels, or a spline is asked for a non-numeric column.

    Examples
    --------
    >>> cb = {"age": {"type": "numeric"},
    ...       "sex": {"type": "categorical", "levels": ["female", "male"]}}
    >>> X = pd.DataFrame({"age": [30.0, np.nan, 50.0], "sex": ["male", "female", np.nan]})
    >>> pre = build_preprocessor(cb, ["age", "sex"]).fit(X)
    >>> pre.get_feature_names_out().tolist()
    ['age', 'sex[male]']
    """
    predictors = list(predictors)
    if not predictors:
        raise AnalysisError("predictors must name at least one column")
    if len(set(predictors)) != len(predictors):
        raise AnalysisError("predictors must not repeat a column")
    splines = dict(splines or {})
    for name in splines:
        if name not in predictors:
            raise AnalysisError(f"splines: column '{name}' is not one of the predictors")
    # Columns that are processed alike share one transformer (one vectorised fit instead of
    # one per column: this keeps the thousands of resampled fits cheap).
    groups: dict[str, list[str]] = {}
    steps_of: dict[str, Any] = {}
    for name in predictors:
        if name not in codebook:
            raise AnalysisError(f"predictor '{name}' is not in the codebook")
        spec = codebook[name]
        kind = spec.get("type")
        if name in splines and kind not in NUMERIC_TYPES:
            raise AnalysisError(
                f"splines: column '{name}' has type {kind!r}; splines need a numeric column"
            )
        if kind in NUMERIC_TYPES:
            transform = spec.get("transform")
            transform_step(name, transform)  # validates the transform name
            transform = None if transform in (None, "", "none") else transform
            key = f"spline:{name}" if name in splines else f"numeric:{transform or 'none'}"
            if key not in groups:
                steps = []
                step = transform_step(name, transform)
                if step is not None:
                    steps.append(("transform", step))
                steps.append(("impute", SimpleImputer(strategy="median")))
                if name in splines:
                    from analysis.regression.splines import RestrictedCubicSpline

                    steps.append(("spline", RestrictedCubicSpline(n_knots=int(splines[name]))))
                if scale:
                    steps.append(("scale", StandardScaler()))
                steps_of[key] = Pipeline(steps)
        elif kind == "binary":
            key = "binary"
            steps_of.setdefault(key, SimpleImputer(strategy="most_frequent"))
        elif kind == "categorical":
            levels = spec.get("levels")
            if not levels or len(levels) < 2:
                raise AnalysisError(
                    f"categorical predictor '{name}' needs at least two codebook levels"
                )
            key = "categorical"
        else:
            raise AnalysisError(
                f"predictor '{name}' has type {kind!r}; models use numeric, integer, "
                "binary or categorical predictors"
            )
        groups.setdefault(key, []).append(name)
    if "categorical" in groups:
        encoder = OneHotEncoder(
            categories=[[str(v) for v in codebook[c]["levels"]] for c in groups["categorical"]],
            drop="first",
            handle_unknown="ignore",
            sparse_output=False,
            feature_name_combiner=BracketName(),
        )
        steps_of["categorical"] = Pipeline(
            [
                ("as_string", AsString()),
                ("impute", SimpleImputer(strategy="most_frequent", missing_values=np.nan)),
                ("onehot", encoder),
            ]
        )
    transformers = [(key, steps_of[key], cols) for key, cols in groups.items()]
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def feature_names(pipeline) -> list[str]:
    """Design-column names of a fitted zoo pipeline (its ``preprocess`` step).

    Parameters
    ----------
    pipeline : sklearn.pipeline.Pipeline
        A fitted pipeline with a ``preprocess`` step.

    Returns
    -------
    list of str

    Examples
    --------
    >>> from analysis.models.zoo import model_zoo
    >>> cb = {"age": {"type": "numeric"}}
    >>> X = pd.DataFrame({"age": [30.0, 40.0, 50.0, 60.0]})
    >>> pipe = model_zoo(cb, ["age"], include=["logistic"])["logistic"].pipeline
    >>> feature_names(pipe.fit(X, [0, 1, 0, 1]))
    ['age']
    """
    if "preprocess" not in getattr(pipeline, "named_steps", {}):
        raise AnalysisError("pipeline has no 'preprocess' step")
    return [str(v) for v in pipeline.named_steps["preprocess"].get_feature_names_out()]
