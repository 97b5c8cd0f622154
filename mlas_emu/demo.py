"""``mlas-emu demo`` (placeholder until the isa layer lands)."""


def register(sub):
    p = sub.add_parser("demo", help="worked example")
    p.set_defaults(func=run)


def run(args=None) -> int:
    print("demo: not implemented yet")
    return 1
