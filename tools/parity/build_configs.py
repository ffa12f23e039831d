"""Count MMAction2 1.2.0 config files that vidlab loads, validates and builds unmodified.

    PYTHONPATH=. ~/.cache/mmaction2-ref/venv/bin/python tools/parity/build_configs.py \
        [--dirs recognition recognition_audio] [--verbose] [--data]

Run from the repository root with the reference environment's Python only for its copy of
MMAction2's config files (``mmaction/.mim/configs``); vidlab itself is imported from the
checkout and MMAction2 is never imported. For each file: ``load_config``, ``validate``, build
``model`` (nothing is downloaded: ``pretrained=`` is read when training starts) and every
transform of the train/val/test pipelines. Prints per-directory counts and the failures grouped
by their first line. ``--data`` builds only the datasets (on stand-in annotation files) and
their pipelines, e.g. for ``--dirs detection`` whose models are built elsewhere.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import re
import sys
import warnings
from pathlib import Path


def _config_root() -> Path:
    spec = importlib.util.find_spec("mmaction")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("run with the MMAction2 reference environment's python (see the docstring)")
    return Path(next(iter(spec.submodule_search_locations))) / ".mim" / "configs"


def _pipelines(cfg) -> list[tuple[str, list]]:
    out = []
    for key in ("train_dataloader", "val_dataloader", "test_dataloader"):
        dataset = (cfg.get(key) or {}).get("dataset") or {}
        while "dataset" in dataset and "pipeline" not in dataset:  # RepeatDataset & co
            dataset = dataset["dataset"]
        if dataset.get("pipeline"):
            out.append((f"{key}.dataset.pipeline", dataset["pipeline"]))
    return out


def _first_line(e: Exception) -> str:
    """The problem's first line without the file name (listed with --verbose)."""
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    if not lines:
        return type(e).__name__
    detail = lines[1].strip() if len(lines) > 1 and "problem" in lines[0] else lines[0]
    detail = re.sub(r"^\S+\.py: ", "", detail)
    return f"{type(e).__name__}: {detail[:150]}"


def check(path: Path) -> str | None:
    """None when the file builds, else the first line of the problem."""
    from vidlab.config import build, load_config, validate

    try:
        cfg = load_config(path)
        validate(cfg)
        build(cfg["model"], key_path="model")
        for key, pipeline in _pipelines(cfg):
            for i, step in enumerate(pipeline):
                build(step, key_path=f"{key}[{i}]")
    except Exception as e:  # report every kind of failure, grouped
        return _first_line(e)
    return None


_LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")
# stand-ins for the annotation files a dataset reads when it is built (--data)
_STAND_INS = {
    "ann_file": "aaaaaaaaaaa,0902,0.1,0.1,0.5,0.5,1,0\n",
    "exclude_file": "",
    "label_file": "".join(f'item {{\n  name: "a{i}"\n  id: {i}\n}}\n' for i in range(1, 81)),
}


# one annotation line of the list-file datasets, column by column (joined by the dataset's
# ``delimiter``); other datasets get ``_STAND_INS['ann_file']`` (an AVA CSV line)
_LIST_LINES = {
    "VideoDataset": ("a.mp4", "0"),
    "RawframeDataset": ("a", "8", "0"),
    "AudioDataset": ("a.npy", "8", "0"),
}


def _write_stand_ins(dataset: dict) -> None:
    import os
    import pickle

    inner = [dataset.get("dataset"), *(dataset.get("datasets") or ())]  # RepeatDataset, K710
    for child in inner:
        if isinstance(child, dict):
            _write_stand_ins(child)
    kind = str(getattr(dataset.get("type"), "__name__", dataset.get("type"))).rsplit(".")[-1]
    for key, value in dataset.items():
        if not (key.endswith("_file") and isinstance(value, str)) or os.path.exists(value):
            continue
        os.makedirs(os.path.dirname(value) or ".", exist_ok=True)
        if key == "proposal_file":
            with open(value, "wb") as f:
                pickle.dump({}, f)
        elif key == "ann_file" and kind in _LIST_LINES:
            Path(value).write_text(dataset.get("delimiter", " ").join(_LIST_LINES[kind]) + "\n")
        else:
            Path(value).write_text(_STAND_INS.get(key, ""))


def check_data(path: Path) -> str | None:
    """Like :func:`check` for the data side only: validate the dataloaders, build every
    pipeline transform and every dataset (on stand-in annotation files written in the working
    directory at the paths the config names). None when all build."""
    from vidlab.config import build, load_config, validate

    try:
        cfg = load_config(path)
        loaders = {k: cfg[k] for k in _LOADERS if cfg.get(k)}
        validate(loaders)
        for key, loader in loaders.items():
            dataset = loader["dataset"]
            _write_stand_ins(dataset)
            build(dataset, key_path=f"{key}.dataset")
    except Exception as e:
        return _first_line(e)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dirs", nargs="*", default=["recognition", "recognition_audio"])
    parser.add_argument("--verbose", action="store_true", help="list every failing file")
    parser.add_argument(
        "--data",
        action="store_true",
        help="datasets and pipelines only (no model), built in a temporary directory on "
        "stand-in annotation files",
    )
    args = parser.parse_args()
    root = _config_root()
    warnings.simplefilter("ignore")
    if args.data:
        import os
        import tempfile

        os.chdir(tempfile.mkdtemp(prefix="vidlab-build-data-"))
    total_ok = total = 0
    for d in args.dirs:
        files = sorted(p for p in (root / d).rglob("*.py") if "_base_" not in p.parts)
        failures = {}
        for path in files:
            problem = check_data(path) if args.data else check(path)
            if problem:
                failures[path.relative_to(root)] = problem
        ok = len(files) - len(failures)
        total_ok, total = total_ok + ok, total + len(files)
        print(f"{d}: {ok} of {len(files)} build")
        by_family = collections.Counter(str(p.parts[1]) for p in failures)
        for family, n in sorted(by_family.items()):
            print(f"  {family}: {n} fail")
        grouped = collections.defaultdict(list)
        for p, problem in failures.items():
            grouped[problem].append(p)
        for problem, paths in sorted(grouped.items(), key=lambda kv: -len(kv[1])):
            print(f"    {len(paths):3d} x {problem}")
            if args.verbose:
                for p in paths:
                    print(f"          {p}")
    print(f"total: {total_ok} of {total} build")


if __name__ == "__main__":
    main()
