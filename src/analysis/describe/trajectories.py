"""Trajectories of clinical indices over visits: linear mixed models, paired change, counts.

Three tidy builders for a long visit table (one row per patient and visit):

- :func:`mixed_model_trajectory`: a linear mixed model of an index (CDAI, SES-CD, ...) on
  visit time, optionally by arm with a time x arm interaction; random intercept (and slope)
  per patient; the per-arm slopes with Wald CIs.
- :func:`paired_change`: change from a baseline to a follow-up visit in patients seen at both,
  Wilcoxon signed-rank test with rank-biserial and ``r = Z / sqrt(n)`` effect sizes.
- :func:`count_summary`: count variables (lesions, stools, fistulas) per visit and arm, kept as
  counts rather than dropped.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import AnalysisError, shorten_repr
from analysis.validators import as_list, check_alpha

FIXED_EFFECT_COLUMNS = ["variable", "term", "estimate", "se", "ci_lower", "ci_upper", "p_value",
                        "method"]
SLOPE_COLUMNS = ["arm", "slope", "se", "ci_lower", "ci_upper"]
PAIRED_COLUMNS = ["variable", "arm", "baseline", "follow_up", "n_pairs", "median_baseline",
                  "median_follow_up", "median_change", "q1_change", "q3_change", "statistic",
                  "p_value", "rank_biserial", "effect_size_r", "method"]
COUNT_COLUMNS = ["variable", "time", "arm", "n", "total", "mean", "sd", "median", "q1", "q3",
                 "patients_with_any"]

#: a random-effects variance (on the scale of the outcome over the spread of visit times) or
#: an eigenvalue of the random-effects correlation below this is treated as zero (singular fit)
SINGULAR_TOL = 1e-6


def _require(visits: pd.DataFrame, columns: Sequence[str], who: str) -> None:
    if not isinstance(visits, pd.DataFrame):
        raise AnalysisError(f"{who}: the visit table must be a pandas DataFrame, "
                            f"got {type(visits).__name__}")
    missing = [c for c in columns if c not in visits.columns]
    if missing:
        raise AnalysisError(f"{who}: column(s) not in the visit table: "
                            f"{', '.join(shorten_repr(c) for c in missing)}")


def _numeric(values: pd.Series, column: str, who: str) -> pd.Series:
    """``values`` as float; an AnalysisError naming the column when they are not numbers."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        converted = pd.to_numeric(values, errors="coerce")
        if (converted.isna() & values.notna()).any():
            raise AnalysisError(f"{who}: column {column!r} must be numeric")
        values = converted
    return values.astype(float)


def _arm_levels(visits: pd.DataFrame, arm: str | None, arm_levels: Sequence | None,
                who: str) -> list[str]:
    """The arm levels as strings (given order, else sorted); checks for unknown/missing arms."""
    if arm is None:
        return []
    observed = visits[arm]
    if observed.isna().any():
        raise AnalysisError(f"{who}: column {arm!r} (arm) has {int(observed.isna().sum())} "
                            "missing value(s)")
    observed = observed.astype(str)
    levels = ([str(level) for level in arm_levels] if arm_levels is not None
              else sorted(observed.unique()))
    if not levels:
        raise AnalysisError(f"{who}: arm_levels is empty")
    if len(set(levels)) != len(levels):
        raise AnalysisError(f"{who}: arm_levels contain duplicates: {levels}")
    unknown = sorted(set(observed) - set(levels))
    if unknown:
        raise AnalysisError(f"{who}: column {arm!r} has level(s) not in arm_levels: "
                            f"{', '.join(shorten_repr(u) for u in unknown[:5])}")
    return levels


# --------------------------------------------------------------------------------------------
# linear mixed model
# --------------------------------------------------------------------------------------------

#: warnings statsmodels raises while it moves on to its next default optimizer; harmless when
#: the final fit converges (any other convergence warning rejects the fit)
_RETRY_MESSAGES = ("Retrying MixedLM optimization with",
                   "Maximum Likelihood optimization failed to converge. Check mle_retvals")


