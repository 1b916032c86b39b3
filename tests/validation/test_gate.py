"""The ship gate: each criterion alone fails it; a noise cohort is refused end to end."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
from conftest import make_study

from analysis.errors import AnalysisError
from analysis.models.artifact import load_model, save_model
from analysis.models.predict import main as predict_main
from analysis.models.zoo import model_zoo
from analysis.study.config import load_study
from analysis.study.settings import ModellingSettings, SelectionRule
from analysis.validation.comparison import compare_models
from analysis.validation.finalize import finalize_model, model_to_finalize, needs_recalibration
from analysis.validation.gate import (
    FIT,
    GATE_COLUMNS,
    NOT_FIT,
    GateVerdict,
    ship_gate,
    verdict_from_table,
)
from analysis.validation.resampling import bootstrap_optimism, nested_cv, oof_probabilities

# --------------------------------------------------------------------------- hand-made tables


def comparison(**changes) -> pd.DataFrame:
    """A comparison table where everything is fine; ``changes`` edits the selected row."""
    table = pd.DataFrame({
        "model": ["intercept_only", "logistic", "random_forest"],
        "selected": [False, True, False],
        "auc": [0.5, 0.78, 0.74],
        "auc_ci_lower": [np.nan, 0.70, 0.65],
        "auc_ci_upper": [np.nan, 0.86, 0.83],
        "log_loss": [0.6931, 0.5512, 0.5803],
        "brier": [0.2500, 0.1890, 0.1990],
    })
    for column, value in changes.items():
        table.loc[table["model"] == "logistic", column] = value
    return table


def validation(slope: float = 0.93, model: str = "logistic") -> pd.DataFrame:
    return pd.DataFrame({"model": model, "metric": ["auc", "calibration_slope"],
                         "apparent": [0.80, 1.0], "corrected": [0.77, slope]})


def test_all_criteria_met_passes_with_every_number_in_the_table():
    verdict = ship_gate(comparison(), validation())
    assert verdict.status == FIT and verdict.fit and verdict.reasons == ()
    assert verdict.model == "logistic"
    table = verdict.as_frame()
    assert list(table.columns) == list(GATE_COLUMNS)
    assert table["criterion"].tolist() == [
        "model_selected", "beats_null_log_loss", "beats_null_brier", "auc_ci_excludes_0.5",
        "calibration_slope_in_range"]
    assert table["passed"].all()
    values = table.set_index("criterion")["value"]
    assert values["beats_null_log_loss"] == 0.5512 and values["beats_null_brier"] == 0.1890
    assert values["auc_ci_excludes_0.5"] == 0.78 and values["calibration_slope_in_range"] == 0.93
    assert table.set_index("criterion").loc["beats_null_log_loss", "threshold"] == (
        "< 0.6931 (intercept_only)")
    text = verdict.describe()
    assert text.startswith("**Ship gate passed: logistic is fit for clinical use**")
    assert "0.780 (95% CI 0.700-0.860)" in text and "0.93, within [0.7, 1.3]" in text


@pytest.mark.parametrize("changes, slope, criterion, fragment", [
    ({"log_loss": 0.6931}, 0.93, "beats_null_log_loss",
     "log loss of logistic is 0.6931, not below the intercept_only benchmark's 0.6931"),
    ({"brier": 0.2512}, 0.93, "beats_null_brier",
     "Brier score of logistic is 0.2512, not below the intercept_only benchmark's 0.2500"),
    ({"auc_ci_lower": 0.48}, 0.93, "auc_ci_excludes_0.5",
     "AUC of logistic is 0.780 (95% CI 0.480-0.860), a CI that includes 0.5"),
    ({"auc_ci_lower": np.nan}, 0.93, "auc_ci_excludes_0.5", "95% CI undefined"),
    ({}, 0.62, "calibration_slope_in_range",
     "corrected calibration slope of logistic is 0.62, outside [0.7, 1.3]"),
    ({}, 1.31, "calibration_slope_in_range", "is 1.31, outside [0.7, 1.3]"),
    ({}, np.nan, "calibration_slope_in_range", "slope of logistic is undefined"),
])
def test_each_criterion_alone_fails_the_gate(changes, slope, criterion, fragment):
    verdict = ship_gate(comparison(**changes), validation(slope))
    assert verdict.status == NOT_FIT and not verdict.fit
    failed = verdict.as_frame().loc[lambda t: ~t["passed"], "criterion"].tolist()
    assert failed == [criterion]
    assert len(verdict.reasons) == 1 and fragment in verdict.reasons[0]
    text = verdict.describe()
    assert text.startswith("**No model fit for clinical use.**") and fragment in text


def test_no_selected_model_fails_and_judges_the_audit_model():
    table = comparison(selected=False)
    table.loc[table["model"] == "logistic", ["log_loss", "brier"]] = [0.70, 0.2510]
    verdict = ship_gate(table, validation(0.5, model="random_forest"))
    assert verdict.status == NOT_FIT
    # the audit model defaults to the lowest log loss: the forest (0.5803)
    assert verdict.model == "random_forest"
    assert verdict.reasons[0].startswith("No candidate model was selected (0 selected)")
    assert any("0.50, outside [0.7, 1.3]" in r for r in verdict.reasons)
    # an explicit audit model (the reference)
    verdict = ship_gate(table, validation(), model="logistic")
    assert verdict.model == "logistic"
    failed = verdict.as_frame().loc[lambda t: ~t["passed"], "criterion"].tolist()
    assert failed == ["model_selected", "beats_null_log_loss", "beats_null_brier"]


def test_the_slope_range_comes_from_the_study_settings():
    settings = ModellingSettings.from_mapping({"gate": {"slope_range": [0.5, 1.5]}})
    assert settings.gate_slope_range == (0.5, 1.5)
    assert ModellingSettings().gate_slope_range == (0.7, 1.3)
    assert ship_gate(comparison(), validation(0.62),
                     slope_range=settings.gate_slope_range).fit
    from analysis.errors import StudyConfigError
    from analysis.study.settings import modelling_problems

    assert modelling_problems({"gate": {"slope_range": [1.3, 0.7], "min_auc": 0.6}}) == [
        "modelling.gate: unknown key 'min_auc' (known: slope_range, minimum_sample_size)",
        "modelling.gate.slope_range must be two increasing numbers [low, high]"]
    assert modelling_problems({"gate": {"minimum_sample_size": "strict"}}) == [
        "modelling.gate.minimum_sample_size must be 'warn' or 'require', got 'strict'"]
    assert ModellingSettings().gate_sample_size == "require"
    assert ModellingSettings.from_mapping(
        {"gate": {"minimum_sample_size": "warn"}}).gate_sample_size == "warn"
    with pytest.raises(StudyConfigError, match="modelling.gate must be a mapping"):
        ModellingSettings.from_mapping({"gate": [0.7, 1.3]})


def test_gate_table_round_trips_through_csv(tmp_path):
    verdict = ship_gate(comparison(auc_ci_lower=0.45), validation(1.6))
    path = tmp_path / "gate.csv"
    verdict.as_frame().to_csv(path, index=False)
    back = verdict_from_table(pd.read_csv(path))
    assert (back.status, back.reasons, back.model) == (verdict.status, verdict.reasons,
                                                       verdict.model)
    assert back.describe() == verdict.describe()


def requirement(n_required: float = 900, events_required: float = 270) -> pd.DataFrame:
    """A sample_size table (riley_anticipated's shape) whose anticipated minimum is given."""
    rows = [{"scenario": scenario, "criterion": criterion,
             "n_required": n_required * (2 if scenario == "C - 0.05" else 1),
             "events_required": events_required * (2 if scenario == "C - 0.05" else 1)}
            for scenario in ("C - 0.05", "anticipated", "C + 0.05")
            for criterion in ("shrinkage", "optimism", "overall_risk", "overall")]
    return pd.DataFrame(rows)


def test_a_cohort_below_rileys_minimum_is_a_caution_when_the_study_warns():
    verdict = ship_gate(comparison(), validation(), sample_size=requirement(), cohort=(200, 60),
                        sample_size_rule="warn")
    assert verdict.status == FIT and verdict.reasons == ()
    row = verdict.as_frame().set_index("criterion").loc["sample_size_adequate"]
    assert (row["value"], bool(row["passed"]), bool(row["blocking"])) == (200.0, False, False)
    assert row["threshold"] == ">= 900 patients, 270 events (Riley et al. 2020)"
    (caution,) = verdict.cautions
    assert caution.startswith("The cohort (200 patients, 60 events) is smaller than Riley")
    text = verdict.describe()
    assert text.startswith("**Ship gate passed") and "**Caution:** " + caution in text
    # the caution is not quoted among the passed criteria
    assert text.count("smaller than Riley") == 1


def test_rileys_minimum_blocks_by_default():
    verdict = ship_gate(comparison(), validation(), sample_size=requirement(), cohort=(200, 60))
    assert verdict.status == NOT_FIT and verdict.cautions == ()
    (reason,) = verdict.reasons
    assert reason.startswith("The cohort (200 patients, 60 events) is smaller than Riley")
    assert reason.endswith("It needs external validation before clinical use.")
    row = verdict.as_frame().set_index("criterion").loc["sample_size_adequate"]
    assert (bool(row["passed"]), bool(row["blocking"])) == (False, True)
    assert ship_gate(comparison(), validation(), sample_size=requirement(), cohort=(200, 60),
                     sample_size_rule="require").reasons == verdict.reasons
    # the events count alone can fail it: 900 patients but 200 events < 270
    assert not ship_gate(comparison(), validation(), sample_size=requirement(),
                         cohort=(900, 200), sample_size_rule="require").fit
    reached = ship_gate(comparison(), validation(), sample_size=requirement(),
                        cohort=(900, 270), sample_size_rule="require")
    assert reached.fit and reached.cautions == ()
    assert "reaches Riley et al.'s minimum" in reached.describe()


def test_an_undefined_minimum_is_not_counted_as_met():
    verdict = ship_gate(comparison(), validation(), cohort=(200, 60),
                        sample_size=requirement(np.nan, np.nan), sample_size_rule="warn")
    assert verdict.fit and "undefined" in verdict.cautions[0]
    required = ship_gate(comparison(), validation(), cohort=(200, 60),
                         sample_size=requirement(np.nan, np.nan))
    assert not required.fit and "undefined" in required.reasons[0]


def test_cautions_round_trip_and_old_tables_without_blocking_still_read(tmp_path):
    verdict = ship_gate(comparison(), validation(1.6), sample_size=requirement(),
                        cohort=(200, 60), sample_size_rule="warn")
    path = tmp_path / "gate.csv"
    verdict.as_frame().to_csv(path, index=False)
    back = verdict_from_table(pd.read_csv(path))
    assert (back.status, back.reasons, back.cautions) == (NOT_FIT, verdict.reasons,
                                                          verdict.cautions)
    assert back.describe() == verdict.describe()
    old = pd.read_csv(path).drop(columns="blocking")  # every criterion blocked before
    assert verdict_from_table(old).reasons == verdict.reasons + verdict.cautions


@pytest.mark.parametrize("call, message", [
    (lambda: ship_gate(comparison(), validation(), sample_size=requirement(), cohort=(1, 1),
                       sample_size_rule="strict"), "sample_size_rule must be"),
    (lambda: ship_gate(comparison(), validation(), sample_size=pd.DataFrame({"n": [1]}),
                       cohort=(1, 1)), "sample_size must be"),
    (lambda: ship_gate("table", validation()), "must be DataFrames"),
    (lambda: ship_gate(comparison().drop(columns="selected"), validation()), "selected"),
    (lambda: ship_gate(comparison(), validation().drop(columns="corrected")), "corrected"),
    (lambda: ship_gate(comparison(), validation(), slope_range=(1.3, 0.7)), "increasing"),
    (lambda: GateVerdict("shipped", (), None), "status must be"),
    (lambda: verdict_from_table(pd.DataFrame()), "gate table lacks"),
])
def test_invalid_inputs_are_refused_clearly(call, message):
    with pytest.raises(AnalysisError, match=message):
        call()


# --------------------------------------------------------------------------- end to end

STUDY = {
    "title": "Gate study",
    "outcome": "y",
    "predictors": ["x1", "x2", "x3"],
    "variables": {
        "x1": {"type": "numeric", "label": "x1"},
        "x2": {"type": "numeric", "label": "x2"},
        "x3": {"type": "numeric", "label": "x3"},
        "y": {"type": "binary", "label": "Outcome"},
    },
}
CODEBOOK = {name: {"type": "numeric"} for name in ("x1", "x2", "x3")}


def cohort(signal: float, n: int = 150, seed: int = 11) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 3)), columns=["x1", "x2", "x3"])
    lp = -0.4 + signal * (X["x1"] - 0.8 * X["x2"])
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int).to_numpy()
    return X, y


