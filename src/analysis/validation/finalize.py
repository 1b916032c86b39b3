"""From the selected model to the final one: the decisions notebook 06 reports.

Notebook 05 compares the candidate models and selects one (:mod:`analysis.validation.selection`);
notebook 06 validates it and saves the final model.  The policy between the two lives here,
so the notebooks only narrate it:

* :func:`study_models` builds the candidate models from a study and its settings, the same
  way in both notebooks; with ``phenotypes: {candidate_predictor: true}`` every model gets the
  phenotype whose number of classes :func:`study_phenotype` fixed;
* :func:`read_oof_probabilities` reads notebook 05's out-of-fold predictions;
* :func:`model_to_finalize` names the model notebook 06 validates and saves: the selected
  one, or - when no candidate beat the intercept-only model - the reference model, kept
  for audit only (the ship gate, :mod:`analysis.validation.gate`, then fails);
* :func:`needs_recalibration` applies the selection rule's slope range;
* :func:`finalize_model` refits the model on all patients and, when the rule asks for it,
  recalibrates it with the intercept and slope that its own bootstrap estimated
  (``bootstrap_optimism(..., recalibrate=True)``), so that ``validation.csv``, the model
  card and ``model.json`` describe the shipped, recalibrated model;
* :func:`subgroup_table` reports performance in the subgroups declared in study.yaml;
* :func:`sample_size_requirement` applies Riley et al.'s criteria with the anticipated C
  statistic of the reference model's nested cross-validation (or a literature value) and
  C +/- 0.05; :func:`describe_sample_size` narrates it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError
from analysis.evaluation.subgroups import subgroup_performance
from analysis.models.flexible import RidgeLogisticCV
from analysis.models.phenotype import PhenotypeChoice, choose_phenotype_classes
from analysis.models.preprocessing import feature_names
from analysis.models.recalibration import RecalibratedClassifier, recalibrate
from analysis.models.zoo import ModelSpec, model_zoo
from analysis.study.settings import ModellingSettings, SelectionRule, Subgroup
from analysis.validation.resampling import (
    MEMORISING_COMPLEXITY,
    fit_final,
    recalibration_from_table,
)
from analysis.validation.sample_size import describe_adequacy, riley_anticipated

__all__ = [
    "FinalModel",
    "SAMPLE_SIZE_COLUMNS",
    "describe_sample_size",
    "finalize_model",
    "model_to_finalize",
    "needs_recalibration",
    "read_oof_probabilities",
    "sample_size_requirement",
    "study_models",
    "study_phenotype",
    "subgroup_table",
    "tunes_own_shrinkage",
]

#: Columns of :func:`sample_size_requirement`: Riley's criteria per scenario of the
#: anticipated C statistic (C and C +/- the sensitivity half-width).
SAMPLE_SIZE_COLUMNS = (
    "scenario",
    "criterion",
    "n_required",
    "events_required",
    "events_per_parameter",
    "c_statistic",
    "c_source",
    "r2_cs",
    "note",
)


def study_phenotype(study: Any, data: pd.DataFrame, *, seed: int) -> PhenotypeChoice | None:
    """The phenotype offered to the models, or None when study.yaml does not offer it.

    With ``phenotypes: {candidate_predictor: true}``: the phenotype variables and the number of
    classes, ``phenotypes.k`` when declared, else the minimum BIC among 2 to
    ``phenotypes.max_clusters`` classes of the latent class model fitted once on ``data``'s
    phenotype variables without the outcome
    (:func:`analysis.models.phenotype.choose_phenotype_classes`). Notebooks 05 and 06 call it
    on the same patients with the same seed, so they build the same models.

    Parameters
    ----------
    study : analysis.study.config.Study
    data : pandas.DataFrame
        The modelling cohort (patients with an outcome).
    seed : int

    Returns
    -------
    PhenotypeChoice or None

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> study_phenotype(SimpleNamespace(phenotype_predictor=False), pd.DataFrame(), seed=0) is None
    True
    """
    if not getattr(study, "phenotype_predictor", False):
        return None
    variables = list(study.phenotypes["variables"])
    return choose_phenotype_classes(data, variables, study.codebook(variables),
                                    k=study.phenotypes.get("k"),
                                    max_clusters=study.phenotypes.get("max_clusters", 6), seed=seed)


def study_models(study: Any, settings: ModellingSettings, *, seed: int,
                 phenotype: PhenotypeChoice | None = None) -> dict[str, ModelSpec]:
    """The candidate models of a study: the zoo (``modelling.models``) plus its clinical scores.

    Parameters
    ----------
    study : analysis.study.config.Study
    settings : ModellingSettings
        ``study.settings(smoke)``; smoke mode gives the small grids.
    seed : int
    phenotype : PhenotypeChoice, optional
        :func:`study_phenotype`; required when the study offers the phenotype to the models
        (every zoo model then takes ``study.model_inputs`` and refits the phenotype).

    Returns
    -------
    dict of str to ModelSpec

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> study = SimpleNamespace(predictors=("age",),
    ...                         codebook=lambda names: {"age": {"type": "numeric"}})
    >>> settings = ModellingSettings.from_mapping({"models": ["logistic", "lasso"]})
    >>> list(study_models(study, settings, seed=1))
    ['logistic', 'lasso']
    """
    predictors = list(study.predictors)
    for pair in settings.interactions:
        unknown = [name for name in pair if name not in predictors]
        if unknown:
            raise AnalysisError(
                f"modelling.interactions: {list(pair)} names {unknown}, not among the "
                f"study's predictors {predictors}")
    features = None
    if getattr(study, "phenotype_predictor", False):
        if phenotype is None:
            raise AnalysisError("study.yaml offers the phenotype to the models (phenotypes."
                                "candidate_predictor: true): pass phenotype=study_phenotype(study, "
                                "data, seed=seed)")
        names = list(phenotype.variables)
        features = phenotype.features(study.codebook(names), predictors=predictors, seed=seed)
    return model_zoo(study.codebook(predictors), predictors, smoke=settings.smoke, seed=seed,
                     include=settings.models, extra=list(settings.clinical_scores) or None,
                     interactions=settings.interactions, phenotype=features)


def read_oof_probabilities(path: str | os.PathLike) -> pd.DataFrame:
    """Notebook 05's out-of-fold predictions, one column per model, averaged over repeats.

    Parameters
    ----------
    path : path-like
        ``study.paths.oof_predictions`` (columns ``model, row, probability``, ...).

    Returns
    -------
    pandas.DataFrame
        Index ``row`` (sorted), one column per model.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "oof.parquet"
    >>> pd.DataFrame({"model": "m", "row": [1, 0, 1, 0],
    ...               "probability": [0.6, 0.2, 0.8, 0.4]}).to_parquet(f)
    >>> read_oof_probabilities(f)["m"].round(2).tolist()
    [0.3, 0.7]
    """
    oof = pd.read_parquet(path)
    missing = {"model", "row", "probability"} - set(oof.columns)
    if missing:
        raise AnalysisError(f"{path}: lacks column(s) {sorted(missing)} of out-of-fold predictions")
    return oof.groupby(["model", "row"])["probability"].mean().unstack("model").sort_index()


@dataclass(frozen=True)
class FinalModel:
    """The final model and how it was obtained (see :func:`finalize_model`).

    Attributes
    ----------
    name, label : str
        The selected model.
    estimator : fitted classifier
        Refitted on all patients; a :class:`~analysis.models.recalibration.RecalibratedClassifier`
        when ``recalibrated``.
    cv_slope : float
        Cross-validated calibration slope from the comparison table.
    slope_range : tuple of float
        The selection rule's acceptable slopes.
    recalibrated : bool
    estimated_on : str
        Where the recalibration was estimated (``model.json``'s
        ``recalibration.estimated_on``): :data:`OWN_BOOTSTRAP` or :data:`OUT_OF_FOLD`;
        empty when not recalibrated.
    """

    name: str
    label: str
    estimator: Any
    cv_slope: float
    slope_range: tuple[float, float]
    recalibrated: bool
    estimated_on: str = ""
    #: The slope lies outside the range but the model tunes its own shrinkage, so it is not
    #: recalibrated (:func:`tunes_own_shrinkage`).
    penalty_tuned: bool = False

    def as_frame(self) -> pd.DataFrame:
        """One tidy row: the model, its slope, the range and the recalibration (if any).

        Examples
        --------
        >>> FinalModel("m", "M", None, 1.0, (0.8, 1.2), False).as_frame()["recalibrated"].item()
        False
        """
        return pd.DataFrame([{
            "model": self.name,
            "cv_calibration_slope": self.cv_slope,
            "slope_low": self.slope_range[0],
            "slope_high": self.slope_range[1],
            "recalibrated": self.recalibrated,
            "recalibration_intercept": self.estimator.intercept if self.recalibrated else np.nan,
            "recalibration_slope": self.estimator.slope if self.recalibrated else np.nan,
            "recalibration_estimated_on": self.estimated_on,
        }])

    def describe(self) -> str:
        """One paragraph (Markdown) stating whether and how the model was recalibrated.

        Examples
        --------
        >>> FinalModel("m", "M", None, 1.0, (0.8, 1.2), False).describe()[-21:]
        '2]: no recalibration.'
        """
        low, high = self.slope_range
        if not self.recalibrated and self.penalty_tuned:
            return (f"The selected model's cross-validated calibration slope is {self.cv_slope:.2f}, "
                    f"outside [{low:g}, {high:g}], but it is not recalibrated: its penalty, tuned "
                    "by inner cross-validation, is already its shrinkage, and a second shrinkage "
                    "estimated on the same small sample is unstable. The ship gate judges its "
                    "nested cross-validated calibration slope.")
        if not self.recalibrated:
            return (f"The selected model's cross-validated calibration slope is {self.cv_slope:.2f}, "
                    f"within [{low:g}, {high:g}]: no recalibration.")
        return (f"The selected model's cross-validated calibration slope is {self.cv_slope:.2f}, "
                f"outside [{low:g}, {high:g}]: its probabilities are recalibrated, "
                f"logit(p') = {self.estimator.intercept:.3f} + {self.estimator.slope:.3f} × logit(p), "
                f"with the intercept and slope estimated on its {self.estimated_on or OUT_OF_FOLD} "
                "(the ranking, hence the AUC, is unchanged)."
                + (" The bootstrap validated the model with this recalibration step inside "
                   "every replicate, so the validation table describes the shipped model."
                   if self.estimated_on == OWN_BOOTSTRAP else
                   " The validation table describes the model before recalibration."))


#: ``FinalModel.estimated_on`` when the recalibration comes from the model's own bootstrap.
OWN_BOOTSTRAP = "own bootstrap (bootstrap_optimism with recalibrate=True)"
#: ``FinalModel.estimated_on`` of the older route: the fold models' out-of-fold predictions.
OUT_OF_FOLD = "out-of-fold predictions"


def model_to_finalize(comparison: pd.DataFrame, reference: str | None = None) -> tuple[str, bool]:
    """The model notebook 06 validates and saves, and whether it is kept for audit only.

    The selected row of the comparison table; when no row is selected (no candidate beat
    the intercept-only model), the ``reference`` model if the table has it, else the
    candidate with the lowest cross-validated log loss (else Brier score), flagged
    audit-only.

    Parameters
    ----------
    comparison : pandas.DataFrame
        Notebook 05's table (``model``, ``selected``; ``log_loss`` or ``brier``).
    reference : str, optional
        ``modelling.reference``.

    Returns
    -------
    (str, bool)
        The model's name and ``True`` when no model was selected.

    Raises
    ------
    AnalysisError
        If the table lacks the columns, selects more than one model, or has no candidate.

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["intercept_only", "logistic", "lasso"],
    ...                   "selected": [False, False, False], "log_loss": [0.69, 0.71, 0.70]})
    >>> model_to_finalize(t, "logistic"), model_to_finalize(t)
    (('logistic', True), ('lasso', True))
    >>> model_to_finalize(t.assign(selected=[False, False, True]), "logistic")
    ('lasso', False)
    """
    if not {"model", "selected"} <= set(comparison.columns):
        raise AnalysisError("comparison must have columns 'model' and 'selected'")
    chosen = comparison.loc[comparison["selected"].fillna(False).astype(bool), "model"]
    if len(chosen) > 1:
        raise AnalysisError(f"comparison: at most one model may be selected, found {len(chosen)}")
    if len(chosen) == 1:
        return str(chosen.item()), False
    models = comparison["model"].astype(str).tolist()
    if reference is not None and reference in models:
        return str(reference), True
    pool = comparison[comparison["model"] != "intercept_only"]
    for column in ("log_loss", "brier"):
        if column in pool.columns and pool[column].notna().any():
            return str(pool.loc[pool[column].astype(float).idxmin(), "model"]), True
    raise AnalysisError("comparison: no model was selected and no candidate can be kept for audit")


def tunes_own_shrinkage(spec: ModelSpec) -> bool:
    """Whether a model's shrinkage is a penalty it tunes by inner CV (lasso, elastic net, flexible).

    Such a model is not recalibrated by the selection rule: the bootstrap's recalibration of
    a re-tuned penalised model averages slopes of replicates that are nearly constant
    (a recalibration slope of 3.95 on a demo cohort), and the penalty already is the shrinkage.

    Examples
    --------
    >>> zoo = model_zoo({"x": {"type": "numeric"}}, ["x"], smoke=True)
    >>> [tunes_own_shrinkage(zoo[m]) for m in ("logistic", "lasso", "flexible_logistic", "svm")]
    [False, True, True, False]
    """
    if spec.complexity >= MEMORISING_COMPLEXITY:
        return False
    steps = getattr(spec.pipeline, "steps", None)
    final = steps[-1][1] if steps else spec.pipeline
    return bool(spec.tuned or isinstance(final, RidgeLogisticCV))


def needs_recalibration(comparison: pd.DataFrame, name: str, rule: SelectionRule,
                        spec: ModelSpec | None = None) -> bool:
    """Whether the selection rule asks for ``name`` to be recalibrated.

    True when its cross-validated calibration slope (comparison column
    ``calibration_slope``) lies outside ``rule.slope_range`` or is undefined, unless
    ``spec`` is given and tunes its own shrinkage (:func:`tunes_own_shrinkage`).

    Examples
    --------
    >>> t = pd.DataFrame({"model": ["m"], "calibration_slope": [1.6]})
    >>> needs_recalibration(t, "m", SelectionRule()), needs_recalibration(
    ...     t.assign(calibration_slope=1.0), "m", SelectionRule())
    (True, False)
    """
    if spec is not None and tunes_own_shrinkage(spec):
        return False
    return not rule.slope_ok(_cv_slope(comparison, name))


def _cv_slope(comparison: pd.DataFrame, name: str) -> float:
    if not {"model", "calibration_slope"} <= set(comparison.columns):
        raise AnalysisError("comparison must have columns 'model' and 'calibration_slope'")
    slopes = comparison.set_index("model")["calibration_slope"]
    if name not in slopes.index:
        raise AnalysisError(f"comparison: no row for the selected model {name!r}")
    return float(slopes.loc[name])


def finalize_model(
    spec: ModelSpec,
    X: pd.DataFrame,
    y,
    *,
    comparison: pd.DataFrame,
    oof_probability=None,
    rule: SelectionRule,
    seed: int = 0,
    inner_splits: int = 3,
    validation: pd.DataFrame | None = None,
) -> FinalModel:
    """Refit the selected model on all patients and recalibrate it if the rule says so.

    The model is tuned and refitted on all patients (:func:`~analysis.validation.resampling.fit_final`).
    When its cross-validated calibration slope (column ``calibration_slope`` of the
    comparison table) lies outside ``rule.slope_range`` - or is undefined - the selection
    rule allows it only after logistic recalibration (:func:`needs_recalibration`):

    * with the intercept and slope that its own bootstrap estimated for the final model
      (rows ``recalibration_intercept`` / ``recalibration_slope``, column ``apparent``, of
      ``validation`` = ``bootstrap_optimism(..., recalibrate=True)``), which also validated
      the fit-and-recalibrate procedure: the validation table then describes the shipped,
      recalibrated model;
    * otherwise (a validation table without those rows) on its out-of-fold probabilities
      (:func:`~analysis.models.recalibration.recalibrate`), the older route, whose
      recalibration the validation table does not cover.

    Parameters
    ----------
    spec : ModelSpec
        The selected model.
    X : pandas.DataFrame
        Predictors of all patients.
    y : array_like
        Binary outcomes 0/1.
    comparison : pandas.DataFrame
        Notebook 05's comparison table (columns ``model``, ``calibration_slope``).
    oof_probability : array_like, optional
        The selected model's out-of-fold probabilities, one per patient; needed only when
        recalibration is due and ``validation`` lacks the bootstrap's recalibration.
    rule : SelectionRule
        The rule notebook 05 applied (``study.settings(smoke).rule``).
    seed : int, default 0
    inner_splits : int, default 3
        Inner folds of the final tuning.
    validation : pandas.DataFrame, optional
        The model's bootstrap validation table (``model, metric, apparent, ...``).

    Returns
    -------
    FinalModel

    Raises
    ------
    AnalysisError
        If the comparison table lacks the model or its slope, or recalibration is due
        with neither the bootstrap's coefficients nor out-of-fold probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    >>> spec = model_zoo({"x": {"type": "numeric"}}, ["x"], smoke=True)["logistic"]
    >>> table = pd.DataFrame({"model": ["logistic"], "calibration_slope": [1.6]})
    >>> final = finalize_model(spec, X, y, comparison=table, oof_probability=np.full(80, 0.5)
    ...                        + 0.3 * np.tanh(X["x"]), rule=SelectionRule())
    >>> final.recalibrated, type(final.estimator).__name__, final.estimated_on
    (True, 'RecalibratedClassifier', 'out-of-fold predictions')
    >>> v = pd.DataFrame({"model": "logistic", "metric": ["recalibration_intercept",
    ...                   "recalibration_slope"], "apparent": [0.1, 0.8]})
    >>> final = finalize_model(spec, X, y, comparison=table, rule=SelectionRule(), validation=v)
    >>> final.estimator.intercept, final.estimator.slope, final.estimated_on[:13]
    (0.1, 0.8, 'own bootstrap')
    """
    cv_slope = _cv_slope(comparison, spec.name)
    outside = not rule.slope_ok(cv_slope)
    needs = outside and not tunes_own_shrinkage(spec)
    coefficients = (recalibration_from_table(validation, spec.name)
                    if needs and validation is not None else None)
    if needs and coefficients is None and oof_probability is None:
        raise AnalysisError(
            f"{spec.name}: the selection rule asks for recalibration (cross-validated slope "
            f"{cv_slope:.2f}), but the validation table has no recalibration_intercept/"
            "recalibration_slope rows (run bootstrap_optimism with recalibrate=True) and no "
            "out-of-fold probabilities were given")
    final = fit_final(spec, X, y, seed=seed, inner_splits=inner_splits)
    estimated_on = ""
    if coefficients is not None:
        final = RecalibratedClassifier(final, *coefficients).fit()
        estimated_on = OWN_BOOTSTRAP
    elif needs:
        final = recalibrate(final, oof_probability, y)
        estimated_on = OUT_OF_FOLD
    return FinalModel(spec.name, spec.label, final, cv_slope, tuple(rule.slope_range), needs,
                      estimated_on, penalty_tuned=outside and not needs)


def subgroup_table(y, prob, frame: pd.DataFrame, subgroups: Sequence[Subgroup]) -> pd.DataFrame:
    """Performance of predicted risks in the study's subgroups (study.yaml ``subgroups:``).

    The overall row first, then each subgroup in the declared order; a banded (numeric)
    subgroup is cut at its ``bands`` (:func:`analysis.evaluation.subgroups.subgroup_performance`).

    Examples
    --------
    >>> frame = pd.DataFrame({"sex": ["f", "f", "m", "m"], "age": [30, 50, 70, 35]})
    >>> t = subgroup_table([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.3], frame,
    ...                    [Subgroup("age", (40.0, 60.0)), Subgroup("sex")])
    >>> t["subgroup"].tolist()
    ['overall', 'age', 'age', 'age', 'sex', 'sex']
    """
    parts = [subgroup_performance(y, prob, frame, [])]
    for sub in subgroups:
        if sub.banded:
            part = subgroup_performance(y, prob, frame, [], age_column=sub.column,
                                        age_bands=sub.bands, overall=False)
        else:
            part = subgroup_performance(y, prob, frame, [sub.column], overall=False)
        if len(part):
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def sample_size_requirement(
    reference: ModelSpec,
    X: pd.DataFrame,
    y,
    comparison: pd.DataFrame,
    *,
    anticipated_c: float | None = None,
    sensitivity: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Riley et al. (2020) minimum sample size for a model like the reference model.

    The number of candidate parameters is that of the reference model refitted on all
    patients.  The anticipated C statistic is a literature value when one is given
    (study.yaml ``modelling.anticipated_c``), otherwise the reference model's nested
    cross-validated AUC (column ``auc`` of notebook 05's ``comparison`` table) - not its
    apparent or Harrell-corrected AUC, which is optimistic when an unpenalised model
    (nearly) separates the outcome.  The requirement is computed at C and at
    C +/- ``sensitivity`` (:func:`~analysis.validation.sample_size.riley_anticipated`); a
    scenario with C not above 0.5 has no defined requirement (NaN counts and a ``note``).

    Parameters
    ----------
    reference : ModelSpec
        The reference model (``settings.reference``).
    X : pandas.DataFrame
        The predictors of all patients.
    y : array-like of {0, 1}
        The outcome.
    comparison : pandas.DataFrame
        Notebook 05's comparison table (``tables/model_comparison.csv``): columns
        ``model`` and ``auc``, one row for the reference model.
    anticipated_c : float, optional
        A literature C statistic; takes precedence over the nested cross-validated AUC.
    sensitivity : float, default 0.05
        Half-width of the sensitivity range of C.
    seed : int, default 0

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SAMPLE_SIZE_COLUMNS`: ``scenario`` (``"C - 0.05"``,
        ``"anticipated"``, ``"C + 0.05"``) and, for each, the criteria of
        :func:`~analysis.validation.sample_size.riley_binary` (``criterion``,
        ``n_required``, ``events_required``, ``events_per_parameter``), with the C
        statistic, its source, the implied Cox-Snell R-squared and a note.  ``attrs``
        records ``parameters``, ``c_statistic``, ``c_source`` and ``sensitivity``.

    Raises
    ------
    AnalysisError
        When no C is given and ``comparison`` has no single finite AUC for the reference.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    >>> spec = model_zoo({"x": {"type": "numeric"}}, ["x"], smoke=True)["logistic"]
    >>> comparison = pd.DataFrame({"model": ["logistic"], "auc": [0.75]})
    >>> t = sample_size_requirement(spec, X, y, comparison)
    >>> t.attrs["parameters"], t.attrs["c_statistic"]
    (1, 0.75)
    >>> t.query("criterion == 'overall'")["c_statistic"].tolist()
    [0.7, 0.75, 0.8]
    """
    nested_cv_auc = None
    if anticipated_c is None:
        if not isinstance(comparison, pd.DataFrame) or not {"model", "auc"} <= set(comparison):
            raise AnalysisError("comparison must be notebook 05's table (columns 'model', 'auc')")
        rows = comparison[comparison["model"] == reference.name]
        if len(rows) != 1:
            raise AnalysisError(
                f"comparison: expected one row for the reference model {reference.name!r}, "
                f"found {len(rows)}"
            )
        nested_cv_auc = pd.to_numeric(rows["auc"], errors="coerce").item()
        if not np.isfinite(nested_cv_auc):
            raise AnalysisError(
                f"comparison: the reference model {reference.name!r} has no cross-validated "
                "AUC; give modelling.anticipated_c in study.yaml"
            )
    parameters = len(feature_names(fit_final(reference, X, y, seed=seed)))
    requirement = riley_anticipated(
        parameters,
        float(np.mean(y)),
        nested_cv_auc=nested_cv_auc,
        anticipated_c=anticipated_c,
        sensitivity=sensitivity,
    )
    attrs = dict(requirement.attrs)
    requirement = requirement[list(SAMPLE_SIZE_COLUMNS)]
    requirement.attrs.update(attrs, parameters=parameters)
    return requirement


