"""Optimal cut-offs of a single continuous marker (Youden's J) with bootstrap uncertainty.

A marker is *test-positive* at cut-off ``c`` when ``marker >= c`` (direction
``"higher"``) or ``marker <= c`` (direction ``"lower"``).  The cut-off is chosen among the
observed marker values to maximise Youden's ``J = sensitivity + specificity - 1``; when
several values give the same maximum (to within ``1e-12``) the *smallest* of them is
taken, whatever the direction.

Uncertainty
-----------
* AUC: DeLong interval of :func:`analysis.evaluation.metrics.delong_auc` on the marker
  oriented by the direction (``-marker`` for ``"lower"``).
* Cut-off, sensitivity and specificity: percentile bootstrap (ordinary, unstratified
  resampling of patients by :func:`analysis.evaluation.metrics.bootstrap_indices`).  In each
  resample the cut-off is *re-chosen* by the same rule (the direction stays the one of the
  full sample) and the resample's sensitivity and specificity at that cut-off are recorded;
  the intervals are the ``alpha/2`` and ``1 - alpha/2`` quantiles of those values.
  Resamples with a single outcome class are skipped.

The apparent sensitivity and specificity at a cut-off chosen on the same data are
optimistic (the maximum of ``J`` over many candidate cut-offs is biased upwards), and the
bootstrap intervals above describe the variability of the re-estimated values, not an
optimism-corrected performance: a cut-off should be confirmed in independent data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import bootstrap_indices, delong_auc
from analysis.validators import as_list, check_alpha, check_outcome, require_columns

__all__ = ["CUTOFF_COLUMNS", "cutoff_table", "youden_cutoff"]

#: Columns of :func:`youden_cutoff` and :func:`cutoff_table`, in order.
CUTOFF_COLUMNS = (
    "marker", "n", "events", "direction", "auc", "auc_ci_lower", "auc_ci_upper",
    "cutoff", "cutoff_ci_lower", "cutoff_ci_upper",
    "sensitivity", "sensitivity_ci_lower", "sensitivity_ci_upper",
    "specificity", "specificity_ci_lower", "specificity_ci_upper", "youden_j",
)

_TIE_TOL = 1e-12


def _best_cutoff(x: np.ndarray, y: np.ndarray, direction: str) -> tuple[float, float, float]:
    """(cutoff, sensitivity, specificity) maximising J over the observed values of ``x``."""
    values = np.unique(x)
    pos = np.sort(x[y == 1])
    neg = np.sort(x[y == 0])
    if direction == "higher":
        tp = pos.size - np.searchsorted(pos, values, side="left")
        fp = neg.size - np.searchsorted(neg, values, side="left")
    else:
        tp = np.searchsorted(pos, values, side="right")
        fp = np.searchsorted(neg, values, side="right")
    sens = tp / pos.size
    spec = 1.0 - fp / neg.size
    j = sens + spec - 1.0
    best = int(np.flatnonzero(j >= j.max() - _TIE_TOL)[0])  # values ascending: the smallest
    return float(values[best]), float(sens[best]), float(spec[best])


def youden_cutoff(
    marker,
    y,
    *,
    direction: str = "auto",
    n_boot: int = 1000,
    seed: int | None = 0,
    alpha: float = 0.05,
    name: str | None = None,
) -> pd.DataFrame:
    """Youden-optimal cut-off of one marker with AUC, sensitivity and specificity and their CIs.

    Parameters
    ----------
    marker : array_like
        Continuous marker values; NaN allowed (that row is dropped).
    y : array_like
        Binary outcomes 0/1 of the same length; NaN allowed (that row is dropped).
    direction : {"auto", "higher", "lower"}, default "auto"
        ``"higher"``: ``marker >= cutoff`` predicts ``y = 1``; ``"lower"``:
        ``marker <= cutoff`` does; ``"auto"``: ``"higher"`` when the AUC of the marker is at
        least 0.5, else ``"lower"`` (so the reported AUC is always >= 0.5).
    n_boot : int, default 1000
        Bootstrap resamples for the cut-off, sensitivity and specificity intervals (>= 2).
    seed : int or None, default 0
        Seed of :func:`numpy.random.default_rng`; a given seed gives identical output.
    alpha : float, default 0.05
        One minus the confidence level.
    name : str, optional
        Value of the ``marker`` column; default the Series name or ``"marker"``.

    Returns
    -------
    pandas.DataFrame
        One row with the columns of :data:`CUTOFF_COLUMNS`: ``n`` (rows used), ``events``,
        ``direction``, the DeLong AUC with CI, the cut-off, sensitivity and specificity with
        percentile bootstrap CIs, and ``youden_j``.  The apparent sensitivity and
        specificity are optimistic (see the module docstring).

    Raises
    ------
    AnalysisError
        On lengths that differ, a non-numeric marker, invalid outcomes (after dropping
        missing rows both classes are needed), ``direction``, ``n_boot`` or ``alpha``.

    Examples
    --------
    >>> t = youden_cutoff([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1], n_boot=20)
    >>> t[["direction", "cutoff", "sensitivity", "specificity"]].round(3).values.tolist()
    [['higher', 3.0, 1.0, 0.667]]

    Cut-offs 3 and 5 both give ``J = 2/3`` here; the smaller one is reported.
    """
    if direction not in ("auto", "higher", "lower"):
        raise AnalysisError(f"direction must be 'auto', 'higher' or 'lower', got {direction!r}")
    if not (isinstance(n_boot, int | np.integer) and not isinstance(n_boot, bool) and n_boot >= 2):
        raise AnalysisError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    alpha = check_alpha(alpha)
    if name is None:
        name = str(marker.name) if isinstance(marker, pd.Series) and marker.name is not None \
            else "marker"
    try:
        x = np.asarray(marker, dtype=float)
        yy = np.asarray(y, dtype=float)
    except (TypeError, ValueError):
        raise AnalysisError(f"marker {name!r} and y must be numeric") from None
    if x.ndim != 1 or yy.ndim != 1 or x.size != yy.size:
        raise AnalysisError(
            f"marker {name!r} and y must be one-dimensional of the same length, "
            f"got {x.shape} and {yy.shape}"
        )
    if np.isinf(x).any():
        raise AnalysisError(f"marker {name!r} contains infinite values")
    keep = ~(np.isnan(x) | np.isnan(yy))
    x = x[keep]
    yi = check_outcome(yy[keep], name=f"y (rows with {name!r} observed)")

    auc_higher = delong_auc(yi, x, alpha=alpha)
    if direction == "auto":
        direction = "higher" if auc_higher.auc >= 0.5 else "lower"
    auc = auc_higher if direction == "higher" else delong_auc(yi, -x, alpha=alpha)
    cutoff, sens, spec = _best_cutoff(x, yi, direction)

    rng = np.random.default_rng(seed)
    boot = np.full((int(n_boot), 3), np.nan)
    for b, idx in enumerate(bootstrap_indices(x.size, int(n_boot), rng)):
        yb = yi[idx]
        if yb.min() == yb.max():
            continue
        boot[b] = _best_cutoff(x[idx], yb, direction)
    boot = boot[np.isfinite(boot).all(axis=1)]
    if boot.shape[0] < 2:
        raise AnalysisError(f"marker {name!r}: fewer than 2 bootstrap resamples had both classes")
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2], axis=0)

    row = {
        "marker": name,
        "n": int(x.size),
        "events": int(yi.sum()),
        "direction": direction,
        "auc": auc.auc,
        "auc_ci_lower": auc.ci_lower,
        "auc_ci_upper": auc.ci_upper,
        "cutoff": cutoff,
        "cutoff_ci_lower": float(lo[0]),
        "cutoff_ci_upper": float(hi[0]),
        "sensitivity": sens,
        "sensitivity_ci_lower": float(lo[1]),
        "sensitivity_ci_upper": float(hi[1]),
        "specificity": spec,
        "specificity_ci_lower": float(lo[2]),
        "specificity_ci_upper": float(hi[2]),
        "youden_j": sens + spec - 1.0,
    }
    return pd.DataFrame([row], columns=list(CUTOFF_COLUMNS))


def cutoff_table(frame: pd.DataFrame, markers: Sequence[str], y, **kw) -> pd.DataFrame:
    """:func:`youden_cutoff` for several markers of one DataFrame, one row per marker.

    Parameters
    ----------
    frame : pandas.DataFrame
        Data holding the marker columns (and the outcome when ``y`` is a column name).
    markers : sequence of str
        Marker columns, in the order of the rows.
    y : str or array_like
        Outcome column of ``frame`` or outcomes aligned with its rows.
    **kw
        Passed to :func:`youden_cutoff` (``direction``, ``n_boot``, ``seed``, ``alpha``).
        Each marker drops its own missing rows, so ``n`` may differ between rows.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`CUTOFF_COLUMNS`.

    Raises
    ------
    AnalysisError
        On missing columns or invalid arguments (see :func:`youden_cutoff`).

    Examples
    --------
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4], "b": [4, 3, 2, 1], "y": [0, 0, 1, 1]})
    >>> cutoff_table(df, ["a", "b"], "y", n_boot=10)[["marker", "direction", "auc"]].values.tolist()
    [['a', 'higher', 1.0], ['b', 'lower', 1.0]]
    """
    markers = as_list(markers, "markers")
    if "name" in kw:
        raise AnalysisError("cutoff_table names each row after its marker column; do not pass name")
    require_columns(frame, markers + ([y] if isinstance(y, str) else []))
    outcome = frame[y].to_numpy() if isinstance(y, str) else np.asarray(y)
    if outcome.shape[0] != len(frame):
        raise AnalysisError(f"y must have one value per row of frame ({len(frame)}), got {outcome.shape[0]}")
    rows = [youden_cutoff(frame[m].to_numpy(), outcome, name=m, **kw) for m in markers]
    return pd.concat(rows, ignore_index=True)
