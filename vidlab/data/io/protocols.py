"""What FFmpeg may open: `av_open` is `av.open` for reading with a protocol whitelist.

A local file is read with the ``file`` protocol alone, so that a playlist (HLS ``.m3u8``) or a
concat list inside it cannot make FFmpeg fetch from other hosts or paths; an http(s) URL is read
with ``http``, ``https``, ``tcp`` and ``tls``. FFmpeg applies the whitelist to every nested
open (playlist segments, concat entries).
"""

from __future__ import annotations

import re

import av

from vidlab.data.io.base import DecodeError

__all__ = ["LOCAL_PROTOCOLS", "URL_PROTOCOLS", "av_open"]

LOCAL_PROTOCOLS = "file"
URL_PROTOCOLS = "http,https,tcp,tls"


def av_open(src: str, options: dict | None = None, **kwargs):
    """`av.open` for reading, restricted to :data:`LOCAL_PROTOCOLS` (a local file) or
    :data:`URL_PROTOCOLS` (an http(s) URL).

    Raises:
        DecodeError: the file asks FFmpeg for another protocol (a playlist or concat list
            pointing elsewhere); other FFmpeg errors propagate.
    """
    is_url = bool(re.match(r"^https?://", src, re.IGNORECASE))
    allowed = URL_PROTOCOLS if is_url else LOCAL_PROTOCOLS
    opts = {**(options or {}), "protocol_whitelist": allowed}
    try:
        return av.open(src, metadata_errors="ignore", options=opts, **kwargs)
    except (av.error.FFmpegError, OSError) as e:
        kind = None if is_url else _list_kind(src)
        if kind is None and "whitelist" not in str(e):
            raise
        kind = kind or "a file that refers to other media"
        raise DecodeError(
            f"{src}: is {kind}, not a video: FFmpeg would open the files or URLs it lists, "
            f"and vidlab lets FFmpeg read {'a URL' if is_url else 'a local file'} with the "
            f"{allowed.replace(',', ', ')} protocol{'s' if ',' in allowed else ''} only. "
            "Download the media and list the video files themselves",
            src,
        ) from e


def _list_kind(path: str) -> str | None:
    """'an HLS playlist' / 'a concat list' when the file starts like one, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return None
    if head.startswith(b"#EXTM3U"):
        return "an HLS playlist"
    if head.startswith(b"ffconcat"):
        return "a concat list"
    return None
