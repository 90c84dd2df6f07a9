"""Reliability, second pass, for the data and tool commands: one dataset per prepared folder,
nothing made or written before every check, bounded sizes and reports, weights read before
they are vouched for, and ``--debug`` on every command (issue 21; one test per item)."""

from __future__ import annotations

import errno
import importlib.util
import json
import os
import pickle
from pathlib import Path

import pytest
import test_reliability
from standins import imagenet_standin
from test_reliability import CentreCropper, manifest, one_error_line, video

from mpfas_lib.__main__ import main as cli
from mpfas_lib.data import prepare
from mpfas_lib.models.backbones import imagenet_file_name

REPO = Path(__file__).resolve().parent.parent
oulu = test_reliability.oulu  # the fixture: two OULU videos and a prepare command line


def prepare_msu(tmp_path: Path, out: Path) -> int:
    """Prepare a one-video MSU tree into ``out`` (refused before its video is read)."""
    msu = tmp_path / "msu" / "scene01" / "real"
    msu.mkdir(parents=True, exist_ok=True)
    (msu / "real_client001_android_SD_scene01.mp4").touch()
    return cli(["prepare", "--dataset", "msu", "--root", str(tmp_path / "msu"), "--out",
                str(out), "--device", "cpu"])


# ---- prepare

def test_item_d1_one_dataset_per_prepared_folder(oulu, tmp_path, capsys):
    _, out, run = oulu
    assert run() == 0
    assert {r["dataset"] for r in manifest(out).values()} == {"oulu"}
    assert json.loads((out / "Train_files" / "1_1_01_1" / ".done").read_text())["dataset"] == "oulu"
    before = (out / "manifest.csv").read_text()
    capsys.readouterr()
    assert prepare_msu(tmp_path, out) == 2
    one_error_line(capsys.readouterr().err, f"--out {out} holds oulu videos", "prepares msu",
                   "Train_files/1_1_01")
    assert (out / "manifest.csv").read_text() == before and not (out / "scene01").exists()
    # an interrupted first run (crops and .done written, no manifest yet) is seen too
    (out / "manifest.csv").unlink()
    assert prepare_msu(tmp_path, out) == 2
    one_error_line(capsys.readouterr().err, "holds oulu videos")
    assert run() == 0
    # an earlier version's records (no dataset column): judged by the videos' names
    rows = list(manifest(out).values())
    prepare.write_manifest([{k: v for k, v in r.items() if k != "dataset"} for r in rows],
                           out / "manifest.csv")
    for done in out.rglob(".done"):
        info = json.loads(done.read_text())
        info.pop("dataset")
        done.write_text(json.dumps(info))
    assert prepare_msu(tmp_path, out) == 2
    one_error_line(capsys.readouterr().err, "holds another dataset's videos", "prepares msu")
    assert run() == 0  # the same dataset is recognised by its names and goes on


def test_item_d2_prepare_makes_nothing_before_every_check_passed(oulu, capsys):
    root, out, run = oulu
    assert run("--size", "0") == 2
    one_error_line(capsys.readouterr().err, "--size 0")
    assert not out.parent.exists()  # the argument check made no --out (nor its parents)
    inside = root / "prepared"
    assert run(dest=inside) == 2  # its crops would be taken for videos by the next run
    one_error_line(capsys.readouterr().err, f"--out {inside} is inside --root {root}")
    assert not inside.exists()


@pytest.mark.parametrize("option, needle", [
    (("--size", "20000"), "--size 20000: the crop side must be 16 to 1024 pixels"),
    (("--margin", "50"), "--margin 50.0: must be a fraction of the face box side from 0 to 2"),
    (("--batch", "100000"), "--batch 100000: must be 1 to 256 frames"),
])
def test_item_d3_prepare_sizes_have_upper_bounds(oulu, capsys, option, needle):
    _, out, run = oulu
    assert run(*option) == 2
    one_error_line(capsys.readouterr().err, needle)
    assert not out.exists()


