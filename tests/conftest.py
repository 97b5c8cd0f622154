"""Shared test fixtures.

The real-Arm oracle: tests that need it take the ``oracle`` fixture and carry the ``oracle``
marker. Without an installed oracle they are skipped with the reason, unless the environment
variable ``MLAS_EMU_REQUIRE_ORACLE=1`` is set (as ``.ci/run`` does), which makes it a failure.
"""

from __future__ import annotations

import os

import pytest

#: The ONNX Runtime releases every oracle comparison covers.
ORACLE_VERSIONS = ("1.17.1", "1.23.2", "1.27.0")


def oracle_required() -> bool:
    return os.environ.get("MLAS_EMU_REQUIRE_ORACLE", "") not in ("", "0")


@pytest.fixture(scope="session")
def oracle():
    """The ``mlas_emu.oracle`` module, once it can run (else skip, or fail in CI)."""
    from mlas_emu import oracle as _oracle

    reason = _oracle.unavailable_reason()
    if reason is not None:
        if oracle_required():
            pytest.fail(f"the real-Arm oracle is required (MLAS_EMU_REQUIRE_ORACLE) but unavailable: {reason}")
        pytest.skip(f"real-Arm oracle not installed: {reason}")
    return _oracle
