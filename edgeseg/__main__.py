"""``python -m edgeseg`` (also what ``torchrun -m edgeseg`` runs)."""

import sys

from .cli import main

sys.exit(main())
