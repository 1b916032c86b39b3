"""Hostile and broken raw tables: each is refused with a message naming column, rule and rows.

Every case is run as ``analysis check --study s`` in-process, inside a throw-away project;
nothing may be written under ``data/s/processed``.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import make_study

from analysis.pipeline.cli import EXIT_INPUT_ERROR, main

SPEC = {
    "title": "Raw tables",
    "id": "pid",
    "outcome": "y",
    "predictors": ["age", "sex"],
    "variables": {
        "age": {"type": "numeric", "min": 18, "max": 100},
        "sex": {"type": "categorical", "levels": ["f", "m"]},
        "y": {"type": "binary"},
    },
}
HEADER = "pid,age,sex,y\n"
ROWS = ["P1,30,f,0", "P2,41,m,1", "P3,52,f,0", "P4,63,m,1"]
HUGE = "X" * 2_000_000


def csv_text(*replace, header=HEADER):
    rows = list(ROWS)
    for i, row in replace:
        rows[i] = row
    return header + "\n".join(rows) + "\n"


def frame(**columns):
    base = {"pid": ["P1", "P2", "P3", "P4"], "age": [30.0, 41.0, 52.0, 63.0],
            "sex": ["f", "m", "f", "m"], "y": [0, 1, 0, 1]}
    return pd.DataFrame({**base, **columns})


# (case, file name, contents: CSV text, bytes or DataFrame, exit status, fragment of the message)
CASES = [
    ("duplicate ids after stripping", "raw/cohort.csv", csv_text((1, " P1 ,41,m,1")), EXIT_INPUT_ERROR,
     "column 'pid': duplicate id (2 rows, e.g. row 1 (pid=P1), row 2 (pid=P1))"),
    ("duplicate ids with a tab", "raw/cohort.csv", csv_text((3, "P3\t,63,m,1")), EXIT_INPUT_ERROR,
     "duplicate id (2 rows"),
    ("plain duplicate ids", "raw/cohort.csv", csv_text((3, "P3,63,m,1")), EXIT_INPUT_ERROR, "duplicate id"),
    ("id cut at a NUL byte", "raw/cohort.csv", csv_text((1, "P1\x00evil,41,m,1")), EXIT_INPUT_ERROR,
     "line 3 contains a NUL byte"),
    ("NUL byte in a number", "raw/cohort.csv", csv_text((2, "P3,5\x002,f,0")), EXIT_INPUT_ERROR, "NUL byte"),
    ("inf", "raw/cohort.csv", csv_text((0, "P1,inf,f,0")), EXIT_INPUT_ERROR,
     "column 'age': not a finite number (inf or a value too large) (1 row, e.g. row 1 (pid=P1))"),
    ("Infinity", "raw/cohort.csv", csv_text((1, "P2,Infinity,m,1")), EXIT_INPUT_ERROR,
     "column 'age': not a finite number"),
    ("-inf", "raw/cohort.csv", csv_text((1, "P2,-inf,m,1")), EXIT_INPUT_ERROR, "not a finite number"),
    ("-Infinity with spaces", "raw/cohort.csv", csv_text((1, "P2, -Infinity ,m,1")), EXIT_INPUT_ERROR,
     "not a finite number"),
    ("1e309", "raw/cohort.csv", csv_text((2, "P3,1e309,f,0")), EXIT_INPUT_ERROR, "column 'age': not a number"),
    ("duplicated CSV header", "raw/cohort.csv", csv_text(header="pid,age,sex,age\n"), EXIT_INPUT_ERROR,
     "column 'age' appears more than once in the header (columns 2 and 4)"),
    ("duplicated CSV header with spaces", "raw/cohort.csv", csv_text(header="pid, age,sex,age \n"),
     EXIT_INPUT_ERROR, "column 'age' appears more than once"),
    ("duplicated XLSX header", "raw/cohort.xlsx",
     frame().set_axis(["pid", "age", "age", "y"], axis=1), EXIT_INPUT_ERROR,
     "column 'age' appears more than once in the header"),
    ("parquet datetime in a numeric column", "raw/cohort.parquet",
     frame(age=pd.to_datetime(["2020-01-01"] * 4)), EXIT_INPUT_ERROR,
     "column 'age': stored as datetime64"),
    ("parquet bool in a numeric column", "raw/cohort.parquet", frame(age=[True, False, True, True]),
     EXIT_INPUT_ERROR, "column 'age': stored as bool in the data file, not as numbers"),
    ("parquet timedelta in a numeric column", "raw/cohort.parquet",
     frame(age=pd.to_timedelta([1, 2, 3, 4], unit="D")), EXIT_INPUT_ERROR, "stored as timedelta64"),
    ("parquet text in a numeric column", "raw/cohort.parquet", frame(age=["thirty", "41", "52", "63"]),
     EXIT_INPUT_ERROR, "column 'age': not a number (1 row, e.g. row 1 (pid=P1))"),
    ("parquet inf in a numeric column", "raw/cohort.parquet", frame(age=[30.0, float("inf"), 52.0, 63.0]),
     EXIT_INPUT_ERROR, "column 'age': not a finite number"),
    ("parquet NUL in an id", "raw/cohort.parquet", frame(pid=["P1", "P2\x00x", "P3", "P4"]), EXIT_INPUT_ERROR,
     "column 'pid': contains a NUL byte (1 row"),
    ("parquet NUL in a level", "raw/cohort.parquet", frame(sex=["f", "m\x00", "f", "m"]), EXIT_INPUT_ERROR,
     "column 'sex': contains a NUL byte"),
    ("parquet ids duplicate after stripping", "raw/cohort.parquet", frame(pid=["P1", "P1 ", "P3", "P4"]),
     EXIT_INPUT_ERROR, "column 'pid': duplicate id (2 rows"),
    ("2 MB id, duplicated", "raw/cohort.csv", csv_text((0, f"{HUGE},30,f,0"), (1, f"{HUGE},41,m,1")),
     EXIT_INPUT_ERROR, "duplicate id (2 rows, e.g. row 1 (pid=XXXX"),
    ("2 MB id on a bad row", "raw/cohort.csv", csv_text((0, f"{HUGE},300,f,0")), EXIT_INPUT_ERROR,
     "column 'age': value above max 100 (1 row, e.g. row 1 (pid=XXX"),
    ("2 MB level", "raw/cohort.csv", csv_text((0, f"P1,30,{HUGE},0")), EXIT_INPUT_ERROR,
     "column 'sex': unknown level"),
    ("not UTF-8 CSV", "raw/cohort.csv", csv_text((0, "P1,30,f,0")).replace("P1", "Pé").encode("latin-1"),
     EXIT_INPUT_ERROR, "cannot read cohort.csv"),
    ("binary file named .csv", "raw/cohort.csv", b"PK\x03\x04\x00\x00junk", EXIT_INPUT_ERROR, "NUL byte"),
    ("corrupt parquet", "raw/cohort.parquet", b"PAR1 not really", EXIT_INPUT_ERROR, "cannot read cohort.parquet"),
    ("empty CSV", "raw/cohort.csv", "", EXIT_INPUT_ERROR, "cannot read cohort.csv"),
    ("header only", "raw/cohort.csv", HEADER, EXIT_INPUT_ERROR, "has no rows"),
    ("clean CSV", "raw/cohort.csv", csv_text(), 0, ""),
    ("clean parquet with a missing age", "raw/cohort.parquet", frame(age=[30.0, None, 52.0, 63.0]), 0, ""),
    ("ids with spaces but distinct", "raw/cohort.csv", csv_text((0, " P1 ,30,f,0")), 0, ""),
]


def write(path, contents):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(contents, bytes):
        path.write_bytes(contents)
    elif isinstance(contents, str):
        path.write_text(contents, encoding="utf-8")
    elif path.suffix == ".xlsx":
        contents.to_excel(path, index=False)
    else:
        contents.to_parquet(path, index=False)


@pytest.mark.parametrize("case, filename, contents, status, fragment", CASES, ids=[c[0] for c in CASES])
def test_hostile_raw_table(tmp_path, monkeypatch, capsys, case, filename, contents, status, fragment):
    folder = make_study(tmp_path, "s", SPEC, filename=filename)
    write(folder / filename, contents)
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(tmp_path))
    got = main(["check", "--study", "s"])
    err = capsys.readouterr().err
    assert got == status, err
    assert fragment in err
    assert "Traceback" not in err and len(err) < 5000, err[:500]  # values are capped, never echoed whole
    assert "above max" not in err or "value above max" in fragment  # a type problem is not a range one
    assert not (folder / "processed").exists()


def test_parquet_with_a_duplicated_column_is_refused(tmp_path, monkeypatch, capsys):
    folder = make_study(tmp_path, "s", SPEC, filename="raw/cohort.parquet")
    table = pa.table([["P1", "P2"], [30.0, 41.0], ["f", "m"], [0, 1], [50.0, 60.0]],
                     names=["pid", "age", "sex", "y", "age"])
    pq.write_table(table, folder / "raw" / "cohort.parquet")
    monkeypatch.setenv("ANALYSIS_PROJECT_ROOT", str(tmp_path))
    assert main(["check", "--study", "s"]) == EXIT_INPUT_ERROR
    assert "column 'age' appears more than once" in capsys.readouterr().err
