import pytest
import torch

from vidlab.config import build
from vidlab.models.blending import CutmixBlending, MixupBlending, RandomBatchAugment
from vidlab.models.preprocess import ActionDataPreprocessor

MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def test_mixup_mixes_clips_and_labels_with_the_same_lambda():
    torch.manual_seed(0)
    # each clip is constant = its index, so a mixed clip reveals lam and the partner
    clips = torch.arange(4.0).view(4, 1, 1, 1, 1).expand(4, 3, 2, 4, 4).contiguous()
    labels = torch.tensor([0, 1, 2, 3])
    mixed, soft = MixupBlending(num_classes=5, alpha=0.4)(clips, labels)
    assert mixed.shape == clips.shape and soft.shape == (4, 5)
    assert torch.allclose(soft.sum(1), torch.ones(4))
    expected = soft @ torch.arange(5.0)  # the label mix predicts the pixel mix
    assert torch.allclose(mixed[:, 0, 0, 0, 0], expected, atol=1e-5)
    assert torch.equal(clips[:, 0, 0, 0, 0], torch.arange(4.0))  # input untouched


def test_cutmix_label_weights_equal_pasted_area():
    torch.manual_seed(3)
    clips = (
        torch.arange(4.0).view(4, 1, 1, 1, 1, 1).expand(4, 2, 3, 2, 8, 8).contiguous()
    )  # (N, V, C, T, H, W)
    mixed, soft = CutmixBlending(num_classes=4, alpha=1.0)(clips, torch.tensor([0, 1, 2, 3]))
    assert torch.allclose(soft.sum(1), torch.ones(4))
    # the weight of each class is the fraction of the clip's pixels that came from it
    fractions = torch.stack([(mixed == k).flatten(1).float().mean(1) for k in range(4)], dim=1)
    assert torch.allclose(soft, fractions, atol=1e-6)
    assert (soft.max(1).values < 1).any()  # something was pasted


def test_blending_keeps_soft_labels_and_casts_uint8():
    clips = torch.zeros(2, 3, 1, 4, 4, dtype=torch.uint8)
    soft = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    mixed, out = MixupBlending(3)(clips, soft)
    assert mixed.dtype == torch.float32
    assert torch.allclose(out.sum(1), torch.ones(2))


def test_random_batch_augment():
    torch.manual_seed(0)
    aug = build(
        dict(
            type="RandomBatchAugment",
            augments=[dict(type="MixupBlending", num_classes=3, alpha=0.2), CutmixBlending(3)],
            probs=[0.0, 0.0],
        )
    )
    assert aug.num_classes == 3
    clips = torch.randn(2, 3, 1, 4, 4)
    out, labels = aug(clips, torch.tensor([0, 2]))  # probability 1 of doing nothing
    assert torch.equal(out, clips)
    assert torch.equal(labels, torch.tensor([[1.0, 0, 0], [0, 0, 1.0]]))
    with pytest.raises(ValueError, match="same length"):
        RandomBatchAugment([MixupBlending(3)], probs=[0.5, 0.5])
    with pytest.raises(ValueError, match="sum to"):
        RandomBatchAugment([MixupBlending(3), MixupBlending(3)], probs=[0.8, 0.5])


def test_preprocess_normalizes_uint8_and_float():
    pre = ActionDataPreprocessor(mean=MEAN, std=STD)
    assert pre.state_dict() == {}  # buffers are not persistent
    assert pre.mean.shape == (1, 3, 1, 1, 1)
    clips = torch.full((1, 3, 2, 2, 2), 200, dtype=torch.uint8)
    out = pre(clips)
    assert out.dtype == torch.float32
    expected = torch.tensor([(200 - m) / s for m, s in zip(MEAN, STD)])
    assert torch.allclose(out[0, :, 0, 0, 0], expected)
    assert torch.allclose(pre(clips.float()), out)
    # no mean/std: only a cast
    assert torch.equal(ActionDataPreprocessor()(clips), clips.float())


def test_preprocess_to_rgb_and_errors():
    pre = ActionDataPreprocessor(mean=[0, 0, 0], std=[1, 1, 1], to_rgb=True)
    clips = torch.arange(3.0).view(1, 3, 1, 1, 1)
    assert pre(clips).flatten().tolist() == [2.0, 1.0, 0.0]
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        pre(torch.zeros(1, 2, 3, 1, 1, 1))
    with pytest.raises(ValueError, match="both mean and std"):
        ActionDataPreprocessor(mean=MEAN)


def test_preprocess_builds_blending_from_a_config():
    node = dict(type="MixupBlending", num_classes=5, alpha=0.2)
    pre = build(dict(type="ActionDataPreprocessor", blending=node))
    assert isinstance(pre.blending, MixupBlending) and pre.blending.num_classes == 5
    # In Python, children are passed built; an unbuilt config dict is a clear error.
    with pytest.raises(TypeError, match=r"blending=.*config dict.*vidlab.config.build"):
        ActionDataPreprocessor(blending=node)
    with pytest.raises(TypeError, match=r"augments\[0\].*config dict"):
        RandomBatchAugment([node])
