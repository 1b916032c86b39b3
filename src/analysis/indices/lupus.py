"""Systemic lupus erythematosus: SLEDAI-2K and the SRI-4, LLDAS and DORIS definitions.

Follows ``clinical-indices.md`` section 4: SLEDAI-2K (Gladman 2002) [R35], SRI-4
(Furie 2009) [R36], LLDAS (Franklyn 2016) [R37] and DORIS 2021 remission [R38].
Yes/no rules use three-valued logic and return ``bool``/``pandas.NA`` for
scalars, a nullable-boolean array or Series otherwise.
"""

from __future__ import annotations

from analysis.indices._common import (
    all_of,
    broadcast,
    check_choice,
    check_flag,
    check_range,
    ge,
    le,
    lt,
    negate,
    table_columns,
    wrap_flag,
    wrap_score,
)

__all__ = ["SLEDAI_2K_WEIGHTS", "sledai_2k", "sri4", "lldas", "doris"]

#: SLEDAI-2K descriptor weights (Gladman 2002), in the form's order.
SLEDAI_2K_WEIGHTS = {
    "seizure": 8,
    "psychosis": 8,
    "organic_brain_syndrome": 8,
    "visual_disturbance": 8,
    "cranial_nerve": 8,
    "lupus_headache": 8,
    "cva": 8,
    "vasculitis": 8,
    "arthritis": 4,
    "myositis": 4,
    "urinary_casts": 4,
    "hematuria": 4,
    "proteinuria": 4,
    "pyuria": 4,
    "rash": 2,
    "alopecia": 2,
    "mucosal_ulcers": 2,
    "pleurisy": 2,
    "pericarditis": 2,
    "low_complement": 2,
    "increased_dna_binding": 2,
    "fever": 1,
    "thrombocytopenia": 1,
    "leukopenia": 1,
}
#: Serological descriptors left out of the clinical SLEDAI (cSLEDAI).
SEROLOGICAL_DESCRIPTORS = ("low_complement", "increased_dna_binding")
SLEDAI_2K_MAX = sum(SLEDAI_2K_WEIGHTS.values())  # 105
PGA_MAX = 3.0

SRI4_SLEDAI_DROP = 4
SRI4_MAX_NEW_BILAG_A = 0
SRI4_MAX_NEW_BILAG_B = 1  # "< 2 new BILAG B"
SRI4_PGA_INCREASE_BELOW = 0.3

LLDAS_SLEDAI_MAX = 4
LLDAS_PGA_MAX = 1.0
LLDAS_PREDNISOLONE_MAX_MG = 7.5

DORIS_CLINICAL_SLEDAI_MAX = 0
DORIS_PGA_BELOW = 0.5
DORIS_PREDNISOLONE_MG = 5.0
DORIS_PREDNISOLONE_RULES = ("le5", "lt5")


def sledai_2k(items, *, clinical=False):
    """SLEDAI-2K total (Gladman 2002) [R35], or clinical SLEDAI.

    Sum of the weights (8/4/2/1, see ``SLEDAI_2K_WEIGHTS``) of the descriptors
    present; 0–105. With ``clinical=True`` the serological descriptors (low
    complement, increased DNA binding) are left out (cSLEDAI, 0–101) and need not
    be supplied.

    Parameters
    ----------
    items : mapping or pandas.DataFrame
        The 24 descriptors as snake_case columns (see ``SLEDAI_2K_WEIGHTS``), each
        True/False (or 1/0), NaN when not assessed. Extra columns are ignored.
    clinical : bool, default False
        Compute the clinical SLEDAI.

    Returns
    -------
    float, numpy.ndarray or pandas.Series
        Total; NaN when any required descriptor is missing; a Series with the
        DataFrame's index for DataFrame input.

    Raises
    ------
    IndexInputError
        A required column is absent, or a value is not True/False.

    Examples
    --------
    >>> visit = dict.fromkeys(SLEDAI_2K_WEIGHTS, False)
    >>> visit.update(arthritis=True, rash=True, mucosal_ulcers=True,
    ...              low_complement=True, increased_dna_binding=True)
    >>> sledai_2k(visit), sledai_2k(visit, clinical=True)
    (12.0, 8.0)
    """
    names = tuple(n for n in SLEDAI_2K_WEIGHTS if not (clinical and n in SEROLOGICAL_DESCRIPTORS))
    columns, _ = table_columns(items, names, "items")
    a, template = broadcast(columns)
    total = 0.0
    for name in names:
        check_flag(a[name], name)
        total = total + SLEDAI_2K_WEIGHTS[name] * a[name]
    return wrap_score(total, template)


def sri4(sledai_baseline, sledai_followup, pga_baseline, pga_followup, new_bilag_a, new_bilag_b):
    """SLE Responder Index 4 (Furie 2009) [R36].

    SLEDAI decrease ≥ 4, AND no new BILAG A, AND fewer than 2 new BILAG B, AND a
    PGA (0–3) increase < 0.3.

    Parameters
    ----------
    sledai_baseline, sledai_followup : float or array-like
        SLEDAI-2K totals (0–105).
    pga_baseline, pga_followup : float or array-like
        Physician global assessment, 0–3.
    new_bilag_a : int, bool or array-like
        Number of new BILAG A domains (or whether there is any).
    new_bilag_b : int or array-like
        Number of new BILAG B domains.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Response; ``pd.NA`` when a missing input could change the answer.

    Examples
    --------
    >>> sri4(12, 4, 1.8, 0.4, 0, 0), sri4(10, 6, 1.5, 1.9, 0, 0)
    (True, False)
    """
    a, template = broadcast(
        {
            "sledai_baseline": sledai_baseline,
            "sledai_followup": sledai_followup,
            "pga_baseline": pga_baseline,
            "pga_followup": pga_followup,
            "new_bilag_a": new_bilag_a,
            "new_bilag_b": new_bilag_b,
        }
    )
    for name in ("sledai_baseline", "sledai_followup"):
        check_range(a[name], name, 0, SLEDAI_2K_MAX, integer=True)
    for name in ("pga_baseline", "pga_followup"):
        check_range(a[name], name, 0, PGA_MAX)
    check_range(a["new_bilag_a"], "new_bilag_a", 0, integer=True)
    check_range(a["new_bilag_b"], "new_bilag_b", 0, integer=True)
    flag = all_of(
        ge(a["sledai_baseline"] - a["sledai_followup"], SRI4_SLEDAI_DROP),
        le(a["new_bilag_a"], SRI4_MAX_NEW_BILAG_A),
        le(a["new_bilag_b"], SRI4_MAX_NEW_BILAG_B),
        lt(a["pga_followup"] - a["pga_baseline"], SRI4_PGA_INCREASE_BELOW),
    )
    return wrap_flag(flag, template)


