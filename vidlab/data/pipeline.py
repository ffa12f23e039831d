"""``Compose``: run a list of transforms over a results dict."""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["Compose", "build_transform"]


def build_transform(t, key_path: str = ""):
    """A transform object from a config dict (built with ``vidlab.config.build``) or a callable."""
    if isinstance(t, dict):
        from vidlab.config import build

        return build(t, key_path=key_path)
    if callable(t):
        return t
    raise TypeError(
        f"{key_path or 'pipeline step'}: a transform must be a dict with 'type' or a callable, got {type(t).__name__}"
    )


class Compose:
    """Apply ``transforms`` in order.

    Args:
        transforms: transform objects, callables, or config dicts with ``type``.

    A transform that returns ``None`` ends the pipeline with ``None`` (as MMEngine's Compose).
    An exception raised by a transform propagates unchanged, with a note naming the step
    (index and class).
    """

    def __init__(self, transforms: Sequence[dict | Callable] | None):
        if isinstance(transforms, Compose):
            transforms = transforms.transforms
        self.transforms = [
            build_transform(t, key_path=f"pipeline.{i}") for i, t in enumerate(transforms or [])
        ]

    def __call__(self, results: dict):
        for i, t in enumerate(self.transforms):
            try:
                results = t(results)
            except Exception as e:
                e.add_note(f"in pipeline step {i} ({type(t).__name__})")
                raise
            if results is None:
                return None
        return results

    def __len__(self) -> int:
        return len(self.transforms)

    def __getitem__(self, i):
        return self.transforms[i]

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"{type(self).__name__}([{inner}\n])"
