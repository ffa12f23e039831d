"""A synthetic spatio-temporal action detection set in AVA's formats, for training with no downloads.

Each video shows 2-4 "actors" (the textured shapes of :mod:`.render`) on one low-frequency
background with pixel noise. Every actor lives through segments of whole seconds; in each it
does one movement (``stand``, ``walk_left``, ``walk_right``, ``jump``) and, half of the time, a
turn as well (``turn_cw``, ``turn_ccw``), so an actor has one or two labels at a time, as AVA's
people have a pose and maybe an interaction. Walking left and right, and the two turns, are
time-reverses of each other: telling them apart needs the order of the frames.

Written as AVA writes it (MMAction2's ``AVADataset`` reads it unchanged)::

    rawframes/<video_id>/img_00001.jpg ...   JPEG frames at 30 fps; img_00001 is t = 900.0 s
    annotations/train.csv, val.csv           video_id,timestamp,x1,y1,x2,y2,action_id,entity_id
    annotations/*_excluded_timestamps.csv    video_id,timestamp: keyframes where two actors'
                                             boxes overlap (IoU > 0.3); as AVA's, they have
                                             no rows in the csv
    annotations/action_list.pbtxt            the label map (ids 1..6; 1..4 without turns)
    annotations/proposals_{train,val}.pkl    {"vid,0902": (n, 5) x1,y1,x2,y2,score}: every
                                             actor's box jittered (score >= 0.9) plus 0-2
                                             false persons (score < 0.9)
    meta.json                                generator version and arguments (the cache key)

Keyframes are whole seconds from ``900 + 2`` to ``900 + duration - 2``, the labels of the
segment each falls in (segments change half-way between keyframes, so a clip of about one
second around a keyframe shows one action), the boxes are the actor's drawn extent at the
keyframe's frame. Deterministic: the same arguments give the same files.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
import time
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .render import _background_field, _object_weights, sample_clip_spec

__all__ = ["ACTIONS", "ACTORS_VERSION", "make_actors_dataset", "prepare_synthetic_actors"]

#: Bumped whenever the pixels or the layout change, so a cached set is rewritten.
ACTORS_VERSION = 4
#: Action names; the label id of ``ACTIONS[i]`` is ``i + 1`` (AVA's ids start at 1).
ACTIONS: tuple[str, ...] = ("stand", "walk_left", "walk_right", "jump", "turn_cw", "turn_ccw")
_MOVES = ("stand", "walk_left", "walk_right", "jump")
_TURNS = (None, "turn_cw", "turn_ccw")
TIMESTAMP_START = 900  # AVA's: frame 1 is second 900 of the movie
_GENERATOR = "vidlab.data.synthetic.actors"
_CHUNK = 64  # frames rendered at once (bounds memory on long videos)


@dataclass
class _Actor:
    """One actor of a video: appearance (a :class:`ClipSpec` of :mod:`.render`) and trajectory."""

    spec: object  # render.ClipSpec; centers/radii/angles replaced by the trajectory
    labels: list[tuple[int, ...]]  # per second: label ids of the segment it falls in


def _segments(rng: np.random.Generator, seconds: int) -> list[tuple[int, int]]:
    """Whole-second segments ``[start, end)`` covering ``0..seconds``, 1-2 s long."""
    out, at = [], 0
    while at < seconds:
        length = int(rng.integers(1, 3))
        out.append((at, min(seconds, at + length)))
        at += length
    return out


def _actor(rng, size: int, fps: int, seconds: int, turns: float, taken: list) -> _Actor:
    """Draws one actor's appearance, segments and per-frame trajectory."""
    n = seconds * fps
    spec = sample_clip_spec("move_left", rng, 1, size)  # appearance only; motion set below
    radius = rng.uniform(0.11, 0.15) * size
    margin = radius * 1.15 + 1
    # A start away from the other actors where possible (a few tries), else anywhere.
    for _ in range(20):
        x, y = rng.uniform(margin, size - margin, 2)
        if all(np.hypot(x - p[0], y - p[1]) > 2.2 * radius for p in taken):
            break
    taken.append(np.array([x, y]))
    xs, ys = np.empty(n), np.empty(n)
    angles, labels = np.empty(n), []
    angle = rng.uniform(0, 2 * np.pi)
    for start, end in _segments(rng, seconds):
        move = _MOVES[int(rng.integers(len(_MOVES)))]
        turning, which = rng.random() < turns, int(rng.integers(2))  # always two draws
        turn = _TURNS[1 + which] if turning else None
        speed = rng.uniform(0.12, 0.2) * size / fps  # pixels per frame
        spin = np.deg2rad(rng.uniform(150, 250)) / fps  # radians per frame
        hop_period = rng.uniform(0.6, 0.9) * fps  # frames
        # A hop of about one radius (at least 0.6 below the top border): smaller ones were
        # the class a small 3D CNN confused most (with stand).
        hop = max(0.6 * radius, min(rng.uniform(1.0, 1.4) * radius, y - radius))
        # Segments switch half-way between keyframes: frames [start - 0.5 s, end - 0.5 s).
        f0 = 0 if start == 0 else int((start - 0.5) * fps)
        f1 = n if end == seconds else int((end - 0.5) * fps)
        t = np.arange(f1 - f0, dtype=float)
        if move in ("walk_left", "walk_right"):
            # Near a border, walk the other way; where neither way has room at this speed,
            # walk slower towards the larger room (or stand when that is too slow to see).
            room = {"walk_left": x - margin, "walk_right": size - margin - x}
            if room[move] < speed * (f1 - f0):
                move = max(room, key=room.get)
                speed = min(speed, room[move] / (f1 - f0))
                if speed < 0.08 * size / fps:
                    move = "stand"
        sign = {"walk_left": -1.0, "walk_right": 1.0}.get(move, 0.0)
        xs[f0:f1] = x + sign * speed * (t + 1)
        ys[f0:f1] = y - (hop * np.abs(np.sin(np.pi * t / hop_period)) if move == "jump" else 0)
        turn_sign = {"turn_cw": 1.0, "turn_ccw": -1.0}.get(turn, 0.0)  # y down: + is clockwise
        angles[f0:f1] = angle + turn_sign * spin * (t + 1)
        x, angle = xs[f1 - 1], angles[f1 - 1]
        ids = (ACTIONS.index(move) + 1,) + ((ACTIONS.index(turn) + 1,) if turn else ())
        labels.extend([ids] * (end - start))
    centers = np.stack([xs, ys], axis=1)  # (T, 2)
    spec = replace(spec, centers=centers, radii=np.full(n, radius), angles=angles)
    return _Actor(spec=spec, labels=labels)