def lldas(
    sledai,
    major_organ_activity,
    new_activity,
    pga,
    prednisolone_mg,
    standard_immunosuppression=True,
):
    """Lupus Low Disease Activity State (Franklyn 2016) [R37].

    SLEDAI-2K ≤ 4 without major-organ activity; no new activity; PGA (0–3) ≤ 1;
    prednisolone ≤ 7.5 mg/day; immunosuppression (if any) at standard maintenance
    doses.

    Parameters
    ----------
    sledai : float or array-like
        SLEDAI-2K total (0–105).
    major_organ_activity : bool or array-like
        Activity in a major organ (renal, CNS, cardiopulmonary, vasculitis, fever,
        haemolytic anaemia, gastrointestinal).
    new_activity : bool or array-like
        New features of lupus activity since the last assessment.
    pga : float or array-like
        Physician global assessment, 0–3.
    prednisolone_mg : float or array-like
        Daily prednisolone-equivalent dose, mg (≥ 0).
    standard_immunosuppression : bool or array-like, default True
        Immunosuppressants (if any) are standard maintenance doses of
        well-tolerated drugs, without investigational agents.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        LLDAS attained; ``pd.NA`` when a missing input could change the answer.

    Examples
    --------
    >>> lldas(4, False, False, 0.8, 5), lldas(6, False, False, 0.8, 5)
    (True, False)
    """
    a, template = broadcast(
        {
            "sledai": sledai,
            "major_organ_activity": major_organ_activity,
            "new_activity": new_activity,
            "pga": pga,
            "prednisolone_mg": prednisolone_mg,
            "standard_immunosuppression": standard_immunosuppression,
        }
    )
    check_range(a["sledai"], "sledai", 0, SLEDAI_2K_MAX, integer=True)
    for name in ("major_organ_activity", "new_activity", "standard_immunosuppression"):
        check_flag(a[name], name)
    check_range(a["pga"], "pga", 0, PGA_MAX)
    check_range(a["prednisolone_mg"], "prednisolone_mg", 0)
    flag = all_of(
        le(a["sledai"], LLDAS_SLEDAI_MAX),
        negate(a["major_organ_activity"]),
        negate(a["new_activity"]),
        le(a["pga"], LLDAS_PGA_MAX),
        le(a["prednisolone_mg"], LLDAS_PREDNISOLONE_MAX_MG),
        a["standard_immunosuppression"],
    )
    return wrap_flag(flag, template)


def doris(clinical_sledai, pga, prednisolone_mg, *, prednisolone_rule="le5"):
    """DORIS 2021 remission in SLE [R38].

    Clinical SLEDAI = 0, PGA (0–3) < 0.5 and prednisolone ≤ 5 mg/day (default
    ``"le5"``; ⚠ one table of the publication says < 5: ``"lt5"``). Antimalarials,
    low-dose glucocorticoids, stable immunosuppressants and biologics are allowed.

    Parameters
    ----------
    clinical_sledai : float or array-like
        Clinical SLEDAI (serology excluded), 0–101.
    pga : float or array-like
        Physician global assessment, 0–3.
    prednisolone_mg : float or array-like
        Daily prednisolone-equivalent dose, mg (≥ 0).
    prednisolone_rule : {"le5", "lt5"}, default "le5"
        Steroid threshold variant.

    Returns
    -------
    bool, pandas.NA, pandas.arrays.BooleanArray or pandas.Series
        Remission; ``pd.NA`` when a missing input could change the answer.

    Examples
    --------
    >>> doris(0, 0.4, 5), doris(0, 0.4, 5, prednisolone_rule="lt5")
    (True, False)
    """
    check_choice(prednisolone_rule, "prednisolone_rule", DORIS_PREDNISOLONE_RULES)
    a, template = broadcast(
        {"clinical_sledai": clinical_sledai, "pga": pga, "prednisolone_mg": prednisolone_mg}
    )
    clinical_max = SLEDAI_2K_MAX - sum(SLEDAI_2K_WEIGHTS[n] for n in SEROLOGICAL_DESCRIPTORS)
    check_range(a["clinical_sledai"], "clinical_sledai", 0, clinical_max, integer=True)
    check_range(a["pga"], "pga", 0, PGA_MAX)
    check_range(a["prednisolone_mg"], "prednisolone_mg", 0)
    steroid = (le if prednisolone_rule == "le5" else lt)(
        a["prednisolone_mg"], DORIS_PREDNISOLONE_MG
    )
    flag = all_of(
        le(a["clinical_sledai"], DORIS_CLINICAL_SLEDAI_MAX),
        lt(a["pga"], DORIS_PGA_BELOW),
        steroid,
    )
    return wrap_flag(flag, template)
