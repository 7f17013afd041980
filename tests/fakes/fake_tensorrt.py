"""FAKE ``tensorrt`` module for tests on machines without TensorRT (every CI machine).

``make_fake_tensorrt("10.3.0")`` returns a module shaped like that TensorRT
version's Python API: its classes and enums have exactly the public names the
REAL bindings of that version define, as far as the fake implements them,
taken from the API lists extracted from the real wheels
(``tests/data/trt_api/*.json``, see ``scripts/trt_api_surface.py``): a name the
real version lacks raises AttributeError here (``supports_model_v2`` on 10.0,
``BuilderFlag.FP16`` on 11, ``ParserError.node_name`` on 8.x...), and only the
properties the real version lets one set can be set.

Where the real objects bite, the fake bites too: ``OnnxParser(network, logger)``
keeps only the logger alive (as the real binding does from 8.6 on), so a parser
whose network was freed raises instead of parsing into freed memory (the real
one crashes); ``IBuilderConfig.set_timing_cache`` returns False for a cache of
another device or version, as the real one does.

It builds nothing real. It records what the builder asks (``fake.calls``:
(name, args...) tuples), parses the ONNX with the ``onnx`` package to learn
the network's I/O, reports nodes whose op type is in ``unsupported_ops`` as
unsupported, refuses an integer -> uint8 Cast on 8.x (as 8.x does), and
serialises a JSON "plan" describing the I/O. Its engine's "inference" writes
the input's first (blue) channel as the labels, through the fake CUDA
runtime's buffers, so a test can check that bytes went in, ran and came out
in the right order.
"""

from __future__ import annotations

import ctypes
import enum
import hashlib
import itertools
import json
import types
import weakref
from typing import Any

import numpy as np
import trt_api

ONNX_TO_TRT = {"uint8": "UINT8", "int32": "INT32", "float": "FLOAT", "float16": "HALF", "int64": "INT64", "int8": "INT8", "bool": "BOOL"}
NP_OF = {"UINT8": np.uint8, "INT32": np.int32}


def _parse_version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def _restrict(cls: type, removed: set[str], version: str, allowed_set: set[str] | None = None) -> type:
    """A subclass of ``cls`` on which the ``removed`` names raise AttributeError (get and set)."""

    def __getattribute__(self, name):
        if name in removed:
            raise AttributeError(f"fake tensorrt {version}: '{cls.__name__}' has no attribute '{name}'")
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if name in removed or (allowed_set is not None and not name.startswith("_") and name not in allowed_set):
            raise AttributeError(f"fake tensorrt {version}: cannot set '{cls.__name__}.{name}'")
        if not name.startswith("_"):
            self._fake.calls.append((name, getattr(value, "name", value)))
        object.__setattr__(self, name, value)

    return type(cls.__name__, (cls,), {"__getattribute__": __getattribute__, "__setattr__": __setattr__})


class _Obj:
    def __init__(self, fake):
        object.__setattr__(self, "_fake", fake)


class FakeParserError:
    def __init__(self, index: int, name: str, op: str, desc: str):
        self._index, self._name, self._op, self._desc = index, name, op, desc

    def node(self) -> int:
        return self._index

    def node_name(self) -> str:
        return self._name

    def node_operator(self) -> str:
        return self._op

    def desc(self) -> str:
        return self._desc

    def code(self) -> int:
        return 8  # UNSUPPORTED_NODE


_NETWORK_SERIALS = itertools.count(1)


class FakeNetwork(_Obj):
    def __init__(self, fake, flags: int):
        super().__init__(fake)
        self._flags = flags
        self._io: dict[str, Any] | None = None
        self._layers: list[str] = []
        self._serial = next(_NETWORK_SERIALS)  # not id(): a freed network's id is reused

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def get_layer(self, index: int):
        return types.SimpleNamespace(type=self._layers[index], name=f"{self._layers[index]}_{index}")

    @property
    def _strongly_typed(self) -> bool:  # the fake's own bookkeeping, not a TensorRT name
        flag = getattr(self._fake.NetworkDefinitionCreationFlag, "STRONGLY_TYPED", None)
        return flag is not None and bool(self._flags & (1 << int(flag)))