def _frames(spec, start: int, stop: int):
    """The spec of frames ``start..stop`` only."""
    return replace(
        spec,
        centers=spec.centers[start:stop],
        radii=spec.radii[start:stop],
        angles=spec.angles[start:stop],
    )


def _render_chunk(scene, actors: list[_Actor], start: int, stop: int, noise_rng):
    """RGB frames ``start..stop`` of a video ``(T, H, W, 3)`` uint8 and each actor's alpha."""
    field, gain = _background_field(_frames(scene, start, stop))
    frames = field[None] * gain[:, None, None, None]  # (T, H, W, 3)
    alphas = []
    for actor in actors:  # painter's order: later actors in front
        w = _object_weights(_frames(actor.spec, start, stop))  # (T, H, W, 4)
        frames = frames * w[..., :1] + w[..., 1:] @ actor.spec.colors.astype(np.float32)
        alphas.append(1.0 - w[..., 0])
    noise = noise_rng.random(frames.shape, dtype=np.float32) - 0.5
    frames += noise * np.float32(scene.noise_sigma * np.sqrt(12.0))
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8), alphas


def _box(alpha: np.ndarray) -> np.ndarray | None:
    """Normalised ``x1, y1, x2, y2`` of the pixels an actor covers (alpha >= 0.5)."""
    rows, cols = np.nonzero(alpha >= 0.5)
    if rows.size == 0:
        return None
    h, w = alpha.shape
    return np.array([cols.min() / w, rows.min() / h, (cols.max() + 1) / w, (rows.max() + 1) / h])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _proposals(rng, boxes: list[np.ndarray], jitter: float, false_persons: int) -> np.ndarray:
    """Every true box jittered (score 0.9-1.0) and up to ``false_persons`` others (< 0.9)."""
    rows = []
    for box in boxes:
        wh = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        moved = np.clip(box + rng.uniform(-jitter, jitter, 4) * wh, 0.0, 1.0)
        rows.append([*moved, rng.uniform(0.9, 1.0)])
    for _ in range(int(rng.integers(false_persons + 1))):
        w, h = rng.uniform(0.15, 0.35, 2)
        x, y = rng.uniform(0, 1 - w), rng.uniform(0, 1 - h)
        rows.append([x, y, x + w, y + h, rng.uniform(0.3, 0.85)])
    order = rng.permutation(len(rows))
    return np.round(np.asarray(rows, dtype=np.float64)[order], 3)


