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

from analysis.errors import StudyConfigError, shorten, shorten_repr
from analysis.study.paths import StudyPaths, study_paths
from analysis.study.settings import (  # the defaults are re-exported for old imports
    MODELLING_DEFAULTS,  # noqa: F401
    SMOKE_MODELLING,  # noqa: F401
    ModellingSettings,
    Subgroup,
    modelling_problems,
    parse_subgroups,
)
from analysis.validators import is_finite_number

EXTERNAL_DATA_ENV = "ANALYSIS_ALLOW_EXTERNAL_DATA"  # "1": data files may lie outside the study folder
MAX_STUDY_YAML_BYTES = 2_000_000


class StudyYamlLoader(yaml.SafeLoader):
    """YAML's safe loader, stricter: no aliases or anchors and no duplicate keys.

    An alias list nested a few levels deep ("billion laughs") expands to gigabytes, and a
    duplicated key silently keeps only its last value; both are refused with the key or
    anchor and its line.

    Examples
    --------
    >>> yaml.load("{a: 1, b: 2}", Loader=StudyYamlLoader)
    {'a': 1, 'b': 2}
    >>> yaml.load("{a: 1, a: 2}", Loader=StudyYamlLoader)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.errors.StudyConfigError: line 1: key 'a' appears twice in the same mapping ...
    """

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise StudyConfigError(
                f"line {event.start_mark.line + 1}: YAML aliases (*{shorten(event.anchor)}) are not "
                "allowed in study.yaml: write the value out")
        event = self.peek_event()
        if getattr(event, "anchor", None):
            raise StudyConfigError(
                f"line {event.start_mark.line + 1}: YAML anchors (&{shorten(event.anchor)}) are not "
                "allowed in study.yaml: write the value out")
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise StudyConfigError(
                    f"line {key_node.start_mark.line + 1}: a mapping key must be a plain value, "
                    f"not {type(key).__name__}") from None
            line = key_node.start_mark.line + 1
            if key in seen:
                raise StudyConfigError(
                    f"line {line}: key {shorten_repr(key)} appears twice in the same mapping "
                    f"(first on line {seen[key]}): YAML would keep only the last value")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_study_yaml(path: str | os.PathLike) -> Any:
    """Load a study.yaml as plain data, refusing anything that is not clean UTF-8 YAML.

    Raises
    ------
    StudyConfigError
        Naming the file and, where known, the line: not UTF-8 text, not valid YAML, an
        alias or anchor, a duplicated key, or a file larger than 2 MB.
    """
    path = Path(path)
    if path.stat().st_size > MAX_STUDY_YAML_BYTES:
        raise StudyConfigError(f"{path}: larger than {MAX_STUDY_YAML_BYTES // 1_000_000} MB; "
                               "is this really a study.yaml?")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StudyConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save the file as UTF-8") from None
    if "\x00" in text:
        raise StudyConfigError(f"{path}: contains a NUL byte (line {text[:text.index(chr(0))].count(chr(10)) + 1})")
    try:
        return yaml.load(text, Loader=StudyYamlLoader)  # noqa: S506 (a SafeLoader subclass)
    except StudyConfigError as exc:
        raise StudyConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise StudyConfigError(f"{path}: not valid YAML: {shorten(exc, 400)}") from None
    except RecursionError:
        raise StudyConfigError(f"{path}: not valid YAML: nested too deeply") from None


def external_data_allowed() -> bool:
    """Whether ``$ANALYSIS_ALLOW_EXTERNAL_DATA`` lets data files lie outside the study folder."""
    return os.environ.get(EXTERNAL_DATA_ENV, "").strip().lower() in {"1", "true", "yes"}


