"""vidlab.analysis: parameters and FLOPs against MMAction2's published model-zoo numbers."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlab.analysis import analyze_model, count_flops, format_analysis
from vidlab.models import create_model

# (variant, input clips, FLOPs and parameters as the metafile.yml beside MMAction2 1.2's
# configs prints them). The input is what MMAction2's numbers were counted on: TSN's 25 test
# frames at 224 px, the 3D models at 256 px.
ZOO = [
    ("tsn_r50_1x1x8", (1, 3, 25, 224, 224), "102.7G", "24.33M"),
    ("tsm_r50_1x1x8", (1, 3, 8, 224, 224), "32.88G", None),  # its metafile: 23.87M (below)
    ("i3d_r50_nl_dot_product_32x2x1", (1, 3, 32, 256, 256), "59.3G", "35.4M"),
    ("slowonly_r50_4x16x1", (1, 3, 4, 256, 256), "27.38G", "32.45M"),
    ("slowfast_r50_4x16x1", (1, 3, 32, 256, 256), "36.3G", "34.5M"),
    ("r2plus1d_r34_8x8x1", (1, 3, 8, 256, 256), "53.1G", "63.8M"),
    ("c3d_sports1m_16x1x1", (1, 3, 16, 112, 112), "38.5G", "78.4M"),
]


def _meta_model(name: str) -> nn.Module:
    with torch.device("meta"):  # no weight init: the counts need shapes only
        return create_model(name)


def _rounded(value: float, printed: str) -> str:
    """``value`` printed with the unit and decimals of ``printed`` (e.g. '32.88G')."""
    scale = {"G": 1e9, "M": 1e6}[printed[-1]]
    decimals = len(printed[:-1].partition(".")[2])
    return f"{value / scale:.{decimals}f}{printed[-1]}"


@pytest.mark.parametrize("name, shape, flops, params", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_flops_and_params_match_mmaction2(name, shape, flops, params):
    result = analyze_model(_meta_model(name), shape)
    assert result["device"] == "meta"
    assert _rounded(result["flops"], flops) == flops
    if params is not None:
        assert _rounded(result["params"], params) == params
    modules = {n: (p, f) for n, p, f in result["modules"]}
    assert set(modules) >= {"backbone", "cls_head"}
    assert sum(p for p, _ in modules.values()) == result["params"]
    assert sum(f for _, f in modules.values()) == pytest.approx(result["flops"])


def test_tsm_params_are_the_models_own():
    """TSM-R50's metafile says 23.87M; its state dict (ResNet-50 + a 400-class fc) has
    23,508,032 + 819,600 = 24,327,632, the same as TSN-R50's published 24.33M."""
    result = analyze_model(_meta_model("tsm_r50_1x1x8"), (1, 3, 8, 224, 224))
    assert result["params"] == 24_327_632


def test_x3d_s_equals_mmengines_counter_exactly():
    """MMAction2 1.2's get_flops.py (MMEngine 0.10 ``get_model_complexity_info`` on the
    backbone, which is its ``extract_feat``) counts 2,813,413,680 at 13x182x182 and
    2,030,077,776 at 13x160x160, measured in the reference environment; params 3,794,322 as
    the metafile. (The metafile's FLOPs, 2,967,543,760, came from an older counter.)"""
    model = _meta_model("x3d_s")
    for shape, expected in (
        ((1, 3, 13, 182, 182), 2_813_413_680),
        ((1, 3, 13, 160, 160), 2_030_077_776),
    ):
        result = analyze_model(model, shape)
        backbone = {n: f for n, _, f in result["modules"]}["backbone"]
        assert backbone == expected
    assert result["params"] == 3_794_322
    text = format_analysis(result)
    assert "backbone" in text and "3,794,322" in text and "2.030G" in text


def test_flop_rules_for_norms_and_matmul():
    """A multiply-add counts once; eval batch norm 2 per element; layer norm 5 per element."""

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 4)
            self.bn = nn.BatchNorm1d(4)
            self.ln = nn.LayerNorm(4)

        def forward(self, x):
            return self.ln(self.bn(self.fc(x)))

    flops = count_flops(M().eval(), torch.zeros(3, 8))
    assert flops["fc"] == 3 * 8 * 4
    assert flops["bn"] == 3 * 4 * 2
    assert flops["ln"] == 3 * 4 * 5
    assert flops[""] == 96 + 24 + 60


def test_shape_forms_of_get_flops():
    """``--shape`` as MMAction2's get_flops.py: H W (frames from the pipeline), T H W, N C T H W."""
    from pathlib import Path

    import vidlab
    from vidlab.cli.analyze import _shape
    from vidlab.config import load_config

    path = Path(vidlab.__file__).parent / "configs" / "quickstart" / "tsm_r18_synthetic_motion.py"
    cfg = load_config(path)
    assert _shape(cfg, None) == ((1, 3, 8, 32, 32), "one view of the config's test pipeline")
    assert _shape(cfg, [64])[0] == (1, 3, 8, 64, 64)
    assert _shape(cfg, [48, 64])[0] == (1, 3, 8, 48, 64)
    assert _shape(cfg, [16, 48, 64])[0] == (1, 3, 16, 48, 64)
    assert _shape(cfg, [2, 3, 16, 48, 64])[0] == (2, 3, 16, 48, 64)
