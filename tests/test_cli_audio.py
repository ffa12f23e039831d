"""Audio recognition end to end, as subprocesses: tones written with PyAV -> ``vidlab data
audio-features`` -> ``vidlab train`` (MMAction2's audio config layout: ``AudioDataset``,
``LoadAudioFeature``, ``SampleFrames``, ``AudioFeatureSelector``, ``FormatAudioShape``,
``RecognizerAudio`` with a 1-channel ResNet-18 and ``TSNAudioHead``) -> ``vidlab test``.
The classes are tone frequencies: the model must learn them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

FREQS = (250, 600, 1500, 3500)  # Hz: one class each, several mel bins apart
RATE = 16000
SECONDS = 2.0
FPS = 30  # the "video" the audio belongs to: total_frames of the list
PER_CLASS = (8, 3)  # train, val files per class

CONFIG = """
model = dict(
    type='RecognizerAudio',
    # MMAction2's audio configs normalize nothing; the features (0..1, std ~0.09) are
    # standardized here so that BatchNorm's running statistics, which start at var 1, settle
    # within this short run (eval mode uses them)
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[0.33], std=[0.09]),
    backbone=dict(type='ResNet', depth=18, in_channels=1, norm_eval=False),
    cls_head=dict(type='TSNAudioHead', num_classes=4, in_channels=512, dropout_ratio=0.5,
                  init_std=0.01, average_clips='prob'))
dataset_type = 'AudioDataset'
data_root = {root!r}
train_pipeline = [
    dict(type='LoadAudioFeature'),
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=1),
    dict(type='AudioFeatureSelector', fixed_length=32),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='LoadAudioFeature'),
    dict(type='SampleFrames', clip_len=16, frame_interval=1, num_clips=3, test_mode=True),
    dict(type='AudioFeatureSelector', fixed_length=32),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file='train.txt', pipeline=train_pipeline,
                 data_root=data_root, data_prefix=dict(audio='features')))
val_dataloader = dict(
    batch_size=8, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file='val.txt', pipeline=val_pipeline,
                 data_root=data_root, data_prefix=dict(audio='features'), test_mode=True))
test_dataloader = val_dataloader
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=6, val_begin=1, val_interval=6)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4),
                     clip_grad=dict(max_norm=40, norm_type=2))
param_scheduler = [dict(type='CosineAnnealingLR', eta_min=0, T_max=6, by_epoch=True)]
default_hooks = dict(checkpoint=dict(interval=6), logger=dict(interval=5))
randomness = dict(seed=0)
"""


def write_tone(path: Path, freq: float, rng: np.random.Generator) -> None:
    """A noisy mono tone, 16-bit PCM WAV, written with PyAV."""
    t = np.arange(int(RATE * SECONDS)) / RATE
    amp = rng.uniform(0.1, 0.5)
    x = amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
    x = x + rng.normal(0, 0.02, t.shape)
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)[None]  # (1, samples): packed mono
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.rate = RATE
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def run(*args, env):
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(f"vidlab {args[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def test_audio_features_train_and_test(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    rng = np.random.default_rng(0)
    lists = {"train": [], "val": []}
    for label, freq in enumerate(FREQS):
        for split, count in zip(lists, PER_CLASS):
            for i in range(count):
                name = f"{split}/{freq}_{i}.wav"
                (tmp_path / "audio" / split).mkdir(parents=True, exist_ok=True)
                write_tone(tmp_path / "audio" / name, freq, rng)
                total_frames = int(SECONDS * FPS)
                lists[split].append(f"{Path(name).with_suffix('.npy')} {total_frames} {label}")

    out = run("data", "audio-features", tmp_path / "audio", tmp_path / "features", env=env)
    assert "wrote 44 feature file(s)" in out.stdout
    feats = np.load(tmp_path / "features" / "train" / f"{FREQS[0]}_0.npy")
    assert feats.shape == (126, 80) and feats.dtype == np.float32  # 2 s at 62.5 frames/s

    for split, lines in lists.items():
        (tmp_path / f"{split}.txt").write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "audio_tsn_r18_tones.py"
    cfg.write_text(CONFIG.format(root=str(tmp_path)))
    work = tmp_path / "work"
    run("train", cfg, "--work-dir", work, env=env)
    records = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    val = [r for r in records if r.get("mode") == "val" and "acc/top1" in r]
    assert val and val[-1]["acc/top1"] >= 0.75, val  # chance is 0.25

    out = tmp_path / "results.json"
    run("test", cfg, work / "epoch_6.pth", "--out", out, env=env)
    results = json.loads(out.read_text())  # 3 views of each file, averaged
    assert results["metrics"]["acc/top1"] >= 0.75, results["metrics"]
    first = results["predictions"][0]
    assert first["filename"].endswith(f"{FREQS[0]}_0.npy") and first["label"] == 0
