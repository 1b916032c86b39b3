"""The end-to-end recomputation helper (tests/pipeline_checks.py) on a small synthetic study.

The tables are produced by the package exactly as the notebooks do (same functions, same
CSV writer), so each check is exercised without the slow `make all`; each check must also
fail when one number of its table is planted wrong.
"""

from __future__ import annotations

import io
import json
import warnings

import numpy as np
import pandas as pd
import pipeline_checks as pc
import pytest
from conftest import make_study
from scipy.special import expit

from analysis.describe.correlation import correlation_table
from analysis.describe.table1 import table1
from analysis.evaluation.decision import decision_curve
from analysis.models.zoo import model_zoo
from analysis.pipeline.export import save_table, table_to_csv
from analysis.regression.tables import multivariable_logistic
from analysis.validation.comparison import compare_models
from analysis.validation.gate import ship_gate
from analysis.validation.resampling import nested_cv

CODEBOOK = {
    "age": {"type": "numeric"},
    "crp": {"type": "numeric", "transform": "log"},
    "flag": {"type": "binary"},
    "arm": {"type": "categorical", "levels": ["a", "b", "c"]},
    "y": {"type": "binary"},
}
PREDICTORS = ["age", "crp", "flag", "arm"]


def roundtrip(table: pd.DataFrame) -> pd.DataFrame:
    """A table as the pipeline writes it and the end-to-end test reads it back."""
    return pd.read_csv(io.StringIO(table_to_csv(table)), keep_default_na=False, na_values=[""])


