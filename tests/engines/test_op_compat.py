"""``edgeseg build``'s TensorRT operator check runs against the installed TensorRT version (a FAKE tensorrt here).

The fake stands in for TensorRT, which cannot be installed on CPU machines; the
check itself (engines/op_compat.py) reads the real ONNX. A LayerNormalization
graph is refused on 8.5 (named, with its nodes, the releases that take it and
the fix) before TensorRT's parser or builder is touched, and passes the check
on 8.6 and 10.3, where the build goes on.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from fakes.fake_tensorrt import touched
from helpers import make_contract_onnx, rewrite_contract_onnx

from edgeseg.cuda_rt import GpuInfo
from edgeseg.engines.build import build
from edgeseg.engines.op_compat import op_issues, target_releases
from edgeseg.engines.targets import get_target
from edgeseg.errors import EdgesegError


def layer_norm_onnx(tmp_path, version: str):
    """A contract ONNX (32 x 48, 3 classes) with one LayerNormalization over the width before the ArgMax."""
    path, _, _ = make_contract_onnx(tmp_path / "ln.onnx")
    model = onnx.load(str(path))
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    conv.output[0] = "conv_out"
    model.graph.initializer.extend([onnx.numpy_helper.from_array(np.ones(48, np.float32), "ln_scale"),
                                    onnx.numpy_helper.from_array(np.zeros(48, np.float32), "ln_bias")])
    index = list(model.graph.node).index(conv) + 1
    model.graph.node.insert(index, onnx.helper.make_node("LayerNormalization", ["conv_out", "ln_scale", "ln_bias"],
                                                         ["logits"], name="/net/norm/LayerNormalization", axis=-1))
    onnx.save(model, str(path))
    return rewrite_contract_onnx(path, labels_int32=version.startswith("8."))


def test_layer_norm_refused_on_tensorrt_85_before_the_parser(tmp_path, cache_dir, install_fake_trt):
    target = get_target("jetson-agx-orin")
    fake = install_fake_trt("8.5.2.2")
    path = layer_norm_onnx(tmp_path, "8.5.2.2")
    with pytest.raises(EdgesegError, match=r"(?s)TensorRT 8.5 \(JetPack 5.1\)'s ONNX parser cannot take 1 operator.*"
                                           r"LayerNormalization \(1 node\(s\): /net/norm/LayerNormalization\).*"
                                           r"accepted by TensorRT 8.6, 10.3.*opset 16.*nothing was built"):
        build(path, target, tmp_path / "out", gpu_probe=lambda: GpuInfo("fake Orin", "8.7"))
    assert not touched(fake, "OnnxParser") and not touched(fake, "build_serialized_network")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("version", ["8.6.2.3", "10.3.0.30"])
def test_layer_norm_passes_the_check_on_newer_tensorrt(tmp_path, cache_dir, install_fake_trt, version):
    target = get_target("jetson-agx-orin")
    fake = install_fake_trt(version)
    path = layer_norm_onnx(tmp_path, version)
    result = build(path, target, tmp_path / "out", gpu_probe=lambda: GpuInfo("fake Orin", "8.7"))
    assert result.artifact.is_file() and touched(fake, "build_serialized_network")


def test_issues_name_op_nodes_and_releases(tmp_path):
    model = onnx.load(str(layer_norm_onnx(tmp_path, "10.3")))
    (issue,) = op_issues(model, (8, 5))
    assert issue.op == "LayerNormalization" and issue.nodes == ["/net/norm/LayerNormalization"]
    assert issue.accepted_by == [(8, 6), (10, 3), (10, 15), (11, 4)]
    assert op_issues(model, (8, 6)) == []
    # a custom-domain op is refused by every release
    model.graph.node[0].domain = "com.example"
    custom = [i for i in op_issues(model, (11, 4)) if i.op == "Cast"]
    assert custom and custom[0].accepted_by == [] and "plugin" in custom[0].problem


def test_target_releases_follow_the_target():
    assert target_releases(get_target("jetson-xavier-nx")) == [(8, 5)]
    assert target_releases(get_target("jetson-agx-orin")) == [(8, 5), (8, 6), (10, 3), (10, 15), (11, 4)]
    assert target_releases(get_target("desktop-ada")) == [(10, 3), (10, 15), (11, 4)]
