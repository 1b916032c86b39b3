"""Phenotype figures: choosing the number of clusters, and what each cluster looks like."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analysis.describe.phenotypes import PROFILE_COLUMNS
from analysis.errors import AnalysisError

__all__ = ["plot_cluster_profiles", "plot_cluster_selection", "profile_heatmap_values"]


def plot_cluster_selection(table: pd.DataFrame, *, figsize=(7.0, 3.2)) -> Figure:
    """BIC and mean silhouette width against the number of clusters.

    Two panels sharing the ``k`` axis; the chosen ``k`` (``table.attrs["k"]``,
    else the minimum BIC) is marked by a dashed vertical line on both.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`analysis.describe.phenotypes.select_clusters`.
    figsize : tuple of float
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not saved).

    Examples
    --------
    >>> t = pd.DataFrame({"k": [1, 2, 3], "bic": [50.0, 30.0, 35.0],
    ...                   "silhouette": [np.nan, 0.6, 0.4]})
    >>> fig = plot_cluster_selection(t)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['BIC (lower is better)', 'Mean silhouette width']
    """
    lacking = [c for c in ("k", "bic", "silhouette") if c not in getattr(table, "columns", [])]
    if lacking:
        raise AnalysisError(f"table: missing the select_clusters column(s) {lacking}")
    if len(table) == 0:
        raise AnalysisError("table: has no rows")
    chosen = table.attrs.get("k", int(table.loc[table["bic"].idxmin(), "k"]))
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(1, 2, sharex=True)
    for ax, column, label in zip(axes, ("bic", "silhouette"),
                                 ("BIC (lower is better)", "Mean silhouette width"), strict=True):
        ax.plot(table["k"], table[column], marker="o", color="0.2")
        ax.axvline(chosen, linestyle="--", color="tab:red", linewidth=1, label=f"chosen k = {chosen}")
        ax.set_xlabel("Number of clusters (k)")
        ax.set_ylabel(label)
        ax.set_xticks(list(table["k"]))
    axes[0].legend(frameon=False)
    return fig


def profile_heatmap_values(profiles: pd.DataFrame,
                           labels: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Colour values and cell texts of :func:`plot_cluster_profiles`.

    The colour is each cluster's standardised difference from the whole cohort:
    ``(mean_c - mean) / SD`` for a numeric variable, with the cohort mean and SD
    recovered exactly from the per-cluster ``n, mean, sd``; ``(p_c - p) /
    sqrt(p (1 - p))`` for a binary variable or a categorical level. The text is
    the cluster mean (numeric) or percent (binary/categorical).

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of :func:`analysis.describe.phenotypes.cluster_profiles`.
    labels : mapping of str to str, optional
        Display label per variable and ``variable[level]`` term
        (:func:`analysis.formatting.codebook_labels`) for the row names.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Standardised differences and texts; rows ``"variable"`` or
        ``"variable: level"``, columns the clusters.

    Examples
    --------
    >>> p = pd.DataFrame({"variable": ["age", "age"], "level": ["", ""], "cluster": [1, 2],
    ...     "n": [2, 2], "summary": ["", ""], "mean": [45.0, 65.0], "sd": [7.07, 7.07],
    ...     "median": np.nan, "q1": np.nan, "q3": np.nan, "count": np.nan, "percent": np.nan})
    >>> z, text = profile_heatmap_values(p)
    >>> z.round(2).values.tolist(), text.values.tolist()
    ([[-0.77, 0.77]], [['45.0', '65.0']])
    """
    lacking = [c for c in PROFILE_COLUMNS if c not in getattr(profiles, "columns", [])]
    if lacking:
        raise AnalysisError(f"profiles: missing the cluster_profiles column(s) {lacking}")
    z_rows, text_rows = {}, {}
    for (variable, level), block in profiles.groupby(["variable", "level"], sort=False):
        shown = labels or {}
        row = (shown.get(f"{variable}[{level}]", f"{shown.get(variable, variable)}: {level}")
               if level != "" else shown.get(variable, variable))
        n = block["n"].to_numpy(dtype=float)
        total = n.sum()
        if block["mean"].notna().any():  # numeric
            mean, sd = block["mean"].to_numpy(), np.nan_to_num(block["sd"].to_numpy())
            ok = n > 0
            grand = np.sum(n[ok] * mean[ok]) / total
            ss = np.sum((n[ok] - 1) * sd[ok] ** 2 + n[ok] * (mean[ok] - grand) ** 2)
            spread = np.sqrt(ss / (total - 1)) if total > 1 else np.nan
            z = (mean - grand) / spread if spread > 0 else np.zeros_like(mean)
            texts = [f"{m:.1f}" if np.isfinite(m) else "" for m in mean]
        else:
            share = block["percent"].to_numpy() / 100.0
            p = np.nansum(block["count"].to_numpy()) / total if total > 0 else np.nan
            spread = np.sqrt(p * (1 - p))
            z = (share - p) / spread if spread > 0 else np.zeros_like(share)
            texts = [f"{v:.0f}%" if np.isfinite(v) else "" for v in block["percent"]]
        z_rows[row] = pd.Series(z, index=block["cluster"].to_numpy())
        text_rows[row] = pd.Series(texts, index=block["cluster"].to_numpy())
    z_frame = pd.DataFrame(z_rows).T
    return z_frame, pd.DataFrame(text_rows).T.reindex(index=z_frame.index, columns=z_frame.columns)


