"""Golden data for ``summary_choice`` (mean vs median), from scipy's Shapiro-Wilk test.

Run from the repository root:  .venv/bin/python tests/golden/make_table1_normality.py

Three deterministic samples of n = 60 (distribution quantiles at Blom's plotting
positions, so no random numbers are involved):

* ``normal``  normal quantiles           -> Shapiro p ~ 1       -> mean
* ``expo``    exponential quantiles      -> Shapiro p << 0.01   -> median
* ``mild``    gamma quantiles, shape chosen so that 0.01 < p < 0.05, i.e. the
              choice flips between alpha = 0.05 (median) and alpha = 0.01 (mean).

Files: tests/golden/table1_normality_input.csv (the samples) and
table1_normality_expected.csv (Shapiro p, expected choice at both alphas).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).parent
N = 60


def main() -> None:
    pp = (np.arange(1, N + 1) - 0.375) / (N + 0.25)
    samples = {
        "normal": 50 + 10 * stats.norm.ppf(pp),
        "expo": 2 + 3 * stats.expon.ppf(pp),
    }
    for shape in np.arange(1.0, 60.0, 0.5):
        mild = 10 + 2 * stats.gamma.ppf(pp, shape)
        p = stats.shapiro(mild).pvalue
        if 0.015 < p < 0.045:  # keep clear of both thresholds
            samples["mild"] = mild
            break
    else:  # pragma: no cover - the grid always finds one
        raise RuntimeError("no gamma shape gives 0.01 < p < 0.05")
    rows = []
    for name, x in samples.items():
        p = float(stats.shapiro(x).pvalue)
        rows.append({"variable": name, "shapiro_p": p,
                     "choice_alpha_0.05": "median" if p < 0.05 else "mean",
                     "choice_alpha_0.01": "median" if p < 0.01 else "mean"})
    pd.DataFrame(samples).to_csv(HERE / "table1_normality_input.csv", index=False, float_format="%.17g")
    pd.DataFrame(rows).to_csv(HERE / "table1_normality_expected.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
