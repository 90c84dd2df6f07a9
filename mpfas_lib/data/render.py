"""Procedural faces for the synthetic benchmark: a 3D height field, an albedo, Lambertian light.

A face is a height field (head ellipsoid plus brows, eye sockets, nose, cheeks and mouth
relief) with a per-identity albedo (skin tone, slow blotches, freckles, eyes, lips, brows,
hair). A frame warps the canonical maps by a small pose (shift, in-plane rotation, scale) and
shades them under a directional light with a colour temperature (Lambert + a little Phong).
Everything is in linear light, float32, on a square grid of ``size`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Colour of a black body at a few temperatures (linear RGB, max channel = 1); interpolated.
_KELVIN = np.array([2500.0, 3200.0, 4000.0, 5000.0, 5800.0, 6500.0, 8000.0, 10000.0])
_KELVIN_RGB = np.array(
    [
        [1.00, 0.62, 0.30],
        [1.00, 0.72, 0.46],
        [1.00, 0.82, 0.64],
        [1.00, 0.91, 0.82],
        [1.00, 0.97, 0.93],
        [0.97, 0.98, 1.00],
        [0.86, 0.90, 1.00],
        [0.78, 0.85, 1.00],
    ]
)


def kelvin_rgb(temperature: float) -> np.ndarray:
    """Linear RGB colour of a light of the given colour temperature (K)."""
    t = float(np.clip(temperature, _KELVIN[0], _KELVIN[-1]))
    return np.array([np.interp(t, _KELVIN, _KELVIN_RGB[:, c]) for c in range(3)], np.float32)


@dataclass(frozen=True)
class Light:
    """A directional light: colour temperature (K), intensity, direction (x right, y down)."""

    temperature: float
    intensity: float
    direction: tuple[float, float, float]
    ambient: float = 0.25
    specular: float = 0.15


@dataclass(frozen=True)
class Pose:
    """In-plane pose of a face: shift (fraction of the frame), rotation (deg), scale."""

    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0
    scale: float = 1.0


@dataclass(frozen=True)
class FaceMaps:
    """Canonical (frontal, centred) maps of one identity: height, albedo [H,W,3], head mask."""

    height: np.ndarray
    albedo: np.ndarray
    mask: np.ndarray
    eyes: np.ndarray  # where the eyes are (for cut-out prints and masks with eye holes)


def _gauss(u: np.ndarray, v: np.ndarray, cu: float, cv: float, su: float, sv: float) -> np.ndarray:
    """An axis-aligned Gaussian bump on the face grid."""
    return np.exp(-(((u - cu) / su) ** 2 + ((v - cv) / sv) ** 2) / 2)


def identity_params(rng: np.random.Generator) -> dict[str, float | np.ndarray]:
    """Draw one identity's shape and skin parameters."""
    t = rng.uniform(0, 1)  # light to dark skin
    light, dark = np.array([0.80, 0.58, 0.46]), np.array([0.30, 0.17, 0.11])
    skin = (1 - t) * light + t * dark
    skin = skin * rng.uniform(0.92, 1.08, 3)
    hair = np.array([0.05, 0.035, 0.025]) * rng.uniform(0.6, 3.0) * rng.uniform(0.8, 1.2, 3)
    return {
        "a": rng.uniform(0.47, 0.55),  # head half-width
        "b": rng.uniform(0.64, 0.72),  # head half-height
        "depth": rng.uniform(0.45, 0.6),
        "eye_x": rng.uniform(0.14, 0.19),
        "eye_y": rng.uniform(-0.14, -0.07),
        "eye_r": rng.uniform(0.035, 0.05),
        "brow_dy": rng.uniform(0.06, 0.09),
        "nose_len": rng.uniform(0.09, 0.15),
        "nose_h": rng.uniform(0.10, 0.18),
        "mouth_y": rng.uniform(0.24, 0.32),
        "mouth_w": rng.uniform(0.07, 0.11),
        "hairline": rng.uniform(-0.42, -0.30),
        "skin": skin,
        "hair": hair,
        "lips": skin * np.array([1.05, 0.62, 0.62]),
        "iris": rng.uniform(0.04, 0.3) * np.array([1.0, 0.8, 0.6]),
        "blotch": rng.uniform(0.04, 0.10),
        "freckle": rng.uniform(0.0, 0.05),
        "seed": int(rng.integers(0, 2**31)),
    }


