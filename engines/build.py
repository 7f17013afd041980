"""``edgeseg build MODEL.onnx --target NAME``: one artifact per target, cached and versioned.

- TensorRT targets: parse the ONNX (its precision is already decided), check
  every node is supported before building, set the target's options, build
  the serialized engine with the shared timing cache, write
  ``STEM.TARGET.engine`` and its sidecar.
- The ``cpu`` target: onnxruntime applies its graph optimisations and saves
  the optimised model as ``STEM.cpu.onnx`` with the same kind of sidecar.

Both are skipped when an artifact with the same build key already exists
(see :mod:`.cache`). Nothing is written before every check has passed, and
every file is written atomically, so a failed build leaves nothing behind.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from edgeseg import __version__
from edgeseg.atomic import atomic_path, atomic_write_bytes
from edgeseg.cuda_rt import GpuInfo, query_gpu
from edgeseg.errors import EdgesegError, require
from edgeseg.metadata import ModelMetadata
from edgeseg.sidecar import SIDECAR_SCHEMA, sidecar_path, write_sidecar
from edgeseg.trt_version import TrtVersion, trt_version

from . import trt_compat as compat
from .cache import (
    artifact_lock,
    build_key,
    cached_build,
    key_fields,
    merge_timing_cache,
    read_timing_cache,
    sha256_bytes,
    sha256_file,
    timing_cache_path,
)
from .contract_check import check_semantic_contract
from .op_compat import check_build_ops
from .targets import Target

log = logging.getLogger("edgeseg.engines")


@dataclass
class OnnxFacts:
    """What the builder needs to know about an ONNX file.

    ``inputs``/``outputs``: name -> (ONNX element type name, shape with None for dynamic dims).
    ``nodes``: (name, op_type) of the graph's nodes in order (empty when ``onnx`` is not installed).
    ``uint8_casts_from_int``: Cast-to-uint8 nodes whose input comes from an integer op (ArgMax).
    ``uint8_not_via_cast``: nodes that read a uint8 network input, or write a uint8 network
    output, without being a Cast (TensorRT accepts uint8 I/O only straight into/out of a cast).
    """

    path: Path
    data: bytes
    sha256: str
    metadata: ModelMetadata
    inputs: dict[str, tuple[str, list[int | None]]]
    outputs: dict[str, tuple[str, list[int | None]]]
    nodes: list[tuple[str, str]] = field(default_factory=list)
    uint8_casts_from_int: list[str] = field(default_factory=list)
    uint8_not_via_cast: list[str] = field(default_factory=list)


def _dims(dims: Any) -> list[int | None]:
    return [d.dim_value if d.HasField("dim_value") else None for d in dims]


def read_onnx(path: str | Path) -> OnnxFacts:
    """Read an edgeseg ONNX: bytes, hash, metadata, I/O, nodes (errors name the file and the fix)."""
    from edgeseg.artifacts import read_artifact_metadata

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise EdgesegError(f"{path}: 'edgeseg build' takes an ONNX file (.onnx), made by 'edgeseg export'")
    kind, metadata, _ = read_artifact_metadata(path)
    data = path.read_bytes()
    try:
        import onnx
        from onnx import TensorProto
    except ImportError:  # a Jetson may lack onnx: take I/O from onnxruntime, no node names
        from edgeseg.ort_session import open_session

        session = open_session(path)
        io_in = {i.name: (i.type, [d if isinstance(d, int) else None for d in i.shape]) for i in session.get_inputs()}
        io_out = {o.name: (o.type, [d if isinstance(d, int) else None for d in o.shape]) for o in session.get_outputs()}
        return OnnxFacts(path, data, sha256_bytes(data), metadata, io_in, io_out)
    model = onnx.load_from_string(data)
    graph = model.graph
    initializers = {i.name for i in graph.initializer}

    def type_name(value: Any) -> str:
        return str(TensorProto.DataType.Name(value.type.tensor_type.elem_type)).lower()

    inputs = {v.name: (type_name(v), _dims(v.type.tensor_type.shape.dim)) for v in graph.input if v.name not in initializers}
    outputs = {v.name: (type_name(v), _dims(v.type.tensor_type.shape.dim)) for v in graph.output}
    nodes = [(n.name or f"{n.op_type}_{i}", n.op_type) for i, n in enumerate(graph.node)]
    producers = {out: n.op_type for n in graph.node for out in n.output}
    int_producers = {"ArgMax", "ArgMin", "Shape", "NonZero", "TopK"}
    casts = [n.name or f"Cast_{i}" for i, n in enumerate(graph.node)
             if n.op_type == "Cast" and any(a.name == "to" and a.i == TensorProto.UINT8 for a in n.attribute)
             and producers.get(n.input[0]) in int_producers]
    u8_in = {name for name, (t, _) in inputs.items() if t == "uint8"}
    u8_out = {name for name, (t, _) in outputs.items() if t == "uint8"}
    not_cast = [f"{nodes[i][0]} ({n.op_type})" for i, n in enumerate(graph.node) if n.op_type != "Cast"
                and (u8_in & set(n.input) or u8_out & set(n.output))]
    return OnnxFacts(path, data, sha256_bytes(data), metadata, inputs, outputs, nodes, casts, not_cast)


def profile_shapes(facts: OnnxFacts, target: Target) -> dict[str, dict[str, list[int]]]:
    """min/opt/max shape of each input: fixed dims as in the ONNX, dynamic ones from the target.

    A dynamic batch gets min 1, opt and max the target's batch; a dynamic H or
    W the target's input size (NHWC ``image`` input).
    """
    shapes = {}
    for name, (_, dims) in facts.inputs.items():
        lo, hi = [], []
        for axis, d in enumerate(dims):
            if d is not None:
                lo.append(d)
                hi.append(d)
            elif axis == 0:
                lo.append(1)
                hi.append(target.batch)
            else:
                fill = {1: target.input_height, 2: target.input_width}.get(axis)
                if fill is None:
                    raise EdgesegError(f"{facts.path}: input {name} axis {axis} is dynamic; only batch, height and width may be")
                lo.append(fill)
                hi.append(fill)
        shapes[name] = {"min": lo, "opt": hi, "max": hi}
    return shapes


def artifact_path(onnx_path: Path, target: Target, out_dir: Path | None) -> Path:
    """``OUT/STEM.TARGET.engine`` (TensorRT) or ``OUT/STEM.TARGET.onnx`` (cpu); OUT defaults to the ONNX's folder."""
    stem = onnx_path.name[: -len(".onnx")]
    suffix = ".engine" if target.is_tensorrt else ".onnx"
    return (out_dir or onnx_path.parent) / f"{stem}.{target.name}{suffix}"