def develop(X, y):
    """Notebooks 05 and 06 in small: compare, select, validate, gate, finalize."""
    rule = SelectionRule()
    zoo = model_zoo(CODEBOOK, list(CODEBOOK), smoke=True, seed=1,
                    include=["intercept_only", "logistic", "lasso"])
    result = nested_cv(zoo, X, y, outer_splits=3, outer_repeats=1, inner_splits=2, seed=1,
                       n_jobs=1, progress=False)
    table = compare_models(result, y, reference="logistic", n_boot=0, rule=rule)
    name, _ = model_to_finalize(table, "logistic")
    extra = {}
    if needs_recalibration(table, name, rule) and (
            "recalibrate" in inspect.signature(bootstrap_optimism).parameters):
        extra["recalibrate"] = True
    valid = bootstrap_optimism(zoo[name], X, y, n_boot=20, seed=1, n_jobs=1, progress=False,
                               inner_splits=2, **extra)
    verdict = ship_gate(table, valid, model=name)
    final = finalize_model(zoo[name], X, y, comparison=table,
                           oof_probability=oof_probabilities(result)[name].to_numpy(),
                           rule=rule, seed=1, inner_splits=2, validation=valid)
    return verdict, final, valid


def test_pure_noise_cohort_is_not_fit_and_predict_refuses_its_model(tmp_path, capsys):
    X, y = cohort(signal=0.0)
    verdict, final, valid = develop(X, y)
    assert verdict.status == NOT_FIT
    failed = set(verdict.as_frame().loc[lambda t: ~t["passed"], "criterion"])
    assert failed & {"model_selected", "beats_null_log_loss", "auc_ci_excludes_0.5"}
    assert verdict.describe().startswith("**No model fit for clinical use.**")

    make_study(tmp_path, "noise", STUDY)
    study = load_study("noise", root=tmp_path)
    frame = X.assign(y=y.astype(float))
    folder = save_model(final.estimator, study, model_name=final.name, metrics=valid,
                        training_frame=frame, status=verdict.status,
                        status_reasons=verdict.reasons, recalibration_source=final.estimated_on)
    _, meta = load_model(folder)
    assert meta["status"] == NOT_FIT and meta["status_reasons"] == list(verdict.reasons)
    assert "No model fit for clinical use" in (folder / "MODEL_CARD.md").read_text()[:400]

    src, out = tmp_path / "new.csv", tmp_path / "scores.csv"
    X.head(4).to_csv(src, index=False)
    argv = ["--study", "noise", "--input", str(src), "--output", str(out), "--root", str(tmp_path)]
    assert predict_main(argv) == 1
    err = capsys.readouterr().err
    assert "not-for-clinical-use" in err and "--allow-unvalidated" in err
    assert not out.exists()
    assert predict_main([*argv, "--allow-unvalidated"]) == 0
    scores = pd.read_csv(out, keep_default_na=False)
    assert len(scores) == 4
    assert scores["warnings"].str.startswith(
        "not for clinical use: " + verdict.reasons[0]).all()


