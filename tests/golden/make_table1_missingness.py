"""Write the hand-computed golden files for tests/test_missingness.py.

Run from the repository root:  .venv/bin/python tests/golden/make_table1_missingness.py

Data (8 rows; "." = missing); the codebook lists the columns in the order
id, c, a, b, which differs from the data's column order on purpose:

    row  id  a    b    c
    1    1   1    x    2020-01-01
    2    2   .    y    .
    3    3   3    .    2020-01-03
    4    4   .    y    .
    5    5   5    x    2020-01-05
    6    6   6    .    .
    7    7   7    x    2020-01-07
    8    8   .    .    .

Counted by hand:

* missing: id 0, a 3 (rows 2, 4, 8), b 3 (rows 3, 6, 8), c 4 (rows 2, 4, 6, 8);
  percentages of 8 rows: 0, 37.5, 37.5, 50.
* patterns over (a, b, c), 1 = observed: (1,1,1) rows 1, 5, 7 -> 3; (1,0,1) row 3 -> 1;
  (0,1,0) rows 2, 4 -> 2; (1,0,0) row 6 -> 1; (0,0,0) row 8 -> 1.
* complete cases: a, b, c -> rows 1, 5, 7 = 3/8; a, b -> rows 1, 5, 7 = 3/8;
  b -> 5/8; id -> 8/8; a, c -> rows 1, 3, 5, 7 = 4/8.

Files: tests/golden/table1_missingness_{input.csv, codebook.json, table.csv,
patterns.csv, complete.csv}.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

HERE = Path(__file__).parent

CODEBOOK = {
    "id": {"type": "id"},
    "c": {"type": "date", "label": "Visit date"},
    "a": {"type": "numeric", "label": "Score"},
    "b": {"type": "categorical", "levels": ["x", "y"], "label": "Kind"},
}
INPUT = [
    [1, 1, "x", "2020-01-01"],
    [2, "", "y", ""],
    [3, 3, "", "2020-01-03"],
    [4, "", "y", ""],
    [5, 5, "x", "2020-01-05"],
    [6, 6, "", ""],
    [7, 7, "x", "2020-01-07"],
    [8, "", "", ""],
]
TABLE = [  # variable, n_missing, percent_missing, n  (codebook order)
    ["id", 0, 0.0, 8],
    ["c", 4, 50.0, 8],
    ["a", 3, 37.5, 8],
    ["b", 3, 37.5, 8],
]
PATTERNS = [  # a, b, c, count, n_missing  (fewest missing first, then most frequent)
    [1, 1, 1, 3, 0],
    [1, 0, 1, 1, 1],
    [0, 1, 0, 2, 2],
    [1, 0, 0, 1, 2],
    [0, 0, 0, 1, 3],
]
COMPLETE = [  # columns (";"-separated), share
    ["a;b;c", 3 / 8],
    ["a;b", 3 / 8],
    ["b", 5 / 8],
    ["id", 1.0],
    ["a;c", 4 / 8],
]


def write(name: str, header: list[str], rows: list[list]) -> None:
    with open(HERE / name, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def main() -> None:
    (HERE / "table1_missingness_codebook.json").write_text(json.dumps(CODEBOOK, indent=2) + "\n")
    write("table1_missingness_input.csv", ["id", "a", "b", "c"], INPUT)
    write("table1_missingness_table.csv", ["variable", "n_missing", "percent_missing", "n"], TABLE)
    write("table1_missingness_patterns.csv", ["a", "b", "c", "count", "n_missing"], PATTERNS)
    write("table1_missingness_complete.csv", ["columns", "share"], COMPLETE)


if __name__ == "__main__":
    main()
