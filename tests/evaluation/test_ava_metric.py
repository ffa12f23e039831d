"""AVAMetric: frame mAP equal to MMAction2's ``ava_eval`` (fixture made by
tools/parity/make_ava_eval_fixtures.py with MMAction2 itself), its result csv, and cases by hand."""

import hashlib
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlab.config import build, load_config
from vidlab.evaluation.ava import AVAMetric, read_ava_boxes

FIXTURE = Path(__file__).parents[1] / "fixtures" / "detection" / "ava_eval.pt"


@pytest.fixture(scope="module")
def fixture():
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope="module")
def files(fixture, tmp_path_factory):
    root = tmp_path_factory.mktemp("ava")
    inputs = fixture["inputs"]["untied"]  # the ground truth of both variants is one
    assert all(inputs[k] == fixture["inputs"]["tied"][k] for k in ("labelmap", "gt_csv"))
    out = {}
    for name, key in (
        ("label_file", "labelmap"),
        ("ann_file", "gt_csv"),
        ("exclude_file", "exclude_csv"),
    ):
        out[name] = str(root / key)
        Path(out[name]).write_text(inputs[key])
    return out


def ties_as_in_fixture(probes) -> bool:
    """Whether NumPy here orders tied values as where the fixture was made (np.argsort is not
    stable; its order of ties depends on the CPU's sort kernel)."""
    return all(np.array_equal(np.argsort(p["values"].numpy()), p["order"].numpy()) for p in probes)


def _results(fixture, case, num_classes):
    return [
        dict(
            video_id=r["video_id"],
            timestamp=r["timestamp"],
            img_key=f"{r['video_id']},{r['timestamp']:04d}",
            bboxes=r["bboxes"],  # float32 CPU tensors, as DetectionTask.predict gives them
            scores=r["scores"][:, :num_classes],
        )
        for r in fixture["inputs"][fixture["cases"][case]["inputs"]]["results"]
    ]


CASES = [
    "default",
    "custom_classes",
    "single_label",
    "no_exclusions",
    "movement_only",
    "tied_default",
    "tied_single_label",
]


def _compute(fixture, files, case, **extra):
    kwargs = dict(files, **fixture["cases"][case]["kwargs"])
    metric = AVAMetric(**kwargs, **extra)
    return metric, metric.compute(_results(fixture, case, kwargs.get("num_classes", 81)))


@pytest.mark.parametrize("case", CASES)
def test_equals_mmaction2(fixture, files, tmp_path, case):
    """Scores tied at 4 decimals rank in np.argsort's order, as in MMAction2: the tied cases
    hold where NumPy orders ties as on the machine that made the fixture."""
    if case.startswith("tied") and not ties_as_in_fixture(fixture["argsort_probes"]):
        pytest.skip("NumPy here orders tied scores unlike the fixture's machine (MMAction2 too)")
    expected = fixture["cases"][case]
    out_file = tmp_path / "results.csv"
    metric, got = _compute(fixture, files, case, out_file=str(out_file))
    assert sorted(got) == sorted(f"mAP/{k}" for k in expected["metrics"])
    for key, want in expected["metrics"].items():
        value = got[f"mAP/{key}"]
        if math.isnan(want):
            assert math.isnan(value), key
        else:
            assert abs(value - want) <= 1e-9, (key, value, want)
    text = out_file.read_text()
    if expected["results_csv"] is not None:
        assert text == expected["results_csv"]
    assert hashlib.sha256(text.encode()).hexdigest() == expected["results_csv_sha256"]
    assert metric.class_ap and all(k in metric.class_names for k in metric.class_ap)


def test_untied_cases_do_not_depend_on_the_sort(fixture, files, monkeypatch):
    """The untied inputs have no tied scores: a stable sort gives the same numbers (while the
    tied inputs change: their ties matter)."""
    argsort = np.argsort
    monkeypatch.setattr(np, "argsort", lambda a, *args, **kw: argsort(a, kind="stable"))
    for case in ("default", "single_label", "no_exclusions"):
        got = _compute(fixture, files, case)[1]
        assert got["mAP/overall"] == fixture["cases"][case]["metrics"]["overall"], case
    got = _compute(fixture, files, "tied_default")[1]
    assert got["mAP/overall"] != fixture["cases"]["tied_default"]["metrics"]["overall"]


def test_builds_from_mmaction2_config_node(files):
    metric = build(dict(type="AVAMetric", **files))
    assert isinstance(metric, AVAMetric) and metric.prefix == "mAP"


def _write(tmp_path, gt_rows, label_ids=(1, 20, 70)):
    pbtxt = "".join(f'item {{\n  name: "a{i}"\n  id: {i}\n}}\n' for i in label_ids)
    (tmp_path / "map.pbtxt").write_text(pbtxt)
    (tmp_path / "gt.csv").write_text("".join(r + "\n" for r in gt_rows))
    (tmp_path / "ex.csv").write_text("v,0903\n")
    return dict(
        ann_file=str(tmp_path / "gt.csv"),
        label_file=str(tmp_path / "map.pbtxt"),
        exclude_file=str(tmp_path / "ex.csv"),
    )


