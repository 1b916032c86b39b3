"""Tests of analysis.describe against tableone, scipy and hand-computed golden files.

Golden files (tests/golden/) and the scripts that made them:

* table1_birthwt_*   make_table1_birthwt.py  - tableone.TableOne on MASS::birthwt
* table1_tiny_*      make_table1_tiny.py     - a 6-row case computed by hand
* table1_normality_* make_table1_normality.py - scipy Shapiro-Wilk p-values
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.describe.table1 import (
    TABLE1_COLUMNS,
    TESTS_COLUMNS,
    format_table1,
    summary_choice,
    table1,
    table1_by,
    table1_tests,
)
from analysis.errors import AnalysisError

GOLDEN = Path(__file__).parents[1] / "golden"
STATS = ["n", "mean", "sd", "median", "q1", "q3", "count", "percent", "missing"]


def _csv(name: str, **kw) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / name, **kw)


def _codebook(name: str) -> dict:
    return json.loads((GOLDEN / name).read_text())


@pytest.fixture(scope="module")
def birthwt_book() -> dict:
    return _codebook("table1_birthwt_codebook.json")


@pytest.fixture(scope="module")
def birthwt() -> pd.DataFrame:
    return _csv("table1_birthwt_input.csv")


@pytest.fixture(scope="module")
def birthwt_missing() -> pd.DataFrame:
    return _csv("table1_birthwt_missing_input.csv")


@pytest.fixture(scope="module")
def tiny_book() -> dict:
    return _codebook("table1_tiny_codebook.json")


@pytest.fixture(scope="module")
def tiny() -> pd.DataFrame:
    return _csv("table1_tiny_input.csv")


SCENARIOS = {"low": ("birthwt", "low"), "race": ("birthwt", "race"), "missing": ("birthwt_missing", "low")}


def _scenario(request, name):
    frame, group = SCENARIOS[name]
    return request.getfixturevalue(frame), group


def _assert_same_stats(ours: pd.DataFrame, expected: pd.DataFrame, rtol: float = 1e-12) -> None:
    keys = ["variable", "level", "group"]
    merged = expected.merge(ours, on=keys, how="outer", suffixes=("_exp", "_ours"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", keys + ["_merge"]]
    assert len(ours) == len(expected)
    for col in STATS:
        exp = merged[f"{col}_exp"].astype(float).to_numpy()
        got = merged[f"{col}_ours"].astype(float).to_numpy()
        bad = ~np.isclose(got, exp, rtol=rtol, atol=0, equal_nan=True)
        assert not bad.any(), (col, merged.loc[bad, keys + [f"{col}_exp", f"{col}_ours"]])


# --------------------------------------------------------------------------- tableone: numbers
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_table1_matches_tableone(request, birthwt_book, scenario):
    df, group = _scenario(request, scenario)
    golden = _csv("table1_birthwt_describe.csv", dtype={"level": str, "group": str})
    golden = golden[golden["scenario"] == scenario].drop(columns="scenario")
    golden["level"] = golden["level"].fillna("")
    ours = table1(df, birthwt_book, group=group)
    _assert_same_stats(ours, golden)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_table1_tests_match_tableone(request, birthwt_book, scenario):
    df, group = _scenario(request, scenario)
    golden = _csv("table1_birthwt_tests.csv")
    golden = golden[golden["scenario"] == scenario].set_index("variable")
    ours = table1_tests(df, birthwt_book, group=group).set_index("variable")
    assert list(ours.index) == list(golden.index)
    two_groups = scenario != "race"
    for var, g in golden.iterrows():
        o = ours.loc[var]
        expected_test, expected_note = {
            "Welch’s T-test": ("Welch t-test", ""),
            # tableone runs Kruskal-Wallis; for 2 groups its p equals our Mann-Whitney U's
            "Kruskal-Wallis": ("Mann-Whitney U" if two_groups else "Kruskal-Wallis", ""),
            "One-way ANOVA": ("One-way ANOVA", ""),
            "Chi-squared": ("Chi-squared", ""),
            "Chi-squared (warning: expected count < 5)": ("Chi-squared", "expected count < 5"),
            "Fisher's exact": ("Fisher's exact", ""),
        }[g["tableone_test"]]
        assert (o["test"], o["note"]) == (expected_test, expected_note), var
        assert o["p_value"] == pytest.approx(g["p_value"], rel=1e-9), var
        if two_groups:
            assert o["smd"] == pytest.approx(g["smd"], rel=1e-9), var
        else:  # tableone gives pairwise SMDs for 3 groups; ours is defined for 2 groups only
            assert np.isnan(o["smd"]), var


def test_golden_covers_every_test_kind():
    """The tableone golden files exercise each test family, so the tests above mean something."""
    kinds = set(_csv("table1_birthwt_tests.csv")["tableone_test"])
    assert {"Welch’s T-test", "Kruskal-Wallis", "One-way ANOVA", "Chi-squared", "Fisher's exact",
            "Chi-squared (warning: expected count < 5)"} <= kinds


# --------------------------------------------------------------------------- tableone: layout
def test_format_matches_tableone_display(birthwt, birthwt_book):
    tidy = table1(birthwt, birthwt_book, group="low")
    tests = table1_tests(birthwt, birthwt_book, group="low")
    ours = format_table1(tidy, tests, birthwt_book)
    assert list(ours.columns) == ["Variable", "Overall (n=189)", "0 (n=130)", "1 (n=59)",
                                  "Missing", "P-value", "Test", "SMD"]
    display = _csv("table1_birthwt_display.csv", dtype=str, keep_default_na=False)
    display = display[display["variable"] != "n"]
    labels = {v: spec.get("label", v) for v, spec in birthwt_book.items()}
    compared = 0
    for _, d in display.iterrows():
        var = d["variable"]
        if d["level"]:  # a categorical level row
            head = ours.index[ours["Variable"] == f"{labels[var]}, n (%)"][0]
            rows = ours.loc[head + 1:]
            row = rows[rows["Variable"] == f"    {d['level']}"].iloc[0]
            header_row = ours.loc[head]
        else:
            row = ours[ours["Variable"].str.startswith(labels[var] + ",")].iloc[0]
            header_row = row
        for theirs, mine in [("Overall", "Overall (n=189)"), ("0", "0 (n=130)"), ("1", "1 (n=59)")]:
            assert row[mine].replace(" ", "") == d[theirs].replace(" ", ""), (var, d["level"], theirs)
            compared += 1
        if d["P-Value"]:  # first row of a variable in tableone's layout
            assert header_row["P-value"] == d["P-Value"], var
            assert header_row["SMD"] == d["SMD"], var
            assert header_row["Missing"] == d["Missing"], var
    assert compared == 3 * len(display) == 33  # 2 numeric + 9 level rows, 3 columns each


def test_format_labels_units_and_indentation(birthwt, birthwt_book):
    tidy = table1(birthwt, birthwt_book, group="race")
    tests = table1_tests(birthwt, birthwt_book, group="race")
    f = format_table1(tidy, tests, birthwt_book, decimals=2)
    assert list(f.columns) == ["Variable", "Overall (n=189)", "White (n=96)", "Black (n=26)",
                               "Other (n=67)", "Missing", "P-value", "Test", "SMD"]
    assert f["Variable"].tolist() == [
        "Maternal age, years, mean (SD)",
        "Weight at last menstrual period, lb, median [Q1, Q3]",
        "Smoking during pregnancy, n (%)", "    0", "    1",
        "History of hypertension, n (%)", "    0", "    1",
        "Uterine irritability, n (%)", "    0", "    1",
        "Birth weight < 2.5 kg, n (%)", "    0", "    1",
    ]
    lwt = f.iloc[1]
    # golden tableone numbers for race=Black: median 129, quartiles 120 and 179
    assert lwt["Black (n=26)"] == "129.00 [120.00, 179.00]"
    assert lwt["P-value"] == "<0.001"  # tableone: 0.00093
    assert lwt["Test"] == "Kruskal-Wallis"
    assert lwt["SMD"] == ""  # three groups
    ht = f.iloc[5]
    assert ht["Test"] == "Chi-squared (expected count < 5)" and ht["P-value"] == "0.496"
    assert f.iloc[3]["Black (n=26)"] == "16 (61.54)"


def test_format_uses_choice_from_table1_and_override(birthwt, birthwt_book):
    book = {k: {kk: vv for kk, vv in v.items() if kk != "summary"} for k, v in birthwt_book.items()}
    tidy = table1(birthwt, book, group="low", normality=None)
    assert tidy.attrs["summary_choice"] == {"age": "mean", "lwt": "mean"}
    f = format_table1(tidy, None, book)
    assert f["Variable"].tolist()[:2] == ["Maternal age, years, mean (SD)",
                                         "Weight at last menstrual period, lb, mean (SD)"]
    assert list(f.columns) == ["Variable", "Overall (n=189)", "0 (n=130)", "1 (n=59)", "Missing"]
    f2 = format_table1(tidy, None, book, choice={"age": "median", "lwt": "mean"})
    assert f2.iloc[0]["Overall (n=189)"] == "23.0 [19.0, 26.0]"  # tableone: median 23, q 19, 26
    stripped = tidy.copy()
    stripped.attrs = {}
    with pytest.raises(AnalysisError, match="'age'"):
        format_table1(stripped, None, book)


# --------------------------------------------------------------------------- hand-computed tiny case
def test_tiny_every_column(tiny, tiny_book):
    expected = _csv("table1_tiny_expected.csv", dtype={"level": str, "group": str})
    expected["level"] = expected["level"].fillna("")
    ours = table1(tiny, tiny_book, group="g")
    assert list(ours.columns) == list(TABLE1_COLUMNS)
    # row order: n block, then x, c, b (codebook order without id and the group); Overall, A, B
    assert ours[["variable", "level", "group"]].values.tolist() == \
        expected[["variable", "level", "group"]].values.tolist()
    _assert_same_stats(ours, expected, rtol=1e-14)
    assert ours["n"].dtype == "int64" and ours["missing"].dtype == "int64"
    assert all(ours[c].dtype == "float64" for c in ["mean", "sd", "median", "q1", "q3", "count", "percent"])
    assert all(isinstance(v, str) for v in ours["group"]) and all(isinstance(v, str) for v in ours["level"])


def test_tiny_tests_hand_computed(tiny, tiny_book):
    expected = _csv("table1_tiny_tests.csv")
    ours = table1_tests(tiny, tiny_book, group="g")
    assert list(ours.columns)[:4] == list(TESTS_COLUMNS)
    assert ours["variable"].tolist() == expected["variable"].tolist()
    assert ours["test"].tolist() == expected["test"].tolist()
    np.testing.assert_allclose(ours["p_value"], expected["p_value"], rtol=1e-10)
    np.testing.assert_allclose(ours["smd"], expected["smd"], rtol=1e-12)
    # the hand values agree with scipy's own implementations
    assert expected["p_value"][0] == pytest.approx(stats.ttest_ind([1, 2, 4], [5, 8], equal_var=False).pvalue)
    assert expected["p_value"][1] == pytest.approx(stats.fisher_exact([[2, 1], [0, 2]]).pvalue)


def test_fisher_only_for_small_expected_2x2():
    """2x2 with every expected count >= 5 -> chi-squared (Yates); with one < 5 -> Fisher."""
    book = {"y": {"type": "binary"}, "g": {"type": "categorical", "levels": ["A", "B"]}}
    big = pd.DataFrame({"y": [1] * 20 + [0] * 20 + [1] * 8 + [0] * 32, "g": ["A"] * 40 + ["B"] * 40})
    t_big = table1_tests(big, book, group="g").iloc[0]
    assert t_big["test"] == "Chi-squared" and t_big["note"] == ""
    # hand: expected 14 (ones) and 26 (zeros) per group, |O - E| = 6, Yates -> 5.5
    chi2 = 5.5**2 * (2 / 14 + 2 / 26)
    assert t_big["p_value"] == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-12)
    # A: 1 one, 5 zeros; B: 4 ones, 2 zeros -> expected ones 2.5 < 5
    small = pd.DataFrame({"y": [1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0], "g": ["A"] * 6 + ["B"] * 6})
    t_small = table1_tests(small, book, group="g").iloc[0]
    assert t_small["test"] == "Fisher's exact" and t_small["note"] == ""
    # hand: P(k ones in A) = C(6,k) C(6,5-k) / C(12,5) = (6, 90, 300, 300, 90, 6) / 792;
    # observed k = 1 -> two-sided p = (6 + 90 + 90 + 6) / 792
    assert t_small["p_value"] == pytest.approx(192 / 792, rel=1e-12)
    assert t_small["p_value"] == pytest.approx(stats.fisher_exact([[1, 5], [4, 2]]).pvalue, rel=1e-12)


def test_chi_squared_without_correction(birthwt, birthwt_book):
    ours = table1_tests(birthwt, birthwt_book, columns=["smoke"], group="low", correction=False).iloc[0]
    # Pearson statistic by hand from the golden counts: low=0: 86 / 44, low=1: 29 / 30
    obs = np.array([[86, 44], [29, 30]], dtype=float)
    exp = obs.sum(1, keepdims=True) * obs.sum(0, keepdims=True) / obs.sum()
    chi2 = ((obs - exp) ** 2 / exp).sum()
    assert ours["test"] == "Chi-squared"
    assert ours["p_value"] == pytest.approx(stats.chi2.sf(chi2, 1), rel=1e-12)
    with_yates = table1_tests(birthwt, birthwt_book, columns=["smoke"], group="low").iloc[0]
    assert with_yates["p_value"] > ours["p_value"]


def test_mann_whitney_matches_scipy_with_ties(birthwt, birthwt_book):
    ours = table1_tests(birthwt, birthwt_book, columns=["age"], group="low", choice={"age": "median"}).iloc[0]
    a, b = birthwt.loc[birthwt.low == 0, "age"], birthwt.loc[birthwt.low == 1, "age"]
    ref = stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic", use_continuity=False)
    assert ours["test"] == "Mann-Whitney U"
    assert ours["p_value"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert ours["p_value"] == pytest.approx(stats.kruskal(a, b).pvalue, rel=1e-9)
    # the SMD does not depend on the summary: golden tableone Cohen's d for age
    assert ours["smd"] == pytest.approx(-0.26720572939364962, rel=1e-9)


def test_categorical_smd_does_not_depend_on_level_order(birthwt, birthwt_book):
    book = dict(birthwt_book)
    book["race"] = {**book["race"], "levels": ["Other", "Black", "White"]}
    a = table1_tests(birthwt, birthwt_book, columns=["race"], group="low")["smd"].iloc[0]
    b = table1_tests(birthwt, book, columns=["race"], group="low")["smd"].iloc[0]
    assert a == pytest.approx(b, rel=1e-12)
    assert a == pytest.approx(0.35558850856902163, rel=1e-9)  # tableone golden


# --------------------------------------------------------------------------- missing values
def test_missing_group_rows_only_in_overall(tiny, tiny_book):
    extra = pd.DataFrame([{"id": 7, "x": 100.0, "c": "mid", "b": 1.0, "g": np.nan}])
    df7 = pd.concat([tiny, extra], ignore_index=True)
    with7 = table1(df7, tiny_book, group="g")
    base = table1(tiny, tiny_book, group="g")
    in_groups = with7["group"] != "Overall"
    pd.testing.assert_frame_equal(with7[in_groups].reset_index(drop=True),
                                  base[base["group"] != "Overall"].reset_index(drop=True))
    overall = with7[~in_groups].set_index(["variable", "level"])
    assert overall.loc[("n", ""), ["n", "count", "missing"]].tolist() == [7, 7, 1]
    # x overall by hand: 1, 2, 4, 5, 8, 100 -> n 6, mean 20, median 4.5, one missing
    assert overall.loc[("x", ""), ["n", "mean", "median", "missing"]].tolist() == [6, 20.0, 4.5, 1]
    assert overall.loc[("c", "mid"), ["count", "n"]].tolist() == [1, 6]
    # the tests only use rows with a group
    pd.testing.assert_frame_equal(table1_tests(df7, tiny_book, group="g"),
                                  table1_tests(tiny, tiny_book, group="g"))


def test_missing_counts_birthwt(birthwt_missing, birthwt_book):
    t = table1(birthwt_missing, birthwt_book, group="low").set_index(["variable", "level", "group"])
    # injected in make_table1_birthwt.py: age at positions 4 mod 9 -> 21 rows of 189
    assert t.loc[("age", "", "Overall"), "missing"] == len(range(4, 189, 9)) == 21
    assert t.loc[("n", "", "Overall"), "missing"] == len(range(8, 189, 17)) == 11
    assert t.loc[("n", "", "0"), "n"] + t.loc[("n", "", "1"), "n"] == 189 - 11


def test_untestable_variables_get_nan_and_a_note():
    df = pd.DataFrame({"x": [1.0, 2.0, np.nan, np.nan], "k": [3.0, 3.0, 3.0, 3.0],
                       "c": ["u", "u", "u", "u"], "g": ["A", "A", "B", "B"]})
    book = {"x": {"type": "numeric", "summary": "mean"}, "k": {"type": "numeric", "summary": "median"},
            "c": {"type": "categorical", "levels": ["u", "v"]}, "g": {"type": "categorical", "levels": ["A", "B"]}}
    t = table1_tests(df, book, group="g").set_index("variable")
    assert t.loc["x", "note"] == "not tested: a group has no observed values" and np.isnan(t.loc["x", "p_value"])
    assert t.loc["k", "note"] == "not tested: no variation" and np.isnan(t.loc["k", "smd"])
    assert t.loc["c", "note"] == "not tested: no variation" and np.isnan(t.loc["c", "smd"])
    assert (t["test"] == "").all()


# --------------------------------------------------------------------------- no group / table1_by
def test_no_group(tiny, tiny_book):
    t = table1(tiny, tiny_book)
    assert set(t["group"]) == {"Overall"}
    # without a group, g itself is summarised (categorical A/B: 3 and 3)
    g = t[t["variable"] == "g"]
    assert g[["level", "count", "percent"]].values.tolist() == [["A", 3.0, 50.0], ["B", 3.0, 50.0]]
    tests = table1_tests(tiny, tiny_book)
    assert tests["test"].tolist() == [""] * 4
    assert tests["p_value"].isna().all() and tests["smd"].isna().all()


def test_table1_by_outcome_equals_group(birthwt, birthwt_book):
    by = table1_by(birthwt, birthwt_book, by="smoke", columns=["age", "low", "race"])
    ref = table1(birthwt, birthwt_book, columns=["age", "low", "race"], group="smoke")
    pd.testing.assert_frame_equal(by, ref)
    assert list(dict.fromkeys(by["group"])) == ["Overall", "0", "1"]
    # golden tableone (scenario race) has smoke=1 in 74 rows; our group size must agree
    assert by.loc[(by.variable == "n") & (by.group == "1"), "n"].item() == 74


def test_row_order_does_not_matter(birthwt, birthwt_book):
    shuffled = birthwt.iloc[np.random.default_rng(1).permutation(len(birthwt))]
    a, b = table1(birthwt, birthwt_book, group="race"), table1(shuffled, birthwt_book, group="race")
    assert a[["variable", "level", "group"]].equals(b[["variable", "level", "group"]])
    np.testing.assert_allclose(a[STATS].to_numpy(float), b[STATS].to_numpy(float), rtol=1e-12)


# --------------------------------------------------------------------------- summary choice
def test_summary_choice_shapiro_golden():
    df = _csv("table1_normality_input.csv")
    expected = _csv("table1_normality_expected.csv").set_index("variable")
    book = {c: {"type": "numeric"} for c in df.columns}
    for alpha in (0.05, 0.01):
        got = summary_choice(df, book, alpha=alpha)
        assert got == expected[f"choice_alpha_{alpha}"].to_dict()
    book["expo"]["summary"] = "mean"  # the codebook wins
    assert summary_choice(df, book)["expo"] == "mean"
    assert set(summary_choice(df, book, normality=None).values()) == {"mean"}


def test_summary_choice_skewness_above_5000():
    from scipy.stats import lognorm, norm, uniform
    pp = (np.arange(1, 6001) - 0.5) / 6000
    df = pd.DataFrame({"flat": uniform.ppf(pp), "skewed": lognorm.ppf(pp, 1.0), "normal": norm.ppf(pp)})
    book = {c: {"type": "numeric"} for c in df.columns}
    # Shapiro-Wilk would call the uniform sample non-normal ...
    assert stats.shapiro(df["flat"].iloc[:5000]).pvalue < 0.05
    # ... but above 5000 values the rule is |skewness| > 1: uniform 0, lognormal(1) ~ 6
    assert summary_choice(df, book) == {"flat": "mean", "skewed": "median", "normal": "mean"}
    # at exactly 5000 values Shapiro-Wilk is still used
    assert summary_choice(df.iloc[::6].iloc[:5000].reset_index(drop=True), book)["flat"] == "median"


# --------------------------------------------------------------------------- input errors
@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda df, b: (df.drop(columns="x"), b, {}), r"column 'x'.*not in the data"),
        (lambda df, b: (df, {**b, "x": {"type": "float"}}, {}), r"column 'x'.*type 'float'"),
        (lambda df, b: (df.assign(c=["lo", "zz", "lo", None, "hi", "hi"]), b, {}), r"column 'c'.*levels.*zz"),
        (lambda df, b: (df.assign(b=[1, 2, 0, 1, 0, 1]), b, {}), r"column 'b'.*binary.*0/1"),
        (lambda df, b: (df.assign(x=list("abcdef")), b, {}), r"column 'x'.*numeric"),
        (lambda df, b: (df, {**b, "c": {"type": "categorical"}}, {}), r"column 'c'.*levels"),
        (lambda df, b: (df, b, {"columns": ["id", "x"]}), r"column 'id'.*type 'id'"),
        (lambda df, b: (df, b, {"columns": ["nope"]}), r"column 'nope'.*not in the codebook"),
        (lambda df, b: (df, b, {"group": "nope"}), r"group 'nope'"),
        (lambda df, b: (df.assign(x=[1.5, 2, 3, 4, 5, 6]), {**b, "x": {"type": "integer"}}, {}),
         r"column 'x'.*whole numbers"),
        (lambda df, b: (df.assign(g=["A", "A", "C", "B", "B", "B"]), b, {"group": "g"}), r"column 'g'.*levels"),
        (lambda df, b: (df, b, {"normality": "ks"}), r"normality"),
        (lambda df, b: (df, b, {"alpha": 1.5}), r"alpha"),
    ],
)
def test_input_errors(tiny, tiny_book, mutate, match):
    df, book, kw = mutate(tiny.copy(), dict(tiny_book))
    with pytest.raises(AnalysisError, match=match):
        table1(df, book, **kw)


def test_error_is_a_value_error(tiny, tiny_book):
    with pytest.raises(ValueError, match="column 'x'"):
        table1_tests(tiny.drop(columns="x"), tiny_book, group="g")
