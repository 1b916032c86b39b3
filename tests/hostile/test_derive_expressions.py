"""Hostile derive expressions: NumPy keyword tricks and unbounded evaluation are refused.

The study.yaml cases run ``analysis check --study s`` in-process (derive rules are checked
when the study is loaded, before any data is read); the evaluation cases call the same
evaluator that ``predict`` uses for the derive rules stored in a model's ``model.json``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from conftest import make_study

from analysis.errors import StudyConfigError
from analysis.pipeline.cli import EXIT_INPUT_ERROR, main
from analysis.study.config import load_study
from analysis.study.derive import evaluate
from analysis.study.prepare import prepare_cohort

SPEC = {
    "title": "Derive",
    "id": "pid",
    "outcome": "y",
    "predictors": ["age", "bmi"],
    "variables": {
        "age": {"type": "numeric", "min": 18, "max": 100},
        "height_cm": {"type": "numeric", "min": 120, "max": 220},
        "weight_kg": {"type": "numeric", "min": 30, "max": 250},
        "cdai_w0": {"type": "numeric"},
        "cdai_w8": {"type": "numeric"},
        "y": {"type": "binary"},
        "bmi": {"type": "numeric"},
    },
    "derive": {"bmi": "weight_kg / (height_cm / 100) ** 2"},
}
FRAME = pd.DataFrame({"pid": ["P1", "P2", "P3", "P4"], "age": [30, 41, 52, 63],
                      "height_cm": [170, 180, 165, 175], "weight_kg": [70, 80, 60, 90],
                      "cdai_w0": [300, 250, 280, 320], "cdai_w8": [150, 240, 100, 310], "y": [0, 1, 0, 1]})
LONG_SUM = " + ".join(["age"] * 600)        # 3,600 characters, over 1,000 syntax nodes
DEEP = "sqrt(" * 45 + "age" + ")" * 45


def with_rule(rule, name="v"):
    variables = {**SPEC["variables"], name: {"type": "numeric"}}
    return {**SPEC, "variables": variables, "derive": {**SPEC["derive"], name: rule}}


# (case, derive rule, exit status of `check`, fragment of the message)
CASES = [
    ("ufunc out= overwrites a raw column", "sqrt(age, out=height_cm)", EXIT_INPUT_ERROR,
     "derive.v: sqrt() takes no keyword argument 'out' (documented keyword options: none)"),
    ("ufunc where= returns uninitialised memory", "log(age, where=False)", EXIT_INPUT_ERROR,
     "derive.v: log() takes no keyword argument 'where'"),
    ("ufunc dtype=", "exp(age, dtype=int)", EXIT_INPUT_ERROR, "exp() takes no keyword argument 'dtype'"),
    ("ufunc casting=", "abs(age, casting='unsafe')", EXIT_INPUT_ERROR, "abs() takes no keyword argument 'casting'"),
    ("log1p order=", "log1p(age, order='F')", EXIT_INPUT_ERROR, "log1p() takes no keyword argument 'order'"),
    ("ufunc subok=", "sqrt(age, subok=False)", EXIT_INPUT_ERROR, "'subok'"),
    ("pandas isna keyword", "isna(age, out=age)", EXIT_INPUT_ERROR, "isna() takes no keyword argument 'out'"),
    ("helper with an extra keyword", "where(age > 40, 1, 0, out=age)", EXIT_INPUT_ERROR,
     "where() takes no keyword argument 'out' (documented keyword options: condition, if_true, if_false)"),
    ("index function with a misspelt option", "cdai_response(cdai_w0, cdai_w8, thresold=70)", EXIT_INPUT_ERROR,
     "cdai_response() takes no keyword argument 'thresold'"),
    ("** unpacking", "sqrt(**age)", EXIT_INPUT_ERROR, "'**' argument unpacking is not allowed"),
    ("10**10**10", "10**10**10", EXIT_INPUT_ERROR, "a power inside an exponent"),
    ("age ** 2 ** 50", "age ** 2 ** 50", EXIT_INPUT_ERROR, "a power inside an exponent"),
    ("2 ** 100000", "2 ** 100000", EXIT_INPUT_ERROR, "exponent in '2 ** 100000' is too large"),
    ("age ** 1e6", "age ** 1e6", EXIT_INPUT_ERROR, "is too large (|exponent| <= 100)"),
    ("negative exponent", "age ** -500", EXIT_INPUT_ERROR, "is too large"),
    ("huge integer literal", "age + 123456789012345678901234567890", EXIT_INPUT_ERROR,
     "integer literal 1234567890123456789… is too large"),
    ("1e309 literal", "age * 1e309", EXIT_INPUT_ERROR, "number literal 1e309 is not finite"),
    ("huge string literal", "'" + "x" * 20_000 + "'", EXIT_INPUT_ERROR, "characters is too long (at most 4000)"),
    ("long expression", LONG_SUM, EXIT_INPUT_ERROR, "syntax nodes (at most 1000)"),
    ("deeply nested calls", DEEP, EXIT_INPUT_ERROR, "nested more than 40 levels deep"),
    ("nested parentheses past the parser", "(" * 300 + "age" + ")" * 300, EXIT_INPUT_ERROR, "cannot parse"),
    ("attribute access", "age.__class__", EXIT_INPUT_ERROR, "'age.__class__' is not allowed"),
    ("dunder import", "__import__('os').system('id')", EXIT_INPUT_ERROR, "only plain function calls are allowed"),
    ("dunder call", "__import__('os')", EXIT_INPUT_ERROR, "unknown function '__import__'"),
    ("unknown function", "eval('1')", EXIT_INPUT_ERROR, "unknown function 'eval'"),
    ("lambda", "(lambda: 1)()", EXIT_INPUT_ERROR, "only plain function calls are allowed"),
    ("subscript", "age[0]", EXIT_INPUT_ERROR, "'age[0]' is not allowed"),
    ("comprehension", "[a for a in age]", EXIT_INPUT_ERROR, "is not allowed in an expression"),
    ("walrus", "(x := age)", EXIT_INPUT_ERROR, "is not allowed in an expression"),
    ("floor division", "age // 2", EXIT_INPUT_ERROR, "operator FloorDiv is not allowed"),
    ("is comparison", "age is None", EXIT_INPUT_ERROR, "comparison Is is not allowed"),
    ("syntax error", "age +* 2", EXIT_INPUT_ERROR, "cannot parse"),
    ("visit() without visits", "visit('cdai', 0)", EXIT_INPUT_ERROR, "unknown function 'visit'"),
    ("rule as a list", ["age", "1"], EXIT_INPUT_ERROR, "derive.v: the expression must be text, got list"),
    ("documented option", "cdai_response(cdai_w0, cdai_w8, threshold=70)", 0, ""),
    ("positional-or-keyword by name", "where(condition=age > 40, if_true=1, if_false=0)", 0, ""),
    ("exponent at the limit", "(age / 100) ** 100", 0, ""),
]


@pytest.mark.parametrize("case, rule, status, fragment", CASES, ids=[c[0] for c in CASES])
def test_hostile_derive_rule(tmp_path, monkeypatch, capsys, case, rule, status, fragment):
    folder = make_study(tmp_path, "s", with_rule(rule), FRAME)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(tmp_path))
    started = time.monotonic()
    got = main(["check", "--study", "s"])
    err = capsys.readouterr().err
    assert time.monotonic() - started < 10
    assert got == status, err
    assert fragment in err
    assert "Traceback" not in err and len(err) < 3000
    assert not (folder / "processed" / "cohort.parquet").exists()


def test_visit_rules_are_checked_too(tmp_path, monkeypatch, capsys):
    spec = {**SPEC, "visits": {"data": "raw/visits.csv", "time": "week", "times": [0, 8],
                               "variables": {"w": {"type": "numeric"}}, "derive": {"w": "sqrt(week, out=week)"}}}
    make_study(tmp_path, "s", spec, FRAME)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(tmp_path))
    assert main(["check", "--study", "s"]) == EXIT_INPUT_ERROR
    assert "visits.derive.w: sqrt() takes no keyword argument 'out'" in capsys.readouterr().err


def test_out_keyword_cannot_overwrite_heights(tmp_path):
    """The attack of finding 4: heights overwritten with sqrt(age) would pass as 5-7 cm."""
    make_study(tmp_path, "s", SPEC, FRAME)
    study = load_study("s", root=tmp_path)
    cohort = prepare_cohort(study).cohort
    assert cohort["height_cm"].tolist() == [170.0, 180.0, 165.0, 175.0]
    with pytest.raises(StudyConfigError, match="sqrt\\(\\) takes no keyword argument 'out'"):
        evaluate("sqrt(age, out=height_cm)", cohort, name="v")
    assert cohort["height_cm"].tolist() == [170.0, 180.0, 165.0, 175.0]


# rules a study.yaml check cannot see (the size depends on values): refused during evaluation
RUNTIME = [
    ("string repetition", "'a' * 10 ** 9", "repeating a string or list with '*' is not allowed"),
    ("list repetition", "[1, 2] * 10 ** 8", "repeating a string or list"),
    ("a table instead of a column", "[age, age] * 2", "gives a table of 2 columns"),
    ("a list instead of a column", "[1, 2]", "gives a list, not one value per row"),
    ("exponent from the data", "10 ** (age * 10)", "exponent 630.0 is too large"),
    ("exponent from a column of huge values", "2 ** (height_cm * 1000)", "is too large"),
    ("integer tower", "((2 ** 100) ** 100) ** 100", "** 100 is too large a number"),
    ("integer power from a sum", "(10 ** 18 + 1) ** 99 * 10 ** 99 ** 1", "a power inside an exponent"),
    ("string concatenation to megabytes", "'" + "x" * 3_000 + "' + '" + "y" * 3_000 + "' + '" + "z" * 3_000
     + "' + '" + "w" * 3_000 + "'", "too long"),
]


@pytest.mark.parametrize("case, rule, fragment", RUNTIME, ids=[c[0] for c in RUNTIME])
def test_unbounded_evaluation_is_refused_quickly(case, rule, fragment):
    started = time.monotonic()
    with pytest.raises(StudyConfigError, match="derive.v: ") as err:
        evaluate(rule, FRAME.astype({"age": float}), name="v")
    assert fragment in str(err.value)
    assert time.monotonic() - started < 2


def test_model_json_rules_use_the_same_limits():
    """``predict`` evaluates stored derive rules with :func:`evaluate` and its own functions."""
    with pytest.raises(StudyConfigError, match="takes no keyword argument 'out'"):
        evaluate("log(age, out=age)", FRAME, name="bmi", functions={"log": np.log})
    with pytest.raises(StudyConfigError, match="a power inside an exponent"):
        evaluate("10**10**10", FRAME, name="bmi", functions={})
