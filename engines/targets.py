"""Build targets as data: one ``engines/targets/NAME.toml`` per device class.

A target says what shapes an engine's build on that device: the TensorRT major
versions its JetPack (or PyPI) releases ship, the GPU compute capability, the
builder workspace limit, the DLA core (with GPU fallback) where the device has
DLA, the builder optimisation level, whether the runtime captures a CUDA
graph, and the default input size and batch (used where the ONNX leaves a
dimension dynamic). ``kind = "onnxruntime"`` marks the CPU target.

A user adds a target by adding a file; ``EDGESEG_TARGETS_DIR`` (a folder of
more ``*.toml``) adds targets without touching the package.
"""

from __future__ import annotations

import argparse
import os
import sys
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from edgeseg.errors import EdgesegError
from edgeseg.ranges import AT_LEAST_ONE, NON_NEGATIVE, Range
from edgeseg.schema import build

if sys.version_info >= (3, 11):
    import tomllib
else:  # JetPack 6 ships Python 3.10, where `edgeseg build` runs
    import tomli as tomllib

TARGETS_DIR = Path(__file__).resolve().parent / "targets"
TargetKind = Literal["tensorrt", "onnxruntime"]
OrtLevel = Literal["basic", "extended", "all"]  # onnxruntime's graph optimisation levels
KINDS = typing.get_args(TargetKind)
ORT_LEVELS = typing.get_args(OrtLevel)


@dataclass(frozen=True)
class Target:
    """One device class an engine is built for.

    Attributes:
        name: file stem, e.g. ``jetson-orin-nano``.
        kind: ``tensorrt`` or ``onnxruntime`` (the ``cpu`` target).
        tensorrt_major: inclusive (min, max) TensorRT major versions supported.
        compute_capability: GPU compute capabilities ("8.7") of the device class.
        jetson_models: substrings of /proc/device-tree/model that identify it.
        workspace_mib: builder workspace memory-pool limit in MiB.
        dla_core: DLA core to build for, None where the device has no DLA.
        gpu_fallback: let layers DLA cannot run fall back to the GPU.
        builder_optimization_level: 0..5 (TensorRT's default is 3).
        cuda_graphs: the runtime captures the inference in a CUDA graph.
        input_height, input_width, batch: shapes used where the ONNX is dynamic.
        ort_optimization: onnxruntime graph optimisation level (cpu target).
    """

    name: str
    description: str
    kind: TargetKind
    input_height: int
    input_width: int
    batch: int = 1
    tensorrt_major: tuple[int, int] | None = None
    compute_capability: tuple[str, ...] = ()
    jetson_models: tuple[str, ...] = ()
    workspace_mib: int = 1024
    dla_core: int | None = None
    gpu_fallback: bool = False
    builder_optimization_level: int = 3
    cuda_graphs: bool = False
    ort_optimization: OrtLevel = "extended"
    source: str = field(default="", compare=False)

    FIELD_RANGES = {"input_height": AT_LEAST_ONE, "input_width": AT_LEAST_ONE, "batch": AT_LEAST_ONE,
                    "workspace_mib": AT_LEAST_ONE, "dla_core": NON_NEGATIVE, "builder_optimization_level": Range(0, 5)}

    @property
    def is_tensorrt(self) -> bool:
        return self.kind == "tensorrt"

    def supports_tensorrt(self, major: int) -> bool:
        """Whether TensorRT ``major`` is one this target's releases ship."""
        return self.tensorrt_major is not None and self.tensorrt_major[0] <= major <= self.tensorrt_major[1]

    def build_options(self) -> dict[str, Any]:
        """The options that change the built artifact (part of the cache key)."""
        if not self.is_tensorrt:
            return {"ort_optimization": self.ort_optimization}
        return {
            "workspace_mib": self.workspace_mib,
            "dla_core": self.dla_core,
            "gpu_fallback": self.gpu_fallback,
            "builder_optimization_level": self.builder_optimization_level,
            "batch": self.batch,
            "input_height": self.input_height,
            "input_width": self.input_width,
        }

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("source")
        return data