@dataclass
class BuildResult:
    artifact: Path
    sidecar: Path
    skipped: bool
    seconds: float
    key: str


def _sidecar(facts: OnnxFacts, target: Target, *, runtime: str, runtime_version: str, gpu: GpuInfo | None,
             options: dict[str, Any], fields: dict[str, Any], key: str, artifact: Path, seconds: float,
             extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_version": SIDECAR_SCHEMA,
        "kind": "engine" if runtime == "tensorrt" else "optimized_onnx",
        "target": target.name,
        "target_description": target.description,
        "source_onnx": {"path": str(facts.path), "sha256": facts.sha256},
        "metadata": facts.metadata.to_dict(),
        "runtime": runtime,
        "runtime_version": runtime_version,
        "gpu": gpu.to_dict() if gpu else None,
        "build_options": options,
        "io": {"inputs": facts.inputs, "outputs": facts.outputs},
        "build_seconds": round(seconds, 3),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine_sha256": sha256_file(artifact),
        "key": key,
        "key_fields": fields,
        "edgeseg_version": __version__,
        **extra,
    }


def _write_with_sidecar(artifact: Path, write: Callable[[Path], None], sidecar: Callable[[], dict[str, Any]]) -> Path:
    """Write the artifact (atomically through ``write(tmp)``), then its sidecar; no artifact without a sidecar."""
    with atomic_path(artifact, make_parents=True) as tmp:
        write(tmp)
    try:
        return write_sidecar(artifact, sidecar())
    except BaseException:
        artifact.unlink(missing_ok=True)
        raise


