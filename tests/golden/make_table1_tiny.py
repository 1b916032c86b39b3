"""Write the hand-computed golden files for the 6-row Table 1 case.

Run from the repository root:  .venv/bin/python tests/golden/make_table1_tiny.py

Nothing here calls ``analysis``, ``pandas`` statistics or ``scipy.stats`` test
functions: every number is worked out by hand below (written as exact fractions
/ square roots) from the data. The only library call is the Student t survival
function for the Welch p-value, fed with a hand-computed t and Welch df.

Data (group g has two levels A, B; level "mid" of c is never observed):

    row  x     c     b    g
    1    1     lo    1    A
    2    2     hi    0    A
    3    4     lo    1    A
    4    NaN   NaN   1    B
    5    5     hi    NaN  B
    6    8     hi    0    B

Files: tests/golden/table1_tiny_input.csv, table1_tiny_codebook.json,
table1_tiny_expected.csv (tidy Table 1), table1_tiny_tests.csv.
"""

from __future__ import annotations

import csv
import json
from math import comb, sqrt
from pathlib import Path

from scipy.stats import t as t_dist

HERE = Path(__file__).parent
NAN = float("nan")

CODEBOOK = {
    "id": {"type": "id"},
    "x": {"type": "numeric", "label": "Score", "unit": "points", "summary": "mean"},
    "c": {"type": "categorical", "levels": ["lo", "mid", "hi"], "label": "Class"},
    "b": {"type": "binary", "label": "Flag"},
    "g": {"type": "categorical", "levels": ["A", "B"], "label": "Arm"},
}
INPUT = [
    {"id": 1, "x": 1, "c": "lo", "b": 1, "g": "A"},
    {"id": 2, "x": 2, "c": "hi", "b": 0, "g": "A"},
    {"id": 3, "x": 4, "c": "lo", "b": 1, "g": "A"},
    {"id": 4, "x": "", "c": "", "b": 1, "g": "B"},
    {"id": 5, "x": 5, "c": "hi", "b": "", "g": "B"},
    {"id": 6, "x": 8, "c": "hi", "b": 0, "g": "B"},
]

COLS = ["variable", "level", "group", "n", "mean", "sd", "median", "q1", "q3", "count", "percent", "missing"]


def num(group, n, mean, sd, median, q1, q3, missing):
    return ["x", "", group, n, mean, sd, median, q1, q3, NAN, NAN, missing]


def cat(var, level, group, n, count, percent, missing):
    return [var, level, group, n, NAN, NAN, NAN, NAN, NAN, count, percent, missing]


EXPECTED = [
    # group sizes
    ["n", "", "Overall", 6, NAN, NAN, NAN, NAN, NAN, 6, NAN, 0],
    ["n", "", "A", 3, NAN, NAN, NAN, NAN, NAN, 3, NAN, 0],
    ["n", "", "B", 3, NAN, NAN, NAN, NAN, NAN, 3, NAN, 0],
    # x overall: 1,2,4,5,8 -> mean 20/5 = 4; squared deviations 9+4+0+1+16 = 30, var 30/4;
    # sorted positions 0..4: q1 at position 1 -> 2, q3 at position 3 -> 5
    num("Overall", 5, 4.0, sqrt(30 / 4), 4.0, 2.0, 5.0, 1),
    # x in A: 1,2,4 -> mean 7/3; squared deviations 16/9+1/9+25/9 = 42/9, var 21/9;
    # q1 at position 0.5 -> 1.5, q3 at position 1.5 -> 3
    num("A", 3, 7 / 3, sqrt(21 / 9), 2.0, 1.5, 3.0, 0),
    # x in B: 5,8 -> mean 6.5, var (1.5^2 * 2)/1 = 4.5; q1 at 0.25 -> 5.75, q3 at 0.75 -> 7.25
    num("B", 2, 6.5, sqrt(4.5), 6.5, 5.75, 7.25, 1),
    # c overall: lo 2, mid 0, hi 3 of 5 observed; 1 missing
    cat("c", "lo", "Overall", 5, 2, 40.0, 1),
    cat("c", "mid", "Overall", 5, 0, 0.0, 1),
    cat("c", "hi", "Overall", 5, 3, 60.0, 1),
    cat("c", "lo", "A", 3, 2, 200 / 3, 0),
    cat("c", "mid", "A", 3, 0, 0.0, 0),
    cat("c", "hi", "A", 3, 1, 100 / 3, 0),
    cat("c", "lo", "B", 2, 0, 0.0, 1),
    cat("c", "mid", "B", 2, 0, 0.0, 1),
    cat("c", "hi", "B", 2, 2, 100.0, 1),
    # b overall: 1,0,1,1,NaN,0 -> "0": 2, "1": 3 of 5
    cat("b", "0", "Overall", 5, 2, 40.0, 1),
    cat("b", "1", "Overall", 5, 3, 60.0, 1),
    cat("b", "0", "A", 3, 1, 100 / 3, 0),
    cat("b", "1", "A", 3, 2, 200 / 3, 0),
    cat("b", "0", "B", 2, 1, 50.0, 1),
    cat("b", "1", "B", 2, 1, 50.0, 1),
]


