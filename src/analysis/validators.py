"""Input checks shared by every stage: lists of names, required columns, codebook entries, outcomes, probabilities, and the probability clip."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from analysis.errors import AnalysisError

if TYPE_CHECKING:
    import pandas as pd


def caller_stacklevel() -> int:
    """``stacklevel`` that points a warning at the first caller outside this package."""
    frame = sys._getframe(2)
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("analysis."):
        frame = frame.f_back
        level += 1
    return level


def codebook_entry(variables: Mapping[str, Mapping], name: str) -> Mapping:
    if name not in variables:
        raise AnalysisError(f"column '{name}' is not described in the codebook `variables`")
    spec = variables[name]
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise AnalysisError(f"column '{name}': codebook entry must be a mapping with a 'type'")
    return spec


def require_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    import pandas as pd  # here, not at import: the command line's parent process has no need of it

    if not isinstance(df, pd.DataFrame):
        raise AnalysisError(f"expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AnalysisError(f"column(s) {missing} not found in the data")


def as_list(names, what: str) -> list[str]:
    if isinstance(names, str):
        return [names]
    names = list(names)
    if not names:
        raise AnalysisError(f"no {what} given")
    if len(set(names)) != len(names):
        raise AnalysisError(f"{what} contain duplicates: {names}")
    return names


def check_outcome(y_true, *, name: str = "y_true", both_classes: bool = True) -> np.ndarray:
    """Validate a binary outcome vector and return it as an int array of 0/1.

    Parameters
    ----------
    y_true : array_like
        One-dimensional outcomes coded 0/1 (or booleans).
    name : str, default "y_true"
        Argument name used in error messages.
    both_classes : bool, default True
        Require at least one event and one non-event.

    Returns
    -------
    numpy.ndarray
        Integer array of 0/1.

    Raises
    ------
    AnalysisError
        If the vector is empty, not one-dimensional, contains missing values or
        values other than 0/1, or (with ``both_classes``) only one class.

    Examples
    --------
    >>> check_outcome([True, False, 1, 0]).tolist()
    [1, 0, 1, 0]
    """
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise AnalysisError(f"{name} must be one-dimensional, got shape {y.shape}")
    if y.size == 0:
        raise AnalysisError(f"{name} must not be empty")
    if y.dtype == bool:
        y = y.astype(int)
    try:
        yf = y.astype(float)
    except (TypeError, ValueError):
        raise AnalysisError(f"{name} must contain only 0/1 values") from None
    if np.isnan(yf).any():
        raise AnalysisError(f"{name} must not contain missing values")
    if not np.isin(yf, (0.0, 1.0)).all():
        bad = np.unique(yf[~np.isin(yf, (0.0, 1.0))])[:5].tolist()
        raise AnalysisError(f"{name} must contain only 0/1 values, found {bad}")
    yi = yf.astype(int)
    if both_classes and (yi.min() == yi.max()):
        raise AnalysisError(f"{name} must contain both events (1) and non-events (0)")
    return yi


def check_scores(score, n: int, *, name: str = "score") -> np.ndarray:
    """Validate a vector of finite real-valued scores of length ``n``.

    Parameters
    ----------
    score : array_like
        One-dimensional scores.
    n : int
        Required length (the length of the outcome vector).
    name : str, default "score"
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        Float array.

    Raises
    ------
    AnalysisError
        If the length differs from ``n`` or any value is missing or infinite.

    Examples
    --------
    >>> check_scores([0.3, -2.0], 2).tolist()
    [0.3, -2.0]
    """
    s = np.asarray(score)
    if s.ndim != 1:
        raise AnalysisError(f"{name} must be one-dimensional, got shape {s.shape}")
    try:
        s = s.astype(float)
    except (TypeError, ValueError):
        raise AnalysisError(f"{name} must be numeric") from None
    if s.size != n:
        raise AnalysisError(f"{name} must have the same length as y_true ({n}), got {s.size}")
    if not np.isfinite(s).all():
        raise AnalysisError(f"{name} must contain only finite values (no NaN or inf)")
    return s


def check_probabilities(
    prob, n: int, *, name: str = "prob", open_interval: bool = False
) -> np.ndarray:
    """Validate predicted probabilities of length ``n``.

    Parameters
    ----------
    prob : array_like
        One-dimensional predicted probabilities.
    n : int
        Required length (the length of the outcome vector).
    name : str, default "prob"
        Argument name used in error messages.
    open_interval : bool, default False
        Require ``0 < prob < 1`` (needed wherever ``logit(prob)`` is taken).

    Returns
    -------
    numpy.ndarray
        Float array.

    Raises
    ------
    AnalysisError
        If the length differs, a value is missing, or a value lies outside
        ``[0, 1]`` (or ``(0, 1)`` with ``open_interval``).

    Examples
    --------
    >>> check_probabilities([0.2, 0.9], 2).tolist()
    [0.2, 0.9]
    """
    p = check_scores(prob, n, name=name)
    if open_interval:
        if ((p <= 0) | (p >= 1)).any():
            raise AnalysisError(f"{name} must lie strictly between 0 and 1 (logit is taken)")
    elif ((p < 0) | (p > 1)).any():
        raise AnalysisError(f"{name} must lie in [0, 1]")
    return p


def check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float) and 0 < alpha < 1):
        raise AnalysisError(f"alpha must be a number strictly between 0 and 1, got {alpha!r}")
    return float(alpha)


def require_frame_columns(df, columns, name):
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise AnalysisError(f"{name}: must be a pandas DataFrame")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise AnalysisError(f"{name}: missing column(s) {', '.join(missing)}")


#: Probabilities are clipped to ``[PROB_CLIP, 1 - PROB_CLIP]`` wherever a logit is taken.
PROB_CLIP = 1e-6


def clip_probabilities(prob) -> np.ndarray:
    """Probabilities clipped to ``[PROB_CLIP, 1 - PROB_CLIP]`` so that their logit is finite.

    Examples
    --------
    >>> clip_probabilities([0.0, 0.5, 1.0]).tolist()
    [1e-06, 0.5, 0.999999]
    """
    return np.clip(np.asarray(prob, dtype=float), PROB_CLIP, 1 - PROB_CLIP)


def is_finite_number(value) -> bool:
    """Whether ``value`` is a finite real number of a numeric type (not text, not a bool).

    The check for values read from study.yaml and model.json, where ``"3"`` or ``true``
    must not pass as numbers.

    Examples
    --------
    >>> is_finite_number(2), is_finite_number(np.float64(0.5)), is_finite_number(float("inf"))
    (True, True, False)
    >>> is_finite_number("3"), is_finite_number(True), is_finite_number(None)
    (False, False, False)
    """
    return (isinstance(value, int | float | np.integer | np.floating)
            and not isinstance(value, bool | np.bool_) and bool(np.isfinite(value)))
