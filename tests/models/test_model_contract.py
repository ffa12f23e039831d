"""The contract every named model keeps: shape, backward, ONNX parity (small variants)."""

import pytest
import torch

from vidlab.models import create_model, list_models


def test_known_variants_are_listed():
    assert {"tsn_r18_1x1x8", "tsn_r50_1x1x8", "tsm_r18_1x1x8", "tsm_r50_1x1x8"} <= set(
        list_models()
    )
    with pytest.raises(ValueError, match="Did you mean 'tsm_r50_1x1x8'"):
        create_model("tsm_r50_1x1x9")


@pytest.mark.parametrize("name", list_models())
def test_forward_shape_and_backward(name):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5).train()
    clips = torch.randint(0, 256, (1, 3, 8, 32, 32), dtype=torch.uint8)
    logits = model(clips)
    assert logits.shape == (1, 5) and logits.dtype == torch.float32
    model.loss(logits, torch.tensor([4])).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    missing = [n for n, p in trainable if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    assert model.backbone.conv1.conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", [n for n in list_models() if "_r18_" in n])
def test_onnx_export_parity(name, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from vidlab.export import export_onnx

    model = create_model(name, num_classes=5)
    result = export_onnx(model, tmp_path / f"{name}.onnx", clips_shape=(1, 3, 8, 32, 32))
    assert result["max_abs_diff"] < 1e-4
    assert model.training  # mode restored
