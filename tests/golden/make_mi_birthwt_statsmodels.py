"""Independent multiple-imputation reference for tests/regression/test_imputation.py.

``mi_birthwt_statsmodels_imputations.csv``: M = 5 completed data sets of the numeric and
binary columns of ``mi_birthwt_amputed.csv`` (age, lwt, smoke, ptd, ht, ui, ftv, low; the
amputation is described in make_mi_birthwt.py), drawn by **statsmodels' own**
``statsmodels.imputation.mice.MICEData`` with its default conditional models (each column
on all the others, main effects, by its default formula), predictive mean matching with
``k_pmm=5`` donors and ``update_all(10)``; chain ``j`` draws from
``numpy.random.default_rng(numpy.random.SeedSequence(7).spawn(5)[j])``. The ``analysis``
package is not imported.

This is the documented contract of ``analysis.regression.imputation.impute_mice`` for
non-categorical columns (one ``SeedSequence(seed).spawn(m)`` child per chain, statsmodels'
perturbation and matching, main-effects conditional models), so its output must equal this
file to rounding. Needs statsmodels >= 0.15 (``MICEData(..., rng=...)``); made with the
version recorded in the ``statsmodels`` column.

Run from the repository root: ``.venv/bin/python tests/golden/make_mi_birthwt_statsmodels.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels
from statsmodels.imputation.mice import MICEData

HERE = Path(__file__).parent
COLUMNS = ["age", "lwt", "smoke", "ptd", "ht", "ui", "ftv", "low"]
M, SEED, BURN_IN, K_PMM = 5, 7, 10, 5


def reference_imputations(amputed: pd.DataFrame) -> pd.DataFrame:
    """The M completed data sets drawn by statsmodels' MICEData, in long format.

    The test calls this too: predictive mean matching makes the draws depend on the last
    bits of the conditional regressions, which differ between CPUs (BLAS kernels), so the
    stored file documents one machine and the test compares with a live run.
    """
    data = amputed[COLUMNS].astype(float).reset_index(drop=True)
    frames = []
    for j, child in enumerate(np.random.SeedSequence(SEED).spawn(M)):
        imp = MICEData(data.copy(), k_pmm=K_PMM, rng=np.random.default_rng(child))
        imp.update_all(BURN_IN)
        frames.append(imp.data[COLUMNS].assign(imputation=j, rownames=amputed["rownames"]))
    out = pd.concat(frames, ignore_index=True)[["imputation", "rownames", *COLUMNS]]
    out["statsmodels"] = statsmodels.__version__
    return out


def main() -> None:
    out = reference_imputations(pd.read_csv(HERE / "mi_birthwt_amputed.csv"))
    out.to_csv(HERE / "mi_birthwt_statsmodels_imputations.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
