"""edgeseg: semantic segmentation from PyTorch training to a live camera on a Jetson.

The core package holds what every stage shares and depends on numpy only:
artifact metadata (:mod:`edgeseg.metadata`), class palettes, metrics, atomic
file writes, config parsing and the command line. The stages are the
subpackages ``edgeseg.train``, ``edgeseg.export``, ``edgeseg.engines`` and
``edgeseg.runtime``; heavy dependencies are imported only where used.
"""

__version__ = "0.1.0"
