"""Index: labels, splits and subjects from each dataset's own naming scheme; unknown names fail."""

from __future__ import annotations

import argparse

import pytest

from mpfas_lib.data.index import (
    NamingError,
    add_arguments,
    index_tree,
    main,
    parse,
    read_index,
)

TREES = {
    "oulu": {
        "Train_files/1_1_01_1.avi": (0, "live", "01", "train"),
        "Train_files/2_3_05_2.avi": (1, "print", "05", "train"),
        "Dev_files/6_2_21_3.avi": (1, "print", "21", "val"),
        "Test_files/4_3_36_4.avi": (2, "replay", "36", "test"),
        "Test_files/5_1_55_5.avi": (2, "replay", "55", "test"),
    },
    "casia": {
        "train_release/1/1.avi": (0, "live", "1", "train"),
        "train_release/1/2.avi": (0, "live", "1", "train"),
        "train_release/1/HR_1.avi": (0, "live", "1", "train"),
        "train_release/3/3.avi": (1, "print-warped", "3", "train"),
        "train_release/3/HR_2.avi": (1, "print-warped", "3", "train"),
        "test_release/7/6.avi": (1, "print-cut", "7", "test"),
        "test_release/7/HR_3.avi": (1, "print-cut", "7", "test"),
        "test_release/9/8.avi": (2, "replay", "9", "test"),
        "test_release/9/HR_4.avi": (2, "replay", "9", "test"),
    },
    "replay": {
        "train/real/client001_session01_webcam_authenticate_adverse_1.mov":
            (0, "live", "001", "train"),
        "devel/real/client003_session01_webcam_authenticate_controlled_2.mov":
            (0, "live", "003", "val"),
        "enroll/train/client001_session01_webcam_enroll_controlled.mov":
            (0, "live", "001", "enroll"),
        "train/attack/fixed/attack_print_client001_session01_highdef_photo_adverse.mov":
            (1, "print", "001", "train"),
        "test/attack/hand/attack_highdef_client020_session01_highdef_video_adverse.mov":
            (2, "replay", "020", "test"),
        "test/attack/hand/attack_mobile_client020_session01_mobile_photo_controlled.mov":
            (2, "replay", "020", "test"),
    },
    "msu": {
        "scene01/real/real_client001_android_SD_scene01.mp4": (0, "live", "001", "test"),
        "scene01/real/real_client002_laptop_SD_scene01.mov": (0, "live", "002", "train"),
        "scene01/attack/attack_client001_android_SD_printed_photo_scene01.mp4":
            (1, "print", "001", "test"),
        "scene01/attack/attack_client005_laptop_SD_iphone_video_scene01.mov":
            (2, "replay", "005", "train"),
        "scene01/attack/attack_client053_laptop_SD_ipad_video_scene01.mov":
            (2, "replay", "053", "train"),
    },
    "rose": {
        "train/9/G_NT_HS_g_E_9_1.mp4": (0, "live", "9", "train"),
        "train/9/Ps_NT_HW_wg_E_9_2.mp4": (1, "print", "9", "train"),
        "train/9/Pq_T_IP_g_E_9_3.mp4": (1, "print", "9", "train"),
        "train/9/Vm_NT_ZTE_wg_E_15_153.mp4": (2, "replay", "9", "train"),
        "test/12/Vl_NT_5s_g_E_12_4.mp4": (2, "replay", "12", "test"),
        "test/12/Mc_NT_5s_g_E_12_5.mp4": (1, "mask-cut", "12", "test"),
        "test/12/Mf_NT_HS_g_E_12_6.mp4": (1, "mask", "12", "test"),
        "test/12/Mu_NT_HW_g_E_12_7.mp4": (1, "mask-upper", "12", "test"),
    },
}


def _tree(root, names) -> None:
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


@pytest.mark.parametrize("dataset", sorted(TREES))
def test_index_original_tree(tmp_path, dataset: str) -> None:
    _tree(tmp_path, TREES[dataset])
    got = {e.path: (e.label, e.attack, e.subject, e.split) for e in index_tree(dataset, tmp_path)}
    assert got == TREES[dataset]


