"""Backbones: local pretrained weights load or fail with a clear message; PSPNet's fixed pooling is exact."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from edgeseg.errors import EdgesegError
from edgeseg.train.models import build_model
from edgeseg.train.models.backbones import build_resnet, build_vgg16
from edgeseg.train.models.pspnet import adaptive_avg_pool_fixed


def test_resnet_weights_load_from_a_torchvision_style_file(tmp_path):
    source = build_resnet("resnet18", width_mult=0.25)
    state = {f"module.{k}": v for k, v in source.state_dict().items()}  # a DataParallel-saved file
    state["module.fc.weight"] = torch.zeros(10, 128)  # classifier weights are ignored
    path = tmp_path / "resnet18.pth"
    torch.save({"state_dict": state}, path)
    loaded = build_resnet("resnet18", width_mult=0.25, backbone_weights=path)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_model_factory_passes_backbone_weights(tmp_path):
    vgg = build_vgg16(width_mult=0.125)
    path = tmp_path / "vgg16.pth"
    torch.save(vgg.state_dict(), path)
    model = build_model("fcn8s", 5, width_mult=0.125, backbone_weights=str(path))
    assert torch.equal(model.backbone.features[0].weight, vgg.features[0].weight)


def test_width_mismatch_names_the_tensor_and_the_fix(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(build_resnet("resnet18", width_mult=0.25).state_dict(), path)
    with pytest.raises(EdgesegError, match=r"conv1.weight has shape \(16, 3, 7, 7\) but the backbone expects "
                                           r"\(32, 3, 7, 7\); pretrained ImageNet weights fit width_mult=1.0"):
        build_resnet("resnet18", width_mult=0.5, backbone_weights=path)


def test_other_architecture_file_is_rejected(tmp_path):
    path = tmp_path / "vgg.pth"
    torch.save(build_vgg16(width_mult=0.125).state_dict(), path)
    with pytest.raises(EdgesegError, match="lacks .* tensors .* torchvision's parameter names for ResNet"):
        build_resnet("resnet18", backbone_weights=path)


def test_missing_file_says_nothing_is_downloaded(tmp_path):
    with pytest.raises(EdgesegError, match="does not exist.*never downloads"):
        build_model("pspnet", 5, backbone_weights=str(tmp_path / "nope.pth"))


@pytest.mark.parametrize("size", [(45, 60), (8, 12), (7, 5), (6, 6)])
@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_fixed_pyramid_pooling_equals_adaptive_avg_pool(size, bins):
    x = torch.randn(2, 3, *size)
    torch.testing.assert_close(adaptive_avg_pool_fixed(x, bins), F.adaptive_avg_pool2d(x, bins), rtol=1e-5, atol=1e-6)


def test_checkpoint_rebuild_does_not_need_the_pretrained_file(tmp_path):
    from edgeseg.metadata import InputSpec, ModelMetadata
    from edgeseg.train.checkpoint import CHECKPOINT_FORMAT, model_from_checkpoint

    path = tmp_path / "r18.pth"
    torch.save(build_resnet("resnet18", width_mult=0.25).state_dict(), path)
    args = {"width_mult": 0.25, "backbone_weights": str(path)}
    model = build_model("pspnet", 3, **args)
    meta = ModelMetadata(architecture="pspnet", arch_args=args, classes=["a", "b", "c"],
                         palette=[[0, 0, 0]] * 3, input=InputSpec(height=32, width=32))
    path.unlink()  # e.g. the checkpoint was copied to a machine without the ImageNet file
    rebuilt, _ = model_from_checkpoint({"format": CHECKPOINT_FORMAT, "metadata": meta.to_dict(),
                                        "model": model.state_dict()})
    assert torch.equal(rebuilt.head[-1].weight, model.head[-1].weight)


def test_sharpmask_rebuild_does_not_need_its_first_stage_deepmask_file(tmp_path):
    from edgeseg.metadata import InputSpec, ModelMetadata
    from edgeseg.train.checkpoint import CHECKPOINT_FORMAT, model_from_checkpoint

    path = tmp_path / "deepmask.pt"
    torch.save(build_model("deepmask", 1, window=64).state_dict(), path)
    args = {"window": 64, "deepmask_weights": str(path)}
    model = build_model("sharpmask", 1, **args)
    meta = ModelMetadata(architecture="sharpmask", arch_args=args, classes=["object"], palette=[[255, 255, 0]],
                         input=InputSpec(height=64, width=64))
    path.unlink()
    rebuilt, _ = model_from_checkpoint({"format": CHECKPOINT_FORMAT, "metadata": meta.to_dict(),
                                        "model": model.state_dict()})
    assert all(torch.equal(a, b) for a, b in zip(rebuilt.state_dict().values(), model.state_dict().values()))


# torchvision's published parameter counts minus their classifiers (fc / classifier.*), and key names
# from its state dicts: equal counts and names mean its ImageNet files load into these backbones.
@pytest.mark.parametrize(("build", "params", "keys"), [
    (lambda: build_resnet("resnet18"), 11_689_512 - 513_000, ["layer2.0.downsample.1.running_var", "layer4.1.bn2.weight"]),
    (lambda: build_resnet("resnet34"), 21_797_672 - 513_000, ["layer3.5.conv2.weight"]),
    (lambda: build_resnet("resnet50"), 25_557_032 - 2_049_000, ["layer1.0.downsample.0.weight", "layer4.2.bn3.bias"]),
    (lambda: build_resnet("resnet101"), 44_549_160 - 2_049_000, ["layer3.22.conv3.weight"]),
    (lambda: build_vgg16(), 138_357_544 - 123_642_856, ["features.0.weight", "features.28.bias"]),
    (lambda: build_vgg16(batch_norm=True), 138_365_992 - 123_642_856, ["features.1.running_mean", "features.41.weight"]),
])
def test_full_width_backbones_have_torchvision_layout(build, params, keys):
    with torch.device("meta"):
        net = build()
    assert sum(p.numel() for p in net.parameters()) == params
    assert set(keys) <= set(net.state_dict())


@pytest.mark.parametrize("name", ["deeplab_largefov", "parsenet", "fcn8s"])
def test_plain_vgg_models_pass_a_usable_gradient_to_their_first_conv_from_scratch(name):
    """With PyTorch's default init the first conv of DeepLab-LargeFOV got about 1e-9 (under AdamW's 1e-8
    epsilon) and a 30-epoch run never left ln(11); He init gives 1e-5 or more."""
    torch.manual_seed(0)
    model = build_model(name, 11).train()
    x = torch.randn(2, 3, 192, 256)
    loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 11, (2, 192, 256)))
    loss.backward()
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.weight.grad.abs().mean() > 1e-6
    fan_out = first.out_channels * first.kernel_size[0] * first.kernel_size[1]
    assert float(first.weight.std()) == pytest.approx((2 / fan_out) ** 0.5, rel=0.25)