def test_item_d4_thousands_of_empty_videos_are_one_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("mpfas_lib.data.prepare.FaceCropper", CentreCropper)
    root = tmp_path / "src" / "Train_files"
    root.mkdir(parents=True)
    names = [f"{p}_{s}_{u:02d}_{f}.avi" for p in range(1, 7) for s in range(1, 4)
             for u in range(1, 33) for f in range(1, 6)][:2800]
    for name in names:
        (root / name).touch()
    out = tmp_path / "O"
    assert cli(["prepare", "--dataset", "O", "--root", str(tmp_path / "src"), "--out", str(out),
                "--device", "cpu", "--size", "32"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == prepare.MAX_LISTED + 1, err  # a few examples, then one summary
    assert err[0].startswith("error: unreadable video Train_files/")
    assert err[-1].startswith(f"error: 2800 of 2800 videos failed ({prepare.MAX_LISTED} listed "
                              f"above, all in {out / 'prepare.log'}")
    log = (out / "prepare.log").read_text().splitlines()
    assert len(log) == 2800 and all(line.startswith("error: unreadable video") for line in log)
    assert {r["status"] for r in manifest(out).values()} == {"unreadable"}


def test_item_d4_many_warnings_are_counted_and_logged(oulu, monkeypatch, capsys):
    root, out, run = oulu
    for u in range(2, 16):  # black videos: no face in any frame
        video(root / "Train_files" / f"1_1_{u:02d}_1.avi", frames=3)
    monkeypatch.setattr(CentreCropper, "__call__", lambda self, frames: [None] * len(frames))
    assert run() == 0
    err = capsys.readouterr().err.splitlines()
    warnings = [line for line in err if line.startswith("warning:")]
    assert len(warnings) == prepare.MAX_LISTED + 1
    assert warnings[-1] == f"warning: 6 more warning(s) in {out / 'prepare.log'}"
    assert len((out / "prepare.log").read_text().splitlines()) == 16
    monkeypatch.undo()  # faces again: nothing to report, and the stale log goes
    monkeypatch.setattr("mpfas_lib.data.prepare.FaceCropper", CentreCropper)
    assert run("--frames", "2", "--redo") == 0
    assert not (out / "prepare.log").exists()


# ---- index

def test_item_d5_index_out_inside_the_root_is_refused_before_writing(oulu, capsys):
    root, _, _ = oulu
    target = root / "Train_files" / "1_1_01_1.avi"
    data = target.read_bytes()
    assert cli(["index", "--dataset", "O", "--root", str(root), "--out", str(target)]) == 2
    one_error_line(capsys.readouterr().err, f"--out {target} is inside --root {root}")
    assert target.read_bytes() == data
    nested = root / "lists" / "index.csv"
    assert cli(["index", "--dataset", "O", "--root", str(root), "--out", str(nested)]) == 2
    one_error_line(capsys.readouterr().err, "is inside --root")
    assert not nested.parent.exists()
    beside = root.parent / "oulu-index.csv"  # next to the tree is fine
    assert cli(["index", "--dataset", "O", "--root", str(root), "--out", str(beside)]) == 0
    assert beside.read_text().count("\n") == 3


# ---- weights

def test_item_d6_weights_reads_and_checks_each_backbones_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    one = tmp_path / "any-name.pth"
    imagenet_standin("resnet50", one)
    monkeypatch.setenv("MPFAS_IMAGENET_WEIGHTS", str(one))  # one file named for every backbone
    assert cli(["weights"]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"resnet50: found {one} (read: its 318 tensors fit the resnet50 trunk)"]
    errors = captured.err.splitlines()
    assert [e.split(":")[1].strip() for e in errors] == ["resnet34", "resnet18"]
    for backbone, line in zip(("resnet34", "resnet18"), errors, strict=True):
        assert line.startswith(f"error: {backbone}: weights from {one} (for {backbone}) do not "
                               "match the trunk architecture"), line
        assert imagenet_file_name(backbone) in line and "MPFAS_IMAGENET_WEIGHTS" in line
    assert cli(["weights", "--backbone", "resnet50"]) == 0
    # a folder with each backbone's own file: every one fits
    folder = tmp_path / "weights"
    folder.mkdir()
    for backbone in ("resnet50", "resnet34", "resnet18"):
        imagenet_standin(backbone, folder / imagenet_file_name(backbone))
    monkeypatch.setenv("MPFAS_IMAGENET_WEIGHTS", str(folder))
    capsys.readouterr()
    assert cli(["weights"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch, on the foreign pickle
def test_item_d6_a_broken_or_hostile_weights_file_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for content, needle in ((b"", "the file is empty"), (b"not weights", "cannot load"),
                            (pickle.dumps(Payload()), "nothing in it ran")):
        bad = tmp_path / "bad.pth"
        bad.write_bytes(content)
        monkeypatch.setenv("MPFAS_IMAGENET_WEIGHTS", str(bad))
        assert cli(["weights", "--backbone", "resnet18"]) == 1
        one_error_line(capsys.readouterr().err, "resnet18:", str(bad), needle)
    assert not marker.exists()


# ---- gpu_check

def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check_script",
                                                  REPO / "scripts" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("budget", ["-1", "0", "nan", "inf", "-inf"])
def test_item_d7_gpu_check_refuses_a_budget_without_time(tmp_path, capsys, budget):
    out = tmp_path / "gpu"
    assert _gpu_check().main(["--device", "cpu", "--tiny", f"--budget-s={budget}",
                              "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # no section started, no table
    one_error_line(captured.err, f"--budget-s {float(budget):g}", "positive, finite")
    assert captured.err.count("\n") == 1 and not out.exists()


# ---- sweep

def test_item_d8_read_only_sweep_folder_is_one_line(tmp_path, monkeypatch, capsys):
    plan = tmp_path / "p.toml"
    plan.write_text('profile = "quick"\n[set]\nthreads = 1\n[[runs]]\n'
                    'protocols = ["MICO:OCI-M"]\nmethods = ["erm"]\nseeds = [0]\n')
    folder = tmp_path / "ro"
    folder.mkdir()
    real_open = Path.open

    def read_only(self, *args, **kwargs):
        if self.name == ".sweep.lock":
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", read_only)
    assert cli(["sweep", str(plan), "--out", str(folder)]) == 1
    one_error_line(capsys.readouterr().err, f"output folder {folder} cannot be used",
                   "Read-only file system", "choose another with --out")
    assert list(folder.iterdir()) == []


# ---- --debug

def _failing(tmp_path: Path) -> dict[str, list[str]]:
    """A command line per command that ends in a user error."""
    tree = tmp_path / "tree"
    tree.mkdir()
    return {
        "prepare": ["prepare", "--dataset", "nope", "--root", str(tree), "--out",
                    str(tmp_path / "O")],
        "index": ["index", "--dataset", "nope", "--root", str(tree), "--out",
                  str(tmp_path / "i.csv")],
        "train": ["train", "--profile", "quick", "--set", "no_such_setting=1", "--out",
                  str(tmp_path / "runs")],
        "evaluate": ["evaluate", "--checkpoint", str(tmp_path)],
        "weights": ["weights", "--backbone", "resnet18"],
        "sweep": ["sweep", str(tmp_path / "no-plan.toml")],
        "report": ["report", str(tmp_path / "no-plan.toml")],
        "student": ["student", "--sources", str(tree), "--out", str(tmp_path / "st")],
        "grade": ["grade", str(tmp_path / "no-submissions")],
    }


def _debug_cases() -> list:
    from mpfas_lib.__main__ import COMMANDS

    return list(COMMANDS)


@pytest.mark.parametrize("command", _debug_cases())
def test_item_d9_debug_shows_the_traceback_on_every_command(tmp_path, monkeypatch, capsys,
                                                             command):
    monkeypatch.setenv("MPFAS_DEBUG", "0")  # restored after the test: --debug sets it
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not weights")
    monkeypatch.setenv("MPFAS_IMAGENET_WEIGHTS", str(bad))
    argv = _failing(tmp_path)[command]
    assert cli(argv) != 0
    plain = capsys.readouterr().err
    assert "Traceback" not in plain and "error:" in plain
    assert cli(["--debug", *argv]) != 0
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err, err
    assert err.rstrip().splitlines()[-1].startswith("error:"), err


def test_item_d9_debug_placement_does_not_matter(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MPFAS_DEBUG", "0")
    argv = _failing(tmp_path)["sweep"]
    assert cli([*argv, "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err
