"""From raw table to analysis-ready cohort: validate, derive, validate again, save.

Examples
--------
>>> # study = load_study("ibd-biologics"); cohort = prepare_cohort(study).cohort
"""

from __future__ import annotations

import io as _io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from analysis.errors import DataValidationError
from analysis.study.checks import (
    derived_violations,
    load_raw,
    validate_derived,
    validate_raw,
    validate_visits,
)
from analysis.study.config import Study
from analysis.study.derive import (
    baseline_lookup,
    derivation_table,
    derive_columns,
    patient_lookup,
    visit_lookup,
)
from analysis.study.io import write_bytes


@dataclass
class PreparedCohort:
    """The analysis-ready table with what was done to it."""

    cohort: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    derivations: pd.DataFrame | None = None
    visits: pd.DataFrame | None = None

    def summary(self, study: Study) -> pd.DataFrame:
        """One-row-per-fact summary suitable for the report (no patient-level values)."""
        y = self.cohort[study.outcome]
        rows = [
            ("patients", len(self.cohort)),
            ("declared variables", len(study.variables)),
            ("derived variables", len(study.derive)),
            ("candidate predictors", len(study.predictors)),
            (f"outcome '{study.outcome}' events", int((y == 1).sum())),
            (f"outcome '{study.outcome}' non-events", int((y == 0).sum())),
            (f"outcome '{study.outcome}' missing", int(y.isna().sum())),
            ("complete cases (predictors and outcome)",
             int(self.cohort[[*study.predictors, study.outcome]].notna().all(axis=1).sum())),
        ]
        # every derived yes/no definition (e.g. EULAR difficult-to-treat RA): how many meet it
        for name in study.derive:
            if name in self.cohort and study.variables[name].type == "binary" and name != study.outcome:
                values = self.cohort[name]
                rows.append((f"{study.label(name)} ({name}): yes / known",
                             f"{int((values == 1).sum())} / {int(values.notna().sum())}"))
        return pd.DataFrame(rows, columns=["item", "value"])


def prepare_cohort(study: Study, raw: pd.DataFrame | None = None) -> PreparedCohort:
    """Validate ``raw`` (default: the study's data file), derive variables, check them.

    Raises :class:`analysis.errors.DataValidationError` listing every violation.
    """
    raw = load_raw(study) if raw is None else raw
    typed, notes = validate_raw(raw, study)
    extra, visits = {}, None
    if study.visits:
        visits = prepare_visits(study, typed)
        extra["visit"] = visit_lookup(visits, study.id, study.visits.time, typed[study.id])
    derived = derive_columns(typed, study.derive, extra)
    validate_derived(derived, study)
    ordered = [c for c in study.variables if c in derived.columns]
    labels = {k: v.label or k for k, v in study.variables.items()}
    table = derivation_table(study.derive, labels)
    if study.visits and study.visits.derive:
        vlabels = {k: v.label or k for k, v in study.visits.variables.items()}
        vtable = derivation_table(study.visits.derive, vlabels)
        vtable["variable"] = "visits." + vtable["variable"]
        table = pd.concat([vtable, table], ignore_index=True)
    return PreparedCohort(derived[ordered], notes, table, visits)


def prepare_visits(study: Study, cohort: pd.DataFrame) -> pd.DataFrame:
    """Validate the long visit table, derive its per-visit variables, check them.

    Visit derivations may use ``baseline(x)`` (the patient's first-visit value of ``x``) and
    ``patient("sex")`` (a column of the patient's row in the cohort table).
    """
    spec = study.visits
    typed = validate_visits(load_raw(study, study.visits_path), study, cohort[study.id])
    typed = typed.sort_values([study.id, spec.time], kind="stable").reset_index(drop=True)
    extra = {"baseline": baseline_lookup(typed, study.id, spec.time, spec.times[0]),
             "patient": patient_lookup(typed, study.id, cohort)}
    derived = derive_columns(typed, spec.derive, extra)
    found = derived_violations(derived, spec.variables, spec.derive, study.id)
    if found:
        raise DataValidationError(found)
    return derived[[c for c in spec.variables if c in derived.columns]]


def write_parquet(df: pd.DataFrame, target: str | Path) -> Path:
    """Write ``df`` as Parquet atomically (deterministic bytes for identical frames)."""
    buffer = _io.BytesIO()
    df.to_parquet(buffer, index=False, engine="pyarrow", compression="zstd")
    return write_bytes(target, buffer.getvalue())


def read_processed(study: Study) -> pd.DataFrame:
    """The processed cohort written by notebook 01."""
    path = study.paths.processed_cohort
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: run notebooks/01-prepare-cohort.ipynb first "
            f"(make study STUDY={study.name})"
        )
    return pd.read_parquet(path)
