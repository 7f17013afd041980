"""Reading JSON files that users or other stages wrote, with one error wording."""

from __future__ import annotations

import json
import os
from typing import Any

from .errors import EdgesegError


def read_json(path: str | os.PathLike, what: str) -> Any:
    """Parse the JSON file ``path``; a bad file raises ``"{what} {path} is not valid JSON (...)"``."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise EdgesegError(f"{what} {path} is not valid JSON ({exc})") from None
