"""The ``.json`` sidecar of a built artifact, and the check before loading one.

``NAME.engine.json`` (or ``NAME.onnx.json`` for the cpu target) holds: the
source ONNX path, sha256 and edgeseg metadata, the target, the runtime and its
version (TensorRT or onnxruntime), the GPU name and compute capability, the
build options, build time, the artifact's own sha256 and the cache key.

:func:`check_artifact` is what a backend calls before loading: a different
TensorRT version or GPU, or an artifact whose bytes differ from the sidecar's
hash, is refused with a message naming the ``edgeseg build`` command that
fixes it. An engine runs only on the TensorRT version and GPU it was built
with, and a swapped or truncated file must not be loaded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeseg.atomic import atomic_write_text
from edgeseg.errors import EdgesegError
from edgeseg.hashing import sha256_file
from edgeseg.jsonfile import read_json
from edgeseg.metadata import ModelMetadata
from edgeseg.schema import build, check_schema_version

from .cuda_rt import GpuInfo

SIDECAR_SCHEMA = 1
REBUILD = "rebuild with 'edgeseg build MODEL.onnx --target NAME'"


@dataclass
class SidecarFields:
    """The keys every sidecar has: :func:`read_sidecar`'s schema (:func:`edgeseg.schema.build`).

    The builder records more facts beside them (build time, the cpu target's
    candidates and CPU, CUDA graphs...); those are kept as they are.
    """

    schema_version: int
    kind: str
    target: str
    source_onnx: dict[str, Any]
    metadata: dict[str, Any]
    runtime: str
    runtime_version: str
    engine_sha256: str
    key: str
    build_options: dict[str, Any]
    gpu: dict[str, Any] | None = None


def sidecar_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def write_sidecar(artifact: Path, data: dict[str, Any]) -> Path:
    path = sidecar_path(artifact)
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def read_sidecar(artifact: str | Path) -> dict[str, Any]:
    """The validated sidecar of ``artifact`` (errors name the file, the key and the fix)."""
    path = sidecar_path(artifact)
    if not path.is_file():
        raise EdgesegError(f"{artifact} has no sidecar {path}; rebuild it with 'edgeseg build MODEL.onnx --target NAME'")
    data = read_json(path, "sidecar")
    source = f"sidecar {path}"
    if not isinstance(data, dict):
        raise EdgesegError(f"{source} is not a JSON object; {REBUILD}")
    check_schema_version(data, SIDECAR_SCHEMA, source=source, what="sidecar", fix=REBUILD)
    build(SidecarFields, data, source=source, fix=REBUILD, open_keys=True)
    ModelMetadata.from_dict(data["metadata"], source=str(path))
    return data


def rebuild_command(data: dict[str, Any], artifact: str | Path) -> str:
    """The ``edgeseg build`` command that rebuilds ``artifact`` on this machine."""
    source = data.get("source_onnx", {}).get("path", "MODEL.onnx")
    return f"edgeseg build {source} --target {data.get('target', 'NAME')} -o {Path(artifact).parent}"


def check_artifact(artifact: str | Path, *, runtime: str, runtime_version: str, gpu: GpuInfo | None) -> dict[str, Any]:
    """Refuse an artifact built for another runtime version or GPU, or altered since its build.

    Args:
        artifact: the ``.engine`` (or cpu-target ``.onnx``).
        runtime: ``tensorrt`` or ``onnxruntime``: what will load it.
        runtime_version: the loading runtime's version (``tensorrt.__version__``).
        gpu: the GPU it will run on (None for onnxruntime on the CPU).

    Returns:
        The sidecar as a dict.
    """
    from .trt_version import same_engine_version

    artifact = Path(artifact)
    if not artifact.is_file():
        raise EdgesegError(f"{artifact} does not exist")
    data = read_sidecar(artifact)
    fix = rebuild_command(data, artifact)
    if data["runtime"] != runtime:
        raise EdgesegError(f"{artifact} was built for {data['runtime']}, not {runtime}; load it with --backend {data['runtime']}, or run: {fix}")
    built = str(data["runtime_version"])
    if not same_engine_version(built, runtime_version):
        raise EdgesegError(
            f"{artifact} was built with {runtime} {built} but this machine has {runtime_version}; "
            f"an engine runs only on the version it was built with: rebuild it here with: {fix}"
        )
    if gpu is not None:
        want = data.get("gpu") or {}
        if (want.get("name"), want.get("compute_capability")) != (gpu.name, gpu.compute_capability):
            raise EdgesegError(
                f"{artifact} was built for GPU {want.get('name')} (compute capability {want.get('compute_capability')}) "
                f"but this machine has {gpu.name} ({gpu.compute_capability}); rebuild it here with: {fix}"
            )
        # Every Jetson Orin says "Orin", 8.7: the SM count tells an AGX Orin (16/14) from an Orin NX/Nano (8/4).
        built_sms = int(want.get("multiprocessors") or 0)
        if built_sms and gpu.multiprocessors and built_sms != gpu.multiprocessors:
            raise EdgesegError(
                f"{artifact} was built on a {want.get('name')} GPU with {built_sms} SMs "
                f"({int(want.get('memory_mib') or 0) // 1024} GiB), but this one has {gpu.multiprocessors} SMs "
                f"({gpu.memory_mib // 1024} GiB): another module of the same family (an engine is tuned for the "
                f"GPU it was built on); rebuild it here with: {fix}"
            )
    actual = sha256_file(artifact)
    if actual != data["engine_sha256"]:
        raise EdgesegError(
            f"{artifact} does not match its sidecar (sha256 {actual[:12]}... vs {data['engine_sha256'][:12]}...): "
            f"the file was changed or truncated after the build; rebuild it with: {fix}"
        )
    return data