def plot_cluster_profiles(profiles: pd.DataFrame, *, limit: float = 2.0, annotate: bool = True,
                          figsize=None, labels: Mapping[str, str] | None = None) -> Figure:
    """Heatmap of the cluster profiles: standardised means and percents per cluster.

    One row per numeric/binary variable or categorical level, one column per
    cluster; the colour is the standardised difference from the whole cohort
    (:func:`profile_heatmap_values`, clipped to ``[-limit, limit]``), the text
    the cluster mean or percent.

    Parameters
    ----------
    profiles : pandas.DataFrame
        Output of :func:`analysis.describe.phenotypes.cluster_profiles`.
    limit : float, default 2.0
        Colour scale limit (in SDs).
    annotate : bool, default True
        Write the mean or percent in each cell.
    figsize : tuple of float, optional
        Default grows with the number of rows and clusters.
    labels : mapping of str to str, optional
        Display label per variable and ``variable[level]`` term
        (:func:`analysis.formatting.codebook_labels`).

    Returns
    -------
    matplotlib.figure.Figure
        The figure (not saved); the y tick labels are the rows.

    Examples
    --------
    >>> p = pd.DataFrame({"variable": ["age", "age", "rf", "rf"], "level": "", "cluster": [1, 2, 1, 2],
    ...     "n": [2, 2, 2, 2], "summary": "", "mean": [45.0, 65.0, np.nan, np.nan],
    ...     "sd": [7.07, 7.07, np.nan, np.nan], "median": np.nan, "q1": np.nan, "q3": np.nan,
    ...     "count": [1, 2, np.nan, np.nan], "percent": [np.nan, np.nan, 50.0, 100.0]})
    >>> p.loc[2:, "count"] = [1, 2]
    >>> fig = plot_cluster_profiles(p)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['age', 'rf']
    >>> fig = plot_cluster_profiles(p, labels={"rf": "Rheumatoid factor"})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['age', 'Rheumatoid factor']
    """
    if not (isinstance(limit, int | float) and limit > 0):
        raise AnalysisError(f"limit: must be a positive number, got {limit!r}")
    z, text = profile_heatmap_values(profiles, labels)
    if z.empty:
        raise AnalysisError("profiles: has no rows")
    rows, cols = z.shape
    if figsize is None:
        figsize = (2.5 + 0.9 * cols, 1.2 + 0.35 * rows)
    fig = Figure(figsize=figsize, layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(np.clip(z.to_numpy(dtype=float), -limit, limit), cmap="RdBu_r",
                      vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(cols), [f"Cluster {c}" for c in z.columns])
    ax.set_yticks(range(rows), list(z.index))
    if annotate:
        values = z.to_numpy(dtype=float)
        for i in range(rows):
            for j in range(cols):
                strong = np.isfinite(values[i, j]) and abs(values[i, j]) > 0.6 * limit
                ax.text(j, i, text.iat[i, j], ha="center", va="center", fontsize=8,
                        color="white" if strong else "black")
    fig.colorbar(image, ax=ax, label="Standardised difference from the cohort")
    return fig
