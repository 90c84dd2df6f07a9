"""Detect, crop and sample faces from a dataset's videos into a prepared folder.

For each video (mp4, mov, avi, ...) under ``--root``: N evenly spaced frames (or all), the
main face found by MTCNN (batched over frames, CPU or GPU, weights bundled with
facenet-pytorch), cropped with a margin (optionally 5-landmark aligned) and resized to
``--size``; written as PNGs into ``--out/<relative path without extension>/`` with a
``manifest.csv`` (labels from the dataset's naming scheme, see ``mpfas_lib.data.index``).
Frames without a face are counted and reported per video, never silently dropped; videos
without any face and unreadable videos are reported by name and the run goes on. A finished
video leaves a ``.done`` file, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from mpfas_lib.data.datasets import evenly_spaced
from mpfas_lib.data.index import NamingError, dataset_key, find_videos, parse, read_msu_lists
from mpfas_lib.runtime import pick_device

MANIFEST_FIELDS = ["video", "label", "attack", "split", "subject", "frames", "sampled",
                   "no_face", "status", "source"]


def read_frames(path: Path, n: int | None) -> tuple[list[int], list[np.ndarray]]:
    """Indices and RGB frames of ``n`` evenly spaced frames of a video (all when None)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise OSError(f"cannot open video {path}")
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if count <= 0:  # some containers do not say: count by decoding
            while cap.grab():
                count += 1
            cap.release()
            cap = cv2.VideoCapture(str(path))
        wanted = set(evenly_spaced(count, n))
        idx, frames = [], []
        i = 0
        while wanted and i <= max(wanted):
            if not cap.grab():
                break
            if i in wanted:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    idx.append(i)
                    frames.append(np.ascontiguousarray(frame[..., ::-1]))
            i += 1
    finally:
        cap.release()
    if not frames:
        raise OSError(f"no decodable frame in video {path}")
    return idx, frames


Cropper = Callable[[list[np.ndarray]], list[np.ndarray | None]]


def prepare_video(cropper: Cropper, src: Path, dst: Path, n: int | None, batch: int
                  ) -> dict[str, int]:
    """Crop the faces of one video into ``dst``; counts of sampled, written, no-face frames."""
    idx, frames = read_frames(src, n)
    dst.mkdir(parents=True, exist_ok=True)
    written, missing = 0, []
    for s in range(0, len(frames), batch):
        crops = cropper(frames[s : s + batch])
        for i, crop in zip(idx[s : s + batch], crops, strict=True):
            if crop is None:
                missing.append(i)
                continue
            cv2.imwrite(str(dst / f"{i:05d}.png"), crop[..., ::-1])
            written += 1
    info = {"sampled": len(frames), "frames": written, "no_face": len(missing),
            "no_face_frames": missing}
    (dst / ".done").write_text(json.dumps(info))
    return info


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Command-line options of ``python -m mpfas_lib prepare``."""
    parser.add_argument("--dataset", required=True,
                        help="oulu | casia | replay | msu | rose (or O, C, I, M, Y)")
    parser.add_argument("--root", required=True, help="the dataset's original root (videos)")
    parser.add_argument("--out", required=True,
                        help="prepared folder of this dataset, e.g. DATA/O (manifest.csv inside)")
    parser.add_argument("--frames", type=int, default=10,
                        help="evenly spaced frames per video (0 = all frames)")
    parser.add_argument("--size", type=int, default=256, help="side of the face crop")
    parser.add_argument("--margin", type=float, default=0.2,
                        help="margin around the face box, as a fraction of its side")
    parser.add_argument("--align", action="store_true", help="5-landmark similarity alignment")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--batch", type=int, default=16, help="frames per MTCNN batch")
    parser.add_argument("--limit", type=int, default=None, help="only the first N videos")


def main(args: argparse.Namespace) -> int:
    """Prepare every video; print a report of problems and the throughput."""
    from mpfas_lib.data.faces import FaceCropper  # facenet-pytorch: only when preparing

    root, out = Path(args.root), Path(args.out)
    try:
        key = dataset_key(args.dataset)
        videos = [v for v in find_videos(root) if Path(v).suffix]  # files only
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}")
        return 2
    if args.limit:
        videos = videos[: args.limit]
    msu = read_msu_lists(root) if key == "msu" else None
    entries, unnamed = [], []
    for v in videos:
        try:
            entries.append(parse(key, v, msu))
        except NamingError as err:
            unnamed.append(str(err))
    if unnamed:
        print(f"error: {len(unnamed)} file(s) do not follow the {key} naming scheme:")
        for u in unnamed[:20]:
            print(f"  {u}")
        return 2
    if not entries:
        print(f"error: no videos found under {root}")
        return 2
    device = pick_device(args.device)
    cropper = FaceCropper(args.size, args.margin, args.align, device)
    n = args.frames if args.frames > 0 else None
    out.mkdir(parents=True, exist_ok=True)
    rows, problems, skipped = [], [], 0
    written_total, t0 = 0, time.time()
    for e in tqdm(entries, desc=f"prepare {key}", unit="video"):
        rel = Path(e.path).with_suffix("").as_posix()
        dst = out / rel
        done = dst / ".done"
        status = "ok"
        if done.is_file():
            info = json.loads(done.read_text())
            skipped += 1
        else:
            try:
                info = prepare_video(cropper, root / e.path, dst, n, args.batch)
                written_total += info["frames"]
            except OSError as err:
                problems.append(f"unreadable: {e.path} ({err})")
                info, status = {"sampled": 0, "frames": 0, "no_face": 0}, "unreadable"
        if status == "ok" and info["no_face"]:
            problems.append(f"no face in {info['no_face']} of {info['sampled']} frames: {e.path}")
            if info["frames"] == 0:
                status = "no_face"
        rows.append({"video": rel, "label": e.label, "attack": e.attack, "split": e.split,
                     "subject": e.subject, "frames": info["frames"], "sampled": info["sampled"],
                     "no_face": info["no_face"], "status": status, "source": e.path})
    with (out / "manifest.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)
    dt = max(time.time() - t0, 1e-6)
    print(f"{len(rows)} videos ({skipped} already done) -> {out / 'manifest.csv'}; "
          f"{written_total} face crops in {dt:.1f} s ({written_total / dt:.1f} frames/s on "
          f"{device})")
    for p in problems:
        print(f"  {p}")
    return 0
