"""Validate a raw table against the study's codebook, reporting every violation at once.

The per-column rules are expressed as a :mod:`pandera` schema built from the codebook;
pandera collects all failure cases lazily and this module turns them into
:class:`Violation` records that name the column, the rule, a count and a few row ids.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.errors import DataValidationError, StudyConfigError, Violation, shorten
from analysis.study.config import Study, Variable
from analysis.study.io import read_table

if TYPE_CHECKING:  # pandera is imported where a table is validated: reading a processed
    # cohort (every notebook but the first) does not need it
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

MAX_EXAMPLES = 5
TRUE_TEXT = {"1", "1.0", "true", "yes"}
FALSE_TEXT = {"0", "0.0", "false", "no"}


class UndeclaredColumnsWarning(UserWarning):
    """The raw table has columns the codebook does not declare."""


# --- element-wise parsers: text or typed cell -> value, NaN when missing or unparseable ---

def _numeric_or_nan(s: pd.Series) -> pd.Series:
    """Cells as floats, infinities kept; unparseable cells NaN."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    if not _stores_numbers(s):
        s = s.astype("string")
    return pd.to_numeric(s.astype("string").str.strip() if s.dtype == object else s,
                         errors="coerce").astype(float)


def _stores_numbers(s: pd.Series) -> bool:
    """Whether a column's storage type can hold numbers (text counts: it is parsed)."""
    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return False
    if pd.api.types.is_timedelta64_dtype(dtype) or isinstance(dtype, pd.PeriodDtype | pd.IntervalDtype):
        return False
    return not pd.api.types.is_complex_dtype(dtype)


def parse_numeric(s: pd.Series) -> pd.Series:
    """Cells as finite floats; unparseable and non-finite cells (``inf``) become NaN.

    Examples
    --------
    >>> parse_numeric(pd.Series(["1.5", " 2", "inf", "x"])).tolist()
    [1.5, 2.0, nan, nan]
    """
    values = _numeric_or_nan(s)
    return values.where(np.isfinite(values))


def parse_binary(s: pd.Series) -> pd.Series:
    """Cells 0/1 (also true/false, yes/no) as 0.0/1.0; anything else NaN."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    if pd.api.types.is_numeric_dtype(s):
        return s.where(s.isin([0, 1])).astype(float)
    text = s.astype("string").str.strip().str.lower()
    out = pd.Series(np.nan, index=s.index)
    out[text.isin(TRUE_TEXT).fillna(False).astype(bool)] = 1.0
    out[text.isin(FALSE_TEXT).fillna(False).astype(bool)] = 0.0
    return out


def parse_date(s: pd.Series, fmt: str | None = None) -> pd.Series:
    """Cells as datetimes (ISO 8601 unless the codebook gives a ``format``)."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    return pd.to_datetime(s, errors="coerce", format=fmt or "ISO8601")


def parse_text(s: pd.Series) -> pd.Series:
    """Cells as stripped strings with missing kept as NaN."""
    out = s.astype("string").str.strip()
    return out.astype(object).where(out.notna(), np.nan)


def parse_column(s: pd.Series, var: Variable) -> pd.Series:
    """Convert one raw column to the analysis type its codebook entry declares."""
    if var.type in ("numeric", "integer"):
        return parse_numeric(s)
    if var.type == "binary":
        return parse_binary(s)
    if var.type == "date":
        return parse_date(s, var.format)
    text = parse_text(s)
    if var.type == "categorical" and s.dtype != object:
        # levels are compared as text: 1 and "1" are the same level
        text = text.map(lambda v: v[:-2] if isinstance(v, str) and v.endswith(".0") else v)
    return text


def _not_missing(s: pd.Series) -> pd.Series:
    return s.notna() & (s.astype("string").str.strip() != "").fillna(False)


