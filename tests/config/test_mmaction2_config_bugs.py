"""The two MMAction2 1.2.0 recognition configs that MMAction2 itself cannot run get one line
each that names the key and what would work (issue 9, configs as they are)."""

from vidlab.config import Config, find_problems

_FILE_CLIENT_ARGS = dict(io_backend="disk")


def test_io_backend_on_a_decode_step_points_at_the_init_step():
    # tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_kinetics400-rgb.py's val_pipeline
    pipeline = [
        dict(type="DecordInit", **_FILE_CLIENT_ARGS),
        dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=16, test_mode=True),
        dict(type="DecordDecode", **_FILE_CLIENT_ARGS),
        dict(type="FormatShape", input_format="NCHW"),
    ]
    problems = find_problems(Config(val_pipeline=pipeline))
    assert len(problems) == 1 and "\n" not in problems[0], problems
    assert problems[0].startswith(
        "<config>: val_pipeline[2]: DecordDecode got an unexpected keyword"
    )
    assert "'io_backend': it is an argument of DecordInit" in problems[0]
    assert "remove it here" in problems[0]


def test_an_unrelated_unexpected_keyword_keeps_its_plain_message():
    problems = find_problems(Config(p=[dict(type="DecordDecode", colour=1)]))
    assert len(problems) == 1 and "DecordInit" not in problems[0], problems
    assert "(it takes: mode, short_side)" in problems[0]


def test_dataset_arguments_on_a_loader_are_one_line_naming_where_they_go():
    # tsm_imagenet-pretrained-r50_8xb16-1x1x16-50e_sthv2-rgb.py
    loader = dict(batch_size=1, dataset=dict(type="VideoDataset", ann_file="a.txt", pipeline=[]))
    cfg = Config(test_dataloader=dict(loader, pipeline=[], test_mode=True))
    problems = find_problems(cfg)
    assert problems == [
        "<config>: test_dataloader: 'pipeline', 'test_mode' are dataset arguments, not the loader's: move "
        "them into test_dataloader.dataset (MMAction2 1.2.0 stops here too: torch's DataLoader "
        "rejects 'pipeline')"
    ]
    # other unknown loader keys keep their "did you mean"
    problems = find_problems(Config(test_dataloader=dict(loader, num_worker=2)))
    assert len(problems) == 1 and "did you mean 'num_workers'" in problems[0], problems
