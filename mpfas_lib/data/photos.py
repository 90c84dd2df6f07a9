"""Real photographs through the synthetic benchmark's physical attack model (illustration only).

Procedural heads are hard to read as faces, so chapters 03, 04 and 11 also show three
public-domain portraits that ship with the pinned packages (nothing is downloaded). Each is
captured as a genuine face and re-captured as a print and a replay attack with the same
printer, display, light and camera models that render the benchmark
(:mod:`mpfas_lib.data.attacks`, :mod:`mpfas_lib.data.camera`). They are never training data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from matplotlib import cbook
from PIL import Image
from skimage import data

from mpfas_lib.data.attacks import Placement, paper_texture, print_scene, replay_scene
from mpfas_lib.data.camera import capture
from mpfas_lib.data.render import background, shade
from mpfas_lib.data.synthetic import DOMAINS

KINDS: tuple[str, ...] = ("genuine", "print", "replay")
#: The domain whose camera, light, printer and display capture the photographs (OULU-NPU-like).
DOMAIN = "O"


def _astronaut() -> np.ndarray:
    return data.astronaut()


def _camera() -> np.ndarray:
    return np.repeat(data.camera()[..., None], 3, axis=-1)


def _grace_hopper() -> np.ndarray:
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(f).convert("RGB"))


@dataclass(frozen=True)
class Portrait:
    """A photograph shipped with a pinned package: loader, face crop, source and licence."""

    name: str
    load: Callable[[], np.ndarray]
    crop: tuple[int, int, int]  # (top, left, side) of a square around the face, in pixels
    source: str
    licence: str


PORTRAITS: dict[str, Portrait] = {
    p.name: p
    for p in (
        Portrait("astronaut", _astronaut, (0, 96, 320),
                 "scikit-image `skimage.data.astronaut()`: astronaut Eileen Collins, NASA "
                 "photograph (NASA Great Images database)",
                 "public domain (no known copyright restrictions)"),
        Portrait("grace_hopper", _grace_hopper, (60, 96, 320),
                 "matplotlib sample data `grace_hopper.jpg`: Commodore Grace M. Hopper, "
                 "official U.S. Navy portrait",
                 "public domain (work of the U.S. federal government)"),
        Portrait("camera", _camera, (40, 96, 256),
                 "scikit-image `skimage.data.camera()`: the 'cameraman' photograph by "
                 "Lav Varshney",
                 "CC0 (public domain dedication by the photographer)"),
    )
}
PORTRAIT_NAMES: tuple[str, ...] = tuple(PORTRAITS)


def portrait(name: str, size: int = 256) -> np.ndarray:
    """The face crop of a shipped portrait as sRGB float32 [size, size, 3] in [0, 1]."""
    if name not in PORTRAITS:
        raise ValueError(f"unknown portrait {name!r}: choose one of {list(PORTRAIT_NAMES)}")
    p = PORTRAITS[name]
    top, left, side = p.crop
    img = p.load()[top:top + side, left:left + side]
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return img.astype(np.float32) / 255.0


def _capture_all(photo: np.ndarray, size: int, seed: int) -> dict[str, np.ndarray]:
    """Genuine, print and replay captures of one sRGB photo [R, R, 3] (R = 2 * size)."""
    dom = DOMAINS[DOMAIN]
    camera, light = dom.cameras[0], dom.lights[0]
    inner = photo.shape[0]
    rng = np.random.default_rng(seed)
    flat = np.zeros((inner, inner, 3), np.float32)
    flat[..., 2] = 1
    room = shade(background(inner, dom.backdrop_of(0), rng, dom.backdrop_texture), flat, light,
                 0.0)
    # The photograph stands for the live scene: its pixels, linearised, lit by the room light.
    live = shade(photo ** 2.2, flat, dataclasses.replace(light, direction=(0.0, 0.0, 1.0)), 0.0)
    printer, display = dom.printers[0], dom.displays[0]
    held = Placement(dx=0.01, dy=-0.01, angle=2.0, scale=1.15)
    scenes = {
        "genuine": live,
        "print": print_scene(photo, held, printer, light, room,
                             paper_texture(inner, printer.texture, rng)),
        "replay": replay_scene(photo, held, display, light, room, glare_xy=(0.7, 0.25)),
    }
    return {k: capture(s, camera, size, rng) for k, s in scenes.items()}


@lru_cache(maxsize=4)
def photographs(size: int = 256, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Each portrait as a genuine, print and replay capture: ``{name: {kind: uint8 [S,S,3]}}``.

    Rendered at twice ``size`` and captured at ``size`` by the camera of domain ``DOMAIN``
    with its printer and display (Sec. IV's attack types, as in the synthetic benchmark).
    Deterministic in ``seed``; the arrays are shared between calls (read-only).
    """
    if size < 32 or size % 8:
        raise ValueError(f"photographs: size must be a multiple of 8, at least 32, got {size}")
    out = {}
    for k, name in enumerate(PORTRAIT_NAMES):
        caps = _capture_all(portrait(name, 2 * size), size, seed * 1000 + k)
        for img in caps.values():
            img.setflags(write=False)
        out[name] = caps
    return out


def photo_batch(size: int = 256, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """All captures as one float32 batch [N, 3, S, S] in [0, 1] and their labels (chapter 03)."""
    photos = photographs(size, seed)
    images, labels = [], []
    for name, caps in photos.items():
        for kind in KINDS:
            images.append(caps[kind].transpose(2, 0, 1).astype(np.float32) / 255.0)
            labels.append(f"{name} {kind}")
    return np.stack(images), labels
