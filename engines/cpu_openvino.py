"""The ``cpu`` target with OpenVINO: the fastest precision that passes the accuracy gate, compiled and cached.

``edgeseg build MODEL.onnx --target cpu`` (with ``openvino`` installed):

1. Candidates, each an ONNX plus OpenVINO's inference-precision hint:
   the FP32 ONNX at ``f32`` (exact), at ``bf16`` and ``f16`` where this CPU
   runs them (OpenVINO's ``OPTIMIZATION_CAPABILITIES``), and every INT8 Q/DQ
   variant of the same FP32 ONNX (``--int8 FILE``, or ``STEM.int8.onnx``
   beside it when its calibration record names this ONNX's sha256) at ``f32``
   and ``bf16`` for the layers left in float.
2. Each candidate is compiled, exported (the bytes that will be written),
   imported back, and timed in interleaved rounds (so a background load
   falls on all alike), at the build's thread count.
3. From the fastest down, the first that passes the accuracy gate *as
   built* (the imported blob scored on ``--eval-data`` against the FP32 ONNX
   in onnxruntime): FP32 always passes, bf16/f16 may lose 0.2 mIoU points,
   INT8 1.0. Without ``--eval-data`` only the exact FP32 is eligible.
4. ``STEM.cpu.blob`` (OpenVINO's exported compiled model) and its sidecar
   ``STEM.cpu.blob.json`` are written atomically. The sidecar records every
   candidate's latency and gate result, the pick and why. The build key
   holds the ONNX hashes, OpenVINO version, CPU model and ISA flags, the
   candidates (precision and hint), threads and the gate's data, so a
   rebuild with the same inputs is skipped.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeseg.cpu_facts import cpu_identity
from edgeseg.errors import EdgesegError
from edgeseg.gates import MAX_MIOU_DROP_BY_CLASS
from edgeseg.sidecar import sidecar_path
from edgeseg.tasks import task_of

from .cache import build_key, cached_build, key_fields

log = logging.getLogger("edgeseg.engines")

# Largest mIoU loss (points) against FP32 that each class of precision may have (edgeseg.gates).
GATES = MAX_MIOU_DROP_BY_CLASS
ROUNDS = 7           # interleaved timing rounds over all candidates
CALLS_PER_ROUND = 8  # timed calls of one candidate in one round (after 2 untimed)


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Candidate:
    """One way to run the model: ``onnx`` (FP32 or a Q/DQ INT8 variant) compiled with ``hint``."""

    onnx: Path
    onnx_sha256: str
    precision: str  # the ONNX's own: fp32, fp16 or int8
    hint: str       # OpenVINO inference precision hint: f32, bf16, f16

    @property
    def name(self) -> str:
        return self.precision if self.hint == "f32" else (self.hint if self.precision == "fp32" else f"{self.precision}+{self.hint}")

    source: bool = True  # the build's own input ONNX (else an INT8 variant of it)

    @property
    def gate_class(self) -> str:
        """``exact`` (the input ONNX as it is), ``bf16``/``f16`` (its float layers at that precision), ``int8`` (a variant)."""
        if not self.source:
            return "int8"
        return "exact" if self.hint == "f32" else self.hint

    def key(self) -> dict[str, str]:
        return {"onnx_sha256": self.onnx_sha256, "precision": self.precision, "hint": self.hint}


@dataclass
class Measured:
    candidate: Candidate
    blob: bytes
    latencies_ms: list[float] = field(default_factory=list)
    miou: float | None = None
    gate: str = "not scored"

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_ms)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.candidate.name, "onnx": str(self.candidate.onnx), "precision": self.candidate.precision,
                "inference_precision_hint": self.candidate.hint, "median_ms": round(self.median_ms, 3),
                "miou": self.miou, "gate": self.gate}


def find_int8_variants(facts, explicit: list[str | Path]) -> list[tuple[Path, str]]:
    """(path, sha256) of INT8 Q/DQ variants of the FP32 ONNX ``facts`` describes.

    ``explicit`` files must be INT8 ONNX calibrated from this very FP32 ONNX
    (their metadata's ``calibration.fp32_onnx_sha256``); otherwise the build
    stops naming the mismatch. ``STEM.int8.onnx`` beside the source (the name
    ``edgeseg quantize`` writes) is taken when it passes the same check, and
    skipped with a log line when it does not.
    """
    from edgeseg.artifacts import read_artifact_metadata
    from edgeseg.hashing import sha256_file

    if facts.metadata.precision != "fp32":
        if explicit:
            raise EdgesegError(f"--int8 needs the FP32 ONNX as the build input; {facts.path} is {facts.metadata.precision}")
        return []
    found: list[tuple[Path, str]] = []
    sibling = facts.path.with_name(f"{facts.path.name[:-len('.onnx')]}.int8.onnx")
    paths = [(Path(p), True) for p in explicit] + ([(sibling, False)] if sibling.is_file() else [])
    for path, asked in paths:
        if any(path.resolve() == p.resolve() for p, _ in found):
            continue
        if not path.is_file():
            raise EdgesegError(f"--int8 {path} does not exist; make it with: edgeseg quantize {facts.path} --precision int8 --calib DIR")
        _, meta, _ = read_artifact_metadata(path)
        source = (meta.calibration or {}).get("fp32_onnx_sha256")
        problem = None
        if meta.precision != "int8":
            problem = f"is {meta.precision}, not an INT8 Q/DQ ONNX"
        elif source != facts.sha256:
            problem = (f"was calibrated from another FP32 ONNX (sha256 {str(source)[:12]}..., this one {facts.sha256[:12]}...)")
        if problem and asked:
            raise EdgesegError(f"--int8 {path} {problem}; re-quantize: edgeseg quantize {facts.path} --precision int8 --calib DIR")
        if problem:
            log.info("not using %s as an INT8 candidate: it %s", path, problem)
            continue
        found.append((path, sha256_file(path)))
    return found


def candidates_for(facts, int8_variants: list[tuple[Path, str]], capabilities: list[str]) -> list[Candidate]:
    """Every (ONNX, hint) pair this CPU can run; see the module docstring."""
    hints = ["f32"] + [h for h, cap in (("bf16", "BF16"), ("f16", "FP16")) if cap in capabilities]
    own = facts.metadata.precision  # fp32, or an fp16/int8 ONNX given as the input itself
    out = [Candidate(facts.path, facts.sha256, own, h) for h in (hints if own == "fp32" else hints[:2])]
    for path, sha in int8_variants:
        out += [Candidate(path, sha, "int8", h, source=False) for h in hints[:2]]
    return out


def _compile_measured(core, candidate: Candidate, metadata, threads: int):
    """(Measured with the exported blob, backend on the blob imported back): what will be written, loaded."""
    import io

    from edgeseg.runtime.backends.openvino import OpenVinoBackend, compile_config

    config = compile_config(threads=threads, precision_hint=candidate.hint)
    try:
        compiled = core.compile_model(core.read_model(str(candidate.onnx)), "CPU", config)
        buffer = io.BytesIO()
        compiled.export_model(buffer)
        blob = buffer.getvalue()
        imported = core.import_model(blob, "CPU", config)
    except Exception as exc:  # OpenVINO's RuntimeError: "Exception from FILE:LINE:" lines, then the reason
        lines = [line for line in str(exc).splitlines() if line.strip() and not line.startswith("Exception from")]
        reason = " ".join(lines)[:300] or type(exc).__name__
        raise EdgesegError(f"OpenVINO cannot compile, export and re-import {candidate.onnx} with the "
                           f"{candidate.hint} hint ({reason})") from None
    backend = OpenVinoBackend.from_compiled(imported, metadata, path=candidate.onnx, precision_hint=candidate.hint,
                                            threads=threads)
    return Measured(candidate, blob), backend


def time_interleaved(backends: list, rounds: int = ROUNDS, calls: int = CALLS_PER_ROUND) -> list[list[float]]:
    """Latencies (ms) of each backend over ``rounds`` rounds, the order reversed every other round."""
    from edgeseg.runtime.bench.measure import synthetic_frames

    frames = [synthetic_frames((1, *b.input_shape[1:]), count=2) for b in backends]
    times: list[list[float]] = [[] for _ in backends]
    order = list(range(len(backends)))
    for r in range(rounds):
        for i in order if r % 2 == 0 else order[::-1]:
            backend = backends[i]
            for k in range(calls + 2):
                x = frames[i][k % 2]
                t0 = time.perf_counter()
                backend.infer(x)
                if k >= 2:  # the first calls after switching models refill the caches
                    times[i].append((time.perf_counter() - t0) * 1000)
    return times


def _reference_miou(facts, data: str, split: str, limit: int) -> float:
    from edgeseg.metrics import scores_from_confusion
    from edgeseg.runtime.backends.ort import OrtBackend
    from edgeseg.runtime.eval import evaluate

    with OrtBackend(facts.path) as reference:
        return scores_from_confusion(evaluate(reference, data, split, limit=limit).confusion).miou


def choose(measured: list[Measured], backends: list, facts, eval_data: str | None, split: str, limit: int) -> tuple[int, str]:
    """(index of the pick, why): the fastest candidate whose blob passes its gate."""
    from edgeseg.metrics import scores_from_confusion
    from edgeseg.runtime.eval import evaluate

    ranking = sorted(range(len(measured)), key=lambda i: measured[i].median_ms)
    fastest = measured[ranking[0]]
    if eval_data is None:
        pick = next(i for i in ranking if measured[i].candidate.gate_class == "exact")
        for m in measured:
            m.gate = "exact" if m.candidate.gate_class == "exact" else "not scored (no --eval-data)"
        why = (f"{measured[pick].candidate.name} at {measured[pick].median_ms:.2f} ms: without --eval-data only the "
               f"input ONNX at f32 (exact) is eligible"
               + (f" (the fastest, {fastest.candidate.name} at {fastest.median_ms:.2f} ms, needs the accuracy gate: "
                  "pass --eval-data DIR)" if fastest is not measured[pick] else ""))
        return pick, why
    reference = _reference_miou(facts, eval_data, split, limit)
    rejected: list[str] = []
    for i in ranking:
        m = measured[i]
        allowed = GATES[m.candidate.gate_class]
        m.miou = scores_from_confusion(evaluate(backends[i], eval_data, split, limit=limit).confusion).miou
        drop = 100 * (reference - m.miou)
        passed = drop <= allowed or m.candidate.gate_class == "exact"  # the reference's own numerics always pass
        m.gate = f"{'pass' if passed else 'fail'}: {drop:+.2f} points vs the input ONNX in onnxruntime " \
                 f"{100 * reference:.2f} (allowed {allowed:g})"
        log.info("cpu target: %s %.2f ms, mIoU %.2f %% (%s)", m.candidate.name, m.median_ms, 100 * m.miou, m.gate)
        if m.gate.startswith("pass"):
            faster = f"; faster candidates failed their gate: {', '.join(rejected)}" if rejected else ""
            others = [f"{o.candidate.name} {o.median_ms:.2f} ms" for o in measured if o is not m]
            why = (f"{m.candidate.name} is the fastest that passes the accuracy gate: {m.median_ms:.2f} ms median "
                   f"({', '.join(others)}), mIoU {100 * m.miou:.2f} % vs {100 * reference:.2f} % (the input ONNX) "
                   f"(allowed drop {allowed:g} points){faster}")
            return i, why
        rejected.append(f"{m.candidate.name} ({drop:+.2f} points)")
    raise EdgesegError("no cpu-target candidate passed its accuracy gate, not even the exact one (this is a bug; report it)")


def _metadata_of(path: Path):
    from edgeseg.artifacts import read_artifact_metadata

    return read_artifact_metadata(path)[1]


def artifact_path_openvino(onnx_path: Path, target, out_dir: Path | None) -> Path:
    """``OUT/STEM.TARGET.blob``: OpenVINO's exported compiled model."""
    stem = onnx_path.name[: -len(".onnx")]
    return (out_dir or onnx_path.parent) / f"{stem}.{target.name}.blob"


def build_cpu_openvino(facts, target, out_dir: Path | None = None, *, force: bool = False, threads: int = 0,
                       int8: list[str | Path] | None = None, eval_data: str | None = None, split: str = "val",
                       eval_limit: int = 0):
    """Build the cpu target with OpenVINO (see the module docstring); returns a :class:`~.build.BuildResult`."""
    from edgeseg.atomic import atomic_write_bytes
    from edgeseg.runtime.backends.openvino import openvino_module, openvino_version

    from .build import BuildResult, _sidecar, _write_with_sidecar

    ov = openvino_module()
    if "labels" not in task_of(facts.metadata).output_names:  # the gate scores labels
        raise EdgesegError(f"{facts.path} is a {facts.metadata.task} model; the OpenVINO cpu target gates on labels and "
                           "mIoU, so it builds semantic models only: use --backend onnxruntime")
    if eval_data is not None and not Path(eval_data).is_dir():
        raise EdgesegError(f"--eval-data {eval_data} is not a folder; pass a labelled data set (CamVid layout or classes.txt)")
    if threads < 0:
        raise EdgesegError(f"--threads must be 0 (OpenVINO's default) or more, got {threads}")
    core = ov.Core()
    capabilities = [str(c) for c in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")]
    variants = find_int8_variants(facts, list(int8 or []))
    candidates = candidates_for(facts, variants, capabilities)
    cpu = cpu_identity()
    version = openvino_version()
    artifact = artifact_path_openvino(facts.path, target, out_dir)
    gate_data = None if eval_data is None else {"data": str(Path(eval_data).resolve()), "split": split, "limit": eval_limit}
    shapes = {name: {"shape": dims} for name, (_, dims) in facts.inputs.items()}
    key_options = {"threads": threads, "candidates": [c.key() for c in candidates], "gate": gate_data, "gates": GATES,
                   "cpu": cpu, "capabilities": capabilities}
    fields = key_fields(onnx_sha256=facts.sha256, runtime="openvino", runtime_version=version, gpu=None,
                        precision=facts.metadata.precision, shapes=shapes, options=key_options)
    key = build_key(fields)
    if not force and cached_build(artifact, key):
        log.info("%s is up to date (same build key); skipping the build", artifact)
        return BuildResult(artifact, sidecar_path(artifact), True, 0.0, key)
    started = time.perf_counter()
    log.info("cpu target with OpenVINO %s on %s: %d candidate(s) %s at %s thread(s)", version, cpu["model"],
             len(candidates), ", ".join(c.name for c in candidates), threads or "default")
    measured, backends, skipped = [], [], []
    for candidate in candidates:
        try:
            m, backend = _compile_measured(core, candidate, facts.metadata, threads)
        except EdgesegError as exc:
            if candidate.gate_class == "exact":  # the input as it is must build
                raise
            log.warning("cpu target: skipping candidate %s: %s", candidate.name, exc)
            skipped.append({"name": candidate.name, "onnx": str(candidate.onnx), "why": str(exc)})
            continue
        measured.append(m)
        backends.append(backend)
    for m, times in zip(measured, time_interleaved(backends)):
        m.latencies_ms = times
    pick, why = choose(measured, backends, facts, eval_data, split, eval_limit)
    for b in backends:
        b.close()
    chosen = measured[pick]
    print(f"cpu target: picked {chosen.candidate.name}: {why}")
    seconds = time.perf_counter() - started
    chosen_meta = facts.metadata if chosen.candidate.onnx == facts.path else _metadata_of(chosen.candidate.onnx)
    options = {"runtime": "openvino", "threads": threads, "inference_precision_hint": chosen.candidate.hint,
               "precision": chosen.candidate.precision, "chosen_onnx": str(chosen.candidate.onnx),
               "chosen_onnx_sha256": chosen.candidate.onnx_sha256, "performance_hint": "LATENCY", "num_streams": 1}

    def sidecar() -> dict[str, Any]:
        return _sidecar(facts, target, runtime="openvino", runtime_version=version, gpu=None, options=options,
                        fields=fields, key=key, artifact=artifact, seconds=seconds,
                        extra={"kind": "openvino_compiled_model", "metadata": chosen_meta.to_dict(), "cpu": cpu,
                               "selection": {"picked": chosen.candidate.name, "why": why,
                                                         "candidates": [m.to_dict() for m in measured],
                                                         "skipped": skipped,
                                                         "gate_data": gate_data}})

    side = _write_with_sidecar(artifact, lambda tmp: atomic_write_bytes(tmp, chosen.blob), sidecar)
    return BuildResult(artifact, side, False, seconds, key)
