"""Patient-reported outcomes: HAQ-DI, IBDQ-32 total and SF-36 scale scores.

Follows ``clinical-indices.md`` section 5, which lists no primary references; the
docstrings name the instruments' original publications. SF-36 physical and mental component
summaries (PCS/MCS) are norm-based (mean 50, SD 10) and need population norms
and factor weights, so they are deliberately not computed here.
"""

from __future__ import annotations

import numpy as np

from analysis.errors import IndexInputError
from analysis.indices._common import (
    as_matrix,
    broadcast,
    check_flag,
    check_range,
    ge,
    reject,
    wrap_flag,
    wrap_score,
)

__all__ = ["HAQ_MCID", "haq_di", "haq_di_response", "ibdq_total", "sf36_scale"]

HAQ_CATEGORIES = (
    "dressing",
    "arising",
    "eating",
    "walking",
    "hygiene",
    "reach",
    "grip",
    "activities",
)
HAQ_CATEGORY_MAX = 3
#: An aid or device raises the category score to at least this value.
HAQ_AID_FLOOR = 2
#: Fewest answered categories for a valid HAQ-DI (otherwise NaN).
HAQ_MIN_ANSWERED = 6
#: Minimal clinically important difference of the HAQ-DI.
HAQ_MCID = 0.22

IBDQ_N_ITEMS = 32
IBDQ_ITEM_MIN = 1
IBDQ_ITEM_MAX = 7


def haq_di(categories, aids=None):
    """Health Assessment Questionnaire Disability Index (spec §5; Stanford HAQ, Fries 1980).

    Each of the 8 categories (dressing, arising, eating, walking, hygiene, reach,
    grip, activities) scores its worst item, 0–3; an aid or device used for a
    category raises it to at least 2. The HAQ-DI is the mean of the answered
    categories (0–3). Rule used here: at least 6 of the 8 categories must be
    answered, otherwise the result is NaN.

    Parameters
    ----------
    categories : sequence of 8, or array/DataFrame of shape (n, 8)
        Category scores 0–3, NaN when unanswered.
    aids : same shape as ``categories``, optional
        True/1 when an aid/device (or help from another person) is used for that
        category. NaN counts as "not reported" (no aid), as an unticked box on the
        form does; an aid never makes an unanswered category answered.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        HAQ-DI per patient (a DataFrame gives a Series with its index).

    Examples
    --------
    >>> haq_di([1, 2, 0, 2, 1, 0, 1, 2])
    1.125
    >>> haq_di([1, 2, 0, 2, 1, 0, 1, 2], aids=[0, 0, 1, 0, 0, 0, 0, 0])
    1.375
    """
    scores, template = as_matrix(categories, "categories", len(HAQ_CATEGORIES), "8 category scores")
    check_range(scores, "categories", 0, HAQ_CATEGORY_MAX, integer=True)
    if aids is not None:
        used, _ = as_matrix(aids, "aids", len(HAQ_CATEGORIES), "8 aid/device flags")
        if used.shape != scores.shape:
            raise IndexInputError(
                f"aids: must have the same shape as categories (got {np.shape(aids)}, "
                f"expected {np.shape(categories)})"
            )
        check_flag(used, "aids")
        scores = np.where(used == 1, np.maximum(scores, HAQ_AID_FLOOR), scores)
    answered = (~np.isnan(scores)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.nansum(scores, axis=1) / answered
    return wrap_score(np.where(answered >= HAQ_MIN_ANSWERED, mean, np.nan), template)


def haq_di_response(baseline, followup, *, mcid=HAQ_MCID):
    """HAQ-DI improvement of at least the MCID (default 0.22; spec §5).

    Parameters
    ----------
    baseline, followup : float or array-like
        HAQ-DI (0–3).
    mcid : float, default 0.22
        Minimal clinically important difference.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Improvement ≥ MCID; ``pd.NA`` where either is missing.

    Examples
    --------
    >>> haq_di_response(1.125, 0.875), haq_di_response(1.125, 1.0)
    (True, False)
    """
    a, template = broadcast({"baseline": baseline, "followup": followup})
    for name in a:
        check_range(a[name], name, 0, HAQ_CATEGORY_MAX)
    return wrap_flag(ge(a["baseline"] - a["followup"], mcid), template)


def ibdq_total(items):
    """Inflammatory Bowel Disease Questionnaire (IBDQ-32) total score (spec §5; Guyatt 1989).

    Sum of 32 items each scored 1–7; 32–224, higher is better. Any unanswered
    item makes the total NaN (no imputation).

    Parameters
    ----------
    items : sequence of 32, or array/DataFrame of shape (n, 32)
        Item responses, whole numbers 1–7, NaN when unanswered.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Total per patient (a DataFrame gives a Series with its index).

    Examples
    --------
    >>> ibdq_total([5] * 32)
    160.0
    """
    mat, template = as_matrix(items, "items", IBDQ_N_ITEMS, "32 item responses")
    check_range(mat, "items", IBDQ_ITEM_MIN, IBDQ_ITEM_MAX, integer=True)
    return wrap_score(mat.sum(axis=1), template)


def sf36_scale(raw, minimum, maximum):
    """SF-36 transformed scale score, ``(raw − min) / (max − min) · 100`` (spec §5; Ware 1992).

    Gives a 0–100 scale from a raw scale sum and its lowest and highest possible
    values. PCS/MCS summaries are norm-based and are not computed here.

    Parameters
    ----------
    raw : float or array-like
        Raw scale score, between ``minimum`` and ``maximum``.
    minimum, maximum : float or array-like
        Lowest and highest possible raw scores (``maximum > minimum``).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Scale score 0–100, NaN where raw is missing.

    Examples
    --------
    >>> sf36_scale(15, 5, 25)
    50.0
    """
    a, template = broadcast({"raw": raw, "minimum": minimum, "maximum": maximum})
    lo, hi, x = a["minimum"], a["maximum"], a["raw"]
    reject(
        hi, ~np.isnan(hi) & ~np.isnan(lo) & (hi <= lo), "maximum", "must be greater than minimum"
    )
    known = ~np.isnan(x) & ~np.isnan(lo) & ~np.isnan(hi)
    outside = known & ((x < lo) | (x > hi))
    reject(x, outside, "raw", "must lie between minimum and maximum")
    with np.errstate(invalid="ignore", divide="ignore"):
        return wrap_score((x - lo) / (hi - lo) * 100.0, template)
