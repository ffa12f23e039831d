"""Run MMAction2 1.2.0's own unit tests for transforms, datasets and metrics against vidlab.

MMAction2's ``tests/`` (with its test data) is taken from a git checkout or bare mirror of
open-mmlab/mmaction2 at ``--ref``, and pytest runs it twice in the MMAction2 reference
environment (``../shared/tools/mmaction2_reference.sh``): once as is (MMAction2 itself), once
with ``mmaction2_shim`` loaded, which maps ``mmaction`` import paths onto vidlab's names. The
report counts, of the tests that pass on MMAction2, those that pass on vidlab, and lists each
one that does not with its first error line (docs/mmaction2_differences.md explains them).

    ~/.cache/mmaction2-ref/venv/bin/python tools/mmaction2_tests/run.py \\
        --mmaction2 /path/to/mmaction2.git --out mm2_tests.json
    # vidlab from another tree (e.g. an older commit): --vidlab /tmp/vidlab_old
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# MMAction2's test files about what vidlab covers: transforms, recognition datasets, metrics.
TESTS = [
    "tests/datasets/transforms/test_formating.py",
    "tests/datasets/transforms/test_loading.py",
    "tests/datasets/transforms/test_processing.py",
    "tests/datasets/transforms/test_sampling.py",
    "tests/datasets/transforms/test_wrappers.py",
    "tests/datasets/test_rawframe_dataset.py",
    "tests/datasets/test_video_dataset.py",
    "tests/datasets/test_repeataug_dataset.py",
    "tests/evaluation/metrics/test_acc_metric.py",
    "tests/evaluation/metrics/test_metric_utils.py",
    "tests/datasets/transforms/test_pose_transforms.py",
    "tests/datasets/test_pose_dataset.py",
]
# Left out: AVA, text and retrieval
# (test_ava_dataset, test_video_text_dataset, test_text_transforms, test_retrieval_metric):
# not in vidlab yet; models, apis, visualization: other parts of vidlab's tests.


def extract_tests(source: str, ref: str, dest: Path) -> None:
    """``tests/`` of ``source`` (a checkout or a bare git dir) at ``ref`` into ``dest``."""
    data = subprocess.run(
        ["git", "--git-dir", _git_dir(source), "archive", ref, "tests"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")


def _git_dir(source: str) -> str:
    dot_git = Path(source) / ".git"
    return str(dot_git if dot_git.exists() else source)


def run_pytest(tests_root: Path, python: str, shim: bool, vidlab: Path) -> dict[str, dict]:
    """Outcome of every test id: ``{"outcome": passed|failed|skipped, "message": ...}``."""
    report = tests_root / f"junit_{'vidlab' if shim else 'mmaction2'}.xml"
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
    cmd.append("--continue-on-collection-errors")  # a module that fails to import: its tests fail
    env = dict(os.environ)
    if shim:
        cmd += ["-p", "mmaction2_shim"]
        env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(vidlab)])
        env["VIDLAB_PIXELS"] = "mmaction2"  # MMAction2's pixels (OpenCV is installed there)
    else:
        env.pop("PYTHONPATH", None)
    subprocess.run(cmd + TESTS, cwd=tests_root, env=env, capture_output=True, text=True)
    out = {}
    if not report.exists():
        return out
    for case in ET.parse(report).getroot().iter("testcase"):
        test_id = f"{case.get('classname')}::{case.get('name')}"
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
                message = (child.get("message") or "").strip().splitlines()[0][:200]
            elif child.tag == "skipped":
                outcome = "skipped"
                message = (child.get("message") or "")[:200]
        out[test_id] = {"outcome": outcome, "message": message}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mmaction2", required=True, help="git checkout or bare mirror of mmaction2")
    p.add_argument("--ref", default="v1.2.0")
    p.add_argument("--vidlab", default=str(ROOT), help="folder holding the vidlab package")
    p.add_argument("--python", default=sys.executable, help="the reference environment's python")
    p.add_argument("--out", help="write the per-test outcomes and counts as JSON")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="mm2_tests_") as tmp:
        extract_tests(args.mmaction2, args.ref, Path(tmp))
        mm = run_pytest(Path(tmp), args.python, False, Path(args.vidlab))
        vl = run_pytest(Path(tmp), args.python, True, Path(args.vidlab))
    reference = sorted(t for t, r in mm.items() if r["outcome"] == "passed")
    passing = [t for t in reference if vl.get(t, {}).get("outcome") == "passed"]
    failing = {t: vl.get(t, {"message": "not collected"})["message"] for t in reference}
    failing = {t: m for t, m in failing.items() if t not in passing}
    counts = {
        "collected": len(mm),
        "pass_on_mmaction2": len(reference),
        "pass_on_vidlab": len(passing),
        "fail_on_vidlab": len(failing),
        "pass_on_vidlab_only": sorted(
            t for t, r in vl.items() if r["outcome"] == "passed" and t not in reference
        ),
    }
    print(json.dumps(counts, indent=1))
    for t, m in failing.items():
        print(f"FAIL {t}: {m}")
    if args.out:
        Path(args.out).write_text(
            json.dumps(dict(counts=counts, failing=failing, mmaction2=mm, vidlab=vl), indent=1)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
