"""Session fixtures: the test videos of `videogen`, written once, and their full decodes."""

from __future__ import annotations

import pytest
from videogen import VIDEO_SPECS, encode, full_decode, has_encoder

from vidlab.data.io import base as io_base


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def videos(video_dir):
    """name -> path of every video of VIDEO_SPECS that this FFmpeg can encode."""
    out = {}
    for name, (file_name, kwargs) in VIDEO_SPECS.items():
        codec = kwargs.get("codec", "libx264")
        if has_encoder(codec):
            out[name] = encode(video_dir / file_name, **kwargs)
    return out


@pytest.fixture(scope="session")
def references(videos):
    return {name: full_decode(path) for name, path in videos.items()}


@pytest.fixture(autouse=True)
def _fresh_warnings():
    io_base._warned.clear()
    yield
