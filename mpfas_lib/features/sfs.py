"""Shape-from-shading maps: Depth, Albedo and Reflectance from one image (Table I baselines).

Provenance. The paper's hybrid baselines (Table I) take these maps from Pinto et al. (2020),
"Leveraging shape, reflectance and albedo from shading for face presentation attack
detection", whose public code (github.com/allansp84/shape-from-shading-for-face-pad, the
paper's footnote 1) computes them with a *classical* shape-from-shading algorithm, not a
trained network: Tsai & Shah's (1994) linear SfS (``features/estimation/tsai.py``, five
Newton iterations on the depth) under a light direction that is fixed by default
(``--light_direction constant``, l = (0.1, 0.1, 1)); the code also holds a light-direction
estimate for its iterative variant. The SfS runs on each channel of the face crop separately
(``mapsextraction.py`` loops over the channels, ``--n_channel 3`` by default), so every map
has one channel per colour channel. "SfSNet" in that work is the CNN that *classifies* the
stacked maps. Pass ``per_channel=True`` to get per-channel maps as that code does; by
default this module works on the grey (luma) image and repeats single-channel maps.

This library uses its own classical, training-free SfS, batched in torch:

1. Light direction and albedo from image statistics (Zheng & Chellappa, 1991, after
   Pentland, 1982): with mu1 = E[I], mu2 = E[I^2] of the grey image,
   rho = sqrt(6 mu2 - 48 mu1^2 / pi^2) and cos(slant) = 4 mu1 / (pi rho); the tilt is the
   direction of the mean unit image gradient (Lee & Rosenfeld, 1985).
2. Depth by Pentland's (1988) linear shape from shading: the Lambertian image
   I = rho n.l, n ~ (-p, -q, 1), is linearised in the surface gradient (p, q) and solved in
   the Fourier domain, F_Z = conj(H) F_I / (|H|^2 + eps) with
   H = -i rho (w_x l_x + w_y l_y) (a Wiener-regularised inverse; frequencies orthogonal to
   the light direction are unobservable and set to zero).
3. Refinement: starting from that linear solution, the full (non-linear) Lambertian model is
   fitted by gradient descent (Adam) on mean (rho max(n.l, 0) - I)^2 + lambda mean (Laplacian
   z)^2, re-solving the albedo rho in closed form at every step: the variational SfS of
   Horn & Brooks (1986) / Horn (1989), with a smoothness prior instead of their
   integrability term. Near-frontal light makes the linear step degenerate (no linear
   term); there the descent starts from a "bright is near" surface instead.
4. Reflectance = the Lambertian shading max(n.l, 0) of the recovered surface, with n from
   the depth's finite differences; Albedo = I / max(shading, eps) per colour channel.

Image axes: x = column (to the right), y = row (downwards), z towards the viewer; the light
vector points from the surface to the source. Depth is the height z (larger = nearer).
Every output is [B, 3, H, W] in [0, 1]: Depth is min-max normalised per image (per image and
channel with ``per_channel``), Albedo is clipped to [0, 1]; on grey, single-channel maps are
repeated to three channels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

LUMA = (0.299, 0.587, 0.114)


def to_gray(x: Tensor) -> Tensor:
    """[B, 3, H, W] RGB -> [B, 1, H, W] luma (BT.601)."""
    w = torch.tensor(LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


def estimate_light(gray: Tensor) -> tuple[Tensor, Tensor]:
    """Zheng-Chellappa albedo and slant, Lee-Rosenfeld tilt: (unit light [B, 3], albedo [B])."""
    flat = gray.flatten(1)
    mu1, mu2 = flat.mean(dim=1), flat.pow(2).mean(dim=1)
    rho = (6 * mu2 - 48 * mu1.pow(2) / math.pi**2).clamp_min(1e-6).sqrt()
    cos_slant = (4 * mu1 / (math.pi * rho)).clamp(0.0, 1.0)
    gy, gx = torch.gradient(gray[:, 0], dim=(1, 2))
    norm = (gx.pow(2) + gy.pow(2)).sqrt()
    keep = norm > 1e-3 * norm.flatten(1).amax(dim=1).clamp_min(1e-12).view(-1, 1, 1)
    ux = torch.where(keep, gx / norm.clamp_min(1e-12), torch.zeros_like(gx)).flatten(1).mean(1)
    uy = torch.where(keep, gy / norm.clamp_min(1e-12), torch.zeros_like(gy)).flatten(1).mean(1)
    tilt = torch.atan2(uy, ux)
    sin_slant = (1 - cos_slant.pow(2)).clamp_min(0).sqrt()
    light = torch.stack([sin_slant * tilt.cos(), sin_slant * tilt.sin(), cos_slant], dim=1)
    return light, rho.clamp(1e-3, 1.0)


def linear_sfs_depth(gray: Tensor, light: Tensor, albedo: Tensor, eps: float = 1e-2) -> Tensor:
    """Pentland's (1988) linear SfS: height z [B, 1, H, W] from the grey image, light, albedo."""
    _, _, h, w = gray.shape
    wy = 2 * math.pi * torch.fft.fftfreq(h, device=gray.device, dtype=gray.dtype).view(h, 1)
    wx = 2 * math.pi * torch.fft.fftfreq(w, device=gray.device, dtype=gray.dtype).view(1, w)
    lx = light[:, 0].view(-1, 1, 1, 1)
    ly = light[:, 1].view(-1, 1, 1, 1)
    rho = albedo.view(-1, 1, 1, 1)
    # I ~ rho (l_z - p l_x - q l_y) and p <-> i w_x Z, q <-> i w_y Z in the Fourier domain.
    transfer = -1j * rho * (wx * lx + wy * ly)
    spectrum = torch.fft.fft2(gray - gray.mean(dim=(2, 3), keepdim=True))
    z_hat = transfer.conj() * spectrum / (transfer.abs().pow(2) + eps)
    return torch.fft.ifft2(z_hat).real


