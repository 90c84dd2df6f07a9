"""Face detection and cropping with MTCNN (the field's preprocessing, paper Sec. IV-A).

facenet-pytorch's MTCNN ships its P/R/O-Net weights inside the package, so detection runs
offline. Frames are detected in batches; each face is cropped square around its box with a
margin (or aligned by a similarity transform of its five landmarks) and resized.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

# Five landmarks (eyes, nose, mouth corners) of a frontal face in a unit square crop
# (the usual 112x112 ArcFace template divided by 112).
TEMPLATE = np.array([[38.29, 51.70], [73.53, 51.50], [56.03, 71.74], [41.55, 92.37],
                     [70.73, 92.20]], np.float32) / 112.0


@dataclass
class Detection:
    """The most confident face of a frame: box (x1, y1, x2, y2), 5 landmarks [5,2], probability."""

    box: np.ndarray
    landmarks: np.ndarray
    prob: float


class FaceCropper:
    """Detect the main face of frames with MTCNN and crop it to ``size`` x ``size`` (chapter 02)."""

    def __init__(self, size: int = 256, margin: float = 0.2, align: bool = False,
                 device: str | torch.device = "cpu", min_face: int = 20,
                 min_prob: float = 0.9) -> None:
        from facenet_pytorch import MTCNN  # about 1 s to import: only when a cropper is made

        self.size, self.margin, self.align, self.min_prob = size, margin, align, min_prob
        self.device = torch.device(device)
        self.mtcnn = MTCNN(keep_all=True, min_face_size=min_face, device=self.device,
                           post_process=False, select_largest=False)

    def detect(self, frames: list[np.ndarray]) -> list[Detection | None]:
        """The most confident face of each RGB uint8 frame (frames of one size: one batch)."""
        if not frames:
            return []
        if len({f.shape for f in frames}) > 1:
            return [d for f in frames for d in self.detect([f])]
        with torch.no_grad():
            boxes, probs, points = self.mtcnn.detect(np.stack(frames), landmarks=True)
        out: list[Detection | None] = []
        for b, p, lm in zip(boxes, probs, points, strict=True):
            if b is None or len(b) == 0:
                out.append(None)
                continue
            i = int(np.nanargmax(np.asarray(p, dtype=np.float64)))
            if p[i] is None or float(p[i]) < self.min_prob:
                out.append(None)
                continue
            out.append(Detection(np.asarray(b[i], np.float32), np.asarray(lm[i], np.float32),
                                 float(p[i])))
        return out

    def crop(self, frame: np.ndarray, det: Detection) -> np.ndarray:
        """The face of a frame, square with a margin (or 5-point aligned), resized."""
        if self.align:
            return align_face(frame, det.landmarks, self.size, self.margin)
        return crop_box(frame, det.box, self.size, self.margin)

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray | None]:
        """Face crops of frames (None where no face was found)."""
        return [None if d is None else self.crop(f, d)
                for f, d in zip(frames, self.detect(frames), strict=True)]


def crop_box(frame: np.ndarray, box: np.ndarray, size: int, margin: float) -> np.ndarray:
    """Square crop centred on a box, enlarged by ``margin`` of its side, edge-padded, resized."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * (1 + margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    scale = size / side
    m = np.array([[scale, 0, size / 2 - scale * cx], [0, scale, size / 2 - scale * cy]],
                 np.float32)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(frame, m, (size, size), flags=interp, borderMode=cv2.BORDER_REPLICATE)


def align_face(frame: np.ndarray, landmarks: np.ndarray, size: int, margin: float) -> np.ndarray:
    """Similarity-align five landmarks to the frontal template (shrunk by the margin)."""
    dst = (TEMPLATE - 0.5) / (1 + margin) + 0.5
    m, _ = cv2.estimateAffinePartial2D(landmarks.astype(np.float32), dst * size,
                                       method=cv2.LMEDS)
    if m is None:
        raise ValueError("landmarks are degenerate: cannot estimate a similarity transform")
    return cv2.warpAffine(frame, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