def welch_p() -> float:
    """Welch t-test of x, A (1,2,4) vs B (5,8)."""
    v1, n1, v2, n2 = 21 / 9, 3, 4.5, 2
    se2 = v1 / n1 + v2 / n2
    t = (7 / 3 - 6.5) / sqrt(se2)
    df = se2**2 / ((v1 / n1) ** 2 / (n1 - 1) + (v2 / n2) ** 2 / (n2 - 1))
    return float(2 * t_dist.sf(abs(t), df))


def fisher_two_sided(a: int, row1: int, row2: int, col1: int) -> float:
    """Two-sided Fisher p: sum of hypergeometric probabilities <= that of the table."""
    n = row1 + row2

    def prob(k):
        return comb(row1, k) * comb(row2, col1 - k) / comb(n, col1)

    lo, hi = max(0, col1 - row2), min(row1, col1)
    p_obs = prob(a)
    return sum(prob(k) for k in range(lo, hi + 1) if prob(k) <= p_obs * (1 + 1e-7))


TESTS = [
    # x: Cohen's d = (6.5 - 7/3) / sqrt((21/9 + 4.5) / 2)
    {"variable": "x", "test": "Welch t-test", "p_value": welch_p(),
     "smd": (6.5 - 7 / 3) / sqrt((21 / 9 + 4.5) / 2)},
    # c: "mid" unobserved -> 2x2 table A: lo 2, hi 1; B: lo 0, hi 2. Expected B-lo = 2*2/5 < 5
    # -> Fisher: P(A-lo = 0, 1, 2) = 0.1, 0.6, 0.3; observed 2 -> p = 0.1 + 0.3 = 0.4.
    # SMD: drop "lo"; p_hi = 1/3 (A), 1 (B); variances 2/9, 0 -> pooled 1/9;
    # d^2 = (2/3)^2 / (1/9) = 4 -> SMD 2.
    {"variable": "c", "test": "Fisher's exact", "p_value": fisher_two_sided(2, 3, 2, 2), "smd": 2.0},
    # b: A "0" 1, "1" 2; B "0" 1, "1" 1 -> expected B-"0" = 2*2/5 < 5 -> Fisher,
    # observed A-"0" = 1 has the largest probability (0.6) -> p = 1.
    # SMD: p1 = 2/3, p2 = 1/2, pooled variance (2/9 + 1/4)/2 = 17/72, d^2 = (1/36)/(17/72) = 2/17.
    {"variable": "b", "test": "Fisher's exact", "p_value": fisher_two_sided(1, 3, 2, 2), "smd": sqrt(2 / 17)},
]


def main() -> None:
    (HERE / "table1_tiny_codebook.json").write_text(json.dumps(CODEBOOK, indent=2) + "\n")
    with open(HERE / "table1_tiny_input.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(INPUT[0]))
        w.writeheader()
        w.writerows(INPUT)
    with open(HERE / "table1_tiny_expected.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLS)
        for row in EXPECTED:
            w.writerow(["" if isinstance(v, float) and v != v else (repr(v) if isinstance(v, float) else v)
                        for v in row])
    with open(HERE / "table1_tiny_tests.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["variable", "test", "p_value", "smd"])
        w.writeheader()
        for row in TESTS:
            w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


if __name__ == "__main__":
    main()
