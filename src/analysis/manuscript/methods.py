"""The manuscript's Methods, generated from the finished run so that it is always true.

Each number comes from what the run wrote, through :func:`analysis.manuscript.run_settings.run_facts`
(settings, seeds, versions, each with its source) and the run's tables; a setting the run
did not record is taken from study.yaml and listed as such at the end of the section.
The subsection headings (``### Missing data``, ...) are the anchors the TRIPOD+AI
checklist (:mod:`analysis.manuscript.tripod`) points to.  Study-supplied text is escaped.
"""

from __future__ import annotations

import json
import re

import pandas as pd

from analysis.errors import AnalysisError
from analysis.formatting import escape_text, is_number, percent
from analysis.manuscript.evidence import data_source, model_result, read_table, see, visit_label
from analysis.manuscript.flow import participant_flow, summary_counts
from analysis.manuscript.references import Citations
from analysis.manuscript.run_settings import SOFTWARE, Fact, executed_parameters, run_facts
from analysis.study.paths import StudyPaths
from analysis.study.settings import SelectionRule

__all__ = ["SECTIONS", "index_options", "methods_markdown"]

#: The subsections of the Methods, in order (the TRIPOD+AI checklist links to them).
SECTIONS = (
    "Data source", "Participants and data checks", "Outcome and derived variables",
    "Predictors", "Sample size", "Missing data", "Regression analysis", "Endpoints over visits",
    "Model development", "Internal validation", "Performance measures", "Model selection",
    "Ship gate", "Model output", "Reproducibility and software",
)
_SOFTWARE_NAMES = {"python": "Python", "analysis": "the project's `analysis` package",
                   "pandas": "pandas", "numpy": "NumPy", "scipy": "SciPy",
                   "statsmodels": "statsmodels", "scikit-learn": "scikit-learn",
                   "matplotlib": "matplotlib", "papermill": "Papermill", "skops": "skops"}
_GATE_TEXT = {
    "model_selected": "a model was selected by the pre-specified rule",
    "beats_null_log_loss": "its cross-validated log loss is below the intercept-only model's",
    "beats_null_brier": "its cross-validated Brier score is below the intercept-only model's",
    "auc_ci_excludes_0.5": "the 95% CI of its cross-validated AUC excludes 0.5",
    "calibration_slope_in_range": "its optimism-corrected calibration slope lies in {threshold}",
    "sample_size_adequate": "the cohort reaches Riley et al.'s minimum sample size ({threshold})",
}


def _value(facts: dict[str, Fact], key: str, default=None):
    fact = facts.get(key)
    return default if fact is None else fact.value


def _n(value) -> str:
    """A count or setting as text; several notebooks' differing values spelled out."""
    if isinstance(value, dict):
        return "; ".join(f"{escape_text(k)}: {_n(v)}" for k, v in sorted(value.items()))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_n(v) for v in value) + "]"
    return escape_text(value)


def index_options(derivations: pd.DataFrame, columns=()) -> list[str]:
    """The index variants and thresholds of the derivations (``fn: key=value``), once each.

    Options that only map an index's inputs to the study's columns (``seizure=seizure``)
    are left out.

    Examples
    --------
    >>> d = pd.DataFrame({"options": ["cdai_response: threshold=70", "",
    ...                               "doris: prednisolone_rule=le5; table: cva=cva",
    ...                               "cdai_response: threshold=70"]})
    >>> index_options(d, columns=["cva"])
    ['cdai_response: threshold=70', 'doris: prednisolone_rule=le5']
    """
    columns = set(columns)
    out: list[str] = []
    for text in derivations.get("options", pd.Series(dtype=str)).fillna("").astype(str):
        for segment in filter(None, (s.strip() for s in text.split(";"))):
            function, _, items = segment.partition(":")
            kept = [item.strip() for item in items.split(",")
                    if "=" in item and item.split("=", 1)[1].strip() not in columns
                    and item.split("=", 1)[0].strip() != item.split("=", 1)[1].strip()]
            if kept:
                entry = f"{function.strip()}: {', '.join(kept)}"
                if entry not in out:
                    out.append(entry)
    return out


def _data_source(study, paths) -> str:
    source = data_source(study)
    text = source.describe()
    if getattr(study, "description", ""):
        text += " Study design as declared in study.yaml: " + escape_text(" ".join(study.description.split()))
    return text