def data_path_problem(folder: Path, data: str, key: str = "data") -> str | None:
    """Why ``data`` (a path from study.yaml) may not be read, or None when it is confined.

    The path must be relative and stay inside the study folder once symlinks are resolved,
    unless ``ANALYSIS_ALLOW_EXTERNAL_DATA=1`` is set.

    Examples
    --------
    >>> data_path_problem(Path("/tmp/p/data/s"), "raw/cohort.csv") is None
    True
    >>> data_path_problem(Path("/tmp/p/data/s"), "../../secret.csv")  # doctest: +ELLIPSIS
    "'data': ../../secret.csv lies outside the study folder ..."
    """
    if "\x00" in data:
        return f"{key!r} contains a NUL byte"
    if not data.strip():
        return f"{key!r} is empty"
    if external_data_allowed():
        return None
    if Path(data).is_absolute():
        return (f"{key!r}: {shorten(data)} is an absolute path; give a path relative to the study "
                f"folder (or set {EXTERNAL_DATA_ENV}=1 to allow files elsewhere)")
    base = folder.resolve()
    target = (folder / data).resolve()
    if not target.is_relative_to(base):
        return (f"{key!r}: {shorten(data)} lies outside the study folder {folder} (after following "
                f"'..' and symlinks); move the file under the study folder (or set "
                f"{EXTERNAL_DATA_ENV}=1 to allow files elsewhere)")
    return None

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
    "subgroups": "subgroups of notebook 06: column names (numeric ones banded) or {column: [cuts]}",
    "endpoints": "binary visit outcomes reported over visits (non-responder imputation), composites, arm",
    "safety": "adverse-event columns of the visit table: count and serious",
    "added_value": "baseline and extended predictor sets compared, and markers given a cut-off",
    "phenotypes": "baseline variables clustered into phenotypes, and the outcomes shown by phenotype",
    "privacy": "min_cell_count: counts from 1 to min_cell_count - 1 are shown as '<min_cell_count' in rendered tables",
}
VARIABLE_KEYS = {
    "type", "label", "unit", "min", "max", "levels", "description", "summary",
    "transform", "required", "format", "level_labels",
}
SUMMARY_CHOICES = ("mean", "median")
TRANSFORMS = ("none", "log", "log1p", "sqrt")
DEFAULT_SEED = 20241122
# MODELLING_DEFAULTS and SMOKE_MODELLING: see analysis.study.settings (the one place)


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
    #: display names of levels (``{code: label}`` in study.yaml), e.g. ``iv_mucosal: IV + mucosal``
    level_labels: tuple[tuple[str, str], ...] | None = None

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
        if self.level_labels:
            out["level_labels"] = dict(self.level_labels)
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
    subgroups: tuple[Subgroup, ...] = ()
    endpoints: dict[str, Any] | None = None
    safety: dict[str, Any] | None = None
    added_value: dict[str, Any] | None = None
    phenotypes: dict[str, Any] | None = None
    #: ``privacy.min_cell_count``: rendered tables show counts 1 .. n-1 as "<n" (None: all shown)
    min_cell_count: int | None = None
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

    @property
    def phenotype_predictor(self) -> bool:
        """Whether study.yaml offers the phenotype to the models (``phenotypes.candidate_predictor``)."""
        return bool(self.phenotypes and self.phenotypes.get("candidate_predictor"))

    @property
    def model_inputs(self) -> tuple[str, ...]:
        """The prediction models' input columns: the predictors, then the phenotype variables
        that are not predictors when the phenotype is a candidate predictor (those are used
        only through the phenotype)."""
        if not self.phenotype_predictor:
            return tuple(self.predictors)
        extra = [v for v in self.phenotypes["variables"] if v not in self.predictors]
        return (*self.predictors, *extra)

    def codebook(self, names=None) -> dict[str, dict[str, Any]]:
        """The codebook as plain dicts, optionally restricted to ``names`` (kept in order)."""
        names = list(self.variables) if names is None else list(names)
        return {n: self.variables[n].as_dict() for n in names if n in self.variables}

    def modelling_settings(self, smoke: bool = False) -> dict[str, Any]:
        """Resampling and model settings as a plain dict: defaults, then study.yaml, then smoke mode."""
        return self.settings(smoke).as_dict()

    def settings(self, smoke: bool = False) -> ModellingSettings:
        """The typed :class:`~analysis.study.settings.ModellingSettings` (selection rule included)."""
        return ModellingSettings.for_study(self, smoke=smoke)

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
    paths = _located(study, root)
    return parse_study(read_study_yaml(paths.study_yaml), paths)


def _located(study: str | os.PathLike, root: str | os.PathLike | None) -> StudyPaths:
    path = Path(study)
    if path.suffix in {".yaml", ".yml"} and path.is_file():
        paths = StudyPaths(path.parent.name, path.parent.parent.parent.resolve())
    else:
        paths = study_paths(str(study), root)
    if not paths.study_yaml.is_file():
        raise StudyConfigError(f"study {paths.study!r} not found: no file {paths.study_yaml}")
    return paths


