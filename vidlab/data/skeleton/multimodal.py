"""RGB + pose transforms of MMAction2's RGBPoseConv3D pipelines: ``MMUniformSampleFrames``,
``MMDecode``, ``MMCompact``.

One sample carries a video (``filename``, or ``frame_dir + '.mp4'``) and its keypoints. The
sampler draws frame indices per modality (``clip_len=dict(RGB=8, Pose=32)``) into
``RGB_inds`` and ``Pose_inds``; the decoder reads those frames of the video (with vidlab's
readers; MMAction2 uses decord) and of the keypoints, and scales the keypoints when the
decoded frames are not ``img_shape``; the compact step crops frames and keypoints to the box
around the persons (padding the frames with black where the box leaves them).
"""

from __future__ import annotations

import numpy as np

from vidlab.data.sampling import UniformSampleFrames
from vidlab.data.skeleton.transforms import _pair, compact_box

__all__ = ["MMCompact", "MMDecode", "MMUniformSampleFrames"]


class MMUniformSampleFrames(UniformSampleFrames):
    """``UniformSampleFrames`` per modality: ``clip_len`` is ``{modality: frames}``.

    Sets ``<modality>_inds`` for each, ``clip_len`` (the dict), ``num_clips`` and
    ``modality`` (the list of modalities, unless already a list). In test mode each modality
    is drawn from a generator seeded with ``seed``, as MMAction2 re-seeds per modality.
    """

    def __init__(self, clip_len: dict, num_clips: int = 1, test_mode: bool = False, seed=255):
        if not isinstance(clip_len, dict) or not clip_len:
            raise TypeError(
                f"MMUniformSampleFrames clip_len={clip_len!r}; expected a dict such as "
                "dict(RGB=8, Pose=32)"
            )
        super().__init__(clip_len=clip_len, num_clips=num_clips, test_mode=test_mode, seed=seed)

    def __call__(self, results: dict) -> dict:
        num_frames = int(results["total_frames"])
        modalities = []
        for modality, clip_len in self.clip_len.items():
            one = UniformSampleFrames(clip_len, self.num_clips, self.test_mode, self.seed)
            if self.test_mode:
                inds = one._get_test_clips(num_frames, np.random.RandomState(self.seed))
            else:
                inds = one._get_train_clips(num_frames, np.random)
            results[f"{modality}_inds"] = np.mod(inds, num_frames).astype(np.int32)
            modalities.append(modality)
        results["clip_len"] = self.clip_len
        results["frame_interval"] = None
        results["num_clips"] = self.num_clips
        if not isinstance(results.get("modality"), list):
            results["modality"] = modalities
        return results


class MMDecode:
    """Read the sampled frames of the video (``RGB_inds``) and keypoints (``Pose_inds``).

    Args:
        io_backend: MMAction2's file client; only ``'disk'``.
        backend: vidlab's video reader (``'auto'``, ``'pyav'``, ``'decord'``, ...).
    """

    _accepts_any_kwargs = True  # MMAction2 passes file-client arguments on

    def __init__(self, io_backend: str = "disk", backend: str = "auto", **kwargs) -> None:
        if io_backend != "disk":
            raise ValueError(f"MMDecode io_backend={io_backend!r}; only 'disk' is supported")
        self.io_backend = io_backend
        self.backend = backend
        self.kwargs = kwargs

    def _decode_rgb(self, results: dict, inds: np.ndarray) -> np.ndarray:
        from vidlab.data.loading import VideoDecode, VideoInit

        if "filename" not in results:
            results["filename"] = results["frame_dir"] + ".mp4"
        sub = {"filename": results["filename"], "frame_inds": inds, "start_index": 0}
        sub = VideoDecode()(VideoInit(backend=self.backend)(sub))
        return sub["imgs"]

    def __call__(self, results: dict) -> dict:
        for mod in results["modality"]:
            key = f"{mod}_inds"
            if key not in results:
                raise KeyError(f"MMDecode: no {key!r}; put MMUniformSampleFrames before it")
            inds = np.asarray(results[key])
            if inds.ndim != 1:
                inds = np.squeeze(inds)
                results[key] = inds
            if mod == "RGB":
                results["imgs"] = self._decode_rgb(results, inds)
            elif mod == "Pose":
                if "keypoint" not in results:
                    raise KeyError("MMDecode: modality 'Pose' but the sample has no 'keypoint'")
                kp = results["keypoint"]
                if "keypoint_score" not in results:
                    results["keypoint_score"] = np.ones(kp.shape[:-1], dtype=np.float32)
                results["keypoint"] = kp[:, inds].astype(np.float32)
                results["keypoint_score"] = results["keypoint_score"][:, inds].astype(np.float32)
            else:
                raise NotImplementedError(f"MMDecode: Modality {mod} not supported")
        if "imgs" in results and "keypoint" in results:
            real = tuple(results["imgs"][0].shape[:2])
            if real != tuple(results["img_shape"]):
                # keypoints are in pixels of img_shape: scale them to the decoded frames
                oh, ow = results["img_shape"]
                nh, nw = real
                if results["keypoint"].shape[-1] not in (2, 3):
                    raise ValueError("MMDecode: keypoints must have 2 or 3 channels")
                results["keypoint"][..., 0] *= nw / ow
                results["keypoint"][..., 1] *= nh / oh
                results["img_shape"] = real
                results["original_shape"] = real
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(io_backend={self.io_backend})"


class MMCompact:
    """Crop frames and keypoints to the box around all keypoints (``PoseCompact``'s box, with
    ``hw_ratio`` 1 by default); frames are padded with zeros where the box leaves them."""

    def __init__(self, padding=0.25, threshold=10, hw_ratio=1, allow_imgpad=True) -> None:
        if padding < 0:
            raise ValueError(f"MMCompact padding={padding} must be >= 0")
        self.padding = padding
        self.threshold = threshold
        self.hw_ratio = _pair(hw_ratio) if hw_ratio is not None else None
        self.allow_imgpad = allow_imgpad

    @staticmethod
    def _crop_frames(imgs, img_shape, box):
        h, w = img_shape
        x1, y1, x2, y2 = box
        pad_l = max(0, -x1)
        pad_u = max(0, -y1)
        x1, x2, y1, y2 = x1 + pad_l, x2 + pad_l, y1 + pad_u, y2 + pad_u
        w, h = w + pad_l, h + pad_u
        pad_r, pad_d = max(0, x2 - w), max(0, y2 - h)
        if pad_l or pad_u or pad_r or pad_d:
            pads = ((pad_u, pad_d), (pad_l, pad_r), (0, 0))
            imgs = [np.pad(img, pads) for img in imgs]
        return [img[y1:y2, x1:x2] for img in imgs]

    def __call__(self, results: dict) -> dict:
        img_shape = results["img_shape"]
        kp = results["keypoint"]
        kp[np.isnan(kp)] = 0.0
        h, w = img_shape
        box = compact_box(
            kp, img_shape, self.padding, self.threshold, self.hw_ratio, self.allow_imgpad
        )
        if box is None:
            box = (0, 0, w, h)
        x1, y1, x2, y2 = box
        kp_x, kp_y = kp[..., 0], kp[..., 1]
        kp_x[kp_x != 0] -= x1
        kp_y[kp_y != 0] -= y1
        results["img_shape"] = (y2 - y1, x2 - x1)
        results["imgs"] = self._crop_frames(results["imgs"], img_shape, box)
        return results

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(padding={self.padding}, threshold={self.threshold}, "
            f"hw_ratio={self.hw_ratio}, allow_imgpad={self.allow_imgpad})"
        )
