"""UniFormerV2 (Li et al., 2023): a CLIP image ViT armed with video UniBlocks.

MMAction2's ``UniFormerV2`` (``configs/recognition/uniformerv2``) with ``UniFormerHead``. Each
frame goes through the layers of an OpenAI-CLIP ViT (``transformer.resblocks``; optional local
temporal convolutions ``lmhra1``/``lmhra2`` around their attention, off in every zoo config);
the outputs of the last few layers (``return_list``) get a depth-wise 3D convolution (``dpe``)
and feed a chain of cross-attention blocks (``dec``) that update one learnable video token from
all tokens of all frames. The token and the mean of the frames' class tokens, mixed by a learned
weight (``balance``), are the clip's features ``(N, C)``.

Differences from MMAction2, none of which changes an output in eval mode:

* Tokens are batch-first ``(N*T, L, C)`` (CLIP's code is sequence-first); attention runs through
  ``F.scaled_dot_product_attention``. Drop path therefore drops whole samples (MMCV's ``DropPath``
  on MMAction2's sequence-first tensors drops token positions; all zoo configs set it to 0).
* The frame count and the token grid are read off the input instead of ``t_size`` and a square
  ``input_resolution``: another clip length just works, another size interpolates the position
  embedding (bicubic, as CLIP; logged once).
* ``pretrained=`` also takes a local OpenAI-CLIP state dict (``visual.*`` keys, with or without
  the text tower) or a timm CLIP ViT (``blocks.N.attn.qkv``): :func:`convert_clip` maps them.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.utils import checkpoint as cp

from vidlab.checkpoint import LoadReport
from vidlab.models.heads.uniformer import UniFormerHead
from vidlab.models.layers.drop_path import DropPath
from vidlab.models.preprocess import ActionDataPreprocessor
from vidlab.models.pretrained import load_pretrained
from vidlab.models.recognizer import Recognizer3D
from vidlab.models.uniformer import UNIFORMER_MEAN, UNIFORMER_STD, inflate_kernel, linspace
from vidlab.models.variants import variant

logger = logging.getLogger(__name__)

_ZOO = "https://download.openmmlab.com/mmaction/v1.0/recognition/uniformerv2/"
# ``pretrained=`` names of MMAction2's extracted CLIP visual encoders
CLIP_ENCODERS = {
    "ViT-B/16": _ZOO + "clipVisualEncoder/vit-base-p16-res224_clip-rgb_20221219-b8a5da86.pth",
    "ViT-L/14": _ZOO + "clipVisualEncoder/vit-large-p14-res224_clip-rgb_20221219-9de7543e.pth",
    "ViT-L/14_336": _ZOO + "clipVisualEncoder/vit-large-p14-res336_clip-rgb_20221219-d370f9e5.pth",
}
_NOTED: set = set()  # position-embedding resizes already logged


class QuickGELU(nn.Module):
    """CLIP's ``x * sigmoid(1.702 x)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class MultiheadAttention(nn.Module):
    """``nn.MultiheadAttention``'s parameters (``in_proj_weight``, ``in_proj_bias``,
    ``out_proj``), batch-first, through SDPA; ``forward(x, y)`` attends from ``x`` to ``y``."""

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, L, d)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        d = self.embed_dim
        if y is None:  # self-attention: one projection
            q, k, v = F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1)
        else:
            w, bias = self.in_proj_weight, self.in_proj_bias
            q = F.linear(x, w[:d], bias[:d])
            k, v = F.linear(y, w[d:], bias[d:]).chunk(2, dim=-1)
        out = F.scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v))
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], d)  # (B, Lq, C)
        return self.out_proj(out)


