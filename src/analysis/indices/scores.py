"""Published clinical scores used as comparators (the vedolizumab CDST)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.errors import AnalysisError

#: CDST points (Dulai et al. 2018, Gastroenterology 155:687-95; spec section 6).
CDST_NO_PRIOR_SURGERY_POINTS = 2.0


CDST_ANTI_TNF_NAIVE_POINTS = 3.0


CDST_NO_FISTULA_POINTS = 2.0


CDST_ALBUMIN_POINTS_PER_G_L = 0.4


CDST_CRP_LOW_MG_L = 3.0  # 3 <= CRP <= 10 mg/L: CDST_CRP_MID_POINTS


CDST_CRP_HIGH_MG_L = 10.0  # CRP > 10 mg/L: CDST_CRP_HIGH_POINTS


CDST_CRP_MID_POINTS = -0.5


CDST_CRP_HIGH_POINTS = -3.0


CDST_COLUMNS = ("prior_bowel_surgery", "prior_anti_tnf", "fistulising", "albumin_g_l", "crp_mg_l")


def vedolizumab_cdst(df: pd.DataFrame) -> np.ndarray:
    """Vedolizumab clinical decision support tool (CDST) for Crohn's disease.

    Dulai et al. (2018): +2 no prior bowel surgery, +3 anti-TNF naive, +2 no
    fistulising disease, +0.4 per g/L albumin, CRP 3-10 mg/L (both inclusive) -0.5,
    CRP > 10 mg/L -3 (CRP < 3 mg/L: 0).  Higher scores predict response (published
    bands: <= 13 low, 13-19 intermediate, > 19 high probability; validation AUC 0.67).

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``prior_bowel_surgery, prior_anti_tnf, fistulising`` (0/1),
        ``albumin_g_l`` (g/L) and ``crp_mg_l`` (mg/L).

    Returns
    -------
    numpy.ndarray
        The score per row; NaN where an input is missing (the classifier built by
        :func:`clinical_score_spec` fills missing inputs with training medians first).

    Raises
    ------
    AnalysisError
        If a column is absent.

    Examples
    --------
    >>> df = pd.DataFrame({"prior_bowel_surgery": [0.0], "prior_anti_tnf": [0.0],
    ...                    "fistulising": [0.0], "albumin_g_l": [40.0], "crp_mg_l": [5.0]})
    >>> vedolizumab_cdst(df).tolist()
    [22.5]
    """
    missing = [c for c in CDST_COLUMNS if c not in df.columns]
    if missing:
        raise AnalysisError(f"vedolizumab_cdst: missing column(s) {missing}")
    surgery = df["prior_bowel_surgery"].to_numpy(dtype=float)
    anti_tnf = df["prior_anti_tnf"].to_numpy(dtype=float)
    fistula = df["fistulising"].to_numpy(dtype=float)
    albumin = df["albumin_g_l"].to_numpy(dtype=float)
    crp = df["crp_mg_l"].to_numpy(dtype=float)
    crp_points = np.where(
        crp > CDST_CRP_HIGH_MG_L,
        CDST_CRP_HIGH_POINTS,
        np.where(crp >= CDST_CRP_LOW_MG_L, CDST_CRP_MID_POINTS, 0.0),
    )
    crp_points = np.where(np.isnan(crp), np.nan, crp_points)
    return (
        CDST_NO_PRIOR_SURGERY_POINTS * (1.0 - surgery)
        + CDST_ANTI_TNF_NAIVE_POINTS * (1.0 - anti_tnf)
        + CDST_NO_FISTULA_POINTS * (1.0 - fistula)
        + CDST_ALBUMIN_POINTS_PER_G_L * albumin
        + crp_points
    )
