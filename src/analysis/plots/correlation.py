"""Clustered correlation heatmap."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import scipy.cluster.hierarchy
import scipy.spatial.distance
import scipy.stats

from analysis.describe.correlation import correlation_matrix


def plot_correlation_heatmap(table: pd.DataFrame, cluster: bool = True, annotate: bool = True,
                             ax=None, *, labels: Mapping[str, str] | None = None):
    """Annotated heatmap of a correlation table, optionally hierarchically clustered.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`correlation_table`.
    cluster : bool, default True
        Reorder variables by average-linkage hierarchical clustering
        (``scipy.cluster.hierarchy``) of the distance ``1 - |r|`` (NaN ``r`` counts as 0).
    annotate : bool, default True
        Write ``r`` (2 decimals) in each cell.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created otherwise.
    labels : mapping of str to str, optional
        Display label per variable (:func:`analysis.formatting.codebook_labels`).

    Returns
    -------
    matplotlib.figure.Figure
        The figure; its axes' tick labels give the plotted variable order.

    Examples
    --------
    >>> t = pd.DataFrame({"var1": ["a", "a", "b"], "var2": ["b", "c", "c"], "r": [0.1, 0.9, 0.2]})
    >>> fig = plot_correlation_heatmap(t)
    >>> [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    ['b', 'a', 'c']
    >>> fig = plot_correlation_heatmap(t, labels={"a": "Age (years)"})
    >>> [tick.get_text() for tick in fig.axes[0].get_yticklabels()]
    ['b', 'Age (years)', 'c']
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    mat = correlation_matrix(table)
    if cluster and len(mat) > 2:
        dist = 1.0 - mat.abs().fillna(0.0).to_numpy()
        np.fill_diagonal(dist, 0.0)
        dist = np.clip((dist + dist.T) / 2, 0.0, None)
        link = scipy.cluster.hierarchy.linkage(scipy.spatial.distance.squareform(dist),
                                               method="average")
        order = scipy.cluster.hierarchy.leaves_list(link)
        mat = mat.iloc[order, order]
    if ax is None:
        size = max(4.0, 0.6 * len(mat) + 2.0)
        fig, ax = plt.subplots(figsize=(size + 1.0, size))
    else:
        fig = ax.figure
    method = table["method"].iloc[0] if "method" in table.columns and len(table) else "r"
    sns.heatmap(mat, ax=ax, vmin=-1, vmax=1, center=0, cmap="RdBu_r", square=True,
                annot=annotate, fmt=".2f", cbar_kws={"label": f"{str(method).capitalize()} r"})
    names = dict(labels or {})
    ax.set_xticks(np.arange(len(mat)) + 0.5, labels=[str(names.get(c, c)) for c in mat.columns],
                  rotation=90)
    ax.set_yticks(np.arange(len(mat)) + 0.5, labels=[str(names.get(c, c)) for c in mat.index],
                  rotation=0)
    fig.tight_layout()
    return fig
