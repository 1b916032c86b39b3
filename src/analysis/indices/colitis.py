"""Ulcerative colitis: the Mayo score family and its response/remission rules.

Follows ``clinical-indices.md`` section 2 and its Mayo sources [R21–R25]. Subscores
are whole numbers 0–3: stool frequency (SF), rectal bleeding (RB), endoscopy (ES)
and physician global assessment (PGA). Yes/no rules use three-valued logic and
return ``bool``/``pandas.NA`` for scalars, a nullable-boolean array or Series
otherwise.
"""

from __future__ import annotations

from analysis.indices._common import (
    all_of,
    any_of,
    broadcast,
    check_range,
    ge,
    le,
    lt,
    relative_drop,
    wrap_flag,
    wrap_score,
)

__all__ = [
    "mayo",
    "partial_mayo",
    "modified_mayo",
    "mayo_response",
    "mayo_remission",
    "mucosal_healing",
    "partial_mayo_response",
    "partial_mayo_remission",
    "modified_mayo_remission",
]

SUBSCORE_MAX = 3
MAYO_MAX = 12
PARTIAL_MAYO_MAX = 9
MODIFIED_MAYO_MAX = 9

MAYO_REMISSION_TOTAL_MAX = 2
MAYO_REMISSION_SUBSCORE_MAX = 1
MAYO_RESPONSE_DROP = 3
MAYO_RESPONSE_FRACTION = 0.30
MAYO_RESPONSE_RB_DROP = 1
MAYO_RESPONSE_RB_MAX = 1
MUCOSAL_HEALING_ES_MAX = 1
PARTIAL_MAYO_REMISSION_BELOW = 2
PARTIAL_MAYO_RESPONSE_DROP = 2
MODIFIED_MAYO_SF_DROP = 1
MODIFIED_MAYO_ES_MAX = 1


def _subscores(named):
    a, template = broadcast(named)
    for name, values in a.items():
        check_range(values, name, 0, SUBSCORE_MAX, integer=True)
    return a, template


def mayo(stool_frequency, rectal_bleeding, endoscopy, pga):
    """Full Mayo score = SF + RB + ES + PGA (0–12) [R21–R25].

    Parameters
    ----------
    stool_frequency, rectal_bleeding, endoscopy, pga : int or array-like
        Subscores, whole numbers 0–3.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Total, NaN where any subscore is missing.

    Examples
    --------
    >>> mayo(3, 2, 3, 2)
    10.0
    """
    a, template = _subscores(
        {
            "stool_frequency": stool_frequency,
            "rectal_bleeding": rectal_bleeding,
            "endoscopy": endoscopy,
            "pga": pga,
        }
    )
    return wrap_score(sum(a.values()), template)


def partial_mayo(stool_frequency, rectal_bleeding, pga):
    """Partial (non-invasive) Mayo score = SF + RB + PGA (0–9) [R21–R25].

    Parameters
    ----------
    stool_frequency, rectal_bleeding, pga : int or array-like
        Subscores, whole numbers 0–3.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Total, NaN where any subscore is missing.

    Examples
    --------
    >>> partial_mayo(3, 2, 2)
    7.0
    """
    a, template = _subscores(
        {"stool_frequency": stool_frequency, "rectal_bleeding": rectal_bleeding, "pga": pga}
    )
    return wrap_score(sum(a.values()), template)


def modified_mayo(stool_frequency, rectal_bleeding, endoscopy):
    """Modified (adapted) Mayo score = SF + RB + ES (0–9), no PGA [R21–R25].

    Parameters
    ----------
    stool_frequency, rectal_bleeding, endoscopy : int or array-like
        Subscores, whole numbers 0–3.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Total, NaN where any subscore is missing.

    Examples
    --------
    >>> modified_mayo(3, 2, 3)
    8.0
    """
    a, template = _subscores(
        {
            "stool_frequency": stool_frequency,
            "rectal_bleeding": rectal_bleeding,
            "endoscopy": endoscopy,
        }
    )
    return wrap_score(sum(a.values()), template)


def mayo_response(baseline, followup, rectal_bleeding_baseline, rectal_bleeding_followup):
    """Full Mayo clinical response [R21–R25].

    Decrease Δ = baseline − follow-up of ≥ 3 points and ≥ 30 %, plus a rectal-bleeding
    decrease ≥ 1 or a follow-up rectal-bleeding subscore ≤ 1.

    Parameters
    ----------
    baseline, followup : float or array-like
        Full Mayo totals (0–12).
    rectal_bleeding_baseline, rectal_bleeding_followup : int or array-like
        Rectal-bleeding subscores (0–3).

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; ``pd.NA`` when a missing input could change the answer.

    Examples
    --------
    >>> mayo_response(10, 3, 2, 0)
    True
    """
    a, template = broadcast(
        {
            "baseline": baseline,
            "followup": followup,
            "rectal_bleeding_baseline": rectal_bleeding_baseline,
            "rectal_bleeding_followup": rectal_bleeding_followup,
        }
    )
    check_range(a["baseline"], "baseline", 0, MAYO_MAX, integer=True)
    check_range(a["followup"], "followup", 0, MAYO_MAX, integer=True)
    for name in ("rectal_bleeding_baseline", "rectal_bleeding_followup"):
        check_range(a[name], name, 0, SUBSCORE_MAX, integer=True)
    rb_b, rb_f = a["rectal_bleeding_baseline"], a["rectal_bleeding_followup"]
    flag = all_of(
        ge(a["baseline"] - a["followup"], MAYO_RESPONSE_DROP),
        ge(relative_drop(a["baseline"], a["followup"]), MAYO_RESPONSE_FRACTION),
        any_of(ge(rb_b - rb_f, MAYO_RESPONSE_RB_DROP), le(rb_f, MAYO_RESPONSE_RB_MAX)),
    )
    return wrap_flag(flag, template)


