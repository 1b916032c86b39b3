"""The design matrix of an inner fold, computed in NumPy: the zoo's preprocessing, without its call overhead.

A tuned fit (:func:`analysis.models.tuning.grid_search`) fits the pipeline's preprocessing
once per inner fold and transforms the fold's two parts; the bootstrap and the nested
cross-validation repeat that thousands of times.  On a few hundred patients the
arithmetic of the :class:`~sklearn.compose.ColumnTransformer` that
:func:`analysis.models.preprocessing.build_preprocessor` builds (transforms, median and
most-frequent imputation, restricted cubic splines, standardisation, one-hot coding) is
negligible; what costs is its machinery - input validation in every step, pandas
indexing, the nested pipelines - about half of a tuned fit of the SVM or the lasso.

:func:`compile_design` reads such an *unfitted* transformer and returns a
:class:`FoldDesign` that learns the same statistics with the same NumPy routines
scikit-learn calls (``np.ma.median`` for the median, the smallest of the most frequent
values, scikit-learn's own running mean and variance for the scaler) and applies them
with the same operations in the same order, so its matrices are *bitwise* equal to the
transformer's ``fit_transform`` / ``transform`` (the tests check this on every demo
study and on hostile data).  Anything it does not recognise (another transformer, a
parameter it does not model, a pandas extension dtype, a training column that is
entirely missing, which the imputer would drop) makes it decline - :func:`compile_design`
returns ``None`` or :meth:`FoldDesign.fit_transform` returns ``None`` - and the caller
uses the transformer itself.  Only the inner folds use it: every model that is kept,
saved or shipped is the scikit-learn pipeline.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from analysis.models.estimators import (
    AsString,
    BracketName,
    ClippedLog,
    Log1pTransform,
    SqrtNonNegative,
)

try:  # the scaler's own arithmetic; without it (another scikit-learn), no fast path
    from sklearn.preprocessing._data import _handle_zeros_in_scale, _is_constant_feature
    from sklearn.utils.extmath import _incremental_mean_and_var
except ImportError:  # pragma: no cover - depends on the installed scikit-learn
    _incremental_mean_and_var = None

__all__ = ["FittedFoldDesign", "FoldDesign", "compile_design"]

_IMPUTER_DEFAULTS = {"fill_value": None, "copy": True, "add_indicator": False,
                     "keep_empty_features": False}


@dataclass(frozen=True)
class _Block:
    """One transformer of the column transformer: its kind, columns and steps."""

    kind: str  # "numeric", "binary" or "categorical"
    columns: tuple[str, ...]
    transform: Any = None  # ClippedLog / Log1pTransform / SqrtNonNegative (numeric only)
    spline: Any = None  # RestrictedCubicSpline (numeric only, one column)
    scale: bool = False
    categories: tuple[tuple[str, ...], ...] = ()


def _is_nan(value) -> bool:
    return isinstance(value, float) and np.isnan(value)


def _plain_imputer(step, strategy: str) -> bool:
    if type(step) is not SimpleImputer or step.strategy != strategy:
        return False
    if not _is_nan(step.missing_values):
        return False
    return all(getattr(step, k) == v if v is not None else getattr(step, k) is None
               for k, v in _IMPUTER_DEFAULTS.items())


def _plain_scaler(step) -> bool:
    return type(step) is StandardScaler and step.with_mean and step.with_std and step.copy


def _numeric_block(steps, columns) -> _Block | None:
    from analysis.regression.splines import RestrictedCubicSpline

    names = [name for name, _ in steps]
    objects = dict(steps)
    transform = objects.get("transform")
    if transform is not None and type(transform) not in (ClippedLog, Log1pTransform, SqrtNonNegative):
        return None
    expected = [n for n in ("transform", "impute", "spline", "scale") if n in objects]
    if names != expected or "impute" not in objects:
        return None
    if not _plain_imputer(objects["impute"], "median"):
        return None
    spline = objects.get("spline")
    if spline is not None and (type(spline) is not RestrictedCubicSpline or len(columns) != 1):
        return None
    scale = objects.get("scale")
    if scale is not None and not _plain_scaler(scale):
        return None
    return _Block("numeric", tuple(columns), transform=transform, spline=spline,
                  scale=scale is not None)


def _categorical_block(steps, columns) -> _Block | None:
    if [name for name, _ in steps] != ["as_string", "impute", "onehot"]:
        return None
    as_string, imputer, encoder = (step for _, step in steps)
    if type(as_string) is not AsString or not _plain_imputer(imputer, "most_frequent"):
        return None
    if (type(encoder) is not OneHotEncoder or encoder.drop != "first"
            or encoder.handle_unknown != "ignore" or encoder.sparse_output
            or encoder.dtype is not np.float64 or encoder.min_frequency is not None
            or encoder.max_categories is not None
            or not isinstance(encoder.feature_name_combiner, BracketName)
            or not isinstance(encoder.categories, list | tuple)
            or len(encoder.categories) != len(columns)):
        return None
    categories = tuple(tuple(level for level in levels) for levels in encoder.categories)
    if not all(len(levels) >= 2 and all(type(v) is str for v in levels)
               and len(set(levels)) == len(levels) for levels in categories):
        return None
    return _Block("categorical", tuple(columns), categories=categories)


def compile_design(preprocess) -> FoldDesign | None:
    """A :class:`FoldDesign` equivalent to an unfitted zoo preprocessor, or ``None``.

    Parameters
    ----------
    preprocess : object
        The ``preprocess`` step of a zoo pipeline: a
        :class:`~sklearn.compose.ColumnTransformer` from
        :func:`analysis.models.preprocessing.build_preprocessor`.  Anything else (for
        example the phenotype step in front of it, or a hand-made transformer) gives
        ``None``.

    Returns
    -------
    FoldDesign or None

    Examples
    --------
    >>> from analysis.models.preprocessing import build_preprocessor
    >>> cb = {"age": {"type": "numeric"},
    ...       "sex": {"type": "categorical", "levels": ["female", "male"]}}
    >>> X = pd.DataFrame({"age": [30.0, np.nan, 50.0], "sex": ["male", "female", np.nan]})
    >>> pre = build_preprocessor(cb, ["age", "sex"])
    >>> Z, fitted = compile_design(pre).fit_transform(X)
    >>> bool(np.array_equal(Z, pre.fit_transform(X)))
    True
    >>> compile_design(None) is None
    True
    """
    if _incremental_mean_and_var is None or type(preprocess) is not ColumnTransformer:
        return None
    if preprocess.remainder != "drop" or preprocess.sparse_threshold not in (0, 0.0, 0.3) \
            or preprocess.transformer_weights is not None:
        return None
    blocks = []
    for _, transformer, columns in preprocess.transformers:
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
            return None
        if type(transformer) is SimpleImputer:
            if not _plain_imputer(transformer, "most_frequent"):
                return None
            block = _Block("binary", tuple(columns))
        elif type(transformer) is Pipeline and transformer.memory is None:
            kinds = [name for name, _ in transformer.steps]
            block = (_categorical_block(transformer.steps, columns) if kinds and kinds[0] == "as_string"
                     else _numeric_block(transformer.steps, columns))
        else:
            return None
        if block is None:
            return None
        blocks.append(block)
    return FoldDesign(tuple(blocks))


def _median(values: np.ndarray, missing: np.ndarray) -> np.ndarray:
    # SimpleImputer(strategy="median")._dense_fit
    masked = np.ma.masked_array(values, mask=missing)
    median_masked = np.ma.median(masked, axis=0)
    median = np.ma.getdata(median_masked)
    median[np.ma.getmaskarray(median_masked)] = np.nan
    return median


def _most_frequent_number(column: np.ndarray) -> float:
    # scipy's mode, as SimpleImputer(strategy="most_frequent"): the smallest of the modes
    values, counts = np.unique(column, return_counts=True)
    return values[int(np.argmax(counts))]


def _most_frequent_text(column: np.ndarray):
    counter = Counter(column)
    top = counter.most_common(1)[0][1]
    return min(value for value, count in counter.items() if count == top)


def _numeric_frame(frame: pd.DataFrame) -> np.ndarray | None:
    if not all(isinstance(dtype, np.dtype) and dtype.kind in "iuf" for dtype in frame.dtypes):
        return None
    return frame.to_numpy()


def _as_text(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """:class:`AsString` applied to ``frame``, and where its values are missing."""
    values = AsString().fit(frame).transform(frame)
    return values, pd.isna(values)


def _fills(values: np.ndarray, missing: np.ndarray, most_frequent) -> list | None:
    """The most frequent present value of each column (None: a column has none)."""
    fills = []
    for j in range(values.shape[1]):
        present = values[~missing[:, j], j]
        if present.size == 0:
            return None
        fills.append(most_frequent(present))
    return fills


class FoldDesign:
    """The recipe of a zoo preprocessor (see :func:`compile_design`); fit it per inner fold."""

    def __init__(self, blocks: tuple[_Block, ...]):
        self.blocks = blocks

    def fit_transform(self, X: pd.DataFrame) -> tuple[np.ndarray, FittedFoldDesign] | None:
        """Learn the statistics on ``X`` and return its design matrix with the fitted design.

        Parameters
        ----------
        X : pandas.DataFrame
            Training rows, with every column the preprocessor names.

        Returns
        -------
        (numpy.ndarray, FittedFoldDesign) or None
            ``None`` when the data take a path this class does not reproduce (a training
            column entirely missing, a non-NumPy dtype): use the transformer.

        Examples
        --------
        >>> from analysis.models.preprocessing import build_preprocessor
        >>> design = compile_design(build_preprocessor({"x": {"type": "numeric"}}, ["x"]))
        >>> design.fit_transform(pd.DataFrame({"x": [np.nan, np.nan]})) is None
        True
        """
        if not isinstance(X, pd.DataFrame):
            return None
        fitted = []
        for block in self.blocks:
            frame = X[list(block.columns)]
            if block.kind == "categorical":
                values, missing = _as_text(frame)
                fill = _fills(values, missing, _most_frequent_text)
                if fill is None:
                    return None
                state = {"fill": fill}
            else:
                values = _numeric_frame(frame)
                if values is None:
                    return None
                if block.kind == "binary":
                    missing = np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
                    fill = _fills(values, missing, _most_frequent_number)
                    if fill is None:
                        return None
                    state = {"fill": np.asarray(fill, dtype=values.dtype)}
                else:
                    state = {}
                    values = values.astype(float)
                    if block.transform is not None:
                        transform = clone(block.transform).fit(values)
                        values = transform.transform(values)
                        state["transform"] = transform
                    median = _median(values, np.isnan(values))
                    if np.isnan(median).any():
                        return None
                    state["median"] = median
                    values = _fill(values, np.isnan(values), median)
                    if block.spline is not None:
                        spline = clone(block.spline).fit(values)
                        state["spline"] = spline
                        values = spline.transform(values)
                    if block.scale:
                        mean, var, count = _incremental_mean_and_var(
                            values, 0.0, 0.0, np.zeros(values.shape[1], dtype=np.int64))
                        if np.max(count) == np.min(count):
                            count = count[0]
                        constant = _is_constant_feature(var, mean, count)
                        state["mean"] = mean
                        state["scale"] = _handle_zeros_in_scale(np.sqrt(var), copy=False,
                                                                constant_mask=constant)
            fitted.append((block, state))
        design = FittedFoldDesign(tuple(fitted))
        # the training matrix is the transform of the training rows (as fit_transform)
        return design.transform(X), design


def _fill(values: np.ndarray, missing: np.ndarray, fill) -> np.ndarray:
    # SimpleImputer.transform: X[coordinates] = statistics at the missing cells
    if not missing.any():
        return values
    out = values.copy(order="K")  # the layout decides the scaler's summation order
    rows, cols = np.nonzero(missing)
    out[rows, cols] = np.asarray(fill)[cols]
    return out


class FittedFoldDesign:
    """A :class:`FoldDesign` fitted on an inner fold's training rows."""

    def __init__(self, fitted: tuple):
        self.fitted = fitted

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The design matrix of ``X`` (bitwise the fitted transformer's ``transform``).

        Parameters
        ----------
        X : pandas.DataFrame

        Returns
        -------
        numpy.ndarray

        Examples
        --------
        >>> from analysis.models.preprocessing import build_preprocessor
        >>> design = compile_design(build_preprocessor({"x": {"type": "numeric"}}, ["x"]))
        >>> Z, fitted = design.fit_transform(pd.DataFrame({"x": [1.0, 3.0]}))
        >>> fitted.transform(pd.DataFrame({"x": [np.nan]})).tolist()
        [[0.0]]
        """
        parts = []
        for block, state in self.fitted:
            frame = X[list(block.columns)]
            if block.kind == "categorical":
                values, missing = _as_text(frame)
                values = _fill(values, missing, np.asarray(state["fill"], dtype=object))
                columns = []
                for j, levels in enumerate(block.categories):
                    for level in levels[1:]:
                        columns.append(values[:, j] == level)
                parts.append(np.column_stack(columns).astype(np.float64) if columns
                             else np.empty((len(X), 0)))
            elif block.kind == "binary":
                values = frame.to_numpy()
                if values.dtype.kind == "f":
                    values = _fill(values, np.isnan(values), state["fill"])
                parts.append(values)
            else:
                values = frame.to_numpy().astype(float)
                if "transform" in state:
                    values = state["transform"].transform(values)
                values = _fill(values, np.isnan(values), state["median"])
                if "spline" in state:
                    values = state["spline"].transform(values)
                if "mean" in state:
                    values = values.astype(np.float64, copy=True)
                    values -= state["mean"]
                    values /= state["scale"]
                parts.append(values)
        return np.hstack(parts)
