"""The results the manuscript quotes, read from the run's tables (no patient-level value).

* :func:`data_source` - the generated demo cohort or the user's own data;
* :func:`primary_endpoint` - for studies with ``endpoints`` (single-arm and visit-based
  studies): the first endpoint at the primary visit, non-responder imputation, overall;
* :func:`model_result` - the selected (or audited) model's cross-validated and
  optimism-corrected performance;
* :func:`gate_verdict` - the ship gate's verdict (``gate.csv``, else ``model.json``).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.errors import AnalysisError
from analysis.study.paths import StudyPaths
from analysis.validation.gate import FIT, NOT_FIT, GateVerdict, verdict_from_table

__all__ = [
    "DataSource",
    "Endpoint",
    "ModelResult",
    "data_source",
    "FLOW_LABEL",
    "LABEL_FILES",
    "gate_verdict",
    "label_available",
    "labels_with_output",
    "model_result",
    "primary_endpoint",
    "read_table",
    "see",
    "visit_label",
]


def read_table(paths: StudyPaths, name: str) -> pd.DataFrame | None:
    """``tables/<name>.csv`` of the run, or None when the run did not write it.

    Examples
    --------
    >>> import tempfile
    >>> read_table(StudyPaths("demo", Path(tempfile.mkdtemp())), "gate") is None
    True
    """
    path = paths.table(name)
    if not path.is_file():
        return None
    try:
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise AnalysisError(f"{path} is not a readable table: {exc}") from exc


@dataclass(frozen=True)
class DataSource:
    """Where the analysed data came from."""

    demo: bool
    generator: str | None = None  # module of the data-generating model (demo only)
    files: tuple[str, ...] = ()

    def describe(self) -> str:
        """One sentence on the data source.

        Examples
        --------
        >>> DataSource(False, None, ("raw/cohort.csv",)).describe()[:40]
        "The data are the study's own table(s) `r"
        """
        files = ", ".join(f"`{f}`" for f in self.files) or "the study's data file"
        if self.demo:
            return (f"The data are the project's synthetic demonstration cohort ({files}), "
                    f"generated deterministically by the documented data-generating model "
                    f"`{self.generator}`; no real patient is included.")
        return f"The data are the study's own table(s) {files}, described by its study.yaml codebook."


def data_source(study) -> DataSource:
    """The demo cohort of ``make data`` (a generator exists and wrote ``raw/truth.csv``) or user data.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> import tempfile
    >>> p = StudyPaths("my-study", Path(tempfile.mkdtemp()))
    >>> data_source(SimpleNamespace(name="my-study", paths=p, data="raw/x.csv", visits=None)).demo
    False
    """
    from analysis.synthetic import GENERATORS

    files = [study.data]
    if getattr(study, "visits", None) is not None:
        files.append(study.visits.data)
    generator = GENERATORS.get(study.name)
    demo = generator is not None and (study.paths.raw / "truth.csv").is_file()
    return DataSource(demo, generator.__name__ if demo else None, tuple(files))


def visit_label(study, time) -> str:
    """``"week 24"``: the visit time with the name of the study's time column.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> visit_label(SimpleNamespace(visits=SimpleNamespace(time="month")), 6.0)
    'month 6'
    """
    unit = study.visits.time if getattr(study, "visits", None) is not None else "visit"
    value = float(time)
    return f"{unit} {int(value) if value.is_integer() else value:g}"


@dataclass(frozen=True)
class Endpoint:
    """The primary endpoint at the primary visit (one row of ``response_by_visit.csv``)."""

    outcome: str
    label: str
    visit: float
    n: int
    events: int
    proportion: float
    ci_lower: float
    ci_upper: float
    method: str
    imputation: str


def _endpoint_label(study, name: str) -> str:
    variables = study.visits.variables if getattr(study, "visits", None) is not None else {}
    var = variables.get(name)
    if var is not None and var.label:
        return var.label
    return name.replace("_", " ")


def _primary_visit(study, times) -> float:
    """The visit the study's outcome refers to (``_w24`` -> 24), else the last one."""
    match = re.search(r"(\d+(?:\.\d+)?)$", study.outcome)
    if match and float(match.group(1)) in {float(t) for t in times}:
        return float(match.group(1))
    return float(max(times))


