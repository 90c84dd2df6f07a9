"""Hostile inputs and faults: no lost or mixed data, one clear ``error:`` line for each.

One test per item of the reliability issue (``test_itemNN_...``). Full disks are simulated by a
writer that fails with ENOSPC, and also met for real on a small tmpfs where this machine lets
the tests mount one (root with mount rights); elsewhere those variants are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import mpfas_lib.data.synthetic as synthetic
import mpfas_lib.files as files
from mpfas_lib.__main__ import main as cli
from mpfas_lib.data import prepare
from mpfas_lib.data.datasets import FrameRecord, NpzVideoLoader, PreparedDataset
from mpfas_lib.errors import UserError
from mpfas_lib.files import FolderLock, atomic_save, atomic_write_text
from mpfas_lib.paths import cache_dir
from mpfas_lib.training.algorithm1 import NonFiniteLossError
from mpfas_lib.training.artefacts import check_resumable, jsonable, load_checkpoint
from mpfas_lib.training.config import build_config
from mpfas_lib.training.loop import run_training

REPO = Path(__file__).resolve().parent.parent
TINY = {"image_size": "32", "synth_subjects": "4", "synth_frames": "2", "iterations": "4",
        "eval_every": "2", "threads": "1", "tensorboard": "false", "progress": "false"}


def tiny(*extra: str, out: Path) -> list[str]:
    args = ["train", "--profile", "quick", "--out", str(out)]
    for key, value in TINY.items():
        args += ["--set", f"{key}={value}"]
    return args + list(extra)


def one_error_line(err: str, *needles: str) -> str:
    """The stderr of a refused command: exactly one ``error:`` line, no traceback."""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert "Traceback" not in err and len(lines) == 1, err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ---- prepare: small videos and a stand-in for MTCNN (the centre of every frame is the face)

class CentreCropper:
    """Stands in for FaceCropper: a centre crop of every frame, no face where a frame is black."""

    def __init__(self, size: int, margin: float, align: bool, device: object) -> None:
        self.size = size

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for f in frames:
            h, w = f.shape[:2]
            c = f[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
            out.append(None if f.max() < 10 else cv2.resize(c, (self.size, self.size)))
        return out


def video(path: Path, frames: int = 6, noise: bool = False, side: int = 64) -> Path:
    """A small MJPG video (noise when asked: PNG crops that do not compress)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (side, side))
    rng = np.random.default_rng(len(path.name))
    for i in range(frames):
        img = (rng.integers(0, 255, (side, side, 3), dtype=np.uint8) if noise
               else np.full((side, side, 3), 40 + 20 * i, np.uint8))
        w.write(img)
    w.release()
    return path


@pytest.fixture()
def oulu(tmp_path, monkeypatch):
    """Two OULU-named videos and a prepare command line for them (fast stand-in cropper)."""
    monkeypatch.setattr("mpfas_lib.data.prepare.FaceCropper", CentreCropper)
    root = tmp_path / "src"
    video(root / "Train_files" / "1_1_01_1.avi")
    video(root / "Train_files" / "1_1_01_2.avi")
    out = tmp_path / "data" / "O"

    def run(*extra: str, dest: Path = out) -> int:
        return cli(["prepare", "--dataset", "oulu", "--root", str(root), "--out", str(dest),
                    "--device", "cpu", "--frames", "3", "--size", "32", *extra])

    return root, out, run


def manifest(out: Path) -> dict[str, dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as f:
        return {r["video"]: r for r in csv.DictReader(f)}


@contextlib.contextmanager
def small_fs(path: Path, size: str, read_only: bool = False):
    """A real small (or read-only) tmpfs at ``path``; the test is skipped where none can be made."""
    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a real small filesystem needs root with mount rights (a tmpfs); the "
                    "simulated ENOSPC test covers the same code")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                          capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({made.stderr.strip()}); the simulated "
                    "ENOSPC test covers the same code")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_item01_prepare_full_disk_stops_and_does_not_mark_the_video_done(oulu, monkeypatch,
                                                                          capsys):
    root, out, run = oulu
    real, calls = prepare.atomic_write_bytes, {"n": 0}

    def disk_fills(data: bytes, path: Path) -> Path:
        calls["n"] += 1
        if calls["n"] > 1:  # the first crop fits, the second meets a full disk
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(data, path)

    monkeypatch.setattr(prepare, "atomic_write_bytes", disk_fills)
    assert run() == 1
    err = capsys.readouterr().err
    one_error_line(err, "No space left on device", "free some space", "1_1_01_1")
    assert "unreadable" not in err  # a write error is not a bad video
    assert not list(out.rglob(".done")) and not (out / "manifest.csv").exists()
    monkeypatch.setattr(prepare, "atomic_write_bytes", real)
    assert run() == 0  # after freeing space the video is prepared, not skipped as done
    assert "(0 already done)" in capsys.readouterr().out
    rows = manifest(out)
    assert rows["Train_files/1_1_01_1"]["files"] == "00001.png;00003.png;00005.png"
    assert len(PreparedDataset(out.parent, "O", "train")) == 6


