"""The one JIT policy of mlas-emu.

Every numba-compiled function goes through :func:`njit` so that bit-exact code can never be
compiled with ``fastmath`` (which would let LLVM reassociate, contract to FMA or flush
denormals) and so that compiled code is cached on disk for new processes.
A test checks that no module calls ``numba.njit`` directly.
"""

from __future__ import annotations

import os

# numba's OpenMP thread pool (GNU libgomp, which reads OMP_WAIT_POLICY once, when numba first
# starts its workers) busy-waits between parallel regions by default: every mlas_emu call
# would leave a core spinning that numpy or ONNX Runtime needs next. Passive waiting costs
# nothing measurable here; a policy the user set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numba  # noqa: E402

#: Options applied to every compiled function. ``fastmath=False`` is what makes the float
#: arithmetic IEEE-exact; ``error_model="numpy"`` keeps division by zero an IEEE operation.
JIT_OPTIONS = dict(fastmath=False, cache=True, error_model="numpy", nogil=True)


def njit(*args, **kwargs):
    """``numba.njit`` with the project's fixed options (callers may add ``parallel=True``)."""
    for key in ("fastmath", "error_model"):
        if key in kwargs:
            raise TypeError(f"mlas_emu._jit.njit: {key!r} is fixed by the project policy")
    opts = dict(JIT_OPTIONS)
    opts.update(kwargs)
    if args and callable(args[0]) and len(args) == 1:
        return numba.njit(**opts)(args[0])
    return numba.njit(*args, **opts)


prange = numba.prange
