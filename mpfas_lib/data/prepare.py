"""Detect, crop and sample faces from a dataset's videos into a prepared folder.

For each video (mp4, mov, avi, ...) under ``--root``: N evenly spaced frames (or all), the
main face found by MTCNN (batched over frames, CPU or GPU, weights bundled with
facenet-pytorch), cropped with a margin (optionally 5-landmark aligned) and resized to
``--size``; written as PNGs into ``--out/<relative path without extension>/`` with a
``manifest.csv`` (labels from the dataset's naming scheme, see ``mpfas_lib.data.index``; the
``files`` column lists each video's crops, and readers take the frames from it).
Frames without a face are counted and reported per video, never silently dropped; videos
without any face, truncated and unreadable videos are reported by name and the run goes on.
Every crop is written to a temporary file, renamed and checked; only then does the video get
its ``.done`` file (written atomically, with the dataset and the settings used: size,
frames, margin, alignment), so an interrupted run resumes where it stopped and never keeps a
half-written video. A finished video made with other settings is refused (or redone with
``--redo``); a folder holding another dataset's videos is refused (one dataset per ``--out``).
A write error (a full disk) stops the run with one line; finished videos are kept. Problems
are printed up to :data:`MAX_LISTED` of a kind, then counted; all of them go to
``--out/prepare.log``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm.auto import tqdm

from mpfas_lib.data.datasets import MANIFEST, evenly_spaced
from mpfas_lib.data.faces import FaceCropper
from mpfas_lib.data.index import (
    DATASETS,
    IMAGE_SUFFIXES,
    NamingError,
    dataset_key,
    find_videos,
    outside_root,
    parse,
    read_msu_lists,
)
from mpfas_lib.errors import UserError, os_error_line, report_error
from mpfas_lib.files import (
    TMP_SUFFIX,
    FolderLock,
    atomic_write_bytes,
    atomic_write_text,
    writable_dir,
)
from mpfas_lib.runtime import pick_device

MANIFEST_FIELDS = ["video", "dataset", "label", "attack", "split", "subject", "frames",
                   "sampled", "no_face", "status", "source", "files"]
DONE = ".done"
DONE_FORMAT = 3  # 2: settings and the list of files recorded; 3: the dataset too
LOG = "prepare.log"  # every warning and error of the last run (the terminal shows a few)
MAX_LISTED = 10  # problems of one kind printed on the terminal
MIN_SIZE = 16
# The paper's crops are 256 px; a face in a 1080p video is rarely 1000 px wide, so a larger
# crop only upsamples, and one 1024-px crop is already 3 MB in memory per frame.
MAX_SIZE = 1024
MAX_MARGIN = 2.0  # beyond it the face covers less than a third of the crop's side
MAX_BATCH = 256  # frames per MTCNN batch: its image pyramid of 256 video frames is GBs already


class VideoReadError(OSError):
    """A video that cannot be opened or decoded (reported, and the run goes on)."""


def _decode(path: Path, wanted: set[int]) -> tuple[list[int], list[np.ndarray], int]:
    """The wanted frames of a video and how many frames decoded before it ended or broke."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoReadError(f"cannot open video {path}")
    idx, frames, i = [], [], 0
    try:
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
    return idx, frames, i


def count_frames(path: Path) -> tuple[int, int]:
    """(frames the container announces, frames that decode): they differ for a cut file."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoReadError(f"cannot open video {path}")
    try:
        announced = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        decodable = 0
        while cap.grab():
            decodable += 1
    finally:
        cap.release()
    return announced, decodable


def read_frames(path: Path, n: int | None) -> tuple[list[int], list[np.ndarray], dict[str, int]]:
    """Indices and RGB frames of ``n`` evenly spaced frames of a video (all when None).

    The third value counts the frames the container announces and those that decode; when a
    cut (truncated) file ends early, the ``n`` frames are spread over the decodable part.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoReadError(f"cannot open video {path}")
    announced = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    cap.release()
    counts = {"announced": announced, "decodable": announced}
    if announced == 0:  # some containers do not say: count by decoding
        counts["announced"], counts["decodable"] = count_frames(path)
    wanted = evenly_spaced(counts["decodable"], n)
    idx, frames, reached = _decode(path, set(wanted))
    if len(frames) < len(wanted) and reached <= max(wanted):  # the file ends early
        counts["decodable"] = reached
        idx, frames, _ = _decode(path, set(evenly_spaced(reached, n)))
    if not frames:
        raise VideoReadError(f"no decodable frame in video {path}")
    return idx, frames, counts


