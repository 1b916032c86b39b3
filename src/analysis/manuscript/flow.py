"""The participant flow: rows read, excluded by rule, analysed (TRIPOD+AI item 20a).

Read from notebook 01's ``tables/cohort_summary.csv`` (:meth:`PreparedCohort.summary
<analysis.study.prepare.PreparedCohort.summary>`).  Preparing the cohort drops no row: a
row that breaks a codebook rule stops the run with the list of violations instead, so the
rule "failed a codebook check" always excludes 0.  The analyses of the outcome (notebooks
04-06) then use the patients whose outcome is recorded.
"""

from __future__ import annotations

import re

import pandas as pd

from analysis.errors import AnalysisError
from analysis.study.paths import StudyPaths

__all__ = ["FLOW_COLUMNS", "participant_flow", "summary_counts"]

FLOW_COLUMNS = ("step", "rule", "n", "remaining")
CODEBOOK_RULE = ("failed a codebook check (types, ranges, levels, unique ids; a violation "
                 "stops the run, so no row is dropped)")


def summary_counts(summary: pd.DataFrame, outcome: str | None = None) -> dict[str, int]:
    """Patients, events, non-events, missing outcomes and complete cases of a cohort summary.

    Parameters
    ----------
    summary : pandas.DataFrame
        ``cohort_summary.csv`` (``item, value``).
    outcome : str, optional
        The outcome column; default the one the summary names.

    Examples
    --------
    >>> s = pd.DataFrame({"item": ["patients", "outcome 'y' events", "outcome 'y' non-events",
    ...                            "outcome 'y' missing"], "value": ["10", "4", "5", "1"]})
    >>> summary_counts(s)
    {'patients': 10, 'events': 4, 'non_events': 5, 'missing': 1}
    """
    if not {"item", "value"} <= set(summary.columns):
        raise AnalysisError("cohort summary must have the columns item, value (notebook 01)")
    values = dict(zip(summary["item"].astype(str), summary["value"], strict=True))
    if outcome is None:
        names = {m.group(1) for item in values for m in [re.match(r"outcome '(.+)' events$", item)]
                 if m}
        if len(names) != 1:
            raise AnalysisError("cohort summary does not name one outcome (notebook 01)")
        outcome = names.pop()
    keys = {"patients": "patients", "events": f"outcome '{outcome}' events",
            "non_events": f"outcome '{outcome}' non-events",
            "missing": f"outcome '{outcome}' missing",
            "complete_cases": "complete cases (predictors and outcome)"}
    out = {}
    for key, item in keys.items():
        if item in values:
            try:
                out[key] = int(float(values[item]))
            except (TypeError, ValueError) as exc:
                raise AnalysisError(f"cohort summary: {item!r} is not a count") from exc
        elif key != "complete_cases":
            raise AnalysisError(f"cohort summary lacks the row {item!r} (re-run notebook 01)")
    return out


def participant_flow(study, paths: StudyPaths | None = None) -> pd.DataFrame:
    """Rows read, excluded by rule (one row per rule) and analysed, as a tidy table.

    Parameters
    ----------
    study : Study or None
        The study (its outcome and the outcome's label); ``None`` takes the outcome the
        summary names.
    paths : StudyPaths, optional
        Default ``study.paths``.

    Returns
    -------
    pandas.DataFrame
        ``step`` ("read", "excluded", "analysed"), ``rule``, ``n`` and ``remaining`` (the
        patients left after the step); ``n`` read minus the excluded equals ``n`` analysed.

    Raises
    ------
    AnalysisError
        If notebook 01's summary is missing or its counts do not add up.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> paths = StudyPaths("demo", Path(tempfile.mkdtemp()))
    >>> paths.tables.mkdir(parents=True)
    >>> _ = pd.DataFrame({"item": ["patients", "outcome 'y' events", "outcome 'y' non-events",
    ...                            "outcome 'y' missing"], "value": [10, 4, 5, 1]}
    ...                  ).to_csv(paths.table("cohort_summary"), index=False)
    >>> participant_flow(None, paths)[["step", "n", "remaining"]].to_dict("list")
    {'step': ['read', 'excluded', 'excluded', 'analysed'], 'n': [10, 0, 1, 9], 'remaining': [10, 10, 9, 9]}
    """
    if paths is None:
        if study is None:
            raise AnalysisError("participant_flow needs a study or its paths")
        paths = study.paths
    path = paths.table("cohort_summary")
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist: run notebooks/01-prepare-cohort.ipynb first")
    summary = pd.read_csv(path, dtype=str, keep_default_na=False)
    outcome = study.outcome if study is not None else None
    counts = summary_counts(summary, outcome)
    label = study.label(study.outcome) if study is not None else None
    what = f"{label} ({outcome})" if label and label != outcome else f"{outcome or 'the outcome'}"
    if outcome is None:
        what = next(m.group(1) for item in summary["item"]
                    for m in [re.match(r"outcome '(.+)' events$", str(item))] if m)
    read, missing = counts["patients"], counts["missing"]
    analysed = counts["events"] + counts["non_events"]
    if read - missing != analysed:
        raise AnalysisError(
            f"cohort summary does not add up: {read} patients - {missing} without outcome != "
            f"{analysed} with an outcome")
    rows = [
        ("read", "rows of the raw table (one per patient)", read, read),
        ("excluded", CODEBOOK_RULE, 0, read),
        ("excluded", f"outcome not recorded: {what}", missing, read - missing),
        ("analysed", f"patients with a recorded outcome ({counts['events']} events, "
                     f"{counts['non_events']} non-events)", analysed, analysed),
    ]
    return pd.DataFrame(rows, columns=list(FLOW_COLUMNS))
