"""``edgeseg import`` and ``export_module``: foreign models built in the test, imported, checked and deployed.

The four models of ``tests/foreign_models.py`` (a SegFormer-like transformer
with 1/4-resolution logits as a .pt2, the trained ENet behind float RGB [0, 1]
as TorchScript, the ENet as an NHWC float BGR ONNX with dynamic dims, and the
ENet with two outputs as a .pt2) go through import, FP16 and INT8 with the
accuracy gate (fixture ``imported_models``), then build --target cpu, eval,
run, bench and info with no further flag.
"""

from __future__ import annotations

import json

import foreign_models as fm
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from foreign_models import CAMVID_MEAN, CAMVID_STD, IMPORT_SIZE
from helpers import COMMITTED_ENET, SAMPLES, make_contract_onnx, read_video_frames

from edgeseg.cli import main
from edgeseg.engines.op_compat import op_issues, target_releases
from edgeseg.engines.targets import get_target
from edgeseg.images import load_image_folder

CASES = ["segformer", "rgb01", "nhwc", "two_heads"]
H, W = IMPORT_SIZE


def frames(count: int = 4) -> np.ndarray:
    return load_image_folder(SAMPLES / "val", H, W, count=count).images


def run_onnx(path, images, outputs=("labels", "logits")):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [np.concatenate(chunks) for chunks in zip(*(session.run(list(outputs), {"image": f[None]}) for f in images))]