def read_min_cell_count(study: str | os.PathLike, root: str | os.PathLike | None = None) -> int | None:
    """``privacy.min_cell_count`` of a study, read and checked as :func:`load_study` does,
    without checking (or importing what checks) the rest of its study.yaml.

    What ``python -m analysis run`` needs before it starts a kernel; a study.yaml broken
    elsewhere still has its counts suppressed, and its notebook then reports the problems.

    Raises
    ------
    StudyConfigError
        If the study or its study.yaml cannot be read, or ``privacy`` is invalid.

    Examples
    --------
    >>> read_min_cell_count("no-such-study")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    analysis.errors.StudyConfigError: study 'no-such-study' not found: ...
    """
    paths = _located(study, root)
    raw = read_study_yaml(paths.study_yaml)
    problems: list[str] = []
    value = _min_cell_count(raw.get("privacy") if isinstance(raw, Mapping) else None, problems)
    if problems:
        raise StudyConfigError(f"{paths.study}/study.yaml: " + "; ".join(problems))
    return value


def parse_study(raw: Any, paths: StudyPaths) -> Study:
    """Check the structure of a loaded study.yaml and build a :class:`Study`."""
    where = f"{paths.study}/study.yaml"
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise StudyConfigError(f"{where}: must be a mapping of keys, got {type(raw).__name__}")
    for key in raw:
        if key not in TOP_LEVEL_KEYS:
            problems.append(f"unknown key {shorten_repr(key)} (known: {', '.join(TOP_LEVEL_KEYS)})")
    for key in ("title", "data", "outcome", "predictors", "variables"):
        if key not in raw:
            problems.append(f"missing required key {key!r} ({TOP_LEVEL_KEYS[key]})")
    raw = dict(raw)
    for key in ("title", "data", "outcome", "id", "group", "description"):
        if key in raw and raw[key] is not None and not isinstance(raw[key], str):
            problems.append(f"{key!r} must be a string, got {type(raw[key]).__name__}")
            raw[key] = None  # reported; later checks must not trip over it
    if isinstance(raw.get("data"), str):
        problem = data_path_problem(paths.folder, raw["data"])
        if problem:
            problems.append(problem)

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
    problems += _expression_problems(derive, "derive", {"visit"} if raw.get("visits") else set())
    derive = {str(k): str(v) for k, v in derive.items()}
    for name in derive:
        if name not in variables:
            problems.append(
                f"derived variable {shorten_repr(name)} needs an entry under 'variables' "
                "(at least its type)"
            )

    predictors = raw.get("predictors") or []
    if not isinstance(predictors, list) or not all(isinstance(p, str) for p in predictors):
        problems.append("'predictors' must be a list of column names")
        predictors = []
    secondary = raw.get("secondary_outcomes") or []
    if not isinstance(secondary, list) or not all(isinstance(p, str) for p in secondary):
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
    for key in ("visits", "treatment", "modelling", "privacy"):
        if raw.get(key) is not None and not isinstance(raw.get(key), Mapping):
            problems.append(f"{key!r} must be a mapping")
    min_cell_count = _min_cell_count(raw.get("privacy"), problems)
    if isinstance(raw.get("modelling"), Mapping):
        problems += modelling_problems(raw["modelling"])
    subgroups, subgroup_problems = parse_subgroups(
        raw.get("subgroups"), {k: v.type for k, v in variables.items()}, outcome, group
    )
    problems += subgroup_problems
    visits = None
    if isinstance(raw.get("visits"), Mapping):
        visits, visit_problems = _parse_visits(raw["visits"], id_col, paths.folder)
        problems += visit_problems
    treatment = raw.get("treatment")
    if isinstance(treatment, Mapping):
        problems += treatment_problems(treatment, variables, predictors)
        if not any(p.startswith("treatment.") for p in problems):
            treatment = {**treatment,
                         "reference": treatment.get("reference", treatment["options"][0]),
                         "effect_modifiers": list(treatment.get("effect_modifiers") or []),
                         "confounders": list(treatment.get("confounders") or [])}

    questions = _study_questions(raw, visits, variables, group, problems)

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
        subgroups=subgroups,
        **questions,
        min_cell_count=min_cell_count,
        raw=dict(raw),
    )


def _min_cell_count(block, problems: list[str]) -> int | None:
    """``privacy: {min_cell_count: n}``: an integer of at least 2, or absent."""
    if not isinstance(block, Mapping):
        return None
    for key in block:
        if key != "min_cell_count":
            problems.append(f"privacy: unknown key {shorten_repr(key)} (known: min_cell_count)")
    value = block.get("min_cell_count")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 100:
        problems.append("privacy.min_cell_count must be an integer from 2 to 100")
        return None
    return value