class FakeOnnxParser(_Obj):
    """Holds its network by weak reference, as the real parser (8.6+) keeps only the logger alive."""

    def __init__(self, fake, network: FakeNetwork, logger):
        super().__init__(fake)
        self._network_ref = weakref.ref(network)
        self._logger = logger
        self._errors: list[FakeParserError] = []
        self._subgraphs: list[tuple[list[int], bool]] = []
        fake.calls.append(("OnnxParser", network._serial))

    @property
    def _network(self) -> FakeNetwork:
        network = self._network_ref()
        if network is None:  # the real parser would now write into freed memory and crash the process
            raise RuntimeError("fake tensorrt: the parser's network was freed (OnnxParser keeps only the logger "
                               "alive; keep the network referenced while the parser is used)")
        return network

    def _scan(self, model: bytes):
        import onnx

        _ = self._network  # the real support check parses into the network

        graph = onnx.load_from_string(bytes(model)).graph
        bad = [(i, n) for i, n in enumerate(graph.node) if n.op_type in self._fake.unsupported_ops]
        self._errors = [self._fake._ParserError(i, n.name, n.op_type, f"No importer registered for op: {n.op_type}") for i, n in bad]
        good = [i for i in range(len(graph.node)) if i not in {j for j, _ in bad}]
        self._subgraphs = ([(good, True)] if good else []) + [([i], False) for i, _ in bad]
        return graph

    def supports_model(self, model, path=None):
        self._fake.calls.append(("supports_model", path))
        self._scan(model)
        return (not self._errors, [(list(nodes), ok) for nodes, ok in self._subgraphs])

    def supports_model_v2(self, model, path=None):
        self._fake.calls.append(("supports_model_v2", path))
        self._scan(model)
        return not self._errors

    @property
    def num_subgraphs(self) -> int:
        return len(self._subgraphs)

    def is_subgraph_supported(self, index: int) -> bool:
        return self._subgraphs[index][1]

    def get_subgraph_nodes(self, index: int) -> list[int]:
        return list(self._subgraphs[index][0])

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, index: int):
        return self._errors[index]

    def parse(self, model, path=None):
        self._fake.calls.append(("parse", path))
        graph = self._scan(model)
        if self._errors:
            return False
        if self._fake.__version__.startswith("8.") and _int_to_uint8_cast(graph):
            # TensorRT 8.x: "Unsupported cast from INT32 to UINT8" (uint8 only to/from float types)
            node = _int_to_uint8_cast(graph)
            self._errors = [self._fake._ParserError(node[0], node[1], "Cast", "Unsupported cast to UINT8 from INT32")]
            return False
        inits = {i.name for i in graph.initializer}

        def info(v):
            t = v.type.tensor_type
            dtype = ONNX_TO_TRT[onnx_type_name(t.elem_type)]
            return {"dtype": dtype, "shape": [d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim]}

        self._network._layers = [n.op_type for n in graph.node]
        self._network._io = {"inputs": {v.name: info(v) for v in graph.input if v.name not in inits},
                             "outputs": {v.name: info(v) for v in graph.output}}
        return True


def _int_to_uint8_cast(graph) -> tuple[int, str] | None:
    """(index, name) of the first Cast(to=uint8) fed by ArgMax, the cast TensorRT 8.x refuses."""
    from onnx import TensorProto

    producers = {out: n.op_type for n in graph.node for out in n.output}
    for i, n in enumerate(graph.node):
        if n.op_type == "Cast" and producers.get(n.input[0]) == "ArgMax" and \
                any(a.name == "to" and a.i == TensorProto.UINT8 for a in n.attribute):
            return i, n.name
    return None


def onnx_type_name(elem_type: int) -> str:
    from onnx import TensorProto

    return TensorProto.DataType.Name(elem_type).lower()


class FakeTimingCache:
    def __init__(self, fake, data: bytes):
        self._fake = fake
        self.entries: set[str] = set(json.loads(data.decode())) if data else set()

    def combine(self, other: FakeTimingCache, ignore_mismatch: bool) -> bool:
        self._fake.calls.append(("combine", ignore_mismatch))
        self.entries |= other.entries
        return True

    def serialize(self) -> bytes:
        return json.dumps(sorted(self.entries)).encode()


