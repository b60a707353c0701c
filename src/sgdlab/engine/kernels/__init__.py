"""Numba kernels for compiled GLM segments, one module per job; `sgdlab.engine.glm_kernels` lists the entry points."""
