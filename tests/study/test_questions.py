"""study.yaml's endpoints, safety, added_value and phenotypes blocks: parsed, defaulted, checked."""

from __future__ import annotations

import pytest
from conftest import REPO, make_study

from analysis.errors import StudyConfigError
from analysis.study.config import load_study

BASE = {
    "title": "Visit cohort",
    "id": "patient_id",
    "outcome": "response",
    "group": "arm",
    "predictors": ["age", "crp", "crp_w4"],
    "variables": {
        "age": {"type": "numeric"}, "crp": {"type": "numeric"}, "crp_w4": {"type": "numeric"},
        "arm": {"type": "categorical", "levels": ["a", "b"]},
        "response": {"type": "binary"}, "remission": {"type": "binary"},
    },
    "visits": {"data": "raw/visits.csv", "time": "week", "times": [0, 4, 12],
               "variables": {"resp": {"type": "binary"}, "remit": {"type": "binary"},
                             "ae": {"type": "integer", "min": 0}, "sae": {"type": "binary"},
                             "score": {"type": "numeric"}}},
}


def load(tmp_path, **blocks):
    make_study(tmp_path, "s", {**BASE, **blocks})
    return load_study("s", root=tmp_path)


def problems(tmp_path, **blocks) -> str:
    make_study(tmp_path, "s", {**BASE, **blocks})
    with pytest.raises(StudyConfigError) as err:
        load_study("s", root=tmp_path)
    return str(err.value)


def test_blocks_are_parsed_with_their_defaults(tmp_path):
    study = load(tmp_path, endpoints={"outcomes": ["resp", "remit"],
                                      "composites": {"both": ["resp", "remit"]}},
                 safety={"count": "ae", "serious": "sae"},
                 added_value={"baseline": ["age", "crp"], "extended": ["age", "crp", "crp_w4"],
                              "markers": ["crp_w4"]},
                 phenotypes={"variables": ["age", "crp"], "outcomes": ["remission"]})
    assert study.endpoints == {"outcomes": ["resp", "remit"], "composites": {"both": ["resp", "remit"]},
                               "arm": "arm", "ci": "clopper-pearson"}
    assert study.safety == {"count": "ae", "serious": "sae"}
    assert study.added_value["markers"] == ["crp_w4"]
    assert study.phenotypes["max_clusters"] == 6 and study.phenotypes["candidate_predictor"] is False


def test_a_study_without_the_blocks_has_none(tmp_path):
    study = load(tmp_path)
    assert (study.endpoints, study.safety, study.added_value, study.phenotypes) == (None,) * 4


def test_endpoint_problems_name_the_key(tmp_path):
    text = problems(tmp_path, endpoints={"outcomes": ["resp", "score", "nope"],
                                         "composites": {"c": ["resp"]}, "arm": "age",
                                         "ci": "wald", "colour": 1})
    assert "endpoints: unknown key 'colour'" in text
    assert "endpoints.outcomes: 'score' must be binary (it is numeric)" in text
    assert "endpoints.outcomes: 'nope' is not declared under 'variables'" in text
    assert "endpoints.composites.c: combine at least two outcomes" in text
    assert "endpoints.arm: 'age' must be categorical or binary" in text
    assert "endpoints.ci must be one of clopper-pearson, wilson" in text


def test_endpoints_and_safety_need_visits(tmp_path):
    base = {k: v for k, v in BASE.items() if k != "visits"}
    make_study(tmp_path, "novisits", {**base, "endpoints": {"outcomes": ["resp"]},
                                      "safety": {"count": "ae"}})
    with pytest.raises(StudyConfigError) as err:
        load_study("novisits", root=tmp_path)
    assert "endpoints: needs a 'visits' block" in str(err.value)
    assert "safety: needs a 'visits' block" in str(err.value)


def test_reference_must_be_a_level_and_safety_types_are_checked(tmp_path):
    text = problems(tmp_path, endpoints={"outcomes": ["resp"], "reference": "c"},
                    safety={"count": "sae", "serious": "ae"})
    assert "endpoints.reference: 'c' is not a level of 'arm' (a, b)" in text
    assert "safety.count: 'sae' must be integer or numeric (it is binary)" in text
    assert "safety.serious: 'ae' must be binary (it is integer)" in text


def test_added_value_and_phenotype_problems(tmp_path):
    text = problems(tmp_path, added_value={"baseline": ["age", "crp"], "extended": ["age", "crp"],
                                           "markers": ["arm"]},
                    phenotypes={"variables": ["age"], "outcomes": ["crp"], "max_clusters": 40,
                                "candidate_predictor": True})
    assert "added_value.extended: must add at least one predictor to the baseline set" in text
    assert "added_value.markers: 'arm' must be numeric or integer (it is categorical)" in text
    assert "phenotypes.variables: list at least two baseline variables" in text
    assert "phenotypes.outcomes: 'crp' must be binary (it is numeric)" in text
    assert "phenotypes.max_clusters must be an integer from 2 to 12" in text
    assert "candidate_predictor" not in text  # true is accepted


@pytest.mark.parametrize("k", [1, 13, 2.5, "3", True])
def test_an_invalid_phenotype_k_is_an_error_naming_the_key(tmp_path, k):
    text = problems(tmp_path, phenotypes={"variables": ["age", "crp"], "candidate_predictor": True,
                                          "k": k})
    assert f"phenotypes.k must be an integer from 2 to 12 (the number of phenotype classes " \
           f"offered to the models), got {k!r}" in text


def test_the_phenotype_as_candidate_predictor_adds_its_variables_to_the_model_inputs(tmp_path):
    declared = load(tmp_path, phenotypes={"variables": ["crp", "remission", "arm"],
                                          "candidate_predictor": True, "k": 3})
    assert declared.phenotype_predictor and declared.phenotypes["k"] == 3
    # predictors first, then the phenotype-only variables in their declared order
    assert declared.model_inputs == ("age", "crp", "crp_w4", "remission", "arm")
    described = load(tmp_path, phenotypes={"variables": ["crp", "remission"]})
    assert not described.phenotype_predictor
    assert described.model_inputs == ("age", "crp", "crp_w4")


@pytest.mark.parametrize("study, block", [("cd-msc", "endpoints"), ("cd-msc", "safety"),
                                          ("cd-upadacitinib-ius", "added_value")])
def test_shipped_studies_declare_their_questions(study, block):
    assert getattr(load_study(study, root=REPO), block)