def _fit_mixedlm(formula: str, data: pd.DataFrame, re_formula: str | None, method=None):
    """REML fit; returns (result or None, warning messages). Warnings are recorded, not shown."""
    import statsmodels.formula.api as smf
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", RuntimeWarning)
        try:
            model = smf.mixedlm(formula, data, groups="patient", re_formula=re_formula)
            result = model.fit(reml=True) if method is None else model.fit(reml=True, method=method)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return None, [f"fit failed: {exc}"]
    messages = []
    for w in caught:
        if issubclass(w.category, ConvergenceWarning | RuntimeWarning):
            messages.append(str(w.message))
        else:  # not ours to swallow
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result, messages


def _clean(result, messages: list[str]) -> bool:
    """Converged, and no warning other than statsmodels' switch to its next optimizer."""
    if result is None or not result.converged:
        return False
    return all(m.startswith(_RETRY_MESSAGES) for m in messages)


def _random_slope_ok(result, messages: list[str], time_sd: float) -> bool:
    """Converged without warnings and a positive-definite random intercept/slope covariance."""
    if not _clean(result, messages):
        return False
    cov = np.asarray(result.cov_re, dtype=float)
    if not np.all(np.isfinite(cov)) or cov.shape != (2, 2):
        return False
    scale = float(result.scale)
    variances = np.diag(cov) * np.array([1.0, time_sd**2])  # on the outcome scale
    if np.any(variances <= SINGULAR_TOL * scale):
        return False
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    return bool(np.linalg.eigvalsh(corr).min() > SINGULAR_TOL)


def _readable_term(term: str, arm_prefix: str | None) -> str:
    if arm_prefix:
        term = term.replace(f"{arm_prefix}[T.", "arm[")
    return term


