"""``vidlab data skeleton ...`` (converters to MMAction2's skeleton pickle, the synthetic
skeleton set) and ``vidlab pose extract``. Only argparse here: the work is imported when a
command runs."""

from __future__ import annotations

import sys

__all__ = ["add_pose_parser", "add_skeleton_parser"]


def _common(p) -> None:
    p.add_argument("--out", required=True, help="the pickle to write (.pkl)")
    p.add_argument("--labels", default=None, help="'sample_id label' lines (default: -1)")
    p.add_argument("--label", type=int, default=None, help="one label for every sample")
    p.add_argument("--split", default="all", help="name of the split listing the samples")
    p.add_argument("--max-persons", type=int, default=None, help="keep the N surest persons")


def add_skeleton_parser(data_subparsers) -> None:
    """Add ``skeleton`` and its subcommands to ``vidlab data``."""
    sk = data_subparsers.add_parser(
        "skeleton", help="keypoint files -> MMAction2 skeleton pickle (PoseDataset)"
    ).add_subparsers(dest="skeleton_command")
    sk.required = True
    p = sk.add_parser("mmpose", help="MMPose inference JSON files (one per video)")
    p.add_argument("files", nargs="+", help="JSON files")
    p.add_argument("--img-shape", type=int, nargs=2, default=(1080, 1920), metavar=("H", "W"))
    _common(p)
    p.set_defaults(func=cmd_skeleton, kind="mmpose")
    p = sk.add_parser("coco", help="COCO keypoint annotation files (PoseTrack: per video)")
    p.add_argument("files", nargs="+", help="JSON files")
    _common(p)
    p.set_defaults(func=cmd_skeleton, kind="coco")
    p = sk.add_parser("openpose", help="OpenPose per-frame JSON folders (one per video)")
    p.add_argument("folders", nargs="+", help="folders of *_keypoints.json")
    p.add_argument("--img-shape", type=int, nargs=2, default=(1080, 1920), metavar=("H", "W"))
    p.add_argument("--layout", default="openpose", choices=["openpose", "coco"])
    _common(p)
    p.set_defaults(func=cmd_skeleton, kind="openpose")
    p = sk.add_parser("synth", help="the synthetic COCO-17 skeleton set (8 actions)")
    p.add_argument("out", help="the pickle to write (.pkl)")
    p.add_argument("--num-train", type=int, default=32, help="training samples per class")
    p.add_argument("--num-val", type=int, default=8, help="validation samples per class")
    p.add_argument("--num-test", type=int, default=8, help="test samples per class")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_skeleton_synth)


def cmd_skeleton(args) -> int:
    from vidlab.data.skeleton import convert as cv

    labels = cv.read_labels(args.labels) if args.labels else {}
    default = -1 if args.label is None else args.label
    records = []
    try:
        if args.kind == "mmpose":
            for f in args.files:
                records.append(cv.convert_mmpose(f, args.img_shape, max_persons=args.max_persons))
        elif args.kind == "coco":
            for f in args.files:
                records += cv.convert_coco(f, max_persons=args.max_persons)
        else:
            for d in args.folders:
                records.append(
                    cv.convert_openpose(
                        d, args.img_shape, layout=args.layout, max_persons=args.max_persons
                    )
                )
        for r in records:
            r["label"] = labels.get(r["frame_dir"], default)
        cv.write_pose_pickle(records, args.out, split=args.split)
    except cv.ConvertError as err:
        print(f"vidlab data skeleton {args.kind}: error: {err}", file=sys.stderr)
        return 2
    frames = sum(r["total_frames"] for r in records)
    print(f"wrote {args.out}: {len(records)} samples, {frames} frames")
    return 0


def cmd_skeleton_synth(args) -> int:
    from vidlab.data.skeleton.synthetic import write_synthetic_skeletons

    path = write_synthetic_skeletons(
        args.out,
        num_train=args.num_train,
        num_val=args.num_val,
        num_test=args.num_test,
        seed=args.seed,
    )
    print(f"wrote {path}")
    return 0


def add_pose_parser(sub) -> None:
    """Add ``pose extract`` to the top-level commands."""
    pose = sub.add_parser("pose", help="skeletons from videos").add_subparsers(dest="pose_command")
    pose.required = True
    p = pose.add_parser("extract", help="detector + pose ONNX models -> PoseDataset pickle")
    p.add_argument("sources", nargs="+", help="videos, or 'path [label]' lists (.txt)")
    p.add_argument("--detector", required=True, help="person detector (.onnx, RTMDet-like)")
    p.add_argument("--pose", required=True, help="top-down pose model (.onnx, RTMPose-like)")
    p.add_argument("--out", required=True, help="the pickle to write (.pkl)")
    p.add_argument("--det-thr", type=float, default=0.5, help="box score threshold")
    p.add_argument("--max-persons", type=int, default=None, help="keep the N surest tracks")
    p.add_argument("--frame-interval", type=int, default=1, help="use every n-th frame")
    p.add_argument("--label", type=int, default=None, help="one label for every video")
    p.set_defaults(func=cmd_pose_extract)


def cmd_pose_extract(args) -> int:
    from vidlab.data.skeleton.extract import extract_main

    return extract_main(args)
