"""The synthetic actors set (`vidlab.data.synthetic.actors`): AVA's layout and formats, labels
that match the motion, proposals, exclusions, determinism and the cache."""

from __future__ import annotations

import csv
import pickle
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from vidlab.data.synthetic.actors import ACTIONS, make_actors_dataset, prepare_synthetic_actors

ARGS = dict(videos=4, size=48, seconds=6, fps=10, seed=0)  # one excluded keyframe per split


@pytest.fixture(scope="module")
def actors(tmp_path_factory):
    return make_actors_dataset(tmp_path_factory.mktemp("actors") / "set", **ARGS)


def _rows(path):
    boxes = defaultdict(dict)  # (video, timestamp) -> {entity: (box, {labels})}
    for r in csv.reader(open(path)):
        assert len(r) == 8
        box = tuple(float(v) for v in r[2:6])
        key, entity = (r[0], int(r[1])), int(r[7])
        old = boxes[key].get(entity)
        assert old is None or old[0] == box  # one box per entity and keyframe (merged rows)
        boxes[key].setdefault(entity, (box, set()))[1].add(int(r[6]))
    return boxes


def test_layout_and_formats(actors):
    assert not actors["reused"] and actors["num_train"] == 3 * 3 and actors["num_val"] == 3
    frames = sorted(p.name for p in (Path(actors["root"]) / "rawframes").iterdir())
    assert frames == ["actors_0000", "actors_0001", "actors_0002", "actors_0003"]
    folder = Path(actors["root"]) / "rawframes/actors_0000"
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 60 and names[0] == "img_00001.jpg" and names[-1] == "img_00060.jpg"
    labels = open(actors["label_file"]).read()
    assert labels.startswith('item {\n  name: "stand"\n  id: 1\n}\n') and labels.count("item") == 6
    for split in ("train", "val"):
        rows = _rows(actors[f"ann_file_{split}"])
        excluded = {(r[0], int(r[1])) for r in csv.reader(open(actors[f"exclude_file_{split}"]))}
        keyframes = set(rows) | excluded  # excluded keyframes have no rows, as AVA's
        assert not set(rows) & excluded
        assert {ts for _, ts in keyframes} == {902, 903, 904}  # seconds 2 .. seconds - 2
        proposals = pickle.load(open(actors[f"proposal_file_{split}"], "rb"))
        assert set(proposals) == {f"{v},{t:04d}" for v, t in keyframes}
        for (video, ts), entities in rows.items():
            for box, ids in entities.values():
                x1, y1, x2, y2 = box
                assert 0 <= x1 < x2 <= 1 and 0 <= y1 < y2 <= 1
                moves = ids & {1, 2, 3, 4}
                assert len(moves) == 1 and ids <= set(range(1, 7)) and len(ids) <= 2
            # every actor has a proposal scoring >= 0.9 overlapping it well; the others < 0.9
            props = proposals[f"{video},{ts:04d}"]
            assert props.shape[1] == 5
            true = props[props[:, 4] >= 0.9]
            assert len(true) == len(entities)
            for box, _ in entities.values():
                assert _iou(np.array(box), true[:, :4]).max() > 0.6


