"""Frame datasets: one record per video frame, images as float tensors in [0, 1].

``FrameDataset`` is the common base (synthetic and real data alike); ``PreparedDataset`` reads
the folders written by ``python -m mpfas_lib prepare`` (one folder of face crops per video plus a
``manifest.csv``); ``ListDataset`` reads the public ``path,label`` lists (0 real, 1 print,
2 replay), the only place where that convention is turned into ``genuine = int(label == 0)``.
"""

from __future__ import annotations

import csv
import zipfile
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from mpfas_lib.data.index import IMAGE_SUFFIXES

MANIFEST = "manifest.csv"


@dataclass(frozen=True)
class FrameRecord:
    """One frame: where it is, its label (1 genuine, 0 spoof), attack type, domain, video."""

    path_or_key: str
    label: int
    attack: str
    domain: str
    video_id: str
    frame: int
    split: str


def to_tensor(image: np.ndarray, image_size: int | None = None) -> torch.Tensor:
    """An RGB uint8 image [H,W,3] as a float tensor [3,S,S] in [0, 1] (resized if asked)
    (chapter 03)."""
    if image_size is not None and image.shape[:2] != (image_size, image_size):
        image = cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float().div_(255)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 [H,W,3]; a clear error names a missing/unreadable file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file not found: {p}")
    img = cv2.imread(str(p), cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f"cannot read image {p}: not a valid image file")
    return np.ascontiguousarray(img[..., ::-1])


class FrameDataset(Dataset):
    """Frames of videos: ``ds[i] -> (image [3,H,W] in [0,1], label, domain, video_id)``."""

    def __init__(
        self,
        records: Sequence[FrameRecord],
        loader: Callable[[FrameRecord], np.ndarray],
        image_size: int | None = None,
    ) -> None:
        self.records: list[FrameRecord] = list(records)
        self.loader = loader
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str, str]:
        r = self.records[i]
        return to_tensor(self.loader(r), self.image_size), r.label, r.domain, r.video_id

    def image(self, i: int) -> np.ndarray:
        """The raw RGB uint8 image of record ``i`` (for pictures)."""
        return self.loader(self.records[i])

    @property
    def labels(self) -> list[int]:
        """Label (1 genuine, 0 spoof) of every record."""
        return [r.label for r in self.records]

    @property
    def video_ids(self) -> list[str]:
        """Video id of every record."""
        return [r.video_id for r in self.records]

    def subset(self, indices: Sequence[int]) -> FrameDataset:
        """A dataset of some of the records (same loader)."""
        return FrameDataset([self.records[i] for i in indices], self.loader, self.image_size)

    def __repr__(self) -> str:
        n_gen = sum(self.labels)
        return (
            f"{type(self).__name__}({len(self)} frames, {len({*self.video_ids})} videos, "
            f"{n_gen} genuine / {len(self) - n_gen} spoof frames)"
        )


class _FileLoader:
    """Picklable loader of image files (for DataLoader workers)."""

    def __call__(self, record: FrameRecord) -> np.ndarray:
        return read_image(record.path_or_key)


class NpzVideoLoader:
    """Loads frame ``record.frame`` of the video file ``record.path_or_key`` (.npz, key frames)."""

    def __init__(self, max_videos: int = 64) -> None:
        self.max_videos = max_videos
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, record: FrameRecord) -> np.ndarray:
        key = record.path_or_key
        frames = self._cache.get(key)
        if frames is None:
            try:
                with np.load(key) as z:
                    frames = z["frames"]
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
                raise ValueError(f"cannot read synthetic video {key}: {err}; delete it and its "
                                 ".sha256 file to have it generated again") from err
            self._cache[key] = frames
            if len(self._cache) > self.max_videos:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return frames[record.frame]


