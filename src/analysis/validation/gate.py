"""The ship gate: is the selected model fit for clinical use, or kept for audit only?

A model is shipped as a prediction tool only when all of these hold (issue 11):

1. a model was selected, and it beats the intercept-only benchmark: its cross-validated
   log loss and Brier score (comparison table, columns ``log_loss`` and ``brier``) are
   both below the benchmark's;
2. its cross-validated AUC is distinguishable from chance: the 95% CI
   (``auc_ci_lower``, ``auc_ci_upper``) excludes 0.5;
3. its corrected calibration slope (validation table, row ``calibration_slope``, column
   ``corrected``: the slope of the *shipped* model, recalibration included) lies in
   ``modelling.gate.slope_range`` of study.yaml (default 0.7-1.3);
4. the cohort reaches Riley et al.'s (BMJ 2020) minimum sample size for the model (the
   ``overall`` requirement at the anticipated C,
   :func:`analysis.validation.sample_size.riley_anticipated`), unless study.yaml sets
   ``modelling.gate.minimum_sample_size: warn``.  Below the minimum, internal validation
   cannot vouch for the model's calibration in new patients: at 100-200 patients even a
   model given the true formula lands within an external calibration slope of 0.8-1.2 in
   only 35-60% of simulated cohorts of the demo sizes (benchmarks/oracle.py), and no
   internal validation can tell which cohort one has, so by default (``require``, as Riley
   et al. recommend) the model is kept for audit and external validation but not shipped
   as fit for clinical use.  ``warn`` is the investigators' explicit choice to ship it with
   a *caution* stated beside the verdict instead (the Methods then say so).

Each row of ``gate.csv`` says whether it is ``blocking``; only blocking criteria decide the
status, and a failed non-blocking one is one of the verdict's ``cautions``.

Otherwise the study's outcome is "no model fit for clinical use": the model is still
saved, with ``"status": "not-for-clinical-use"`` and the reasons in ``model.json``, and
``analysis predict`` refuses it unless ``--allow-unvalidated`` is given.

:func:`ship_gate` returns a :class:`GateVerdict`; its :meth:`GateVerdict.as_frame` is the
tidy ``gate.csv`` table (one row per criterion), from which :func:`verdict_from_table`
rebuilds the verdict (the report reads it back this way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

__all__ = [
    "DEFAULT_SAMPLE_SIZE_RULE",
    "DEFAULT_SLOPE_RANGE",
    "FIT",
    "SAMPLE_SIZE_RULES",
    "GATE_COLUMNS",
    "NOT_FIT",
    "GateVerdict",
    "ship_gate",
    "verdict_from_table",
]

FIT = "fit-for-clinical-use"
NOT_FIT = "not-for-clinical-use"
#: Default acceptable range of the shipped model's corrected calibration slope.
DEFAULT_SLOPE_RANGE = (0.7, 1.3)
#: Columns of the ``gate.csv`` table, in order (``blocking``: whether a failure of the
#: criterion makes the model not fit for clinical use, or is a caution only).
GATE_COLUMNS = ("criterion", "model", "value", "threshold", "passed", "note", "blocking")
#: ``modelling.gate.minimum_sample_size``: a cohort below Riley's minimum makes the model
#: not fit for clinical use (``require``, the default) or is a caution (``warn``).
SAMPLE_SIZE_RULES = ("warn", "require")
#: The rule when study.yaml does not set one.
DEFAULT_SAMPLE_SIZE_RULE = "require"
#: The null model every candidate must beat.
NULL_MODEL = "intercept_only"
_SCORE_NAMES = {"log_loss": "log loss", "brier": "Brier score"}


@dataclass(frozen=True)
class GateVerdict:
    """The outcome of :func:`ship_gate`.

    Attributes
    ----------
    status : str
        ``"fit-for-clinical-use"`` or ``"not-for-clinical-use"``.
    reasons : tuple of str
        One plain sentence, with its numbers, per failed blocking criterion (empty when fit).
    model : str or None
        The model the criteria were evaluated on (the selected one, or the model kept
        for audit when none was selected).
    table : pandas.DataFrame
        The ``gate.csv`` table (:data:`GATE_COLUMNS`).
    cautions : tuple of str
        One plain sentence per failed non-blocking criterion (the cohort below Riley's
        minimum sample size when the study sets the ``warn`` rule): said beside the verdict.

    Examples
    --------
    >>> v = GateVerdict(NOT_FIT, ("No model was selected.",), None)
    >>> v.fit, v.describe()[:34]
    (False, '**No model fit for clinical use.**')
    """

    status: str
    reasons: tuple[str, ...]
    model: str | None
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=GATE_COLUMNS),
                                compare=False, repr=False)
    cautions: tuple[str, ...] = ()

    def __post_init__(self):
        if self.status not in (FIT, NOT_FIT):
            raise AnalysisError(f"status must be {FIT!r} or {NOT_FIT!r}, got {self.status!r}")

    @property
    def fit(self) -> bool:
        """Whether the model is fit for clinical use."""
        return self.status == FIT

    def as_frame(self) -> pd.DataFrame:
        """The tidy ``gate.csv`` table: criterion, model, value, threshold, passed, note.

        Examples
        --------
        >>> list(GateVerdict(FIT, (), "m").as_frame().columns)
        ['criterion', 'model', 'value', 'threshold', 'passed', 'note', 'blocking']
        """
        return self.table.reindex(columns=list(GATE_COLUMNS)).reset_index(drop=True)

    def describe(self) -> str:
        """One Markdown paragraph stating the verdict with its numbers.

        When the gate fails it opens with "No model fit for clinical use" and lists the
        reasons; when it passes it quotes the numbers of every criterion.  Cautions follow
        in both cases, under **Caution:**.

        Examples
        --------
        >>> GateVerdict(FIT, (), "logistic").describe()[:60]
        '**Ship gate passed: logistic is fit for clinical use** (subj'
        """
        caution = (" **Caution:** " + " ".join(self.cautions)) if self.cautions else ""
        if self.fit:
            frame = self.as_frame()
            notes = [str(n) for n, ok in zip(frame["note"], frame["passed"], strict=True)
                     if isinstance(n, str) and n and _truthy(ok)]
            detail = " ".join(notes)
            return (f"**Ship gate passed: {self.model} is fit for clinical use** (subject to "
                    f"external validation in the setting of use). {detail}").strip() + caution
        audit = (f" {self.model} is saved for audit only: its model.json says "
                 f"\"status\": \"{NOT_FIT}\" and `analysis predict` refuses it unless "
                 "`--allow-unvalidated` is given." if self.model else "")
        return ("**No model fit for clinical use.** " + " ".join(self.reasons) + audit
                + caution)


def _truthy(value) -> bool:
    """A ``passed``/``blocking`` cell as a bool (a CSV read back holds strings)."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def _row(comparison: pd.DataFrame, model: str) -> pd.Series | None:
    rows = comparison[comparison["model"] == model]
    return rows.iloc[0] if len(rows) else None