def _participants(study, paths, facts) -> str:
    summary = read_table(paths, "cohort_summary")
    if summary is None:
        return "Notebook 01 has not been run: no participant data were checked."
    counts = summary_counts(summary.astype(str), study.outcome)
    items = dict(zip(summary["item"].astype(str), summary["value"], strict=True))
    flow = participant_flow(study, paths)
    declared = items.get("declared variables")
    visits = ""
    if study.visits is not None:
        times = ", ".join(_n(t) for t in study.visits.times)
        visits = (f" A long table of repeated visits ({escape_text(study.visits.data)}; "
                  f"{escape_text(study.visits.time)} {times}) was checked the same way, one row "
                  "per patient and visit, every patient known and every time scheduled.")
    excluded = int(flow.loc[flow["step"] == "excluded", "n"].sum())
    excluded_text = ("No patient lacked the outcome" if excluded == 0 else
                     f"{excluded} patient{'s' if excluded > 1 else ''} without a recorded outcome "
                     "were excluded from the analyses of the outcome")
    return (f"The raw table held {counts['patients']} rows, one per patient. Every column was "
            f"checked against the study's codebook ({_n(declared)} declared variables: types, "
            "ranges, levels, unique patient ids and the coding of the outcome), all rules at "
            "once; a single violation stops the analysis with the list of all violations, so "
            f"no value is silently changed and no row is dropped by the checks.{visits} "
            f"{excluded_text}, leaving {counts['events'] + counts['non_events']} analysed "
            f"({counts['events']} events, {counts['non_events']} non-events)"
            f"{see(paths, 'tbl-flow')}.")


def _outcome(study, paths, cite) -> str:
    derivations = read_table(paths, "derivations")
    name, label = study.outcome, escape_text(study.label(study.outcome))
    rows = derivations[derivations["variable"] == name] if derivations is not None else None
    if rows is not None and len(rows):
        how = f"derived from the raw data as {escape_text(rows['expression'].iloc[0])}"
    else:
        how = "read from the raw table"
    text = f"The outcome was {label} ({escape_text(name)}), {how}."
    if study.secondary_outcomes:
        text += (" Secondary outcomes: "
                 + "; ".join(escape_text(study.label(s)) for s in study.secondary_outcomes) + ".")
    if derivations is not None and len(derivations):
        columns = list(study.variables)
        if study.visits is not None:
            columns += list(study.visits.variables)
        options = index_options(derivations, columns)
        text += (f" {len(derivations)} variables were derived by the expressions of study.yaml"
                 f"{see(paths, 'tbl-derivations')}, clinical indices computed by the project's "
                 "index functions from their components")
        text += (", with these variants and thresholds: " + "; ".join(escape_text(o) for o in options)
                 + "." if options else ".")
    return text


def _predictors(study, paths, facts, cite) -> str:
    meta_path = paths.model / "model.json"
    spec = {}
    if meta_path.is_file():
        try:
            spec = json.loads(meta_path.read_text(encoding="utf-8")).get("predictors") or {}
        except (OSError, ValueError):
            spec = {}
    names = list(spec) or list(study.predictors)

    def label(name):
        var = study.variables.get(name)
        text = (spec.get(name) or {}).get("label") or (var.label if var and var.label else name)
        unit = (spec.get(name) or {}).get("unit") or (var.unit if var else None)
        return escape_text(f"{text} ({unit})" if unit else text)

    text = (f"{len(names)} candidate predictors were pre-specified in study.yaml, with no "
            "selection on their association with the outcome before modelling: "
            + "; ".join(label(n) for n in names) + ".")
    logged = [label(n) for n in names if study.variables.get(n) is not None
              and study.variables[n].transform in ("log", "log1p", "sqrt")]
    text += (" Continuous predictors were kept continuous (never dichotomised) " + cite("harrell"))
    if logged:
        text += "; these entered on the log (or stated) scale declared in the codebook: " + "; ".join(logged)
    text += (". Categorical predictors were coded against their first codebook level. In the "
             "penalised flexible model, continuous predictors entered as restricted cubic splines"
             + see(paths, "tbl-flexible-terms"))
    interactions = _value(facts, "interactions") or []
    if interactions:
        text += (" with the pre-specified interactions "
                 + "; ".join(" × ".join(label(p) for p in pair) for pair in interactions))
    return text + "."


