"""The contract every named variant keeps, run over the whole variants table.

A new family is covered by adding its line to ``vidlab.models.variants.FAMILIES``. Every
variant: shapes, backward, eval determinism, the features/head split and ``reset_classifier``
(one test, one build). Every distinct architecture (variants that differ only in classes,
checkpoint or sampling share one): ONNX parity. One variant per family: a ``torch.compile``
graph without breaks, the same logits in channels-last memory format and use as a config
``type``. All at a tiny input: 32 px, the variant's frames (at most 8 for a 3D clip, whose
convolutions take any length), or the full clip of a network that takes no other
(``default_cfg.fixed_size``). Skeleton GCNs (``default_cfg.input_kind == 'keypoints'``) keep
the same contract on keypoints ``(N, M, T, V, C)``: float N(0, 1) coordinates of the
variant's persons and joints, 16 frames.
"""

import functools
import sys
import types

import pytest
import torch
import torch.nn as nn

from vidlab.models import BaseRecognizer, create_model, list_models
from vidlab.models import variants as V
from vidlab.models.recognizer import RecognizerOutput
from vidlab.tasks.recognition import RecognitionTask

NAMES = list_models()


def _shape(name: str) -> tuple[int, ...]:
    """``(C, T, H, W)`` of a test clip, ``(C, T, F)`` of audio features (see the module
    docstring)."""
    cfg = V.find_variant(name).default_cfg
    if cfg.input_kind == "keypoints":  # (M, T, V, C): persons, frames, joints, coordinates
        m, t, v, c = cfg.clip_shape
        return (m, min(t, 16), v, c)
    if len(cfg.clip_shape) == 3:  # audio features (C, T, F): 32 frames of 32 mel bins
        return (cfg.clip_shape[0], 32, 32)
    if cfg.fixed_size:
        return cfg.clip_shape
    c, t = cfg.clip_shape[:2]
    if cfg.sampling[0] > 1:  # a 3D clip (clip_len > 1): any length works
        t = min(t, 8)
    return (c, t, 32, 32)


def _clips(name: str, n: int = 2) -> torch.Tensor:
    torch.manual_seed(1)
    if V.find_variant(name).default_cfg.input_kind == "keypoints":
        return torch.randn(n, *_shape(name))  # (N, M, T, V, C) float keypoints
    return torch.randint(0, 256, (n, *_shape(name)), dtype=torch.uint8)


def _model(name: str, num_classes: int = 5) -> BaseRecognizer:
    torch.manual_seed(0)
    return create_model(name, num_classes=num_classes)


def test_table_names_every_family_and_its_variants():
    assert {"tsn_r18_1x1x8", "tsn_r50_1x1x8", "tsm_r18_1x1x8", "tsm_r50_1x1x8"} <= set(NAMES)
    for family in V.FAMILIES:
        members = [n for n in NAMES if n.split("_", 1)[0] == family]
        assert members, f"family {family!r} has no variant"
    for name in NAMES:
        assert name.split("_", 1)[0] in V.FAMILIES, name
        assert isinstance(V.find_variant(name).default_cfg, V.VariantCfg)
    assert V.find_variant("tsm_r50_1x1x9") is None and V.find_variant("nosuch_x") is None
    with pytest.raises(ValueError, match="Did you mean 'tsm_r50_1x1x8'"):
        create_model("tsm_r50_1x1x9")


def test_a_new_family_is_one_line_in_the_table(monkeypatch):
    family = types.ModuleType("vidlab_test_family")

    @V.variant(clip_shape=(3, 4, 64, 64), num_classes=3)
    def toy_tiny(num_classes: int = 3):
        return nn.Linear(2, num_classes)

    family.toy_tiny = toy_tiny
    monkeypatch.setitem(sys.modules, family.__name__, family)
    monkeypatch.setitem(V.FAMILIES, "toy", family.__name__)
    assert "toy_tiny" in list_models()
    model = create_model("toy_tiny")
    assert model.out_features == 3  # the variant's default_cfg.num_classes
    assert model.default_cfg.clip_shape == (3, 4, 64, 64)


def _family(name: str) -> str:
    return name.split("_", 1)[0]


# The first variant of each family (sorted names): compile and config-type checks.
FAMILY_FIRSTS = sorted({_family(n): n for n in reversed(NAMES)}.values())


@functools.cache
def _architecture(name: str) -> tuple:
    """What the variant builds, apart from its classifier: state-dict shapes and test clip."""
    with torch.device("meta"):  # no memory, no init work
        model = create_model(name, num_classes=5)
    return (
        type(model).__name__,
        _shape(name),
        tuple((k, tuple(v.shape)) for k, v in model.state_dict().items()),
    )


def _same_as(name: str) -> str:
    """The first variant (sorted names) with the same architecture as ``name``."""
    return next(n for n in NAMES if _architecture(n) == _architecture(name))


