"""Mayo score family against the worked examples of clinical-indices.md §2."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import IndexInputError
from analysis.indices import colitis

NAN = float("nan")


def test_mayo_family_totals():
    assert colitis.mayo(3, 2, 3, 2) == 10.0
    assert colitis.mayo(1, 0, 1, 1) == 3.0
    assert colitis.partial_mayo(3, 2, 2) == 7.0  # SF + RB + PGA
    assert colitis.modified_mayo(3, 2, 3) == 8.0  # SF + RB + ES


def test_mayo_worked_example_response_not_remission():
    # (3,2,3,2) = 10 -> (1,0,1,1) = 3: response, not remission
    assert colitis.mayo_response(10, 3, 2, 0) is True
    assert colitis.mayo_remission(1, 0, 1, 1) is False


def test_mayo_remission_worked_examples():
    assert colitis.mayo_remission(1, 0, 1, 0) is True  # total 2, no subscore > 1
    assert colitis.mayo_remission(0, 0, 2, 0) is False  # total 2 but ES > 1
    assert colitis.mayo_remission(1, 1, 1, 0) is False  # total 3


def test_mayo_response_needs_three_points_thirty_percent_and_bleeding():
    assert colitis.mayo_response(10, 7, 3, 2) is True  # -3, 30 %, RB drop 1
    assert colitis.mayo_response(10, 7, 3, 3) is False  # RB neither dropped nor <= 1
    assert colitis.mayo_response(10, 7, 1, 1) is True  # RB <= 1 suffices
    assert colitis.mayo_response(12, 9, 2, 1) is False  # -3 but only 25 %
    assert colitis.mayo_response(5, 3, 2, 0) is False  # 40 % but only -2
    assert colitis.mayo_response(0, 0, 0, 0) is False  # cannot drop 3 points


def test_mayo_response_missing_bleeding_only_matters_when_it_could_change_answer():
    assert colitis.mayo_response(10, 3, NAN, 0) is True  # RB follow-up 0 <= 1 anyway
    assert colitis.mayo_response(10, 3, NAN, 2) is pd.NA
    assert colitis.mayo_response(10, 9, NAN, 2) is False  # fails the 3-point drop


def test_mucosal_healing_and_partial_mayo_rules():
    assert colitis.mucosal_healing(1) is True
    assert colitis.mucosal_healing(2) is False
    assert colitis.partial_mayo_remission(1) is True
    assert colitis.partial_mayo_remission(2) is False
    assert colitis.partial_mayo_response(7, 5) is True
    assert colitis.partial_mayo_response(7, 6) is False


def test_modified_mayo_remission():
    assert colitis.modified_mayo_remission(0, 0, 1, NAN) is True  # SF 0: baseline irrelevant
    assert colitis.modified_mayo_remission(1, 0, 1, 2) is True  # SF 1 after a 1-point drop
    assert colitis.modified_mayo_remission(1, 0, 1, 1) is False  # SF 1 without a drop
    assert colitis.modified_mayo_remission(1, 0, 1, NAN) is pd.NA
    assert colitis.modified_mayo_remission(0, 1, 0, 2) is False  # any bleeding
    assert colitis.modified_mayo_remission(0, 0, 2, 2) is False  # ES > 1
    assert colitis.modified_mayo_remission(2, 0, 0, 3) is False


def test_shapes_and_missing():
    sf = pd.Series([3, 1, NAN], index=["a", "b", "c"])
    out = colitis.mayo(sf, 2, 3, 2)
    assert isinstance(out, pd.Series) and list(out.index) == ["a", "b", "c"]
    assert out.iloc[:2].tolist() == [10.0, 8.0] and np.isnan(out["c"])
    arr = colitis.mayo_remission(np.array([1, 0, NAN]), 0, np.array([1, 2, 0]), 0)
    assert isinstance(arr, pd.arrays.BooleanArray)
    assert arr.astype(object).tolist() == [True, False, pd.NA]
    flags = colitis.mucosal_healing(pd.Series([0, 3], index=[7, 8]))
    assert flags.dtype == "boolean" and flags.to_dict() == {7: True, 8: False}


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (
            lambda: colitis.mayo(4, 0, 0, 0),
            "stool_frequency: must be a whole number between 0 and 3",
        ),
        (lambda: colitis.mayo(0, -1, 0, 0), "rectal_bleeding: must be a whole number"),
        (lambda: colitis.mayo(0, 0, 1.5, 0), "endoscopy: must be a whole number"),
        (lambda: colitis.partial_mayo(0, 0, 5), "pga: must be a whole number"),
        (
            lambda: colitis.mayo_response(13, 3, 2, 0),
            "baseline: must be a whole number between 0 and 12",
        ),
        (lambda: colitis.mayo_response(10, 3, 4, 0), "rectal_bleeding_baseline"),
        (
            lambda: colitis.partial_mayo_remission(10),
            "score: must be a whole number between 0 and 9",
        ),
        (lambda: colitis.modified_mayo_remission(0, 0, 0, 4), "stool_frequency_baseline"),
    ],
)
def test_impossible_inputs_raise(call, fragment):
    with pytest.raises(IndexInputError, match=fragment):
        call()