class FakeProfile(_Obj):
    def __init__(self, fake):
        super().__init__(fake)
        self.shapes: dict[str, tuple] = {}

    def set_shape(self, name, min, opt, max):  # noqa: A002 - TensorRT's names
        shapes = tuple(tuple(int(d) for d in s[:]) for s in (min, opt, max))
        self._fake.calls.append(("set_shape", name, *shapes))
        self.shapes[name] = shapes


class FakeConfig(_Obj):
    def __init__(self, fake):
        super().__init__(fake)
        object.__setattr__(self, "_flags", set())
        object.__setattr__(self, "_profiles", [])
        object.__setattr__(self, "_cache", None)
        object.__setattr__(self, "_pools", {})

    def set_flag(self, flag):
        self._fake.calls.append(("set_flag", flag.name))
        self._flags.add(flag.name)

    def get_flag(self, flag) -> bool:
        return flag.name in self._flags

    def set_memory_pool_limit(self, pool, size: int):
        self._fake.calls.append(("set_memory_pool_limit", pool.name, size))
        self._pools[pool.name] = size

    def add_optimization_profile(self, profile: FakeProfile) -> int:
        self._fake.calls.append(("add_optimization_profile", dict(profile.shapes)))
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def create_timing_cache(self, data) -> FakeTimingCache:
        self._fake.calls.append(("create_timing_cache", bytes(data)))
        return FakeTimingCache(self._fake, bytes(data))

    def set_timing_cache(self, cache: FakeTimingCache, ignore_mismatch: bool) -> bool:
        self._fake.calls.append(("set_timing_cache", sorted(cache.entries), ignore_mismatch))
        if self._fake.reject_timing_cache and cache.entries and not ignore_mismatch:
            return False  # the real one: a cache of another device or TensorRT version, not attached
        object.__setattr__(self, "_cache", cache)
        return True

    def get_timing_cache(self) -> FakeTimingCache:
        return self._cache

    def can_run_on_DLA(self, layer) -> bool:  # noqa: N802 - TensorRT's name
        return layer.type not in self._fake.dla_unsupported_ops

    def set_calibration_profile(self, profile):  # removed in 11
        self._fake.calls.append(("set_calibration_profile",))


class FakeHostMemory(bytes):
    """Like IHostMemory: supports the buffer protocol."""


class FakeBuilder(_Obj):
    def __init__(self, fake, logger):
        super().__init__(fake)
        fake.calls.append(("Builder",))

    @property
    def platform_has_fast_fp16(self) -> bool:  # removed in 11
        return True

    @property
    def platform_has_fast_int8(self) -> bool:  # removed in 11
        return True

    def create_network(self, flags: int = 0):
        self._fake.calls.append(("create_network", flags))
        return self._fake.INetworkDefinition(self._fake, flags)

    def create_builder_config(self):
        self._fake.calls.append(("create_builder_config",))
        return self._fake.IBuilderConfig(self._fake)

    def create_optimization_profile(self):
        return FakeProfile(self._fake)

    def build_serialized_network(self, network: FakeNetwork, config: FakeConfig):
        fake = self._fake
        fake.calls.append(("build_serialized_network",))
        if network._io is None:
            raise RuntimeError("fake tensorrt: build_serialized_network on a network that was never parsed")
        if network._strongly_typed and config._flags & {"FP16", "INT8", "BF16", "FP8"}:
            fake.errors.append("precision flags are not allowed on a strongly typed network")
            return None
        if fake.fail_build:
            return None
        dynamic = any(-1 in t["shape"] for t in network._io["inputs"].values())
        if dynamic and not config._profiles:
            fake.errors.append("dynamic input without an optimization profile")
            return None
        if config._cache is not None:
            config._cache.entries.add("tactics:" + hashlib.sha256(json.dumps(network._io).encode()).hexdigest()[:16])
        profile = config._profiles[0].shapes if config._profiles else {}
        plan = {"fake_plan": fake.__version__, "io": network._io, "profile": {k: list(map(list, v)) for k, v in profile.items()},
                "flags": sorted(config._flags), "strongly_typed": network._strongly_typed}
        return FakeHostMemory(b"FAKEPLAN" + json.dumps(plan, sort_keys=True).encode())


