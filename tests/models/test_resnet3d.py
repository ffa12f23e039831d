"""ResNet3d: 2D inflation, freezing, norm_eval, checkpointing, zero-init and non-local blocks."""

import pytest
import torch
import torch.nn as nn

from vidlab.models.layers.non_local import NonLocal3d
from vidlab.models.pretrained import load_pretrained
from vidlab.models.resnet import ResNet, _torchvision_name
from vidlab.models.resnet3d import ResNet3d, inflate_2d


def _small(**kwargs) -> ResNet3d:
    cfg = dict(depth=18, conv1_kernel=(3, 7, 7), zero_init_residual=False)
    cfg.update(kwargs)
    return ResNet3d(**cfg)


@pytest.mark.parametrize("layout", ["torchvision", "mmaction2"])
def test_inflates_a_2d_resnet(layout):
    torch.manual_seed(0)
    r2d = ResNet(depth=18)
    state = r2d.state_dict()
    if layout == "torchvision":
        state = {_torchvision_name(k): v for k, v in state.items()}
        state["fc.weight"] = torch.zeros(10, 512)
    model = _small(inflate=(1, (1, 0), 0, 1))
    report = load_pretrained(model, state, inflate_2d)
    assert not [k for k in report.missing if not k.endswith("num_batches_tracked")]
    assert report.unexpected == (["fc.weight"] if layout == "torchvision" else [])
    w2d = r2d.state_dict()["conv1.conv.weight"]
    w3d = model.conv1.conv.weight
    assert w3d.shape == (64, 3, 3, 7, 7)
    assert torch.allclose(w3d, w2d.unsqueeze(2).expand_as(w3d) / 3)
    assert torch.equal(model.layer2[1].conv1.conv.weight[:, :, 0], r2d.layer2[1].conv1.conv.weight)
    assert torch.equal(model.layer1[0].conv1.bn.running_var, r2d.layer1[0].conv1.bn.running_var)
    assert inflate_2d(model.state_dict(), model) is None  # a 3D file loads as it is


def test_frozen_stages_norm_eval_and_with_cp():
    model = _small(frozen_stages=1, norm_eval=True, with_cp=True).train()
    assert not any(p.requires_grad for p in model.conv1.parameters())
    assert not any(p.requires_grad for p in model.layer1.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    assert not any(m.training for m in model.modules() if isinstance(m, nn.BatchNorm3d))
    x = torch.randn(1, 3, 4, 32, 32, requires_grad=True)
    model(x).sum().backward()
    assert model.layer3[0].conv1.conv.weight.grad is not None


def test_zero_init_residual_and_shapes():
    model = ResNet3d(depth=50, zero_init_residual=True, out_indices=(0, 3))
    assert torch.all(model.layer1[0].conv3.bn.weight == 0)
    f1, f4 = model.eval()(torch.randn(1, 3, 8, 64, 64))
    assert f1.shape == (1, 256, 4, 16, 16)  # pool2 halves time after layer1
    assert f4.shape == (1, 2048, 4, 2, 2)


def _reference_non_local(block: NonLocal3d, x: torch.Tensor) -> torch.Tensor:
    """The paper's definition, one sample and one position pair at a time (small maps)."""
    n, c = x.shape[:2]
    g = block.g(x).flatten(2)  # (N, C', P')
    out = []
    for i in range(n):
        xi = x[i].flatten(1)  # (C, P)
        if block.mode == "gaussian":
            th, ph = xi, block.phi(x[i : i + 1]).flatten(2)[0]
        else:
            th, ph = block.theta(x[i : i + 1]).flatten(2)[0], block.phi(x[i : i + 1]).flatten(2)[0]
        f = th.T @ ph  # (P, P')
        if block.mode == "dot_product":
            f = f / f.shape[1]
        else:
            if block.mode == "embedded_gaussian" and block.use_scale:
                f = f / th.shape[0] ** 0.5
            f = f.softmax(dim=1)
        out.append(f @ g[i].T)  # (P, C')
    y = torch.stack(out).transpose(1, 2).reshape(n, -1, *x.shape[2:])
    return x + block.conv_out(y)


@pytest.mark.parametrize("mode", ["dot_product", "embedded_gaussian", "gaussian"])
def test_non_local_modes_match_their_definition(mode):
    torch.manual_seed(0)
    norm = dict(type="BN3d", requires_grad=True)
    block = NonLocal3d(8, sub_sample=True, mode=mode, norm_cfg=norm, zeros_init=False).eval()
    x = torch.randn(2, 8, 2, 4, 4)
    with torch.no_grad():
        assert torch.allclose(block(x), _reference_non_local(block, x), atol=1e-5)
    keys = set(block.state_dict())
    assert "g.0.conv.weight" in keys and "conv_out.bn.running_mean" in keys
    assert ("theta.conv.weight" in keys) == (mode != "gaussian")
