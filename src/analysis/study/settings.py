"""Modelling policy of a study: resampling settings, smoke mode, the selection rule, subgroups.

study.yaml's ``modelling:`` block is parsed here into a typed, frozen
:class:`ModellingSettings`; the defaults and the smaller values of smoke mode live here
and nowhere else.  The pre-specified :class:`SelectionRule` that notebook 05 applies and
notebook 06 honours is part of the settings, so both notebooks use the same rule.  The
optional top-level ``subgroups:`` key (the subgroups of notebook 06) is parsed by
:func:`parse_subgroups`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from analysis.errors import StudyConfigError

__all__ = [
    "DEFAULT_BANDS",
    "LARGE_COHORT",
    "LARGE_COHORT_BOOTSTRAP",
    "LARGE_COHORT_COMPARISON_BOOT",
    "LARGE_COHORT_OUTER_REPEATS",
    "default_reference",
    "MODELLING_DEFAULTS",
    "SELECTION_SCORES",
    "SMOKE_MODELLING",
    "ModellingSettings",
    "SelectionRule",
    "Subgroup",
    "modelling_problems",
    "parse_subgroups",
]

#: study.yaml ``modelling:`` keys and their defaults (``selection`` is parsed separately).
MODELLING_DEFAULTS = {
    "outer_splits": 5,        # nested CV: stratified outer folds ...
    "outer_repeats": 2,       # ... repeated with different splits
    "inner_splits": 3,        # inner folds for tuning
    "bootstrap": 200,         # Harrell's bootstrap optimism correction (B)
    "threshold": None,        # classification threshold (default: the outcome prevalence)
    "models": None,           # subset of the model zoo (default: all)
    "clinical_scores": [],    # published scores to compare, e.g. [vedolizumab_cdst]
    "reference": "flexible_logistic",  # the reference model (DeLong tests, Riley, audit)
    "interactions": [],       # pre-specified interactions [[a, b], ...] of the flexible model
    "continuous_outcome": None,  # optional: linear regression of this column (notebook 04)
    "imputations": 20,        # multiple imputation (notebook 04)
    "anticipated_c": None,    # literature C statistic for Riley's sample size (default: nested CV)
}
#: Smoke mode (fast test runs): every count is capped at this value; ``shap_method`` is replaced.
SMOKE_MODELLING = {
    "outer_splits": 3, "outer_repeats": 1, "inner_splits": 2, "bootstrap": 8, "imputations": 3,
    "comparison_boot": 50, "calibration_boot": 20, "permutation_repeats": 3,
    "shap_background": 30, "shap_method": "permutation",
}
_COUNTS = ("outer_splits", "outer_repeats", "inner_splits", "bootstrap", "imputations")
_SELECTION_KEYS = ("slope_range", "n_se", "se_column", "score")
#: Proper scoring rules the selection rule can rank candidates by (lower is better).
SELECTION_SCORES = ("log_loss", "brier")
#: Above this many patients (with an outcome) notebook 06 runs at most
#: :data:`LARGE_COHORT_BOOTSTRAP` bootstrap refits instead of ``modelling.bootstrap`` and says
#: so.  Harrell's optimism shrinks like 1/n: at 100,000 patients it is of the order of 1e-4
#: in AUC, far below the resampling error of B = 200 itself, while each refit of the
#: pipeline takes a minute.  The demo studies (40-200 patients) are far below the limit.
LARGE_COHORT = 20_000
#: Bootstrap refits (B) of notebook 06 above :data:`LARGE_COHORT` patients.
LARGE_COHORT_BOOTSTRAP = 10
#: Outer repeats of notebook 05's nested CV above :data:`LARGE_COHORT` patients
#: (:meth:`ModellingSettings.for_cohort`).  Repeats average out the luck of one random
#: partition into folds; with 20,000 patients or more per fold that luck is negligible (on
#: a 100,000-patient ibd-biologics cohort the SD of the AUC over two repeats was 0.00004
#: against a DeLong SE of 0.0016), while every repeat refits every model.
LARGE_COHORT_OUTER_REPEATS = 1
#: Resamples of notebook 05's bootstrap intervals of the Brier score, log loss and ICI above
#: :data:`LARGE_COHORT` patients: each resample repeats a lowess over every patient per model
#: and repeat (0.04 s at 100,000 patients; 200 resamples of 8 models over 2 repeats took
#: 150 s).  The intervals are then a few thousandths wide; 100 resamples place their 2.5%
#: and 97.5% bounds to a small fraction of that width.
LARGE_COHORT_COMPARISON_BOOT = 100
#: Cut points of a numeric subgroup given without its own (the age bands <40, 40–59, ≥60).
DEFAULT_BANDS = (40.0, 60.0)


@dataclass(frozen=True)
class SelectionRule:
    """The pre-specified, mechanical rule that picks one model from a comparison table.

    Candidates are ranked by a strictly proper scoring rule, the cross-validated
    ``score`` (log loss or Brier score, lower is better); the AUC stays in the table for
    information but does not choose.

    1. Models in ``exclude`` (the intercept-only benchmark, published scores) are never
       candidates.
    2. A model is a candidate only if its mean cross-validated ``score`` is strictly
       lower than that of the ``benchmark`` (intercept-only) row.  If none is, **no
       model is selected** and every note says "no model beats the intercept-only
       benchmark on cross-validated <score>".
    3. A candidate is *eligible* when its calibration slope lies in ``slope_range``
       (inclusive); if no candidate is eligible, all candidates are used and the
       chosen model is flagged "needs recalibration".
    4. Among eligible models take the lowest ``score`` (the best); every eligible model
       with ``score <= best + n_se x SE`` is within one SE, SE being the best model's
       value in ``se_column`` (default ``<score>_cv_se``: the SD of the per-fold scores
       divided by the square root of the number of folds; if missing or NaN, no
       tolerance).
    5. Of those, the lowest complexity wins; ties go to the lower score, then to the
       earlier row.

    Applied by :func:`analysis.validation.selection.select_model`.

    Parameters
    ----------
    se_column : str or None, default None
        Column with the standard error of ``score`` used for the tolerance; ``None``
        means ``f"{score}_cv_se"``.
    n_se : float, default 1.0
        Tolerance in standard errors.
    slope_range : tuple of float, default (0.8, 1.2)
        Acceptable calibration slopes.
    exclude : tuple of str, default ("intercept_only",)
        Models that are benchmarks only.
    score : {"log_loss", "brier"}, default "log_loss"
        The proper scoring rule that ranks the candidates (study.yaml
        ``modelling.selection.score``).
    benchmark : str, default "intercept_only"
        The null model every candidate must beat on ``score``.

    Examples
    --------
    >>> SelectionRule().describe()[:40]
    'Among the candidate models (all except t'
    >>> SelectionRule().slope_ok(1.25)
    False
    >>> SelectionRule().score_se_column
    'log_loss_cv_se'
    """

    se_column: str | None = None
    n_se: float = 1.0
    slope_range: tuple[float, float] = (0.8, 1.2)
    exclude: tuple[str, ...] = ("intercept_only",)
    score: str = "log_loss"
    benchmark: str = "intercept_only"

    def __post_init__(self):
        if self.score not in SELECTION_SCORES:
            raise StudyConfigError(
                f"selection score must be one of {list(SELECTION_SCORES)}, got {self.score!r}"
            )

    @property
    def score_se_column(self) -> str:
        """The column holding the SE of the selection score (``se_column`` or the default).

        Examples
        --------
        >>> SelectionRule(score="brier").score_se_column
        'brier_cv_se'
        """
        return self.se_column or f"{self.score}_cv_se"

    def slope_ok(self, slope: float) -> bool:
        """Whether a calibration slope lies in ``slope_range`` (inclusive).

        Examples
        --------
        >>> SelectionRule(slope_range=(0.9, 1.1)).slope_ok(0.9)
        True
        """
        low, high = self.slope_range
        return bool(low <= slope <= high)

    def describe(self) -> str:
        """One paragraph describing the rule, for the methods section of a report.

        Examples
        --------
        >>> "one standard error" in SelectionRule().describe()
        True
        """
        lo, hi = self.slope_range
        score_text = {"log_loss": "log loss", "brier": "Brier score"}[self.score]
        column = self.score_se_column
        se_text = (
            f"the standard deviation of its per-fold cross-validated {score_text} values divided "
            f"by the square root of the number of folds"
            if column == f"{self.score}_cv_se"
            else f"column '{column}'"
        )
        n_text = "one standard error" if self.n_se == 1 else f"{self.n_se:g} standard errors"
        excluded = ", ".join(self.exclude) if self.exclude else "none"
        return (
            f"Among the candidate models (all except the benchmark(s): {excluded}), models "
            f"were ranked by their cross-validated {score_text}, a strictly proper scoring "
            f"rule (lower is better); the AUC was reported but not used for selection. A "
            f"model was a candidate only if its cross-validated {score_text} was lower than "
            f"that of the intercept-only benchmark ({self.benchmark}); had none been, no "
            f"model would have been selected. Models whose calibration slope lay outside "
            f"[{lo:g}, {hi:g}] were ineligible; among the eligible models, the model with "
            f"the lowest {score_text} was identified and, following the {n_text} rule, the "
            f"least complex model whose {score_text} was within {n_text} of it (the best "
            f"model's standard error being {se_text}) was selected, ties in complexity "
            f"going to the lower {score_text}. Complexity ranks: clinical score 0, logistic "
            f"and penalised logistic regression 1, support vector machine, random forest and "
            f"gradient boosting 3, neural network 4. Had no candidate been eligible, the same "
            f"rule would have been applied to all candidates and the chosen model flagged as "
            f"needing recalibration. The selection step itself is not re-validated: the "
            f"reported performance is that of the selected model, not of the whole "
            f"compare-select-fit procedure."
        )


@dataclass(frozen=True)
class ModellingSettings:
    """Resampling and model settings of a study (study.yaml ``modelling:``), smoke mode applied.

    Build one with :meth:`from_mapping` or :meth:`for_study`.  The fields named in
    :data:`MODELLING_DEFAULTS` are study.yaml keys; ``selection:`` (``slope_range``,
    ``n_se``, ``se_column``, ``score``) sets the :class:`SelectionRule`, whose ``exclude`` is always
    the intercept-only benchmark plus the published ``clinical_scores`` (comparators, not
    candidates).  ``comparison_boot`` .. ``shap_method`` size the confidence intervals,
    calibration bands and explanations of notebooks 05 and 06; they change only in smoke mode
    and, for cohorts above :data:`LARGE_COHORT` patients, through :meth:`for_cohort`.

    Examples
    --------
    >>> s = ModellingSettings.from_mapping({"bootstrap": 50, "selection": {"n_se": 2}})
    >>> s.bootstrap, s.outer_splits, s.rule.n_se
    (50, 5, 2.0)
    >>> ModellingSettings.from_mapping({"bootstrap": 50}, smoke=True).bootstrap
    8
    """

    outer_splits: int = 5
    outer_repeats: int = 2
    inner_splits: int = 3
    bootstrap: int = 200
    threshold: float | None = None
    models: tuple[str, ...] | None = None
    clinical_scores: tuple[str, ...] = ()
    reference: str = "flexible_logistic"
    #: study.yaml ``modelling.interactions``: pre-specified pairs of predictors whose
    #: product the flexible model (``flexible_logistic``) includes.
    interactions: tuple[tuple[str, str], ...] = ()
    continuous_outcome: str | None = None
    imputations: int = 20
    anticipated_c: float | None = None
    rule: SelectionRule = field(default_factory=SelectionRule)
    smoke: bool = False
    comparison_boot: int = 200
    calibration_boot: int = 200
    permutation_repeats: int = 20
    shap_background: int = 100
    shap_method: str = "auto"
    #: study.yaml ``modelling.gate.slope_range``: the ship gate's acceptable corrected
    #: calibration slopes (:func:`analysis.validation.gate.ship_gate`).
    gate_slope_range: tuple[float, float] = (0.7, 1.3)
    #: study.yaml ``modelling.gate.minimum_sample_size``: a cohort below Riley's minimum
    #: sample size makes the model not fit for clinical use (``"require"``, the default) or
    #: is only a caution beside the gate's verdict (``"warn"``).
    gate_sample_size: str = "require"

    @classmethod
    def from_mapping(cls, raw: Mapping | None, *, smoke: bool = False) -> ModellingSettings:
        """Parse a ``modelling:`` block (``None``: all defaults).

        Raises
        ------
        StudyConfigError
            Naming every unknown key and every value of the wrong type.

        Examples
        --------
        >>> ModellingSettings.from_mapping({"bootstrapp": 10})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        analysis.errors.StudyConfigError: modelling: unknown key 'bootstrapp' (known: ...)
        """
        problems = modelling_problems(raw)
        if problems:
            raise StudyConfigError("; ".join(problems))
        raw = dict(raw or {})
        selection = dict(raw.pop("selection", None) or {})
        gate = dict(raw.pop("gate", None) or {})
        values = {**MODELLING_DEFAULTS, **raw}
        rule = SelectionRule(
            se_column=selection.get("se_column"),
            score=selection.get("score", "log_loss"),
            n_se=float(selection.get("n_se", 1.0)),
            slope_range=tuple(float(v) for v in selection.get("slope_range", (0.8, 1.2))),
            exclude=("intercept_only", *(values["clinical_scores"] or ())),
        )
        settings = cls(
            **{k: values[k] for k in _COUNTS},
            threshold=None if values["threshold"] is None else float(values["threshold"]),
            models=None if values["models"] is None else tuple(values["models"]),
            clinical_scores=tuple(values["clinical_scores"] or ()),
            reference=(values["reference"] if "reference" in raw
                       else default_reference(values["models"])),
            interactions=tuple(tuple(pair) for pair in values["interactions"] or ()),
            continuous_outcome=values["continuous_outcome"],
            anticipated_c=None if values["anticipated_c"] is None else float(values["anticipated_c"]),
            rule=rule,
            gate_slope_range=tuple(float(v) for v in gate.get("slope_range", (0.7, 1.3))),
            gate_sample_size=gate.get("minimum_sample_size", "require"),
        )
        return settings.smoke_mode() if smoke else settings

    @classmethod
    def for_study(cls, study: Any, *, smoke: bool = False) -> ModellingSettings:
        """The settings of a :class:`~analysis.study.config.Study` (its ``modelling`` block).

        Examples
        --------
        >>> from types import SimpleNamespace
        >>> ModellingSettings.for_study(SimpleNamespace(modelling={}), smoke=True).outer_splits
        3
        """
        return cls.from_mapping(getattr(study, "modelling", None), smoke=smoke)

    def smoke_mode(self) -> ModellingSettings:
        """The same settings shrunk for a fast test run (:data:`SMOKE_MODELLING`).

        Examples
        --------
        >>> s = ModellingSettings(bootstrap=5).smoke_mode()
        >>> s.bootstrap, s.comparison_boot, s.shap_method, s.smoke
        (5, 50, 'permutation', True)
        """
        changes = {
            key: value if isinstance(value, str) else min(getattr(self, key), value)
            for key, value in SMOKE_MODELLING.items()
        }
        return replace(self, smoke=True, **changes)

    def for_cohort(self, n_patients: int) -> tuple[ModellingSettings, list[str]]:
        """The settings for a cohort of ``n_patients``: cheaper resampling above :data:`LARGE_COHORT`.

        At or below :data:`LARGE_COHORT` patients (every demo study) the settings are
        returned unchanged.  Above it, notebook 05's nested CV runs at most
        :data:`LARGE_COHORT_OUTER_REPEATS` outer repeat and its bootstrap intervals at most
        :data:`LARGE_COHORT_COMPARISON_BOOT` resamples; each change comes with a sentence for
        the notebook.

        Parameters
        ----------
        n_patients : int
            Patients with an outcome (the rows the models are fitted on).

        Returns
        -------
        settings : ModellingSettings
            ``self`` when nothing changes, else a copy with the smaller counts.
        notes : list of str
            One plain sentence per change; empty when nothing changes.

        Examples
        --------
        >>> s = ModellingSettings()
        >>> s.for_cohort(200) == (s, [])
        True
        >>> big, notes = s.for_cohort(100_000)
        >>> big.outer_repeats, big.comparison_boot, len(notes)
        (1, 100, 2)
        >>> print(notes[0])  # doctest: +ELLIPSIS
        Nested cross-validation runs 1 outer repeat instead of 2: ...
        """
        if n_patients <= LARGE_COHORT:
            return self, []
        changes, notes = {}, []
        if self.outer_repeats > LARGE_COHORT_OUTER_REPEATS:
            changes["outer_repeats"] = LARGE_COHORT_OUTER_REPEATS
            notes.append(
                f"Nested cross-validation runs {LARGE_COHORT_OUTER_REPEATS} outer repeat instead of "
                f"{self.outer_repeats}: with {n_patients:,} patients (more than {LARGE_COHORT:,}) "
                "each outer fold holds thousands of patients, so another random partition changes "
                "the estimates far less than their standard errors "
                "(analysis.study.settings.LARGE_COHORT_OUTER_REPEATS).")
        if self.comparison_boot > LARGE_COHORT_COMPARISON_BOOT:
            changes["comparison_boot"] = LARGE_COHORT_COMPARISON_BOOT
            notes.append(
                f"The bootstrap intervals of the Brier score, log loss and ICI use "
                f"{LARGE_COHORT_COMPARISON_BOOT} resamples instead of {self.comparison_boot}: "
                "each resample refits a lowess curve on every patient, and at this size the "
                "intervals are narrow enough that fewer resamples place their bounds well "
                "(analysis.study.settings.LARGE_COHORT_COMPARISON_BOOT).")
        return (replace(self, **changes) if changes else self), notes

    def as_dict(self) -> dict[str, Any]:
        """The study.yaml keys as the plain dict of ``Study.modelling_settings``.

        Examples
        --------
        >>> ModellingSettings().as_dict()["clinical_scores"]
        []
        """
        out = {key: getattr(self, key) for key in MODELLING_DEFAULTS}
        out["clinical_scores"] = list(self.clinical_scores)
        out["models"] = None if self.models is None else list(self.models)
        out["interactions"] = [list(pair) for pair in self.interactions]
        return out


def default_reference(models) -> str:
    """The reference model when study.yaml names none: the flexible model if it is run.

    ``flexible_logistic`` (the default), else ``logistic``, else the first model listed.

    Examples
    --------
    >>> default_reference(None), default_reference(["logistic", "lasso"])
    ('flexible_logistic', 'logistic')
    >>> default_reference(["lasso", "svm"])
    'lasso'
    """
    default = MODELLING_DEFAULTS["reference"]
    if not models or default in models:
        return default
    return "logistic" if "logistic" in models else str(list(models)[0])


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_names(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _selection_problems(spec) -> list[str]:
    if not isinstance(spec, Mapping):
        return ["modelling.selection must be a mapping (slope_range, n_se, se_column, score)"]
    problems = [
        f"modelling.selection: unknown key {key!r} (known: {', '.join(_SELECTION_KEYS)})"
        for key in spec if key not in _SELECTION_KEYS
    ]
    rng = spec.get("slope_range", (0.8, 1.2))
    if not (isinstance(rng, list | tuple) and len(rng) == 2 and all(_is_number(v) for v in rng)
            and rng[0] < rng[1]):
        problems.append("modelling.selection.slope_range must be two increasing numbers [low, high]")
    if not (_is_number(spec.get("n_se", 1.0)) and spec.get("n_se", 1.0) >= 0):
        problems.append("modelling.selection.n_se must be a non-negative number")
    se_column = spec.get("se_column")
    if se_column is not None and not isinstance(se_column, str):
        problems.append("modelling.selection.se_column must be a column name (string) or null")
    if spec.get("score", "log_loss") not in SELECTION_SCORES:
        problems.append(
            f"modelling.selection.score must be one of {', '.join(SELECTION_SCORES)}, "
            f"got {spec.get('score')!r}"
        )
    return problems


def _gate_problems(spec) -> list[str]:
    known = ("slope_range", "minimum_sample_size")
    if not isinstance(spec, Mapping):
        return [f"modelling.gate must be a mapping ({', '.join(known)})"]
    problems = [f"modelling.gate: unknown key {key!r} (known: {', '.join(known)})"
                for key in spec if key not in known]
    rule = spec.get("minimum_sample_size", "require")
    if rule not in ("warn", "require"):
        problems.append("modelling.gate.minimum_sample_size must be 'warn' or 'require', "
                        f"got {rule!r}")
    rng = spec.get("slope_range", (0.7, 1.3))
    if not (isinstance(rng, list | tuple) and len(rng) == 2 and all(_is_number(v) for v in rng)
            and rng[0] < rng[1]):
        problems.append("modelling.gate.slope_range must be two increasing numbers [low, high]")
    return problems


def modelling_problems(raw: Mapping | None) -> list[str]:
    """Every problem of a ``modelling:`` block, one sentence each naming the key.

    Examples
    --------
    >>> modelling_problems({"bootstrap": 0, "threshold": "high"})
    ['modelling.bootstrap must be a positive integer', 'modelling.threshold must be a number between 0 and 1 (or null)']
    """
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return ["'modelling' must be a mapping"]
    known = [*MODELLING_DEFAULTS, "selection", "gate"]
    problems = []
    for key, value in raw.items():
        if key not in known:
            problems.append(f"modelling: unknown key {key!r} (known: {', '.join(known)})")
        elif key in _COUNTS and not (_is_int(value) and value >= 1):
            problems.append(f"modelling.{key} must be a positive integer")
        elif key == "threshold" and value is not None and not (_is_number(value) and 0 < value < 1):
            problems.append("modelling.threshold must be a number between 0 and 1 (or null)")
        elif key in ("models", "clinical_scores") and value is not None and not _is_names(value):
            problems.append(f"modelling.{key} must be a list of model names")
        elif key == "reference" and not isinstance(value, str):
            problems.append("modelling.reference must be a model name (string)")
        elif key == "interactions" and value is not None and not (
            isinstance(value, list) and all(
                _is_names(pair) and len(pair) == 2 and pair[0] != pair[1] for pair in value)
        ):
            problems.append(
                "modelling.interactions must be a list of pairs of two different predictor "
                "names, e.g. [[age, sex]]"
            )
        elif key == "continuous_outcome" and value is not None and not isinstance(value, str):
            problems.append("modelling.continuous_outcome must be a column name (string)")
        elif key == "anticipated_c" and value is not None and not (
            _is_number(value) and 0.5 < value < 1
        ):
            problems.append(
                "modelling.anticipated_c must be a C statistic strictly between 0.5 and 1 (or null)"
            )
        elif key == "selection":
            problems += _selection_problems(value)
        elif key == "gate":
            problems += _gate_problems(value)
    models = raw.get("models")
    reference = raw.get("reference", default_reference(models if _is_names(models) else None))
    scores = raw.get("clinical_scores") or []
    if _is_names(models) and isinstance(reference, str) and _is_names(scores) and (
        reference not in [*models, *scores]
    ):
        problems.append(f"modelling.reference {reference!r} is not among modelling.models {models}")
    return problems


@dataclass(frozen=True)
class Subgroup:
    """A subgrouping variable of notebook 06; a numeric one is cut at ``bands``.

    Examples
    --------
    >>> Subgroup("age", (40.0, 60.0)).banded, Subgroup("sex").banded
    (True, False)
    """

    column: str
    bands: tuple[float, ...] | None = None

    @property
    def banded(self) -> bool:
        return self.bands is not None


def parse_subgroups(
    value: Any, types: Mapping[str, str], outcome: str | None = None, group: str | None = None
) -> tuple[tuple[Subgroup, ...], list[str]]:
    """Parse study.yaml's ``subgroups:``: a list of column names or ``{column: [cuts]}``.

    Categorical and binary columns are reported by level; numeric and integer columns are
    cut into bands at the given cut points (default :data:`DEFAULT_BANDS`).  Without the
    key, the study's ``group`` (if any) is the only subgroup.

    Parameters
    ----------
    value : list or None
        The raw ``subgroups:`` value.
    types : mapping of str to str
        Declared variables: name -> codebook type.
    outcome, group : str, optional
        The outcome (not allowed as a subgroup) and the comparison group (the default).

    Returns
    -------
    (tuple of Subgroup, list of str)
        The subgroups in order, and every problem found.

    Examples
    --------
    >>> types = {"sex": "categorical", "age": "numeric", "crp": "numeric"}
    >>> parse_subgroups(["sex", "age", {"crp": [5, 10]}], types)[0][2]
    Subgroup(column='crp', bands=(5.0, 10.0))
    >>> parse_subgroups(["weight"], types)[1]
    ["subgroups: 'weight' is not declared under 'variables'"]
    """
    if value is None:
        return ((Subgroup(group),) if group else ()), []
    if not isinstance(value, list):
        return (), ["'subgroups' must be a list of column names (or {column: [cut points]})"]
    out: list[Subgroup] = []
    problems: list[str] = []
    for item in value:
        name, cuts = item, None
        if isinstance(item, Mapping) and len(item) == 1:
            name, cuts = next(iter(item.items()))
        if not isinstance(name, str):
            problems.append(f"subgroups: entry {item!r} must be a column name or {{column: [cuts]}}")
            continue
        vtype = types.get(name)
        if vtype is None:
            problems.append(f"subgroups: {name!r} is not declared under 'variables'")
        elif name == outcome:
            problems.append(f"subgroups: the outcome {name!r} cannot be a subgroup")
        elif vtype in ("categorical", "binary"):
            if cuts is not None:
                problems.append(f"subgroups: {name!r} is {vtype}; cut points apply to numeric columns")
            out.append(Subgroup(name))
        elif vtype in ("numeric", "integer"):
            cuts = DEFAULT_BANDS if cuts is None else cuts
            if not (isinstance(cuts, list | tuple) and cuts and all(_is_number(c) for c in cuts)
                    and all(a < b for a, b in zip(cuts[:-1], cuts[1:], strict=False))):
                problems.append(f"subgroups: cut points of {name!r} must be increasing numbers")
            else:
                out.append(Subgroup(name, tuple(float(c) for c in cuts)))
        else:
            problems.append(f"subgroups: {name!r} has type {vtype!r}; use a categorical, "
                            "binary, numeric or integer column")
    names = [s.column for s in out]
    if len(set(names)) != len(names):
        problems.append("subgroups: a column is listed twice")
    return tuple(out), problems
