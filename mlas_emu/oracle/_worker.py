"""The Arm-side worker: run by the arm64 CPython under qemu-aarch64. The host imports it only for
``read_message`` / ``write_message`` (both sides speak this one wire format).

It imports ONNX Runtime once and then serves requests until its stdin closes, so one slow import
under QEMU serves hundreds of sessions. Standard library + numpy + onnxruntime only.

Wire format, both directions: an 8-byte little-endian header length, a JSON header, then the
binary blobs the header lists (``"blobs": [nbytes, ...]``), back to back.

Requests (``"op"``): ``"info"``; ``"maps"`` (the guest's /proc/self/maps); ``"run"`` with blobs ``[model, feed_0, feed_1, ...]`` and keys
``feeds`` ([[name, dtype, shape], ...]), ``threads``, ``config`` (session config entries),
``opt_level`` (int or null). Replies: ``{"ok": true, ...}`` or ``{"ok": false, "error": msg}``.
"""

import hashlib
import json
import os
import struct
import sys
import traceback
from collections import OrderedDict

_SESSIONS = OrderedDict()
_MAX_SESSIONS = 8


def read_message(stream):
    head = stream.read(8)
    if len(head) < 8:
        return None, []
    (size,) = struct.unpack("<Q", head)
    header = json.loads(_read_exact(stream, size))
    blobs = [_read_exact(stream, n) for n in header.get("blobs", [])]
    return header, blobs


def write_message(stream, header, blobs=()):
    header = dict(header, blobs=[len(b) for b in blobs])
    data = json.dumps(header).encode()
    stream.write(struct.pack("<Q", len(data)) + data)
    for blob in blobs:
        stream.write(blob)
    stream.flush()


def _read_exact(stream, n):
    parts, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("message truncated")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _session(ort, model, header):
    key = (hashlib.sha256(model).hexdigest(), header.get("threads"),
           json.dumps(header.get("config") or {}, sort_keys=True), header.get("opt_level"))
    if key in _SESSIONS:
        _SESSIONS.move_to_end(key)
        return _SESSIONS[key]
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(header.get("threads") or 1)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    config = dict(header.get("config") or {})
    # Idle pool threads sleep instead of spinning: many threads on a few host cores stay cheap
    # under QEMU; results do not change (checked against spinning runs).
    config.setdefault("session.intra_op.allow_spinning", "0")
    for name, value in config.items():
        options.add_session_config_entry(str(name), str(value))
    if header.get("opt_level") is not None:
        options.graph_optimization_level = ort.GraphOptimizationLevel(int(header["opt_level"]))
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    _SESSIONS[key] = session
    while len(_SESSIONS) > _MAX_SESSIONS:
        _SESSIONS.popitem(last=False)
    return session


def _run(ort, np, header, blobs):
    model, data = blobs[0], blobs[1:]
    feeds = {}
    for (name, dtype, shape), blob in zip(header["feeds"], data):
        feeds[name] = np.frombuffer(blob, dtype=np.dtype(dtype)).reshape(shape)
    session = _session(ort, model, header)
    names = [o.name for o in session.get_outputs()]
    results = session.run(names, feeds)
    outputs, out_blobs = [], []
    for name, value in zip(names, results):
        value = np.ascontiguousarray(value)
        outputs.append([name, value.dtype.str, list(value.shape)])
        out_blobs.append(value.tobytes())
    return {"ok": True, "outputs": outputs}, out_blobs


def main():
    stdin = sys.stdin.buffer
    stdout = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt replies
    import numpy as np
    import onnxruntime as ort

    while True:
        header, blobs = read_message(stdin)
        if header is None or header.get("op") == "exit":
            return
        try:
            if header["op"] == "info":
                reply = {"ok": True, "ort": ort.__version__, "numpy": np.__version__,
                         "python": sys.version.split()[0]}
                write_message(stdout, reply)
            elif header["op"] == "maps":  # guest memory map (QEMU emulates /proc/self/maps)
                with open("/proc/self/maps") as fh:
                    write_message(stdout, {"ok": True, "maps": fh.read()})
            elif header["op"] == "run":
                reply, out = _run(ort, np, header, blobs)
                write_message(stdout, reply, out)
            else:
                write_message(stdout, {"ok": False, "error": "unknown op %r" % header["op"]})
        except Exception as exc:  # ORT's own errors go back to the caller with their message
            write_message(stdout, {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc),
                                   "traceback": traceback.format_exc()})


if __name__ == "__main__":
    main()
