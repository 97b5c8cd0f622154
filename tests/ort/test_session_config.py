"""``session_config`` and ``cpu`` on the ``mlas_emu.ort`` operators: validation, which release
reads which entry, and (oracle) that each emulated entry and CPU gives Arm ORT's bits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mlas_emu import ort
from mlas_emu.errors import OrtConfigWarning, OrtDefectWarning
from mlas_emu.ort import session_config as sc
from mlas_emu.releases import DEFAULT_ORT_VERSION, ORT_RELEASES

FASTMATH = {sc.FASTMATH_KEY: "1"}


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _bits(x):
    return np.asarray(x).view(np.uint32)


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OrtDefectWarning)
        return fn(*args, **kwargs)


def test_an_entry_is_read_from_its_first_release_and_warned_before():
    A, B = _rand((4, 40), 1), _rand((40, 8), 2)
    first = sc.CONFIG_KEYS[sc.DISABLE_KLEIDIAI_KEY].first
    before = ORT_RELEASES[ORT_RELEASES.index(first) - 1]
    with pytest.warns(OrtConfigWarning, match=f"read only from ONNX Runtime {first} on; ONNX Runtime {before}"):
        ort.matmul(A, B, ort_version=before, session_config={sc.DISABLE_KLEIDIAI_KEY: "1"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", OrtConfigWarning)
        ort.matmul(A, B, ort_version=first, session_config={sc.DISABLE_KLEIDIAI_KEY: "1"})


@pytest.mark.parametrize("op", ["matmul", "matmul_integer"])
def test_unknown_entries_are_ignored_with_a_warning(op):
    A, B = (_rand((4, 40), 3), _rand((40, 8), 4)) if op == "matmul" else \
        (np.ones((4, 8), np.uint8), np.ones((8, 4), np.uint8))
    with pytest.warns(OrtConfigWarning, match="'session.no_such_entry' is not an entry"):
        got = getattr(ort, op)(A, B, session_config={"session.no_such_entry": "1"})
    np.testing.assert_array_equal(got, getattr(ort, op)(A, B))


def test_entries_that_would_change_results_unemulated_are_refused():
    A = np.ones((2, 8), np.uint8)
    with pytest.raises(ValueError, match="set_denormal_as_zero.*not emulated"):
        ort.matmul_integer(A, A.T.copy(), session_config={sc.DENORMAL_AS_ZERO_KEY: "1"})
    ort.matmul_integer(A, A.T.copy(), session_config={sc.DENORMAL_AS_ZERO_KEY: "0"})


def test_fastmath_argument_and_entry_are_one_setting():
    A, B = _rand((8, 40), 5), _rand((40, 24), 6)
    on = ort.matmul(A, B)
    off = ort.matmul(A, B, fastmath=False)
    assert not np.array_equal(_bits(on), _bits(off))
    np.testing.assert_array_equal(_bits(ort.matmul(A, B, session_config=FASTMATH)), _bits(on))
    np.testing.assert_array_equal(_bits(ort.matmul(A, B, session_config={sc.FASTMATH_KEY: "0"})), _bits(off))
    with pytest.raises(ValueError, match="contradicts"):
        ort.matmul(A, B, fastmath=True, session_config={sc.FASTMATH_KEY: "0"})


def test_graviton2_has_no_bf16_so_fastmath_runs_fp32_sgemm():
    """A consistency check between two of our own paths; the oracle test below is the proof."""
    A, B = _rand((8, 40), 7), _rand((40, 24), 8)
    np.testing.assert_array_equal(_bits(ort.matmul(A, B, cpu="graviton2")), _bits(ort.matmul(A, B, fastmath=False)))


@pytest.mark.parametrize("kwargs, exc", [
    ({"cpu": "graviton9"}, ValueError), ({"cpu": "neoverse-n1"}, ValueError), ({"cpu": 3}, ValueError),
    ({"ort_version": "1.33.0"}, ValueError), ({"session_config": "x=1"}, TypeError),
])
@pytest.mark.parametrize("op", ["matmul_integer", "dynamic_quantize_matmul", "matmul_integer_to_float",
                                "qlinear_matmul"])
def test_quantized_operators_validate_the_shared_arguments(op, kwargs, exc):
    a, b = np.ones((2, 4), np.uint8), np.ones((4, 3), np.uint8)
    args = {"matmul_integer": (a, b), "dynamic_quantize_matmul": (a.astype(np.float32), b, 0.5),
            "matmul_integer_to_float": (a, b, 0.5, 0.5),
            "qlinear_matmul": (a, 0.5, 1, b, 0.5, 1, 0.25, 2)}[op]
    getattr(ort, op)(*args, cpu="graviton4", session_config={}, ort_version=DEFAULT_ORT_VERSION)
    with pytest.raises(exc):
        getattr(ort, op)(*args, **kwargs)


def test_inputs_and_config_are_not_modified():
    A, B = _rand((4, 40), 9), _rand((40, 8), 10)
    config = {sc.FASTMATH_KEY: "1"}
    a0, b0 = A.copy(), B.copy()
    ort.matmul(A, B, session_config=config)
    assert config == {sc.FASTMATH_KEY: "1"}
    np.testing.assert_array_equal(A, a0)
    np.testing.assert_array_equal(B, b0)


# -- against the oracle ------------------------------------------------------------------------

def _matmul_model(B):
    from onnx import helper, numpy_helper

    node = helper.make_node("MatMul", ["A", "B"], ["Y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("A", 1, None)],
                              [helper.make_tensor_value_info("Y", 1, None)],
                              initializer=[numpy_helper.from_array(B, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.oracle
@pytest.mark.parametrize("version, fastmath", [("1.17.0", "0"), ("1.32.0", "0"), ("1.32.0", "1")])
def test_disable_prepacking_matches_the_oracle(oracle, version, fastmath):
    # fp32 (K = 300): the packed path cuts K at 256, the non-packed one does not. fastmath on
    # 1.32.0 (K = 259, no defect 2 or 3 there): both paths give the same bits (without defect 1,
    # fastmath's K blocks do not differ). Not fastmath on 1.17.0 with K % 4 != 0: its last row
    # reads past A (defect 3), memory nothing wrote.
    K = 300 if fastmath == "0" else 259
    A, B = _rand((16, K), 11), _rand((K, 150), 12)
    config = {sc.FASTMATH_KEY: fastmath, sc.DISABLE_PREPACKING_KEY: "1"}
    want = oracle.run_model(_matmul_model(B), {"A": A}, ort_version=version, session_config=config)["Y"]
    got = _quiet(ort.matmul, A, B, ort_version=version, session_config=config)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    packed = _quiet(ort.matmul, A, B, ort_version=version, session_config={sc.FASTMATH_KEY: fastmath})
    assert np.array_equal(_bits(packed), _bits(want)) == (fastmath == "1")


@pytest.mark.oracle
@pytest.mark.parametrize("version, cpu", [("1.17.0", "graviton2"), ("1.28.0", "graviton4"),
                                          ("1.32.0", "graviton2"), ("1.32.0", "graviton4")])
@pytest.mark.parametrize("b_is_initializer", [True, False])
def test_cpus_match_the_oracle_on_fastmath_matmul(oracle, version, cpu, b_is_initializer):
    A, B = _rand((9, 67), 13), _rand((67, 40), 14)
    want = oracle.matmul(A, B, fastmath=True, b_is_initializer=b_is_initializer, ort_version=version, cpu=cpu)
    got = _quiet(ort.matmul, A, B, b_is_initializer=b_is_initializer, ort_version=version, cpu=cpu)
    np.testing.assert_array_equal(_bits(got), _bits(want))


@pytest.mark.oracle
def test_the_default_release_is_the_newest_on_a_shape_1_28_changed(oracle):
    """Defect 2 shape (packed B, last K block of 3, columns past 128): 1.27.0 and 1.32.0 differ."""
    A, B = _rand((20, 259), 15), _rand((259, 150), 16)
    want = oracle.matmul(A, B, fastmath=True, ort_version=ORT_RELEASES[-1])
    got = ort.matmul(A, B)
    np.testing.assert_array_equal(_bits(got), _bits(want))
    old = _quiet(ort.matmul, A, B, ort_version="1.27.0")
    assert not np.array_equal(_bits(old), _bits(want))
