"""VideoMAE v1 / v2 fine-tuned ViTs (Tong et al., 2022; Wang et al., 2023): MMAction2's
``VisionTransformer`` backbone with a ``TimeSformerHead``, its variants and a Hugging Face
converter.

The clip is cut into tubelets (``tubelet_size`` frames x ``patch_size``^2 pixels, one Conv3d),
position embeddings are added (a fixed sinusoid table, a buffer that MMAction2 also saves, or a
learned one), plain pre-norm transformer blocks follow, and the tokens are mean-pooled through
``fc_norm`` (``use_mean_pooling=True``, every zoo config) or the first token is taken after
``norm``. Attention runs through ``F.scaled_dot_product_attention``. Key names mirror
MMAction2's (``blocks.N.attn.{qkv.weight, q_bias, v_bias}``, ``blocks.N.mlp.layers.0.0``), so
its checkpoints load as they are; Hugging Face ``VideoMAEForVideoClassification`` folders are
converted by :func:`convert_hf` / :func:`from_hf_config` (see ``vidlab.models.hf``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from vidlab.compat.layers import build_activation_layer, build_norm_layer
from vidlab.models._checks import frozen
from vidlab.models.heads.timesformer import TimeSformerHead
from vidlab.models.layers.drop_path import DropPath
from vidlab.models.layers.init import trunc_normal_init_
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.variants import IMAGENET_MEAN, IMAGENET_STD, variant

logger = logging.getLogger(__name__)

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/"


def sinusoid_table(num_positions: int, embed_dims: int) -> Tensor:
    """The fixed position table of "Attention is all you need": ``(1, num_positions, D)``,
    sin on even and cos on odd dims, computed in float64 as MMAction2 does."""
    dims = torch.arange(embed_dims, dtype=torch.float64)
    freq = torch.pow(10000, -(dims - dims % 2) / embed_dims).view(1, -1)
    table = torch.arange(num_positions, dtype=torch.float64).view(-1, 1) * freq
    table[:, 0::2] = table[:, 0::2].sin()
    table[:, 1::2] = table[:, 1::2].cos()
    return table.to(torch.float32).unsqueeze(0)


class FFN(nn.Module):
    """MMCV's two-layer FFN without its shortcut: ``layers = [[fc, act, drop], fc, drop]``
    (keys ``layers.0.0.weight``, ``layers.1.weight``).

    Args:
        embed_dims: Input and output width.
        feedforward_channels: Hidden width.
        act_cfg: Activation (MMCV config dict).
        ffn_drop: Dropout after the activation and after the second layer.
    """

    def __init__(
        self,
        embed_dims: int,
        feedforward_channels: int,
        act_cfg: Mapping = frozen(type="GELU"),
        ffn_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Sequential(
                nn.Linear(embed_dims, feedforward_channels),
                build_activation_layer(dict(act_cfg)),
                nn.Dropout(ffn_drop),
            ),
            nn.Linear(feedforward_channels, embed_dims),
            nn.Dropout(ffn_drop),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class Attention(nn.Module):
    """Multi-head self-attention with VideoMAE's biases: a learned bias for q and v, none for k.

    Args:
        embed_dims: Token width.
        num_heads: Heads.
        qkv_bias: Learn ``q_bias`` and ``v_bias``.
        qk_scale: Scale of the dot products; None: ``head_dim ** -0.5``.
        attn_drop_rate: Dropout on the attention weights (training only).
        drop_rate: Dropout after the output projection.
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        attn_drop_rate: float = 0.0,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.scale = qk_scale or (embed_dims // num_heads) ** -0.5
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(embed_dims))
            self.v_bias = nn.Parameter(torch.zeros(embed_dims))
        else:
            self.q_bias = self.v_bias = None
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=False)
        self.attn_drop_rate = attn_drop_rate
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(drop_rate)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        bias = None
        if self.q_bias is not None:
            bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = F.linear(x, self.qkv.weight, bias)  # (B, N, 3C)
        q, k, v = qkv.reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)  # (B, h, N, d)
        drop = self.attn_drop_rate if self.training else 0.0
        x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, scale=self.scale)
        x = x.transpose(1, 2).reshape(b, n, c)  # (B, N, C)
        return self.proj_drop(self.proj(x))


