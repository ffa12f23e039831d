"""Write docs/model_zoo.md: every variant's parameters and FLOPs, beside MMAction2's numbers.

    python tools/model_zoo.py [--metafiles DIR] [--out docs/model_zoo.md]

Parameters and FLOPs are measured by vidlab: the model is built on the ``meta`` device (no
memory, no compute) and one view of its test clip (``default_cfg.clip_shape``, batch 1) runs
under ``torch.utils.flop_counter``. FLOPs are given as multiply-accumulates (G), the unit of
MMAction2's tables. MMAction2's numbers come from the ``metafile.yml`` files beside its configs
(``--metafiles``: MMAction2's ``configs`` folder; by default the reference environment's copy),
matched by the checkpoint URL a variant carries.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vidlab.models import create_model, list_models  # noqa: E402
from vidlab.models.variants import find_variant  # noqa: E402

_REF = "~/.cache/mmaction2-ref/venv/lib/python3.11/site-packages/mmaction/.mim/configs"


def measure(name: str) -> tuple[float, float]:
    """(parameters in M, GMACs of one test view) of a variant."""
    cfg = find_variant(name).default_cfg
    with torch.device("meta"):
        model = create_model(name).eval()
        clips = torch.zeros(1, *cfg.clip_shape)
    with FlopCounterMode(display=False) as counter:
        model(clips)
    params = sum(p.numel() for p in model.parameters())
    return params / 1e6, counter.get_total_flops() / 2e9


def mmaction2_entries(root: Path) -> dict[str, dict]:
    """checkpoint URL -> metafile entry (Name, Metadata, Results)."""
    import yaml

    by_url = {}
    for path in glob.glob(str(root / "**" / "metafile.yml"), recursive=True):
        with open(path, encoding="utf-8") as f:
            meta = yaml.safe_load(f) or {}
        for model in meta.get("Models", []):
            weights = model.get("Weights") or []
            for url in [weights] if isinstance(weights, str) else weights:
                by_url[url.lstrip("(")] = model  # TPN-TSM's entry reads "(https://..."
    return by_url


def _number(text, unit: float) -> str:
    """A metafile number (``32.88G``, ``23.87M`` or a plain count) in units of ``unit``."""
    if text in (None, ""):
        return "-"
    text = str(text).strip()
    scale = {"G": 1e9, "M": 1e6, "K": 1e3}.get(text[-1:].upper(), 1.0)
    try:
        value = float(text.rstrip("GgMmKk")) * scale
    except ValueError:
        return text
    return f"{value / unit:.2f}"


def _top1(entry: dict) -> str:
    results = entry.get("Results") or []
    for result in [results] if isinstance(results, dict) else results:  # one dict in some files
        if not isinstance(result, dict):
            continue
        top1 = (result.get("Metrics") or {}).get("Top 1 Accuracy")
        if top1 is not None:
            return f"{top1}"
    return "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metafiles", default=os.path.expanduser(_REF))
    parser.add_argument("--out", default=str(REPO / "docs" / "model_zoo.md"))
    args = parser.parse_args()
    entries = mmaction2_entries(Path(args.metafiles)) if Path(args.metafiles).is_dir() else {}
    rows = []
    for name in list_models():
        cfg = find_variant(name).default_cfg
        params, gmacs = measure(name)
        entry = entries.get(cfg.url or "", {})
        meta = entry.get("Metadata") or {}
        shape = "x".join(map(str, cfg.clip_shape[1:]))
        sampling = "x".join(map(str, cfg.sampling))
        rows.append(
            f"| `{name}` | {sampling} | {shape} | {params:.2f} | {_number(meta.get('Parameters'), 1e6)} "
            f"| {gmacs:.2f} | {_number(meta.get('FLOPs'), 1e9)} | {_top1(entry)} "
            f"| {entry.get('Name', '-') if entry else '-'} |"
        )
        print(rows[-1], flush=True)
    text = (
        """# Model zoo

Every named variant (`vidlab list-models`, `create_model(name)`, or `model=dict(type=name)` in a
config). Parameters (M) and GMACs of one test view (batch 1, the clip below) are measured by
vidlab (`python tools/model_zoo.py`, `torch.utils.flop_counter` on the meta device); MMAction2's
numbers and top-1 are from the `metafile.yml` of the config whose checkpoint the variant names.
A variant with a checkpoint loads it with `load_from=` or `vidlab test CONFIG CKPT`, 0 missing
and 0 unexpected keys.

How the numbers can differ: MMAction2's tables were measured with other tools (mmcv's or
mmengine's `get_model_complexity_info`, fvcore), which also count BatchNorm and pooling where
vidlab counts convolutions and matrix products only, and some of its parameter counts leave out
the classifier or are rounded (PoseC3D's "2.0 M"); most differences below are of that size
(<= 2%). Each larger one was measured (vidlab's counter at MMAction2's input; MMAction2's own
counter, `mmengine.analysis` as in its `tools/analysis_tools/get_flops.py`, on MMAction2's model):

- The input. vidlab measures each variant at its config's test crop; these MMAction2 entries
  were measured at another one. Something-Something TSM R50/R101 (test crop 256) at 224 px:
  vidlab gives 32.70 / 65.40 / 62.40 G there. TANet 1x1x16 (test crop 224) at 256 px: vidlab
  85.44 G, MMAction2's counter 86.06 G. MobileOne-S4 TSM (test crop 256) at 224 px: vidlab
  47.77 G. PoseC3D HMDB51/UCF101 (64 px) at 56 px: vidlab 14.49 G, MMAction2's counter
  14.62 G.
- X3D-S/-M: MMAction2's counter gives 2.81 / 6.40 G on its own model, of which the
  convolutions are 2.72 / 6.18 G, vidlab's numbers; the rest is BatchNorm. The metafile's
  2.97 / 6.49 G are not reproduced by MMAction2's tool.
- Swin-S Kinetics-710: its metafile entry repeats Swin-L's (197 M, 604 G); MMAction2's Swin-S
  Kinetics-400 entry (49.8 M, 166 G) is the same network and agrees with vidlab.
- OmniSource's entry repeats the plain SlowOnly R50's parameter count; vidlab counts its two
  heads (a 1000-class ImageNet classifier and a two-layer video head: 3.2 M more).

Sampling is `clip_len x frame_interval x num_clips`; the clip is `T x H x W`.

| variant | sampling | clip | params (M) | MMAction2 params | GMACs | MMAction2 GFLOPs | top-1 | MMAction2 config |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
"""
        + "\n".join(rows)
        + "\n"
    )
    Path(args.out).write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
