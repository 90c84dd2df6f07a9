"""Presentation attack instruments of the synthetic benchmark, as physical media in the scene.

An attack is never a label flip: the victim's face is first photographed (or filmed) under the
attacker's own light, then reproduced on a medium that sits in front of the capturing camera.

- Print: the printer's tone curve, colour gamut compressed to the inks, clustered-dot CMY
  halftone at the printer's screen period (laser and offset printers) or stochastic dithering
  (inkjets), paper texture, a flat, warped (bent around a vertical axis) or cut (eye holes)
  sheet that is re-lit by the scene light.
- Replay: a display with an RGB stripe subpixel grid at its pixel pitch, its own gamma,
  contrast, black level and white point, a bezel, a glare spot of the room light (or, behind
  a matte anti-glare coating, a diffuse haze that also softens the grid), and the horizontal
  bands of a PWM backlight seen by a rolling-shutter camera.
- Paper mask: the face *shape* is kept (3D), but its albedo is a halftoned print of a frontal
  photo (with the photo's baked shading), matte, with eye holes.

Media are described by "plane coordinates": for each scene pixel, where on the medium it lands.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mpfas_lib.data.render import Light, kelvin_rgb, shade


@dataclass(frozen=True)
class Printer:
    """A printer: halftone screen period (fraction of the frame), ink density, paper."""

    name: str
    period: float  # halftone cell as a fraction of the frame width
    density: float = 0.85  # max ink coverage (gamut compression)
    paper: tuple[float, float, float] = (0.92, 0.91, 0.86)
    texture: float = 0.04  # paper fibre contrast
    gloss: float = 0.3  # specular strength relative to skin
    softness: float = 0.25  # ink spread: larger = softer dots, weaker halftone harmonics
    # (for an "fm" screen: the share of the droplet pattern blurred away, in [0, 1])
    screen: str = "am"  # "am": periodic clustered dots (laser, offset); "fm": inkjet dithering
    tone: float = 1.0  # exponent of the colour management's tone curve (1 = none: pale prints)


@dataclass(frozen=True)
class Display:
    """A display: pixel pitch (fraction of the frame), tone curve, white point, glare."""

    name: str
    pitch: float  # pixel pitch as a fraction of the frame width
    gamma: float = 2.2
    contrast: float = 0.9
    black: float = 0.03
    white: tuple[float, float, float] = (0.95, 1.0, 1.08)
    brightness: float = 1.0
    glare: float = 0.25
    fill: float = 0.8  # contrast of the subpixel grid (1 = fully separated subpixels)
    matte: float = 0.0  # anti-glare coating: diffuse haze instead of a glare spot, softer grid
    banding: float = 0.0  # depth of the PWM-backlight bands caught by a rolling shutter


@dataclass(frozen=True)
class Placement:
    """Where a medium sits in the frame: shift (fraction), rotation (deg), scale, bend."""

    dx: float = 0.0
    dy: float = 0.0
    angle: float = 0.0
    scale: float = 1.0
    bend: float = 0.0  # curvature of a warped sheet (0 = flat)


def plane_coords(size: int, place: Placement) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each frame pixel: medium coordinates (x, y, in medium pixels) and the sheet normal."""
    ax = np.arange(size, dtype=np.float32) + 0.5 - size / 2
    x, y = np.meshgrid(ax, ax)
    x = x - place.dx * size
    y = y - place.dy * size
    t = np.deg2rad(place.angle)
    c, s = np.cos(t), np.sin(t)
    xs = (c * x - s * y) / place.scale
    ys = (s * x + c * y) / place.scale
    nx = np.zeros_like(xs)
    if place.bend:
        k = place.bend / (size / 2)
        phi = np.arcsin(np.clip(k * xs, -0.999, 0.999))
        xs = phi / k
        nx = np.sin(phi)
    normal = np.stack([nx, np.zeros_like(nx), np.sqrt(1 - nx**2)], axis=-1).astype(np.float32)
    return (xs + size / 2).astype(np.float32), (ys + size / 2).astype(np.float32), normal


