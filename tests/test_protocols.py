"""Protocols: leave-one-out domains, synthetic and prepared-real sources, clear errors."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from mpfas_lib.data.datasets import ListDataset, PreparedDataset
from mpfas_lib.data.protocols import PROTOCOLS, build_protocol
from mpfas_lib.profile import get_profile

TINY = get_profile("quick").replace(image_size=24, synth_subjects=4, synth_frames=1)


def test_protocol_table() -> None:
    assert len(PROTOCOLS) == 10
    for name, (sources, target) in PROTOCOLS.items():
        assert target not in sources and len(set(sources)) == len(sources)
        assert name.split(":")[1].endswith(target)
    with pytest.raises(ValueError, match="unknown protocol"):
        build_protocol("MICO:XYZ-Q", profile=TINY)


def test_synthetic_protocol(tmp_path) -> None:
    p = build_protocol("TWO:MI-C", "synthetic", TINY, root=tmp_path)
    assert p.target_domain == "C" and p.source_domains == ["M", "I"]
    assert set(p.source_val) == {"M", "I"}
    train_ids = {r.video_id.split("/")[1] for r in p.sources["M"].records}
    val_ids = {r.video_id.split("/")[1] for r in p.source_val["M"].records}
    assert train_ids and val_ids and not train_ids & val_ids
    assert {r.split for r in p.target.records} == {"test"}
    x, y, d, v = p.target[0]
    assert x.shape == (3, 24, 24) and d == "C"


def _prepared(root, domain: str, splits: tuple[str, ...] = ("train", "test")) -> None:
    """A prepared domain: two videos per split (one real, one print), two frames each."""
    base = root / domain
    rows = []
    for split in splits:
        for label in (0, 1):
            video = f"{split}/client{label}_video"
            (base / video).mkdir(parents=True)
            for f in range(2):
                img = np.full((8, 8, 3), 60 * label + 10 * f, np.uint8)
                cv2.imwrite(str(base / video / f"{f:04d}.png"), img)
            rows.append({"video": video, "label": label, "attack": ["live", "print"][label],
                         "split": split, "frames": 2, "subject": str(label)})
    with (base / "manifest.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_real_protocol_from_prepared_folders(tmp_path) -> None:
    for d in ("M", "I", "C"):
        _prepared(tmp_path, d, ("train", "val", "test") if d == "M" else ("train", "test"))
    p = build_protocol("TWO:MI-C", "real", TINY, root=tmp_path)
    x, y, d, v = p.sources["M"][0]
    assert x.shape == (3, 24, 24) and d == "M"
    assert sorted(set(p.sources["M"].labels)) == [0, 1]  # genuine = (raw label == 0)
    assert {r.split for r in p.source_val["M"].records} == {"val"}
    assert {r.split for r in p.source_val["I"].records} == {"test"}  # no val: source test
    live = [r for r in p.target.records if r.attack == "live"]
    assert live and all(r.label == 1 for r in live)


def test_missing_or_partial_real_data_is_explained(tmp_path) -> None:
    _prepared(tmp_path, "M")
    with pytest.raises(FileNotFoundError, match=r"domain\(s\) \['I', 'C'\].*manifest.csv"):
        build_protocol("TWO:MI-C", "real", TINY, root=tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_protocol("TWO:MI-C", "real", TINY, root=tmp_path / "nowhere")
    # a video folder listed in the manifest but emptied
    for f in (tmp_path / "M" / "train" / "client0_video").iterdir():
        f.unlink()
    with pytest.raises(FileNotFoundError, match="no frames in"):
        PreparedDataset(tmp_path, "M", "train")


def test_unreadable_image_names_the_file(tmp_path) -> None:
    _prepared(tmp_path, "M")
    bad = tmp_path / "M" / "train" / "client1_video" / "0000.png"
    bad.write_bytes(b"not a png")
    ds = PreparedDataset(tmp_path, "M", "train")
    i = next(i for i, r in enumerate(ds.records) if r.path_or_key == str(bad))
    with pytest.raises(OSError, match="0000.png"):
        ds[i]


def test_list_dataset(tmp_path) -> None:
    _prepared(tmp_path, "O")
    lst = tmp_path / "list.csv"
    lst.write_text("path,label\nO/train/client0_video,0\nO/train/client1_video/0001.png,2\n")
    ds = ListDataset(lst, root=tmp_path, domain="O", frames_per_video=1)
    assert len(ds) == 2 and ds.labels == [1, 0]
    assert [r.attack for r in ds.records] == ["live", "replay"]
    lst.write_text("O/missing.png,1\n")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        ListDataset(lst, root=tmp_path)
    lst.write_text("O/train/client0_video,7\n")
    with pytest.raises(ValueError, match="label 0/1/2"):
        ListDataset(lst, root=tmp_path)
