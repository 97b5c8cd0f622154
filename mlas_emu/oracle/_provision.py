"""``mlas-emu oracle setup``: provision qemu-aarch64, an arm64 CPython, ORT wheels and the harness.

Every step is idempotent: a finished step leaves a ``.complete`` marker and is skipped on a
rerun; an unfinished one is built in a temporary folder and renamed into place at the end, so an
interrupted setup never leaves a half-installed release behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import OracleUnavailable
from . import _paths

#: Debian bookworm arm64 packages that make up the sysroot: CPython 3.11 and the libraries it
#: and the ORT / numpy wheels load. ``apt-get download`` does not resolve dependencies, so the
#: closure is listed here (``import onnxruntime`` and sessions checked with ORT 1.17.1, 1.20.1,
#: 1.23.2, 1.25.1 and 1.27.0).
SYSROOT_PACKAGES: tuple[str, ...] = (
    "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib",
    "libc6", "libstdc++6", "libgcc-s1", "zlib1g", "libexpat1", "libffi8", "libssl3",
    "libbz2-1.0", "liblzma5", "libsqlite3-0", "libuuid1", "libncursesw6", "libtinfo6",
    "libreadline8", "libcrypt1", "libnsl2", "libtirpc3", "libdb5.3", "libgssapi-krb5-2",
    "libkrb5-3", "libk5crypto3", "libkrb5support0", "libcom-err2", "libkeyutils1",
)
#: The sysroot stays on bookworm even on a newer host: the oldest ORT wheels exist only for
#: CPython up to 3.11/3.12.
DEBIAN_MIRROR = "http://deb.debian.org/debian"
DEBIAN_SUITE = "bookworm"

_WHEEL_PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64")


def setup(ort_versions=None, *, cpu: str | None = None, qemu_cpu: str | None = None, log=print) -> dict:
    """Install whatever is missing for ``ort_versions`` (default: ``DEFAULT_SETUP_VERSIONS``).

    Returns :func:`mlas_emu.oracle.status`. Raises ``OracleUnavailable`` with the commands to
    run when a host package is missing and this process is not root.
    """
    from ._status import resolve_qemu_cpu, status

    versions = _versions(ort_versions)
    log = _serialized(log)
    started = time.monotonic()
    root = _paths.oracle_dir()
    root.mkdir(parents=True, exist_ok=True)
    with _lock(root / ".lock"):
        ensure_host_tools(log)
        cpu = None if cpu is None and qemu_cpu is None else resolve_qemu_cpu(cpu, qemu_cpu)
        with ThreadPoolExecutor(max_workers=2 + len(versions)) as pool:
            jobs = [pool.submit(ensure_qemu, log), pool.submit(ensure_sysroot, log)]
            jobs += [pool.submit(ensure_ort, v, log) for v in versions]
            jobs.append(pool.submit(ensure_harness, log))
            for job in jobs:
                job.result()
            for job in [pool.submit(check_import, v, log, cpu) for v in versions]:
                job.result()
    log(f"oracle ready in {root} ({time.monotonic() - started:.1f} s)")
    return status()


def _versions(ort_versions) -> tuple[str, ...]:
    if ort_versions is None:
        return _paths.DEFAULT_SETUP_VERSIONS
    if isinstance(ort_versions, str):
        ort_versions = [ort_versions]
    return tuple(dict.fromkeys(_paths.check_oracle_version(v) for v in ort_versions))


# -- host packages ------------------------------------------------------------------------------

def missing_host_packages() -> list[str]:
    """Debian packages of :data:`_paths.HOST_PACKAGES` whose files are absent."""
    present = {
        "gcc-aarch64-linux-gnu": shutil.which(_paths.CROSS_GCC) is not None,
        "binutils-aarch64-linux-gnu": shutil.which(_paths.CROSS_OBJDUMP) is not None,
        "libc6-dev-arm64-cross": _paths.CROSS_LIBC.is_file(),
        "debian-archive-keyring": _paths.DEBIAN_KEYRING.is_file(),
    }
    missing = [p for p in _paths.HOST_PACKAGES if not present[p]]
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        missing.append("apt")
    return missing


def apt_commands(packages) -> str:
    return ("sudo apt-get update && sudo apt-get install -y --no-install-recommends "
            + " ".join(packages))


def ensure_host_tools(log=print) -> None:
    missing = missing_host_packages()
    if not missing:
        return
    if "apt" in missing:
        raise OracleUnavailable(
            "the oracle needs a Debian or Ubuntu host (apt-get and dpkg-deb not found); "
            f"it uses the packages {', '.join(_paths.HOST_PACKAGES)}"
        )
    if os.geteuid() != 0:
        raise OracleUnavailable(
            f"missing host packages: {', '.join(missing)}. Run:\n  {apt_commands(missing)}\n"
            "then rerun: mlas-emu oracle setup"
        )
    log(f"apt-get install {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-q"], env=env)
    _run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], env=env)
    still = missing_host_packages()
    if still:
        raise OracleUnavailable(f"apt-get install did not provide: {', '.join(still)}")


# -- arm64 CPython sysroot ----------------------------------------------------------------------

def ensure_sysroot(log=print) -> Path:
    target = _paths.sysroot_dir()
    if _paths.is_complete(target):
        return target
    log(f"arm64 CPython 3.11 sysroot from Debian {DEBIAN_SUITE} ({len(SYSROOT_PACKAGES)} packages)")
    with _staging(target) as tmp:
        _extract_debs(tmp, "arm64", DEBIAN_SUITE, SYSROOT_PACKAGES)
        python = tmp / "usr" / "bin" / "python3.11"
        if not python.is_file():
            raise OracleUnavailable("the arm64 sysroot has no usr/bin/python3.11 (download failed?)")
    return target


# -- QEMU ---------------------------------------------------------------------------------------

def ensure_qemu(log=print) -> Path:
    """The oracle's own qemu-aarch64: Debian bookworm-backports' ``qemu-user`` (static binaries
    since QEMU 10), unpacked into the cache; the host's QEMU and apt state are never touched."""
    target = _paths.qemu_dir()
    if _paths.is_complete(target):
        return target
    log(f"qemu-aarch64 from Debian {_paths.QEMU_SUITE} ({_paths.QEMU_PACKAGE})")
    with _staging(target) as tmp:
        try:
            _extract_debs(tmp, _host_arch(), _paths.QEMU_SUITE, (_paths.QEMU_PACKAGE,))
        except OracleUnavailable as exc:
            raise OracleUnavailable(
                f"could not download QEMU (package {_paths.QEMU_PACKAGE} from Debian {_paths.QEMU_SUITE}, "
                f"{DEBIAN_MIRROR}); the oracle needs its own qemu-aarch64 >= "
                f"{'.'.join(map(str, _paths.QEMU_MIN_VERSION))}. {exc}") from None
        binary = tmp / _paths.qemu_path().relative_to(target)
        if not binary.is_file():
            raise OracleUnavailable(f"{_paths.QEMU_PACKAGE} from {_paths.QEMU_SUITE} has no usr/bin/qemu-aarch64")
        version = qemu_version(binary)
        if version < _paths.QEMU_MIN_VERSION:
            raise OracleUnavailable(
                f"{_paths.QEMU_SUITE} served qemu-aarch64 {'.'.join(map(str, version))}; the oracle needs "
                f">= {'.'.join(map(str, _paths.QEMU_MIN_VERSION))}")
        for other in list((tmp / "usr" / "bin").iterdir()):
            if other.name != "qemu-aarch64":
                other.unlink()  # 30-odd other targets, about 150 MB: not needed
        shutil.rmtree(tmp / "usr" / "share", ignore_errors=True)
    return target


