"""``mlas-emu oracle setup`` / ``status`` and the oracle's own configuration."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlas_emu import cli
from mlas_emu.errors import OracleUnavailable
from mlas_emu.oracle import _paths, _provision, _status
from mlas_emu.releases import ORT_RELEASES

pytestmark = pytest.mark.oracle


def test_setup_refuses_unknown_releases_naming_the_newest(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["oracle", "setup", "--ort-version", "1.17.0", "--ort-version", "9.9"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "accepted" in err and f"newest modelled release is {ORT_RELEASES[-1]}" in err


def test_every_modelled_release_is_accepted_by_the_oracle():
    assert _paths.oracle_versions() == ORT_RELEASES
    assert _paths.check_oracle_version(None) == ORT_RELEASES[-1]


def test_qemu_is_the_oracles_own_and_called_by_absolute_path(oracle):
    from mlas_emu.oracle import _qemu

    cmd = _qemu.qemu_command(_paths.arm_python(), "-c", "pass", cpu=oracle.DEFAULT_CPU)
    assert cmd[0] == str(_paths.qemu_path()) and Path(cmd[0]).is_absolute()
    assert _provision.qemu_version(cmd[0]) >= _paths.QEMU_MIN_VERSION


def test_a_failed_qemu_download_says_what_failed(tmp_path, monkeypatch):
    monkeypatch.setenv("MLAS_EMU_ORACLE_DIR", str(tmp_path))
    monkeypatch.setattr(_paths, "QEMU_SUITE", "no-such-suite")
    if not _paths.DEBIAN_KEYRING.is_file() or not shutil.which("apt-get"):
        pytest.skip("needs apt-get and the Debian keyring")
    with pytest.raises(OracleUnavailable, match=r"could not download QEMU \(package qemu-user from Debian no-such-suite"):
        _provision.ensure_qemu(log=lambda msg: None)
    assert _paths.qemu_binary() is None and not (tmp_path / "qemu").exists()


def test_an_empty_cache_folder_is_reported_with_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLAS_EMU_ORACLE_DIR", str(tmp_path / "nothing"))
    assert _paths.oracle_dir() == (tmp_path / "nothing").resolve()
    reason = _status.unavailable_reason()
    assert reason is not None and "mlas-emu oracle setup" in reason
    assert cli.main(["oracle", "status"]) == 1
    out = capsys.readouterr().out
    assert "not ready" in out and "none installed" in out and "qemu-aarch64    missing" in out


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
    monkeypatch.setattr(_provision, "missing_host_packages", lambda: ["gcc-aarch64-linux-gnu"])
    monkeypatch.setattr(_provision.os, "geteuid", lambda: 1000)
    with pytest.raises(OracleUnavailable, match=r"sudo apt-get update && sudo apt-get install .*gcc-aarch64-linux-gnu"):
        _provision.ensure_host_tools()


def test_numpy_pins_follow_the_wheels_abi():
    assert _provision.numpy_requirement("1.17.0") == "numpy<2"
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
    version = tuple(int(x) for x in info["qemu"]["version"].split(".")[:3])
    assert version >= _paths.QEMU_MIN_VERSION and info["qemu"]["path"] == str(_paths.qemu_path())


def test_importing_the_oracle_needs_no_optional_dependency():
    code = ("import sys\n"
            "for m in ('onnx', 'onnxruntime', 'platformdirs'): sys.modules[m] = None\n"
            "from mlas_emu import oracle\n"
            "oracle.unavailable_reason(); oracle.status()\n")
    subprocess.run([sys.executable, "-c", code], check=True)
