"""Pretrained weights for a backbone: where the file is, and loading it with a report.

``pretrained=`` of a backbone names a local file, an http(s) URL or ``torchvision://name``.
Nothing is read while a model is built or a config printed: a backbone loads its file in
``init_weights()``, which the engine calls when training starts (:func:`init_pretrained`) and
``create_model`` calls for you. A URL is fetched once, as ``torch.hub`` does, into
``$VIDLAB_HOME/checkpoints`` (default ``~/.cache/vidlab/checkpoints``; files already in the torch
hub cache are used as they are), and checked against the SHA-256 prefix its name carries
(``resnet50-0676ba61.pth``, MMAction2's ``..._20220906-cd10898e.pth``). Offline, the error names
the URL and the path where the file can be put by hand. A whole recognizer's checkpoint given as
a URL (``vidlab infer CONFIG URL``, ``vidlab test``, ``create_model(name, pretrained=True)``)
goes through the same cache and check (:func:`resolve_checkpoint`).

The file may hold the backbone itself, a whole recognizer (its ``backbone.*`` weights are
taken) or another zoo's layout, which the family's converter maps onto vidlab's names. What did
not fit is reported grouped (``vidlab.checkpoint.LoadReport``); a file of which nothing fits is
an error, never a silent random init.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torch.nn as nn
from torch import Tensor

from vidlab.checkpoint import LoadReport, extract_state_dict, load_checkpoint, load_weights

logger = logging.getLogger(__name__)

# Where ``torchvision://name`` files are published; the first file name of each entry is the
# one fetched (ImageNet V1 weights, as MMCV's ``torchvision://`` names), the others are older
# names that may already sit in a cache.
TORCHVISION_URL = "https://download.pytorch.org/models/"
_TORCHVISION_FILES = {
    "resnet18": ("resnet18-f37072fd.pth", "resnet18-5c106cde.pth"),
    "resnet34": ("resnet34-b627a593.pth", "resnet34-333f7ec4.pth"),
    "resnet50": ("resnet50-0676ba61.pth", "resnet50-19c8e357.pth", "resnet50-11ad3fa6.pth"),
    "resnet101": ("resnet101-63fe2227.pth", "resnet101-5d3b4d8f.pth"),
    "resnet152": ("resnet152-394f9c45.pth", "resnet152-b121ed2d.pth"),
}

# (file state dict, model) -> state dict in the model's names, or None if not that layout.
Converter = Callable[[Mapping[str, Tensor], nn.Module], "dict[str, Tensor] | None"]


class PretrainedError(ValueError):
    """A ``pretrained=`` that cannot be used (an unknown name, a URL that cannot be fetched, a
    file whose weights do not fit); the message names it and what would work."""


def cache_dir() -> Path:
    """``$VIDLAB_HOME/checkpoints``, by default ``~/.cache/vidlab/checkpoints``."""
    home = os.environ.get("VIDLAB_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "vidlab",
    )
    return Path(home) / "checkpoints"


_HASH = re.compile(r"-([a-f0-9]{8,64})\.[A-Za-z0-9]+$")


def download(url: str, dst: Path, timeout: float = 60.0, what: str = "pretrained") -> Path:
    """Fetch ``url`` to ``dst`` (through a temporary file, so a broken or short transfer
    leaves nothing) and check the SHA-256 prefix in its file name, if any.

    Args:
        url: An http(s) URL.
        dst: Where the file goes.
        timeout: Seconds to wait for the server.
        what: How errors name the URL (``pretrained=...`` or ``checkpoint ...``).
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as f:
            # said once the server answers: offline, the error is the only line
            print(f"downloading {url} to {dst}", file=sys.stderr)
            size = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(1 << 20):
                f.write(chunk)
                digest.update(chunk)
                received += len(chunk)
        # http.client ends a read quietly when the connection closes early: count the bytes
        if size is not None and size.isdigit() and received != int(size):
            raise urllib.error.ContentTooShortError(
                f"the transfer stopped after {received} of {size} bytes", None
            )
        expected = _HASH.search(dst.name)
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise PretrainedError(
                f"{_label(what, url)}: the downloaded file's SHA-256 {digest.hexdigest()[:16]}... "
                f"does not start with {expected.group(1)!r}, as its name says: a broken or "
                "substituted download; nothing was saved"
            )
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def resolve_pretrained(pretrained: str, fetch: bool = True) -> str:
    """Turn ``pretrained`` into a local file path, fetching a URL if needed, or raise a clear
    error.

    Args:
        pretrained: A local path, an http(s) URL or ``torchvision://resnetXX``.
        fetch: Download a URL that is in no cache; False: only look in the caches.
    """
    if not isinstance(pretrained, str):
        raise TypeError(f"pretrained must be a file path or None, got {type(pretrained).__name__}")
    if pretrained.startswith("torchvision://"):
        arch = pretrained[len("torchvision://") :]
        if arch not in _TORCHVISION_FILES:
            raise PretrainedError(
                f"pretrained={pretrained!r}: unknown torchvision model; known: "
                f"{', '.join(sorted(_TORCHVISION_FILES))}, or give a URL or a local file"
            )
        names = _TORCHVISION_FILES[arch]
        url = TORCHVISION_URL + names[0]
    elif pretrained.startswith(("http://", "https://")):
        url = pretrained
        names = (os.path.basename(pretrained.split("?")[0]),)
    elif "://" in pretrained:
        raise PretrainedError(
            f"pretrained={pretrained!r}: only local files, http(s) URLs and torchvision:// names "
            "are understood; download the file and pass its path"
        )
    else:
        if not os.path.isfile(pretrained):
            raise FileNotFoundError(f"pretrained={pretrained!r}: no such file")
        return pretrained
    hint = (
        f"pass its local path instead (--cfg-options model.backbone.pretrained=/path/to/"
        f"{names[0]}), or set pretrained=None to start from random weights"
    )
    return str(fetch_cached(url, names, fetch=fetch, hint=hint))