def qemu_version(binary) -> tuple[int, ...]:
    """``qemu-aarch64 --version`` as a tuple, e.g. (10, 0, 2); (0,) if it does not run."""
    import re

    try:
        out = subprocess.run([str(binary), "--version"], stdout=subprocess.PIPE, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    match = re.search(r"version (\d+)\.(\d+)\.(\d+)", out)
    return tuple(int(g) for g in match.groups()) if match else (0,)


def _host_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], stdout=subprocess.PIPE, text=True,
                          check=True).stdout.strip()


# -- Debian packages into a folder --------------------------------------------------------------

def _extract_debs(folder: Path, arch: str, suite: str, packages) -> None:
    """Download ``packages`` (``arch``, Debian ``suite``) and ``dpkg-deb -x`` them into ``folder``."""
    debs = _download_debs(folder / "_debs", folder / "_apt", arch, suite, packages)
    root = folder / "root"
    root.mkdir()
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(root)])
    shutil.rmtree(folder / "_debs")
    shutil.rmtree(folder / "_apt")
    for item in root.iterdir():
        item.rename(folder / item.name)
    root.rmdir()


def _download_debs(debs: Path, state: Path, arch: str, suite: str, packages) -> list[Path]:
    """``apt-get download`` the packages with a private sources list and apt state, so the
    host's apt configuration (suite, architectures) is neither used nor changed."""
    for sub in ("lists/partial", "cache/archives/partial", "etc/sources.list.d",
                "etc/preferences.d", "etc/apt.conf.d"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "status").write_text("")
    (state / "etc" / "sources.list").write_text(
        f"deb [arch={arch} signed-by={_paths.DEBIAN_KEYRING}] {DEBIAN_MIRROR} {suite} main\n"
    )
    opts = [
        "-o", f"APT::Architecture={arch}", "-o", f"APT::Architectures={arch}",
        "-o", f"Dir::Etc={state / 'etc'}", "-o", f"Dir::State={state}",
        "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::State::status={state / 'status'}",
        "-o", f"Dir::Cache={state / 'cache'}", "-o", "Debug::NoLocking=1",
        "-o", "Acquire::Languages=none", "-o", "APT::Sandbox::User=" + _apt_user(),
    ]
    _run(["apt-get", *opts, "update", "-q"])
    debs.mkdir()
    os.chmod(debs, 0o777)  # apt's sandbox user writes here
    _run(["apt-get", *opts, "download", "-q", *packages], cwd=debs)
    found = sorted(debs.glob("*.deb"))
    if len(found) != len(packages):
        raise OracleUnavailable(f"apt-get download fetched {len(found)} of {len(packages)} packages "
                                f"from Debian {suite} ({arch})")
    return found


