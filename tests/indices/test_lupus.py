"""SLE indices against the worked examples of clinical-indices.md §4."""

import numpy as np
import pandas as pd
import pytest

from analysis.errors import IndexInputError
from analysis.indices import lupus

NAN = float("nan")


def visit(*present):
    items = dict.fromkeys(lupus.SLEDAI_2K_WEIGHTS, False)
    for name in present:
        items[name] = True
    return items


BASELINE_1 = visit("arthritis", "rash", "mucosal_ulcers", "low_complement", "increased_dna_binding")
FOLLOWUP_1 = visit("low_complement", "increased_dna_binding")
BASELINE_2 = visit("proteinuria", "hematuria", "low_complement")


def test_weights_table():
    w = lupus.SLEDAI_2K_WEIGHTS
    assert len(w) == 24
    assert sum(w.values()) == 105
    assert [w[k] for k in ("seizure", "vasculitis", "pyuria", "pericarditis", "leukopenia")] == [
        8,
        8,
        4,
        2,
        1,
    ]


def test_sledai_worked_examples():
    assert lupus.sledai_2k(BASELINE_1) == 12.0
    assert lupus.sledai_2k(BASELINE_1, clinical=True) == 8.0
    assert lupus.sledai_2k(FOLLOWUP_1) == 4.0
    assert lupus.sledai_2k(FOLLOWUP_1, clinical=True) == 0.0
    assert lupus.sledai_2k(BASELINE_2) == 10.0
    assert lupus.sledai_2k(visit(*lupus.SLEDAI_2K_WEIGHTS)) == 105.0


def test_sledai_dataframe_gives_series_and_missing_descriptor_gives_nan():
    frame = pd.DataFrame(
        [BASELINE_1, FOLLOWUP_1, BASELINE_2], index=["v0", "v1", "v2"], dtype=object
    )
    frame["extra_column"] = 99  # ignored
    frame.loc["v2", "fever"] = np.nan
    out = lupus.sledai_2k(frame)
    assert isinstance(out, pd.Series) and list(out.index) == ["v0", "v1", "v2"]
    assert out.iloc[:2].tolist() == [12.0, 4.0] and np.isnan(out["v2"])


def test_sledai_errors():
    items = dict(BASELINE_1)
    del items["cva"]
    with pytest.raises(IndexInputError, match="items: missing required column.*cva"):
        lupus.sledai_2k(items)
    with pytest.raises(IndexInputError, match="rash: must be True/False"):
        lupus.sledai_2k(dict(BASELINE_1, rash=2))
    with pytest.raises(IndexInputError, match="items: must be a mapping or DataFrame"):
        lupus.sledai_2k([1, 2, 3])


def test_clinical_sledai_does_not_need_serology_columns():
    items = {
        k: v for k, v in BASELINE_1.items() if k not in ("low_complement", "increased_dna_binding")
    }
    assert lupus.sledai_2k(items, clinical=True) == 8.0
    with pytest.raises(IndexInputError, match="low_complement"):
        lupus.sledai_2k(items)


def test_sri4_worked_examples():
    # 12 -> 4, PGA 1.8 -> 0.4: SRI-4 yes
    assert lupus.sri4(12, 4, 1.8, 0.4, 0, 0) is True
    # 10 -> 6 with PGA 1.5 -> 1.9: fails on PGA (+0.4); +0.3 also fails
    assert lupus.sri4(10, 6, 1.5, 1.9, 0, 0) is False
    assert lupus.sri4(10, 6, 1.5, 1.8, 0, 0) is False
    assert lupus.sri4(10, 6, 1.5, 1.7, 0, 0) is True  # +0.2


def test_sri4_bilag_components():
    assert lupus.sri4(12, 4, 1.0, 1.0, True, 0) is False  # new BILAG A (bool)
    assert lupus.sri4(12, 4, 1.0, 1.0, 1, 0) is False  # new BILAG A (count)
    assert lupus.sri4(12, 4, 1.0, 1.0, False, 1) is True  # one new BILAG B allowed
    assert lupus.sri4(12, 4, 1.0, 1.0, 0, 2) is False
    assert lupus.sri4(12, 9, 1.0, 1.0, 0, 0) is False  # SLEDAI drop 3
    assert lupus.sri4(12, 4, 1.0, 1.0, NAN, 0) is pd.NA
    assert lupus.sri4(12, 9, 1.0, 1.0, NAN, 0) is False  # fails regardless


def test_sri4_arrays_and_errors():
    out = lupus.sri4(np.array([12, 10]), np.array([4, 6]), 1.8, np.array([0.4, 2.2]), 0, 0)
    assert isinstance(out, pd.arrays.BooleanArray) and out.tolist() == [True, False]
    with pytest.raises(IndexInputError, match="pga_followup: must be between 0 and 3"):
        lupus.sri4(12, 4, 1.8, 3.5, 0, 0)
    with pytest.raises(
        IndexInputError, match="sledai_baseline: must be a whole number between 0 and 105"
    ):
        lupus.sri4(106, 4, 1.8, 0.4, 0, 0)
    with pytest.raises(IndexInputError, match="new_bilag_b: must be a whole number"):
        lupus.sri4(12, 4, 1.8, 0.4, 0, -1)


def test_lldas():
    assert lupus.lldas(4, False, False, 1.0, 7.5) is True
    assert lupus.lldas(5, False, False, 1.0, 7.5) is False
    assert lupus.lldas(4, True, False, 1.0, 7.5) is False
    assert lupus.lldas(4, False, True, 1.0, 7.5) is False
    assert lupus.lldas(4, False, False, 1.1, 7.5) is False
    assert lupus.lldas(4, False, False, 1.0, 7.6) is False
    assert lupus.lldas(4, False, False, 1.0, 5, standard_immunosuppression=False) is False
    assert lupus.lldas(4, False, False, NAN, 5) is pd.NA
    with pytest.raises(IndexInputError, match="prednisolone_mg: must be at least 0"):
        lupus.lldas(4, False, False, 1.0, -1)


def test_doris():
    assert lupus.doris(0, 0.4, 5) is True
    assert lupus.doris(0, 0.4, 5, prednisolone_rule="lt5") is False  # variant "<5"
    assert lupus.doris(0, 0.4, 4.9, prednisolone_rule="lt5") is True
    assert lupus.doris(0, 0.5, 0) is False  # PGA must be < 0.5
    assert lupus.doris(1, 0.0, 0) is False
    series = lupus.doris(pd.Series([0, 2, NAN], index=["a", "b", "c"]), 0.2, 2.5)
    assert series.dtype == "boolean"
    assert list(series.index) == ["a", "b", "c"]
    assert series.astype(object).tolist() == [True, False, pd.NA]
    with pytest.raises(IndexInputError, match="prednisolone_rule: must be one of"):
        lupus.doris(0, 0.4, 5, prednisolone_rule="le7.5")
    with pytest.raises(
        IndexInputError, match="clinical_sledai: must be a whole number between 0 and 101"
    ):
        lupus.doris(102, 0.4, 5)
