"""Entry points of the synthetic dataset: :func:`prepare_synthetic_data` (a config's
``synthetic_data``) and :func:`synth_main` (``vidlab data synth``)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from .files import cache_key, dataset_args, make_synthetic_dataset


def prepare_synthetic_data(cfg) -> dict | None:
    """Generate the dataset a config asks for with ``synthetic_data=dict(root=..., ...)``.

    ``vidlab train`` / ``vidlab test`` / ``vidlab quickstart`` call it before building the
    datasets; the other keys of ``synthetic_data`` are arguments of
    :func:`make_synthetic_dataset`. ``root`` names a cache: the dataset is written to the
    sibling folder ``<root>-<key>``, the key naming its arguments (``v150-32px-s0-1a2b3c4d``),
    so datasets made with other arguments (``--cfg-options synthetic_data.videos_per_class=3``)
    live side by side and none is ever re-rendered in place; the config's paths below ``root``
    (``data_root``, ``ann_file``, ``data_prefix``, ``label_file``...) are pointed there, and
    the folder is printed. A complete dataset made with the same arguments is reused;
    generation is deterministic.

    A config's ``synthetic_actors`` (the detection set) is written the same way, by
    :func:`vidlab.data.synthetic.actors.prepare_synthetic_actors`.

    Returns:
        What :func:`make_synthetic_dataset` returns (or, for a config with only
        ``synthetic_actors``, what ``make_actors_dataset`` returns), or None for a config
        without either (left alone).
    """
    if cfg.get("synthetic_actors"):  # the detection set (vidlab.data.synthetic.actors)
        from .actors import prepare_synthetic_actors

        actors = prepare_synthetic_actors(cfg)
        if not cfg.get("synthetic_data"):
            return actors
    spec = cfg.get("synthetic_data")
    if not spec:
        return None
    if "root" not in spec:
        raise ValueError(
            "synthetic_data needs root=<directory> (where the dataset is written), got "
            f"{sorted(spec)}"
        )
    root, keyed, kwargs = _keyed_root(spec)
    overwrite = bool(kwargs.pop("overwrite", False))
    start = time.perf_counter()
    info = make_synthetic_dataset(keyed, overwrite=overwrite, **kwargs)
    _point_paths(cfg, root, keyed)
    verb = "reused" if info["reused"] else f"wrote ({time.perf_counter() - start:.1f} s)"
    print(
        f"synthetic data: {verb} {info['root']} ({info['num_train']} train, "
        f"{info['num_val']} val videos)",
        flush=True,
    )
    return info


def point_at_synthetic_data(cfg) -> str | None:
    """Point the config's paths at the synthetic dataset it names, when that dataset was
    already written (by ``vidlab train``/``quickstart``); render nothing. ``vidlab infer`` uses
    it so the config's ``label_file`` names the classes. Returns the folder, or None."""
    spec = cfg.get("synthetic_data")
    if not spec or "root" not in spec:
        return None
    root, keyed, _ = _keyed_root(spec)
    if not os.path.isdir(keyed):
        return None
    _point_paths(cfg, root, keyed)
    return keyed


def _keyed_root(spec) -> tuple[str, str, dict]:
    """``(root, root-<key of the data's arguments>, the other arguments)`` of a config's
    ``synthetic_data`` (``overwrite`` stays in the arguments but not in the key)."""
    kwargs = dict(spec)
    root = os.path.normpath(os.fspath(kwargs.pop("root")))
    key = cache_key(dataset_args(**{k: v for k, v in kwargs.items() if k != "overwrite"}))
    return root, f"{root}-{key}", kwargs


def _point_paths(node, old: str, new: str, key_path: str = "") -> None:
    """Replace the path prefix ``old`` by ``new`` in every string of the config (in place),
    except ``synthetic_data.root`` itself."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for k, v in list(items):
        path = f"{key_path}.{k}" if key_path else str(k)
        if path == "synthetic_data.root":
            continue
        if isinstance(v, str):
            norm = os.path.normpath(v) if v else v
            if norm == old or norm.startswith(old + os.sep):
                node[k] = new + norm[len(old) :]
        elif isinstance(v, (dict, list)):
            _point_paths(v, old, new, path)


def synth_main(
    out_dir: str | os.PathLike,
    classes: str | Iterable[str] | None = None,
    videos_per_class: int = 50,
    seed: int = 0,
    val_fraction: float = 0.2,
    num_frames: int = 24,
    size: int = 64,
    fps: int = 12,
    overwrite: bool = False,
) -> dict:
    """``vidlab data synth``: writes the dataset and prints what it wrote and how to use it.

    Arguments are those of :func:`make_synthetic_dataset`. Returns its result dict.
    """
    start = time.perf_counter()
    info = make_synthetic_dataset(
        out_dir,
        classes=classes,
        videos_per_class=videos_per_class,
        val_fraction=val_fraction,
        num_frames=num_frames,
        size=size,
        fps=fps,
        seed=seed,
        overwrite=overwrite,
    )
    seconds = time.perf_counter() - start
    verb = "reused existing" if info["reused"] else f"wrote in {seconds:.1f} s:"
    print(
        f"{verb} {info['num_train'] + info['num_val']} videos ({info['num_train']} train, "
        f"{info['num_val']} val), {info['num_classes']} classes, {num_frames} frames of "
        f"{size}x{size} at {fps} fps, seed {seed}\n"
        f"  root:   {info['root']}\n"
        f"  lists:  {info['train_list']}, {info['val_list']}\n"
        f"  labels: {info['labels']} ({', '.join(info['classes'])})\n"
        f"  config: data_prefix={info['root']!r}, ann_file=<root>/train.txt or val.txt"
    )
    return info
