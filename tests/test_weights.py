"""ImageNet initialisation is offline-safe: found locally, or one line saying how to get it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import pytest
from standins import imagenet_standin

from mpfas_lib.models import backbones as pre
from mpfas_lib.models import weights_cli
from mpfas_lib.models.backbones import PretrainedWeightsError, check_pretrained
from mpfas_lib.profile import get_profile
from mpfas_lib.training.config import build_config
from mpfas_lib.training.loop import run_training

REPO = Path(__file__).resolve().parent.parent
NAME = "resnet50-0676ba61.pth"


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torchvision cache and no $MPFAS_IMAGENET_WEIGHTS."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(pre.WEIGHTS_ENV, raising=False)
    return tmp_path / "torch" / "hub" / "checkpoints"


def test_full_profiles_start_from_imagenet_and_the_others_do_not() -> None:
    assert get_profile("full").pretrained == "imagenet"
    assert get_profile("full-smoke").pretrained is None  # a smoke run needs no download
    assert get_profile("quick").pretrained is None and get_profile("study").pretrained is None
    assert build_config(method="mp-official", profile="full").profile.pretrained == "imagenet"


def test_full_train_without_weights_exits_2_with_one_line_before_any_work(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
           "TORCH_HOME": str(tmp_path / "torch"), "MPFAS_CACHE": str(tmp_path / "cache")}
    env.pop(pre.WEIGHTS_ENV, None)
    done = subprocess.run([sys.executable, "-m", "mpfas_lib", "train", "--profile", "full",
                           "--out", str(tmp_path / "runs"), "--no-progress"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ImageNet weights for resnet50")
    for part in (NAME, str(tmp_path / "torch" / "hub" / "checkpoints"),
                 "python -m mpfas_lib weights --download", "--set pretrained=none"):
        assert part in lines[0]
    # Refused before any work: no data generated, no run folder made.
    assert not (tmp_path / "cache").exists() and not (tmp_path / "runs").exists()


def test_run_training_checks_before_generating_data(empty_cache: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def no_data(config):
        raise AssertionError("data generated before the weights check")

    monkeypatch.setattr("mpfas_lib.training.build.build_data", no_data)
    config = build_config(profile="full-smoke", device="cpu", overrides={"pretrained": "imagenet"})
    with pytest.raises(PretrainedWeightsError, match=NAME):
        run_training(config, out=tmp_path)


def test_pretrained_none_passes_the_check_and_trains(empty_cache: Path, tmp_path: Path) -> None:
    full = build_config(profile="full", overrides={"pretrained": "none"})
    assert full.profile.pretrained is None
    check_pretrained(full.profile.pretrained, full.profile.backbone)
    config = build_config(profile="quick", method="erm", overrides={
        "pretrained": "none", "image_size": "32", "synth_subjects": "4", "synth_frames": "2",
        "iterations": "2", "eval_every": "2", "tensorboard": "false", "progress": "false",
        "threads": "1"})
    results = run_training(config, out=tmp_path / "runs", log=lambda *_: None)
    assert results["status"] == "completed"


def test_weights_are_found_in_the_cache_or_at_the_env_path(empty_cache: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert pre.imagenet_weights_file("resnet50") is None
    empty_cache.mkdir(parents=True)
    (empty_cache / NAME).write_bytes(b"stand-in")
    assert pre.imagenet_weights_file("resnet50") == empty_cache / NAME
    folder = tmp_path / "mine"
    folder.mkdir()
    monkeypatch.setenv(pre.WEIGHTS_ENV, str(folder))  # the variable wins over the cache
    with pytest.raises(PretrainedWeightsError, match=f"MPFAS_IMAGENET_WEIGHTS={folder}"):
        check_pretrained("imagenet", "resnet50")
    (folder / NAME).write_bytes(b"stand-in")
    assert pre.imagenet_weights_file("resnet50") == folder / NAME
    with pytest.raises(PretrainedWeightsError, match="stand-in|not a checkpoint|cannot"):
        check_pretrained("imagenet", "resnet50")  # found, but it does not load: before any data
    single = tmp_path / "any-name.pth"
    imagenet_standin("resnet50", single)
    monkeypatch.setenv(pre.WEIGHTS_ENV, str(single))
    check_pretrained("imagenet", "resnet50")
    assert pre.imagenet_weights_file("resnet50") == single
    imagenet_standin("resnet18", single)  # another trunk's weights: refused by name and shape
    with pytest.raises(PretrainedWeightsError):
        check_pretrained("imagenet", "resnet50")


def test_imagenet_state_dict_never_downloads(empty_cache: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*args, **kwargs):
        raise AssertionError("downloaded outside the weights command")

    monkeypatch.setattr("torch.hub.load_state_dict_from_url", no_download)
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", no_download)
    with pytest.raises(PretrainedWeightsError, match="weights --download"):
        pre.imagenet_state_dict("resnet18")


def _run_weights(*argv: str) -> int:
    import argparse

    parser = argparse.ArgumentParser()
    weights_cli.add_arguments(parser)
    return weights_cli.main(parser.parse_args(list(argv)))


def test_weights_command_reports_each_backbone(empty_cache: Path, capsys) -> None:
    empty_cache.mkdir(parents=True)
    imagenet_standin("resnet50", empty_cache / NAME)
    assert _run_weights() == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"resnet50: found {empty_cache / NAME} (read: its 318 tensors fit the "
                      "resnet50 trunk)")
    assert out[1].startswith("resnet34: missing: put resnet34-") and len(out) == 3


def test_weights_download_uses_torchvision_and_fails_offline_in_one_line(
        empty_cache: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    calls = []

    def fake_download(url, *args, **kwargs):
        calls.append(url)
        empty_cache.mkdir(parents=True, exist_ok=True)
        imagenet_standin("resnet50", empty_cache / url.rsplit("/", 1)[-1])
        return {}

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", fake_download)
    assert _run_weights("--download") == 0
    assert calls == [f"https://download.pytorch.org/models/{NAME}"]
    assert capsys.readouterr().out.strip().startswith(
        f"resnet50: downloaded to {empty_cache / NAME} (read: ")
    assert _run_weights("--download") == 0 and len(calls) == 1  # found: nothing to fetch

    def offline(url, *args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline)
    assert _run_weights("--download", "--backbone", "resnet18") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "could not download" in err[0] and "resnet18-" in err[0]
