"""Data sets, decoding and augmentation for training."""
