"""Response per visit: proportion of patients with a binary endpoint and its CI, per arm."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis.describe.endpoints import RESPONSE_COLUMNS
from analysis.errors import AnalysisError, shorten
from analysis.plots.visits import set_visit_axis


def plot_response_by_visit(table: pd.DataFrame, outcome: str, *, imputation: str = "non-responder",
                           time_label: str = "Week", arm_labels: Mapping[str, str] | None = None,
                           title: str | None = None, labels: Mapping[str, str] | None = None,
                           arm_title: str = "Arm"):
    """Proportion with CI error bars at each visit, one dodged series per arm.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`analysis.describe.endpoints.response_by_visit`.
    outcome : str
        Outcome (or composite) to draw.
    imputation : {"non-responder", "observed"}, default "non-responder"
        Which analysis to draw.
    time_label : str, default "Week"
        Label of the x axis; the ticks sit exactly at the visit times.
    arm_labels : mapping of str to str, optional
        Legend label per arm code (codes without a label are shown as they are).
    title : str, optional
        Default: the outcome's label (``labels``, else its name) and the imputation.
    labels : mapping of str to str, optional
        Display label per column (:func:`analysis.formatting.codebook_labels`).
    arm_title : str, default "Arm"
        Title of the legend (the codebook label of the arm column).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    AnalysisError
        On missing columns or no rows for the outcome and imputation.

    Examples
    --------
    >>> t = pd.DataFrame({"visit": [4, 8], "arm": "Overall", "outcome": "resp", "n": 10,
    ...                   "events": [3, 5], "proportion": [0.3, 0.5], "ci_lower": [0.1, 0.2],
    ...                   "ci_upper": [0.6, 0.8], "method": "CI", "imputation": "non-responder"})
    >>> ax = plot_response_by_visit(t, "resp", labels={"resp": "Response"}).axes[0]
    >>> ax.get_xticks().tolist(), ax.get_title(), ax.get_xlabel()
    ([4.0, 8.0], 'Response (non-responder)', 'Week')
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    if not isinstance(table, pd.DataFrame):
        raise AnalysisError("plot_response_by_visit: table must be a DataFrame from response_by_visit")
    missing = [c for c in RESPONSE_COLUMNS if c not in table.columns]
    if missing:
        raise AnalysisError(f"plot_response_by_visit: column(s) not in the table: {', '.join(missing)}")
    rows = table[(table["outcome"] == outcome) & (table["imputation"] == imputation)]
    if rows.empty:
        raise AnalysisError(f"plot_response_by_visit: no rows for outcome {shorten(repr(outcome))} "
                            f"with imputation {shorten(repr(imputation))}")
    arm_names = dict(arm_labels or {})
    labels = dict(labels or {})
    times = np.sort(pd.unique(rows["visit"]).astype(float))
    span = float(times[-1] - times[0]) if len(times) > 1 else 1.0
    arms = list(pd.unique(rows["arm"]))
    step = 0.012 * span  # dodge so that the error bars of the arms do not overlap
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for i, code in enumerate(arms):
        g = rows[rows["arm"] == code].sort_values("visit")
        x = g["visit"].to_numpy(dtype=float) + (i - 0.5 * (len(arms) - 1)) * step
        y = 100 * g["proportion"].to_numpy(dtype=float)
        err = np.vstack([y - 100 * g["ci_lower"].to_numpy(dtype=float),
                         100 * g["ci_upper"].to_numpy(dtype=float) - y])
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, lw=2.5 if code == "Overall" else 1.5,
                    label=str(arm_names.get(code, code)))
    set_visit_axis(ax, times, time_label)
    ax.set_ylim(0, 100)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=100))
    method = str(rows["method"].iloc[0])
    ax.set(ylabel=f"% of patients ({method})",
           title=title or f"{labels.get(outcome, outcome)} ({imputation})")
    ax.legend(fontsize=8, title=arm_title if len(arms) > 1 else None)
    fig.tight_layout()
    return fig