def _fail(path: Path, what: str) -> EdgesegError:
    return EdgesegError(f"target file {path}: {what}")


def target_from_dict(name: str, data: dict[str, Any], source: Path) -> Target:
    """Validate one target's TOML table; errors name the file and the field.

    Keys, types and ranges: :func:`edgeseg.schema.build` with :class:`Target`
    as the schema. Then what depends on the kind: a TensorRT target names
    its TensorRT majors (min <= max) and GPU compute capabilities ("8.7").
    """
    target = build(Target, data, source=f"target file {source}", given={"name": name, "source": str(source)})
    if target.is_tensorrt:
        major = target.tensorrt_major
        if major is None or major[0] > major[1]:
            raise _fail(source, f"tensorrt_major: a TensorRT target needs [min, max] integers, got {data.get('tensorrt_major')!r}")
        if not target.compute_capability or not all(c.count(".") == 1 for c in target.compute_capability):
            raise _fail(source, "compute_capability: a TensorRT target needs a list like [\"8.7\"], got "
                                f"{data.get('compute_capability')!r}")
    return target


def target_dirs() -> list[Path]:
    """The built-in folder, then the folders in ``EDGESEG_TARGETS_DIR`` (os.pathsep-separated)."""
    extra = [Path(p) for p in os.environ.get("EDGESEG_TARGETS_DIR", "").split(os.pathsep) if p]
    return [TARGETS_DIR, *extra]


def load_targets(dirs: list[Path] | None = None) -> dict[str, Target]:
    """All targets by name; a later folder's file replaces an earlier one of the same name."""
    targets: dict[str, Target] = {}
    for folder in dirs if dirs is not None else target_dirs():
        if not folder.is_dir():
            raise EdgesegError(f"targets folder {folder} does not exist (EDGESEG_TARGETS_DIR?)")
        for path in sorted(folder.glob("*.toml")):
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise _fail(path, f"not valid TOML ({exc})") from None
            targets[path.stem] = target_from_dict(path.stem, data, path)
    return targets


def get_target(name: str, dirs: list[Path] | None = None) -> Target:
    """The target called ``name``; an unknown name lists the valid ones."""
    targets = load_targets(dirs)
    if name not in targets:
        raise EdgesegError(
            f"unknown target {name!r}; known targets: {', '.join(sorted(targets))} "
            "(list them with 'edgeseg targets'; add one as a .toml in engines/targets/ or EDGESEG_TARGETS_DIR)"
        )
    return targets[name]


def format_targets(targets: dict[str, Target]) -> str:
    """A table of the targets, one line each."""
    header = f"{'target':<18} {'kind':<11} {'TensorRT':<9} {'sm':<10} {'DLA':<5} {'workspace':>9} {'opt':>3} {'graphs':<6} input"
    lines = [header]
    for t in sorted(targets.values(), key=lambda t: (t.kind != "tensorrt", t.name)):
        trt = f"{t.tensorrt_major[0]}-{t.tensorrt_major[1]}" if t.tensorrt_major else "-"
        dla = "-" if t.dla_core is None else f"{t.dla_core}{'+gpu' if t.gpu_fallback else ''}"
        ws = f"{t.workspace_mib}M" if t.is_tensorrt else "-"
        opt = str(t.builder_optimization_level) if t.is_tensorrt else "-"
        graphs = ("yes" if t.cuda_graphs else "no") if t.is_tensorrt else "-"
        lines.append(f"{t.name:<18} {t.kind:<11} {trt:<9} {','.join(t.compute_capability) or '-':<10} {dla:<5} "
                     f"{ws:>9} {opt:>3} {graphs:<6} {t.batch}x{t.input_height}x{t.input_width}")
    return "\n".join(lines)


def run_targets(args: argparse.Namespace) -> int:
    """Handler of ``edgeseg targets``."""
    targets = load_targets()
    if getattr(args, "verbose", False):
        for t in sorted(targets.values(), key=lambda t: t.name):
            print(f"{t.name}: {t.description} ({t.source})")
        return 0
    print(format_targets(targets))
    return 0