def lambertian_shading(depth: Tensor, light: Tensor) -> Tensor:
    """max(n . l, 0) of the surface z = depth, n = (-p, -q, 1) / |.|, [B, 1, H, W]."""
    q, p = torch.gradient(depth[:, 0], dim=(1, 2))
    lx, ly, lz = (light[:, k].view(-1, 1, 1) for k in range(3))
    shade = (lz - p * lx - q * ly) / (1 + p.pow(2) + q.pow(2)).sqrt()
    return shade.clamp_min(0).unsqueeze(1)


def refine_depth(
    gray: Tensor,
    light: Tensor,
    z0: Tensor,
    steps: int = 150,
    lr: float = 0.3,
    smoothness: float = 0.003,
) -> tuple[Tensor, Tensor]:
    """Variational Lambertian SfS from ``z0``: (height [B, 1, H, W], albedo [B]).

    Heights are in pixel units, so ``lr`` (Adam's step, pixels) suits faces of 64-256 px.
    """
    lap = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]],
                       dtype=gray.dtype, device=gray.device).view(1, 1, 3, 3)

    def albedo_of(s: Tensor) -> Tensor:
        return (s * gray).sum((1, 2, 3)) / (s * s).sum((1, 2, 3)).clamp_min(1e-9)

    with torch.enable_grad():
        z = z0.detach().clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        for _ in range(steps):
            s = lambertian_shading(z, light)
            rho = albedo_of(s.detach()).view(-1, 1, 1, 1)
            curvature = F.conv2d(F.pad(z, (1, 1, 1, 1), mode="replicate"), lap)
            # Per-image means, summed: each image's update is independent of the batch.
            per_image = (rho * s - gray).pow(2).mean(dim=(1, 2, 3))
            per_image = per_image + smoothness * curvature.pow(2).mean(dim=(1, 2, 3))
            loss = per_image.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    z = z.detach()
    return z, albedo_of(lambertian_shading(z, light))