@pytest.mark.parametrize("dataset", sorted(TREES))
def test_index_prepared_tree(tmp_path, dataset: str) -> None:
    """A prepared tree has one frame folder per video, named like the video without extension."""
    for name in TREES[dataset]:
        folder = tmp_path / name.rsplit(".", 1)[0]
        folder.mkdir(parents=True)
        (folder / "0000.png").write_bytes(b"")
    got = {e.path: e.label for e in index_tree(dataset, tmp_path)}
    assert got == {k.rsplit(".", 1)[0]: v[0] for k, v in TREES[dataset].items()}


def test_conditions() -> None:
    e = parse("O", "Test_files/4_3_36_5.avi")
    assert e.conditions == {"phone": "4", "session": "3", "display": "2"}
    e = parse("casia", "train_release/3/HR_2.avi")
    assert e.conditions["quality"] == "high"
    e = parse("replay", "test/attack/hand/attack_highdef_client020_session01_highdef_video_"
                        "adverse.mov")
    assert e.conditions == {"light": "adverse", "session": "01", "device": "highdef",
                            "medium": "video", "support": "hand"}
    assert parse("rose", "train/9/Vm_NT_ZTE_wg_E_15_153.mp4").conditions["phone"] == "ZTE"


@pytest.mark.parametrize("dataset,bad", [
    ("oulu", "Train_files/1_1_01_6.avi"),
    ("oulu", "Other/1_1_01_1.avi"),
    ("casia", "train_release/1/9.avi"),
    ("replay", "train/attack/hand/attack_laser_client001_session01_x_photo_adverse.mov"),
    ("msu", "scene01/real/real_client001_android_SD_printed_photo_scene01.mp4"),
    ("msu", "scene01/real/real_client999_android_SD_scene01.mp4"),
    ("rose", "train/9/Xx_NT_HS_g_E_9_1.mp4"),
])
def test_unknown_names_are_rejected_naming_the_file(dataset: str, bad: str) -> None:
    with pytest.raises(NamingError, match=bad.split("/")[-1].split(".")[0]):
        parse(dataset, bad)


def test_tree_error_lists_the_bad_file_and_msu_lists_in_tree(tmp_path) -> None:
    _tree(tmp_path, ["scene01/real/real_client001_android_SD_scene01.mp4",
                     "scene01/real/real_client777_android_SD_scene01.mp4"])
    with pytest.raises(NamingError, match="client777"):
        index_tree("msu", tmp_path)
    (tmp_path / "train_sub_list.txt").write_text("777\n")
    (tmp_path / "test_sub_list.txt").write_text("001\n")
    splits = {e.subject: e.split for e in index_tree("M", tmp_path)}
    assert splits == {"001": "test", "777": "train"}


def test_cli_writes_csv(tmp_path, capsys) -> None:
    _tree(tmp_path / "oulu", TREES["oulu"])
    p = argparse.ArgumentParser()
    add_arguments(p)
    out = tmp_path / "o.csv"
    assert main(p.parse_args(["--dataset", "oulu", "--root", str(tmp_path / "oulu"),
                              "--out", str(out)])) == 0
    rows = read_index(out)
    assert len(rows) == 5 and {r.label for r in rows} == {0, 1, 2}
    assert main(p.parse_args(["--dataset", "nope", "--root", str(tmp_path), "--out",
                              str(out)])) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_rose_subject_folders_may_be_decorated(tmp_path, capsys) -> None:
    """Real ROSE-YOUTU trees name subject folders like ``_13``: the digits are the subject."""
    tree = {"test/_13/G_NT_5s_g_E_4_1.mp4": (0, "live", "13", "test"),
            "test/_13/Vm_NT_HS_wg_E_13_9.mp4": (2, "replay", "13", "test"),
            "train/s07/Mf_T_IP_g_E_7_2.mp4": (1, "mask", "07", "train")}
    _tree(tmp_path / "rose", tree)
    got = {e.path: (e.label, e.attack, e.subject, e.split)
           for e in index_tree("rose", tmp_path / "rose")}
    assert got == tree
    p = argparse.ArgumentParser()
    add_arguments(p)
    out = tmp_path / "y.csv"
    assert main(p.parse_args(["--dataset", "rose-youtu", "--root", str(tmp_path / "rose"),
                              "--out", str(out)])) == 0
    assert {e.subject for e in read_index(out)} == {"13", "07"}
    for bad in ("test/_13/Xx_NT_5s_g_E_4_1.mp4", "test/_x/G_NT_5s_g_E_4_1.mp4"):
        with pytest.raises(NamingError, match=bad.split("/")[-1].split(".")[0]):
            parse("rose", bad)
