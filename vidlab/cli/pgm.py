"""``vidlab localization pgm CONFIG --mode train|test``: BSN's proposal generation (PGM).

MMAction2's ``tools/misc/bsn_proposal_generation.py``, reading the same PGM config
(``configs/localization/bsn/bsn_pgm_*.py``): for every video of ``ann_file_train`` (``--mode
train``) or ``ann_file_val`` (``test``), the TEM results in ``tem_results_dir`` (one CSV per
video, written by testing the TEM config) become candidate proposals in ``pgm_proposals_dir``
(``pgm_proposals_cfg``) and their boundary-sensitive features in ``pgm_features_dir``
(``pgm_features_train_cfg`` / ``pgm_features_test_cfg``), which the PEM config reads.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np

from vidlab.models.bsn import PROPOSAL_HEADER, bsp_features, candidate_proposals

__all__ = ["run_pgm"]

_THREAD_KEYS = ("pgm_proposals_thread", "pgm_features_thread")


def _read_csv(path: str, what: str) -> np.ndarray:
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no {what}; {_HINT[what]}")
    return np.loadtxt(path, dtype=np.float32, delimiter=",", skiprows=1, ndmin=2)


_HINT = {
    "TEM result": "test the TEM config first (`vidlab test bsn_tem_...py CHECKPOINT`), which "
    "writes one CSV per video to tem_results_dir",
    "PGM proposals": "the proposal step of this command writes them",
}


def _proposals_of(item, tem_dir: str, out_dir: str, temporal_scale: int, peak_threshold: float):
    name, info = item
    tem = _read_csv(os.path.join(tem_dir, name + ".csv"), "TEM result")
    props = candidate_proposals(tem, info, temporal_scale, peak_threshold)
    np.savetxt(
        os.path.join(out_dir, name + ".csv"),
        props,
        header=PROPOSAL_HEADER,
        delimiter=",",
        comments="",
    )
    return len(props)


def _features_of(item, tem_dir: str, proposals_dir: str, out_dir: str, options: dict):
    name, _ = item
    tem = _read_csv(os.path.join(tem_dir, name + ".csv"), "TEM result")
    props = _read_csv(os.path.join(proposals_dir, name + ".csv"), "PGM proposals")
    np.save(os.path.join(out_dir, name + ".npy"), bsp_features(tem, props, **options))
    return name


def run_pgm(cfg, mode: str = "test", workers: int | None = None) -> dict:
    """Proposals and features of every video of the ``mode``'s annotation file.

    Args:
        cfg: The PGM config (``tem_results_dir``, ``pgm_proposals_dir``, ``pgm_features_dir``,
            ``ann_file_train``/``ann_file_val``, ``pgm_proposals_cfg``, ``pgm_features_*_cfg``).
        mode: ``'train'`` or ``'test'``.
        workers: Processes (default: the config's ``*_thread``, at most the CPU count).

    Returns:
        ``{'videos': n, 'proposals': total}``.
    """
    if mode not in ("train", "test"):
        raise ValueError(f"mode={mode!r}; expected 'train' or 'test'")
    needed = ("tem_results_dir", "pgm_proposals_dir", "pgm_features_dir", "pgm_proposals_cfg")
    missing = [key for key in needed if key not in cfg]
    if missing:
        from vidlab.config import ConfigError

        where = getattr(cfg, "filename", None) or "the config"
        raise ConfigError(
            f"{where} is not a BSN PGM config: it has no {', '.join(map(repr, missing))} "
            "(MMAction2's configs/localization/bsn/bsn_pgm_400x100_activitynet-feature.py "
            "has them)"
        )
    ann_file = cfg["ann_file_train"] if mode == "train" else cfg["ann_file_val"]
    with open(ann_file, encoding="utf-8") as f:
        videos = list(json.load(f).items())
    proposal_cfg = {
        k: v for k, v in dict(cfg["pgm_proposals_cfg"]).items() if k not in _THREAD_KEYS
    }
    feature_cfg = dict(cfg[f"pgm_features_{mode}_cfg"])
    threads = max(
        cfg["pgm_proposals_cfg"].get("pgm_proposals_thread", 1),
        feature_cfg.get("pgm_features_thread", 1),
    )
    feature_cfg = {k: v for k, v in feature_cfg.items() if k not in _THREAD_KEYS}
    workers = max(1, min(workers or threads, os.cpu_count() or 1))
    os.makedirs(cfg["pgm_proposals_dir"], exist_ok=True)
    os.makedirs(cfg["pgm_features_dir"], exist_ok=True)
    propose = partial(
        _proposals_of,
        tem_dir=cfg["tem_results_dir"],
        out_dir=cfg["pgm_proposals_dir"],
        **proposal_cfg,
    )
    featurize = partial(
        _features_of,
        tem_dir=cfg["tem_results_dir"],
        proposals_dir=cfg["pgm_proposals_dir"],
        out_dir=cfg["pgm_features_dir"],
        options=feature_cfg,
    )
    if workers == 1:
        counts = [propose(v) for v in videos]
        for v in videos:
            featurize(v)
    else:
        with ProcessPoolExecutor(workers) as pool:
            counts = list(pool.map(propose, videos, chunksize=8))
            list(pool.map(featurize, videos, chunksize=8))
    print(
        f"PGM ({mode}): {len(videos)} videos, {sum(counts)} proposals -> "
        f"{cfg['pgm_proposals_dir']}, features -> {cfg['pgm_features_dir']}"
    )
    return {"videos": len(videos), "proposals": sum(counts)}