Cropper = Callable[[list[np.ndarray]], list[np.ndarray | None]]


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that decide the crops: what ``.done`` records and a re-run must match."""
    return {"size": args.size, "frames": args.frames, "margin": args.margin,
            "align": bool(args.align)}


def encode_png(crop: np.ndarray, where: Path) -> bytes:
    """A crop (RGB uint8) as PNG bytes; a failed encoding is an error naming the file."""
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(crop[..., ::-1]))
    if not ok:
        raise OSError(f"cannot encode the face crop {where} as PNG")
    return buf.tobytes()


def clear_video_folder(dst: Path) -> None:
    """Remove what an earlier, unfinished or differently-set run left in a video folder."""
    if not dst.is_dir():
        return
    for p in dst.iterdir():
        stale = p.suffix.lower() in IMAGE_SUFFIXES or p.name.endswith(TMP_SUFFIX)
        if p.is_file() and (stale or p.name == DONE):
            p.unlink()


def prepare_video(cropper: Cropper, src: Path, dst: Path, n: int | None, batch: int,
                  settings: dict[str, Any] | None = None, dataset: str = ""
                  ) -> dict[str, Any]:
    """Crop the faces of one video into ``dst``; counts of sampled, written, no-face frames.

    Each crop goes to a temporary file and is renamed; the sizes on disk are checked and only
    then is ``dst/.done`` written (atomically), recording ``dataset``, ``settings`` and the
    files.
    """
    idx, frames, counts = read_frames(src, n)
    dst.mkdir(parents=True, exist_ok=True)
    clear_video_folder(dst)
    written: dict[str, int] = {}
    missing = []
    for s in range(0, len(frames), batch):
        crops = cropper(frames[s : s + batch])
        for i, crop in zip(idx[s : s + batch], crops, strict=True):
            if crop is None:
                missing.append(i)
                continue
            path = dst / f"{i:05d}.png"
            data = encode_png(crop, path)
            atomic_write_bytes(data, path)
            written[path.name] = len(data)
    for name, size in written.items():  # a file system that lied about a write shows here
        on_disk = (dst / name).stat().st_size
        if on_disk != size:
            raise OSError(f"crop {dst / name} has {on_disk} bytes on disk, {size} written")
    info = {"format": DONE_FORMAT, "dataset": dataset, "settings": settings or {},
            "sampled": len(frames), "frames": len(written), "no_face": len(missing),
            "no_face_frames": missing, "files": sorted(written), **counts}
    atomic_write_text(json.dumps(info), dst / DONE)
    return info


def read_done(done: Path) -> dict[str, Any] | None:
    """A video's ``.done`` record, or None when it is missing, empty or not valid JSON."""
    try:
        info = json.loads(done.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and "frames" in info else None


def differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """The settings a finished video was made with that differ from this run's."""
    mine = stored.get("settings") or {}
    return [f"{k} {mine.get(k, '?')} -> {v}" for k, v in wanted.items() if mine.get(k) != v]


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
    parser.add_argument("--redo", action="store_true",
                        help="prepare again the finished videos made with other settings")


def check_arguments(args: argparse.Namespace) -> list[str]:
    """Every problem with the options, one line each (empty when they are usable)."""
    problems = []
    if not MIN_SIZE <= args.size <= MAX_SIZE:
        problems.append(f"--size {args.size}: the crop side must be {MIN_SIZE} to {MAX_SIZE} "
                        "pixels (the paper uses 256; a face in a video is rarely larger than "
                        f"{MAX_SIZE} px, so a larger crop only upsamples it)")
    if not math.isfinite(args.margin) or not 0 <= args.margin <= MAX_MARGIN:
        problems.append(f"--margin {args.margin}: must be a fraction of the face box side from "
                        f"0 to {MAX_MARGIN:g} (beyond it the face is a small part of the crop)")
    if args.frames < 0:
        problems.append(f"--frames {args.frames}: must be >= 0 (0 keeps every frame)")
    if not 1 <= args.batch <= MAX_BATCH:
        problems.append(f"--batch {args.batch}: must be 1 to {MAX_BATCH} frames per MTCNN "
                        "batch (a larger batch only needs more memory)")
    if args.limit is not None and args.limit < 1:
        problems.append(f"--limit {args.limit}: must be >= 1 video")
    if not Path(args.root).is_dir():
        problems.append(f"--root {args.root}: no such folder (the dataset's original videos)")
    try:
        pick_device(args.device)
    except ValueError as error:
        problems.append(str(error))
    try:
        writable_dir(args.out, "--out", create=False)  # made only once every check passed
        outside_root(args.out, args.root, "--out", "--root")
    except UserError as error:
        problems.append(str(error))
    return problems


def read_manifest_rows(path: Path) -> dict[str, dict[str, str]]:
    """The rows of an existing manifest by video (empty when there is none or it is unreadable)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return {r["video"]: r for r in csv.DictReader(f) if r.get("video")}
    except (OSError, ValueError, KeyError):
        return {}


def write_manifest(rows: list[dict[str, Any]], path: Path) -> None:
    """Write the manifest atomically (a killed run keeps the previous one)."""
    text = io.StringIO()
    w = csv.DictWriter(text, fieldnames=MANIFEST_FIELDS, extrasaction="ignore")
    w.writeheader()
    w.writerows(sorted(rows, key=lambda r: r["video"]))
    atomic_write_text(text.getvalue(), path)


def other_dataset(out: Path, key: str, msu: tuple[set[int], set[int]] | None
                  ) -> tuple[str, str] | None:
    """Another dataset found in ``out`` (by its manifest or its videos' ``.done``): (name,
    a video of it), else None. Records of an earlier version, without a dataset, are judged by
    their names."""
    found = [(r.get("dataset") or "", v) for v, r in read_manifest_rows(out / MANIFEST).items()]
    found += [((read_done(d) or {}).get("dataset") or "", d.parent.relative_to(out).as_posix())
              for d in sorted(out.rglob(DONE))]
    for dataset, video in found:
        if dataset == key:
            continue
        if not dataset:
            try:
                parse(key, video, msu)
                continue
            except NamingError:
                dataset = "another dataset's"
        return dataset, video
    return None


def check_one_dataset(out: Path, key: str, msu: tuple[set[int], set[int]] | None) -> None:
    """Refuse an ``--out`` that already holds another dataset's videos (one line naming both)."""
    other = other_dataset(out, key, msu)
    if other is not None:
        raise UserError(f"--out {out} holds {other[0]} videos (e.g. {other[1]}), and this run "
                        f"prepares {key}: give each dataset its own --out (e.g. "
                        f"{out.parent / DATASETS[key]})")


def report_problems(warnings: list[str], failed: list[str], total: int, out: Path) -> None:
    """At most :data:`MAX_LISTED` warnings and errors on stderr, then a count; all in the log.

    ``out/prepare.log`` lists every problem of this run (an earlier run's log is removed when
    this one had none).
    """
    log = out / LOG
    lines = [f"warning: {w}" for w in warnings] + [f"error: {f}" for f in failed]
    if lines:
        atomic_write_text("\n".join(lines) + "\n", log)
    else:
        log.unlink(missing_ok=True)
    for kind, items in (("warning", warnings), ("error", failed)):
        for item in items[:MAX_LISTED]:
            print(f"{kind}: {item}", file=sys.stderr)
        if len(items) > MAX_LISTED and kind == "warning":
            print(f"warning: {len(items) - MAX_LISTED} more warning(s) in {log}",
                  file=sys.stderr)
    if failed:
        shown = "listed above" if len(failed) <= MAX_LISTED else f"{MAX_LISTED} listed above"
        print(f"error: {len(failed)} of {total} videos failed ({shown}, all in {log}; status "
              f"'unreadable' in {out / MANIFEST})", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    """Prepare every video; report problems on stderr; non-zero exit when a video failed."""
    problems = check_arguments(args)
    if problems:
        for p in problems:
            print(f"error: {p}", file=sys.stderr)
        return 2
    root, out = Path(args.root), Path(args.out)
    try:
        key = dataset_key(args.dataset)
        videos = [v for v in find_videos(root) if Path(v).suffix]  # files only
    except (ValueError, FileNotFoundError) as err:
        report_error(err)
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
        print(f"error: {len(unnamed)} file(s) do not follow the {key} naming scheme "
              f"(the first {min(len(unnamed), 20)} below):", file=sys.stderr)
        for u in unnamed[:20]:
            print(f"  {u}", file=sys.stderr)
        return 2
    if not entries:
        print(f"error: no videos found under {root}", file=sys.stderr)
        return 2
    try:
        with FolderLock(out, "--out"):
            check_one_dataset(out, key, msu)
            return _prepare(args, key, entries, root, out)
    except UserError as error:
        report_error(error)
        return error.exit_code


def _prepare(args: argparse.Namespace, key: str, entries: list, root: Path, out: Path) -> int:
    """Prepare the entries into ``out`` (holding its lock)."""
    settings = settings_of(args)
    done: dict[str, dict[str, Any]] = {}
    other: list[tuple[str, list[str]]] = []
    warnings: list[str] = []
    for e in entries:
        rel = Path(e.path).with_suffix("").as_posix()
        marker = out / rel / DONE
        if not marker.is_file():
            continue
        info = read_done(marker)
        if info is None:
            warnings.append(f"{marker} is empty or not valid JSON: preparing the video again")
        elif differences(info, settings):
            other.append((rel, differences(info, settings)))
        else:
            done[rel] = info
    if other and not args.redo:
        print(f"error: {len(other)} finished video(s) in --out {out} were prepared with other "
              f"settings ({'; '.join(other[0][1])}; e.g. {other[0][0]}): rerun with the same "
              "--size/--frames/--margin/--align, choose another --out, or add --redo to "
              "prepare them again", file=sys.stderr)
        return 2

    device = pick_device(args.device)
    cropper = FaceCropper(args.size, args.margin, args.align, device)
    n = args.frames if args.frames > 0 else None
    rows, failed, written_total, t0 = [], [], 0, time.time()
    bar = tqdm(entries, desc=f"prepare {key}", unit="video")
    for e in bar:
        rel = Path(e.path).with_suffix("").as_posix()
        status = "ok"
        info = done.get(rel)
        if info is None:
            try:
                info = prepare_video(cropper, root / e.path, out / rel, n, args.batch,
                                     settings, key)
                written_total += info["frames"]
            except VideoReadError as err:
                failed.append(f"unreadable video {e.path} ({err})")
                info, status = {"sampled": 0, "frames": 0, "no_face": 0}, "unreadable"
            except OSError as err:  # a write error: the next videos would fail the same way
                bar.close()
                report_error(err, f"{os_error_line(err)}; {len(rows)} finished video(s) are "
                             "kept: run the same command again to go on")
                return 1
        if status == "ok" and info.get("decodable", 0) < info.get("announced", 0):
            status = "truncated"
            warnings.append(f"truncated video {e.path}: only {info['decodable']} of the "
                            f"{info['announced']} announced frames decode (sampled from those)")
        if status != "unreadable" and info["no_face"]:
            warnings.append(f"no face in {info['no_face']} of {info['sampled']} frames: "
                            f"{e.path}")
            if info["frames"] == 0:
                status = "no_face"
        rows.append({"video": rel, "dataset": key, "label": e.label, "attack": e.attack,
                     "split": e.split, "subject": e.subject, "frames": info["frames"],
                     "sampled": info["sampled"], "no_face": info["no_face"], "status": status,
                     "source": e.path, "files": ";".join(info.get("files", []))})
    manifest = out / MANIFEST
    # videos of an earlier run that this one did not visit (e.g. with --limit) stay listed
    mine = {r["video"] for r in rows}
    kept = [{**r, "dataset": key} for v, r in read_manifest_rows(manifest).items()
            if v not in mine and read_done(out / v / DONE) is not None]
    write_manifest(rows + kept, manifest)
    dt = max(time.time() - t0, 1e-6)
    print(f"{len(rows)} videos ({len(done)} already done) -> {manifest} ({len(rows) + len(kept)}"
          f" listed); {written_total} face crops in {dt:.1f} s "
          f"({written_total / dt:.1f} frames/s on {device})")
    report_problems(warnings, failed, len(rows), out)
    return 1 if failed else 0
