import numpy as np
from sklearn.metrics import auc, roc_auc_score

from analysis.evaluation.roc import roc_table
from analysis.plots.roc import plot_roc_curves


def test_roc_table_area_equals_sklearn_auc():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    preds = {"good": y * 0.5 + rng.random(300), "noise": rng.random(300)}
    table = roc_table(y, preds)
    for name, rows in table.groupby("model"):
        assert auc(rows["fpr"], rows["tpr"]) == roc_auc_score(y, preds[name])
    fig = plot_roc_curves(y, preds, highlight="good")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[0].startswith(f"good: {roc_auc_score(y, preds['good']):.2f}")