@pytest.fixture(scope="module")
def run():
    rng = np.random.default_rng(11)
    n = 160
    cohort = pd.DataFrame({
        "age": rng.normal(50, 12, n).round(1),
        "crp": rng.lognormal(1.5, 0.8, n).round(2),
        "flag": rng.binomial(1, 0.4, n).astype(float),
        "arm": rng.choice(["a", "b", "c"], n),
    })
    lp = -0.5 + 0.05 * (cohort["age"] - 50) + 0.6 * np.log(cohort["crp"]) - 0.8 + 0.7 * cohort["flag"]
    cohort["y"] = rng.binomial(1, expit(lp)).astype(float)
    cohort.loc[rng.choice(n, 8, replace=False), "age"] = np.nan
    cohort.loc[rng.choice(n, 5, replace=False), "arm"] = None
    cohort.loc[rng.choice(n, 6, replace=False), "y"] = np.nan
    data = cohort[cohort["y"].notna()].reset_index(drop=True)
    y = data["y"].astype(int).to_numpy()
    zoo = model_zoo(CODEBOOK, PREDICTORS, smoke=True, include=["intercept_only", "logistic", "lasso"])
    result = nested_cv(zoo, data[PREDICTORS], y, outer_splits=3, outer_repeats=2, inner_splits=3, seed=5,
                       n_jobs=1, progress=False)
    wide = pc.oof_mean(result.predictions)
    repeats = pc.repeat_matrix(result.predictions, y.size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tables = {
            "model_comparison": compare_models(result, y, n_boot=0),
            "decision_curve": decision_curve(y, {m: wide[m].to_numpy() for m in ("logistic", "lasso")},
                                             thresholds=np.round(np.arange(0.05, 0.96, 0.01), 2)),
            "table1": table1(cohort, CODEBOOK, columns=["age", "crp", "flag", "y"], group="arm"),
            "regression_multivariable_complete_case": multivariable_logistic(
                data, PREDICTORS, "y", CODEBOOK, missing="complete"),
            "correlation": correlation_table(cohort, ["age", "crp"]),
            "firth": multivariable_logistic(data, PREDICTORS, "y", CODEBOOK, missing="complete", penalty="firth"),
        }
        # the shipped model's corrected calibration slope, as notebook 06's validation table has it
        comparison = tables["model_comparison"]
        chosen = comparison.loc[comparison["selected"], "model"].item()
        tables["validation"] = pd.DataFrame({"model": chosen, "metric": ["auc", "calibration_slope"],
                                             "apparent": [0.8, 1.0], "optimism": [0.05, 0.12],
                                             "corrected": [0.75, 0.88]})
        verdict = ship_gate(comparison, tables["validation"], model=chosen)
        tables["gate"] = verdict.as_frame()
    return {"cohort": cohort, "data": data, "y": y, "wide": wide, "repeats": repeats,
            "predictions": result.predictions, "status": verdict.status,
            "tables": {k: roundtrip(v) for k, v in tables.items()}}


def planted(table: pd.DataFrame, mask, column: str, change) -> pd.DataFrame:
    bad = table.copy()
    idx = bad.index[mask][0]
    bad.loc[idx, column] = change(bad.loc[idx, column])
    return bad


def test_oof_mean_averages_repeats_per_patient():
    long = pd.DataFrame({"model": ["m", "m", "m", "k", "k", "k"], "row": [1, 0, 1, 0, 1, 1],
                         "probability": [0.2, 0.5, 0.4, 0.1, 0.7, 0.9]})
    wide = pc.oof_mean(long)
    assert wide.index.tolist() == [0, 1]
    assert wide.loc[1, "m"] == pytest.approx(0.3, abs=1e-15)
    assert wide.loc[1, "k"] == pytest.approx(0.8, abs=1e-15)


def test_repeat_matrix_keeps_each_repeat_and_refuses_gaps():
    long = pd.DataFrame({"model": "m", "repeat": [0, 0, 1, 1], "row": [1, 0, 0, 1],
                         "probability": [0.6, 0.2, 0.4, 0.8]})
    assert pc.repeat_matrix(long)["m"].tolist() == [[0.2, 0.6], [0.4, 0.8]]
    with pytest.raises(AssertionError, match="once per repeat"):
        pc.repeat_matrix(long.iloc[:3], 2)
    with pytest.raises(AssertionError, match="twice"):
        pc.repeat_matrix(pd.concat([long, long.iloc[:1]]), 2)


def test_model_comparison_matches_and_catches_planted_errors(run):
    table, y, repeats = run["tables"]["model_comparison"], run["y"], run["repeats"]
    assert pc.check_model_comparison(table, y, repeats) == ["intercept_only", "logistic", "lasso"]
    assert {P.shape for P in repeats.values()} == {(2, y.size)}  # 2 outer repeats, every patient
    logistic = table["model"] == "logistic"
    selected = table["selected"].astype(bool)
    for bad, what in (
        (planted(table, logistic, "auc", lambda v: v + 1e-6), "logistic.*auc"),
        (planted(table, table["model"] == "lasso", "brier", lambda v: v * (1 + 1e-6)), "lasso.*brier"),
        (planted(table, logistic, "log_loss", lambda v: v * (1 + 1e-6)), "logistic.*log_loss"),
        (planted(table, logistic, "auc_sd", lambda v: v * (1 + 1e-6)), "logistic.*auc_sd"),
        (planted(table, logistic, "n_repeats", lambda v: v + 1), "n_repeats"),
        (planted(table, selected, "calibration_slope", lambda v: v * (1 + 1e-4)), "calibration_slope"),
        (planted(table, selected, "e90", lambda v: v + 1e-6), "e90"),
        (planted(table, ~selected & ~table["model"].eq("intercept_only"), "selected", lambda v: True),
         "zero or one model"),
    ):
        with pytest.raises(AssertionError, match=what):
            pc.check_model_comparison(bad, y, repeats)


def test_model_comparison_recomputes_per_repeat_not_on_averaged_probabilities(run):
    # the table's scores are means over repeats; scores of the repeat-averaged probabilities
    # (a bagged ensemble) differ from them by far more than the check's tolerance
    table, y, wide = run["tables"]["model_comparison"], run["y"], run["wide"]
    lasso = table[table["model"] == "lasso"].iloc[0]
    averaged = pc.brier_score_loss(y, wide["lasso"].to_numpy())
    assert abs(lasso["brier"] - averaged) > 1e3 * pc.EXACT * averaged
    collapsed = {m: wide[m].to_numpy()[None, :] for m in wide.columns}  # one "repeat": the average
    with pytest.raises(AssertionError):
        pc.check_model_comparison(table, y, collapsed)


def test_model_comparison_allows_no_selection_only_when_nothing_beats_the_benchmark(run):
    table, y, repeats = run["tables"]["model_comparison"], run["y"], run["repeats"]
    none = table.assign(selected=False)
    # logistic and lasso beat intercept_only on log loss here: selecting none is wrong
    with pytest.raises(AssertionError, match="no model selected, yet"):
        pc.check_model_comparison(none, y, repeats)
    # with a benchmark no model beats (its log loss planted low), zero selected is right;
    # then every candidate's calibration is checked
    null = table["model"] == "intercept_only"
    low = none.copy()
    low.loc[null, "log_loss"] = 0.01
    with pytest.raises(AssertionError, match="intercept_only.*log_loss"):  # the planted value is caught ...
        pc.check_model_comparison(low, y, repeats)
    # ... so plant it on the selection score the check is told to use, Brier instead
    low_brier = none.copy()
    low_brier.loc[null, "brier"] = 0.0
    with pytest.raises(AssertionError, match="intercept_only.*brier"):
        pc.check_model_comparison(low_brier, y, repeats, score="brier")
    # a selected model must beat the benchmark: with all candidates excluded, none can
    with pytest.raises(AssertionError, match="does not beat"):
        pc.check_model_comparison(table, y, repeats, exclude=("intercept_only", "logistic", "lasso"))
    assert pc.check_model_comparison(none, y, repeats, exclude=("intercept_only", "logistic", "lasso")) == \
        ["intercept_only", "logistic", "lasso"]
    with pytest.raises(AssertionError, match="lasso: calibration_slope"):  # every candidate's slope checked
        pc.check_model_comparison(planted(none, none["model"] == "lasso", "calibration_slope", lambda v: v + 1e-3),
                                  y, repeats, exclude=("intercept_only", "logistic", "lasso"))


def test_ici_reference_is_span_075_not_a_neighbouring_span(run):
    # a planted bug in the smoother span (2/3 instead of 0.75) changes ICI by far more
    # than the check's tolerance on these data
    y = run["y"]
    p = run["wide"]["logistic"].to_numpy()
    ici = pc.calibration_errors(y, p)[0]
    other = np.mean(np.abs(p - pc.lowess(y.astype(float), p, frac=2 / 3, it=0, delta=0.01 * np.ptp(p),
                                         return_sorted=False)))
    assert abs(ici - other) > 1e4 * pc.EXACT * ici


def test_decision_curve_matches_dcurves_and_catches_a_planted_error(run):
    curve, y, wide = run["tables"]["decision_curve"], run["y"], run["wide"]  # repeat-averaged, as notebook 06
    assert pc.check_decision_curve(curve, y, wide) == 4 * 4  # 2 models + all + none, 4 thresholds
    at = (curve["model"] == "lasso") & np.isclose(curve["threshold"], 0.3)
    with pytest.raises(AssertionError, match="net benefit lasso"):
        pc.check_decision_curve(planted(curve, at, "net_benefit", lambda v: v + 1e-5), y, wide)


def test_table1_matches_and_catches_planted_errors(run):
    t1, cohort = run["tables"]["table1"], run["cohort"]
    # Overall + 3 arms: 3 numeric rows (age, crp) ... every row of every variable is compared
    assert pc.check_table1(t1, cohort, CODEBOOK, "arm") == int((t1["variable"] != "n").sum())
    with pytest.raises(AssertionError, match="count"):
        pc.check_table1(planted(t1, (t1.variable == "flag") & (t1.group == "b"), "count", lambda v: v + 1),
                        cohort, CODEBOOK, "arm")
    with pytest.raises(AssertionError, match="sd"):
        pc.check_table1(planted(t1, (t1.variable == "age") & (t1.group == "Overall"), "sd",
                                lambda v: v * (1 + 1e-6)), cohort, CODEBOOK, "arm")
    with pytest.raises(AssertionError, match="size of group"):
        pc.check_table1(planted(t1, (t1.variable == "n") & (t1.group == "a"), "n", lambda v: v - 1),
                        cohort, CODEBOOK, "arm")


def test_complete_case_odds_ratios_match_statsmodels_and_catch_a_planted_error(run):
    table, data = run["tables"]["regression_multivariable_complete_case"], run["data"]
    assert pc.check_complete_case_regression(table, data, PREDICTORS, "y", CODEBOOK) == 5  # age crp flag arm[b] arm[c]
    with pytest.raises(AssertionError, match="OR of crp"):
        pc.check_complete_case_regression(planted(table, table.term == "crp", "odds_ratio",
                                                  lambda v: v * (1 + 1e-5)), data, PREDICTORS, "y", CODEBOOK)


def test_correlation_matches_scipy_and_catches_a_planted_error(run):
    table, cohort = run["tables"]["correlation"], run["cohort"]
    assert pc.check_correlation(table, cohort) == 1
    with pytest.raises(AssertionError, match="rho"):
        pc.check_correlation(planted(table, table.index == 0, "r", lambda v: v + 1e-6), cohort)


def test_firth_rows_match_firthmodels_and_catch_planted_errors(run):
    table, data = run["tables"]["firth"], run["data"]
    assert table["method"].str.startswith("Firth penalised likelihood").all()
    notes = []
    assert pc.check_complete_case_regression(table, data, PREDICTORS, "y", CODEBOOK, notes) == 5
    assert notes == []
    for column, label in (("odds_ratio", "Firth OR of crp"), ("ci_upper", "Firth ci_upper of crp"),
                          ("p_value", "Firth p_value of crp")):
        with pytest.raises(AssertionError, match=label):
            pc.check_complete_case_regression(planted(table, table.term == "crp", column, lambda v: v * (1 + 1e-3)),
                                              data, PREDICTORS, "y", CODEBOOK)
    # Firth and ML estimates differ: an ML table labelled Firth (or the reverse) is caught
    ml = run["tables"]["regression_multivariable_complete_case"]
    with pytest.raises(AssertionError, match="Firth OR"):
        pc.check_complete_case_regression(ml.assign(method=table["method"].iloc[0]), data, PREDICTORS, "y",
                                          CODEBOOK)
    with pytest.raises(AssertionError, match="OR of"):
        pc.check_complete_case_regression(table.assign(method=ml["method"].iloc[0]), data, PREDICTORS, "y",
                                          CODEBOOK)


def test_an_empty_firth_bound_is_skipped_with_a_note(run):
    table, data = run["tables"]["firth"], run["data"]
    notes = []
    holed = table.copy()
    holed.loc[holed.term == "age", "ci_lower"] = np.nan
    assert pc.check_complete_case_regression(holed, data, PREDICTORS, "y", CODEBOOK, notes) == 5
    assert len(notes) == 1 and "ci_lower of age" in notes[0]


def test_gate_is_recomputed_and_matches_the_model_status(run):
    t = run["tables"]
    gate, comparison, validation, status = t["gate"], t["model_comparison"], t["validation"], run["status"]
    assert comparison.loc[comparison["selected"], "model"].item() == "lasso"
    assert status == pc.FIT  # the toy's lasso beats the null, AUC CI above 0.5, corrected slope 0.88
    assert pc.check_gate(gate, comparison, validation, status) == 5
    with pytest.raises(AssertionError, match="model.json status"):
        pc.check_gate(gate, comparison, validation, pc.NOT_FIT)
    crit = gate["criterion"]
    for bad, what in (
        (planted(gate, crit == "calibration_slope_in_range", "passed", lambda v: False), "calibration_slope_in_range"),
        (planted(gate, crit == "beats_null_brier", "value", lambda v: v * (1 + 1e-6)), "beats_null_brier: value"),
        (planted(gate, crit == "auc_ci_excludes_0.5", "model", lambda v: "logistic"), "judged on"),
        (gate[crit != "auc_ci_excludes_0.5"], "criteria"),
    ):
        with pytest.raises(AssertionError, match=what):
            pc.check_gate(bad, comparison, validation, status)
    # a slope outside the range fails the gate: a table and status still saying "fit" are caught
    steep = validation.assign(corrected=[0.75, 1.45])
    with pytest.raises(AssertionError, match="calibration_slope_in_range: value"):
        pc.check_gate(gate, comparison, steep, status)
    stale = planted(gate, crit == "calibration_slope_in_range", "value", lambda v: 1.45)  # value right, verdict not
    with pytest.raises(AssertionError, match="calibration_slope_in_range: passed True, recomputed False"):
        pc.check_gate(stale, comparison, steep, status)
    # the package's own verdict on those numbers passes the check
    verdict = ship_gate(comparison, steep)
    assert verdict.status == pc.NOT_FIT
    assert pc.check_gate(roundtrip(verdict.as_frame()), comparison, steep, verdict.status) == 5


def test_the_sample_size_caution_is_recomputed_and_only_blocks_when_required(run):
    t = run["tables"]
    comparison, validation = t["model_comparison"], t["validation"]
    need = pd.DataFrame({"scenario": ["C - 0.05", "anticipated"], "criterion": "overall",
                         "n_required": [5000, 900], "events_required": [2000, 270]})
    warned = ship_gate(comparison, validation, sample_size=need, cohort=(94, 40),
                       sample_size_rule="warn")
    gate = roundtrip(warned.as_frame())
    assert warned.status == pc.FIT and len(warned.cautions) == 1
    assert pc.check_gate(gate, comparison, validation, warned.status, sample_size=need,
                         cohort=(94, 40), sample_size_rule="warn") == 6
    # under "require" (the default) the same table would be a wrong verdict
    with pytest.raises(AssertionError, match="sample_size_adequate: blocking"):
        pc.check_gate(gate, comparison, validation, warned.status, sample_size=need,
                      cohort=(94, 40))
    easier = need.assign(n_required=[90, 90], events_required=[40, 40])
    with pytest.raises(AssertionError, match="sample_size_adequate: passed False, recomputed True"):
        pc.check_gate(gate, comparison, validation, warned.status, sample_size=easier,
                      cohort=(94, 40), sample_size_rule="warn")
    required = ship_gate(comparison, validation, sample_size=need, cohort=(94, 40))
    assert required.status == pc.NOT_FIT
    assert pc.check_gate(roundtrip(required.as_frame()), comparison, validation, pc.NOT_FIT,
                         sample_size=need, cohort=(94, 40)) == 6
    # a table written before the blocking column existed: every criterion blocks
    old = gate.drop(columns="blocking")
    with pytest.raises(AssertionError, match="gate table verdict"):
        pc.check_gate(old, comparison, validation, warned.status, sample_size=need,
                      cohort=(94, 40), sample_size_rule="warn")


def test_gate_without_a_selected_model_is_judged_on_the_reference(run):
    t = run["tables"]
    comparison = t["model_comparison"].assign(selected=False)
    validation = t["validation"].assign(model="logistic")
    verdict = ship_gate(comparison, validation, model="logistic")
    gate = roundtrip(verdict.as_frame())
    assert verdict.status == pc.NOT_FIT
    assert pc.check_gate(gate, comparison, validation, verdict.status, reference="logistic") == 5
    with pytest.raises(AssertionError, match="judged on"):
        pc.check_gate(gate, comparison, validation, verdict.status, reference="lasso")
    with pytest.raises(AssertionError, match="model_selected: passed"):
        pc.check_gate(planted(gate, gate["criterion"] == "model_selected", "passed", lambda v: True),
                      comparison, validation, verdict.status)


def test_check_study_reads_a_run_laid_out_as_the_pipeline_writes_it(tmp_path, run):
    spec = {"title": "Toy", "outcome": "y", "group": "arm", "predictors": PREDICTORS,
            "variables": {k: dict(v) for k, v in CODEBOOK.items()}}
    folder = make_study(tmp_path, "toy", spec, data=run["cohort"])
    (folder / "processed").mkdir()
    run["cohort"].to_parquet(folder / "processed" / "cohort.parquet")
    run["predictions"].to_parquet(folder / "processed" / "oof_predictions.parquet")
    out = tmp_path / "reports" / "toy" / "tables"
    for name, table in run["tables"].items():
        if name != "firth":
            save_table(table, name, out)
    (tmp_path / "reports" / "toy" / "model").mkdir()
    model_json = tmp_path / "reports" / "toy" / "model" / "model.json"
    model_json.write_text(json.dumps({"model_name": "logistic", "status": run["status"]}))
    counts = pc.check_study(tmp_path, "toy")
    assert counts == {"models": 3, "net_benefit": 16, "table1": int((run["tables"]["table1"].variable != "n").sum()),
                      "odds_ratios": 5, "correlations": 1, "gate": 5}
    # a complete-case table fitted by Firth's method is checked the same way
    save_table(run["tables"]["firth"], "regression_multivariable_complete_case", out)
    assert pc.check_study(tmp_path, "toy")["odds_ratios"] == 5
    model_json.write_text(json.dumps({"model_name": "logistic", "status": pc.NOT_FIT}))
    with pytest.raises(AssertionError, match="model.json status"):
        pc.check_study(tmp_path, "toy")


def test_levels_render_as_table1_prints_them():
    assert [pc._level(v) for v in (1.0, True, np.int64(0), np.bool_(False), "b", 2.5)] == \
        ["1", "1", "0", "0", "b", "2.5"]


def test_separated_terms_are_skipped_not_compared(run):
    table, data = run["tables"]["regression_multivariable_complete_case"], run["data"]
    flagged = table.copy()
    flagged.loc[flagged.term == "crp", ["separation", "odds_ratio"]] = [True, 123.0]
    assert pc.check_complete_case_regression(flagged, data, PREDICTORS, "y", CODEBOOK) == 4


def test_a_fully_separated_model_compares_nothing_but_still_checks_terms_and_n(run):
    table, data = run["tables"]["regression_multivariable_complete_case"], run["data"]
    assert pc.check_complete_case_regression(table.assign(separation=True), data, PREDICTORS, "y", CODEBOOK) == 0
    assert pc.check_complete_case_regression(table.drop(columns="separation"), data, PREDICTORS, "y",
                                             CODEBOOK) == 5
    with pytest.raises(AssertionError, match="complete-case n"):
        pc.check_complete_case_regression(table.assign(separation=True, n=table["n"] + 1), data, PREDICTORS,
                                          "y", CODEBOOK)


def test_benefit_validation_check_passes_real_output_and_catches_planted_errors():
    from analysis.benefit.comparison import compare_benefit_models
    from analysis.benefit.effect_model import effect_model_spec

    rng = np.random.default_rng(0)
    n = 160
    data = pd.DataFrame({"x": rng.normal(size=n), "drug": rng.choice(["a", "b"], n)})
    data["y"] = (rng.random(n) < 0.4 + 0.2 * (data["drug"] == "b")).astype(int)
    treatment = {"column": "drug", "options": ["a", "b"], "reference": "a"}
    codebook = {"x": {"type": "numeric"}, "drug": {"type": "categorical", "levels": ["a", "b"]}}
    spec = effect_model_spec(codebook, ["x", "drug"], treatment, smoke=True)
    scores = pd.DataFrame({"a": np.full(n, 0.5), "b": np.full(n, 0.5)})
    table, _ = compare_benefit_models({"effect_model": spec}, data[["x", "drug"]], data["y"],
                                      column="drug", options=["a", "b"], reference="a",
                                      scores=scores, n_splits=3, n_boot=10)
    counts = pd.DataFrame({"preferred_option": ["no clear difference"], "n": [n]})
    assert pc.check_benefit_validation(table, counts, data, treatment) == 2
    with pytest.raises(AssertionError, match="n_pairs of b"):
        pc.check_benefit_validation(table.assign(n_pairs=table["n_pairs"] + 1), counts, data, treatment)
    outside = table.assign(c_for_benefit=table["ci_upper"] + 0.01, n_boot=200)
    with pytest.raises(AssertionError):
        pc.check_benefit_validation(outside, counts, data, treatment)
    with pytest.raises(AssertionError):
        pc.check_benefit_validation(table.assign(ci_lower=table["ci_upper"] + 0.01), counts, data,
                                    treatment)
    with pytest.raises(AssertionError, match="cover the cohort"):
        pc.check_benefit_validation(table, counts.assign(n=n - 1), data, treatment)


def test_response_by_visit_check_recounts_and_catches_planted_errors():
    from analysis.describe.endpoints import response_by_visit

    rng = np.random.default_rng(1)
    ids = np.arange(30)
    cohort = pd.DataFrame({"pid": ids, "arm": np.where(ids < 15, "a", "b")})
    visits = pd.DataFrame([(i, w) for i in ids for w in (0, 4, 12) if not (w == 12 and i % 7 == 0)],
                          columns=["pid", "week"])
    visits["resp"] = np.where(visits["week"] == 0, np.nan, rng.integers(0, 2, len(visits)))
    visits.loc[5, "resp"] = np.nan
    table = response_by_visit(visits, ["resp"], id_col="pid", time="week", times=[0, 4, 12],
                              enrolled=cohort, arm="arm")
    assert pc.check_response_by_visit(table, visits, cohort, "pid", "week", "arm", ["resp"]) == len(table)
    nri = table.index[(table["imputation"] == "non-responder") & (table["visit"] == 12)][0]
    with pytest.raises(AssertionError, match="response_by_visit resp"):
        pc.check_response_by_visit(table.assign(n=table["n"].where(table.index != nri, 26)),
                                   visits, cohort, "pid", "week", "arm", ["resp"])
