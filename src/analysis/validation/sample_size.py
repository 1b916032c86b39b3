"""Minimum sample size for developing a prediction model of a binary outcome.

Implements the three criteria of Riley et al. (BMJ 2020;368:m441), as in the
``pmsampsize`` package:

(i)   expected uniform shrinkage of at least ``S`` (default 0.9):
      ``n = p / ((S - 1) ln(1 - R2cs / S))``;
(ii)  small optimism in the apparent Nagelkerke R-squared (``delta = 0.05``): the same
      formula with ``S = R2cs / (R2cs + delta * max(R2cs))``, where
      ``max(R2cs) = 1 - (prev^prev (1 - prev)^(1 - prev))^2``;
(iii) precise estimation of the overall risk, ``n = (1.96 / margin)^2 prev (1 - prev)``.

Each ``n`` is rounded up; events are ``ceil(n * prev)`` and events per parameter are
``n * prev / p`` (as printed by pmsampsize).

When only the C statistic is known, R2cs is derived with the approach of Riley, Van
Calster & Collins (Stat Med 2021;40:859-64) used by pmsampsize: the linear predictor is
N(0, 1) in non-events and N(mu, 1) in events with ``mu = sqrt(2) * Phi^-1(C)``, and
R2cs is that of the (correctly specified) logistic regression of the outcome on it.
pmsampsize estimates this by simulating a million patients; here the same quantity is
computed exactly in the large-sample limit, ``R2cs = 1 - exp(-2 I)``, where ``I`` is the
mutual information (nats) between outcome and linear predictor, by numerical
integration.  It is therefore deterministic and agrees with the simulation up to its
Monte-Carlo error.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import integrate, stats
from scipy.special import log_expit, logsumexp

from analysis.errors import AnalysisError

__all__ = [
    "describe_adequacy",
    "max_r2_cs",
    "r2_cs_from_c_statistic",
    "riley_anticipated",
    "riley_binary",
]

_Z = 1.96  # as in Riley et al. and pmsampsize


def _check_prevalence(prevalence) -> float:
    if not (isinstance(prevalence, int | float) and 0 < prevalence < 1):
        raise AnalysisError(
            f"prevalence must be a number strictly between 0 and 1, got {prevalence!r}"
        )
    return float(prevalence)


def max_r2_cs(prevalence: float) -> float:
    """Largest attainable Cox-Snell R-squared for a binary outcome with this prevalence.

    ``max R2cs = 1 - exp(2 lnL_null / n) = 1 - (prev^prev (1 - prev)^(1 - prev))^2``.

    Parameters
    ----------
    prevalence : float
        Outcome proportion, strictly between 0 and 1.

    Returns
    -------
    float

    Examples
    --------
    >>> round(max_r2_cs(0.5), 4)
    0.75
    """
    q = _check_prevalence(prevalence)
    ln_null = q * math.log(q) + (1 - q) * math.log(1 - q)
    return 1.0 - math.exp(2.0 * ln_null)


def r2_cs_from_c_statistic(c_statistic: float, prevalence: float) -> float:
    """Cox-Snell R-squared implied by a C statistic and prevalence (Riley et al. 2021).

    See the module notes: exact large-sample value of the pmsampsize simulation,
    ``1 - exp(-2 I(Y; LP))`` with ``LP | Y=0 ~ N(0, 1)``, ``LP | Y=1 ~ N(mu, 1)``,
    ``mu = sqrt(2) Phi^-1(C)``.

    Parameters
    ----------
    c_statistic : float
        Anticipated C statistic (AUC), strictly between 0.5 and 1.
    prevalence : float
        Outcome proportion, strictly between 0 and 1.

    Returns
    -------
    float

    Examples
    --------
    >>> round(r2_cs_from_c_statistic(0.5 + 1e-9, 0.2), 6)
    0.0
    """
    q = _check_prevalence(prevalence)
    if not (isinstance(c_statistic, int | float) and 0.5 < c_statistic < 1):
        raise AnalysisError(
            f"c_statistic must be a number strictly between 0.5 and 1, got {c_statistic!r}"
        )
    mu = math.sqrt(2.0) * stats.norm.ppf(c_statistic)
    log_q, log_1q = math.log(q), math.log1p(-q)
    h_y = -(q * log_q + (1 - q) * log_1q)

    def cond_entropy_density(x):
        # log f(x | y) for the two classes and their posterior probabilities
        l1 = log_q + stats.norm.logpdf(x, mu, 1.0)
        l0 = log_1q + stats.norm.logpdf(x, 0.0, 1.0)
        lf = logsumexp([l0, l1])
        eta = l1 - l0  # posterior logit
        post1, post0 = math.exp(log_expit(eta)), math.exp(log_expit(-eta))
        h = -(post1 * log_expit(eta) + post0 * log_expit(-eta))
        return math.exp(lf) * h

    lo, hi = min(0.0, mu) - 12.0, max(0.0, mu) + 12.0
    h_y_given_x, _ = integrate.quad(
        cond_entropy_density,
        lo,
        hi,
        points=[0.0, mu / 2, mu],
        limit=200,
        epsabs=1e-13,
        epsrel=1e-11,
    )
    info = max(h_y - h_y_given_x, 0.0)
    return float(-math.expm1(-2.0 * info))


def _n_for_shrinkage(parameters: int, r2: float, s: float) -> float:
    return parameters / ((s - 1.0) * math.log(1.0 - r2 / s))


def riley_binary(
    parameters: int,
    prevalence: float,
    r2_cs: float | None = None,
    c_statistic: float | None = None,
    shrinkage: float = 0.9,
    delta: float = 0.05,
    margin: float = 0.05,
) -> pd.DataFrame:
    """Minimum sample size of Riley et al. (BMJ 2020) for a binary-outcome model.

    Parameters
    ----------
    parameters : int
        Number of candidate predictor parameters (degrees of freedom), >= 1.
    prevalence : float
        Anticipated outcome proportion, strictly between 0 and 1.
    r2_cs : float, optional
        Anticipated Cox-Snell R-squared, in ``(0, max_r2_cs(prevalence))``.
    c_statistic : float, optional
        Anticipated C statistic, used to derive ``r2_cs`` when it is not given
        (:func:`r2_cs_from_c_statistic`).  Give exactly one of the two.
    shrinkage : float, default 0.9
        Target expected uniform shrinkage ``S`` of criterion (i), in ``(0, 1)``.
    delta : float, default 0.05
        Acceptable optimism in the apparent Nagelkerke R-squared, criterion (ii).
    margin : float, default 0.05
        Margin of error of the overall risk, criterion (iii).

    Returns
    -------
    pandas.DataFrame
        Rows ``shrinkage``, ``optimism``, ``overall_risk`` and ``overall`` (the
        largest), columns ``criterion, n_required, events_required,
        events_per_parameter``.  ``df.attrs`` records ``r2_cs``, ``max_r2_cs``,
        ``nagelkerke_r2``, ``shrinkage_optimism`` (S of criterion ii) and
        ``r2_cs_source``.

    Raises
    ------
    AnalysisError
        On invalid or inconsistent inputs.

    Examples
    --------
    >>> t = riley_binary(24, 0.174, r2_cs=0.288)
    >>> t["n_required"].tolist()
    [623, 662, 221, 662]
    """
    if isinstance(parameters, bool) or not (
        isinstance(parameters, int | np.integer) and parameters >= 1
    ):
        raise AnalysisError(f"parameters must be an integer >= 1, got {parameters!r}")
    q = _check_prevalence(prevalence)
    for name, value in (("shrinkage", shrinkage), ("delta", delta), ("margin", margin)):
        if not (isinstance(value, int | float) and 0 < value < 1):
            raise AnalysisError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    if (r2_cs is None) == (c_statistic is None):
        raise AnalysisError("give exactly one of r2_cs or c_statistic")
    mx = max_r2_cs(q)
    if r2_cs is None:
        r2 = r2_cs_from_c_statistic(c_statistic, q)
        source = f"derived from c_statistic={c_statistic:g} (Riley et al. 2021)"
    else:
        if not (isinstance(r2_cs, int | float) and 0 < r2_cs < mx):
            raise AnalysisError(
                f"r2_cs must be a number in (0, {mx:.4f}), the maximum Cox-Snell R-squared "
                f"for prevalence {q:g}; got {r2_cs!r}"
            )
        r2 = float(r2_cs)
        source = "given"
    if r2 >= shrinkage:
        raise AnalysisError(f"shrinkage must exceed r2_cs ({r2:.4f}), got {shrinkage!r}")
    s_opt = r2 / (r2 + delta * mx)
    n_raw = {
        "shrinkage": _n_for_shrinkage(parameters, r2, shrinkage),
        "optimism": _n_for_shrinkage(parameters, r2, s_opt),
        "overall_risk": (_Z / margin) ** 2 * q * (1 - q),
    }
    # Round away floating-point fuzz before the ceiling so e.g. 221.0000000001 -> 221.
    n_req = {k: int(math.ceil(round(v, 8))) for k, v in n_raw.items()}
    n_req["overall"] = max(n_req.values())
    crit = list(n_req)
    out = pd.DataFrame(
        {
            "criterion": crit,
            "n_required": [n_req[c] for c in crit],
            "events_required": [int(math.ceil(round(n_req[c] * q, 8))) for c in crit],
            "events_per_parameter": [n_req[c] * q / parameters for c in crit],
        }
    )
    out.attrs.update(
        r2_cs=r2,
        max_r2_cs=mx,
        nagelkerke_r2=r2 / mx,
        shrinkage_optimism=s_opt,
        r2_cs_source=source,
    )
    return out


#: Columns of :func:`riley_anticipated`.
ANTICIPATED_COLUMNS = (
    "scenario",
    "c_statistic",
    "c_source",
    "criterion",
    "n_required",
    "events_required",
    "events_per_parameter",
    "r2_cs",
    "note",
)


def riley_anticipated(
    parameters: int,
    prevalence: float,
    *,
    nested_cv_auc: float | None = None,
    anticipated_c: float | None = None,
    sensitivity: float = 0.05,
    **kwargs,
) -> pd.DataFrame:
    """Riley et al. (2020) requirement at an anticipated C statistic and at C +/- sensitivity.

    The anticipated C is a literature value when one is given (study.yaml
    ``modelling.anticipated_c``), otherwise the nested cross-validated AUC of the
    reference model - an honest estimate, unlike the apparent or Harrell-corrected AUC of
    an unpenalised model, which is optimistic when it (nearly) separates the outcome.
    :func:`riley_binary` is evaluated at ``C - sensitivity``, ``C`` and
    ``C + sensitivity``.  A scenario whose C is not strictly between 0.5 and 1 has no
    defined requirement (no anticipated discrimination): its rows carry NaN counts and
    a ``note`` saying so.

    Parameters
    ----------
    parameters : int
        Candidate predictor parameters.
    prevalence : float
        Anticipated outcome proportion.
    nested_cv_auc : float, optional
        The reference model's nested cross-validated AUC.
    anticipated_c : float, optional
        A literature C statistic; takes precedence over ``nested_cv_auc``.
    sensitivity : float, default 0.05
        Half-width of the sensitivity range.
    **kwargs
        ``shrinkage``, ``delta``, ``margin`` of :func:`riley_binary`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`ANTICIPATED_COLUMNS`; scenarios ``"C - 0.05"``, ``"anticipated"``,
        ``"C + 0.05"`` (in that order), each with :func:`riley_binary`'s four criteria.
        ``n_required`` and ``events_required`` are nullable integers.

    Raises
    ------
    AnalysisError
        If neither C is given or the inputs are invalid.

    Examples
    --------
    >>> t = riley_anticipated(10, 0.3, nested_cv_auc=0.75)
    >>> t.query("criterion == 'overall'")[["scenario", "c_statistic"]].values.tolist()
    [['C - 0.05', 0.7], ['anticipated', 0.75], ['C + 0.05', 0.8]]
    """
    if anticipated_c is not None:
        c, source = anticipated_c, "literature (study.yaml modelling.anticipated_c)"
    elif nested_cv_auc is not None:
        c, source = nested_cv_auc, "nested cross-validated AUC of the reference model"
    else:
        raise AnalysisError("give nested_cv_auc or anticipated_c (the anticipated C statistic)")
    if isinstance(c, bool) or not isinstance(c, int | float | np.floating) or not math.isfinite(c):
        raise AnalysisError(f"the anticipated C statistic must be a finite number, got {c!r}")
    if isinstance(sensitivity, bool) or not (
        isinstance(sensitivity, int | float) and 0 <= sensitivity < 0.5
    ):
        raise AnalysisError(f"sensitivity must be a number in [0, 0.5), got {sensitivity!r}")
    _check_prevalence(prevalence)
    scenarios = [
        (f"C - {sensitivity:g}", float(c) - sensitivity),
        ("anticipated", float(c)),
        (f"C + {sensitivity:g}", float(c) + sensitivity),
    ]
    parts = []
    for name, value in scenarios:
        value = round(value, 10)
        if 0.5 < value < 1:
            t = riley_binary(parameters, prevalence, c_statistic=value, **kwargs)
            t = t.assign(r2_cs=t.attrs["r2_cs"], note="")
        else:
            t = pd.DataFrame(
                {
                    "criterion": ["shrinkage", "optimism", "overall_risk", "overall"],
                    "n_required": np.nan,
                    "events_required": np.nan,
                    "events_per_parameter": np.nan,
                    "r2_cs": np.nan,
                    "note": f"C = {value:.3f} is not above 0.5: no anticipated discrimination, "
                    f"so the requirement is undefined",
                }
            )
        parts.append(t.assign(scenario=name, c_statistic=value, c_source=source))
    out = pd.concat(parts, ignore_index=True)[list(ANTICIPATED_COLUMNS)]
    out = out.astype({"n_required": "Int64", "events_required": "Int64"})
    out.attrs.update(c_statistic=float(c), c_source=source, sensitivity=float(sensitivity))
    return out


_CRITERION_TEXT = {
    "shrinkage": "(i) expected shrinkage",
    "optimism": "(ii) small optimism in R-squared",
    "overall_risk": "(iii) precise overall risk",
}


def describe_adequacy(n: int, events: int, requirement_df: pd.DataFrame) -> str:
    """One plain-English sentence saying whether a study is large enough.

    The study is adequate when ``n`` and ``events`` both reach the ``overall`` row of
    :func:`riley_binary`; otherwise the sentence names the criteria not met.

    Parameters
    ----------
    n : int
        Number of participants available.
    events : int
        Number of outcome events among them.
    requirement_df : pandas.DataFrame
        Output of :func:`riley_binary`.

    Returns
    -------
    str

    Examples
    --------
    >>> describe_adequacy(700, 122, riley_binary(24, 0.174, r2_cs=0.288))[:40]
    'The study is large enough: 700 participa'
    """
    for name, value in (("n", n), ("events", events)):
        if isinstance(value, bool) or not (isinstance(value, int | np.integer) and value >= 0):
            raise AnalysisError(f"{name} must be a non-negative integer, got {value!r}")
    if events > n:
        raise AnalysisError(f"events must not exceed n ({n}), got {events}")
    needed = {"criterion", "n_required", "events_required"}
    if not isinstance(requirement_df, pd.DataFrame) or not needed <= set(requirement_df.columns):
        raise AnalysisError(
            f"requirement_df must be the output of riley_binary (columns {sorted(needed)})"
        )
    rows = requirement_df.set_index("criterion")
    if "overall" not in rows.index:
        raise AnalysisError("requirement_df must have a row with criterion 'overall'")
    need_n = int(rows.loc["overall", "n_required"])
    need_e = int(rows.loc["overall", "events_required"])
    have = f"{n} participants with {events} events"
    req = f"the minimum is {need_n} participants with {need_e} events"
    if n >= need_n and events >= need_e:
        return f"The study is large enough: {have} meet or exceed all criteria ({req})."
    unmet = [
        _CRITERION_TEXT.get(c, c)
        for c, r in rows.drop(index="overall").iterrows()
        if n < r["n_required"] or events < r["events_required"]
    ]
    return f"The study is too small: {have}, but {req}; not met: {', '.join(unmet)}."