def _sample_size(study, paths, cite) -> str:
    table = read_table(paths, "sample_size")
    lead = (f"The minimum sample size for developing the model was computed by the criteria of "
            f"Riley et al. {cite('riley')} (shrinkage, optimism in R², precise overall risk) ")
    if table is None or not len(table):
        return lead + "once notebook 06 has run (no sample-size table yet)."
    rows = table[(table["scenario"] == "anticipated") & (table["criterion"] == "overall")]
    row = rows.iloc[0] if len(rows) else table.iloc[0]
    c_text = (f"an anticipated C statistic of {float(row['c_statistic']):.3f} "
              f"({escape_text(row['c_source'])})" if is_number(row.get("c_statistic")) else
              "the anticipated C statistic")
    text = lead + f"at {c_text}, and at C ± 0.05{see(paths, 'tbl-sample-size')}"
    if is_number(row.get("n_required")):
        text += (f": {int(row['n_required'])} patients ({int(row['events_required'])} events) "
                 "were required")
    elif isinstance(row.get("note"), str) and row["note"]:
        text += f": {escape_text(row['note'])}"
    return text + "."


def _missing_data(study, paths, facts, cite) -> str:
    summary = read_table(paths, "cohort_summary")
    complete = None
    if summary is not None:
        complete = summary_counts(summary.astype(str), study.outcome).get("complete_cases")
    m = _value(facts, "imputations")
    text = ""
    if complete is not None:
        patients = summary_counts(summary.astype(str), study.outcome)["patients"]
        text = (f"{complete} of {patients} patients ({percent(complete / patients)}) had "
                f"complete predictor and outcome data{see(paths, 'tbl-missingness')}. ")
    text += (f"In the regression analyses, missing values were multiply imputed by chained "
             f"equations {cite('van_buuren')} with m = {_n(m)} imputations (predictive mean "
             f"matching with {_n(_value(facts, 'mice_k_pmm'))} donors, "
             f"{_n(_value(facts, 'mice_burn_in'))} cycles per chain, imputation-model "
             f"parameters drawn from their posterior; statsmodels {cite('statsmodels')}), and the "
             f"estimates pooled by Rubin's rules {cite('rubin')} with Barnard-Rubin degrees of "
             "freedom; a complete-case analysis was the sensitivity analysis. Inside every "
             "prediction model, missing predictor values were imputed by the median (most "
             "frequent level) learned within each training set, so every resample repeated the "
             "imputation and a new patient is treated the same way.")
    return text


def _regression(study, paths, facts, cite) -> str:
    multi = read_table(paths, "regression_multivariable")
    methods = sorted({str(m) for m in multi["method"].dropna()}) if multi is not None and "method" in multi else []
    text = ("Each candidate predictor was related to the outcome by univariable logistic "
            "regression and all together by multivariable logistic regression (odds ratios "
            f"with 95% CIs){see(paths, 'tbl-univariable', 'tbl-multivariable', 'fig-forest')}, "
            "fitted by maximum "
            "likelihood or, where it fails (separation, a level with fewer than 5 events or "
            "non-events, fewer than 10 events per parameter), by Firth's penalised likelihood "
            f"{cite('firth', 'heinze')} with profile penalised-likelihood CIs")
    if methods:
        text += "; method used: " + "; ".join(escape_text(m) for m in methods)
    knots = _value(facts, "knots")
    text += (". Nonlinearity of each continuous predictor was tested by restricted cubic splines"
             + (f" with {_n(knots)} knots" if knots is not None else "")
             + f" at Harrell's quantiles {cite('harrell')} against a linear term by "
             f"likelihood-ratio tests{see(paths, 'tbl-nonlinearity')}.")
    return text


def _endpoints(study, paths, cite) -> str | None:
    endpoints = getattr(study, "endpoints", None) or {}
    table = read_table(paths, "response_by_visit")
    if not endpoints.get("outcomes") or table is None or not len(table):
        return None
    names = list(dict.fromkeys(table["outcome"].astype(str)))
    labels = []
    for name in names:
        var = study.visits.variables.get(name) if study.visits is not None else None
        labels.append(escape_text(var.label if var is not None and var.label else name.replace("_", " ")))
    methods = sorted(set(table["method"].astype(str)))
    key = "wilson" if any("Wilson" in m for m in methods) else "clopper_pearson"
    visits = sorted({float(v) for v in table["visit"]})
    text = (f"The endpoints ({'; '.join(labels)}) were reported at every visit "
            f"({', '.join(visit_label(study, v) for v in visits)}) as proportions with "
            f"{'; '.join(escape_text(m) for m in methods)} {cite(key)}, with non-responder "
            "imputation as the primary analysis (every enrolled patient in the denominator, a "
            "patient without an assessment counted as not responding) and observed cases as "
            f"the sensitivity analysis{see(paths, 'tbl-response-by-visit', 'fig-response-by-visit')}.")
    diffs = read_table(paths, "response_differences")
    if diffs is not None and len(diffs) and "method" in diffs:
        text += (" Differences between arms, against "
                 f"{escape_text(diffs['reference'].astype(str).iloc[0])}, are given with "
                 f"{'; '.join(escape_text(m) for m in sorted(set(diffs['method'].astype(str))))} "
                 f"{cite('newcombe')}{see(paths, 'tbl-response-differences')}.")
    return text


