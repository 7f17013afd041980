"""Which CPU this is: the part of a cpu-target build key that a compiled model depends on.

OpenVINO's CPU plugin picks its kernels by instruction set (AVX2, AVX-512,
VNNI, BF16, AMX on x86; NEON, SVE, fp16/bf16 dot products on Arm), so a model
compiled on one CPU is not trusted on another: the key holds the CPU model and
the instruction-set flags that change the kernels.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import TypedDict

# /proc/cpuinfo flags that select different kernels (x86 "flags", Arm "Features").
KERNEL_ISA_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni",
    "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "amx_fp16",
    "asimd", "asimdhp", "asimddp", "sve", "sve2", "bf16", "i8mm", "fphp",
)


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


class CpuIdentity(TypedDict):
    model: str
    isa: list[str]
    machine: str


def cpu_identity(cpuinfo: str | None = None) -> CpuIdentity:
    """``{"model": str, "isa": [flags], "machine": "x86_64"}`` of this machine (from /proc/cpuinfo where present)."""
    text = _cpuinfo() if cpuinfo is None else cpuinfo
    model = None
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if model is None and key in ("model name", "hardware", "cpu model"):
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return {"model": model or platform.processor() or platform.machine(),
            "isa": [f for f in KERNEL_ISA_FLAGS if f in flags], "machine": platform.machine()}
