"""mlas_emu.isa (work in progress)."""
