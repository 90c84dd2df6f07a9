"""Prepare: a face crop for every sampled frame, centred; corrupt videos reported and skipped."""

from __future__ import annotations

import argparse
import csv

import cv2
import numpy as np
import pytest
import torch
from skimage import data

from mpfas_lib.data.datasets import PreparedDataset
from mpfas_lib.data.faces import FaceCropper, crop_box
from mpfas_lib.data.prepare import add_arguments, main

SIZE = 96


def _video(path, frames: int = 6, fourcc: str = "MJPG") -> None:
    """A short video of the (public-domain) astronaut photo drifting a little."""
    img = data.astronaut()[:, :, ::-1]  # BGR for cv2
    img = cv2.resize(img, (256, 256))
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (256, 256))
    assert w.isOpened()
    for i in range(frames):
        m = np.float32([[1, 0, 2 * i], [0, 1, i]])
        w.write(cv2.warpAffine(img, m, (256, 256), borderMode=cv2.BORDER_REFLECT))
    w.release()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("oulu")
    _video(root / "Train_files" / "1_1_01_1.avi")
    _video(root / "Test_files" / "2_1_02_4.avi", fourcc="mp4v")
    bad = root / "Train_files" / "1_1_03_2.avi"
    bad.write_bytes(b"RIFF0000AVI this is not a video")
    out = tmp_path_factory.mktemp("prepared") / "O"
    p = argparse.ArgumentParser()
    add_arguments(p)
    args = p.parse_args(["--dataset", "oulu", "--root", str(root), "--out", str(out),
                         "--frames", "3", "--size", str(SIZE), "--device", "cpu"])
    return root, out, args


def test_crop_for_every_sampled_frame(prepared, capsys) -> None:
    root, out, args = prepared
    assert main(args) == 1  # one video failed: the others are prepared, the exit code says so
    report = capsys.readouterr().err
    assert "error: unreadable video Train_files/1_1_03_2.avi" in report
    assert "error: 1 of 3 videos failed" in report
    with (out / "manifest.csv").open() as f:
        rows = {r["video"]: r for r in csv.DictReader(f)}
    assert rows["Train_files/1_1_01_1"]["frames"] == "3"
    assert rows["Test_files/2_1_02_4"]["label"] == "2"
    assert rows["Train_files/1_1_03_2"]["status"] == "unreadable"
    crops = sorted((out / "Train_files" / "1_1_01_1").glob("*.png"))
    assert [c.stem for c in crops] == ["00001", "00003", "00005"]  # evenly spaced of 6
    assert rows["Train_files/1_1_01_1"]["files"] == "00001.png;00003.png;00005.png"
    ds = PreparedDataset(out.parent, "O", "train", image_size=SIZE)
    assert len(ds) == 3 and ds.labels == [1, 1, 1]


def test_face_is_centred_in_the_crop(prepared) -> None:
    _, out, _ = prepared
    crop = cv2.imread(str(sorted((out / "Train_files" / "1_1_01_1").glob("*.png"))[0]))[..., ::-1]
    assert crop.shape == (SIZE, SIZE, 3)
    det = FaceCropper(SIZE, device="cpu", min_face=12).detect([np.ascontiguousarray(crop)])[0]
    assert det is not None
    cx, cy = (det.box[0] + det.box[2]) / 2, (det.box[1] + det.box[3]) / 2
    assert abs(cx - SIZE / 2) < 0.12 * SIZE and abs(cy - SIZE / 2) < 0.12 * SIZE
    assert (det.box[2] - det.box[0]) > 0.5 * SIZE  # the face fills the crop (margin 0.2)


def test_resume_skips_finished_videos(prepared, capsys) -> None:
    _, out, args = prepared
    first = (out / "Train_files" / "1_1_01_1" / "00001.png").stat().st_mtime_ns
    assert main(args) == 1  # the unreadable video is tried again and fails again
    assert "(2 already done)" in capsys.readouterr().out
    assert (out / "Train_files" / "1_1_01_1" / "00001.png").stat().st_mtime_ns == first


def test_no_face_frames_are_counted(tmp_path, capsys) -> None:
    root = tmp_path / "src"
    path = root / "Dev_files" / "3_2_07_1.avi"
    path.parent.mkdir(parents=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 64))
    for i in range(3):
        w.write(np.full((64, 64, 3), 40 * i, np.uint8))
    w.release()
    p = argparse.ArgumentParser()
    add_arguments(p)
    assert main(p.parse_args(["--dataset", "O", "--root", str(root), "--out",
                              str(tmp_path / "O"), "--frames", "0", "--size", "32"])) == 0
    assert "warning: no face in 3 of 3 frames: Dev_files/3_2_07_1.avi" in capsys.readouterr().err


def test_crop_box_is_square_and_padded() -> None:
    img = np.zeros((50, 80, 3), np.uint8)
    img[10:30, 60:80] = 255
    crop = crop_box(img, np.array([60, 10, 80, 30]), 40, 0.5)
    assert crop.shape == (40, 40, 3) and crop[20, 20].max() == 255
