"""Repeated visits: per-visit summaries with confidence intervals, and trajectory plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError
from analysis.evaluation.metrics import proportion_ci

SUMMARY_COLUMNS = ["variable", "time", "group", "n", "mean", "sd", "ci_lower", "ci_upper",
                   "median", "q1", "q3", "count", "percent", "method"]


def visit_summary(visits: pd.DataFrame, variables: Mapping[str, Mapping], columns: Sequence[str],
                  time: str, group: str | None = None, group_levels: Sequence[str] | None = None,
                  alpha: float = 0.05) -> pd.DataFrame:
    """Per-visit summary of each column, overall and by group, with 95% CIs.

    Numeric columns: n, mean, SD, t-based CI of the mean, median and quartiles. Binary
    columns: count and percent of 1s among non-missing values with a Wilson CI (percent
    scale). Tidy: one row per variable, time and group (``Overall`` first).

    Examples
    --------
    >>> v = pd.DataFrame({"week": [0, 0, 4, 4], "resp": [0.0, 1.0, 1.0, 1.0]})
    >>> float(visit_summary(v, {"resp": {"type": "binary"}}, ["resp"], "week").loc[1, "percent"])
    100.0
    """
    missing = [c for c in (*columns, time, *([group] if group else [])) if c not in visits.columns]
    if missing:
        raise AnalysisError(f"visit_summary: column(s) not in the visit table: {', '.join(missing)}")
    groups = [("Overall", visits)]
    if group:
        levels = group_levels or sorted(visits[group].dropna().astype(str).unique())
        groups += [(str(level), visits[visits[group].astype(str) == str(level)]) for level in levels]
    rows = []
    for name in columns:
        kind = variables.get(name, {}).get("type", "numeric")
        for t in sorted(visits[time].dropna().unique()):
            for label, frame in groups:
                values = frame.loc[frame[time] == t, name].dropna().astype(float)
                row = {"variable": name, "time": t, "group": label, "n": int(values.size)}
                if kind == "binary":
                    count = int((values == 1).sum())
                    row.update(count=count, method="Wilson")
                    if values.size:
                        lo, hi = proportion_ci(count, int(values.size), alpha=alpha)
                        row.update(percent=100 * count / values.size, ci_lower=100 * lo, ci_upper=100 * hi)
                else:
                    row["method"] = "t"
                    if values.size:
                        mean, sd = values.mean(), values.std(ddof=1) if values.size > 1 else np.nan
                        half = stats.t.ppf(1 - alpha / 2, values.size - 1) * sd / np.sqrt(values.size) if values.size > 1 else np.nan
                        row.update(mean=mean, sd=sd, ci_lower=mean - half, ci_upper=mean + half,
                                   median=values.median(), q1=values.quantile(0.25), q3=values.quantile(0.75))
                rows.append(row)
    return pd.DataFrame(rows).reindex(columns=SUMMARY_COLUMNS)


