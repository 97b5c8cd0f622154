"""How MLAS kernel routines are found in a stripped library (``oracle._routines``): ranges on a
small library built with the GNU cross toolchain, whose symbols give the expected ranges
independently of the finder, and the mnemonic normalisation against the assembler's words."""

from __future__ import annotations

import shutil
import subprocess

import pytest

#: Shapes of MLAS's assembly routines: a routine ending in ``b`` (no ``ret`` before the next
#: entry), code after the ``ret`` that branches back (SbgemmKernelNeon.S's ProcessRows tails), a
#: dead ``b`` at the end, a routine whose tail is entered from before its ``ret``, nop padding.
LIBRARY = """
        .arch armv8.6-a+bf16+i8mm+dotprod
        .text
        .globl zeroth, first, first_end, second, second_end, third, third_end
zeroth:
        cbz     x0, 9f
        ret
9:      mov     x0, #1
        b       zeroth
first:
        ldr     x8, [sp]
        cmp     x4, #8
        b.lt    2f
        bfmmla  v0.4s, v1.8h, v2.8h
1:      mov     x0, x4
        ret
2:      bfmmla  v3.4s, v4.8h, v5.8h
        tbz     x5, #0, 1b
        bfcvtn2 v8.8h, v1.4s
        b       1b
        b       1b
first_end:
second:
        stp     d8, d9, [sp, #-32]!
        bfmmla  v0.4s, v1.8h, v2.8h
        cbz     x0, 3f
        ldp     d8, d9, [sp], #32
        ret
3:      bfmmla  v6.4s, v7.8h, v8.8h
        ldp     d8, d9, [sp], #32
        ret
second_end:
        .p2align 5
third:
        ummla   v0.4s, v1.16b, v2.16b
        ret
third_end:
        .p2align 4
"""


@pytest.fixture
def library(oracle, tmp_path):
    gcc, nm = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("aarch64-linux-gnu-nm")
    if not (gcc and nm):
        pytest.fail("aarch64-linux-gnu-gcc / binutils missing (mlas-emu oracle setup installs them)")
    (tmp_path / "lib.S").write_text(LIBRARY)
    so = tmp_path / "lib.so"
    subprocess.run([gcc, "-shared", "-nostdlib", "-o", str(so), str(tmp_path / "lib.S")], check=True)
    symbols = {}
    for line in subprocess.run([nm, str(so)], check=True, capture_output=True, text=True).stdout.splitlines():
        address, _, name = line.split()
        symbols[name] = int(address, 16)
    return so, symbols


@pytest.mark.oracle
def test_ranges_follow_the_routines_symbols(library):
    from mlas_emu.oracle import _routines

    so, sym = library
    got = [(r.start, r.end) for r in _routines.find_routines(so, ("bfmmla",))]
    assert got == [(sym["first"], sym["first_end"]), (sym["second"], sym["second_end"])]
    got = [(r.start, r.end) for r in _routines.find_routines(so, ("ummla",))]
    assert got == [(sym["third"], sym["third_end"])]


@pytest.mark.oracle
def test_listing_keys_fold_conditions_and_name_move_wide(library):
    from mlas_emu.oracle import _routines

    so, sym = library
    first = _routines.find_routines(so, ("bfmmla",))[0]
    assert [i.key for i in first.instructions] == [
        "ldr", "cmp", "b", "bfmmla", "mov", "ret", "bfmmla", "tbz", "bfcvtn2", "b", "b"]
    assert first.instructions[2].mnemonic == "b.lt"
    zeroth = _routines.disassemble(so, sym["zeroth"], sym["first"])
    assert [(i.mnemonic, i.key) for i in zeroth] == [("cbz", "cbz"), ("ret", "ret"), ("mov", "movz"), ("b", "b")]


@pytest.mark.parametrize("mnemonic, word, expected", [
    ("b.ne", 0x54000041, "b"),
    ("B.LT", 0x5400004B, "b"),
    ("mov", 0xD2800104, "movz"),  # mov x4, #0x8
    ("mov", 0x12800000, "movn"),  # mov w0, #-1
    ("mov", 0xAA0003FA, "mov"),  # mov x26, x0 (ORR)
    ("mov", 0x4EA01C10, "mov"),  # mov v16.16b, v0.16b (ORR vector)
    ("bfcvtn2", 0x4EA16828, "bfcvtn2"),
])
def test_normalise(mnemonic, word, expected):
    from mlas_emu.oracle._routines import normalise

    assert normalise(mnemonic, word) == expected
