"""Nomogram of a logistic model, drawn as ``rms::nomogram`` draws it (with one axis per level
of an interaction partner when the model has interactions)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.errors import AnalysisError

__all__ = ["plot_nomogram"]

AXIS_COLUMNS = ("predictor", "value", "points")
TOTAL_COLUMNS = ("axis", "total_points", "probability")


def _format_value(value) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def _wrap(name: str, width: int = 28) -> str:
    r"""A long axis name on two lines, before its final parenthesis (the level of an
    interaction partner): ``C-reactive protein\n(Treatment class = anti-integrin)``.

    Examples
    --------
    >>> _wrap("Low complement (week 0) (Anti-dsDNA (≥ 30 IU/mL) = no)")
    'Low complement (week 0)\n(Anti-dsDNA (≥ 30 IU/mL) = no)'
    >>> _wrap("Age (years)")
    'Age (years)'
    """
    if len(name) <= width or not name.endswith(")"):
        return name
    depth = 0
    for i in range(len(name) - 1, -1, -1):  # the "(" that the final ")" closes
        depth += {")": 1, "(": -1}.get(name[i], 0)
        if depth == 0:
            head = name[:i].rstrip()
            return f"{head}\n{name[i:]}" if head else name
    return name


def _sides(xs: np.ndarray) -> list[bool]:
    """Whether each tick is labelled below the line: a non-monotone axis (a U-shaped
    spline) turns back on itself, and its runs are labelled above, below, above, ..."""
    below, side, direction = [], False, 0.0
    for i, x in enumerate(xs):
        if i > 0:
            step = np.sign(x - xs[i - 1])
            if step and direction and step != direction:
                side = not side
            direction = step or direction
        below.append(side)
    return below


def _draw_axis(ax, y: float, xs, labels, name: str, *, below: bool = False) -> None:
    xs = np.asarray(xs, dtype=float)
    if xs.size:
        ax.plot([xs.min(), xs.max()], [y, y], color="black", lw=0.8)
    sides = [not s for s in _sides(xs)] if below else _sides(xs)
    for x, text, down in zip(xs, labels, sides, strict=True):
        ax.plot([x, x], [y, y + (-0.12 if down else 0.12)], color="black", lw=0.8)
        ax.text(x, y + (-0.18 if down else 0.18), text, ha="center",
                va="top" if down else "bottom", fontsize=7)
    ax.text(-0.04, y, name, ha="right", va="center", fontsize=8,
            transform=ax.get_yaxis_transform())


def plot_nomogram(axes: pd.DataFrame, totals: pd.DataFrame, *,
                  labels: Mapping[str, str] | None = None, title: str | None = None) -> Figure:
    """Draw a nomogram: Points, one axis per predictor, Total points, Probability.

    The predictor axes share the Points scale; the Total points axis is drawn over the
    same width (its own scale), the Probability ticks at the total points that give them.
    A non-monotone axis (a U-shaped spline) is labelled above the line until it turns,
    then below.

    Parameters
    ----------
    axes, totals : pandas.DataFrame
        From :func:`analysis.explain.presentation.nomogram_points` (``axes``: ``predictor,
        value, points``, optionally ``axis`` - one axis per distinct value, e.g. one per
        level of an interaction partner - and ``condition``; ``totals``: ``axis``
        (``total``/``probability``), ``total_points``, ``probability``; ``attrs``
        ``points_range`` and ``max_total`` when present).
    labels : mapping of str to str, optional
        Axis names per predictor (default: the ``label`` column, else the predictor). An
        axis drawn for one level of an interaction partner keeps its ``label`` (which
        names the level) unless ``labels`` names that axis itself.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    AnalysisError
        Missing columns or an empty axes table.

    Examples
    --------
    >>> ax_t = pd.DataFrame({"predictor": ["age"] * 3 + ["sex"] * 2,
    ...                      "value": [40, 50, 60, "f", "m"],
    ...                      "points": [0.0, 50.0, 100.0, 0.0, 30.0]})
    >>> tot = pd.DataFrame({"axis": ["total", "total", "probability"],
    ...                     "total_points": [0.0, 130.0, 65.0], "probability": [0.1, 0.8, 0.5]})
    >>> fig = plot_nomogram(ax_t, tot, title="Demo")
    >>> type(fig).__name__, len(fig.axes)
    ('Figure', 1)
    """
    for table, cols, name in ((axes, AXIS_COLUMNS, "axes"), (totals, TOTAL_COLUMNS, "totals")):
        if not isinstance(table, pd.DataFrame):
            raise AnalysisError(f"plot_nomogram: {name} must be a DataFrame")
        missing = [c for c in cols if c not in table.columns]
        if missing:
            raise AnalysisError(f"plot_nomogram: {name} lacks column(s) {missing}")
    if axes.empty:
        raise AnalysisError("plot_nomogram: the axes table is empty")
    key = "axis" if "axis" in axes.columns else "predictor"
    predictors = list(dict.fromkeys(axes[key]))
    given = dict(labels or {})
    labels = {}
    conditioned = (axes["condition"].fillna("").astype(str) != "") if "condition" in axes.columns \
        else pd.Series(False, index=axes.index)
    for axis, p, lab, cond in zip(axes[key], axes["predictor"],
                                  axes["label"] if "label" in axes.columns else axes["predictor"],
                                  conditioned, strict=True):
        if axis in labels:
            continue
        if axis in given:
            labels[axis] = str(given[axis])
        elif not cond and p in given:
            labels[axis] = str(given[p])
        else:
            labels[axis] = str(lab)
    width = float(axes.attrs.get("points_range", max(100.0, float(axes["points"].max()))))
    total_rows = totals[totals["axis"] == "total"]
    max_total = float(axes.attrs.get("max_total", totals.attrs.get(
        "max_total", total_rows["total_points"].max() if len(total_rows) else width)))
    max_total = max(max_total, float(total_rows["total_points"].max()) if len(total_rows) else 0)
    factor = width / max_total if max_total > 0 else 1.0

    n_rows = len(predictors) + 3
    names = [_wrap(labels.get(p, str(p))) for p in predictors]
    longest = max((len(line) for name in names for line in name.split("\n")), default=12)
    margin = 0.3 + 0.068 * max(longest, 12)  # inches for the axis names (8 pt)
    fig = Figure(figsize=(6.3 + margin, 0.55 * n_rows + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    fig.subplots_adjust(left=margin / (6.3 + margin), right=0.96, top=0.92 if title else 0.97,
                        bottom=0.04)
    y = float(n_rows)
    ticks = np.linspace(0, width, 11)
    _draw_axis(ax, y, ticks, [f"{t:g}" for t in ticks], "Points")
    for p, name in zip(predictors, names, strict=True):
        y -= 1
        rows = axes[axes[key] == p]
        _draw_axis(ax, y, rows["points"], [_format_value(v) for v in rows["value"]],
                   name)
    y -= 1
    _draw_axis(ax, y, total_rows["total_points"].to_numpy(float) * factor,
               [f"{t:g}" for t in total_rows["total_points"]], "Total points")
    y -= 1
    prob_rows = totals[totals["axis"] == "probability"]
    _draw_axis(ax, y, prob_rows["total_points"].to_numpy(float) * factor,
               [f"{p:g}" for p in prob_rows["probability"]], "Probability", below=True)
    ax.set_xlim(-0.04 * width, 1.04 * width)
    ax.set_ylim(y - 0.8, n_rows + 0.8)
    ax.axis("off")
    # grid lines of the Points axis, as rms draws them
    for t in ticks:
        ax.axvline(t, color="0.9", lw=0.5, zorder=0)
    if title:
        fig.suptitle(title)
    return fig
