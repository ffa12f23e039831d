"""MobileOne's deploy-time reparameterisation: fused outputs equal the branches' outputs."""

import torch
import torch.nn as nn

from vidlab.models.mobileone import MobileOne, MobileOneTSM

ARCH = dict(  # small, with several conv branches and SE blocks
    num_blocks=[1, 2, 1, 1],
    width_factor=[0.5, 0.5, 0.5, 0.5],
    num_conv_branches=[3, 2, 2, 1],
    num_se_blocks=[0, 1, 0, 1],
)


def _randomize_norms(model: nn.Module) -> None:
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.weight.data = 1 + 0.2 * torch.randn(m.weight.shape, generator=gen)
            m.bias.data = 0.1 * torch.randn(m.bias.shape, generator=gen)
            m.running_mean = 0.1 * torch.randn(m.running_mean.shape, generator=gen)
            m.running_var = 0.5 + torch.rand(m.running_var.shape, generator=gen)


def test_switch_to_deploy_keeps_outputs():
    torch.manual_seed(0)
    model = MobileOne(ARCH, out_indices=(1, 3)).eval()
    _randomize_norms(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        model.switch_to_deploy()
        after = model(x)
    assert model.deploy and not any("branch_conv_list" in k for k in model.state_dict())
    for a, b in zip(after, before, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # the fused model is what deploy=True builds: same keys and shapes
    deployed = MobileOne(ARCH, out_indices=(1, 3), deploy=True)
    assert {k: v.shape for k, v in deployed.state_dict().items()} == {
        k: v.shape for k, v in model.state_dict().items()
    }


def test_tsm_switch_to_deploy_through_the_shift_wrappers():
    torch.manual_seed(1)
    model = MobileOneTSM(ARCH, num_segments=4).eval()
    _randomize_norms(model)
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        before = model(x)
        model.switch_to_deploy()
        torch.testing.assert_close(model(x), before, rtol=1e-5, atol=1e-5)
    assert "stage1.0.net.branch_reparam.weight" in model.state_dict()


def test_training_weights_load_into_the_deployed_form():
    torch.manual_seed(2)
    trained = MobileOneTSM(ARCH, num_segments=4).eval()
    _randomize_norms(trained)
    plain = {  # a 2D ImageNet file: no TSM wrappers, classifier keys under backbone.
        "backbone." + k.replace(".net.", "."): v for k, v in trained.state_dict().items()
    }
    deployed = MobileOneTSM(ARCH, num_segments=4, deploy=True).eval()
    deployed.pretrained = plain  # what init_cfg=dict(type='Pretrained', ...) names
    report = deployed.init_weights()
    assert report.ok, report
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), trained(x), rtol=1e-5, atol=1e-5)
