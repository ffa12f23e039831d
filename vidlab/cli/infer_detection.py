"""``vidlab infer --task detection CONFIG CKPT VIDEO --out annotated.mp4 [--json [FILE]]``: person
boxes and their actions over a video (`vidlab.detection_demo`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _cli_error(message: str):
    from vidlab.cli.errors import CLIError

    return CLIError(message)


def _label_names(cfg, labels) -> dict[int, str]:
    """``{score column: name}`` from a label map (``--labels`` or the config's ``label_file``),
    through the dataset's ``custom_classes`` (column j is ``custom_classes[j - 1]``)."""
    from vidlab.detection_demo import read_label_map

    path = labels or cfg.get("label_file")
    if not path:
        return {}
    if not labels and not Path(path).is_file():  # e.g. the quickstart config before its data
        print(
            f"vidlab infer: the config's label_file {path} does not exist; actions are named "
            "by column (pass --labels, or use the config.py of the training's work dir)",
            file=sys.stderr,
        )
        return {}
    names = read_label_map(path)
    dataset = cfg.get("test_dataloader", {}).get("dataset", {})
    custom = dataset.get("custom_classes") if isinstance(dataset, dict) else None
    if custom:
        return {j + 1: names.get(int(c), f"action_{c}") for j, c in enumerate(custom)}
    return names


def _persons(args):
    from vidlab.detection_demo import ProposalFile

    if args.proposals and args.detector:
        raise _cli_error("give --proposals or --detector, not both")
    if args.proposals:
        if not Path(args.proposals).is_file():
            raise _cli_error(f"--proposals {args.proposals}: no such file")
        return ProposalFile(args.proposals, score_thr=args.person_thr)
    if args.detector:
        from vidlab.data.skeleton.extract import OnnxDetector  # vidlab data detect-persons'

        if not Path(args.detector).is_file():
            raise _cli_error(f"--detector {args.detector}: no such file")
        detector = OnnxDetector(args.detector, score_thr=args.person_thr)

        def persons(video_id, timestamp, frame):
            boxes, scores = detector(frame)  # pixels of the frame, best first
            h, w = frame.shape[:2]
            norm = boxes.reshape(-1, 4) / np.array([w, h, w, h], np.float32)
            return np.concatenate([norm, scores.reshape(-1, 1)], axis=1)

        return persons
    raise _cli_error(
        "detection needs person boxes: --proposals file.pkl (MMAction2's proposal pickle, "
        "keys 'video_id,timestamp') or --detector det.onnx"
    )


def cmd_infer_detection(args) -> int:
    """Run the detection demo on one video; print one line per keyframe."""
    from vidlab.cli.main import _load
    from vidlab.detection_demo import detect_video
    from vidlab.inference import init_recognizer

    if len(args.inputs) != 1 or args.source is not None or args.window:
        raise _cli_error("--task detection runs on one video file: give one VIDEO")
    if not Path(args.inputs[0]).is_file():
        raise _cli_error(f"{args.inputs[0]}: no such video file")
    persons = _persons(args)  # before the model loads: option mistakes first
    cfg = _load(args)
    names = _label_names(cfg, args.labels)
    model = init_recognizer(cfg, args.checkpoint, args.device)
    to_stdout = args.json == "-"

    def show(entry):
        if to_stdout:
            return
        acts = "; ".join(
            ", ".join(f"{a['label']} {a['score']:.2f}" for a in p["actions"]) or "-"
            for p in entry["persons"]
        )
        print(f"{entry['time_s']:8.2f}s  {len(entry['persons'])} person(s)  {acts}", flush=True)

    json_path = args.json if args.json and not to_stdout else None
    if to_stdout:
        import tempfile

        json_path = tempfile.NamedTemporaryFile(suffix=".json", delete=False).name
    info = detect_video(
        model,
        args.inputs[0],
        persons,
        out_video=args.out,
        json_out=json_path,
        labels=names,
        stride=args.stride,
        short_side=args.short_side,
        score_thr=args.score_thr,
        top_k=args.top_k,
        video_id=args.video_id,
        timestamp_start=args.timestamp_start,
        max_frames=args.max_frames,
        on_keyframe=show,
    )
    if to_stdout:
        text = Path(json_path).read_text()
        Path(json_path).unlink()
        sys.stdout.write(json.dumps(json.loads(text)) + "\n")
    print(
        f"{info['num_frames']} frames at {info['fps']:.2f} fps, {info['num_keyframes']} keyframes "
        f"(clips of {info['clip_len']}x{info['frame_interval']})"
        + (f"; video {args.out}" if args.out else "")
        + (f"; json {args.json}" if args.json and not to_stdout else ""),
        file=sys.stderr,
    )
    return 0


def add_arguments(p) -> None:
    """The ``--task detection`` options of ``vidlab infer``."""
    g = p.add_argument_group("spatio-temporal detection (--task detection)")
    g.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the keyframes' boxes and actions as JSON here (no FILE: to stdout)",
    )
    g.add_argument("--proposals", help="person boxes: MMAction2's proposal pickle")
    g.add_argument(
        "--detector",
        help="person boxes: an ONNX person detector run on each keyframe (the signature of "
        "'vidlab data detect-persons': RTMDet/YOLOX exports, COCO person class 0)",
    )
    g.add_argument("--person-thr", type=float, default=0.9, help="person box score threshold")
    g.add_argument("--score-thr", type=float, default=0.5, help="actions below are not drawn")
    g.add_argument("--keyframe-stride", dest="stride", type=int, help="frames between keyframes")
    g.add_argument("--video-id", help="the proposals' video id (default: the file's stem)")
    g.add_argument("--timestamp-start", type=int, default=0, help="timestamp of frame 1 (AVA: 900)")
