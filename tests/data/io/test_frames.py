"""Frame folders: template and start index read off the files; PNG folders read back exactly."""

from __future__ import annotations

import numpy as np
import pytest
from videogen import frame_id, pattern, write_images

from vidlab.data.io import DecodeError, open_video, probe, read_frames
from vidlab.data.io.frames import scan_flow_folder, scan_folder


@pytest.mark.parametrize(
    "tmpl, start",
    [
        ("img_{:05d}.jpg", 1),  # MMAction2's rawframes
        ("{:05d}.png", 0),
        ("frame_{:06d}.jpg", 1),
        ("image_{:d}.png", 1),  # unpadded
        ("{:d}.jpg", 0),
    ],
)
def test_template_and_start_index_detected(tmp_path, tmpl, start):
    folder = write_images(tmp_path / "v", range(start, start + 12), tmpl=tmpl)
    layout = scan_folder(folder)
    assert layout.filename_tmpl == tmpl and layout.start_index == start
    info = probe(folder)
    assert (info.num_frames, info.start_index, info.width, info.height) == (12, start, 64, 48)
    assert info.fps is None and info.issues == ()
    got = read_frames(folder, [0, 11, 5, 5])  # indices are 0-based whatever the numbering
    assert [frame_id(f) for f in got] == [start, start + 11, start + 5, start + 5]


def test_png_folder_reads_back_exactly(tmp_path):
    folder = write_images(tmp_path / "png", range(0, 8), tmpl="{:05d}.png")
    with open_video(folder) as reader:
        got = reader.read([7, 0, 3])
    np.testing.assert_array_equal(got, np.stack([pattern(7), pattern(0), pattern(3)]))


def test_jpeg_quality_and_short_side(tmp_path):
    folder = write_images(tmp_path / "jpg", range(1, 5), quality=20)
    got = read_frames(folder, [0, 3], short_side=24)
    assert got.shape == (2, 24, 32, 3)
    assert [frame_id(f) for f in got] == [1, 4]


def test_flow_folder_prefers_rgb_series(tmp_path):
    folder = tmp_path / "flow"
    write_images(folder, range(1, 6), tmpl="x_{:05d}.jpg")
    write_images(folder, range(1, 6), tmpl="y_{:05d}.jpg")
    write_images(folder, range(1, 9), tmpl="img_{:05d}.jpg")
    assert scan_folder(folder).filename_tmpl == "img_{:05d}.jpg"
    assert probe(folder).num_frames == 8
    x = open_video(folder, filename_tmpl="x_{:05d}.jpg")
    assert x.info.num_frames == 5
    with pytest.raises(DecodeError, match=r"no images named like 'u_\{:05d\}.jpg'.*img_<n>.jpg"):
        open_video(folder, filename_tmpl="u_{:05d}.jpg")


def test_backend_argument_does_not_matter_for_folders(tmp_path):
    folder = write_images(tmp_path / "v", range(1, 4))
    for backend in ("auto", "pyav", "frames"):
        assert read_frames(folder, [2], backend=backend).shape == (1, 48, 64, 3)


def test_damaged_image(tmp_path):
    folder = write_images(tmp_path / "bad", range(1, 4))
    (folder / "img_00002.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(DecodeError, match=r"img_00002.jpg: cannot decode the image"):
        read_frames(folder, [0, 1])
    (folder / "img_00003.jpg").write_bytes(b"")
    with pytest.raises(DecodeError, match=r"img_00003.jpg: the image file is empty"):
        read_frames(folder, [2])


def test_flow_pairs_keep_numbers_present_in_both(tmp_path):
    folder = tmp_path / "denseflow"
    write_images(folder, range(1, 7), tmpl="flow_x_{:05d}.png")
    write_images(folder, range(1, 6), tmpl="flow_y_{:05d}.png")  # y_00006 missing
    write_images(folder, range(1, 9), tmpl="img_{:05d}.png")
    x, y = scan_flow_folder(folder)
    assert (x.filename_tmpl, y.filename_tmpl) == ("flow_x_{:05d}.png", "flow_y_{:05d}.png")
    assert x.num_frames == y.num_frames == 5
    with open_video(folder, modality="Flow", filename_tmpl="flow_{}_{:05d}.png") as reader:
        assert reader.info.num_frames == 5 and reader.info.start_index == 1
        got = reader.read([4, 0])
    assert got.shape == (2, 48, 64, 2) and got.dtype == np.uint8
    # each channel is the gray (luma) picture of its file
    gray = np.stack([pattern(5), pattern(1)]).astype(np.float32) @ [0.299, 0.587, 0.114]
    assert np.abs(got[..., 0] - gray).mean() < 2 and np.abs(got[..., 1] - gray).mean() < 2


def test_flow_errors_name_the_folder(tmp_path):
    folder = write_images(tmp_path / "rgb_only", range(1, 4))
    with pytest.raises(DecodeError, match=r"rgb_only: no x/y optical-flow image pairs"):
        open_video(folder, modality="Flow")
    both = tmp_path / "xy"
    write_images(both, range(1, 3), tmpl="x_{:05d}.jpg")
    write_images(both, range(1, 3), tmpl="y_{:05d}.jpg")
    with pytest.raises(DecodeError, match=r"named like 'u_\{\}_\{:05d\}.jpg'"):
        open_video(both, modality="Flow", filename_tmpl="u_{}_{:05d}.jpg")
    with pytest.raises(ValueError, match="modality='Depth'"):
        open_video(both, modality="Depth")


def test_scans_are_remembered_until_the_folder_changes(tmp_path):
    """An AVA movie's 27000-frame folder is opened for each keyframe: its scan is kept while
    the folder's mtime stays (and the folder is older than a second)."""
    import os
    import shutil

    from vidlab.data.io import frames

    folder = tmp_path / "f"
    folder.mkdir()
    for i in (1, 2, 3):
        (folder / f"img_{i:05d}.jpg").write_bytes(b"x")
    old = 1_000_000_000
    os.utime(folder, (old, old))
    first = scan_folder(folder)
    assert scan_folder(folder) is first  # remembered
    shutil.copy(folder / "img_00001.jpg", folder / "img_00004.jpg")  # the mtime moves on
    assert sorted(scan_folder(folder).files) == [1, 2, 3, 4]
    (folder / "img_00004.jpg").unlink()  # changed just now: scanned, not remembered
    assert sorted(scan_folder(folder).files) == [1, 2, 3]
    assert frames._SCANS[(str(folder), None)][0] == old * 10**9  # only the old scan is kept
