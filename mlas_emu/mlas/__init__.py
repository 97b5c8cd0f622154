"""mlas_emu.mlas (work in progress)."""