def _scores(k, num_classes=81, **cols):
    s = np.zeros((k, num_classes), np.float32)
    for col, values in cols.items():
        s[:, int(col[1:])] = values
    return s


def test_by_hand(tmp_path):
    files = _write(
        tmp_path,
        [
            "v,0902,0.1,0.1,0.5,0.5,1,0",
            "v,0902,0.6,0.6,0.9,0.9,1,1",
            "v,0902,0.6,0.6,0.9,0.9,70,1",
            "v,0903,0.1,0.1,0.5,0.5,1,0",  # excluded frame: still counts as a positive
            "v,0902,0.1,0.1,0.5,0.5,2,0",  # not in the label map: ignored
        ],
    )
    results = [
        dict(
            video_id="v",
            timestamp=902,
            # box 0 hits gt 0; box 1 duplicates it (false positive); box 2 misses
            bboxes=np.array([[0.1, 0.1, 0.5, 0.5], [0.12, 0.1, 0.5, 0.5], [0.0, 0.6, 0.1, 0.9]]),
            scores=_scores(3, c1=[0.9, 0.8, 0.7], c70=[0.0, 0.0, 0.6], c20=[0.5, 0.0, 0.0]),
        ),
        dict(video_id="w", timestamp=902, bboxes=np.zeros((0, 4)), scores=np.zeros((0, 81))),
    ]
    got = AVAMetric(**files).compute(results)
    # class 1: TP, FP, FP of 3 positives -> AP = 1/3; class 70: FP of 1 -> 0;
    # class 20: a detection but no ground truth -> NaN, left out of the means
    assert got["mAP/person_movement"] == pytest.approx(1 / 3)
    assert got["mAP/person_interaction"] == 0.0
    assert math.isnan(got["mAP/object_manipulation"])
    assert got["mAP/overall"] == pytest.approx(1 / 6)


def test_bad_row_names_file_and_line(tmp_path):
    files = _write(tmp_path, ["v,0902,0.1,0.1,0.5,0.5,1,0", "v,0902,0.1,0.1"])
    with pytest.raises(ValueError, match=r"gt\.csv:2: expected 7 or 8 columns"):
        read_ava_boxes(files["ann_file"])


def test_rejects_unknown_custom_classes_and_options(tmp_path):
    files = _write(tmp_path, ["v,0902,0.1,0.1,0.5,0.5,1,0"])
    with pytest.raises(ValueError, match=r"custom_classes \[5\]"):
        AVAMetric(**files, custom_classes=[1, 5], num_classes=3).compute([])
    with pytest.raises(ValueError, match="only"):
        AVAMetric(**files, options=("recall",))


def test_csv_rounding_is_the_text_round_trip():
    from vidlab.evaluation.ava import _csv_round

    rng = np.random.default_rng(0)
    values = np.concatenate(
        [rng.random(20000), np.arange(4097) / 4096, [0.00005, 0.00015, 0.99995, -0.00004]]
    ).astype(np.float32)
    text = np.array([float(f"{v:.4f}") for v in values.tolist()])
    np.testing.assert_array_equal(_csv_round(values), text)


DETECTION_CONFIGS = Path(
    os.path.expanduser(
        "~/.cache/mmaction2-ref/venv/lib/python3.11/site-packages/mmaction/.mim/configs/detection"
    )
)


@pytest.mark.skipif(not DETECTION_CONFIGS.is_dir(), reason="MMAction2 reference configs absent")
def test_every_mmaction2_detection_evaluator_builds(files):
    """The evaluators of MMAction2's detection configs, unmodified (MultiSports' reads its
    ground-truth pickle when built, as MMAction2's: given the fixture's)."""
    from vidlab.evaluation.multisports import MultiSportsMetric

    gt = Path(__file__).parents[1] / "fixtures" / "detection" / "multisports_eval.pt"
    ms_file = Path(files["ann_file"]).parent / "multisports_GT.pkl"
    ms_file.write_bytes(torch.load(gt, weights_only=True)["gt_pickle"])
    configs = sorted(DETECTION_CONFIGS.rglob("*.py"))
    built = []
    for path in configs:
        cfg = load_config(str(path))
        for key in ("val_evaluator", "test_evaluator"):
            node = cfg.get(key)
            if node is None:
                continue
            if node["type"] == "MultiSportsMetric":
                node = dict(node, ann_file=str(ms_file))
            built.append(build(node))
    assert len(configs) == 30
    assert {type(m) for m in built} == {AVAMetric, MultiSportsMetric}
