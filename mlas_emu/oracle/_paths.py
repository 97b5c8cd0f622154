"""Where the oracle lives on disk, and which releases and CPUs it accepts.

Layout of the cache folder (``MLAS_EMU_ORACLE_DIR``, else the platform user cache dir
``mlas-emu/oracle``)::

    qemu/                qemu-aarch64 (>= 10.0.2, static) from Debian bookworm-backports' qemu-user
    sysroot/             arm64 CPython 3.11 from Debian bookworm's arm64 packages (dpkg -x)
    ort/<version>/       onnxruntime aarch64 wheel + numpy, installed with pip --target
    harness/harness      the ACLE instruction harness, static aarch64 binary
    */.complete          written last: a step whose marker is missing is redone
"""

from __future__ import annotations

import os
from pathlib import Path

from ..cpus import CPUS
from ..cpus import DEFAULT_CPU as DEFAULT_CPU_NAME
from ..ort.versions import ORT_RELEASES

#: Releases ``mlas-emu oracle setup`` installs when none is named, and the test suite compares:
#: the oldest, the last before and the first of each modelled change in 1.28-1.30
#: (:data:`mlas_emu.releases.CHANGES`), and the newest.
DEFAULT_SETUP_VERSIONS: tuple[str, ...] = ("1.17.0", "1.27.0", "1.28.0", "1.29.0", "1.30.0", ORT_RELEASES[-1])

#: The QEMU ``-cpu`` value of the default CPU (:data:`mlas_emu.cpus.DEFAULT_CPU`).
DEFAULT_CPU = CPUS[DEFAULT_CPU_NAME].qemu_cpu

#: The oldest release the oracle runs.
OLDEST_ORACLE_VERSION = ORT_RELEASES[0]

#: The oracle runs only its own QEMU: 7.2 (Debian bookworm) segfaults at ``import onnxruntime``
#: from 1.28.0 on, and EBF16 needs >= 9.2. Debian bookworm-backports' ``qemu-user`` ships static
#: binaries since QEMU 10.
QEMU_MIN_VERSION = (10, 0, 2)
QEMU_PACKAGE = "qemu-user"
QEMU_SUITE = "bookworm-backports"
CROSS_GCC = "aarch64-linux-gnu-gcc"
#: Static libc of the cross toolchain; ``gcc-aarch64-linux-gnu`` only recommends it.
CROSS_LIBC = Path("/usr/aarch64-linux-gnu/lib/libc.a")
#: The disassembler that names the instructions of the counted kernel routines; Debian's
#: ``gcc-aarch64-linux-gnu`` depends on it (through gcc-N-aarch64-linux-gnu), listed for clarity.
CROSS_OBJDUMP = "aarch64-linux-gnu-objdump"
#: Debian packages the host needs (installed with apt when run as root).
HOST_PACKAGES: tuple[str, ...] = (
    "gcc-aarch64-linux-gnu", "binutils-aarch64-linux-gnu", "libc6-dev-arm64-cross", "debian-archive-keyring",
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


def qemu_dir() -> Path:
    return oracle_dir() / "qemu"


def qemu_path() -> Path:
    """Where ``mlas-emu oracle setup`` puts the static qemu-aarch64 (``dpkg -x`` of qemu-user)."""
    return qemu_dir() / "usr" / "bin" / "qemu-aarch64"


def qemu_binary() -> str | None:
    """The oracle's own qemu-aarch64, by absolute path, once installed (never the host's)."""
    return str(qemu_path()) if is_complete(qemu_dir()) and qemu_path().is_file() else None


def check_oracle_version(ort_version: str | None) -> str:
    """Validate a release for the oracle: ``None`` means the newest modelled release."""
    from ..ort.versions import resolve_ort_version

    return resolve_ort_version(ort_version)


def oracle_versions() -> tuple[str, ...]:
    """Releases the oracle can install: every modelled release."""
    return ORT_RELEASES
