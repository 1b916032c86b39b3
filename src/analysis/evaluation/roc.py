"""ROC curves of several models on out-of-sample predictions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve


def roc_table(y, predictions: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Tidy ROC coordinates: ``model, fpr, tpr, threshold`` (one row per cut-off).

    Examples
    --------
    >>> roc_table([0, 0, 1, 1], {"m": [0.1, 0.4, 0.35, 0.8]}).shape[1]
    4
    """
    frames = []
    for name, prob in predictions.items():
        fpr, tpr, thr = roc_curve(np.asarray(y), np.asarray(prob))
        frames.append(pd.DataFrame({"model": name, "fpr": fpr, "tpr": tpr, "threshold": thr}))
    return pd.concat(frames, ignore_index=True)


