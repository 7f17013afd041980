"""Reading the metadata of any artifact, and ``edgeseg info``.

- ``.pt``: the checkpoint's ``metadata``, read by the ``read_checkpoint``
  the caller passes (the core imports no stage: ``edgeseg info`` passes
  :func:`edgeseg.train.checkpoint.checkpoint_summary`, which needs torch);
- ``.onnx``: ``metadata_props['edgeseg']`` (read with ``onnx`` where installed,
  else with onnxruntime, so a Jetson without ``onnx`` can still read it);
- ``.engine``: the ``metadata`` field of the ``.engine.json`` sidecar.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import EdgesegError
from .metadata import ONNX_METADATA_KEY, ModelMetadata

if TYPE_CHECKING:
    from collections.abc import Callable

    # (metadata, extra facts such as epoch and best_miou) of a checkpoint file.
    CheckpointReader = Callable[[Path], tuple[ModelMetadata, dict[str, Any]]]


def onnx_metadata_props(path: Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file as a dict."""
    try:
        import onnx
    except ImportError:
        from edgeseg.ort_session import open_session

        return dict(open_session(path).get_modelmeta().custom_metadata_map)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError and others for bad files
        raise EdgesegError(f"{path} is not a readable ONNX file ({type(exc).__name__}: {str(exc)[:200]})") from None
    return {prop.key: prop.value for prop in model.metadata_props}


def read_artifact_metadata(path: str | Path, *, read_checkpoint: CheckpointReader | None = None,
                           ) -> tuple[str, ModelMetadata, dict[str, Any]]:
    """(kind, metadata, extra facts) of a ``.pt``, ``.onnx``, ``.engine`` or ``.blob`` file.

    Args:
        read_checkpoint: reads a ``.pt`` (None: a ``.pt`` is refused, with the command that reads it).
    """
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"{path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".pt":
        if read_checkpoint is None:
            raise EdgesegError(f"{path} is a checkpoint: read it with 'edgeseg info {path}' or "
                               "edgeseg.train.checkpoint.checkpoint_summary (needs edgeseg[train])")
        metadata, extra = read_checkpoint(path)
        return "checkpoint", metadata, extra
    if suffix == ".onnx":
        if path.stat().st_size == 0:
            raise EdgesegError(f"ONNX file {path} is empty (0 bytes)")
        props = onnx_metadata_props(path)
        if ONNX_METADATA_KEY not in props:
            raise EdgesegError(f"{path} has no edgeseg metadata (metadata_props key '{ONNX_METADATA_KEY}')")
        return "onnx", ModelMetadata.from_json(props[ONNX_METADATA_KEY], source=str(path)), {}
    if suffix in (".engine", ".blob"):  # TensorRT engine, OpenVINO compiled model (cpu target)
        from .sidecar import read_sidecar, sidecar_path

        data = read_sidecar(path)  # the one sidecar check, as the backends make it before loading
        extra = {k: v for k, v in data.items() if k != "metadata"}
        return "engine", ModelMetadata.from_dict(data["metadata"], source=str(sidecar_path(path))), extra
    raise EdgesegError(f"{path}: unknown artifact kind {suffix or '(no suffix)'}; expected .pt, .onnx, .engine or .blob")
