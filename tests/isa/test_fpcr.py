"""FPCR (mlas_emu.isa.fpcr): architectural bit positions (Arm ARM DDI0487 M.a.a, C5.2)."""

from __future__ import annotations

import dataclasses

import pytest

from mlas_emu.isa import FPCR


def test_default_is_all_zero():
    assert FPCR().bits == 0
    assert FPCR() == FPCR(ebf=False, rmode="RNE", fz=False, fiz=False, dn=False, ah=False)


@pytest.mark.parametrize("fields, bits", [
    ({"fiz": True}, 1 << 0),
    ({"ah": True}, 1 << 1),
    ({"ebf": True}, 1 << 13),
    ({"rmode": "RP"}, 0b01 << 22),
    ({"rmode": "RM"}, 0b10 << 22),
    ({"rmode": "RZ"}, 0b11 << 22),
    ({"fz": True}, 1 << 24),
    ({"dn": True}, 1 << 25),
])
def test_register_bits(fields, bits):
    assert FPCR(**fields).bits == bits


def test_frozen_and_validated():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FPCR().fz = True
    with pytest.raises(ValueError, match="rmode"):
        FPCR(rmode="nearest")
    with pytest.raises(TypeError, match="FPCR.fz must be a bool"):
        FPCR(fz=1)
