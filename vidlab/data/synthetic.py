"""A synthetic motion dataset whose classes can only be told apart by the ORDER of the frames.

Eight classes in four direction pairs (``move_left``/``move_right``, ``move_up``/``move_down``,
``grow``/``shrink``, ``rotate_cw``/``rotate_ccw``). Each clip shows one textured object over a
low-frequency background with per-frame pixel noise. Within a pair, a clip of one class is the
time-reverse of a clip of the other: both are drawn from the SAME random numbers, only the sign
of the motion differs, and every trajectory is centred on its middle frame. So a single frame,
or the unordered set of frames, carries no information about the direction; a model that
ignores frame order (TSN) stays near chance within each pair, while a model that uses it (TSM)
learns the task in a few epochs from scratch.

Everything is rendered with NumPy (vectorised inverse-affine sampling of signed-distance shapes,
no per-pixel Python loops) and encoded to H.264 MP4 with PyAV, deterministically: the same
arguments give the same bytes.

Public API:
    :func:`make_synthetic_dataset` writes ``videos/<class>/<class>_<nnnn>.mp4``, ``train.txt``,
    ``val.txt`` (MMAction2 video lists), ``labels.txt`` and ``meta.json``.
    :func:`render_clip` renders one clip in memory; :func:`sample_clip_spec` /
    :func:`render_spec` split it into "draw the random parameters" and "draw the pixels".
    :func:`write_video` is a small, general PyAV encoder for tests and tools.
    :class:`SyntheticMotionDataset` serves the same clips from memory, without files.
    :func:`prepare_synthetic_data` makes the dataset a config names in ``synthetic_data``.
    :func:`synth_main` is the ``vidlab data synth`` entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_CLASSES",
    "GENERATOR_VERSION",
    "ClipSpec",
    "SyntheticMotionDataset",
    "make_synthetic_dataset",
    "prepare_synthetic_data",
    "render_clip",
    "render_spec",
    "sample_clip_spec",
    "synth_main",
    "write_video",
]

#: Bumped whenever the pixels or the file layout change, so stale datasets are regenerated.
GENERATOR_VERSION = 2

DEFAULT_CLASSES: tuple[str, ...] = (
    "move_left",
    "move_right",
    "move_up",
    "move_down",
    "grow",
    "shrink",
    "rotate_cw",
    "rotate_ccw",
)

# class -> (kind of motion, sign or unit direction). Image axes: x to the right, y DOWN, so a
# growing angle turns the object clockwise on screen.
_MOTIONS: dict[str, tuple[str, tuple[int, int] | int]] = {
    "move_left": ("translate", (-1, 0)),
    "move_right": ("translate", (1, 0)),
    "move_up": ("translate", (0, -1)),
    "move_down": ("translate", (0, 1)),
    "grow": ("scale", 1),
    "shrink": ("scale", -1),
    "rotate_cw": ("rotate", 1),
    "rotate_ccw": ("rotate", -1),
}

SHAPES: tuple[str, ...] = ("rectangle", "ellipse", "triangle", "pentagon")

# Motion magnitudes over the WHOLE clip (so sampling 8 of 24 frames shows the same motion as
# all 24). At 64 px and 24 frames: translation 22-42 px (~1-1.8 px/frame), radius x2.0-x2.8,
# rotation 120-200 degrees. Scale and rotation are large because a small TSM trained from
# scratch learned them much more slowly than translation at x1.5-2.0 and 80-140 degrees.
_TRANSLATE_RANGE = (0.35, 0.65)  # total displacement, fraction of the frame size
_SCALE_RANGE = (2.0, 2.8)  # end radius / start radius
_ROTATE_RANGE_DEG = (120.0, 200.0)  # total rotation
_RADIUS_RANGE = (0.16, 0.24)  # object radius at the middle frame, fraction of the frame size

# x264 settings of the dataset: fixed GOP, B-frames as in typical real files, one thread.
_ENCODE = {"codec": "libx264", "pix_fmt": "yuv420p", "gop": 12, "crf": 20, "preset": "veryfast"}


# ---------------------------------------------------------------------------------------------
# Random parameters of one clip
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClipSpec:
    """Everything needed to render one clip; :func:`render_spec` is a pure function of it.

    Attributes:
        cls_name: The class name.
        size: Frame height and width in pixels.
        shape: One of :data:`SHAPES`.
        centers: ``(T, 2)`` object centre per frame, ``(x, y)`` in pixels (y down).
        radii: ``(T,)`` object radius (half its long axis) per frame, in pixels.
        angles: ``(T,)`` orientation per frame in radians; growing = clockwise on screen.
        aspect: Short axis / long axis of the object.
        polygon: ``(5, 2)`` vertices (unit scale) used by the triangle (first 3) and pentagon.
        colors: ``(3, 3)`` RGB of the two stripe colours and the outline.
        stripe_period: Stripe period in object units (the object spans about ``[-1, 1]``).
        bg_mean: ``(3,)`` background mean colour.
        bg_waves: ``(K, 4)`` background cosines: x and y frequency (cycles per frame), phase,
            unused; amplitudes are in ``bg_amps``.
        bg_amps: ``(K, 3)`` per-wave, per-channel amplitude.
        flicker: ``(3,)`` global brightness flicker: amplitude, angular speed per frame, phase.
        noise_sigma: Standard deviation of the per-pixel noise (0..255 scale).
        noise_seed: Seed of the noise generator, so rendering needs no outside state.
    """

    cls_name: str
    size: int
    shape: str
    centers: np.ndarray
    radii: np.ndarray
    angles: np.ndarray
    aspect: float
    polygon: np.ndarray
    colors: np.ndarray
    stripe_period: float
    bg_mean: np.ndarray
    bg_waves: np.ndarray
    bg_amps: np.ndarray
    flicker: np.ndarray
    noise_sigma: float
    noise_seed: int

    @property
    def num_frames(self) -> int:
        return len(self.radii)


def _check_class(cls_name: str) -> None:
    if cls_name not in _MOTIONS:
        raise ValueError(
            f"unknown synthetic class {cls_name!r}; valid names: {', '.join(DEFAULT_CLASSES)}"
        )


def _as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def sample_clip_spec(
    cls_name: str, rng: np.random.Generator | int | None, num_frames: int = 24, size: int = 64
) -> ClipSpec:
    """Draws the random parameters of one clip of class ``cls_name``.

    The two classes of a pair consume the random stream identically, so with generators in the
    same state their clips are exact time-reverses of each other (object motion; background
    flicker and noise are time-symmetric in distribution only).

    Args:
        cls_name: One of :data:`DEFAULT_CLASSES`.
        rng: A NumPy ``Generator`` (advanced in place) or a seed.
        num_frames: Frames in the clip (>= 1).
        size: Frame height and width in pixels (>= 16).

    Returns:
        A :class:`ClipSpec`.
    """
    _check_class(cls_name)
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if size < 16:
        raise ValueError(f"size must be >= 16 pixels, got {size}")
    rng = _as_rng(rng)
    kind, direction = _MOTIONS[cls_name]

    # Appearance: a fixed number of draws whatever the class, shape or kind.
    shape = SHAPES[int(rng.integers(len(SHAPES)))]
    radius_mid = rng.uniform(*_RADIUS_RANGE) * size
    aspect = float(rng.uniform(0.6, 0.9))
    polygon = _random_polygon(rng, shape)
    c1 = rng.uniform(0, 255, 3)
    c2 = (c1 + rng.uniform(90, 166, 3)) % 256  # far from c1 in every channel: stripes show
    outline = np.full(3, 20.0) if rng.random() < 0.5 else np.full(3, 235.0)
    stripe_period = float(rng.uniform(0.45, 0.75))
    bg_mean = rng.uniform(60, 195, 3)
    num_waves = 3
    bg_waves = np.concatenate(
        [
            rng.uniform(0.2, 1.0, (num_waves, 2)) * rng.choice([-1.0, 1.0], (num_waves, 2)),
            rng.uniform(0, 2 * np.pi, (num_waves, 1)),
            np.zeros((num_waves, 1)),
        ],
        axis=1,
    )
    bg_amps = rng.uniform(5, 25, (num_waves, 3))
    flicker = np.array([rng.uniform(0, 0.08), rng.uniform(0.1, 0.5), rng.uniform(0, 2 * np.pi)])
    noise_sigma = float(rng.uniform(2, 6))
    noise_seed = int(rng.integers(2**63))

    # Motion: one magnitude draw m in [0, 1), a base orientation, a mid-clip position.
    m = rng.random()
    angle_mid = rng.uniform(0, 2 * np.pi)
    # tau: time centred on the middle frame, in [-0.5, 0.5]; reversing time negates it.
    tau = np.linspace(-0.5, 0.5, num_frames) if num_frames > 1 else np.zeros(1)
    radii = np.full(num_frames, radius_mid)
    angles = np.full(num_frames, angle_mid)
    travel = 0.0
    if kind == "scale":
        log_ratio = np.log(_lerp(_SCALE_RANGE, m))
        # a smaller middle size, so the largest frame still fits
        radii = 0.85 * radius_mid * np.exp(direction * log_ratio * tau)
    elif kind == "rotate":
        angles = angle_mid + direction * np.deg2rad(_lerp(_ROTATE_RANGE_DEG, m)) * tau
    else:
        travel = _lerp(_TRANSLATE_RANGE, m) * size
    # Keep the object mostly inside the frame; along the motion it may reach half out.
    r_max = float(radii.max())
    lo = np.full(2, r_max + 1.0)
    if kind == "translate":
        axis = 0 if direction[0] != 0 else 1
        lo[axis] = 0.5 * r_max + 0.5 * travel
    hi = size - 1.0 - lo
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    mid = rng.uniform(lo, hi)
    centers = np.repeat(mid[None], num_frames, axis=0)  # (T, 2)
    if kind == "translate":
        centers = centers + travel * tau[:, None] * np.asarray(direction, dtype=float)[None]

    return ClipSpec(
        cls_name=cls_name,
        size=size,
        shape=shape,
        centers=centers,
        radii=radii,
        angles=angles,
        aspect=aspect,
        polygon=polygon,
        colors=np.stack([c1, c2, outline]),
        stripe_period=stripe_period,
        bg_mean=bg_mean,
        bg_waves=bg_waves,
        bg_amps=bg_amps,
        flicker=flicker,
        noise_sigma=noise_sigma,
        noise_seed=noise_seed,
    )


def _lerp(bounds: tuple[float, float], m: float) -> float:
    return bounds[0] + (bounds[1] - bounds[0]) * m


def _random_polygon(rng: np.random.Generator, shape: str) -> np.ndarray:
    """Five jittered vertices (unit scale); a triangle uses 3 of them. Always 10 draws."""
    jitter = rng.uniform(-0.3, 0.3, 5)
    radius = rng.uniform(0.9, 1.0, 5)
    n = 3 if shape == "triangle" else 5
    step = 2 * np.pi / n
    theta = np.arange(5) * step + jitter * step / 2  # (5,) keeps the vertices in order
    return np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=1)  # (5, 2)


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def render_clip(
    cls_name: str,
    rng: np.random.Generator | int | None,
    num_frames: int = 24,
    size: int = 64,
    *,
    return_spec: bool = False,
) -> np.ndarray | tuple[np.ndarray, ClipSpec]:
    """Renders one random clip of class ``cls_name``.

    Args:
        cls_name: One of :data:`DEFAULT_CLASSES`.
        rng: A NumPy ``Generator`` (advanced in place) or a seed.
        num_frames: Frames in the clip.
        size: Frame height and width in pixels.
        return_spec: Also return the :class:`ClipSpec` (the object's true trajectory).

    Returns:
        ``(T, H, W, 3)`` uint8 RGB frames, or ``(frames, spec)`` with ``return_spec``.
    """
    spec = sample_clip_spec(cls_name, rng, num_frames, size)
    frames = render_spec(spec)
    return (frames, spec) if return_spec else frames


def render_spec(spec: ClipSpec) -> np.ndarray:
    """Draws the pixels of a :class:`ClipSpec`: ``(T, H, W, 3)`` uint8 RGB."""
    t, size = spec.num_frames, spec.size
    field, gain = _background_field(spec)  # (H, W, 3), (T,)
    weights = _object_weights(spec)  # (T, H, W, 4): background, colour 1, colour 2, outline
    # Composite as one small matrix product per pixel instead of several full-size blends.
    frames = weights[..., 1:] @ spec.colors.astype(np.float32)  # (T, H, W, 3)
    frames += field[None] * (weights[..., :1] * gain[:, None, None, None])
    noise_rng = np.random.default_rng(spec.noise_seed)
    # Uniform noise of the same standard deviation: 6x cheaper to draw than Gaussian.
    noise = noise_rng.random((t, size, size, 3), dtype=np.float32) - 0.5
    frames += noise * np.float32(spec.noise_sigma * np.sqrt(12.0))
    np.rint(frames, out=frames)
    np.clip(frames, 0, 255, out=frames)
    return frames.astype(np.uint8)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)  # (H, W) pixel centres
    return xs, ys


def _background_field(spec: ClipSpec) -> tuple[np.ndarray, np.ndarray]:
    """Static low-frequency colour field ``(H, W, 3)`` and per-frame gain ``(T,)``."""
    xs, ys = _grid(spec.size)
    field = np.broadcast_to(spec.bg_mean.astype(np.float32), (spec.size, spec.size, 3)).copy()
    for (fx, fy, phase, _), amps in zip(spec.bg_waves, spec.bg_amps):
        wave = np.cos(2 * np.pi * (fx * xs + fy * ys) / spec.size + phase)  # (H, W)
        field += wave[..., None] * amps.astype(np.float32)
    # Slow global flicker: a sinusoid with a uniform random phase is symmetric under time
    # reversal in distribution, and it moves nothing.
    amp, omega, phase = spec.flicker
    gain = 1.0 + amp * np.sin(omega * np.arange(spec.num_frames) + phase)  # (T,)
    return field, gain.astype(np.float32)


def _object_weights(spec: ClipSpec) -> np.ndarray:
    """Per-pixel blend weights ``(T, H, W, 4)`` of background, colour 1, colour 2, outline.

    The object is drawn by inverse mapping: every pixel is taken into the object's own
    coordinates (rotation, scale, translation of that frame) and the shape and texture are
    evaluated there, for all frames at once.
    """
    xs, ys = _grid(spec.size)
    cx = spec.centers[:, 0].astype(np.float32)[:, None, None]  # (T, 1, 1)
    cy = spec.centers[:, 1].astype(np.float32)[:, None, None]
    r = spec.radii.astype(np.float32)[:, None, None]
    cos = np.cos(spec.angles).astype(np.float32)[:, None, None] / r
    sin = np.sin(spec.angles).astype(np.float32)[:, None, None] / r
    dx, dy = xs[None] - cx, ys[None] - cy  # (T, H, W)
    u = cos * dx + sin * dy  # object coordinates: long axis u, short axis v (unit scale)
    v = cos * dy - sin * dx
    w = v / spec.aspect  # squeezed so every shape is defined at unit scale
    dist = _unit_sdf(spec.shape, u, w, spec.polygon) * (r * spec.aspect)  # ~pixels, <0 inside
    alpha = np.clip(0.5 - dist, 0.0, 1.0)  # one-pixel antialiased edge
    stripe = np.clip(0.5 + 2.0 * np.sin((2 * np.pi / spec.stripe_period) * u), 0.0, 1.0)
    # Darken one half (v < 0): the pattern then has no 180-degree symmetry, so any rotation
    # up to a full turn is visible.
    shade = 0.6 + 0.4 * np.clip(0.5 + v * r, 0.0, 1.0)
    edge = np.clip(dist + 1.5, 0.0, 1.0)  # 1 on the last pixel inside the border
    weights = np.empty(alpha.shape + (4,), dtype=np.float32)
    weights[..., 0] = 1.0 - alpha
    weights[..., 3] = alpha * edge
    body = alpha * (1.0 - edge) * shade
    weights[..., 1] = body * stripe
    weights[..., 2] = body - weights[..., 1]
    return weights


def _unit_sdf(shape: str, u: np.ndarray, w: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Signed distance (approximate outside corners) to a unit-scale shape; < 0 inside."""
    if shape == "ellipse":  # a unit circle in the squeezed coordinates
        return np.sqrt(u * u + w * w) - 1.0
    if shape == "rectangle":
        qx, qy = np.abs(u) - 1.0, np.abs(w) - 1.0
        outside = np.sqrt(np.maximum(qx, 0) ** 2 + np.maximum(qy, 0) ** 2)
        return outside + np.minimum(np.maximum(qx, qy), 0.0)
    vertices = polygon[:3] if shape == "triangle" else polygon
    nxt = np.roll(vertices, -1, axis=0)
    edges = nxt - vertices
    normals = np.stack([edges[:, 1], -edges[:, 0]], axis=1)  # outward for counter-clockwise
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = (normals * vertices).sum(axis=1)
    dist = None
    for (nx, ny), off in zip(normals.astype(np.float32), offsets.astype(np.float32)):
        d = nx * u + ny * w - off
        dist = d if dist is None else np.maximum(dist, d)
    return dist


# ---------------------------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------------------------

# Codecs whose FFmpeg wrapper takes a constant-quality "crf" option.
_CRF_CODECS = {"libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1"}


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray | Sequence[np.ndarray],
    fps: float | Fraction = 12,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    gop: int = 12,
    crf: int | None = 20,
    bframes: int | None = None,
    preset: str | None = "veryfast",
    options: dict[str, str] | None = None,
) -> Path:
    """Encodes RGB frames into a video file; the container follows the extension.

    With ``libx264`` the output is deterministic (one thread, fixed GOP, no scene-cut
    keyframes, no macroblock-tree rate control, explicit timestamps): the same frames give the
    same bytes with the same FFmpeg/x264 build.

    Args:
        path: Output file (``.mp4``, ``.mkv``, ``.avi``, ``.webm``, ...); parent must exist.
        frames: ``(T, H, W, 3)`` uint8 RGB array, or a sequence of ``(H, W, 3)`` arrays.
        fps: Frame rate (a ``Fraction`` for rates such as 30000/1001).
        codec: FFmpeg encoder name (``libx264``, ``libx265``, ``mpeg4``, ``libvpx-vp9``, ...).
        pix_fmt: Pixel format of the encoded stream.
        gop: Keyframe interval in frames (fixed for x264/x265).
        crf: Constant quality for codecs that support it (ignored by the others); None leaves
            the encoder default.
        bframes: Maximum consecutive B-frames; None leaves the encoder default (x264: 3).
        preset: x264/x265 speed preset; None leaves the encoder default.
        options: Extra encoder options, passed to FFmpeg as they are (they win over the above).

    Returns:
        The path written.

    Raises:
        ValueError: ``frames`` has the wrong type, shape or dtype, or the size does not suit
            ``pix_fmt``.
    """
    import av

    frames = _check_frames(frames)
    _, height, width, _ = frames.shape
    if pix_fmt in ("yuv420p", "yuvj420p", "nv12") and (height % 2 or width % 2):
        raise ValueError(
            f"write_video({str(path)!r}): {pix_fmt} needs an even width and height, got "
            f"{width}x{height}; crop or pad the frames, or use pix_fmt='yuv444p'"
        )
    rate = Fraction(fps).limit_denominator(1_000_000)
    if rate <= 0:
        raise ValueError(f"write_video({str(path)!r}): fps must be > 0, got {fps}")
    opts: dict[str, str] = {}
    if crf is not None and codec in _CRF_CODECS:
        opts["crf"] = str(crf)
        if codec == "libvpx-vp9":
            opts["b"] = "0"  # constant-quality mode of VP9 needs a zero bitrate target
    if preset is not None and codec in ("libx264", "libx265"):
        opts["preset"] = preset
    if codec == "libx264":
        # Fixed GOP and a single thread. mbtree=0: with macroblock-tree rate control, x264
        # (with B-frames, measured here) gives different bytes in ~1 run of 20 for the same
        # input; without it the output depends on the pixels alone.
        opts["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0:threads=1:mbtree=0"
    elif codec == "libx265":
        opts["x265-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0:pools=none:frame-threads=1"
    opts.update(options or {})

    path = Path(path)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        ctx = stream.codec_context
        ctx.gop_size = gop
        ctx.thread_count = 1
        if bframes is not None:
            ctx.max_b_frames = bframes
        stream.options = opts
        for index, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = index  # without explicit pts x264's output varies from run to run
            frame.time_base = 1 / rate
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))  # flush delayed (B-)frames
    return path