def read_manifest(path: Path) -> list[dict[str, str]]:
    """Rows of a prepared dataset's manifest CSV (clear error when missing or malformed)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"manifest not found: {path} (run `python -m mpfas_lib prepare` on the dataset first)"
        )
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"video", "label", "attack", "split", "frames"}
    if rows and not need <= set(rows[0]):
        raise ValueError(f"manifest {path} lacks columns {sorted(need - set(rows[0]))}")
    return rows


SPACINGS = ("centred", "ends")


def evenly_spaced(n_frames: int, n: int | None, spacing: str = "centred") -> list[int]:
    """``n`` frame indices spread evenly over a video of ``n_frames`` (all when n is None)
    (chapter 10).

    ``"centred"`` takes the middle frame of each of n equal parts (ours); ``"ends"`` takes
    ``linspace(0, n_frames - 1, n)`` rounded down, first and last frame included (the
    authors' code).
    """
    if spacing not in SPACINGS:
        raise ValueError(f"frame spacing must be one of {list(SPACINGS)}, got {spacing!r}")
    if n_frames <= 0:
        return []
    if n is None or n >= n_frames:
        return list(range(n_frames))
    if n <= 0:
        raise ValueError(f"number of frames to keep must be positive, got {n}")
    if spacing == "ends":
        return [int(v) for v in np.linspace(0, n_frames - 1, num=n, dtype=int)]
    return [int((i + 0.5) * n_frames / n) for i in range(n)]


def evaluation_frames(dataset: FrameDataset, n: int | None,
                      spacing: str = "centred") -> FrameDataset:
    """Keep ``n`` evenly spaced frames of every video (the field's test-time sampling).

    Also the training-time sampling of the authors' code (``Method.train_frames``);
    ``spacing`` as in :func:`evenly_spaced`.
    """
    by_video: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(dataset.records):
        by_video[r.video_id].append(i)
    keep = []
    for idx in by_video.values():
        idx = sorted(idx, key=lambda i: dataset.records[i].frame)
        keep.extend(idx[j] for j in evenly_spaced(len(idx), n, spacing))
    return dataset.subset(sorted(keep))


def video_frames(folder: Path, frames_per_video: int | None = None) -> list[tuple[Path, int]]:
    """The frame images of a prepared video folder, ``frames_per_video`` evenly spaced ones."""
    frames = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [(frames[j], j) for j in evenly_spaced(len(frames), frames_per_video or None)]


def manifest_frames(manifest: Path, folder: Path, row: dict[str, str],
                    frames_per_video: int | None = None) -> list[tuple[Path, int]]:
    """A prepared video's frames as its manifest row lists them (``files``), evenly spaced.

    Manifests written before the ``files`` column fall back to the folder's images. A listed
    file that is missing is an error naming it (the folder changed after ``prepare``).
    """
    if "files" not in row or row["files"] is None:
        return video_frames(folder, frames_per_video) if folder.is_dir() else []
    names = [n for n in row["files"].split(";") if n]
    chosen = [(folder / names[j], j) for j in evenly_spaced(len(names), frames_per_video or None)]
    for path, _ in chosen:
        if not path.is_file():
            raise FileNotFoundError(f"{path} is listed in {manifest} but missing: run "
                                    "`python -m mpfas_lib prepare` on the dataset again")
    return chosen


class PreparedDataset(FrameDataset):
    """A prepared real dataset: ``root/<domain>/manifest.csv`` + one frame folder per video.

    Manifest columns: video (folder relative to ``root/<domain>``), label (0 real, 1 print,
    2 replay), attack, split, frames (count written), subject, files (the crops, ``;``-joined;
    the frames are read from this list, never from a folder listing).
    """

    def __init__(
        self, root: str | Path, domain: str, split: str, image_size: int | None = None,
        frames_per_video: int | None = None,
    ) -> None:
        base = Path(root) / domain
        if not base.is_dir():
            raise FileNotFoundError(f"prepared dataset folder not found: {base}")
        rows = read_manifest(base / MANIFEST)
        splits = {split} if split != "all" else {r["split"] for r in rows}
        records = []
        for row in rows:
            if row["split"] not in splits:
                continue
            folder = base / row["video"]
            frames = manifest_frames(base / MANIFEST, folder, row, frames_per_video)
            if not frames:
                if int(row.get("frames") or 0) == 0:
                    continue  # prepare found no face in this video (it was reported then)
                raise FileNotFoundError(f"no frames in {folder} (listed in {base / MANIFEST})")
            for path, j in frames:
                records.append(FrameRecord(
                    str(path), int(int(row["label"]) == 0), row["attack"], domain,
                    f"{domain}/{row['video']}", j, row["split"]))
        if not records:
            raise ValueError(f"no {split!r} videos in {base / MANIFEST}")
        super().__init__(records, _FileLoader(), image_size)


class ListDataset(FrameDataset):
    """A ``path,label`` list (0 real, 1 print, 2 replay); paths relative to ``root``.

    Each path is an image, or a folder of frames (a video), of which ``frames_per_video``
    evenly spaced ones are kept (all when None).
    """

    def __init__(
        self, list_file: str | Path, root: str | Path | None = None, domain: str = "?",
        split: str = "?", image_size: int | None = None, frames_per_video: int | None = None,
    ) -> None:
        list_file = Path(list_file)
        if not list_file.is_file():
            raise FileNotFoundError(f"list file not found: {list_file}")
        base = Path(root) if root is not None else list_file.parent
        records = []
        with list_file.open(newline="") as f:
            for n, row in enumerate(csv.reader(f), start=1):
                if not row or row[0].startswith("#") or row[0] == "path":
                    continue
                if len(row) < 2 or row[1].strip() not in {"0", "1", "2"}:
                    raise ValueError(f"{list_file}:{n}: expected 'path,label' with label 0/1/2")
                raw = int(row[1])
                attack = {0: "live", 1: "print", 2: "replay"}[raw]
                path = base / row[0].strip()
                if path.is_dir():
                    items = [(str(p), j) for p, j in video_frames(path, frames_per_video)]
                    if not items:
                        raise FileNotFoundError(f"{list_file}:{n}: no frames in folder {path}")
                elif path.is_file():
                    items = [(str(path), 0)]
                else:
                    raise FileNotFoundError(f"{list_file}:{n}: no such image or folder {path}")
                vid = f"{domain}/{row[0].strip()}"
                for p, j in items:
                    records.append(
                        FrameRecord(p, int(raw == 0), attack, domain, vid, j, split))
        if not records:
            raise ValueError(f"list file {list_file} has no entries")
        super().__init__(records, _FileLoader(), image_size)