def sample(image: np.ndarray, mx: np.ndarray, my: np.ndarray) -> np.ndarray:
    """Bilinear lookup of an image at medium coordinates (pixel centres at +0.5)."""
    return cv2.remap(image, mx - 0.5, my - 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def inside(mx: np.ndarray, my: np.ndarray, size: float, margin: float = 0.0) -> np.ndarray:
    """1 where the medium coordinates fall on the medium (a square of ``size`` pixels)."""
    lo, hi = -margin, size + margin
    return ((mx >= lo) & (mx < hi) & (my >= lo) & (my < hi)).astype(np.float32)


# Ink absorption of cyan, magenta, yellow in R, G, B (impure inks: some cross-talk).
_INKS = np.array([[0.85, 0.20, 0.05], [0.12, 0.80, 0.22], [0.03, 0.10, 0.85]], np.float32)
_SCREEN_ANGLES = np.deg2rad([15.0, 75.0, 0.0])


def fm_screen(size: int, printer: Printer, rng: np.random.Generator) -> np.ndarray:
    """Threshold maps [R,R,3] of an inkjet's stochastic (blue-noise-like) dither, one per ink."""
    cell = printer.period * size
    noise = rng.standard_normal((size, size, 3)).astype(np.float32)
    blue = cv2.GaussianBlur(noise, (0, 0), cell / 3) - cv2.GaussianBlur(noise, (0, 0), cell)
    ranks = blue.reshape(-1, 3).argsort(axis=0).argsort(axis=0)  # flat histogram in [0, 1)
    return (ranks / ranks.shape[0]).reshape(size, size, 3).astype(np.float32)


def _am_screen(mx: np.ndarray, my: np.ndarray, period: float, ch: int) -> np.ndarray:
    """Threshold of a clustered-dot screen of one ink at its screen angle."""
    a = _SCREEN_ANGLES[ch]
    u = (mx * np.cos(a) + my * np.sin(a)) * (2 * np.pi / period)
    v = (-mx * np.sin(a) + my * np.cos(a)) * (2 * np.pi / period)
    return 0.5 + 0.25 * (np.cos(u) + np.cos(v))


def halftone(
    photo: np.ndarray, mx: np.ndarray, my: np.ndarray, printer: Printer, paper_tex: np.ndarray,
    dither: np.ndarray | None = None,
) -> np.ndarray:
    """Reflectance [R,R,3] of a printed sRGB photo seen at medium coordinates (mx, my).

    ``dither`` (from ``fm_screen``) is the threshold map of an "fm" (inkjet) printer.
    """
    size = photo.shape[0]
    cmy = (1 - sample(photo, mx, my) ** printer.tone) * printer.density
    period = printer.period * size
    refl = np.ones(mx.shape + (3,), np.float32) * np.asarray(printer.paper, np.float32)
    fm = sample(dither, mx, my) if printer.screen == "fm" and dither is not None else None
    for ch in range(3):
        if fm is not None:
            # Droplets smaller than a render pixel: only part of the binary pattern survives as
            # grain, and the mean coverage stays the ink amount (no tone change).
            dots = (cmy[..., ch] > fm[..., ch]).astype(np.float32)
            spread = min(max(printer.softness, 0.0), 1.0)
            ink = dots * (1 - spread) + cmy[..., ch] * spread
        else:
            screen = _am_screen(mx, my, period, ch)
            ink = np.clip((cmy[..., ch] - screen) / printer.softness + 0.5, 0, 1)
        refl = refl * (1 - ink[..., None] * _INKS[ch])
    return refl * sample(paper_tex, mx, my)[..., None]


def paper_texture(size: int, amount: float, rng: np.random.Generator) -> np.ndarray:
    """Multiplicative paper fibre texture around 1."""
    noise = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.8)
    return (1 + amount * noise / (noise.std() + 1e-6)).astype(np.float32)


