"""The claims study: the ablation variants of the architectures, and scripts/claims_table.py's records and verdicts."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch
from helpers import ROOT

from edgeseg.train.models import build_model

SMALL = {"width_mult": 0.125}


def _claims_table():
    spec = importlib.util.spec_from_file_location("claims_table", ROOT / "scripts" / "claims_table.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["claims_table"] = module  # @dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name, ablation", [("segnet", {"upsampling": "nearest"}),
                                            ("parsenet", {"global_context": False}),
                                            ("pspnet", {"pyramid": False})])
def test_each_ablation_trains_and_differs_from_the_paper_model(name, ablation):
    torch.manual_seed(0)
    paper, ablated = build_model(name, 5, **SMALL), build_model(name, 5, **SMALL, **ablation)
    # Batch statistics, no dropout: random weights with eval-mode BatchNorm fade to the classifier's bias.
    for model in (paper, ablated):
        model.train()
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout | torch.nn.Dropout2d):
                module.eval()
    # Carry every weight the two share, so a difference in the output comes from the component alone.
    shared = {k: v for k, v in paper.state_dict().items() if k in ablated.state_dict()
              and ablated.state_dict()[k].shape == v.shape}
    ablated.load_state_dict(shared, strict=False)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        out_paper, out_ablated = paper(x), ablated(x)
    assert out_ablated.shape == out_paper.shape == (2, 5, 64, 96)
    assert (out_paper - out_ablated).abs().max() > 1e-2 * out_paper.abs().max()
    loss = torch.nn.functional.cross_entropy(ablated(x), torch.randint(0, 5, (2, 64, 96)))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in ablated.parameters() if p.requires_grad)


def test_ablations_drop_their_component():
    assert not any("norm_global" in k for k in build_model("parsenet", 5, **SMALL, global_context=False).state_dict())
    assert not any(k.startswith("ppm.") for k in build_model("pspnet", 5, **SMALL, pyramid=False).state_dict())
    with pytest.raises(ValueError, match="upsampling must be 'index'.*or 'nearest', got 'bilinear'"):
        build_model("segnet", 5, **SMALL, upsampling="bilinear")


def test_verdicts_compare_the_difference_with_the_seed_gap():
    claims = _claims_table()
    assert claims.verdict(2.0, 1.0) == "holds"
    assert claims.verdict(-2.0, 1.0) == "does not hold"
    assert claims.verdict(0.5, 1.0) == "within noise"
    assert claims.verdict(-0.5, 1.0) == "within noise"
    assert claims.verdict(5.0, None) == "noise not measured yet"


def _write_run(folder, epochs, last_epoch, miou):
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"epochs": epochs, "model": {"name": "fcn8s", "args": {}}}))
    lines = [{"epoch": e, "loss": 1.0, "seconds": 360.0} for e in range(1, last_epoch)]
    lines.append({"epoch": last_epoch, "loss": 1.0, "seconds": 360.0, "val_miou": miou, "val_pixel_accuracy": 0.8})
    (folder / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_collect_copies_finished_runs_only_and_the_table_judges_them(tmp_path, monkeypatch):
    claims = _claims_table()
    monkeypatch.setattr(claims, "STATE", tmp_path / "state")
    monkeypatch.setattr(claims, "RECORDS", tmp_path / "records")
    _write_run(tmp_path / "state" / "claims_fcn8s", 30, 30, 0.40)
    _write_run(tmp_path / "state" / "claims_fcn8s_seed1", 30, 30, 0.39)
    _write_run(tmp_path / "state" / "claims_fcn16s", 30, 30, 0.35)
    _write_run(tmp_path / "state" / "claims_fcn32s", 30, 30, 0.355)
    _write_run(tmp_path / "state" / "claims_segnet", 30, 20, 0.30)  # unfinished: not collected
    assert sorted(claims.collect()) == ["fcn16s", "fcn32s", "fcn8s", "fcn8s_seed1"]
    assert claims.collect() == []  # unchanged records are not copied again
    assert not (tmp_path / "records" / "segnet.metrics.jsonl").exists()
    body, summary = claims.table()
    assert summary["seed_gap_points"] == 1.0
    verdicts = {(c["with"], c["without"]): c["verdict"] for c in summary["claims"]}
    assert verdicts[("fcn8s", "fcn16s")] == "holds"  # +5.0 points against a 1.0-point seed gap
    assert verdicts[("fcn16s", "fcn32s")] == "within noise"  # -0.5
    assert verdicts[("segnet", "segnet_nearest")] == "pending"
    assert "| 40.0 | 35.0 | +5.0 | holds |" in body
    assert "| `fcn8s_seed1` | fcn8s | 30 | 3.0 | 39.0 | 80.0 |" in body  # 30 epochs of 360 s
    assert summary["runs"]["fcn16s"] == {"epochs": 30, "hours": 3.0, "miou": 0.35}


def test_the_committed_claims_table_matches_the_committed_records():
    claims = _claims_table()
    body, _ = claims.table()
    doc = claims.DOC.read_text(encoding="utf-8")
    assert doc.split(claims.START, 1)[1].split(claims.END, 1)[0].strip() == body.strip(), \
        "docs/claims.md is stale: run python scripts/claims_table.py --no-collect"
