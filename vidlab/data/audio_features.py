"""Log-mel audio features as MMAction2's ``tools/data/build_audio_features.py`` computes them.

MMAction2's tool (run as a script) reads a file with ``librosa.load(sr=16000)`` (mono),
scales it to an RMS of 0.1, takes the STFT of the ``lws`` package (``lws.lws(512, 256,
mode='speech')``: 512-sample frames every 256 samples, i.e. 32 ms every 16 ms), maps the
magnitudes to 80 mel bands of librosa's (Slaney) filterbank between 125 and 7600 Hz,
converts to dB (floor -100 dB), subtracts a 20 dB reference and scales ``[-100, 0]`` dB to
``[0, 1]``. The result is ``(frames, 80)`` float32, 62.5 frames a second.

vidlab does the same with numpy alone, written from those definitions (no librosa or lws
needed):

- decoding: the file's first audio stream through PyAV (FFmpeg), channels averaged
  (librosa's ``to_mono``), resampled to 16 kHz by ``soxr`` as librosa does when the optional
  package is installed (``pip install vidlab[audio]``), else by FFmpeg's ``swr`` resampler. A
  16 kHz source is read sample for sample as librosa reads it; with ``swr`` a 44.1 kHz one
  differs from librosa's by up to ~4e-3 per sample (features: see ``load_audio``);
- STFT (lws' ``stft`` with ``perfectrec=True``): the window is ``sqrt`` of lws' symmetric
  Hann ``0.5 - 0.5 cos(2 pi (2k + 1) / 2n)``, renormalised for perfect reconstruction (a
  no-op at 50% overlap); the signal gets ``n_fft - hop`` zeros in front and is zero-padded to
  a whole number of hops; frame ``m`` starts at ``m * hop``;
- the mel filterbank: librosa's ``filters.mel`` with ``htk=False, norm='slaney'`` (Slaney's
  mel scale: linear below 1 kHz, logarithmic above; triangles scaled to unit area).

``vidlab data audio-features SRC OUT`` writes one ``.npy`` per audio or video file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = [
    "AudioFeatureConfig",
    "audio_features",
    "build_audio_features",
    "load_audio",
    "log_mel",
    "mel_filterbank",
]

MEDIA_EXTENSIONS = (
    ".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus",
    ".mp4", ".mkv", ".webm", ".avi", ".mov",
)  # fmt: skip


@dataclass(frozen=True)
class AudioFeatureConfig:
    """The parameters of MMAction2's ``build_audio_features.py`` (its ``__main__``)."""

    sample_rate: int = 16000
    n_fft: int = 512
    hop: int = 256
    n_mels: int = 80
    fmin: float = 125.0
    fmax: float = 7600.0
    min_level_db: float = -100.0
    ref_level_db: float = 20.0
    rms: float | None = 0.1  # None: peak-normalise instead (MMAction2's NORM_AUDIO=False)


# --- the mel scale (Slaney's, as librosa's default) ---------------------------------------------
_F_SP = 200.0 / 3  # Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    log = hz >= _MIN_LOG_HZ
    return np.where(
        log, _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mel
    )


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * mel
    log = mel >= _MIN_LOG_MEL
    return np.where(log, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), hz)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
    """``(n_mels, n_fft // 2 + 1)`` float32 triangles on Slaney's mel scale, each scaled by
    ``2 / (f_right - f_left)`` (unit area): librosa's ``filters.mel`` defaults."""
    fft_freqs = np.linspace(0, sample_rate / 2, 1 + n_fft // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # Hz
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / widths[i]
        upper = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (edges[2 : n_mels + 2] - edges[:n_mels]))[:, None]
    return weights


# --- lws' STFT ----------------------------------------------------------------------------------
def _lws_window(n_fft: int, hop: int) -> np.ndarray:
    k = np.arange(n_fft)
    awin = np.sqrt(0.5 * (1 - np.cos(2 * np.pi * (2 * k + 1) / (2 * n_fft))))
    q = math.ceil(n_fft / hop)  # overlap-add normaliser of awin * swin (swin = awin)
    total = np.concatenate([awin * awin, np.zeros(q * hop - n_fft)])
    norm = np.tile(total.reshape(q, hop).sum(axis=0), q)[:n_fft]
    return np.sqrt(awin * (awin / norm))


