"""What a run used: the settings each notebook records, and the run's facts read back.

Notebooks 04, 05 and 06 each call :func:`record_run_settings` once; it writes
``reports/<study>/tables/run_settings_<NN>.csv`` (``notebook, setting, value``; values as
JSON text) with the seed, the smoke flag, the resampling counts the notebook actually used
(after smoke mode and the large-cohort rule) and the versions of Python and of the
packages the Methods cite.  :func:`run_facts` reads every fact the Methods state, each with
the file it came from, in this order:

1. the ``run_settings_<NN>.csv`` tables;
2. other outputs of the run that record the number (``validation.csv`` ``n_boot``,
   ``model_comparison.csv`` ``n_repeats``, ``model_tuning.csv`` folds, the ``m=`` of
   ``regression_multivariable.csv``'s ``method``, the executed notebooks' parameters,
   ``model.json`` ``versions``);
3. study.yaml with the run's smoke flag, said to be so (a run older than this module).

Examples
--------
>>> import tempfile
>>> from analysis.study.paths import StudyPaths
>>> paths = StudyPaths("demo", Path(tempfile.mkdtemp()))
>>> _ = record_run_settings(paths, "05", seed=7, smoke=True, outer_splits=3)
>>> facts = run_facts(None, paths)
>>> facts["outer_splits"].value, facts["outer_splits"].source
(3, 'tables/run_settings_05.csv')
"""

from __future__ import annotations

import inspect
import json
import platform
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from analysis.errors import AnalysisError
from analysis.study.io import write_text
from analysis.study.paths import StudyPaths

__all__ = [
    "SOFTWARE",
    "Fact",
    "executed_parameters",
    "read_run_settings",
    "record_run_settings",
    "run_facts",
    "software_versions",
]

#: Distributions whose versions a run records (the Methods cite each), Python first.
SOFTWARE = ("python", "analysis", "pandas", "numpy", "scipy", "statsmodels", "scikit-learn",
            "matplotlib", "papermill", "skops")
PREFIX = "run_settings_"
#: The settings each notebook uses of :class:`~analysis.study.settings.ModellingSettings`.
STAGE_SETTINGS = {
    "04": ("imputations",),
    "05": ("outer_splits", "outer_repeats", "inner_splits", "comparison_boot", "threshold",
           "reference", "interactions"),
    "06": ("bootstrap", "calibration_boot", "permutation_repeats", "shap_method"),
}
_NOTEBOOKS = {"04": "04-fit-regression", "05": "05-compare-models", "06": "06-validate-model"}


@dataclass(frozen=True)
class Fact:
    """One number or setting of the run and where it was read.

    Examples
    --------
    >>> Fact(200, "tables/validation.csv (n_boot)").recorded
    True
    >>> Fact(20, "study.yaml (not recorded by this run)", recorded=False).recorded
    False
    """

    value: Any
    source: str
    recorded: bool = True


def software_versions() -> dict[str, str]:
    """Versions of Python and of :data:`SOFTWARE` installed in this environment.

    Examples
    --------
    >>> software_versions()["python"] == platform.python_version()
    True
    """
    out = {"python": platform.python_version()}
    for name in SOFTWARE[1:]:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _mice_defaults() -> dict[str, int]:
    """The chain length and donors of MICE as :func:`mice_fits` runs them (its defaults)."""
    from analysis.regression.imputation import mice_fits

    params = inspect.signature(mice_fits).parameters
    return {"mice_burn_in": params["burn_in"].default, "mice_k_pmm": params["k_pmm"].default}


def _settings_values(settings, keys) -> dict[str, Any]:
    get = settings.get if isinstance(settings, dict) else lambda k, d=None: getattr(settings, k, d)
    out = {k: get(k) for k in keys}
    rule = None if isinstance(settings, dict) else getattr(settings, "rule", None)
    if rule is not None and "outer_splits" in keys:
        out.update(selection_score=rule.score, selection_n_se=rule.n_se,
                   selection_slope_range=list(rule.slope_range),
                   selection_exclude=list(rule.exclude))
    if "bootstrap" in keys and not isinstance(settings, dict):
        out["gate_slope_range"] = list(settings.gate_slope_range)
    return out


def _json(value) -> str:
    if isinstance(value, tuple):
        value = list(value)
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except TypeError as exc:
        raise AnalysisError(f"run setting {value!r} is not a plain value (number, text, list)") from exc


