"""MultiSportsMetric: frame and video mAP equal to MMAction2's (fixture made by
tools/parity/make_ava_eval_fixtures.py with MMAction2 itself), and pieces by hand."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import build
from vidlab.evaluation.multisports import MultiSportsMetric, frame_map, link_tubes

FIXTURE = Path(__file__).parents[1] / "fixtures" / "detection" / "multisports_eval.pt"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def gt_file(fixture, tmp_path_factory):
    path = tmp_path_factory.mktemp("multisports") / "multisports_GT.pkl"
    path.write_bytes(fixture["gt_pickle"])
    return str(path)


def ties_as_in_fixture(probes) -> bool:
    """Whether NumPy here orders tied values as where the fixture was made (np.argsort is not
    stable; its order of ties depends on the CPU's sort kernel)."""
    return all(np.array_equal(np.argsort(p["values"].numpy()), p["order"].numpy()) for p in probes)


def _results(fixture, case):
    return [
        dict(
            video_id=r["video_id"],
            timestamp=r["timestamp"],
            bboxes=r["bboxes"].numpy(),
            scores=r["scores"].numpy(),
        )
        for r in fixture["results"][fixture["cases"][case]["inputs"]]
    ]


def _compute(fixture, gt_file, case):
    metric = MultiSportsMetric(ann_file=gt_file, verbose=False, **fixture["cases"][case]["kwargs"])
    return metric, metric.compute(_results(fixture, case))


CASES = ["own_tube_scores", "own_tube_scores_defaults", "tied_default", "tied_other_thresholds"]


@pytest.mark.parametrize("case", CASES)
def test_equals_mmaction2(fixture, gt_file, case):
    """MMAction2's tube-score slip links boxes of equal scores, in np.argsort's order of ties:
    the tied cases hold where NumPy orders ties as on the machine that made the fixture."""
    if case.startswith("tied") and not ties_as_in_fixture(fixture["argsort_probes"]):
        pytest.skip("NumPy here orders tied scores unlike the fixture's machine (MMAction2 too)")
    expected = fixture["cases"][case]
    metric, got = _compute(fixture, gt_file, case)
    assert list(got) == [f"mAP/{k}" for k in expected["metrics"]]
    for key, want in expected["metrics"].items():
        assert abs(got[f"mAP/{key}"] - want) <= 1e-9, (key, got[f"mAP/{key}"], want)
    assert "basketball save" not in metric.class_ap["frameAP"]  # never evaluated


def test_untied_case_does_not_depend_on_the_sort(fixture, gt_file, monkeypatch):
    argsort = np.argsort
    monkeypatch.setattr(np, "argsort", lambda a, *args, **kw: argsort(a, kind="stable"))
    got = _compute(fixture, gt_file, "own_tube_scores")[1]
    want = fixture["cases"]["own_tube_scores"]["metrics"]
    assert got == {f"mAP/{k}": v for k, v in want.items()}


def test_builds_from_mmaction2_config_node(gt_file):
    metric = build(dict(type="MultiSportsMetric", ann_file=gt_file))
    assert isinstance(metric, MultiSportsMetric) and metric.prefix == "mAP"


def _annos(tubes, nframes=20):
    return dict(
        labels=["a", "b"],
        test_videos=[["v"]],
        nframes={"v": nframes},
        resolution={"v": (100, 200)},
        gttubes={"v": tubes},
    )


def _tube(first, last, box):
    frames = np.arange(first, last + 1, dtype=np.float32)
    return np.concatenate([frames[:, None], np.tile(np.float32(box), (len(frames), 1))], 1)


def test_frame_map_by_hand():
    annos = _annos({0: [_tube(1, 2, [0, 0, 10, 10])]})
    # [video, frame, label, score, box]: frame 1 hit, its duplicate, frame 2 miss; label 1: no gt
    dets = np.array(
        [
            [0, 1, 0, 0.9, 0, 0, 10, 10],
            [0, 1, 0, 0.8, 0, 0, 10, 10],
            [0, 2, 0, 0.7, 50, 50, 60, 60],
            [0, 2, 1, 0.6, 0, 0, 10, 10],
        ]
    )
    mean, per_class = frame_map(annos, dets, 0.5)
    assert per_class == {"a": pytest.approx(50.0)} and mean == pytest.approx(50.0)


def test_link_tubes_follows_a_moving_box():
    annos = _annos({0: [_tube(1, 20, [0, 0, 10, 10])]})
    rows = [[0, f, 0, 0.9, f * 0.5, 0, 10 + f * 0.5, 10] for f in range(1, 21)]
    rows += [[0, 5, 0, 0.8, 100, 100, 120, 120]]  # a lone box: a one-frame tube, too short
    tubes = link_tubes(annos, np.array(rows, dtype=np.float64), len_thre=15)
    assert len(tubes[0]) == 1 and tubes[1] == []
    video, score, tube = tubes[0][0]
    assert video == "v" and tube.shape == (20, 6) and tube.dtype == np.float32
    np.testing.assert_array_equal(tube[:, 0], np.arange(1, 21))


def test_bad_ground_truth_file(tmp_path):
    path = tmp_path / "gt.pkl"
    path.write_bytes(pickle.dumps({"labels": []}))
    with pytest.raises(ValueError, match="not MultiSports' ground truth"):
        MultiSportsMetric(ann_file=str(path))


def test_unknown_video_is_named(gt_file):
    metric = MultiSportsMetric(ann_file=gt_file, verbose=False)
    bad = [dict(video_id="nope.mp4", timestamp=1, bboxes=np.zeros((1, 4)), scores=np.ones((1, 8)))]
    with pytest.raises(ValueError, match="'nope' is not a test video"):
        metric.compute(bad)
