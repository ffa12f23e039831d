"""The bad-input matrix: each broken source through probe, read_frames and the datasets.

Every failure names the file (and, from a dataset, the annotation ``file:line``); with
``on_error='skip'`` the sample is skipped and reported, never replaced; nothing hangs.
"""

import concurrent.futures
import warnings

import av
import numpy as np
import pytest

from vidlab.data.datasets import RawframeDataset, Skipped, VideoDataset, collate_skip_none
from vidlab.data.io import DecodeError, probe, read_frames
from vidlab.data.io.frames import ImageEncoder

TIMEOUT = 30  # seconds: a decode that stops making progress must fail well before this
VIDEO_PIPE = [
    dict(type="VideoInit"),
    dict(type="SampleFrames", clip_len=2, frame_interval=1, num_clips=1, test_mode=True),
    dict(type="VideoDecode"),
    dict(type="FormatShape", input_format="NCTHW"),
]
FRAME_PIPE = [
    dict(type="SampleFrames", clip_len=2, frame_interval=1, num_clips=1, test_mode=True),
    dict(type="RawFrameDecode"),
    dict(type="FormatShape", input_format="NCTHW"),
]


def bounded(fn, *args):
    """fn(*args) in a thread; fails the test if it does not return within TIMEOUT."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(fn, *args).result(timeout=TIMEOUT)
    finally:
        pool.shutdown(wait=False)


def write_mp4(path, n=30):
    with av.open(str(path), "w") as c:  # the index (moov) at the end, as most writers do
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
        s.options = {"g": "10"}
        rng = np.random.default_rng(0)
        for _ in range(n):
            img = rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def write_frames(folder, numbers):
    folder.mkdir()
    enc = ImageEncoder(".png")
    for k in numbers:
        (folder / f"img_{k:05d}.png").write_bytes(enc.encode(np.full((16, 16, 3), k, np.uint8)))
    return folder


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    good = write_mp4(root / "good.mp4")
    (root / "zero.mp4").write_bytes(b"")
    data = good.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: int(len(data) * 0.6)])
    (root / "noise.mp4").write_bytes(np.random.default_rng(2).bytes(5000))
    (root / "text.mp4").write_text("not a video at all\n" * 40)
    write_frames(root / "gap", [1, 2, 3, 5, 6])
    write_frames(root / "ok", [1, 2, 3])
    (root / "empty_dir").mkdir()
    return root


VIDEO_CASES = ["zero.mp4", "truncated.mp4", "noise.mp4", "text.mp4", "missing.mp4"]
FOLDER_CASES = ["empty_dir", "missing_dir"]


def message(e: BaseException) -> str:
    return "\n".join([str(e), *getattr(e, "__notes__", [])])


@pytest.mark.parametrize("name", VIDEO_CASES + FOLDER_CASES)
def test_probe_and_read_name_the_file(bad, name):
    path = bad / name
    for fn in (lambda: probe(path), lambda: read_frames(path, [0, 1])):
        with pytest.raises(DecodeError) as e:
            bounded(fn)
        assert str(path) in message(e.value) and e.value.path == str(path)


def test_gap_folder_probes_with_an_issue_and_reads_fail_across_it(bad):
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        info = probe(bad / "gap")
        assert info.num_frames == 3 and any("4" in i for i in info.issues)
        with pytest.raises(DecodeError, match=r"gap: frame files missing for numbers 4"):
            bounded(read_frames, bad / "gap", [0, 3])


def lists(bad, tmp_path, kind, name):
    if kind == "video":
        ann = tmp_path / "videos.txt"
        ann.write_text(f"good.mp4 0\n{name} 1\n")
        return VideoDataset, str(ann), VIDEO_PIPE
    ann = tmp_path / "frames.txt"
    ann.write_text(f"ok 3 0\n{name} 5 1\n")  # issue 8: a folder with a gap is an error now
    return RawframeDataset, str(ann), FRAME_PIPE


CASES = [("video", n) for n in VIDEO_CASES] + [("frames", n) for n in FOLDER_CASES]


@pytest.mark.parametrize("kind, name", CASES)
def test_dataset_raise_names_file_and_line(bad, tmp_path, kind, name):
    cls, ann, pipe = lists(bad, tmp_path, kind, name)
    ds = cls(ann, pipe, data_prefix=str(bad))
    # no PackActionInputs: the results dict (issue 15), packed by the loader's collate
    assert collate_skip_none([bounded(ds.__getitem__, 0)])["clips"].shape[:2] == (1, 1)
    with pytest.raises((DecodeError, FileNotFoundError)) as e:
        bounded(ds.__getitem__, 1)
    text = message(e.value)
    assert str(bad / name) in text and f"{ann}:2" in text


@pytest.mark.parametrize("kind, name", CASES)
def test_dataset_skip_reports_and_never_replaces(bad, tmp_path, kind, name):
    cls, ann, pipe = lists(bad, tmp_path, kind, name)
    ds = cls(ann, pipe, data_prefix=str(bad), on_error="skip")
    item = bounded(ds.__getitem__, 1)
    assert isinstance(item, Skipped) and item.index == 1
    assert item.path == str(bad / name) and item.where == f"{ann}:2"
    assert ds.bad_samples == {str(bad / name): item.reason}
    assert bounded(ds.__getitem__, 0)["index"] == 0


def test_gap_folder_in_a_dataset_is_an_error_or_skipped(bad, tmp_path):
    # issue 8: the clip used the contiguous run 1-3 of the 5 listed frames with a warning only
    ann = tmp_path / "l.txt"
    ann.write_text("gap 5 0\n")
    pipe = FRAME_PIPE + [dict(type="PackActionInputs")]
    ds = RawframeDataset(str(ann), pipe, data_prefix=str(bad))
    with pytest.raises(DecodeError, match=r"gap: frame files missing for numbers 4 ") as e:
        ds[0]
    assert f"{ann}:1" in message(e.value)
    ds = RawframeDataset(str(ann), pipe, data_prefix=str(bad), on_error="skip")
    item = ds[0]
    assert isinstance(item, Skipped) and "missing for numbers 4" in item.reason