def _num(row, column: str) -> float:
    if row is None or column not in row.index:
        return np.nan
    try:
        return float(row[column])
    except (TypeError, ValueError):
        return np.nan


def _audit_model(comparison: pd.DataFrame, null_model: str) -> str | None:
    """The candidate with the lowest CV log loss (else Brier, else highest AUC)."""
    pool = comparison[comparison["model"] != null_model]
    if not len(pool):
        return None
    for column, ascending in (("log_loss", True), ("brier", True), ("auc", False)):
        if column in pool.columns and pool[column].notna().any():
            values = pool[column].astype(float)
            best = values.idxmin() if ascending else values.idxmax()
            return str(pool.loc[best, "model"])
    return str(pool["model"].iloc[0])


def ship_gate(
    comparison: pd.DataFrame,
    validation: pd.DataFrame,
    *,
    slope_range: tuple[float, float] = DEFAULT_SLOPE_RANGE,
    model: str | None = None,
    null_model: str = NULL_MODEL,
    scores: tuple[str, ...] = ("log_loss", "brier"),
    sample_size: pd.DataFrame | None = None,
    cohort: tuple[int, int] | None = None,
    sample_size_rule: str = DEFAULT_SAMPLE_SIZE_RULE,
) -> GateVerdict:
    """Decide whether the selected model is fit for clinical use.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Notebook 05's comparison table: ``model``, ``selected``, ``auc_ci_lower``,
        ``auc_ci_upper``, ``auc`` and the ``scores`` columns (CV values), with a row for
        ``null_model``.
    validation : pandas.DataFrame
        Notebook 06's validation table (``model, metric, corrected``) of the shipped
        model; its ``calibration_slope`` row is used.
    slope_range : tuple of float, default (0.7, 1.3)
        Acceptable corrected calibration slopes (``modelling.gate.slope_range``).
    model : str, optional
        The model to judge when no row is selected (the model kept for audit); default
        the candidate with the lowest CV log loss.  Ignored when a model is selected.
    null_model : str, default "intercept_only"
    scores : tuple of str, default ("log_loss", "brier")
        Proper scores (lower is better) on which the model must beat ``null_model``;
        a score whose column is absent is skipped.
    sample_size : pandas.DataFrame, optional
        Notebook 06's ``sample_size`` table
        (:func:`analysis.validation.sample_size.riley_anticipated`); its ``anticipated``
        scenario's ``overall`` row is the minimum.  Without it (or without ``cohort``) the
        criterion is not judged.
    cohort : tuple of int, optional
        ``(patients, events)`` of the development cohort.
    sample_size_rule : {"require", "warn"}, default "require"
        ``modelling.gate.minimum_sample_size``: whether a cohort below the minimum makes
        the model not fit for clinical use or is only a caution.

    Returns
    -------
    GateVerdict

    Raises
    ------
    AnalysisError
        If a table is not a DataFrame, lacks its key columns, or ``slope_range`` is not
        two increasing numbers.

    Examples
    --------
    >>> comparison = pd.DataFrame({
    ...     "model": ["intercept_only", "logistic"], "selected": [False, True],
    ...     "auc": [0.5, 0.78], "auc_ci_lower": [np.nan, 0.70], "auc_ci_upper": [np.nan, 0.86],
    ...     "log_loss": [0.69, 0.55], "brier": [0.25, 0.19]})
    >>> validation = pd.DataFrame({"model": ["logistic"], "metric": ["calibration_slope"],
    ...                            "corrected": [0.93]})
    >>> ship_gate(comparison, validation).status
    'fit-for-clinical-use'
    >>> ship_gate(comparison, validation.assign(corrected=0.5)).reasons  # doctest: +ELLIPSIS
    ('The corrected calibration slope of logistic is 0.50, outside [0.7, 1.3]...',)
    >>> need = pd.DataFrame({"scenario": ["anticipated"], "criterion": ["overall"],
    ...                      "n_required": [900], "events_required": [270]})
    >>> ship_gate(comparison, validation, sample_size=need, cohort=(200, 60)).status
    'not-for-clinical-use'
    >>> v = ship_gate(comparison, validation, sample_size=need, cohort=(200, 60),
    ...               sample_size_rule="warn")
    >>> v.status, v.cautions[0][:52]
    ('fit-for-clinical-use', 'The cohort (200 patients, 60 events) is smaller than')
    """
    if not isinstance(comparison, pd.DataFrame) or not isinstance(validation, pd.DataFrame):
        raise AnalysisError("comparison and validation must be DataFrames (notebooks 05 and 06)")
    missing = [c for c in ("model", "selected") if c not in comparison.columns]
    if missing:
        raise AnalysisError(f"comparison lacks column(s) {missing} (see compare_models)")
    missing = [c for c in ("model", "metric", "corrected") if c not in validation.columns]
    if missing:
        raise AnalysisError(f"validation lacks column(s) {missing} (see bootstrap_optimism)")
    try:
        low, high = (float(v) for v in slope_range)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"slope_range must be two numbers, got {slope_range!r}") from exc
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise AnalysisError(f"slope_range must be two increasing numbers, got {slope_range!r}")
    if sample_size_rule not in SAMPLE_SIZE_RULES:
        raise AnalysisError(f"sample_size_rule must be one of {SAMPLE_SIZE_RULES}, "
                            f"got {sample_size_rule!r}")

    rows: list[dict] = []
    reasons: list[str] = []
    cautions: list[str] = []

    def add(criterion, name, value, threshold, passed, note, reason=None, blocking=True):
        rows.append({"criterion": criterion, "model": name, "value": value,
                     "threshold": threshold, "passed": bool(passed), "note": note,
                     "blocking": bool(blocking)})
        if not passed:
            (reasons if blocking else cautions).append(reason or note)

    chosen = comparison.loc[comparison["selected"].fillna(False).astype(bool), "model"]
    null = _row(comparison, null_model)
    if len(chosen) == 1:
        name = str(chosen.item())
        add("model_selected", name, 1.0, "one model selected", True,
            f"Selected model: {name}.")
    else:
        name = model if model is not None else _audit_model(comparison, null_model)
        audit = (f" The gate is judged on {name}, kept for audit only." if name else "")
        add("model_selected", name, float(len(chosen)), "one model selected", False,
            f"No candidate model was selected ({len(chosen)} selected): none beat the "
            f"{null_model} benchmark under the selection rule.{audit}")
    row = _row(comparison, name) if name else None

    for score in scores:
        if score not in comparison.columns:
            continue
        label = _SCORE_NAMES.get(score, score)
        value, bench = _num(row, score), _num(null, score)
        threshold = f"< {bench:.4f} ({null_model})" if np.isfinite(bench) else f"< {null_model}"
        if null is None or not np.isfinite(bench):
            add(f"beats_null_{score}", name, value, threshold, False,
                f"The {null_model} benchmark's cross-validated {label} is unavailable, so no "
                "model can be shown to beat it.")
            continue
        passed = bool(np.isfinite(value) and value < bench)
        verb = "below" if passed else "not below"
        value_text = f"{value:.4f}" if np.isfinite(value) else "undefined"
        add(f"beats_null_{score}", name, value, threshold, passed,
            f"The cross-validated {label} of {name} is {value_text}, {verb} the "
            f"{null_model} benchmark's {bench:.4f}.")

    auc, lo, hi = _num(row, "auc"), _num(row, "auc_ci_lower"), _num(row, "auc_ci_upper")
    auc_text = (f"{auc:.3f} (95% CI {lo:.3f}-{hi:.3f})" if np.isfinite(lo) and np.isfinite(hi)
                else f"{auc:.3f} (95% CI undefined)")
    if not (np.isfinite(lo) and np.isfinite(hi)):
        add("auc_ci_excludes_0.5", name, auc, "CI excludes 0.5", False,
            f"The cross-validated AUC of {name} is {auc_text}: it cannot be told apart "
            "from chance.")
    else:
        passed = not (lo <= 0.5 <= hi)
        add("auc_ci_excludes_0.5", name, auc, "CI excludes 0.5", passed,
            f"The cross-validated AUC of {name} is {auc_text}, "
            + ("its CI excluding 0.5." if passed
               else "a CI that includes 0.5 (no better than chance)."))

    slopes = validation[(validation["model"] == name)
                        & (validation["metric"] == "calibration_slope")]["corrected"]
    slope = float(slopes.iloc[0]) if len(slopes) else np.nan
    span = f"[{low:g}, {high:g}]"
    if not np.isfinite(slope):
        add("calibration_slope_in_range", name, slope, span, False,
            f"The corrected calibration slope of {name} is undefined (no finite "
            f"'calibration_slope' row in the validation table), so its calibration in new "
            "patients is unknown.")
    else:
        passed = low <= slope <= high
        add("calibration_slope_in_range", name, slope, span, passed,
            f"The corrected calibration slope of {name} is {slope:.2f}, "
            + (f"within {span}." if passed else
               f"outside {span}: its predicted risks would be miscalibrated in new patients."))

    if sample_size is not None and cohort is not None:
        _judge_sample_size(add, name, sample_size, cohort, sample_size_rule == "require")

    table = pd.DataFrame(rows, columns=list(GATE_COLUMNS))
    status = FIT if table.loc[table["blocking"], "passed"].all() else NOT_FIT
    return GateVerdict(status, tuple(reasons), name, table, tuple(cautions))