def mixed_model_trajectory(visits: pd.DataFrame, variable: str, *, id_col: str, time: str,
                           arm: str | None = None, arm_levels: Sequence | None = None,
                           random_slope: bool = True, alpha: float = 0.05):
    """Linear mixed model of a clinical index over visit time, overall or by arm.

    Fixed effects ``variable ~ time`` (no arm, or a single arm) or
    ``variable ~ time * C(arm, Treatment(reference))`` with the first of ``arm_levels`` as
    reference; time is numeric in its own unit (e.g. weeks), so ``time`` is the change per
    unit of time. Fitted by REML with ``statsmodels.formula.api.mixedlm`` on a working frame
    with columns ``y``, ``time``, ``arm`` and ``patient`` (so the formula is e.g.
    ``y ~ time * C(arm, Treatment(reference='placebo'))``), groups ``patient``.

    Random effects: a random intercept and a random slope on time per patient
    (``re_formula="~time"``) when ``random_slope`` is true and that fit converges without
    warnings and with a positive-definite random-effects covariance; otherwise the model is
    refitted with a random intercept only, and ``method`` says why. statsmodels' own switches
    between its default optimizers (``"Retrying MixedLM optimization with ..."``) do not count
    as warnings when the final fit converged; when all default optimizers fail on the
    random-slope model, Powell's method is tried once before the slope is dropped. Warnings
    are recorded in ``info``, not shown. Rows with a missing
    outcome are dropped.

    Parameters
    ----------
    visits : DataFrame
        Long table, one row per patient and visit.
    variable : str
        Numeric outcome column (e.g. ``"cdai"``).
    id_col, time : str
        Patient identifier and numeric visit-time columns (no missing values).
    arm : str, optional
        Treatment-arm column (constant within a patient); ``None`` for one group.
    arm_levels : sequence, optional
        Arm levels in display order, the first is the reference; default: sorted levels.
    random_slope : bool
        Try a random slope on time first (default); ``False`` fits a random intercept only.
    alpha : float
        1 - confidence level of the Wald intervals.

    Returns
    -------
    table : DataFrame
        Tidy fixed effects ``variable, term, estimate, se, ci_lower, ci_upper, p_value,
        method`` with terms ``Intercept``, ``time``, ``arm[<level>]``, ``time:arm[<level>]``
        (Wald z-based CIs and p-values from the fit).
    info : dict
        ``n_patients``, ``n_observations``, ``random_effects`` (``"intercept and slope"`` or
        ``"intercept"``), ``converged`` (the reported fit converged without a convergence
        warning), ``log_likelihood`` (REML), ``warnings`` (messages of the reported fit),
        ``slope_fallback_reason`` (``None`` unless the random slope was dropped),
        ``slope_fit_warnings`` (the warnings of a dropped random-slope fit), ``optimizer``
        (``"statsmodels default"``, or ``"powell"`` when the default optimizers failed on the
        random-slope model and Powell's method converged) and
        ``slope_by_arm``: DataFrame ``arm, slope, se, ci_lower, ci_upper`` with the time slope
        per arm (the reference arm: ``time``; another arm: ``time + time:arm[<level>]`` with
        the SE from the fixed-effects covariance matrix). Without ``arm`` the single row is
        named ``Overall``.

    Raises
    ------
    AnalysisError
        A column is missing or not numeric, ``id``/``time``/``arm`` has missing values, an arm
        level is unknown, fewer than 2 visit times, or no patient with 2 or more visits.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> v = pd.DataFrame({"id": np.repeat(range(20), 4), "week": np.tile([0, 4, 8, 12], 20)})
    >>> v["cdai"] = (300 + rng.normal(0, 30, 20)[v["id"]] - 5 * v["week"]
    ...              + rng.normal(0, 10, len(v)))
    >>> table, info = mixed_model_trajectory(v, "cdai", id_col="id", time="week",
    ...                                      random_slope=False)
    >>> table["term"].tolist(), info["random_effects"]
    (['Intercept', 'time'], 'intercept')
    >>> bool(abs(info["slope_by_arm"].loc[0, "slope"] + 5) < 0.5)
    True
    """
    who = "mixed_model_trajectory"
    alpha = check_alpha(alpha)
    _require(visits, [variable, id_col, time, *([arm] if arm is not None else [])], who)
    for column, role in ((id_col, "patient id"), (time, "time")):
        if visits[column].isna().any():
            raise AnalysisError(f"{who}: column {column!r} ({role}) has "
                                f"{int(visits[column].isna().sum())} missing value(s)")
    levels = _arm_levels(visits, arm, arm_levels, who)
    data = pd.DataFrame({
        "y": _numeric(visits[variable], variable, who),
        "time": _numeric(visits[time], time, who),
        "patient": visits[id_col].to_numpy(),
    }, index=visits.index)
    if arm is not None:
        data["arm"] = visits[arm].astype(str)
    data = data[data["y"].notna()]
    if not np.all(np.isfinite(data["y"])) or not np.all(np.isfinite(data["time"])):
        raise AnalysisError(f"{who}: columns {variable!r} and {time!r} must be finite")
    if data["time"].nunique() < 2:
        raise AnalysisError(f"{who}: column {time!r} needs at least 2 distinct visit times "
                            f"with a non-missing {variable!r}")
    per_patient = data.groupby("patient").size()
    if per_patient.max() < 2:
        raise AnalysisError(f"{who}: no patient has 2 or more visits with a non-missing "
                            f"{variable!r} (column {id_col!r}); a trajectory needs repeated visits")

    present = [level for level in levels if (data.get("arm", pd.Series(dtype=str)) == level).any()]
    arm_prefix = None
    if len(present) >= 2:
        arm_prefix = f"C(arm, Treatment(reference={present[0]!r}))"
        formula = f"y ~ time * {arm_prefix}"
    else:
        formula = "y ~ time"

    result, messages, reason, optimizer = None, [], None, "statsmodels default"
    slope_messages: list[str] = []
    if random_slope:
        time_sd = float(data["time"].std())
        result, messages = _fit_mixedlm(formula, data, "~time")
        if not _clean(result, messages):
            # statsmodels' gradient optimizers often stall on visit times in weeks; one
            # derivative-free retry before giving up the random slope
            retry, retry_messages = _fit_mixedlm(formula, data, "~time", method="powell")
            if _clean(retry, retry_messages):
                result, messages, optimizer = retry, retry_messages, "powell"
        if not _random_slope_ok(result, messages, time_sd):
            if not _clean(result, messages):
                reason = "random slope did not converge"
            else:
                reason = "random slope covariance not positive definite"
            slope_messages, result, optimizer = messages, None, "statsmodels default"
    else:
        reason = "random slope not requested"
    if result is None:
        result, messages = _fit_mixedlm(formula, data, None)
        if result is None:
            raise AnalysisError(f"{who}: the mixed model of {variable!r} could not be fitted "
                                f"({'; '.join(messages)})")
    with_slope = reason is None

    fe = list(result.fe_params.index)
    estimate = result.fe_params
    cov = result.cov_params().loc[fe, fe]
    se = pd.Series(np.sqrt(np.diag(cov)), index=fe)
    z = stats.norm.ppf(1 - alpha / 2)
    level = f"{100 * (1 - alpha):g}%"
    structure = ("random intercept and slope for time per patient" if with_slope
                 else f"random intercept only ({reason})")
    method = f"linear mixed model (REML), {structure}; Wald {level} CI"
    table = pd.DataFrame({
        "variable": variable,
        "term": [_readable_term(t, arm_prefix) for t in fe],
        "estimate": estimate.to_numpy(),
        "se": se.to_numpy(),
        "ci_lower": (estimate - z * se).to_numpy(),
        "ci_upper": (estimate + z * se).to_numpy(),
        "p_value": 2 * stats.norm.sf(np.abs(estimate / se).to_numpy()),
        "method": method,
    }).reindex(columns=FIXED_EFFECT_COLUMNS)

    slopes = []
    for i, name in enumerate(present or ["Overall"]):
        weights = pd.Series(0.0, index=fe)
        weights["time"] = 1.0
        if i > 0:
            weights[f"time:{arm_prefix}[T.{name}]"] = 1.0
        slope = float(weights @ estimate)
        slope_se = float(np.sqrt(weights @ cov @ weights))
        slopes.append({"arm": name, "slope": slope, "se": slope_se,
                       "ci_lower": slope - z * slope_se, "ci_upper": slope + z * slope_se})
    info = {
        "n_patients": int(data["patient"].nunique()),
        "n_observations": int(len(data)),
        "random_effects": "intercept and slope" if with_slope else "intercept",
        "converged": _clean(result, messages),
        "log_likelihood": float(result.llf),
        "warnings": list(messages),
        "slope_fallback_reason": reason if random_slope else None,
        "slope_fit_warnings": slope_messages,
        "optimizer": optimizer,
        "slope_by_arm": pd.DataFrame(slopes, columns=SLOPE_COLUMNS),
    }
    return table, info


