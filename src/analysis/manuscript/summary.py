"""The manuscript's Summary: question, cohort, primary result with its CI, the gate's verdict.

Five sentences, each built from the run's tables (:mod:`analysis.manuscript.evidence`,
:func:`analysis.manuscript.flow.participant_flow`); study-supplied text is escaped.
"""

from __future__ import annotations

import json

import pandas as pd

from analysis.errors import AnalysisError
from analysis.formatting import escape_text, estimate_with_ci, percent, proportion_with_ci
from analysis.manuscript.evidence import (
    data_source,
    gate_verdict,
    model_result,
    primary_endpoint,
    visit_label,
)
from analysis.manuscript.flow import participant_flow
from analysis.manuscript.run_settings import executed_parameters, read_run_settings
from analysis.study.paths import StudyPaths

__all__ = ["CRITERIA", "summary_markdown"]

#: Readable names of the ship gate's criteria (``gate.csv`` ``criterion``).
CRITERIA = {
    "model_selected": "a model selected by the pre-specified rule",
    "beats_null_log_loss": "a lower log loss than the intercept-only model",
    "beats_null_brier": "a lower Brier score than the intercept-only model",
    "auc_ci_excludes_0.5": "an AUC whose 95% CI excludes 0.5",
    "calibration_slope_in_range": "a corrected calibration slope in {threshold}",
    "sample_size_adequate": "a cohort of at least Riley et al.'s minimum sample size ({threshold})",
}


def _criterion(row) -> str:
    text = CRITERIA.get(str(row["criterion"]), str(row["criterion"]).replace("_", " "))
    return text.format(threshold=escape_text(row.get("threshold", "")))


