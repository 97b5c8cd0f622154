"""The pictures are built from traces: check what they show, not how they look."""

from __future__ import annotations

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from mlas_emu.teach import figures, trace  # noqa: E402


def _cell_texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_bfmmla_tile_numbers_every_lane_once():
    fig = figures.mmla_tile("sbgemm")
    texts = _cell_texts(fig)
    # A and B: lanes 0-7 each; C: lanes 0-3.
    assert sorted(texts) == sorted([str(i) for i in range(8)] * 2 + [str(i) for i in range(4)])


def test_smmla_tile_has_sixteen_lanes_per_operand():
    texts = _cell_texts(figures.mmla_tile("qgemm-s8s8"))
    assert len(texts) == 16 + 16 + 4


def test_micro_tile_shows_sixteen_instructions_over_64_elements():
    texts = _cell_texts(figures.micro_tile("qgemm-u8u8"))
    assert len(texts) == 64
    assert len({t.split("#")[1] for t in texts}) == 16


def test_draw_returns_a_figure_with_the_trace_grid():
    fig = trace("qgemm-dot-s8s8", 8, 8, 8).draw()
    assert len(_cell_texts(fig)) == 64


def test_save_all_writes_svg_and_png(tmp_path):
    written = figures.save_all(tmp_path)
    assert len(written) == 2 * len(figures.FIGURES)
    assert all(p.stat().st_size > 1000 for p in written)


def test_k_blocking_draws_the_driver_blocks():
    fig = figures.k_blocking(16, 24, 600)
    texts = _cell_texts(fig)
    assert any("k 256..511" in t for t in texts)  # packed: blocks of 256
    assert any("k 0..599" in t for t in texts)  # non-packed, N=24: one block of 600
