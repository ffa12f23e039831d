"""The motion renderer of the synthetic dataset: the random parameters of a clip and its pixels.

:func:`sample_clip_spec` draws a :class:`ClipSpec` (object, background, noise, trajectory);
:func:`render_spec` draws its frames with NumPy (vectorised inverse-affine sampling of
signed-distance shapes, no per-pixel Python loops); :func:`render_clip` does both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
