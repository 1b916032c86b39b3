"""Load a study folder (``data/<study>/study.yaml``) and check that the file itself is sound.

The vocabulary is documented in the README ("Bring your own cohort"). A study.yaml with only
``title, data, id, outcome, group, predictors, variables`` is always valid; the optional
keys add derivations, visits, treatment options and modelling settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from analysis.errors import StudyConfigError
from analysis.study.paths import StudyPaths, study_paths

VARIABLE_TYPES = ("numeric", "integer", "binary", "categorical", "id", "date", "text")
TOP_LEVEL_KEYS = {
    "title": "short title used in reports",
    "description": "a paragraph on the study design",
    "data": "raw table, relative to the study folder (CSV, XLSX or Parquet)",
    "id": "unique row id column (optional)",
    "outcome": "the binary 0/1 outcome column (raw or derived)",
    "group": "optional: Table 1 and comparisons by this variable",
    "predictors": "candidate predictors of the outcome",
    "variables": "the codebook: one entry per column",
    "strict": "true: undeclared columns are errors instead of warnings",
    "derive": "derived variables: name -> expression over columns and index functions",
    "secondary_outcomes": "other binary outcomes reported alongside the main one",
    "visits": "repeated measures in long format (data, id, time, times, variables, derive)",
    "treatment": "treatment options the prediction tool scores each patient under",
    "modelling": "resampling and model settings",
    "seed": "the study's random seed (default 20241122)",
}
VARIABLE_KEYS = {
    "type", "label", "unit", "min", "max", "levels", "description", "summary",
    "transform", "required", "format",
}
SUMMARY_CHOICES = ("mean", "median")
TRANSFORMS = ("none", "log", "log1p", "sqrt")
DEFAULT_SEED = 20241122
# resampling defaults (study.yaml `modelling:` overrides any of them); smoke mode shrinks them
MODELLING_DEFAULTS = {
    "outer_splits": 5,        # nested CV: stratified outer folds ...
    "outer_repeats": 2,       # ... repeated with different splits
    "inner_splits": 3,        # inner folds for tuning
    "bootstrap": 200,         # Harrell's bootstrap optimism correction (B)
    "threshold": None,        # classification threshold (default: the outcome prevalence)
    "models": None,           # subset of the model zoo (default: all)
    "clinical_scores": [],    # published scores to compare, e.g. [vedolizumab_cdst]
    "reference": "logistic",  # the reference model for DeLong tests
    "continuous_outcome": None,  # optional: linear regression of this column (notebook 04)
    "imputations": 20,        # multiple imputation (notebook 04)
}
SMOKE_MODELLING = {"outer_splits": 3, "outer_repeats": 1, "inner_splits": 2, "bootstrap": 8,
                   "imputations": 3}


@dataclass(frozen=True)
class Variable:
    """One codebook entry.

    Examples
    --------
    >>> Variable("age", "numeric", min=18, max=100, unit="years").display_label
    'age, years'
    """

    name: str
    type: str
    label: str | None = None
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    levels: tuple | None = None
    description: str | None = None
    summary: str | None = None
    transform: str | None = None
    required: bool = False
    format: str | None = None

    @property
    def display_label(self) -> str:
        text = self.label or self.name
        return f"{text}, {self.unit}" if self.unit else text

    def as_dict(self) -> dict[str, Any]:
        """The entry as a plain dict (the form the table builders take)."""
        out = {"type": self.type}
        for key in ("label", "unit", "min", "max", "description", "summary", "transform", "format"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.levels is not None:
            out["levels"] = list(self.levels)
        if self.required:
            out["required"] = True
        return out


@dataclass(frozen=True)
class Visits:
    """Repeated measures in long format: one row per patient and visit.

    Declared in study.yaml as::

        visits:
          data: raw/visits.csv        # long table: id, time and the visit variables
          time: week                  # column holding the visit time
          times: [0, 4, 8, 12, 24]    # scheduled visits; the first is the baseline
          variables: {...}            # codebook of the visit columns
          derive: {...}               # per-visit derivations; baseline(x) is available
    """

    data: str
    time: str
    times: tuple
    variables: dict[str, Variable]
    derive: dict[str, str] = field(default_factory=dict)
    label: str | None = None

    @property
    def raw_variables(self) -> dict[str, Variable]:
        return {k: v for k, v in self.variables.items() if k not in self.derive}


@dataclass(frozen=True)
class Study:
    """A parsed, checked study.yaml.

    Use :func:`load_study` to build one.
    """

    name: str
    paths: StudyPaths
    title: str
    data: str
    outcome: str
    predictors: tuple[str, ...]
    variables: dict[str, Variable]
    id: str | None = None
    group: str | None = None
    description: str = ""
    strict: bool = False
    derive: dict[str, str] = field(default_factory=dict)
    secondary_outcomes: tuple[str, ...] = ()
    visits: Visits | None = None
    treatment: dict[str, Any] | None = None
    modelling: dict[str, Any] = field(default_factory=dict)
    seed: int = DEFAULT_SEED
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def data_path(self) -> Path:
        return self.paths.folder / self.data

    @property
    def visits_path(self) -> Path | None:
        return self.paths.folder / self.visits.data if self.visits else None

    @property
    def raw_variables(self) -> dict[str, Variable]:
        """Codebook entries expected in the raw table (everything not derived)."""
        return {k: v for k, v in self.variables.items() if k not in self.derive}

    def codebook(self, names=None) -> dict[str, dict[str, Any]]:
        """The codebook as plain dicts, optionally restricted to ``names`` (kept in order)."""
        names = list(self.variables) if names is None else list(names)
        return {n: self.variables[n].as_dict() for n in names if n in self.variables}

    def modelling_settings(self, smoke: bool = False) -> dict[str, Any]:
        """Resampling and model settings: defaults, then study.yaml, then smoke mode."""
        settings = {**MODELLING_DEFAULTS, **self.modelling}
        if smoke:
            for key, value in SMOKE_MODELLING.items():
                settings[key] = min(settings[key], value)
        return settings

    def label(self, name: str) -> str:
        var = self.variables.get(name)
        return var.label if var is not None and var.label else name


def load_study(study: str | os.PathLike, root: str | os.PathLike | None = None) -> Study:
    """Read and check ``data/<study>/study.yaml``.

    ``study`` is a study name (a folder under ``data/``) or a path to a study.yaml.
    Every problem in the file is reported at once in one :class:`StudyConfigError`.

    Examples
    --------
    >>> load_study("no-such-study")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.errors.StudyConfigError: study 'no-such-study' not found: ...
    """
    path = Path(study)
    if path.suffix in {".yaml", ".yml"} and path.is_file():
        paths = StudyPaths(path.parent.name, path.parent.parent.parent.resolve())
    else:
        paths = study_paths(str(study), root)
    if not paths.study_yaml.is_file():
        raise StudyConfigError(f"study {paths.study!r} not found: no file {paths.study_yaml}")
    try:
        raw = yaml.safe_load(paths.study_yaml.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StudyConfigError(f"{paths.study_yaml}: not valid YAML: {exc}") from exc
    return parse_study(raw, paths)


def parse_study(raw: Any, paths: StudyPaths) -> Study:
    """Check the structure of a loaded study.yaml and build a :class:`Study`."""
    where = f"{paths.study}/study.yaml"
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise StudyConfigError(f"{where}: must be a mapping of keys, got {type(raw).__name__}")
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"unknown key {key!r} (known: {', '.join(TOP_LEVEL_KEYS)})")
    for key in ("title", "data", "outcome", "predictors", "variables"):
        if key not in raw:
            problems.append(f"missing required key {key!r} ({TOP_LEVEL_KEYS[key]})")
    for key in ("title", "data", "outcome", "id", "group", "description"):
        if key in raw and raw[key] is not None and not isinstance(raw[key], str):
            problems.append(f"{key!r} must be a string, got {type(raw[key]).__name__}")

    variables: dict[str, Variable] = {}
    raw_vars = raw.get("variables")
    if raw_vars is not None and not isinstance(raw_vars, Mapping):
        problems.append("'variables' must be a mapping: column -> {type: ..., ...}")
        raw_vars = {}
    for name, spec in (raw_vars or {}).items():
        var, var_problems = _parse_variable(str(name), spec)
        problems += var_problems
        if var is not None:
            variables[str(name)] = var

    id_col = raw.get("id")
    if id_col and id_col not in variables and not problems:
        variables = {id_col: Variable(id_col, "id", label="Patient id"), **variables}
    elif id_col and id_col in variables and variables[id_col].type != "id":
        problems.append(f"id column {id_col!r} must have type 'id'")

    derive = raw.get("derive") or {}
    if not isinstance(derive, Mapping):
        problems.append("'derive' must be a mapping: name -> expression")
        derive = {}
    derive = {str(k): str(v) for k, v in derive.items()}
    for name in derive:
        if name not in variables:
            problems.append(
                f"derived variable {name!r} needs an entry under 'variables' "
                "(at least its type)"
            )

    predictors = raw.get("predictors") or []
    if not isinstance(predictors, list) or not all(isinstance(p, str) for p in predictors):
        problems.append("'predictors' must be a list of column names")
        predictors = []
    secondary = raw.get("secondary_outcomes") or []
    if not isinstance(secondary, list):
        problems.append("'secondary_outcomes' must be a list of column names")
        secondary = []
    outcome = raw.get("outcome")
    group = raw.get("group")
    if variables:
        for role, names in (
            ("outcome", [outcome] if outcome else []),
            ("group", [group] if group else []),
            ("predictors", predictors),
            ("secondary_outcomes", secondary),
        ):
            for name in names:
                if name not in variables:
                    problems.append(f"{role}: {name!r} is not declared under 'variables'")
        for name in [outcome, *secondary]:
            if name in variables and variables[name].type != "binary":
                problems.append(f"outcome {name!r} must have type 'binary' (0/1)")
        if group in variables and variables[group].type not in ("categorical", "binary"):
            problems.append(f"group {group!r} must be categorical or binary")
        if outcome in predictors:
            problems.append(f"the outcome {outcome!r} cannot also be a predictor")
        if len(set(predictors)) != len(predictors):
            problems.append("'predictors' lists a column twice")

    strict = raw.get("strict", False)
    if not isinstance(strict, bool):
        problems.append("'strict' must be true or false")
    seed = raw.get("seed", DEFAULT_SEED)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        problems.append("'seed' must be a non-negative integer")
    for key in ("visits", "treatment", "modelling"):
        if raw.get(key) is not None and not isinstance(raw.get(key), Mapping):
            problems.append(f"{key!r} must be a mapping")
    if isinstance(raw.get("modelling"), Mapping):
        for key, value in raw["modelling"].items():
            if key not in MODELLING_DEFAULTS:
                problems.append(f"modelling: unknown key {key!r} (known: {', '.join(MODELLING_DEFAULTS)})")
            elif key in ("outer_splits", "outer_repeats", "inner_splits", "bootstrap", "imputations") and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                problems.append(f"modelling.{key} must be a positive integer")
    visits = None
    if isinstance(raw.get("visits"), Mapping):
        visits, visit_problems = _parse_visits(raw["visits"], id_col)
        problems += visit_problems
    treatment = raw.get("treatment")
    if isinstance(treatment, Mapping):
        col = treatment.get("column")
        if col not in variables or variables[col].type not in ("categorical", "binary"):
            problems.append("treatment.column must name a categorical variable")
        elif col not in predictors:
            problems.append(f"treatment.column {col!r} must be one of the predictors")

    if problems:
        raise StudyConfigError(
            f"{where}: {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems)
        )
    return Study(
        name=paths.study,
        paths=paths,
        title=raw["title"],
        data=raw["data"],
        outcome=outcome,
        predictors=tuple(predictors),
        variables=variables,
        id=id_col,
        group=group,
        description=raw.get("description") or "",
        strict=strict,
        derive=derive,
        secondary_outcomes=tuple(secondary),
        visits=visits,
        treatment=dict(treatment) if treatment else None,
        modelling=dict(raw.get("modelling") or {}),
        seed=seed,
        raw=dict(raw),
    )


VISIT_KEYS = {"data", "time", "times", "variables", "derive", "label"}


def _parse_visits(spec: Mapping, id_col: str | None) -> tuple[Visits | None, list[str]]:
    problems = [f"visits: unknown key {k!r} (known: {', '.join(sorted(VISIT_KEYS))})"
                for k in spec if k not in VISIT_KEYS]
    if not id_col:
        problems.append("visits: the study needs an 'id' column to link visits to patients")
    for key in ("data", "time", "times"):
        if key not in spec:
            problems.append(f"visits: missing required key {key!r}")
    times = spec.get("times") or []
    if not isinstance(times, list) or not times or not all(
        isinstance(t, int | float) and not isinstance(t, bool) for t in times
    ):
        problems.append("visits.times must be a non-empty list of numbers (the first is baseline)")
        times = []
    variables: dict[str, Variable] = {}
    raw_vars = spec.get("variables") or {}
    if not isinstance(raw_vars, Mapping):
        problems.append("visits.variables must be a mapping")
        raw_vars = {}
    for name, vspec in raw_vars.items():
        var, var_problems = _parse_variable(str(name), vspec)
        problems += [f"visits.{p}" for p in var_problems]
        if var is not None:
            variables[str(name)] = var
    time_col = spec.get("time")
    if id_col and id_col not in variables:
        variables = {id_col: Variable(id_col, "text", label="Patient id", required=True), **variables}
    if isinstance(time_col, str) and time_col not in variables:
        variables[time_col] = Variable(time_col, "numeric", label=time_col, required=True)
    derive = spec.get("derive") or {}
    if not isinstance(derive, Mapping):
        problems.append("visits.derive must be a mapping: name -> expression")
        derive = {}
    derive = {str(k): str(v) for k, v in derive.items()}
    for name in derive:
        if name not in variables:
            problems.append(f"visits: derived variable {name!r} needs an entry under visits.variables")
    if problems:
        return None, problems
    return Visits(data=spec["data"], time=time_col, times=tuple(times), variables=variables,
                  derive=derive, label=spec.get("label")), []


def _parse_variable(name: str, spec: Any) -> tuple[Variable | None, list[str]]:
    problems: list[str] = []
    where = f"variables.{name}"
    if not isinstance(spec, Mapping):
        return None, [f"{where}: must be a mapping like {{type: numeric}}"]
    for key in spec:
        if key not in VARIABLE_KEYS:
            problems.append(f"{where}: unknown key {key!r} (known: {', '.join(sorted(VARIABLE_KEYS))})")
    vtype = spec.get("type")
    if vtype not in VARIABLE_TYPES:
        problems.append(f"{where}: type must be one of {', '.join(VARIABLE_TYPES)} (got {vtype!r})")
    levels = spec.get("levels")
    if vtype == "categorical":
        if not isinstance(levels, list) or len(levels) < 1:
            problems.append(f"{where}: a categorical variable needs a list of 'levels'")
        elif len({str(x) for x in levels}) != len(levels):
            problems.append(f"{where}: 'levels' has duplicates")
    elif levels is not None:
        problems.append(f"{where}: 'levels' only applies to categorical variables")
    lo, hi = spec.get("min"), spec.get("max")
    for key, value in (("min", lo), ("max", hi)):
        if value is not None:
            if vtype == "date":
                continue
            if vtype not in ("numeric", "integer"):
                problems.append(f"{where}: {key!r} only applies to numeric, integer or date variables")
            elif not isinstance(value, int | float) or isinstance(value, bool):
                problems.append(f"{where}: {key!r} must be a number (got {value!r})")
    if (
        isinstance(lo, int | float) and isinstance(hi, int | float)
        and not isinstance(lo, bool) and not isinstance(hi, bool) and lo > hi
    ):
        problems.append(f"{where}: min ({lo}) is greater than max ({hi})")
    if spec.get("summary") is not None and spec["summary"] not in SUMMARY_CHOICES:
        problems.append(f"{where}: summary must be one of {SUMMARY_CHOICES}")
    if spec.get("transform") is not None and spec["transform"] not in TRANSFORMS:
        problems.append(f"{where}: transform must be one of {TRANSFORMS}")
    if problems:
        return None, problems
    return (
        Variable(
            name=name,
            type=vtype,
            label=spec.get("label"),
            unit=spec.get("unit"),
            min=lo,
            max=hi,
            levels=tuple(str(x) for x in levels) if levels is not None else None,
            description=spec.get("description"),
            summary=spec.get("summary"),
            transform=spec.get("transform"),
            required=bool(spec.get("required", False)),
            format=spec.get("format"),
        ),
        [],
    )