def describe_sample_size(requirement: pd.DataFrame, n: int, events: int) -> str:
    """Plain-English account of :func:`sample_size_requirement`'s table.

    Says which C statistic was used and where it came from, whether the study is large
    enough at that C (:func:`~analysis.validation.sample_size.describe_adequacy`), and
    how the overall requirement moves over the sensitivity range.

    Parameters
    ----------
    requirement : pandas.DataFrame
        Output of :func:`sample_size_requirement`.
    n, events : int
        Patients and outcome events available.

    Returns
    -------
    str

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    >>> spec = model_zoo({"x": {"type": "numeric"}}, ["x"], smoke=True)["logistic"]
    >>> t = sample_size_requirement(spec, X, y, None, anticipated_c=0.8)
    >>> describe_sample_size(t, 80, int(y.sum()))[:63]
    '1 candidate parameter; anticipated C statistic 0.80 (literature'
    """
    needed = set(SAMPLE_SIZE_COLUMNS)
    if not isinstance(requirement, pd.DataFrame) or not needed <= set(requirement.columns):
        raise AnalysisError("requirement must be the output of sample_size_requirement")
    parameters = requirement.attrs.get("parameters")
    c_stat = requirement.attrs.get("c_statistic")
    source = requirement.attrs.get("c_source", "")
    overall = requirement[requirement["criterion"] == "overall"].set_index("scenario")
    plural = "" if parameters == 1 else "s"
    text = f"{parameters} candidate parameter{plural}; anticipated C statistic {c_stat:.2f} ({source}). "
    anticipated = requirement[requirement["scenario"] == "anticipated"]
    if anticipated["n_required"].isna().any():
        text += (
            f"At C = {c_stat:.2f} (no discrimination beyond chance) Riley's criteria are "
            "undefined: the implied Cox-Snell R-squared is zero, so no number of patients would "
            "be enough. "
        )
    else:
        text += describe_adequacy(int(n), int(events), anticipated.reset_index(drop=True)) + " "
    parts = []
    for scenario, row in overall.iterrows():
        if scenario == "anticipated":
            continue
        if pd.isna(row["n_required"]):
            parts.append(f"at C = {row['c_statistic']:.2f} it is undefined")
        else:
            parts.append(
                f"at C = {row['c_statistic']:.2f} it is {int(row['n_required'])} patients "
                f"({int(row['events_required'])} events)"
            )
    text += "Sensitivity of the overall requirement: " + "; ".join(parts) + "."
    return text
