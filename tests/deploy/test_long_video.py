"""Sliding windows over a long video and over a stream (a pipe fed while it is read): the
windows, the timeline JSON, the annotated MP4 and the drawn text."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pytest
from deploy_helpers import CLASSES

from vidlab.draw import draw_text, text_mask
from vidlab.inference import inference_recognizer
from vidlab.long_video import parse_span, sliding_window


def test_spans_in_frames_and_seconds():
    assert parse_span("64").frames(30) == 64 and parse_span("64f").frames(30) == 64
    assert parse_span("2s").frames(12) == 24 and parse_span("0.5s").frames(30) == 15
    for bad in ("0", "-2s", "2m", "1.5", ""):
        with pytest.raises(ValueError, match="not a window length"):
            parse_span(bad)


def test_windows_timeline_and_annotated_video(model, long_video, tmp_path):
    import av

    timeline, out_video = tmp_path / "t.json", tmp_path / "a.mp4"
    seen = []
    info = sliding_window(
        model,
        long_video,
        window="2s",
        stride="1s",
        top_k=3,
        labels=CLASSES,
        timeline=timeline,
        out_video=out_video,
        on_window=seen.append,
        short_side=48,  # frames kept as decoded (by default scaled to the pipeline's 32 px)
    )
    # 144 frames at 12 fps, windows of 24 frames every 12: starts 0, 12, ..., 120.
    assert info == dict(fps=12.0, window=24, stride=12, num_frames=144, num_windows=11)
    data = json.loads(timeline.read_text())
    assert data["window"] == 24 and data["stride"] == 12 and data["windows"] == seen
    assert [w["start_frame"] for w in seen] == list(range(0, 121, 12))
    assert seen[1]["start_s"] == 1.0 and seen[1]["end_s"] == 3.0
    assert all(len(w["top_k"]) == 3 and 0 <= w["top_k"][0]["score"] <= 1 for w in seen)
    # A window's scores are those of its frames run as one short video.
    with av.open(str(long_video)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    alone = inference_recognizer(model, frames[12:36], labels=CLASSES, top_k=3)
    assert [t["label"] for t in seen[1]["top_k"]] == [n for n, _ in alone]
    np.testing.assert_allclose(
        [t["score"] for t in seen[1]["top_k"]], [s for _, s in alone], atol=1e-6
    )  # scores are written rounded to 6 decimals
    # The MP4: every frame, the label box from the first finished window on.
    with av.open(str(out_video)) as container:
        stream = container.streams.video[0]
        drawn = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        assert float(stream.average_rate) == 12.0
    assert drawn.shape == frames.shape
    box = (slice(4, 13), slice(4, 40))  # the label's box: 7 px glyphs + 1 px margins at (4, 4)
    assert np.abs(drawn[22][box].astype(int) - frames[22][box]).mean() < 8  # no label yet
    assert np.abs(drawn[23][box].astype(int) - frames[23][box]).mean() > 40  # drawn from 23 on


def test_frames_are_scaled_only_before_a_first_resize_to_a_size(model):
    from vidlab.long_video import _short_side_of

    assert _short_side_of(model.cfg.test_pipeline) == 32  # Resize(scale=(-1, 32))
    assert _short_side_of([dict(type="DecordInit"), dict(type="Resize", scale=(340, 256))]) == 256
    assert _short_side_of([dict(type="VideoInit"), dict(type="CenterCrop", crop_size=8)]) is None
    assert _short_side_of([dict(type="VideoInit"), dict(type="Resize", scale=0.5)]) is None
    crop_first = [dict(type="CenterCrop", crop_size=8), dict(type="Resize", scale=(-1, 8))]
    assert _short_side_of(crop_first) is None


def test_no_resize_in_the_pipeline_keeps_frames_as_decoded(model, long_video):
    """A test pipeline without ``Resize`` sees the frames as decoded (48 px here), not scaled to
    256 px first: its ``CenterCrop`` must cut the same pixels as on the video itself."""
    import copy

    import av

    bare = copy.copy(model)  # the same weights, another config
    bare.cfg = copy.deepcopy(model.cfg)
    pipeline = bare.cfg.test_dataloader.dataset.pipeline
    pipeline[:] = [s for s in pipeline if s["type"] != "Resize"]  # CenterCrop 32 of 48 px
    seen = []
    sliding_window(bare, long_video, window=24, stride=24, top_k=6, on_window=seen.append)
    with av.open(str(long_video)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert frames.shape[1:3] == (48, 48) and len(seen) == 6
    for entry in seen[:2]:
        start = entry["start_frame"]
        alone = inference_recognizer(bare, frames[start : start + 24], top_k=6)
        got = {t["label"]: t["score"] for t in entry["top_k"]}
        np.testing.assert_allclose([got[n] for n, _ in alone], [s for _, s in alone], atol=1e-6)


def test_stream_from_a_pipe(model, long_video, tmp_path):
    """A stream that cannot seek or be probed ahead: MPEG-TS through a named pipe."""
    import av

    from vidlab.data.synthetic import write_video

    with av.open(str(long_video)) as container:
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    ts = tmp_path / "stream.ts"
    write_video(ts, frames[:60], fps=12)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as pipe:
            pipe.write(ts.read_bytes())

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    info = sliding_window(model, fifo, window=24, stride=12, labels=CLASSES, max_frames=50)
    feeder.join(timeout=10)
    assert info["num_frames"] == 50 and info["num_windows"] == 3  # ends 23, 35, 47


def test_bitmap_text():
    mask = text_mask("A1", scale=2)
    assert mask.shape == (14, 24) and mask.any()
    assert not mask[:, 10:12].any()  # the space between glyphs
    assert (text_mask("a") == text_mask("A")).all() and (text_mask("~") == text_mask("?")).all()
    frame = np.full((20, 30, 3), 128, np.uint8)
    draw_text(frame, "OK 0.97", xy=(2, 2), scale=1)
    assert (frame[2:11, 2:30] == 0).any() and (frame[2:11, 2:30] == 255).any()
    assert (frame[12:] == 128).all()  # below the box: untouched
    draw_text(frame, "X", xy=(40, 40))  # outside: nothing, no error
