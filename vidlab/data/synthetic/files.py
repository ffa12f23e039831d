"""The synthetic dataset on disk: :func:`make_synthetic_dataset` writes H.264 videos, the
MMAction2 video lists, ``labels.txt`` and ``meta.json``, and reuses a complete matching dataset
(the cache). Also the class/split helpers shared with the in-memory dataset.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .encode import write_video
from .render import _MOTIONS, DEFAULT_CLASSES, render_clip

#: Bumped whenever the pixels or the file layout change, so stale datasets are regenerated.
GENERATOR_VERSION = 2

# x264 settings of the dataset: fixed GOP, B-frames as in typical real files, one thread.
_ENCODE = {"codec": "libx264", "pix_fmt": "yuv420p", "gop": 12, "crf": 20, "preset": "veryfast"}


_LAYOUT = {"videos", "train.txt", "val.txt", "labels.txt", "meta.json"}
_GENERATOR = "vidlab.data.synthetic"


def _resolve_classes(classes: str | Iterable[str] | None) -> list[str]:
    if classes is None:
        return list(DEFAULT_CLASSES)
    if isinstance(classes, str):  # "move_left,move_right" from a command line
        classes = [c.strip() for c in classes.split(",") if c.strip()]
    classes = list(classes)
    if not classes:
        raise ValueError(f"classes is empty; valid names: {', '.join(DEFAULT_CLASSES)}")
    unknown = [c for c in classes if c not in _MOTIONS]
    if unknown:
        raise ValueError(
            f"unknown synthetic class(es) {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(DEFAULT_CLASSES)}"
        )
    dupes = sorted({c for c in classes if classes.count(c) > 1})
    if dupes:
        raise ValueError(f"classes lists {', '.join(map(repr, dupes))} more than once")
    return classes


def _video_rng(seed: int, cls_name: str, index: int) -> np.random.Generator:
    """One independent stream per video, keyed by class NAME: a class subset or a larger
    ``videos_per_class`` keeps the videos it shares with another run identical."""
    return np.random.default_rng([seed, zlib.crc32(cls_name.encode()), index])


def _num_val(videos_per_class: int, val_fraction: float) -> int:
    n = int(round(videos_per_class * val_fraction))
    if val_fraction > 0 and videos_per_class >= 2:
        n = max(n, 1)
    return min(n, videos_per_class - 1)  # keep at least one training video per class


def _check_args(videos_per_class, val_fraction, num_frames, size, fps, seed) -> None:
    problems = []
    if not isinstance(videos_per_class, int) or videos_per_class < 1:
        problems.append(f"videos_per_class must be an int >= 1, got {videos_per_class!r}")
    if not 0 <= val_fraction < 1:
        problems.append(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if not isinstance(num_frames, int) or num_frames < 2:
        problems.append(f"num_frames must be an int >= 2, got {num_frames!r}")
    if not isinstance(size, int) or size < 16 or size % 2:
        problems.append(f"size must be an even int >= 16 (H.264 4:2:0), got {size!r}")
    if not fps > 0:
        problems.append(f"fps must be > 0, got {fps!r}")
    if not isinstance(seed, int):
        problems.append(f"seed must be an int, got {seed!r}")
    if problems:
        raise ValueError("make_synthetic_dataset: " + "; ".join(problems))


def _dataset_args(classes, videos_per_class, val_fraction, num_frames, size, fps, seed) -> dict:
    return {
        "classes": classes,
        "videos_per_class": videos_per_class,
        "val_fraction": val_fraction,
        "num_frames": num_frames,
        "size": size,
        "fps": fps,
        "seed": seed,
        "encode": dict(_ENCODE),
    }


def make_synthetic_dataset(
    out_dir: str | os.PathLike,
    classes: str | Iterable[str] | None = None,
    videos_per_class: int = 50,
    val_fraction: float = 0.2,
    num_frames: int = 24,
    size: int = 64,
    fps: int = 12,
    seed: int = 0,
    overwrite: bool = False,
) -> dict:
    """Writes (or reuses) the synthetic motion dataset under ``out_dir``.

    Layout (paths in the lists are relative to ``out_dir``, so a config uses
    ``data_prefix=out_dir``)::

        videos/<class>/<class>_<nnnn>.mp4   H.264 MP4, num_frames frames of size x size
        train.txt, val.txt                  "videos/<class>/<file>.mp4 <label>" per line
        labels.txt                          line i is the name of label i
        meta.json                           generator version and arguments

    The split is stratified: the last ``round(videos_per_class * val_fraction)`` videos of
    each class are the validation set. A complete dataset written with the same arguments is
    reused unless ``overwrite``; an incomplete one is regenerated; a complete one made with
    other arguments (or by another generator version) is never replaced in place without
    ``overwrite``: a checkpoint scored on it would silently score on other videos. The data
    is built in a temporary sibling folder and renamed into place at the end, so an
    interrupted run never leaves a half dataset that looks complete.

    Args:
        out_dir: Dataset root.
        classes: Class names (a subset of :data:`DEFAULT_CLASSES`, in label order, or a
            comma-separated string); None for all eight.
        videos_per_class: Videos per class, train and val together.
        val_fraction: Fraction of each class in ``val.txt``, in ``[0, 1)``.
        num_frames: Frames per video.
        size: Frame height and width (even, >= 16).
        fps: Frame rate stored in the files.
        seed: Seed of the whole dataset.
        overwrite: Regenerate even if a matching dataset exists; also allows replacing a
            folder that holds something else.

    Returns:
        ``dict(root, train_list, val_list, labels, meta, classes, num_classes, num_train,
        num_val, reused)``; paths are strings.

    Raises:
        ValueError: A bad argument or an unknown class name (the message lists valid names).
        FileExistsError: ``out_dir`` holds files that are not a synthetic dataset, or a
            complete synthetic dataset made with other arguments, and ``overwrite`` is False.
    """
    classes = _resolve_classes(classes)
    _check_args(videos_per_class, val_fraction, num_frames, size, fps, seed)
    root = Path(out_dir).absolute()
    args = _dataset_args(classes, videos_per_class, val_fraction, num_frames, size, fps, seed)

    if not overwrite:
        existing = _load_complete(root, args)
        if existing is not None:
            return existing
        other = _other_complete(root, args)
        if other:
            raise FileExistsError(
                f"{root} holds a synthetic dataset made with other arguments ({other}); it is "
                "not re-rendered in place (results on it would change under the same path). "
                "Pick another folder, or pass overwrite=True (vidlab data synth --overwrite) "
                "to replace it"
            )
        if root.exists() and not _replaceable(root):
            raise FileExistsError(
                f"{root} exists and holds files that are not a vidlab synthetic dataset "
                f"({', '.join(sorted(p.name for p in root.iterdir())[:5])}); pick an empty "
                "or new folder, or pass overwrite=True to replace it"
            )

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        counts = _generate(tmp, args)
        _write_json(
            tmp / "meta.json",
            {"generator": _GENERATOR, "version": GENERATOR_VERSION, "args": args, "counts": counts},
        )
        if not _swap_into_place(tmp, root, args, overwrite):
            existing = _load_complete(root, args)  # another process finished first
            if existing is not None:
                return existing
            raise FileExistsError(f"could not move the new dataset into {root}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # gone already after a successful rename
    return _result(root, classes, counts, reused=False)


def _generate(tmp: Path, args: dict) -> dict:
    classes, n = args["classes"], args["videos_per_class"]
    n_val = _num_val(n, args["val_fraction"])
    width = max(4, len(str(n - 1)))
    train, val = [], []
    encode = {k: v for k, v in args["encode"].items()}
    for label, cls_name in enumerate(classes):
        (tmp / "videos" / cls_name).mkdir(parents=True)
        for index in range(n):
            rel = f"videos/{cls_name}/{cls_name}_{index:0{width}d}.mp4"
            frames = render_clip(
                cls_name,
                _video_rng(args["seed"], cls_name, index),
                args["num_frames"],
                args["size"],
            )
            write_video(tmp / rel, frames, args["fps"], **encode)
            (val if index >= n - n_val else train).append(f"{rel} {label}\n")
    (tmp / "train.txt").write_text("".join(train))
    (tmp / "val.txt").write_text("".join(val))
    (tmp / "labels.txt").write_text("".join(f"{c}\n" for c in classes))
    return {"train": len(train), "val": len(val), "videos": len(train) + len(val)}


def _write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _read_meta(root: Path) -> dict | None:
    try:
        meta = json.loads((root / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("generator") == _GENERATOR else None


def _load_complete(root: Path, args: dict) -> dict | None:
    """The result dict of a complete dataset at ``root`` made with ``args``, else None."""
    meta = _read_meta(root)
    if meta is None or meta.get("version") != GENERATOR_VERSION or meta.get("args") != args:
        return None
    try:
        lines = [
            line.split()
            for name in ("train.txt", "val.txt")
            for line in (root / name).read_text().splitlines()
        ]
        labels = (root / "labels.txt").read_text().splitlines()
    except OSError:
        return None
    counts = meta.get("counts", {})
    if labels != args["classes"] or len(lines) != counts.get("videos"):
        return None
    if not all(
        len(p) == 2 and (root / p[0]).is_file() and (root / p[0]).stat().st_size > 0 for p in lines
    ):
        return None
    return _result(root, args["classes"], counts, reused=True)


def _other_complete(root: Path, args: dict) -> str:
    """How the complete dataset at ``root`` differs from ``args`` ('' if there is none, or
    it is incomplete: an interrupted or damaged dataset may be rebuilt)."""
    meta = _read_meta(root)
    if meta is None:
        return ""
    old_args = meta.get("args") or {}
    counts = meta.get("counts") or {}
    if not isinstance(old_args, dict) or not old_args.get("classes"):
        return ""
    complete = _load_complete(root, old_args) if meta.get("version") == GENERATOR_VERSION else 1
    if complete is None:
        return ""
    diffs = [
        f"{k}={old_args.get(k)!r} there, {args[k]!r} asked"
        for k in args
        if old_args.get(k) != args[k]
    ]
    if meta.get("version") != GENERATOR_VERSION:
        diffs.append(f"generator version {meta.get('version')!r}, now {GENERATOR_VERSION}")
    return "; ".join(diffs) if counts else ""


def cache_key(args: dict) -> str:
    """A short folder suffix naming a dataset's arguments: ``v150-32px-s0-<hash>``."""
    text = json.dumps({"version": GENERATOR_VERSION, "args": args}, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"v{args['videos_per_class']}-{args['size']}px-s{args['seed']}-{digest}"


def dataset_args(
    classes=None,
    videos_per_class: int = 50,
    val_fraction: float = 0.2,
    num_frames: int = 24,
    size: int = 64,
    fps: int = 12,
    seed: int = 0,
) -> dict:
    """The arguments a dataset is made with, checked and normalised (what ``meta.json`` holds
    and :func:`cache_key` names)."""
    classes = _resolve_classes(classes)
    _check_args(videos_per_class, val_fraction, num_frames, size, fps, seed)
    return _dataset_args(classes, videos_per_class, val_fraction, num_frames, size, fps, seed)


def _replaceable(root: Path) -> bool:
    """True if ``root`` is empty or holds only this generator's layout (maybe a stale one)."""
    if not root.is_dir():
        return False
    return {p.name for p in root.iterdir()} <= _LAYOUT


def _swap_into_place(tmp: Path, root: Path, args: dict, overwrite: bool) -> bool:
    """Renames ``tmp`` to ``root``, replacing what is there; False if another writer won."""
    old = None
    if root.exists():
        if not overwrite and _load_complete(root, args) is not None:
            return False
        old = Path(tempfile.mkdtemp(prefix=f".{root.name}.old-", dir=root.parent))
        os.rename(root, old / "data")  # a rename, so the replacement is all or nothing
    try:
        os.rename(tmp, root)
    except OSError:
        return False
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    return True


def _result(root: Path, classes: list[str], counts: dict, *, reused: bool) -> dict:
    return {
        "root": str(root),
        "train_list": str(root / "train.txt"),
        "val_list": str(root / "val.txt"),
        "labels": str(root / "labels.txt"),
        "meta": str(root / "meta.json"),
        "classes": list(classes),
        "num_classes": len(classes),
        "num_train": counts["train"],
        "num_val": counts["val"],
        "reused": reused,
    }
