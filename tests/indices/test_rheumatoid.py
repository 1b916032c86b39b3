"""RA indices against the worked examples of clinical-indices.md §3."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import IndexInputError
from analysis.indices import rheumatoid as ra

NAN = float("nan")


# ------------------------------------------------------------------------------ DAS28
def test_das28_worked_examples():
    assert ra.das28_esr(8, 6, 40, 60) == pytest.approx(5.692, abs=0.001)
    assert ra.das28_crp(8, 6, 15, 60) == pytest.approx(5.068, abs=0.001)
    assert ra.das28_esr(2, 1, 12, 20) == pytest.approx(3.091, abs=0.001)
    assert ra.das28_crp(2, 1, 4, 20) == pytest.approx(2.891, abs=0.001)


def test_das28_categories_worked_examples_and_cut_offs():
    assert ra.das28_category(5.692) == "high"
    assert ra.das28_category(5.068) == "moderate"
    assert ra.das28_category(3.091) == "low"
    values = np.array([2.59, 2.6, 3.2, 3.21, 5.1, 5.11, NAN])
    assert ra.das28_category(values).tolist() == [
        "remission",
        "low",
        "low",
        "moderate",
        "moderate",
        "high",
        None,
    ]


def test_eular_response_worked_examples():
    # 5.692 -> 3.091: improvement 2.601, current <= 3.2 -> good
    assert ra.eular_response(5.692, 3.091) == "good"
    assert ra.eular_response(5.5, 4.6) == "moderate"
    assert ra.eular_response(6.0, 5.3) == "none"


def test_eular_response_table_cells():
    # one pair per cell of the EULAR table (rows: current DAS28; columns: improvement)
    pairs = [
        (4.5, 3.0, "good"),  # <= 3.2, improvement 1.5
        (3.8, 3.0, "moderate"),  # <= 3.2, 0.8
        (3.5, 3.0, "none"),  # <= 3.2, 0.5
        (6.0, 4.5, "moderate"),  # 3.2-5.1, 1.5
        (5.5, 4.6, "moderate"),  # 3.2-5.1, 0.9
        (5.0, 4.5, "none"),  # 3.2-5.1, 0.5
        (6.6, 5.2, "moderate"),  # > 5.1, 1.4
        (6.3, 5.2, "none"),  # > 5.1, 1.1
        (5.8, 5.2, "none"),  # > 5.1, 0.6 exactly (not > 0.6)
        (3.0, 3.5, "none"),  # worsening
    ]
    baseline, current, expected = zip(*pairs, strict=True)
    out = ra.eular_response(np.array(baseline), np.array(current))
    assert isinstance(out, np.ndarray) and out.dtype == object
    assert out.tolist() == list(expected)


def test_eular_response_boundaries_are_not_fooled_by_floating_point():
    # 4.4 - 3.2 is 1.2000000000000002 in binary: still "> 0.6 and <= 1.2" -> moderate
    assert ra.eular_response(4.4, 3.2) == "moderate"
    # current > 5.1 with an improvement of exactly 1.2 (not > 1.2) -> none
    assert ra.eular_response(6.5, 5.3) == "none"
    assert ra.eular_response(6.51, 5.3) == "moderate"


def test_eular_response_missing_and_series():
    assert ra.eular_response(5.0, NAN) is None
    out = ra.eular_response(pd.Series([5.692, NAN], index=["a", "b"]), 3.091)
    assert isinstance(out, pd.Series) and out.to_dict() == {"a": "good", "b": None}


def test_das28_shapes_and_missing():
    tjc = pd.Series([8, 2, NAN], index=[3, 1, 2])
    out = ra.das28_esr(tjc, [6, 1, 1], [40, 12, 10], [60, 20, 20])
    assert list(out.index) == [3, 1, 2]
    assert out.iloc[:2].to_numpy() == pytest.approx([5.692, 3.091], abs=0.001)
    assert np.isnan(out[2])


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (
            lambda: ra.das28_esr([1, 2, 30], 1, 10, 10),
            r"tjc28: must be a whole number between 0 and 28 \(got 30 at position 2\)",
        ),
        (lambda: ra.das28_esr(1, 29, 10, 10), "sjc28: must be a whole number between 0 and 28"),
        (lambda: ra.das28_esr(1, 1, 0.5, 10), "esr: must be at least 1 mm/h"),
        (lambda: ra.das28_esr(1, 1, 10, 101), "gh: must be between 0 and 100"),
        (lambda: ra.das28_crp(1, 1, -1, 10), "crp_mg_l: must be at least 0"),
        (lambda: ra.das28_crp(2.5, 1, 1, 10), "tjc28: must be a whole number"),
    ],
)
def test_das28_rejects_impossible_inputs(call, fragment):
    with pytest.raises(IndexInputError, match=fragment):
        call()


# --------------------------------------------------------------------- SDAI / CDAI (RA)
def test_sdai_cdai_worked_examples():
    assert ra.cdai_ra(8, 6, 6, 5) == 25.0
    assert ra.sdai(8, 6, 6, 5, 1.5) == pytest.approx(26.5)
    assert ra.cdai_ra(1, 0, 1.5, 0.5) == pytest.approx(3.0)
    assert ra.sdai(1, 0, 1.5, 0.5, 0.4) == pytest.approx(3.4)


def test_sdai_cdai_categories():
    assert ra.sdai_category(26.5) == "high"
    assert ra.cdai_ra_category(25) == "high"
    assert ra.sdai_category(3.4) == "low"
    assert ra.cdai_ra_category(3.0) == "low"
    assert ra.sdai_category(np.array([3.3, 11, 26, 26.1])).tolist() == [
        "remission",
        "low",
        "moderate",
        "high",
    ]
    assert ra.cdai_ra_category(np.array([2.8, 10, 22, 22.1])).tolist() == [
        "remission",
        "low",
        "moderate",
        "high",
    ]


def test_sdai_errors():
    with pytest.raises(IndexInputError, match="ptga: must be between 0 and 10"):
        ra.sdai(1, 1, 11, 1, 1)
    with pytest.raises(IndexInputError, match="crp_mg_dl: must be at least 0"):
        ra.sdai(1, 1, 1, 1, -0.1)
    with pytest.raises(IndexInputError, match="phga: must be between 0 and 10"):
        ra.cdai_ra(1, 1, 1, -1)


# ------------------------------------------------------------------------ ACR, Boolean
BASE = dict(tjc=10, sjc=8, ptga=6, phga=6, pain=60, haq=1.5, apr=20)
# tjc -30 %, sjc -25 %, ptga -33 %, phga -33 %, pain -17 %, haq -17 %, apr -25 %
FOLL = dict(tjc=7, sjc=6, ptga=4, phga=4, pain=50, haq=1.25, apr=15)


def test_acr_response_levels():
    assert ra.acr_response(BASE, FOLL) is True  # 3 others >= 20 %
    assert ra.acr_response(BASE, FOLL, level=50) is False
    both_joints_50 = dict(FOLL, tjc=5, sjc=4, ptga=3, phga=3, apr=10)  # 3 others at 50 %
    assert ra.acr_response(BASE, both_joints_50, level=50) is True
    assert ra.acr_response(BASE, both_joints_50, level=70) is False


def test_acr_response_needs_both_joint_counts_and_three_others():
    assert ra.acr_response(BASE, dict(FOLL, sjc=7)) is False  # sjc only 12.5 %
    assert ra.acr_response(BASE, dict(FOLL, apr=19)) is False  # only 2 others
    assert ra.acr_response(BASE, dict(FOLL, apr=NAN)) is pd.NA  # could be the 3rd
    assert ra.acr_response(BASE, dict(FOLL, pain=NAN)) is True  # already 3 others


def test_acr_response_dataframes_keep_index():
    base = pd.DataFrame([BASE, BASE], index=["p1", "p2"])
    foll = pd.DataFrame([FOLL, dict(FOLL, tjc=9)], index=["p1", "p2"])
    out = ra.acr_response(base, foll)
    assert out.dtype == "boolean" and out.to_dict() == {"p1": True, "p2": False}


def test_acr_response_errors():
    with pytest.raises(IndexInputError, match="followup: missing required column"):
        ra.acr_response(BASE, {k: v for k, v in FOLL.items() if k != "haq"})
    with pytest.raises(IndexInputError, match="level: must be one of 20, 50, 70, 90"):
        ra.acr_response(BASE, FOLL, level=0.2)
    with pytest.raises(IndexInputError, match="haq_followup: must be between 0 and 3"):
        ra.acr_response(BASE, dict(FOLL, haq=4))


def test_boolean_remission_worked_example():
    # follow-up (1, 0, 1.5, 0.5, 0.4): PtGA 1.5 -> version 2.0 yes, 1.0 no
    assert ra.boolean_remission(1, 0, 0.4, 1.5) is True
    assert ra.boolean_remission(1, 0, 0.4, 1.5, version="1.0") is False
    assert ra.boolean_remission(2, 0, 0.4, 0.5) is False
    assert ra.boolean_remission(1, 1, 1.1, 0.5) is False
    assert ra.boolean_remission(1, 1, NAN, 0.5) is pd.NA
    assert ra.boolean_remission(5, 1, NAN, 0.5) is False
    with pytest.raises(IndexInputError, match="version: must be one of"):
        ra.boolean_remission(1, 0, 0.4, 1.5, version="3.0")


# ------------------------------------------------------------------------------- D2T
def test_difficult_to_treat_all_three_criteria():
    assert ra.difficult_to_treat(2, True, das28_esr=4.1, management_problematic=True) is True
    # criterion 1 fails: only one mechanism
    assert ra.difficult_to_treat(1, True, das28_esr=4.1, management_problematic=True) is False
    # criterion 1 fails: no csDMARD failure
    assert ra.difficult_to_treat(3, False, das28_esr=4.1, management_problematic=True) is False
    # criterion 2 fails: low activity, no other sign
    assert (
        ra.difficult_to_treat(2, True, das28_esr=3.2, cdai_ra=10, management_problematic=True)
        is False
    )
    # criterion 3 fails
    assert ra.difficult_to_treat(2, True, das28_esr=4.1) is False


def test_difficult_to_treat_other_signs():
    kw = dict(management_problematic=True)
    assert ra.difficult_to_treat(2, True, cdai_ra=10.5, **kw) is True
    assert ra.difficult_to_treat(2, True, glucocorticoid_mg=7.5, **kw) is True
    assert ra.difficult_to_treat(2, True, glucocorticoid_mg=5, **kw) is False
    assert ra.difficult_to_treat(2, True, rapid_radiographic_progression=True, **kw) is True
    assert ra.difficult_to_treat(2, True, qol_limiting_symptoms=True, **kw) is True
    assert ra.difficult_to_treat(2, True, das28_esr=NAN, **kw) is pd.NA


def test_difficult_to_treat_arrays():
    out = ra.difficult_to_treat(
        pd.Series([2, 3, 0], index=list("abc")),
        True,
        das28_esr=[4.0, 2.0, 5.0],
        management_problematic=True,
    )
    assert out.dtype == "boolean" and out.to_dict() == {"a": True, "b": False, "c": False}
    with pytest.raises(IndexInputError, match="n_failed_btsdmards_different_moa"):
        ra.difficult_to_treat(-1, True)
    with pytest.raises(IndexInputError, match="csdmard_failed: must be True/False"):
        ra.difficult_to_treat(2, 2)
