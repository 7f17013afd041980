"""Model zoo, part B: ReSeg, LSTM-CF, DeepMask, SharpMask, BiSeNetV2, DDRNet-23-slim, LR-ASPP.

Per model, on small inputs: forward and backward in training mode (auxiliary
heads included), eval output shapes, ONNX export (legacy exporter, opset 17)
that passes the full checker, has no MaxUnpool and no adaptive pooling, holds
the recurrent ops we promise (GRU for ReSeg, LSTM for LSTM-CF) in the form
TensorRT parses, and matches PyTorch in onnxruntime.

FP32 tolerance: 1e-4 absolute on logits (the graphs are the same float ops;
observed differences are around 1e-7, so 1e-4 leaves room for other CPUs'
summation order without hiding a wrong op).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from edgeseg.train.models import build_model, get_entry

FP32_ATOL = 1e-4

# name, kwargs, input channels, H, W
SEMANTIC = [
    ("bisenetv2", {"head_channels": 64}, 3, 64, 64),
    ("ddrnet23_slim", {}, 3, 64, 64),
    ("lraspp_mobilenetv3", {}, 3, 64, 64),
    ("reseg", {"hidden": 16}, 3, 32, 48),
    ("lstmcf", {"hidden": 16}, 4, 32, 48),
]
PROPOSALS = [("deepmask", {"window": 64}, 64, 16), ("sharpmask", {"window": 64}, 64, 32)]
AUX_OUTPUTS = {"bisenetv2": 4, "ddrnet23_slim": 1}
NUM_CLASSES = 5


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny tensors: one thread avoids oversubscribing a busy 2-core machine (10x slower otherwise)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def export_onnx(model: torch.nn.Module, x: torch.Tensor, output_names: list[str]):
    """The model's ONNX (legacy TorchScript exporter, opset 17), checked with the full checker."""
    import onnx

    buffer = io.BytesIO()
    torch.onnx.export(model, (x,), buffer, opset_version=17, dynamo=False, input_names=["x"],
                      output_names=output_names)
    proto = onnx.load_from_string(buffer.getvalue())
    onnx.checker.check_model(proto, full_check=True)
    return proto


