"""One test per architecture of the zoo: train step, ONNX export, TensorRT op check, onnxruntime parity.

Parametrised over ``model_names()``, so an architecture added to the registry
is covered without editing this file. Models are built small (``SMALL``) and
run on 64 x 96 inputs (rounded up to the model's ``input_multiple``) so each
takes about a second.

FP32 tolerance, onnxruntime vs PyTorch on the logits: |a - b| <= 1e-3 + 1e-3 |b|
(timm's ``decimal=3`` export check), and argmax labels agree on >= 99.9 % of
pixels (near-ties of random weights may flip a few). The INT8/FP16 variants
are checked by the export stage's tests once it lands (not here).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import ROOT, tiny_train_overrides

from edgeseg.engines.trt_onnx_ops import unsupported_nodes
from edgeseg.train.models import build_model, get_entry, model_names

NUM_CLASSES = 5
HEIGHT, WIDTH = 64, 96
ATOL = RTOL = 1e-3
MIN_LABEL_AGREEMENT = 0.999

# Small widths so the whole zoo runs in seconds; the structure is unchanged.
SMALL: dict[str, dict] = {
    "fcn32s": {"width_mult": 0.125},
    "fcn16s": {"width_mult": 0.125},
    "fcn8s": {"width_mult": 0.125},
    "segnet": {"width_mult": 0.125},
    "deeplab_largefov": {"width_mult": 0.125},
    "deeplab_largefov_crf": {"width_mult": 0.125},
    "crfasrnn": {"width_mult": 0.125},
    "parsenet": {"width_mult": 0.125},
    "pspnet": {"width_mult": 0.25},
    "refinenet": {"width_mult": 0.25},
}


def _input_size(multiple: int) -> tuple[int, int]:
    return math.ceil(HEIGHT / multiple) * multiple, math.ceil(WIDTH / multiple) * multiple


def _build(name: str) -> tuple[torch.nn.Module, int, int, int]:
    entry = get_entry(name)
    if entry.task != "semantic":
        pytest.skip(f"{name} is a {entry.task!r} model (no N x C x H x W logits); its owner's tests cover it")
    torch.manual_seed(0)
    model = build_model(name, NUM_CLASSES, **SMALL.get(name, {}))
    h, w = _input_size(entry.input_multiple)
    return model, entry.in_channels, h, w


@pytest.mark.parametrize("name", model_names())
def test_zoo_model_trains_exports_and_matches_onnxruntime(name, tmp_path):
    import onnx
    import onnxruntime as ort

    from edgeseg.train.aux_loss import segmentation_loss

    model, channels, h, w = _build(name)
    torch.set_num_threads(1)

    # Training step: logits shape, finite loss, a finite gradient for every trainable parameter.
    model.train()
    x = torch.randn(2, channels, h, w)
    target = torch.randint(0, NUM_CLASSES, (2, h, w))
    outputs = model(x)  # models with auxiliary heads return (main, aux, ...) in training mode
    logits = outputs[0] if isinstance(outputs, tuple) else outputs
    assert logits.shape == (2, NUM_CLASSES, h, w)
    loss = segmentation_loss(outputs, target, None, 255, getattr(model, "aux_loss_weight", 0.4))
    loss.backward()
    assert torch.isfinite(loss)
    without_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not without_grad, f"parameters that got no gradient: {without_grad[:5]}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    # No batch-of-one check: the trainer's sampler never forms a training batch of one unless
    # batch_size = 1 is asked for (tests/train/test_distributed.py::test_sampler_*), and batch norm
    # over a pooled 1 x 1 map (BiSeNetV2's context block, DDRNet's DAPPM) cannot train on one image.

    # Export (legacy TorchScript exporter: the dynamo exporter rejects data-dependent Python ints).
    model.eval()
    sample = torch.randn(1, channels, h, w)
    with torch.no_grad():
        expected = model(sample).numpy()
    path = tmp_path / f"{name}.onnx"
    torch.onnx.export(model, (sample,), str(path), opset_version=17, dynamo=False,
                      input_names=["input"], output_names=["logits"])
    onnx.checker.check_model(str(path), full_check=True)
    graph = onnx.load(str(path))
    assert "MaxUnpool" not in {node.op_type for node in graph.graph.node}
    assert unsupported_nodes(graph) == []

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {"input": sample.numpy()})
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    agreement = float((actual.argmax(1) == expected.argmax(1)).mean())
    assert agreement >= MIN_LABEL_AGREEMENT, f"label agreement {agreement:.4%}"


def test_edgeseg_models_lists_every_architecture_with_its_cost(capsys):
    from edgeseg.cli import main

    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "1 multiply-add = 2 FLOPs" in lines[0]
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == model_names()
    enet = next(row for row in rows if row[0] == "enet")
    assert enet[1:5] == ["0.36", "M", "2.62", "GFLOPs"]  # ENet: 0.36 M parameters, 1.31 GMACs at 480x360


def test_meta_device_cost_equals_a_real_forward():
    from torch.utils.flop_counter import FlopCounterMode

    from edgeseg.train.zoo import model_cost

    cost = model_cost("lednet", 11, 64, 96)
    model = build_model("lednet", 11).eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, 64, 96))
    assert cost.gflops == counter.get_total_flops() / 1e9
    assert cost.params == sum(p.numel() for p in model.parameters()) and (cost.height, cost.width) == (64, 96)


ZOO_CONFIGS = sorted(p for p in (ROOT / "configs").glob("camvid_*.toml") if p.stem != "camvid_enet")


@pytest.mark.parametrize("config", ZOO_CONFIGS, ids=lambda p: p.stem)
def test_zoo_config_trains_one_epoch_and_reloads(config, tmp_path):
    from edgeseg.config import load_config
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint
    from edgeseg.train.config import TrainConfig
    from edgeseg.train.trainer import train

    cfg = load_config(config, TrainConfig, tiny_train_overrides(epochs=1, max_train_images=2, batch_size=2))
    if get_entry(cfg.model.name).task != "semantic":
        pytest.skip(f"{cfg.model.name} is a proposals model; tests/train/test_zoo_b_training.py trains it")
    record = train(cfg, tmp_path, progress=False)
    assert 0.0 <= record["val_miou"] <= 1.0 and math.isfinite(record["loss"])
    model, meta = model_from_checkpoint(load_checkpoint(tmp_path / "best.pt"))
    assert meta.architecture == cfg.model.name
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 96, 128)).shape == (1, meta.num_classes, 96, 128)


def test_unknown_factory_argument_lists_the_accepted_ones():
    with pytest.raises(TypeError, match="pspnet takes no argument 'bogus'; its arguments: in_channels, backbone"):
        build_model("pspnet", 3, bogus=1)


def test_zoo_table_is_written_between_the_markers_only():
    import importlib.util

    spec = importlib.util.spec_from_file_location("zoo_table", ROOT / "scripts" / "zoo_table.py")
    zoo_table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(zoo_table)
    text = f"intro\n{zoo_table.START}\nold table\n{zoo_table.END}\noutro\n"
    assert zoo_table.replace_between_markers(text, "| new |\n", "README") == \
        f"intro\n{zoo_table.START}\n| new |\n{zoo_table.END}\noutro\n"
    with pytest.raises(SystemExit, match="no '<!-- zoo-table:start -->'"):
        zoo_table.replace_between_markers("no markers", "| new |\n", "README")
    assert zoo_table.summary("First | line\n  wrapped.\n\nSecond paragraph.") == "First \\| line wrapped."
    # docs/zoo.md holds a generated table with one row per registered architecture.
    page = (ROOT / "docs" / "zoo.md").read_text(encoding="utf-8")
    table = page.split(zoo_table.START, 1)[1].split(zoo_table.END, 1)[0]
    listed = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert listed == set(model_names()), "docs/zoo.md's zoo table is stale: run `python scripts/zoo_table.py`"
