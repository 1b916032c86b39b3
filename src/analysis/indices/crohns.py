"""Crohn's disease indices: CDAI, Harvey–Bradshaw, SES-CD and intestinal ultrasound.

Formulas, thresholds and variants follow the project specification
``clinical-indices.md`` section 1 and its references: CDAI (Best 1976) [R1–R3],
HBI [R6], SES-CD (Daperno 2004) [R8] with the U-EXCEL/U-EXCEED response variant [R9],
intestinal ultrasound (STARDUST [R13, R14], IBUS-SAS [R19, R20]).

Scores are floats (NaN when an input is missing); yes/no rules use three-valued
logic and return ``bool``/``pandas.NA`` for scalars, a nullable-boolean array or
Series otherwise (see :mod:`analysis.indices._common`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import IndexInputError
from analysis.indices._common import (
    all_of,
    any_of,
    as_matrix,
    broadcast,
    categorize,
    check_choice,
    check_flag,
    check_in,
    check_range,
    ge,
    gt,
    le,
    lt,
    reject,
    relative_drop,
    wrap_flag,
    wrap_score,
)

__all__ = [
    "cdai",
    "cdai_category",
    "cdai_response",
    "cdai_remission",
    "hbi",
    "hbi_category",
    "hbi_response",
    "hbi_remission",
    "ses_cd",
    "ses_cd_response",
    "ses_cd_remission",
    "ibus_sas",
    "limberg_grade",
    "ius_response",
    "ius_remission",
]

# ------------------------------------------------------------------------------ CDAI
CDAI_WEIGHTS = {
    "liquid_stools": 2,
    "abdominal_pain": 5,
    "general_wellbeing": 7,
    "complications": 20,
    "antidiarrheal": 30,
    "abdominal_mass": 10,
    "hematocrit": 6,
    "weight": 100,
}
#: Standard haematocrit (%) by sex.
CDAI_HCT_STANDARD = {"M": 47.0, "F": 42.0}
#: Standard weight = height (m)² × this factor (kg/m²), by sex.
CDAI_STD_WEIGHT_FACTOR = {"M": 22.1, "F": 20.8}
#: Default floor of the weight term (Best 1976 as used by most calculators).
CDAI_WEIGHT_FLOOR = -10.0
CDAI_PAIN_MAX = 21  # 7 days × 0–3
CDAI_WELLBEING_MAX = 28  # 7 days × 0–4
CDAI_COMPLICATIONS_MAX = 6
CDAI_MASS_VALUES = (0, 2, 5)
#: Haematocrit must be a percentage; a fraction such as 0.38 is rejected.
HEMATOCRIT_RANGE = (10.0, 70.0)
#: Height must be in centimetres; a height in metres such as 1.75 is rejected.
HEIGHT_CM_RANGE = (50.0, 250.0)

CDAI_REMISSION_BELOW = 150
CDAI_MILD_BELOW = 220
CDAI_MODERATE_MAX = 450
CDAI_RESPONSE_DROP = 70  # CR-70 (default); CR-100 is threshold=100

_MALE = {"m", "male"}
_FEMALE = {"f", "female"}


def _sex_is_male(sex, name: str = "sex"):
    """Code sex as 1.0 (male), 0.0 (female) or NaN (missing)."""
    if isinstance(sex, pd.Series):
        values = sex.to_numpy(dtype=object)
    else:
        values = np.asarray(sex, dtype=object)
    out = np.empty(values.shape, dtype=float)
    for pos, item in enumerate(values.flat):
        if item is None or item is pd.NA or (isinstance(item, float) and np.isnan(item)):
            out.flat[pos] = np.nan
            continue
        key = item.strip().lower() if isinstance(item, str) else None
        if key in _MALE:
            out.flat[pos] = 1.0
        elif key in _FEMALE:
            out.flat[pos] = 0.0
        else:
            where = f" at position {pos}" if values.ndim else ""
            raise IndexInputError(
                f"{name}: must be 'M'/'F' or 'male'/'female' (got {item!r}{where})"
            )
    if isinstance(sex, pd.Series):
        return pd.Series(out, index=sex.index)
    return out if values.ndim else float(out)


def cdai(
    liquid_stools,
    abdominal_pain,
    general_wellbeing,
    complications,
    antidiarrheal,
    abdominal_mass,
    hematocrit,
    sex,
    height_cm,
    weight_kg,
    *,
    weight_floor=CDAI_WEIGHT_FLOOR,
    clamp_hematocrit=False,
):
    """Crohn's Disease Activity Index (Best 1976) [R1–R3].

    ``CDAI = 2·stools + 5·pain + 7·wellbeing + 20·complications + 30·antidiarrhoeal
    + 10·mass + 6·(Hct_std − Hct) + 100·(1 − weight / std_weight)`` with
    Hct_std 47 (men) / 42 (women) and std_weight = height_m² × 22.1 (men) / 20.8 (women).

    Parameters
    ----------
    liquid_stools : float or array-like
        7-day sum of liquid or very soft stools (≥ 0; prorated sums may be fractional).
    abdominal_pain : float or array-like
        7-day sum of daily pain ratings 0–3 (0–21).
    general_wellbeing : float or array-like
        7-day sum of daily general well-being 0–4 (0–28).
    complications : int or array-like
        Number of complication categories present, 0–6 (arthritis/arthralgia;
        iritis/uveitis; erythema nodosum/pyoderma/aphthous ulcers; anal
        fissure/fistula/abscess; other fistula; fever > 37.8 °C).
    antidiarrheal : bool or array-like
        Antidiarrhoeal or opiate use (0/1).
    abdominal_mass : int or array-like
        0 none, 2 questionable, 5 definite.
    hematocrit : float or array-like
        Haematocrit in percent (10–70; fractions are rejected).
    sex : str or array-like
        "M"/"F" or "male"/"female" (case-insensitive); missing gives NaN.
    height_cm : float or array-like
        Height in centimetres (50–250).
    weight_kg : float or array-like
        Weight in kilograms (> 0).
    weight_floor : float or None, default -10.0
        Floor of the weight term (⚠ variant; ``None`` leaves it unbounded).
    clamp_hematocrit : bool, default False
        Clamp the haematocrit term at 0 (⚠ variant; default keeps it signed).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        CDAI, NaN where any input is missing.

    Raises
    ------
    IndexInputError
        For an impossible input (e.g. pain sum > 21, mass not 0/2/5, unknown sex).

    Examples
    --------
    >>> round(cdai(28, 14, 14, 2, 1, 2, 38, "M", 175, 60), 2)
    379.35
    """
    male = _sex_is_male(sex)
    a, template = broadcast(
        {
            "liquid_stools": liquid_stools,
            "abdominal_pain": abdominal_pain,
            "general_wellbeing": general_wellbeing,
            "complications": complications,
            "antidiarrheal": antidiarrheal,
            "abdominal_mass": abdominal_mass,
            "hematocrit": hematocrit,
            "sex": male,
            "height_cm": height_cm,
            "weight_kg": weight_kg,
        }
    )
    check_range(a["liquid_stools"], "liquid_stools", 0)
    check_range(a["abdominal_pain"], "abdominal_pain", 0, CDAI_PAIN_MAX)
    check_range(a["general_wellbeing"], "general_wellbeing", 0, CDAI_WELLBEING_MAX)
    check_range(a["complications"], "complications", 0, CDAI_COMPLICATIONS_MAX, integer=True)
    check_flag(a["antidiarrheal"], "antidiarrheal")
    check_in(a["abdominal_mass"], "abdominal_mass", CDAI_MASS_VALUES)
    hct = a["hematocrit"]
    reject(
        hct,
        ~np.isnan(hct) & ((hct < HEMATOCRIT_RANGE[0]) | (hct > HEMATOCRIT_RANGE[1])),
        "hematocrit",
        f"must be a percentage between {HEMATOCRIT_RANGE[0]:g} and {HEMATOCRIT_RANGE[1]:g}, "
        "not a fraction",
    )
    height = a["height_cm"]
    reject(
        height,
        ~np.isnan(height) & ((height < HEIGHT_CM_RANGE[0]) | (height > HEIGHT_CM_RANGE[1])),
        "height_cm",
        f"must be in centimetres, between {HEIGHT_CM_RANGE[0]:g} and {HEIGHT_CM_RANGE[1]:g}",
    )
    weight = a["weight_kg"]
    reject(weight, ~np.isnan(weight) & (weight <= 0), "weight_kg", "must be greater than 0")

    is_male = a["sex"]
    hct_std = np.where(is_male == 1, CDAI_HCT_STANDARD["M"], CDAI_HCT_STANDARD["F"])
    factor = np.where(is_male == 1, CDAI_STD_WEIGHT_FACTOR["M"], CDAI_STD_WEIGHT_FACTOR["F"])
    hct_diff = hct_std - hct
    if clamp_hematocrit:
        hct_diff = np.maximum(hct_diff, 0.0)
    std_weight = (height / 100.0) ** 2 * factor
    weight_term = CDAI_WEIGHTS["weight"] * (1.0 - weight / std_weight)
    if weight_floor is not None:
        weight_term = np.maximum(weight_term, weight_floor)
    w = CDAI_WEIGHTS
    total = (
        w["liquid_stools"] * a["liquid_stools"]
        + w["abdominal_pain"] * a["abdominal_pain"]
        + w["general_wellbeing"] * a["general_wellbeing"]
        + w["complications"] * a["complications"]
        + w["antidiarrheal"] * a["antidiarrheal"]
        + w["abdominal_mass"] * a["abdominal_mass"]
        + w["hematocrit"] * hct_diff
        + weight_term
    )
    total = np.where(np.isnan(is_male), np.nan, total)
    return wrap_score(total, template)


def _score(value, name, high=None):
    a, template = broadcast({name: value})
    check_range(a[name], name, 0, high)
    return a[name], template


def cdai_category(cdai):
    """CDAI activity category [R1].

    < 150 remission; 150 to < 220 mild; 220–450 moderate; > 450 severe.

    Parameters
    ----------
    cdai : float or array-like
        CDAI score(s).

    Returns
    -------
    str, None, numpy.ndarray or pandas.Series
        "remission", "mild", "moderate" or "severe"; ``None`` where missing.

    Examples
    --------
    >>> cdai_category(379.35)
    'moderate'
    """
    # CDAI can be negative through the weight and haematocrit terms, so no lower bound.
    values, template = broadcast({"cdai": cdai})
    v = values["cdai"]
    return categorize(
        v,
        (
            ("remission", lambda x: lt(x, CDAI_REMISSION_BELOW)),
            ("mild", lambda x: lt(x, CDAI_MILD_BELOW)),
            ("moderate", lambda x: le(x, CDAI_MODERATE_MAX)),
            ("severe", None),
        ),
        template,
    )


def cdai_response(baseline, followup, *, threshold=CDAI_RESPONSE_DROP):
    """CDAI clinical response: drop of at least ``threshold`` points [R1].

    Default CR-70 (Δ ≥ 70); ``threshold=100`` gives CR-100.

    Parameters
    ----------
    baseline, followup : float or array-like
        CDAI at baseline and follow-up.
    threshold : float, default 70
        Minimum decrease (baseline − follow-up).

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; ``pd.NA`` where either score is missing.

    Examples
    --------
    >>> cdai_response(379.35, 270), cdai_response(379.35, 270, threshold=100)
    (True, True)
    """
    a, template = broadcast({"baseline": baseline, "followup": followup})
    return wrap_flag(ge(a["baseline"] - a["followup"], threshold), template)


def cdai_remission(cdai, *, threshold=CDAI_REMISSION_BELOW):
    """CDAI clinical remission: CDAI < ``threshold`` (default 150) [R1].

    Parameters
    ----------
    cdai : float or array-like
        CDAI score(s).
    threshold : float, default 150
        Remission when the score is strictly below this.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` where missing.

    Examples
    --------
    >>> cdai_remission(270), cdai_remission(149.9)
    (False, True)
    """
    a, template = broadcast({"cdai": cdai})
    return wrap_flag(lt(a["cdai"], threshold), template)


# ------------------------------------------------------------------------------- HBI
HBI_WELLBEING_MAX = 4
HBI_PAIN_MAX = 3
HBI_MASS_MAX = 3
HBI_COMPLICATIONS_MAX = 8
HBI_REMISSION_BELOW = 5  # ⚠ some protocols use 4
HBI_MILD_MAX = 7
HBI_MODERATE_MAX = 16
HBI_RESPONSE_DROP = 3


def hbi(wellbeing, abdominal_pain, liquid_stools, abdominal_mass, complications):
    """Harvey–Bradshaw Index [R6].

    Sum of general well-being (0–4), abdominal pain (0–3), number of liquid stools
    on the previous day, abdominal mass (0–3) and one point per complication
    (arthralgia, uveitis, erythema nodosum, aphthous ulcers, pyoderma, anal
    fissure, new fistula, abscess: 0–8).

    Parameters
    ----------
    wellbeing : int or array-like
        0 very well … 4 terrible.
    abdominal_pain : int or array-like
        0 none … 3 severe.
    liquid_stools : int or array-like
        Liquid stools on the previous day (whole number ≥ 0).
    abdominal_mass : int or array-like
        0 none, 1 dubious, 2 definite, 3 definite and tender.
    complications : int or array-like
        Number of complications present (0–8).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        HBI, NaN where any input is missing.

    Examples
    --------
    >>> hbi(2, 2, 6, 1, 2)
    13.0
    """
    a, template = broadcast(
        {
            "wellbeing": wellbeing,
            "abdominal_pain": abdominal_pain,
            "liquid_stools": liquid_stools,
            "abdominal_mass": abdominal_mass,
            "complications": complications,
        }
    )
    check_range(a["wellbeing"], "wellbeing", 0, HBI_WELLBEING_MAX, integer=True)
    check_range(a["abdominal_pain"], "abdominal_pain", 0, HBI_PAIN_MAX, integer=True)
    check_range(a["liquid_stools"], "liquid_stools", 0, integer=True)
    check_range(a["abdominal_mass"], "abdominal_mass", 0, HBI_MASS_MAX, integer=True)
    check_range(a["complications"], "complications", 0, HBI_COMPLICATIONS_MAX, integer=True)
    return wrap_score(sum(a.values()), template)


def hbi_category(hbi):
    """HBI activity category [R6].

    < 5 remission; 5–7 mild; 8–16 moderate; > 16 severe.

    Parameters
    ----------
    hbi : float or array-like
        HBI score(s) (≥ 0).

    Returns
    -------
    str, None, numpy.ndarray or pandas.Series
        "remission", "mild", "moderate" or "severe"; ``None`` where missing.

    Examples
    --------
    >>> hbi_category(13), hbi_category(3)
    ('moderate', 'remission')
    """
    v, template = _score(hbi, "hbi")
    return categorize(
        v,
        (
            ("remission", lambda x: lt(x, HBI_REMISSION_BELOW)),
            ("mild", lambda x: le(x, HBI_MILD_MAX)),
            ("moderate", lambda x: le(x, HBI_MODERATE_MAX)),
            ("severe", None),
        ),
        template,
    )


def hbi_response(baseline, followup, *, threshold=HBI_RESPONSE_DROP):
    """HBI response: drop of at least ``threshold`` points (default 3) [R6].

    Parameters
    ----------
    baseline, followup : float or array-like
        HBI at baseline and follow-up (≥ 0).
    threshold : float, default 3
        Minimum decrease.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; ``pd.NA`` where either score is missing.

    Examples
    --------
    >>> hbi_response(13, 9)
    True
    """
    a, template = broadcast({"baseline": baseline, "followup": followup})
    check_range(a["baseline"], "baseline", 0)
    check_range(a["followup"], "followup", 0)
    return wrap_flag(ge(a["baseline"] - a["followup"], threshold), template)


def hbi_remission(hbi, *, threshold=HBI_REMISSION_BELOW):
    """HBI remission: HBI < ``threshold`` (default 5; ⚠ some protocols use 4) [R6].

    Parameters
    ----------
    hbi : float or array-like
        HBI score(s).
    threshold : float, default 5
        Remission when the score is strictly below this.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` where missing.

    Examples
    --------
    >>> hbi_remission(9), hbi_remission(4, threshold=4)
    (False, False)
    """
    v, template = _score(hbi, "hbi")
    return wrap_flag(lt(v, threshold), template)


# ----------------------------------------------------------------------------- SES-CD
SES_CD_SEGMENTS = ("ileum", "right colon", "transverse colon", "left colon", "rectum")
SES_CD_ITEM_MAX = 3
SES_CD_NARROWING_IMPASSABLE = 3
SES_CD_MAX = 56
SES_CD_RESPONSE_FRACTION = 0.5
#: U-EXCEL/U-EXCEED: for a baseline of exactly this score, a drop of ≥ 2 points counts.
SES_CD_UEXCEL_SMALL_BASELINE = 4
SES_CD_UEXCEL_SMALL_DROP = 2
SES_CD_RESPONSE_RULES = ("50pct", "u_excel")
SES_CD_REMISSION_RULES = {"le2": ("le", 2), "lt4": ("lt", 4), "eq0": ("le", 0)}


def ses_cd(ulcer_size, ulcerated_surface, affected_surface, narrowing):
    """Simple Endoscopic Score for Crohn's disease (Daperno 2004) [R8].

    Four items (0–3) in five segments (ileum, right colon, transverse colon, left
    colon, rectum); total = sum over explored segments, 0–56. A segment is
    unexplored when all four of its items are NaN and contributes nothing; a
    segment with only some items missing makes the total NaN (not computable); a
    patient with no explored segment gets NaN. At most one segment may be
    impassable (narrowing 3), because the scope cannot pass it to reach further
    segments — this is what caps the total at 56 rather than 60.

    Parameters
    ----------
    ulcer_size : sequence of 5, or array/DataFrame of shape (n, 5)
        0 none; 1 aphthous 0.1–0.5 cm; 2 large 0.5–2 cm; 3 very large > 2 cm.
    ulcerated_surface : same shape
        0 none; 1 < 10 %; 2 10–30 %; 3 > 30 %.
    affected_surface : same shape
        0 none; 1 < 50 %; 2 50–75 %; 3 > 75 %.
    narrowing : same shape
        0 none; 1 single, passable; 2 multiple, passable; 3 impassable.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        One total per patient (a DataFrame input gives a Series with its index).

    Raises
    ------
    IndexInputError
        Wrong shape, an item outside 0–3, or more than one impassable segment.

    Examples
    --------
    >>> ses_cd([2, 1, 0, 2, 0], [2, 1, 0, 2, 0], [3, 1, 0, 2, 1], [1, 0, 0, 0, 0])
    18.0
    """
    names = ("ulcer_size", "ulcerated_surface", "affected_surface", "narrowing")
    what = "5 segment scores (ileum, right colon, transverse, left colon, rectum)"
    mats = []
    template = None
    for name, value in zip(
        names, (ulcer_size, ulcerated_surface, affected_surface, narrowing), strict=True
    ):
        mat, tmpl = as_matrix(value, name, len(SES_CD_SEGMENTS), what)
        if template is not None and mat.shape != mats[0].shape:
            raise IndexInputError(
                f"{name}: must have the same shape as ulcer_size "
                f"(got {mat.shape}, expected {mats[0].shape})"
            )
        check_range(mat, name, 0, SES_CD_ITEM_MAX, integer=True)
        mats.append(mat)
        template = template or tmpl
    cube = np.stack(mats)  # (item, patient, segment)
    impassable = (cube[3] == SES_CD_NARROWING_IMPASSABLE).sum(axis=1)
    if (impassable > 1).any():
        row = int(np.flatnonzero(impassable > 1)[0])
        raise IndexInputError(
            "narrowing: at most one segment per patient can be impassable (score 3), since "
            f"the scope cannot pass it (got {impassable[row]} impassable segments in row {row})"
        )
    missing = np.isnan(cube)
    unexplored = missing.all(axis=0)
    partial = missing.any(axis=0) & ~unexplored
    total = np.nansum(np.where(missing, 0.0, cube), axis=(0, 2))
    invalid = partial.any(axis=1) | unexplored.all(axis=1)
    return wrap_score(np.where(invalid, np.nan, total), template)


def ses_cd_response(baseline, followup, *, rule="50pct"):
    """SES-CD endoscopic response [R8, R9].

    * ``"50pct"`` (default): decrease ≥ 50 % from baseline.
    * ``"u_excel"`` (U-EXCEL/U-EXCEED, ⚠): decrease > 50 %, or a drop ≥ 2 points
      when the baseline is 4.

    A baseline of 0 leaves a relative change undefined: the result is ``pd.NA``.

    Parameters
    ----------
    baseline, followup : float or array-like
        SES-CD totals (0–56).
    rule : {"50pct", "u_excel"}, default "50pct"
        Response definition.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; ``pd.NA`` where a score is missing or baseline is 0.

    Examples
    --------
    >>> ses_cd_response(18, 7), ses_cd_response(4, 2, rule="u_excel")
    (True, True)
    """
    check_choice(rule, "rule", SES_CD_RESPONSE_RULES)
    a, template = broadcast({"baseline": baseline, "followup": followup})
    for name in ("baseline", "followup"):
        check_range(a[name], name, 0, SES_CD_MAX)
    drop = relative_drop(a["baseline"], a["followup"])
    if rule == "50pct":
        flag = ge(drop, SES_CD_RESPONSE_FRACTION)
    else:
        small = a["baseline"] == SES_CD_UEXCEL_SMALL_BASELINE
        points = ge(a["baseline"] - a["followup"], SES_CD_UEXCEL_SMALL_DROP)
        flag = np.where(small, points, gt(drop, SES_CD_RESPONSE_FRACTION))
    return wrap_flag(flag, template)


def ses_cd_remission(score, *, rule="le2"):
    """SES-CD endoscopic remission [R8].

    * ``"le2"`` (default, STRIDE-II): SES-CD ≤ 2.
    * ``"lt4"``: SES-CD < 4.
    * ``"eq0"``: SES-CD = 0.

    Parameters
    ----------
    score : float or array-like
        SES-CD total(s) (0–56).
    rule : {"le2", "lt4", "eq0"}, default "le2"
        Remission definition.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` where missing.

    Examples
    --------
    >>> ses_cd_remission(2), ses_cd_remission(2, rule="eq0")
    (True, False)
    """
    check_choice(rule, "rule", SES_CD_REMISSION_RULES)
    v, template = _score(score, "score", SES_CD_MAX)
    op, cut = SES_CD_REMISSION_RULES[rule]
    return wrap_flag((le if op == "le" else lt)(v, cut), template)


# ------------------------------------------------------------- intestinal ultrasound
#: IBUS-SAS weights (⚠ unverified against Novak 2021: keep under review).
IBUS_SAS_WEIGHTS = {"bwt_mm": 4, "i_fat": 15, "cds": 7, "bws": 4}
I_FAT_MAX = 2
CDS_MAX = 3
BWS_MAX = 3
BWT_NORMAL_MAX_MM = 3.0
IUS_RESPONSE_FRACTION = 0.25  # STARDUST
IUS_RESPONSE_MM = 1.0
IUS_CDS_GRADE_DROP = 1
IUS_RESPONSE_RULES = ("25pct", "1mm", "25pct_or_cds")
IUS_REMISSION_RULES = ("bwt_le3", "all_normal")


def _check_bwt(values, name):
    reject(values, ~np.isnan(values) & (values <= 0), name, "must be greater than 0 mm")


def ibus_sas(bwt_mm, i_fat, cds, bws):
    """International Bowel Ultrasound Segmental Activity Score [R19, R20].

    ``IBUS-SAS = 4·BWT + 15·i-fat + 7·CDS + 4·BWS`` (weights unverified against
    Novak 2021: treat as provisional).

    Parameters
    ----------
    bwt_mm : float or array-like
        Bowel wall thickness in mm (> 0).
    i_fat : int or array-like
        Inflammatory fat, 0–2.
    cds : int or array-like
        Colour Doppler signal, 0–3.
    bws : int or array-like
        Bowel wall stratification, 0–3 (0 normal).

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        IBUS-SAS, NaN where any input is missing.

    Examples
    --------
    >>> ibus_sas(6.0, 2, 2, 2)
    76.0
    """
    a, template = broadcast({"bwt_mm": bwt_mm, "i_fat": i_fat, "cds": cds, "bws": bws})
    _check_bwt(a["bwt_mm"], "bwt_mm")
    check_range(a["i_fat"], "i_fat", 0, I_FAT_MAX, integer=True)
    check_range(a["cds"], "cds", 0, CDS_MAX, integer=True)
    check_range(a["bws"], "bws", 0, BWS_MAX, integer=True)
    total = sum(IBUS_SAS_WEIGHTS[k] * a[k] for k in IBUS_SAS_WEIGHTS)
    return wrap_score(total, template)


def limberg_grade(bwt_mm, cds):
    """Limberg grade 0–4 (I–IV) from wall thickness and Doppler signal (spec §1.4; Limberg 1999).

    Grade 0 when the wall is normal (BWT ≤ 3 mm); otherwise I (thickened, no
    flow, CDS 0), II (spots, CDS 1), III (long stretches, CDS 2) or IV (vessels
    into the mesentery, CDS 3), i.e. ``1 + CDS``.

    Parameters
    ----------
    bwt_mm : float or array-like
        Bowel wall thickness in mm (> 0).
    cds : int or array-like
        Colour Doppler signal 0–3 graded as above.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Grade 0–4 (4 = Limberg IV), NaN where missing.

    Examples
    --------
    >>> limberg_grade(2.8, 0), limberg_grade(6.0, 2)
    (0.0, 3.0)
    """
    a, template = broadcast({"bwt_mm": bwt_mm, "cds": cds})
    _check_bwt(a["bwt_mm"], "bwt_mm")
    check_range(a["cds"], "cds", 0, CDS_MAX, integer=True)
    grade = np.where(le(a["bwt_mm"], BWT_NORMAL_MAX_MM) == 1, 0.0, 1.0 + a["cds"])
    grade = np.where(np.isnan(a["bwt_mm"]) | np.isnan(a["cds"]), np.nan, grade)
    return wrap_score(grade, template)


def ius_response(bwt_baseline, bwt_followup, *, rule="25pct", cds_baseline=None, cds_followup=None):
    """Intestinal-ultrasound response [R13, R14].

    * ``"25pct"`` (default, STARDUST): BWT decrease ≥ 25 %.
    * ``"1mm"``: BWT decrease ≥ 1 mm.
    * ``"25pct_or_cds"``: BWT decrease ≥ 25 %, or any BWT decrease together with a
      CDS drop of ≥ 1 grade (needs ``cds_baseline`` and ``cds_followup``).

    Parameters
    ----------
    bwt_baseline, bwt_followup : float or array-like
        Bowel wall thickness in mm (> 0).
    rule : {"25pct", "1mm", "25pct_or_cds"}, default "25pct"
        Response definition.
    cds_baseline, cds_followup : int or array-like, optional
        Colour Doppler signal 0–3; required by ``"25pct_or_cds"``.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; ``pd.NA`` where needed inputs are missing.

    Examples
    --------
    >>> ius_response(5.0, 3.9), ius_response(5.0, 3.9, rule="25pct_or_cds",
    ...                                       cds_baseline=2, cds_followup=1)
    (False, True)
    """
    check_choice(rule, "rule", IUS_RESPONSE_RULES)
    named = {"bwt_baseline": bwt_baseline, "bwt_followup": bwt_followup}
    if rule == "25pct_or_cds":
        if cds_baseline is None or cds_followup is None:
            raise IndexInputError(
                "cds_baseline: rule '25pct_or_cds' needs cds_baseline and cds_followup"
            )
        named.update(cds_baseline=cds_baseline, cds_followup=cds_followup)
    a, template = broadcast(named)
    _check_bwt(a["bwt_baseline"], "bwt_baseline")
    _check_bwt(a["bwt_followup"], "bwt_followup")
    drop_mm = a["bwt_baseline"] - a["bwt_followup"]
    by_fraction = ge(relative_drop(a["bwt_baseline"], a["bwt_followup"]), IUS_RESPONSE_FRACTION)
    if rule == "25pct":
        flag = by_fraction
    elif rule == "1mm":
        flag = ge(drop_mm, IUS_RESPONSE_MM)
    else:
        for name in ("cds_baseline", "cds_followup"):
            check_range(a[name], name, 0, CDS_MAX, integer=True)
        cds_drop = ge(a["cds_baseline"] - a["cds_followup"], IUS_CDS_GRADE_DROP)
        flag = any_of(by_fraction, all_of(gt(drop_mm, 0.0), cds_drop))
    return wrap_flag(flag, template)


def ius_remission(bwt, *, rule="bwt_le3", i_fat=None, cds=None, bws=None):
    """Intestinal-ultrasound (transmural) remission [R13, R14].

    * ``"bwt_le3"`` (default): BWT ≤ 3 mm.
    * ``"all_normal"``: BWT ≤ 3 mm and i-fat, CDS and BWS all 0 (normal); needs
      ``i_fat``, ``cds`` and ``bws``. Contrast-enhanced parameters are not used.

    Parameters
    ----------
    bwt : float or array-like
        Bowel wall thickness in mm (> 0).
    rule : {"bwt_le3", "all_normal"}, default "bwt_le3"
        Remission definition.
    i_fat, cds, bws : int or array-like, optional
        Inflammatory fat 0–2, colour Doppler 0–3, wall stratification 0–3.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` where needed inputs are missing.

    Examples
    --------
    >>> ius_remission(4.4), ius_remission(2.8, rule="all_normal", i_fat=0, cds=1, bws=0)
    (False, False)
    """
    check_choice(rule, "rule", IUS_REMISSION_RULES)
    named = {"bwt": bwt}
    if rule == "all_normal":
        for name, value in (("i_fat", i_fat), ("cds", cds), ("bws", bws)):
            if value is None:
                raise IndexInputError(f"{name}: rule 'all_normal' needs i_fat, cds and bws")
            named[name] = value
    a, template = broadcast(named)
    _check_bwt(a["bwt"], "bwt")
    flag = le(a["bwt"], BWT_NORMAL_MAX_MM)
    if rule == "all_normal":
        check_range(a["i_fat"], "i_fat", 0, I_FAT_MAX, integer=True)
        check_range(a["cds"], "cds", 0, CDS_MAX, integer=True)
        check_range(a["bws"], "bws", 0, BWS_MAX, integer=True)
        flag = all_of(flag, le(a["i_fat"], 0), le(a["cds"], 0), le(a["bws"], 0))
    return wrap_flag(flag, template)
