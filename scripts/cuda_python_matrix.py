"""Run edgeseg's CUDA runtime wrapper against the REAL cuda-python of each major version.

    python scripts/cuda_python_matrix.py          # every environment in ENVIRONMENTS (what `make test` runs)
    python scripts/cuda_python_matrix.py cu12     # one

cuda-python installs and imports without an NVIDIA driver: its calls then
return error 35 (cudaErrorInsufficientDriver), and a call with the wrong
number or types of arguments raises before the driver is needed. So each
environment here (a plain venv under ``.venv-cuda/NAME``, made once and
reused while its requirement is unchanged) installs one cuda-python release
and runs ``tests/cuda_matrix/test_cuda_rt_real.py`` in it: every call the
wrapper makes, with the argument forms it uses, against that release's
signatures, and the one-line error-35 message.

The releases are the ones each platform gets (see docs/jetson.md):
JetPack 5 (CUDA 11.4, Python 3.8) -> cuda-python 11.8.2, the last with
Python 3.8 wheels; cuda-bindings 11.8 (the newer layout of the 11.x API);
JetPack 6 (CUDA 12.2/12.6) and desktop TensorRT 10 -> cuda-python 12.x;
JetPack 7 (CUDA 13) -> cuda-python 13.x. The project's own ``.venv`` has
cuda-python 12.9 (desktop TensorRT's) and runs the same test among the others.
An environment whose Python is not on this machine is skipped, said so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV_DIR = ROOT / ".venv-cuda"
TEST = "tests/cuda_matrix/test_cuda_rt_real.py"
# name -> (Python versions to try, first found wins; requirements)
ENVIRONMENTS = {
    "cu11-py38": (("3.8",), ["cuda-python>=11.7.1,<11.8.3", "numpy>=1.24,<1.25", "pytest>=7"]),  # JetPack 5
    "cu11-bindings": (("3.11", "3.10"), ["cuda-bindings>=11.8.6,<12", "numpy>=1.24", "pytest>=7"]),
    "cu12": (("3.10", "3.11"), ["cuda-python>=12.6,<12.7", "numpy>=1.24", "pytest>=7"]),  # JetPack 6.1/6.2
    "cu13": (("3.12", "3.11"), ["cuda-python>=13,<14", "numpy>=1.24", "pytest>=7"]),  # JetPack 7, CUDA 13 desktops
}
# (the project's .venv has cuda-python 12.9, desktop TensorRT's, and runs the same test with the other tests)


def find_python(versions: tuple[str, ...]) -> str | None:
    """An interpreter of one of ``versions``: on PATH, or under pyenv."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in versions:
        candidates = [str(c / "bin" / "python") for c in sorted(root.glob(f"{version}.*"), reverse=True)]
        candidates.append(shutil.which(f"python{version}") or "")
        for python in candidates:  # a pyenv shim is on PATH even where that version is not selected: try it
            if python and subprocess.run([python, "-c", ""], capture_output=True).returncode == 0:
                return python
    return None


def ensure_env(name: str) -> Path | None:
    """The environment's python, made (or remade when its requirements changed); None if no such Python here."""
    versions, requirements = ENVIRONMENTS[name]
    env = ENV_DIR / name
    stamp = env / ".requirements"
    wanted = "\n".join(requirements)
    if stamp.is_file() and stamp.read_text() == wanted:
        return env / "bin" / "python"
    python = find_python(versions)
    if python is None:
        return None
    shutil.rmtree(env, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(env)], check=True)
    pip = [str(env / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *requirements], check=True)
    stamp.write_text(wanted)
    return env / "bin" / "python"


def run(name: str) -> bool:
    started = time.perf_counter()
    python = ensure_env(name)
    if python is None:
        print(f"[{name}] skipped: no Python {' or '.join(ENVIRONMENTS[name][0])} on this machine")
        return True
    made = time.perf_counter() - started
    # The wrapper and its package are read from the work tree (no install of edgeseg into the environment).
    env = {**os.environ, "EDGESEG_SOURCE_ROOT": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(ROOT),
                             "-c", "/dev/null", TEST], cwd=ROOT, env=env)
    print(f"[{name}] {'passed' if result.returncode == 0 else 'FAILED'} "
          f"(environment {made:.1f} s, tests {time.perf_counter() - started - made:.1f} s)")
    return result.returncode == 0


def main(argv: list[str]) -> int:
    names = argv or list(ENVIRONMENTS)
    unknown = [n for n in names if n not in ENVIRONMENTS]
    if unknown:
        print(f"unknown environment(s) {unknown}; known: {list(ENVIRONMENTS)}", file=sys.stderr)
        return 2
    ok = [run(name) for name in names]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