def print_scene(
    photo: np.ndarray,
    place: Placement,
    printer: Printer,
    light: Light,
    room: np.ndarray,
    paper_tex: np.ndarray,
    holes: tuple[np.ndarray, np.ndarray] | None = None,
    dither: np.ndarray | None = None,
) -> np.ndarray:
    """Linear scene of a printed photo held in front of the camera (optionally with eye holes).

    ``holes`` = (eye map of the photo, scene seen through the holes).
    """
    size = photo.shape[0]
    mx, my, normal = plane_coords(size, place)
    refl = halftone(photo, mx, my, printer, paper_tex, dither)
    sheet = shade(refl, normal, light, gloss=printer.gloss)
    on = inside(mx, my, size)[..., None]
    scene = sheet * on + room * (1 - on)
    if holes is not None:
        eyes, behind = holes
        cut = (sample(eyes, mx, my) > 0.35).astype(np.float32)[..., None] * on
        scene = scene * (1 - cut) + behind * cut
    return scene


def replay_scene(
    frame: np.ndarray, place: Placement, display: Display, light: Light, room: np.ndarray,
    glare_xy: tuple[float, float], band_phase: float = 0.0,
) -> np.ndarray:
    """Linear scene of a display showing an sRGB video frame, with bezel, glare and banding."""
    size = frame.shape[0]
    mx, my, _ = plane_coords(size, place)
    pitch = display.pitch * size
    # The content is sampled smoothly: a real display has far more pixels across a face than
    # we can render, so only its subpixel grid (below) is kept, not the blocky low resolution.
    pixels = sample(frame, mx, my)
    emitted = display.contrast * np.clip(pixels, 0, 1) ** display.gamma + display.black
    emitted = emitted * np.asarray(display.white, np.float32) * display.brightness
    # RGB stripes: each pixel has three vertical subpixels, so channel c is modulated at the
    # pixel frequency with phase c/3 (kept to its fundamental: band-limited, no render aliasing),
    # and rows are separated by a thin dark gap.
    fx, fy = mx / pitch, my / pitch
    phase = 2 * np.pi * (fx[..., None] - np.arange(3, dtype=np.float32) / 3 - 1 / 6)
    fill = display.fill * (1 - display.matte)  # the coating's diffusion blurs the grid
    stripes = 1 + fill * np.cos(phase)
    rows = 1 + 0.3 * fill * np.cos(2 * np.pi * fy)[..., None]
    screen = emitted * stripes * rows
    ax = np.arange(size, dtype=np.float32) / size
    if display.banding > 0:  # rows are exposed at different instants of the PWM cycle
        bands = 1 - display.banding * (0.5 + 0.5 * np.cos(2 * np.pi * (6 * ax + band_phase)))
        screen = screen * bands[:, None, None]
    gx, gy = glare_xy
    spot = np.exp(-(((ax[None, :] - gx) ** 2 + (ax[:, None] - gy) ** 2) / (2 * 0.15**2)))
    haze = 0.04 + 0.12 * display.matte
    reflect = (haze + display.glare * (1 - display.matte) * spot)[..., None]
    reflect = reflect * kelvin_rgb(light.temperature)
    screen = screen + reflect * light.intensity
    on = inside(mx, my, size)[..., None]
    bezel = inside(mx, my, size, margin=0.08 * size)[..., None] - on
    dark = shade(np.full_like(room, 0.03), np.dstack([np.zeros_like(mx)] * 2 + [np.ones_like(mx)]),
                 light, gloss=2.0)
    return screen * on + dark * bezel + room * (1 - on - bezel)


def mask_scene(
    photo: np.ndarray,
    place: Placement,
    shape_normals: np.ndarray,
    face_mask: np.ndarray,
    printer: Printer,
    light: Light,
    attacker: np.ndarray,
    paper_tex: np.ndarray,
    eyes: np.ndarray,
    dither: np.ndarray | None = None,
) -> np.ndarray:
    """Linear scene of a paper mask: a printed face albedo on the 3D face shape, eye holes."""
    size = photo.shape[0]
    mx, my, _ = plane_coords(size, place)
    refl = halftone(photo, mx, my, printer, paper_tex, dither)
    paper = shade(refl, shape_normals, light, gloss=0.0)
    holes = (sample(eyes, mx, my) > 0.35).astype(np.float32)
    m = (face_mask * (1 - holes))[..., None]
    return paper * m + attacker * (1 - m)
