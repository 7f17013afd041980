"""Every TensorRT version difference edgeseg cares about, in one place.

Supported: TensorRT 8.5/8.6 (JetPack 5.1, 6.0), 10.x (JetPack 6.1+, 7.0/7.1,
PyPI) and 11.x (JetPack 7.2.2+, PyPI). The rest of the code calls these
functions and never branches on the version itself.

What differs (the names marked "11: removed" exist in the TensorRT 10 stubs
that mypy checks this module against, and are reached only behind
``major < 10``; a test runs the builder on a fake module shaped like 11,
which lacks them, to prove it):

- Precision. 10 and 11 build *strongly typed* networks: the ONNX decides
  every tensor's type (FP16 casts, INT8 Q/DQ), so no precision flag is set.
  8.x has no strong typing; a Q/DQ or FP16 model needs ``BuilderFlag.INT8`` /
  ``BuilderFlag.FP16`` (11: removed) so the builder may pick those kernels.
- Network flags. 8.x needs ``EXPLICIT_BATCH`` (11: removed; 10: ignored);
  10/11 take ``STRONGLY_TYPED`` (11: accepted, always on).
- Support check. ``OnnxParser.supports_model`` (8.x, 10.0; 11: removed) returns the
  subgraphs; ``supports_model_v2`` (10.1+; absent from 10.0) is queried with
  ``num_subgraphs``/``is_subgraph_supported``/``get_subgraph_nodes`` (also 10.1+).
  ``ParserError.node_name`` exists from 10 on; 8.x gives only ``node()``.
- Parser lifetime: ``OnnxParser(network, logger)`` keeps only the logger
  alive (8.6 on); the caller must hold the network for as long as the parser is used.

Call sites reached only on some versions carry a ``# trt: <clause>`` comment
(``# trt: 8``, ``# trt: <10.1``); ``tests/engines/test_trt_api_surface.py``
checks every TensorRT name used against the real API list of each version
the targets claim (extracted from the bindings wheels by
``scripts/trt_api_surface.py``).
- ``builder_optimization_level`` exists from 8.6 on (not in 8.5).
- ``ICudaEngine.device_memory_size`` (11: removed) vs ``device_memory_size_v2`` (10.1+; not in 10.0).
- uint8 network I/O (edgeseg's ``image`` input and ``labels`` output): see
  :data:`UINT8_IO`. 8.5/8.6 accept uint8 inputs and outputs but convert uint8
  only to/from float32/float16, so ``ArgMax (int) -> Cast(uint8)`` does not
  build there; 10+ cast between all types (``ICastLayer``). For 8.x the
  export's nearest form is int32 ``labels`` (or a float hop before the uint8
  cast); the TensorRT backend accepts int32 labels and narrows them on the host.
  On every version, a uint8 network input may feed only a Cast (not even a
  Transpose) and a uint8 output must come straight from one; the builder
  checks both before building (TensorRT's own error comes late and cryptic).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from edgeseg.errors import EdgesegError, MissingDependencyError
from edgeseg.trt_version import TrtVersion

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger("edgeseg.engines")

UINT8_IO = {
    8: "uint8 network inputs/outputs accepted (8.5+), converted only to/from float32/float16; "
       "int32 -> uint8 casts (ArgMax labels) are not supported",
    10: "uint8 inputs/outputs accepted; ICastLayer converts between all types except FP8",
    11: "uint8 inputs/outputs accepted; ICastLayer converts between all types except FP8",
}


def missing_tensorrt_message(target: str, detail: str = "") -> str:
    return (
        f"TensorRT is not installed here{detail}, and TensorRT engines are built on the target device "
        f"(a {target}) or on a machine with the same GPU and TensorRT version, because an engine runs only "
        "on the GPU and TensorRT version it was built with. On a Jetson, TensorRT's Python bindings come with "
        "JetPack (apt install python3-libnvinfer); on a desktop GPU: pip install tensorrt (plus "
        "pip install 'edgeseg[trt]' for cuda-python). To build for this machine's CPU instead: --target cpu"
    )


def import_tensorrt(target: str) -> Any:
    """The ``tensorrt`` module, or a :class:`MissingDependencyError` explaining where engines are built."""
    try:
        import tensorrt
    except ImportError:
        raise MissingDependencyError(missing_tensorrt_message(target)) from None
    # tensorrt-stubs installs a bare tensorrt/ folder of .pyi files, which Python
    # imports as an empty namespace package: that is not TensorRT either.
    if not hasattr(tensorrt, "Builder"):
        raise MissingDependencyError(missing_tensorrt_message(target, " (only its type stubs are)"))
    return tensorrt


def network_flags(version: TrtVersion) -> int:
    """``create_network`` flags: STRONGLY_TYPED on 10/11, EXPLICIT_BATCH on 8.x."""
    import tensorrt as trt

    if version.strongly_typed:
        return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)  # trt: >=10
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)  # trt: 8


def precision_flags(config: trt.IBuilderConfig, version: TrtVersion, precision: str) -> list[str]:
    """Set the builder precision flags TensorRT 8.x needs for the ONNX's precision; none on 10/11.

    Returns the names of the flags set (for the sidecar and the logs).
    """
    if version.strongly_typed:
        return []  # the ONNX's types decide; FP16/INT8 flags are deprecated in 10, removed in 11
    import tensorrt as trt

    names: list[str] = []
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # trt: 8
        names.append("FP16")
    if precision == "int8":
        # Explicit quantization: Q/DQ nodes carry the scales, so no calibrator.
        config.set_flag(trt.BuilderFlag.INT8)  # trt: 8
        names.append("INT8")
    return names


def set_workspace(config: trt.IBuilderConfig, nbytes: int) -> None:
    import tensorrt as trt

    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, nbytes)


def set_optimization_level(config: trt.IBuilderConfig, version: TrtVersion, level: int) -> bool:
    """Set ``builder_optimization_level`` where it exists (8.6+); False where skipped."""
    if version.major == 8 and version.minor < 6:
        log.warning("TensorRT %s has no builder optimisation level; ignoring level %d", version, level)
        return False
    config.builder_optimization_level = level
    return True


def set_dla(config: trt.IBuilderConfig, core: int, gpu_fallback: bool) -> None:
    """Run layers on DLA ``core`` by default; with ``gpu_fallback`` the rest runs on the GPU."""
    import tensorrt as trt

    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = core
    if gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def dla_refusal(precision: str, version: TrtVersion) -> str | None:
    """Why DLA would run none of this model (so the build must not claim DLA), or None when it can.

    DLA runs FP16 and INT8 layers only, so an FP32 model with GPU fallback runs
    wholly on the GPU; and TensorRT 8.x DLA takes INT8 only from calibration or
    set dynamic ranges, not from explicit Q/DQ nodes (what ``edgeseg quantize``
    writes), so such a model would fall back to the GPU too.
    """
    if precision == "fp32":
        return "DLA runs only FP16 and INT8 layers, and this model is FP32 (make an FP16 model for the DLA)"
    if precision == "int8" and version.major == 8:
        return (f"TensorRT {version}'s DLA takes INT8 only from calibration, not from the explicit Q/DQ nodes of "
                "this model (use the FP16 model for the DLA)")
    return None


def dla_layer_count(config: trt.IBuilderConfig, network: trt.INetworkDefinition) -> tuple[int, int]:
    """(layers DLA can run, all layers) of the parsed ``network`` under ``config``'s DLA settings."""
    total = int(network.num_layers)
    on_dla = sum(1 for i in range(total) if config.can_run_on_DLA(network.get_layer(i)))
    return on_dla, total