def face_maps(params: dict, size: int) -> FaceMaps:
    """Render an identity's canonical height field, albedo and masks on a ``size`` grid."""
    p = params
    rng = np.random.default_rng(p["seed"])
    ax = (np.arange(size, dtype=np.float32) + 0.5) / size * 2 - 1
    u, v = np.meshgrid(ax, ax)
    a, b = p["a"], p["b"]
    r2 = (u / a) ** 2 + ((v - 0.05) / b) ** 2
    head = np.sqrt(np.clip(1 - r2, 0, None)) * p["depth"]
    au = np.abs(u)
    ex, ey = p["eye_x"], p["eye_y"]
    height = (
        head
        + 0.05 * _gauss(au, v, ex, ey - p["brow_dy"], 0.07, 0.02)  # brow ridges
        - 0.07 * _gauss(au, v, ex, ey, 0.06, 0.04)  # eye sockets
        + p["nose_h"] * _gauss(u, v, 0.0, ey + p["nose_len"], 0.035, p["nose_len"] * 0.8)
        + 0.04 * _gauss(au, v, 0.2, 0.1, 0.1, 0.08)  # cheeks
        - 0.03 * _gauss(u, v, 0.0, p["mouth_y"], p["mouth_w"], 0.012)  # mouth line
        + 0.02 * _gauss(u, v, 0.0, p["mouth_y"] + 0.025, p["mouth_w"] * 0.9, 0.02)  # lower lip
        + 0.03 * _gauss(u, v, 0.0, 0.55, 0.12, 0.06)  # chin
    ).astype(np.float32)
    mask = np.clip((1 - r2) * 12, 0, 1).astype(np.float32)
    height *= mask

    # Albedo: skin tone with slow blotches and fine freckles (texture fixed on the face).
    slow = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), size / 16)
    slow /= slow.std() + 1e-6
    fine = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.7)
    fine /= fine.std() + 1e-6
    tex = 1 + p["blotch"] * slow + p["freckle"] * fine
    albedo = p["skin"][None, None, :] * tex[..., None]
    eye = _gauss(au, v, ex, ey, p["eye_r"] * 1.4, p["eye_r"] * 0.6)
    iris = _gauss(au, v, ex, ey, p["eye_r"] * 0.45, p["eye_r"] * 0.45)
    lips = _gauss(u, v, 0.0, p["mouth_y"] + 0.01, p["mouth_w"], 0.022)
    brow = _gauss(au, v, ex, ey - p["brow_dy"], 0.065, 0.012)
    hair = np.clip((p["hairline"] - v) * 25 + 0.3 * slow, 0, 1) * mask
    for weight, colour in (
        (np.clip(eye * 1.6, 0, 1), np.array([0.75, 0.72, 0.70])),
        (np.clip(iris * 1.8, 0, 1), p["iris"]),
        (np.clip(lips * 1.3, 0, 1), p["lips"]),
        (np.clip(brow * 1.5, 0, 1), p["hair"]),
        (hair, p["hair"]),
    ):
        albedo = albedo * (1 - weight[..., None]) + weight[..., None] * colour[None, None, :]
    eyes = np.clip(eye * 2, 0, 1).astype(np.float32)
    return FaceMaps(height, albedo.astype(np.float32), mask, eyes)