def _development(study, paths, facts, cite) -> str:
    comparison = read_table(paths, "model_comparison")
    if comparison is None or not len(comparison):
        return "No models were compared (notebook 05 has not been run)."
    excluded = set(_value(facts, "selection_exclude") or ["intercept_only"])
    labels = dict(zip(comparison["model"].astype(str), comparison["label"].astype(str), strict=True))
    candidates = [escape_text(labels[m]) for m in labels if m not in excluded]
    comparators = [escape_text(labels[m]) for m in labels if m in excluded and m != "intercept_only"]
    text = (f"{len(candidates)} candidate model families were compared: " + "; ".join(candidates)
            + ". An intercept-only model (the outcome prevalence) served as the benchmark every "
            "candidate had to beat")
    if comparators:
        text += "; published scores were comparators, not candidates: " + "; ".join(comparators)
    text += (f". Each model is a scikit-learn {cite('scikit-learn')} pipeline in which imputation, "
             "transformation, encoding and scaling are fitted on the training data only, so "
             "that resampling repeats every step and nothing leaks from held-out patients. "
             f"Hyperparameters were tuned in {_n(_value(facts, 'inner_splits'))} inner "
             f"cross-validation folds by log loss{see(paths, 'tbl-model-comparison')}. No resampling, "
             "re-weighting or synthetic oversampling was used for class imbalance")
    n, events = comparison["n"].iloc[0], comparison["events"].iloc[0]
    if is_number(n) and is_number(events) and float(n):
        text += f" (outcome prevalence {percent(float(events) / float(n))})"
    text += ", so predicted probabilities keep their calibration."
    if study.phenotype_predictor:
        k = study.phenotypes.get("k")
        classes = (f"{int(k)} classes (pre-specified)" if k else
                   "the number of classes with the lowest BIC, chosen once on the phenotype "
                   "variables without the outcome")
        text += (" The patient's phenotype (the most probable class of a latent class model of "
                 + "; ".join(escape_text(study.label(v)) for v in study.phenotypes["variables"])
                 + f", with {classes}) was offered to every model as a categorical candidate "
                 "predictor; the latent class model was refitted inside every cross-validation "
                 "fold and bootstrap resample.")
    return text


def _validation(study, paths, facts, cite) -> str:
    outer, repeats = _value(facts, "outer_splits"), _value(facts, "outer_repeats")
    text = (f"Performance was estimated by nested cross-validation: {_n(outer)} stratified outer "
            f"folds repeated {_n(repeats)} times, with {_n(_value(facts, 'inner_splits'))} inner "
            "folds for tuning; every metric was computed on out-of-fold predictions, averaged "
            f"over repeats, with 95% CIs from {_n(_value(facts, 'comparison_boot'))} bootstrap "
            f"resamples of patients and, for the AUC, DeLong's method {cite('delong')}. ")
    validation = read_table(paths, "validation")
    b = _value(facts, "bootstrap")
    text += (f"The selected model (or, when none was selected, the reference model, for audit) "
             f"was then validated with B = {_n(b)} bootstrap resamples, the whole pipeline "
             "refitted in each: Harrell's optimism correction " + cite("harrell")
             + " for regression-type learners, while for learners that can memorise their "
             "training data (forests, boosting, support vector machines, neural networks) "
             "Harrell's optimism is not valid and the nested cross-validation or the .632+ "
             f"bootstrap {cite('efron_632')} is reported instead")
    if validation is not None and "method" in validation:
        methods = list(dict.fromkeys(validation["method"].dropna().astype(str)))
        text += (" (method per metric: " + "; ".join(escape_text(m) for m in methods) + ")"
                 + see(paths, "tbl-validation"))
    text += ". The data were not split into development and test sets; no external data were used."
    if read_table(paths, "instability") is not None:
        text += (" The stability of the final model's predictions was examined with the bootstrap "
                 f"models {cite('riley_collins')}: each patient's predicted risk under every "
                 "bootstrap model against the final model's (mean absolute prediction error), and "
                 "the calibration slope of each bootstrap model on the development cohort"
                 + see(paths, "tbl-instability", "fig-instability") + ".")
    return text


