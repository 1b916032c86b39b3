"""Typed modelling settings: defaults, study.yaml overrides, smoke mode, the rule, subgroups."""

import pytest
from conftest import REPO, make_study

from analysis.errors import StudyConfigError
from analysis.study.config import load_study
from analysis.study.paths import StudyPaths
from analysis.study.settings import (
    DEFAULT_BANDS,
    MODELLING_DEFAULTS,
    SMOKE_MODELLING,
    ModellingSettings,
    SelectionRule,
    Subgroup,
    modelling_problems,
    parse_subgroups,
)
from analysis.validation.selection import SelectionRule as ReExportedRule

BASE = {
    "title": "Plain cohort",
    "outcome": "response",
    "group": "arm",
    "predictors": ["age", "sex", "crp"],
    "variables": {
        "age": {"type": "numeric"},
        "sex": {"type": "categorical", "levels": ["female", "male"]},
        "crp": {"type": "numeric"},
        "arm": {"type": "categorical", "levels": ["a", "b"]},
        "note": {"type": "text"},
        "response": {"type": "binary"},
    },
}


def test_defaults_match_the_documented_table():
    s = ModellingSettings.from_mapping(None)
    assert s.as_dict() == MODELLING_DEFAULTS
    assert s.rule == SelectionRule() and not s.smoke
    assert (s.comparison_boot, s.calibration_boot, s.permutation_repeats) == (200, 200, 20)
    assert (s.shap_background, s.shap_method) == (100, "auto")


def test_study_values_override_defaults_and_smoke_caps_every_count():
    raw = {"bootstrap": 4, "outer_splits": 10, "clinical_scores": ["vedolizumab_cdst"]}
    s = ModellingSettings.from_mapping(raw, smoke=True)
    assert s.bootstrap == 4  # already below the smoke cap: kept
    assert s.outer_splits == SMOKE_MODELLING["outer_splits"]
    assert s.inner_splits == 2 and s.imputations == 3 and s.outer_repeats == 1
    assert (s.comparison_boot, s.calibration_boot, s.permutation_repeats) == (50, 20, 3)
    assert (s.shap_background, s.shap_method, s.smoke) == (30, "permutation", True)
    # published scores are comparators, never candidates of the selection rule
    assert s.rule.exclude == ("intercept_only", "vedolizumab_cdst")


def test_selection_block_sets_the_rule():
    s = ModellingSettings.from_mapping(
        {"selection": {"slope_range": [0.7, 1.3], "n_se": 2, "se_column": "auc_se"}})
    assert s.rule == SelectionRule(se_column="auc_se", n_se=2.0, slope_range=(0.7, 1.3))
    assert s.rule.slope_ok(1.25) and not SelectionRule().slope_ok(1.25)
    assert ReExportedRule is SelectionRule


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"bootstrapp": 10}, "modelling: unknown key 'bootstrapp'"),
        ({"bootstrap": "many"}, "modelling.bootstrap must be a positive integer"),
        ({"inner_splits": True}, "modelling.inner_splits must be a positive integer"),
        ({"threshold": 1.5}, "modelling.threshold must be a number between 0 and 1"),
        ({"models": "logistic"}, "modelling.models must be a list of model names"),
        ({"reference": 3}, "modelling.reference must be a model name"),
        ({"models": ["lasso"], "reference": "logistic"},
         "modelling.reference 'logistic' is not among modelling.models"),
        ({"selection": {"slope_range": [1.2, 0.8]}}, "slope_range must be two increasing numbers"),
        ({"selection": {"nse": 1}}, "modelling.selection: unknown key 'nse'"),
        ({"selection": {"n_se": -1}}, "modelling.selection.n_se must be a non-negative number"),
        ({"selection": {"score": "auc"}}, "modelling.selection.score must be one of log_loss, brier"),
        ({"anticipated_c": 0.4}, "modelling.anticipated_c must be a C statistic strictly between"),
        ({"anticipated_c": "0.7"}, "modelling.anticipated_c must be a C statistic strictly between"),
    ],
)
def test_wrong_keys_and_types_name_the_key(raw, message):
    assert any(message in p for p in modelling_problems(raw))
    with pytest.raises(StudyConfigError, match=message.replace(".", r"\.")):
        ModellingSettings.from_mapping(raw)


