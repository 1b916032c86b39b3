"""Atomic writes, the partial-file transaction, and byte-stable figure and table exports."""

import hashlib
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from analysis.pipeline.export import save_figure, save_table  # noqa
from analysis.study.io import atomic_path, commit_partials, discard_partials, write_text  # noqa


def test_atomic_path_leaves_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "t.txt"
    write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]


def test_writes_under_a_run_manifest_wait_for_commit(tmp_path, monkeypatch):
    manifest = tmp_path / "manifest.txt"
    monkeypatch.setenv("ANALYSIS_RUN_MANIFEST", str(manifest))
    write_text(tmp_path / "a.csv", "new")
    assert not (tmp_path / "a.csv").exists() and (tmp_path / "a.csv.partial").exists()
    commit_partials(manifest)
    assert (tmp_path / "a.csv").read_text() == "new" and not (tmp_path / "a.csv.partial").exists()

    write_text(tmp_path / "a.csv", "newer")
    discard_partials(manifest)
    assert (tmp_path / "a.csv").read_text() == "new"
    assert not (tmp_path / "a.csv.partial").exists()


def _digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_figures_are_byte_identical_between_runs(tmp_path):
    def draw():
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 0, 2], label="line")
        ax.legend()
        return fig

    first = _digest(save_figure(draw(), "f", tmp_path / "a"))
    second = _digest(save_figure(draw(), "f", tmp_path / "b"))
    assert first == second and set(first) == {"f.pdf", "f.svg", "f.png"}
    png = (tmp_path / "a" / "f.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_tables_are_byte_identical_and_formatted_copy_is_used(tmp_path):
    tidy = pd.DataFrame({"term": ["age"], "odds_ratio": [1.0123456789123], "p_value": [0.04]})
    shown = pd.DataFrame({"Term": ["Age"], "OR (95% CI)": ["1.01 (0.99-1.03)"]})
    first = _digest(save_table(tidy, "t", tmp_path / "a", formatted=shown, caption="Table"))
    second = _digest(save_table(tidy, "t", tmp_path / "b", formatted=shown, caption="Table"))
    assert first == second
    assert (tmp_path / "a" / "t.csv").read_text() == "term,odds_ratio,p_value\nage,1.012345679,0.04\n"
    html = (tmp_path / "a" / "t.html").read_text()
    assert "OR (95% CI)" in html and "1.01 (0.99-1.03)" in html

    import docx

    doc = docx.Document(str(tmp_path / "a" / "t.docx"))
    cells = [c.text for c in doc.tables[0].rows[1].cells]
    assert cells == ["Age", "1.01 (0.99-1.03)"]


def test_show_renders_any_figure_as_png(monkeypatch):
    from matplotlib.figure import Figure

    import analysis.pipeline.export as export

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    export.show(fig)
    assert shown[0].data[:8] == b"\x89PNG\r\n\x1a\n"
    export.show(pd.DataFrame({"a": [1], "b": ["x"]}))
    assert "<th>a</th>" in shown[1].data and "<td>x</td>" in shown[1].data


def test_save_figure_lays_out_once_and_show_reuses_the_saved_png(tmp_path, monkeypatch):
    """Three formats and the notebook's image from one layout: four draws instead of eight."""
    import warnings

    import numpy as np
    from matplotlib.figure import Figure
    from PIL import Image

    import analysis.pipeline.export as export

    def figure():
        fig = Figure(figsize=(5, 4), layout="constrained")
        ax = fig.subplots()
        image = ax.imshow(np.arange(16.0).reshape(4, 4))
        fig.colorbar(image, ax=ax, label="a long colour bar label")
        ax.set_title("A title that the tight box must keep")
        return fig

    peer = figure()
    expected = io.BytesIO()
    peer.savefig(expected, format="png", dpi=export.PNG_DPI, bbox_inches="tight")
    expected_size = Image.open(expected).size

    fig = figure()
    draws = []
    original_draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda self, renderer: draws.append(1) or original_draw(self, renderer))
    engine = fig.get_layout_engine()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no layout-engine or colour-bar warning
        paths = export.save_figure(fig, "heat", tmp_path, caption="c", label="fig-heat")
    assert [p.suffix for p in paths] == [".pdf", ".svg", ".png"]
    assert fig.get_layout_engine() is engine  # restored
    # one layout pass, then one draw per format (savefig with "tight" draws twice per format)
    assert len(draws) == 1 + 3
    size = Image.open(tmp_path / "heat.png").size
    # the same crop as savefig's own tight box, to the pixel (measured at a different dpi)
    assert abs(size[0] - expected_size[0]) <= 2 and abs(size[1] - expected_size[1]) <= 2

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    export.show(fig)
    assert len(draws) == 4  # shown from the saved PNG, not drawn again
    screen = Image.open(io.BytesIO(shown[0].data))
    factor = export.SCREEN_DPI / export.PNG_DPI
    assert screen.size == (round(size[0] * factor), round(size[1] * factor))