def _apt_user() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


# -- ONNX Runtime aarch64 wheels ----------------------------------------------------------------

def numpy_requirement(version: str) -> str:
    """ORT 1.17-1.18 wheels are built against numpy 1.x; later ones accept numpy 2 (< 2.3 keeps
    wheels for CPython 3.11)."""
    from ..ort.versions import version_tuple

    return "numpy<2" if version_tuple(version) < (1, 19, 0) else "numpy<2.3"


def ensure_ort(version: str, log=print) -> Path:
    """onnxruntime and numpy only (``--no-deps``): ``import onnxruntime`` and sessions need
    nothing else, and leaving out sympy, protobuf & co. saves about 30 MB per release."""
    version = _paths.check_oracle_version(version)
    target = _paths.ort_dir(version)
    if _paths.is_complete(target):
        return target
    log(f"onnxruntime {version} aarch64 wheel")
    with _staging(target) as tmp:
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check",
               "--no-compile", "--no-deps", "--target", str(tmp), "--only-binary=:all:",
               "--python-version", "3.11", "--implementation", "cp", "--abi", "cp311"]
        for plat in _WHEEL_PLATFORMS:
            cmd += ["--platform", plat]
        _run(cmd + [f"onnxruntime=={version}", numpy_requirement(version)])
        if not (tmp / "onnxruntime").is_dir():
            raise OracleUnavailable(f"pip did not install onnxruntime {version} for aarch64")
    return target


IMPORT_MARKER = ".imported"


def check_import(version: str, log=print, cpu: str | None = None) -> None:
    """Import onnxruntime once under QEMU: proves the install and leaves the arm64 bytecode
    cache behind, so the first worker of a test run starts in about 3 s instead of 10.
    Done once per release for the default CPU; every time for another ``cpu``."""
    from . import _qemu

    folder = _paths.ort_dir(version)
    if cpu in (None, _paths.DEFAULT_CPU) and (folder / IMPORT_MARKER).is_file():
        return
    cpu = cpu or _paths.DEFAULT_CPU
    log(f"checking import onnxruntime {version} under qemu-aarch64 -cpu {cpu}")
    code = "import numpy, onnxruntime; print(onnxruntime.__version__)"
    cmd = _qemu.qemu_command(_paths.arm_python(), "-c", code, cpu=cpu)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=_qemu.python_env(version))
    if proc.returncode != 0 or proc.stdout.strip() != version:
        raise OracleUnavailable(
            f"import onnxruntime {version} failed under qemu-aarch64 -cpu {cpu} "
            f"({_qemu.describe_exit(proc.returncode)}): {proc.stderr[-2000:]}")
    if cpu == _paths.DEFAULT_CPU:
        (folder / IMPORT_MARKER).write_text(version + "\n")


# -- instruction harness ------------------------------------------------------------------------

HARNESS_SOURCE = Path(__file__).with_name("harness.c")
HARNESS_FLAGS = ("-O1", "-static", "-march=armv8.6-a+bf16+i8mm+dotprod+sve")


def harness_digest() -> str:
    data = HARNESS_SOURCE.read_bytes() + " ".join(HARNESS_FLAGS).encode()
    return hashlib.sha256(data).hexdigest()[:16]


def harness_is_current() -> bool:
    marker = _paths.harness_dir() / _paths.MARKER
    return marker.is_file() and marker.read_text().strip() == harness_digest()


def ensure_harness(log=print) -> Path:
    if harness_is_current():
        return _paths.harness_binary()
    log("instruction harness (aarch64-linux-gnu-gcc, ACLE intrinsics)")
    target = _paths.harness_dir()
    with _staging(target, marker_text=harness_digest()) as tmp:
        _run([_paths.CROSS_GCC, *HARNESS_FLAGS, "-o", str(tmp / "harness"), str(HARNESS_SOURCE)])
    return _paths.harness_binary()


# -- helpers ------------------------------------------------------------------------------------

@contextlib.contextmanager
def _staging(target: Path, marker_text: str = "ok"):
    """Build into a temporary sibling of ``target``, then swap it in with its marker."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    os.chmod(tmp, 0o755)
    try:
        yield tmp
        (tmp / _paths.MARKER).write_text(marker_text + "\n")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _lock(path: Path):
    """One setup at a time per cache folder (concurrent ``setup`` calls wait)."""
    import fcntl

    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _serialized(log):
    """``log`` made safe for the setup threads (one whole line at a time)."""
    import threading

    lock = threading.Lock()

    def locked(msg: str) -> None:
        with lock:
            log(msg)

    return locked


def _run(cmd, **kwargs) -> None:
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)
    if proc.returncode != 0:
        raise OracleUnavailable(
            f"command failed (exit {proc.returncode}): {' '.join(map(str, cmd))}\n{proc.stdout[-3000:]}"
        )
