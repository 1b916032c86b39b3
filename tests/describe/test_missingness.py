"""Tests of analysis.describe.missingness against the hand-counted golden files.

Golden files: tests/golden/table1_missingness_* made by tests/golden/make_table1_missingness.py
(the counts are worked out by hand in that script's docstring).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.describe.missingness import (
    complete_case_share,
    missingness_patterns,
    missingness_table,
)
from analysis.errors import AnalysisError
from analysis.plots.missingness import plot_missingness

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture(scope="module")
def book() -> dict:
    return json.loads((GOLDEN / "table1_missingness_codebook.json").read_text())


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "table1_missingness_input.csv", parse_dates=["c"])


def test_table_matches_hand_counts(df, book):
    expected = pd.read_csv(GOLDEN / "table1_missingness_table.csv")
    got = missingness_table(df, book)
    assert list(got.columns) == ["variable", "n_missing", "percent_missing", "n"]
    # codebook order (id, c, a, b), not the data's column order (id, a, b, c)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert got["n_missing"].dtype == "int64" and got["n"].dtype == "int64"


def test_table_subset_keeps_codebook_order(df, book):
    got = missingness_table(df, book, columns=["b", "a"])
    assert got["variable"].tolist() == ["a", "b"]
    assert got["n_missing"].tolist() == [3, 3]


def test_table_counts_none_and_nat(book):
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "c": pd.to_datetime(["2020-01-01", None, None, "2020-01-04"]),
                          "a": [1.0, np.nan, 3.0, 4.0], "b": ["x", None, "y", pd.NA]})
    got = missingness_table(frame, book)
    assert got["n_missing"].tolist() == [0, 2, 1, 2]
    assert got["percent_missing"].tolist() == [0.0, 50.0, 25.0, 50.0]


def test_complete_case_share(df):
    expected = pd.read_csv(GOLDEN / "table1_missingness_complete.csv")
    for cols, share in zip(expected["columns"], expected["share"], strict=True):
        assert complete_case_share(df, cols.split(";")) == pytest.approx(share, abs=0), cols
    assert np.isnan(complete_case_share(df.iloc[:0], ["a"]))


def test_patterns_match_hand_counts(df):
    expected = pd.read_csv(GOLDEN / "table1_missingness_patterns.csv")
    got = missingness_patterns(df, ["a", "b", "c"])
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert (got.dtypes == "int64").all()
    assert got["count"].sum() == len(df)


def test_patterns_follow_the_given_column_order(df):
    got = missingness_patterns(df, ["c", "a"])
    assert list(got.columns) == ["c", "a", "count", "n_missing"]
    # (c, a): rows 1,3,5,7 -> (1,1); rows 2,4,8 -> (0,0); row 6 -> (0,1)
    assert got.values.tolist() == [[1, 1, 4, 0], [0, 1, 1, 1], [0, 0, 3, 2]]


def test_plot_shows_the_pattern_matrix(df):
    fig = plot_missingness(df, ["a", "b", "c"])
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    expected = pd.read_csv(GOLDEN / "table1_missingness_patterns.csv")
    image = ax.get_images()[0].get_array()
    np.testing.assert_array_equal(np.asarray(image), expected[["a", "b", "c"]].to_numpy())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(c) for c in expected["count"]]
    top = [c for c in ax.child_axes][0]
    assert [t.get_text() for t in top.get_xticklabels()] == ["3", "3", "4"]


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda df, book: missingness_table(df.drop(columns="a"), book), r"column 'a'.*not in the data"),
        (lambda df, book: missingness_table(df, book, columns=["zz"]), r"column 'zz'"),
        (lambda df, book: missingness_table(df.assign(zz=1), book, columns=["zz"]), r"column 'zz'.*codebook"),
        (lambda df, book: complete_case_share(df, []), r"columns"),
        (lambda df, book: complete_case_share(df, "a"), r"columns"),
        (lambda df, book: missingness_patterns(df, ["a", "a"]), r"duplicated"),
        (lambda df, book: plot_missingness(df, ["nope"]), r"column 'nope'"),
    ],
)
def test_errors(df, book, call, match):
    with pytest.raises(AnalysisError, match=match):
        call(df, book)
