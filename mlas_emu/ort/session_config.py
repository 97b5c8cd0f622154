"""ONNX Runtime session config entries (``SessionOptions.add_session_config_entry``) as the
emulated operators read them, and the settings every ``mlas_emu.ort`` operator shares.

Models ``include/onnxruntime/core/session/onnxruntime_session_options_config_keys.h``: each
entry is read by some releases only (the first release that reads a key was found by its
presence in the aarch64 wheels' native library); ORT ignores entries it does not read, and so
do we, with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..cpus import Cpu, resolve_cpu
from ..errors import OrtConfigWarning, warn_caller
from ..mlas.threading import check_threads
from ..releases import Release, release, version_tuple

FASTMATH_KEY = "mlas.enable_gemm_fastmath_arm64_bfloat16"
DISABLE_KLEIDIAI_KEY = "mlas.disable_kleidiai"
DISABLE_PREPACKING_KEY = "session.disable_prepacking"
DENORMAL_AS_ZERO_KEY = "session.set_denormal_as_zero"
ALLOW_SPINNING_KEY = "session.intra_op.allow_spinning"
NBITS_ACCURACY_KEY = "session.qdq_matmulnbits_accuracy_level"


@dataclass(frozen=True)
class ConfigKey:
    """One session config entry: the first release that reads it and what it does here."""

    first: str
    effect: str
    #: False: the entry changes results in a way not emulated; a value other than the default
    #: is refused (ValueError) rather than silently ignored.
    emulated: bool = True
    default: str = "0"


#: The entries the emulated operators know.
CONFIG_KEYS: dict[str, ConfigKey] = {
    FASTMATH_KEY: ConfigKey("1.17.0", "'1': fp32 MatMul runs bf16 SBGEMM (BFMMLA) where the gate allows"),
    DISABLE_PREPACKING_KEY: ConfigKey("1.17.0", "'1': constant B is not pre-packed (the non-packed GEMM path; "
                                                "checked against the oracle on 1.32.0)"),
    ALLOW_SPINNING_KEY: ConfigKey("1.17.0", "idle pool threads spin or sleep: no effect on results", default="1"),
    DENORMAL_AS_ZERO_KEY: ConfigKey("1.17.0", "'1': flush-to-zero and denormals-as-zero in ORT's threads",
                                    emulated=False),
    NBITS_ACCURACY_KEY: ConfigKey("1.19.0", "accuracy level of MatMulNBits fused from DQ+MatMul: no effect on "
                                            "the operators modelled here", default="-1"),
    DISABLE_KLEIDIAI_KEY: ConfigKey("1.25.0", "'1': MLAS does not use KleidiAI kernels; the modelled operators "
                                              "take no KleidiAI kernel on Graviton2-4 (no SME) either way"),
}


@dataclass(frozen=True)
class OpSettings:
    """What one emulated operator call runs under: release, CPU, intra-op threads, config."""

    release: Release
    cpu: Cpu
    threads: int
    config: Mapping[str, str]

    @property
    def fastmath(self) -> bool:
        """bf16 fastmath requested and possible: the entry is '1' and the CPU has BF16."""
        return self.config.get(FASTMATH_KEY) == "1" and self.cpu.bf16

    @property
    def prepacking(self) -> bool:
        return self.config.get(DISABLE_PREPACKING_KEY) != "1"


def op_settings(ort_version=None, cpu=None, threads=1, session_config=None) -> OpSettings:
    """Validate the arguments every ``mlas_emu.ort`` operator shares.

    ``session_config``: a mapping of ORT session config entries (str -> str). Entries the release
    does not read are ignored with an :class:`~mlas_emu.errors.OrtConfigWarning`, as ORT ignores
    them; an entry that would change results in a way not emulated raises ``ValueError``.
    """
    rel = release(ort_version)
    desc = resolve_cpu(cpu)
    check_threads(threads)
    return OpSettings(rel, desc, threads, _read_config(session_config, rel))


def fastmath_config(fastmath, session_config):
    """``session_config`` with the fastmath entry set from the ``fastmath`` argument of the
    MatMul functions: None keeps the entry (absent: on, the functions' documented default);
    a bool sets it, and must not contradict an entry given in ``session_config``."""
    config = dict(session_config) if isinstance(session_config, Mapping) else session_config
    if config is not None and not isinstance(config, dict):
        return config  # op_settings reports the type error
    config = config or {}
    if fastmath is None:
        config.setdefault(FASTMATH_KEY, "1")
        return config
    if not isinstance(fastmath, (bool, np.bool_)):
        raise TypeError(f"fastmath must be a bool or None, got {fastmath!r}")
    wanted = "1" if fastmath else "0"
    if config.get(FASTMATH_KEY, wanted) != wanted:
        raise ValueError(f"fastmath={bool(fastmath)} contradicts session_config[{FASTMATH_KEY!r}]="
                         f"{config[FASTMATH_KEY]!r}; give one of them")
    config[FASTMATH_KEY] = wanted
    return config


def _read_config(session_config, rel: Release) -> dict[str, str]:
    if session_config is None:
        return {}
    if not isinstance(session_config, Mapping):
        raise TypeError(f"session_config must be a mapping of str -> str (ORT session config entries), "
                        f"got {type(session_config).__name__}")
    read = {}
    for key, value in session_config.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"session_config entries must be str -> str, as in "
                            f"SessionOptions.add_session_config_entry; got {key!r}: {value!r}")
        known = CONFIG_KEYS.get(key)
        if known is None or version_tuple(known.first) > rel.version_tuple:
            why = ("is not an entry the emulated operators know" if known is None
                   else f"is read only from ONNX Runtime {known.first} on")
            warn_caller(f"session config entry {key!r} {why}; ONNX Runtime {rel.version} ignores it, "
                        "and so does the emulator", OrtConfigWarning)
            continue
        if not known.emulated and value != known.default:
            raise ValueError(f"session config entry {key}={value!r} is not emulated ({known.effect}); "
                             f"mlas-emu cannot reproduce those results")
        read[key] = value
    return read