def stft_magnitude(wav: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``|STFT|`` ``(frames, n_fft // 2 + 1)`` of a mono float signal, framed as lws frames
    it (``perfectrec=True``)."""
    residual = n_fft % hop
    pre = n_fft - hop if residual == 0 else n_fft - residual
    post = 0 if len(wav) % hop == 0 else hop - len(wav) % hop
    x = np.concatenate([np.zeros(pre), wav.astype(np.float64), np.zeros(post)])
    num_frames = len(x) // hop
    x = np.concatenate([x, np.zeros((num_frames - 1) * hop + n_fft - len(x))])
    starts = hop * np.arange(num_frames)
    frames = x[starts[:, None] + np.arange(n_fft)[None, :]]  # (frames, n_fft)
    return np.abs(np.fft.rfft(frames * _lws_window(n_fft, hop), n=n_fft, axis=1))


def log_mel(wav: np.ndarray, cfg: AudioFeatureConfig = AudioFeatureConfig()) -> np.ndarray:
    """MMAction2's features of a mono signal at ``cfg.sample_rate``: ``(frames, n_mels)``
    float32 in ``[0, 1]`` (the signal is RMS-normalised first, as MMAction2's ``read_audio``)."""
    wav = np.asarray(wav, dtype=np.float64)
    if cfg.rms is not None:
        wav = wav * (cfg.rms / max(1e-4, float(np.sqrt(np.mean(wav**2))) if wav.size else 0.0))
    elif wav.size:
        wav = wav / np.abs(wav).max()
    mag = stft_magnitude(wav, cfg.n_fft, cfg.hop)  # (frames, bins)
    basis = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
    mel = mag @ basis.T.astype(np.float64)  # (frames, n_mels)
    floor = 10 ** (cfg.min_level_db / 20)
    db = 20 * np.log10(np.maximum(floor, mel)) - cfg.ref_level_db
    return np.clip((db - cfg.min_level_db) / -cfg.min_level_db, 0, 1).astype(np.float32)


# --- decoding -----------------------------------------------------------------------------------
def _soxr():
    try:
        import soxr
    except ImportError:
        return None
    return soxr


def load_audio(
    path: str | os.PathLike, sample_rate: int = 16000, resampler: str = "auto"
) -> np.ndarray:
    """The first audio stream of ``path`` as mono float32 at ``sample_rate``, as
    ``librosa.load(path, sr=sample_rate)`` reads it.

    Decoded by PyAV at the stream's own rate as float32, the channels averaged (librosa's
    ``to_mono``), then resampled: with ``soxr`` (librosa's resampler, ``quality='soxr_hq'``,
    length ``ceil(n * ratio)``: ``pip install vidlab[audio]``) or with FFmpeg's ``swr``
    (no extra package; not bit-identical to librosa's, see the module docstring).

    Args:
        path: An audio or video file.
        sample_rate: Output rate.
        resampler: ``'soxr'``, ``'ffmpeg'`` or ``'auto'`` (soxr when it is installed).

    Raises:
        ValueError: the file has no audio stream, or an unknown ``resampler``.
        ImportError: ``resampler='soxr'`` without the soxr package.
    """
    import av

    if resampler not in ("auto", "soxr", "ffmpeg"):
        raise ValueError(f"resampler={resampler!r}; expected 'auto', 'soxr' or 'ffmpeg'")
    soxr = _soxr() if resampler != "ffmpeg" else None
    if resampler == "soxr" and soxr is None:
        raise ImportError("resampler='soxr' needs the soxr package: pip install 'vidlab[audio]'")
    path = os.fspath(path)
    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        native = stream.codec_context.sample_rate or stream.rate
        layout = stream.layout.name if stream.layout else "mono"
        # soxr resamples the mono signal afterwards: FFmpeg only converts the sample format
        rate = native if soxr is not None else sample_rate
        convert = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        chunks = []
        for frame in container.decode(stream):
            chunks += [f.to_ndarray() for f in convert.resample(frame)]
        chunks += [f.to_ndarray() for f in convert.resample(None)]  # flush
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    wav = np.concatenate(chunks, axis=1).mean(axis=0)  # (samples,): librosa's to_mono
    if soxr is not None and native != sample_rate:
        size = math.ceil(len(wav) * sample_rate / native)
        wav = soxr.resample(wav, native, sample_rate, quality="soxr_hq")[:size]
        wav = np.pad(wav, (0, size - len(wav)))  # librosa's fix_length
    return wav.astype(np.float32)


def audio_features(
    path: str | os.PathLike, cfg: AudioFeatureConfig = AudioFeatureConfig()
) -> np.ndarray:
    """MMAction2's log-mel features ``(frames, n_mels)`` of a media file's audio."""
    return log_mel(load_audio(path, cfg.sample_rate), cfg)


def _sources(src: Path) -> Iterable[Path]:
    if src.is_file():
        yield src
        return
    for path in sorted(src.rglob("*")):
        if path.is_file() and path.suffix.lower() in MEDIA_EXTENSIONS:
            yield path


def build_audio_features(
    src: str | os.PathLike, out: str | os.PathLike, cfg: AudioFeatureConfig = AudioFeatureConfig()
) -> dict:
    """Write ``OUT/<relative path without extension>.npy`` for a file or every media file
    under a folder (MMAction2's ``build_audio_features.py``, from the media directly).

    Returns:
        ``dict(written=[(npy path, frames)], failed=[(path, reason)])``: a file that cannot
        be read (no audio stream, broken) is listed, never replaced.
    """
    src, out = Path(src), Path(out)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such file or folder")
    written, failed = [], []
    for path in _sources(src):
        rel = path.name if src.is_file() else str(path.relative_to(src))
        target = (out / rel).with_suffix(".npy")
        try:
            feats = audio_features(path, cfg)
        except Exception as e:  # noqa: BLE001 - reported per file, the rest goes on
            failed.append((str(path), f"{type(e).__name__}: {e}"))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target, feats, allow_pickle=False)
        written.append((str(target), int(feats.shape[0])))
    return {"written": written, "failed": failed}