def _measures(study, paths, facts, cite) -> str:
    text = ("Discrimination: the AUC. Overall accuracy: the Brier score, the scaled Brier score "
            "and the log loss. Calibration " + cite("van_calster") + ": calibration intercept "
            "(calibration-in-the-large) and slope, the integrated calibration index and E50/E90 "
            f"{cite('austin_ici')}, and a flexible calibration curve with a "
            f"{_n(_value(facts, 'calibration_boot'))}-resample bootstrap band"
            f"{see(paths, 'fig-calibration')}.")
    comparison = read_table(paths, "model_comparison")
    if comparison is not None and "threshold" in comparison and is_number(comparison["threshold"].iloc[0]):
        text += (f" Sensitivity, specificity and predictive values at a threshold of "
                 f"{float(comparison['threshold'].iloc[0]):.2f} "
                 + ("(the outcome prevalence)." if _value(facts, "threshold") is None else "(study.yaml)."))
    dca = read_table(paths, "decision_curve")
    if dca is not None and len(dca):
        lo, hi = float(dca["threshold"].min()), float(dca["threshold"].max())
        text += (f" Clinical utility: net benefit by decision curve analysis {cite('vickers')} at "
                 f"threshold probabilities {lo:.2f} to {hi:.2f}, against treating all and none"
                 + see(paths, "fig-decision-curve") + ".")
    subgroups = read_table(paths, "subgroups")
    if subgroups is not None and len(subgroups):
        names = [escape_text(study.label(s)) for s in dict.fromkeys(subgroups["subgroup"].astype(str))
                 if s != "overall"]
        if names:
            text += (" Discrimination and calibration-in-the-large were reported by subgroup ("
                     + "; ".join(names) + ")" + see(paths, "tbl-subgroups") + ".")
    return text


def _selection(facts) -> str:
    slope = _value(facts, "selection_slope_range") or [0.8, 1.2]
    exclude = _value(facts, "selection_exclude") or ["intercept_only"]
    try:
        rule = SelectionRule(score=_value(facts, "selection_score") or "log_loss",
                             n_se=float(_value(facts, "selection_n_se") or 1.0),
                             slope_range=tuple(float(v) for v in slope),
                             exclude=tuple(str(v) for v in exclude))
    except (AnalysisError, TypeError, ValueError):
        return "The selection rule of this run could not be read."
    return escape_text(rule.describe())


def _gate(paths) -> str:
    table = read_table(paths, "gate")
    lead = ("Before a model is offered as a prediction tool, a ship gate fixed in advance must "
            "pass; otherwise the model is saved for audit only, marked not for clinical use, and "
            "the prediction tool refuses it. ")
    if table is None or not len(table):
        return lead + "(No gate table yet: notebook 06 has not been run.)"
    criteria = [
        _GATE_TEXT.get(str(r["criterion"]), escape_text(str(r["criterion"]))).format(
            threshold=escape_text(str(r["threshold"])))
        + ("" if str(r.get("blocking", True)).strip().lower() in ("true", "1", "1.0")
           else " (by the study's choice, a caution stated with the verdict, not a condition "
                "of it)")
        for _, r in table.iterrows()]
    return lead + "Its criteria: " + "; ".join(f"({i}) {c}" for i, c in enumerate(criteria, 1)) + "."


def _output(study, paths) -> str:
    result = model_result(paths)
    what = escape_text(study.label(study.outcome))
    text = (f"The model outputs the predicted probability of {what}. ")
    if result is not None and result.n is not None:
        text += f"The final pipeline was refitted on all {result.n} patients "
    else:
        text += "The final pipeline was refitted on all patients "
    text += ("and saved in a safe format (skops) with its metadata (`model.json`: predictors, "
             "ranges, ship-gate status) and a model card; regression-type models are also given "
             f"as an equation and a nomogram{see(paths, 'fig-nomogram')}. The prediction tool "
             "(`analysis predict` and the web calculator) computes predictions with this saved "
             "pipeline, imputes a missing value as the pipeline learned to, and warns when a "
             "value lies outside the 1st-99th percentile range of the development data.")
    return text


