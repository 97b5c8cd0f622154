"""mlas_emu.analysis (work in progress)."""
