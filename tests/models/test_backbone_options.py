"""MMDetection's FAQ options on every ResNet-like backbone, checked by what they do (issue 9).

``style`` (where a bottleneck's stride sits), ``norm_eval``, ``frozen_stages``, ``partial_bn``
and ``with_cp``, on each backbone whose MMAction2 1.2.0 class accepts the option (read off its
signature): ``partial_bn`` exists on the 2D ResNets only, ``style`` not on ``ResNetAudio``.
``groups``/``base_width`` are in none of these MMAction2 signatures: ResNeXt is MMPretrain's
``ResNeXt`` (``groups``/``width_per_group``), checked here too. Small inputs (32 px, 4-16 frames) keep this fast.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.utils.checkpoint

from vidlab.models.audio import ResNetAudio
from vidlab.models.c2d import C2D
from vidlab.models.csn import ResNet3dCSN
from vidlab.models.r2plus1d import ResNet2Plus1d
from vidlab.models.resnet import ResNet
from vidlab.models.resnet3d import ResNet3d
from vidlab.models.resnext import ResNeXt
from vidlab.models.slowfast import ResNet3dSlowFast
from vidlab.models.slowonly import ResNet3dSlowOnly
from vidlab.models.tanet import TANet
from vidlab.models.tin import ResNetTIN
from vidlab.models.tsm import ResNetTSM

_BatchNorm = nn.modules.batchnorm._BatchNorm


def _slowfast(**kw):
    common = dict(type="resnet3d", depth=50, pretrained=None, conv1_stride_t=1, **kw)
    return ResNet3dSlowFast(
        resample_rate=4,
        speed_ratio=4,
        slow_pathway=dict(
            common, lateral=True, conv1_kernel=(1, 7, 7), pool1_stride_t=1, inflate=(0, 0, 1, 1)
        ),
        fast_pathway=dict(
            common, lateral=False, base_channels=8, conv1_kernel=(5, 7, 7), pool1_stride_t=1
        ),
    )


def _r2plus1d(**kw):
    return ResNet2Plus1d(
        depth=34,
        pretrained=None,
        pretrained2d=False,
        conv_cfg=dict(type="Conv2plus1d"),
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2),
        temporal_strides=(1, 2, 2, 2),
        **kw,
    )


# name -> (factory(**options), input shape, options its MMAction2 class accepts)
_ALL = {"style", "norm_eval", "frozen_stages", "with_cp"}
BACKBONES = {
    "ResNet": (lambda **kw: ResNet(50, **kw), (4, 3, 32, 32), _ALL | {"partial_bn"}),
    "ResNetTSM": (
        lambda **kw: ResNetTSM(50, num_segments=4, **kw),
        (4, 3, 32, 32),
        _ALL | {"partial_bn"},
    ),
    "ResNetTIN": (
        lambda **kw: ResNetTIN(50, num_segments=4, **kw),
        (4, 3, 32, 32),
        _ALL | {"partial_bn"},
    ),
    "TANet": (lambda **kw: TANet(50, num_segments=4, **kw), (4, 3, 32, 32), _ALL | {"partial_bn"}),
    "C2D": (lambda **kw: C2D(depth=50, **kw), (1, 3, 4, 32, 32), _ALL | {"partial_bn"}),
    "ResNet3d": (lambda **kw: ResNet3d(depth=50, pretrained=None, **kw), (1, 3, 4, 32, 32), _ALL),
    "ResNet3dSlowOnly": (
        lambda **kw: ResNet3dSlowOnly(depth=50, pretrained=None, **kw),
        (1, 3, 4, 32, 32),
        _ALL,
    ),
    "ResNet3dSlowFast pathways": (_slowfast, (1, 3, 16, 32, 32), _ALL),
    "ResNet3dCSN": (
        lambda **kw: ResNet3dCSN(depth=50, pretrained=None, **kw),
        (2, 3, 8, 32, 32),
        _ALL,
    ),
    "ResNet2Plus1d": (_r2plus1d, (2, 3, 8, 32, 32), _ALL),
    "ResNetAudio": (lambda **kw: ResNetAudio(50, **kw), (1, 1, 32, 32), _ALL - {"style"}),
    # MMPretrain's ResNeXt (TSN's custom backbone, ``mmcls.ResNeXt``): no partial_bn there
    "ResNeXt": (lambda **kw: ResNeXt(50, groups=8, width_per_group=8, **kw), (2, 3, 32, 32), _ALL),
}


def _having(option):
    return [name for name, (_, _, opts) in BACKBONES.items() if option in opts]


def _build(name, **options):
    make, shape, _ = BACKBONES[name]
    torch.manual_seed(0)
    return make(**options), torch.rand(shape)


def _resnets(model):
    """The ResNet(s) with ``conv1``/``layerN`` inside a backbone (both SlowFast pathways)."""
    if isinstance(model, ResNet3dSlowFast):
        return [model.slow_path, model.fast_path]
    return [model]


def _bns(module):
    return [m for m in module.modules() if isinstance(m, _BatchNorm)]


def _spatial_stride(module):
    return max(m.stride[-1] for m in module.modules() if isinstance(m, nn.Conv2d | nn.Conv3d))


def _run(out):
    return sum(o.float().sum() for o in (out if isinstance(out, tuple | list) else (out,)))


@pytest.mark.parametrize("name", _having("style"))
def test_style_puts_a_bottlenecks_stride_on_conv2_or_conv1(name):
    strides = {}
    for style in ("pytorch", "caffe"):
        model, x = _build(name, style=style)
        for net in _resnets(model):
            block = net.layer2[0]
            block = getattr(block, "block", block)  # TANet's TABlock wraps the bottleneck
            strides[style, net is model or net is getattr(model, "slow_path", None)] = (
                _spatial_stride(block.conv1),
                _spatial_stride(block.conv2),
                hasattr(block, "conv3"),
            )
        out_shapes = [o.shape for o in (lambda o: o if isinstance(o, tuple) else (o,))(model(x))]
        strides[style, "shapes"] = out_shapes
    for key in [k for k in strides if k[0] == "pytorch" and k[1] != "shapes"]:
        conv1, conv2, bottleneck = strides[key]
        caffe = strides["caffe", key[1]]
        if bottleneck:  # MMAction2: pytorch -> the 3x3 conv strides, caffe -> the first 1x1
            assert (conv1, conv2) == (1, 2) and caffe[:2] == (2, 1), (key, caffe)
        else:  # a basic block strides its first conv in both styles
            assert (conv1, conv2) == (2, 1) and caffe[:2] == (2, 1)
    assert strides["pytorch", "shapes"] == strides["caffe", "shapes"]


@pytest.mark.parametrize("name", _having("norm_eval"))
def test_norm_eval_keeps_bn_statistics_through_a_train_step(name):
    model, x = _build(name, norm_eval=True)
    model.train()
    assert model.training and _bns(model) and not any(b.training for b in _bns(model))
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    _run(model(x)).backward()
    after = model.state_dict()
    assert all(torch.equal(v, after[k]) for k, v in before.items())
    assert all(p.requires_grad for p in model.parameters())  # only statistics are frozen
    model.eval().train()  # re-entering train mode keeps them in eval
    assert not any(b.training for b in _bns(model))


@pytest.mark.parametrize("name", _having("frozen_stages"))
def test_frozen_stages_freeze_the_stem_and_first_stages(name):
    model, x = _build(name, frozen_stages=2)
    model.train()
    for net in _resnets(model):
        frozen = [net.conv1, net.layer1, net.layer2]
        assert not any(p.requires_grad for m in frozen for p in m.parameters())
        assert all(p.requires_grad for p in net.layer3.parameters())
        assert not any(b.training for b in _bns(net.layer1) + _bns(net.layer2))
        assert all(b.training for b in _bns(net.layer3))
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running_mean" in k}
    _run(model(x)).backward()
    after = model.state_dict()
    for key, value in stats.items():
        same = torch.equal(value, after[key])
        if ".layer1." in f".{key}" or ".layer2." in f".{key}":
            assert same, key  # a frozen stage's statistics do not move
        elif ".layer3." in f".{key}" or ".layer4." in f".{key}":
            assert not same, key
    for net in _resnets(model):
        assert all(p.grad is None for p in net.layer2.parameters())
        assert all(p.grad is not None for p in net.layer3.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", _having("partial_bn"))
def test_partial_bn_freezes_every_batchnorm2d_but_the_first(name):
    model, _ = _build(name, partial_bn=True)
    model.train()
    first, *rest = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert first.training and first.weight.requires_grad and first.bias.requires_grad
    assert rest and not any(b.training or b.weight.requires_grad for b in rest)
    assert not any(b.bias.requires_grad for b in rest)


@pytest.mark.parametrize("name", _having("with_cp"))
def test_with_cp_checkpoints_and_gives_the_same_outputs_and_gradients(name, monkeypatch):
    calls = []
    real = torch.utils.checkpoint.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.utils.checkpoint, "checkpoint", counting)
    results = []
    for with_cp in (False, True):
        model, x = _build(name, with_cp=with_cp)
        model.eval()  # identical BN behaviour in both runs; checkpointing needs only grads
        x.requires_grad_(True)
        calls.clear()
        out = _run(model(x))
        out.backward()
        results.append((out.detach(), x.grad.clone(), len(calls), model))
    (out0, g0, n0, m0), (out1, g1, n1, m1) = results
    assert n0 == 0 and n1 > 0  # with_cp really checkpoints
    assert torch.allclose(out0, out1, rtol=1e-5) and torch.allclose(g0, g1, atol=1e-6)
    for (k, p0), p1 in zip(m0.named_parameters(), m1.parameters(), strict=True):
        assert torch.allclose(p0.grad, p1.grad, rtol=1e-4, atol=1e-6), k


@pytest.mark.parametrize("groups,width", [(32, 4), (8, 16), (1, 64)])
def test_resnext_groups_and_width_per_group_set_the_grouped_conv(groups, width):
    """MMPretrain's rule: a stage's 3x3 conv has ``groups * width_per_group * planes / 64``
    channels in ``groups`` groups (``groups=1``: a plain ResNet bottleneck, ``planes``)."""
    model = ResNeXt(50, groups=groups, width_per_group=width)
    for i, planes in enumerate((64, 128, 256, 512), start=1):
        conv2 = getattr(model, f"layer{i}")[0].conv2
        conv2 = next(m for m in conv2.modules() if isinstance(m, nn.Conv2d))
        mid = groups * width * planes // 64 if groups != 1 else planes
        assert (conv2.groups, conv2.in_channels, conv2.out_channels) == (groups, mid, mid)
