"""Patient-reported outcomes against clinical-indices.md §5."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import IndexInputError
from analysis.indices import pro

NAN = float("nan")
EXAMPLE = [1, 2, 0, 2, 1, 0, 1, 2]


def test_haq_di_worked_example():
    assert pro.haq_di(EXAMPLE) == pytest.approx(1.125)
    assert pro.HAQ_MCID == 0.22


def test_haq_di_aids_raise_category_to_two():
    # dressing 1 -> 2, eating 0 -> 2, reach 0 -> 2; walking (2) unchanged: (9 + 5) / 8
    aids = [1, 0, 1, 1, 0, 1, 0, 0]
    assert pro.haq_di(EXAMPLE, aids=aids) == pytest.approx(14 / 8)
    # a category already at 3 stays 3
    assert pro.haq_di([3] * 8, aids=[1] * 8) == 3.0
    # NaN aid = not reported
    assert pro.haq_di(EXAMPLE, aids=[NAN] * 8) == pytest.approx(1.125)


def test_haq_di_requires_six_answered_categories():
    six = [1, 2, NAN, 2, 1, NAN, 1, 2]
    assert pro.haq_di(six) == pytest.approx(9 / 6)
    five = [1, 2, NAN, 2, NAN, NAN, 1, 2]
    assert np.isnan(pro.haq_di(five))
    # an aid does not turn an unanswered category into an answered one
    assert np.isnan(pro.haq_di(five, aids=[0, 0, 1, 0, 1, 1, 0, 0]))


def test_haq_di_two_dimensional_and_dataframe():
    mat = np.array([EXAMPLE, [3] * 8, [NAN] * 8])
    out = pro.haq_di(mat)
    assert isinstance(out, np.ndarray)
    assert out[:2].tolist() == [1.125, 3.0] and np.isnan(out[2])
    frame = pd.DataFrame(mat[:2], index=["p", "q"], columns=pro.HAQ_CATEGORIES)
    series = pro.haq_di(frame)
    assert isinstance(series, pd.Series) and series.to_dict() == {"p": 1.125, "q": 3.0}


def test_haq_di_errors():
    with pytest.raises(IndexInputError, match="categories: must be a whole number between 0 and 3"):
        pro.haq_di([1, 2, 0, 2, 1, 0, 1, 4])
    with pytest.raises(IndexInputError, match="categories: must hold 8 category scores"):
        pro.haq_di([1, 2, 0])
    with pytest.raises(IndexInputError, match="aids: must have the same shape"):
        pro.haq_di(np.array([EXAMPLE, EXAMPLE]), aids=[0] * 8)
    with pytest.raises(IndexInputError, match="aids: must be True/False"):
        pro.haq_di(EXAMPLE, aids=[2] * 8)


def test_haq_di_response_uses_mcid():
    assert pro.haq_di_response(1.125, 0.875) is True  # 0.25 >= 0.22
    assert pro.haq_di_response(1.125, 1.0) is False  # 0.125
    assert pro.haq_di_response(1.0, 0.78) is True  # exactly 0.22
    assert pro.haq_di_response(1.125, 1.0, mcid=0.1) is True
    assert pro.haq_di_response(NAN, 1.0) is pd.NA


def test_ibdq_total():
    assert pro.ibdq_total([5] * 32) == 160.0
    assert pro.ibdq_total([1] * 32) == 32.0
    assert pro.ibdq_total([7] * 32) == 224.0
    items = np.array([[1] * 16 + [7] * 16, [4] * 31 + [NAN]])
    out = pro.ibdq_total(items)
    assert out[0] == 128.0 and np.isnan(out[1])
    frame = pd.DataFrame(items, index=[101, 102])
    assert list(pro.ibdq_total(frame).index) == [101, 102]


def test_ibdq_errors():
    with pytest.raises(IndexInputError, match="items: must be a whole number between 1 and 7"):
        pro.ibdq_total([0] + [5] * 31)
    with pytest.raises(
        IndexInputError, match=r"items: must hold 32 item responses.*\(got shape \(31,\)\)"
    ):
        pro.ibdq_total([5] * 31)


def test_sf36_scale():
    assert pro.sf36_scale(15, 5, 25) == 50.0
    assert pro.sf36_scale(5, 5, 25) == 0.0
    assert pro.sf36_scale(25, 5, 25) == 100.0
    out = pro.sf36_scale(pd.Series([10, NAN], index=["a", "b"]), 10, 30)
    assert out["a"] == 0.0 and np.isnan(out["b"])
    with pytest.raises(IndexInputError, match="raw: must lie between minimum and maximum"):
        pro.sf36_scale(30, 5, 25)
    with pytest.raises(IndexInputError, match="maximum: must be greater than minimum"):
        pro.sf36_scale(5, 5, 5)