def _write_video(tmp: Path, video_id: str, seed: int, args: dict, encoder) -> dict:
    """Renders and writes one video's frames; returns its keyframe rows, exclusions and
    proposals."""
    size, fps, seconds = args["size"], args["fps"], args["seconds"]
    rng = np.random.default_rng([seed, zlib.crc32(video_id.encode())])
    scene = sample_clip_spec("move_left", rng, seconds * fps, size)  # background and noise
    taken: list[np.ndarray] = []
    num = int(rng.integers(args["actors"][0], args["actors"][1] + 1))
    actors = [_actor(rng, size, fps, seconds, args["turns"], taken) for _ in range(num)]
    keyframes = {s * fps: s for s in range(2, seconds - 1)}  # frame index -> second
    folder = tmp / "rawframes" / video_id
    folder.mkdir(parents=True)
    noise_rng = np.random.default_rng(scene.noise_seed)
    boxes: dict[int, list] = {}
    for start in range(0, seconds * fps, _CHUNK):
        stop = min(start + _CHUNK, seconds * fps)
        frames, alphas = _render_chunk(scene, actors, start, stop, noise_rng)
        for i, frame in enumerate(frames):
            index = start + i
            (folder / f"img_{index + 1:05d}.jpg").write_bytes(encoder.encode(frame))
            if index in keyframes:
                boxes[keyframes[index]] = [_box(a[i]) for a in alphas]
    rows, excluded, proposals = [], [], {}
    for second, actor_boxes in sorted(boxes.items()):
        timestamp = TIMESTAMP_START + second
        present = [(e, b) for e, b in enumerate(actor_boxes) if b is not None]
        # As AVA's: an excluded timestamp has no annotation rows (MMAction2's ava_eval counts
        # the ground truth of excluded frames as positives that nothing can find).
        if any(_iou(a, b) > 0.3 for i, (_, a) in enumerate(present) for _, b in present[i + 1 :]):
            excluded.append(f"{video_id},{timestamp:04d}\n")
        else:
            for entity, box in present:
                coords = ",".join(f"{v:.3f}" for v in box)
                for label in actors[entity].labels[second]:
                    rows.append(f"{video_id},{timestamp:04d},{coords},{label},{entity}\n")
        key = f"{video_id},{timestamp:04d}"
        proposals[key] = _proposals(
            rng, [b for _, b in present], args["jitter"], args["false_persons"]
        )
    return dict(rows=rows, excluded=excluded, proposals=proposals)