class LocalMHRA(nn.Module):
    """Local temporal relation: ``BN -> 1x1x1 -> depth-wise (k,1,1) -> 1x1x1`` on
    ``(N, C, T, H, W)``; the last convolution starts at zero (the block starts as CLIP's)."""

    def __init__(self, d_model: int, dw_reduction: float = 1.5, pos_kernel_size: int = 3) -> None:
        super().__init__()
        re_d = int(d_model // dw_reduction)
        pad = pos_kernel_size // 2
        self.pos_embed = nn.Sequential(
            nn.BatchNorm3d(d_model),
            nn.Conv3d(d_model, re_d, 1),
            nn.Conv3d(re_d, re_d, (pos_kernel_size, 1, 1), padding=(pad, 0, 0), groups=re_d),
            nn.Conv3d(re_d, d_model, 1),
        )
        nn.init.zeros_(self.pos_embed[3].weight)
        nn.init.zeros_(self.pos_embed[3].bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.pos_embed(x)


def _mlp(d_model: int, d_hidden: int, dropout: float | None = None) -> nn.Sequential:
    layers = [("c_fc", nn.Linear(d_model, d_hidden)), ("gelu", QuickGELU())]
    if dropout is not None:
        layers.append(("dropout", nn.Dropout(dropout)))
    layers.append(("c_proj", nn.Linear(d_hidden, d_model)))
    return nn.Sequential(OrderedDict(layers))


class ResidualAttentionBlock(nn.Module):
    """A CLIP layer per frame, with optional local temporal MHRA before (and after) attention.
    Tokens ``(N*T, 1+H*W, C)`` in and out."""

    def __init__(
        self,
        d_model: int,
        n_head: int,
        drop_path: float = 0.0,
        dw_reduction: float = 1.5,
        no_lmhra: bool = False,
        double_lmhra: bool = True,
    ) -> None:
        super().__init__()
        self.no_lmhra = no_lmhra
        self.double_lmhra = double_lmhra
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        if not no_lmhra:
            self.lmhra1 = LocalMHRA(d_model, dw_reduction)
            if double_lmhra:
                self.lmhra2 = LocalMHRA(d_model, dw_reduction)
        self.attn = MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = _mlp(d_model, d_model * 4)
        self.ln_2 = nn.LayerNorm(d_model)

    def _local(self, lmhra: nn.Module, x: Tensor, t: int, h: int, w: int) -> Tensor:
        nt, length, c = x.shape
        n = nt // t
        cls, tokens = x[:, :1], x[:, 1:]
        tokens = tokens.reshape(n, t, h, w, c).permute(0, 4, 1, 2, 3)  # (N, C, T, H, W)
        tokens = tokens + self.drop_path(lmhra(tokens))
        tokens = tokens.permute(0, 2, 3, 4, 1).reshape(nt, length - 1, c)  # (N*T, H*W, C)
        return torch.cat([cls, tokens], dim=1)

    def forward(self, x: Tensor, t: int, h: int, w: int) -> Tensor:
        if not self.no_lmhra:
            x = self._local(self.lmhra1, x, t, h, w)
        x = x + self.drop_path(self.attn(self.ln_1(x)))
        if not self.no_lmhra and self.double_lmhra:
            x = self._local(self.lmhra2, x, t, h, w)
        return x + self.drop_path(self.mlp(self.ln_2(x)))


class Extractor(nn.Module):
    """Global UniBlock: the video token ``(N, 1, C)`` attends to all tokens ``(N, T*L, C)``,
    then an MLP; attention and MLP outputs start at zero."""

    def __init__(
        self,
        d_model: int,
        n_head: int,
        mlp_factor: float = 4.0,
        dropout: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.attn = MultiheadAttention(d_model, n_head)
        self.ln_1 = nn.LayerNorm(d_model)
        self.mlp = _mlp(d_model, round(mlp_factor * d_model), dropout)
        self.ln_2 = nn.LayerNorm(d_model)
        self.ln_3 = nn.LayerNorm(d_model)
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.xavier_uniform_(self.mlp.c_fc.weight)
        nn.init.zeros_(self.mlp.c_proj.weight)
        nn.init.zeros_(self.mlp.c_proj.bias)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        x = x + self.drop_path(self.attn(self.ln_1(x), self.ln_3(y)))
        return x + self.drop_path(self.mlp(self.ln_2(x)))


class Transformer(nn.Module):
    """The CLIP layers and the global UniBlocks fed by the layers in ``return_list``."""

    def __init__(
        self,
        width: int,
        layers: int,
        heads: int,
        backbone_drop_path_rate: float = 0.0,
        t_size: int = 8,
        dw_reduction: float = 1.5,
        no_lmhra: bool = True,
        double_lmhra: bool = False,
        return_list: Sequence[int] = (8, 9, 10, 11),
        n_layers: int = 4,
        n_dim: int = 768,
        n_head: int = 12,
        mlp_factor: float = 4.0,
        drop_path_rate: float = 0.0,
        mlp_dropout: Sequence[float] = (0.5, 0.5, 0.5, 0.5),
        with_cp: bool = False,
    ) -> None:
        super().__init__()
        if n_layers != len(return_list):
            raise ValueError(f"UniFormerV2: n_layers={n_layers} but return_list={return_list}")
        if n_dim != width:
            raise ValueError(f"UniFormerV2: n_dim={n_dim} must equal width={width}")
        self.T = t_size
        self.return_list = [int(i) for i in return_list]
        self.with_cp = with_cp
        b_dpr = linspace(backbone_drop_path_rate, layers)
        self.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width, heads, b_dpr[i], dw_reduction, no_lmhra, double_lmhra)
            for i in range(layers)
        )
        self.temporal_cls_token = nn.Parameter(torch.zeros(1, 1, n_dim))
        self.dpe = nn.ModuleList(
            nn.Conv3d(n_dim, n_dim, 3, padding=1, groups=n_dim) for _ in range(n_layers)
        )
        for conv in self.dpe:
            nn.init.zeros_(conv.bias)
        dpr = linspace(drop_path_rate, n_layers)
        self.dec = nn.ModuleList(
            Extractor(n_dim, n_head, mlp_factor, mlp_dropout[i], dpr[i]) for i in range(n_layers)
        )
        self.norm = nn.LayerNorm(n_dim)
        self.balance = nn.Parameter(torch.zeros(n_dim))
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor, t: int, h: int, w: int) -> Tensor:
        nt, length, c = x.shape
        n = nt // t
        cls_token = self.temporal_cls_token.expand(n, 1, c)  # (N, 1, C)
        j = 0
        for i, block in enumerate(self.resblocks):
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(block, x, t, h, w, use_reentrant=False)
            else:
                x = block(x, t, h, w)
            if i in self.return_list:
                frames = x.view(n, t, length, c)
                feats = frames[:, :, 1:].permute(0, 3, 1, 2).reshape(n, c, t, h, w)
                feats = self.dpe[j](feats).flatten(3).permute(0, 2, 3, 1)  # (N, T, H*W, C)
                frames = torch.cat([frames[:, :, :1], frames[:, :, 1:] + feats], dim=2)
                cls_token = self.dec[j](cls_token, frames.reshape(n, t * length, c))
                j += 1
        weight = self.sigmoid(self.balance)
        residual = x.view(n, t, length, c)[:, :, 0].mean(1)  # (N, C): frames' class tokens
        return self.norm((1 - weight) * cls_token[:, 0] + weight * residual)


