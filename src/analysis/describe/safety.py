"""Safety: adverse events per arm with exact CIs, and serious adverse events per visit.

The safety population is every enrolled patient: the proportion of patients with an event is
``patients_with_event / n`` with ``n`` the enrolled patients of the arm (a patient without any
visit row had no recorded event), with the exact Clopper-Pearson interval. Counts of events
per visit carry no patient rows or ids, so they can be shared as they are.

Examples
--------
>>> visits = pd.DataFrame({"id": [1, 1, 2], "week": [0, 4, 0], "ae": [1, 2, 0], "sae": [0, 1, 0]})
>>> t = adverse_events(visits, id_col="id", time="week", enrolled=pd.DataFrame({"id": [1, 2, 3]}),
...                    count_col="ae", serious_col="sae")
>>> t[["event", "events", "patients_with_event", "n"]].values.tolist()
[['any adverse event', 3, 1, 3], ['serious adverse event', 1, 1, 3]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analysis.describe.endpoints import (
    OVERALL,
    arm_assignment,
    arm_level_list,
    check_binary_columns,
    check_visit_table,
    interval_label,
)
from analysis.errors import AnalysisError, shorten
from analysis.evaluation.metrics import proportion_ci

__all__ = [
    "ADVERSE_EVENT_COLUMNS",
    "ANY_EVENT",
    "SERIOUS_BY_VISIT_COLUMNS",
    "SERIOUS_EVENT",
    "adverse_events",
    "serious_events_by_visit",
]

#: Columns of :func:`adverse_events`.
ADVERSE_EVENT_COLUMNS = ["arm", "event", "events", "patients_with_event", "n", "proportion",
                         "ci_lower", "ci_upper", "method"]
#: Columns of :func:`serious_events_by_visit`.
SERIOUS_BY_VISIT_COLUMNS = ["visit", "arm", "serious_events"]
#: Event labels of :func:`adverse_events`.
ANY_EVENT = "any adverse event"
SERIOUS_EVENT = "serious adverse event"


def _require(visits, columns, caller):
    if not isinstance(visits, pd.DataFrame):
        raise AnalysisError(f"{caller}: visits must be a pandas DataFrame")
    missing = [c for c in dict.fromkeys(columns) if c not in visits.columns]
    if missing:
        raise AnalysisError(f"{caller}: column(s) not in the visit table: {', '.join(missing)}")


def _event_counts(visits: pd.DataFrame, count_col: str, caller: str) -> pd.Series:
    """Non-negative whole numbers of events per row (missing = none recorded)."""
    values = visits[count_col]
    numeric = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & (numeric.isna() | (numeric < 0) | (numeric % 1 != 0))
    if bad.any():
        shown = ", ".join(shorten(v, 20) for v in pd.unique(values[bad])[:3])
        raise AnalysisError(f"{caller}: column '{count_col}' must hold non-negative whole numbers "
                            f"of events (missing allowed); found {shown}")
    return numeric.fillna(0).astype(float)


def adverse_events(visits: pd.DataFrame, *, id_col: str, time: str, enrolled: pd.DataFrame,
                   count_col: str | None = None, serious_col: str | None = None,
                   arm: str | None = None, arm_levels: Sequence[str] | None = None,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Adverse events and the patients with one, per arm, with exact Clopper-Pearson CIs.

    Parameters
    ----------
    visits : pandas.DataFrame
        Long table, one row per patient and visit, with ``id_col``, ``time`` and the event
        columns (and optionally ``arm``, checked against ``enrolled``).
    id_col : str
        Patient identifier.
    time : str
        Column of the visit time (one row per patient and visit is checked).
    enrolled : pandas.DataFrame
        Every enrolled patient with ``id_col`` (and ``arm`` when given): the denominator.
    count_col : str, optional
        Number of adverse events recorded at the visit (missing = none recorded). Gives the
        ``any adverse event`` row: ``events`` is the sum, ``patients_with_event`` the patients
        with a count above 0 at any visit.
    serious_col : str, optional
        0/1 (missing allowed): a serious adverse event at the visit. Gives the ``serious
        adverse event`` row: ``events`` is the number of visits with 1, ``patients_with_event``
        the patients with any.
    arm : str, optional
        Column of the arm; rows are ``Overall`` first, then each arm.
    arm_levels : sequence of str, optional
        Order of the arms (default sorted).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``arm, event, events, patients_with_event, n, proportion, ci_lower, ci_upper,
        method``; ``proportion = patients_with_event / n`` (NaN when ``n`` is 0).

    Raises
    ------
    AnalysisError
        When neither ``count_col`` nor ``serious_col`` is given, on a missing column, a
        negative or fractional count, a non-binary ``serious_col``, a patient not enrolled or
        two rows for one patient and visit.

    Examples
    --------
    >>> visits = pd.DataFrame({"id": [1, 2, 3], "week": 4, "sae": [1, 0, 0],
    ...                        "arm": ["a", "b", "b"]})
    >>> t = adverse_events(visits, id_col="id", time="week", enrolled=visits[["id", "arm"]],
    ...                    serious_col="sae", arm="arm")
    >>> t[["arm", "patients_with_event", "n"]].values.tolist()
    [['Overall', 1, 3], ['a', 1, 1], ['b', 0, 2]]
    """
    caller = "adverse_events"
    method = interval_label("clopper-pearson", alpha)
    if count_col is None and serious_col is None:
        raise AnalysisError(f"{caller}: give count_col, serious_col or both")
    event_cols = [c for c in (count_col, serious_col) if c is not None]
    arms, levels = arm_assignment(enrolled, id_col=id_col, arm=arm, arm_levels=arm_levels, caller=caller)
    check_visit_table(visits, event_cols, id_col=id_col, time=time, arms=arms, arm=arm, caller=caller)
    per_row = pd.DataFrame({"id": visits[id_col].to_numpy()})
    events = []
    if count_col is not None:
        per_row[ANY_EVENT] = _event_counts(visits, count_col, caller).to_numpy()
        events.append(ANY_EVENT)
    if serious_col is not None:
        serious = check_binary_columns(visits, [serious_col], caller=caller)[serious_col]
        per_row[SERIOUS_EVENT] = serious.fillna(0).to_numpy()
        events.append(SERIOUS_EVENT)
    per_patient = per_row.groupby("id", sort=False)[events].sum().reindex(arms.index, fill_value=0)

    groups = [(OVERALL, np.ones(len(arms), dtype=bool))] + [(level, arms.to_numpy() == level) for level in levels]
    rows = []
    for label, mask in groups:
        mine = per_patient[mask]
        for event in events:
            rows.append({"arm": label, "event": event, "events": int(mine[event].sum()),
                         "patients_with_event": int((mine[event] > 0).sum()), "n": int(mask.sum())})
    table = pd.DataFrame(rows, columns=["arm", "event", "events", "patients_with_event", "n"])
    k, n = table["patients_with_event"].to_numpy(dtype=float), table["n"].to_numpy(dtype=float)
    lo, hi = proportion_ci(k, n, alpha=alpha, method="clopper-pearson")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["proportion"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    table["ci_lower"], table["ci_upper"], table["method"] = lo, hi, method
    return table.reindex(columns=ADVERSE_EVENT_COLUMNS)


def serious_events_by_visit(visits: pd.DataFrame, *, time: str, serious_col: str,
                            arm: str | None = None,
                            arm_levels: Sequence[str] | None = None) -> pd.DataFrame:
    """Number of serious adverse events at each visit, overall and per arm (counts only).

    Parameters
    ----------
    visits : pandas.DataFrame
        Long table, one row per patient and visit, with ``time``, ``serious_col`` (0/1,
        missing allowed) and optionally ``arm``.
    time : str
        Column of the visit time; every observed time is reported, in sorted order.
    serious_col : str
        0/1: a serious adverse event at the visit.
    arm : str, optional
        Column of the arm; rows are ``Overall`` first, then each arm.
    arm_levels : sequence of str, optional
        Order of the arms (default sorted); every arm in the table must be listed.

    Returns
    -------
    pandas.DataFrame
        Columns ``visit, arm, serious_events``, ordered by arm then visit. No patient rows
        or identifiers.

    Raises
    ------
    AnalysisError
        On a missing column, a missing time or arm, an arm not in ``arm_levels`` or a
        non-binary ``serious_col``.

    Examples
    --------
    >>> visits = pd.DataFrame({"week": [0, 4, 4], "sae": [0, 1, 1]})
    >>> serious_events_by_visit(visits, time="week", serious_col="sae").values.tolist()
    [[0, 'Overall', 0], [4, 'Overall', 2]]
    """
    caller = "serious_events_by_visit"
    _require(visits, [time, serious_col, *([arm] if arm else [])], caller)
    if visits[time].isna().any():
        raise AnalysisError(f"{caller}: column '{time}' may not be missing")
    serious = check_binary_columns(visits, [serious_col], caller=caller)[serious_col].fillna(0)
    levels: list[str] = []
    if arm:
        if visits[arm].isna().any():
            raise AnalysisError(f"{caller}: column '{arm}' has missing arms")
        labels = visits[arm].astype(str).to_numpy()
        levels = arm_level_list(labels, arm_levels, arm=arm, caller=caller)
    times = sorted(pd.unique(visits[time]))
    visit_times = visits[time].to_numpy()
    groups = [(OVERALL, np.ones(len(visits), dtype=bool))] + [(level, labels == level) for level in levels]
    rows = [{"visit": t, "arm": label, "serious_events": int(serious[mask & (visit_times == t)].sum())}
            for label, mask in groups for t in times]
    return pd.DataFrame(rows, columns=SERIOUS_BY_VISIT_COLUMNS)
