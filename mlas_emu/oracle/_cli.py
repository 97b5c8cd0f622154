"""``mlas-emu oracle ...`` (placeholder until the oracle lands)."""


def register(sub):
    p = sub.add_parser("oracle", help="real-Arm oracle (qemu-aarch64 + ONNX Runtime aarch64)")
    p.set_defaults(func=lambda args: print("oracle: not implemented yet") or 1)
