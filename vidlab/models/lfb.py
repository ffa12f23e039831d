"""Long-term feature banks (Wu et al., Long-Term Feature Banks for Detailed Video
Understanding, 2019), as MMAction2's AVA detector uses them.

Two passes. First a detector with ``LFBInferHead`` as its shared head runs over a dataset and
writes every RoI's pooled feature to ``{lfb_prefix_path}/lfb_{dataset_mode}.pkl``:
``{video_id: {second: [feature (C,)] or tensor (n, C)}}`` (MMAction2's file, loadable by
either). Then a detector with ``FBOHead`` samples, for each RoI, the features of its video in
a window of ``window_size`` seconds around its timestamp (``max_num_sampled_feat`` per second,
zeros where there are none) and fuses them with the RoI's own feature by a feature bank
operator: ``non_local`` (two non-local layers, MMAction2's ``FBONonLocal``), ``max`` or
``avg`` pooling. State-dict keys are MMAction2's (``fbo.non_local_layer_1.st_feat_conv.conv.*``).

Unlike MMAction2, building an ``FBOHead`` does not read the bank (its configs build where
``data/ava/lfb_half`` does not exist); the files are loaded at the first RoI, on the CPU, and
each sample is moved to the features' device. ``LFBInferHead`` writes its file when
:meth:`LFBInferHead.save` is called or, as MMAction2's does, when the head is collected.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import load_checkpoint
from vidlab.models.layers.conv_module import ConvModule

__all__ = ["FBOHead", "FBONonLocal", "LFB", "LFBInferHead", "NonLocalLayer"]


def _pools(temporal_pool_type: str, spatial_pool_type: str) -> tuple[nn.Module, nn.Module]:
    for name, value in (("temporal", temporal_pool_type), ("spatial", spatial_pool_type)):
        if value not in ("avg", "max"):
            raise ValueError(f"{name}_pool_type={value!r}; expected 'avg' or 'max'")
    t = nn.AdaptiveAvgPool3d if temporal_pool_type == "avg" else nn.AdaptiveMaxPool3d
    s = nn.AdaptiveAvgPool3d if spatial_pool_type == "avg" else nn.AdaptiveMaxPool3d
    return t((1, None, None)), s((None, 1, 1))


class LFB:
    """A long-term feature bank read from MMAction2's ``lfb_{mode}.pkl`` files.

    Args:
        lfb_prefix_path: Folder of the files.
        max_num_sampled_feat: Features sampled per second at most (at random when more).
        window_size: Seconds around the RoI's timestamp.
        lfb_channels: Channels of a stored feature.
        dataset_modes: The files to read (``'train'``, ``'val'``, ...).
        device: MMAction2's ``'gpu'``/``'cpu'``: the bank stays on the CPU here and samples move
            to the model's device; ``'lmdb'`` is not implemented.
        lmdb_map_size, construct_lmdb: MMAction2's lmdb options (accepted; lmdb is not
            implemented).
    """

    def __init__(
        self,
        lfb_prefix_path: str,
        max_num_sampled_feat: int = 5,
        window_size: int = 60,
        lfb_channels: int = 2048,
        dataset_modes: Sequence[str] | str = ("train", "val"),
        device: str = "gpu",
        lmdb_map_size: float = 4e9,
        construct_lmdb: bool = True,
    ) -> None:
        if device not in ("gpu", "cpu", "lmdb"):
            raise ValueError(f"LFB device={device!r}; expected 'gpu', 'cpu' or 'lmdb'")
        self.lfb_prefix_path = lfb_prefix_path
        self.max_num_sampled_feat = max_num_sampled_feat
        self.window_size = window_size
        self.lfb_channels = lfb_channels
        self.dataset_modes = (
            (dataset_modes,) if isinstance(dataset_modes, str) else tuple(dataset_modes)
        )
        self.device = device
        self.lfb: dict | None = None

    def load(self) -> dict:
        """Read the bank's files (once); lists of features become ``(n, C)`` tensors."""
        if self.lfb is not None:
            return self.lfb
        if self.device == "lmdb":
            raise NotImplementedError("LFB(device='lmdb') is not implemented; use 'cpu' or 'gpu'")
        if not os.path.isdir(self.lfb_prefix_path):
            raise FileNotFoundError(
                f"lfb_prefix_path {self.lfb_prefix_path!r} does not exist (write the bank "
                "first with an LFBInferHead config, e.g. slowonly-lfb-infer_r50_ava21-rgb.py)"
            )
        bank: dict = {}
        for mode in self.dataset_modes:
            path = Path(self.lfb_prefix_path) / f"lfb_{mode}.pkl"
            if not path.is_file():
                raise FileNotFoundError(f"LFB file {path} does not exist (dataset_modes={mode!r})")
            bank.update(load_checkpoint(path))  # torch.save files, read as data only
        for seconds in bank.values():
            for sec, feats in seconds.items():
                if isinstance(feats, (list, tuple)):
                    seconds[sec] = torch.stack(list(feats))
        self.lfb = bank
        return bank

    def sample_long_term_features(self, video_id: str, timestamp: int) -> Tensor:
        """``(window_size * max_num_sampled_feat, lfb_channels)`` float32 features."""
        video = self.load()[video_id]
        window, k = self.window_size, self.max_num_sampled_feat
        start = timestamp - window // 2
        out = torch.zeros(window, k, self.lfb_channels)
        for i, sec in enumerate(range(start, start + window)):
            if sec in video:
                feat = video[sec]
                chosen = torch.randperm(feat.shape[0])[:k]  # CPU generator, as MMAction2
                out[i, : min(feat.shape[0], k)] = feat[chosen]
        return out.reshape(-1, self.lfb_channels)

    def __getitem__(self, img_key: str) -> Tensor:
        """``lfb['0f39OWEqJ24,0902']``: the features around that second."""
        video_id, timestamp = img_key.split(",")
        return self.sample_long_term_features(video_id, int(timestamp))

    def __len__(self) -> int:
        return len(self.load())


