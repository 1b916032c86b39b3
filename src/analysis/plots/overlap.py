"""Overlap of propensity scores and covariate balance (the confounding part of the PATH analysis)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analysis.benefit.propensity import (
    BALANCE_COLUMNS,
    SMD_THRESHOLD,
    common_support,
    treatment_labels,
)
from analysis.errors import AnalysisError

__all__ = ["plot_balance", "plot_propensity_overlap"]


def plot_propensity_overlap(
    scores: pd.DataFrame,
    treatment,
    options: Sequence[str],
    reference: str,
    *,
    bins: int = 20,
    figsize: tuple[float, float] | None = None,
    option_labels: Mapping[str, str] | None = None,
) -> Figure:
    """Mirrored histograms of the propensity of each option, with the common support.

    Parameters
    ----------
    scores : pandas.DataFrame
        Propensity scores, one column per option
        (:func:`analysis.benefit.propensity.propensity_scores`).
    treatment : array_like
        The option each patient received.
    options : sequence of str
    reference : str
        The option every other option is compared with.
    bins : int, default 20
        Bins over [0, 1].
    figsize : tuple of float, optional
        Default: 4.2 inches wide per panel, 3.6 high.
    option_labels : mapping of str to str, optional
        Display label per option code (:func:`analysis.formatting.level_labels`).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per non-reference option ``k``: the distribution of ``e_k(x)`` among the
        patients who received ``k`` (upwards) and among those who received the reference
        (downwards), with the common-support bounds of ``e_k`` as dashed lines; nothing is
        saved.

    Examples
    --------
    >>> e = pd.DataFrame({"a": [0.2, 0.6, 0.4, 0.8], "b": [0.8, 0.4, 0.6, 0.2]})
    >>> len(plot_propensity_overlap(e, ["a", "a", "b", "b"], ["a", "b"], "a").axes)
    1
    """
    options = [str(o) for o in options]
    reference = str(reference)
    if reference not in options:
        raise AnalysisError(f"reference {reference!r} is not one of the options {options}")
    _, bounds = common_support(scores, treatment, options)
    t = treatment_labels(treatment)
    others = [o for o in options if o != reference]
    if figsize is None:
        figsize = (4.2 * len(others), 3.6)
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, len(others), squeeze=False)[0]
    edges = np.linspace(0.0, 1.0, bins + 1)
    k_ref = options.index(reference)
    names = {o: str((option_labels or {}).get(o, o)) for o in options}
    for ax, option in zip(axes, others, strict=True):
        k = options.index(option)
        e = scores[option].to_numpy(dtype=float)
        got = e[(t == option) & np.isfinite(e)]
        ref = e[(t == reference) & np.isfinite(e)]
        up, _ = np.histogram(got, bins=edges)
        down, _ = np.histogram(ref, bins=edges)
        width = np.diff(edges)
        ax.bar(edges[:-1], up, width=width, align="edge", color=f"C{k}", alpha=0.75,
               edgecolor="white", label=f"received {names[option]} (n={len(got)})")
        ax.bar(edges[:-1], -down, width=width, align="edge", color=f"C{k_ref}", alpha=0.75,
               edgecolor="white", label=f"received {names[reference]} (n={len(ref)})")
        lower, upper = bounds[option]
        ax.axvline(lower, color="black", linestyle="--", linewidth=1,
                   label="common support" if lower <= upper else "no common support")
        ax.axvline(upper, color="black", linestyle="--", linewidth=1)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        top = max(int(up.max(initial=0)), int(down.max(initial=0)), 1)
        ax.set_ylim(-1.15 * top, 1.15 * top)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{abs(v):g}")
        ax.set_xlim(0, 1)
        ax.set_xlabel(f"Propensity score of {names[option]}")
        ax.set_ylabel("Patients")
        ax.set_title(f"{names[option]} vs {names[reference]}")
        ax.legend(frameon=False, fontsize="small", loc="best")
    return fig


def plot_balance(table: pd.DataFrame, *, figsize: tuple[float, float] | None = None,
                 labels: Mapping[str, str] | None = None,
                 option_labels: Mapping[str, str] | None = None) -> Figure:
    """Love plot: absolute standardised differences before and after overlap weighting.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`analysis.benefit.propensity.standardized_differences` output.
    figsize : tuple of float, optional
        Default: 6.5 inches wide, 0.3 inch per variable (at least 2.5).
    labels : mapping of str to str, optional
        Display label per variable and per ``variable[level]`` term
        (:func:`analysis.formatting.codebook_labels`).
    option_labels : mapping of str to str, optional
        Legend label per option code.

    Returns
    -------
    matplotlib.figure.Figure
        One row per variable (per level of a categorical one), top to bottom in table
        order; open circles before weighting, filled after, one colour per option, a
        dashed line at 0.1.  Infinite differences are drawn at the right edge as ``>``;
        nothing is saved.

    Examples
    --------
    >>> t = pd.DataFrame({"variable": ["age", "sex"], "level": ["", ""], "option": ["b", "b"],
    ...                   "smd_unweighted": [0.41, -0.2], "smd_weighted": [0.0, 0.001]})
    >>> len(plot_balance(t).axes)
    1
    >>> fig = plot_balance(t, labels={"age": "Age (years)"})
    >>> [x.get_text() for x in fig.axes[0].get_yticklabels()]
    ['Age (years)', 'sex']
    """
    missing = [c for c in BALANCE_COLUMNS if c not in table.columns]
    if missing:
        raise AnalysisError(f"table lacks column(s) {missing}")
    shown = dict(labels or {})
    names = [shown.get(f"{v}[{lv}]", f"{shown.get(v, v)}: {lv}") if str(lv) else str(shown.get(v, v))
             for v, lv in zip(table["variable"], table["level"].fillna(""), strict=True)]
    rows = list(dict.fromkeys(names))
    options = list(dict.fromkeys(table["option"].astype(str)))
    if figsize is None:
        figsize = (6.5, max(2.5, 0.3 * len(rows) + 1.2))
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    position = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    before = np.abs(pd.to_numeric(table["smd_unweighted"], errors="coerce").to_numpy(dtype=float))
    after = np.abs(pd.to_numeric(table["smd_weighted"], errors="coerce").to_numpy(dtype=float))
    finite = np.concatenate([before[np.isfinite(before)], after[np.isfinite(after)]])
    right = max(float(finite.max(initial=0.0)) * 1.1, 2 * SMD_THRESHOLD)
    step = 0.6 / max(len(options), 1)
    option_of = table["option"].astype(str).to_numpy()
    y_all = np.array([position[n] for n in names], dtype=float)
    for k, option in enumerate(options):
        sel = option_of == option
        y = y_all[sel] + (k - (len(options) - 1) / 2) * step
        for values, filled in ((before[sel], False), (after[sel], True)):
            shown = np.isfinite(values)
            face = f"C{k}" if filled else "none"
            ax.scatter(values[shown], y[shown], marker="o", s=30, facecolors=face,
                       edgecolors=f"C{k}", zorder=3)
            over = np.isinf(values)
            if over.any():
                ax.scatter(np.full(over.sum(), right), y[over], marker=">", s=30,
                           facecolors=face, edgecolors=f"C{k}", zorder=3)
    ax.axvline(SMD_THRESHOLD, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks([position[n] for n in rows], rows)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlim(0, right * 1.03)
    ax.set_xlabel("Absolute standardised mean difference (option vs reference)")
    handles = [Line2D([], [], marker="o", linestyle="", color=f"C{k}",
                      label=str((option_labels or {}).get(o, o)))
               for k, o in enumerate(options)]
    handles += [
        Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="black",
               label="before weighting"),
        Line2D([], [], marker="o", linestyle="", color="black", label="after overlap weighting"),
        Line2D([], [], color="grey", linestyle="--", label=f"{SMD_THRESHOLD:g} threshold"),
    ]
    ax.legend(handles=handles, frameon=False, fontsize="small", loc="lower right")
    return fig