class FakeEngine(_Obj):
    def __init__(self, fake, plan: dict):
        super().__init__(fake)
        self._plan = plan
        self._names = list(plan["io"]["inputs"]) + list(plan["io"]["outputs"])

    @property
    def num_io_tensors(self) -> int:
        return len(self._names)

    def get_tensor_name(self, index: int) -> str:
        return self._names[index]

    def _info(self, name):
        io = self._plan["io"]
        return io["inputs"].get(name) or io["outputs"][name]

    def get_tensor_mode(self, name):
        modes = self._fake.TensorIOMode
        return modes.INPUT if name in self._plan["io"]["inputs"] else modes.OUTPUT

    def get_tensor_dtype(self, name):
        return getattr(self._fake.DataType, self._info(name)["dtype"])

    def get_tensor_shape(self, name):
        return tuple(self._info(name)["shape"])

    def get_tensor_profile_shape(self, name, index):
        return [tuple(s) for s in self._plan["profile"][name]]

    @property
    def device_memory_size(self) -> int:  # removed in 11
        return 1 << 20

    @property
    def device_memory_size_v2(self) -> int:
        return 1 << 20

    def create_execution_context(self):
        self._fake.calls.append(("create_execution_context",))
        return FakeContext(self._fake, self)


class FakeContext(_Obj):
    def __init__(self, fake, engine: FakeEngine):
        super().__init__(fake)
        self._engine = engine
        self._shapes: dict[str, tuple] = {}
        self._addresses: dict[str, int] = {}

    def set_input_shape(self, name, shape) -> bool:
        self._fake.calls.append(("set_input_shape", name, tuple(shape)))
        self._shapes[name] = tuple(shape)
        return True

    def get_tensor_shape(self, name):
        shape = list(self._engine.get_tensor_shape(name))
        if -1 in shape and name == "labels":  # batch follows the input
            shape[0] = self._shapes.get("image", (-1,))[0]
        return tuple(shape)

    def set_tensor_address(self, name, ptr) -> bool:
        self._fake.calls.append(("set_tensor_address", name, ptr))
        self._addresses[name] = ptr
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        self._fake.calls.append(("execute_async_v3", stream_handle))
        if self._fake.cuda is not None:  # one timeline with the CUDA calls, to check their order
            self._fake.cuda.calls.append(("execute_async_v3", int(stream_handle)))
        if set(self._addresses) != set(self._engine._names):
            return False
        if "windows" in self._engine._plan["io"]["inputs"]:
            self._run_proposals(stream_handle)
            return True
        in_shape = self._shapes.get("image") or self._engine.get_tensor_shape("image")
        out_info = self._engine._info("labels")
        n = int(np.prod(in_shape))
        in_ptr, out_ptr = self._addresses["image"], self._addresses["labels"]
        out_dtype = NP_OF[out_info["dtype"]]

        def run():
            images = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(in_ptr)).reshape(in_shape)
            labels = np.ascontiguousarray(images[..., 0].astype(out_dtype))  # the fake's "model": blue channel
            ctypes.memmove(out_ptr, labels.ctypes.data, labels.nbytes)

        if self._fake.cuda is not None:
            self._fake.cuda.submit(int(stream_handle), run)
        else:
            run()
        return True


    def _run_proposals(self, stream_handle) -> None:
        """The fake proposals "model": mask_logits = the windows' blue channel (top-left M x M) as float32,
        scores = each window's mean pixel / 255 (float32); known values that prove every buffer's round trip."""
        in_shape = self._shapes.get("windows") or self._engine.get_tensor_shape("windows")
        m_shape = self._engine.get_tensor_shape("mask_logits")
        n, side = int(np.prod(in_shape)), m_shape[1]
        in_ptr = self._addresses["windows"]
        m_ptr, s_ptr = self._addresses["mask_logits"], self._addresses["scores"]

        def run():
            windows = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(in_ptr)).reshape(in_shape)
            masks = np.ascontiguousarray(windows[:, :side, :side, 0].astype(np.float32))
            scores = np.ascontiguousarray(windows.reshape(len(windows), -1).mean(1).astype(np.float32) / 255)
            ctypes.memmove(m_ptr, masks.ctypes.data, masks.nbytes)
            ctypes.memmove(s_ptr, scores.ctypes.data, scores.nbytes)

        if self._fake.cuda is not None:
            self._fake.cuda.submit(int(stream_handle), run)
        else:
            run()


