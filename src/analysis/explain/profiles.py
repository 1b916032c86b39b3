"""Synthetic example patients for reports: never a real patient's row."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def typical_profile(X: pd.DataFrame, codebook: Mapping[str, Mapping]) -> pd.DataFrame:
    """One made-up patient: the median of each numeric predictor, the mode of the others.

    Reports explain predictions for such profiles instead of printing real patients.

    Examples
    --------
    >>> X = pd.DataFrame({"age": [30.0, 50.0, 70.0], "sex": ["f", "m", "m"]})
    >>> [str(v) for v in typical_profile(X, {"age": {"type": "numeric"}, "sex": {"type": "categorical"}}).iloc[0]]
    ['50.0', 'm']
    """
    row = {}
    for name in X.columns:
        kind = codebook.get(name, {}).get("type")
        values = X[name].dropna()
        if kind in ("numeric", "integer"):
            row[name] = float(values.median())
        else:
            row[name] = values.mode().sort_values().iloc[0] if len(values) else None
    return pd.DataFrame([row], columns=X.columns)


def profiles_under_options(profile: pd.DataFrame, column: str, options) -> pd.DataFrame:
    """The same profile once per treatment option (one row each), labelled by option."""
    rows = pd.concat([profile.assign(**{column: option}) for option in options], ignore_index=True)
    rows.index = [str(o) for o in options]
    return rows
