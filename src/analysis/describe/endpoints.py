"""Binary endpoints over scheduled visits: response per visit and arm with exact CIs.

For single-arm or small multi-arm visit studies (e.g. a 40-patient stem-cell study in Crohn's
disease with visits at weeks 0, 4, 8, 12 and 24): the proportion of patients with each binary
endpoint (clinical response, remission, a composite of both) at each scheduled visit, for all
patients (``Overall``) and per arm.

Two analyses are always reported side by side:

* ``imputation = "non-responder"`` (primary): the denominator is every enrolled patient of the
  arm; a missed visit or a missing value counts as non-response (non-responder imputation).
* ``imputation = "observed"`` (sensitivity): the denominator is the patients with a
  non-missing value at that visit.

Confidence intervals are the exact Clopper-Pearson interval by default (Wilson on request),
and :func:`arm_differences` gives the risk difference of each arm against a reference arm
with Newcombe's hybrid score interval.

Examples
--------
>>> visits = pd.DataFrame({"id": [1, 1, 2, 2, 3], "week": [0, 4, 0, 4, 0],
...                        "response": [np.nan, 1, np.nan, 0, np.nan]})
>>> enrolled = pd.DataFrame({"id": [1, 2, 3]})
>>> t = response_by_visit(visits, ["response"], id_col="id", time="week", times=[0, 4],
...                       enrolled=enrolled)
>>> t[["visit", "n", "events", "imputation"]].values.tolist()
[[4, 3, 1, 'non-responder'], [4, 2, 1, 'observed']]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError, shorten
from analysis.evaluation.metrics import newcombe_difference, proportion_ci
from analysis.validators import check_alpha

__all__ = [
    "ARM_DIFFERENCE_COLUMNS",
    "IMPUTATIONS",
    "OUTCOME_RATE_COLUMNS",
    "OVERALL",
    "RESPONSE_COLUMNS",
    "arm_assignment",
    "arm_differences",
    "arm_level_list",
    "check_binary_columns",
    "check_visit_table",
    "interval_label",
    "outcome_rates",
    "response_by_visit",
]

#: Columns of :func:`response_by_visit`.
RESPONSE_COLUMNS = ["visit", "arm", "outcome", "n", "events", "proportion", "ci_lower",
                    "ci_upper", "method", "imputation"]
#: Columns of :func:`arm_differences`.
ARM_DIFFERENCE_COLUMNS = ["visit", "outcome", "imputation", "arm", "reference", "difference",
                          "ci_lower", "ci_upper", "method"]
#: Columns of :func:`outcome_rates`.
OUTCOME_RATE_COLUMNS = ["outcome", "group", "n", "events", "proportion", "ci_lower", "ci_upper",
                        "missing", "method"]
#: Label of the all-patients rows.
OVERALL = "Overall"
#: The two analyses of :func:`response_by_visit`, primary first.
IMPUTATIONS = ("non-responder", "observed")
_CI_NAMES = {"clopper-pearson": "Clopper-Pearson exact", "wilson": "Wilson score"}


def interval_label(method: str, alpha: float = 0.05) -> str:
    """Text naming a proportion's confidence interval, e.g. ``Clopper-Pearson exact 95% CI``.

    Parameters
    ----------
    method : {"clopper-pearson", "wilson"}
        Method of :func:`analysis.evaluation.metrics.proportion_ci`.
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    str

    Raises
    ------
    AnalysisError
        On an unknown method or an invalid ``alpha``.

    Examples
    --------
    >>> interval_label("wilson", 0.1)
    'Wilson score 90% CI'
    """
    if method not in _CI_NAMES:
        raise AnalysisError(f"ci_method must be 'clopper-pearson' or 'wilson', got {shorten(repr(method))}")
    return f"{_CI_NAMES[method]} {100 * (1 - check_alpha(alpha)):g}% CI"


def check_binary_columns(frame: pd.DataFrame, columns: Sequence[str], *, caller: str) -> pd.DataFrame:
    """Check that columns hold only 0, 1 or missing values and return them as floats.

    Booleans count as 0/1.

    Parameters
    ----------
    frame : pandas.DataFrame
    columns : sequence of str
        Columns that must be binary.
    caller : str
        Function name used in the error message.

    Returns
    -------
    pandas.DataFrame
        The columns as ``0.0``, ``1.0`` or NaN, same index as ``frame``.

    Raises
    ------
    AnalysisError
        Naming the column and a few offending values.

    Examples
    --------
    >>> check_binary_columns(pd.DataFrame({"r": [0, True, None]}), ["r"], caller="demo")["r"].tolist()
    [0.0, 1.0, nan]
    >>> check_binary_columns(pd.DataFrame({"r": [0, 2]}), ["r"], caller="demo")
    Traceback (most recent call last):
    ...
    analysis.errors.AnalysisError: demo: column 'r' must be binary (0/1, missing allowed); found 2
    """
    out = pd.DataFrame(index=frame.index)
    for name in dict.fromkeys(columns):
        values = frame[name]
        present = values.notna()
        numeric = pd.Series(np.nan, index=frame.index)
        numeric[present] = [float(v) if isinstance(v, bool | np.bool_ | int | float | np.number) else np.nan
                            for v in values[present]]
        bad = present & ~numeric.isin([0.0, 1.0])
        if bad.any():
            shown = ", ".join(shorten(v, 20) for v in pd.unique(values[bad])[:3])
            raise AnalysisError(f"{caller}: column '{name}' must be binary (0/1, missing allowed); "
                                f"found {shown}")
        out[name] = numeric
    return out


def arm_assignment(enrolled: pd.DataFrame, *, id_col: str, arm: str | None,
                   arm_levels: Sequence[str] | None, caller: str) -> tuple[pd.Series, list[str]]:
    """Arm of every enrolled patient and the reported arm order.

    Parameters
    ----------
    enrolled : pandas.DataFrame
        One row per enrolled patient with ``id_col`` (and ``arm`` when given).
    id_col : str
        Patient identifier; must be unique and non-missing.
    arm : str or None
        Column of the arm; ``None`` for a single-arm summary (only ``Overall``).
    arm_levels : sequence of str or None
        Order of the arms; default sorted. Every enrolled arm must be listed.
    caller : str
        Function name used in error messages.

    Returns
    -------
    (pandas.Series, list of str)
        Arm label (string) indexed by patient id (``Overall`` when ``arm`` is None), and the
        arm levels (empty when ``arm`` is None).

    Raises
    ------
    AnalysisError
        On a missing column, a missing or duplicated id, a missing arm, an arm not in
        ``arm_levels`` or an arm called ``Overall``.

    Examples
    --------
    >>> e = pd.DataFrame({"id": [1, 2, 3], "arm": ["b", "a", "b"]})
    >>> arms, levels = arm_assignment(e, id_col="id", arm="arm", arm_levels=None, caller="demo")
    >>> arms.tolist(), levels
    (['b', 'a', 'b'], ['a', 'b'])
    """
    if not isinstance(enrolled, pd.DataFrame):
        raise AnalysisError(f"{caller}: enrolled must be a pandas DataFrame")
    needed = [id_col, *([arm] if arm else [])]
    missing = [c for c in needed if c not in enrolled.columns]
    if missing:
        raise AnalysisError(f"{caller}: column(s) not in the enrolled table: {', '.join(missing)}")
    ids = enrolled[id_col]
    if ids.isna().any():
        raise AnalysisError(f"{caller}: enrolled column '{id_col}' has missing ids")
    if ids.duplicated().any():
        dup = shorten(ids[ids.duplicated()].iloc[0])
        raise AnalysisError(f"{caller}: enrolled column '{id_col}' must be unique; {dup} is repeated")
    if not arm:
        return pd.Series(OVERALL, index=pd.Index(ids), dtype=object), []
    if enrolled[arm].isna().any():
        raise AnalysisError(f"{caller}: enrolled column '{arm}' has missing arms")
    labels = enrolled[arm].astype(str)
    levels = arm_level_list(labels, arm_levels, arm=arm, caller=caller)
    return pd.Series(labels.to_numpy(), index=pd.Index(ids), dtype=object), levels


def arm_level_list(labels, arm_levels, *, arm: str, caller: str) -> list[str]:
    """The arms in report order: ``arm_levels`` (checked) or the sorted labels.

    Raises
    ------
    AnalysisError
        On duplicate levels, an arm called ``Overall`` or a label outside ``arm_levels``.

    Examples
    --------
    >>> arm_level_list(["b", "a", "b"], None, arm="arm", caller="demo")
    ['a', 'b']
    """
    labels = [str(v) for v in labels]
    levels = [str(level) for level in arm_levels] if arm_levels is not None else sorted(set(labels))
    if len(set(levels)) != len(levels):
        raise AnalysisError(f"{caller}: arm_levels contain duplicates: {levels}")
    if OVERALL in levels:
        raise AnalysisError(f"{caller}: an arm may not be called '{OVERALL}' (reserved for all patients)")
    unknown = sorted(set(labels) - set(levels))
    if unknown:
        raise AnalysisError(f"{caller}: arm(s) {', '.join(shorten(u) for u in unknown)} of column "
                            f"'{arm}' are not in arm_levels {levels}")
    return levels


def check_visit_table(visits: pd.DataFrame, columns: Sequence[str], *, id_col: str, time: str,
                      arms: pd.Series, arm: str | None, caller: str) -> None:
    """Check a long visit table against the enrolled patients.

    Parameters
    ----------
    visits : pandas.DataFrame
        One row per patient and visit.
    columns : sequence of str
        Further columns that must be present.
    id_col, time : str
        Patient identifier and visit time; neither may be missing, each pair occurs once.
    arms : pandas.Series
        Arm per enrolled patient id (from :func:`arm_assignment`).
    arm : str or None
        Arm column; when the visit table has it, it must agree with ``arms``.
    caller : str
        Function name used in error messages.

    Raises
    ------
    AnalysisError
        On a missing column, a missing id or time, a patient not enrolled, a repeated
        (patient, visit) pair or a disagreeing arm.

    Examples
    --------
    >>> arms = pd.Series(["Overall"], index=[1])
    >>> check_visit_table(pd.DataFrame({"id": [2], "week": [0]}), [], id_col="id",
    ...                   time="week", arms=arms, arm=None, caller="demo")
    Traceback (most recent call last):
    ...
    analysis.errors.AnalysisError: demo: patient 2 of the visit table is not in the enrolled table ('id')
    """
    if not isinstance(visits, pd.DataFrame):
        raise AnalysisError(f"{caller}: visits must be a pandas DataFrame")
    missing = [c for c in dict.fromkeys([id_col, time, *columns]) if c not in visits.columns]
    if missing:
        raise AnalysisError(f"{caller}: column(s) not in the visit table: {', '.join(missing)}")
    if visits[id_col].isna().any() or visits[time].isna().any():
        raise AnalysisError(f"{caller}: columns '{id_col}' and '{time}' of the visit table may not be missing")
    unknown = ~visits[id_col].isin(arms.index)
    if unknown.any():
        raise AnalysisError(f"{caller}: patient {shorten(visits.loc[unknown, id_col].iloc[0])} of the "
                            f"visit table is not in the enrolled table ('{id_col}')")
    dup = visits.duplicated([id_col, time])
    if dup.any():
        row = visits.loc[dup].iloc[0]
        raise AnalysisError(f"{caller}: more than one row for patient {shorten(row[id_col])} at "
                            f"{time} = {shorten(row[time])}; expected one row per patient and visit")
    if arm and arm in visits.columns:
        given = visits[arm].astype(str).where(visits[arm].notna())
        expected = visits[id_col].map(arms)
        clash = given.notna() & (given != expected)
        if clash.any():
            raise AnalysisError(f"{caller}: column '{arm}' of the visit table disagrees with the enrolled "
                                f"table for patient {shorten(visits.loc[clash, id_col].iloc[0])}")


def _composite(frame: pd.DataFrame, components: Sequence[str]) -> pd.Series:
    """1 when all components are 1, 0 when any is 0, missing otherwise."""
    values = frame[list(components)]
    out = pd.Series(np.nan, index=frame.index)
    out[(values == 1).all(axis=1)] = 1.0
    out[(values == 0).any(axis=1)] = 0.0
    return out


def response_by_visit(visits: pd.DataFrame, outcomes, *, id_col: str, time: str,
                      times: Sequence, enrolled: pd.DataFrame, arm: str | None = None,
                      arm_levels: Sequence[str] | None = None,
                      composites: Mapping[str, Sequence[str]] | None = None,
                      ci_method: str = "clopper-pearson", alpha: float = 0.05) -> pd.DataFrame:
    """Proportion of patients with each binary endpoint at each scheduled visit, with CIs.

    Parameters
    ----------
    visits : pandas.DataFrame
        Long table, one row per patient and visit, with ``id_col``, ``time``, the outcome
        columns (0/1, missing allowed) and optionally ``arm`` (checked against ``enrolled``).
    outcomes : str or sequence of str
        Binary outcome columns to report (may be empty when ``composites`` are given).
    id_col : str
        Patient identifier.
    time : str
        Column of the visit time.
    times : sequence
        Scheduled visit times to report, in order (e.g. ``[0, 4, 8, 12, 24]``). A time at
        which an outcome is missing for every patient (response at baseline, a visit nobody
        has reached) is skipped for that outcome.
    enrolled : pandas.DataFrame
        Every enrolled patient, with ``id_col`` (and ``arm`` when given): the denominator of
        the non-responder imputation and the source of each patient's arm.
    arm : str, optional
        Column of the arm; rows are ``Overall`` first, then each arm.
    arm_levels : sequence of str, optional
        Order of the arms (default sorted); every enrolled arm must be listed.
    composites : mapping of str to sequence of str, optional
        ``name -> component columns``: the composite is 1 when every component is 1 at the
        visit, 0 when any is 0, missing otherwise. Reported after ``outcomes``.
    ci_method : {"clopper-pearson", "wilson"}, default "clopper-pearson"
        Interval of each proportion (:func:`analysis.evaluation.metrics.proportion_ci`).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``visit, arm, outcome, n, events, proportion, ci_lower, ci_upper, method,
        imputation``; ordered by arm (``Overall`` first), outcome, imputation
        (``non-responder`` then ``observed``) and visit. ``proportion`` and the bounds are
        NaN when ``n`` is 0.

    Raises
    ------
    AnalysisError
        On a missing column, a non-binary outcome, a patient not enrolled, two rows for one
        patient and visit, an unknown arm, or an invalid ``ci_method`` / ``alpha``.

    Examples
    --------
    >>> visits = pd.DataFrame({"id": [1, 2, 3, 4], "week": [4, 4, 4, 4],
    ...                        "resp": [1, 0, 1, np.nan], "arm": ["a", "a", "b", "b"]})
    >>> enrolled = pd.DataFrame({"id": [1, 2, 3, 4, 5], "arm": ["a", "a", "b", "b", "b"]})
    >>> t = response_by_visit(visits, "resp", id_col="id", time="week", times=[4],
    ...                       enrolled=enrolled, arm="arm")
    >>> t.query("imputation == 'non-responder'")[["arm", "n", "events"]].values.tolist()
    [['Overall', 5, 2], ['a', 2, 1], ['b', 3, 1]]
    >>> t["method"].iloc[0]
    'Clopper-Pearson exact 95% CI'
    """
    caller = "response_by_visit"
    method = interval_label(ci_method, alpha)
    outcomes = [outcomes] if isinstance(outcomes, str) else list(outcomes)
    composites = dict(composites or {})
    for name, parts in composites.items():
        if isinstance(parts, str) or not list(parts):
            raise AnalysisError(f"{caller}: composite '{name}' must list its component columns")
    names = [*outcomes, *composites]
    if not names:
        raise AnalysisError(f"{caller}: no outcomes or composites given")
    if len(set(names)) != len(names):
        raise AnalysisError(f"{caller}: outcome and composite names must be unique: {names}")
    times = list(times)
    if not times:
        raise AnalysisError(f"{caller}: no visit times given")
    arms, levels = arm_assignment(enrolled, id_col=id_col, arm=arm, arm_levels=arm_levels, caller=caller)
    components = list(dict.fromkeys(c for parts in composites.values() for c in parts))
    columns = list(dict.fromkeys([*outcomes, *components]))
    check_visit_table(visits, columns, id_col=id_col, time=time, arms=arms, arm=arm, caller=caller)
    binary = check_binary_columns(visits, columns, caller=caller)

    values = pd.DataFrame({name: binary[name] for name in outcomes}, index=visits.index)
    for name, parts in composites.items():
        values[name] = _composite(binary, parts)
    visit_ids, visit_times = visits[id_col].to_numpy(), visits[time].to_numpy()

    groups = [(OVERALL, arms.index)] + [(level, arms.index[arms.to_numpy() == level]) for level in levels]
    rows = []
    for label, ids in groups:
        for name in names:
            for imputation in IMPUTATIONS:
                for t in times:
                    at = values.loc[visit_times == t, name]
                    if at.isna().all():
                        continue  # undefined for everyone at this visit
                    mine = at[pd.Index(ids).get_indexer(visit_ids[visit_times == t]) >= 0]
                    events = int((mine == 1).sum())
                    n = len(ids) if imputation == "non-responder" else int(mine.notna().sum())
                    rows.append({"visit": t, "arm": label, "outcome": name, "n": n, "events": events,
                                 "imputation": imputation})
    table = pd.DataFrame(rows, columns=["visit", "arm", "outcome", "n", "events", "imputation"])
    k, n = table["events"].to_numpy(dtype=float), table["n"].to_numpy(dtype=float)
    lo, hi = proportion_ci(k, n, alpha=alpha, method=ci_method)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["proportion"] = np.where(n > 0, k / np.where(n > 0, n, 1), np.nan)
    table["ci_lower"], table["ci_upper"], table["method"] = lo, hi, method
    return table.reindex(columns=RESPONSE_COLUMNS).reset_index(drop=True)


def arm_differences(table: pd.DataFrame, *, reference: str, alpha: float = 0.05) -> pd.DataFrame:
    """Risk difference of each arm minus the reference arm, per visit, outcome and imputation.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`response_by_visit` with an arm column holding at least two arms.
    reference : str
        The reference arm (not ``Overall``).
    alpha : float, default 0.05
        One minus the confidence level.

    Returns
    -------
    pandas.DataFrame
        Columns ``visit, outcome, imputation, arm, reference, difference, ci_lower,
        ci_upper, method``: one row per non-reference arm (in the table's arm order), then
        outcome, imputation and visit in the table's order. Newcombe's hybrid score interval
        (:func:`analysis.evaluation.metrics.newcombe_difference`); NaN when either arm has
        no patients.

    Raises
    ------
    AnalysisError
        On missing columns, an unknown reference arm or no other arm to compare.

    Examples
    --------
    >>> visits = pd.DataFrame({"id": [1, 2, 3, 4], "week": 4, "resp": [1, 0, 1, 1],
    ...                        "arm": ["a", "a", "b", "b"]})
    >>> t = response_by_visit(visits, "resp", id_col="id", time="week", times=[4],
    ...                       enrolled=visits[["id", "arm"]], arm="arm")
    >>> d = arm_differences(t, reference="a")
    >>> d[["arm", "reference", "imputation", "difference"]].values.tolist()[0]
    ['b', 'a', 'non-responder', 0.5]
    """
    caller = "arm_differences"
    alpha = check_alpha(alpha)
    if not isinstance(table, pd.DataFrame):
        raise AnalysisError(f"{caller}: table must be a pandas DataFrame from response_by_visit")
    missing = [c for c in ("visit", "arm", "outcome", "imputation", "n", "events") if c not in table.columns]
    if missing:
        raise AnalysisError(f"{caller}: column(s) not in the table: {', '.join(missing)}")
    reference = str(reference)
    arm_names = [a for a in pd.unique(table["arm"].astype(str)) if a != OVERALL]
    if reference not in arm_names:
        raise AnalysisError(f"{caller}: reference arm {shorten(repr(reference))} is not in the table's arms {arm_names}")
    others = [a for a in arm_names if a != reference]
    if not others:
        raise AnalysisError(f"{caller}: no arm other than the reference {reference!r} to compare")
    keys = ["visit", "outcome", "imputation"]
    arms = table["arm"].astype(str)
    ref = table[arms == reference].set_index(keys)
    if not ref.index.is_unique:
        raise AnalysisError(f"{caller}: more than one reference row per visit, outcome and imputation")
    method = f"Newcombe hybrid score {100 * (1 - alpha):g}% CI"
    rows = []
    for other in others:
        for _, row in table[arms == other].iterrows():
            key = tuple(row[k] for k in keys)
            out = dict(zip(keys, key, strict=True), arm=other, reference=reference,
                       difference=np.nan, ci_lower=np.nan, ci_upper=np.nan, method=method)
            if key in ref.index:
                r = ref.loc[key]
                if row["n"] > 0 and r["n"] > 0:
                    d, lo, hi = newcombe_difference(int(row["events"]), int(row["n"]), int(r["events"]),
                                                    int(r["n"]), alpha=alpha)
                    out.update(difference=d, ci_lower=lo, ci_upper=hi)
            rows.append(out)
    return pd.DataFrame(rows, columns=ARM_DIFFERENCE_COLUMNS)


def outcome_rates(frame: pd.DataFrame, outcomes: Sequence[str], *, group: str | None = None,
                  group_levels: Sequence[str] | None = None, ci_method: str = "clopper-pearson",
                  alpha: float = 0.05) -> pd.DataFrame:
    """Rate of each binary cohort outcome with its CI, overall and by group (observed cases).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per patient.
    outcomes : sequence of str
        Binary 0/1 columns (missing allowed: left out of ``n`` and counted in ``missing``).
    group : str, optional
        A grouping column; rows ``Overall`` first, then each level.
    group_levels : sequence of str, optional
        Order of the groups (default: sorted).
    ci_method : {"clopper-pearson", "wilson"}
    alpha : float, default 0.05

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, group, n, events, proportion, ci_lower, ci_upper, missing, method``.

    Examples
    --------
    >>> f = pd.DataFrame({"y": [1, 0, 1, np.nan], "g": ["a", "a", "b", "b"]})
    >>> outcome_rates(f, ["y"], group="g")[["group", "n", "events", "missing"]].values.tolist()
    [['Overall', 3, 2, 1], ['a', 2, 1, 0], ['b', 1, 1, 1]]
    """
    alpha = check_alpha(alpha)
    if ci_method not in _CI_NAMES:
        raise AnalysisError(f"outcome_rates: ci_method must be one of {', '.join(_CI_NAMES)}")
    missing = [c for c in (*outcomes, *([group] if group else [])) if c not in frame.columns]
    if missing:
        raise AnalysisError(f"outcome_rates: column(s) not in the table: {', '.join(missing)}")
    check_binary_columns(frame, list(outcomes), caller="outcome_rates")
    groups = [(OVERALL, frame)]
    if group:
        labels = frame[group].dropna().astype(str)
        levels = [str(v) for v in group_levels] if group_levels else sorted(labels.unique())
        groups += [(level, frame[frame[group].astype(str) == level]) for level in levels]
    rows = []
    for name in outcomes:
        for label, part in groups:
            values = pd.to_numeric(part[name], errors="coerce")
            n, events = int(values.notna().sum()), int((values == 1).sum())
            lo, hi = proportion_ci(events, n, method=ci_method, alpha=alpha)
            rows.append({"outcome": name, "group": label, "n": n, "events": events,
                         "proportion": events / n if n else np.nan, "ci_lower": float(lo),
                         "ci_upper": float(hi), "missing": int(values.isna().sum()),
                         "method": interval_label(ci_method, alpha) + ", observed cases"})
    return pd.DataFrame(rows, columns=OUTCOME_RATE_COLUMNS)
