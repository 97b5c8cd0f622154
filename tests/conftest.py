"""Shared test fixtures.

The real-Arm oracle: tests that need it take the ``oracle`` fixture and carry the ``oracle``
marker. Without an installed oracle they are skipped with the reason, unless the environment
variable ``MLAS_EMU_REQUIRE_ORACLE=1`` is set (as ``.ci/run`` does), which makes it a failure.
"""

from __future__ import annotations

import os

import pytest

from mlas_emu.oracle import DEFAULT_SETUP_VERSIONS

#: The ONNX Runtime releases every oracle comparison covers (the oracle's default setup).
ORACLE_VERSIONS = DEFAULT_SETUP_VERSIONS


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


def pytest_sessionfinish(session, exitstatus):
    """With ``MLAS_EMU_NO_SKIPS=1`` (set by ``.ci/run``) any skipped test fails the run: CI has
    every extra, the oracle and the weights installed, so a skip there means a missing install."""
    if os.environ.get("MLAS_EMU_NO_SKIPS", "") in ("", "0"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped:
        for rep in skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else rep.longrepr
            reporter.write_line(f"MLAS_EMU_NO_SKIPS: skipped {rep.nodeid}: {reason}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
