"""Engine cache: the build key, the skip-if-built check, and the shared timing cache.

The key covers everything that changes the plan: the ONNX *content* hash,
TensorRT version, GPU name and compute capability, precision, I/O shapes and
the target's build options. It is stored in the sidecar; a build whose key
matches an existing engine (whose file hash still matches its sidecar) is
skipped. Keying on the file name alone would reuse stale engines after a
re-export or a TensorRT/GPU change.

The timing cache (TensorRT's record of kernel timings) is one file per target
and TensorRT version, shared by all builds: read before a build and merged
back after it, both under an exclusive file lock, so concurrent builds never
lose each other's entries or read a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edgeseg.atomic import atomic_write_bytes
from edgeseg.hashing import sha256_file

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger("edgeseg.engines")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def key_fields(*, onnx_sha256: str, runtime: str, runtime_version: str, gpu: dict[str, str] | None, precision: str,
               shapes: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The fields of the build key, as stored in the sidecar (JSON-compatible)."""
    return {"onnx_sha256": onnx_sha256, "runtime": runtime, "runtime_version": runtime_version, "gpu": gpu,
            "precision": precision, "shapes": shapes, "options": options}


def build_key(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of the key fields."""
    return sha256_bytes(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())


def cached_build(artifact: Path, key: str) -> bool:
    """Whether ``artifact`` exists, its sidecar has ``key`` and the file hash matches the sidecar."""
    from edgeseg.sidecar import sidecar_path

    sidecar = sidecar_path(artifact)
    if not (artifact.is_file() and sidecar.is_file()):
        return False
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return False
    if not isinstance(data, dict) or data.get("key") != key:
        return False
    return data.get("engine_sha256") == sha256_file(artifact)


def cache_dir() -> Path:
    """``EDGESEG_CACHE_DIR``, else ``$XDG_CACHE_HOME/edgeseg`` (``~/.cache/edgeseg``)."""
    if os.environ.get("EDGESEG_CACHE_DIR"):
        return Path(os.environ["EDGESEG_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edgeseg"


def timing_cache_path(target: str, trt_version: str, folder: Path | None = None) -> Path:
    """One timing cache per target and TensorRT version (major.minor.patch)."""
    version = ".".join(trt_version.split(".")[:3])
    return (folder or cache_dir()) / "timing" / f"{target}-trt{version}.cache"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path + '.lock'`` (blocks until free; POSIX flock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with open(lock_path, "a+b") as handle:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: builds there are not concurrent in practice
            yield
            return
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def artifact_lock(artifact: Path) -> contextlib.AbstractContextManager[None]:
    """The lock serialising builds of ``artifact``; its file lives in the cache folder, not beside the artifact."""
    name = hashlib.sha256(str(Path(artifact).resolve()).encode()).hexdigest()[:24]
    return file_lock(cache_dir() / "locks" / name)


def read_timing_cache(path: Path) -> bytes:
    """The serialized timing cache at ``path`` (b"" if none yet), read under the lock."""
    with file_lock(path):
        return path.read_bytes() if path.is_file() else b""


def merge_timing_cache(path: Path, config: trt.IBuilderConfig, built: trt.ITimingCache, *, replace: bool = False) -> int:
    """Merge the timing cache a build used (``built``) into the file at ``path``, under the lock.

    The file is re-read inside the lock, so entries another build wrote since
    this one started are kept; ``replace`` (TensorRT rejected the file's cache)
    writes ``built`` alone. Returns the size written in bytes.
    """
    with file_lock(path):
        current = b"" if replace or not path.is_file() else path.read_bytes()
        merged = config.create_timing_cache(current)
        # ignore_mismatch=False: a cache from another device/version is not merged silently
        if not merged.combine(built, False):
            log.warning("timing cache %s did not accept this build's entries (device or version mismatch)", path)
        data = bytes(merged.serialize())
        atomic_write_bytes(path, data, make_parents=True)
        return len(data)
