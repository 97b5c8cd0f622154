"""The one JIT policy of mlas-emu.

Every numba-compiled function goes through :func:`njit` so that bit-exact code can never be
compiled with ``fastmath`` (which would let LLVM reassociate, contract to FMA or flush
denormals) and so that compiled code is cached on disk for new processes.
A test checks that no module calls ``numba.njit`` directly.

The cache can never serve code older than the package's sources. numba's own ``cache=True``
checks a cached function only against its own file, yet compiled code also holds what it took
from other modules (inlined or called jitted functions, global constants): after an edit or an
upgrade it would run the old callee. Here every function is cached in :data:`CACHE_DIR`, a
folder named after :data:`SOURCE_DIGEST`, a hash of all ``*.py`` files of the package and of
the Python, numba, llvmlite and numpy versions; any change starts an empty folder. Nothing is
written inside the package (it may be a read-only install). A ``NUMBA_CACHE_LOCATOR_CLASSES``
set by the user replaces this locator, and with it the guarantee.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
import warnings
from pathlib import Path

import llvmlite
import numba
import numpy as np
from numba.core import caching
from numba.misc.appdirs import AppDirs

#: Options applied to every compiled function. ``fastmath=False`` is what makes the float
#: arithmetic IEEE-exact; ``error_model="numpy"`` keeps division by zero an IEEE operation.
#: ``cache=True`` means the source-keyed cache of this module, never numba's own.
JIT_OPTIONS = dict(fastmath=False, cache=True, error_model="numpy", nogil=True)

PACKAGE_DIR = Path(__file__).resolve().parent
#: Digest folders kept beside the current one (the most recently used; older ones are deleted
#: when a new one is created, so edits and upgrades do not pile up compiled code).
KEEP_OLD = 4
_LAST_USED = "last-used"


def source_digest(package_dir: Path = PACKAGE_DIR) -> str:
    """Hash of every ``*.py`` under ``package_dir`` (paths and contents) and of the versions
    that shape compiled code. Hashing the 0.5 MB of sources takes a few milliseconds."""
    h = hashlib.sha256()
    for version in (sys.version, numba.__version__, llvmlite.__version__, np.__version__):
        h.update(version.encode() + b"\0")
    for path in sorted(Path(package_dir).rglob("*.py")):
        data = path.read_bytes()
        h.update(f"{path.relative_to(package_dir).as_posix()}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()[:20]


def cache_root() -> Path:
    """``$NUMBA_CACHE_DIR/mlas-emu`` if the user set it, else ``<user cache dir>/mlas-emu/numba``
    (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux)."""
    if numba.config.CACHE_DIR:
        return Path(numba.config.CACHE_DIR) / "mlas-emu"
    return Path(AppDirs("mlas-emu", appauthor=False).user_cache_dir) / "numba"


SOURCE_DIGEST = source_digest()
#: The folder of compiled code for these exact sources.
CACHE_DIR = cache_root() / SOURCE_DIGEST


def _last_used(folder: Path) -> float | None:
    try:
        return (folder / _LAST_USED).stat().st_mtime
    except OSError:  # not a digest folder, or deleted meanwhile by another process
        return None


def _prune(root: Path, keep: int = KEEP_OLD) -> None:
    """Delete the digest folders of ``root`` beyond the ``keep`` most recently used ones."""
    used = [(t, p) for p in root.iterdir()
            if p.name != SOURCE_DIGEST and (t := _last_used(p)) is not None]
    for _, p in sorted(used, reverse=True)[keep:]:
        shutil.rmtree(p, ignore_errors=True)


_prepared: set[str] = set()


def _prepare(path: str) -> None:
    """Create ``path`` and prove it writable, once per folder and process (again if another
    process pruned it meanwhile). Each new folder marks the digest folder used; pruning follows
    the creation of a digest folder."""
    if path in _prepared and os.path.isdir(path):
        return
    os.makedirs(path, exist_ok=True)
    marker = CACHE_DIR / _LAST_USED
    new = not marker.exists()
    marker.touch()
    if new:
        try:
            _prune(CACHE_DIR.parent)
        except OSError:  # housekeeping only: never a reason to compile without the cache
            pass
    tempfile.TemporaryFile(dir=path).close()
    _prepared.add(path)


class _SourceDigestLocator(caching._CacheLocator):
    """numba cache locator: package files under :data:`CACHE_DIR` by subpackage, other files
    (tests using :func:`njit`) under ``CACHE_DIR/external``, stamped with their own hash too."""

    def __init__(self, py_func, py_file):
        self._py_file = Path(py_file).resolve()
        self._lineno = py_func.__code__.co_firstlineno
        try:
            self._inside = self._py_file.parent.relative_to(PACKAGE_DIR)
        except ValueError:
            self._inside = None
        if self._inside is not None:
            self._path = CACHE_DIR / self._inside
        else:
            self._path = CACHE_DIR / "external" / self.get_suitable_cache_subpath(str(self._py_file))

    def ensure_cache_path(self):
        _prepare(str(self._path))

    def get_cache_path(self):
        return str(self._path)

    def get_source_stamp(self):
        if self._inside is not None:
            return SOURCE_DIGEST
        return SOURCE_DIGEST, hashlib.sha256(self._py_file.read_bytes()).hexdigest()

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.exists(py_file):
            return None
        self = cls(py_func, py_file)
        try:
            self.ensure_cache_path()
        except OSError:
            return None
        return self


class _CacheImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_SourceDigestLocator]


class _FunctionCache(caching.FunctionCache):
    _impl_class = _CacheImpl


_warned = False


def _attach_cache(dispatcher) -> None:
    """Give ``dispatcher`` the source-keyed cache (numba's ``enable_caching`` with our locator)."""
    global _warned
    if not isinstance(getattr(dispatcher, "_cache", None), caching.NullCache):
        raise RuntimeError("mlas_emu._jit: numba's Dispatcher no longer has a NullCache _cache")
    try:
        dispatcher._cache = _FunctionCache(dispatcher.py_func)
    except RuntimeError:  # no locator: the cache folder cannot be written
        if not _warned:
            warnings.warn(f"mlas_emu: cannot write {CACHE_DIR}; compiled code is not cached "
                          "(set NUMBA_CACHE_DIR to a writable folder)", RuntimeWarning, stacklevel=3)
            _warned = True


def njit(*args, **kwargs):
    """``numba.njit`` with the project's fixed options (callers may add ``parallel=True``).

    Signatures (eager compilation) are not supported: compilation must follow the cache setup.
    """
    for key in ("fastmath", "error_model"):
        if key in kwargs:
            raise TypeError(f"mlas_emu._jit.njit: {key!r} is fixed by the project policy")
    opts = dict(JIT_OPTIONS)
    opts.update(kwargs)
    cache = opts.pop("cache")
    if len(args) > 1 or (args and not callable(args[0])):
        raise TypeError("mlas_emu._jit.njit: signatures are not supported (compiled on first call)")

    def decorate(func):
        dispatcher = numba.njit(**opts)(func)
        if cache and not numba.config.DISABLE_JIT:
            _attach_cache(dispatcher)
        return dispatcher

    return decorate(args[0]) if args else decorate


prange = numba.prange