def record_run_settings(study, notebook: str, settings=None, **values) -> Path:
    """Write ``tables/run_settings_<notebook>.csv``: what this notebook run used.

    Parameters
    ----------
    study : Study or StudyPaths
        The study (its ``paths``) or its paths.
    notebook : str
        The notebook's number, e.g. ``"05"``.
    settings : ModellingSettings or dict, optional
        The settings the notebook used; the keys of :data:`STAGE_SETTINGS` for this notebook
        are recorded (with the selection rule for 05 and the gate's slope range for 06).
    **values
        Further settings (``seed``, ``smoke``, ``imputations=m``, ``bootstrap=B``, ...);
        they override those taken from ``settings``.  With ``imputations``, MICE's chain
        length and number of donors are recorded too.

    Returns
    -------
    pathlib.Path
        The written file (under a notebook run, committed with the notebook).

    Examples
    --------
    >>> import tempfile
    >>> paths = StudyPaths("demo", Path(tempfile.mkdtemp()))
    >>> path = record_run_settings(paths, "04", seed=1, smoke=False, imputations=20)
    >>> pd.read_csv(path).head(3).to_dict("list")["value"]
    ['1', 'false', '20']
    """
    if not re.fullmatch(r"[0-9A-Za-z_-]+", str(notebook)):
        raise AnalysisError(f"notebook must be a short tag such as '05', got {notebook!r}")
    paths = study if isinstance(study, StudyPaths) else study.paths
    rows: dict[str, Any] = {}
    explicit = dict(values)
    for key in ("seed", "smoke"):
        if key in explicit:
            rows[key] = explicit.pop(key)
    if settings is not None:
        keys = STAGE_SETTINGS.get(str(notebook), STAGE_SETTINGS["05"] + STAGE_SETTINGS["06"]
                                  + STAGE_SETTINGS["04"])
        rows.update(_settings_values(settings, keys))
    rows.update(explicit)
    if "imputations" in rows:
        rows.update(_mice_defaults())
    rows.update({f"version:{name}": version for name, version in software_versions().items()})
    frame = pd.DataFrame({"notebook": str(notebook), "setting": list(rows),
                          "value": [_json(v) for v in rows.values()]})
    return write_text(paths.table(f"{PREFIX}{notebook}"), frame.to_csv(index=False, lineterminator="\n"))


def read_run_settings(paths: StudyPaths) -> pd.DataFrame:
    """Every ``run_settings_<NN>.csv`` of the study, values parsed (empty if none).

    Examples
    --------
    >>> import tempfile
    >>> read_run_settings(StudyPaths("demo", Path(tempfile.mkdtemp()))).shape
    (0, 3)
    """
    frames = []
    for path in sorted(paths.tables.glob(f"{PREFIX}*.csv")):
        try:
            table = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise AnalysisError(f"{path} is not a readable run-settings table: {exc}") from exc
        if list(table.columns) != ["notebook", "setting", "value"]:
            raise AnalysisError(f"{path} must have the columns notebook, setting, value")
        frames.append(table.assign(value=[json.loads(v) if v else None for v in table["value"]]))
    if not frames:
        return pd.DataFrame(columns=["notebook", "setting", "value"])
    return pd.concat(frames, ignore_index=True)


def executed_parameters(paths: StudyPaths) -> dict[str, dict[str, Any]]:
    """The Papermill parameters of each executed notebook (``{stem: {name: value}}``).

    Read from the notebook's ``metadata.papermill.parameters``, the values injected into
    its ``injected-parameters`` cell; notebooks not yet executed are absent.

    Examples
    --------
    >>> import tempfile
    >>> executed_parameters(StudyPaths("demo", Path(tempfile.mkdtemp())))
    {}
    """
    out = {}
    for path in sorted(paths.notebooks.glob("[0-9][0-9]-*.ipynb")):
        if path.name.endswith((".failed.ipynb", ".running.ipynb")):
            continue
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError):
            continue
        papermill = meta.get("papermill") or {}
        params = dict(papermill.get("parameters") or {})
        info = meta.get("language_info") or {}
        if info.get("version"):
            params["_python"] = str(info["version"])
        if papermill.get("end_time"):
            params["_end_time"] = str(papermill["end_time"])
        out[path.stem] = params
    return out


def _from_run_settings(table: pd.DataFrame) -> dict[str, Fact]:
    facts: dict[str, Fact] = {}
    for setting, rows in table.groupby("setting", sort=True):
        values = {str(nb): v for nb, v in zip(rows["notebook"], rows["value"], strict=True)}
        distinct = {json.dumps(v, sort_keys=True) for v in values.values()}
        notebooks = sorted(values)
        if len(distinct) == 1:
            source = ", ".join(f"tables/{PREFIX}{nb}.csv" for nb in notebooks)
            facts[setting] = Fact(values[notebooks[-1]], source)
        else:  # notebooks run with different values: say so rather than pick one
            facts[setting] = Fact(values, "differs between " + ", ".join(
                f"tables/{PREFIX}{nb}.csv" for nb in notebooks))
    return facts


def _read_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        return None


def _model_json(paths: StudyPaths) -> dict:
    path = paths.model / "model.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}