class FakeRuntime(_Obj):
    def __init__(self, fake, logger):
        super().__init__(fake)

    def deserialize_cuda_engine(self, data):
        data = bytes(data)
        self._fake.calls.append(("deserialize_cuda_engine", len(data)))
        if not data.startswith(b"FAKEPLAN"):
            return None
        return self._fake.ICudaEngine(self._fake, json.loads(data[len(b"FAKEPLAN"):]))


class FakeLogger:
    WARNING = 2
    INFO = 3
    ERROR = 1

    def __init__(self, severity: int = 2):
        self.severity = severity


# fake class -> the real class whose member list (for the version) decides which of its names exist
REAL_CLASS = {"FakeConfig": "IBuilderConfig", "FakeNetwork": "INetworkDefinition", "FakeEngine": "ICudaEngine",
              "FakeBuilder": "Builder", "FakeOnnxParser": "OnnxParser", "FakeContext": "IExecutionContext",
              "FakeParserError": "ParserError", "FakeRuntime": "Runtime", "FakeProfile": "IOptimizationProfile",
              "FakeTimingCache": "ITimingCache"}
ENUMS = ("BuilderFlag", "NetworkDefinitionCreationFlag", "MemoryPoolType", "DeviceType", "DataType", "TensorIOMode")


def _real_shape(cls: type, real: dict, version: str) -> type:
    """``cls`` restricted to the names the real class of ``version`` has (settable: its writable properties)."""
    members = real["classes"][REAL_CLASS[cls.__name__]]
    own = {n for n in dir(cls) if not n.startswith("_")}
    removed = own - set(members)
    writable = {n for n, m in members.items() if m["kind"] == "property" and m.get("writable")}
    return _restrict(cls, removed, version, writable if cls is FakeConfig else None)


def make_fake_tensorrt(version: str = "10.3.0.30", *, unsupported_ops: tuple[str, ...] = (), fail_build: bool = False,
                       cuda: Any = None, reject_timing_cache: bool = False,
                       dla_unsupported_ops: tuple[str, ...] = ()) -> types.ModuleType:
    """A fake ``tensorrt`` module shaped like TensorRT ``version`` (8.5/8.6, 10.x or 11.x).

    ``reject_timing_cache``: ``set_timing_cache`` returns False (a cache from another device or version).
    ``dla_unsupported_ops``: ONNX op types whose layers ``can_run_on_DLA`` says no to.
    """
    real = trt_api.api(version)
    fake = types.ModuleType("tensorrt", f"FAKE tensorrt {version} (tests/fakes/fake_tensorrt.py)")
    fake.__version__ = version
    fake.calls = []
    fake.errors = []
    fake.unsupported_ops = set(unsupported_ops)
    fake.fail_build = fail_build
    fake.reject_timing_cache = reject_timing_cache
    fake.dla_unsupported_ops = set(dla_unsupported_ops)
    fake.cuda = cuda
    fake.api_version = real["version"]
    for name in ENUMS:
        setattr(fake, name, enum.IntEnum(name, real["enums"][name]))  # the real values
    fake.Logger = FakeLogger
    fake.IBuilderConfig = _real_shape(FakeConfig, real, version)
    fake.INetworkDefinition = _real_shape(FakeNetwork, real, version)
    fake.ICudaEngine = _real_shape(FakeEngine, real, version)
    builder_cls = _real_shape(FakeBuilder, real, version)
    fake.Builder = lambda logger: builder_cls(fake, logger)
    parser_cls = _real_shape(FakeOnnxParser, real, version)
    fake.OnnxParser = lambda network, logger: parser_cls(fake, network, logger)
    fake.Runtime = lambda logger: FakeRuntime(fake, logger)
    fake.Dims = lambda shape: tuple(int(d) for d in shape)
    fake._ParserError = _real_shape(FakeParserError, real, version)
    for name in ("IInt8Calibrator", "IInt8EntropyCalibrator2", "IInt8MinMaxCalibrator", "IInt8LegacyCalibrator",
                 "IInt8EntropyCalibrator", "CalibrationAlgoType"):
        if name in real["classes"] or name in real["enums"]:
            setattr(fake, name, type(name, (), {}))
    return fake


def touched(fake: types.ModuleType, name: str) -> list[tuple]:
    """The recorded calls named ``name``."""
    return [c for c in fake.calls if c[0] == name]