# --------------------------------------------------------------------------------------------
# paired change
# --------------------------------------------------------------------------------------------

def _wilcoxon_method_name(d: np.ndarray) -> str:
    """Which p-value ``scipy.stats.wilcoxon(method="auto")`` computes for these differences."""
    nonzero = np.abs(d[d != 0])
    has_ties = np.unique(nonzero).size < nonzero.size
    if d.size > 50:
        return "normal approximation with continuity correction"
    if not (has_ties or (d == 0).any()):
        return "exact"
    if d.size <= 13:
        return "exact permutation"
    return "normal approximation with continuity correction"


def _signed_rank_effects(d: np.ndarray, n_pairs: int) -> tuple[float, float]:
    """Matched-pairs rank-biserial and ``r = Z / sqrt(n_pairs)`` (zeros dropped, tie-corrected Z)."""
    d = d[d != 0]
    n = d.size
    if n == 0:
        return np.nan, np.nan
    ranks = stats.rankdata(np.abs(d))
    r_plus, r_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    rank_biserial = (r_plus - r_minus) / (r_plus + r_minus)
    _, ties = np.unique(np.abs(d), return_counts=True)
    var = n * (n + 1) * (2 * n + 1) / 24 - (ties**3 - ties).sum() / 48
    z = (r_plus - n * (n + 1) / 4) / np.sqrt(var) if var > 0 else np.nan
    return float(rank_biserial), float(z / np.sqrt(n_pairs))


