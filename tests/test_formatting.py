"""Display labels from the codebook (analysis.formatting): columns, levels, terms, units."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.formatting import (
    codebook_labels,
    column_label,
    estimate_labels,
    estimate_unit,
    format_estimates,
    label_table,
    level_label,
    level_labels,
    term_label,
)
from analysis.study.config import load_study

CODEBOOK = {
    "age": {"type": "numeric", "label": "Age", "unit": "years"},
    "crp_mg_l": {"type": "numeric", "label": "C-reactive protein", "unit": "mg/L", "transform": "log"},
    "hct": {"type": "numeric", "label": "Haematocrit", "unit": "%"},
    "score": {"type": "integer", "label": "Score"},
    "perianal": {"type": "binary", "label": "Perianal disease"},
    "arm": {"type": "categorical", "label": "Treatment arm", "levels": ["mucosal", "iv_mucosal"]},
    "sex": {"type": "categorical", "label": "Sex", "levels": ["female", "male"]},
}


def test_column_and_term_labels_come_from_the_codebook():
    assert column_label("crp_mg_l", CODEBOOK) == "C-reactive protein (mg/L)"
    assert column_label("unknown_col", CODEBOOK) == "unknown_col"
    assert term_label("sex[male]", CODEBOOK) == "Sex: male"
    assert term_label("arm[iv_mucosal]", CODEBOOK) == "Treatment arm: iv mucosal"
    assert term_label("crp_mg_l", CODEBOOK) == "C-reactive protein (mg/L, log)"
    assert term_label("age'", CODEBOOK) == "Age (spline term 1)"


def test_level_labels_prefer_the_codebook_mapping_and_never_show_underscores():
    assert level_label("arm", "iv_mucosal", CODEBOOK) == "iv mucosal"
    coded = {"arm": {**CODEBOOK["arm"], "level_labels": {"iv_mucosal": "IV + mucosal"}}}
    assert level_label("arm", "iv_mucosal", coded) == "IV + mucosal"
    assert term_label("arm[iv_mucosal]", coded) == "Treatment arm: IV + mucosal"


@pytest.mark.parametrize(("term", "reference", "unit"), [
    ("age", None, "per 1 year"),                       # "years" read as one year
    ("crp_mg_l", None, "per doubling"),      # base-2 log: one unit = doubling
    ("hct", None, "per 1 percentage point"),
    ("score", None, "per 1 unit"),                     # no unit in the codebook
    ("perianal", None, "yes vs no"),
    ("sex[male]", None, "vs female"),                  # first codebook level
    ("arm[iv_mucosal]", "mucosal", "vs mucosal"),      # the table's reference column
    ("age'", None, ""),                                # a spline term has no unit
])
def test_estimate_unit_matches_how_the_tables_scale_each_term(term, reference, unit):
    assert estimate_unit(term, CODEBOOK, reference=reference) == unit


def test_estimate_labels_and_formatted_table_use_labels_and_units():
    table = pd.DataFrame({"term": ["age", "sex[male]", "crp_mg_l"], "odds_ratio": [1.1, 2.0, math.nan],
                          "ci_lower": [1.0, 1.5, math.nan], "ci_upper": [1.2, 2.7, math.nan],
                          "p_value": [0.04, 0.0001, math.nan], "n": 50,
                          "reference": [None, "female", None]})
    assert estimate_labels(table, CODEBOOK) == [
        "Age (per 1 year)", "Sex: male (vs female)", "C-reactive protein (per doubling)"]
    out = format_estimates(table, CODEBOOK)
    assert out.to_dict("list") == {
        "Term": ["Age (per 1 year)", "Sex: male (vs female)", "C-reactive protein (per doubling)"],
        "OR (95% CI)": ["1.10 (1.00 to 1.20)", "2.00 (1.50 to 2.70)", "not estimable"],
        "P-value": ["0.040", "<0.001", ""], "n": [50, 50, 50]}


def test_spline_terms_are_labelled_as_such():
    table = pd.DataFrame({"term": ["age", "age'", "age''"]})
    assert estimate_labels(table, CODEBOOK) == [
        "Age (spline, linear term)", "Age (spline term 1)", "Age (spline term 2)"]


def test_label_table_changes_the_formatted_copy_only():
    tidy = pd.DataFrame({"var1": ["age", "crp_mg_l"], "var2": ["crp_mg_l", "nope"], "r": [0.1, 0.2],
                         "term": ["sex[male]", "age"]})
    before = tidy.copy()
    shown = label_table(tidy, CODEBOOK)
    pd.testing.assert_frame_equal(tidy, before)
    assert shown["var1"].tolist() == ["Age (years)", "C-reactive protein (mg/L)"]
    assert shown["var2"].tolist() == ["C-reactive protein (mg/L)", "nope"]
    assert shown["term"].tolist() == ["Sex: male", "Age (years)"]
    assert shown["r"].tolist() == [0.1, 0.2]


def test_codebook_labels_of_a_real_study_cover_every_predictor_without_raw_names():
    study = load_study("cd-msc")
    labels = codebook_labels(study.codebook())
    assert labels["crp_mg_l"] == "C-reactive protein (mg/L)"
    assert labels["arm[iv_mucosal]"] == "Treatment arm: IV + mucosal"  # study.yaml level_labels
    assert all("_" not in labels[p] for p in study.predictors)


def test_binary_groups_read_as_label_yes_or_no_in_legends():
    labels = level_labels("anti_dsdna", {"anti_dsdna": {"type": "binary", "label": "Anti-dsDNA positive"}})
    assert labels["1"] == labels["1.0"] == "Anti-dsDNA positive: yes"
    assert labels["0"] == labels["0.0"] == "Anti-dsDNA positive: no"


def test_small_counts_are_suppressed_only_in_count_columns():
    from analysis.formatting import suppress_small_counts

    t = pd.DataFrame({"arm": ["a", "b", "c", "d"], "n": [20, 4, 1, 0], "events": [5.0, 2.0, np.nan, 0.0],
                      "proportion": [0.25, 0.5, 1.0, 0.0], "visit": [4, 4, 4, 4]})
    out = suppress_small_counts(t, 5)
    assert out["n"].tolist() == [20, "<5", "<5", 0]          # 1..4 hidden, 0 and >= 5 shown
    assert out["events"].tolist()[:2] == [5.0, "<5"] and np.isnan(out["events"][2])
    assert out["proportion"].tolist() == t["proportion"].tolist()   # not a count column
    assert out["visit"].tolist() == [4, 4, 4, 4]                      # nor is the visit week
    assert suppress_small_counts(t, None) is t
