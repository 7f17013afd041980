"""Property-based tests of the parsers not covered by tests/core/test_fuzz_parsers.py.

- the engine sidecar reader (edgeseg/sidecar.py): any bytes, and any JSON
  object near a valid sidecar, give a sidecar dict or an EdgesegError;
- source URI parsing (runtime/sources.py ``open_source``): any string gives a
  Source or an EdgesegError. ``cv2.VideoCapture`` is replaced by a FAKE that
  never opens, so no string can reach a real camera, file decoder or network;
  the working folder is an empty temporary one, so relative paths and globs
  find nothing of the project's;
- the ``classes.txt`` reader (edgeseg/datasets.py): any bytes give a class
  list or an EdgesegError.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeseg.errors import EdgesegError

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _valid_sidecar() -> dict:
    from edgeseg.metadata import InputSpec, ModelMetadata

    meta = ModelMetadata(architecture="x", classes=["a", "b"], palette=[[0, 0, 0], [1, 2, 3]],
                         input=InputSpec(height=8, width=8))
    return {
        "schema_version": 1, "kind": "tensorrt", "target": "jetson-orin-nano",
        "source_onnx": {"path": "m.onnx", "sha256": "0" * 64}, "metadata": meta.to_dict(),
        "runtime": "tensorrt", "runtime_version": "10.3.0.30", "engine_sha256": "0" * 64, "key": "k",
        "build_options": {}, "gpu": {"name": "Orin", "compute_capability": "8.7"},
    }


def _read(tmp: Path, payload: bytes):
    from edgeseg.sidecar import read_sidecar

    artifact = tmp / "m.engine"
    artifact.write_bytes(b"plan")
    (tmp / "m.engine.json").write_bytes(payload)
    return read_sidecar(artifact)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_sidecar_reader_on_any_bytes(payload):
    with tempfile.TemporaryDirectory() as tmp:
        try:
            data = _read(Path(tmp), payload)
        except EdgesegError as exc:
            assert "sidecar" in str(exc)
        else:
            assert isinstance(data, dict)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(_valid_sidecar())), json_values, st.booleans())
def test_sidecar_reader_on_one_field_changed_or_removed(key, value, remove):
    from edgeseg.sidecar import rebuild_command

    data = _valid_sidecar()
    if remove:
        del data[key]
    else:
        data[key] = value
    with tempfile.TemporaryDirectory() as tmp:
        try:
            read = _read(Path(tmp), json.dumps(data).encode())
        except EdgesegError as exc:
            assert str(exc)
        else:
            assert rebuild_command(read, Path(tmp) / "m.engine").startswith("edgeseg build ")


def test_valid_sidecar_is_read(tmp_path):
    assert _read(tmp_path, json.dumps(_valid_sidecar()).encode())["target"] == "jetson-orin-nano"


class FakeNeverOpeningCapture:
    """A FAKE cv2.VideoCapture that opens nothing (no camera, file or network is touched)."""

    opened: list = []

    def __init__(self, *args):
        FakeNeverOpeningCapture.opened.append(args[0] if args else None)

    def isOpened(self):
        return False

    def release(self):
        pass


SCHEMES = ["", "file://", "v4l2://", "v4l2:///dev/video", "csi://", "rtsp://", "http://", "https://", "synthetic://",
           "synthetic://?", "gst:", "ftp://", "/dev/video", "0", "*", "[", "file:///"]
uri_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@pytest.fixture
def no_real_capture(monkeypatch, tmp_path):
    from edgeseg.runtime import sources

    monkeypatch.setattr(sources.cv2, "VideoCapture", FakeNeverOpeningCapture)
    monkeypatch.chdir(tmp_path)  # relative paths and globs see an empty folder


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(SCHEMES), uri_text, st.booleans())
def test_open_source_never_raises_anything_else(no_real_capture, scheme, rest, live):
    from edgeseg.runtime.sources import Source, open_source

    uri = scheme + rest
    try:
        source = open_source(uri, live=live)
    except EdgesegError as exc:
        assert str(exc)
    else:
        assert isinstance(source, Source)
        with contextlib.suppress(Exception):
            source.close()


@pytest.mark.parametrize("uri", ["synthetic://?width=inf", "synthetic://?height=nan", "synthetic://?width=1e12",
                                 "synthetic://?fps=nan", "http://[::1", "v4l2://?width=x", "a\0b"])
def test_found_by_fuzzing(no_real_capture, uri):
    from edgeseg.runtime.sources import open_source

    with pytest.raises(EdgesegError):
        open_source(uri)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120) | st.text(max_size=80).map(lambda t: t.encode("utf-8")))
def test_classes_file_reader(payload):
    from edgeseg.datasets import read_classes_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "classes.txt"
        path.write_bytes(payload)
        try:
            info = read_classes_file(path)
        except EdgesegError as exc:
            assert str(path) in str(exc)
        else:
            assert info.classes and len(info.palette) == len(info.classes)
            assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in info.palette)
