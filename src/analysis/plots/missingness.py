"""Missing-data map."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from analysis.describe.missingness import missingness_patterns

OBSERVED_COLOR = "#1f77b4"


MISSING_COLOR = "#d62728"


def plot_missingness(df: pd.DataFrame, columns: Sequence[str], *,
                     labels: Mapping[str, str] | None = None) -> Figure:
    """Draw the missingness-pattern matrix (patterns x variables).

    Each row of the grid is a pattern from :func:`missingness_patterns`
    (observed cells blue, missing cells red); the number of rows showing it is
    written on the right, and the number missing per variable above each
    column. The figure is built without ``pyplot`` and is not saved.

    Parameters
    ----------
    df : pandas.DataFrame
        The data.
    columns : sequence of str
        Columns to show, in this order.
    labels : mapping of str to str, optional
        Display label per column (:func:`analysis.formatting.codebook_labels`); columns
        without one show their name.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with a single Axes.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1, None, 3], "b": [1, 2, None]})
    >>> fig = plot_missingness(df, ["a", "b"])
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['a', 'b']
    >>> fig = plot_missingness(df, ["a", "b"], labels={"a": "Age (years)"})
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['Age (years)', 'b']
    """
    patterns = missingness_patterns(df, columns)
    names = list(columns)
    grid = patterns[names].to_numpy()
    n_pat, n_var = grid.shape
    shown = [str((labels or {}).get(c, c)) for c in names]
    longest = max((len(t) for t in shown), default=0)  # labels at 45 degrees take height
    fig = Figure(figsize=(1.0 + 0.6 * n_var, 1.6 + 0.35 * max(n_pat, 1) + 0.06 * longest),
                 layout="constrained")
    ax = fig.add_subplot()
    # 1 = observed, 0 = missing
    ax.imshow(grid if n_pat else np.zeros((0, n_var)), cmap=ListedColormap([MISSING_COLOR, OBSERVED_COLOR]),
              vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    ax.set_xticks(range(n_var), labels=shown, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n_pat), labels=[str(c) for c in patterns["count"]])
    ax.set_ylabel("rows with pattern")
    top = ax.secondary_xaxis("top")
    top.set_xticks(range(n_var), labels=[str(int(v)) for v in df[names].isna().sum()])
    top.set_xlabel("missing per variable")
    ax.set_xticks(np.arange(-0.5, n_var, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n_pat, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    # below the (possibly long, rotated) column labels, never on top of them
    fig.legend(handles=[Patch(color=OBSERVED_COLOR, label="observed"), Patch(color=MISSING_COLOR, label="missing")],
               loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    return fig
