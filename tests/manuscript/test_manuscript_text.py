"""The manuscript's generated text states the numbers of THAT run: Methods, Summary, flow, TRIPOD+AI."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from fake_run import build_run, cohort_summary, write

from analysis.errors import AnalysisError
from analysis.manuscript.flow import participant_flow
from analysis.manuscript.methods import SECTIONS, methods_markdown
from analysis.manuscript.run_settings import read_run_settings, run_facts, software_versions
from analysis.manuscript.summary import summary_markdown
from analysis.manuscript.tripod import AUTHORS, REPORTED, TRIPOD_COLUMNS, tripod_checklist
from analysis.study.config import load_study


def test_methods_state_the_settings_of_this_run(tmp_path):
    text = methods_markdown(build_run(tmp_path))
    assert "B = 120 bootstrap resamples" in text
    assert "m = 7 imputations" in text
    assert "4 stratified outer folds repeated 3 times, with 2 inner folds" in text
    assert "random seed 4242" in text
    assert "full mode" in text and "smoke mode" not in text
    versions = software_versions()
    for name in ("pandas", "numpy", "scipy", "statsmodels", "scikit-learn", "matplotlib"):
        assert f" {versions[name]} [" in text, name
    assert f"Python {versions['python']} [" in text
    assert "Not recorded by this run" not in text  # everything came from the run's tables
    # every subsection, in order (this study has no endpoints)
    headings = re.findall(r"^### (.+)$", text, flags=re.MULTILINE)
    assert headings == [s for s in SECTIONS if s != "Endpoints over visits"] + ["References"]


def test_methods_change_with_the_run(tmp_path):
    study = build_run(tmp_path, bootstrap=33, imputations=5, outer=3, repeats=1, inner=2,
                      seed=17, smoke=True)
    text = methods_markdown(study)
    assert "B = 33 bootstrap resamples" in text and "B = 120" not in text
    assert "m = 5 imputations" in text
    assert "3 stratified outer folds repeated 1 times" in text
    assert "random seed 17" in text and "4242" not in text
    assert "**smoke mode**" in text


def test_methods_cite_what_they_use_and_list_only_those(tmp_path):
    text = methods_markdown(build_run(tmp_path))
    body, refs = text.split("### References")
    cited = {int(n) for group in re.findall(r"\[(\d+(?:, \d+)*)\]", body) for n in group.split(", ")}
    listed = re.findall(r"^(\d+)\. ", refs, flags=re.MULTILINE)
    assert cited == set(range(1, len(listed) + 1))
    for author in ("Harrell", "Efron", "Firth", "Heinze", "Riley", "Vickers", "Van Calster",
                   "van Buuren", "Collins GS", "Pedregosa"):
        assert author in refs, author


def test_unrecorded_settings_are_said_to_be_so(tmp_path):
    study = build_run(tmp_path, bootstrap=120)
    for path in study.paths.tables.glob("run_settings_*.csv"):
        path.unlink()
    facts = run_facts(study)
    # still read from what the run wrote
    assert facts["bootstrap"].value == 120 and facts["bootstrap"].source.startswith("tables/validation")
    assert facts["outer_repeats"].value == 3
    assert not facts["inner_splits"].recorded
    text = methods_markdown(study)
    assert "*Not recorded by this run*" in text and "inner\\_splits" in text


def test_user_text_is_escaped(tmp_path):
    study = build_run(tmp_path)
    text = methods_markdown(study) + summary_markdown(study)
    assert "<b>" not in text and "&lt;b&gt;cohort&lt;/b&gt;" in text
    assert "\\*study\\*" in text


def test_run_settings_are_byte_identical_on_a_rerun(tmp_path):
    study = build_run(tmp_path)
    before = {p.name: p.read_bytes() for p in study.paths.tables.glob("run_settings_*.csv")}
    build_run(tmp_path)
    after = {p.name: p.read_bytes() for p in study.paths.tables.glob("run_settings_*.csv")}
    assert before == after and len(before) == 3
    table = read_run_settings(study.paths)
    assert set(table["notebook"]) == {"04", "05", "06"}
    assert table.loc[table["setting"] == "bootstrap", "value"].tolist() == [120]


def test_summary_states_verdict_and_model_result_with_ci(tmp_path):
    text = summary_markdown(build_run(tmp_path))
    assert "cross-validated AUC of 0.78 (95% CI 0.71 to 0.85)" in text
    assert "optimism-corrected AUC of 0.76 (B = 120 bootstrap resamples)" in text
    assert "**Logistic regression (unpenalised) is fit for clinical use**" in text
    assert "comprised 50 patients, 3 of whom had no recorded outcome" in text
    assert "20 (42.6%)" in text  # 20 events of 47 analysed


def test_summary_of_a_failed_gate_names_the_failed_criteria(tmp_path):
    text = summary_markdown(build_run(tmp_path, gate_passed=False))
    assert "**no model is fit for clinical use**" in text
    assert "failing 1 of 5 criteria (a corrected calibration slope in \\[0.7, 1.3\\])" in text


def test_summary_of_an_endpoint_study_leads_with_the_primary_endpoint(tmp_path):
    text = summary_markdown(build_run(tmp_path, endpoints=True))
    # week 12 (the visit of resp_w12), non-responder imputation, not the observed-case row
    assert "At week 12, Clinical response was achieved by 23/50 (46.0%, 95% CI 31.8% to 60.7%)" in text
    assert text.index("At week 12") < text.index("cross-validated AUC")


def test_participant_flow_adds_up(tmp_path):
    study = build_run(tmp_path)
    flow = participant_flow(study)
    assert list(flow.columns) == ["step", "rule", "n", "remaining"]
    read = flow.loc[flow["step"] == "read", "n"].item()
    excluded = flow.loc[flow["step"] == "excluded", "n"].sum()
    analysed = flow.loc[flow["step"] == "analysed", "n"].item()
    assert (read, excluded, analysed) == (50, 3, 47)
    assert read - excluded == analysed == flow["remaining"].iloc[-1]
    assert flow["remaining"].tolist() == [50, 50, 47, 47]


def test_participant_flow_refuses_counts_that_do_not_add_up(tmp_path):
    study = build_run(tmp_path)
    write(study.paths, "cohort_summary", cohort_summary(patients=50, events=20, non_events=20, missing=3))
    with pytest.raises(AnalysisError, match="does not add up"):
        participant_flow(study)


def test_tripod_checklist_has_every_item_once(tmp_path):
    table = tripod_checklist(build_run(tmp_path))
    assert list(table.columns) == list(TRIPOD_COLUMNS)
    assert table["item"].is_unique
    mains = {int(re.match(r"\d+", item).group()) for item in table["item"]}
    assert mains == set(range(1, 28))
    assert set(table["status"]) == {REPORTED, AUTHORS}
    reported = table[table["status"] == REPORTED]
    assert (reported["where"].str.len() > 0).all()
    assert (table.loc[table["status"] == AUTHORS, "where"] == "").all()
    for item in ("17", "18a", "19"):  # ethics, funding, patient and public involvement
        assert table.loc[table["item"] == item, "status"].item() == AUTHORS
    assert table.loc[table["item"] == "11", "where"].item().startswith("Methods: Missing data")


def test_tripod_points_only_at_outputs_the_run_produced(tmp_path):
    study = build_run(tmp_path)
    table = tripod_checklist(study)
    assert "tbl-validation" in table.loc[table["item"] == "24", "where"].item()
    study.paths.table("validation").unlink()
    assert tripod_checklist(study).loc[lambda t: t["item"] == "24", "status"].item() == AUTHORS


@pytest.mark.parametrize("study", ["cd-msc", "ibd-biologics"])
def test_shipped_full_runs(study):
    """On the full runs under reports/ (skipped where the run has not been made)."""
    cfg = load_study(study)
    if not cfg.paths.table("gate").is_file():
        pytest.skip(f"no finished run of {study}")
    text = methods_markdown(cfg)
    validation = pd.read_csv(cfg.paths.table("validation"))
    assert f"B = {int(validation['n_boot'].max())} bootstrap resamples" in text
    gate = pd.read_csv(cfg.paths.table("gate"))
    blocking = gate["blocking"].astype(bool) if "blocking" in gate else gate["passed"].notna()
    passed = gate.loc[blocking, "passed"].astype(bool).all()
    summary = summary_markdown(cfg)
    assert ("**no model is fit for clinical use**" in summary) is (not passed)


def test_notebooks_run_in_different_modes_are_named(tmp_path):
    from analysis.manuscript.run_settings import record_run_settings

    study = build_run(tmp_path)
    record_run_settings(study, "04", seed=4242, smoke=True, imputations=3, knots=4)
    text = methods_markdown(study)
    assert "**mixed modes**: notebooks 04 in smoke mode" in text and "05, 06 in full mode" in text
    assert "m = 3 imputations" in text
    assert "smoke mode (reduced resampling, for tests only: 04)" in summary_markdown(study)
    assert "smoke mode" not in summary_markdown(build_run(tmp_path / "full"))


def test_endpoint_study_methods_describe_the_endpoints(tmp_path):
    text = methods_markdown(build_run(tmp_path, endpoints=True))
    section = text.split("### Endpoints over visits")[1].split("###")[0]
    assert "Clinical response" in section and "week 4, week 12" in section
    assert "Clopper-Pearson exact 95% CI" in section and "non-responder" in section
    assert "Clopper CJ, Pearson ES" in text.split("### References")[1]


def test_summary_of_a_passed_gate_states_a_sample_size_caution(tmp_path):
    study = build_run(tmp_path)
    gate = pd.read_csv(study.paths.table("gate")).assign(blocking=True)
    caution = {"criterion": "sample_size_adequate", "model": "logistic", "value": 50,
               "threshold": ">= 900 patients, 270 events (Riley et al. 2020)", "passed": False,
               "note": "The cohort (50 patients, 20 events) is smaller than ...", "blocking": False}
    pd.concat([gate, pd.DataFrame([caution])]).to_csv(study.paths.table("gate"), index=False)
    text = summary_markdown(study)
    assert "is fit for clinical use**, meeting all 5 pre-specified criteria" in text
    assert ("Caution: the model lacks a cohort of at least Riley et al.'s minimum sample size "
            "(&gt;= 900 patients, 270 events (Riley et al. 2020))") in text


def test_methods_describe_the_instability_check_and_the_sample_size_caution(tmp_path):
    study = build_run(tmp_path)
    text = methods_markdown(study)
    assert "Riley RD, Collins GS" not in text and "stability of the final model" not in text
    write(study.paths, "instability", pd.DataFrame({"measure": ["mape_mean"], "value": [0.08]}))
    gate = pd.read_csv(study.paths.table("gate")).assign(blocking=True)
    caution = {"criterion": "sample_size_adequate", "model": "logistic", "value": 50,
               "threshold": ">= 900 patients, 270 events (Riley et al. 2020)", "passed": False,
               "note": "smaller", "blocking": False}
    write(study.paths, "gate", pd.concat([gate, pd.DataFrame([caution])]))
    text = methods_markdown(study)
    assert "The stability of the final model's predictions was examined" in text
    assert "Riley RD, Collins GS. Stability of clinical prediction models" in text
    assert ("(6) the cohort reaches Riley et al.'s minimum sample size (&gt;= 900 patients, 270 "
            "events (Riley et al. 2020)) (by the study's choice, a caution stated with the "
            "verdict, not a condition of it)") in text
