"""mlas_emu.teach (work in progress)."""
