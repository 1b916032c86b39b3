"""Restricted cubic splines: Harrell's formula, knots, span and linear tails."""

import numpy as np
import pytest
import scipy.interpolate
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from analysis.errors import AnalysisError
from analysis.regression.splines import (
    RestrictedCubicSpline,
    harrell_knot_quantiles,
    rcs_basis,
    rcs_column_names,
    rcs_knots,
)

# Harrell, Regression Modeling Strategies (2nd ed.), Table 2.3
RMS_TABLE_2_3 = {
    3: [0.10, 0.5, 0.90],
    4: [0.05, 0.35, 0.65, 0.95],
    5: [0.05, 0.275, 0.5, 0.725, 0.95],
    6: [0.05, 0.23, 0.41, 0.59, 0.77, 0.95],
    7: [0.025, 0.1833, 0.3417, 0.5, 0.6583, 0.8167, 0.975],
}


@pytest.mark.parametrize("k", sorted(RMS_TABLE_2_3))
def test_knot_quantiles_are_harrells_table(k):
    np.testing.assert_allclose(harrell_knot_quantiles(k), RMS_TABLE_2_3[k], atol=5e-5)


@pytest.mark.parametrize("k", [2, 8, 4.0, True])
def test_knot_count_out_of_range_is_rejected(k):
    with pytest.raises(AnalysisError, match="n_knots"):
        harrell_knot_quantiles(k)


def test_knots_are_sample_quantiles():
    # 0, 1, ..., 100: the p-quantile is 100 p exactly
    assert rcs_knots(np.arange(101.0), 4).tolist() == [5.0, 35.0, 65.0, 95.0]
    assert rcs_knots(np.r_[np.arange(101.0), np.nan], 3).tolist() == [10.0, 50.0, 90.0]


def test_knots_need_distinct_values_and_name_the_column():
    with pytest.raises(AnalysisError, match="'crp'.*not distinct"):
        rcs_knots(np.r_[np.zeros(50), np.ones(3)], 4, name="crp")


def test_basis_matches_hand_computed_formula():
    # knots 0, 1, 2, 3: t_k - t_{k-1} = 1 and the normalisation is (3 - 0)^2 = 9.
    # x = 2.5: col1 = (2.5^3 - 0.5^3 * 3) / 9 = 15.25 / 9; col2 = (1.5^3 - 0.5^3 * 2) / 9
    # x = 4:   col1 = (4^3 - 2^3 * 3 + 1^3 * 2) / 9 = 42 / 9; col2 = (3^3 - 2^3 * 2 + 1) / 9
    x = [-1.0, 0.5, 1.5, 2.5, 4.0]
    expected = [
        [-1.0, 0.0, 0.0],
        [0.5, 0.125 / 9, 0.0],
        [1.5, 3.375 / 9, 0.125 / 9],
        [2.5, 15.25 / 9, 3.125 / 9],
        [4.0, 42 / 9, 12 / 9],
    ]
    np.testing.assert_allclose(rcs_basis(x, [0.0, 1.0, 2.0, 3.0]), expected, rtol=1e-12)


def test_basis_propagates_missing_values():
    out = rcs_basis([1.0, np.nan], [0.0, 1.0, 2.0])
    assert np.isnan(out[1]).all() and not np.isnan(out[0]).any()


def _natural_cubic_basis(x, knots):
    """Cardinal basis of the natural cubic interpolating splines on ``knots``."""
    cols = []
    for i in range(len(knots)):
        values = np.zeros(len(knots))
        values[i] = 1.0
        cols.append(scipy.interpolate.CubicSpline(knots, values, bc_type="natural")(x))
    return np.column_stack(cols)


@pytest.mark.parametrize("knots", [[1.0, 3.0, 4.0, 7.0, 9.0], [-2.0, 0.5, 3.0], [0, 1, 2, 3, 5, 8, 13]])
def test_span_equals_natural_cubic_spline_on_same_knots(knots):
    knots = np.asarray(knots, dtype=float)
    x = np.linspace(knots[0], knots[-1], 500)
    rcs = np.column_stack([np.ones_like(x), rcs_basis(x, knots)])
    ncs = _natural_cubic_basis(x, knots)
    assert np.linalg.matrix_rank(rcs) == len(knots)
    for A, B in [(rcs, ncs), (ncs, rcs)]:
        coef, *_ = np.linalg.lstsq(A, B, rcond=None)
        assert np.abs(A @ coef - B).max() < 1e-9 * np.abs(B).max()


def test_span_differs_from_an_unrestricted_cubic_spline():
    # control for the projection check: a cubic term beyond the last knot is not in the span
    knots = np.array([1.0, 3.0, 4.0, 7.0])
    x = np.linspace(0, 10, 400)
    rcs = np.column_stack([np.ones_like(x), rcs_basis(x, knots)])
    target = np.clip(x - 7.0, 0, None) ** 3
    coef, *_ = np.linalg.lstsq(rcs, target, rcond=None)
    assert np.abs(rcs @ coef - target).max() > 1.0


def test_basis_is_linear_beyond_boundary_knots_and_curved_inside():
    knots = np.array([2.0, 4.0, 5.0, 9.0])
    h = 0.25

    def second_differences(x):
        basis = rcs_basis(x, knots)
        return basis[2:] - 2 * basis[1:-1] + basis[:-2]

    below = np.arange(-5.0, 2.0 + h / 2, h)
    above = np.arange(9.0, 20.0, h)
    inside = np.arange(2.5, 8.5, h)
    assert np.abs(second_differences(below)).max() < 1e-10
    assert np.abs(second_differences(above)).max() < 1e-10
    assert np.abs(second_differences(inside)[:, 1:]).max() > 1e-3


def test_column_names_follow_rms_style():
    assert rcs_column_names("age", 5) == ["age", "age'", "age''", "age'''"]


def test_transformer_fits_knots_and_transforms_like_the_function():
    x = np.linspace(0, 100, 101).reshape(-1, 1)
    spline = RestrictedCubicSpline(n_knots=4).fit(x)
    assert spline.knots_.tolist() == [5.0, 35.0, 65.0, 95.0]
    new = np.array([[-3.0], [50.0], [120.0]])
    np.testing.assert_array_equal(spline.transform(new), rcs_basis(new.ravel(), spline.knots_))
    assert spline.get_feature_names_out(["lwt"]).tolist() == ["lwt", "lwt'", "lwt''"]


def test_transformer_with_explicit_knots_and_in_pipeline():
    spline = RestrictedCubicSpline(knots=[0.0, 1.0, 2.0, 3.0])
    pipe = make_pipeline(FunctionTransformer(np.log1p), clone(spline))
    x = np.array([[0.0], [1.5], [10.0]])
    out = pipe.fit_transform(x)
    np.testing.assert_allclose(out, rcs_basis(np.log1p(x.ravel()), [0.0, 1.0, 2.0, 3.0]))


def test_transformer_rejects_several_columns_and_unfitted_use():
    with pytest.raises(AnalysisError, match="one column"):
        RestrictedCubicSpline().fit(np.zeros((10, 2)))
    with pytest.raises(NotFittedError, match="not fitted"):
        RestrictedCubicSpline().transform([[1.0]])


def test_explicit_knots_must_increase():
    with pytest.raises(AnalysisError, match="strictly increasing"):
        rcs_basis([1.0], [0.0, 2.0, 1.0])