def _args(
    videos, val_fraction, size, seconds, fps, actors, turns, jitter, false_persons, seed, quality
):
    problems = []
    if not isinstance(videos, int) or videos < 2:
        problems.append(f"videos must be an int >= 2, got {videos!r}")
    if not 0 < val_fraction < 1:
        problems.append(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    if not isinstance(size, int) or size < 32:
        problems.append(f"size must be an int >= 32, got {size!r}")
    if not isinstance(seconds, int) or seconds < 5:
        problems.append(
            f"seconds must be an int >= 5 (keyframes need 2 s either side), got {seconds!r}"
        )
    if not isinstance(fps, int) or fps < 4:
        problems.append(f"fps must be an int >= 4, got {fps!r}")
    if not 0 <= turns <= 1:
        problems.append(f"turns must be a probability in [0, 1], got {turns!r}")
    actors = list(actors)
    if len(actors) != 2 or not 1 <= actors[0] <= actors[1]:
        problems.append(f"actors must be (min, max) with 1 <= min <= max, got {actors!r}")
    if problems:
        raise ValueError("make_actors_dataset: " + "; ".join(problems))
    return dict(
        videos=videos,
        val_fraction=val_fraction,
        size=size,
        seconds=seconds,
        fps=fps,
        actors=actors,
        turns=turns,
        jitter=jitter,
        false_persons=false_persons,
        seed=seed,
        quality=quality,
    )


def _paths(root: Path) -> dict:
    ann = root / "annotations"
    out = dict(
        root=str(root), frames=str(root / "rawframes"), label_file=str(ann / "action_list.pbtxt")
    )
    for split in ("train", "val"):
        out[f"ann_file_{split}"] = str(ann / f"{split}.csv")
        out[f"exclude_file_{split}"] = str(ann / f"{split}_excluded_timestamps.csv")
        out[f"proposal_file_{split}"] = str(ann / f"proposals_{split}.pkl")
    return out


def make_actors_dataset(
    root: str | os.PathLike,
    videos: int = 40,
    val_fraction: float = 0.2,
    size: int = 96,
    seconds: int = 10,
    fps: int = 30,
    actors: tuple[int, int] = (2, 4),
    turns: float = 0.5,
    jitter: float = 0.04,
    false_persons: int = 2,
    seed: int = 0,
    quality: int = 3,
) -> dict:
    """Writes (or reuses) the synthetic actors set under ``root`` (layout in the module doc).

    A folder holding a complete set made with the same arguments is reused; otherwise the set
    is written to a temporary sibling and renamed into place (a half-written set never looks
    complete); a folder holding anything else is never replaced.

    Args:
        root: Output folder.
        videos: Number of videos; the last ``round(videos * val_fraction)`` are ``val``.
        val_fraction: Share of videos in the validation split.
        size: Frame side in pixels (square frames).
        seconds: Video length; keyframes are seconds 2 .. seconds - 2.
        fps: Frame rate (AVA: 30).
        actors: Inclusive range of actors per video.
        turns: Probability that an actor also turns during a segment (0: no ``turn_*``
            labels, and the label map lists the four movements only).
        jitter: Proposal box jitter, a fraction of the box's side per coordinate.
        false_persons: At most this many false person boxes per keyframe in the proposals.
        seed: Seed of the whole set.
        quality: JPEG quality as FFmpeg's ``-q:v`` (2 best .. 31).

    Returns:
        ``dict(root, frames, label_file, ann_file_train, ann_file_val, exclude_file_train,
        exclude_file_val, proposal_file_train, proposal_file_val, num_train, num_val,
        reused, seconds)`` (paths as strings; ``num_*`` count keyframes).
    """
    from vidlab.data.io.frames import ImageEncoder

    args = _args(
        videos,
        val_fraction,
        size,
        seconds,
        fps,
        actors,
        turns,
        jitter,
        false_persons,
        seed,
        quality,
    )
    root = Path(root).absolute()
    meta = root / "meta.json"
    if meta.is_file():
        old = json.loads(meta.read_text())
        if old.get("version") == ACTORS_VERSION and old.get("args") == args:
            return dict(_paths(root), **old["counts"], reused=True, seconds=0.0)
        raise FileExistsError(
            f"{root} holds a synthetic actors set made with other arguments or another "
            f"version ({old.get('args')}, version {old.get('version')}); pick another folder "
            "or delete it"
        )
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(
            f"{root} exists and is not a synthetic actors set; pick another folder"
        )
    began = time.perf_counter()
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        counts = _generate(tmp, args, ImageEncoder(".jpg", quality))
        (tmp / "meta.json").write_text(
            json.dumps(dict(generator=_GENERATOR, version=ACTORS_VERSION, args=args, counts=counts))
        )
        if root.exists():
            root.rmdir()  # empty (checked above)
        os.rename(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dict(_paths(root), **counts, reused=False, seconds=time.perf_counter() - began)


def _generate(tmp: Path, args: dict, encoder) -> dict:
    ann = tmp / "annotations"
    ann.mkdir(parents=True)
    n_val = max(1, round(args["videos"] * args["val_fraction"]))
    counts = {}
    for split, ids in (
        ("train", range(args["videos"] - n_val)),
        ("val", range(args["videos"] - n_val, args["videos"])),
    ):
        rows, excluded, proposals = [], [], {}
        for v in ids:
            out = _write_video(tmp, f"actors_{v:04d}", args["seed"], args, encoder)
            rows += out["rows"]
            excluded += out["excluded"]
            proposals.update(out["proposals"])
        (ann / f"{split}.csv").write_text("".join(rows))
        (ann / f"{split}_excluded_timestamps.csv").write_text("".join(excluded))
        with open(ann / f"proposals_{split}.pkl", "wb") as f:
            pickle.dump(proposals, f, protocol=4)
        counts[f"num_{split}"] = len(proposals)
    names = ACTIONS if args["turns"] > 0 else _MOVES
    (ann / "action_list.pbtxt").write_text(
        "".join(f'item {{\n  name: "{name}"\n  id: {i + 1}\n}}\n' for i, name in enumerate(names))
    )
    return counts


def prepare_synthetic_actors(cfg) -> dict | None:
    """Write (or reuse) the set a config names in ``synthetic_actors=dict(root=..., ...)``.

    The other keys are arguments of :func:`make_actors_dataset`. The set goes to the sibling
    folder ``<root>-<key>`` (the key names its arguments, so sets made with other arguments live
    side by side), and every path of the config below ``root`` is pointed there.

    Returns:
        What :func:`make_actors_dataset` returns, or None for a config without
        ``synthetic_actors``.
    """
    import hashlib
    import inspect

    from .cli import _point_paths

    spec = cfg.get("synthetic_actors")
    if not spec:
        return None
    kwargs = dict(spec)
    if "root" not in kwargs:
        raise ValueError(f"synthetic_actors needs root=<directory>, got {sorted(kwargs)}")
    written = kwargs["root"]
    root = os.path.normpath(os.fspath(kwargs.pop("root")))
    params = inspect.signature(make_actors_dataset).parameters
    defaults = {k: p.default for k, p in params.items() if k != "root"}
    unknown = sorted(set(kwargs) - set(defaults))
    if unknown:
        raise ValueError(
            f"synthetic_actors: unknown argument(s) {unknown}; known: {sorted(defaults)}"
        )
    args = _args(**{**defaults, **kwargs})
    digest = hashlib.sha256(json.dumps([ACTORS_VERSION, args], sort_keys=True).encode()).hexdigest()
    keyed = f"{root}-v{args['videos']}-{args['size']}px-s{args['seed']}-{digest[:8]}"
    info = make_actors_dataset(keyed, **kwargs)
    _point_paths(cfg, root, keyed)
    cfg["synthetic_actors"]["root"] = written  # the cache's name stays as written
    verb = "reused" if info["reused"] else f"wrote ({info['seconds']:.1f} s)"
    print(
        f"synthetic actors: {verb} {info['root']} ({info['num_train']} train, "
        f"{info['num_val']} val keyframes)",
        flush=True,
    )
    return info
