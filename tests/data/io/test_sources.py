"""Arrays and http(s) URLs as sources (the URL test serves files from 127.0.0.1 only)."""

from __future__ import annotations

import functools
import http.server
import threading

import numpy as np
import pytest
from videogen import NUM_FRAMES, frame_id, pattern

from vidlab.data.io import DecodeError, open_video, probe, read_frames, source_kind


def test_array_source():
    frames = np.stack([pattern(i) for i in range(10)])
    info = probe(frames)
    assert (info.num_frames, info.width, info.height, info.path) == (10, 64, 48, None)
    np.testing.assert_array_equal(read_frames(frames, [9, 0, 0]), frames[[9, 0, 0]])
    small = read_frames(frames, [1, 2], short_side=24)
    assert small.shape == (2, 24, 32, 3)
    assert [frame_id(f) for f in small] == [1, 2]
    with open_video(frames, fps=5) as reader:
        assert reader.info.fps == 5 and reader.info.duration == 2.0


def test_array_source_checked():
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        probe(np.zeros((4, 8, 8), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        probe(np.zeros((4, 8, 8, 3), np.float32))


def test_source_kind(tmp_path):
    assert source_kind(np.zeros((1, 2, 2, 3), np.uint8)) == "array"
    assert source_kind("https://example.org/a.mp4") == "url"
    assert source_kind("HTTP://example.org/a.mp4") == "url"
    assert source_kind(tmp_path) == "folder"
    assert source_kind(tmp_path / "a.mp4") == "file"


@pytest.fixture
def http_root(video_dir):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(video_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.timeout = 5
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_http_url_streams(http_root, videos, references):
    url = f"{http_root}/vp9.webm"
    assert probe(url).num_frames == NUM_FRAMES
    with open_video(url) as reader:
        np.testing.assert_array_equal(reader.read([3, 40, 3]), references["vp9_webm"][[3, 40, 3]])
        np.testing.assert_array_equal(reader.read([1]), references["vp9_webm"][[1]])  # back
    with pytest.raises(DecodeError, match=r"vp9.webm: cannot decode frame 70: the stream ended"):
        read_frames(url, [70])
    with pytest.raises(DecodeError, match="nothing-here.mp4: cannot open"):
        read_frames(f"{http_root}/nothing-here.mp4", [0])
