"""The forest plot: codebook row labels with units, OR (95% CI) and p columns, readable ticks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis.plots.forest import DISPLAY_RANGE, plot_forest, ratio_ticks

CODEBOOK = {
    "age": {"type": "numeric", "label": "Age", "unit": "years"},
    "crp_mg_l": {"type": "numeric", "label": "C-reactive protein", "unit": "mg/L", "transform": "log"},
    "sex": {"type": "categorical", "label": "Sex", "levels": ["female", "male"]},
    "perianal": {"type": "binary", "label": "Perianal disease"},
}
TABLE = pd.DataFrame({
    "term": ["age", "sex[male]", "crp_mg_l", "perianal"],
    "odds_ratio": [1.05, 2.5, 0.8, 3.0],
    "ci_lower": [0.99, 1.2, 0.5, 0.9],
    "ci_upper": [1.11, 5.2, 1.3, 10.0],
    "p_value": [0.094, 0.0004, 0.37, 0.072],
    "reference": [None, "female", None, None],
})


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in [*ax.texts, *ax.get_yticklabels(),
                                                      *ax.get_xticklabels()]]


def test_rows_are_labelled_from_the_codebook_with_the_unit_of_each_estimate():
    fig = plot_forest(TABLE, variables=CODEBOOK)
    rows = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert rows == ["Age (per 1 year)", "Sex: male (vs female)",
                    "C-reactive protein (per doubling)", "Perianal disease (yes vs no)"]
    shown = " ".join(texts(fig))
    for raw in ("crp_mg_l", "sex[male]", "perianal "):
        assert raw not in shown


def test_estimate_and_p_columns_hold_the_table_numbers_row_by_row():
    fig = plot_forest(TABLE, variables=CODEBOOK)
    column = fig.axes[1]
    by_row = {}
    for t in column.texts:
        by_row.setdefault(t.get_position()[1], []).append(t.get_text())
    top = max(by_row)
    assert by_row.pop(top) == ["OR (95% CI)", "p"]  # the header above the first row
    assert [by_row[y] for y in sorted(by_row, reverse=True)] == [
        ["1.05 (0.99 to 1.11)", "0.094"],
        ["2.50 (1.20 to 5.20)", "<0.001"],
        ["0.80 (0.50 to 1.30)", "0.370"],
        ["3.00 (0.90 to 10.00)", "0.072"],
    ]
    # each text sits on the row of its point (same y as the row's tick)
    assert sorted(by_row) == sorted(fig.axes[0].get_yticks().tolist())


def renderer_of(fig):
    """Draw the figure (Agg) and return its renderer, so text extents are final."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _boxes(fig, labels):
    renderer = renderer_of(fig)
    return [t.get_window_extent(renderer) for t in labels if t.get_text()]


@pytest.mark.parametrize("upper", [1.3, 5.0, 40.0, 1e6])
def test_log_ticks_are_readable_and_never_overlap(upper):
    table = TABLE.assign(ci_upper=[1.11, 5.2, upper, 10.0], ci_lower=[0.99, 1.2, 0.02, 0.9])
    fig = plot_forest(table, variables=CODEBOOK)
    ax = fig.axes[0]
    boxes = _boxes(fig, ax.get_xticklabels())
    assert 3 <= len(boxes) <= 7
    for a, b in zip(boxes, boxes[1:], strict=False):
        assert a.x1 < b.x0  # disjoint, left to right
    assert ax.xaxis.get_minor_ticks() == [] or not any(t.label1.get_text() for t in ax.xaxis.get_minor_ticks())
    lo, hi = ax.get_xlim()
    assert DISPLAY_RANGE[0] <= lo < 1 < hi <= DISPLAY_RANGE[1]


def test_text_columns_do_not_overlap_each_other():
    fig = plot_forest(TABLE.assign(ci_upper=[1.11, 5.2, 1.3, 999.0]), variables=CODEBOOK)
    renderer = renderer_of(fig)
    cells = fig.axes[1].texts
    for left, right in zip(cells[::2], cells[1::2], strict=True):
        assert left.get_window_extent(renderer).x1 < right.get_window_extent(renderer).x0


def test_huge_and_infinite_ratios_are_listed_not_drawn():
    table = TABLE.copy()
    table.loc[1, ["odds_ratio", "ci_lower", "ci_upper"]] = [3e6, 20.0, 1e12]  # near separation
    table.loc[2, ["odds_ratio", "ci_lower", "ci_upper"]] = [math.inf, math.nan, math.inf]
    fig = plot_forest(table, variables=CODEBOOK)
    ax = fig.axes[0]
    rows = [t.get_text() for t in ax.get_yticklabels()]
    assert rows[1].endswith("(off the axis)") and rows[2].endswith("(not estimable)")
    drawn = np.concatenate([line.get_xdata() for line in ax.lines if line.get_linestyle() == "None"])
    assert np.all(np.asarray(drawn, dtype=float) <= DISPLAY_RANGE[1])
    assert ax.get_xlim()[1] <= DISPLAY_RANGE[1]
    cells = [t.get_text() for t in fig.axes[1].texts]
    assert ">999 (20.00 to >999)" in cells and "not estimable" in cells


@pytest.mark.parametrize(("low", "high", "ticks"), [
    (0.6, 3.1, [0.5, 1, 2, 4]),
    (0.2, 7.0, [0.125, 0.25, 0.5, 1, 2, 4, 8]),
    (0.15, 9.0, [0.1, 0.2, 0.5, 1, 2, 5, 10]),       # too many powers of 2: 1-2-5 steps
    (0.05, 12.0, [0.01, 0.1, 1, 10, 100]),           # more than two decades: decades
    (0.003, 300.0, [0.001, 0.01, 0.1, 1, 10, 100, 1000]),
])
def test_ratio_ticks(low, high, ticks):
    got, limits = ratio_ticks(low, high)
    assert got == pytest.approx(ticks)
    assert limits[0] <= low and limits[1] >= high


def test_linear_estimates_keep_the_estimate_heading():
    table = TABLE.rename(columns={"odds_ratio": "estimate"}).assign(ci_lower=-1.0)
    fig = plot_forest(table, reference_line=0.0, log_scale=False, variables=CODEBOOK)
    assert fig.axes[1].texts[0].get_text() == "Estimate (95% CI)"
