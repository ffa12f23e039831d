"""TimeSformer (Bertasius et al., 2021): MMAction2's ``TimeSformer`` backbone, its three
attention types, the named variants and converters from timm ViT and Hugging Face weights.

Each frame is cut into 16x16 patches (a Conv2d per frame), a class token and a spatial position
embedding are added per frame and, unless ``attention_type='space_only'``, a time embedding per
patch; tokens are then ordered patch-major ``(p t)``, as MMAction2's. ``divided_space_time``
blocks attend over time (per patch, no class token), then over space (per frame, with the
class token, whose per-frame outputs are averaged), then an FFN; ``joint_space_time`` attends
over all tokens at once; ``space_only`` runs a ViT per frame and averages the frames. Module
names mirror MMAction2's MMCV transformer layers (``transformer_layers.layers.N.attentions.0
.attn.in_proj_weight``, ``ffns.0.layers.0.0.weight``, ``norms.0``), so its checkpoints load
as they are. Attention runs through ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from vidlab.compat.layers import build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.heads.timesformer import TimeSformerHead
from vidlab.models.layers.drop_path import DropPath
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.variants import variant
from vidlab.models.videomae import FFN

logger = logging.getLogger(__name__)

ATTENTION_TYPES = ("divided_space_time", "space_only", "joint_space_time")


class SelfAttention(nn.Module):
    """``nn.MultiheadAttention``'s parameters (``in_proj_weight``, ``in_proj_bias``,
    ``out_proj``) for batch-first self-attention, computed with SDPA."""

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.attn_drop = attn_drop
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dims, embed_dims))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dims))
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        nn.init.xavier_uniform_(self.in_proj_weight)  # as nn.MultiheadAttention
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # (B, N, 3C)
        q, k, v = qkv.reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)  # (B, h, N, d)
        drop = self.attn_drop if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        return self.out_proj(x.transpose(1, 2).reshape(b, n, c))  # (B, N, C)


def _drop_path(rate: float) -> nn.Module:
    return DropPath(rate) if rate > 0 else nn.Identity()


class MultiheadAttention(nn.Module):
    """MMCV's ``MultiheadAttention`` as a pre-norm layer uses it: ``identity + drop(attn(x))``."""

    def __init__(self, embed_dims: int, num_heads: int, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.attn = SelfAttention(embed_dims, num_heads)
        self.proj_drop = nn.Dropout(0.0)
        self.dropout_layer = _drop_path(drop_path_rate)

    def forward(self, x: Tensor, identity: Tensor) -> Tensor:
        return identity + self.dropout_layer(self.proj_drop(self.attn(x)))


class DividedTemporalAttentionWithNorm(nn.Module):
    """Attention over the frames of each patch (class token untouched), then ``temporal_fc``
    (zero at init, so a block starts as its image ViT)."""

    def __init__(
        self, embed_dims: int, num_heads: int, num_frames: int, drop_path_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = SelfAttention(embed_dims, num_heads)
        self.proj_drop = nn.Dropout(0.0)
        self.dropout_layer = _drop_path(drop_path_rate)
        self.temporal_fc = nn.Linear(embed_dims, embed_dims)
        nn.init.zeros_(self.temporal_fc.weight)
        nn.init.zeros_(self.temporal_fc.bias)

    def forward(self, x: Tensor, t: int) -> Tensor:
        cls_token, tokens = x[:, :1], x[:, 1:]  # (B, 1, C), (B, P*T, C)
        b, pt, c = tokens.shape
        res = self.norm(tokens.reshape(b * (pt // t), t, c))  # (B*P, T, C)
        res = self.dropout_layer(self.proj_drop(self.attn(res)))
        res = self.temporal_fc(res).reshape(b, pt, c)  # (B, P*T, C)
        return torch.cat((cls_token, tokens + res), 1)


class DividedSpatialAttentionWithNorm(nn.Module):
    """Attention over the patches of each frame, each with the class token; the class token's
    per-frame outputs are averaged."""

    def __init__(
        self, embed_dims: int, num_heads: int, num_frames: int, drop_path_rate: float = 0.0
    ) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = SelfAttention(embed_dims, num_heads)
        self.proj_drop = nn.Dropout(0.0)
        self.dropout_layer = _drop_path(drop_path_rate)

    def forward(self, x: Tensor, t: int) -> Tensor:
        cls_token, tokens = x[:, :1], x[:, 1:]  # (B, 1, C), (B, P*T, C)
        b, pt, c = tokens.shape
        p = pt // t
        tokens = tokens.reshape(b, p, t, c).transpose(1, 2).reshape(b * t, p, c)  # (B*T, P, C)
        cls_tokens = cls_token.expand(b, t, c).reshape(b * t, 1, c)
        res = self.norm(torch.cat((cls_tokens, tokens), 1))  # (B*T, 1+P, C)
        res = self.dropout_layer(self.proj_drop(self.attn(res)))
        cls_res = res[:, 0].reshape(b, t, c).mean(1, keepdim=True)  # (B, 1, C)
        res = res[:, 1:].reshape(b, t, p, c).transpose(1, 2).reshape(b, pt, c)  # (B, P*T, C)
        return x + torch.cat((cls_res, res), 1)


class FFNWithNorm(nn.Module):
    """MMCV FFN with a pre-norm and its shortcut: ``x + drop(layers(norm(x)))``."""

    def __init__(self, embed_dims: int, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.layers = FFN(embed_dims, embed_dims * 4).layers
        self.dropout_layer = _drop_path(drop_path_rate)
        self.norm = nn.LayerNorm(embed_dims, eps=1e-6)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.dropout_layer(self.layers(self.norm(x)))


class ResidualFFN(nn.Module):
    """MMCV FFN with its shortcut, after an outer norm: ``identity + drop(layers(x))``."""

    def __init__(self, embed_dims: int, drop_path_rate: float = 0.0) -> None:
        super().__init__()
        self.layers = FFN(embed_dims, embed_dims * 4).layers
        self.dropout_layer = _drop_path(drop_path_rate)

    def forward(self, x: Tensor, identity: Tensor) -> Tensor:
        return identity + self.dropout_layer(self.layers(x))


class TransformerLayer(nn.Module):
    """One block; divided: ``attentions = [temporal, spatial]``, ``ffns = [FFNWithNorm]``;
    joint / space only: ``norms[0]``, ``attentions[0]``, ``norms[1]``, ``ffns[0]``."""

    def __init__(
        self, attention_type: str, embed_dims: int, num_heads: int, num_frames: int, dpr: float
    ) -> None:
        super().__init__()
        self.divided = attention_type == "divided_space_time"
        if self.divided:
            self.attentions = nn.ModuleList(
                [
                    DividedTemporalAttentionWithNorm(embed_dims, num_heads, num_frames, dpr),
                    DividedSpatialAttentionWithNorm(embed_dims, num_heads, num_frames, dpr),
                ]
            )
            self.ffns = nn.ModuleList([FFNWithNorm(embed_dims, dpr)])
        else:
            self.attentions = nn.ModuleList([MultiheadAttention(embed_dims, num_heads, dpr)])
            self.ffns = nn.ModuleList([ResidualFFN(embed_dims, dpr)])
            self.norms = nn.ModuleList(nn.LayerNorm(embed_dims, eps=1e-6) for _ in range(2))

    def forward(self, x: Tensor, t: int) -> Tensor:
        if self.divided:
            x = self.attentions[1](self.attentions[0](x, t), t)
            return self.ffns[0](x)
        x = self.attentions[0](self.norms[0](x), x)
        return self.ffns[0](self.norms[1](x), x)


class TransformerLayerSequence(nn.Module):
    """The blocks (``layers``), optionally recomputed in backward (``with_cp``)."""

    def __init__(self, layers: list[TransformerLayer], with_cp: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.with_cp = with_cp

    def forward(self, x: Tensor, t: int) -> Tensor:
        for layer in self.layers:
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint(layer, x, t, use_reentrant=False)
            else:
                x = layer(x, t)
        return x


class PatchEmbed(nn.Module):
    """Frames to patch tokens: a Conv2d (``projection``) per frame."""

    def __init__(self, img_size: int, patch_size: int, in_channels: int, embed_dims: int):
        super().__init__()
        self.num_patches = (img_size // patch_size) ** 2
        self.projection = nn.Conv2d(in_channels, embed_dims, patch_size, stride=patch_size)
        nn.init.kaiming_normal_(self.projection.weight, mode="fan_in", nonlinearity="linear")
        nn.init.zeros_(self.projection.bias)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, h, w = x.shape
        x = x.transpose(1, 2).reshape(n * t, c, h, w)  # (N*T, C, H, W)
        return self.projection(x).flatten(2).transpose(1, 2)  # (N*T, P, D)


class TimeSformer(nn.Module):
    """MMAction2's ``TimeSformer``: ``(N, C, T, H, W)`` -> class-token features ``(N, D)``.

    Args:
        num_frames: Frames the time embedding is made for.
        img_size: Input size the position embedding is made for.
        patch_size: Patch size.
        pretrained: Weights ``init_weights`` loads: an MMAction2 TimeSformer checkpoint, an
            image ViT in MMAction2's layout (norms renamed and the spatial attention copied to
            the temporal one, as MMAction2 does) or timm's, or a Hugging Face TimeSformer.
        embed_dims: Token width.
        num_heads: Attention heads.
        num_transformer_layers: Blocks.
        in_channels: Input channels.
        dropout_ratio: Dropout after the position and time embeddings.
        transformer_layers: Only None (MMAction2's default layers) is supported.
        attention_type: ``'divided_space_time'``, ``'space_only'`` or ``'joint_space_time'``.
        norm_cfg: The final norm (MMCV config).
        drop_path_rate: Stochastic depth, rising linearly to this value (MMAction2: 0.1, fixed).
        with_cp: Recompute each block in the backward pass (activation checkpointing).

    A clip of another size or length than ``img_size`` / ``num_frames`` gets nearest-neighbour
    interpolated position / time embeddings (as the original TimeSformer code and Hugging Face;
    said once in the log).
    """

    def __init__(
        self,
        num_frames: int,
        img_size: int,
        patch_size: int,
        pretrained: str | None = None,
        embed_dims: int = 768,
        num_heads: int = 12,
        num_transformer_layers: int = 12,
        in_channels: int = 3,
        dropout_ratio: float = 0.0,
        transformer_layers: Mapping | list | None = None,
        attention_type: str = "divided_space_time",
        norm_cfg: Mapping = frozen(type="LN", eps=1e-6),
        drop_path_rate: float = 0.1,
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type={attention_type!r}; use one of {ATTENTION_TYPES}")
        if transformer_layers is not None:
            raise NotImplementedError(
                "TimeSformer(transformer_layers=...): custom MMCV layer configs are not "
                "implemented in vidlab; leave it None (MMAction2's default layers)"
            )
        self.num_frames = num_frames
        self.pretrained = pretrained
        self.embed_dims = embed_dims
        self.num_transformer_layers = num_transformer_layers
        self.attention_type = attention_type
        self.patch_embed = PatchEmbed(img_size, patch_size, in_channels, embed_dims)
        self.grid = img_size // patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dims))
        self.drop_after_pos = nn.Dropout(dropout_ratio)
        if attention_type != "space_only":
            self.time_embed = nn.Parameter(torch.zeros(1, num_frames, embed_dims))
            self.drop_after_time = nn.Dropout(dropout_ratio)
        self.norm = build_norm_layer(dict(norm_cfg), embed_dims)[1]
        rates = torch.linspace(0, drop_path_rate, num_transformer_layers, device="cpu").tolist()
        self.transformer_layers = TransformerLayerSequence(
            [TransformerLayer(attention_type, embed_dims, num_heads, num_frames, r) for r in rates],
            with_cp=with_cp,
        )
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self._said_resized = False

    def init_weights(self):
        """Load ``pretrained`` (see the class docstring) and report what did not fit."""
        from vidlab.models.hf import load_backbone_pretrained

        return load_backbone_pretrained(self, self.pretrained, convert_checkpoint)

    def _say_resized(self, what: str, old, new) -> None:
        if not self._said_resized and not torch.compiler.is_compiling():
            logger.info("TimeSformer: %s interpolated from %s to %s", what, old, new)
            self._said_resized = True

    @staticmethod
    def _nearest(x: Tensor, size: int, dim: int) -> Tensor:
        """``F.interpolate(mode='nearest')`` along ``dim`` as an index (ONNX's Resize
        rounds the source index differently at integer scales)."""
        scale = x.shape[dim] / size
        idx = (torch.arange(size, device=x.device, dtype=torch.float32) * scale).floor()
        return x.index_select(dim, idx.clamp(max=x.shape[dim] - 1).long())

    def _pos_embed(self, h: int, w: int) -> Tensor:
        if (h, w) == (self.grid, self.grid):
            return self.pos_embed  # (1, 1+P, D)
        self._say_resized("position embedding (h, w)", (self.grid, self.grid), (h, w))
        cls_pos, pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        pos = pos.reshape(1, self.grid, self.grid, -1)  # (1, h0, w0, D)
        pos = self._nearest(self._nearest(pos, h, 1), w, 2).flatten(1, 2)  # (1, h*w, D)
        return torch.cat((cls_pos, pos), 1)  # (1, 1+h*w, D)

    def _time_embed(self, t: int) -> Tensor:
        if t == self.num_frames:
            return self.time_embed  # (1, T, D)
        self._say_resized("time embedding (frames)", self.num_frames, t)
        return self._nearest(self.time_embed, t, 1)  # (1, t, D)

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, h, w = x.shape
        ps = self.patch_embed.projection.kernel_size
        x = self.patch_embed(x)  # (N*T, P, D)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), 1)  # (N*T, 1+P, D)
        x = self.drop_after_pos(x + self._pos_embed(h // ps[0], w // ps[1]))
        if self.attention_type != "space_only":
            cls_tokens = x[:n, :1]  # frame 0's class tokens (all frames' are the same)
            x = x[:, 1:]
            p, d = x.shape[1:]
            x = x.reshape(n, t, p, d).transpose(1, 2).reshape(n * p, t, d)  # (N*P, T, D)
            x = self.drop_after_time(x + self._time_embed(t))
            x = torch.cat((cls_tokens, x.reshape(n, p * t, d)), 1)  # (N, 1+P*T, D), (p t)
        x = self.transformer_layers(x, t)
        if self.attention_type == "space_only":
            x = x.reshape(n, t, *x.shape[1:]).mean(1)  # (N, 1+P, D): frames averaged
        return self.norm(x)[:, 0]  # (N, D)


# --- other zoos ------------------------------------------------------------------------------
def _mmaction_image_vit(state: dict[str, Tensor], divided: bool) -> dict[str, Tensor]:
    """What MMAction2's ``init_weights`` does to an image ViT in its layout: for divided
    attention, ``norms.0`` / ``norms.1`` become ``attentions.0.norm`` / ``ffns.0.norm``, and
    ``attentions.0`` is copied to ``attentions.1``."""
    if not divided:
        return dict(state)
    out = {}
    for key, value in state.items():
        if "norms" in key:
            key = key.replace("norms.0", "attentions.0.norm").replace("norms.1", "ffns.0.norm")
        out[key] = value
    for key in [k for k in out if "attentions.0" in k]:
        out[key.replace("attentions.0", "attentions.1")] = out[key].clone()
    return out


def _timm_vit(state: Mapping[str, Tensor], divided: bool) -> dict[str, Tensor]:
    """timm's ViT-B/16 names -> MMAction2's image-ViT names (then as ``_mmaction_image_vit``)."""
    names = {
        "norm1": "norms.0",
        "attn.qkv.weight": "attentions.0.attn.in_proj_weight",
        "attn.qkv.bias": "attentions.0.attn.in_proj_bias",
        "attn.proj": "attentions.0.attn.out_proj",
        "norm2": "norms.1",
        "mlp.fc1": "ffns.0.layers.0.0",
        "mlp.fc2": "ffns.0.layers.1",
    }
    out = {}
    for key, value in state.items():
        if key.startswith("blocks."):
            i, rest = key[len("blocks.") :].split(".", 1)
            for old, new in names.items():
                if rest.startswith(old):
                    rest = new + rest[len(old) :]
                    break
            key = f"transformer_layers.layers.{i}.{rest}"
        elif key.startswith("patch_embed.proj."):
            key = "patch_embed.projection." + key.rsplit(".", 1)[1]
        elif key.startswith("head."):
            continue  # ImageNet classifier
        out[key] = value
    return _mmaction_image_vit(out, divided)


_HF_LAYER = {
    # divided: temporal attention, spatial attention, FFN (with its norm)
    "temporal_layernorm": "attentions.0.norm",
    "temporal_attention.attention.qkv.weight": "attentions.0.attn.in_proj_weight",
    "temporal_attention.attention.qkv.bias": "attentions.0.attn.in_proj_bias",
    "temporal_attention.output.dense": "attentions.0.attn.out_proj",
    "temporal_dense": "attentions.0.temporal_fc",
    "layernorm_before": "attentions.1.norm",
    "attention.attention.qkv.weight": "attentions.1.attn.in_proj_weight",
    "attention.attention.qkv.bias": "attentions.1.attn.in_proj_bias",
    "attention.output.dense": "attentions.1.attn.out_proj",
    "layernorm_after": "ffns.0.norm",
    "intermediate.dense": "ffns.0.layers.0.0",
    "output.dense": "ffns.0.layers.1",
}
_HF_JOINT = {
    "attentions.1.norm": "norms.0",
    "attentions.1.attn": "attentions.0.attn",
    "ffns.0.norm": "norms.1",
}


def convert_hf(state: Mapping[str, Tensor], divided: bool = True) -> dict[str, Tensor] | None:
    """Hugging Face ``TimesformerForVideoClassification`` / ``TimesformerModel`` keys ->
    vidlab's recognizer keys; None if ``state`` is not that layout."""
    if not any(k.startswith(("timesformer.", "embeddings.time_embeddings")) for k in state):
        return None
    embeddings = {
        "embeddings.cls_token": "backbone.cls_token",
        "embeddings.position_embeddings": "backbone.pos_embed",
        "embeddings.time_embeddings": "backbone.time_embed",
        "layernorm.weight": "backbone.norm.weight",
        "layernorm.bias": "backbone.norm.bias",
    }
    out = {}
    for key, value in state.items():
        k = key.removeprefix("timesformer.")
        if k in embeddings:
            k = embeddings[k]
        elif k.startswith("embeddings.patch_embeddings.projection."):
            k = "backbone.patch_embed.projection." + k.rsplit(".", 1)[1]
        elif k.startswith("encoder.layer."):
            i, rest = k[len("encoder.layer.") :].split(".", 1)
            part = next((p for p in _HF_LAYER if rest.startswith(p)), None)
            if part is not None:
                rest = _HF_LAYER[part] + rest[len(part) :]
            if not divided:
                part = next((p for p in _HF_JOINT if rest.startswith(p)), None)
                if part is not None:
                    rest = _HF_JOINT[part] + rest[len(part) :]
            k = f"backbone.transformer_layers.layers.{i}.{rest}"
        elif k.startswith("classifier."):
            k = "cls_head.fc_cls." + k.split(".", 1)[1]
        out[k] = value
    return out


def convert_checkpoint(state: Mapping[str, Tensor], module: nn.Module) -> dict | None:
    """``load_pretrained``'s converter: Hugging Face, timm or MMAction2 image-ViT layouts to
    the backbone's names; None for a TimeSformer in MMAction2's own names."""
    divided = module.attention_type == "divided_space_time"
    converted = convert_hf(state, divided)
    if converted is not None:
        out = {k[len("backbone.") :]: v for k, v in converted.items() if k.startswith("backbone.")}
    elif any(k.startswith("blocks.") for k in state):
        out = _timm_vit(state, divided)
    elif any("norms." in k for k in state):
        out = _mmaction_image_vit(dict(state), divided)
    else:
        out = None
    return _fit_embeddings(dict(state) if out is None else out, module, changed=out is not None)


def _fit_embeddings(state: dict[str, Tensor], module: nn.Module, changed: bool) -> dict | None:
    """Resize a checkpoint's time / position embeddings made for other frames or another
    size to the model's (nearest, as at run time; said in the log). None when nothing changed
    (the names are the model's own)."""
    time, pos = state.get("time_embed"), state.get("pos_embed")
    if time is not None and hasattr(module, "time_embed") and time.shape != module.time_embed.shape:
        logger.info(
            "TimeSformer: checkpoint's time embedding for %d frames resized to %d",
            time.shape[1],
            module.num_frames,
        )
        state["time_embed"] = module._nearest(time, module.num_frames, 1)
        changed = True
    if pos is not None and pos.shape != module.pos_embed.shape:
        grid = int(round((pos.shape[1] - 1) ** 0.5))
        if grid * grid == pos.shape[1] - 1:
            logger.info(
                "TimeSformer: checkpoint's position embedding for %dx%d patches resized to %dx%d",
                grid,
                grid,
                module.grid,
                module.grid,
            )
            patches = pos[:, 1:].reshape(1, grid, grid, -1)
            patches = module._nearest(module._nearest(patches, module.grid, 1), module.grid, 2)
            state["pos_embed"] = torch.cat((pos[:, :1], patches.flatten(1, 2)), 1)
            changed = True
    return state if changed else None


def from_hf_config(config: Mapping, num_classes: int | None = None) -> Recognizer3D:
    """The recognizer a Hugging Face ``TimesformerConfig`` (config.json as a dict) describes."""
    attention_type = config.get("attention_type", "divided_space_time")
    if attention_type == "space_only":  # HF classifies each frame's class token separately
        raise NotImplementedError(
            "Hugging Face TimeSformer with attention_type='space_only' is not converted "
            "(transformers gives one row of logits per frame); divided and joint are"
        )
    if config.get("hidden_act", "gelu") != "gelu" or not config.get("qkv_bias", True):
        raise ValueError("TimeSformer config.json: only hidden_act='gelu' with qkv_bias=True")
    if config["intermediate_size"] != 4 * config["hidden_size"]:
        raise ValueError("TimeSformer config.json: intermediate_size must be 4 x hidden_size")
    eps = config.get("layer_norm_eps", 1e-6)
    if eps != 1e-6:
        raise ValueError(f"TimeSformer config.json: layer_norm_eps={eps}; MMAction2's is 1e-6")
    backbone = TimeSformer(
        num_frames=config.get("num_frames", 8),
        img_size=config.get("image_size", 224),
        patch_size=config.get("patch_size", 16),
        embed_dims=config["hidden_size"],
        num_heads=config["num_attention_heads"],
        num_transformer_layers=config["num_hidden_layers"],
        in_channels=config.get("num_channels", 3),
        attention_type=attention_type,
        drop_path_rate=config.get("drop_path_rate", 0.0),
    )
    if num_classes is None:
        num_classes = len(config.get("id2label") or {}) or 400
    return _recognizer(backbone, num_classes, config["hidden_size"], mean=(127.5,) * 3)


# --- variants --------------------------------------------------------------------------------
def _recognizer(
    backbone: TimeSformer, num_classes: int, width: int, mean=(127.5,) * 3, std=(127.5,) * 3
) -> Recognizer3D:
    head = TimeSformerHead(num_classes=num_classes, in_channels=width, average_clips="prob")
    pre = ActionDataPreprocessor(mean=mean, std=std, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _timesformer(num_classes: int, attention_type: str, **kwargs) -> Recognizer3D:
    """ViT-B/16 TimeSformer, 8 frames at 224 px, as ``configs/recognition/timesformer``."""
    cfg: dict = dict(
        num_frames=8,
        img_size=224,
        patch_size=16,
        embed_dims=768,
        in_channels=3,
        dropout_ratio=0.0,
        attention_type=attention_type,
        norm_cfg=dict(type="LN", eps=1e-6),
    )
    cfg.update(kwargs)
    return _recognizer(TimeSformer(**cfg), num_classes, cfg["embed_dims"])


def _url(kind: str, stamp: str) -> str:
    config = f"timesformer_{kind}_8xb8-8x32x1-15e_kinetics400-rgb"
    return (
        "https://download.openmmlab.com/mmaction/v1.0/recognition/timesformer/"
        f"{config}/{config}_{stamp}.pth"
    )


_CLIP = dict(clip_shape=(3, 8, 224, 224), sampling=(8, 32, 1), mean=(127.5,) * 3, std=(127.5,) * 3)


@variant(**_CLIP, url=_url("divST", "20220815-a4d0d01f"))
def timesformer_divst_8x32x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """TimeSformer ViT-B/16, divided space-time attention (Kinetics-400: 77.69 top-1)."""
    return _timesformer(num_classes, "divided_space_time", **kwargs)


@variant(**_CLIP, url=_url("jointST", "20220815-8022d1c0"))
def timesformer_jointst_8x32x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """TimeSformer ViT-B/16, joint space-time attention (76.95 top-1)."""
    return _timesformer(num_classes, "joint_space_time", **kwargs)


@variant(**_CLIP, url=_url("spaceOnly", "20220815-78f05367"))
def timesformer_spaceonly_8x32x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """TimeSformer ViT-B/16, space-only attention, frames averaged (76.93 top-1)."""
    return _timesformer(num_classes, "space_only", **kwargs)
