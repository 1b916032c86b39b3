"""Nonlinearity screening falls back to fewer knots and never crashes on tied quantiles."""

import numpy as np
import pandas as pd

from analysis.regression.nonlinearity import nonlinearity_test, nonlinearity_tests


def test_screen_matches_single_test_and_falls_back_on_tied_knots():
    rng = np.random.default_rng(0)
    n = 400
    x = rng.normal(size=n)
    dose = np.where(rng.random(n) < 0.5, 0.0, rng.choice([5.0, 10.0, 15.0, 20.0], n))
    y = (rng.random(n) < 1 / (1 + np.exp(-(x**2 - 1)))).astype(float)
    df = pd.DataFrame({"x": x, "dose": dose, "sex": rng.choice(["f", "m"], n), "y": y})
    codebook = {"x": {"type": "numeric"}, "dose": {"type": "numeric"},
                "sex": {"type": "categorical", "levels": ["f", "m"]}, "y": {"type": "binary"}}
    table = nonlinearity_tests(df, ["x", "dose", "sex"], "y", codebook, knots=4).set_index("variable")
    assert list(table.index) == ["x", "dose"]  # categorical predictors are not screened
    direct = nonlinearity_test(df, "x", "y", codebook, knots=4).iloc[0]
    assert table.loc["x", "chi2"] == direct["chi2"] and table.loc["x", "p_value"] < 0.001
    # half the doses are 0: the 5% and 35% quantiles coincide, so 4 knots cannot be placed
    assert table.loc["dose", "note"] != ""
