"""README's two commands: the first installs and runs the demo, the second is what CI runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_readme_test_command_verbatim():
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("```\n") + 4:]
    demo_command, test_command = block[:block.index("```")].strip().splitlines()
    assert demo_command.endswith("mlas-emu demo") and "[demo]" in demo_command
    assert (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1] == test_command
