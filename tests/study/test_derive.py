"""Derivations in study.yaml: a safe expression language over columns and index functions."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import StudyConfigError
from analysis.indices.crohns import cdai
from analysis.study.derive import (
    baseline_lookup,
    derivation_table,
    derive_columns,
    evaluate,
    visit_lookup,
)


def frame():
    return pd.DataFrame({
        "disease": ["CD", "UC", "CD", None],
        "w0": [300.0, 10.0, 250.0, 280.0],
        "w14": [200.0, 6.0, 240.0, np.nan],
        "rb0": [np.nan, 2.0, np.nan, np.nan],
        "rb14": [np.nan, 0.0, np.nan, np.nan],
    })


def test_arithmetic_and_missing_propagation():
    out = evaluate("(w0 - w14) / w0 * 100", frame())
    assert out.iloc[0] == pytest.approx(100 / 3)
    assert np.isnan(out.iloc[3])


def test_disease_specific_rule_with_where():
    out = evaluate(
        'where(disease == "CD", cdai_response(w0, w14), mayo_response(w0, w14, rb0, rb14))', frame()
    )
    # CD: 300 -> 200 is a response; UC: 10 -> 6 (-4, -40%, RB 2 -> 0) is a response;
    # CD: 250 -> 240 is not; a missing disease gives a missing outcome
    assert out.iloc[:3].tolist() == [1.0, 1.0, 0.0]
    assert np.isnan(out.iloc[3])


def test_index_function_matches_direct_call():
    df = pd.DataFrame({"s": [28.0], "p": [14.0], "w": [14.0], "c": [2.0], "a": [1.0], "m": [2.0],
                       "h": [38.0], "sex": ["M"], "ht": [175.0], "wt": [60.0]})
    out = evaluate("cdai(s, p, w, c, a, m, h, sex, ht, wt)", df)
    assert out.iloc[0] == pytest.approx(379.35, abs=0.01)  # worked example A of the spec
    assert out.iloc[0] == pytest.approx(float(cdai(28, 14, 14, 2, 1, 2, 38, "M", 175, 60)))


def test_keyword_options_are_passed_and_echoed():
    df = frame()
    strict = evaluate("cdai_response(w0, w14, threshold=100)", df)
    assert strict.iloc[0] == 1.0 and evaluate("cdai_response(w0, w14, threshold=101)", df).iloc[0] == 0.0
    table = derivation_table({"r": "cdai_response(w0, w14, threshold=100)", "x": "w0 * 2"})
    assert table.loc[0, "options"] == "cdai_response: threshold=100"
    assert table.loc[0, "functions"] == "cdai_response" and table.loc[1, "functions"] == ""


def test_later_derivations_use_earlier_ones():
    out = derive_columns(frame(), {"drop": "w0 - w14", "big": "drop >= 100"})
    assert out["big"].tolist()[:3] == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("expression, message", [
    ("nosuch(w0)", "unknown function 'nosuch'"),
    ("w0 + nothere", "unknown column 'nothere'"),
    ("w0.__class__", "is not allowed"),
    ("__import__('os')", "unknown function '__import__'"),
    ("(lambda: 1)()", "only plain function calls"),
    ("w0 +", "cannot parse"),
    ("cdai_response(w0)", "cdai_response()"),
])
def test_bad_expressions_are_clear_errors(expression, message):
    with pytest.raises(StudyConfigError, match="derive.x") as err:
        evaluate(expression, frame(), name="x")
    assert message in str(err.value)


def test_suffixed_and_stack_build_tables_for_index_functions():
    items = {"seizure": [0, 0], "arthritis": [1, 0], "rash": [1, 1], "low_complement": [1, 1]}
    lupus = [k for k in (
        "seizure psychosis organic_brain_syndrome visual_disturbance cranial_nerve lupus_headache "
        "cva vasculitis arthritis myositis urinary_casts hematuria proteinuria pyuria rash alopecia "
        "mucosal_ulcers pleurisy pericarditis low_complement increased_dna_binding fever "
        "thrombocytopenia leukopenia").split()]
    df = pd.DataFrame({f"{k}_w0": items.get(k, [0, 0]) for k in lupus})
    out = evaluate('sledai_2k(suffixed("_w0"))', df)
    assert out.tolist() == [4 + 2 + 2, 2 + 2]
    segs = pd.DataFrame({f"{i}_{s}": [v] for s in range(5) for i, v in zip("uvan", (2, 2, 3, 1) if s == 0 else (0, 0, 0, 0), strict=True)})
    total = evaluate("ses_cd(stack(u_0, u_1, u_2, u_3, u_4), stack(v_0, v_1, v_2, v_3, v_4),"
                     " stack(a_0, a_1, a_2, a_3, a_4), stack(n_0, n_1, n_2, n_3, n_4))", segs)
    assert total.tolist() == [8.0]
    with pytest.raises(StudyConfigError, match="no column ends in '_w9'"):
        evaluate('sledai_2k(suffixed("_w9"))', df)


def test_visit_and_baseline_lookups():
    visits = pd.DataFrame({"id": ["a", "a", "b", "b"], "week": [0, 12, 0, 12],
                           "cdai": [300.0, 120.0, 280.0, 260.0]})
    ids = pd.Series(["b", "a", "c"])
    assert visit_lookup(visits, "id", "week", ids)("cdai", 12).tolist()[:2] == [260.0, 120.0]
    assert np.isnan(visit_lookup(visits, "id", "week", ids)("cdai", 12).iloc[2])
    with pytest.raises(StudyConfigError, match="no visits at week = 99"):
        visit_lookup(visits, "id", "week", ids)("cdai", 99)
    base = baseline_lookup(visits, "id", "week", 0)
    out = derive_columns(visits, {"drop": "baseline(cdai) - cdai"}, {"baseline": base})
    assert out["drop"].tolist() == [0.0, 180.0, 0.0, 20.0]


def test_list_of_columns_is_a_table_not_transposed():
    # five rows and five segment columns: a transposed reading would give other totals
    rng = np.random.default_rng(3)
    df = pd.DataFrame({f"{item}{s}": rng.integers(0, 3, 5).astype(float)
                       for item in "uvan" for s in range(5)})
    listed = evaluate("ses_cd([u0, u1, u2, u3, u4], [v0, v1, v2, v3, v4], [a0, a1, a2, a3, a4], "
                      "[n0, n1, n2, n3, n4])", df)
    expected = df.sum(axis=1)
    assert listed.tolist() == expected.tolist()


def test_impossible_index_input_is_a_data_error_naming_the_derivation():
    from analysis.errors import DataValidationError

    df = pd.DataFrame({"t": [30.0], "s": [2.0], "e": [20.0], "g": [50.0]})
    with pytest.raises(DataValidationError, match="column 'das': das28_esr\\(\\): tjc28"):
        evaluate("das28_esr(t, s, e, g)", df, name="das")


def test_patient_lookup_reads_cohort_columns_for_each_visit():
    from analysis.study.derive import patient_lookup

    cohort = pd.DataFrame({"id": ["a", "b"], "sex": ["F", "M"]})
    visits = pd.DataFrame({"id": ["b", "a", "b"], "week": [0, 0, 4]})
    out = derive_columns(visits, {"male": 'patient("sex") == "M"'},
                         {"patient": patient_lookup(visits, "id", cohort)})
    assert out["male"].tolist() == [1.0, 0.0, 1.0]


def test_baseline_inside_where_uses_the_whole_table():
    visits = pd.DataFrame({"id": ["a", "a", "b", "b"], "week": [0, 12, 0, 12],
                           "cdai": [300.0, 200.0, 280.0, 260.0]})
    out = derive_columns(visits, {"resp": "where(week > 0, cdai_response(baseline(cdai), cdai), None)"},
                         {"baseline": baseline_lookup(visits, "id", "week", 0)})
    assert np.isnan(out["resp"].iloc[0]) and np.isnan(out["resp"].iloc[2])
    assert out["resp"].iloc[[1, 3]].tolist() == [1.0, 0.0]
