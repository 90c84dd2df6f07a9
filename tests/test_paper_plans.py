"""The paper's plans end to end on tiny raw trees in the real datasets' layouts: prepare, sweep
(with tiny overrides), report; and the checks a real-data sweep makes before any work."""

from __future__ import annotations

import csv

import pytest
from test_reliability import CentreCropper, one_error_line, video

from mpfas_lib.__main__ import main as cli
from mpfas_lib.evaluation.paper import TABLES
from mpfas_lib.training import plan as plans

# a few videos of each dataset the two-source plan reads, named as in each release
TREES = {
    "M": ("msu", ["scene01/real/real_client002_android_SD_scene01.mp4",
                  "scene01/attack/attack_client002_android_SD_printed_photo_scene01.mp4",
                  "scene01/real/real_client003_laptop_SD_scene01.mov",
                  "scene01/attack/attack_client003_laptop_SD_iphone_video_scene01.mov",
                  "scene01/real/real_client001_android_SD_scene01.mp4",
                  "scene01/attack/attack_client001_android_SD_printed_photo_scene01.mp4"]),
    "I": ("replay", [
        "train/real/client001_session01_webcam_authenticate_adverse_1.mov",
        "train/attack/fixed/attack_print_client001_session01_highdef_photo_adverse.mov",
        "train/real/client002_session01_webcam_authenticate_controlled_1.mov",
        "train/attack/hand/attack_mobile_client002_session01_mobile_photo_controlled.mov",
        "devel/real/client003_session01_webcam_authenticate_controlled_2.mov",
        "devel/attack/fixed/attack_print_client003_session01_highdef_photo_adverse.mov"]),
    "C": ("casia", ["test_release/7/1.avi", "test_release/7/3.avi", "test_release/9/2.avi",
                    "test_release/9/8.avi", "train_release/1/1.avi", "train_release/1/4.avi"]),
    "O": ("oulu", ["Test_files/1_1_36_1.avi", "Test_files/1_1_36_2.avi",
                   "Test_files/1_1_37_1.avi", "Test_files/1_1_37_4.avi",
                   "Train_files/1_1_01_1.avi", "Train_files/1_1_01_3.avi"]),
}
TINY = ["image_size=32", "iterations=2", "eval_every=1", "backbone=resnet18-w16",
        "pretrained=none", "batch_per_class=2", "eval_frames=2", "threads=1",
        "loader_workers=0", "device=cpu"]
PLAN = "paper-two-source"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The four datasets' tiny raw trees, prepared at 32 px (a stand-in for MTCNN)."""
    base = tmp_path_factory.mktemp("paper")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("mpfas_lib.data.prepare.FaceCropper", CentreCropper)
        for letter, (dataset, names) in TREES.items():
            raw = base / "raw" / dataset
            for name in names:
                video(raw / name, frames=4)
            assert cli(["prepare", "--dataset", dataset, "--root", str(raw), "--out",
                        str(base / "data" / letter), "--device", "cpu", "--frames", "2",
                        "--size", "32"]) == 0
    return base


def _sets(*extra: str) -> list[str]:
    return [a for s in (*TINY, *extra) for a in ("--set", s)]


def test_paper_plans_name_their_tables_and_fill_their_folders() -> None:
    for name, tables in (("paper-maps", ("I", "II")), ("paper-micy", ("III",)),
                         ("paper-two-source", ("IV",)), ("paper-ablations", ())):
        plan = plans.read_plan(name, root="/nowhere")
        assert plan.profile == "full" and plan.data == "real" and plan.paper == tables
        assert plan.out == f"full/{name}"
        for t in tables:
            assert f"Table {t}" in plan.description
            assert {c.protocol for c in plan.configs} <= set(TABLES[t].protocols)
    maps = plans.read_plan("paper-maps", root="/nowhere")
    assert len(maps.configs) == 5 * 4 * 3
    assert "Figs. 6-9" in plans.read_plan("paper-ablations", root="/nowhere").description


def test_sweep_refuses_bad_overrides_and_a_missing_root(capsys) -> None:
    assert cli(["sweep", PLAN, "--list"]) == 2
    one_error_line(capsys.readouterr().err, "trains on the real datasets", "--root")
    assert cli(["sweep", PLAN, "--root", "/nowhere", "--set", "seed=4", "--list"]) == 2
    one_error_line(capsys.readouterr().err, "--set seed=")
    assert cli(["sweep", PLAN, "--root", "/nowhere", "--set", "iterations=two"]) == 2
    one_error_line(capsys.readouterr().err, "--set", "iterations")


def test_prepare_sweep_report_end_to_end(prepared, tmp_path, capsys) -> None:
    data, out = prepared / "data", tmp_path / "runs"
    common = [PLAN, "--root", str(data), "--out", str(out)]
    assert cli(["sweep", *common, *_sets(), "--list", "--device-name", "NVIDIA H200"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("new ") == 6 and "not prepared" not in listing
    assert f"plan {PLAN}: 6 runs, 6 to train" in listing

    # every folder the runs need is checked before any work, each one named
    assert cli(["sweep", PLAN, "--root", str(tmp_path / "empty"), "--out", str(out),
                *_sets()]) == 2
    line = one_error_line(capsys.readouterr().err, "4 dataset folder(s) not prepared")
    assert all(f"{tmp_path / 'empty' / d} (no manifest.csv)" in line for d in "MICO")
    assert cli(["sweep", *common, *_sets("image_size=64")]) == 2
    one_error_line(capsys.readouterr().err, "prepared at 32 px, the runs need 64 px")
    assert not list(out.glob("*/results.json"))

    assert cli(["sweep", *common, *_sets(), "--limit", "2"]) == 0
    assert sorted(p.parent.name for p in out.glob("*/results.json")) == [
        "TWO_MI-C-mp-s0", "TWO_MI-O-mp-s0"]
    capsys.readouterr()
    report = ["report", *common, *_sets(), "--boot", "200", "--device-name", "NVIDIA H200"]
    assert cli(report) == 0
    md = (out / "report.md").read_text()
    assert "30.89 / 72.48" in md  # the paper's HFN+MP on M&I to C
    assert "HFN+MP (ours, real, full, thr=source)" in md and "(n=1 of 3)" in md
    assert "not run: 4 run(s)" in md and f"python -m mpfas_lib sweep {PLAN} --root" in md
    assert "source_val" in md and "thr=target_eer" in md
    with (out / "report.csv").open() as f:
        rows = list(csv.DictReader(f))
    ours = [r for r in rows if r["source"] == "ours" and r["metric"] == "hter_source"]
    assert {r["setting"] for r in ours} == {"MI-C", "MI-O"}
    assert all(r["n_seeds"] == "1" and 0 <= float(r["value"]) <= 100 for r in ours)
    print(md)  # shown with -s: the tiny end-to-end report
    first = md
    assert cli(report) == 0  # deterministic: the same report again
    assert (out / "report.md").read_text() == first