def resize_pos_embed(pos: Tensor, h: int, w: int) -> Tensor:
    """CLIP's ``(1 + g*g, C)`` position embedding for an ``h x w`` grid (bicubic on the grid;
    the class token's row is kept)."""
    g = math.isqrt(pos.shape[0] - 1)
    grid = pos[1:].reshape(1, g, g, -1).permute(0, 3, 1, 2)  # (1, C, g, g)
    grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
    return torch.cat([pos[:1], grid.permute(0, 2, 3, 1).reshape(h * w, -1)], dim=0)


class UniFormerV2(nn.Module):
    """MMAction2's ``UniFormerV2`` backbone: ``(N, 3, T, H, W)`` -> ``(N, width)``.

    Args:
        input_resolution: Input size the position embedding is made for (other sizes are
            interpolated).
        patch_size: Patch size of ``conv1``.
        width, layers, heads: The CLIP ViT.
        backbone_drop_path_rate: Stochastic depth of the CLIP layers (linear up to it).
        t_size: Frames of the clip (kept for MMAction2; the input's frame count is used).
        kernel_size: Temporal kernel of ``conv1`` with ``temporal_downsample``.
        dw_reduction: Channel reduction in the local MHRA.
        temporal_downsample: ``conv1`` halves time (kernel ``kernel_size``, stride 2).
        no_lmhra: No local MHRA in the CLIP layers (every zoo config).
        double_lmhra: A second local MHRA after attention.
        return_list: CLIP layers (0-based) that feed the global blocks.
        n_layers, n_dim, n_head, mlp_factor: The global blocks (``n_dim == width``).
        drop_path_rate: Stochastic depth of the global blocks.
        mlp_dropout: Dropout in each global block's MLP.
        clip_pretrained: ``pretrained`` names CLIP weights (:data:`CLIP_ENCODERS`, a file or a
            URL); otherwise it is a UniFormerV2 checkpoint (also given as ``init_cfg``).
        pretrained: Loaded by ``init_weights`` (see :func:`convert_clip`).
        with_cp: Activation checkpointing per CLIP layer.
        init_cfg: ``dict(type='Pretrained', checkpoint=...)`` as a ``pretrained`` file.
    """

    def __init__(
        self,
        input_resolution: int = 224,
        patch_size: int = 16,
        width: int = 768,
        layers: int = 12,
        heads: int = 12,
        backbone_drop_path_rate: float = 0.0,
        t_size: int = 8,
        kernel_size: int = 3,
        dw_reduction: float = 1.5,
        temporal_downsample: bool = False,
        no_lmhra: bool = True,
        double_lmhra: bool = False,
        return_list: Sequence[int] = (8, 9, 10, 11),
        n_layers: int = 4,
        n_dim: int = 768,
        n_head: int = 12,
        mlp_factor: float = 4.0,
        drop_path_rate: float = 0.0,
        mlp_dropout: Sequence[float] = (0.5, 0.5, 0.5, 0.5),
        clip_pretrained: bool = True,
        pretrained: str | None = None,
        with_cp: bool = False,
        init_cfg: dict | list | None = None,
    ) -> None:
        super().__init__()
        self.clip_pretrained = clip_pretrained
        self.init_cfg = init_cfg
        if pretrained is None and isinstance(init_cfg, Mapping):
            if init_cfg.get("type") == "Pretrained":
                pretrained = init_cfg.get("checkpoint")
        self.pretrained = pretrained
        self.input_resolution = input_resolution
        self.patch_size = patch_size
        pad = (kernel_size - 1) // 2
        if temporal_downsample:
            kernel, stride = (kernel_size, patch_size, patch_size), (2, patch_size, patch_size)
            t_size = t_size // 2
        else:
            kernel, stride = (1, patch_size, patch_size), (1, patch_size, patch_size)
            pad = 0
        self.conv1 = nn.Conv3d(3, width, kernel, stride, (pad, 0, 0), bias=False)
        scale = width**-0.5
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        grid = input_resolution // patch_size
        self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(
            width,
            layers,
            heads,
            backbone_drop_path_rate,
            t_size,
            dw_reduction,
            no_lmhra,
            double_lmhra,
            return_list,
            n_layers,
            n_dim,
            n_head,
            mlp_factor,
            drop_path_rate,
            mlp_dropout,
            with_cp,
        )
        self.num_features = width

    @property
    def with_cp(self) -> bool:
        return self.transformer.with_cp

    @with_cp.setter
    def with_cp(self, value: bool) -> None:
        self.transformer.with_cp = value

    def init_weights(self) -> LoadReport | None:
        """Load ``pretrained``: CLIP image weights (any of :func:`convert_clip`'s layouts) or a
        UniFormerV2 checkpoint; position embeddings of another grid are interpolated."""
        if self.pretrained is None:
            return None
        src = CLIP_ENCODERS.get(self.pretrained, self.pretrained)
        return load_pretrained(self, src, convert=convert_clip)

    def _pos_embed(self, h: int, w: int) -> Tensor:
        pos = self.positional_embedding
        g = math.isqrt(pos.shape[0] - 1)
        if (h, w) == (g, g):
            return pos
        if not torch.compiler.is_compiling() and (g, h, w) not in _NOTED:
            _NOTED.add((g, h, w))
            logger.info(
                "UniFormerV2: position embedding interpolated from %dx%d to %dx%d patches "
                "(input_resolution=%d, patch_size=%d)",
                g, g, h, w, self.input_resolution, self.patch_size,
            )  # fmt: skip
        return resize_pos_embed(pos, h, w)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv1(x)  # (N, C, T, H, W)
        n, c, t, h, w = x.shape
        x = x.permute(0, 2, 3, 4, 1).reshape(n * t, h * w, c)  # (N*T, H*W, C)
        cls = self.class_embedding.to(x.dtype).expand(n * t, 1, c)
        x = torch.cat([cls, x], dim=1) + self._pos_embed(h, w).to(x.dtype)  # (N*T, 1+H*W, C)
        x = self.ln_pre(x)
        return self.transformer(x, t, h, w)  # (N, C)