def primary_endpoint(study, paths: StudyPaths | None = None) -> Endpoint | None:
    """The primary endpoint at the primary visit, overall, with non-responder imputation.

    The primary endpoint is the first of study.yaml ``endpoints.outcomes``; the primary
    visit is the visit the study's outcome names (``cdai_response_w24`` -> 24) if it is
    among the visits reported for that endpoint, else the last one.  None when the study
    declares no endpoints or the run wrote no ``response_by_visit.csv``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> primary_endpoint(SimpleNamespace(endpoints=None)) is None
    True
    """
    endpoints = getattr(study, "endpoints", None) or {}
    outcomes = list(endpoints.get("outcomes") or [])
    if not outcomes:
        return None
    paths = paths or study.paths
    table = read_table(paths, "response_by_visit")
    if table is None or not len(table):
        return None
    name = outcomes[0]
    rows = table[(table["outcome"] == name) & (table["imputation"] == "non-responder")
                 & (table["arm"].astype(str) == "Overall")]
    if not len(rows):
        return None
    visit = _primary_visit(study, rows["visit"].astype(float))
    row = rows[rows["visit"].astype(float) == visit].iloc[0]
    return Endpoint(name, _endpoint_label(study, name), visit, int(row["n"]), int(row["events"]),
                    float(row["proportion"]), float(row["ci_lower"]), float(row["ci_upper"]),
                    str(row["method"]), str(row["imputation"]))


@dataclass(frozen=True)
class ModelResult:
    """The model the run validated: selected, or kept for audit when none was selected."""

    model: str
    label: str
    selected: bool
    n: int | None
    events: int | None
    auc: float
    auc_ci_lower: float
    auc_ci_upper: float
    corrected_auc: float | None
    corrected_slope: float | None
    n_boot: int | None
    selection_note: str | None
    auc_method: str | None = None  # validation.csv ``method`` of the corrected AUC


