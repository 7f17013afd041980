"""``edgeseg info``: a summary a person reads, or (``--json``) the full record.

The summary says what the artifact is (kind, task, architecture), what it
segments (classes, with their palette colours only in ``--json``), what it
takes (input size, channels, normalisation), how precise it is (precision,
INT8 calibration), where it came from (source checkpoint hash, opset, tool
versions, training score) and, for a built artifact (``.engine``, or the cpu
target's ``.onnx``), what its sidecar says: target, runtime and version, GPU,
build options, build time.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .jsonfile import read_json
from .metadata import ModelMetadata

if TYPE_CHECKING:
    from .artifacts import CheckpointReader


def info_record(artifact: str | Path, *, read_checkpoint: CheckpointReader | None = None) -> dict[str, Any]:
    """Everything ``info --json`` prints: kind, extra facts, metadata, and a built artifact's sidecar.

    ``read_checkpoint`` reads a ``.pt`` (see :func:`edgeseg.artifacts.read_artifact_metadata`).
    """
    from .artifacts import read_artifact_metadata

    kind, meta, extra = read_artifact_metadata(artifact, read_checkpoint=read_checkpoint)
    if kind == "engine":  # its extra facts are its sidecar's
        return {"artifact": str(artifact), "kind": kind, "metadata": meta.to_dict(), "sidecar": extra}
    record: dict[str, Any] = {"artifact": str(artifact), "kind": kind, **extra, "metadata": meta.to_dict()}
    sidecar = Path(artifact).with_name(Path(artifact).name + ".json")
    if kind == "onnx" and sidecar.is_file():  # the cpu target of 'edgeseg build'
        data = read_json(sidecar, "sidecar")
        if isinstance(data, dict):
            record["sidecar"] = {k: v for k, v in data.items() if k != "metadata"}
    return record


def _short(digest: Any) -> str:
    return f"{str(digest)[:12]}..." if digest else "unknown"


def format_summary(record: dict[str, Any]) -> str:
    """The human summary of :func:`info_record`'s result (one fact a line, aligned)."""
    meta = ModelMetadata.from_dict(record["metadata"], source=record["artifact"])
    spec = meta.input
    lines: list[tuple[str, str]] = [
        ("artifact", f"{record['artifact']} ({record['kind']})"),
        ("task", f"{meta.task}, {meta.architecture}" + (f" {meta.arch_args}" if meta.arch_args else "")),
        ("classes", f"{meta.num_classes}: " + ", ".join(f"{i} {name}" for i, name in enumerate(meta.classes))),
    ]
    if meta.ignore_index is not None:
        lines.append(("ignore index", str(meta.ignore_index)))
    channels = "BGR" if spec.channels == 3 else f"BGR + depth ({spec.depth_scale} mm a step)"
    lines.append(("input", f"{spec.height} x {spec.width} {channels} uint8, NHWC; mean {spec.mean}, std {spec.std}"
                           + (f"; sizes multiple of {spec.multiple}" if spec.multiple > 1 else "")))
    lines.append(("precision", meta.precision))
    if meta.calibration:
        cal = meta.calibration
        parts = [f"{k} {v}" for k, v in cal.items() if k in ("method", "num_images", "images", "percentile")]
        digest = cal.get("images_sha256") or cal.get("sha256") or cal.get("hash")
        lines.append(("calibration", ", ".join(parts or [json.dumps(cal)]) + (f", images {_short(digest)}" if digest else "")))
    provenance = [f"checkpoint sha256 {_short(meta.source_sha256)}"]
    if meta.opset:
        provenance.append(f"opset {meta.opset}")
    provenance += [f"{name} {version}" for name, version in sorted(meta.tool_versions.items())]
    lines.append(("provenance", ", ".join(provenance)))
    if record.get("epoch") is not None or record.get("best_miou") is not None:
        best = record.get("best_miou")
        lines.append(("training", f"epoch {record.get('epoch')}, best val mIoU "
                                  + (f"{100 * best:.1f} %" if isinstance(best, (int, float)) else "unknown")))
    elif meta.training:
        lines.append(("training", ", ".join(f"{k} {v}" for k, v in list(meta.training.items())[:6])))
    sidecar = record.get("sidecar")
    if sidecar:
        gpu = sidecar.get("gpu") or {}
        gpu_text = f", GPU {gpu.get('name')} (sm {gpu.get('compute_capability')})" if gpu else ""
        lines.append(("built", f"target {sidecar.get('target')}, {sidecar.get('runtime')} {sidecar.get('runtime_version')}"
                               f"{gpu_text}, at {sidecar.get('built_at', 'unknown')} in {sidecar.get('build_seconds', '?')} s"))
        source = sidecar.get("source_onnx") or {}
        lines.append(("built from", f"{source.get('path')} (sha256 {_short(source.get('sha256'))}), key {_short(sidecar.get('key'))}"))
        options = sidecar.get("build_options") or {}
        if options:
            lines.append(("build options", ", ".join(f"{k} {v}" for k, v in options.items() if v not in (None, {}, []))))
    width = max(len(name) for name, _ in lines)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in lines) + "\n(all fields: edgeseg info --json)"


def run_info(args: argparse.Namespace, read_checkpoint: CheckpointReader | None = None) -> int:
    """Handler of ``edgeseg info``; ``read_checkpoint`` reads a ``.pt`` (the command line passes one)."""
    record = info_record(args.artifact, read_checkpoint=read_checkpoint)
    if getattr(args, "json", False):
        print(json.dumps(record, indent=2, default=str))
    else:
        print(format_summary(record))
    return 0


__all__ = ["format_summary", "info_record", "run_info"]