# --------------------------------------------------------------------------------------------
# Weights of other layouts: OpenAI CLIP, timm CLIP ViTs
# --------------------------------------------------------------------------------------------
_TIMM_BLOCK = {
    "norm1": "ln_1",
    "norm2": "ln_2",
    "attn.qkv.weight": "attn.in_proj_weight",
    "attn.qkv.bias": "attn.in_proj_bias",
    "attn.proj": "attn.out_proj",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
}
_CLIP_HEAD = ("proj", "ln_post.weight", "ln_post.bias")  # the image-text projection


def _from_timm(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    out = {}
    for key, value in state.items():
        if key == "patch_embed.proj.weight":
            out["conv1.weight"] = value
        elif key == "cls_token":
            out["class_embedding"] = value.reshape(-1)
        elif key == "pos_embed":
            out["positional_embedding"] = value.reshape(-1, value.shape[-1])
        elif key.startswith("norm_pre."):
            out["ln_pre." + key[len("norm_pre.") :]] = value
        elif key.startswith("blocks."):
            _, idx, rest = key.split(".", 2)
            for old, new in _TIMM_BLOCK.items():
                if rest.startswith(old):
                    rest = new + rest[len(old) :]
                    break
            out[f"transformer.resblocks.{idx}.{rest}"] = value
        # norm.*, head.*: timm's classifier, not part of the backbone
    return out


def convert_clip(state: Mapping[str, Tensor], module: nn.Module) -> dict[str, Tensor]:
    """CLIP image weights (or a UniFormerV2 checkpoint) in vidlab's names and shapes.

    Layouts: an OpenAI-CLIP state dict (``visual.*``; the text tower is dropped), MMAction2's
    extracted visual encoders (``conv1.weight``, ``transformer.resblocks.N.*``: the same names as
    here), a timm CLIP ViT (``patch_embed``, ``blocks.N``), or a UniFormerV2 checkpoint. Then a
    2D ``conv1`` kernel is inflated (centred in time, as MMAction2) and a position embedding of
    another grid is interpolated; CLIP's output projection (``proj``, ``ln_post``) is dropped.
    """
    if any(k.startswith("visual.") for k in state):
        state = {k[len("visual.") :]: v for k, v in state.items() if k.startswith("visual.")}
    elif "patch_embed.proj.weight" in state and any(k.startswith("blocks.") for k in state):
        state = _from_timm(state)
    out = {k: v for k, v in state.items() if k not in _CLIP_HEAD}
    own = module.state_dict()
    conv = out.get("conv1.weight")
    if conv is not None and conv.dim() == 4 and own["conv1.weight"].dim() == 5:
        out["conv1.weight"] = inflate_kernel(conv, own["conv1.weight"].shape[2])
    pos = out.get("positional_embedding")
    target = own["positional_embedding"]
    if pos is not None and pos.dim() == 2 and pos.shape[0] != target.shape[0]:
        g = math.isqrt(target.shape[0] - 1)
        logger.info(
            "UniFormerV2: checkpoint position embedding of %d tokens interpolated to %dx%d",
            pos.shape[0] - 1, g, g,
        )  # fmt: skip
        out["positional_embedding"] = resize_pos_embed(pos.float(), g, g).to(pos.dtype)
    return out


# --------------------------------------------------------------------------------------------
# Variants: MMAction2's UniFormerV2 zoo (configs/recognition/uniformerv2). One variant per
# architecture and clip length; the checkpoint is the Kinetics-400 one (from Kinetics-710
# pre-training) where the zoo has it; pass num_classes for 600 / 700 / 710 / 339 (MiT).
# --------------------------------------------------------------------------------------------
BASE = dict(width=768, layers=12, heads=12, return_list=(8, 9, 10, 11), n_dim=768, n_head=12)
LARGE = dict(width=1024, layers=24, heads=16, return_list=(20, 21, 22, 23), n_dim=1024, n_head=16)


def _uniformerv2(
    num_classes: int,
    arch: dict,
    patch_size: int,
    input_resolution: int,
    num_frames: int,
    pretrained: str | None = None,
    **kwargs,
) -> Recognizer3D:
    cfg = dict(
        arch,
        input_resolution=input_resolution,
        patch_size=patch_size,
        t_size=num_frames,
        no_lmhra=True,
        double_lmhra=True,
        clip_pretrained=pretrained is not None,
        pretrained=pretrained,
    )
    cfg.update(kwargs)
    backbone = UniFormerV2(**cfg)
    head = UniFormerHead(
        num_classes=num_classes,
        in_channels=cfg["width"],
        dropout_ratio=0.5,
        average_clips="prob",
    )
    pre = ActionDataPreprocessor(mean=UNIFORMER_MEAN, std=UNIFORMER_STD, format_shape="NCTHW")
    return Recognizer3D(backbone=backbone, cls_head=head, data_preprocessor=pre)


def _url(folder: str, config: str, stamp: str) -> str:
    return f"{_ZOO}{folder}/{config}_{stamp}.pth"


def _large_k400(res: int, frames: int, stamp: str) -> str:
    config = f"uniformerv2-large-p14-res{res}_clip-kinetics710-pre_u{frames}_kinetics400-rgb"
    return _url("kinetics400", config, stamp)


def _cfg(frames: int, size: int, url: str, num_clips: int = 4, **kwargs) -> dict:
    """default_cfg; UniformSample spreads ``frames`` over the video (no interval: 1 here)."""
    return dict(
        clip_shape=(3, frames, size, size),
        sampling=(frames, 1, num_clips),
        mean=UNIFORMER_MEAN,
        std=UNIFORMER_STD,
        url=url,
        **kwargs,
    )


_B16_K400 = "uniformerv2-base-p16-res224_clip-kinetics710-pre_8xb32-u8_kinetics400-rgb"


@variant(**_cfg(8, 224, _url(_B16_K400, _B16_K400, "20230313-75be0806")))
def uniformerv2_b16_u8(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormerV2-B/16, 8 uniformly sampled frames at 224 px (Kinetics-400: 85.8 top-1 from
    Kinetics-710; ``pretrained='ViT-B/16'`` or a CLIP file starts from CLIP instead)."""
    return _uniformerv2(num_classes, BASE, 16, 224, 8, **kwargs)


@variant(**_cfg(8, 224, _large_k400(224, 8, "20221219-972ea063")))
def uniformerv2_l14_u8(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormerV2-L/14, 8 frames at 224 px (Kinetics-400: 88.7 top-1)."""
    return _uniformerv2(num_classes, LARGE, 14, 224, 8, **kwargs)


@variant(**_cfg(16, 224, _large_k400(224, 16, "20221219-6dc86d05")))
def uniformerv2_l14_u16(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormerV2-L/14, 16 frames at 224 px (Kinetics-400: 89.0 top-1)."""
    return _uniformerv2(num_classes, LARGE, 14, 224, 16, **kwargs)


@variant(**_cfg(32, 224, _large_k400(224, 32, "20221219-56a46f64")))
def uniformerv2_l14_u32(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormerV2-L/14, 32 frames at 224 px (Kinetics-400: 89.3 top-1)."""
    return _uniformerv2(num_classes, LARGE, 14, 224, 32, **kwargs)


@variant(
    **_cfg(
        8,
        336,  # the config has no test pipeline: sampled as the other 8-frame ones
        _url(
            "kinetics710",
            "uniformerv2-large-p14-res336_clip-pre_u8_kinetics710-rgb",
            "20230612-d723ddc1",
        ),
        num_classes=710,
    )
)
def uniformerv2_l14_336_u8(num_classes: int = 710, **kwargs) -> Recognizer3D:
    """UniFormerV2-L/14 at 336 px, 8 frames: the Kinetics-710 model the 336 px fine-tunes
    start from (Kinetics-710 validation only; no top-1 in MMAction2's metafile)."""
    return _uniformerv2(num_classes, LARGE, 14, 336, 8, **kwargs)


@variant(**_cfg(32, 336, _large_k400(336, 32, "20221219-1dd7650f"), num_clips=2))
def uniformerv2_l14_336_u32(num_classes: int = 400, **kwargs) -> Recognizer3D:
    """UniFormerV2-L/14 at 336 px, 32 frames (Kinetics-400: 89.5 top-1, 2 clips x 3 crops)."""
    return _uniformerv2(num_classes, LARGE, 14, 336, 32, **kwargs)
