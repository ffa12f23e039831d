"""FFmpeg's protocols are restricted: ``file`` for a local file, http(s)/tcp/tls for a URL, so
that a playlist or concat list cannot make FFmpeg fetch from elsewhere (issue 8). The URL test
serves from 127.0.0.1 only; nothing here touches the network."""

from __future__ import annotations

import functools
import http.server
import threading

import pytest

from vidlab.data.io import DecodeError, probe, read_frames


@pytest.fixture
def served(tmp_path):
    requests = []

    class Recording(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):  # noqa: N802 - http.server's name
            requests.append(self.path)
            super().do_GET()

    handler = functools.partial(Recording, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def playlist(*entries: str) -> str:
    body = "".join(f"#EXTINF:2,\n{e}\n" for e in entries)
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:2\n{body}#EXT-X-ENDLIST\n"


@pytest.mark.parametrize("name", ["clip.m3u8", "clip.mp4"])
def test_local_hls_playlist_pointing_at_a_url_is_refused(tmp_path, served, name):
    url, requests = served
    (tmp_path / "seg.ts").write_bytes(b"\0" * 188)
    path = tmp_path / name
    path.write_text(playlist(f"{url}/seg.ts"))
    with pytest.raises(DecodeError, match=r"is an HLS playlist, not a video.*file protocol only"):
        probe(path)
    assert requests == []  # FFmpeg never fetched the segment


def test_local_concat_list_is_refused(tmp_path, served):
    url, requests = served
    path = tmp_path / "list.ffconcat"
    path.write_text(f"ffconcat version 1.0\nfile '{url}/a.mp4'\n")
    with pytest.raises(DecodeError, match=r"is a concat list, not a video"):
        read_frames(path, [0])
    assert requests == []


def test_url_playlist_cannot_read_local_files(tmp_path, served, videos):
    url, requests = served
    local = videos["h264_gop12"]  # a readable local video: the playlist must not reach it
    (tmp_path / "list.m3u8").write_text(playlist(f"file://{local}"))
    with pytest.raises(DecodeError, match="list.m3u8"):
        probe(f"{url}/list.m3u8")
    assert requests == ["/list.m3u8"]
