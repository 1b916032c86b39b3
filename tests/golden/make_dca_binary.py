"""Regenerate ``dca_binary.csv``: dcurves' decision curve on its bundled binary data set.

The reference for ``tests/test_decision.py``.  Run from the repository root with the
project's virtualenv::

    .venv/bin/python tests/golden/make_dca_binary.py

Data: ``df_binary.csv`` shipped inside the ``dcurves`` package (750 patients,
outcome ``cancer``); models ``cancerpredmarker`` (a predicted probability) and
``famhistory`` (a 0/1 indicator used as a risk).  Thresholds
``np.arange(0.01, 1.0, 0.01)``.  Numbers are written with 17 significant digits so
they read back bit-for-bit.
"""

from pathlib import Path

import dcurves
import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
MODELS = ["cancerpredmarker", "famhistory"]
THRESHOLDS = np.arange(0.01, 1.0, 0.01)


def main() -> None:
    data = pd.read_csv(Path(dcurves.data) / "df_binary.csv")
    result = dcurves.dca(data=data, outcome="cancer", modelnames=MODELS, thresholds=THRESHOLDS)
    out = result[["model", "threshold", "net_benefit", "tp_rate", "fp_rate"]]
    out.to_csv(HERE / "dca_binary.csv", index=False, float_format="%.17g")
    print(f"wrote {len(out)} rows with dcurves {dcurves.__version__}")


if __name__ == "__main__":
    main()
