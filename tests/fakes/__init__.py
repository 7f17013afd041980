"""Fakes for what cannot run on a CPU-only machine (TensorRT, the CUDA driver). Named as fakes on purpose."""
