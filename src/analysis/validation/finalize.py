"""From the selected model to the final one: the decisions notebook 06 reports.

Notebook 05 compares the candidate models and selects one (:mod:`analysis.validation.selection`);
notebook 06 validates it and saves the final model.  The policy between the two lives here,
so the notebooks only narrate it:

* :func:`study_models` builds the candidate models from a study and its settings, the same
  way in both notebooks;
* :func:`read_oof_probabilities` reads notebook 05's out-of-fold predictions;
* :func:`finalize_model` refits the selected model on all patients and recalibrates it when
  its cross-validated calibration slope is outside the selection rule's range;
* :func:`subgroup_table` reports performance in the subgroups declared in study.yaml;
* :func:`sample_size_requirement` applies Riley et al.'s criteria with the anticipated C
  statistic kept in a plausible range.
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
from analysis.models.preprocessing import feature_names
from analysis.models.recalibration import recalibrate
from analysis.models.zoo import ModelSpec, model_zoo
from analysis.study.settings import ModellingSettings, SelectionRule, Subgroup
from analysis.validation.resampling import fit_final
from analysis.validation.sample_size import riley_binary

__all__ = [
    "C_STATISTIC_RANGE",
    "FinalModel",
    "finalize_model",
    "read_oof_probabilities",
    "sample_size_requirement",
    "study_models",
    "subgroup_table",
]

#: The anticipated C statistic of Riley's criteria is kept in this range: an
#: optimism-corrected AUC near 0.5 or 1 would make the required sample size explode or vanish.
C_STATISTIC_RANGE = (0.55, 0.95)


def study_models(study: Any, settings: ModellingSettings, *, seed: int) -> dict[str, ModelSpec]:
    """The candidate models of a study: the zoo (``modelling.models``) plus its clinical scores.

    Parameters
    ----------
    study : analysis.study.config.Study
    settings : ModellingSettings
        ``study.settings(smoke)``; smoke mode gives the small grids.
    seed : int

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
    return model_zoo(study.codebook(predictors), predictors, smoke=settings.smoke, seed=seed,
                     include=settings.models, extra=list(settings.clinical_scores) or None)


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
    """

    name: str
    label: str
    estimator: Any
    cv_slope: float
    slope_range: tuple[float, float]
    recalibrated: bool

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
        }])

    def describe(self) -> str:
        """One paragraph (Markdown) stating whether and how the model was recalibrated.

        Examples
        --------
        >>> FinalModel("m", "M", None, 1.0, (0.8, 1.2), False).describe()[-21:]
        '2]: no recalibration.'
        """
        low, high = self.slope_range
        if not self.recalibrated:
            return (f"The selected model's cross-validated calibration slope is {self.cv_slope:.2f}, "
                    f"within [{low:g}, {high:g}]: no recalibration.")
        return (f"The selected model's cross-validated calibration slope is {self.cv_slope:.2f}, "
                f"outside [{low:g}, {high:g}]: its probabilities are recalibrated, "
                f"logit(p') = {self.estimator.intercept:.3f} + {self.estimator.slope:.3f} × logit(p), "
                "with the intercept and slope estimated on its out-of-fold predictions (the "
                "ranking, hence the AUC, is unchanged).")


def finalize_model(
    spec: ModelSpec,
    X: pd.DataFrame,
    y,
    *,
    comparison: pd.DataFrame,
    oof_probability,
    rule: SelectionRule,
    seed: int = 0,
    inner_splits: int = 3,
) -> FinalModel:
    """Refit the selected model on all patients and recalibrate it if the rule says so.

    The model is tuned and refitted on all patients (:func:`~analysis.validation.resampling.fit_final`).
    When its cross-validated calibration slope (column ``calibration_slope`` of the
    comparison table) lies outside ``rule.slope_range`` - or is undefined - the selection
    rule allows it only after logistic recalibration, estimated on its *out-of-fold*
    probabilities (honest: not on the training fit; :func:`~analysis.models.recalibration.recalibrate`).

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
    oof_probability : array_like
        The selected model's out-of-fold probabilities, one per patient.
    rule : SelectionRule
        The rule notebook 05 applied (``study.settings(smoke).rule``).
    seed : int, default 0
    inner_splits : int, default 3
        Inner folds of the final tuning.

    Returns
    -------
    FinalModel

    Raises
    ------
    AnalysisError
        If the comparison table lacks the model or its slope.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    >>> spec = model_zoo({"x": {"type": "numeric"}}, ["x"], smoke=True)["logistic"]
    >>> table = pd.DataFrame({"model": ["logistic"], "calibration_slope": [1.6]})
    >>> final = finalize_model(spec, X, y, comparison=table, oof_probability=np.full(80, 0.5)
    ...                        + 0.3 * np.tanh(X["x"]), rule=SelectionRule())
    >>> final.recalibrated, type(final.estimator).__name__
    (True, 'RecalibratedClassifier')
    """
    if not {"model", "calibration_slope"} <= set(comparison.columns):
        raise AnalysisError("comparison must have columns 'model' and 'calibration_slope'")
    slopes = comparison.set_index("model")["calibration_slope"]
    if spec.name not in slopes.index:
        raise AnalysisError(f"comparison: no row for the selected model {spec.name!r}")
    cv_slope = float(slopes.loc[spec.name])
    final = fit_final(spec, X, y, seed=seed, inner_splits=inner_splits)
    needs = not rule.slope_ok(cv_slope)
    if needs:
        final = recalibrate(final, oof_probability, y)
    return FinalModel(spec.name, spec.label, final, cv_slope, tuple(rule.slope_range), needs)


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
    reference: ModelSpec, X: pd.DataFrame, y, validation: pd.DataFrame, *, seed: int = 0
) -> pd.DataFrame:
    """Riley et al. (2020) minimum sample size for a model like the reference model.

    The number of candidate parameters is that of the reference model refitted on all
    patients; the anticipated C statistic is its optimism-corrected AUC (row ``auc`` of
    ``validation``, column ``corrected``), kept within :data:`C_STATISTIC_RANGE`.

    Returns
    -------
    pandas.DataFrame
        :func:`~analysis.validation.sample_size.riley_binary`'s table; ``attrs`` also
        records ``parameters`` and ``c_statistic``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=80)})
    >>> y = (X["x"] + rng.normal(size=80) > 0).astype(int).to_numpy()
    >>> spec = model_zoo({"x": {"type": "numeric"}}, ["x"], smoke=True)["logistic"]
    >>> v = pd.DataFrame({"model": ["logistic"], "metric": ["auc"], "corrected": [0.99]})
    >>> t = sample_size_requirement(spec, X, y, v)
    >>> t.attrs["parameters"], t.attrs["c_statistic"]
    (1, 0.95)
    """
    rows = validation[(validation["model"] == reference.name) & (validation["metric"] == "auc")]
    if len(rows) != 1:
        raise AnalysisError(f"validation: expected one 'auc' row for model {reference.name!r}")
    low, high = C_STATISTIC_RANGE
    c_stat = float(np.clip(rows["corrected"].item(), low, high))
    parameters = len(feature_names(fit_final(reference, X, y, seed=seed)))
    requirement = riley_binary(parameters, float(np.mean(y)), c_statistic=c_stat)
    requirement.attrs.update(parameters=parameters, c_statistic=c_stat)
    return requirement
