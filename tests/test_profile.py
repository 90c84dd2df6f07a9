"""The profile switch and the common notebook opening."""

from __future__ import annotations

import pytest
import torch

from mpfas_lib.profile import PROFILES, get_profile
from mpfas_lib.runtime import seed_everything, setup


def test_environment_variable_selects_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPFAS_PROFILE", "full")
    assert get_profile().name == "full"
    monkeypatch.setenv("MPFAS_PROFILE", "Quick")
    assert get_profile().name == "quick"


def test_default_follows_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MPFAS_PROFILE", raising=False)
    assert get_profile().name == ("full" if torch.cuda.is_available() else "quick")


def test_unknown_profile_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPFAS_PROFILE", "huge")
    with pytest.raises(ValueError, match="unknown profile 'huge'.*MPFAS_PROFILE"):
        get_profile()


def test_profiles_share_fields_and_differ_in_scale() -> None:
    quick, full = PROFILES["quick"], PROFILES["full"]
    assert full.image_size == 256 and full.map_size == 32 and full.backbone == "resnet50"
    assert quick.image_size < full.image_size and quick.iterations < full.iterations
    assert full.lr == 0.001 and full.momentum == 0.9 and full.batch_per_class == 4
    study = PROFILES["study"]
    assert study.iterations > quick.iterations and study.synth_subjects > quick.synth_subjects
    assert (study.image_size, study.backbone) == (quick.image_size, quick.backbone)
    assert quick.replace(iterations=3).iterations == 3


def test_seed_makes_torch_reproducible() -> None:
    seed_everything(7)
    a = torch.randn(5)
    seed_everything(7)
    assert torch.equal(a, torch.randn(5))


def test_setup_resolves_everything(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("MPFAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MPFAS_RESULTS", str(tmp_path / "results"))
    s = setup(seed=3, profile="quick", device="cpu")
    assert s.profile.name == "quick" and s.device.type == "cpu" and s.seed == 3
    assert s.cache.is_dir() and s.results.is_dir() and s.data is None
    assert "profile=quick" in str(s)


def test_setup_prints_no_absolute_path(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from mpfas_lib.paths import REPO_ROOT

    monkeypatch.setenv("MPFAS_CACHE", str(REPO_ROOT / ".mpfas_cache"))
    monkeypatch.setenv("MPFAS_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MPFAS_DATA", str(tmp_path / "data"))
    text = str(setup(seed=0, profile="quick", device="cpu"))
    assert "cache=.mpfas_cache\n" in text
    assert "results=$MPFAS_RESULTS\n" in text and text.endswith("data=$MPFAS_DATA")
    assert str(REPO_ROOT) not in text and str(tmp_path) not in text


def test_shown_paths_are_relative(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from mpfas_lib.paths import REPO_ROOT, shown

    monkeypatch.setenv("HOME", str(tmp_path))
    assert shown(REPO_ROOT / "results" / "study") == "results/study"
    assert shown(REPO_ROOT) == "."
    assert shown(tmp_path / ".cache" / "mpfas") == "~/.cache/mpfas"
    assert shown("/somewhere/else/x") == "<outside the repository>/x"
