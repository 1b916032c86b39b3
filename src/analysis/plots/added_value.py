"""Figures of the added-value analysis: ROC curves of single markers with their Youden
cut-offs, and the AUC gain and net-benefit difference of an extended model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve

from analysis.errors import AnalysisError
from analysis.evaluation.cutoffs import CUTOFF_COLUMNS
from analysis.validation.added_value import AddedValue
from analysis.validators import as_list, check_outcome, require_columns, require_frame_columns

__all__ = ["plot_added_value", "plot_roc_markers"]


def plot_roc_markers(
    frame: pd.DataFrame,
    markers: Sequence[str],
    y,
    cutoffs_table: pd.DataFrame,
    labels: Mapping[str, str] | None = None,
    *,
    figsize: tuple[float, float] = (6.0, 6.0),
) -> Figure:
    """ROC curve of each marker with its Youden cut-off marked.

    Parameters
    ----------
    frame : pandas.DataFrame
        Data holding the marker columns (and the outcome when ``y`` is a column name).
    markers : sequence of str
        Marker columns to draw.
    y : str or array_like
        Outcome column of ``frame`` or 0/1 outcomes aligned with its rows.
    cutoffs_table : pandas.DataFrame
        Output of :func:`analysis.evaluation.cutoffs.cutoff_table` with a row per marker;
        its ``direction`` orients each curve and its ``sensitivity``/``specificity`` place
        the point.
    labels : mapping of str to str, optional
        Display names of the markers.
    figsize : tuple of float, default (6.0, 6.0)
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: a curve per marker (rows with the marker or outcome missing dropped, as in
        the cut-off table), the Youden point of each, and the diagonal; nothing is saved.

    Raises
    ------
    AnalysisError
        On missing columns or a marker without a row in ``cutoffs_table``.

    Examples
    --------
    >>> from analysis.evaluation.cutoffs import cutoff_table
    >>> df = pd.DataFrame({"a": [1, 2, 3, 4, 5], "y": [0, 0, 1, 0, 1]})
    >>> fig = plot_roc_markers(df, ["a"], "y", cutoff_table(df, ["a"], "y", n_boot=10))
    >>> len(fig.axes[0].lines)
    3
    """
    markers = as_list(markers, "markers")
    require_columns(frame, markers + ([y] if isinstance(y, str) else []))
    require_frame_columns(cutoffs_table, CUTOFF_COLUMNS, "cutoffs_table")
    outcome = frame[y].to_numpy(dtype=float) if isinstance(y, str) else np.asarray(y, dtype=float)
    if outcome.shape != (len(frame),):
        raise AnalysisError(f"y must have one value per row of frame ({len(frame)})")
    table = cutoffs_table.drop_duplicates("marker", keep="last").set_index("marker")
    absent = [m for m in markers if m not in table.index]
    if absent:
        raise AnalysisError(f"cutoffs_table has no row for marker(s) {absent}")
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.add_subplot()
    for m in markers:
        row = table.loc[m]
        x = frame[m].to_numpy(dtype=float)
        keep = ~(np.isnan(x) | np.isnan(outcome))
        yy = check_outcome(outcome[keep], name=f"y (rows with {m!r} observed)")
        score = x[keep] if row["direction"] == "higher" else -x[keep]
        fpr, tpr, _ = roc_curve(yy, score)
        name = (labels or {}).get(m, m)
        sign = ">=" if row["direction"] == "higher" else "<="
        (line,) = ax.plot(fpr, tpr, lw=1.8,
                          label=f"{name}: AUC {row['auc']:.2f} "
                                f"({row['auc_ci_lower']:.2f}–{row['auc_ci_upper']:.2f})")
        ax.plot([1 - row["specificity"]], [row["sensitivity"]], marker="o", ms=7,
                color=line.get_color(), linestyle="none",
                label=f"  cut-off {sign} {row['cutoff']:.3g}: sens {row['sensitivity']:.2f}, "
                      f"spec {row['specificity']:.2f}")
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
    ax.set(xlabel="1 − specificity", ylabel="Sensitivity", xlim=(0, 1), ylim=(0, 1.01),
           title="ROC curves with Youden cut-offs (apparent)")
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    ax.set_aspect("equal")
    return fig


def plot_added_value(result: AddedValue, *, figsize: tuple[float, float] = (10.0, 4.5),
                     labels: Mapping[str, str] | None = None) -> Figure:
    """Cross-validated AUCs of the baseline and extended models and the net-benefit difference.

    Parameters
    ----------
    result : AddedValue
        Output of :func:`analysis.validation.added_value.added_value`.
    figsize : tuple of float, default (10.0, 4.5)
        Figure size in inches.
    labels : mapping of str to str, optional
        Display label per predictor (:func:`analysis.formatting.codebook_labels`), used in
        the lists of predictors under each model.

    Returns
    -------
    matplotlib.figure.Figure
        Left: AUC with CI of each model (the difference with its CI in the title).  Right:
        net benefit of extended minus baseline against the threshold, with the zero line;
        nothing is saved.

    Raises
    ------
    AnalysisError
        If ``result`` is not an :class:`AddedValue`.

    Examples
    --------
    >>> auc = pd.DataFrame({"model": ["baseline", "extended", "difference"],
    ...                     "predictors": ["a", "a, z", "z"], "auc": [0.7, 0.8, 0.1],
    ...                     "ci_lower": [0.6, 0.7, 0.02], "ci_upper": [0.8, 0.9, 0.18]})
    >>> nb = pd.DataFrame({"threshold": [0.1, 0.2], "net_benefit_baseline": [0.1, 0.05],
    ...                    "net_benefit_extended": [0.12, 0.08], "difference": [0.02, 0.03]})
    >>> fig = plot_added_value(AddedValue(auc, {}, nb))
    >>> len(fig.axes)
    2
    """
    if not isinstance(result, AddedValue):
        raise AnalysisError(f"result must be an AddedValue, got {type(result).__name__}")
    rows = result.auc.set_index("model")
    fig = Figure(figsize=figsize, layout="constrained")
    left, right = fig.subplots(1, 2)
    models = ["baseline", "extended"]
    pos = np.arange(len(models))
    est = rows.loc[models, "auc"].to_numpy(dtype=float)
    err = np.vstack([est - rows.loc[models, "ci_lower"].to_numpy(dtype=float),
                     rows.loc[models, "ci_upper"].to_numpy(dtype=float) - est])
    left.errorbar(pos, est, yerr=err, fmt="o", capsize=6, color="black")
    left.axhline(0.5, ls=":", color="grey", lw=1)
    # the extended model is the baseline plus the added predictors ("difference" row): the
    # full lists would run into each other under the two ticks
    n_base = len([n for n in str(rows.loc["baseline", "predictors"]).split(",") if n.strip()])
    added = _predictor_list(rows.loc["difference", "predictors"], labels, width=36)
    left.set_xticks(pos, [f"baseline\n({n_base} predictor{'s' if n_base != 1 else ''})",
                          f"extended\n(baseline +\n{added})"], fontsize=8)
    left.set_xlim(-0.6, len(models) - 0.4)
    left.set_ylabel("Cross-validated AUC")
    d = rows.loc["difference"]
    level = round(100 * (1 - result.settings.get("alpha", 0.05)))
    left.set_title(f"AUC difference {d['auc']:.3f} ({level}% CI {d['ci_lower']:.3f} to "
                   f"{d['ci_upper']:.3f})", fontsize=9)
    nb = result.net_benefit.sort_values("threshold")
    right.plot(nb["threshold"], nb["difference"], marker="o", lw=1.8)
    right.axhline(0.0, color="black", lw=1)
    right.set_xlabel("Threshold probability")
    right.set_ylabel("Net benefit, extended − baseline")
    right.set_title("Net-benefit difference (out-of-fold predictions)", fontsize=9)
    return fig


def _predictor_list(text, labels: Mapping[str, str] | None, width: int = 45) -> str:
    """The table's comma-separated predictor names as labels, wrapped to ``width`` characters."""
    import textwrap

    names = [n.strip() for n in str(text).split(",") if n.strip()]
    return "\n".join(textwrap.wrap(", ".join(str((labels or {}).get(n, n)) for n in names), width))