def _checks_for(var: Variable) -> list[pa.Check]:
    """The pandera checks of one codebook entry, each vectorised over the raw column."""
    import pandera.pandas as pa

    checks: list[pa.Check] = []

    def ok_or_missing(rule):
        return lambda s: (~_not_missing(s)) | rule(s)

    if var.type in ("numeric", "integer"):
        checks.append(pa.Check(ok_or_missing(lambda s: _numeric_or_nan(s).notna()),
                               error="not a number"))
        checks.append(pa.Check(lambda s: ~np.isinf(_numeric_or_nan(s)),
                               error="not a finite number (inf or a value too large)"))
        if var.type == "integer":
            checks.append(pa.Check(
                ok_or_missing(lambda s: parse_numeric(s).pipe(lambda x: x.isna() | (x == np.round(x)))),
                error="not a whole number"))
        if var.min is not None:
            checks.append(pa.Check(
                lambda s, lo=var.min: ~(parse_numeric(s) < lo), error=f"value below min {var.min}"))
        if var.max is not None:
            checks.append(pa.Check(
                lambda s, hi=var.max: ~(parse_numeric(s) > hi), error=f"value above max {var.max}"))
    elif var.type == "binary":
        checks.append(pa.Check(ok_or_missing(lambda s: parse_binary(s).notna()),
                               error="not binary (expected 0 or 1)"))
    elif var.type == "categorical":
        levels = list(var.levels or ())
        checks.append(pa.Check(
            ok_or_missing(lambda s: parse_column(s, var).isin(levels)),
            error=f"unknown level (allowed: {', '.join(levels)})"))
    elif var.type == "date":
        checks.append(pa.Check(ok_or_missing(lambda s: parse_date(s, var.format).notna()),
                               error=f"not a date ({var.format or 'YYYY-MM-DD'})"))
        for bound, op, word in ((var.min, "lt", "before"), (var.max, "gt", "after")):
            if bound is not None:
                limit = pd.Timestamp(bound)
                checks.append(pa.Check(
                    lambda s, b=limit, op=op: ~getattr(parse_date(s, var.format), op)(b),
                    error=f"date {word} {bound}"))
    if var.type in ("id", "text", "categorical"):
        checks.append(pa.Check(
            lambda s: ~s.astype("string").str.contains("\x00", regex=False).fillna(False).astype(bool),
            error="contains a NUL byte"))
    if var.required or var.type == "id":
        checks.append(pa.Check(_not_missing, error="missing value in a required column", ignore_na=False))
    return checks


def build_schema(variables: dict[str, Variable], *, strict: bool = False) -> pa.DataFrameSchema:
    """A pandera schema checking a *raw* table (cells may still be text) against a codebook.

    Examples
    --------
    >>> from analysis.study.config import Variable
    >>> schema = build_schema({"age": Variable("age", "numeric", min=0, max=120)})
    >>> list(schema.columns)
    ['age']
    """
    import pandera.pandas as pa

    columns = {
        name: pa.Column(
            checks=_checks_for(var),
            nullable=True,
            unique=False,  # ids are compared after stripping spaces: see id_violations
            required=True,
            coerce=False,
        )
        for name, var in variables.items()
    }
    return pa.DataFrameSchema(columns, strict=strict, name="codebook")


def _row_labels(df: pd.DataFrame, index: Iterable, id_col: str | None) -> list[str]:
    labels = []
    for i in index:
        try:
            pos = df.index.get_loc(i)
        except KeyError:
            labels.append(str(i))
            continue
        label = f"row {int(pos) + 1}" if isinstance(pos, int | np.integer) else f"row {i}"
        if id_col and id_col in df.columns and isinstance(pos, int | np.integer):
            value = df[id_col].iloc[pos]
            if pd.notna(value) and str(value).strip():
                label = f"{label} ({shorten(id_col)}={shorten(str(value).strip())})"
        labels.append(label)
    return labels


def _violations_from(errors: SchemaErrors, df: pd.DataFrame, id_col: str | None) -> list[Violation]:
    cases = errors.failure_cases
    found: list[Violation] = []
    for (column, check), rows in cases.groupby(["column", "check"], dropna=False, sort=False):
        column = None if pd.isna(column) else str(column)
        check = str(check)
        if check == "column_in_dataframe":
            for missing in rows["failure_case"]:
                found.append(Violation(shorten(missing), "column missing from the data file"))
            continue
        if check == "column_in_schema":
            for extra in rows["failure_case"]:
                found.append(Violation(shorten(extra), "column not declared in the codebook (strict: true)"))
            continue
        if check == "field_uniqueness":
            check = "duplicate id"
        index = [i for i in rows["index"].tolist() if i is not None and not pd.isna(i)]
        index = list(dict.fromkeys(index))
        found.append(Violation(column or "", check, len(index),
                               tuple(_row_labels(df, index[:MAX_EXAMPLES], id_col))))
    return found


