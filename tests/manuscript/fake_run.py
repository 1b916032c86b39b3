"""A finished run in miniature: study.yaml, the tables notebooks 01-06 write, the run settings."""

from __future__ import annotations

import json

import pandas as pd
from conftest import make_study

from analysis.manuscript.run_settings import record_run_settings
from analysis.study.config import load_study
from analysis.study.settings import ModellingSettings

SPEC = {
    "title": "Tiny <b>cohort</b>",
    "description": "A made-up *study*.",
    "id": "pid",
    "outcome": "resp_w12",
    "predictors": ["age", "crp"],
    "seed": 4242,
    "variables": {
        "pid": {"type": "id"},
        "age": {"type": "numeric", "label": "Age", "unit": "years"},
        "crp": {"type": "numeric", "label": "CRP", "unit": "mg/L", "transform": "log"},
        "resp_w12": {"type": "binary", "label": "Response at week 12"},
    },
}
VISITS = {"data": "raw/visits.csv", "time": "week", "times": [0, 4, 12],
          "variables": {"resp": {"type": "binary", "label": "Clinical response"}}}


def write(paths, name, frame):
    paths.tables.mkdir(parents=True, exist_ok=True)
    frame.to_csv(paths.table(name), index=False)


def cohort_summary(patients=50, events=20, non_events=27, missing=3, complete=41):
    return pd.DataFrame({"item": [
        "patients", "declared variables", "derived variables", "candidate predictors",
        "outcome 'resp_w12' events", "outcome 'resp_w12' non-events", "outcome 'resp_w12' missing",
        "complete cases (predictors and outcome)"],
        "value": [patients, 4, 0, 2, events, non_events, missing, complete]})


def gate_table(passed=True):
    names = ["model_selected", "beats_null_log_loss", "beats_null_brier", "auc_ci_excludes_0.5",
             "calibration_slope_in_range"]
    return pd.DataFrame({
        "criterion": names, "model": "logistic", "value": [1, 0.55, 0.19, 0.781, 0.93],
        "threshold": ["one model selected", "< 0.6800 (intercept_only)", "< 0.2400 (intercept_only)",
                      "CI excludes 0.5", "[0.7, 1.3]"],
        "passed": [True, True, True, True, passed],
        "note": ["Selected model: logistic.", "ok", "ok", "ok",
                 "The corrected calibration slope of logistic is 0.93." if passed else
                 "The corrected calibration slope of logistic is 0.41, outside [0.7, 1.3]."]})


def build_run(root, *, name="tiny", endpoints=False, bootstrap=120, imputations=7,
              outer=4, repeats=3, inner=2, seed=4242, smoke=False, gate_passed=True):
    spec = dict(SPEC, seed=seed)
    if endpoints:
        spec = dict(spec, visits=VISITS, endpoints={"outcomes": ["resp"]})
    make_study(root, name, spec)
    study = load_study(name, root=root)
    paths = study.paths
    write(paths, "cohort_summary", cohort_summary())
    write(paths, "derivations", pd.DataFrame(columns=["variable", "label", "expression",
                                                      "functions", "options"]))
    write(paths, "model_comparison", pd.DataFrame({
        "model": ["intercept_only", "logistic", "random_forest"],
        "label": ["Intercept only (prevalence)", "Logistic regression (unpenalised)", "Random forest"],
        "auc": [0.5, 0.781, 0.70], "auc_ci_lower": [None, 0.712, 0.6],
        "auc_ci_upper": [None, 0.853, 0.8], "selected": [False, True, False],
        "log_loss": [0.68, 0.55, 0.6], "brier": [0.24, 0.19, 0.2], "threshold": 0.43,
        "n": 47, "events": 20, "n_repeats": repeats, "selection_note": ["b", "selected", "c"]}))
    write(paths, "validation", pd.DataFrame({
        "model": "logistic", "metric": ["auc", "calibration_slope"], "apparent": [0.8, 1.0],
        "optimism": [0.02, 0.07], "corrected": [0.764, 0.93], "n_boot": bootstrap,
        "method": "Harrell optimism"}))
    write(paths, "gate", gate_table(gate_passed))
    write(paths, "decision_curve", pd.DataFrame({"model": "logistic", "threshold": [0.05, 0.5, 0.95],
                                                 "net_benefit": [0.4, 0.1, 0.0]}))
    write(paths, "sample_size", pd.DataFrame({
        "scenario": ["anticipated"], "criterion": ["overall"], "n_required": [310],
        "events_required": [132], "events_per_parameter": [10.0], "c_statistic": [0.781],
        "c_source": ["nested cross-validated AUC of the reference model"], "r2_cs": [0.2],
        "note": [""]}))
    if endpoints:
        write(paths, "response_by_visit", pd.DataFrame({
            "visit": [4, 12, 12], "arm": "Overall", "outcome": "resp", "n": [50, 50, 48],
            "events": [11, 23, 23], "proportion": [0.22, 0.46, 23 / 48],
            "ci_lower": [0.115, 0.318, 0.33], "ci_upper": [0.36, 0.607, 0.63],
            "method": "Clopper-Pearson exact 95% CI",
            "imputation": ["non-responder", "non-responder", "observed"]}))
    settings = ModellingSettings.from_mapping(
        {"outer_splits": outer, "outer_repeats": repeats, "inner_splits": inner,
         "bootstrap": bootstrap, "imputations": imputations})
    record_run_settings(study, "04", seed=seed, smoke=smoke, imputations=imputations, knots=4)
    record_run_settings(study, "05", settings, seed=seed, smoke=smoke,
                        models=["intercept_only", "logistic", "random_forest"])
    record_run_settings(study, "06", settings, seed=seed, smoke=smoke, bootstrap=bootstrap)
    (paths.model).mkdir(parents=True, exist_ok=True)
    (paths.model / "model.json").write_text(json.dumps({
        "status": "fit-for-clinical-use", "model_name": "logistic",
        "predictors": {"age": {"label": "Age"}, "crp": {"label": "CRP"}}}))
    return study