def test_item01_prepare_on_a_real_full_filesystem(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("mpfas_lib.data.prepare.FaceCropper", CentreCropper)
    root = tmp_path / "src"
    video(root / "Train_files" / "1_1_01_1.avi", frames=4, noise=True, side=256)
    with small_fs(tmp_path / "small", "160k") as small:
        code = cli(["prepare", "--dataset", "O", "--root", str(root), "--out", str(small / "O"),
                    "--device", "cpu", "--frames", "4", "--size", "256"])
        err = capsys.readouterr().err
        assert code == 1
        one_error_line(err, "No space left on device")
        assert not list((small / "O").rglob(".done"))
        assert not list((small / "O").rglob("*.tmp"))


def test_item02_killed_prepare_rerun_with_other_settings_never_mixes_crops(oulu, capsys):
    root, out, run = oulu
    folder = out / "Train_files" / "1_1_01_1"  # what a SIGKILLed run with --size 256 left
    folder.mkdir(parents=True)
    cv2.imwrite(str(folder / "00000.png"), np.zeros((256, 256, 3), np.uint8))
    (folder / "00002.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / ".00004.png.x1.tmp").write_bytes(b"half")
    assert run() == 0
    capsys.readouterr()
    assert sorted(p.name for p in folder.iterdir()) == [".done", "00001.png", "00003.png",
                                                        "00005.png"]
    ds = PreparedDataset(out.parent, "O", "train")
    assert {ds.image(i).shape for i in range(len(ds))} == {(32, 32, 3)}
    done = json.loads((folder / ".done").read_text())
    assert done["settings"] == {"size": 32, "frames": 3, "margin": 0.2, "align": False}
    # finished videos made with other settings are refused, or redone with --redo
    assert run("--size", "48") == 2
    one_error_line(capsys.readouterr().err, "2 finished video(s)", "size 32 -> 48", "--redo")
    assert run("--size", "48", "--redo") == 0
    ds = PreparedDataset(out.parent, "O", "train")
    assert {ds.image(i).shape for i in range(len(ds))} == {(48, 48, 3)}


@pytest.mark.parametrize("option", [("--size", "0"), ("--margin", "-2"), ("--frames", "-3"),
                                    ("--batch", "0"), ("--margin", "nan"), ("--limit", "0")])
def test_item03_prepare_refuses_bad_numbers_before_any_work(oulu, capsys, option):
    _, out, run = oulu
    assert run(*option) == 2
    one_error_line(capsys.readouterr().err, f"{option[0]} {option[1]}")
    assert not (out / "manifest.csv").exists() and not list(out.rglob("*.png"))


def test_item04_second_writer_of_a_run_folder_is_refused(tmp_path, capsys):
    run_dir = tmp_path / "MICO_OCI-M-mp-s0"
    with FolderLock(run_dir, "run folder"):  # another train holds it
        assert cli(tiny(out=tmp_path)) == 1
    one_error_line(capsys.readouterr().err, "in use by another process", str(run_dir))
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing written
    # a holder killed with SIGKILL frees the folder (resume keeps working)
    hold = (f"import time; from mpfas_lib.files import FolderLock; lock = FolderLock("
            f"{str(run_dir)!r}).acquire(); print('held', flush=True); time.sleep(60)")
    holder = subprocess.Popen(
        [sys.executable, "-c", hold],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=f"pid {holder.pid}"):
            FolderLock(run_dir).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    FolderLock(run_dir).acquire().release()


def test_item05_truncated_video_is_sampled_where_it_decodes_and_reported(oulu, capsys):
    root, out, run = oulu
    cut = video(root / "Train_files" / "1_1_02_1.avi", frames=20, noise=True)
    data = cut.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert run() == 0
    err = capsys.readouterr().err
    assert "warning: truncated video Train_files/1_1_02_1.avi: only" in err
    row = manifest(out)["Train_files/1_1_02_1"]
    assert row["status"] == "truncated" and row["frames"] == "3"
    done = json.loads((out / "Train_files" / "1_1_02_1" / ".done").read_text())
    assert done["announced"] == 20 and done["decodable"] < 20
    assert all(int(f[:5]) < done["decodable"] for f in row["files"].split(";"))


def test_item06_out_that_is_a_file_or_unwritable_is_one_line(oulu, tmp_path, monkeypatch,
                                                             capsys):
    root, _, run = oulu
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert run(dest=a_file) == 2
    one_error_line(capsys.readouterr().err, "--out", "is a file")
    assert cli(["index", "--dataset", "O", "--root", str(root), "--out", str(tmp_path)]) == 2
    one_error_line(capsys.readouterr().err, "--out", "is a folder")

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(files.tempfile, "mkstemp", denied)
    assert run(dest=tmp_path / "locked" / "O") == 2
    one_error_line(capsys.readouterr().err, "--out", "not a writable folder", "Permission")
    assert cli(["index", "--dataset", "O", "--root", str(root), "--out",
                str(tmp_path / "locked" / "o.csv")]) == 2
    one_error_line(capsys.readouterr().err, "not a writable folder")


def test_item06_read_only_filesystem_out(oulu, tmp_path, capsys):
    _, _, run = oulu
    with small_fs(tmp_path / "ro", "64k", read_only=True) as ro:
        assert run(dest=ro / "O") == 2
        one_error_line(capsys.readouterr().err, "--out", "not a writable folder")


def test_item07_limit_keeps_the_manifest_and_an_empty_done_is_redone(oulu, capsys):
    _, out, run = oulu
    assert run() == 0
    assert run("--limit", "1") == 0
    assert set(manifest(out)) == {"Train_files/1_1_01_1", "Train_files/1_1_01_2"}
    done = out / "Train_files" / "1_1_01_2" / ".done"
    done.write_text("")
    capsys.readouterr()
    assert run() == 0
    captured = capsys.readouterr()
    assert f"warning: {done} is empty or not valid JSON" in captured.err
    assert "(1 already done)" in captured.out
    assert json.loads(done.read_text())["frames"] == 3


def test_item08_prepare_errors_go_to_stderr_and_fail_the_exit_code(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.setattr("mpfas_lib.data.prepare.FaceCropper", CentreCropper)
    root = tmp_path / "src" / "Train_files"
    root.mkdir(parents=True)
    for name in ("1_1_01_1.avi", "1_1_01_2.avi"):
        (root / name).write_bytes(b"RIFF0000AVI not a video")
    assert cli(["prepare", "--dataset", "O", "--root", str(tmp_path / "src"), "--out",
                str(tmp_path / "O"), "--device", "cpu", "--size", "32"]) == 1
    captured = capsys.readouterr()
    assert "error:" not in captured.out and "unreadable" not in captured.out
    assert "error: 2 of 2 videos failed" in captured.err


def test_item09_non_finite_lr_is_refused_and_results_are_strict_json(tmp_path, monkeypatch,
                                                                     capsys):
    for value in ("nan", "inf", "-inf"):
        assert cli(tiny("--set", f"lr={value}", out=tmp_path)) == 2
        one_error_line(capsys.readouterr().err, "lr", "finite")
    assert not any(tmp_path.iterdir())
    assert jsonable({"a": [float("nan"), 1.0], "b": float("inf")}) == {"a": [None, 1.0],
                                                                         "b": None}
    # a loss that breaks before the first checkpoint: no false "checkpoint kept" claim
    import mpfas_lib.training.build as build

    real = build.hfn_loss
    monkeypatch.setattr(build, "hfn_loss", lambda out, labels: real(out, labels) * float("nan"))
    logged: list[str] = []
    cfg = build_config(profile="quick", overrides={**TINY, "iterations": "1"})
    with pytest.raises(NonFiniteLossError):
        run_training(cfg, out=tmp_path, log=logged.append)
    assert "no checkpoint had been written yet" in logged[-1] and "kept at" not in logged[-1]
    text = (tmp_path / cfg.name() / "results.json").read_text()

    def strict(name: str) -> None:
        raise ValueError(f"non-standard JSON constant {name}")

    assert json.loads(text, parse_constant=strict)["status"] == "failed"


@pytest.mark.parametrize("device", ["bogus", "cuda:99"])
def test_item10_unusable_device_is_one_line(tmp_path, capsys, device):
    assert cli(tiny("--device", device, out=tmp_path)) == 2
    one_error_line(capsys.readouterr().err, f"--device {device}")
    assert cli(["evaluate", "--checkpoint", str(tmp_path / "x.pt"), "--device", device]) == 2
    one_error_line(capsys.readouterr().err, f"--device {device}")


def test_item10_prepare_checks_the_device_first(oulu, capsys):
    _, out, run = oulu
    assert run("--device", "bogus") == 2
    one_error_line(capsys.readouterr().err, "--device bogus")
    assert not (out / "manifest.csv").exists()


def test_debug_flag_adds_the_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPFAS_DEBUG", "0")  # restored after the test: --debug sets it
    assert cli(["--debug", "evaluate", "--checkpoint", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("error: checkpoint")


def test_item10_cuda_without_a_gpu_is_one_line(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: --device cuda is valid here")
    assert cli(tiny("--device", "cuda", out=tmp_path)) == 2
    one_error_line(capsys.readouterr().err, "--device cuda", "no CUDA GPU")


def test_item11_resume_without_checkpoint_refused_and_default_run_name_accepted(tmp_path,
                                                                               capsys):
    assert cli(tiny("--resume", out=tmp_path)) == 2
    one_error_line(capsys.readouterr().err, "--resume", "no checkpoint at", "--out", "--seed")
    assert not (tmp_path / "MICO_OCI-M-mp-s0" / "results.json").exists()
    assert cli(tiny("--resume", out=tmp_path / "typo")) == 2  # a mistyped --out ...
    assert not (tmp_path / "typo").exists()  # ... is refused without being made
    saved = build_config(profile="quick", overrides=TINY)
    named = build_config(profile="quick", overrides={**TINY, "run_name": saved.name()})
    check_resumable(named, saved.to_dict(), tmp_path / "checkpoint.pt")  # no change
    other = build_config(profile="quick", overrides={**TINY, "lr": "0.5"})
    with pytest.raises(ValueError, match="profile.lr"):
        check_resumable(other, saved.to_dict(), tmp_path / "checkpoint.pt")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch, on the foreign pickle
def test_item12_pretrained_payload_and_missing_imagenet_weights(tmp_path, monkeypatch, capsys):
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(Payload()))
    assert cli(tiny("--set", f"pretrained={evil}", out=tmp_path / "runs")) == 2
    one_error_line(capsys.readouterr().err, "pretrained")
    from mpfas_lib.models.backbones import PretrainedWeightsError, read_state_dict

    with pytest.raises(PretrainedWeightsError, match="evil.pt"):
        read_state_dict(evil)
    assert not marker.exists()

    def no_network(*args, **kwargs):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_network)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("MPFAS_IMAGENET_WEIGHTS", raising=False)
    args = ["train", "--profile", "full-smoke", "--set", "pretrained=imagenet", "--out",
            str(tmp_path / "runs")]
    assert cli(args) == 2
    one_error_line(capsys.readouterr().err, "resnet50-0676ba61.pth", "weights --download")
    assert not (tmp_path / "torch").exists()


def test_item13_full_disk_while_saving_a_checkpoint(tmp_path, monkeypatch):
    path = atomic_save({"w": torch.zeros(4)}, tmp_path / "checkpoint.pt")
    real_fdopen = os.fdopen

    class FillsUp:
        def __init__(self, handle):
            self.handle, self.written = handle, 0

        def write(self, data):
            self.written += len(data)
            if self.written > 4096:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.handle.write(data)

        def __getattr__(self, name):
            return getattr(self.handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

    monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: FillsUp(real_fdopen(*a, **k)))
    with pytest.raises(OSError) as caught:
        atomic_save({"w": torch.ones(100_000)}, path)
    assert caught.value.errno == errno.ENOSPC and str(path) == caught.value.filename
    monkeypatch.undo()
    assert load_checkpoint(path)["w"].sum() == 0  # the previous checkpoint is intact
    assert not list(tmp_path.glob(".*.tmp"))
    from mpfas_lib.__main__ import error_line

    line, code = error_line(caught.value)
    assert code == 1 and "No space left" in line and "free some space" in line


def test_item13_checkpoint_on_a_real_full_filesystem(tmp_path):
    with small_fs(tmp_path / "small", "256k") as small:
        path = atomic_save({"w": torch.zeros(4)}, small / "checkpoint.pt")
        with pytest.raises(OSError) as caught:
            atomic_save({"w": torch.ones(200_000)}, path)  # 800 kB
        assert caught.value.errno == errno.ENOSPC
        assert load_checkpoint(path)["w"].sum() == 0
        assert not list(small.glob(".*.tmp"))


@pytest.mark.parametrize("name", ["../../elsewhere", "a/b", "..", ".hidden", " "])
def test_item14_run_name_cannot_leave_out(tmp_path, capsys, name):
    with pytest.raises(ValueError, match="run_name"):
        build_config(profile="quick", overrides={**TINY, "run_name": name})
    assert cli(tiny("--set", f"run_name={name}", out=tmp_path / "out")) == 2
    one_error_line(capsys.readouterr().err, "run_name", "inside --out")
    assert not any(tmp_path.iterdir())


def test_item15_synthetic_data_with_root_is_refused(tmp_path, capsys):
    root = tmp_path / "datasets"
    root.mkdir()
    assert cli(tiny("--data", "synthetic", "--root", str(root), out=tmp_path / "out")) == 2
    one_error_line(capsys.readouterr().err, "root", "drop --root")
    assert not any(root.iterdir())


def test_item16_evaluate_a_run_folder_names_the_files_to_pass(tmp_path, capsys):
    assert cli(["evaluate", "--checkpoint", str(tmp_path)]) == 2
    one_error_line(capsys.readouterr().err, "is a folder", "model_best.pt", "checkpoint.pt")


@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_item17_unusable_cache_names_the_variable(tmp_path, monkeypatch, capsys, kind):
    target = tmp_path / "cache"
    if kind == "file":
        target.write_text("x")
    else:
        target.mkdir()
        monkeypatch.setattr(files.os, "access", lambda *a, **k: False)
    monkeypatch.setenv("MPFAS_CACHE", str(target))
    with pytest.raises(UserError, match=r"\$MPFAS_CACHE"):
        cache_dir()
    assert cli(tiny(out=tmp_path / "out")) == 2
    one_error_line(capsys.readouterr().err, "$MPFAS_CACHE")


def test_item18_corrupt_cached_videos_are_found_and_generated_again(tmp_path, capsys):
    bench = synthetic.SyntheticBenchmark(16, 2, 2, seed=0, root=tmp_path)
    specs = bench.videos("M")[:3]
    bench.ensure(specs, progress=False)
    first = [np.load(bench.video_path(s))["frames"] for s in specs]
    cut, flipped = bench.video_path(specs[0]), bench.video_path(specs[1])
    cut.write_bytes(cut.read_bytes()[:300])
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x10  # one bit inside the pixels
    flipped.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=str(cut)):  # a direct read names the file
        NpzVideoLoader()(FrameRecord(str(cut), 1, "live", "M", "v", 0, "all"))
    synthetic._VERIFIED.clear()  # a new process
    fresh = synthetic.SyntheticBenchmark(16, 2, 2, seed=0, root=tmp_path)
    assert [fresh.is_cached(s) for s in specs] == [False, False, True]
    fresh.ensure(specs, progress=False)
    assert "2 cached synthetic video(s) are truncated or altered" in capsys.readouterr().err
    for spec, frames in zip(specs, first, strict=True):
        assert fresh.is_cached(spec)
        np.testing.assert_array_equal(np.load(fresh.video_path(spec))["frames"], frames)


def test_item19_killed_synthetic_writers_leave_no_temporary_files(tmp_path):
    bench = synthetic.SyntheticBenchmark(16, 2, 2, seed=0, root=tmp_path)
    specs = bench.videos("M")[:2]
    folder = bench.video_path(specs[0]).parent
    folder.mkdir(parents=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = folder / f"{bench.video_path(specs[0]).stem}.{gone.stdout.strip()}.tmp.npz"
    live = folder / f"{bench.video_path(specs[1]).stem}.{os.getppid()}.tmp.npz"
    for tmp in (dead, live):
        tmp.write_bytes(b"half a file")
    bench.ensure(specs, progress=False)
    assert not dead.exists() and live.exists()  # a running writer's file is left to it
    assert all(bench.is_cached(s) for s in specs)


def test_item19_orphaned_temporary_files_are_removed_on_start(tmp_path, monkeypatch):
    import mpfas_lib.training.loop as loop

    run_dir = tmp_path / "MICO_OCI-M-mp-s0"
    run_dir.mkdir()
    orphans = [run_dir / ".checkpoint.pt.k2j3.tmp", run_dir / ".results.json.x9.tmp"]
    for orphan in orphans:
        orphan.write_bytes(b"half a file")
    atomic_write_text("{}", run_dir / "keep.json")
    seen = {}
    monkeypatch.setattr(loop, "_train", lambda *args: seen.update(
        left=sorted(p.name for p in run_dir.iterdir())) or {})
    run_training(build_config(profile="quick", overrides=TINY), out=tmp_path)
    assert seen["left"] == [".lock", "keep.json"]