def _from_tables(paths: StudyPaths, facts: dict[str, Fact]) -> None:
    """Numbers other outputs record, for runs without run-settings tables."""
    validation = _read_csv(paths.table("validation"))
    if "bootstrap" not in facts and validation is not None and "n_boot" in validation:
        n_boot = pd.to_numeric(validation["n_boot"], errors="coerce").dropna()
        if len(n_boot):
            facts["bootstrap"] = Fact(int(n_boot.max()), "tables/validation.csv (n_boot)")
    comparison = _read_csv(paths.model_comparison)
    if "outer_repeats" not in facts and comparison is not None and "n_repeats" in comparison:
        repeats = pd.to_numeric(comparison["n_repeats"], errors="coerce").dropna()
        if len(repeats):
            facts["outer_repeats"] = Fact(int(repeats.max()),
                                          "tables/model_comparison.csv (n_repeats)")
    tuning = _read_csv(paths.table("model_tuning"))
    if "outer_splits" not in facts and tuning is not None and "fold" in tuning:
        folds = pd.to_numeric(tuning["fold"], errors="coerce").dropna()
        if len(folds):
            facts["outer_splits"] = Fact(int(folds.max()) + 1, "tables/model_tuning.csv (folds)")
    gate = _read_csv(paths.table("gate"))
    if "gate_slope_range" not in facts and gate is not None and {"criterion", "threshold"} <= set(gate):
        rows = gate[gate["criterion"] == "calibration_slope_in_range"]
        try:
            bounds = json.loads(str(rows["threshold"].iloc[0])) if len(rows) else None
        except ValueError:
            bounds = None
        if isinstance(bounds, list) and len(bounds) == 2:
            facts["gate_slope_range"] = Fact(bounds, "tables/gate.csv (threshold)")
    multi = _read_csv(paths.table("regression_multivariable"))
    if "imputations" not in facts and multi is not None and "method" in multi:
        found = {int(m) for text in multi["method"].dropna().astype(str)
                 for m in re.findall(r"\bm\s*=\s*(\d+)", text)}
        if len(found) == 1:
            facts["imputations"] = Fact(found.pop(),
                                        "tables/regression_multivariable.csv (method)")


def _parameters(paths: StudyPaths, facts: dict[str, Fact], study) -> None:
    params = executed_parameters(paths)
    for key in ("smoke", "seed"):
        if key in facts:
            continue
        seen = {stem: p[key] for stem, p in params.items() if key in p}
        if seen and len({json.dumps(v) for v in seen.values()}) == 1:
            facts[key] = Fact(next(iter(seen.values())),
                              "parameters of the executed notebooks (injected-parameters)")
        elif seen:
            facts[key] = Fact(seen, "differs between the executed notebooks' parameters")
    if "seed" not in facts and params and study is not None:
        facts["seed"] = Fact(int(study.seed), "the study.yaml seed, which every notebook used: "
                             "none was given a seed parameter")
    pythons = {p["_python"] for p in params.values() if "_python" in p}
    if "version:python" not in facts and len(pythons) == 1:
        facts["version:python"] = Fact(pythons.pop(), "executed notebooks (language_info)")
    ends = sorted(p["_end_time"] for p in params.values() if "_end_time" in p)
    if ends:
        facts["run_date"] = Fact(ends[-1][:10], "executed notebooks (papermill end_time)")


def _from_study(study, facts: dict[str, Fact], paths: StudyPaths) -> None:
    """The settings study.yaml gives with each notebook's smoke flag (said to be unrecorded)."""
    smoke = facts.get("smoke")
    default = smoke.value if smoke is not None and isinstance(smoke.value, bool) else False
    params = executed_parameters(paths)
    for stage, keys in STAGE_SETTINGS.items():
        flags = [p["smoke"] for stem, p in params.items()
                 if stem.startswith(stage) and isinstance(p.get("smoke"), bool)]
        flag = flags[0] if flags else default
        source = (f"study.yaml with notebook {stage}'s smoke={str(flag).lower()} (not recorded "
                  "by this run)")
        for key, value in _settings_values(study.settings(flag), keys).items():
            facts.setdefault(key, Fact(value, source, recorded=False))
    if "mice_burn_in" not in facts:
        for key, value in _mice_defaults().items():
            facts[key] = Fact(value, "analysis.regression.imputation.mice_fits (not recorded "
                              "by this run)", recorded=False)


def run_facts(study, paths: StudyPaths | None = None) -> dict[str, Fact]:
    """Every setting and version of the finished run, each with the file it was read from.

    Parameters
    ----------
    study : Study or None
        The study (for step 3 of the module's order and the study's seed); ``None`` reads
        only what the run wrote.
    paths : StudyPaths, optional
        Default ``study.paths``.

    Returns
    -------
    dict of str to Fact
        Keys such as ``seed``, ``smoke``, ``bootstrap``, ``imputations``, ``outer_splits``,
        ``outer_repeats``, ``inner_splits``, ``comparison_boot``, ``selection_score`` and
        ``version:<name>`` for Python and each of :data:`SOFTWARE` found.

    Examples
    --------
    >>> import tempfile
    >>> run_facts(None, StudyPaths("demo", Path(tempfile.mkdtemp())))
    {}
    """
    if paths is None:
        if study is None:
            raise AnalysisError("run_facts needs a study or its paths")
        paths = study.paths
    facts = _from_run_settings(read_run_settings(paths))
    _from_tables(paths, facts)
    _parameters(paths, facts, study)
    versions = _model_json(paths).get("versions") or {}
    for name, version in sorted(versions.items()):
        facts.setdefault(f"version:{name}", Fact(str(version), "model/model.json (versions)"))
    if study is not None:
        _from_study(study, facts, paths)
    return facts
