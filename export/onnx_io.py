"""Reading, checking and writing edgeseg ONNX files (needs ``onnx``).

Every failure is an :class:`~edgeseg.errors.EdgesegError` naming the file and
what to do; every write goes through :mod:`edgeseg.atomic`, so a failed stage
never leaves a file under the final name.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata as importlib_metadata
from pathlib import Path

from edgeseg import __version__
from edgeseg.atomic import atomic_path
from edgeseg.errors import EdgesegError, require
from edgeseg.metadata import ONNX_METADATA_KEY, ModelMetadata

log = logging.getLogger("edgeseg.export")


def tool_versions(*packages: str) -> dict[str, str]:
    """``{"edgeseg": ..., package: version}`` for the installed ``packages``."""
    versions = {"edgeseg": __version__}
    for name in packages:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def load_onnx(path: str | os.PathLike):
    """An ``onnx.ModelProto`` from ``path``, with clear errors for missing, empty or non-ONNX files."""
    onnx = require("onnx", "export")
    path = Path(path)
    if not path.is_file():
        raise EdgesegError(f"ONNX file {path} does not exist")
    if path.stat().st_size == 0:
        raise EdgesegError(f"ONNX file {path} is empty (0 bytes); re-export it with 'edgeseg export'")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf DecodeError and others
        raise EdgesegError(
            f"{path} is not an ONNX model ({type(exc).__name__}: {str(exc)[:200]}); "
            "pass a file written by 'edgeseg export'"
        ) from None
    if not model.graph.node:
        raise EdgesegError(f"{path} is not an ONNX model (no graph nodes); pass a file written by 'edgeseg export'")
    dedupe_opset_imports(model, str(path))
    return model


def dedupe_opset_imports(model, source: str) -> None:
    """One opset import per domain: a domain listed twice with one version is merged, with two versions refused.

    Some tools write the default domain twice (``""`` and ``"ai.onnx"``, or ``""``
    twice); onnxruntime's quantizer then finds no "proper ai.onnx domain" and fails.
    """
    versions: dict[str, set[int]] = {}
    for opset in model.opset_import:
        domain = "" if opset.domain in ("", "ai.onnx") else opset.domain
        versions.setdefault(domain, set()).add(opset.version)
    if len(versions) == len(model.opset_import):
        return
    clash = {d or "ai.onnx": sorted(v) for d, v in versions.items() if len(v) > 1}
    if clash:
        raise EdgesegError(f"{source} imports the same opset domain with different versions {clash}; "
                           "re-export it with one opset (edgeseg export --opset N)")
    log.warning("%s lists an opset domain more than once; merged to one import each", source)
    merged = [(d, v.pop()) for d, v in versions.items()]
    del model.opset_import[:]
    for domain, version in merged:
        entry = model.opset_import.add()
        entry.domain, entry.version = domain, version


def read_metadata(model, source: str) -> ModelMetadata:
    """The edgeseg metadata of an ``onnx.ModelProto``."""
    props = {p.key: p.value for p in model.metadata_props}
    if ONNX_METADATA_KEY not in props:
        raise EdgesegError(
            f"{source} has no edgeseg metadata (metadata_props key '{ONNX_METADATA_KEY}'); "
            "export the model with 'edgeseg export', or for a model of your own: "
            f"edgeseg import {source} -o model.onnx --classes classes.txt (docs/own_model.md)"
        )
    return ModelMetadata.from_json(props[ONNX_METADATA_KEY], source=source)


def set_metadata(model, meta: ModelMetadata) -> None:
    """Store ``meta`` as JSON under :data:`ONNX_METADATA_KEY`, replacing any earlier value."""
    meta.validate("metadata to write")
    kept = [(p.key, p.value) for p in model.metadata_props if p.key != ONNX_METADATA_KEY]
    del model.metadata_props[:]
    for key, value in [*kept, (ONNX_METADATA_KEY, meta.to_json())]:
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value


def check_model(model, source: str) -> None:
    """``onnx.checker`` with ``full_check`` (types and shapes too); raise a clear error on failure."""
    onnx = require("onnx", "export")
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # ValidationError, InferenceError
        raise EdgesegError(f"{source}: the ONNX graph fails onnx.checker ({str(exc).splitlines()[0][:300]})") from None


def save_onnx(model, path: str | os.PathLike) -> None:
    """Write ``model`` to ``path`` atomically (temporary file, then rename)."""
    onnx = require("onnx", "export")
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))


def output_names(model) -> list[str]:
    return [o.name for o in model.graph.output]


def drop_output(model, name: str) -> None:
    """Remove graph output ``name`` (its producer stays if something else consumes it)."""
    kept = [o for o in model.graph.output if o.name != name]
    del model.graph.output[:]
    model.graph.output.extend(kept)
