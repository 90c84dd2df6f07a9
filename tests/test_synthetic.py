"""The synthetic benchmark: deterministic, split by subject, every attack, physical spoof cues."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import mpfas_lib.data.synthetic as synthetic
from mpfas_lib.data.attacks import Display, Printer, fm_screen
from mpfas_lib.data.camera import Camera
from mpfas_lib.data.synthetic import (
    ATTACK_TYPES,
    DOMAINS,
    GENERATOR_VERSION,
    SyntheticBenchmark,
    VideoSpec,
    _identity,
    from_profile,
    split_subjects,
    video_specs,
)
from mpfas_lib.profile import get_profile

SIZE = 32


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> SyntheticBenchmark:
    """A tiny benchmark cached in a temporary folder."""
    return SyntheticBenchmark(SIZE, 4, 2, seed=0, root=tmp_path_factory.mktemp("synth"))


def test_same_seed_same_bytes_other_seed_differs(tmp_path) -> None:
    a = SyntheticBenchmark(SIZE, 4, 2, seed=0, root=tmp_path / "a").render_video("M", 1, "replay")
    b = SyntheticBenchmark(SIZE, 4, 2, seed=0, root=tmp_path / "b").render_video("M", 1, "replay")
    c = SyntheticBenchmark(SIZE, 4, 2, seed=1, root=tmp_path / "c").render_video("M", 1, "replay")
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


def test_cache_round_trip_is_identical(bench: SyntheticBenchmark) -> None:
    ds = bench.dataset("C", "test")
    first = ds.records[0]
    spec_frames = bench.render_video("C", int(first.video_id.split("/s")[1][:3]), 0)
    assert np.array_equal(ds.image(0), spec_frames[first.frame])
    assert bench.video_path(video_specs("C", 3)[0]).is_file()


def test_shapes_values_and_labels(bench: SyntheticBenchmark) -> None:
    ds = bench.dataset("M", "train")
    img, label, domain, vid = ds[0]
    assert img.shape == (3, SIZE, SIZE) and img.dtype == torch.float32
    assert 0.0 <= float(img.min()) and float(img.max()) <= 1.0 and float(img.std()) > 0.02
    assert label in (0, 1) and domain == "M" and vid.startswith("M/")
    for r in ds.records:
        assert r.label == int(r.attack == "live")
    frames = bench.render_video("M", 0, 0)
    assert frames.shape == (2, SIZE, SIZE, 3) and frames.dtype == np.uint8


def test_splits_are_subject_disjoint_and_cover_all() -> None:
    for n in (2, 4, 8, 30):
        parts = [set(split_subjects(n, s)) for s in ("train", "val", "test")]
        assert parts[0] and parts[2]
        assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
        assert set().union(*parts) == set(range(n))
    with pytest.raises(ValueError, match="unknown split"):
        split_subjects(8, "dev")


def test_identities_disjoint_between_domains() -> None:
    heights = {d: _identity(0, d, 0, 32).albedo for d in DOMAINS}
    names = list(heights)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.allclose(heights[a], heights[b])
    ids = {d: {v.video_id.split("/")[1] for v in video_specs(d, 0)} for d in DOMAINS}
    vids = [v.video_id for d in DOMAINS for s in range(4) for v in video_specs(d, s)]
    assert len(vids) == len(set(vids)) and len(ids) == 5


def test_every_domain_and_attack_type_is_produced() -> None:
    kinds = {v.attack for d in DOMAINS for v in video_specs(d, 0)}
    assert kinds == set(ATTACK_TYPES)
    for d in DOMAINS:
        specs = video_specs(d, 0)
        assert any(v.label == 1 for v in specs) and any(v.label == 0 for v in specs)
    cams = {v.camera for s in range(6) for v in video_specs("O", s)}
    assert len(cams) == 6  # OULU-like: six phones


def test_every_attack_renders(bench: SyntheticBenchmark) -> None:
    for domain, attack in [("C", "print-warped"), ("C", "print-cut"), ("Y", "mask"),
                           ("I", "print"), ("O", "replay")]:
        frames = bench.render_video(domain, 0, attack)
        assert frames.shape == (2, SIZE, SIZE, 3)
        assert frames.std() > 5
    with pytest.raises(ValueError, match="no 'mask'"):
        bench.render_video("M", 0, "mask")


def _hf_energy(img: np.ndarray, channel: int, lo: float) -> float:
    """Share of the spectral energy (DC removed) of a channel above radius ``lo`` (cycles/px)."""
    x = img[..., channel].astype(np.float64)
    spec = np.abs(np.fft.fftshift(np.fft.fft2(x - x.mean()))) ** 2
    f = np.fft.fftshift(np.fft.fftfreq(x.shape[0]))
    r = np.hypot(*np.meshgrid(f, f))
    return float(spec[r > lo].sum() / spec.sum())


def _capture_pair(attack: str, instrument: str, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """The live capture and an attack capture of the same identity, pose, light and camera.

    The O domain's camera and instruments are swapped for plainly resolving ones (a sharp
    phone, a display with well separated subpixels, a printer with hard dots) so that the
    physics, not the tuning of the domains' difficulty, is what is tested.
    """
    strong = dataclasses.replace(
        DOMAINS["O"],
        cameras=(Camera("phone6", resolution=1.0, blur=0.5, noise=0.02, jpeg=90),),
        printers=(Printer("printer2", 1 / 44, 0.8, (0.9, 0.88, 0.82), 0.05, 0.4, 0.3),),
        displays=(Display("display1", 1 / 40, 2.4, 0.85, 0.05, (0.9, 1.0, 1.1), 0.9, 0.2, 0.7),),
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(DOMAINS, "O", strong)
        return _capture(SyntheticBenchmark(size, 4, 1, seed=3, shift=1.0), attack, instrument)


def _capture(b: SyntheticBenchmark, attack: str, instrument: str) -> tuple[np.ndarray, np.ndarray]:
    """First frames of a live and an attack video of O subject 0 with phone6."""
    live = VideoSpec("O", 0, 0, "live", "none", "phone6", 0)
    spoof = VideoSpec("O", 0, 0, attack, instrument, "phone6", 0)
    return b._render(live)[0], b._render(spoof)[0]


def test_replay_has_subpixel_spectral_peak_that_live_lacks() -> None:
    live, replay = _capture_pair("replay", "display1")
    # display1's pixel pitch is 1/40 of the frame: its subpixel grid sits at 40 cycles per
    # frame, i.e. ~0.31 cycles/px at 128 px, far above the smooth face's content.
    assert _hf_energy(replay, 0, 0.2) > 5 * _hf_energy(live, 0, 0.2)


def test_print_has_halftone_energy_that_live_lacks() -> None:
    live, printed = _capture_pair("print", "printer2")
    assert _hf_energy(printed, 1, 0.15) > 5 * _hf_energy(live, 1, 0.15)


def test_from_profile_uses_profile_sizes(tmp_path) -> None:
    p = get_profile("quick").replace(image_size=24, synth_subjects=3, synth_frames=2)
    b = from_profile(p, seed=5, root=tmp_path)
    assert (b.image_size, b.subjects_per_domain, b.frames_per_video, b.seed) == (24, 3, 2, 5)
    assert b.catalogue()[0]["domain"] == "M"
    with pytest.raises(ValueError, match="unknown synthetic domain"):
        b.dataset("X", "train")


def test_generator_version_is_in_the_cache_key(monkeypatch: pytest.MonkeyPatch) -> None:
    b = SyntheticBenchmark(SIZE, 4, 2)
    assert GENERATOR_VERSION == 10 and b.config()["version"] == 10
    key = b.cache_path
    assert key.name.startswith(f"v10-shift{b.shift:g}-")
    monkeypatch.setattr(synthetic, "GENERATOR_VERSION", 8)
    assert b.cache_path != key


def test_progress_bar_only_for_more_than_a_handful(bench: SyntheticBenchmark) -> None:
    specs = bench.videos("M", "all")
    assert bench._progress(specs[:2], True).disable
    assert not bench._progress(specs, True).disable
    assert bench._progress(specs, False).disable
    bench.ensure(specs[:3], progress=False)
    assert all(bench.video_path(s).is_file() for s in specs[:3])


def test_inkjet_dither_is_a_flat_threshold_map() -> None:
    inkjet = Printer("inkjet", 1 / 40, screen="fm")
    t = fm_screen(64, inkjet, np.random.default_rng(0))
    assert t.shape == (64, 64, 3) and 0.0 <= t.min() and t.max() < 1.0
    assert abs(float(t.mean()) - 0.5) < 0.01