def _judge_sample_size(add, name, requirement: pd.DataFrame, cohort, blocking: bool) -> None:
    """The ``sample_size_adequate`` row: the cohort against Riley's ``overall`` minimum."""
    needed = {"scenario", "criterion", "n_required", "events_required"}
    if not isinstance(requirement, pd.DataFrame) or not needed <= set(requirement.columns):
        raise AnalysisError(f"sample_size must be the sample_size table (columns {sorted(needed)})")
    try:
        n, events = (int(v) for v in cohort)
    except (TypeError, ValueError) as exc:
        raise AnalysisError(f"cohort must be (patients, events), got {cohort!r}") from exc
    rows = requirement[(requirement["scenario"] == "anticipated")
                       & (requirement["criterion"] == "overall")]
    need_n = _num(rows.iloc[0], "n_required") if len(rows) else np.nan
    need_e = _num(rows.iloc[0], "events_required") if len(rows) else np.nan
    have = f"The cohort ({n:,} patients, {events:,} events)"
    consequence = ("so its calibration in new patients cannot be relied on: at this size even a "
                   "correctly specified model's calibration slope varies widely between cohorts. "
                   "It needs external validation before clinical use."
                   if blocking else
                   "so the model's calibration in new patients is uncertain: at this size even a "
                   "correctly specified model's calibration slope varies widely between cohorts. "
                   "Validate it externally before relying on its predicted risks.")
    if not (np.isfinite(need_n) and np.isfinite(need_e)):
        add("sample_size_adequate", name, float(n), "Riley minimum (undefined)", False,
            f"{have}: Riley's minimum sample size is undefined (the anticipated C statistic is "
            f"not above 0.5), {consequence}", blocking=blocking)
        return
    threshold = f">= {int(need_n):,} patients, {int(need_e):,} events (Riley et al. 2020)"
    passed = n >= need_n and events >= need_e
    if passed:
        note = (f"{have} reaches Riley et al.'s minimum sample size for this model "
                f"({int(need_n):,} patients, {int(need_e):,} events).")
    else:
        note = (f"{have} is smaller than Riley et al.'s minimum sample size for this model "
                f"({int(need_n):,} patients, {int(need_e):,} events at the anticipated C), "
                f"{consequence}")
    add("sample_size_adequate", name, float(n), threshold, passed, note, blocking=blocking)