class Block(nn.Module):
    """Pre-norm transformer block; ``init_values > 0`` adds LayerScale (``gamma_1/2``)."""

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        init_values: float = 0.0,
        act_cfg: Mapping = frozen(type="GELU"),
        norm_cfg: Mapping = frozen(type="LN", eps=1e-6),
    ) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(dict(norm_cfg), embed_dims)[1]
        self.attn = Attention(embed_dims, num_heads, qkv_bias, qk_scale, attn_drop_rate, drop_rate)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.norm2 = build_norm_layer(dict(norm_cfg), embed_dims)[1]
        self.mlp = FFN(embed_dims, int(embed_dims * mlp_ratio), act_cfg, drop_rate)
        # MMAction2 adds LayerScale only for a float init_values > 0
        if isinstance(init_values, float) and init_values > 0:
            self.gamma_1 = nn.Parameter(init_values * torch.ones(embed_dims))
            self.gamma_2 = nn.Parameter(init_values * torch.ones(embed_dims))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, x: Tensor) -> Tensor:
        if self.gamma_1 is None:
            x = x + self.drop_path(self.attn(self.norm1(x)))
            return x + self.drop_path(self.mlp(self.norm2(x)))
        x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """Tubelets to tokens: one Conv3d (``projection``), flattened in (t, h, w) order."""

    def __init__(self, in_channels: int, embed_dims: int, kernel_size: tuple[int, int, int]):
        super().__init__()
        self.projection = nn.Conv3d(in_channels, embed_dims, kernel_size, stride=kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        x = self.projection(x)  # (N, D, t, h, w)
        return x.flatten(2).transpose(1, 2)  # (N, t*h*w, D)


class VisionTransformer(nn.Module):
    """MMAction2's VideoMAE ``VisionTransformer``: ``(N, C, T, H, W)`` -> ``(N, D)`` features
    (``(N, D, t, h, w)`` with ``return_feat_map``).

    Args:
        img_size: Input size the position table is made for.
        patch_size: Spatial patch size.
        in_channels: Input channels.
        embed_dims: Token width.
        depth: Blocks.
        num_heads: Attention heads.
        mlp_ratio: FFN hidden width / ``embed_dims``.
        qkv_bias: Learn q and v biases.
        qk_scale: Attention scale; None: ``head_dim ** -0.5``.
        drop_rate: Dropout after the position embedding, the attention output and the FFN.
        attn_drop_rate: Dropout on attention weights.
        drop_path_rate: Stochastic depth, rising linearly over the blocks to this value.
        norm_cfg: Norm layers (MMCV config).
        init_values: LayerScale init (a float > 0 enables it).
        use_learnable_pos_emb: Learn the position embedding instead of the sinusoid table.
        num_frames: Frames the position table is made for.
        tubelet_size: Frames per tubelet.
        use_mean_pooling: Mean over tokens then ``fc_norm``; else ``norm`` and the first token.
        pretrained: Weights ``init_weights`` loads: an MMAction2 checkpoint, a VideoMAE one, a
            Hugging Face VideoMAE file or folder.
        return_feat_map: Return the token map ``(N, D, t, h, w)``, not pooled features.
        init_cfg: Accepted for MMAction2 config compatibility (the init is always MMAction2's:
            truncated-normal linears, unit LayerNorms).
        with_cp: Recompute each block in the backward pass (activation checkpointing).
        **kwargs: Ignored, as MMAction2 does.

    A clip of another size or length than ``img_size`` / ``num_frames`` gets an interpolated
    position table (spatially bicubic, as MMAction2; temporally linear; said once in the log).
    """

    _accepts_any_kwargs = True

    def __init__(
        self,
        img_size: int = 224,
        patch_size: int = 16,
        in_channels: int = 3,
        embed_dims: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_scale: float | None = None,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_cfg: Mapping = frozen(type="LN", eps=1e-6),
        init_values: float = 0.0,
        use_learnable_pos_emb: bool = False,
        num_frames: int = 16,
        tubelet_size: int = 2,
        use_mean_pooling: bool = True,
        pretrained: str | None = None,
        return_feat_map: bool = False,
        init_cfg: dict | list | None = None,
        with_cp: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        self.embed_dims = embed_dims
        self.patch_size = patch_size
        self.tubelet_size = tubelet_size
        self.pretrained = pretrained
        self.init_cfg = init_cfg
        self.with_cp = with_cp
        self.return_feat_map = return_feat_map
        self.patch_embed = PatchEmbed(
            in_channels, embed_dims, (tubelet_size, patch_size, patch_size)
        )
        grid = img_size // patch_size
        self.grid_size = (num_frames // tubelet_size, grid, grid)  # (t, h, w) of pos_embed
        num_patches = grid * grid * self.grid_size[0]
        if use_learnable_pos_emb:
            self.pos_embed = nn.Parameter(torch.zeros(1, num_patches, embed_dims))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:  # a buffer MMAction2 saves in its checkpoints
            self.register_buffer("pos_embed", sinusoid_table(num_patches, embed_dims))
        self.pos_drop = nn.Dropout(drop_rate)
        rates = torch.linspace(0, drop_path_rate, depth, device="cpu").tolist()
        self.blocks = nn.ModuleList(
            Block(
                embed_dims,
                num_heads,
                mlp_ratio,
                qkv_bias,
                qk_scale,
                drop_rate,
                attn_drop_rate,
                rates[i],
                init_values,
                norm_cfg=norm_cfg,
            )
            for i in range(depth)
        )
        if use_mean_pooling:
            self.norm = nn.Identity()
            self.fc_norm = build_norm_layer(dict(norm_cfg), embed_dims)[1]
        else:
            self.norm = build_norm_layer(dict(norm_cfg), embed_dims)[1]
            self.fc_norm = None
        self._said_resized = False
        self._init_from_scratch()

    def _init_from_scratch(self) -> None:
        """MMAction2's ``init_cfg``: TruncNormal(std=0.02) linears with zero bias, unit LNs."""
        trunc_normal_init_(self)

    def init_weights(self):
        """Load ``pretrained`` (MMAction2, VideoMAE or Hugging Face layout) and report."""
        from vidlab.models.hf import load_backbone_pretrained

        return load_backbone_pretrained(self, self.pretrained, convert_checkpoint)

    def _pos_embed(self, t: int, h: int, w: int) -> Tensor:
        """The position table for a ``t x h x w`` token grid: ``(1, t*h*w, D)``."""
        if (t, h, w) == self.grid_size:
            return self.pos_embed
        if not self._said_resized and not torch.compiler.is_compiling():
            logger.info(
                "VisionTransformer: position embedding of %s tokens (t, h, w) interpolated to %s",
                self.grid_size,
                (t, h, w),
            )
            self._said_resized = True
        pos = self.pos_embed.reshape(-1, *self.grid_size[1:], self.embed_dims)  # (t0, h0, w0, D)
        if (h, w) != self.grid_size[1:]:  # as MMAction2: bicubic, per frame
            pos = F.interpolate(pos.permute(0, 3, 1, 2), (h, w), mode="bicubic")
            pos = pos.permute(0, 2, 3, 1)  # (t0, h, w, D)
        if t != self.grid_size[0]:
            pos = pos.permute(3, 1, 2, 0).reshape(1, -1, self.grid_size[0])  # (1, D*h*w, t0)
            pos = F.interpolate(pos, t, mode="linear", align_corners=False)
            pos = pos.reshape(self.embed_dims, h, w, t).permute(3, 1, 2, 0)  # (t, h, w, D)
        return pos.reshape(1, t * h * w, self.embed_dims)

    def forward(self, x: Tensor) -> Tensor:
        n, _, t, h, w = x.shape
        t, h, w = t // self.tubelet_size, h // self.patch_size, w // self.patch_size
        x = self.patch_embed(x)  # (N, t*h*w, D)
        x = self.pos_drop(x + self._pos_embed(t, h, w))
        for blk in self.blocks:
            if self.with_cp and self.training and x.requires_grad:
                x = checkpoint(blk, x, use_reentrant=False)
            else:
                x = blk(x)
        x = self.norm(x)
        if self.return_feat_map:
            return x.reshape(n, t, h, w, -1).permute(0, 4, 1, 2, 3)  # (N, D, t, h, w)
        if self.fc_norm is not None:
            return self.fc_norm(x.mean(1))  # (N, D)
        return x[:, 0]  # (N, D)


# --- other zoos ------------------------------------------------------------------------------
_HF_BLOCK = {
    "attention.output.dense": "attn.proj",
    "intermediate.dense": "mlp.layers.0.0",
    "output.dense": "mlp.layers.1",
    "layernorm_before": "norm1",
    "layernorm_after": "norm2",
}


def convert_hf(state: Mapping[str, Tensor]) -> dict[str, Tensor] | None:
    """Hugging Face ``VideoMAEForVideoClassification`` / ``VideoMAEModel`` keys -> vidlab's
    recognizer keys (``backbone.*``, ``cls_head.fc_cls.*``); None if ``state`` is not that
    layout. Separate q/k/v linears become the fused ``qkv`` (k has no bias in VideoMAE)."""
    if not any(k.startswith(("videomae.", "encoder.layer.")) for k in state):
        return None
    out: dict[str, Tensor] = {}
    qkv: dict[str, dict[str, Tensor]] = {}
    for key, value in state.items():
        k = key.removeprefix("videomae.")
        if k.startswith("embeddings.patch_embeddings.projection."):
            out["backbone.patch_embed.projection." + k.rsplit(".", 1)[1]] = value
        elif k.startswith("encoder.layer."):
            i, rest = k[len("encoder.layer.") :].split(".", 1)
            prefix = f"backbone.blocks.{i}."
            if rest.startswith("attention.attention."):
                which, _, leaf = rest[len("attention.attention.") :].partition(".")
                if leaf == "weight":
                    qkv.setdefault(prefix, {})[which] = value
                elif leaf == "bias":  # query.bias / value.bias: MMAction2's q_bias / v_bias
                    out[prefix + f"attn.{which[0]}_bias"] = value
                else:  # older transformers: attention.attention.q_bias / v_bias
                    out[prefix + "attn." + which] = value
            else:
                part, leaf = rest.rsplit(".", 1)
                out[prefix + _HF_BLOCK.get(part, part) + "." + leaf] = value
        elif k.startswith("fc_norm."):
            out["backbone.fc_norm." + k.split(".", 1)[1]] = value
        elif k.startswith("layernorm."):
            out["backbone.norm." + k.split(".", 1)[1]] = value
        elif k.startswith("classifier."):
            out["cls_head.fc_cls." + k.split(".", 1)[1]] = value
        else:
            out[k] = value  # reported as unexpected
    for prefix, w in qkv.items():
        out[prefix + "attn.qkv.weight"] = torch.cat((w["query"], w["key"], w["value"]))
    return out


def convert_checkpoint(state: Mapping[str, Tensor], module: nn.Module) -> dict | None:
    """``load_pretrained``'s converter for the backbone: a Hugging Face layout's
    ``backbone.*`` part, the model's own fixed position table where the file's is for
    another size, or None (MMAction2's own names, nothing to change)."""
    converted = convert_hf(state)
    if converted is not None:
        out = {k[len("backbone.") :]: v for k, v in converted.items() if k.startswith("backbone.")}
    else:
        out = dict(state)
    fixed = not isinstance(module.pos_embed, nn.Parameter)
    pos = out.get("pos_embed")
    if fixed and (pos is None or pos.shape != module.pos_embed.shape):
        # the sinusoid table depends on its shape only: HF does not save it, and one saved
        # for another size or frame count is the model's own table at that size
        if pos is not None:
            logger.info(
                "VisionTransformer: checkpoint's fixed position table of %d tokens replaced by "
                "the model's (%d tokens)",
                pos.shape[1],
                module.pos_embed.shape[1],
            )
        out["pos_embed"] = module.pos_embed.clone()
    elif converted is None:
        return None  # MMAction2's own names, nothing to change
    return out


def from_hf_config(config: Mapping, num_classes: int | None = None) -> Recognizer3D:
    """The recognizer a Hugging Face ``VideoMAEConfig`` (config.json as a dict) describes."""
    act = config.get("hidden_act", "gelu")
    if act != "gelu":
        raise ValueError(f"VideoMAE config.json: hidden_act={act!r}; only 'gelu' is supported")
    image_size = config.get("image_size", 224)
    backbone = VisionTransformer(
        img_size=image_size if isinstance(image_size, int) else image_size[0],
        patch_size=config.get("patch_size", 16),
        in_channels=config.get("num_channels", 3),
        embed_dims=config["hidden_size"],
        depth=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        mlp_ratio=config["intermediate_size"] / config["hidden_size"],
        qkv_bias=config.get("qkv_bias", True),
        norm_cfg=dict(type="LN", eps=config.get("layer_norm_eps", 1e-12)),
        num_frames=config.get("num_frames", 16),
        tubelet_size=config.get("tubelet_size", 2),
        use_mean_pooling=config.get("use_mean_pooling", True),
    )
    if num_classes is None:
        num_classes = len(config.get("id2label") or {}) or 400
    return _recognizer(backbone, num_classes, config["hidden_size"])


# --- variants --------------------------------------------------------------------------------
def _recognizer(backbone: VisionTransformer, num_classes: int, width: int) -> Recognizer3D:
    head = TimeSformerHead(num_classes=num_classes, in_channels=width, average_clips="prob")
    pre = ActionDataPreprocessor(mean=IMAGENET_MEAN, std=IMAGENET_STD, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _vit(num_classes: int, embed_dims: int, depth: int, num_heads: int, **kwargs) -> Recognizer3D:
    """ViT-p16 at 224 px, 16 frames, as ``configs/recognition/videomae``; ``kwargs`` override."""
    cfg: dict = dict(
        img_size=224,
        patch_size=16,
        embed_dims=embed_dims,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=4,
        qkv_bias=True,
        num_frames=16,
        norm_cfg=dict(type="LN", eps=1e-6),
    )
    cfg.update(kwargs)
    return _recognizer(VisionTransformer(**cfg), num_classes, embed_dims)


def _url(folder: str, config: str, stamp: str, sub: bool = False) -> str:
    return f"{_ZOO}{folder}/{config + '/' if sub else ''}{config}_{stamp}.pth"


_CLIP = dict(clip_shape=(3, 16, 224, 224), sampling=(16, 4, 5))


@variant(
    **_CLIP,
    url=_url("videomae", "vit-base-p16_videomae-k400-pre_16x4x1_kinetics-400", "20221013-860a3cd3"),
)
def videomae_vit_b_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """VideoMAE ViT-B/16, pre-trained on Kinetics-400, fine-tuned (81.3 top-1, 5x3 views)."""
    return _vit(num_classes, 768, 12, 12, **kwargs)


@variant(
    **_CLIP,
    url=_url(
        "videomae", "vit-large-p16_videomae-k400-pre_16x4x1_kinetics-400", "20221013-229dbb03"
    ),
)
def videomae_vit_l_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """VideoMAE ViT-L/16, pre-trained on Kinetics-400, fine-tuned (85.3 top-1)."""
    return _vit(num_classes, 1024, 24, 16, **kwargs)


# MMAction2's metafile gives the ViT-B file for the ViT-S entry too: no URL for ViT-S.
@variant(**_CLIP)
def videomae_v2_vit_s_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """VideoMAE V2 ViT-S/16 distilled from ViT-g, pre-trained on Kinetics-710 (83.6 top-1)."""
    return _vit(num_classes, 384, 12, 6, **kwargs)


@variant(
    **_CLIP,
    url=_url(
        "videomaev2",
        "vit-base-p16_videomaev2-vit-g-dist-k710-pre_16x4x1_kinetics-400",
        "20230510-3e7f93b2",
        sub=True,
    ),
)
def videomae_v2_vit_b_16x4x1(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """VideoMAE V2 ViT-B/16 distilled from ViT-g, pre-trained on Kinetics-710 (86.6 top-1)."""
    return _vit(num_classes, 768, 12, 12, **kwargs)