def attach_timing_cache(config: trt.IBuilderConfig, data: bytes, path: str) -> str:
    """Give the builder the timing cache ``data``; returns "loaded", "new", or "rejected".

    ``set_timing_cache`` returns False for a cache TensorRT does not accept (from
    another device or version, ``ignore_mismatch`` being False): then the build
    starts from an empty cache, said in the log and the sidecar, and the file is
    replaced by this build's cache afterwards.
    """
    if config.set_timing_cache(config.create_timing_cache(data), False):
        return "loaded" if data else "new"
    log.warning("TensorRT did not accept the timing cache %s (another device or TensorRT version); "
                "building with an empty one, which then replaces it", path)
    if not config.set_timing_cache(config.create_timing_cache(b""), False):
        raise EdgesegError(f"TensorRT refused even an empty timing cache (after rejecting {path})")
    return "rejected"


@dataclass(frozen=True)
class UnsupportedNode:
    """An ONNX node TensorRT cannot build: index in the graph, name, op type, reason."""

    index: int
    name: str
    op_type: str
    reason: str

    def __str__(self) -> str:
        return f"node #{self.index} '{self.name}' ({self.op_type}): {self.reason}"


def _describe_node(index: int, nodes: list[tuple[str, str]]) -> tuple[str, str]:
    if 0 <= index < len(nodes):
        return nodes[index]
    return (f"#{index}", "?")


