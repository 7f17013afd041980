"""Which ONNX operators of a graph which TensorRT versions parse, and what to do about the rest.

``edgeseg import`` and ``edgeseg build`` ask this module before anything is
written, so an imported transformer that uses LayerNormalization is flagged
for JetPack 5 (TensorRT 8.5) at import time, with the nodes, the versions
that accept the op and the way out, instead of failing inside TensorRT's
parser on the device.

The check runs against a *version*, not always the oldest: ``build`` checks
the TensorRT installed on the build machine; ``import --target NAME`` checks
each TensorRT release that target ships (:data:`TRT_RELEASES` within its
``tensorrt_major`` range) and fails only if none of them parses the graph.

Facts (besides :mod:`.trt_onnx_ops`, whose 10.x support matrix and
per-node restrictions this reuses): LayerNormalization has a native importer
from TensorRT 8.6 (8.5 and older report "No importer registered for op:
LayerNormalization"; NVIDIA/TensorRT#2875, #3642, #3346). For the other
operators that the 8.5 matrix lacks, the first release known to parse them
is taken to be 10.0: conservative, since 8.6's matrix was not checked op by op.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeseg.errors import EdgesegError

from .platforms import TRT_RELEASES
from .trt_onnx_ops import TRT8_MISSING_ONNX_OPS, TRT_SUPPORTED_ONNX_OPS, node_problem

log = logging.getLogger("edgeseg.engines")

# First (major, minor) whose ONNX parser imports the op natively; ops of the
# 10.x matrix not listed here are parsed by every release in TRT_RELEASES.
FIRST_ACCEPTED: dict[str, tuple[int, int]] = {
    **{op: (10, 0) for op in TRT8_MISSING_ONNX_OPS},
    "LayerNormalization": (8, 6),
}

# What to do when an op is too new for the target, per op (PyTorch exporters decompose them at older opsets).
ADVICE: dict[str, str] = {
    "LayerNormalization": "export at opset 16 or lower, where PyTorch decomposes LayerNorm into "
                          "ReduceMean/Sub/Pow/Sqrt/Div (for a PyTorch model: edgeseg import MODEL --opset 16)",
    "GroupNormalization": "export at opset 17 or lower, where PyTorch decomposes GroupNorm "
                          "(for a PyTorch model: edgeseg import MODEL --opset 17)",
    "Gelu": "export at opset 19 or lower, where Gelu is Erf/Mul/Add (edgeseg import MODEL --opset 17)",
    "CastLike": "export at opset 14 or lower, or replace CastLike by Cast",
    "Mish": "export at opset 17 or lower, where Mish is Softplus/Tanh/Mul",
}


def version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def release_name(version: tuple[int, int]) -> str:
    where = next((w for major, minor, w in TRT_RELEASES if (major, minor) == tuple(version)), None)
    return f"TensorRT {version_text(version)}" + (f" ({where})" if where else "")


@dataclass
class OpIssue:
    """One operator (or one restriction of it) that TensorRT ``version`` does not parse.

    Attributes:
        op: the ONNX op type.
        nodes: names of the nodes that use it this way.
        problem: what is wrong (the op, or an attribute of it).
        accepted_by: the releases of :data:`TRT_RELEASES` that parse it (empty: none).
        advice: what to do.
    """

    op: str
    nodes: list[str]
    problem: str
    accepted_by: list[tuple[int, int]] = field(default_factory=list)
    advice: str = ""

    def describe(self) -> str:
        shown = ", ".join(self.nodes[:5]) + (f" and {len(self.nodes) - 5} more" if len(self.nodes) > 5 else "")
        accepted = (", ".join(version_text(v) for v in self.accepted_by) if self.accepted_by
                    else "no TensorRT release (needs a plugin or another op)")
        return (f"{self.op} ({len(self.nodes)} node(s): {shown}): {self.problem}; accepted by TensorRT {accepted}; "
                f"{self.advice}")


def _walk(graph: Any) -> Iterable[Any]:
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == 5:  # GRAPH
                yield from _walk(attr.g)


def _accepts(op: str, version: tuple[int, int]) -> bool:
    first = FIRST_ACCEPTED.get(op)
    return op in TRT_SUPPORTED_ONNX_OPS and (first is None or tuple(version) >= first)


def op_issues(model: Any, version: tuple[int, int]) -> list[OpIssue]:
    """The operators of ``model`` (an ``onnx.ModelProto``, subgraphs included) TensorRT ``version`` cannot parse."""
    grouped: dict[tuple[str, str], OpIssue] = {}
    for node in _walk(model.graph):
        op, name = node.op_type, node.name or f"({node.op_type}, unnamed)"
        if node.domain in ("", "ai.onnx") and op in TRT_SUPPORTED_ONNX_OPS and not _accepts(op, version):
            problem = f"not parsed by {release_name(version)}"
            accepted = [(m, n) for m, n, _ in TRT_RELEASES if _accepts(op, (m, n))]
            advice = ADVICE.get(op, f"replace it in the model, or target TensorRT {version_text(accepted[0])} or newer"
                                if accepted else "replace it in the model")
            if accepted and op in ADVICE:
                advice += f"; or target TensorRT {version_text(accepted[0])} or newer"
        else:
            # Custom domains, ops no release parses, and attribute restrictions (same in every release).
            text = node_problem(node, 10)
            if text is None:
                continue
            problem, accepted = text.split(": ", 1)[1], []
            advice = "re-export the model without it (another op or attribute), or add a TensorRT plugin"
        issue = grouped.setdefault((op, problem), OpIssue(op, [], problem, accepted, advice))
        issue.nodes.append(name)
    return list(grouped.values())


def format_issues(issues: Sequence[OpIssue], version: tuple[int, int], source: str) -> str:
    lines = "\n  ".join(issue.describe() for issue in issues)
    return f"{source}: {release_name(version)}'s ONNX parser cannot take {len(issues)} operator(s):\n  {lines}"


def check_for_tensorrt(model: Any, version: tuple[int, int], source: str) -> None:
    """Raise :class:`EdgesegError` naming every operator TensorRT ``version`` cannot parse (``build``)."""
    issues = op_issues(model, version)
    if issues:
        raise EdgesegError(format_issues(issues, version, source) + "\nnothing was built")


def target_releases(target: Any | None) -> list[tuple[int, int]]:
    """The releases of :data:`TRT_RELEASES` a target (an :class:`~.targets.Target`; None: any) can have.

    By the target's ``tensorrt_major`` range; Xavier stops at JetPack 5.1 (JetPack 6 and 7 are Orin and
    Thor only), so a Xavier target gets TensorRT 8.5 alone.
    """
    if target is None:
        return [(m, n) for m, n, _ in TRT_RELEASES]
    lo, hi = target.tensorrt_major or (0, -1)
    xavier = any("xavier" in model.lower() for model in target.jetson_models) or "xavier" in target.name
    return [(m, n) for m, n, where in TRT_RELEASES
            if lo <= m <= hi and not (xavier and where.startswith(("JetPack 6", "JetPack 7")))]


def check_releases(model: Any, releases: Sequence[tuple[int, int]], source: str, *, target: str | None = None) -> dict:
    """Check ``model`` against each of ``releases``; warn for those that cannot parse it.

    Raises when ``target`` is given and no release of it parses the graph.
    Returns ``{"TensorRT x.y": [issue descriptions]}`` for the failing releases (for the log and the metadata).
    """
    failing = {}
    for version in releases:
        issues = op_issues(model, version)
        if issues:
            failing[version] = issues
    if target is not None and failing and len(failing) == len(releases):
        oldest = releases[0]
        raise EdgesegError(format_issues(failing[oldest], oldest, source)
                           + f"\nno TensorRT release of target {target} parses this graph; nothing written")
    for version, issues in failing.items():
        log.warning("%s", format_issues(issues, version, source)
                    + (f"\n  (target {target}: build on a release that parses it)" if target else ""))
    return {release_name(v): [i.describe() for i in issues] for v, issues in failing.items()}


def import_op_check(target_name: str | None):
    """The operator check ``edgeseg import`` runs on the wrapped graph: against the releases of
    ``target_name`` (fails if none parses it), or of every release (warns only); None for a non-TensorRT target.
    """
    from .targets import get_target

    target = get_target(target_name) if target_name else None
    if target is not None and not target.is_tensorrt:
        return None
    releases = target_releases(target)

    def check(model: Any) -> dict:
        return check_releases(model, releases, "the imported graph", target=target.name if target else None)

    return check


def check_build_ops(data: bytes, version: tuple[int, int], source: str) -> None:
    """``build``'s operator check of ONNX bytes against the TensorRT installed (skipped without ``onnx``,
    as on a bare Jetson runtime: the parser's own check follows)."""
    try:
        import onnx
    except ImportError:
        log.info("onnx is not installed: skipping the operator check (TensorRT's parser checks next)")
        return
    check_for_tensorrt(onnx.load_from_string(data), version, source)