def id_violations(df: pd.DataFrame, variables: dict[str, Variable]) -> list[Violation]:
    """Ids repeated once surrounding spaces are removed (``" P1"`` and ``"P1"`` are one id).

    Examples
    --------
    >>> df = pd.DataFrame({"pid": ["P1", " P1", "P2"]})
    >>> str(id_violations(df, {"pid": Variable("pid", "id")})[0])
    "column 'pid': duplicate id (2 rows, e.g. row 1 (pid=P1), row 2 (pid=P1))"
    """
    found = []
    for name, var in variables.items():
        if var.type != "id" or name not in df.columns:
            continue
        ids = parse_text(df[name])
        dupes = ids.notna() & ids.duplicated(keep=False)
        if dupes.any():
            rows = list(df.index[dupes.to_numpy()])
            found.append(Violation(name, "duplicate id", len(rows),
                                   tuple(_row_labels(df, rows[:MAX_EXAMPLES], name))))
    return found


def storage_violations(df: pd.DataFrame, variables: dict[str, Variable]) -> list[Violation]:
    """Numeric columns stored as dates, booleans or other non-numbers (e.g. in a Parquet file).

    Examples
    --------
    >>> df = pd.DataFrame({"age": pd.to_datetime(["2020-01-01"])})
    >>> str(storage_violations(df, {"age": Variable("age", "numeric", max=100)})[0])
    "column 'age': stored as datetime64[ns] in the data file, not as numbers"
    """
    return [
        Violation(name, f"stored as {shorten(df[name].dtype)} in the data file, not as numbers")
        for name, var in variables.items()
        if var.type in ("numeric", "integer") and name in df.columns and not _stores_numbers(df[name])
    ]


def outcome_violations(values: pd.Series, name: str) -> list[Violation]:
    """Rules for a binary outcome after parsing: only 0/1 and both classes present."""
    parsed = values.dropna()
    if parsed.empty:
        return [Violation(name, "outcome has no non-missing values")]
    classes = sorted(set(parsed.astype(float).tolist()))
    if not set(classes) <= {0.0, 1.0}:
        return [Violation(name, f"outcome must be coded 0/1 (found {classes[:5]})")]
    if len(classes) < 2:
        return [Violation(name, f"outcome has only one class ({int(classes[0])}); need both 0 and 1")]
    return []


def validate_raw(df: pd.DataFrame, study: Study) -> tuple[pd.DataFrame, list[str]]:
    """Check a raw table against ``study``'s codebook and return it typed.

    See :func:`validate_table` for what is returned and raised.
    """
    return validate_table(
        df, study.raw_variables, declared=study.variables, source=study.data,
        strict=study.strict, id_col=study.id,
        outcomes=(study.outcome, *study.secondary_outcomes),
    )


def validate_table(df: pd.DataFrame, variables: dict[str, Variable], *, declared=None,
                   source: str = "data file", strict: bool = False, id_col: str | None = None,
                   outcomes: Iterable[str] = (), unique: Iterable[str] | None = None,
                   ) -> tuple[pd.DataFrame, list[str]]:
    """Check a raw table against a codebook and return it typed.

    Returns
    -------
    typed : DataFrame
        The table with each declared column converted to its analysis type (numeric,
        integer and binary as float with NaN; categorical and id as text; dates as
        datetimes); undeclared columns are dropped.
    warnings : list of str
        Non-fatal findings (undeclared columns when the study is not strict).

    Raises
    ------
    DataValidationError
        With every violation found, if any rule fails.
    """
    declared = variables if declared is None else declared
    if df.shape[0] == 0:
        raise DataValidationError([Violation("", f"the data file {source} has no rows")])
    found: list[Violation] = []
    notes: list[str] = []
    if df.columns.duplicated().any():
        dupes = sorted(set(df.columns[df.columns.duplicated()]))
        found += [Violation(c, "column appears more than once in the data file") for c in dupes]
        df = df.loc[:, ~df.columns.duplicated()]
    undeclared = [c for c in df.columns if c not in declared]
    if undeclared and not strict:
        notes.append(
            f"{len(undeclared)} column(s) not declared in the codebook were ignored: "
            + ", ".join(map(str, undeclared[:10]))
        )
    stored = storage_violations(df, variables)
    found += stored
    # a mistyped column is reported once, as a type problem, not as "above max" per row
    checked = {name: dataclasses.replace(var, type="text", min=None, max=None)
               if any(v.column == name for v in stored) else var
               for name, var in variables.items()}
    from pandera.errors import SchemaErrors

    schema = build_schema(checked, strict=strict)
    try:
        schema.validate(df, lazy=True)
    except SchemaErrors as exc:
        found += _violations_from(exc, df, id_col)
    found += id_violations(df, variables)
    if unique:
        keys = [k for k in unique if k in df.columns]
        dupes = df.duplicated(subset=keys, keep=False) if len(keys) == len(list(unique)) else None
        if dupes is not None and dupes.any():
            rows = list(df.index[dupes])
            found.append(Violation(", ".join(keys), "duplicate rows for the same " + " and ".join(keys),
                                   len(rows), tuple(_row_labels(df, rows[:MAX_EXAMPLES], id_col))))
    # outcome rules apply to raw outcomes here; derived outcomes are checked after derivation
    for name in outcomes:
        if name in variables and name in df.columns:
            found += outcome_violations(parse_binary(df[name]), name)
    if found:
        raise DataValidationError(found)
    typed = pd.DataFrame(
        {name: parse_column(df[name], var) for name, var in variables.items()}, index=df.index
    )
    return typed.reset_index(drop=True), notes


