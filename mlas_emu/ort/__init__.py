"""mlas_emu.ort (work in progress)."""
