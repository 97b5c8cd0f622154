"""The release and CPU tables: resolution, descriptors, and that nothing shown to users drifts
from them (docs/releases.md's table, defaults in help texts and docs)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlas_emu import cpus, releases
from mlas_emu.releases import DEFAULT_ORT_VERSION, ORT_RELEASES, release

ROOT = Path(__file__).resolve().parents[1]
RELEASE = re.compile(r"\b1\.(?:1[7-9]|[2-9]\d)\.\d+\b")


def test_the_default_is_the_newest_release():
    assert DEFAULT_ORT_VERSION == ORT_RELEASES[-1] == "1.32.0"
    assert release(None) == release(DEFAULT_ORT_VERSION)
    assert list(ORT_RELEASES) == sorted(ORT_RELEASES, key=releases.version_tuple)
    assert {"1.17.0", "1.28.0", "1.29.0", "1.30.0", "1.31.0", "1.31.1", "1.32.0"} <= set(ORT_RELEASES)


@pytest.mark.parametrize("bad", ["1.33.0", "1.16.3", "1.27", 1.27, None.__class__])
def test_unknown_releases_name_the_newest_and_the_oracle(bad):
    with pytest.raises(ValueError, match=r"newest modelled release is 1\.32\.0.*oracle setup --ort-version"):
        releases.resolve_ort_version(bad)


def test_change_points_are_releases_in_order():
    firsts = [releases.version_tuple(first) for first, _ in releases.CHANGES]
    assert firsts == sorted(firsts)
    fields = set(releases.Release.__dataclass_fields__)
    assert all(set(change) <= fields for _, change in releases.CHANGES)


def _table_rows(text: str, header_start: str):
    lines = text[text.index(header_start):].splitlines()
    rows = []
    for line in lines[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def test_the_docs_table_of_releases_is_the_descriptors():
    rows = _table_rows((ROOT / "docs" / "releases.md").read_text(), "| releases |")
    covered = []
    for cells in rows:
        first, last = cells[0].split(" - ")
        span = ORT_RELEASES[ORT_RELEASES.index(first): ORT_RELEASES.index(last) + 1]
        covered += span
        for v in span:
            d = release(v)
            assert cells[1:4] == ["yes" if name in d.sbgemm_defects else "no" for name in releases.SBGEMM_DEFECTS], v
            assert cells[4].startswith("alpha != 1 runs fp32") == d.fastmath_alpha_gate, v
            assert (cells[5] == "yes") == d.fastmath_trans_a_gate, v
            assert (cells[6] == "the attribute") == d.fastmath_trans_a_attribute_gate, v
            assert (cells[7] == "makes every output NaN") == d.sve_min_max, v
    assert covered == list(ORT_RELEASES)


def test_the_docs_table_of_config_entries_is_the_code():
    from mlas_emu.ort.session_config import CONFIG_KEYS

    rows = _table_rows((ROOT / "docs" / "releases.md").read_text(), "| entry |")
    assert {r[0].strip("`"): r[1] for r in rows} == {k: v.first for k, v in CONFIG_KEYS.items()}


def test_the_docs_table_of_cpus_is_the_code():
    rows = _table_rows((ROOT / "docs" / "releases.md").read_text(), "| name |")
    assert [r[0].split()[0].strip("`") for r in rows] == list(cpus.CPUS)
    for r in rows:
        cpu = cpus.CPUS[r[0].split()[0].strip("`")]
        assert r[1] == cpu.core and r[2].split()[0].strip("`") == cpu.qemu_cpu
        assert ("(default)" in r[0]) == (cpu.name == cpus.DEFAULT_CPU)


def _text_files():
    yield from (ROOT / "mlas_emu").rglob("*.py")
    yield from (ROOT / "docs").rglob("*.md")
    yield ROOT / "README.md"


def test_no_stale_default_release_anywhere():
    """A line that calls a release the default (or what None means) names the current one."""
    from mlas_emu.oracle import DEFAULT_SETUP_VERSIONS

    stale = []
    for path in _text_files():
        for no, line in enumerate(path.read_text().splitlines(), 1):
            low = line.lower()
            if "default" not in low and "none means" not in low:
                continue
            allowed = {DEFAULT_ORT_VERSION, *DEFAULT_SETUP_VERSIONS}
            bad = [v for v in RELEASE.findall(line) if v not in allowed]
            if bad:
                stale.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not stale, "\n".join(stale)


@pytest.mark.parametrize("argv", [["demo", "--help"], ["model", "--help"], ["oracle", "setup", "--help"]])
def test_help_texts_show_the_current_default(argv):
    out = subprocess.run([sys.executable, "-m", "mlas_emu", *argv], capture_output=True, text=True,
                         check=True).stdout
    assert ORT_RELEASES[-1] in " ".join(out.split())


def test_cpus_resolve_and_refuse_clearly():
    assert cpus.resolve_cpu(None).name == cpus.DEFAULT_CPU == "graviton3"
    assert not cpus.CPUS["graviton2"].bf16 and cpus.CPUS["graviton4"].sve_bits == 128
    with pytest.raises(ValueError, match="graviton2, graviton3, graviton4.*qemu_cpu"):
        cpus.resolve_cpu("neoverse-v1")