def paired_change(visits: pd.DataFrame, variable: str, *, id_col: str, time: str, baseline,
                  follow_up, arm: str | None = None,
                  arm_levels: Sequence | None = None) -> pd.DataFrame:
    """Change from ``baseline`` to ``follow_up`` in patients seen at both, Wilcoxon signed-rank.

    Patients with a non-missing ``variable`` at both visits form the pairs; the change is
    ``follow_up - baseline``. The test is ``scipy.stats.wilcoxon`` on the changes, two-sided,
    ``zero_method="wilcox"`` (zero changes are dropped before ranking) and scipy's
    ``method="auto"`` (exact without ties or zeros, else an exact permutation test up to 13
    pairs, else the normal approximation; ``method`` names the one used). ``statistic`` is
    scipy's (the smaller of the positive and negative rank sums).

    Effect sizes, both positive when values rise and negative when they fall:

    - ``rank_biserial``: matched-pairs rank-biserial correlation
      ``(R+ - R-) / (R+ + R-)``, ranks of ``|change|`` with zeros excluded (average ranks
      for ties);
    - ``effect_size_r``: ``Z / sqrt(n_pairs)``, ``Z`` the normal-approximation statistic
      of ``R+`` (tie-corrected, no continuity correction, zeros excluded) and ``n_pairs`` all
      pairs including zero changes.

    Rows: ``Overall`` and then each arm (in ``arm_levels`` order).

    Raises
    ------
    AnalysisError
        A missing column, a patient with two rows at the same visit, or a visit time that
        does not occur in ``time``.

    Examples
    --------
    >>> v = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4], "week": [0, 12] * 4,
    ...                   "ses": [10, 4, 8, 8, 12, 6, 6, 7]})
    >>> row = paired_change(v, "ses", id_col="id", time="week", baseline=0, follow_up=12).iloc[0]
    >>> int(row["n_pairs"]), float(row["median_change"]), float(row["rank_biserial"])
    (4, -3.0, -0.6666666666666666)
    """
    who = "paired_change"
    _require(visits, [variable, id_col, time, *([arm] if arm is not None else [])], who)
    levels = _arm_levels(visits, arm, arm_levels, who)
    for t in (baseline, follow_up):
        if not (visits[time] == t).any():
            raise AnalysisError(f"{who}: visit {t!r} does not occur in column {time!r}")
    if baseline == follow_up:
        raise AnalysisError(f"{who}: baseline and follow_up are the same visit ({baseline!r})")
    values = _numeric(visits[variable], variable, who)
    rows = visits[visits[time].isin([baseline, follow_up]) & values.notna()]
    duplicated = rows.duplicated([id_col, time])
    if duplicated.any():
        example = shorten_repr(rows.loc[duplicated, id_col].iloc[0])
        raise AnalysisError(f"{who}: column {id_col!r}: {int(duplicated.sum())} patient(s) with "
                            f"two rows at the same visit of {time!r}, e.g. {example}")
    long = pd.DataFrame({"id": rows[id_col].to_numpy(), "t": rows[time].to_numpy(),
                         "value": values[rows.index].to_numpy()})
    wide = pd.concat({"before": long[long["t"] == baseline].set_index("id")["value"],
                      "after": long[long["t"] == follow_up].set_index("id")["value"]},
                     axis=1).dropna()
    if arm is not None:
        arms = visits.drop_duplicates(id_col).set_index(id_col)[arm].astype(str)
        wide["arm"] = arms.reindex(wide.index).to_numpy()
    groups = [("Overall", wide)] + [(level, wide[wide["arm"] == level]) for level in levels]

    out = []
    for name, frame in groups:
        d = (frame["after"] - frame["before"]).to_numpy(dtype=float)
        row = {"variable": variable, "arm": name, "baseline": baseline, "follow_up": follow_up,
               "n_pairs": int(d.size)}
        if d.size:
            q1, q3 = np.quantile(d, [0.25, 0.75])
            row.update(median_baseline=float(frame["before"].median()),
                       median_follow_up=float(frame["after"].median()),
                       median_change=float(np.median(d)), q1_change=float(q1),
                       q3_change=float(q3))
        if (d != 0).any():
            res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
            rank_biserial, r = _signed_rank_effects(d, d.size)
            row.update(statistic=float(res.statistic), p_value=float(res.pvalue),
                       rank_biserial=rank_biserial, effect_size_r=r,
                       method=f"Wilcoxon signed-rank, two-sided, zero_method='wilcox' "
                              f"({_wilcoxon_method_name(d)}); rank-biserial; r = Z/sqrt(n)")
        else:
            row["method"] = "Wilcoxon signed-rank not computed (no pairs or no non-zero change)"
        out.append(row)
    return pd.DataFrame(out).reindex(columns=PAIRED_COLUMNS)


