"""Frame folders whose numbers disagree with the annotation (issue 8, section 4).

An explicit ``start_index`` on the dataset is honoured as in MMAction2 (the clip starts at that
file number) or is an error when the files contradict it; left out, it is read off the files.
A folder with numbers missing inside the frames a clip would use is an error naming the folder
and the numbers; with ``on_error='skip'`` it is skipped and listed.
"""

import numpy as np
import pytest

from vidlab.data.datasets import RawframeDataset, Skipped, VideoDataset
from vidlab.data.io import DecodeError
from vidlab.data.io.frames import ImageEncoder

PIPE = [
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=4, test_mode=True),
    dict(type="RawFrameDecode"),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]


def write_frames(folder, numbers):
    """PNG files img_<n>.png whose every pixel is the level n."""
    folder.mkdir(parents=True)
    enc = ImageEncoder(".png")
    for k in numbers:
        (folder / f"img_{k:05d}.png").write_bytes(enc.encode(np.full((16, 16, 3), k, np.uint8)))
    return folder


def levels(item) -> list[int]:
    return item["clips"][:, 0, :, 0, 0].flatten().tolist()  # (V, C, T, H, W): file k: level k


@pytest.fixture()
def zero_based(tmp_path):
    write_frames(tmp_path / "clip", range(0, 8))  # img_00000 .. img_00007
    ann = tmp_path / "list.txt"
    ann.write_text("clip 8 0\n")
    return tmp_path, ann


def test_start_index_left_out_is_read_off_the_files(zero_based):
    root, ann = zero_based
    ds = RawframeDataset(str(ann), PIPE, data_prefix=str(root))
    assert levels(ds[0]) == [1, 3, 5, 7]  # 8 frames from file 0: centres of 4 segments


def test_explicit_start_index_is_honoured(zero_based):
    root, ann = zero_based
    ann.write_text("clip 4 0\n")
    ds = RawframeDataset(str(ann), PIPE, data_prefix=str(root), start_index=4)
    assert levels(ds[0]) == [4, 5, 6, 7]  # files 4..7, as MMAction2 reads them


def test_explicit_start_index_below_the_files_is_an_error(tmp_path):
    write_frames(tmp_path / "clip", range(1, 9))
    ann = tmp_path / "list.txt"
    ann.write_text("clip 8 0\n")
    ds = RawframeDataset(str(ann), PIPE, data_prefix=str(tmp_path), start_index=0)
    with pytest.raises(DecodeError, match=r"start_index=0 .*first frame file is number 1 "):
        ds[0]


def test_explicit_start_index_on_a_video_list_is_honoured():
    arr = np.arange(10, dtype=np.uint8)[:, None, None, None].repeat(8, 1).repeat(8, 2)
    arr = np.ascontiguousarray(arr.repeat(3, 3))  # (T, H, W, 3): frame t has level t

    class Arrays(VideoDataset):
        def get_data_info(self, idx):
            info = super().get_data_info(idx)
            info["array"] = arr
            return info

        def _check_exists(self, rec):
            pass

    pipe = [dict(type="VideoInit"), *PIPE[:1], dict(type="VideoDecode"), *PIPE[2:]]
    ann_dir = pytest.importorskip("tempfile").mkdtemp()
    ann = f"{ann_dir}/v.txt"
    with open(ann, "w") as f:
        f.write("a.mp4 0\n")
    assert levels(Arrays(ann, pipe)[0]) == [1, 3, 6, 8]
    assert levels(Arrays(ann, pipe, start_index=2)[0]) == [3, 5, 7, 9]  # 8 frames from 2


def test_gap_inside_the_clip_is_an_error_that_names_the_numbers(tmp_path):
    write_frames(tmp_path / "gappy", [1, 2, 3, 4, 7, 8, 9, 12])
    ann = tmp_path / "list.txt"
    ann.write_text("gappy 12 3\n")
    ds = RawframeDataset(str(ann), PIPE, data_prefix=str(tmp_path))
    with pytest.raises(DecodeError, match=r"gappy: frame files missing for numbers 5-6, 10-11 "):
        ds[0]
    skipping = RawframeDataset(str(ann), PIPE, data_prefix=str(tmp_path), on_error="skip")
    item = skipping[0]
    assert isinstance(item, Skipped) and "5-6, 10-11" in item.reason


def test_gap_outside_an_offset_clip_is_fine(tmp_path):
    write_frames(tmp_path / "long", [1, 2, 3, 4, 5, 6, 9, 10])
    ann = tmp_path / "list.txt"
    ann.write_text("long 1 4 0\n")  # offset 1, 4 frames: files 2..5
    ds = RawframeDataset(str(ann), PIPE, data_prefix=str(tmp_path), with_offset=True)
    assert levels(ds[0]) == [2, 3, 4, 5]


def test_offset_clip_after_a_gap_is_fine(tmp_path):
    write_frames(tmp_path / "long", [1, 2, 3, 4, 5, 6, 9, 10, 11, 12])
    ann = tmp_path / "list.txt"
    ann.write_text("long 8 4 0\nlong 4 4 0\n")  # files 9..12 (fine); files 5..8 (7, 8 missing)
    ds = RawframeDataset(str(ann), PIPE, data_prefix=str(tmp_path), with_offset=True)
    assert levels(ds[0]) == [9, 10, 11, 12]
    with pytest.raises(DecodeError, match=r"missing for numbers 7-8 "):
        ds[1]
