"""The TRIPOD+AI checklist (Collins et al., BMJ 2024;385:e078378) as the report's appendix.

Each of the 27 main items, with its sub-items, in the statement's numbering and a short
paraphrase of its recommendation.  An item the software evidences points at the
manuscript's section (``Summary``, ``Methods: <subsection>`` of
:data:`analysis.manuscript.methods.SECTIONS`) or at the labelled table or figure of the
executed notebooks that reports it (only those the run produced); the others (context,
ethics, funding, registration, patient and public involvement, interpretation, ...) are
left to the authors.
"""

from __future__ import annotations

import pandas as pd

from analysis.manuscript.evidence import label_available, labels_with_output
from analysis.study.paths import StudyPaths

__all__ = ["AUTHORS", "REPORTED", "TRIPOD_AI", "TRIPOD_COLUMNS", "tripod_checklist"]

REPORTED = "reported by the software"
AUTHORS = "authors to complete"
TRIPOD_COLUMNS = ("item", "section", "recommendation", "status", "where")

#: (item, section, recommendation, evidence): evidence lists manuscript sections
#: ("Summary", "Methods: ...", "Results: ...") and output labels ("tbl-...", "fig-..."); an
#: empty tuple means the authors must report the item.
TRIPOD_AI: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("1", "Title", "Identify the study as developing or evaluating a multivariable prediction "
     "model, the target population and the outcome to be predicted", ()),
    ("2", "Abstract", "Structured summary following the TRIPOD+AI for Abstracts checklist",
     ("Summary",)),
    ("3a", "Introduction: background", "Healthcare context (diagnostic or prognostic) and "
     "rationale for developing or evaluating the model, with reference to existing models", ()),
    ("3b", "Introduction: background", "Target population, intended purpose in the care "
     "pathway and intended users", ()),
    ("3c", "Introduction: background", "Known health inequalities between sociodemographic "
     "groups", ()),
    ("4", "Introduction: objectives", "Study objectives, including whether the study develops "
     "or evaluates the model (or both)", ()),
    ("5a", "Methods: data", "Sources of data for development and evaluation, rationale and "
     "representativeness", ("Methods: Data source",)),
    ("5b", "Methods: data", "Dates of the data: start and end of accrual and of follow-up", ()),
    ("6a", "Methods: participants", "Study setting, number and location of centres", ()),
    ("6b", "Methods: participants", "Eligibility criteria of the participants", ()),
    ("6c", "Methods: participants", "Treatments received and how they were handled in "
     "development or evaluation", ()),
    ("7", "Methods: data preparation", "Data pre-processing and quality checking, and whether "
     "it was similar across sociodemographic groups",
     ("Methods: Participants and data checks", "tbl-derivations")),
    ("8a", "Methods: outcome", "Definition of the outcome and time horizon, how and when "
     "assessed, rationale, consistency across groups",
     ("Methods: Outcome and derived variables", "tbl-derivations")),
    ("8b", "Methods: outcome", "Qualifications and demographics of outcome assessors where "
     "assessment is subjective", ()),
    ("8c", "Methods: outcome", "Actions to blind the assessment of the outcome", ()),
    ("9a", "Methods: predictors", "Choice of the initial predictors and any pre-selection "
     "before model building", ()),
    ("9b", "Methods: predictors", "Definition of all predictors, how and when measured",
     ("Methods: Predictors",)),
    ("9c", "Methods: predictors", "Qualifications and demographics of predictor assessors "
     "where measurement is subjective", ()),
    ("10", "Methods: sample size", "How the study size was arrived at and why it suffices, "
     "with any sample size calculation", ("Methods: Sample size", "tbl-sample-size")),
    ("11", "Methods: missing data", "How missing data were handled, and reasons for omitting "
     "any data", ("Methods: Missing data", "tbl-missingness")),
    ("12a", "Methods: analytical methods", "How the data were used for development and "
     "evaluation, including any partitioning", ("Methods: Internal validation",)),
    ("12b", "Methods: analytical methods", "How predictors were handled: functional form, "
     "rescaling, transformation, standardisation", ("Methods: Predictors", "tbl-flexible-terms")),
    ("12c", "Methods: analytical methods", "Type of model, rationale, all model-building steps "
     "including hyperparameter tuning, and the method of internal validation",
     ("Methods: Model development", "Methods: Internal validation", "Methods: Model selection")),
    ("12d", "Methods: analytical methods", "How heterogeneity in estimates and performance "
     "across clusters (hospitals, countries) was handled and quantified", ()),
    ("12e", "Methods: analytical methods", "All measures and plots of model performance (and "
     "their rationale), and how models were compared", ("Methods: Performance measures",)),
    ("12f", "Methods: analytical methods", "Any model updating (e.g. recalibration) arising "
     "from the evaluation", ("Methods: Model selection", "tbl-validation")),
    ("12g", "Methods: analytical methods", "For evaluation, how the model's predictions were "
     "calculated (formula, code, object, API)", ("Methods: Model output",)),
    ("13", "Methods: class imbalance", "If class imbalance methods were used, why and how, and "
     "any recalibration afterwards", ("Methods: Model development",)),
    ("14", "Methods: fairness", "Approaches used to address model fairness and their "
     "rationale", ("tbl-subgroups",)),
    ("15", "Methods: model output", "Output of the model (probabilities, classification); "
     "rationale for any classification and its thresholds",
     ("Methods: Model output", "Methods: Performance measures")),
    ("16", "Methods: training versus evaluation", "Differences between development and "
     "evaluation data in setting, eligibility, outcome and predictors",
     ("Methods: Internal validation",)),
    ("17", "Methods: ethical approval", "Ethics committee that approved the study and the "
     "participants' informed consent or its waiver", ()),
    ("18a", "Open science: funding", "Source of funding and role of the funders", ()),
    ("18b", "Open science: conflicts of interest", "Conflicts of interest and financial "
     "disclosures of all authors", ()),
    ("18c", "Open science: protocol", "Where the protocol can be accessed, or that none was "
     "prepared", ()),
    ("18d", "Open science: registration", "Registry and registration number, or that the "
     "study was not registered", ()),
    ("18e", "Open science: data sharing", "Availability of the study data", ()),
    ("18f", "Open science: code sharing", "Availability of the analytical code", ()),
    ("19", "Patient and public involvement", "Patient and public involvement in design, "
     "conduct, reporting, interpretation or dissemination, or that there was none", ()),
    ("20a", "Results: participants", "Flow of participants, with the numbers with and without "
     "the outcome and the follow-up", ("tbl-flow",)),
    ("20b", "Results: participants", "Characteristics overall and per data source or setting: "
     "key dates, predictors, treatments, sample size, events, follow-up, missing data",
     ("tbl-table1", "tbl-missingness")),
    ("20c", "Results: participants", "For evaluation, comparison with the development data of "
     "the distribution of important predictors", ()),
    ("21", "Results: model development", "Number of participants and outcome events in each "
     "analysis (development, tuning, evaluation)",
     ("tbl-flow", "tbl-model-comparison")),
    ("22", "Results: model specification", "Details of the full model (formula, code, object, "
     "API) allowing predictions in new individuals, and any restrictions to access",
     ("Methods: Model output", "fig-nomogram", "tbl-flexible-terms")),
    ("23a", "Results: model performance", "Performance estimates with confidence intervals, "
     "including key subgroups, with plots",
     ("tbl-model-comparison", "tbl-validation", "fig-calibration", "fig-decision-curve",
      "tbl-subgroups")),
    ("23b", "Results: model performance", "Heterogeneity of performance across clusters, if "
     "examined", ()),
    ("24", "Results: model updating", "Results of any model updating, the updated model and "
     "its performance", ("tbl-validation",)),
    ("25", "Discussion: interpretation", "Overall interpretation of the main results, "
     "including fairness, in the context of the objectives and previous studies", ()),
    ("26", "Discussion: limitations", "Limitations (non-representative sample, sample size, "
     "overfitting, missing data) and their effects on bias, uncertainty and generalisability",
     ()),
    ("27a", "Discussion: usability of the model", "How poor-quality or unavailable input data "
     "should be assessed and handled when the model is used", ("Methods: Model output",)),
    ("27b", "Discussion: usability of the model", "Whether users must interact with the input "
     "data or the model, and the expertise they need", ()),
    ("27c", "Discussion: usability of the model", "Next steps for future research, with a view "
     "to applicability and generalisability", ()),
)