def mayo_remission(stool_frequency, rectal_bleeding, endoscopy, pga):
    """Full Mayo remission: total ≤ 2 and no subscore > 1 [R21–R25].

    Parameters
    ----------
    stool_frequency, rectal_bleeding, endoscopy, pga : int or array-like
        Follow-up subscores, whole numbers 0–3.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` when a missing subscore could change the answer.

    Examples
    --------
    >>> mayo_remission(1, 0, 1, 0), mayo_remission(0, 0, 2, 0)
    (True, False)
    """
    a, template = _subscores(
        {
            "stool_frequency": stool_frequency,
            "rectal_bleeding": rectal_bleeding,
            "endoscopy": endoscopy,
            "pga": pga,
        }
    )
    flag = all_of(
        le(sum(a.values()), MAYO_REMISSION_TOTAL_MAX),
        *(le(v, MAYO_REMISSION_SUBSCORE_MAX) for v in a.values()),
    )
    return wrap_flag(flag, template)


def mucosal_healing(endoscopy):
    """Mucosal healing: Mayo endoscopic subscore ≤ 1 [R21–R25].

    Parameters
    ----------
    endoscopy : int or array-like
        Endoscopic subscore, 0–3.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Healing; ``pd.NA`` where missing.

    Examples
    --------
    >>> mucosal_healing(1), mucosal_healing(2)
    (True, False)
    """
    a, template = _subscores({"endoscopy": endoscopy})
    return wrap_flag(le(a["endoscopy"], MUCOSAL_HEALING_ES_MAX), template)


def partial_mayo_response(baseline, followup):
    """Partial Mayo response: decrease ≥ 2 points [R21–R25].

    Parameters
    ----------
    baseline, followup : float or array-like
        Partial Mayo totals (0–9).

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; ``pd.NA`` where either is missing.

    Examples
    --------
    >>> partial_mayo_response(7, 5), partial_mayo_response(7, 6)
    (True, False)
    """
    a, template = broadcast({"baseline": baseline, "followup": followup})
    for name in ("baseline", "followup"):
        check_range(a[name], name, 0, PARTIAL_MAYO_MAX, integer=True)
    return wrap_flag(ge(a["baseline"] - a["followup"], PARTIAL_MAYO_RESPONSE_DROP), template)


def partial_mayo_remission(score):
    """Partial Mayo remission: score < 2 [R21–R25].

    Parameters
    ----------
    score : float or array-like
        Partial Mayo total (0–9).

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` where missing.

    Examples
    --------
    >>> partial_mayo_remission(1), partial_mayo_remission(2)
    (True, False)
    """
    a, template = broadcast({"score": score})
    check_range(a["score"], "score", 0, PARTIAL_MAYO_MAX, integer=True)
    return wrap_flag(lt(a["score"], PARTIAL_MAYO_REMISSION_BELOW), template)


def modified_mayo_remission(stool_frequency, rectal_bleeding, endoscopy, stool_frequency_baseline):
    """Modified Mayo remission [R21–R25].

    RB = 0; SF = 0, or SF = 1 after a drop of ≥ 1 from baseline; ES ≤ 1.

    Parameters
    ----------
    stool_frequency, rectal_bleeding, endoscopy : int or array-like
        Follow-up subscores, whole numbers 0–3.
    stool_frequency_baseline : int or array-like
        Baseline stool-frequency subscore (0–3); only consulted when the
        follow-up SF is 1, so it may be NaN where SF is 0.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` when a missing input could change the answer.

    Examples
    --------
    >>> modified_mayo_remission(1, 0, 1, 2), modified_mayo_remission(1, 0, 1, 1)
    (True, False)
    """
    a, template = _subscores(
        {
            "stool_frequency": stool_frequency,
            "rectal_bleeding": rectal_bleeding,
            "endoscopy": endoscopy,
            "stool_frequency_baseline": stool_frequency_baseline,
        }
    )
    sf, sf_b = a["stool_frequency"], a["stool_frequency_baseline"]
    sf_ok = any_of(
        le(sf, 0),
        all_of(le(sf, 1), ge(sf_b - sf, MODIFIED_MAYO_SF_DROP)),
    )
    flag = all_of(le(a["rectal_bleeding"], 0), sf_ok, le(a["endoscopy"], MODIFIED_MAYO_ES_MAX))
    return wrap_flag(flag, template)