@pytest.mark.parametrize("name", NAMES)
def test_contract(name):
    model = _model(name)
    assert model.default_cfg == V.find_variant(name).default_cfg
    clips = _clips(name)

    # train: shape, dtype, a gradient for every trainable parameter; a neck with an auxiliary
    # head (TPN) adds its logits to the output and its term to the loss (the engine's sum)
    model.train()
    outputs = model(clips)
    logits = outputs.logits if isinstance(outputs, RecognizerOutput) else outputs
    assert logits.shape == (2, 5) and logits.dtype == torch.float32
    if isinstance(outputs, RecognizerOutput):
        assert outputs.aux_logits.shape == (2, 5)
    RecognitionTask().loss(model, outputs, torch.tensor([4, 0])).backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    # a model may name parameters clips never reach (OmniSource's image classifier)
    unused = tuple(getattr(model, "params_unused_by_clips", ()))
    missing = [n for n, p in trainable if p.grad is None and not n.startswith(unused)]
    assert not missing, f"no gradient for {missing[:5]}"
    assert next(p for _, p in trainable).grad.abs().sum() > 0

    # eval: deterministic, forward == forward_head(forward_features), pre_logits
    model.eval()
    with torch.no_grad():
        logits = model(clips)
        feats = model.forward_features(clips)
        assert torch.equal(model.forward_head(feats), logits)
        assert torch.equal(model.forward_head(model.forward_features(clips)), logits)
        pooled = model.forward_head(feats, pre_logits=True)
    assert pooled.shape == (2, model.num_features)
    # the classifier sees exactly the pooled features (up to the order of averaging); a head
    # without a single classifier layer (TRN: an MLP per relation scale) names none
    if model.default_cfg.classifier is not None:
        fc = model.get_submodule(model.default_cfg.classifier)
        assert torch.allclose(fc(pooled), logits, rtol=1e-4, atol=1e-4)

    # reset_classifier: a new classifier (and auxiliary classifier), nothing else touched
    new = ("cls_head", "aux_head.fc.")
    before = {k: v.clone() for k, v in model.state_dict().items() if not any(p in k for p in new)}
    model.reset_classifier(3)
    if model.default_cfg.classifier is not None:
        fc = model.get_submodule(model.default_cfg.classifier)
        assert isinstance(fc, nn.Linear) and fc.out_features == 3
        assert fc.in_features == model.num_features
    assert model.num_classes == 3
    with torch.no_grad():
        assert model(clips).shape == (2, 3)
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())


@pytest.mark.parametrize("name", FAMILY_FIRSTS)
def test_compiles_to_one_graph(name):
    # Dynamo caches compiled code per code object (Recognizer3D.forward is shared by every 3D
    # variant) and would give up after its recompile limit, or trace with dynamic shapes after
    # other frame counts: start each variant from an empty cache.
    torch._dynamo.reset()
    model = _model(name).eval()
    clips = _clips(name).float()
    compiled = torch.compile(model, backend="eager", fullgraph=True)  # fails on a graph break
    with torch.no_grad():
        assert torch.allclose(compiled(clips), model(clips), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", FAMILY_FIRSTS)
def test_channels_last_gives_the_same_logits(name):
    """``channels_last=True`` as the engine applies it: channels_last(_3d) weights for a
    convnet, channels_last_3d clips for a 3D one; the same logits as contiguous tensors."""
    from vidlab.engine.build import set_memory_format

    model = _model(name).eval()
    clips = _clips(name)
    with torch.no_grad():
        want = model(clips)
    fmt = set_memory_format(model)
    if fmt is None:
        pytest.skip("no convolutions: the memory format does not apply")
    if fmt == "channels_last_3d":
        assert any(p.dim() == 5 for p in model.parameters())
        assert all(
            p.is_contiguous(memory_format=torch.channels_last_3d)
            for p in model.parameters()
            if p.dim() == 5
        )
        if clips.dim() == 5 and V.find_variant(name).default_cfg.input_kind != "keypoints":
            clips = clips.contiguous(memory_format=torch.channels_last_3d)
    with torch.no_grad():
        got = model(clips)
    scale = max(1.0, want.abs().max().item())
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.parametrize("name", NAMES)
def test_onnx_export_parity(name, tmp_path):
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from vidlab.export import export_onnx

    if _same_as(name) != name:
        pytest.skip(f"the same architecture as {_same_as(name)}, exported there")
    model = _model(name)
    with torch.no_grad():  # deep nets at random init give logits in the hundreds
        scale = max(1.0, model.eval()(_clips(name, 1)).abs().max().item())
    model.train()
    path = tmp_path / f"{name}.onnx"
    resized = name.split("_", 1)[0] in _POS_RESIZED_AT_32
    result = export_onnx(model, path, clips_shape=(1, *_shape(name)), check_ops=not resized)
    assert result["max_abs_diff"] < 1e-4 * scale  # float32 rounding, relative to the logits
    assert model.training  # mode restored
    if resized:  # that bicubic Resize is the one thing TensorRT's parser would reject
        from vidlab.export import UnsupportedOpError, check_onnx_ops

        with pytest.raises(
            UnsupportedOpError, match=r"uses 1 op type\(s\).*: Resize \(mode 'cubic'"
        ):
            check_onnx_ops(path)


# At 32 px these ViTs resize their position tables bicubically in the graph (MMAction2's
# interpolation), a Resize mode TensorRT 10.1 lacks; at their own input size there is no
# Resize (uniformerv2_b16_u8 and videomae_v2_vit_s_16x4x1 checked at 224 px).
_POS_RESIZED_AT_32 = {"uniformerv2", "videomae"}


@pytest.mark.parametrize("name", FAMILY_FIRSTS)
def test_variant_is_a_config_type(name):
    from vidlab.config import build, validate

    node = {"model": {"type": name, "num_classes": 5}}
    validate(node)
    torch.manual_seed(0)
    model = build(node["model"], key_path="model")
    reference = _model(name)
    assert type(model) is type(reference) and model.default_cfg == reference.default_cfg
    assert model.state_dict().keys() == reference.state_dict().keys()
    for key, value in reference.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