def _label(what: str, url: str) -> str:
    return f"pretrained={url!r}" if what == "pretrained" else f"{what} {url}"


def fetch_cached(
    url: str,
    names: tuple[str, ...] | None = None,
    *,
    fetch: bool = True,
    what: str = "pretrained",
    hint: str = "pass its local path instead",
) -> Path:
    """The local copy of ``url``: a file of one of ``names`` (default: the URL's file name)
    already in ``$VIDLAB_HOME/checkpoints`` or the torch hub cache, used as it is, else
    downloaded into ``$VIDLAB_HOME/checkpoints`` and hash-checked (:func:`download`).

    Raises:
        PretrainedError: the download failed or the file's hash differs from its name; one
            line naming the URL and the path where the file can be put by hand, then ``hint``.
        FileNotFoundError: ``fetch`` is False and no cache has the file.
    """
    names = names or (os.path.basename(url.split("?")[0]),)
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    for folder in (cache_dir(), hub):
        for name in names:
            if (folder / name).is_file():
                return folder / name
    dst = cache_dir() / names[0]
    if not fetch:
        raise FileNotFoundError(f"{_label(what, url)}: not downloaded yet (expected {dst})")
    try:
        return download(url, dst, what=what)
    except (urllib.error.URLError, OSError) as e:
        raise PretrainedError(
            f"{_label(what, url)}: could not download {url} ({getattr(e, 'reason', e)}). "
            f"Download it yourself and put it at {dst}, or {hint}"
        ) from e


def is_url(path) -> bool:
    """An http(s) URL (as a string)."""
    return isinstance(path, str) and path.startswith(("http://", "https://"))


def resolve_checkpoint(checkpoint):
    """A whole model's checkpoint as a local path: an http(s) URL (MMAction2's zoo files, as
    its demo takes them) goes through the same cache and hash check as ``pretrained=`` URLs;
    anything else is returned as it is (``load_checkpoint`` says if it is missing)."""
    if not is_url(checkpoint):
        return checkpoint
    return str(
        fetch_cached(
            checkpoint,
            what="checkpoint",
            hint="give the local path instead of the URL",
        )
    )


def init_pretrained(model: nn.Module) -> list[tuple[str, LoadReport]]:
    """Load the ``pretrained=`` weights of every submodule that has them (``init_weights``).

    The engine calls this when training starts (not when resuming: the checkpoint has every
    weight); building a model never reads or fetches a file.

    Returns:
        ``(module name, report)`` for each module that loaded weights.
    """
    reports = []
    for name, module in model.named_modules():
        if getattr(module, "pretrained", None) is not None and hasattr(module, "init_weights"):
            report = module.init_weights()
            if isinstance(report, LoadReport):
                reports.append((name, report))
    return reports


def _tensors(state: Mapping) -> dict[str, Tensor]:
    return {k: v for k, v in state.items() if isinstance(v, Tensor)}


def load_pretrained(
    module: nn.Module,
    src: str | Mapping[str, Tensor],
    convert: Converter | None = None,
    look_through: Callable[[str], str] | None = None,
) -> LoadReport:
    """Load a backbone's pretrained weights and report what did not fit.

    Args:
        module: The backbone.
        src: ``pretrained`` as in a config (see :func:`resolve_pretrained`), or a state dict.
        convert: The family's converter from another zoo's layout; it returns None when the
            file is not in that layout, and the names are then taken as vidlab's.
        look_through: Maps a model key to the key it has without wrapper modules
            (``TemporalShift``'s ``.net``), so a plain backbone's file loads into a wrapped one.

    Returns:
        The report; tensors of another shape are skipped (and listed).

    Raises:
        ValueError: nothing in the file fits ``module``.
    """
    source = "<state dict>"
    if isinstance(src, str):
        source = resolve_pretrained(src)
        state = _tensors(extract_state_dict(load_checkpoint(source)))
    else:
        state = _tensors(src)
    if any(k.startswith("backbone.") for k in state):  # a whole recognizer
        state = {k[len("backbone.") :]: v for k, v in state.items() if k.startswith("backbone.")}
    converted = convert(state, module) if convert is not None else None
    if converted is not None:
        state = converted
    elif look_through is not None:
        model_keys = module.state_dict().keys()
        plain = {look_through(k): k for k in model_keys}
        state = {(k if k in model_keys else plain.get(k, k)): v for k, v in state.items()}

    report = LoadReport(source=source)
    if state:
        report = load_weights(module, state, strict=False)
        report.source = source
    # Older files have no BatchNorm step counters; they are not weights.
    report.missing = [k for k in report.missing if not k.endswith("num_batches_tracked")]
    if not report.loaded:
        raise PretrainedError(
            f"pretrained={src if isinstance(src, str) else '<state dict>'!r}: none of the "
            f"{len(state)} tensors in {source} fit this {type(module).__name__} (first keys: "
            f"{sorted(state)[:3]}); expected a {type(module).__name__} backbone, a recognizer "
            "checkpoint with backbone.* keys, or a layout the family converts (e.g. torchvision)"
        )
    if not report.ok:
        logger.warning("pretrained weights for %s:\n%s", type(module).__name__, report)
    return report