def _study_questions(raw: Mapping, visits, variables, group, problems: list[str]) -> dict[str, Any]:
    """The ``endpoints``, ``safety``, ``added_value`` and ``phenotypes`` blocks, checked."""
    from analysis.study import questions as q

    visit_variables = None
    if visits is not None:
        visit_variables = {**visits.variables}
    checks = {
        "endpoints": lambda b: q.endpoint_problems(b, visit_variables, variables, group),
        "safety": lambda b: q.safety_problems(b, visit_variables),
        "added_value": lambda b: q.added_value_problems(b, variables),
        "phenotypes": lambda b: q.phenotype_problems(b, variables),
    }
    out: dict[str, Any] = {}
    for key, check in checks.items():
        block = raw.get(key)
        if block is None:
            out[key] = None
            continue
        found = check(block)
        problems += found
        out[key] = dict(block) if not found else None
    if out["endpoints"] is not None:
        out["endpoints"].setdefault("arm", group)
        out["endpoints"].setdefault("composites", {})
        out["endpoints"].setdefault("ci", q.CI_METHODS[0])
    if out["phenotypes"] is not None:
        out["phenotypes"].setdefault("outcomes", [])
        out["phenotypes"].setdefault("max_clusters", 6)
        out["phenotypes"].setdefault("candidate_predictor", False)
    return out


VISIT_KEYS = {"data", "time", "times", "variables", "derive", "label"}


def _expression_problems(derive: Mapping, where: str, context: set[str]) -> list[str]:
    """Static checks of each derive expression (size, literals, keyword options)."""
    from analysis.study.derive import available_functions, check_expression

    functions = {**available_functions(), **dict.fromkeys(context)}
    problems = []
    for name, expression in derive.items():
        if not isinstance(expression, str | int | float) or isinstance(expression, bool):
            problems.append(f"{where}.{shorten(name)}: the expression must be text, "
                            f"got {type(expression).__name__}")
            continue
        try:
            check_expression(str(expression), f"{where}.{shorten(name)}", functions)
        except StudyConfigError as exc:
            problems.append(str(exc))
    return problems


#: study.yaml ``treatment:`` keys.
TREATMENT_KEYS = ("column", "options", "reference", "effect_modifiers", "confounders")


def treatment_problems(treatment: Mapping, variables: Mapping, predictors) -> list[str]:
    """Every problem of a ``treatment:`` block, one sentence each naming the key.

    ``column`` is a categorical predictor; ``options`` at least two of its levels;
    ``reference`` one of the options (default: the first); ``effect_modifiers`` and
    ``confounders`` predictors other than the column (effect modifiers are pre-specified,
    never searched for).

    Examples
    --------
    >>> v = {"drug": Variable("drug", "categorical", levels=("a", "b")),
    ...      "age": Variable("age", "numeric")}
    >>> treatment_problems({"column": "drug", "options": ["a", "b"],
    ...                     "effect_modifiers": ["age"]}, v, ["drug", "age"])
    []
    >>> treatment_problems({"column": "drug", "options": ["a", "c"], "reference": "b",
    ...                     "confounders": ["drug"], "modifiers": []}, v, ["drug", "age"])
    ... # doctest: +NORMALIZE_WHITESPACE
    ["treatment: unknown key 'modifiers' (known: column, options, reference, effect_modifiers, confounders)",
     "treatment.options: 'c' is not a level of 'drug' (levels: a, b)",
     "treatment.reference 'b' is not one of treatment.options",
     "treatment.confounders: 'drug' is the treatment column itself"]
    """
    problems = [
        f"treatment: unknown key {key!r} (known: {', '.join(TREATMENT_KEYS)})"
        for key in treatment if key not in TREATMENT_KEYS
    ]
    col = treatment.get("column")
    if (not isinstance(col, str) or col not in variables
            or variables[col].type not in ("categorical", "binary")):
        return [*problems, "treatment.column must name a categorical variable"]
    if col not in predictors:
        return [*problems, f"treatment.column {col!r} must be one of the predictors"]
    options = treatment.get("options")
    binary = variables[col].type == "binary"
    levels = [0, 1] if binary else [str(v) for v in (variables[col].levels or ())]
    plain = (int,) if binary else (str,)
    if not (isinstance(options, list) and len(options) >= 2
            and all(isinstance(o, plain) and not isinstance(o, bool) for o in options)
            and len(set(options)) == len(options)):
        problems.append("treatment.options must list at least two different levels of "
                        f"{col!r}" + (" (0 and 1 for a binary column)" if binary else ""))
        options = []
    for option in options:
        if levels and option not in levels:
            problems.append(f"treatment.options: {option!r} is not a level of {col!r} "
                            f"(levels: {', '.join(map(str, levels))})")
    reference = treatment.get("reference")
    if reference is not None and reference not in options:
        problems.append(f"treatment.reference {reference!r} is not one of treatment.options")
    for key in ("effect_modifiers", "confounders"):
        names = treatment.get(key)
        if names is None:
            continue
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
            problems.append(f"treatment.{key} must be a list of predictor names")
            continue
        for name in names:
            if name == col:
                problems.append(f"treatment.{key}: {name!r} is the treatment column itself")
            elif name not in predictors:
                problems.append(f"treatment.{key}: {name!r} is not one of the predictors")
    return problems