def _float(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if out != out else out


def model_result(paths: StudyPaths, model: str | None = None) -> ModelResult | None:
    """The selected model's performance (``model_comparison.csv`` and ``validation.csv``).

    Without a selected row, the model named by ``model`` or by the gate table (the one
    validated for audit); None without a comparison table.

    Examples
    --------
    >>> import tempfile
    >>> model_result(StudyPaths("demo", Path(tempfile.mkdtemp()))) is None
    True
    """
    comparison = read_table(paths, "model_comparison")
    if comparison is None or not len(comparison):
        return None
    selected = comparison["selected"].map(lambda v: str(v).strip().lower() in ("true", "1", "1.0"))
    if selected.sum() == 1:
        row = comparison[selected].iloc[0]
    else:
        gate = read_table(paths, "gate")
        if model is None and gate is not None and "model" in gate and gate["model"].notna().any():
            model = str(gate["model"].dropna().iloc[0])
        rows = comparison[comparison["model"] == model]
        if not len(rows):
            return None
        row = rows.iloc[0]
    name = str(row["model"])
    corrected_auc = corrected_slope = n_boot = auc_method = None
    validation = read_table(paths, "validation")
    if validation is not None and len(validation):
        mine = validation[validation["model"] == name]
        for metric in ("auc", "calibration_slope"):
            hit = mine[mine["metric"] == metric]
            if len(hit):
                value = _float(hit["corrected"].iloc[0])
                if metric == "auc":
                    corrected_auc = value
                    if "method" in hit and isinstance(hit["method"].iloc[0], str):
                        auc_method = hit["method"].iloc[0]
                else:
                    corrected_slope = value
        if len(mine) and "n_boot" in mine:
            n_boot = int(pd.to_numeric(mine["n_boot"], errors="coerce").max())
    return ModelResult(
        name, str(row.get("label") or name), bool(selected.sum() == 1),
        int(row["n"]) if _float(row.get("n")) is not None else None,
        int(row["events"]) if _float(row.get("events")) is not None else None,
        _float(row.get("auc")), _float(row.get("auc_ci_lower")), _float(row.get("auc_ci_upper")),
        corrected_auc, corrected_slope, n_boot,
        str(row["selection_note"]) if isinstance(row.get("selection_note"), str) else None,
        auc_method)


def gate_verdict(paths: StudyPaths) -> GateVerdict | None:
    """The ship gate's verdict: ``gate.csv``, else ``model.json`` ``status``; None if neither.

    Examples
    --------
    >>> import tempfile
    >>> gate_verdict(StudyPaths("demo", Path(tempfile.mkdtemp()))) is None
    True
    """
    table = read_table(paths, "gate")
    if table is not None:
        return verdict_from_table(table)
    meta_path: Path = paths.model / "model.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        status = meta["status"]
    except (OSError, ValueError, KeyError) as exc:
        raise AnalysisError(f"{meta_path} has no readable ship-gate status") from exc
    if status not in (FIT, NOT_FIT):
        raise AnalysisError(f"{meta_path}: unknown status {status!r}")
    return GateVerdict(status, tuple(str(r) for r in meta.get("status_reasons") or ()),
                       meta.get("model_name"),
                       cautions=tuple(str(c) for c in meta.get("status_cautions") or ()))


#: The manuscript's own table of the participant flow (inserted by the report, not a notebook).
FLOW_LABEL = "tbl-flow"
#: The labelled outputs the text refers to and the table (or figure pattern) that shows the
#: run produced each, used when the study has no executed notebooks to read.
LABEL_FILES = {
    FLOW_LABEL: ("table", "cohort_summary"),
    "tbl-cohort-summary": ("table", "cohort_summary"),
    "tbl-derivations": ("table", "derivations"),
    "tbl-table1": ("table", "table1"),
    "tbl-missingness": ("table", "missingness"),
    "tbl-univariable": ("table", "regression_univariable"),
    "tbl-multivariable": ("table", "regression_multivariable"),
    "fig-forest": ("table", "regression_multivariable"),
    "tbl-nonlinearity": ("table", "nonlinearity"),
    "tbl-response-by-visit": ("table", "response_by_visit"),
    "fig-response-by-visit": ("table", "response_by_visit"),
    "tbl-response-differences": ("table", "response_differences"),
    "tbl-model-comparison": ("table", "model_comparison"),
    "fig-roc": ("table", "model_comparison"),
    "tbl-validation": ("table", "validation"),
    "fig-calibration": ("table", "calibration_curve"),
    "fig-decision-curve": ("table", "decision_curve"),
    "tbl-subgroups": ("table", "subgroups"),
    "tbl-sample-size": ("table", "sample_size"),
    "tbl-instability": ("table", "instability"),
    "fig-instability": ("table", "instability"),
    "tbl-flexible-terms": ("table", "flexible_terms"),
    "fig-nomogram": ("figure", "*nomogram*"),
    "fig-importance": ("table", "permutation_importance"),
}
_LABEL_LINE = re.compile(r"^#\|\s*label:\s*(\S+)\s*$", re.MULTILINE)


def labels_with_output(paths: StudyPaths) -> set[str] | None:
    """Labels of the executed notebooks' cells that have an output (None: no notebook).

    The manuscript embeds a labelled cell only when it has an output in the study's
    executed notebook, so only these may be cross-referenced.

    Examples
    --------
    >>> import tempfile
    >>> labels_with_output(StudyPaths("demo", Path(tempfile.mkdtemp()))) is None
    True
    """
    notebooks = [p for p in sorted(paths.notebooks.glob("[0-9][0-9]-*.ipynb"))
                 if not p.name.endswith((".failed.ipynb", ".running.ipynb"))]
    if not notebooks:
        return None
    found: set[str] = set()
    for path in notebooks:
        stat = path.stat()
        found |= _notebook_labels(str(path), stat.st_mtime_ns, stat.st_size)
    return found


@functools.lru_cache(maxsize=64)
def _notebook_labels(path: str, mtime_ns: int, size: int) -> frozenset[str]:
    """Labels of one executed notebook's cells with an output (cached per file version)."""
    try:
        cells = json.loads(Path(path).read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError):
        return frozenset()
    found: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code" or not cell.get("outputs"):
            continue
        source = cell.get("source", "")
        found.update(_LABEL_LINE.findall("".join(source) if isinstance(source, list) else source))
    return frozenset(found)


def label_available(paths: StudyPaths, label: str, shown: set[str] | None = None) -> bool:
    """Whether the run produced the output labelled ``label``.

    ``shown`` (default :func:`labels_with_output`) decides for notebook labels when the
    study has executed notebooks; otherwise the file of :data:`LABEL_FILES` must exist.

    Examples
    --------
    >>> import tempfile
    >>> label_available(StudyPaths("demo", Path(tempfile.mkdtemp())), "tbl-validation")
    False
    """
    if shown is None:
        shown = labels_with_output(paths)
    if shown is not None and label != FLOW_LABEL:
        return label in shown
    kind, name = LABEL_FILES[label]
    if kind == "table":
        return paths.table(name).is_file()
    return paths.figures.is_dir() and any(paths.figures.glob(name))


def see(paths: StudyPaths, *labels: str) -> str:
    """`` (@tbl-a, @fig-b)`` for the labels the run produced, else ``""``.

    Examples
    --------
    >>> import tempfile
    >>> see(StudyPaths("demo", Path(tempfile.mkdtemp())), "tbl-validation")
    ''
    """
    shown = labels_with_output(paths)
    found = [f"@{label}" for label in labels if label_available(paths, label, shown)]
    return f" ({', '.join(found)})" if found else ""
