"""One typed run configuration: layers, ownership of keys, refusals, provenance, round trips."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mpfas_lib.features import MAP_NAMES
from mpfas_lib.models.extractor import EXTRACTOR_NAMES
from mpfas_lib.profile import PROFILES, get_profile
from mpfas_lib.training.config import (
    METHOD_KEYS,
    PROFILE_KEYS,
    RUN_KEYS,
    RunConfig,
    build_config,
    parse_overrides,
)
from mpfas_lib.training.methods import METHODS, get_method


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_build_config_and_get_profile_agree_on_every_size(name):
    assert build_config(profile=name).profile == get_profile(name)


def test_every_key_has_exactly_one_owner():
    assert not (PROFILE_KEYS & METHOD_KEYS or PROFILE_KEYS & RUN_KEYS or METHOD_KEYS & RUN_KEYS)


def test_each_key_goes_to_its_owner_in_layer_order(tmp_path):
    cfg = build_config(method="mp-k2", profile="quick")
    assert cfg.method.inner_steps == 2 and cfg.method.algorithm == "algorithm1"
    assert cfg.profile.name == "quick"
    toml = tmp_path / "c.toml"
    toml.write_text('inner_steps = 8\nlr = 0.5\nmode = "official"\nseed = 9\n')
    cfg = build_config(method="mp-k2", profile="quick", config_file=toml,
                       overrides={"lr": "0.25"}, seed=4)
    assert (cfg.method.inner_steps, cfg.profile.lr, cfg.method.mode, cfg.seed) == (
        8, 0.25, "official", 4)
    layers = dict(cfg.layers)
    assert list(layers)[:2] == ["profile quick", "method mp-k2"]
    assert layers[f"config file {toml}"] == ("inner_steps", "lr", "mode", "seed")
    assert layers["--set"] == ("lr",) and layers["arguments"] == ("seed",)


def test_a_file_can_choose_profile_and_method_and_arguments_win(tmp_path):
    js = tmp_path / "c.json"
    js.write_text(json.dumps({"profile": "full", "method": "erm", "amp": False,
                              "pretrained": None}))
    cfg = build_config(config_file=js)
    assert cfg.profile.name == "full" and cfg.method.name == "erm" and cfg.amp is False
    assert build_config(config_file=js, profile="quick").profile.name == "quick"
    assert build_config(config_file=js, overrides={"method": "rgb"}).method.name == "rgb"


def test_refusals_name_the_key_and_the_layer(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"--set: unknown setting 'nope'"):
        build_config(overrides={"nope": "1"})
    with pytest.raises(ValueError, match=r"--set: bad value 'x' for iterations"):
        build_config(overrides={"iterations": "x"})
    with pytest.raises(ValueError, match=r"arguments: bad value 1.5 for seed"):
        build_config(seed=1.5)
    with pytest.raises(ValueError, match="bad value 'maybe' for amp"):
        build_config(overrides={"amp": "maybe"})
    with pytest.raises(ValueError, match=r"Algorithm 1.*phi='map'.*phi from --set"):
        build_config(method="mp", overrides={"phi": "map", "phi_name": "colorlbp"})
    with pytest.raises(ValueError, match=r"mode='official'.*algorithm='algorithm1'"):
        build_config(method="erm", overrides={"mode": "official"})
    with pytest.raises(ValueError, match=r"phi_name must be one of.*cdc9"):
        build_config(overrides={"phi_name": "cdc9"})
    with pytest.raises(ValueError, match=r"image_size must be a multiple of 8"):
        build_config(overrides={"image_size": "30"})
    with pytest.raises(ValueError, match="key=value"):
        parse_overrides(["lr"])
    with pytest.raises(FileNotFoundError, match="missing.toml"):
        build_config(config_file=tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = = 1")
    with pytest.raises(ValueError, match=r"bad.toml: cannot read or parse"):
        build_config(config_file=bad)
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        build_config(method="nope")
    with pytest.raises(ValueError, match="unknown profile 'huge'"):
        build_config(profile="huge")
    monkeypatch.delenv("MPFAS_DATA", raising=False)
    with pytest.raises(ValueError, match=r"--root DIR or \$MPFAS_DATA"):
        build_config(data="real")


def test_real_data_root_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MPFAS_DATA", str(tmp_path))
    assert build_config(data="real").root == str(tmp_path)
    assert build_config(data="real", root="/elsewhere").root == "/elsewhere"


def test_the_authors_configuration_is_one_method():
    by_file = build_config(config_file="official.toml")  # shipped in training/configs/
    by_name = build_config(method="mp-official")
    assert by_file.method == by_name.method == get_method("mp-official")
    assert by_file.profile == by_name.profile
    m = by_name.method
    assert (m.mode, m.rgb_norm, m.fusion, m.theta_loss_scale, m.selection) == (
        "official", "none", "official", 0.5, "target_frame_min_hter")
    assert (by_file.scope, by_name.scope) == ("all", "splits")  # tests/test_official.py
    assert build_config(config_file="paper.toml", profile="quick").profile.lr == 0.001


def test_registry_reuses_the_library_names_and_every_method_is_valid():
    assert {m.phi_name for m in METHODS.values() if m.phi == "map"} == set(MAP_NAMES)
    assert {m.phi_name for m in METHODS.values() if m.phi == "extractor"} == set(EXTRACTOR_NAMES)
    for method in METHODS.values():
        method.validate()
    assert get_method("mp-cdc2").cdc_theta == 0.7


def test_build_phi_builds_each_kind_and_refuses_an_unknown_one():
    from mpfas_lib.training.methods import build_phi

    assert type(build_phi(get_method("mp"))).__name__ == "MetaPatternExtractor"
    fixed = build_phi(get_method("colorlbp"))
    assert not any(p.requires_grad for p in fixed.parameters())
    assert build_phi(get_method("rgb")) is None
    with pytest.raises(ValueError, match="phi must be one of.*'extractr'"):
        build_phi(dataclasses.replace(get_method("mp"), phi="extractr"))  # never validated


def test_round_trip_through_json_and_legacy_flat_configs():
    cfg = build_config(method="mp-cdc1", profile="quick", seed=2, overrides={"iterations": "7"})
    again = RunConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.name() == "MICO_OCI-M-mp-cdc1-s2"
    flat = {"protocol": "MICO:OCI-M", "method": "mp-official", "profile": "quick", "seed": 1,
            "iterations": 64, "synth_subjects": 16, "mode": "official", "fusion": "official",
            "rgb_norm": "none", "theta_loss_scale": None, "selection": "target_oracle",
            "threads": 1, "an_old_key": 3}
    old = RunConfig.from_dict(flat)
    assert old.method == get_method("mp-official").replace(selection="target_oracle")
    assert old.seed == 1 and old.threads == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        old.seed = 3  # type: ignore[misc]


def test_changes_since_names_each_setting_and_ignores_the_resume_free_ones():
    cfg = build_config(method="mp", profile="quick", seed=2)
    saved = cfg.to_dict()
    assert cfg.changes_since(saved) == []
    other = {**saved, "threads": 7, "compile": "default",  # a resumed run may change these
             "profile": {**saved["profile"], "lr": 0.5}, "method": {**saved["method"],
                                                                   "algorithm": "mp"}}
    assert cfg.changes_since(other) == [f"profile.lr (0.5 -> {cfg.profile.lr!r})"]
    legacy = {"protocol": "MICO:OCI-M", "method": "mp", "profile": "quick", "seed": 2}
    assert cfg.changes_since(legacy) == [
        "the whole config (saved before format 2: not comparable)"]