def _parse_visits(spec: Mapping, id_col: str | None, folder: Path) -> tuple[Visits | None, list[str]]:
    problems = [f"visits: unknown key {k!r} (known: {', '.join(sorted(VISIT_KEYS))})"
                for k in spec if k not in VISIT_KEYS]
    if not id_col:
        problems.append("visits: the study needs an 'id' column to link visits to patients")
    for key in ("data", "time", "label"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            problems.append(f"visits.{key} must be a string, got {type(spec[key]).__name__}")
    if isinstance(spec.get("data"), str):
        problem = data_path_problem(folder, spec["data"], "visits.data")
        if problem:
            problems.append(problem)
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
    problems += _expression_problems(derive, "visits.derive", {"baseline", "patient"})
    derive = {str(k): str(v) for k, v in derive.items()}
    for name in derive:
        if name not in variables:
            problems.append(f"visits: derived variable {name!r} needs an entry under visits.variables")
    if problems:
        return None, problems
    return Visits(data=spec["data"], time=time_col, times=tuple(times), variables=variables,
                  derive=derive, label=spec.get("label")), []


def _is_date(value: Any) -> bool:
    import datetime

    if isinstance(value, datetime.date):
        return True
    if not isinstance(value, str):
        return False
    try:
        datetime.date.fromisoformat(value.strip()[:10])
    except ValueError:
        return False
    return True


def _parse_variable(name: str, spec: Any) -> tuple[Variable | None, list[str]]:
    problems: list[str] = []
    where = f"variables.{shorten(name)}"
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
                if not _is_date(value):
                    problems.append(f"{where}: {key!r} must be a date like 2015-01-01 (got {shorten_repr(value)})")
                continue
            if vtype not in ("numeric", "integer"):
                problems.append(f"{where}: {key!r} only applies to numeric, integer or date variables")
            elif not is_finite_number(value):
                problems.append(f"{where}: {key!r} must be a finite number (got {shorten_repr(value)})")
    if is_finite_number(lo) and is_finite_number(hi) and lo > hi:
        problems.append(f"{where}: min ({lo}) is greater than max ({hi})")
    for key in ("label", "unit", "description", "format"):
        if spec.get(key) is not None and not isinstance(spec[key], str):
            problems.append(f"{where}: {key!r} must be text, got {type(spec[key]).__name__}")
    if spec.get("required") is not None and not isinstance(spec["required"], bool):
        problems.append(f"{where}: 'required' must be true or false")
    if isinstance(levels, list) and not all(isinstance(x, str | int | float | bool) for x in levels):
        problems.append(f"{where}: each of 'levels' must be a plain value (text or number)")
    if spec.get("summary") is not None and spec["summary"] not in SUMMARY_CHOICES:
        problems.append(f"{where}: summary must be one of {SUMMARY_CHOICES}")
    if spec.get("transform") is not None and spec["transform"] not in TRANSFORMS:
        problems.append(f"{where}: transform must be one of {TRANSFORMS}")
    problems += _level_label_problems(spec, where)
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
            level_labels=(tuple((str(k), v) for k, v in spec["level_labels"].items())
                          if spec.get("level_labels") else None),
        ),
        [],
    )


def _level_label_problems(spec: Mapping, where: str) -> list[str]:
    """``level_labels``: a mapping from levels (categorical) or 0/1 (binary) to display text."""
    labels = spec.get("level_labels")
    if labels is None:
        return []
    if not isinstance(labels, Mapping) or not labels:
        return [f"{where}: 'level_labels' must be a mapping like {{code: display name}}"]
    problems = []
    if spec.get("type") == "categorical":
        known = {str(x) for x in spec.get("levels") or []}
    elif spec.get("type") == "binary":
        known = {"0", "1", "True", "False", "true", "false", "yes", "no"}
    else:
        return [f"{where}: 'level_labels' only applies to categorical or binary variables"]
    for code, text in labels.items():
        if str(code) not in known:
            problems.append(f"{where}.level_labels: {shorten_repr(code)} is not one of its levels")
        elif not isinstance(text, str) or not text.strip():
            problems.append(f"{where}.level_labels.{shorten(str(code))}: must be non-empty text")
    return problems
