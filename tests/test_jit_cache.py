"""The compiled-code cache can never serve code older than the package's sources.

numba's own ``cache=True`` revalidates a cached function only against its own file. The probe
below calls ``isa.convert.fp_convert_bf`` on a signalling NaN: its result takes ``QUIET_BIT``
from ``isa/fp.py``, frozen into the compiled code of ``convert.py``. Editing that constant in a
copy of the package after a warm run must change the result in a fresh process
(``test_numba_alone_serves_the_stale_constant`` shows the same probe failing with numba's own
cache). The runs use copies of the package and temporary cache folders; ``-B`` keeps Python's
own bytecode files out of the file listings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from mlas_emu import _jit

PROBE = """
import json, numpy as np, mlas_emu, mlas_emu._jit as jit
from mlas_emu.isa.convert import fp_convert_bf
out = int(fp_convert_bf(np.uint32(0x7F800001)))
print(json.dumps(dict(package=mlas_emu.__file__, cache_dir=str(jit.CACHE_DIR), out=out,
                      hits=sum(fp_convert_bf.stats.cache_hits.values()),
                      cache_path=fp_convert_bf.stats.cache_path)))
"""
QUIET = "QUIET_BIT = np.uint32(0x00400000)"
EDITED = "QUIET_BIT = np.uint32(0x00200000)"


def _copy_package(dest: Path) -> Path:
    """A copy of the package's sources (no bytecode, no cached code) under ``dest``."""
    shutil.copytree(_jit.PACKAGE_DIR, dest / "mlas_emu", ignore=shutil.ignore_patterns("__pycache__"))
    return dest / "mlas_emu"


def _run(root: Path, env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "XDG_CACHE"))}
    env.update(PYTHONPATH=str(root), **env_extra)
    done = subprocess.run([sys.executable, "-B", "-c", PROBE], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["package"]).resolve().parent == (root / "mlas_emu").resolve()
    return result


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


def _listing(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.mark.slow  # three fresh processes: 5 to 7 s on a quiet machine
def test_an_edited_constant_of_another_module_is_used_after_a_warm_run(tmp_path):
    package = _copy_package(tmp_path / "src")
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    cold = _run(tmp_path / "src", env)
    warm = _run(tmp_path / "src", env)
    assert (cold["out"], cold["hits"]) == (0x7FC0, 0)  # FPConvertNaN sets frac<22>: 0x7FC0
    assert (warm["out"], warm["hits"]) == (0x7FC0, 1)  # served from the cache
    _edit(package / "isa" / "fp.py", QUIET, EDITED)
    edited = _run(tmp_path / "src", env)
    assert edited["out"] == 0x7FA0  # the edited quiet bit (frac<21>) shifted right by 16
    assert edited["cache_dir"] != warm["cache_dir"]
    assert Path(edited["cache_dir"]).parent == tmp_path / "cache" / "mlas-emu"


@pytest.mark.slow  # two fresh processes: about 5 s on a quiet machine
def test_numba_alone_serves_the_stale_constant(tmp_path):
    """The probe is sensitive: with numba's own cache (the locator replaced by
    ``enable_caching``) the same edit is not seen, the warm cache answers with the old bit."""
    package = _copy_package(tmp_path / "src")
    _edit(package / "_jit.py", " _attach_cache(dispatcher)\n", " dispatcher.enable_caching()\n")
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    _run(tmp_path / "src", env)
    _edit(package / "isa" / "fp.py", QUIET, EDITED)
    assert _run(tmp_path / "src", env)["out"] == 0x7FC0


def test_nothing_is_written_inside_the_installed_package(tmp_path):
    """A wheel in a read-only site-packages: write permission is removed (root ignores it, so
    the listing before and after is the check) and the code is cached outside the package."""
    package = _copy_package(tmp_path / "site")
    before = _listing(package)
    for p in [package, *package.rglob("*")]:
        p.chmod(p.stat().st_mode & ~0o222)
    try:
        result = _run(tmp_path / "site", {"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    finally:
        for p in [package, *package.rglob("*")]:
            p.chmod(p.stat().st_mode | 0o200)
    assert _listing(package) == before
    cache = Path(result["cache_dir"])
    assert cache.parent == tmp_path / "xdg" / "mlas-emu" / "numba"
    assert Path(result["cache_path"]) == cache / "isa"
    assert any(cache.rglob("convert.fp_convert_bf-*.nbc"))


def test_the_folder_is_keyed_on_every_source_file(tmp_path):
    package = _copy_package(tmp_path)
    first = _jit.source_digest(package)
    assert _jit.source_digest(package) == first
    for rel in ("teach/__init__.py", "isa/fp.py", "_version.py"):
        text = (package / rel).read_text()
        (package / rel).write_text(text + "# edited\n")
        assert _jit.source_digest(package) != first, rel
        (package / rel).write_text(text)
    assert _jit.source_digest(package) == first
    (package / "isa" / "new_module.py").write_text("")
    assert _jit.source_digest(package) != first
    assert _jit.CACHE_DIR.parent == _jit.cache_root() and len(_jit.CACHE_DIR.name) == len(first)


def test_cache_root_follows_numba_cache_dir_then_the_user_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba"))
    assert _jit.cache_root() == tmp_path / "numba" / "mlas-emu"
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert _jit.cache_root() == tmp_path / "xdg" / "mlas-emu" / "numba"


def test_package_functions_are_cached_under_the_digest_folder():
    from mlas_emu.isa.convert import fp_convert_bf
    from mlas_emu.mlas import _bfdot_chain

    assert fp_convert_bf.stats.cache_path == str(_jit.CACHE_DIR / "isa")
    assert _bfdot_chain.unpack_rows.stats.cache_path == str(_jit.CACHE_DIR / "mlas")


def test_prune_keeps_the_most_recently_used_digest_folders(tmp_path):
    for age, name in enumerate("abcdef"):
        (tmp_path / name).mkdir()
        marker = tmp_path / name / "last-used"
        marker.touch()
        os.utime(marker, (1e9 - age, 1e9 - age))
    (tmp_path / "not-ours").mkdir()
    _jit._prune(tmp_path, keep=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c", "d", "not-ours"]


def test_a_digest_folder_pruned_by_another_process_is_recreated_and_marked(tmp_path, monkeypatch):
    monkeypatch.setattr(_jit, "CACHE_DIR", tmp_path / "digest")
    monkeypatch.setattr(_jit, "_prepared", set())
    _jit._prepare(str(tmp_path / "digest" / "isa"))
    assert (tmp_path / "digest" / "last-used").exists()
    shutil.rmtree(tmp_path / "digest")
    _jit._prepare(str(tmp_path / "digest" / "isa"))
    assert (tmp_path / "digest" / "isa").is_dir() and (tmp_path / "digest" / "last-used").exists()


def test_njit_options():
    def f(x):
        return x + 1

    assert isinstance(_jit.njit(cache=False)(f)._cache, numba.core.caching.NullCache)
    assert _jit.njit(f)._cache.cache_path.startswith(str(_jit.CACHE_DIR / "external"))
    with pytest.raises(TypeError, match="signatures"):
        _jit.njit("int64(int64)")
    with pytest.raises(TypeError, match="fastmath"):
        _jit.njit(fastmath=True)
