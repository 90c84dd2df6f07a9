"""The domain-shift dial: 0 makes the domains' nuisances alike, the spoof physics never moves."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mpfas_lib.data.attacks import Display, Printer
from mpfas_lib.data.camera import Camera
from mpfas_lib.data.protocols import build_protocol
from mpfas_lib.data.synthetic import (
    DEFAULT_SHIFT,
    DOMAINS,
    SyntheticBenchmark,
    from_profile,
    shifted_domains,
    video_specs,
)
from mpfas_lib.profile import get_profile

SIZE = 32
SUBJECTS = range(6)


def _live_stats(shift: float) -> dict[str, np.ndarray]:
    """Per domain, live and spoof means of first frames: chromaticity (R-G, B-G), sharpness."""
    b = SyntheticBenchmark(SIZE, 4, 1, seed=0, shift=shift)
    out = {}
    for d in DOMAINS:
        live, spoof = [], []
        for s in SUBJECTS:
            for spec in video_specs(d, s):
                img = b._render(spec)[0].astype(np.float64) / 255
                grey = img.mean(-1)
                sharp = np.abs(np.diff(grey, axis=0)).mean() + np.abs(np.diff(grey, axis=1)).mean()
                r, g, b_ = img.mean((0, 1))
                (live if spec.label else spoof).append([r - g, b_ - g, 10 * sharp])
        out[d] = np.array([np.mean(live, 0), np.mean(spoof, 0)])
    return out


@pytest.fixture(scope="module")
def stats() -> dict[float, dict[str, np.ndarray]]:
    """Nuisance statistics at the dial's ends."""
    return {shift: _live_stats(shift) for shift in (0.0, 1.0)}


def test_zero_makes_the_domains_nuisances_alike(stats) -> None:
    spread = {k: np.stack([v[0] for v in s.values()]).std(0) for k, s in stats.items()}
    assert np.all(spread[0.0] < 0.5 * spread[1.0]), spread


def test_the_live_spoof_difference_stays_at_zero(stats) -> None:
    gap = {k: np.mean([np.abs(v[0] - v[1]).sum() for v in s.values()]) for k, s in stats.items()}
    assert gap[0.0] > 0.5 * gap[1.0], gap


def test_zero_collapses_every_device_and_one_is_the_domains() -> None:
    assert shifted_domains(1.0) == DOMAINS
    flat = shifted_domains(0.0)
    cams = {c for d in flat.values() for c in d.cameras}
    assert len({(c.blur, c.noise, c.white_balance, c.jpeg, c.sharpen) for c in cams}) == 1
    assert len({(li.temperature, li.direction) for d in flat.values() for li in d.lights}) == 1
    assert len({tuple(b) for d in flat.values() for b in d.session_backdrops}) == 1


def test_spoof_physics_is_the_same_at_every_value() -> None:
    physics = {Printer: ("period", "softness", "texture", "screen"),
               Display: ("pitch", "fill", "matte", "banding")}
    for shift in (0.0, 0.5, 2.5):
        for d, moved in shifted_domains(shift).items():
            assert moved.attacks == DOMAINS[d].attacks
            assert moved.medium_scale == DOMAINS[d].medium_scale
            for new, old in zip((*moved.printers, *moved.displays),
                                (*DOMAINS[d].printers, *DOMAINS[d].displays), strict=True):
                for name in physics[type(old)]:
                    assert getattr(new, name) == getattr(old, name)


def test_above_one_goes_further_within_physical_ranges() -> None:
    one, two = shifted_domains(1.0), shifted_domains(2.0)
    blur = {k: np.std([c.blur for d in ds.values() for c in d.cameras])
            for k, ds in (("one", one), ("two", two))}
    assert blur["two"] > 1.5 * blur["one"]
    for d in shifted_domains(10.0).values():
        for c in d.cameras:
            assert isinstance(c, Camera) and 15 <= c.jpeg <= 100 and c.noise > 0
            assert 0.2 <= c.resolution <= 1.5


def test_same_seed_and_shift_same_bytes(tmp_path) -> None:
    a = SyntheticBenchmark(SIZE, 4, 2, root=tmp_path / "a", shift=0.5).render_video("O", 1, 2)
    b = SyntheticBenchmark(SIZE, 4, 2, root=tmp_path / "b", shift=0.5).render_video("O", 1, 2)
    c = SyntheticBenchmark(SIZE, 4, 2, root=tmp_path / "c", shift=0.6).render_video("O", 1, 2)
    assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()


def test_shift_values_never_share_cache_files(tmp_path) -> None:
    benches = [SyntheticBenchmark(SIZE, 2, 1, root=tmp_path, shift=s) for s in (0, 1, 1.5)]
    paths = [b.cache_path for b in benches]
    assert len(set(paths)) == 3 and [p.name.split("-")[1] for p in paths] == [
        "shift0", "shift1", "shift1.5"]
    spec = benches[0].videos("M")[0]
    for b in benches:
        b.ensure([spec], progress=False)
    assert len({b.video_path(spec).read_bytes() for b in benches}) == 3
    assert SyntheticBenchmark(SIZE, 2, 1, root=tmp_path).shift == DEFAULT_SHIFT


@pytest.mark.parametrize("bad", [-0.1, math.nan, math.inf, "1", True])
def test_bad_shift_is_refused(bad, tmp_path) -> None:
    with pytest.raises(ValueError, match=r"^shift must be a finite number >= 0, got "):
        SyntheticBenchmark(SIZE, 2, 1, root=tmp_path, shift=bad)
    with pytest.raises(ValueError, match="shift"):
        from_profile(get_profile("quick"), root=tmp_path, shift=bad)
    with pytest.raises(ValueError, match="shift"):
        build_protocol("MICO:OCI-M", profile=get_profile("quick"), root=tmp_path, shift=bad)


def test_protocol_passes_the_dial_down(tmp_path) -> None:
    p = get_profile("quick").replace(image_size=16, synth_subjects=2, synth_frames=1)
    proto = build_protocol("TWO:MI-C", profile=p, root=tmp_path, shift=0.25)
    assert "shift0.25-" in proto.target.records[0].path_or_key
