"""An ONNX whose opset imports list the default domain twice (issue 13): merged when the versions agree."""

from __future__ import annotations

import onnx
from helpers import ROOT, make_contract_onnx

from edgeseg.cli import main


def test_int8_of_an_onnx_listing_the_default_domain_twice(tmp_path, caplog):
    path = tmp_path / "dup.onnx"
    make_contract_onnx(path)
    model = onnx.load(path)
    model.opset_import.append(onnx.helper.make_opsetid("ai.onnx", 17))  # "" and "ai.onnx" are one domain
    onnx.save(model, path)
    source = path.read_bytes()
    out = tmp_path / "dup.int8.onnx"
    assert main(["quantize", str(path), "--precision", "int8", "--calib", str(ROOT / "calib_data" / "camvid"),
                 "--num-images", "4", "-o", str(out)]) == 0
    assert "lists an opset domain more than once; merged" in caplog.text
    written = onnx.load(out)
    assert [(o.domain, o.version) for o in written.opset_import if o.domain in ("", "ai.onnx")] == [("", 17)]
    assert any(n.op_type == "QuantizeLinear" for n in written.graph.node)
    assert path.read_bytes() == source  # the input is read, never rewritten
