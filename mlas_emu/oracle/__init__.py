"""mlas_emu.oracle (work in progress)."""