def _n_predictors(study, paths: StudyPaths) -> int:
    path = paths.model / "model.json"
    if path.is_file():
        try:
            return len(json.loads(path.read_text(encoding="utf-8"))["predictors"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return len(study.predictors)


def _question(study, paths, endpoint) -> str:
    title = escape_text(study.title)
    outcome = escape_text(study.label(study.outcome))
    k = _n_predictors(study, paths)
    if endpoint is not None:
        return (f"*{title}*: how often do patients achieve {escape_text(endpoint.label)}, and can "
                f"{outcome} be predicted from {k} candidate predictors?")
    return f"*{title}*: can {outcome} be predicted from {k} candidate predictors?"


def _cohort(study, paths) -> str:
    source = data_source(study)
    kind = "synthetic demonstration cohort" if source.demo else "study cohort"
    try:
        flow = participant_flow(study, paths)
    except AnalysisError:
        return f"The {kind}'s summary is not available (notebook 01 has not been run)."
    read = int(flow.loc[flow["step"] == "read", "n"].iloc[0])
    analysed = int(flow.loc[flow["step"] == "analysed", "n"].iloc[0])
    excluded = read - analysed
    result = model_result(paths)
    events = result.events if result is not None and result.events is not None else None
    sentence = f"The {kind} comprised {read} patients"
    if excluded:
        sentence += f", {excluded} of whom had no recorded outcome"
    sentence += f"; of the {analysed} analysed"
    if events is not None and analysed:
        sentence += (f", {events} ({percent(events / analysed)}) achieved "
                     f"{escape_text(study.label(study.outcome))}.")
    else:
        sentence += "."
    return sentence


def _endpoint_sentence(study, endpoint) -> str:
    return (f"At {visit_label(study, endpoint.visit)}, {escape_text(endpoint.label)} was achieved "
            f"by {proportion_with_ci(endpoint.events, endpoint.n, endpoint.ci_lower, endpoint.ci_upper)} "
            f"of all patients ({endpoint.imputation} imputation, "
            f"{escape_text(endpoint.method)}).")


#: cross-validated and bootstrap-corrected AUCs further apart than this are called disagreeing
DISAGREEMENT = 0.1


def _model_sentence(result) -> str:
    if result is None:
        return "No prediction model has been compared yet (notebook 05 has not been run)."
    role = "The selected model" if result.selected else (
        "No model beat the intercept-only benchmark; the reference model kept for audit")
    text = (f"{role}, {escape_text(result.label)}, had a cross-validated AUC of "
            f"{estimate_with_ci(result.auc, result.auc_ci_lower, result.auc_ci_upper)}")
    extra = []
    if result.corrected_auc is not None:
        if (result.auc_method or "").startswith("nested cross-validation"):
            extra.append(f"an internally validated AUC of {result.corrected_auc:.2f} (nested "
                         "cross-validation)")
        else:
            b = f" (B = {result.n_boot} bootstrap resamples)" if result.n_boot else ""
            extra.append(f"an optimism-corrected AUC of {result.corrected_auc:.2f}{b}")
    if result.corrected_slope is not None:
        extra.append(f"a corrected calibration slope of {result.corrected_slope:.2f}")
    sentence = text + (", " + " and ".join(extra) if extra else "") + "."
    if (result.corrected_auc is not None and result.auc is not None
            and abs(result.corrected_auc - result.auc) > DISAGREEMENT
            and not (result.auc_method or "").startswith("nested cross-validation")):
        sentence += (" The two AUC estimates disagree, as they can when a model is developed on "
                     "few patients; the cross-validated one, which repeats the whole fitting on "
                     "patients it did not see, is the one the ship gate judges.")
    return sentence


def _verdict_sentence(paths, result) -> str:
    try:
        verdict = gate_verdict(paths)
    except AnalysisError as exc:
        return (f"The ship gate's verdict could not be read ({escape_text(str(exc))}): the model "
                "is not fit for clinical use.")
    if verdict is None:
        return "No ship-gate verdict exists yet (notebook 06 has not been run)."
    table = verdict.as_frame()
    model = escape_text(verdict.model or "the model")
    if result is not None and verdict.model == result.model:
        model = escape_text(result.label)
    is_blocking = (table["blocking"].astype(bool) if "blocking" in table
                   else pd.Series(True, index=table.index))
    blocking = table[is_blocking]
    cautions = [_criterion(row) for _, row in table[~is_blocking].iterrows() if not row["passed"]]
    caution = (" Caution: the model lacks " + "; ".join(cautions) + ", so its calibration in new "
               "patients is uncertain." if cautions else "")
    if verdict.fit:
        return (f"Ship gate: **{model} is fit for clinical use**, meeting all {len(blocking)} "
                "pre-specified criteria, subject to external validation in the setting of use."
                + caution)
    if not len(table):
        return f"Ship gate: **no model is fit for clinical use** ({model} is kept for audit only)."
    failed = [_criterion(row) for _, row in blocking.iterrows() if not row["passed"]]
    return (f"Ship gate: **no model is fit for clinical use**; {model} is kept for audit only, "
            f"failing {len(failed)} of {len(blocking)} criteria (" + "; ".join(failed) + ")."
            + caution)


def summary_markdown(study, paths: StudyPaths | None = None) -> str:
    """The Summary (Markdown, one paragraph of five sentences) from the run's numbers.

    1. the question (study title, outcome, number of candidate predictors);
    2. the cohort (patients, analysed, events: ``cohort_summary.csv``, ``model_comparison.csv``);
    3. the primary result with its CI: for studies with ``endpoints`` the first endpoint at
       the primary visit (``response_by_visit.csv``, non-responder imputation, overall),
       otherwise the validated model's cross-validated AUC (``model_comparison.csv``);
    4. the validated model (for studies with endpoints) or its optimism-corrected
       performance (``validation.csv``);
    5. the ship gate's verdict (``gate.csv``, else ``model.json`` ``status``);

    and a warning when any notebook of the run ran in smoke mode.

    Parameters
    ----------
    study : Study
    paths : StudyPaths, optional
        Default ``study.paths``.

    Returns
    -------
    str

    Examples
    --------
    >>> # summary_markdown(load_study("cd-msc"))
    """
    paths = paths or study.paths
    endpoint = primary_endpoint(study, paths)
    result = model_result(paths)
    sentences = [_question(study, paths, endpoint), _cohort(study, paths)]
    if endpoint is not None:
        sentences += [_endpoint_sentence(study, endpoint), _model_sentence(result)]
    else:
        sentences.append(_model_sentence(result))
    sentences.append(_verdict_sentence(paths, result))
    if _smoke_notebooks(paths):
        sentences.append("*Some notebooks of this run ran in smoke mode (reduced resampling, "
                         "for tests only: " + ", ".join(_smoke_notebooks(paths))
                         + "): not for publication.*")
    return " ".join(sentences)


def _smoke_notebooks(paths: StudyPaths) -> list[str]:
    """Numbers of the notebooks run in smoke mode (parameters, else run-settings tables)."""
    found = {stem[:2] for stem, p in executed_parameters(paths).items() if p.get("smoke") is True}
    table = read_run_settings(paths)
    found |= {str(nb) for nb, setting, value in table.itertuples(index=False)
              if setting == "smoke" and value is True}
    return sorted(found)
