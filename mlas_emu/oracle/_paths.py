"""Where the oracle lives on disk, and which releases and CPUs it accepts.

Layout of the cache folder (``MLAS_EMU_ORACLE_DIR``, else the platform user cache dir
``mlas-emu/oracle``)::

    sysroot/             arm64 CPython 3.11 from Debian bookworm's arm64 packages (dpkg -x)
    ort/<version>/       onnxruntime aarch64 wheel + numpy, installed with pip --target
    harness/harness      the ACLE instruction harness, static aarch64 binary
    */.complete          written last: a step whose marker is missing is redone
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..ort.versions import ORT_RELEASES, version_tuple

#: Releases ``mlas-emu oracle setup`` installs when none is named (the ones CI compares).
DEFAULT_SETUP_VERSIONS: tuple[str, ...] = ("1.17.1", "1.23.2", "1.27.0")

#: Graviton3-like: BF16, I8MM, 256-bit SVE, no SME (plain ``max`` advertises SME, which sends
#: ORT 1.23+ to KleidiAI kernels that Graviton3 never runs).
DEFAULT_CPU = "max,sme=off,sve256=on"

#: The oldest release the oracle runs (1.17.0's aarch64 wheel is not on PyPI for every Python).
OLDEST_ORACLE_VERSION = "1.17.1"

QEMU_BINARY = "qemu-aarch64-static"
CROSS_GCC = "aarch64-linux-gnu-gcc"
#: Static libc of the cross toolchain; ``gcc-aarch64-linux-gnu`` only recommends it.
CROSS_LIBC = Path("/usr/aarch64-linux-gnu/lib/libc.a")
#: Debian packages the host needs (installed with apt when run as root).
HOST_PACKAGES: tuple[str, ...] = (
    "qemu-user-static", "gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross",
    "debian-archive-keyring",
)
DEBIAN_KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")

MARKER = ".complete"


def oracle_dir() -> Path:
    """The cache folder: ``$MLAS_EMU_ORACLE_DIR``, else ``<user cache dir>/mlas-emu/oracle``."""
    env = os.environ.get("MLAS_EMU_ORACLE_DIR")
    if env:
        return Path(env).expanduser().resolve()
    try:
        import platformdirs
    except ImportError:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        return base / "mlas-emu" / "oracle"
    return Path(platformdirs.user_cache_dir("mlas-emu")) / "oracle"


def sysroot_dir() -> Path:
    return oracle_dir() / "sysroot"


def arm_python() -> Path:
    """The arm64 interpreter inside the sysroot (run by QEMU, never by the host)."""
    return sysroot_dir() / "usr" / "bin" / "python3.11"


def ort_dir(version: str) -> Path:
    return oracle_dir() / "ort" / version


def harness_dir() -> Path:
    return oracle_dir() / "harness"


def harness_binary() -> Path:
    return harness_dir() / "harness"


def is_complete(path: Path) -> bool:
    return (path / MARKER).is_file()


def qemu_binary() -> str | None:
    return shutil.which(QEMU_BINARY)


def check_oracle_version(ort_version: str | None) -> str:
    """Validate a release for the oracle: ``None`` -> "1.27.0"; 1.28+ refused with the reason."""
    if isinstance(ort_version, str) and _is_at_least_1_28(ort_version):
        raise ValueError(
            f"ONNX Runtime {ort_version} cannot be used by the oracle: ORT 1.28.0 and later crash "
            "at import under qemu-aarch64 7.2 (Debian bookworm's QEMU); accepted: "
            f"{', '.join(oracle_versions())}"
        )
    version = _resolve(ort_version)
    if version_tuple(version) < version_tuple(OLDEST_ORACLE_VERSION):
        raise ValueError(
            f"ONNX Runtime {version} is not available to the oracle (no aarch64 CPython 3.11 wheel "
            f"used here); accepted: {', '.join(oracle_versions())}"
        )
    return version


def oracle_versions() -> tuple[str, ...]:
    """Releases the oracle can install: 1.17.1 to 1.27.0."""
    oldest = version_tuple(OLDEST_ORACLE_VERSION)
    return tuple(v for v in ORT_RELEASES if version_tuple(v) >= oldest)


def _resolve(ort_version: str | None) -> str:
    from ..ort.versions import resolve_ort_version

    return resolve_ort_version(ort_version)


def _is_at_least_1_28(text: str) -> bool:
    parts = text.split(".")
    try:
        major, minor = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return False
    return (major, minor) >= (1, 28)