# -- cpu target -----------------------------------------------------------------------------

def build_cpu(facts: OnnxFacts, target: Target, out_dir: Path | None = None, *, force: bool = False) -> BuildResult:
    """Save onnxruntime's optimised form of the ONNX with a sidecar (the ``cpu`` target)."""
    ort = require("onnxruntime", None)
    artifact = artifact_path(facts.path, target, out_dir)
    options = {**target.build_options(), "providers": ["CPUExecutionProvider"]}
    shapes = {name: {"shape": dims} for name, (_, dims) in facts.inputs.items()}
    fields = key_fields(onnx_sha256=facts.sha256, runtime="onnxruntime", runtime_version=ort.__version__, gpu=None,
                        precision=facts.metadata.precision, shapes=shapes, options=options)
    key = build_key(fields)
    if not force and cached_build(artifact, key):
        log.info("%s is up to date (same build key); skipping the build", artifact)
        return BuildResult(artifact, sidecar_path(artifact), True, 0.0, key)
    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
              "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}
    started = time.perf_counter()

    def write(tmp: Path) -> None:
        so = ort.SessionOptions()
        so.graph_optimization_level = levels[target.ort_optimization]
        so.optimized_model_filepath = str(tmp)
        so.log_severity_level = 3
        try:
            ort.InferenceSession(str(facts.path), sess_options=so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime's own exception types
            raise EdgesegError(f"onnxruntime cannot load {facts.path} ({str(exc).splitlines()[0][:300]})") from None

    def sidecar() -> dict[str, Any]:
        return _sidecar(facts, target, runtime="onnxruntime", runtime_version=ort.__version__, gpu=None,
                        options=options, fields=fields, key=key, artifact=artifact,
                        seconds=time.perf_counter() - started, extra={})

    side = _write_with_sidecar(artifact, write, sidecar)
    return BuildResult(artifact, side, False, time.perf_counter() - started, key)


# -- TensorRT targets --------------------------------------------------------------------------

def check_uint8_casts(facts: OnnxFacts, version: TrtVersion) -> tuple[bytes, str]:
    """uint8 I/O rules TensorRT enforces late or cryptically; returns (the ONNX to build, labels dtype).

    Every version: a uint8 network input may feed only Cast layers, and a uint8
    output must come straight from one (else an error naming the node and the
    fix). 8.x has no integer -> uint8 cast at all: there the ONNX is rebuilt in
    memory with int32 labels (:mod:`.labels_int32`), which 8.x builds.
    """
    if facts.uint8_not_via_cast:
        raise EdgesegError(
            f"{facts.path}: TensorRT takes uint8 network inputs/outputs only straight into/out of a Cast, but "
            f"{', '.join(facts.uint8_not_via_cast)} reads or writes one directly; re-export with the Cast "
            "to float first (edgeseg export does this) and the Cast to uint8 last"
        )
    labels_type = (facts.outputs.get("labels") or ("", []))[0]
    if not facts.nodes and "uint8" in labels_type and not compat.int_to_uint8_casts_supported(version):
        raise EdgesegError(f"{facts.path}: TensorRT {version} cannot build uint8 labels straight from ArgMax, and "
                           "without the onnx package edgeseg cannot rewrite them as int32: pip install onnx")
    if facts.uint8_casts_from_int and not compat.int_to_uint8_casts_supported(version):
        from .labels_int32 import int32_labels

        log.info("TensorRT %s cannot cast ArgMax's indices to uint8 (%s): building with int32 labels",
                 version, ", ".join(facts.uint8_casts_from_int))
        return int32_labels(facts.data, facts.uint8_casts_from_int, str(facts.path)), "int32"
    labels = facts.outputs.get("labels")
    return facts.data, labels[0] if labels else "none"


def engine_bytes_from_onnx(facts: OnnxFacts, target: Target, version: TrtVersion,
                           shapes: dict[str, dict[str, list[int]]], *, use_dla: bool,
                           timing_cache: Path, model: bytes | None = None) -> tuple[bytes, dict[str, Any]]:
    """Build the serialized engine of ``model`` (default: the ONNX's bytes); returns (plan bytes, what was asked).

    Raises EdgesegError naming the unsupported ONNX nodes before any build starts.
    """
    import tensorrt as trt

    data = facts.data if model is None else model
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = compat.network_flags(version)
    # The support check may fill its network: run it on a throwaway network and parser. The parser keeps
    # only the logger alive (TensorRT 8.6+), so the network is held here for as long as the parser is used.
    check_network = builder.create_network(flags)
    check_parser = trt.OnnxParser(check_network, logger)
    bad = compat.unsupported_nodes(check_parser, data, str(facts.path), version, facts.nodes)
    del check_parser, check_network  # parser first: it points into the network
    if bad:
        listing = "\n  ".join(str(b) for b in bad)
        raise EdgesegError(
            f"TensorRT {version} cannot build {len(bad)} node(s) of {facts.path}:\n  {listing}\n"
            "re-export without these ops (e.g. ENet/SegNet MaxUnpool: use the mask-unpooling export), or pick another architecture"
        )
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(data, str(facts.path)):
        errors = "\n  ".join(compat.parser_errors(parser, version, facts.nodes)) or "(no detail)"
        raise EdgesegError(f"TensorRT {version} could not parse {facts.path}:\n  {errors}")
    config = builder.create_builder_config()
    compat.set_workspace(config, target.workspace_mib << 20)
    level_set = compat.set_optimization_level(config, version, target.builder_optimization_level)
    precision_flags = compat.precision_flags(config, version, facts.metadata.precision)
    dla = use_dla and target.dla_core is not None
    if dla and target.dla_core is not None:  # dla_refusal has found nothing against it (build_tensorrt)
        compat.set_dla(config, target.dla_core, target.gpu_fallback)
    dla_layers = None
    if dla:
        on_dla, total = compat.dla_layer_count(config, network)
        dla_layers = {"dla": on_dla, "gpu": total - on_dla}
        if on_dla == 0:
            raise EdgesegError(f"DLA core {target.dla_core} can run none of the {total} layers of {facts.path}; "
                               "build with --no-dla to run it on the GPU")
        if on_dla < total:
            log.warning("DLA core %s runs %d of %d layers of %s; the other %d fall back to the GPU",
                        target.dla_core, on_dla, total, facts.path, total - on_dla)
    profile = builder.create_optimization_profile()
    for name, s in shapes.items():
        profile.set_shape(name, trt.Dims(s["min"]), trt.Dims(s["opt"]), trt.Dims(s["max"]))
    config.add_optimization_profile(profile)
    cache_state = compat.attach_timing_cache(config, read_timing_cache(timing_cache), str(timing_cache))
    log.info("building %s for %s with TensorRT %s (workspace %d MiB, opt level %d, precision flags %s, DLA %s)",
             facts.path, target.name, version, target.workspace_mib, target.builder_optimization_level,
             precision_flags or "none (strongly typed)", target.dla_core if dla else "off")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgesegError(f"TensorRT {version} failed to build {facts.path} for {target.name}; see the TensorRT messages above")
    cache_bytes = merge_timing_cache(timing_cache, config, config.get_timing_cache(), replace=cache_state == "rejected")
    asked = {
        "strongly_typed": version.strongly_typed,
        "precision_flags": precision_flags,
        "workspace_bytes": target.workspace_mib << 20,
        "builder_optimization_level": target.builder_optimization_level if level_set else None,
        "dla_core": target.dla_core if dla else None,
        "gpu_fallback": target.gpu_fallback if dla else None,
        "dla_layers": dla_layers,
        "timing_cache": {"path": str(timing_cache), "bytes": cache_bytes, "state": cache_state},
    }
    return bytes(serialized), asked


def check_jetson_module(gpu: GpuInfo, target: Target) -> None:
    """Refuse to build a Jetson target on another Jetson module with the same GPU name and compute capability."""
    if not (gpu.integrated and target.jetson_models):
        return
    from .detect import match_jetson
    from .jetson import module_from_gpu, read_facts

    module, why = module_from_gpu(gpu, read_facts().dla_devices)
    if module is None:
        return
    candidates = [module]
    if module in ("Jetson Orin Nano 8GB", "Jetson Orin NX 8GB"):  # the same GPU: only the DLA tells them apart
        candidates = ["Jetson Orin Nano 8GB", "Jetson Orin NX 8GB"]
    if all(match_jetson(c, {target.name: target}) is None for c in candidates):
        raise EdgesegError(f"this machine is a {module} ({why}), not a {target.name}: an engine is tuned for the "
                           "module it is built on; build on the target device, or use --target auto")


def build_tensorrt(facts: OnnxFacts, target: Target, out_dir: Path | None = None, *, force: bool = False,
                   use_dla: bool = True, gpu_probe: Callable[[], GpuInfo] = query_gpu,
                   timing_cache_dir: Path | None = None) -> BuildResult:
    """Build ``facts`` for a TensorRT ``target`` on this machine (see module docstring)."""
    compat.import_tensorrt(target.name)
    version = trt_version()
    if not target.supports_tensorrt(version.major):
        lo, hi = target.tensorrt_major or (0, 0)
        raise EdgesegError(f"target {target.name} ships TensorRT {lo}-{hi}.x, but this machine has TensorRT {version}; "
                           "build on the target device (or one with the same GPU and TensorRT version)")
    gpu = gpu_probe()
    if gpu.compute_capability not in target.compute_capability:
        raise EdgesegError(
            f"this machine's GPU {gpu.name} (compute capability {gpu.compute_capability}) is not a {target.name} "
            f"(compute capability {', '.join(target.compute_capability)}); engines are built on the target device "
            "or one with the same GPU and TensorRT version. Use --target auto to build for this machine"
        )
    check_jetson_module(gpu, target)
    model, labels_dtype = check_uint8_casts(facts, version)
    check_build_ops(facts.data, (version.major, version.minor), str(facts.path))
    dla_skipped = compat.dla_refusal(facts.metadata.precision, version) if use_dla and target.dla_core is not None else None
    if dla_skipped:  # building "for DLA" would silently run every layer on the GPU: build for the GPU, and say so
        log.warning("%s: not using DLA core %d of %s: %s; the engine runs on the GPU", facts.path, target.dla_core,
                    target.name, dla_skipped)
        use_dla = False
    shapes = profile_shapes(facts, target)
    options = {**target.build_options(), "dla_core": target.dla_core if use_dla else None,
               "labels_dtype": labels_dtype}
    fields = key_fields(onnx_sha256=facts.sha256, runtime="tensorrt", runtime_version=version.text, gpu=gpu.to_dict(),
                        precision=facts.metadata.precision, shapes=shapes, options=options)
    key = build_key(fields)
    artifact = artifact_path(facts.path, target, out_dir)
    if not force and cached_build(artifact, key):
        log.info("%s is up to date (same build key); skipping the build", artifact)
        return BuildResult(artifact, sidecar_path(artifact), True, 0.0, key)
    started = time.perf_counter()
    plan, asked = engine_bytes_from_onnx(facts, target, version, shapes, use_dla=use_dla, model=model,
                                         timing_cache=timing_cache_path(target.name, version.text, timing_cache_dir))
    seconds = time.perf_counter() - started

    def sidecar() -> dict[str, Any]:
        return _sidecar(facts, target, runtime="tensorrt", runtime_version=version.text, gpu=gpu,
                        options={**options, "shapes": shapes, **asked}, fields=fields, key=key, artifact=artifact,
                        seconds=seconds, extra={"cuda_graphs": target.cuda_graphs, "dla_skipped": dla_skipped})

    side = _write_with_sidecar(artifact, lambda tmp: atomic_write_bytes(tmp, plan), sidecar)
    return BuildResult(artifact, side, False, seconds, key)


def build(onnx_path: str | Path, target: Target, out_dir: str | Path | None = None, **kwargs: Any) -> BuildResult:
    """Build ``onnx_path`` for ``target`` (TensorRT engine or cpu-optimised ONNX)."""
    onnx_path = Path(onnx_path)
    out = Path(out_dir) if out_dir is not None else None
    if target.is_tensorrt:
        compat.import_tensorrt(target.name)  # before reading anything: the most useful message first
    facts = read_onnx(onnx_path)
    check_semantic_contract(facts.path, facts.metadata, facts.inputs, facts.outputs)
    # One build of an artifact at a time: a second build of the same output waits, then finds it up to date.
    # Without this, two TensorRT builds (whose plans differ run to run) could leave one's engine beside the
    # other's sidecar, an artifact that check_artifact then refuses.
    if not target.is_tensorrt:
        return build_cpu_target(facts, target, out, **kwargs)
    with artifact_lock(artifact_path(facts.path, target, out)):
        return build_tensorrt(facts, target, out, **kwargs)


def build_cpu_target(facts: OnnxFacts, target: Target, out: Path | None, *, backend: str = "auto",
                     force: bool = False, **kwargs: Any) -> BuildResult:
    """The cpu target: OpenVINO where installed (``backend`` auto or openvino), else onnxruntime.

    kwargs for OpenVINO: ``threads``, ``int8``, ``eval_data``, ``split``, ``eval_limit``
    (see :func:`.cpu_openvino.build_cpu_openvino`); onnxruntime takes none of them.
    """
    from .cpu_openvino import artifact_path_openvino, build_cpu_openvino, openvino_available

    kwargs.pop("use_dla", None)
    if backend not in ("auto", "openvino", "onnxruntime"):
        raise EdgesegError(f"--backend {backend!r} does not build the cpu target; choose auto, openvino or onnxruntime")
    if backend == "openvino" or (backend == "auto" and openvino_available()):
        with artifact_lock(artifact_path_openvino(facts.path, target, out)):
            return build_cpu_openvino(facts, target, out, force=force, **kwargs)
    if backend == "auto":
        log.info("openvino is not installed: building the cpu target with onnxruntime "
                 "(pip install 'edgeseg[openvino]' for the faster OpenVINO build)")
    asked = sorted(k for k, v in kwargs.items() if v not in (None, 0, [], "val"))
    if asked:
        log.warning("the onnxruntime cpu build ignores %s (they choose OpenVINO's precision)", ", ".join(asked))
    with artifact_lock(artifact_path(facts.path, target, out)):
        return build_cpu(facts, target, out, force=force)


def run_build(args: argparse.Namespace) -> int:
    """Handler of ``edgeseg build``."""
    from .detect import resolve_target

    target = resolve_target(args.target)
    if target.is_tensorrt:
        extra: dict[str, Any] = {"use_dla": not args.no_dla}
    else:
        extra = {"backend": getattr(args, "backend", "auto"), "threads": getattr(args, "threads", 0),
                 "int8": getattr(args, "int8", None) or [], "eval_data": getattr(args, "eval_data", None),
                 "split": getattr(args, "split", "val"), "eval_limit": getattr(args, "eval_limit", 0)}
    result = build(args.onnx, target, args.out, force=args.force, **extra)
    if result.skipped:
        print(f"{result.artifact} is up to date (build key {result.key[:12]}); nothing to do (--force rebuilds)")
    else:
        print(f"wrote {result.artifact} and {result.sidecar} in {result.seconds:.1f} s")
    print(f"next: edgeseg eval {result.artifact} --data DATA   or   edgeseg run {result.artifact} --source SRC --sink SINK")
    return 0