def verdict_from_table(table: pd.DataFrame) -> GateVerdict:
    """Rebuild a :class:`GateVerdict` from a ``gate.csv`` table (:meth:`GateVerdict.as_frame`).

    Examples
    --------
    >>> t = pd.DataFrame({"criterion": ["model_selected"], "model": ["m"], "value": [1.0],
    ...                   "threshold": ["one model selected"], "passed": [True],
    ...                   "note": ["Selected model: m."]})
    >>> verdict_from_table(t).status
    'fit-for-clinical-use'
    """
    if not isinstance(table, pd.DataFrame):
        raise AnalysisError("table must be a DataFrame (gate.csv)")
    if "blocking" not in table.columns:  # a table written before cautions existed
        table = table.assign(blocking=True)
    missing = [c for c in GATE_COLUMNS if c not in table.columns]
    if missing or not len(table):
        raise AnalysisError(f"gate table lacks column(s) {missing} or rows (see ship_gate)")
    passed = table["passed"].map(_truthy)
    blocking = table["blocking"].map(_truthy)
    status = FIT if passed[blocking].all() else NOT_FIT
    failed = [(str(n), b) for n, ok, b in zip(table["note"], passed, blocking, strict=True)
              if not ok]
    reasons = tuple(n for n, b in failed if b)
    cautions = tuple(n for n, b in failed if not b)
    models = [m for m in table["model"] if isinstance(m, str) and m]
    table = table.assign(passed=passed, blocking=blocking)
    return GateVerdict(status, reasons, models[0] if models else None, table, cautions)