# --------------------------------------------------------------------------------------------
# counts
# --------------------------------------------------------------------------------------------

def count_summary(visits: pd.DataFrame, columns, *, time: str, arm: str | None = None,
                  arm_levels: Sequence | None = None) -> pd.DataFrame:
    """Count variables per visit time and arm: n, total, mean, SD, median, quartiles, any > 0.

    Counts (number of ulcers, liquid stools, draining fistulas) are summarised as counts
    rather than dropped or treated as binary. ``n`` is the number of non-missing values,
    ``total`` their sum and ``patients_with_any`` the number of rows with a count above 0
    (one row per patient and visit). Tidy: one row per variable, visit time and arm
    (``Overall`` first, then ``arm_levels`` order).

    Raises
    ------
    AnalysisError
        A missing column, or a column with values that are not non-negative whole numbers.

    Examples
    --------
    >>> v = pd.DataFrame({"week": [0, 0, 0, 4, 4, 4], "ulcers": [0, 2, 4, 0, 0, 1]})
    >>> count_summary(v, "ulcers", time="week")[["time", "total", "mean", "patients_with_any"]]
       time  total      mean  patients_with_any
    0     0      6  2.000000                  2
    1     4      1  0.333333                  1
    """
    who = "count_summary"
    columns = as_list(columns, "count columns")
    _require(visits, [*columns, time, *([arm] if arm is not None else [])], who)
    levels = _arm_levels(visits, arm, arm_levels, who)
    counts = {}
    for name in columns:
        values = _numeric(visits[name], name, who)
        present = values.dropna()
        if (present < 0).any() or (present != np.round(present)).any() \
                or not np.all(np.isfinite(present)):
            raise AnalysisError(f"{who}: column {name!r} must hold counts "
                                "(non-negative whole numbers)")
        counts[name] = values
    groups = [("Overall", np.ones(len(visits), dtype=bool))]
    groups += [(level, (visits[arm].astype(str) == level).to_numpy()) for level in levels]
    rows = []
    for name in columns:
        for t in sorted(visits[time].dropna().unique()):
            at_time = (visits[time] == t).to_numpy()
            for label, mask in groups:
                values = counts[name][at_time & mask].dropna()
                row = {"variable": name, "time": t, "arm": label, "n": int(values.size),
                       "total": int(values.sum()), "patients_with_any": int((values > 0).sum())}
                if values.size:
                    row.update(mean=float(values.mean()),
                               sd=float(values.std(ddof=1)) if values.size > 1 else np.nan,
                               median=float(values.median()), q1=float(values.quantile(0.25)),
                               q3=float(values.quantile(0.75)))
                rows.append(row)
    return pd.DataFrame(rows).reindex(columns=COUNT_COLUMNS)
