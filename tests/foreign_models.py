"""Models as users bring them, built in the test (no downloads), for ``edgeseg import`` and ``export_module``.

- :class:`TinySegFormer`: a hand-written SegFormer-like transformer (overlapping patch
  embedding, efficient self-attention with spatial reduction, Mix-FFN, all-MLP
  decoder) with logits at 1/4 of the input resolution, returning
  ``{"logits": ...}`` like ``transformers``' ``SegformerForSemanticSegmentation``;
  ImageNet normalisation, RGB, NCHW. Random weights (seeded).
- :class:`FloatRgbEnet`: the committed, trained ENet behind a float RGB [0, 1] input
  (normalisation inside the model, as many training codebases do).
- :class:`NhwcBgrEnet`: the committed ENet taking NHWC float BGR and returning NHWC
  logits: what a TensorFlow/Keras model exported to ONNX looks like.
- :class:`TwoHeadEnet`: the committed ENet with an auxiliary head: two outputs,
  ``(aux, logits)``.

The ENet-based models give trained predictions, so FP16/INT8 agreement and mIoU
figures mean something; the transformer checks the LayerNorm/attention/1-4 path.
"""

from __future__ import annotations

import torch
from helpers import COMMITTED_ENET
from torch import nn

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
CAMVID_CLASSES = 11
IMPORT_SIZE = (96, 128)  # H, W of the import tests: ENet needs multiples of 8; SegFormer-like logits come at 24 x 32
CAMVID_MEAN, CAMVID_STD = "105,108,110", "78,79,78"  # the committed ENet's (RGB, 0..255), as --mean/--std text


def committed_enet() -> tuple[nn.Module, list[float], list[float]]:
    """The committed ENet (eval mode) and its mean/std (RGB, 0..255)."""
    from edgeseg.train.checkpoint import load_checkpoint, model_from_checkpoint

    model, meta = model_from_checkpoint(load_checkpoint(COMMITTED_ENET), str(COMMITTED_ENET))
    return model.eval(), meta.input.mean, meta.input.std


class _EfficientAttention(nn.Module):
    """Multi-head self-attention whose keys/values come from a spatially reduced map (SegFormer's SR ratio)."""

    def __init__(self, dim: int, heads: int, reduction: int):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.reduce = nn.Conv2d(dim, dim, reduction, reduction) if reduction > 1 else None
        self.norm = nn.LayerNorm(dim) if reduction > 1 else None

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.heads, c // self.heads).transpose(1, 2)
        if self.reduce is not None:
            x = self.norm(self.reduce(x.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2))
        kv = self.kv(x).reshape(b, -1, 2, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = (q @ kv[0].transpose(-2, -1)) * (c // self.heads) ** -0.5
        out = (attn.softmax(-1) @ kv[1]).transpose(1, 2).reshape(b, n, c)
        return self.proj(out)


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, reduction: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _EfficientAttention(dim, heads, reduction)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, 2 * dim)
        self.dwconv = nn.Conv2d(2 * dim, 2 * dim, 3, padding=1, groups=2 * dim)  # Mix-FFN's positional conv
        self.fc2 = nn.Linear(2 * dim, dim)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), h, w)
        y = self.fc1(self.norm2(x))
        b, n, c = y.shape
        y = self.dwconv(y.transpose(1, 2).reshape(b, c, h, w)).flatten(2).transpose(1, 2)
        return x + self.fc2(nn.functional.gelu(y))


class _Stage(nn.Module):
    def __init__(self, cin: int, dim: int, patch: int, stride: int, heads: int, reduction: int):
        super().__init__()
        self.embed = nn.Conv2d(cin, dim, patch, stride, padding=patch // 2)
        self.embed_norm = nn.LayerNorm(dim)
        self.block = _Block(dim, heads, reduction)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.embed(x)
        b, c, h, w = x.shape
        t = self.embed_norm(x.flatten(2).transpose(1, 2))
        t = self.norm(self.block(t, h, w))
        return t.transpose(1, 2).reshape(b, c, h, w)


class TinySegFormer(nn.Module):
    """SegFormer-like: two stages (1/4, 1/8), all-MLP decoder, logits N x classes x H/4 x W/4 in ``{"logits"}``."""

    def __init__(self, num_classes: int = CAMVID_CLASSES, dims: tuple[int, int] = (16, 32), decoder: int = 32):
        super().__init__()
        torch.manual_seed(0)
        self.stage1 = _Stage(3, dims[0], 7, 4, 1, 4)
        self.stage2 = _Stage(dims[0], dims[1], 3, 2, 2, 2)
        self.linear1 = nn.Linear(dims[0], decoder)
        self.linear2 = nn.Linear(dims[1], decoder)
        self.fuse = nn.Sequential(nn.Conv2d(2 * decoder, decoder, 1, bias=False), nn.BatchNorm2d(decoder), nn.ReLU())
        self.classifier = nn.Conv2d(decoder, num_classes, 1)
        self.eval()

    @staticmethod
    def _mlp(linear: nn.Linear, x: torch.Tensor) -> torch.Tensor:
        return linear(x.flatten(2).transpose(1, 2)).transpose(1, 2).reshape(x.shape[0], -1, *x.shape[2:])

    def forward(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        f1 = self.stage1(pixel_values)
        f2 = self.stage2(f1)
        d1 = self._mlp(self.linear1, f1)
        d2 = nn.functional.interpolate(self._mlp(self.linear2, f2), size=f1.shape[2:], mode="bilinear", align_corners=False)
        return {"logits": self.classifier(self.fuse(torch.cat([d2, d1], dim=1)))}


class FloatRgbEnet(nn.Module):
    """float32 RGB in [0, 1], N x 3 x H x W -> logits N x 11 x H x W (the ENet's normalisation inside)."""

    def __init__(self):
        super().__init__()
        self.net, mean, std = committed_enet()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) / 255)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) / 255)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


class NhwcBgrEnet(nn.Module):
    """float32 BGR N x H x W x 3, already normalised -> logits N x H x W x 11 (a Keras-style graph)."""

    def __init__(self):
        super().__init__()
        self.net, self.mean, self.std = committed_enet()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rgb = x.flip(3).permute(0, 3, 1, 2)
        return self.net(rgb).permute(0, 2, 3, 1)


class TwoHeadEnet(nn.Module):
    """The committed ENet plus an auxiliary head: returns ``(aux, logits)``, aux at 1/2 resolution."""

    def __init__(self):
        super().__init__()
        self.net, self.mean, self.std = committed_enet()
        torch.manual_seed(1)
        self.aux = nn.Conv2d(CAMVID_CLASSES, 2, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.net(x)
        return self.aux(logits), logits


def save_torchscript(module: nn.Module, shape: tuple[int, ...], path) -> None:
    torch.jit.save(torch.jit.trace(module.eval(), torch.rand(*shape)), str(path))


def save_exported_program(module: nn.Module, shape: tuple[int, ...], path) -> None:
    torch.export.save(torch.export.export(module.eval(), (torch.rand(*shape),)), str(path))


def save_onnx_dynamic(module: nn.Module, shape: tuple[int, ...], path, *, input_name: str = "input_1",
                      output_name: str = "conv2d_out", opset: int = 17) -> None:
    """Export with dynamic batch, height and width (axes of an NHWC input), as other frameworks' converters do."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (torch.rand(*shape),), str(path), dynamo=False, opset_version=opset,
                          input_names=[input_name], output_names=[output_name],
                          dynamic_axes={input_name: {0: "batch", 1: "height", 2: "width"},
                                        output_name: {0: "batch", 1: "height", 2: "width"}})