def pose_matrix(pose: Pose, size: int) -> np.ndarray:
    """The 2x3 affine matrix that moves canonical face coordinates to the frame."""
    centre = (size / 2, size / 2)
    m = cv2.getRotationMatrix2D(centre, pose.angle, pose.scale)
    m[:, 2] += (pose.dx * size, pose.dy * size)
    return m


def warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp an image by an affine matrix (bilinear, zero outside)."""
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT
    )


def posed(maps: FaceMaps, pose: Pose, size: int) -> FaceMaps:
    """The canonical maps moved to a frame's pose (height scales with the face)."""
    m = pose_matrix(pose, size)
    return FaceMaps(
        warp(maps.height, m, size) * pose.scale,
        warp(maps.albedo, m, size),
        warp(maps.mask, m, size),
        warp(maps.eyes, m, size),
    )


def normals(height: np.ndarray) -> np.ndarray:
    """Unit surface normals [H,W,3] of a height field given in half-frame units."""
    size = height.shape[0]
    gy, gx = np.gradient(height * (size / 2))
    n = np.stack([-gx, -gy, np.ones_like(height)], axis=-1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def shade(
    albedo: np.ndarray, normal: np.ndarray, light: Light, gloss: float = 1.0
) -> np.ndarray:
    """Lambertian + Phong shading of an albedo under a directional light (linear RGB)."""
    d = np.asarray(light.direction, np.float32)
    d = d / np.linalg.norm(d)
    ndotl = np.clip(normal @ d, 0, None)
    half = d + np.array([0, 0, 1], np.float32)
    half /= np.linalg.norm(half)
    spec = np.clip(normal @ half, 0, None) ** 24 * light.specular * gloss
    colour = kelvin_rgb(light.temperature) * light.intensity
    lit = albedo * (light.ambient + (1 - light.ambient) * ndotl)[..., None] + spec[..., None]
    return (lit * colour).astype(np.float32)


def background(
    size: int, base: np.ndarray, rng: np.random.Generator, texture: float,
    pattern: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """A textured background albedo: gradient, soft blobs, grain, optional periodic tiles.

    ``pattern`` = (period as a fraction of the frame, contrast) of a wallpaper/fabric weave.
    """
    ax = np.linspace(0, 1, size, dtype=np.float32)
    grad = 0.85 + 0.3 * ax[:, None] * rng.uniform(-1, 1)
    noise = rng.standard_normal((size, size)).astype(np.float32)
    blobs = cv2.GaussianBlur(noise, (0, 0), size / 10)
    blobs /= blobs.std() + 1e-6
    grain = rng.standard_normal((size, size)).astype(np.float32)
    tex = grad * (1 + texture * blobs) * (1 + 0.02 * grain)
    period, contrast = pattern
    if period > 0 and contrast > 0:
        t = np.deg2rad(rng.uniform(-20, 20))
        xx, yy = np.meshgrid(np.arange(size, dtype=np.float32), np.arange(size, dtype=np.float32))
        u = (np.cos(t) * xx + np.sin(t) * yy) * (2 * np.pi / (period * size))
        v = (-np.sin(t) * xx + np.cos(t) * yy) * (2 * np.pi / (period * size))
        tex = tex * (1 + contrast * np.cos(u) * np.cos(v))
    colour = base * rng.uniform(0.85, 1.15, 3)
    return np.clip(tex[..., None] * colour[None, None, :], 0, 1).astype(np.float32)


def render_face(
    maps: FaceMaps, pose: Pose, light: Light, backdrop: np.ndarray, gloss: float = 1.0
) -> tuple[np.ndarray, FaceMaps]:
    """A lit face over a backdrop albedo (linear RGB), and the posed maps."""
    size = backdrop.shape[0]
    fm = posed(maps, pose, size)
    face = shade(fm.albedo, normals(fm.height), light, gloss)
    flat = np.zeros((size, size, 3), np.float32)
    flat[..., 2] = 1
    back = shade(backdrop, flat, light, 0.0)
    m = fm.mask[..., None]
    return face * m + back * (1 - m), fm
