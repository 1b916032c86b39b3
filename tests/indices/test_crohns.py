"""Crohn's disease indices against the worked examples of clinical-indices.md §1."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import IndexInputError
from analysis.indices import crohns

NAN = float("nan")

# Spec §1.1 cases: (sex; stools, pain, wellbeing; compl; antidiarr; mass; Hct; height; weight)
CASE_A = (28, 14, 14, 2, 1, 2, 38, "M", 175, 60)
CASE_B = (7, 0, 3, 0, 0, 0, 40, "F", 165, 62)
CASE_C = (10, 7, 7, 0, 0, 0, 45, "F", 160, 80)


# ------------------------------------------------------------------------------ CDAI
@pytest.mark.parametrize(("case", "expected"), [(CASE_A, 379.35), (CASE_B, 37.51), (CASE_C, 76.0)])
def test_cdai_worked_examples(case, expected):
    assert crohns.cdai(*case) == pytest.approx(expected, abs=0.01)


def test_cdai_weight_term_floor_is_a_variant():
    # Case C: weight term -50.24 floored to -10 by default; unfloored 76.0 - 40.24 = 35.76.
    assert crohns.cdai(*CASE_C, weight_floor=None) == pytest.approx(35.76, abs=0.01)
    assert crohns.cdai(*CASE_C, weight_floor=-20) == pytest.approx(66.0, abs=0.01)


def test_cdai_hematocrit_term_signed_by_default_and_clampable():
    # Case C woman with Hct 45 > 42: term 6*(42-45) = -18 signed; clamped it is 0.
    assert crohns.cdai(*CASE_C, clamp_hematocrit=True) == pytest.approx(94.0, abs=0.01)


def test_cdai_accepts_male_female_words_case_insensitively():
    words = list(CASE_A)
    words[7] = " Male"
    assert crohns.cdai(*words) == pytest.approx(379.35, abs=0.01)
    words = list(CASE_B)
    words[7] = "FEMALE"
    assert crohns.cdai(*words) == pytest.approx(37.51, abs=0.01)


def test_cdai_series_keeps_index_and_propagates_missing():
    idx = pd.Index(["p1", "p2", "p3"])
    cols = list(zip(CASE_A, CASE_B, CASE_C, strict=True))
    stools = pd.Series(cols[0], index=idx, dtype=float)
    sex = pd.Series(["M", "F", None], index=idx)
    out = crohns.cdai(stools, *cols[1:7], sex, *cols[8:])
    assert isinstance(out, pd.Series)
    assert list(out.index) == ["p1", "p2", "p3"]
    assert out["p1"] == pytest.approx(379.35, abs=0.01)
    assert out["p2"] == pytest.approx(37.51, abs=0.01)
    assert np.isnan(out["p3"])  # missing sex


def test_cdai_array_in_array_out_with_nan():
    stools = np.array([28.0, NAN])
    out = crohns.cdai(stools, 14, 14, 2, 1, 2, 38, "M", 175, 60)
    assert isinstance(out, np.ndarray) and out.shape == (2,)
    assert out[0] == pytest.approx(379.35, abs=0.01)
    assert np.isnan(out[1])


@pytest.mark.parametrize(
    ("position", "value", "fragment"),
    [
        (0, -1, "liquid_stools: must be at least 0"),
        (1, 22, "abdominal_pain: must be between 0 and 21"),
        (2, 29, "general_wellbeing: must be between 0 and 28"),
        (3, 7, "complications: must be a whole number between 0 and 6"),
        (4, 2, "antidiarrheal: must be True/False"),
        (5, 3, "abdominal_mass: must be one of 0, 2, 5"),
        (6, 0.38, "hematocrit: must be a percentage"),
        (7, "X", "sex: must be 'M'/'F'"),
        (8, 1.75, "height_cm: must be in centimetres"),
        (9, 0, "weight_kg: must be greater than 0"),
    ],
)
def test_cdai_rejects_impossible_inputs(position, value, fragment):
    args = list(CASE_A)
    args[position] = value
    with pytest.raises(IndexInputError, match=fragment):
        crohns.cdai(*args)


def test_cdai_error_names_position_in_array():
    with pytest.raises(IndexInputError, match=r"abdominal_pain: .* \(got 30 at position 2\)"):
        crohns.cdai(28, [1, 2, 30], 14, 2, 1, 2, 38, "M", 175, 60)


def test_cdai_response_and_remission_worked_example():
    # A followed up at 270: delta 109.35 -> CR-70 and CR-100, not remission.
    assert crohns.cdai_response(379.35, 270) is True
    assert crohns.cdai_response(379.35, 270, threshold=100) is True
    assert crohns.cdai_remission(270) is False
    assert crohns.cdai_response(379.35, 320) is False  # delta 59.35
    assert crohns.cdai_response(300, 230) is True  # exactly 70
    assert crohns.cdai_remission(149.99) is True
    assert crohns.cdai_remission(150) is False


def test_cdai_rules_missing_is_na_and_series_is_nullable_boolean():
    assert crohns.cdai_response(NAN, 100) is pd.NA
    assert crohns.cdai_remission(None) is pd.NA
    out = crohns.cdai_response(pd.Series([379.35, NAN], index=[10, 20]), 270)
    assert out.dtype == "boolean" and list(out.index) == [10, 20]
    assert out.astype(object).tolist() == [True, pd.NA]


def test_cdai_category_cut_offs():
    values = np.array([149.9, 150, 219, 220, 450, 450.1, NAN])
    expected = ["remission", "mild", "mild", "moderate", "moderate", "severe", None]
    assert crohns.cdai_category(values).tolist() == expected
    assert crohns.cdai_category(379.35) == "moderate"
    assert crohns.cdai_category(37.51) == "remission"


# ------------------------------------------------------------------------------- HBI
def test_hbi_worked_examples():
    assert crohns.hbi(2, 2, 6, 1, 2) == 13.0
    assert crohns.hbi_category(13) == "moderate"
    assert crohns.hbi(1, 0, 2, 0, 0) == 3.0
    assert crohns.hbi_category(3) == "remission"
    # 13 -> 9: response, not remission
    assert crohns.hbi_response(13, 9) is True
    assert crohns.hbi_remission(9) is False


def test_hbi_category_and_remission_variant():
    assert crohns.hbi_category(np.array([4, 5, 7, 8, 16, 17])).tolist() == [
        "remission",
        "mild",
        "mild",
        "moderate",
        "moderate",
        "severe",
    ]
    assert crohns.hbi_remission(4) is True
    assert crohns.hbi_remission(4, threshold=4) is False  # some protocols: < 4
    assert crohns.hbi_response(13, 11) is False


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((5, 0, 0, 0, 0), "wellbeing: must be a whole number between 0 and 4"),
        ((0, 4, 0, 0, 0), "abdominal_pain: must be a whole number between 0 and 3"),
        ((0, 0, -1, 0, 0), "liquid_stools: must be a whole number of at least 0"),
        ((0, 0, 1.5, 0, 0), "liquid_stools"),
        ((0, 0, 0, 4, 0), "abdominal_mass: must be a whole number between 0 and 3"),
        ((0, 0, 0, 0, 9), "complications: must be a whole number between 0 and 8"),
    ],
)
def test_hbi_rejects_impossible_inputs(args, fragment):
    with pytest.raises(IndexInputError, match=fragment):
        crohns.hbi(*args)


# ----------------------------------------------------------------------------- SES-CD
# Spec §1.3: segments (2,2,3,1)+(1,1,1,0)+0+(2,2,2,0)+(0,0,1,0) = 18, as item rows.
SIZE = [2, 1, 0, 2, 0]
ULCERATED = [2, 1, 0, 2, 0]
AFFECTED = [3, 1, 0, 2, 1]
NARROWING = [1, 0, 0, 0, 0]


def test_ses_cd_worked_example():
    assert crohns.ses_cd(SIZE, ULCERATED, AFFECTED, NARROWING) == 18.0


def test_ses_cd_response_and_remission_worked_examples():
    # 18 -> 7: -61.1 %, response, not remission
    assert crohns.ses_cd_response(18, 7) is True
    assert crohns.ses_cd_remission(7) is False
    # 4 -> 2: response under >= 50 %, remission under <= 2
    assert crohns.ses_cd_response(4, 2) is True
    assert crohns.ses_cd_remission(2) is True


def test_ses_cd_response_variants():
    assert crohns.ses_cd_response(18, 9) is True  # exactly 50 %
    assert crohns.ses_cd_response(18, 9, rule="u_excel") is False  # needs > 50 %
    assert crohns.ses_cd_response(18, 8, rule="u_excel") is True
    assert crohns.ses_cd_response(4, 2, rule="u_excel") is True  # 2-point drop at baseline 4
    assert crohns.ses_cd_response(4, 3, rule="u_excel") is False
    assert crohns.ses_cd_response(18, 10) is False
    assert crohns.ses_cd_response(0, 0) is pd.NA  # relative change from 0 undefined


def test_ses_cd_remission_variants():
    assert crohns.ses_cd_remission(3) is False
    assert crohns.ses_cd_remission(3, rule="lt4") is True
    assert crohns.ses_cd_remission(4, rule="lt4") is False
    assert crohns.ses_cd_remission(1, rule="eq0") is False
    assert crohns.ses_cd_remission(0, rule="eq0") is True


def test_ses_cd_unexplored_segment_is_skipped_partial_segment_is_missing():
    size = [NAN, 1, 0, 2, 0]
    ulcerated = [NAN, 1, 0, 2, 0]
    affected = [NAN, 1, 0, 2, 1]
    narrowing = [NAN, 0, 0, 0, 0]
    # ileum not explored: 18 - (2+2+3+1) = 10
    assert crohns.ses_cd(size, ulcerated, affected, narrowing) == 10.0
    narrowing_partial = [1, 0, 0, 0, 0]
    assert np.isnan(crohns.ses_cd(size, ulcerated, affected, narrowing_partial))
    empty = [NAN] * 5
    assert np.isnan(crohns.ses_cd(empty, empty, empty, empty))


def test_ses_cd_two_dimensional_and_dataframe_input():
    size = np.array([SIZE, [0] * 5])
    ulcerated = np.array([ULCERATED, [0] * 5])
    affected = np.array([AFFECTED, [1] * 5])
    narrowing = np.array([NARROWING, [0, 0, 0, 0, 3]])
    out = crohns.ses_cd(size, ulcerated, affected, narrowing)
    assert isinstance(out, np.ndarray)
    assert out.tolist() == [18.0, 8.0]
    frames = [pd.DataFrame(m, index=["a", "b"]) for m in (size, ulcerated, affected, narrowing)]
    series = crohns.ses_cd(*frames)
    assert isinstance(series, pd.Series) and series.to_dict() == {"a": 18.0, "b": 8.0}


def test_ses_cd_errors():
    with pytest.raises(IndexInputError, match=r"ulcer_size: must hold 5 segment scores"):
        crohns.ses_cd([0] * 4, [0] * 5, [0] * 5, [0] * 5)
    with pytest.raises(
        IndexInputError, match="affected_surface: must be a whole number between 0 and 3"
    ):
        crohns.ses_cd(SIZE, ULCERATED, [4, 0, 0, 0, 0], NARROWING)
    with pytest.raises(IndexInputError, match="narrowing: at most one segment"):
        crohns.ses_cd(SIZE, ULCERATED, AFFECTED, [3, 3, 0, 0, 0])
    with pytest.raises(IndexInputError, match="rule: must be one of"):
        crohns.ses_cd_response(18, 7, rule="60pct")
    with pytest.raises(IndexInputError, match="baseline: must be between 0 and 56"):
        crohns.ses_cd_response(57, 7)


# ----------------------------------------------------------------------------- IUS
@pytest.mark.parametrize(
    ("args", "expected"),
    [((6.0, 2, 2, 2), 76.0), ((2.8, 0, 0, 0), 11.2), ((4.5, 1, 1, 0), 40.0)],
)
def test_ibus_sas_worked_examples(args, expected):
    assert crohns.ibus_sas(*args) == pytest.approx(expected, abs=0.01)


def test_ius_response_worked_examples():
    # BWT 6.0 -> 4.4 (-26.7 %): response under every rule, not remission
    assert crohns.ius_response(6.0, 4.4) is True
    assert crohns.ius_response(6.0, 4.4, rule="1mm") is True
    assert (
        crohns.ius_response(6.0, 4.4, rule="25pct_or_cds", cds_baseline=2, cds_followup=2) is True
    )
    assert crohns.ius_remission(4.4) is False
    # BWT 5.0 -> 3.9 (-22 %) with CDS 2 -> 1: fails >= 25 %, passes the multiparameter rule
    assert crohns.ius_response(5.0, 3.9) is False
    assert (
        crohns.ius_response(5.0, 3.9, rule="25pct_or_cds", cds_baseline=2, cds_followup=1) is True
    )
    assert crohns.ius_response(5.0, 3.9, rule="1mm") is True  # 1.1 mm drop


def test_ius_response_boundaries():
    assert crohns.ius_response(4.0, 3.0) is True  # exactly 25 %
    assert crohns.ius_response(4.0, 3.1, rule="1mm") is False  # 0.9 mm
    # CDS drop without any BWT decrease is not a response
    assert (
        crohns.ius_response(5.0, 5.0, rule="25pct_or_cds", cds_baseline=3, cds_followup=1) is False
    )
    with pytest.raises(IndexInputError, match="cds_baseline"):
        crohns.ius_response(5.0, 3.9, rule="25pct_or_cds")


def test_ius_remission_variants():
    assert crohns.ius_remission(3.0) is True
    assert crohns.ius_remission(2.8, rule="all_normal", i_fat=0, cds=0, bws=0) is True
    assert crohns.ius_remission(2.8, rule="all_normal", i_fat=0, cds=1, bws=0) is False
    assert crohns.ius_remission(3.5, rule="all_normal", i_fat=0, cds=0, bws=0) is False
    with pytest.raises(IndexInputError, match="bws: rule 'all_normal' needs"):
        crohns.ius_remission(2.8, rule="all_normal", i_fat=0, cds=0)


def test_limberg_grade():
    out = crohns.limberg_grade(np.array([2.8, 4.0, 6.0, 7.0, NAN]), np.array([2, 0, 1, 3, 0]))
    assert out[:4].tolist() == [0.0, 1.0, 2.0, 4.0] and np.isnan(out[4])


def test_ius_errors_and_shapes():
    with pytest.raises(IndexInputError, match="bwt_mm: must be greater than 0 mm"):
        crohns.ibus_sas(0, 0, 0, 0)
    with pytest.raises(IndexInputError, match="i_fat: must be a whole number between 0 and 2"):
        crohns.ibus_sas(3, 3, 0, 0)
    with pytest.raises(IndexInputError, match="cds: must be a whole number between 0 and 3"):
        crohns.ibus_sas(3, 0, 4, 0)
    out = crohns.ius_response(pd.Series([6.0, NAN, 5.0], index=list("xyz")), 4.4)
    assert out.dtype == "boolean" and list(out.index) == list("xyz")
    assert out.astype(object).tolist() == [True, pd.NA, False]
    arr = crohns.ius_response(np.array([6.0, 5.0]), np.array([4.4, 3.9]))
    assert isinstance(arr, pd.arrays.BooleanArray) and arr.tolist() == [True, False]