def validate_derived(df: pd.DataFrame, study: Study) -> None:
    """Check derived columns against their codebook entries (ranges, levels, outcome classes)."""
    found = derived_violations(df, study.variables, study.derive, study.id,
                               outcomes=(study.outcome, *study.secondary_outcomes))
    if found:
        raise DataValidationError(found)


def derived_violations(df: pd.DataFrame, variables: dict[str, Variable], derive, id_col,
                       outcomes: Iterable[str] = ()) -> list[Violation]:
    """Violations of derived columns against their codebook entries."""
    derived = {k: v for k, v in variables.items() if k in derive}
    if not derived:
        return []
    from pandera.errors import SchemaErrors

    found: list[Violation] = []
    schema = build_schema(derived, strict=False)
    frame = df[[*([id_col] if id_col in df.columns else []), *derived]]
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        found += [
            Violation(v.column, f"derived value: {v.rule}", v.count, v.examples)
            for v in _violations_from(exc, frame, id_col)
        ]
    for name in outcomes:
        if name in derived:
            found += outcome_violations(df[name], name)
    return found


def validate_visits(df: pd.DataFrame, study: Study, cohort_ids: pd.Series) -> pd.DataFrame:
    """Check the long visit table: codebook, one row per patient and time, known patients,
    scheduled times. Returns it typed."""
    visits = study.visits
    typed, _ = validate_table(df, visits.raw_variables, declared=visits.variables,
                              source=visits.data, strict=study.strict, id_col=study.id,
                              unique=(study.id, visits.time))
    found = []
    unknown = ~typed[study.id].isin(set(cohort_ids))
    if unknown.any():
        rows = list(typed.index[unknown])
        found.append(Violation(study.id, f"visit of a patient not in {study.data}", len(rows),
                               tuple(_row_labels(typed, rows[:MAX_EXAMPLES], study.id))))
    off = ~typed[visits.time].isin(list(visits.times))
    if off.any():
        rows = list(typed.index[off])
        found.append(Violation(visits.time, f"time not among the scheduled visits {list(visits.times)}",
                               len(rows), tuple(_row_labels(typed, rows[:MAX_EXAMPLES], study.id))))
    if found:
        raise DataValidationError(found)
    return typed


def load_raw(study: Study, path=None) -> pd.DataFrame:
    """Read the study's raw table (text cells for CSV/XLSX), failing clearly when unreadable."""
    try:
        return read_table(path or study.data_path)
    except StudyConfigError as exc:
        raise DataValidationError([Violation("", str(exc))]) from exc


def check_study(study: Study, *, echo=print) -> pd.DataFrame:
    """Load and validate a study's raw table; print a summary; return the typed table.

    Raises :class:`DataValidationError` listing every violation.
    """
    raw = load_raw(study)
    typed, notes = validate_raw(raw, study)
    for note in notes:
        warnings.warn(note, UndeclaredColumnsWarning, stacklevel=2)
    echo(f"{study.name}: {len(typed)} rows x {len(study.raw_variables)} declared columns: OK")
    if study.visits:
        visits = validate_visits(load_raw(study, study.visits_path), study, typed[study.id])
        echo(f"{study.name}: {len(visits)} visit rows ({study.visits.data}): OK")
    return typed