def _iou(a, b):
    iw = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = iw * ih
    return inter / (
        (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    )


def test_labels_match_the_motion(tmp_path):
    """An actor labelled walk_left (right) at two consecutive keyframes moved left (right)."""
    info = make_actors_dataset(
        tmp_path / "s", videos=8, size=64, seconds=10, fps=10, turns=0.0, seed=1
    )
    moved = defaultdict(list)
    for split in ("train", "val"):
        rows = _rows(info[f"ann_file_{split}"])
        for (video, ts), entities in rows.items():
            for entity, (box, ids) in entities.items():
                after = rows.get((video, ts + 1), {}).get(entity)
                if after is None or after[1] & {1, 2, 3, 4} != ids & {1, 2, 3, 4}:
                    continue
                dx = (after[0][0] + after[0][2] - box[0] - box[2]) / 2
                moved[ACTIONS[min(ids) - 1]].append(dx)
    assert all(len(moved[k]) >= 3 for k in ("walk_left", "walk_right", "stand", "jump"))
    assert min(moved["walk_right"]) > 0.05 and max(moved["walk_left"]) < -0.05
    assert max(abs(d) for d in moved["stand"] + moved["jump"]) < 0.02


def test_exclusions_are_overlapping_keyframes(actors):
    """Kept keyframes have no two boxes overlapping by IoU > 0.3; excluded ones have (seen
    through their jittered person proposals, so with some slack)."""
    for split in ("train", "val"):
        rows = _rows(actors[f"ann_file_{split}"])
        excluded = {(r[0], int(r[1])) for r in csv.reader(open(actors[f"exclude_file_{split}"]))}
        for entities in rows.values():
            boxes = [np.array(b) for b, _ in entities.values()]
            for i, a in enumerate(boxes):
                for b in boxes[i + 1 :]:
                    assert _iou(a, b[None]).max() <= 0.3 + 1e-3  # within rounding to 3 decimals
        proposals = pickle.load(open(actors[f"proposal_file_{split}"], "rb"))
        assert len(excluded) == 1
        for video, ts in excluded:
            true = proposals[f"{video},{ts:04d}"]
            true = true[true[:, 4] >= 0.9, :4]
            assert max(_iou(a, true[i + 1 :]).max() for i, a in enumerate(true[:-1])) > 0.15


def test_deterministic_cached_and_guarded(actors, tmp_path):
    again = make_actors_dataset(tmp_path / "again", **ARGS)
    for key in ("ann_file_train", "ann_file_val", "proposal_file_val", "exclude_file_train"):
        assert open(actors[key], "rb").read() == open(again[key], "rb").read()
    jpg = "rawframes/actors_0003/img_00031.jpg"
    assert (Path(actors["root"]) / jpg).read_bytes() == (Path(again["root"]) / jpg).read_bytes()
    assert make_actors_dataset(tmp_path / "again", **ARGS)["reused"]
    with pytest.raises(FileExistsError, match="other arguments"):
        make_actors_dataset(tmp_path / "again", **{**ARGS, "seed": 4})
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a synthetic actors set"):
        make_actors_dataset(tmp_path / "other", **ARGS)
    with pytest.raises(ValueError, match="seconds must be"):
        make_actors_dataset(tmp_path / "bad", seconds=3)


def test_prepare_points_the_config_at_the_keyed_folder(tmp_path):
    root = str(tmp_path / "cache" / "actors")
    cfg = dict(
        synthetic_actors=dict(root=root, **ARGS),
        ann_file=root + "/annotations/train.csv",
        train_dataloader=dict(dataset=dict(data_prefix=dict(img=root + "/rawframes"))),
    )
    info = prepare_synthetic_actors(cfg)
    assert info["root"].startswith(root + "-v4-48px-s0-")
    assert cfg["ann_file"] == info["ann_file_train"]
    assert cfg["train_dataloader"]["dataset"]["data_prefix"]["img"] == info["frames"]
    assert cfg["synthetic_actors"]["root"] == root
    assert prepare_synthetic_actors(cfg)["reused"]
    with pytest.raises(ValueError, match="unknown argument"):
        prepare_synthetic_actors(dict(synthetic_actors=dict(root=root, video=3)))


def test_without_turns_one_label_each_and_four_names(tmp_path):
    info = make_actors_dataset(tmp_path / "s", videos=2, size=32, seconds=5, fps=4, turns=0.0)
    labels = [int(r[6]) for s in ("train", "val") for r in csv.reader(open(info[f"ann_file_{s}"]))]
    assert labels and set(labels) <= {1, 2, 3, 4}
    assert open(info["label_file"]).read().count("item") == 4
    with pytest.raises(ValueError, match="turns must be"):
        make_actors_dataset(tmp_path / "bad", turns=1.5)


def test_prepare_synthetic_data_writes_the_actors_set(tmp_path):
    """`vidlab train`/`test` call prepare_synthetic_data: it handles synthetic_actors too."""
    from vidlab.data.synthetic import prepare_synthetic_data

    root = str(tmp_path / "actors")
    cfg = dict(synthetic_actors=dict(root=root, **ARGS), label_file=root + "/annotations/x")
    info = prepare_synthetic_data(cfg)
    assert info["num_train"] == 9 and cfg["label_file"] == info["root"] + "/annotations/x"