class NonLocalLayer(nn.Module):
    """MMAction2's non-local layer of ``FBONonLocal``: short-term features attend to
    long-term ones.

    Args:
        st_feat_channels, lt_feat_channels, latent_channels: Channel widths.
        num_st_feat, num_lt_feat: Short-/long-term features per RoI.
        use_scale: Scale the affinities by ``latent_channels ** -0.5``.
        pre_activate: LayerNorm + ReLU before ``out_conv`` (else LayerNorm after it).
        pre_activate_with_ln: With ``pre_activate``, apply the LayerNorm.
        conv_cfg, norm_cfg: MMCV layer specs of the 1x1x1 convs.
        dropout_ratio: Dropout after the layer.
        zero_init_out_conv: Start ``out_conv`` at zero.
    """

    def __init__(
        self,
        st_feat_channels: int,
        lt_feat_channels: int,
        latent_channels: int,
        num_st_feat: int,
        num_lt_feat: int,
        use_scale: bool = True,
        pre_activate: bool = True,
        pre_activate_with_ln: bool = True,
        conv_cfg: Mapping | None = None,
        norm_cfg: Mapping | None = None,
        dropout_ratio: float = 0.2,
        zero_init_out_conv: bool = False,
    ) -> None:
        super().__init__()
        conv_cfg = conv_cfg if conv_cfg is not None else dict(type="Conv3d")
        self.latent_channels = latent_channels
        self.num_st_feat = num_st_feat
        self.num_lt_feat = num_lt_feat
        self.use_scale = use_scale
        self.pre_activate = pre_activate
        self.pre_activate_with_ln = pre_activate_with_ln
        self.dropout_ratio = dropout_ratio
        self.zero_init_out_conv = zero_init_out_conv
        layer = dict(conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=None)
        self.st_feat_conv = ConvModule(st_feat_channels, latent_channels, 1, **layer)
        self.lt_feat_conv = ConvModule(lt_feat_channels, latent_channels, 1, **layer)
        self.global_conv = ConvModule(lt_feat_channels, latent_channels, 1, **layer)
        ln_channels = latent_channels if pre_activate else st_feat_channels
        self.ln = nn.LayerNorm([ln_channels, num_st_feat, 1, 1])
        self.relu = nn.ReLU()
        self.out_conv = ConvModule(latent_channels, st_feat_channels, 1, **layer)
        if dropout_ratio > 0:
            self.dropout = nn.Dropout(dropout_ratio)

    def init_weights(self) -> None:
        """Kaiming-normal convs (fan_out), as MMAction2; ``out_conv`` zero when asked."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        if self.zero_init_out_conv:
            nn.init.zeros_(self.out_conv.conv.weight)
            if self.out_conv.conv.bias is not None:
                nn.init.zeros_(self.out_conv.conv.bias)

    def forward(self, st_feat: Tensor, lt_feat: Tensor) -> Tensor:
        """``(K, C, num_st, 1, 1)``, ``(K, C_lt, num_lt, 1, 1)`` -> ``(K, C, num_st, 1, 1)``."""
        n, c = st_feat.size(0), self.latent_channels
        theta = self.st_feat_conv(st_feat).view(n, c, self.num_st_feat)
        phi = self.lt_feat_conv(lt_feat).view(n, c, self.num_lt_feat)
        g = self.global_conv(lt_feat).view(n, c, self.num_lt_feat)
        affinity = torch.matmul(theta.permute(0, 2, 1), phi)  # (K, num_st, num_lt)
        if self.use_scale:
            affinity = affinity / c**0.5
        p = affinity.softmax(dim=-1)
        out = torch.matmul(g, p.permute(0, 2, 1)).view(n, c, self.num_st_feat, 1, 1)
        if self.pre_activate:
            if self.pre_activate_with_ln:
                out = self.ln(out)
            out = self.relu(out)
        out = self.out_conv(out)
        if not self.pre_activate:
            out = self.ln(out)
        if self.dropout_ratio > 0:
            out = self.dropout(out)
        return out


class FBONonLocal(nn.Module):
    """MMAction2's non-local feature bank operator: 1x1x1 projections to ``latent_channels``,
    then ``num_non_local_layers`` residual :class:`NonLocalLayer` (``non_local_layer_{i}``)."""

    _accepts_any_kwargs = True  # FBOHead passes its whole fbo_cfg

    def __init__(
        self,
        st_feat_channels: int,
        lt_feat_channels: int,
        latent_channels: int,
        num_st_feat: int,
        num_lt_feat: int,
        num_non_local_layers: int = 2,
        st_feat_dropout_ratio: float = 0.2,
        lt_feat_dropout_ratio: float = 0.2,
        pre_activate: bool = True,
        zero_init_out_conv: bool = False,
        **kwargs,
    ) -> None:
        super().__init__()
        if num_non_local_layers < 1:
            raise ValueError("FBONonLocal needs at least one non-local layer")
        self.st_feat_dropout_ratio = st_feat_dropout_ratio
        self.lt_feat_dropout_ratio = lt_feat_dropout_ratio
        self.pre_activate = pre_activate
        self.st_feat_conv = nn.Conv3d(st_feat_channels, latent_channels, kernel_size=1)
        self.lt_feat_conv = nn.Conv3d(lt_feat_channels, latent_channels, kernel_size=1)
        if st_feat_dropout_ratio > 0:
            self.st_feat_dropout = nn.Dropout(st_feat_dropout_ratio)
        if lt_feat_dropout_ratio > 0:
            self.lt_feat_dropout = nn.Dropout(lt_feat_dropout_ratio)
        if not pre_activate:
            self.relu = nn.ReLU()
        self.non_local_layers = []
        for i in range(num_non_local_layers):
            name = f"non_local_layer_{i + 1}"
            layer = NonLocalLayer(
                latent_channels,
                latent_channels,
                latent_channels,
                num_st_feat,
                num_lt_feat,
                pre_activate=pre_activate,
                zero_init_out_conv=zero_init_out_conv,
            )
            self.add_module(name, layer)
            self.non_local_layers.append(name)

    def init_weights(self) -> None:
        for conv in (self.st_feat_conv, self.lt_feat_conv):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        for name in self.non_local_layers:
            getattr(self, name).init_weights()

    def forward(self, st_feat: Tensor, lt_feat: Tensor) -> Tensor:
        st_feat = self.st_feat_conv(st_feat)
        if self.st_feat_dropout_ratio > 0:
            st_feat = self.st_feat_dropout(st_feat)
        lt_feat = self.lt_feat_conv(lt_feat)
        if self.lt_feat_dropout_ratio > 0:
            lt_feat = self.lt_feat_dropout(lt_feat)
        for name in self.non_local_layers:
            out = st_feat + getattr(self, name)(st_feat, lt_feat)
            if not self.pre_activate:
                out = self.relu(out)
            st_feat = out
        return st_feat


class _PoolFBO(nn.Module):
    """``max``/``avg`` feature bank operators: the long-term features pooled over time."""

    _accepts_any_kwargs = True

    def __init__(self, mode: str, **kwargs) -> None:
        super().__init__()
        pool = nn.AdaptiveMaxPool3d if mode == "max" else nn.AdaptiveAvgPool3d
        name = "max_pool" if mode == "max" else "avg_pool"
        setattr(self, name, pool((1, None, None)))
        self._pool = name

    def init_weights(self) -> None:
        pass

    def forward(self, st_feat: Tensor, lt_feat: Tensor) -> Tensor:
        return getattr(self, self._pool)(lt_feat)


class FBOHead(nn.Module):
    """MMAction2's feature bank operator head: ``[RoI feature, FBO(RoI, bank)]``.

    Args:
        lfb_cfg: :class:`LFB` arguments.
        fbo_cfg: The operator: ``type`` ``'non_local'`` (default), ``'max'`` or ``'avg'``, and
            its arguments (:class:`FBONonLocal`'s).
        temporal_pool_type, spatial_pool_type: Pooling of the RoI features (``'avg'``/``'max'``).
    """

    _lazy_args = ("lfb_cfg", "fbo_cfg")
    _unchecked_args = ("lfb_cfg", "fbo_cfg")  # fbo_cfg's type names an operator, not a class

    def __init__(
        self,
        lfb_cfg: Mapping,
        fbo_cfg: Mapping,
        temporal_pool_type: str = "avg",
        spatial_pool_type: str = "max",
    ) -> None:
        super().__init__()
        fbo_cfg = dict(fbo_cfg)
        fbo_type = fbo_cfg.pop("type", "non_local")
        if fbo_type not in ("non_local", "max", "avg"):
            raise ValueError(
                f"FBOHead fbo_cfg type={fbo_type!r}; expected 'non_local', 'max', 'avg'"
            )
        self.lfb_cfg, self.fbo_cfg = dict(lfb_cfg), fbo_cfg
        self.lfb = LFB(**self.lfb_cfg)
        self.fbo = FBONonLocal(**fbo_cfg) if fbo_type == "non_local" else _PoolFBO(fbo_type)
        self.temporal_pool, self.spatial_pool = _pools(temporal_pool_type, spatial_pool_type)

    def init_weights(self) -> None:
        self.fbo.init_weights()

    def sample_lfb(self, rois: Tensor, img_metas: Sequence[Mapping]) -> Tensor:
        """``(K, lfb_channels, window * max_num_sampled_feat, 1, 1)``: each RoI's bank sample."""
        feats = [self.lfb[img_metas[int(i)]["img_key"]] for i in rois[:, 0].tolist()]
        lt_feat = torch.stack(feats, dim=0).permute(0, 2, 1).contiguous()
        return lt_feat[..., None, None]

    def forward(self, x: Tensor, rois: Tensor, img_metas: Sequence[Mapping], **kwargs) -> Tensor:
        """RoI features ``(K, C, T, s, s)`` -> ``(K, C + C_fbo, 1, 1, 1)``."""
        if img_metas is None:
            raise ValueError("FBOHead needs the clips' metas (inputs['meta'] with 'img_key')")
        st_feat = self.spatial_pool(self.temporal_pool(x))  # (K, C, 1, 1, 1)
        lt_feat = self.sample_lfb(rois, img_metas).to(st_feat.device, st_feat.dtype)
        return torch.cat([st_feat, self.fbo(st_feat, lt_feat)], dim=1)


def _write_bank(features: list, keys: list, path: Path) -> int:
    """``{video: {second: [feature (C,)]}}`` of the collected RoI features, saved to ``path``."""
    bank: dict = {}
    for feature, key in zip(features, keys):
        video_id, timestamp = key.split(",")
        bank.setdefault(video_id, {}).setdefault(int(timestamp), []).append(feature.squeeze())
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(bank, path)
    return len(features)


class LFBInferHead(nn.Module):
    """MMAction2's ``LFBInferHead``: records each RoI's pooled feature for the bank and passes
    the RoI features on unchanged.

    Args:
        lfb_prefix_path: Folder of ``lfb_{dataset_mode}.pkl``.
        dataset_mode: ``'train'``, ``'val'`` or ``'test'`` (the file's name).
        use_half_precision: Store float16 features.
        temporal_pool_type, spatial_pool_type: Pooling of the RoI features.
    """

    def __init__(
        self,
        lfb_prefix_path: str,
        dataset_mode: str = "train",
        use_half_precision: bool = True,
        temporal_pool_type: str = "avg",
        spatial_pool_type: str = "max",
    ) -> None:
        super().__init__()
        self.lfb_prefix_path = lfb_prefix_path
        self.dataset_mode = dataset_mode
        self.use_half_precision = use_half_precision
        self.temporal_pool, self.spatial_pool = _pools(temporal_pool_type, spatial_pool_type)
        self.all_features: list[Tensor] = []
        self.all_metadata: list[str] = []
        # MMAction2 writes the bank when the head is deleted; so does this finalizer, unless
        # save() already did (it holds the lists, not the module)
        self._finalizer = weakref.finalize(
            self, _finalize_bank, self.all_features, self.all_metadata, self.path
        )

    @property
    def path(self) -> Path:
        return Path(self.lfb_prefix_path) / f"lfb_{self.dataset_mode}.pkl"

    def init_weights(self) -> None:
        pass

    def forward(self, x: Tensor, rois: Tensor, img_metas: Sequence[Mapping], **kwargs) -> Tensor:
        if img_metas is None:
            raise ValueError("LFBInferHead needs the clips' metas (inputs['meta'] with 'img_key')")
        features = self.spatial_pool(self.temporal_pool(x)).detach()  # (K, C, 1, 1, 1)
        if self.use_half_precision:
            features = features.half()
        self.all_metadata.extend(img_metas[int(i)]["img_key"] for i in rois[:, 0].tolist())
        self.all_features.extend(features.cpu())
        return x

    def save(self) -> Path:
        """Write ``lfb_{dataset_mode}.pkl`` now (the finalizer then writes nothing)."""
        if self._finalizer.alive:
            self._finalizer.detach()
        _write_bank(self.all_features, self.all_metadata, self.path)
        return self.path


def _finalize_bank(features: list, keys: list, path: Path) -> None:
    if features:
        n = _write_bank(features, keys, path)
        print(f"LFBInferHead: {n} RoI features written to {path}")
