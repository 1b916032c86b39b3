"""Per-patient trajectories (spaghetti) with the fitted population mean line of a mixed model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.plots.visits import set_visit_axis


def _coefficient(table: pd.DataFrame, term: str) -> float:
    match = table.loc[table["term"] == term, "estimate"]
    return float(match.iloc[0]) if len(match) else 0.0


def plot_mixed_model(visits: pd.DataFrame, variable: str, fit_table: pd.DataFrame, *,
                     id_col: str, time: str, arm: str | None = None,
                     arm_levels: Sequence | None = None,
                     arm_labels: Mapping[str, str] | None = None, label: str | None = None,
                     time_label: str | None = None, figsize=(6.5, 4),
                     labels: Mapping[str, str] | None = None, times: Sequence | None = None):
    """Thin grey line per patient and the fitted mean line per arm from the fixed effects.

    ``fit_table`` is the ``table`` of :func:`analysis.describe.trajectories.mixed_model_trajectory`
    (terms ``Intercept``, ``time``, ``arm[<level>]``, ``time:arm[<level>]``); the mean line of
    an arm is ``Intercept + arm[level] + (time + time:arm[level]) * t``. The x ticks sit exactly
    at the visit ``times`` (default: the observed ones). ``label`` (default ``labels[variable]``,
    :func:`analysis.formatting.codebook_labels`) names the variable, ``arm_labels`` the arms
    (:func:`analysis.formatting.level_labels`). Returns a matplotlib Figure (never shown or saved).

    Examples
    --------
    >>> v = pd.DataFrame({"id": [1, 1, 2, 2], "week": [0, 8, 0, 8], "cdai": [300, 200, 280, 220]})
    >>> t = pd.DataFrame({"variable": "cdai", "term": ["Intercept", "time"],
    ...                   "estimate": [290.0, -10.0]})
    >>> fig = plot_mixed_model(v, "cdai", t, id_col="id", time="week")
    >>> [float(x) for x in fig.axes[0].get_xticks()], fig.axes[0].get_xlabel()
    ([0.0, 8.0], 'week')
    """
    from matplotlib.figure import Figure

    missing = [c for c in (variable, id_col, time, *([arm] if arm else [])) if c not in visits.columns]
    if missing:
        raise AnalysisError(f"plot_mixed_model: column(s) not in the visit table: {', '.join(missing)}")
    if not {"term", "estimate"} <= set(fit_table.columns):
        raise AnalysisError("plot_mixed_model: fit_table needs columns 'term' and 'estimate'")
    table = fit_table[fit_table["variable"] == variable] if "variable" in fit_table else fit_table
    if not (table["term"] == "Intercept").any() or not (table["term"] == "time").any():
        raise AnalysisError(f"plot_mixed_model: fit_table has no 'Intercept' and 'time' terms "
                            f"for {variable!r}")
    visit_times = times
    data = visits[visits[variable].notna()]
    times = np.sort(pd.to_numeric(data[time]).unique())
    if arm:
        levels = ([str(a) for a in arm_levels] if arm_levels is not None
                  else sorted(data[arm].astype(str).unique()))
        levels = [a for a in levels if (data[arm].astype(str) == a).any()]  # as in the fit
    else:
        levels = [None]
    arm_labels = dict(arm_labels or {})
    label = label or (labels or {}).get(variable, variable)

    fig = Figure(figsize=figsize)
    ax = fig.subplots()
    for _, patient in data.sort_values(time).groupby(id_col, sort=False):
        ax.plot(patient[time], patient[variable], color="0.6", lw=0.6, alpha=0.6, zorder=1)
    grid = np.linspace(times.min(), times.max(), 100)
    for i, level in enumerate(levels):
        intercept = _coefficient(table, "Intercept")
        slope = _coefficient(table, "time")
        if level is not None and i > 0:
            intercept += _coefficient(table, f"arm[{level}]")
            slope += _coefficient(table, f"time:arm[{level}]")
        name = "fitted mean" if level is None else arm_labels.get(level, level)
        ax.plot(grid, intercept + slope * grid, lw=2.5, color=f"C{i}", label=name, zorder=3)
    set_visit_axis(ax, times if visit_times is None else visit_times, time_label or time)
    ax.set(ylabel=label, title=f"{label}: patients (grey) and mixed-model mean")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