def test_strong_signal_cohort_passes_the_gate():
    X, y = cohort(signal=1.6)
    verdict, final, valid = develop(X, y)
    assert verdict.status == FIT, verdict.reasons
    table = verdict.as_frame().set_index("criterion")
    assert table.loc["auc_ci_excludes_0.5", "value"] > 0.75
    slope = valid.set_index(["model", "metric"]).loc[(final.name, "calibration_slope"), "corrected"]
    assert table.loc["calibration_slope_in_range", "value"] == slope


# --------------------------------------------------------------------------- the report
# (analysis.pipeline.report; kept here with the gate it reads)


def _executed(path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("#| label: tbl-table1\n#| tbl-cap: Baseline\nshow(t)")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<table><tr><td>1</td></tr></table>"})]
    nb.cells = [cell]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def test_report_opens_with_the_verdict_and_its_numbers(tmp_path):
    from conftest import make_study

    from analysis.pipeline.report import render_report, verdict_paragraph
    from analysis.study.config import load_study

    make_study(tmp_path, "demo", {"title": "Demo", "outcome": "y", "predictors": ["x"],
                                  "variables": {"x": {"type": "numeric"}, "y": {"type": "binary"}}})
    study = load_study("demo", root=tmp_path)
    paths = study.paths
    _executed(paths.notebooks / "02-describe-cohort.ipynb")
    verdict = ship_gate(comparison(auc_ci_lower=0.372), validation(-11.2))
    paths.tables.mkdir(parents=True)
    table = verdict.as_frame()
    table.loc[0, "note"] = "Selected model: <script>alert(1)</script>."
    table.to_csv(paths.table("gate"), index=False)
    paragraph = verdict_paragraph(paths)
    assert paragraph.startswith("**No model fit for clinical use.**")
    assert "0.780 (95% CI 0.372-0.860)" in paragraph and "is -11.20, outside" in paragraph
    assert "<script>" not in paragraph
    text = {"summary": "Narrative of the summary.", "methods": "M.", "participant-flow": "", "tripod": ""}
    html = render_report(study, echo=lambda _: None, force_fallback=True, inserts=text).read_text()
    main = html[html.index("<main>"):]
    assert main.index("No model fit for clinical use") < main.index("Narrative of the summary")
    assert "-11.20" in main and "<script>alert" not in main


def test_report_verdict_falls_back_to_model_json(tmp_path):
    from analysis.pipeline.report import verdict_paragraph
    from analysis.study.paths import StudyPaths

    paths = StudyPaths("demo", tmp_path)
    paths.model.mkdir(parents=True)
    (paths.model / "model.json").write_text(
        '{"model_name": "svm", "status": "not-for-clinical-use", '
        '"status_reasons": ["The AUC CI includes 0.5."]}')
    assert verdict_paragraph(paths) == ("**No model fit for clinical use.** The AUC CI "
                                        "includes 0.5. svm is saved for audit only.")
    (paths.model / "model.json").write_text(
        '{"model_name": "lasso", "status": "fit-for-clinical-use", "status_reasons": []}')
    assert verdict_paragraph(paths).startswith("**Ship gate passed: lasso is fit")