def test_study_yaml_problems_are_reported_by_load_study(tmp_path):
    make_study(tmp_path, "bad", {**BASE, "modelling": {"threshold": "high", "selection": []}})
    with pytest.raises(StudyConfigError) as err:
        load_study("bad", root=tmp_path)
    assert "modelling.threshold" in str(err.value) and "modelling.selection" in str(err.value)


def test_study_exposes_typed_settings_and_the_old_dict(tmp_path):
    make_study(tmp_path, "s", {**BASE, "modelling": {"bootstrap": 50}})
    study = load_study("s", root=tmp_path)
    assert study.settings().bootstrap == 50 and study.settings(smoke=True).bootstrap == 8
    assert study.modelling_settings(smoke=True) == {**MODELLING_DEFAULTS, "bootstrap": 8,
                                                    "outer_splits": 3, "outer_repeats": 1,
                                                    "inner_splits": 2, "imputations": 3}


def test_subgroups_parse_in_order_with_bands():
    types = {k: v["type"] for k, v in BASE["variables"].items()}
    subs, problems = parse_subgroups(["sex", "arm", "age", {"crp": [5, 10]}], types, "response")
    assert problems == []
    assert subs == (Subgroup("sex"), Subgroup("arm"), Subgroup("age", DEFAULT_BANDS),
                    Subgroup("crp", (5.0, 10.0)))


def test_subgroups_default_to_the_group_only():
    assert parse_subgroups(None, {"arm": "categorical"}, group="arm") == ((Subgroup("arm"),), [])
    assert parse_subgroups(None, {}) == ((), [])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["weight"], "'weight' is not declared"),
        (["response"], "the outcome 'response' cannot be a subgroup"),
        (["note"], "'note' has type 'text'"),
        ([{"sex": [1, 2]}], "'sex' is categorical; cut points apply to numeric"),
        ([{"age": [60, 40]}], "cut points of 'age' must be increasing numbers"),
        (["sex", "sex"], "a column is listed twice"),
        ("sex", "'subgroups' must be a list"),
    ],
)
def test_bad_subgroups_name_the_column(tmp_path, value, message):
    make_study(tmp_path, "s", {**BASE, "subgroups": value})
    with pytest.raises(StudyConfigError, match=message):
        load_study("s", root=tmp_path)


@pytest.mark.parametrize("name", ["cd-msc", "cd-upadacitinib-ius", "ibd-biologics",
                                  "ra-refractory", "sle-belimumab"])
def test_demo_studies_declare_todays_subgroups(name):
    # notebook 06 used sex, the study's group and age in bands 40/60 before the key existed;
    # ibd-biologics adds Crohn's disease vs ulcerative colitis first (issue 15)
    study = load_study(name, root=REPO)
    before = (Subgroup("sex"), Subgroup(study.group), Subgroup("age", (40.0, 60.0)))
    assert study.subgroups == ((Subgroup("disease"), *before) if name == "ibd-biologics" else before)


def test_shared_files_are_named_by_study_paths(tmp_path):
    paths = StudyPaths("s", tmp_path)
    assert paths.model_comparison == tmp_path / "reports" / "s" / "tables" / "model_comparison.csv"
    assert paths.oof_predictions == tmp_path / "data" / "s" / "processed" / "oof_predictions.parquet"
    assert paths.table("validation") == paths.tables / "validation.csv"


def test_selection_score_and_anticipated_c():
    default = ModellingSettings.from_mapping(None)
    assert default.rule.score == "log_loss" and default.rule.score_se_column == "log_loss_cv_se"
    assert default.anticipated_c is None and default.as_dict()["anticipated_c"] is None
    s = ModellingSettings.from_mapping({"selection": {"score": "brier"}, "anticipated_c": 0.72})
    assert s.rule == SelectionRule(score="brier")
    assert s.rule.score_se_column == "brier_cv_se"
    assert s.anticipated_c == 0.72 and s.as_dict()["anticipated_c"] == 0.72
    assert "Brier score" in s.rule.describe() and "intercept-only" in s.rule.describe()
    # an explicit se_column wins over the score's default
    assert SelectionRule(se_column="my_se").score_se_column == "my_se"
    with pytest.raises(StudyConfigError, match="selection score must be one of"):
        SelectionRule(score="auc")