def reference_logits(name: str, images: np.ndarray) -> np.ndarray:
    """The foreign model's own logits, computed here (not by edgeseg), resized to H x W: N x 11 x H x W."""
    rgb = images[..., ::-1].astype(np.float32)
    mean, std = (np.float32([float(v) for v in t.split(",")]) for t in (CAMVID_MEAN, CAMVID_STD))
    with torch.no_grad():
        if name == "segformer":
            x = (rgb - np.float32(fm.IMAGENET_MEAN)) / np.float32(fm.IMAGENET_STD)
            out = fm.TinySegFormer()(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))["logits"]
            assert tuple(out.shape[2:]) == (H // 4, W // 4)
        elif name == "rgb01":
            out = fm.FloatRgbEnet()(torch.from_numpy((rgb / 255).transpose(0, 3, 1, 2).copy()))
        elif name == "nhwc":
            bgr = (images.astype(np.float32) - mean[::-1]) / std[::-1]
            out = fm.NhwcBgrEnet()(torch.from_numpy(bgr)).permute(0, 3, 1, 2)
        else:
            out = fm.TwoHeadEnet()(torch.from_numpy(((rgb - mean) / std).transpose(0, 3, 1, 2).copy()))[1]
        out = torch.nn.functional.interpolate(out, size=(H, W), mode="bilinear", align_corners=False)
    return out.numpy()


@pytest.mark.parametrize("name", CASES)
def test_imported_model_matches_the_model_itself(imported_models, name):
    model = imported_models[name]["fp32"]
    images = frames()
    labels, logits = run_onnx(model, images)
    expected = reference_logits(name, images)
    assert labels.dtype == np.uint8 and labels.shape == (len(images), H, W)
    error = np.abs(logits - expected)
    print(f"{name}: logits max abs error {error.max():.2e}, label agreement {(labels == expected.argmax(1)).mean():.5f}")
    assert error.max() < 1e-3
    assert (labels == expected.argmax(1)).mean() >= 0.999
    graph = onnx.load(str(model))
    assert [i.name for i in graph.graph.input] == ["image"]
    assert [d.dim_value for d in graph.graph.input[0].type.tensor_type.shape.dim] == [1, H, W, 3]
    assert len({o.domain for o in graph.opset_import}) == len(graph.opset_import)  # one import per domain
    names = [n.name for n in graph.graph.node]
    assert any(n.startswith("/preprocess/") for n in names) and "/postprocess/ArgMax" in names
    assert ("/postprocess/Resize" in names) == (name == "segformer")  # only the 1/4-resolution logits are resized


def test_enet_imports_agree_with_edgeseg_export(imported_models, tmp_path):
    """Scale, BGR order and NHWC layout were applied right: the same labels as edgeseg's own export of the ENet."""
    native = tmp_path / "enet.onnx"
    assert main(["export", str(COMMITTED_ENET), "-o", str(native), "--height", str(H), "--width", str(W),
                 "--parity-count", "2"]) == 0
    images = frames(8)
    (reference,) = run_onnx(native, images, ("labels",))
    for name in ("rgb01", "nhwc", "two_heads"):
        (labels,) = run_onnx(imported_models[name]["fp32"], images, ("labels",))
        assert (labels == reference).mean() >= 0.999, name


@pytest.mark.parametrize("name", CASES)
def test_variants_agree_with_fp32(imported_models, name, tmp_path):
    model = imported_models[name]
    agreement = {}
    for precision in ("fp16", "int8"):
        report = tmp_path / f"{precision}.json"
        assert main(["compare", str(model["fp32"]), str(model[precision]), "--data", str(SAMPLES),
                     "--json", str(report)]) == 0
        result = json.loads(report.read_text())
        agreement[precision] = result["agreement"]
        print(f"{name} {precision}: label agreement with FP32 {100 * result['agreement']:.3f} %, "
              f"mIoU {100 * result['miou_a']:.2f} -> {100 * result['miou_b']:.2f}")
        assert 100 * (result["miou_a"] - result["miou_b"]) <= 1.0
    assert agreement["fp16"] >= 0.995
    assert agreement["int8"] >= 0.9


@pytest.mark.parametrize("name", CASES)
def test_build_eval_run_bench_info_take_it(imported_models, name, tmp_path, capsys):
    int8 = imported_models[name]["int8"]
    # The cpu target: an OpenVINO blob where openvino is installed (make install), else onnxruntime's ONNX.
    assert main(["build", str(int8), "--target", "cpu", "-o", str(tmp_path)]) == 0
    built = next(p for p in tmp_path.glob(f"{name}.int8.cpu.*") if p.suffix in (".blob", ".onnx"))
    scores = tmp_path / "eval.json"
    assert main(["eval", str(built), "--data", str(SAMPLES), "--limit", "4", "--json", str(scores)]) == 0
    miou = json.loads(scores.read_text())["miou"]
    assert miou > (0.15 if name != "segformer" else 0.0)  # the trained ENet segments; the random transformer may not
    video = tmp_path / "overlay.mp4"
    assert main(["run", str(built), "--source", str(SAMPLES.parent / "video" / "camvid_0016E5_40f.mp4"),
                 "--sink", str(video)]) == 0
    assert len(read_video_frames(video)) == 40
    assert main(["bench", str(int8), "--warmup-s", "0", "--min-iters", "3", "--min-time-s", "0", "--blocks", "2"]) == 0
    capsys.readouterr()
    assert main(["info", str(int8), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["metadata"]["precision"] == "int8" and info["metadata"]["classes"][0] == "Sky"
    assert info["metadata"]["architecture"].startswith("imported:")


def test_export_module_in_memory(tmp_path):
    from edgeseg.export import export_module

    out = tmp_path / "segformer.onnx"
    result = export_module(fm.TinySegFormer(), (64, 96), output=out, classes=[f"c{i}" for i in range(11)],
                           mean=fm.IMAGENET_MEAN, std=fm.IMAGENET_STD, parity_count=2)
    assert result.parity.passed and result.parity.measures["logits_max_abs"] < 1e-4
    assert result.metadata.input.height == 64 and result.metadata.arch_args["import"]["logits_size"] == [16, 24]
    (labels,) = run_onnx(out, load_image_folder(SAMPLES / "val", 64, 96, count=1).images, ("labels",))
    assert labels.shape == (1, 64, 96)


def test_layer_norm_is_flagged_for_tensorrt_85_only(imported_models):
    graph = onnx.load(str(imported_models["segformer"]["fp32"]))
    issues = op_issues(graph, (8, 5))
    assert [i.op for i in issues] == ["LayerNormalization"]
    assert len(issues[0].nodes) >= 5 and issues[0].accepted_by[0] == (8, 6)
    assert "opset 16" in issues[0].describe()
    assert op_issues(graph, (8, 6)) == [] and op_issues(graph, (10, 3)) == []
    # Xavier NX only gets JetPack 5.1 (TensorRT 8.5); AGX Orin also gets 8.6 and 10.x
    assert target_releases(get_target("jetson-xavier-nx")) == [(8, 5)]
    assert (10, 3) in target_releases(get_target("jetson-agx-orin"))


def test_import_refuses_for_a_target_whose_tensorrt_cannot_parse_it(tmp_path, camvid_classes, capsys):
    source = tmp_path / "segformer.pt2"
    fm.save_exported_program(fm.TinySegFormer(), (1, 3, 64, 96), source)
    out = tmp_path / "out.onnx"
    mean, std = ",".join(map(str, fm.IMAGENET_MEAN)), ",".join(map(str, fm.IMAGENET_STD))
    args = ["import", str(source), "-o", str(out), "--classes", str(camvid_classes), "--mean", mean, "--std", std,
            "--parity-count", "1"]
    assert main([*args, "--target", "jetson-xavier-nx"]) == 2
    err = capsys.readouterr().err
    assert "TensorRT 8.5 (JetPack 5.1)'s ONNX parser cannot take 1 operator(s)" in err
    assert "LayerNormalization" in err and "accepted by TensorRT 8.6, 10.3" in err and "--opset 16" in err
    assert not out.exists()
    # opset 16: LayerNorm decomposes, and the graph passes for TensorRT 8.5
    assert main([*args, "--target", "jetson-xavier-nx", "--opset", "16"]) == 0
    assert op_issues(onnx.load(str(out)), (8, 5)) == []


def test_import_errors_are_clear(tmp_path, camvid_classes, capsys):
    two = tmp_path / "two.pt2"
    fm.save_exported_program(fm.TwoHeadEnet(), (1, 3, H, W), two)
    out = tmp_path / "out.onnx"
    base = ["import", str(two), "-o", str(out), "--classes", str(camvid_classes)]
    cases = [
        ([*base, "--mean", CAMVID_MEAN, "--std", CAMVID_STD], "has 2 outputs (output0 [1, 2, 48, 64], output1 [1, 11, 96, 128]); pass --output NAME"),
        ([*base, "--mean", CAMVID_MEAN, "--std", CAMVID_STD, "--output", "output0"], "has 2 classes at the NCHW class axis, but --classes names 11"),
        ([*base], "the model's normalisation is needed: --mean R,G,B --std R,G,B"),
        ([*base, "--scale", "0.5", "--mean", CAMVID_MEAN, "--std", CAMVID_STD], "give either --scale or --mean/--std"),
        ([*base, "--scale", "1", "--input-size", "96by128"], "--input-size must be HxW"),
        (["import", str(two), "-o", str(two), "--classes", str(camvid_classes), "--scale", "1"], "is the same file as model"),
    ]
    for argv, text in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert text in err and "Traceback" not in err, err
        assert not out.exists()
    pickle = tmp_path / "weights.pt"
    torch.save(fm.TwoHeadEnet().state_dict(), pickle)
    assert main(["import", str(pickle), "-o", str(out), "--classes", str(camvid_classes), "--scale", "1"]) == 2
    assert "is a torch.save pickle, not a TorchScript or ExportedProgram file" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", [".onnx", ".pt", ".pt2"])
def test_export_points_foreign_files_to_import(tmp_path, capsys, suffix):
    path = tmp_path / f"model{suffix}"
    if suffix == ".onnx":
        make_contract_onnx(path, metadata=False)
    elif suffix == ".pt":
        fm.save_torchscript(torch.nn.Conv2d(3, 2, 1), (1, 3, 8, 8), path)
    else:
        fm.save_exported_program(torch.nn.Conv2d(3, 2, 1), (1, 3, 8, 8), path)
    assert main(["export", str(path), "-o", str(tmp_path / "out.onnx")]) == 2
    err = capsys.readouterr().err
    kind = {".onnx": "an ONNX file", ".pt": "a TorchScript file", ".pt2": "an ExportedProgram (.pt2)"}[suffix]
    assert f"is {kind}, not an edgeseg checkpoint" in err and f"edgeseg import {path} -o model.onnx --classes" in err
    assert "weights_only" not in err and "corrupt" not in err


def test_contract_onnx_without_metadata_gets_it_in_one_line(tmp_path, capsys):
    bare, weight, bias = make_contract_onnx(tmp_path / "bare.onnx", num_classes=3, metadata=False)
    classes = tmp_path / "classes.txt"
    classes.write_text("road 128 64 128\ncar 64 0 128\nsky 128 128 128\n")
    out = tmp_path / "named.onnx"
    assert main(["import", str(bare), "-o", str(out), "--classes", str(classes)]) == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    meta = json.loads(capsys.readouterr().out)["metadata"]
    assert meta["classes"] == ["road", "car", "sky"] and meta["palette"][1] == [64, 0, 128]
    images = frames(2)[:, :32, :48].copy()
    (a,) = run_onnx(bare, images, ("labels",))
    (b,) = run_onnx(out, images, ("labels",))
    assert np.array_equal(a, b)  # same graph
    fp16 = tmp_path / "named.fp16.onnx"
    assert main(["quantize", str(out), "--precision", "fp16", "-o", str(fp16)]) == 0  # the scopes were added
    (c,) = run_onnx(fp16, images, ("labels",))
    assert (c == a).mean() >= 0.99


def test_build_refuses_labels_at_another_size_before_writing(tmp_path, capsys):
    path, _, _ = make_contract_onnx(tmp_path / "m.onnx", height=32, width=48)
    model = onnx.load(str(path))
    # labels at half size: a MaxPool before the ArgMax, as an un-resized low-resolution head would give
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    conv.output[0] = "full"
    model.graph.node.insert(3, onnx.helper.make_node("MaxPool", ["full"], ["logits"], kernel_shape=[2, 2], strides=[2, 2]))
    dims = model.graph.output[0].type.tensor_type.shape.dim
    dims[1].dim_value, dims[2].dim_value = 16, 24
    onnx.save(model, str(path))
    out = tmp_path / "out"
    assert main(["build", str(path), "--target", "cpu", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "labels are 16x24 but the input is 32x48" in err and "edgeseg import" in err
    assert not out.exists()


def test_simplifiers_give_the_same_model(tmp_path):
    from edgeseg.export import export_module

    results = {}
    for simplifier in ("onnxslim", "onnxsim", "none"):
        out = tmp_path / f"{simplifier}.onnx"
        results[simplifier] = export_module(fm.TinySegFormer(), (64, 96), output=out, classes=[f"c{i}" for i in range(11)],
                                            mean=fm.IMAGENET_MEAN, std=fm.IMAGENET_STD, parity_count=2,
                                            simplifier=simplifier)
        assert results[simplifier].simplifier == simplifier and results[simplifier].parity.passed
    assert results["none"].nodes_after == results["none"].nodes_before
    assert results["onnxslim"].nodes_after < results["none"].nodes_after
    assert results["onnxsim"].nodes_after < results["none"].nodes_after
    images = load_image_folder(SAMPLES / "val", 64, 96, count=2).images
    labels = {s: run_onnx(tmp_path / f"{s}.onnx", images, ("labels",))[0] for s in results}
    assert np.array_equal(labels["onnxslim"], labels["none"]) and np.array_equal(labels["onnxsim"], labels["none"])


def test_missing_simplifier_falls_back_with_a_log(monkeypatch, caplog):
    import sys

    from edgeseg.export.simplify import available_simplifier

    monkeypatch.setitem(sys.modules, "onnxsim", None)  # `import onnxsim` now raises ImportError, as without a wheel
    with caplog.at_level("WARNING"):
        assert available_simplifier("onnxsim") == "onnxslim"
    assert "simplifier onnxsim is not installed" in caplog.text and "using onnxslim instead" in caplog.text


def test_fp16_of_an_unsimplified_import_with_full_resolution_logits(tmp_path):
    """No resize, no simplifier: the logits leave through the post-processing's Identity, which FP16 must keep apart."""
    from edgeseg.export import export_module

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 3, 1))
    out, fp16 = tmp_path / "plain.onnx", tmp_path / "plain.fp16.onnx"
    export_module(net, (32, 48), output=out, classes=["a", "b", "c"], scale=1 / 255, simplifier="none", parity_count=2)
    assert main(["quantize", str(out), "--precision", "fp16", "-o", str(fp16)]) == 0
    images = load_image_folder(SAMPLES / "val", 32, 48, count=2).images
    (a,), (b,) = run_onnx(out, images, ("labels",)), run_onnx(fp16, images, ("labels",))
    assert (a == b).mean() >= 0.99


def test_old_opset_onnx_is_converted_up_and_stays_one_import_per_domain(tmp_path, camvid_classes):
    """An opset-11 ONNX (older than the wrapper's Cast/ArgMax/Resize semantics) is converted to 13 first."""
    import warnings

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 11, 1))
    source, out = tmp_path / "old.onnx", tmp_path / "new.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.rand(1, 3, 32, 48),), str(source), dynamo=False, opset_version=11)
    assert main(["import", str(source), "-o", str(out), "--classes", str(camvid_classes), "--scale", "0.5",
                 "--parity-count", "2"]) == 0
    graph = onnx.load(str(out))
    assert [(o.domain, o.version) for o in graph.opset_import] == [("", 13)]
    assert "/postprocess/Resize" in [n.name for n in graph.graph.node]  # stride 2: logits at 16 x 24