def _available(where: str, paths: StudyPaths | None, endpoints: bool, shown) -> bool:
    if where.startswith(("tbl-", "fig-")):
        return paths is None or label_available(paths, where, shown)
    if where == "Methods: Endpoints over visits":
        return endpoints
    return True


def tripod_checklist(study, paths: StudyPaths | None = None) -> pd.DataFrame:
    """The TRIPOD+AI checklist of this run: what the software reports, and where.

    Parameters
    ----------
    study : Study or None
        The study (its ``paths``); ``None`` with ``paths=None`` lists every label the
        software can produce, as for a complete run.
    paths : StudyPaths, optional
        Default ``study.paths``; a table or figure counts only if the run produced it.

    Returns
    -------
    pandas.DataFrame
        ``item, section, recommendation, status, where``: one row per item and sub-item
        (1-27); ``status`` is :data:`REPORTED` (``where`` names the manuscript sections and
        labelled outputs) or :data:`AUTHORS` (``where`` empty).

    Examples
    --------
    >>> table = tripod_checklist(None)
    >>> table.loc[table["item"] == "11", ["status", "where"]].values.tolist()
    [['reported by the software', 'Methods: Missing data; tbl-missingness']]
    >>> table.loc[table["item"] == "17", "status"].item()
    'authors to complete'
    """
    if paths is None and study is not None:
        paths = study.paths
    endpoints = bool(getattr(study, "endpoints", None))
    shown = labels_with_output(paths) if paths is not None else None
    rows = []
    for item, section, recommendation, evidence in TRIPOD_AI:
        found = [w for w in evidence if _available(w, paths, endpoints, shown)]
        rows.append((item, section, recommendation, REPORTED if found else AUTHORS,
                     "; ".join(found)))
    return pd.DataFrame(rows, columns=list(TRIPOD_COLUMNS))
