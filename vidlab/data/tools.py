"""Data tools behind ``vidlab data {check, build-list}`` (``extract-frames`` and ``resize``:
:mod:`vidlab.data.transcode`).

Plain functions, each returning a dict that says what was done:

- `check_videos`: open and fully decode every video of a ``path label`` list, in parallel
  processes; write the bad lines (with reasons) and the good ones to separate lists.
- `build_list`: a class-per-folder tree -> ``train.txt``, ``val.txt`` (``path label``, paths
  relative to the root) and ``labels.txt``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

__all__ = [
    "VIDEO_EXTS",
    "build_list",
    "check_videos",
    "format_check_summary",
    "quote_path",
]

VIDEO_EXTS = (
    ".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".wmv", ".3gp",
    ".ts",
)  # fmt: skip


# -- list files ------------------------------------------------------------------------------


def _read_list(list_file: str | os.PathLike) -> list[tuple[int, str, list[str], str]]:
    """(line number, path, other fields, the line) for each non-blank, non-comment line.

    Columns as the datasets read them (:func:`vidlab.data.annotations.split_list_line`: a path
    with spaces is quoted); a line that cannot be split has the problem as its path's reason
    (``fields`` is then ``None``).
    """
    from vidlab.data.annotations import split_list_line

    entries = []
    with open(list_file, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            text = line.rstrip("\r\n")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            try:
                fields = split_list_line(text)
            except ValueError as e:
                entries.append((lineno, str(e), None, text))
                continue
            entries.append((lineno, fields[0], fields[1:], text))
    return entries


def quote_path(path: str) -> str:
    """``path`` as a list line writes it: in quotes when it holds whitespace."""
    return f'"{path}"' if any(c.isspace() for c in path) else path


def _space_reason(data_prefix, path: str, fields: list[str]) -> str | None:
    """The real reason a line's path is missing when the path has unquoted spaces: the
    leading columns joined with spaces name a file that exists."""
    for k in range(1, len(fields) + 1):
        candidate = " ".join([path, *fields[:k]])
        if os.path.exists(_join(data_prefix, candidate)):
            return (
                f"{_join(data_prefix, candidate)}: the path has spaces, so the line splits "
                f"into {len(fields) + 1} columns; quote it: {quote_path(candidate)} "
                f"{' '.join(fields[k:])}".rstrip()
            )
    return None


def _join(prefix: str | os.PathLike, path: str) -> str:
    return os.path.join(os.fspath(prefix), path) if prefix else path


def _run(fn: Callable, jobs: list, num_workers: int, desc: str) -> list:
    """`fn(*job)` for every job, in `num_workers` processes (0 or 1: here), with a progress bar.

    Results come back in the order of `jobs`.
    """
    from tqdm.auto import tqdm

    results: list = [None] * len(jobs)
    if num_workers <= 1 or len(jobs) <= 1:
        for i, job in enumerate(tqdm(jobs, desc=desc, unit="video", leave=False)):
            results[i] = fn(*job)
        return results
    # spawn: a caller may hold threads (torch, decoders) that a fork would copy half-way
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(num_workers, len(jobs)), mp_context=context) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        for future in tqdm(as_completed(futures), total=len(jobs), desc=desc, unit="video"):
            results[futures[future]] = future.result()
    return results


# -- check -----------------------------------------------------------------------------------


def _check_one(path: str, expected_frames: int | None) -> tuple[str | None, list[str]]:
    """(reason it is bad or None, issues) for one video file or frame folder."""
    from vidlab.data.io import DecodeError, open_video, probe

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # gaps are reported below
            info = probe(path)
        if os.path.isdir(path):
            if info.issues:
                return "; ".join(info.issues), []
            with open_video(path) as reader:
                for start in range(0, info.num_frames, 64):
                    reader.read(range(start, min(start + 64, info.num_frames)))
            decoded = info.num_frames
        else:
            decoded, found = _decode_all(path, info.num_frames)
            info = dataclasses.replace(
                info, issues=(*info.issues, *(f for f in found if f not in info.issues))
            )
    except DecodeError as e:
        return str(e), []
    except Exception as e:  # a checker reports whatever breaks, it does not stop
        return f"{path}: {type(e).__name__}: {e}", []
    if decoded < info.num_frames:
        return (
            f"{path}: only {decoded} of {info.num_frames} frames decode",
            list(info.issues),
        )
    if expected_frames is not None and expected_frames != info.num_frames:
        return (
            f"{path}: the list says {expected_frames} frames, the source has {info.num_frames}",
            [],
        )
    return None, list(info.issues)


def _decode_all(path: str, num_frames: int) -> tuple[int, list[str]]:
    """Decode every frame (no conversion); raise DecodeError naming the first failure.

    Returns the count and what the frames show that the demux pass cannot: a display rotation
    (in any container), a frame size that changes mid-stream."""
    import av

    from vidlab.data.io import DecodeError
    from vidlab.data.io.protocols import av_open
    from vidlab.data.io.pyav import frame_rotation, reason_of, size_change_note

    count, changed = 0, False
    notes: list[str] = []
    try:
        with av_open(path) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            first = None
            for frame in container.decode(stream):
                size = (frame.width, frame.height)
                if first is None:
                    first = size
                    if rotation := frame_rotation(frame):
                        notes.append(
                            f"rotated {rotation} degrees for display (a display matrix); frames "
                            "are read upright"
                        )
                elif size != first and not changed:
                    changed = True
                    notes.append(size_change_note(first, size, f"from frame {count}"))
                count += 1
    except (av.error.FFmpegError, OSError, EOFError) as e:
        raise DecodeError(
            f"{path}: decoding failed after {count} of {num_frames} frames ({reason_of(e)})", path
        ) from e
    return count, notes


def check_videos(
    list_file: str | os.PathLike,
    data_prefix: str | os.PathLike = "",
    out: str | os.PathLike | None = None,
    clean: str | os.PathLike | None = None,
    num_workers: int = 2,
) -> dict:
    """Open and decode every video (or frame folder) of a list, in parallel processes.

    Args:
        list_file: ``path label`` lines (videos), or ``frame_dir total_frames label`` lines
            (frame folders: the count is checked too).
        data_prefix: Directory the paths are relative to.
        out: Where to write the bad lines, each followed by a tab and the reason.
        clean: Where to write the good lines, unchanged (a list to train on).
        num_workers: Processes; 0 or 1 checks in this process.

    Returns:
        ``dict(total, num_good, num_bad, bad=[dict(line, path, reason)], warnings=[...],
        out, clean)``.
    """
    entries = _read_list(list_file)
    jobs, known = [], {}  # known: entry -> a reason found without opening anything
    for i, (lineno, path, fields, _) in enumerate(entries):
        full = _join(data_prefix, path)
        if fields is None:
            known[i] = f"{list_file}:{lineno}: cannot read the line: {path}"
        elif not os.path.exists(full) and "://" not in path:
            known[i] = _space_reason(data_prefix, path, fields)
        if i in known and known[i] is not None:
            jobs.append(None)
            continue
        known.pop(i, None)
        expected = (
            int(fields[0])
            if len(fields) >= 2 and os.path.isdir(full) and fields[0].isdigit()
            else None
        )
        jobs.append((full, expected))
    todo = [job for job in jobs if job is not None]
    done = iter(_run(_check_one, todo, num_workers, desc="check"))
    results = [(known[i], []) if job is None else next(done) for i, job in enumerate(jobs)]
    bad, good_lines, notes = [], [], []
    for i, ((lineno, path, _, line), (reason, issues)) in enumerate(zip(entries, results)):
        full = jobs[i][0] if jobs[i] is not None else _join(data_prefix, path)
        if reason is None:
            good_lines.append(line)
            notes += [f"{full}: {issue}" for issue in issues]
        else:
            bad.append({"line": lineno, "path": full, "reason": reason, "text": line})
    if out is not None:
        Path(out).write_text("".join(f"{b['text']}\t{b['reason']}\n" for b in bad))
    if clean is not None:
        Path(clean).write_text("".join(f"{line}\n" for line in good_lines))
    return {
        "total": len(entries),
        "num_good": len(good_lines),
        "num_bad": len(bad),
        "bad": [{k: b[k] for k in ("line", "path", "reason")} for b in bad],
        "warnings": notes,
        "out": None if out is None else str(out),
        "clean": None if clean is None else str(clean),
    }


def format_check_summary(report: dict, list_file, limit: int = 20) -> str:
    """What ``vidlab data check`` prints: the counts, each bad file with its reason, and
    where the lists were written."""
    lines = [
        f"{list_file}: {report['total']} entries, {report['num_good']} good, "
        f"{report['num_bad']} bad"
    ]
    for b in report["bad"][:limit]:
        lines.append(f"  line {b['line']}: {b['reason']}")
    if report["num_bad"] > limit:
        lines.append(f"  ... and {report['num_bad'] - limit} more (all in --out FILE)")
    for w in report["warnings"][:limit]:
        lines.append(f"  note: {w}")
    if report.get("out"):
        lines.append(f"bad lines with reasons: {report['out']}")
    if report.get("clean"):
        lines.append(f"good lines: {report['clean']}")
    return "\n".join(lines)


# -- build-list ------------------------------------------------------------------------------


def _class_videos(root: Path, exts: Iterable[str]) -> dict[str, list[str]]:
    exts = tuple(e.lower() for e in exts)
    classes = {}
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        videos = sorted(
            p.relative_to(root).as_posix()
            for p in class_dir.rglob("*")
            if p.is_file() and p.suffix.lower() in exts and not p.name.startswith(".")
        )
        if videos:
            classes[class_dir.name] = videos
    return classes


def build_list(
    root: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    val_fraction: float = 0.2,
    seed: int = 0,
    exts: Iterable[str] = VIDEO_EXTS,
) -> dict:
    """Write train/val lists for a class-per-folder tree (``root/<class>/<video>``).

    Labels are the classes' positions in sorted order; ``labels.txt`` lists the class names,
    one per line, in that order. Each class is split on its own (stratified): a shuffle seeded
    by `seed`, then ``round(n * val_fraction)`` videos to val, at least one to train.

    Returns:
        ``dict(train, val, labels, classes, num_train, num_val, skipped)``; `skipped` are paths
        with whitespace, which the ``path label`` format cannot hold.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such directory")
    if not 0 <= val_fraction < 1:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    out_dir = Path(out_dir) if out_dir is not None else root
    classes = _class_videos(root, exts)
    if not classes:
        raise ValueError(
            f"{root}: no class folders with videos ({', '.join(exts)}); expected "
            "root/<class>/<video>"
        )
    rng = np.random.default_rng(seed)
    train, val, skipped = [], [], []
    for label, videos in enumerate(classes.values()):
        usable = [v for v in videos if not any(c.isspace() for c in v)]
        skipped += [v for v in videos if v not in usable]
        order = rng.permutation(len(usable))
        num_val = min(int(round(len(usable) * val_fraction)), max(len(usable) - 1, 0))
        for rank, k in enumerate(order):
            (val if rank < num_val else train).append(f"{usable[k]} {label}")
    if skipped:
        warnings.warn(
            f"{len(skipped)} videos have whitespace in their path and are left out "
            f"(e.g. {skipped[0]!r}); rename them to include them",
            stacklevel=2,
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {k: out_dir / f"{k}.txt" for k in ("train", "val", "labels")}
    paths["train"].write_text("".join(f"{line}\n" for line in sorted(train)))
    paths["val"].write_text("".join(f"{line}\n" for line in sorted(val)))
    paths["labels"].write_text("".join(f"{name}\n" for name in classes))
    return {
        **{k: str(v) for k, v in paths.items()},
        "classes": list(classes),
        "num_train": len(train),
        "num_val": len(val),
        "skipped": skipped,
    }
