"""Handcrafted maps of the hybrid baselines (paper Table I): ColorLBP, SfS maps, colour spaces."""

import cv2
import numpy as np
import pytest
import skimage.data
import torch
from skimage.feature import local_binary_pattern

from mpfas_lib.features import MAP_NAMES, build_map
from mpfas_lib.features.sfs import shape_from_shading


def _astronaut(size: int | None = None) -> tuple[np.ndarray, torch.Tensor]:
    img = skimage.data.astronaut()
    if size is not None:
        img = img[100 : 100 + size, 150 : 150 + size]
    x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float() / 255.0
    return img, x


def test_colorlbp_equals_skimage_exactly() -> None:
    img, x = _astronaut(160)
    codes = build_map("colorlbp")(x)
    assert codes.shape == x.shape
    for c in range(3):
        expected = local_binary_pattern(img[:, :, c], 8, 1)
        got = torch.round(codes[0, c].double() * 255).numpy()
        np.testing.assert_array_equal(got[1:-1, 1:-1], expected[1:-1, 1:-1])
        np.testing.assert_array_equal(got, expected)  # zero border, as skimage's constant mode


def test_colorlbp_is_batched() -> None:
    _, x = _astronaut(32)
    both = torch.cat([x, x.flip(-1)])
    m = build_map("colorlbp")
    torch.testing.assert_close(m(both)[1:], m(x.flip(-1)))


def test_colour_spaces_match_opencv() -> None:
    img, x = _astronaut(48)
    rgb = img.astype(np.float32) / 255.0
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hsv[..., 0] /= 360.0
    got = build_map("hsv")(x)[0].permute(1, 2, 0).numpy()
    hue_err = np.abs(got[..., 0] - hsv[..., 0])
    hue_err = np.minimum(hue_err, 1 - hue_err)  # hue is circular
    assert hue_err.max() < 1e-3
    np.testing.assert_allclose(got[..., 1:], hsv[..., 1:], atol=1e-4)
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    got = build_map("ycrcb")(x)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(got, ycc, atol=2e-3)


def _lambertian_bump(light: tuple[float, float, float], n: int = 64):
    """Render a Gaussian height field of constant albedo under a known distant light."""
    yy, xx = torch.meshgrid(torch.arange(n).double(), torch.arange(n).double(), indexing="ij")
    z = 12 * torch.exp(-((xx - 32) ** 2 + (yy - 30) ** 2) / (2 * 8.0**2))
    q, p = torch.gradient(z, dim=(0, 1))
    lt = torch.tensor(light).double()
    lt = lt / lt.norm()
    shade = ((lt[2] - p * lt[0] - q * lt[1]) / torch.sqrt(1 + p**2 + q**2)).clamp_min(0)
    colour = torch.tensor([1.0, 0.9, 0.8]).double().view(3, 1, 1)
    img = (0.8 * shade * colour)[None].float()
    return z, shade, img


@pytest.mark.parametrize("light", [(1.0, 0.5, 1.5), (0.3, -1.0, 1.2)])
def test_sfs_recovers_a_known_surface(light: tuple[float, float, float]) -> None:
    z, shade, img = _lambertian_bump(light)
    out = shape_from_shading(img, torch.tensor(light))
    inside = z > 1
    depth = out["depth"][0, 0].double()
    r = torch.corrcoef(torch.stack([depth[inside], z[inside]]))[0, 1]
    assert r > 0.8, f"depth correlation {float(r):.3f}"
    lit = inside & (shade > 0.2)
    albedo = out["albedo"][0, 0][lit]
    assert float(albedo.std() / albedo.mean()) < 0.05
    for name in ("depth", "albedo", "reflectance"):
        y = build_map(name, light=light, steps=20)(img)
        assert y.shape == img.shape and float(y.min()) >= 0 and float(y.max()) <= 1, name


@pytest.mark.parametrize("name", MAP_NAMES)
def test_every_map_has_the_common_interface(name: str) -> None:
    _, x = _astronaut(32)
    x = torch.cat([x, x.flip(-2)])
    m = build_map(name)
    assert sum(p.numel() for p in m.parameters()) == 0
    y = m(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    assert torch.isfinite(y).all()


def test_sfs_maps_are_batched_per_image() -> None:
    _, x = _astronaut(24)
    both = torch.cat([x, x.flip(-1)])
    m = build_map("depth", steps=10)
    torch.testing.assert_close(m(both)[1:], m(x.flip(-1)), atol=1e-4, rtol=1e-4)


def test_unknown_map() -> None:
    with pytest.raises(ValueError, match="unknown handcrafted map"):
        build_map("sift")


def test_per_channel_sfs_on_grey_equals_grey_sfs() -> None:
    """Pinto et al.'s per-channel maps reduce to the grey maps when R = G = B."""
    _, x = _astronaut(24)
    grey = x.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    for name in ("depth", "reflectance", "albedo"):
        one = build_map(name, steps=10)(grey)
        each = build_map(name, steps=10, per_channel=True)(grey)
        torch.testing.assert_close(each, one, atol=1e-4, rtol=1e-4, msg=name)


def test_per_channel_sfs_recovers_the_surface_in_every_channel() -> None:
    light = (1.0, 0.5, 1.5)
    z, _, img = _lambertian_bump(light)
    img = img * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1)  # another albedo per channel
    out = shape_from_shading(img, torch.tensor(light), per_channel=True)
    assert out["depth"].shape == img.shape and out["light"].shape == (1, 3, 3)
    inside = z > 1
    for c in range(3):
        depth = out["depth"][0, c].double()
        r = torch.corrcoef(torch.stack([depth[inside], z[inside]]))[0, 1]
        assert r > 0.8, f"channel {c}: depth correlation {float(r):.3f}"