def unsupported_nodes(parser: trt.OnnxParser, model: bytes, path: str, version: TrtVersion,
                      nodes: list[tuple[str, str]]) -> list[UnsupportedNode]:
    """The nodes of ``model`` TensorRT reports as unsupported (empty list: all supported).

    Args:
        parser: a fresh ``OnnxParser`` (the check may populate its network).
        model: the serialized ONNX.
        path: its file name (for external weights).
        nodes: (name, op_type) of each graph node in order, to name the nodes TensorRT gives by index.
    """
    found: dict[int, UnsupportedNode] = {}
    if version.has_supports_model_v2:
        supported = parser.supports_model_v2(model, path)  # trt: >=10.1
        if supported:
            return []
        bad_indices: list[int] = []
        for i in range(parser.num_subgraphs):  # trt: >=10.1
            if not parser.is_subgraph_supported(i):  # trt: >=10.1
                bad_indices.extend(int(n) for n in parser.get_subgraph_nodes(i))  # trt: >=10.1
    else:
        supported, subgraphs = parser.supports_model(model, path)  # trt: <10.1 (11: removed)
        if supported:
            return []
        bad_indices = [int(n) for graph_nodes, ok in subgraphs if not ok for n in graph_nodes]
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        index, name, op_type = _error_node(error, version, nodes)
        found[index] = UnsupportedNode(index, name, op_type, error.desc())
    if not found:  # no error detail: name every node of the unsupported subgraphs
        for index in bad_indices:
            name, op_type = _describe_node(index, nodes)
            found[index] = UnsupportedNode(index, name, op_type, "in a subgraph TensorRT does not support")
    return [found[k] for k in sorted(found)]


def _error_node(error: Any, version: TrtVersion, nodes: list[tuple[str, str]]) -> tuple[int, str, str]:
    """(index, name, op type) of the ONNX node a parser error points at; 10+ also give its name."""
    index = int(error.node())
    name, op_type = _describe_node(index, nodes)
    if version.major >= 10 and error.node_name():  # trt: >=10
        name = error.node_name()  # trt: >=10
    return index, name, op_type


def parser_errors(parser: trt.OnnxParser, version: TrtVersion, nodes: list[tuple[str, str]]) -> list[str]:
    """The parser's errors after a failed ``parse``, each naming its ONNX node."""
    messages = []
    for i in range(parser.num_errors):
        error = parser.get_error(i)
        index, name, op_type = _error_node(error, version, nodes)
        messages.append(f"node #{index} '{name}' ({op_type}): {error.desc()}" if index >= 0 else error.desc())
    return messages


def int_to_uint8_casts_supported(version: TrtVersion) -> bool:
    """Whether a Cast from an integer tensor to uint8 builds (10+: yes; 8.x: no, see :data:`UINT8_IO`)."""
    return version.major >= 10


def device_memory_size(engine: trt.ICudaEngine, version: TrtVersion) -> int:
    """Bytes of scratch memory the engine's execution context needs."""
    if (version.major, version.minor) >= (10, 1):
        return int(engine.device_memory_size_v2)  # trt: >=10.1
    return int(engine.device_memory_size)  # trt: <10.1 (11: removed)
