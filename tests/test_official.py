"""The authors'-code configuration (``--config official.toml``), item by item (chapter 10).

Each item is also an option of the paper-faithful default, checked here by switching it on
alone. Nothing needs the ImageNet file: a stand-in state dict plays its part.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torchvision
from standins import TinyPhi, TinyTheta, tiny_config, tiny_loss

from mpfas_lib.data.datasets import evaluation_frames, evenly_spaced
from mpfas_lib.evaluation.selection import select
from mpfas_lib.models.backbones import WEIGHTS_ENV, imagenet_file_name
from mpfas_lib.models.hfn import IMAGENET_MEAN, IMAGENET_STD
from mpfas_lib.profile import get_profile
from mpfas_lib.training.artefacts import check_resumable
from mpfas_lib.training.build import build_data
from mpfas_lib.training.config import build_config
from mpfas_lib.training.loop import run_training
from mpfas_lib.training.methods import build_models, build_theta, get_method
from mpfas_lib.training.trainer import Trainer

TINY = {"image_size": "32", "synth_subjects": "4", "synth_frames": "4", "threads": "1",
        "tensorboard": "false", "progress": "false"}


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test generates its tiny synthetic data in its own cache."""
    monkeypatch.setenv("MPFAS_CACHE", str(tmp_path / "cache"))


def official(tmp_path: Path, **settings: str):
    """The authors' configuration at a tiny quick profile, its data generated under tmp_path."""
    return build_config(config_file="official.toml", profile="quick",
                        overrides={**TINY, **settings})


def ours(tmp_path: Path, **settings: str):
    """The paper-faithful default at the same size."""
    return build_config(method="mp", profile="quick", overrides={**TINY, **settings})


def frames_by_video(dataset) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in dataset.records:
        out.setdefault(r.video_id, []).append(r.frame)
    return {v: sorted(f) for v, f in out.items()}


def test_the_configuration_names_every_item() -> None:
    config = build_config(config_file="official.toml", profile="quick")
    m = config.method
    assert m == get_method("mp-official") and config.scope == "all"
    assert (m.train_frames, m.frame_spacing, m.hflip) == (2, "ends", 0.5)
    assert (m.rgb_norm, m.rgb_order, m.map_norm) == ("none", "bgr", "imagenet")
    assert m.selection == "target_frame_min_hter"
    default = build_config(method="mp", profile="quick")
    assert default.scope == "splits"
    assert (default.method.train_frames, default.method.frame_spacing, default.method.hflip,
            default.method.rgb_order, default.method.selection) == (
        0, "centred", 0.0, "rgb", "source_val")
    # every item is an option of the default too
    mixed = build_config(method="mp", profile="quick", overrides={
        "train_frames": "2", "frame_spacing": "ends", "hflip": "0.5", "rgb_order": "bgr",
        "scope": "all", "selection": "target_frame_min_hter"})
    assert mixed.method.mode == "paper" and mixed.scope == "all"
    with pytest.raises(ValueError, match="scope"):
        build_config(method="mp", overrides={"scope": "everything"})
    with pytest.raises(ValueError, match="hflip"):
        build_config(method="mp", overrides={"hflip": "1.5"})
    with pytest.raises(ValueError, match="frame_spacing"):
        build_config(method="mp", overrides={"frame_spacing": "random"})


def test_imagenet_initialises_both_streams(tmp_path: Path, monkeypatch) -> None:
    """Full profile: both trunks start from the (stand-in) ImageNet file, read offline."""
    torch.manual_seed(0)
    standin = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(standin, tmp_path / imagenet_file_name("resnet18"))
    monkeypatch.setenv(WEIGHTS_ENV, str(tmp_path))
    config = build_config(config_file="official.toml", profile="full")
    assert config.profile.pretrained == "imagenet"
    small = config.replace(profile=config.profile.replace(backbone="resnet18", image_size=32))
    _, theta = build_models(small.method, small.profile)
    for stream in ("rgb", "map"):
        trunk = theta.trunks[stream].state_dict()
        assert all(torch.equal(trunk[k], standin[k]) for k in trunk), stream
    # the paper-faithful default uses the same initialisation at the full profile
    assert build_config(method="mp", profile="full").profile.pretrained == "imagenet"


def test_two_training_frames_with_the_end_frames(tmp_path: Path) -> None:
    assert evenly_spaced(10, 2, "ends") == [0, 9] and evenly_spaced(10, 2) == [2, 7]
    assert evenly_spaced(8, 3, "ends") == [0, 3, 7]  # numpy.linspace(0, 7, 3, dtype=int)
    theirs = build_data(official(tmp_path))
    mine = build_data(ours(tmp_path))
    for d in theirs.sources:
        assert set(map(tuple, frames_by_video(theirs.sources[d]).values())) == {(0, 3)}
        assert set(map(tuple, frames_by_video(mine.sources[d]).values())) == {(0, 1, 2, 3)}
    # test-time frames follow the same spacing (eval_frames = 2 of 4)
    target = evaluation_frames(theirs.target, 2, "ends")
    assert set(map(tuple, frames_by_video(target).values())) == {(0, 3)}
    target = evaluation_frames(mine.target, 2)
    assert set(map(tuple, frames_by_video(target).values())) == {(1, 3)}  # centred


