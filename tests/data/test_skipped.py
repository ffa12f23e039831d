"""Skipped samples end to end: markers out of workers, collated lists, bad_samples.txt."""

import os

import av
import numpy as np
import pytest
from torch import nn

from vidlab.data.datasets import Skipped, VideoDataset, collate_skip_none
from vidlab.data.loader import build_dataloader
from vidlab.engine.hooks import Hook

NUM_GOOD = 7
PIPELINE = [
    dict(type="VideoInit"),
    dict(type="SampleFrames", clip_len=2, frame_interval=1, num_clips=1, test_mode=True),
    dict(type="VideoDecode"),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]


def write_mp4(path, level, n=6, size=16):
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width = s.height = size
        s.pix_fmt = "yuv420p"
        for _ in range(n):
            img = np.full((size, size, 3), level, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    """NUM_GOOD videos and a broken one (random bytes) at line 4 of the list."""
    root = tmp_path_factory.mktemp("skip")
    names = [f"v{k}.mp4" for k in range(NUM_GOOD)]
    for k, name in enumerate(names):
        write_mp4(root / name, 20 + 25 * k)
    (root / "broken.mp4").write_bytes(np.random.default_rng(1).bytes(3000))
    names.insert(3, "broken.mp4")
    ann = root / "list.txt"
    ann.write_text("".join(f"{n} {k % 2}\n" for k, n in enumerate(names)))
    return root, str(ann)


def dataset(media, **kwargs):
    root, ann = media
    return VideoDataset(ann, PIPELINE, data_prefix=str(root), on_error="skip", **kwargs)


def test_item_is_a_picklable_marker(media):
    import pickle

    item = dataset(media)[3]
    assert isinstance(item, Skipped) and item.index == 3
    assert item.path.endswith("broken.mp4") and item.where.endswith("list.txt:4")
    assert "DecodeError" in item.reason
    assert pickle.loads(pickle.dumps(item)) == item


def test_collate_drops_and_lists_markers(media):
    ds = dataset(media)
    batch = collate_skip_none([ds[2], ds[3], ds[4]])
    assert batch["clips"].shape[0] == 2 and batch["index"].tolist() == [2, 4]
    assert [s.index for s in batch["skipped"]] == [3]
    assert collate_skip_none([ds[0]])["skipped"] == []
    empty = collate_skip_none([ds[3], None])
    assert len(empty["clips"]) == len(empty["label"]) == 0
    assert [s.index for s in empty["skipped"]] == [3]


def test_workers_report_every_skip_and_replace_nothing(media):
    ds = dataset(media)
    loader = build_dataloader(ds, batch_size=2, num_workers=2, shuffle=True, seed=3)
    seen, skipped = [], []
    for batch in loader:
        seen += batch["index"].tolist()
        skipped += batch["skipped"]
    assert sorted(seen) == [k for k in range(NUM_GOOD + 1) if k != 3]  # each once, none for 3
    assert [s.path for s in skipped] == [os.path.join(media[0], "broken.mp4")]


class TinyVideoNet(nn.Module):
    """A recognizer without BatchNorm: every batch trains, whatever its size."""

    def __init__(self, num_classes=2):
        super().__init__()
        self.data_preprocessor = nn.Module()
        self.data_preprocessor.blending = None
        self.backbone = nn.Conv3d(3, 4, 1)
        self.cls_head = nn.Linear(4, num_classes)

    def forward(self, clips):  # (N, C, T, H, W) raw pixels -> (N, K)
        x = self.backbone(clips.float() / 255)
        return self.cls_head(x.mean((2, 3, 4)))

    def loss(self, logits, labels):
        return nn.functional.cross_entropy(logits, labels)

    def average_views(self, logits, num_views):
        return logits.softmax(-1).view(-1, num_views, logits.shape[-1]).mean(1)  # (B, K)


class CountClips(Hook):
    clips = 0

    def after_train_iter(self, runner, info):
        CountClips.clips += info["num_clips"]


def test_train_and_test_write_bad_samples(media, tmp_path, capsys):
    from vidlab.engine.train import test as run_test
    from vidlab.engine.train import train

    root, ann = media
    ds_cfg = dict(
        type="VideoDataset", ann_file=ann, data_prefix=str(root), pipeline=PIPELINE, on_error="skip"
    )
    cfg = dict(
        model=dict(type=TinyVideoNet),
        train_dataloader=dict(batch_size=2, num_workers=2, dataset=ds_cfg),
        test_dataloader=dict(batch_size=3, num_workers=2, dataset=dict(ds_cfg, test_mode=True)),
        test_evaluator=dict(type="AccMetric"),
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=1),
        optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
        custom_hooks=[dict(type=CountClips)],
        work_dir=str(tmp_path / "work"),
    )
    CountClips.clips = 0
    result = train(cfg, seed=0)
    assert CountClips.clips == NUM_GOOD  # the broken one is not replaced by another sample
    listed = (tmp_path / "work" / "bad_samples.txt").read_text().splitlines()
    assert len(listed) == 1
    path, reason = listed[0].split("\t")
    assert path == os.path.join(str(root), "broken.mp4") and "DecodeError" in reason
    out = capsys.readouterr().out
    assert out.count("skipped " + path) == 1 and "1 sample(s) skipped" in out

    os.remove(tmp_path / "work" / "bad_samples.txt")
    tested = run_test(cfg, result["last_checkpoint"])
    assert len(tested["predictions"]) == NUM_GOOD
    assert tested["bad_samples"] == str(tmp_path / "work" / "bad_samples.txt")
    assert open(tested["bad_samples"]).read().startswith(path + "\t")
