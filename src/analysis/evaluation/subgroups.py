"""Performance of one model's predicted risks within patient subgroups.

A pure table builder: given outcomes, predicted probabilities (ideally out-of-fold, e.g.
:func:`analysis.validation.oof_probabilities`) and the cohort, it reports, per level of
each subgrouping variable, the number of patients and events, the AUC with its DeLong 95%
confidence interval, and calibration-in-the-large (observed minus expected risk), as
TRIPOD+AI asks for performance across relevant subgroups.  Any further score of
:func:`analysis.evaluation.scores.score_binary` (Brier, calibration slope, ICI, ...) can be
added per level with ``metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import delong_auc
from analysis.evaluation.scores import SCORES, score_binary
from analysis.validators import check_outcome, check_probabilities

__all__ = ["SUBGROUP_COLUMNS", "age_band_labels", "subgroup_performance"]

#: Columns of :func:`subgroup_performance`, in order.
SUBGROUP_COLUMNS = (
    "subgroup",
    "level",
    "n",
    "events",
    "auc",
    "auc_ci_lower",
    "auc_ci_upper",
    "observed",
    "expected",
    "calibration_in_the_large",
    "oe_ratio",
)

MISSING_LEVEL = "missing"


def _fmt(value) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def age_band_labels(cuts: Sequence[float]) -> list[str]:
    """Labels of the age bands defined by increasing cut points.

    Band ``j`` holds ``cuts[j-1] <= age < cuts[j]``; whole-number cuts are labelled
    as whole years (``40–59`` means 40 up to, not including, 60).

    Parameters
    ----------
    cuts : sequence of float
        Strictly increasing cut points.

    Returns
    -------
    list of str
        ``len(cuts) + 1`` labels.

    Examples
    --------
    >>> age_band_labels((40, 60))
    ['<40', '40–59', '≥60']
    """
    c = [float(v) for v in cuts]
    if not c or np.any(np.diff(c) <= 0) or not np.all(np.isfinite(c)):
        raise AnalysisError(f"age_bands must be strictly increasing finite numbers, got {cuts!r}")
    labels = [f"<{_fmt(c[0])}"]
    for lo, hi in zip(c[:-1], c[1:], strict=True):
        upper = _fmt(hi - 1) if lo.is_integer() and hi.is_integer() else f"<{_fmt(hi)}"
        labels.append(f"{_fmt(lo)}–{upper}")
    labels.append(f"≥{_fmt(c[-1])}")
    return labels


def _band(values: pd.Series, cuts: Sequence[float]) -> pd.Series:
    labels = age_band_labels(cuts)
    x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    codes = np.searchsorted(np.asarray(cuts, dtype=float), x, side="right")
    out = pd.Series([labels[k] for k in codes], index=values.index, dtype=object)
    out[np.isnan(x)] = np.nan
    return pd.Series(pd.Categorical(out, categories=labels), index=values.index)


def _levels(col: pd.Series) -> list:
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.dropna().unique())
        return [c for c in col.cat.categories if c in present]
    values = col.dropna().unique().tolist()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _row(name: str, level: str, y: np.ndarray, p: np.ndarray, metrics: list[str]) -> dict:
    n = int(y.size)
    events = int(y.sum())
    if 0 < events < n:
        a = delong_auc(y, p)
        auc, lo, hi = a.auc, a.ci_lower, a.ci_upper
    else:
        auc = lo = hi = np.nan
    observed = events / n if n else np.nan
    expected = float(p.mean()) if n else np.nan
    return {
        "subgroup": name,
        "level": level,
        "n": n,
        "events": events,
        "auc": auc,
        "auc_ci_lower": lo,
        "auc_ci_upper": hi,
        "observed": observed,
        "expected": expected,
        "calibration_in_the_large": observed - expected,
        "oe_ratio": observed / expected if expected > 0 else np.nan,
        **(score_binary(y, p, metrics=metrics) if metrics else {}),
    }


def _check_metrics(metrics: Sequence[str]) -> list[str]:
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    allowed = [m for m in SCORES if m != "auc"]  # the AUC is always a column
    bad = [m for m in names if m not in allowed]
    if bad or len(set(names)) != len(names):
        raise AnalysisError(f"metrics must be distinct names from {allowed}, got {names}")
    return names


def subgroup_performance(
    y,
    prob,
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    age_column: str | None = None,
    age_bands: Sequence[float] = (40, 60),
    overall: bool = True,
    metrics: Sequence[str] = (),
) -> pd.DataFrame:
    """AUC and calibration-in-the-large of predicted risks per subgroup level.

    Per level: ``n``, ``events``, the AUC with its DeLong 95% CI (Wald, clipped to
    [0, 1]; NaN when the level has only events or only non-events), ``observed`` = event
    proportion, ``expected`` = mean predicted risk, ``calibration_in_the_large`` =
    observed - expected (0 ideal; positive means the model under-predicts in that level)
    and ``oe_ratio`` = observed / expected.

    Levels are listed in category order for categorical dtypes, otherwise sorted; whole
    numbers print without decimals (binary 0/1 columns give levels ``"0"`` and ``"1"``);
    rows with a missing value form a level ``"missing"`` (last).  ``age_column`` is
    banded at ``age_bands`` (default ``<40``, ``40–59``, ``≥60``; a band includes its
    lower cut).

    Parameters
    ----------
    y : array_like
        Binary outcomes 0/1, aligned by position with ``prob`` and ``frame``.
    prob : array_like
        Predicted probabilities in [0, 1].
    frame : pandas.DataFrame
        The cohort (same rows, same order).
    columns : sequence of str
        Subgrouping columns, reported in this order.
    age_column : str, optional
        Numeric age column to band (reported after ``columns``).
    age_bands : sequence of float, default (40, 60)
        Increasing cut points.
    overall : bool, default True
        Start with an ``overall`` / ``all`` row.
    metrics : sequence of str, default ()
        Further scores per level, appended as columns in this order: any names of
        :data:`analysis.evaluation.scores.SCORES` but ``auc``, computed by
        :func:`analysis.evaluation.scores.score_binary` (NaN where undefined in a level,
        e.g. the calibration slope of a level with one outcome class).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUBGROUP_COLUMNS`, then ``metrics``.

    Raises
    ------
    AnalysisError
        On invalid outcomes or probabilities, mismatched lengths, or unknown columns.

    Examples
    --------
    >>> frame = pd.DataFrame({"sex": ["f", "f", "m", "m"]})
    >>> t = subgroup_performance([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.3], frame, ["sex"])
    >>> t[["subgroup", "level", "auc"]].values.tolist()
    [['overall', 'all', 0.75], ['sex', 'f', 1.0], ['sex', 'm', 0.0]]
    >>> t = subgroup_performance([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.3], frame, ["sex"],
    ...                          metrics=["brier"])
    >>> t["brier"].round(3).tolist()
    [0.195, 0.065, 0.325]
    """
    yi = check_outcome(y, both_classes=False)
    p = check_probabilities(prob, yi.size)
    metrics = _check_metrics(metrics)
    if not isinstance(frame, pd.DataFrame):
        raise AnalysisError("frame must be a pandas DataFrame")
    if len(frame) != yi.size:
        raise AnalysisError(f"frame must have one row per outcome ({yi.size}), got {len(frame)}")
    if isinstance(columns, str):
        columns = [columns]
    columns = list(columns)
    wanted = columns + ([age_column] if age_column is not None else [])
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise AnalysisError(f"frame lacks subgroup column(s) {missing}")
    if age_column is not None and age_column in columns:
        raise AnalysisError(f"age_column '{age_column}' is also listed in columns")
    frame = frame.reset_index(drop=True)
    rows = [_row("overall", "all", yi, p, metrics)] if overall else []
    groups = [(c, frame[c]) for c in columns]
    if age_column is not None:
        groups.append((age_column, _band(frame[age_column], age_bands)))
    for name, col in groups:
        for level in _levels(col):
            mask = (col == level).to_numpy()
            rows.append(_row(name, _fmt(level), yi[mask], p[mask], metrics))
        na = col.isna().to_numpy()
        if na.any():
            rows.append(_row(name, MISSING_LEVEL, yi[na], p[na], metrics))
    return pd.DataFrame(rows, columns=[*SUBGROUP_COLUMNS, *metrics])
