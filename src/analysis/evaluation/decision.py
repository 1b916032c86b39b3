"""Decision curve analysis (Vickers & Elkin 2006): net benefit across risk thresholds.

At threshold probability ``t`` a patient is treated when ``prob >= t`` and

``net_benefit(t) = TP/n - FP/n * t / (1 - t)``.

The reference strategies are *treat all* (``prob = 1`` for everybody, named
``"all"``) and *treat none* (net benefit 0, named ``"none"``).  Thresholds must lie
strictly between 0 and 1.  The numbers equal those of ``dcurves.dca`` for binary
outcomes without harm (checked by the test-suite against a stored dcurves output).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.validators import check_outcome, check_probabilities

__all__ = [
    "DEFAULT_THRESHOLDS",
    "decision_curve",
    "net_benefit",
]

DEFAULT_THRESHOLDS = np.arange(0.01, 1.0, 0.01)
_RESERVED = ("all", "none")


def _check_thresholds(thresholds) -> np.ndarray:
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if t.ndim != 1 or t.size == 0:
        raise AnalysisError("thresholds must be a non-empty one-dimensional sequence")
    if not np.isfinite(t).all() or ((t <= 0) | (t >= 1)).any():
        raise AnalysisError("thresholds must all lie strictly between 0 and 1")
    return t


def _rates(y: np.ndarray, p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True- and false-positive counts per ``n`` at each threshold (``p >= t``)."""
    n = y.size
    pos = np.sort(p[y == 1])
    neg = np.sort(p[y == 0])
    tp = pos.size - np.searchsorted(pos, t, side="left")
    fp = neg.size - np.searchsorted(neg, t, side="left")
    return tp / n, fp / n


def net_benefit(y_true, prob, thresholds) -> np.ndarray:
    """Net benefit of treating patients whose predicted risk is at least each threshold.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1).
    prob : array_like
        Predicted probabilities in ``[0, 1]``.
    thresholds : float or array_like
        Threshold probabilities strictly between 0 and 1.

    Returns
    -------
    numpy.ndarray
        Net benefit at each threshold.

    Raises
    ------
    AnalysisError
        On invalid inputs.

    Examples
    --------
    >>> net_benefit([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], [0.5]).tolist()
    [0.0]
    """
    y = check_outcome(y_true, both_classes=False)
    p = check_probabilities(prob, y.size)
    t = _check_thresholds(thresholds)
    tp, fp = _rates(y, p, t)
    return tp - fp * t / (1 - t)


def decision_curve(y_true, predictions, thresholds=DEFAULT_THRESHOLDS) -> pd.DataFrame:
    """Tidy decision-curve table for one or more models plus treat-all and treat-none.

    Parameters
    ----------
    y_true : array_like
        Binary outcomes (0/1).
    predictions : dict of str to array_like
        Predicted probabilities per model; the names ``"all"`` and ``"none"`` are
        reserved for the reference strategies.
    thresholds : array_like, default ``np.arange(0.01, 1.0, 0.01)``
        Threshold probabilities strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, threshold, net_benefit, tp_rate, fp_rate`` (rates are counts
        divided by the number of patients); models in input order, then ``all``,
        then ``none``, each over all thresholds.

    Raises
    ------
    AnalysisError
        On invalid inputs or a reserved model name.

    Examples
    --------
    >>> df = decision_curve([1, 0, 1, 0], {"m": [0.9, 0.6, 0.4, 0.1]}, [0.25, 0.5])
    >>> df["model"].unique().tolist()
    ['m', 'all', 'none']
    """
    y = check_outcome(y_true, both_classes=False)
    t = _check_thresholds(thresholds)
    if not isinstance(predictions, dict) or not predictions:
        raise AnalysisError("predictions must be a non-empty dict of model name -> probabilities")
    frames = []
    for name, prob in predictions.items():
        if name in _RESERVED:
            raise AnalysisError(f"predictions must not use the reserved model name {name!r}")
        p = check_probabilities(prob, y.size, name=f"predictions[{name!r}]")
        frames.append((str(name), *_rates(y, p, t)))
    prev = y.mean()
    frames.append(("all", np.full(t.size, prev), np.full(t.size, 1 - prev)))
    frames.append(("none", np.zeros(t.size), np.zeros(t.size)))
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "model": name,
                    "threshold": t,
                    "net_benefit": tp - fp * t / (1 - t),
                    "tp_rate": tp,
                    "fp_rate": fp,
                }
            )
            for name, tp, fp in frames
        ],
        ignore_index=True,
    )