def run_onnx(proto, x: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def assert_deployable_ops(proto) -> set[str]:
    ops = {node.op_type for node in proto.graph.node}
    forbidden = ops & {"MaxUnpool", "AdaptiveAvgPool2d", "ATen", "Loop", "If"}
    assert not forbidden, f"ops TensorRT cannot take: {forbidden}"
    return ops


@pytest.mark.parametrize("name, kwargs, channels, height, width", SEMANTIC, ids=[s[0] for s in SEMANTIC])
def test_semantic_model_trains_exports_and_matches_onnxruntime(name, kwargs, channels, height, width):
    torch.manual_seed(0)
    assert get_entry(name).in_channels == channels and get_entry(name).task == "semantic"
    model = build_model(name, NUM_CLASSES, **kwargs)
    x = torch.randn(2, channels, height, width)

    model.train()
    outputs = model(x)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    assert len(outputs) == 1 + AUX_OUTPUTS.get(name, 0)
    for out in outputs:
        assert out.shape == (2, NUM_CLASSES, height, width)
    sum(out.square().mean() for out in outputs).backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0

    model.eval()
    with torch.no_grad():
        expected = model(x[:1])
    assert isinstance(expected, torch.Tensor) and expected.shape == (1, NUM_CLASSES, height, width)
    proto = export_onnx(model, x[:1], ["logits"])
    assert [o.name for o in proto.graph.output] == ["logits"]  # aux heads are not exported
    ops = assert_deployable_ops(proto)
    (got,) = run_onnx(proto, x[:1].numpy())
    diff = np.abs(got - expected.numpy()).max()
    assert diff < FP32_ATOL, f"max abs diff {diff}"
    if name == "reseg":
        assert_recurrent_nodes(proto, "GRU", expected_count=4)  # 2 ReNet layers x (vertical, horizontal)
    if name == "lstmcf":
        assert_recurrent_nodes(proto, "LSTM", expected_count=3)  # photometric, depth, fusion
    for op in ops:
        assert op not in {"GRU", "LSTM"} or name in {"reseg", "lstmcf"}


def assert_recurrent_nodes(proto, op_type: str, expected_count: int) -> None:
    """One ONNX node per sweep, bidirectional, sequence-first, no sequence_lens (TensorRT's restrictions)."""
    from onnx import helper

    nodes = [n for n in proto.graph.node if n.op_type == op_type]
    assert len(nodes) == expected_count
    for node in nodes:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        assert attrs["direction"] == b"bidirectional"
        assert attrs.get("layout", 0) == 0
        assert len(node.input) < 5 or node.input[4] == "", "sequence_lens must not be set"


@pytest.mark.parametrize("name, kwargs, window, mask_size", PROPOSALS, ids=[p[0] for p in PROPOSALS])
def test_proposal_model_trains_exports_and_matches_onnxruntime(name, kwargs, window, mask_size):
    from edgeseg.train.tasks.proposals import proposal_loss

    torch.manual_seed(0)
    assert get_entry(name).task == "proposals"
    model = build_model(name, 1, **kwargs)
    x = torch.randn(4, 3, window, window)
    model.train()
    masks, scores = model(x)
    assert masks.shape == (4, mask_size, mask_size) and scores.shape == (4,)
    target = torch.zeros(4, mask_size, mask_size)
    target[:, mask_size // 4: 3 * mask_size // 4, mask_size // 4: 3 * mask_size // 4] = 1
    loss = proposal_loss(masks, scores, target, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)

    model.eval()
    with torch.no_grad():
        ref_masks, ref_scores = model(x)
    proto = export_onnx(model, x, ["mask_logits", "score_logits"])
    assert_deployable_ops(proto)
    got_masks, got_scores = run_onnx(proto, x.numpy())
    assert got_masks.shape == (4, mask_size, mask_size) and got_scores.shape == (4,)
    assert np.abs(got_masks - ref_masks.numpy()).max() < FP32_ATOL
    assert np.abs(got_scores - ref_scores.numpy()).max() < FP32_ATOL


def test_proposal_loss_is_the_deepmask_loss():
    """Zero logits: BCE is ln 2 per pixel and per score; the mask term counts positives only."""
    masks, scores = torch.zeros(2, 4, 4), torch.zeros(2)
    target = torch.ones(2, 4, 4)
    from edgeseg.train.tasks.proposals import proposal_loss

    ln2 = float(np.log(2.0))
    both = proposal_loss(masks, scores, target, torch.tensor([1.0, 0.0]))
    assert float(both) == pytest.approx(ln2 + ln2 / 32, rel=1e-6)
    negatives = proposal_loss(masks, scores, target, torch.tensor([0.0, 0.0]))
    assert float(negatives) == pytest.approx(ln2 / 32, rel=1e-6)
    # a confident right mask on the positive removes the mask term
    good = torch.full((2, 4, 4), 30.0)
    assert float(proposal_loss(good, scores, target, torch.tensor([1.0, 0.0]))) == pytest.approx(ln2 / 32, rel=1e-5)


def test_aux_heads_add_to_the_loss_with_the_papers_weight():
    from edgeseg.train.aux_loss import segmentation_loss

    target = torch.randint(0, 3, (1, 8, 8))
    main = torch.randn(1, 3, 8, 8)
    aux = torch.randn(1, 3, 4, 4)
    plain = segmentation_loss(main, target, None, 255)
    upsampled = torch.nn.functional.interpolate(aux, size=(8, 8), mode="bilinear", align_corners=False)
    expected = plain + 0.4 * torch.nn.functional.cross_entropy(upsampled, target)
    assert torch.allclose(segmentation_loss((main, aux), target, None, 255, 0.4), expected)
    assert build_model("bisenetv2", 3).aux_loss_weight == 1.0
    assert build_model("ddrnet23_slim", 3).aux_loss_weight == 0.4


def test_lstmcf_rejects_three_channel_configuration():
    with pytest.raises(ValueError, match="4 channels"):
        build_model("lstmcf", 3, in_channels=3)


def test_deepmask_geometry_errors_say_what_is_valid():
    from edgeseg.errors import EdgesegError

    with pytest.raises(EdgesegError, match="window must be a multiple of 16"):
        build_model("deepmask", 1, window=100)
    with pytest.raises(EdgesegError, match="mask_size must divide window"):
        build_model("deepmask", 1, window=64, mask_size=24)


def test_local_backbone_weights_load_and_mismatches_are_clear(tmp_path):
    from edgeseg.errors import EdgesegError

    for name, attr, kwargs in [("reseg", "features", {}), ("lraspp_mobilenetv3", "backbone", {}),
                               ("deepmask", "trunk", {"window": 64})]:
        source = build_model(name, 3, **kwargs)
        path = tmp_path / f"{name}.pt"
        torch.save(source.state_dict(), path)  # a whole model's state_dict: the prefixed keys are used
        loaded = getattr(build_model(name, 3, backbone_weights=str(path), **kwargs), attr)
        for key, value in getattr(source, attr).state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value), (name, key)
    torch.save({"stages.0.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(EdgesegError, match="bad.pt does not fit this Trunk"):
        build_model("deepmask", 1, window=64, backbone_weights=str(tmp_path / "bad.pt"))
    with pytest.raises(EdgesegError, match="gone.pt does not exist"):
        build_model("reseg", 3, backbone_weights=str(tmp_path / "gone.pt"))


def test_sharpmask_starts_from_a_trained_deepmask(tmp_path):
    from edgeseg.errors import EdgesegError

    deep = build_model("deepmask", 1, window=64)
    torch.save(deep.state_dict(), tmp_path / "deepmask.pt")
    sharp = build_model("sharpmask", 1, window=64, deepmask_weights=str(tmp_path / "deepmask.pt"), freeze_trunk=True)
    assert torch.equal(sharp.trunk.stages[0][0][0].weight, deep.trunk.stages[0][0][0].weight)
    assert torch.equal(sharp.code[2].weight, deep.mask_head[2].weight)
    assert not any(p.requires_grad for p in sharp.trunk.parameters())
    torch.save(build_model("reseg", 3).state_dict(), tmp_path / "other.pt")
    with pytest.raises(EdgesegError, match="is not a DeepMask state_dict"):
        build_model("sharpmask", 1, window=64, deepmask_weights=str(tmp_path / "other.pt"))
