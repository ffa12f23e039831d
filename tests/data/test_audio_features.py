"""Audio features: MMAction2's ``AudioDataset`` list format and transforms, missing files,
and the log-mel features of ``vidlab.data.audio_features`` on tones written with PyAV.

Expected selector windows were produced by MMAction2 1.2.0's ``AudioFeatureSelector`` /
``FormatAudioShape`` on the same inputs (reference environment, not needed here).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vidlab.config import build
from vidlab.data.audio import (
    AudioDataset,
    AudioFeatureSelector,
    FormatAudioShape,
    LoadAudioFeature,
)
from vidlab.data.audio_features import (
    AudioFeatureConfig,
    hz_to_mel,
    load_audio,
    log_mel,
    mel_filterbank,
    mel_to_hz,
)
from vidlab.data.skipped import Skipped

# MMAction2's test pipeline of the audio configs (recognition_audio/*)
PIPELINE = [
    dict(type="LoadAudioFeature"),
    dict(type="SampleFrames", clip_len=64, frame_interval=1, num_clips=10, test_mode=True),
    dict(type="AudioFeatureSelector"),
    dict(type="FormatAudioShape", input_format="NCTF"),
    dict(type="PackActionInputs"),
]


def _write_features(root, names, frames=200, bins=80):
    rng = np.random.default_rng(0)
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rng.random((frames, bins), dtype=np.float32))


@pytest.fixture
def audio_root(tmp_path):
    _write_features(tmp_path / "feats", ["a.npy", "sub/b.npy"])
    (tmp_path / "list.txt").write_text("a.npy 300 1\nsub/b 120 0\n")
    return tmp_path


def test_dataset_reads_mmaction2_lists(audio_root):
    ds = AudioDataset(
        "list.txt",
        PIPELINE,
        data_root=str(audio_root),
        data_prefix=dict(audio="feats"),
        suffix=".npy",  # the audioonly config's (MMAction2 0.x) keyword
        test_mode=True,
    )
    assert len(ds) == 2 and ds.num_classes == 2
    info = ds.get_data_info(0)
    assert info["audio_path"] == str(audio_root / "feats" / "a.npy")
    assert (info["total_frames"], info["label"], info["start_index"]) == (300, 1, 0)
    assert info["modality"] == "Audio"
    assert ds.get_data_info(1)["audio_path"].endswith("sub/b.npy")  # suffix added

    sample = ds[0]
    clips = sample["clips"]  # 10 test clips, NCTF
    assert clips.shape == (10, 1, 128, 80) and clips.dtype == torch.float32
    assert sample["label"].item() == 1 and sample["index"] == 0
    # the first test clip covers video frames 0..63 of 300: features 1..43 of 200, then zeros
    feats = np.load(audio_root / "feats" / "a.npy")
    assert torch.equal(clips[0, 0, :42], torch.from_numpy(feats[1:43]))
    assert not clips[0, 0, 42:].any()


def test_dataset_builds_from_config_names(audio_root):
    node = dict(
        type="AudioDataset",
        ann_file=str(audio_root / "list.txt"),
        pipeline=PIPELINE,
        data_prefix=dict(audio=str(audio_root / "feats")),
        suffix=".npy",
        test_mode=True,
    )
    ds = build(node, key_path="dataset")
    assert ds[1]["clips"].shape == (10, 1, 128, 80)


def test_missing_feature_file_is_an_error_or_a_skip_never_a_dummy(tmp_path):
    (tmp_path / "list.txt").write_text("gone.npy 300 1\n")
    ds = AudioDataset(str(tmp_path / "list.txt"), PIPELINE, data_prefix=str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"gone\.npy.*list\.txt:1.*on_error='skip'"):
        ds[0]
    ds = AudioDataset(
        str(tmp_path / "list.txt"), PIPELINE, data_prefix=str(tmp_path), on_error="skip"
    )
    item = ds[0]
    assert isinstance(item, Skipped) and item.path.endswith("gone.npy")
    assert "FileNotFoundError" in item.reason
    with pytest.raises(FileNotFoundError, match="does not substitute"):
        LoadAudioFeature()({"audio_path": str(tmp_path / "gone.npy")})
    with pytest.raises(ValueError, match="pad_method"):
        LoadAudioFeature(pad_method="edge")


def test_bad_lines_are_reported(tmp_path):
    from vidlab.data.annotations import AnnotationError

    (tmp_path / "list.txt").write_text("a.npy 300 1\nb.npy x 1\nc.npy\n")
    with pytest.raises(AnnotationError, match=r"(?s)list\.txt:2: bad total_frames.*list\.txt:3"):
        AudioDataset(str(tmp_path / "list.txt"), [])


@pytest.mark.parametrize(
    "total, length, inds, num_clips, fixed, expected",
    [
        # (start, end) of the feature frames each clip takes, as MMAction2 1.2.0 cuts them
        (50, 100, np.r_[0:16, 20:36], 2, 32, [(2, 32), (42, 72)]),  # zero-padded to 32
        (50, 100, np.r_[0:16, 20:36], 2, 16, [(2, 18), (42, 58)]),  # cut to 16
        (4, 2, np.arange(3), 1, 4, [(0, 2)]),  # 0.5 and 1.5 round to even: 0 and 2
        (40, 100, np.arange(30, 40), 1, 8, [(78, 86)]),  # 77.5 rounds to 78
    ],
)
def test_feature_selector_matches_mmaction2(total, length, inds, num_clips, fixed, expected):
    feat = np.arange(length * 4, dtype=np.float32).reshape(length, 4) + 1  # no zero rows
    results = dict(
        audios=feat, frame_inds=inds, num_clips=num_clips, total_frames=total, length=length
    )
    out = FormatAudioShape("NCTF")(AudioFeatureSelector(fixed)(results))
    assert out["audios"].shape == out["input_shape"] == (num_clips, 1, fixed, 4)
    for clip, (start, end) in zip(out["audios"][:, 0], expected):
        n = min(end - start, fixed)
        assert np.array_equal(clip[:n], feat[start : start + n])
        assert not clip[n:].any()
    with pytest.raises(ValueError, match="NCTF"):
        FormatAudioShape("NCHW")


# --- features -------------------------------------------------------------------------------


def _tone(path, freq, rate=16000, seconds=1.0, channels=1):
    av = pytest.importorskip("av")
    t = np.arange(int(rate * seconds)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t)
    layout = "mono" if channels == 1 else "stereo"
    pcm = np.repeat(x[None], channels, axis=0)  # (channels, samples)
    pcm = (pcm * 32767).astype(np.int16).T.reshape(1, -1)  # packed s16
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm), format="s16", layout=layout)
        frame.rate = rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return x


def test_mel_scale_and_filterbank():
    assert hz_to_mel(1000.0) == pytest.approx(15.0)  # Slaney: linear to 1 kHz, 200/3 Hz a mel
    assert hz_to_mel(200.0) == pytest.approx(3.0)
    hz = np.array([50.0, 999.0, 1000.0, 4321.0])
    assert np.allclose(mel_to_hz(hz_to_mel(hz)), hz)
    fb = mel_filterbank(16000, 512, 80, 125, 7600)
    assert fb.shape == (80, 257) and fb.dtype == np.float32 and (fb >= 0).all()
    assert (fb.sum(axis=1) > 0).all()  # no empty band
    assert not fb[:, :4].any() and not fb[:, 244:].any()  # nothing below 125 Hz / above 7600
    try:
        import librosa
    except ImportError:
        return
    ref = librosa.filters.mel(sr=16000, n_fft=512, fmin=125, fmax=7600, n_mels=80)
    assert np.array_equal(fb, ref)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3000.0])
def test_tone_peaks_in_its_mel_bin(tmp_path, freq):
    x = _tone(tmp_path / "tone.wav", freq)
    wav = load_audio(tmp_path / "tone.wav")
    assert wav.dtype == np.float32 and wav.shape == (16000,)
    assert np.abs(wav - x).max() < 1e-4  # 16 kHz mono: read sample for sample (16-bit)
    feats = log_mel(wav)
    assert feats.shape == (64, 80) and feats.dtype == np.float32  # ceil((256 + 16000) / 256)
    assert feats.min() >= 0 and feats.max() <= 1
    cfg = AudioFeatureConfig()
    centers = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))
    expected = int(np.abs(centers[1:-1] - freq).argmin())
    assert int(feats[5:-5].mean(axis=0).argmax()) == expected


@pytest.mark.parametrize("resampler", ["ffmpeg", "soxr"])
def test_stereo_44k_is_resampled_to_16k_mono(tmp_path, resampler):
    if resampler == "soxr":
        pytest.importorskip("soxr")  # the optional extra: librosa's resampler
    _tone(tmp_path / "tone.wav", 1000.0, rate=44100, seconds=0.5, channels=2)
    wav = load_audio(tmp_path / "tone.wav", resampler=resampler)
    assert wav.dtype == np.float32 and abs(len(wav) - 8000) <= 2
    spectrum = np.abs(np.fft.rfft(wav[1000:7000]))
    assert np.fft.rfftfreq(6000, 1 / 16000)[spectrum.argmax()] == pytest.approx(1000, abs=3)
    assert np.abs(wav[1000:7000]).max() == pytest.approx(0.3, abs=0.01)


def test_resampler_choice_is_checked(tmp_path, monkeypatch):
    import vidlab.data.audio_features as features

    _tone(tmp_path / "tone.wav", 440.0)
    with pytest.raises(ValueError, match="resampler"):
        load_audio(tmp_path / "tone.wav", resampler="sinc")
    monkeypatch.setattr(features, "_soxr", lambda: None)
    with pytest.raises(ImportError, match=r"vidlab\[audio\]"):
        load_audio(tmp_path / "tone.wav", resampler="soxr")
    assert load_audio(tmp_path / "tone.wav").shape == (16000,)  # auto: FFmpeg without soxr


def test_cli_writes_features_and_reports_a_file_without_audio(tmp_path):
    import subprocess
    import sys

    (tmp_path / "src" / "x").mkdir(parents=True)
    _tone(tmp_path / "src" / "x" / "tone.wav", 440.0)
    (tmp_path / "src" / "broken.wav").write_bytes(b"not audio")
    proc = subprocess.run(
        [sys.executable, "-m", "vidlab.cli.main", "data", "audio-features"]
        + [str(tmp_path / "src"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "broken.wav" in proc.stderr and "1 file(s) failed" in proc.stdout
    feats = np.load(tmp_path / "out" / "x" / "tone.npy")
    assert feats.shape == (64, 80)
    assert not (tmp_path / "out" / "broken.npy").exists()
