"""Rheumatoid arthritis: DAS28, SDAI, CDAI (RA), EULAR/ACR response, Boolean remission, D2T.

Follows ``clinical-indices.md`` section 3: DAS28 [R26, R27], SDAI/CDAI [R28–R30],
ACR20/50/70 and Boolean remission [R30–R33], EULAR 2021 difficult-to-treat RA
(Nagy 2021) [R34]. The RA clinical disease activity index is ``cdai_ra`` so it
never clashes with the Crohn's ``cdai``.

Yes/no rules use three-valued logic and return ``bool``/``pandas.NA`` for
scalars, a nullable-boolean array or Series otherwise; category labels are
``str`` or ``None``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import IndexInputError
from analysis.indices._common import (
    all_of,
    any_of,
    broadcast,
    categorize,
    check_choice,
    check_flag,
    check_range,
    ge,
    gt,
    le,
    lt,
    reject,
    relative_drop,
    table_columns,
    wrap_flag,
    wrap_labels,
    wrap_score,
)

__all__ = [
    "das28_esr",
    "das28_crp",
    "das28_category",
    "eular_response",
    "sdai",
    "sdai_category",
    "cdai_ra",
    "cdai_ra_category",
    "acr_response",
    "boolean_remission",
    "difficult_to_treat",
]

JOINTS_28 = 28
GH_MAX = 100  # patient global health, 0–100 mm VAS
GLOBAL_MAX = 10  # PtGA / PhGA for SDAI, CDAI and Boolean remission, 0–10 cm
ESR_MIN = 1.0  # the logarithm needs ESR ≥ 1 mm/h

DAS28_ESR_COEF = {"tjc": 0.56, "sjc": 0.28, "esr": 0.70, "gh": 0.014}
DAS28_CRP_COEF = {"tjc": 0.56, "sjc": 0.28, "crp": 0.36, "gh": 0.014, "constant": 0.96}

DAS28_HIGH_ABOVE = 5.1
DAS28_MODERATE_ABOVE = 3.2
DAS28_REMISSION_BELOW = 2.6
EULAR_GOOD_IMPROVEMENT_ABOVE = 1.2
EULAR_MODERATE_IMPROVEMENT_ABOVE = 0.6

SDAI_REMISSION_MAX = 3.3
SDAI_LOW_MAX = 11.0
SDAI_MODERATE_MAX = 26.0
CDAI_RA_REMISSION_MAX = 2.8
CDAI_RA_LOW_MAX = 10.0
CDAI_RA_MODERATE_MAX = 22.0

ACR_LEVELS = (20, 50, 70, 90)
ACR_CORE_KEYS = ("tjc", "sjc", "ptga", "phga", "pain", "haq", "apr")
ACR_OTHER_KEYS = ("ptga", "phga", "pain", "haq", "apr")
ACR_OTHER_REQUIRED = 3  # at least 3 of the 5 other core-set measures
ACR_TJC_MAX = 68  # 68/66 joint counts (28-joint counts also fit)
ACR_SJC_MAX = 66
HAQ_MAX = 3

BOOLEAN_JOINT_MAX = 1
BOOLEAN_CRP_MG_DL_MAX = 1.0
BOOLEAN_PTGA_MAX = {"1.0": 1.0, "2.0": 2.0}

D2T_MIN_FAILED_BTSDMARDS = 2
D2T_DAS28_ESR_ABOVE = 3.2  # ≥ moderate activity
D2T_CDAI_ABOVE = 10.0
D2T_GLUCOCORTICOID_MG = 7.5  # not taperable below 7.5 mg/day prednisone equivalent


def _joints_and_gh(a):
    check_range(a["tjc28"], "tjc28", 0, JOINTS_28, integer=True)
    check_range(a["sjc28"], "sjc28", 0, JOINTS_28, integer=True)
    if "gh" in a:
        check_range(a["gh"], "gh", 0, GH_MAX)


def das28_esr(tjc28, sjc28, esr, gh):
    """DAS28 with ESR [R26].

    ``0.56·√TJC28 + 0.28·√SJC28 + 0.70·ln(ESR) + 0.014·GH``.

    Parameters
    ----------
    tjc28, sjc28 : int or array-like
        Tender and swollen 28-joint counts (0–28).
    esr : float or array-like
        Erythrocyte sedimentation rate, mm/h (≥ 1 for the logarithm).
    gh : float or array-like
        Patient global health, 0–100 mm VAS.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        DAS28-ESR, NaN where any input is missing.

    Examples
    --------
    >>> round(das28_esr(8, 6, 40, 60), 3)
    5.692
    """
    a, template = broadcast({"tjc28": tjc28, "sjc28": sjc28, "esr": esr, "gh": gh})
    _joints_and_gh(a)
    reject(
        a["esr"],
        ~np.isnan(a["esr"]) & (a["esr"] < ESR_MIN),
        "esr",
        f"must be at least {ESR_MIN:g} mm/h for the logarithm",
    )
    c = DAS28_ESR_COEF
    score = (
        c["tjc"] * np.sqrt(a["tjc28"])
        + c["sjc"] * np.sqrt(a["sjc28"])
        + c["esr"] * np.log(a["esr"])
        + c["gh"] * a["gh"]
    )
    return wrap_score(score, template)


def das28_crp(tjc28, sjc28, crp_mg_l, gh):
    """DAS28 with CRP [R26].

    ``0.56·√TJC28 + 0.28·√SJC28 + 0.36·ln(CRP + 1) + 0.014·GH + 0.96`` (CRP in mg/L).

    Parameters
    ----------
    tjc28, sjc28 : int or array-like
        Tender and swollen 28-joint counts (0–28).
    crp_mg_l : float or array-like
        C-reactive protein in mg/L (≥ 0).
    gh : float or array-like
        Patient global health, 0–100 mm VAS.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        DAS28-CRP, NaN where any input is missing.

    Examples
    --------
    >>> round(das28_crp(8, 6, 15, 60), 3)
    5.068
    """
    a, template = broadcast({"tjc28": tjc28, "sjc28": sjc28, "crp_mg_l": crp_mg_l, "gh": gh})
    _joints_and_gh(a)
    check_range(a["crp_mg_l"], "crp_mg_l", 0)
    c = DAS28_CRP_COEF
    score = (
        c["tjc"] * np.sqrt(a["tjc28"])
        + c["sjc"] * np.sqrt(a["sjc28"])
        + c["crp"] * np.log(a["crp_mg_l"] + 1.0)
        + c["gh"] * a["gh"]
        + c["constant"]
    )
    return wrap_score(score, template)


def _nonnegative(value, name):
    a, template = broadcast({name: value})
    check_range(a[name], name, 0)
    return a[name], template


def das28_category(das28):
    """DAS28 activity category [R26].

    > 5.1 high; > 3.2 to 5.1 moderate; 2.6 to 3.2 low; < 2.6 remission.

    Parameters
    ----------
    das28 : float or array-like
        DAS28 (ESR or CRP).

    Returns
    -------
    str, None, numpy.ndarray or pandas.Series
        "remission", "low", "moderate" or "high"; ``None`` where missing.

    Examples
    --------
    >>> das28_category(5.692), das28_category(3.091)
    ('high', 'low')
    """
    v, template = _nonnegative(das28, "das28")
    return categorize(
        v,
        (
            ("remission", lambda x: lt(x, DAS28_REMISSION_BELOW)),
            ("low", lambda x: le(x, DAS28_MODERATE_ABOVE)),
            ("moderate", lambda x: le(x, DAS28_HIGH_ABOVE)),
            ("high", None),
        ),
        template,
    )


def eular_response(baseline_das28, current_das28):
    """EULAR response from DAS28 [R26].

    ============  ========  ==================  ======
    current       Δ > 1.2   0.6 < Δ ≤ 1.2       Δ ≤ 0.6
    ============  ========  ==================  ======
    ≤ 3.2         good      moderate            none
    3.2 – 5.1     moderate  moderate            none
    > 5.1         moderate  none                none
    ============  ========  ==================  ======

    with Δ = baseline − current.

    Parameters
    ----------
    baseline_das28, current_das28 : float or array-like
        DAS28 at baseline and now.

    Returns
    -------
    str, None, numpy.ndarray or pandas.Series
        "good", "moderate" or "none"; ``None`` where either score is missing
        (object array / object Series for array input).

    Examples
    --------
    >>> eular_response(5.5, 4.6), eular_response(6.0, 5.3)
    ('moderate', 'none')
    """
    a, template = broadcast({"baseline_das28": baseline_das28, "current_das28": current_das28})
    for name in a:
        check_range(a[name], name, 0)
    current = a["current_das28"]
    delta = a["baseline_das28"] - current
    big = gt(delta, EULAR_GOOD_IMPROVEMENT_ABOVE) == 1
    some = gt(delta, EULAR_MODERATE_IMPROVEMENT_ABOVE) == 1
    low = le(current, DAS28_MODERATE_ABOVE) == 1
    high = gt(current, DAS28_HIGH_ABOVE) == 1
    labels = np.full(delta.shape, "none", dtype=object)
    labels[some & ~high] = "moderate"
    labels[big] = "moderate"
    labels[big & low] = "good"
    labels[np.isnan(delta)] = None
    return wrap_labels(labels, template)


def _sum_components(a, template):
    check_range(a["tjc28"], "tjc28", 0, JOINTS_28, integer=True)
    check_range(a["sjc28"], "sjc28", 0, JOINTS_28, integer=True)
    check_range(a["ptga"], "ptga", 0, GLOBAL_MAX)
    check_range(a["phga"], "phga", 0, GLOBAL_MAX)
    if "crp_mg_dl" in a:
        check_range(a["crp_mg_dl"], "crp_mg_dl", 0)
    return wrap_score(sum(a.values()), template)


def sdai(tjc28, sjc28, ptga, phga, crp_mg_dl):
    """Simplified Disease Activity Index = TJC28 + SJC28 + PtGA + PhGA + CRP [R28–R30].

    Parameters
    ----------
    tjc28, sjc28 : int or array-like
        Tender and swollen 28-joint counts (0–28).
    ptga, phga : float or array-like
        Patient and physician global assessments, 0–10.
    crp_mg_dl : float or array-like
        C-reactive protein in mg/dL (≥ 0).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        SDAI, NaN where any input is missing.

    Examples
    --------
    >>> sdai(8, 6, 6, 5, 1.5)
    26.5
    """
    a, template = broadcast(
        {"tjc28": tjc28, "sjc28": sjc28, "ptga": ptga, "phga": phga, "crp_mg_dl": crp_mg_dl}
    )
    return _sum_components(a, template)


def cdai_ra(tjc28, sjc28, ptga, phga):
    """Clinical Disease Activity Index for RA = TJC28 + SJC28 + PtGA + PhGA [R28–R30].

    Not the Crohn's CDAI (see :func:`analysis.indices.crohns.cdai`).

    Parameters
    ----------
    tjc28, sjc28 : int or array-like
        Tender and swollen 28-joint counts (0–28).
    ptga, phga : float or array-like
        Patient and physician global assessments, 0–10.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        CDAI (RA), NaN where any input is missing.

    Examples
    --------
    >>> cdai_ra(8, 6, 6, 5)
    25.0
    """
    a, template = broadcast({"tjc28": tjc28, "sjc28": sjc28, "ptga": ptga, "phga": phga})
    return _sum_components(a, template)


def _cutoff_category(value, name, remission_max, low_max, moderate_max):
    v, template = _nonnegative(value, name)
    return categorize(
        v,
        (
            ("remission", lambda x: le(x, remission_max)),
            ("low", lambda x: le(x, low_max)),
            ("moderate", lambda x: le(x, moderate_max)),
            ("high", None),
        ),
        template,
    )


def sdai_category(sdai):
    """SDAI activity category [R28–R30].

    ≤ 3.3 remission; ≤ 11 low; ≤ 26 moderate; > 26 high.

    Parameters
    ----------
    sdai : float or array-like
        SDAI score(s).

    Returns
    -------
    str, None, numpy.ndarray or pandas.Series
        "remission", "low", "moderate" or "high"; ``None`` where missing.

    Examples
    --------
    >>> sdai_category(26.5), sdai_category(3.4)
    ('high', 'low')
    """
    return _cutoff_category(sdai, "sdai", SDAI_REMISSION_MAX, SDAI_LOW_MAX, SDAI_MODERATE_MAX)


def cdai_ra_category(cdai_ra):
    """CDAI (RA) activity category [R28–R30].

    ≤ 2.8 remission; ≤ 10 low; ≤ 22 moderate; > 22 high.

    Parameters
    ----------
    cdai_ra : float or array-like
        CDAI (RA) score(s).

    Returns
    -------
    str, None, numpy.ndarray or pandas.Series
        "remission", "low", "moderate" or "high"; ``None`` where missing.

    Examples
    --------
    >>> cdai_ra_category(25), cdai_ra_category(3.0)
    ('high', 'low')
    """
    return _cutoff_category(
        cdai_ra, "cdai_ra", CDAI_RA_REMISSION_MAX, CDAI_RA_LOW_MAX, CDAI_RA_MODERATE_MAX
    )


def _acr_table(table, what):
    columns, _ = table_columns(table, ACR_CORE_KEYS, what)
    return columns


def acr_response(baseline, followup, *, level=20):
    """ACR20/50/70 response [R30–R33].

    At least ``level`` % improvement in both tender and swollen joint counts, and
    in at least 3 of: patient global (PtGA), physician global (PhGA), pain, HAQ
    and the acute-phase reactant (APR). An improvement from a baseline of 0 is
    undefined (unknown); the result is ``pd.NA`` only when unknown parts could
    change it.

    Parameters
    ----------
    baseline, followup : mapping or pandas.DataFrame
        Keys/columns ``tjc`` (0–68), ``sjc`` (0–66), ``ptga``, ``phga``, ``pain``
        (any non-negative scale, same at both visits), ``haq`` (0–3) and ``apr``
        (ESR or CRP, ≥ 0). Values may be scalars or arrays; DataFrames must
        share an index.
    level : {20, 50, 70, 90}, default 20
        Required percentage improvement.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; a Series with the DataFrame's index for DataFrame input.

    Examples
    --------
    >>> base = dict(tjc=10, sjc=8, ptga=6, phga=6, pain=60, haq=1.5, apr=20)
    >>> foll = dict(tjc=7, sjc=6, ptga=4, phga=4, pain=50, haq=1.25, apr=15)
    >>> acr_response(base, foll)
    True
    """
    if level not in ACR_LEVELS:
        raise IndexInputError(
            f"level: must be one of {', '.join(map(str, ACR_LEVELS))} (got {level!r})"
        )
    b = _acr_table(baseline, "baseline")
    f = _acr_table(followup, "followup")
    named = {f"{k}_baseline": b[k] for k in ACR_CORE_KEYS}
    named.update({f"{k}_followup": f[k] for k in ACR_CORE_KEYS})
    if isinstance(baseline, pd.DataFrame) and isinstance(followup, pd.DataFrame):
        if not baseline.index.equals(followup.index):
            raise IndexInputError("followup: must share the index of baseline")
    a, template = broadcast(named)
    limits = {"tjc": ACR_TJC_MAX, "sjc": ACR_SJC_MAX, "haq": HAQ_MAX}
    improved = {}
    for key in ACR_CORE_KEYS:
        for visit in ("baseline", "followup"):
            name = f"{key}_{visit}"
            check_range(a[name], name, 0, limits.get(key))
        drop = relative_drop(a[f"{key}_baseline"], a[f"{key}_followup"])
        improved[key] = ge(drop, level / 100.0)
    others = np.stack([improved[k] for k in ACR_OTHER_KEYS])
    n_true = (others == 1).sum(axis=0)
    n_unknown = np.isnan(others).sum(axis=0)
    enough = np.where(
        n_true >= ACR_OTHER_REQUIRED,
        1.0,
        np.where(n_true + n_unknown >= ACR_OTHER_REQUIRED, np.nan, 0.0),
    )
    flag = all_of(improved["tjc"], improved["sjc"], enough)
    return wrap_flag(flag, template)


def boolean_remission(tjc28, sjc28, crp_mg_dl, ptga, *, version="2.0"):
    """ACR/EULAR Boolean remission [R31].

    TJC28 ≤ 1, SJC28 ≤ 1, CRP ≤ 1 mg/dL and PtGA ≤ 2 (version "2.0", 2022; default)
    or PtGA ≤ 1 (version "1.0", 2011), PtGA on 0–10.

    Parameters
    ----------
    tjc28, sjc28 : int or array-like
        Tender and swollen 28-joint counts (0–28).
    crp_mg_dl : float or array-like
        C-reactive protein in mg/dL (≥ 0).
    ptga : float or array-like
        Patient global assessment, 0–10.
    version : {"2.0", "1.0"}, default "2.0"
        Definition version (⚠ PtGA threshold).

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` when a missing input could change the answer.

    Examples
    --------
    >>> boolean_remission(1, 0, 0.4, 1.5), boolean_remission(1, 0, 0.4, 1.5, version="1.0")
    (True, False)
    """
    check_choice(version, "version", BOOLEAN_PTGA_MAX)
    a, template = broadcast({"tjc28": tjc28, "sjc28": sjc28, "crp_mg_dl": crp_mg_dl, "ptga": ptga})
    check_range(a["tjc28"], "tjc28", 0, JOINTS_28, integer=True)
    check_range(a["sjc28"], "sjc28", 0, JOINTS_28, integer=True)
    check_range(a["crp_mg_dl"], "crp_mg_dl", 0)
    check_range(a["ptga"], "ptga", 0, GLOBAL_MAX)
    flag = all_of(
        le(a["tjc28"], BOOLEAN_JOINT_MAX),
        le(a["sjc28"], BOOLEAN_JOINT_MAX),
        le(a["crp_mg_dl"], BOOLEAN_CRP_MG_DL_MAX),
        le(a["ptga"], BOOLEAN_PTGA_MAX[version]),
    )
    return wrap_flag(flag, template)


def difficult_to_treat(
    n_failed_btsdmards_different_moa,
    csdmard_failed,
    das28_esr=None,
    cdai_ra=None,
    glucocorticoid_mg=None,
    rapid_radiographic_progression=False,
    qol_limiting_symptoms=False,
    management_problematic=False,
):
    """EULAR 2021 difficult-to-treat RA: all three criteria (Nagy 2021) [R34].

    1. Failure of ≥ 2 b/tsDMARDs with different mechanisms of action after
       csDMARD failure.
    2. Signs of active/progressive disease, at least one of: ≥ moderate activity
       (DAS28-ESR > 3.2 or CDAI > 10); glucocorticoids not taperable below
       7.5 mg/day (current dose ≥ 7.5); rapid radiographic progression; symptoms
       reducing quality of life.
    3. Management perceived as problematic by the rheumatologist and/or patient.

    ``None`` for ``das28_esr``, ``cdai_ra`` or ``glucocorticoid_mg`` means "not
    used" (left out of criterion 2); a NaN value inside an array means "missing"
    and can make the answer ``pd.NA``.

    Parameters
    ----------
    n_failed_btsdmards_different_moa : int or array-like
        Number of failed b/tsDMARDs with different mechanisms (≥ 0).
    csdmard_failed : bool or array-like
        Whether csDMARD treatment failed (or was contraindicated).
    das28_esr, cdai_ra : float or array-like, optional
        Current disease activity.
    glucocorticoid_mg : float or array-like, optional
        Lowest achievable prednisone-equivalent dose, mg/day.
    rapid_radiographic_progression, qol_limiting_symptoms : bool or array-like
        Other signs of active/progressive disease.
    management_problematic : bool or array-like
        Criterion 3.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Difficult-to-treat RA.

    Examples
    --------
    >>> difficult_to_treat(2, True, das28_esr=4.1, management_problematic=True)
    True
    """
    named = {
        "n_failed_btsdmards_different_moa": n_failed_btsdmards_different_moa,
        "csdmard_failed": csdmard_failed,
        "rapid_radiographic_progression": rapid_radiographic_progression,
        "qol_limiting_symptoms": qol_limiting_symptoms,
        "management_problematic": management_problematic,
    }
    optional = {"das28_esr": das28_esr, "cdai_ra": cdai_ra, "glucocorticoid_mg": glucocorticoid_mg}
    named.update({k: v for k, v in optional.items() if v is not None})
    a, template = broadcast(named)
    check_range(
        a["n_failed_btsdmards_different_moa"], "n_failed_btsdmards_different_moa", 0, integer=True
    )
    for name in (
        "csdmard_failed",
        "rapid_radiographic_progression",
        "qol_limiting_symptoms",
        "management_problematic",
    ):
        check_flag(a[name], name)
    for name in ("das28_esr", "cdai_ra", "glucocorticoid_mg"):
        if name in a:
            check_range(a[name], name, 0)
    criterion1 = all_of(
        ge(a["n_failed_btsdmards_different_moa"], D2T_MIN_FAILED_BTSDMARDS), a["csdmard_failed"]
    )
    signs = [a["rapid_radiographic_progression"], a["qol_limiting_symptoms"]]
    if "das28_esr" in a:
        signs.append(gt(a["das28_esr"], D2T_DAS28_ESR_ABOVE))
    if "cdai_ra" in a:
        signs.append(gt(a["cdai_ra"], D2T_CDAI_ABOVE))
    if "glucocorticoid_mg" in a:
        signs.append(ge(a["glucocorticoid_mg"], D2T_GLUCOCORTICOID_MG))
    flag = all_of(criterion1, any_of(*signs), a["management_problematic"])
    return wrap_flag(flag, template)
