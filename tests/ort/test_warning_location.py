"""ONNX Runtime defect and config warnings point at the caller's line, not at the library's."""

from __future__ import annotations

import contextlib
import sys
import warnings

import numpy as np

from mlas_emu import ort
from mlas_emu.errors import OrtConfigWarning, OrtDefectWarning, warn_caller
from mlas_emu.mlas import sgemm_bf16


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _line_above() -> int:
    """The number of the line above the caller's."""
    return sys._getframe(1).f_lineno - 1


@contextlib.contextmanager
def _record(category):
    """Every warning raised in the block, as (filename, lineno) of ``category``'s ones."""
    places = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield places
    places += [(w.filename, w.lineno) for w in caught if issubclass(w.category, category)]
    assert places, f"no {category.__name__}"


def test_fused_matmul_gate_warnings_point_at_the_call():
    A, B = _rand((20, 6), 1), _rand((20, 24), 2)
    with _record(OrtDefectWarning) as places:
        ort.fused_matmul(A, B, trans_a=True, ort_version="1.24.4")  # transA ignored (1.17-1.24)
        line = _line_above()
        ort.fused_matmul(A.T.copy(), B, alpha=0.5, ort_version="1.27.0")  # alpha ignored (1.17-1.27)
    assert places == [(__file__, line), (__file__, line + 2)]


def test_sbgemm_defect_log_warnings_point_at_the_call():
    A, B = _rand((16, 300), 5), _rand((300, 24), 6)  # defect 1: non-packed B, K > 256
    with _record(OrtDefectWarning) as places:
        ort.matmul(A, B, b_is_initializer=False, ort_version="1.27.0")
        line = _line_above()
        sgemm_bf16(A, B, packed_b=False, ort_version="1.27.0")
    assert set(places) == {(__file__, line), (__file__, line + 2)}


def test_config_warnings_point_at_the_call():
    with _record(OrtConfigWarning) as places:
        ort.matmul(_rand((4, 40), 1), _rand((40, 8), 2), session_config={"session.no_such_entry": "1"})
        line = _line_above()
        ort.matmul_integer(np.ones((4, 8), np.uint8), np.ones((8, 4), np.uint8),
                           session_config={"session.no_such_entry": "1"})
    assert places == [(__file__, line), (__file__, line + 2)]


def test_non_finite_quantizer_input_warning_points_at_the_call():
    A = _rand((4, 8), 3)
    A[0, 0] = np.inf
    with _record(OrtDefectWarning) as places:
        ort.dynamic_quantize_matmul(A, np.ones((8, 4), np.int8), np.float32(0.1))
        line = _line_above()
    assert places == [(__file__, line)]


def test_warn_caller_from_outside_the_package_points_at_its_own_line():
    with _record(UserWarning) as places:
        warn_caller("here", UserWarning)
        line = _line_above()
    assert places == [(__file__, line)]