def _mode(paths, facts) -> str:
    """Full or smoke mode, per executed notebook when they disagree."""
    params = executed_parameters(paths)
    modes = {stem[:2]: p["smoke"] for stem, p in params.items() if isinstance(p.get("smoke"), bool)}
    smoke = _value(facts, "smoke")
    if isinstance(smoke, dict):  # the run-settings tables disagree
        modes.update({k: v for k, v in smoke.items() if isinstance(v, bool)})
    elif isinstance(smoke, bool) and not modes:
        modes = {"all": smoke}
    values = set(modes.values())
    if values == {False}:
        return "full mode"
    if values == {True}:
        return "**smoke mode** (reduced resampling for tests; not for publication)"
    if not values:
        return "mode not recorded"
    smoke_nb = ", ".join(sorted(k for k, v in modes.items() if v))
    full_nb = ", ".join(sorted(k for k, v in modes.items() if not v))
    return (f"**mixed modes**: notebooks {smoke_nb} in smoke mode (reduced resampling, for "
            f"tests only) and {full_nb} in full mode; re-run the study before publication")


def _reproducibility(paths, facts, cite) -> str:
    mode = _mode(paths, facts)
    text = "Every analysis ran from study.yaml through notebooks executed by Papermill"
    date = _value(facts, "run_date")
    if date:
        text += f" (last finished {escape_text(date)})"
    seed = facts.get("seed")
    if seed is not None:
        text += f" with random seed {_n(seed.value)} (source: {escape_text(seed.source)})"
    text += f", in {mode}; the same inputs give the same numbers. Software: "
    parts = []
    for name in SOFTWARE:
        fact = facts.get(f"version:{name}")
        label = _SOFTWARE_NAMES[name]
        version = escape_text(fact.value) if fact is not None else "version not recorded"
        ref = "" if name == "analysis" else " " + cite(name)
        parts.append(f"{label} {version}{ref}")
    text += "; ".join(parts) + "."
    text += (f" The report follows the TRIPOD+AI statement {cite('tripod_ai')} (checklist in the "
             "appendix).")
    missing = sorted(k for k, f in facts.items() if not f.recorded)
    if missing:
        text += ("\n\n*Not recorded by this run* (taken from study.yaml and the package "
                 "defaults; re-running notebooks 04-06 records them in "
                 "`tables/run_settings_<NN>.csv`): " + ", ".join(escape_text(k) for k in missing) + ".")
    return text


def methods_markdown(study, paths: StudyPaths | None = None, *, references: bool = True,
                     heading_level: int = 3) -> str:
    """The Methods (Markdown) of the finished run: data, checks, outcome, analysis, software.

    Parameters
    ----------
    study : Study
    paths : StudyPaths, optional
        Default ``study.paths``.
    references : bool, default True
        End with the numbered list of the references cited.
    heading_level : int, default 3
        Markdown level of the subsection headings (:data:`SECTIONS`).

    Returns
    -------
    str
        Subsections in the order of :data:`SECTIONS` (``Endpoints over visits`` only for
        studies with endpoints); cross-references such as ``@tbl-validation`` name the
        labelled outputs of the executed notebooks.

    Examples
    --------
    >>> # print(methods_markdown(load_study("ibd-biologics")))
    """
    paths = paths or study.paths
    facts = run_facts(study, paths)
    refs = Citations()
    cite = refs.cite
    hashes = "#" * heading_level
    parts = {
        "Data source": _data_source(study, paths),
        "Participants and data checks": _participants(study, paths, facts),
        "Outcome and derived variables": _outcome(study, paths, cite),
        "Predictors": _predictors(study, paths, facts, cite),
        "Sample size": _sample_size(study, paths, cite),
        "Missing data": _missing_data(study, paths, facts, cite),
        "Regression analysis": _regression(study, paths, facts, cite),
        "Endpoints over visits": _endpoints(study, paths, cite),
        "Model development": _development(study, paths, facts, cite),
        "Internal validation": _validation(study, paths, facts, cite),
        "Performance measures": _measures(study, paths, facts, cite),
        "Model selection": _selection(facts),
        "Ship gate": _gate(paths),
        "Model output": _output(study, paths),
        "Reproducibility and software": _reproducibility(paths, facts, cite),
    }
    blocks = [f"{hashes} {title}\n\n{text}" for title, text in parts.items() if text]
    if references:
        blocks.append(f"{hashes} References\n\n{refs.markdown()}")
    return re.sub(r"[ \t]+\n", "\n", "\n\n".join(blocks)) + "\n"
