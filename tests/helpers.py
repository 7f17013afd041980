"""Test helpers shared across test folders (importable as ``helpers``)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "camvid"
COMMITTED_ENET = ROOT / "models" / "camvid_enet.pt"
def read_video_frames(path) -> list:
    """Every frame of a video file, decoded by OpenCV (uint8 H x W x 3 BGR each)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), f"OpenCV cannot open {path}"
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def write_video(path, frames, fourcc: str = "mp4v", fps: float = 10.0):
    """Encode uint8 H x W x 3 BGR ``frames`` (all one size) into ``path`` with OpenCV; returns ``path``."""
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {path} with {fourcc}"
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def heavy_modules_after_run(onnx_path, out_video, width: int, height: int) -> list[str]:
    """Run ``edgeseg run ONNX`` on 3 synthetic frames in a fresh interpreter; the heavy modules it imported.

    A Jetson's runtime has no torch, onnx, edgeseg.train or edgeseg.export: the list must be empty.
    """
    import subprocess
    import sys

    code = f"""
import sys
from edgeseg.cli import main
assert main(["run", {str(onnx_path)!r}, "--source", "synthetic://?fps=200&frames=3&width={width}&height={height}",
             "--sink", {str(out_video)!r}, "--sink", "null"]) == 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "onnx") or m.startswith(("edgeseg.train", "edgeseg.export")))
print("HEAVY", ",".join(heavy))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert Path(out_video).exists()
    line = next(x for x in result.stdout.splitlines() if x.startswith("HEAVY"))
    return [m for m in line[len("HEAVY "):].split(",") if m]


def tiny_train_overrides(**extra) -> list[str]:
    """Overrides that train ENet on 4 sample images at 96x128 in seconds."""
    values = {
        "data.root": str(SAMPLES), "data.train_split": "val", "data.val_split": "val",
        "data.height": 96, "data.width": 128, "augment.crop_height": 96, "augment.crop_width": 128,
        "augment.scale_min": 0.25, "augment.scale_max": 0.35,
        "max_train_images": 4, "max_val_images": 2, "batch_size": 2, "warmup_epochs": 0,
        "lr": 5e-3, "threads": 1,
        # compiling costs a minute per model; the tests that check compiled training set compile=True
        "compile": False,
    }
    values.update(extra)
    out = []
    for key, value in values.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, str):
            value = f'"{value}"'
        out.append(f"{key}={value}")
    return out


def make_contract_onnx(path, *, height: int = 32, width: int = 48, num_classes: int = 3, batch: int | str = 1,
                       seed: int = 0, metadata: bool = True, opset: int = 17, channels: int = 3):
    """Write a tiny ONNX that honours edgeseg's contract, without torch.

    ``image`` uint8 N x H x W x C (C = ``channels``: 3 BGR, 4 BGR + depth with
    depth_scale 40 in the metadata) -> Cast -> Transpose (NCHW) -> 1x1 Conv
    (random weights) -> ArgMax over channels -> Cast -> ``labels`` uint8 N x H x W.
    With ``metadata``, the edgeseg metadata (identity normalisation) is attached.
    Returns ``(path, weight, bias)`` so a test can compute the expected labels.
    """
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from edgeseg.metadata import ONNX_METADATA_KEY, InputSpec, ModelMetadata
    from edgeseg.palettes import default_palette

    rng = np.random.default_rng(seed)
    weight = rng.standard_normal((num_classes, channels, 1, 1)).astype(np.float32)
    bias = rng.standard_normal(num_classes).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["image"], ["image_f"], to=TensorProto.FLOAT),
        helper.make_node("Transpose", ["image_f"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["nchw", "weight", "bias"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["argmax"], axis=1, keepdims=0),
        helper.make_node("Cast", ["argmax"], ["labels"], to=TensorProto.UINT8),
    ]
    graph = helper.make_graph(
        nodes, "tiny_contract",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, [batch, height, width, channels])],
        [helper.make_tensor_value_info("labels", TensorProto.UINT8, [batch, height, width])],
        initializer=[numpy_helper.from_array(weight, "weight"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if metadata:
        meta = ModelMetadata(
            architecture="tiny_conv1x1", classes=[f"class{i}" for i in range(num_classes)],
            palette=[list(c) for c in default_palette(num_classes)],
            input=InputSpec(height=height, width=width, mean=[0.0] * channels, std=[1.0] * channels,
                            channels=channels, depth_scale=40.0 if channels == 4 else None), opset=opset,
        )
        helper.set_model_props(model, {ONNX_METADATA_KEY: meta.to_json()})
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path, weight, bias


def contract_onnx_expected_labels(images, weight, bias):
    """Reference labels of :func:`make_contract_onnx` for uint8 N x H x W x 3 ``images``."""
    import numpy as np

    x = images.astype(np.float32).transpose(0, 3, 1, 2)  # BGR order is what the graph sees
    logits = np.einsum("nchw,kc->nkhw", x, weight[:, :, 0, 0]) + bias[None, :, None, None]
    return logits.argmax(1).astype(np.uint8)


def rewrite_contract_onnx(path, *, precision: str | None = None, labels_int32: bool = False):
    """Rewrite a contract ONNX in place: metadata precision, or int32 labels (the TensorRT 8.x form)."""
    import json

    import onnx
    from onnx import TensorProto

    model = onnx.load(str(path))
    if precision is not None:
        for prop in model.metadata_props:
            if prop.key == "edgeseg":
                meta = json.loads(prop.value)
                meta["precision"] = precision
                prop.value = json.dumps(meta)
    if labels_int32:
        cast = model.graph.node[-1]
        for attr in cast.attribute:
            if attr.name == "to":
                attr.i = TensorProto.INT32
        model.graph.output[0].type.tensor_type.elem_type = TensorProto.INT32
    onnx.save(model, str(path))
    return path


def make_proposals_checkpoint(path, *, architecture: str = "deepmask", window: int = 64, stride: int = 32,
                              frame: tuple[int, int] | None = (96, 128), confident: bool = True, seed: int = 0):
    """Write a tiny DeepMask/SharpMask checkpoint (random trunk) like ``edgeseg train`` writes for proposals.

    ``frame`` is recorded as the training config's data size (the export's
    default frame size); None leaves it out. With ``confident`` (DeepMask
    only), the last mask and score layers are scaled down to 5 % and biased so
    every window predicts a centred disc of radius window / 2 * 5 / 8 (logit +6
    inside, -6 outside) with objectness near sigmoid(4) = 0.98: proposals are
    then certain, their place known, and the outputs still depend on the input.
    Returns ``path``.
    """
    import numpy as np
    import torch

    from edgeseg.metadata import InputSpec, ModelMetadata
    from edgeseg.train.checkpoint import CHECKPOINT_FORMAT, save_checkpoint
    from edgeseg.train.models import build_model

    torch.manual_seed(seed)
    model = build_model(architecture, 1, window=window, stride=stride)
    # BatchNorm statistics from one batch of noise windows: with the initial ones (mean 0, var 1)
    # the random trunk's features shrink to ~1e-4 and every window gives nearly the same output.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None  # a plain average over the batches seen
            module.reset_running_stats()
    noise = torch.from_numpy(np.random.default_rng(seed).normal(0.0, 1.0, (8, 3, window, window)).astype(np.float32))
    with torch.no_grad():
        model.train()(noise)
    model.eval()
    if confident:
        side = model.mask_size
        yy, xx = np.mgrid[:side, :side]
        centre, radius = (side - 1) / 2, side * 5 / 16
        disc = np.where((xx - centre) ** 2 + (yy - centre) ** 2 <= radius ** 2, 6.0, -6.0).astype(np.float32)
        with torch.no_grad():
            mask_out, score_out = model.mask_head[-1], model.score_head.net[-1]
            mask_out.weight.mul_(0.05)
            mask_out.bias.copy_(torch.from_numpy(disc.reshape(-1)))
            score_out.weight.mul_(0.05)
            score_out.bias.fill_(4.0)
    args = {"window": window, "stride": stride}
    if architecture == "deepmask":
        args["mask_size"] = model.mask_size
    meta = ModelMetadata(
        architecture=architecture, arch_args=args, classes=["object"], palette=[[255, 255, 0]],
        input=InputSpec(height=window, width=window, mean=[105.0, 108.0, 110.0], std=[78.0, 79.0, 78.0], multiple=16),
        training={"task": "proposals", "mask_size": model.mask_size},
    )
    checkpoint = {"format": CHECKPOINT_FORMAT, "metadata": meta.to_dict(), "model": model.state_dict(), "epoch": 1}
    if frame is not None:
        checkpoint["config"] = {"data": {"height": frame[0], "width": frame[1]}}
    save_checkpoint(path, checkpoint)
    return path