def _check_frames(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        try:
            frames = np.stack([np.asarray(f) for f in frames])
        except ValueError as exc:
            raise ValueError(f"frames must all have the same (H, W, 3) shape: {exc}") from exc
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"frames must be (T, H, W, 3) RGB with T >= 1, got shape {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (0..255), got dtype {frames.dtype}")
    return np.ascontiguousarray(frames)


# ---------------------------------------------------------------------------------------------
# The dataset on disk
# ---------------------------------------------------------------------------------------------

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
    reused unless ``overwrite``; an incomplete or different one is regenerated. The data is
    built in a temporary sibling folder and renamed into place at the end, so an interrupted
    run never leaves a half dataset that looks complete.

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
        FileExistsError: ``out_dir`` holds files that are not a synthetic dataset and
            ``overwrite`` is False.
    """
    classes = _resolve_classes(classes)
    _check_args(videos_per_class, val_fraction, num_frames, size, fps, seed)
    root = Path(out_dir).absolute()
    args = _dataset_args(classes, videos_per_class, val_fraction, num_frames, size, fps, seed)

    if not overwrite:
        existing = _load_complete(root, args)
        if existing is not None:
            return existing
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


def prepare_synthetic_data(cfg) -> dict | None:
    """Generate the dataset a config asks for with ``synthetic_data=dict(root=..., ...)``.

    ``vidlab train`` / ``vidlab test`` / ``vidlab quickstart`` call it before building the
    datasets; the other keys of ``synthetic_data`` are arguments of
    :func:`make_synthetic_dataset`. A complete dataset made with the same arguments is reused;
    generation is deterministic.

    Returns:
        What :func:`make_synthetic_dataset` returns, or None for a config without
        ``synthetic_data`` (left alone).
    """
    spec = cfg.get("synthetic_data")
    if not spec:
        return None
    kwargs = dict(spec)
    if "root" not in kwargs:
        raise ValueError(
            "synthetic_data needs root=<directory> (where the dataset is written), got "
            f"{sorted(kwargs)}"
        )
    return make_synthetic_dataset(kwargs.pop("root"), **kwargs)


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


# ---------------------------------------------------------------------------------------------
# In memory
# ---------------------------------------------------------------------------------------------


class SyntheticMotionDataset:
    """The synthetic clips served from memory, rendered on demand (no files, no decoding).

    Video ``i`` of a class is the clip that :func:`make_synthetic_dataset` encodes with the
    same ``seed``, ``num_frames`` and ``size`` (before compression). ``num_segments`` frames
    are sampled TSN-style: one per equal segment, at a random offset in training and at the
    segment centre in ``test_mode``.

    Each item is ``{"clips": uint8 (1, 3, num_segments, size, size), "label": int64 scalar,
    "index": int}``.

    Args:
        classes: Class names (subset of :data:`DEFAULT_CLASSES`), None for all.
        videos_per_class: Videos per class before the split.
        split: ``"train"``, ``"val"`` or ``"all"`` (the same split as the files).
        val_fraction: Fraction of each class in the validation split.
        num_frames: Frames per rendered video.
        num_segments: Frames sampled per item.
        size: Frame size.
        seed: Dataset seed.
        test_mode: Deterministic sampling (segment centres).
    """

    def __init__(
        self,
        classes: str | Iterable[str] | None = None,
        videos_per_class: int = 50,
        split: str = "train",
        val_fraction: float = 0.2,
        num_frames: int = 24,
        num_segments: int = 8,
        size: int = 64,
        seed: int = 0,
        test_mode: bool = False,
    ):
        self.classes = _resolve_classes(classes)
        _check_args(videos_per_class, val_fraction, num_frames, size, 12, seed)
        if split not in ("train", "val", "all"):
            raise ValueError(f"split must be 'train', 'val' or 'all', got {split!r}")
        if not 1 <= num_segments <= num_frames:
            raise ValueError(
                f"num_segments must be in [1, num_frames={num_frames}], got {num_segments}"
            )
        self.num_frames, self.num_segments, self.size = num_frames, num_segments, size
        self.seed, self.test_mode = seed, test_mode
        n_val = _num_val(videos_per_class, val_fraction)
        first, last = {
            "train": (0, videos_per_class - n_val),
            "val": (videos_per_class - n_val, videos_per_class),
            "all": (0, videos_per_class),
        }[split]
        self.records = [
            {"cls_name": c, "label": label, "video_index": i}
            for label, c in enumerate(self.classes)
            for i in range(first, last)
        ]
        self.labels = [r["label"] for r in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def frame_indices(self) -> np.ndarray:
        """Indices of ``num_segments`` frames: one per equal segment (random offset in training)."""
        seg = self.num_frames / self.num_segments
        # NumPy's global generator, which the DataLoader seeds differently in every worker.
        offsets = 0.5 if self.test_mode else np.random.random(self.num_segments)
        return np.minimum(
            (np.arange(self.num_segments) + offsets) * seg, self.num_frames - 1
        ).astype(int)

    def __getitem__(self, index: int) -> dict:
        import torch

        record = self.records[index]
        frames = render_clip(
            record["cls_name"],
            _video_rng(self.seed, record["cls_name"], record["video_index"]),
            self.num_frames,
            self.size,
        )
        clip = frames[self.frame_indices()]  # (T, H, W, 3)
        clips = torch.from_numpy(np.ascontiguousarray(clip.transpose(3, 0, 1, 2)))[None]
        return {  # clips: (V=1, C, T, H, W)
            "clips": clips,
            "label": torch.tensor(record["label"], dtype=torch.int64),
            "index": index,
        }
