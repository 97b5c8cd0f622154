"""``mlas-emu oracle setup`` / ``status`` and the oracle's own configuration."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from mlas_emu import cli
from mlas_emu.errors import OracleUnavailable
from mlas_emu.oracle import _paths, _provision, _status

pytestmark = pytest.mark.oracle


def test_setup_refuses_releases_that_crash_under_qemu(capsys):
    assert cli.main(["oracle", "setup", "--ort-version", "1.28.0"]) == 1
    err = capsys.readouterr().err
    assert "1.28.0" in err and "crash at import" in err and "1.27.0" in err


def test_setup_refuses_unknown_releases(capsys):
    assert cli.main(["oracle", "setup", "--ort-version", "1.17.1", "--ort-version", "9.9"]) == 1
    assert "accepted" in capsys.readouterr().err


def test_an_empty_cache_folder_is_reported_with_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLAS_EMU_ORACLE_DIR", str(tmp_path / "nothing"))
    assert _paths.oracle_dir() == (tmp_path / "nothing").resolve()
    reason = _status.unavailable_reason()
    assert reason is not None and "mlas-emu oracle setup" in reason
    assert cli.main(["oracle", "status"]) == 0
    out = capsys.readouterr().out
    assert "not ready" in out and "none installed" in out


def test_missing_release_names_the_setup_flag(oracle):
    if _paths.is_complete(_paths.ort_dir("1.20.1")):
        pytest.skip("1.20.1 happens to be installed")
    assert "--ort-version 1.20.1" in oracle.unavailable_reason("1.20.1")


def test_cache_folder_without_platformdirs(monkeypatch, tmp_path):
    monkeypatch.delenv("MLAS_EMU_ORACLE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "platformdirs", None)
    assert _paths.oracle_dir() == tmp_path / "mlas-emu" / "oracle"


def test_non_root_gets_the_apt_commands(monkeypatch):
    monkeypatch.setattr(_provision, "missing_host_packages", lambda: ["qemu-user-static"])
    monkeypatch.setattr(_provision.os, "geteuid", lambda: 1000)
    with pytest.raises(OracleUnavailable, match=r"sudo apt-get update && sudo apt-get install .*qemu-user-static"):
        _provision.ensure_host_tools()


def test_numpy_pins_follow_the_wheels_abi():
    assert _provision.numpy_requirement("1.17.1") == "numpy<2"
    assert _provision.numpy_requirement("1.18.1") == "numpy<2"
    assert _provision.numpy_requirement("1.19.0") == "numpy<2.3"
    assert _provision.numpy_requirement("1.27.0") == "numpy<2.3"


def test_rerun_is_fast_and_status_lists_the_default_releases(oracle, capsys):
    started = time.monotonic()
    assert cli.main(["oracle", "setup"]) == 0
    assert time.monotonic() - started < 30
    out = capsys.readouterr().out
    assert "ready" in out.splitlines()[-1]
    info = oracle.status()
    assert info["ready"] and info["harness"]["built"] and info["sysroot"]["installed"]
    assert set(_paths.DEFAULT_SETUP_VERSIONS) <= set(info["ort"])
    assert info["qemu"]["version"].startswith("7.")


def test_importing_the_oracle_needs_no_optional_dependency():
    code = ("import sys\n"
            "for m in ('onnx', 'onnxruntime', 'platformdirs'): sys.modules[m] = None\n"
            "from mlas_emu import oracle\n"
            "oracle.unavailable_reason(); oracle.status()\n")
    subprocess.run([sys.executable, "-c", code], check=True)
