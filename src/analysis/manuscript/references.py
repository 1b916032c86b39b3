"""The methods and software the manuscript cites, numbered in order of first citation.

Examples
--------
>>> refs = Citations()
>>> refs.cite("harrell"), refs.cite("riley"), refs.cite("harrell")
('[1]', '[2]', '[1]')
>>> print(refs.markdown().splitlines()[0][:38])
1. Harrell FE Jr. Regression Modeling
"""

from __future__ import annotations

from analysis.errors import AnalysisError

__all__ = ["REFERENCES", "SOFTWARE_REFERENCES", "Citations"]

#: Methods cited by the Methods section (key -> Vancouver-style reference).
REFERENCES = {
    "harrell": "Harrell FE Jr. Regression Modeling Strategies: With Applications to Linear "
               "Models, Logistic and Ordinal Regression, and Survival Analysis. 2nd ed. "
               "Cham: Springer; 2015.",
    "efron_632": "Efron B, Tibshirani R. Improvements on cross-validation: the .632+ bootstrap "
                 "method. J Am Stat Assoc. 1997;92(438):548-560.",
    "firth": "Firth D. Bias reduction of maximum likelihood estimates. Biometrika. "
             "1993;80(1):27-38.",
    "heinze": "Heinze G, Schemper M. A solution to the problem of separation in logistic "
              "regression. Stat Med. 2002;21(16):2409-2419.",
    "riley": "Riley RD, Ensor J, Snell KIE, et al. Calculating the sample size required for "
             "developing a clinical prediction model. BMJ. 2020;368:m441.",
    "riley_collins": "Riley RD, Collins GS. Stability of clinical prediction models developed "
                     "using statistical or machine learning methods. Biom J. "
                     "2023;65(8):e2200302.",
    "vickers": "Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating "
               "prediction models. Med Decis Making. 2006;26(6):565-574.",
    "van_calster": "Van Calster B, McLernon DJ, van Smeden M, Wynants L, Steyerberg EW. "
                   "Calibration: the Achilles heel of predictive analytics. BMC Med. "
                   "2019;17(1):230.",
    "austin_ici": "Austin PC, Steyerberg EW. The Integrated Calibration Index (ICI) and related "
                  "metrics for quantifying the calibration of logistic regression models. Stat "
                  "Med. 2019;38(21):4051-4065.",
    "van_buuren": "van Buuren S, Groothuis-Oudshoorn K. mice: Multivariate imputation by "
                  "chained equations in R. J Stat Softw. 2011;45(3):1-67.",
    "rubin": "Rubin DB. Multiple Imputation for Nonresponse in Surveys. New York: Wiley; 1987.",
    "delong": "DeLong ER, DeLong DM, Clarke-Pearson DL. Comparing the areas under two or more "
              "correlated receiver operating characteristic curves: a nonparametric approach. "
              "Biometrics. 1988;44(3):837-845.",
    "clopper_pearson": "Clopper CJ, Pearson ES. The use of confidence or fiducial limits "
                       "illustrated in the case of the binomial. Biometrika. "
                       "1934;26(4):404-413.",
    "wilson": "Wilson EB. Probable inference, the law of succession, and statistical "
              "inference. J Am Stat Assoc. 1927;22(158):209-212.",
    "newcombe": "Newcombe RG. Interval estimation for the difference between independent "
                "proportions: comparison of eleven methods. Stat Med. 1998;17(8):873-890.",
    "tripod_ai": "Collins GS, Moons KGM, Dhiman P, et al. TRIPOD+AI statement: updated guidance "
                 "for reporting clinical prediction models that use regression or machine "
                 "learning methods. BMJ. 2024;385:e078378.",
}
#: Software cited with the version the run used (key: distribution name as in
#: :data:`analysis.manuscript.run_settings.SOFTWARE`).
SOFTWARE_REFERENCES = {
    "python": "Van Rossum G, Drake FL. Python 3 Reference Manual. Scotts Valley, CA: "
              "CreateSpace; 2009. https://www.python.org",
    "pandas": "McKinney W. Data structures for statistical computing in Python. In: "
              "Proceedings of the 9th Python in Science Conference; 2010:56-61.",
    "numpy": "Harris CR, Millman KJ, van der Walt SJ, et al. Array programming with NumPy. "
             "Nature. 2020;585(7825):357-362.",
    "scipy": "Virtanen P, Gommers R, Oliphant TE, et al. SciPy 1.0: fundamental algorithms for "
             "scientific computing in Python. Nat Methods. 2020;17(3):261-272.",
    "statsmodels": "Seabold S, Perktold J. Statsmodels: econometric and statistical modeling "
                   "with Python. In: Proceedings of the 9th Python in Science Conference; "
                   "2010:92-96.",
    "scikit-learn": "Pedregosa F, Varoquaux G, Gramfort A, et al. Scikit-learn: machine "
                    "learning in Python. J Mach Learn Res. 2011;12:2825-2830.",
    "matplotlib": "Hunter JD. Matplotlib: a 2D graphics environment. Comput Sci Eng. "
                  "2007;9(3):90-95.",
    "papermill": "nteract contributors. Papermill: parameterize, execute, and analyze "
                 "notebooks. https://github.com/nteract/papermill",
    "skops": "skops developers. skops: secure persistence of scikit-learn models. "
             "https://github.com/skops-dev/skops",
}


class Citations:
    """Numbers references in the order the text first cites them.

    Examples
    --------
    >>> refs = Citations()
    >>> refs.cite("firth", "heinze")
    '[1, 2]'
    >>> refs.cite("nonexistent")
    Traceback (most recent call last):
    ...
    analysis.errors.AnalysisError: unknown reference 'nonexistent'
    """

    def __init__(self):
        self.keys: list[str] = []

    def cite(self, *keys: str) -> str:
        """The bracketed numbers of ``keys``, numbering new ones."""
        numbers = []
        for key in keys:
            if key not in REFERENCES and key not in SOFTWARE_REFERENCES:
                raise AnalysisError(f"unknown reference {key!r}")
            if key not in self.keys:
                self.keys.append(key)
            numbers.append(self.keys.index(key) + 1)
        return "[" + ", ".join(str(n) for n in numbers) + "]"

    def markdown(self) -> str:
        """The numbered reference list of everything cited, in citation order."""
        return "\n".join(f"{i}. {REFERENCES.get(key) or SOFTWARE_REFERENCES[key]}"
                         for i, key in enumerate(self.keys, start=1))