class _Fixed:
    """A batch source that always returns the same asymmetric images."""

    def __init__(self) -> None:
        self.images = torch.arange(8 * 3 * 4 * 4, dtype=torch.float32).view(8, 3, 4, 4)

    def batch(self, domains):
        return self.images.clone(), torch.tensor([1, 1, 1, 1, 0, 0, 0, 0]), list(domains) * 8


def _trainer(hflip: float, seed: int = 0) -> Trainer:
    return Trainer(tiny_config(mode="official", k=4, lr=1e-3, seed=seed, hflip=hflip),
                   TinyPhi(), TinyTheta(), _Fixed(), ["A"], loss_fn=tiny_loss)


def test_random_horizontal_flips_are_reproducible_and_resumable() -> None:
    original = _Fixed().images
    assert torch.equal(_trainer(0.0).sample(["A"])[0], original)
    trainer = _trainer(0.5)
    flipped = []
    for _ in range(50):
        images = trainer.sample(["A"])[0]
        for img, orig in zip(images, original, strict=True):
            assert torch.equal(img, orig) or torch.equal(img, orig.flip(-1))
            flipped.append(not torch.equal(img, orig))
    assert 0.4 < sum(flipped) / len(flipped) < 0.6  # 400 draws at p = 0.5
    a, b = _trainer(0.5, seed=3), _trainer(0.5, seed=3)
    assert torch.equal(a.sample(["A"])[0], b.sample(["A"])[0])
    state = a.state_dict()
    resumed = _trainer(0.5, seed=3)
    resumed.load_state_dict(state)
    assert torch.equal(a.sample(["A"])[0], resumed.sample(["A"])[0])


def test_rgb_stream_gets_raw_bgr_and_the_pattern_imagenet_statistics() -> None:
    theta = build_theta(get_method("mp-official"), get_profile("quick"))
    x = torch.rand(2, 3, 8, 8)
    assert torch.equal(theta.norms["rgb"](x), x.flip(1))
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(theta.norms["map"](x), (x - mean) / std)
    paper = build_theta(get_method("mp"), get_profile("quick"))
    assert torch.allclose(paper.norms["rgb"](x), (x - mean) / std)
    bgr = build_theta(get_method("mp").replace(rgb_order="bgr"), get_profile("quick"))
    assert torch.allclose(bgr.norms["rgb"](x), (x.flip(1) - mean) / std)


def test_scope_all_uses_every_video_of_sources_and_target(tmp_path: Path) -> None:
    theirs, mine = build_data(official(tmp_path)), build_data(ours(tmp_path))
    assert theirs.source_val == {} and set(mine.source_val) == set(mine.sources)

    def videos(ds) -> set[str]:
        return set(ds.video_ids)

    for d in mine.sources:
        everything = videos(mine.sources[d]) | videos(mine.source_val[d])
        assert videos(theirs.sources[d]) > everything  # + the source's test subjects
        assert not videos(mine.sources[d]) & videos(mine.source_val[d])
    assert videos(theirs.target) > videos(mine.target)


def _evaluation(iteration: int, frame_min: float, video_eer_hter: float) -> dict:
    return {"iteration": iteration,
            "target": {"frame": {"hter_min": frame_min},
                       "video": {"hter_target_eer": video_eer_hter}}}


def test_checkpoint_rule_is_the_target_frame_level_min_hter_first_on_ties() -> None:
    history = [_evaluation(1, 9.0, 5.0), _evaluation(2, 4.0, 8.0), _evaluation(3, 4.0, 2.0)]
    assert select(history, "target_frame_min_hter")["iteration"] == 2
    assert select(history, "target_oracle")["iteration"] == 3


def test_authors_configuration_trains_end_to_end(tmp_path: Path) -> None:
    config = official(tmp_path / "data", iterations="2", eval_every="1")
    results = run_training(config, out=tmp_path / "runs", log=lambda *_: None)
    assert results["status"] == "completed"
    assert results["selection"] == "target_frame_min_hter"
    history = results["history"]
    assert len(history) == 2 and all("source_val" not in h for h in history)
    best = min(history, key=lambda h: h["target"]["frame"]["hter_min"])
    assert results["metrics"]["target_frame_min_hter"]["iteration"] == best["iteration"]
    saved = json.loads((tmp_path / "runs" / config.name() / "results.json").read_text())
    assert saved["provenance"]["config"]["scope"] == "all"
    assert "hter_source" not in saved["metrics"]["last"]["target"]["video"]


def test_results_made_before_a_setting_existed_are_checked_against_its_default(
        tmp_path: Path) -> None:
    """A run saved without the new keys used their defaults: reusing it for mp-official fails."""
    for name, stale in (("mp", False), ("mp-official", True)):
        config = build_config(method=name, profile="quick")
        saved = config.to_dict()
        for key in ("train_frames", "frame_spacing", "hflip", "rgb_order"):
            del saved["method"][key]
        del saved["scope"]
        if stale:
            with pytest.raises(ValueError, match="method.train_frames"):
                check_resumable(config, saved, tmp_path / "results.json")
        else:
            check_resumable(config, saved, tmp_path / "results.json")
