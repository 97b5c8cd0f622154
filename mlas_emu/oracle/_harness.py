"""``run_instructions``: real Arm instructions on batches of registers, through the harness.

The operands and results follow the ``mlas_emu.isa`` function of the same name (lane layouts:
docs/concepts-isa.md): leading dimensions broadcast, the last one holds the lanes of ``s`` 128-bit segments.
``s == 1`` runs the Advanced SIMD instruction (what MLAS uses); ``s > 1`` runs the SVE form with
the vector length set to ``16*s`` bytes. One harness process serves a whole call.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from ..errors import OracleError, OracleUnavailable
from . import _paths, _qemu, _status

#: CPU for the harness: every SVE vector length (128 to 2048 bits) is available, so the SVE forms
#: can run with any number of segments, and under QEMU 10 it implements FEAT_EBF16 and FEAT_AFP,
#: so every FPCR field of ``isa.FPCR`` can be set; under the default FPCR the instructions'
#: results do not depend on the model.
HARNESS_CPU = "max,sme=off"

#: Records per harness request (keeps pipe buffers and memory bounded).
_BATCH = 1 << 18


@dataclass(frozen=True)
class _Form:
    code: int            # op number in harness.c
    vd: type             # accumulator / result element type
    vn: type             # vn and vm element types
    vm: type
    vd_lanes: int        # per 128-bit segment
    vn_lanes: int


_BF16 = "bfloat16"
INSTRUCTIONS: dict[str, _Form] = {
    "bfmmla": _Form(0, np.float32, _BF16, _BF16, 4, 8),
    "bfdot": _Form(1, np.float32, _BF16, _BF16, 4, 8),
    "smmla": _Form(3, np.int32, np.int8, np.int8, 4, 16),
    "ummla": _Form(4, np.uint32, np.uint8, np.uint8, 4, 16),
    "usmmla": _Form(5, np.int32, np.uint8, np.int8, 4, 16),
    "sdot": _Form(6, np.int32, np.int8, np.int8, 4, 16),
    "udot": _Form(7, np.uint32, np.uint8, np.uint8, 4, 16),
    "usdot": _Form(8, np.int32, np.uint8, np.int8, 4, 16),
    "fmla": _Form(9, np.float32, np.float32, np.float32, 4, 4),
}
_BFCVT_CODE = 2
_FEATURES_CODE = 10
_NAMES = (*INSTRUCTIONS, "bfcvt")

#: Linux's HWCAP2 bits (arch/arm64/include/uapi/asm/hwcap.h).
_HWCAP2_AFP = 1 << 20
_HWCAP2_EBF16 = 1 << 32
#: Status 5's mask: feature -> the FPCR fields that need it.
_MISSING = {1: ("FEAT_EBF16", "FPCR.EBF"), 2: ("FEAT_AFP", "FPCR.FIZ, AH or NEP")}


def run_instructions(name: str, *operands, fpcr=None, cpu: str | None = None,
                     qemu_cpu: str | None = None) -> np.ndarray:
    """Run the Arm instruction ``name`` on every register of ``operands`` and return the result
    with the type and shape the ``mlas_emu.isa`` function of that name returns.

    ``name``: one of bfmmla, bfdot, bfcvt, fmla, smmla, ummla, usmmla, sdot, udot, usdot.
    ``fpcr``: ``None`` (the Linux default, 0), an int, or an object with the fields of
    ``isa.FPCR``, written with ``MSR FPCR`` before the batch. QEMU 10's ``-cpu max`` implements
    FEAT_EBF16 (FPCR.EBF: fused BFDOT/BFMMLA) and FEAT_AFP (FPCR.FIZ, AH, NEP) and keeps every
    field of ``isa.FPCR``; QEMU 7.2 implemented neither. A value whose feature the CPU lacks
    (FEAT_EBF16 or FEAT_AFP by HWCAP2 or its ID register field), or that does not read back,
    raises ``OracleUnavailable``.

    The CPU defaults to :data:`HARNESS_CPU` (every SVE vector length, both features above).
    ``cpu`` names a CPU of :data:`mlas_emu.cpus.CPUS` instead (graviton2/3/4: the QEMU model the
    oracle runs for it, which has neither feature and only its own vector lengths);
    ``qemu_cpu`` is a raw QEMU ``-cpu`` value (oracle only). Not both.
    """
    if name not in _NAMES:
        raise ValueError(f"unknown instruction {name!r}; expected one of {', '.join(_NAMES)}")
    fpcr_value = fpcr_bits(fpcr)
    qemu = _qemu_cpu(cpu, qemu_cpu)
    if name == "bfcvt":
        if len(operands) != 1:
            raise TypeError(f"bfcvt takes 1 operand (x), got {len(operands)}")
        return _run_bfcvt(operands[0], fpcr_value, qemu)
    if len(operands) != 3:
        raise TypeError(f"{name} takes 3 operands (vd, vn, vm), got {len(operands)}")
    return _run_three(name, INSTRUCTIONS[name], *operands, fpcr_value, qemu)


def harness_features(cpu: str | None = None, qemu_cpu: str | None = None) -> dict:
    """What the harness process sees of its CPU (``cpu``/``qemu_cpu`` as for
    :func:`run_instructions`): the auxiliary-vector words ``hwcap``, ``hwcap2``, the ID registers
    ``id_aa64isar1``, ``id_aa64mmfr1`` as user space reads them, and the features the harness
    derives from them for FPCR: ``ebf16`` (HWCAP2_EBF16 or ID_AA64ISAR1_EL1.BF16 >= 2) and
    ``afp`` (HWCAP2_AFP or ID_AA64MMFR1_EL1.AFP >= 1)."""
    qemu = _qemu_cpu(cpu, qemu_cpu)
    reason = _status.harness_unavailable_reason()
    if reason is not None:
        raise OracleUnavailable(reason)
    cmd = _qemu.qemu_command(_paths.harness_binary(), cpu=qemu)
    proc = _qemu.run_once(cmd, input=struct.pack("<5I", _FEATURES_CODE, 1, 0, 0, 0))
    if proc.returncode != 0 or len(proc.stdout) != 12 + 32 or struct.unpack_from("<I", proc.stdout)[0] != 0:
        raise OracleError(f"the instruction harness failed under qemu-aarch64 -cpu {qemu} "
                          f"({_qemu.describe_exit(proc.returncode)}); stderr: "
                          f"{proc.stderr.decode(errors='replace')[-2000:]}")
    hwcap, hwcap2, isar1, mmfr1 = struct.unpack_from("<4Q", proc.stdout, 12)
    return {"qemu_cpu": qemu, "hwcap": hwcap, "hwcap2": hwcap2, "id_aa64isar1": isar1,
            "id_aa64mmfr1": mmfr1,
            "ebf16": bool(hwcap2 & _HWCAP2_EBF16) or (isar1 >> 44) & 0xF >= 2,
            "afp": bool(hwcap2 & _HWCAP2_AFP) or (mmfr1 >> 44) & 0xF >= 1}


def _qemu_cpu(cpu, qemu_cpu) -> str:
    if cpu is None and qemu_cpu is None:
        return HARNESS_CPU
    return _status.resolve_qemu_cpu(cpu, qemu_cpu)


def fpcr_bits(fpcr) -> int | None:
    """FPCR as the register value (Arm ARM, FPCR: FIZ bit 0, AH 1, EBF 13, RMode 23:22, FZ 24,
    DN 25); ``None`` stays ``None`` (the default FPCR)."""
    if fpcr is None:
        return None
    if isinstance(fpcr, (int, np.integer)) and not isinstance(fpcr, bool):
        if not 0 <= int(fpcr) < 2**32:
            raise ValueError(f"fpcr as an int must be a 32-bit register value, got {fpcr!r}")
        return int(fpcr)
    rmodes = {"RNE": 0, "RP": 1, "RM": 2, "RZ": 3}
    try:
        rmode = rmodes[getattr(fpcr, "rmode", "RNE")]
        flags = [bool(getattr(fpcr, f)) for f in ("fiz", "ah", "ebf", "fz", "dn")]
    except (KeyError, AttributeError) as exc:
        raise TypeError(f"fpcr must be None, an int or an isa.FPCR, got {fpcr!r}") from exc
    fiz, ah, ebf, fz, dn = flags
    return fiz | ah << 1 | ebf << 13 | rmode << 22 | fz << 24 | dn << 25


def _run_three(name, form: _Form, vd, vn, vm, fpcr_value, qemu):
    vd = _lanes(vd, form.vd, "vd", name)
    vn = _lanes(vn, form.vn, "vn", name)
    vm = _lanes(vm, form.vm, "vm", name)
    segments = vd.shape[-1] // form.vd_lanes
    for label, arr, lanes in (("vd", vd, form.vd_lanes), ("vn", vn, form.vn_lanes), ("vm", vm, form.vn_lanes)):
        if arr.shape[-1] == 0 or arr.shape[-1] % lanes or arr.shape[-1] // lanes != segments:
            raise ValueError(
                f"{name}: {label} must have {lanes}*s lanes in its last dimension (s segments of 128 "
                f"bits, the same s for vd, vn and vm); got shapes vd {vd.shape}, vn {vn.shape}, vm {vm.shape}"
            )
    try:
        lead = np.broadcast_shapes(vd.shape[:-1], vn.shape[:-1], vm.shape[:-1])
    except ValueError:
        raise ValueError(f"{name}: leading dimensions do not broadcast: vd {vd.shape}, vn {vn.shape}, "
                         f"vm {vm.shape}") from None
    seg_bytes = 16 * segments
    records = [np.broadcast_to(a, lead + a.shape[-1:]).reshape(-1, a.shape[-1]).view(np.uint8)
               .reshape(-1, seg_bytes) for a in (vd, vn, vm)]
    data = np.ascontiguousarray(np.concatenate(records, axis=1))
    out = _harness(form.code, segments, data, seg_bytes, fpcr_value, qemu)
    return out.view(form.vd).reshape(lead + (4 * segments,))


def _run_bfcvt(x, fpcr_value, qemu):
    import ml_dtypes

    x = np.asarray(x)
    if x.dtype == np.uint32:
        x = x.view(np.float32)
    if x.dtype != np.float32:
        raise TypeError(f"bfcvt: x must be float32 (or uint32 bit patterns), got {x.dtype}")
    flat = np.ascontiguousarray(x).reshape(-1)
    padded = np.zeros(-(-flat.size // 4) * 4, np.float32)
    padded[:flat.size] = flat
    out = _harness(_BFCVT_CODE, 1, padded.view(np.uint8).reshape(-1, 16), 8, fpcr_value, qemu)
    return out.view(ml_dtypes.bfloat16).reshape(-1)[:flat.size].reshape(x.shape)


def _lanes(value, dtype, label: str, name: str) -> np.ndarray:
    """Operand as an array of ``dtype`` (bit patterns of the same width are reinterpreted)."""
    import ml_dtypes

    arr = np.asarray(value)
    target = np.dtype(ml_dtypes.bfloat16) if dtype == _BF16 else np.dtype(dtype)
    if arr.ndim == 0:
        raise ValueError(f"{name}: {label} must have a lane dimension, got a scalar")
    same_width_ints = arr.dtype.kind in "iu" and (target.kind in "iu" or target == ml_dtypes.bfloat16
                                                   or target == np.float32)
    if arr.dtype == target:
        return arr
    if same_width_ints and arr.dtype.itemsize == target.itemsize:
        return np.ascontiguousarray(arr).view(target)
    raise TypeError(f"{name}: {label} must be {target.name} (or {8 * target.itemsize}-bit integer "
                    f"bit patterns), got {arr.dtype}")


def _harness(code: int, segments: int, data: np.ndarray, out_bytes: int, fpcr_value, qemu: str) -> np.ndarray:
    reason = _status.harness_unavailable_reason()
    if reason is not None:
        raise OracleUnavailable(reason)
    n = data.shape[0]
    payload = []
    for start in range(0, n, _BATCH):
        chunk = data[start:start + _BATCH]
        header = struct.pack("<5I", code, segments, chunk.shape[0], fpcr_value or 0, fpcr_value is not None)
        payload.append(header + chunk.tobytes())
    cmd = _qemu.qemu_command(_paths.harness_binary(), cpu=qemu)
    proc = _qemu.run_once(cmd, input=b"".join(payload))
    return _parse(proc, n, out_bytes, fpcr_value, segments, qemu)


def _parse(proc, n: int, out_bytes: int, fpcr_value, segments: int, qemu: str) -> np.ndarray:
    stdout, results, offset = proc.stdout, [], 0
    for start in range(0, n, _BATCH):
        count = min(_BATCH, n - start)
        if len(stdout) < offset + 12:
            break
        status, fpcr_read, vl = struct.unpack_from("<3I", stdout, offset)
        offset += 12
        if status == 5:
            lacks = [_MISSING[bit] for bit in sorted(_MISSING) if vl & bit]
            raise OracleUnavailable(
                f"qemu-aarch64 -cpu {qemu} has no "
                + " and no ".join(f"{feature} (needed by {fields})" for feature, fields in lacks)
                + f", so FPCR = {fpcr_value:#010x} cannot run there; use the harness's default CPU "
                f"{HARNESS_CPU!r}, or check this case against the exact reference")
        if status == 1:
            raise OracleUnavailable(
                f"qemu-aarch64 -cpu {qemu} did not keep FPCR = {fpcr_value:#010x} (read back "
                f"{fpcr_read:#010x}): it keeps only the fields of the features it implements")
        if status == 2:
            raise OracleUnavailable(f"the SVE vector length {128 * segments} bits is not available "
                                    f"(got {8 * vl} bits)")
        if status != 0:
            break
        results.append(np.frombuffer(stdout, np.uint8, count * out_bytes, offset))
        offset += count * out_bytes
    if proc.returncode != 0 or offset != len(stdout) or sum(r.size for r in results) != n * out_bytes:
        raise OracleError(
            f"the instruction harness failed under qemu-aarch64 ({_qemu.describe_exit(proc.returncode)}, "
            f"{len(stdout)} bytes of output); stderr: {proc.stderr.decode(errors='replace')[-2000:]}")
    return np.concatenate(results).reshape(n, out_bytes) if results else np.zeros((0, out_bytes), np.uint8)