def shape_from_shading(
    x: Tensor, light: Tensor | None = None, steps: int = 150, per_channel: bool = False
) -> dict[str, Tensor]:
    """Depth (height), shading (reflectance map), albedo and light of [B, 3, H, W] images
    (chapter 03).

    On grey by default (depth and shading [B, 1, H, W]); with ``per_channel`` each colour
    channel is its own SfS problem, as in Pinto et al.'s code (depth, shading [B, 3, H, W]).
    """
    x = x.detach().to(torch.float32)
    b, c, h, w = x.shape
    gray = x.reshape(b * c, 1, h, w) if per_channel else to_gray(x)
    est_light, rho = estimate_light(gray)
    if light is not None:
        light = torch.as_tensor(light, dtype=x.dtype, device=x.device).reshape(-1, 3)
        light = (light / light.norm(dim=1, keepdim=True)).expand(gray.shape[0], 3)
    else:
        light = est_light
    depth = linear_sfs_depth(gray, light, rho)
    # Near-frontal light: the linear model has no signal; start from "bright is near".
    frontal = (light[:, :2].norm(dim=1) < 0.1).view(-1, 1, 1, 1)
    bright = 4.0 * (gray - gray.mean(dim=(2, 3), keepdim=True))
    depth = torch.where(frontal, bright, depth)
    if steps > 0:
        depth, rho = refine_depth(gray, light, depth, steps=steps)
    shading = lambertian_shading(depth, light)
    if per_channel:
        depth, shading = depth.reshape(b, c, h, w), shading.reshape(b, c, h, w)
        light = light.reshape(b, c, 3)
    return {"depth": depth, "shading": shading, "albedo": x / shading.clamp_min(0.05),
            "light": light}


def _minmax(z: Tensor) -> Tensor:
    """Min-max normalise each [H, W] map of a [B, C, H, W] tensor to [0, 1]."""
    lo = z.amin(dim=(2, 3), keepdim=True)
    hi = z.amax(dim=(2, 3), keepdim=True)
    return (z - lo) / (hi - lo).clamp_min(1e-12)


class _SfSMap(nn.Module):
    """Shared parts of the three shape-from-shading maps.

    ``light`` fixes the light direction (else it is estimated per image); ``per_channel``
    solves SfS on R, G and B separately, as Pinto et al.'s code does (else on grey).
    """

    def __init__(
        self,
        light: tuple[float, float, float] | None = None,
        steps: int = 150,
        per_channel: bool = False,
    ) -> None:
        super().__init__()
        self.light, self.steps, self.per_channel = light, steps, per_channel

    def _sfs(self, x: Tensor) -> dict[str, Tensor]:
        light = None if self.light is None else torch.tensor(self.light)
        return shape_from_shading(x, light, steps=self.steps, per_channel=self.per_channel)


class DepthMap(_SfSMap):
    """Depth map: the SfS height (Pentland init + refinement), min-max normalised, 3 channels."""

    def forward(self, x: Tensor) -> Tensor:
        return _minmax(self._sfs(x)["depth"]).expand(-1, 3, -1, -1).to(x.dtype).contiguous()


class ReflectanceMap(_SfSMap):
    """Reflectance map: Lambertian shading max(n.l, 0) of the recovered surface, 3 channels."""

    def forward(self, x: Tensor) -> Tensor:
        shade = self._sfs(x)["shading"].clamp(0.0, 1.0)
        return shade.expand(-1, 3, -1, -1).to(x.dtype).contiguous()


class AlbedoMap(_SfSMap):
    """Albedo map: each colour channel divided by the recovered shading, clipped to [0, 1]."""

    def forward(self, x: Tensor) -> Tensor:
        return self._sfs(x)["albedo"].clamp(0.0, 1.0).to(x.dtype)
