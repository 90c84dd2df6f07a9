"""A deterministic synthetic five-domain face anti-spoofing benchmark (no download).

The real datasets (MSU-MFSD, Replay-Attack, CASIA-FASD, OULU-NPU, ROSE-YOUTU) are licensed, so
the book and the tests run on look-alike domains "M", "I", "C", "O", "Y" generated here. Each
domain mirrors its namesake's published set-up (see ``DOMAINS``): its cameras (resolution,
optics, flare, vignetting, noise, phone ISP denoising/sharpening/contrast, colour, JPEG), its
sessions of light and background (a backlit window in some), the attacker's own photo light,
and its attack instruments (printer tone curve, clustered-dot or inkjet screen, paper; display
pitch, tone, glare or matte haze, PWM banding; how far the medium fills the view). The
conditions of one domain are only partly covered by the other four, so a leave-one-domain-out
protocol faces a real domain shift. Every video is a function of ``(seed, shift, domain,
subject, video)`` alone: any sample can be generated on its own, and generated videos are cached
under ``cache_dir()/synthetic/v<version>-shift<shift>-<config hash>/``.

The domain-shift dial ``shift`` (:func:`shifted_domains`) moves every nuisance of every domain
(cameras' optics, sensor, ISP and JPEG; lights and sessions; the attacker's photo light; the
instruments' tone and colour) along the line from the mean over the five domains through its
value in ``DOMAINS``: 0 makes all domains alike, 1 is ``DOMAINS`` itself, above 1 extrapolates.
The spoof physics (halftone period and dots, inkjet dither, paper fibre, subpixel pitch and
separation, matte coating, PWM bands, medium placement, paper masks) never moves.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from tqdm.auto import tqdm

from mpfas_lib.data.attacks import (
    Display,
    Placement,
    Printer,
    fm_screen,
    mask_scene,
    paper_texture,
    print_scene,
    replay_scene,
)
from mpfas_lib.data.camera import Camera, capture
from mpfas_lib.data.datasets import FrameDataset, FrameRecord, NpzVideoLoader
from mpfas_lib.data.render import (
    FaceMaps,
    Light,
    Pose,
    background,
    face_maps,
    identity_params,
    normals,
    posed,
    render_face,
    shade,
)
from mpfas_lib.errors import UserError
from mpfas_lib.files import atomic_write_text
from mpfas_lib.paths import cache_dir
from mpfas_lib.profile import Profile

GENERATOR_VERSION = 10
DEFAULT_SHIFT = 1.5  # the dial's default: every MICO target unseen (see shifted_domains)
SPLITS = ("train", "val", "test", "all")
ATTACK_TYPES = ("live", "print", "print-warped", "print-cut", "replay", "mask")
_PROGRESS_MIN = 8  # fewer videos to render than this: no progress bar


@dataclass(frozen=True)
class Domain:
    """One synthetic domain: its cameras, lights, attack instruments and scene."""

    name: str
    mirrors: str  # the real dataset it imitates
    cameras: tuple[Camera, ...]
    lights: tuple[Light, ...]
    attacks: tuple[tuple[str, str], ...]  # (attack type, instrument name) per spoof video
    printers: tuple[Printer, ...] = ()
    displays: tuple[Display, ...] = ()
    live_videos: int = 2
    backdrop: tuple[float, float, float] = (0.5, 0.5, 0.5)
    backdrop_texture: float = 0.1
    backdrop_pattern: tuple[float, float] = (0.0, 0.0)  # (period, contrast) of a periodic wall
    session_backdrops: tuple[tuple[float, float, float], ...] = ()  # per light, if they differ
    # Per light, if they differ: (texture, pattern contrast) of the background (a plain wall in
    # one session, clutter in another).
    session_textures: tuple[tuple[float, float], ...] = ()
    backlight: tuple[float, ...] = ()  # per light: extra light of the background (a window)
    source_light: Light = Light(5500, 1.0, (0.0, -0.3, 1.0), 0.35, 0.1)
    # Share of a session's window (backlight) that the attacker's photo shows behind the victim
    # too (OULU-NPU filmed its attack material in the same sessions).
    source_backlight: float = 0.0
    hand_motion: float = 0.01  # per-frame jitter of a held medium (fraction of the frame)
    medium_scale: tuple[float, float] = (1.05, 1.3)  # medium size / frame: < 1 shows its edges

    def instrument(self, name: str) -> Printer | Display:
        """The printer or display of the given name."""
        for item in (*self.printers, *self.displays):
            if item.name == name:
                return item
        raise KeyError(f"domain {self.name} has no instrument {name!r}")

    def backdrop_of(self, light: int) -> np.ndarray:
        """Background albedo colour of the session lit by light ``light``."""
        if self.session_backdrops:
            return np.asarray(self.session_backdrops[light % len(self.session_backdrops)])
        return np.asarray(self.backdrop)

    def texture_of(self, light: int) -> tuple[float, tuple[float, float]]:
        """Background texture and (period, contrast) pattern of the session of ``light``."""
        if self.session_textures:
            texture, contrast = self.session_textures[light % len(self.session_textures)]
            return texture, (self.backdrop_pattern[0], contrast)
        return self.backdrop_texture, self.backdrop_pattern

    def backlight_of(self, light: int) -> float:
        """Factor on the background's light in the session of light ``light`` (1 = none)."""
        return 1.0 + (self.backlight[light % len(self.backlight)] if self.backlight else 0.0)


def _phones(prefix: str, n: int, seed: int, isp: float = 1.0,
            hdr: tuple[float, float] = (0.0, 0.0)) -> tuple[Camera, ...]:
    """``n`` distinct smartphone front cameras (fixed by ``seed``); ``isp`` scales how far
    their processing (noise reduction, sharpening, contrast boost) goes, ``hdr`` is the range
    of their local tone mapping."""
    rng = np.random.default_rng(seed)
    tone = np.random.default_rng([seed, 1]).uniform(*hdr, n)
    cams = []
    for i in range(n):
        strength = isp * float(rng.uniform(0.2, 2.0))  # brands tune their ISPs very differently
        cams.append(Camera(
            f"{prefix}{i + 1}", resolution=float(rng.uniform(0.75, 1.0)),
            blur=float(rng.uniform(0.5, 1.0)), noise=float(rng.uniform(0.01, 0.035)),
            white_balance=tuple(float(g) for g in rng.uniform(0.9, 1.1, 3)),
            saturation=float(rng.uniform(0.95, 1.35)), jpeg=int(rng.integers(80, 96)),
            gamma=float(rng.uniform(2.1, 2.5)), sharpen=strength * float(rng.uniform(0.4, 1.0)),
            denoise=strength * float(rng.uniform(0.03, 0.08)),
            contrast=1 + strength * float(rng.uniform(0.05, 0.15)),
            flare=float(rng.uniform(0.01, 0.04)), hdr=float(tone[i])))
    return tuple(cams)


DOMAINS: dict[str, Domain] = {
    "M": Domain(
        "M", "MSU-MFSD: MacBook Air webcam + Nexus 5 front camera, one office; A3 laser print, "
             "iPad Air and iPhone 5S (Retina) replays",
        cameras=(
            Camera("laptop", 0.5, 1.4, 0.035, (1.08, 1.0, 0.88), 2.2, 0.9, 65,
                   flare=0.08, vignette=0.6, contrast=0.9),
            Camera("android", 0.9, 0.6, 0.025, (0.96, 1.0, 1.06), 2.3, 1.15, 85,
                   sharpen=1.5, denoise=0.05, contrast=1.15),
        ),
        lights=(Light(4000, 1.0, (0.1, -0.4, 1.0), 0.45, 0.1),),  # office fluorescent
        attacks=(("print", "a3_laser"), ("replay", "ipad_air"), ("replay", "iphone5s")),
        printers=(Printer("a3_laser", 1 / 60, 0.95, (0.94, 0.93, 0.9), 0.03, 0.6, 0.45,
                           tone=1.6),),
        displays=(
            Display("ipad_air", 1 / 62, 2.2, 0.95, 0.01, (0.93, 1.0, 1.12), 1.2, 0.25, 0.2),
            Display("iphone5s", 1 / 62, 2.2, 0.95, 0.01, (0.95, 1.0, 1.08), 1.25, 0.2, 0.12),
        ),
        source_light=Light(3500, 1.0, (0.3, -0.4, 1.0), 0.2, 0.15),
        backdrop=(0.58, 0.52, 0.42), backdrop_texture=0.08,
    ),
    "I": Domain(
        "I", "Replay-Attack: one 320x240 MacBook webcam, controlled (uniform wall, fluorescent) "
             "and adverse (cluttered, daylight) scenes; laser print, iPhone 3GS and iPad replays",
        cameras=(Camera("webcam", 0.45, 1.3, 0.05, (1.06, 1.02, 0.82), 2.2, 0.8, 35,
                        flare=0.06, vignette=0.2, contrast=0.9),),
        lights=(
            Light(4500, 1.2, (0.0, -0.2, 1.0), 0.7, 0.12),  # controlled: diffuse fluorescent
            Light(6000, 0.7, (0.8, -0.3, 0.6), 0.12, 0.2),  # adverse: daylight from the side
        ),
        attacks=(("print", "hardcopy"), ("replay", "iphone3gs"), ("replay", "ipad1")),
        printers=(Printer("hardcopy", 1 / 44, 0.88, (0.9, 0.9, 0.9), 0.05, 0.3, 0.5,
                           tone=1.6),),
        displays=(
            Display("iphone3gs", 1 / 34, 2.4, 0.85, 0.05, (0.9, 1.0, 1.15), 1.0, 0.35, 0.8),
            Display("ipad1", 1 / 40, 2.2, 0.9, 0.03, (0.92, 1.0, 1.1), 1.2, 0.3, 0.4),
        ),
        source_light=Light(5000, 1.1, (0.2, -0.3, 1.0), 0.3, 0.1),
        backdrop=(0.40, 0.43, 0.50), backdrop_texture=0.15, backdrop_pattern=(1 / 45, 0.15),
        session_backdrops=((0.55, 0.55, 0.58), (0.36, 0.33, 0.30)),
        session_textures=((0.03, 0.0), (0.4, 0.35)),  # controlled: plain wall; adverse: clutter
        backlight=(0.0, 0.8),
    ),
    "C": Domain(
        "C", "CASIA-FASD: old USB, new USB and Sony NEX-5 cameras; warped and cut photos on "
             "copper-plate paper, iPad video replay",
        cameras=(
            Camera("low", 0.35, 2.0, 0.05, (1.0, 1.08, 0.92), 2.2, 0.8, 60,
                   flare=0.1, vignette=0.4, contrast=0.85),
            Camera("normal", 0.6, 1.1, 0.03, (1.0, 1.0, 1.0), 2.2, 1.0, 75, flare=0.03),
            Camera("high", 1.0, 0.4, 0.015, (1.02, 1.0, 0.98), 2.3, 1.15, 92, sharpen=0.8,
                   contrast=1.1),
        ),
        lights=(
            Light(6200, 0.9, (-0.3, -0.4, 1.0), 0.3, 0.12),  # daylight
            Light(3200, 0.9, (0.4, -0.3, 0.9), 0.3, 0.1),  # tungsten room light
        ),
        attacks=(("print-warped", "copper"), ("print-cut", "copper"), ("replay", "ipad")),
        printers=(Printer("copper", 1 / 56, 0.98, (0.96, 0.95, 0.9), 0.03, 0.8, 0.6,
                           tone=2.0),),
        displays=(Display("ipad", 1 / 48, 2.2, 0.92, 0.02, (0.94, 1.0, 1.08), 1.0, 0.2, 0.5),),
        source_light=Light(6500, 0.9, (-0.3, -0.3, 1.0), 0.3, 0.1),
        backdrop=(0.42, 0.48, 0.40), backdrop_texture=0.2, backdrop_pattern=(1 / 30, 0.3),
        medium_scale=(0.95, 1.25),
    ),
    "O": Domain(
        "O", "OULU-NPU: six 1080p phone front cameras, three sessions of light and background; "
             "Canon laser and inkjet prints, Dell 1905FP and MacBook Retina replays",
        cameras=_phones("phone", 6, 11, isp=1.0, hdr=(0.3, 0.8)),
        lights=(
            Light(4200, 1.0, (0.0, -0.7, 1.0), 0.3, 0.15),  # session 1: office, window behind
            Light(3500, 0.6, (0.2, -0.8, 0.6), 0.15, 0.1),  # session 2: meeting room
            Light(6500, 1.2, (-0.7, -0.2, 0.7), 0.25, 0.2),  # session 3: window in front
        ),
        attacks=(("print", "imagepress"), ("print", "pixma"),
                 ("replay", "dell1905fp"), ("replay", "retina")),
        printers=(
            Printer("imagepress", 1 / 62, 1.0, (0.95, 0.94, 0.92), 0.03, 0.5, 0.8, tone=2.2),
            # Inkjet droplets are far below any camera's resolution: a faint grain at most.
            Printer("pixma", 1 / 64, 1.0, (0.93, 0.93, 0.9), 0.04, 0.4, 0.75, screen="fm",
                    tone=2.0),
        ),
        displays=(
            Display("dell1905fp", 1 / 44, 2.2, 0.85, 0.04, (1.02, 1.0, 0.92), 1.0, 0.2, 0.6,
                    matte=0.7, banding=0.12),
            Display("retina", 1 / 62, 2.2, 0.97, 0.01, (0.95, 1.0, 1.06), 1.2, 0.2, 0.15),
        ),
        source_light=Light(4500, 1.0, (0.4, -0.5, 1.0), 0.15, 0.12),
        backdrop=(0.5, 0.5, 0.5), backdrop_texture=0.12,
        session_backdrops=((0.8, 0.82, 0.85), (0.45, 0.4, 0.35), (0.55, 0.55, 0.5)),
        backlight=(2.0, 0.0, 0.0), source_backlight=1.0,
        medium_scale=(1.1, 1.35),
    ),
    "Y": Domain(
        "Y", "ROSE-YOUTU: five phones, five lightings, print, laptop/monitor replay, paper masks",
        cameras=_phones("yphone", 5, 23, isp=0.5),
        lights=(
            Light(2800, 0.8, (0.5, -0.5, 1.0), 0.2, 0.15),
            Light(4500, 1.0, (0.0, -0.5, 1.0), 0.3, 0.12),
            Light(6500, 1.1, (-0.6, -0.3, 0.8), 0.3, 0.15),
            Light(7500, 0.7, (0.0, 0.2, 1.0), 0.25, 0.1),
            Light(3800, 1.3, (0.8, -0.1, 0.6), 0.2, 0.2),
        ),
        attacks=(("print", "a4"), ("replay", "laptop"), ("replay", "monitor"), ("mask", "a4")),
        printers=(Printer("a4", 1 / 50, 0.85, (0.92, 0.92, 0.9), 0.05, 0.2, 0.6, tone=1.2),),
        displays=(
            Display("laptop", 1 / 58, 2.2, 0.9, 0.03, (0.95, 1.0, 1.06), 1.0, 0.3, 0.3),
            Display("monitor", 1 / 42, 2.3, 0.85, 0.04, (0.92, 1.0, 1.1), 0.9, 0.2, 0.45,
                    banding=0.08),
        ),
        source_light=Light(6000, 1.0, (0.3, -0.3, 1.0), 0.3, 0.12),
        backdrop=(0.45, 0.45, 0.52), backdrop_texture=0.15,
    ),
}
DOMAIN_NAMES = tuple(DOMAINS)


# The nuisance fields the dial moves, with the range a value is clipped to when extrapolated.
# Every other field (names, the instruments' halftone period, dot softness, screen kind, paper
# fibre, subpixel pitch and separation, matte coating, PWM banding) is spoof physics and stays.
_NUISANCE: dict[type, dict[str, tuple[float, float]]] = {
    Camera: {"resolution": (0.2, 1.5), "blur": (0.0, 3.0), "noise": (0.002, 0.12),
             "white_balance": (0.6, 1.6), "gamma": (1.6, 3.0), "saturation": (0.4, 2.0),
             "jpeg": (15, 100), "sharpen": (0.0, 4.0), "denoise": (0.0, 0.3),
             "contrast": (0.5, 1.7), "flare": (0.0, 0.3), "vignette": (0.0, 0.9),
             "hdr": (0.0, 0.9)},
    Light: {"temperature": (2500.0, 10000.0), "intensity": (0.2, 2.5),
            "direction": (-1.5, 1.5), "ambient": (0.02, 0.95), "specular": (0.0, 0.5)},
    Printer: {"density": (0.5, 1.0), "paper": (0.6, 1.0), "gloss": (0.0, 1.5),
              "tone": (0.8, 3.0)},
    Display: {"gamma": (1.6, 3.0), "contrast": (0.5, 1.0), "black": (0.0, 0.12),
              "white": (0.7, 1.3), "brightness": (0.4, 1.8), "glare": (0.0, 0.6)},
}
# The scene of each session and of the domain: (field, range).
_SCENE = {"backdrop": (0.05, 1.0), "backlight": (0.0, 4.0), "backdrop_texture": (0.0, 0.5),
          "pattern_contrast": (0.0, 0.6), "source_backlight": (0.0, 1.0)}


def check_shift(shift: object) -> float:
    """The dial value as a float; a negative, non-finite or non-numeric one is refused."""
    ok = isinstance(shift, int | float | np.floating | np.integer) and not isinstance(shift, bool)
    if not ok or not np.isfinite(float(shift)) or float(shift) < 0:  # type: ignore[arg-type]
        raise ValueError(f"shift must be a finite number >= 0, got {shift!r}")
    return float(shift)  # type: ignore[arg-type]


def _along(groups: list[list[object]], shift: float, bounds: tuple[float, float]
           ) -> list[list[np.ndarray]]:
    """Values moved along the line from the domains' common mean: c + shift * (v - c).

    ``groups`` holds each domain's values; the common mean weighs every domain equally.
    """
    arrays = [[np.asarray(v, np.float64) for v in g] for g in groups]
    common = np.mean([np.mean(g, axis=0) for g in arrays if g], axis=0)
    return [[np.clip(common + shift * (v - common), *bounds) for v in g] for g in arrays]


def _as_field(value: np.ndarray, like: object) -> object:
    """A moved value in the type of the field it replaces (int, float or tuple of floats)."""
    if isinstance(like, tuple):
        return tuple(float(x) for x in value)
    return int(round(float(value))) if isinstance(like, int) else float(value)


def _moved(groups: list[tuple], shift: float) -> list[list[object]]:
    """Every device of each domain (cameras, lights, printers or displays) moved by the dial."""
    out = [list(g) for g in groups]
    kind = type(next(x for g in groups for x in g))
    for name, bounds in _NUISANCE[kind].items():
        moved = _along([[getattr(x, name) for x in g] for g in out], shift, bounds)
        out = [[dataclasses.replace(x, **{name: _as_field(v, getattr(x, name))})
                for x, v in zip(g, m, strict=True)] for g, m in zip(out, moved, strict=True)]
    return out


def shifted_domains(shift: float, domains: dict[str, Domain] | None = None
                    ) -> dict[str, Domain]:
    """The domains with every nuisance moved by the dial (0: all alike, 1: ``DOMAINS``)."""
    shift = check_shift(shift)
    domains = DOMAINS if domains is None else domains
    if shift == 1.0:
        return dict(domains)
    ds = list(domains.values())
    cams = _moved([d.cameras for d in ds], shift)
    lights = _moved([d.lights for d in ds], shift)
    src = _moved([(d.source_light,) for d in ds], shift)
    printers = _moved([d.printers for d in ds], shift)
    displays = _moved([d.displays for d in ds], shift)
    sessions = [range(len(d.lights)) for d in ds]
    backdrops = _along([[d.backdrop_of(i) for i in r] for d, r in zip(ds, sessions, strict=True)],
                       shift, _SCENE["backdrop"])
    backlight = _along([[d.backlight_of(i) - 1 for i in r]
                        for d, r in zip(ds, sessions, strict=True)], shift, _SCENE["backlight"])
    scenes = [[d.texture_of(i) for i in r] for d, r in zip(ds, sessions, strict=True)]
    texture = _along([[t for t, _ in g] for g in scenes], shift, _SCENE["backdrop_texture"])
    contrast = _along([[p[1] for _, p in g] for g in scenes], shift, _SCENE["pattern_contrast"])
    src_backlight = _along([[d.source_backlight] for d in ds], shift, _SCENE["source_backlight"])
    periods = [d.backdrop_pattern[0] for d in ds if d.backdrop_pattern[0] > 0]
    period = float(np.mean(periods)) if periods else 0.0  # of the domains that have a pattern
    out = {}
    for i, d in enumerate(ds):
        out[d.name] = dataclasses.replace(
            d, cameras=tuple(cams[i]), lights=tuple(lights[i]), source_light=src[i][0],
            printers=tuple(printers[i]), displays=tuple(displays[i]),
            session_backdrops=tuple(_as_field(b, (0.0,)) for b in backdrops[i]),
            backdrop=_as_field(np.mean(backdrops[i], axis=0), (0.0,)),
            backlight=tuple(float(b) for b in backlight[i]),
            session_textures=tuple((float(t), float(c))
                                   for t, c in zip(texture[i], contrast[i], strict=True)),
            backdrop_texture=float(np.mean(texture[i])),
            source_backlight=float(src_backlight[i][0]),
            backdrop_pattern=(d.backdrop_pattern[0] or period, float(np.mean(contrast[i]))))
    return out


@dataclass(frozen=True)
class VideoSpec:
    """One synthetic video: who, what attack with which instrument, seen by which camera."""

    domain: str
    subject: int
    index: int
    attack: str
    instrument: str
    camera: str
    light: int

    @property
    def label(self) -> int:
        """1 for a bona fide video, 0 for an attack."""
        return int(self.attack == "live")

    @property
    def video_id(self) -> str:
        """A readable unique id, e.g. ``M/s003/v2-replay-ipad-android-l0``."""
        return (f"{self.domain}/s{self.subject:03d}/v{self.index}-{self.attack}-"
                f"{self.instrument}-{self.camera}-l{self.light}")


def _seed(*parts: object) -> int:
    """A 64-bit seed derived from any parts (stable across runs and platforms)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def video_specs(domain: str, subject: int) -> list[VideoSpec]:
    """The videos of one subject in one domain: live ones first, then one per attack."""
    d = DOMAINS[domain]
    specs = []
    items = [("live", "none")] * d.live_videos + list(d.attacks)
    for i, (attack, instrument) in enumerate(items):
        cam = d.cameras[(subject + i) % len(d.cameras)].name
        light = (subject + 2 * i) % len(d.lights)
        specs.append(VideoSpec(domain, subject, i, attack, instrument, cam, light))
    return specs


def split_sizes(n_subjects: int) -> dict[str, int]:
    """How many subjects go to train, val and test (test ~3/8, val ~1/8, at least 1 train)."""
    n_test = max(1, round(0.375 * n_subjects)) if n_subjects > 1 else 0
    n_val = max(1, round(0.1 * n_subjects)) if n_subjects >= 4 else 0
    return {"train": n_subjects - n_test - n_val, "val": n_val, "test": n_test}


def split_subjects(n_subjects: int, split: str) -> list[int]:
    """Subject indices of a split (subject-disjoint train / val / test; "all")."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: choose one of {SPLITS}")
    s = split_sizes(n_subjects)
    bounds = {"train": (0, s["train"]), "val": (s["train"], s["train"] + s["val"]),
              "test": (s["train"] + s["val"], n_subjects), "all": (0, n_subjects)}
    lo, hi = bounds[split]
    return list(range(lo, hi))


def _to_srgb(linear: np.ndarray, exposure: float = 0.4) -> np.ndarray:
    """An exposure-normalised sRGB-like image in [0, 1] (the attacker's photo or video)."""
    img = linear * (exposure / (float(linear.mean()) + 1e-4))
    return np.clip(img, 0, 1) ** (1 / 2.2)


def _jitter_light(light: Light, rng: np.random.Generator) -> Light:
    """A per-video variation of a light: temperature, intensity, direction."""
    d = np.asarray(light.direction) + rng.normal(0, 0.12, 3)
    d[2] = max(d[2], 0.3)
    return Light(light.temperature + rng.normal(0, 250), light.intensity * rng.uniform(0.85, 1.15),
                 tuple(float(x) for x in d), light.ambient, light.specular)


def _room(backdrop: np.ndarray, light: Light) -> np.ndarray:
    """The room behind an attack medium: the backdrop lit as a flat wall facing the camera."""
    flat = np.zeros((*backdrop.shape[:2], 3), np.float32)
    flat[..., 2] = 1
    return shade(backdrop, flat, light, 0.0)


def _head_motion(rng: np.random.Generator, frames: int) -> tuple[tuple, list[Pose]]:
    """The live subject's (or attacker's) head motion over a video: a base pose and drifts."""
    base = (rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03), rng.uniform(-4, 4),
            rng.uniform(0.95, 1.05))
    drift = rng.normal(0, 1, (frames, 4)) * np.array([0.008, 0.008, 1.0, 0.01])
    poses = [Pose(base[0] + a, base[1] + b, base[2] + c, base[3] + e)
             for a, b, c, e in np.cumsum(drift, axis=0)]
    return base, poses


@lru_cache(maxsize=64)
def _identity(seed: int, domain: str, subject: int, size: int) -> FaceMaps:
    """The canonical maps of a subject (identities are disjoint between domains)."""
    rng = np.random.default_rng(_seed(seed, "identity", domain, subject))
    return face_maps(identity_params(rng), size)


@dataclass
class SyntheticBenchmark:
    """The five synthetic domains at one image size; videos generated lazily and cached."""

    image_size: int = 64
    subjects_per_domain: int = 8
    frames_per_video: int = 4
    seed: int = 0
    root: str | Path | None = None
    oversample: int = 2  # internal render size = oversample * image_size
    shift: float | None = None  # the domain-shift dial (None: DEFAULT_SHIFT)
    _loader: NpzVideoLoader = field(default_factory=NpzVideoLoader, repr=False)
    domains: dict[str, Domain] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.shift = check_shift(DEFAULT_SHIFT if self.shift is None else self.shift)
        self.domains = shifted_domains(self.shift)
        if self.image_size < 16:
            raise ValueError(f"image_size must be at least 16, got {self.image_size}")
        if self.subjects_per_domain < 2:
            raise ValueError("subjects_per_domain must be at least 2 (train and test)")
        if self.frames_per_video < 1:
            raise ValueError("frames_per_video must be at least 1")

    # ---- configuration and cache -------------------------------------------------------
    def config(self) -> dict:
        """What determines the pixels (the number of subjects only decides the splits)."""
        return {"version": GENERATOR_VERSION, "shift": self.shift,
                "image_size": self.image_size, "frames": self.frames_per_video,
                "seed": self.seed, "oversample": self.oversample,
                "domains": {k: asdict(v) for k, v in self.domains.items()}}

    @property
    def cache_path(self) -> Path:
        """Folder of the cached videos of this configuration (version and dial in its name)."""
        key = hashlib.sha256(json.dumps(self.config(), sort_keys=True).encode()).hexdigest()[:16]
        base = Path(self.root) if self.root is not None else cache_dir() / "synthetic"
        return base / f"v{GENERATOR_VERSION}-shift{self.shift:g}-{key}"

    def video_path(self, spec: VideoSpec) -> Path:
        """Where a video's frames are cached (.npz with key ``frames`` [T,S,S,3] uint8)."""
        return self.cache_path / spec.domain / f"s{spec.subject:03d}_v{spec.index}.npz"

    # ---- catalogue ---------------------------------------------------------------------
    def videos(self, domain: str, split: str = "all") -> list[VideoSpec]:
        """Every video of a domain's split."""
        _check_domain(domain)
        return [v for s in split_subjects(self.subjects_per_domain, split)
                for v in video_specs(domain, s)]

    def catalogue(self) -> list[dict]:
        """The domains and their instruments as rows of data (for tables and pictures)."""
        rows = []
        for d in self.domains.values():
            kinds = {}
            for attack, instrument in d.attacks:
                kinds.setdefault(attack, []).append(instrument)
            rows.append({"domain": d.name, "mirrors": d.mirrors,
                         "cameras": [c.name for c in d.cameras], "lights": len(d.lights),
                         "attacks": kinds, "live_videos": d.live_videos,
                         "videos_per_subject": d.live_videos + len(d.attacks)})
        return rows

    # ---- generation --------------------------------------------------------------------
    def render_video(self, domain: str, subject: int, video: int | str = 0) -> np.ndarray:
        """Render one video (no cache): RGB uint8 frames [T,S,S,3].

        ``video`` is an index into ``video_specs(domain, subject)`` or an attack type (its
        first video).
        """
        _check_domain(domain)
        specs = video_specs(domain, subject)
        if isinstance(video, str):
            match = [s for s in specs if s.attack == video]
            if not match:
                kinds = sorted({s.attack for s in specs})
                raise ValueError(f"domain {domain} has no {video!r} videos: it has {kinds}")
            spec = match[0]
        else:
            spec = specs[video]
        return self._render(spec)

    def _render(self, spec: VideoSpec) -> np.ndarray:
        """Render the frames of a video spec, deterministically from its key."""
        d = self.domains[spec.domain]
        size = self.image_size * self.oversample
        rng = np.random.default_rng(_seed(self.seed, spec.domain, spec.subject, spec.index))
        maps = _identity(self.seed, spec.domain, spec.subject, size)
        camera = next(c for c in d.cameras if c.name == spec.camera)
        light = _jitter_light(d.lights[spec.light], rng)
        texture, pattern = d.texture_of(spec.light)
        backdrop = background(size, d.backdrop_of(spec.light), rng, texture, pattern)
        backdrop = backdrop * d.backlight_of(spec.light)  # a lit window behind: face under-exposed
        room = _room(backdrop, light)
        t = self.frames_per_video
        base, poses = _head_motion(rng, t)
        frames = []
        if spec.attack == "live":
            for pose in poses:
                scene, _ = render_face(maps, pose, light, backdrop)
                frames.append(capture(scene, camera, self.image_size, rng))
            return np.stack(frames)
        # The attacker's own photo/video of the victim: different light and background.
        src_light = _jitter_light(d.source_light, rng)
        src_back = background(size, d.backdrop_of(spec.light) * rng.uniform(0.8, 1.2, 3), rng,
                              texture, pattern)
        src_back = src_back * (1 + d.source_backlight * (d.backlight_of(spec.light) - 1))
        src_angle, src_scale = rng.uniform(-3, 3), rng.uniform(0.95, 1.1)
        exposure = rng.uniform(0.25, 0.5)  # the attacker's camera exposes the photo its own way
        # How much room light the held sheet catches, or the screen's brightness setting.
        medium_gain = rng.uniform(0.7, 1.2) if spec.attack != "replay" else rng.uniform(0.5, 1.3)
        sheet_light = dataclasses.replace(light, intensity=light.intensity * medium_gain)
        instrument = d.instrument(spec.instrument)
        if isinstance(instrument, Display):
            instrument = dataclasses.replace(instrument,
                                             brightness=instrument.brightness * medium_gain)
        tex = paper_texture(size, getattr(instrument, "texture", 0.0), rng)
        dither = (fm_screen(size, instrument, rng)
                  if isinstance(instrument, Printer) and instrument.screen == "fm" else None)
        place0 = (rng.uniform(-0.04, 0.04), rng.uniform(-0.04, 0.04), rng.uniform(-5, 5),
                  rng.uniform(*d.medium_scale))
        # The medium is larger than the frame, but the face on it has the live face's size
        # (a face crop normalises the face, not the medium).
        src_scale = rng.uniform(0.95, 1.05) / place0[3]
        hand = np.cumsum(rng.normal(0, d.hand_motion, (t, 3)), axis=0)
        bend = rng.uniform(0.6, 0.9) if spec.attack == "print-warped" else 0.0
        if spec.attack.startswith("print"):
            photo = _to_srgb(render_face(maps, Pose(0, 0, src_angle, src_scale), src_light,
                                         src_back)[0], exposure)
            eyes = posed(maps, Pose(0, 0, src_angle, src_scale), size).eyes
        glare = rng.uniform(0.2, 0.8, 2)
        band = rng.uniform(0, 1) + np.arange(t) * rng.uniform(0.2, 0.8)  # beat of PWM vs frames
        for k, pose in enumerate(poses):
            place = Placement(place0[0] + hand[k, 0], place0[1] + hand[k, 1],
                              place0[2] + 50 * hand[k, 2], place0[3], bend)
            if spec.attack.startswith("print"):
                holes = None
                if spec.attack == "print-cut":
                    live_pose = Pose(place.dx, place.dy, place.angle + src_angle,
                                     place.scale * src_scale)
                    holes = (eyes, render_face(maps, live_pose, light, backdrop)[0])
                scene = print_scene(photo, place, instrument, sheet_light, room, tex, holes,
                                    dither)
            elif spec.attack == "replay":
                src_pose = Pose(0.5 * (pose.dx - base[0]), 0.5 * (pose.dy - base[1]),
                                src_angle + pose.angle - base[2], src_scale)
                shown = _to_srgb(render_face(maps, src_pose, src_light, src_back)[0], exposure)
                scene = replay_scene(shown, place, instrument, light, room, tuple(glare),
                                     float(band[k]))
            elif spec.attack == "mask":
                live, fm = render_face(maps, pose, light, backdrop)
                shape = normals(cv2.GaussianBlur(fm.height, (0, 0), size / 64))
                photo = _to_srgb(render_face(maps, Pose(), src_light, src_back)[0], exposure)
                mplace = Placement(pose.dx, pose.dy, pose.angle, pose.scale)
                scene = mask_scene(photo, mplace, shape, fm.mask, instrument, light, live, tex,
                                   maps.eyes, dither)
            else:
                raise ValueError(f"unknown attack type {spec.attack!r}")
            frames.append(capture(scene, camera, self.image_size, rng))
        return np.stack(frames)

    def _write(self, spec: VideoSpec) -> None:
        """Render one video and store it atomically, then its sidecar (safe when processes race).

        The sidecar ``<video>.sha256`` holds the digest of the frames and the file's size, so a
        truncated or altered cache file is found before it is used (:meth:`is_cached`).
        """
        path = self.video_path(spec)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            raise UserError(f"{path} is a folder where a cached synthetic video belongs: remove "
                            "it (or point $MPFAS_CACHE elsewhere)", exit_code=1)
        frames = self._render(spec)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
        try:
            np.savez(tmp, frames=frames)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        atomic_write_text(f"{frames_digest(frames)} {path.stat().st_size}\n", sidecar(path))

    def is_cached(self, spec: VideoSpec) -> bool:
        """Whether a video's cache file is what this benchmark writes: the frames' shape and
        dtype, and the size and digest its sidecar recorded.

        The folder names the generator version and dial value; a file without its sidecar
        (replaced, or its writer killed before the sidecar) is not trusted and is generated
        again. Each file is read once per process (remembered by size and modification time).
        """
        path = self.video_path(spec)
        try:
            stat = path.stat()
        except OSError:
            return False
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key in _VERIFIED:
            return True
        try:
            digest, size = sidecar(path).read_text(encoding="utf-8").split()
            if int(size) != stat.st_size:
                return False
            with np.load(path) as z:
                frames = z["frames"]
        except Exception:  # no sidecar, or a truncated or altered zip: BadZipFile, ValueError...
            return False
        expected = (self.frames_per_video, self.image_size, self.image_size, 3)
        if frames.shape != expected or frames.dtype != np.uint8:
            return False
        if frames_digest(frames) != digest:
            return False
        _VERIFIED.add(key)
        return True

    def ensure(self, specs: list[VideoSpec], workers: int | None = None,
               progress: bool = True) -> None:
        """Generate and cache every listed video not cached yet (in parallel when many).

        ``workers`` defaults to ``$MPFAS_SYNTH_WORKERS``, else up to 8 CPU cores. A progress
        bar is shown unless ``progress`` is False or only a handful of videos are missing.
        """
        missing = [s for s in specs if not self.is_cached(s)]
        if not missing:
            return
        for folder in {self.video_path(s).parent for s in missing}:
            remove_dead_writers_files(folder)
        corrupt = [self.video_path(s) for s in missing if self.video_path(s).is_file()]
        if corrupt:
            print(f"warning: {len(corrupt)} cached synthetic video(s) are truncated or altered "
                  f"(e.g. {corrupt[0]}): generating them again", file=sys.stderr)
        if workers is None:
            workers = int(os.environ.get("MPFAS_SYNTH_WORKERS", min(8, os.cpu_count() or 1)))
        bar = self._progress(missing, progress)
        if workers >= 4 and len(missing) >= 32:  # spawn costs more than it saves on 2 cores
            cfg = (self.image_size, self.subjects_per_domain, self.frames_per_video, self.seed,
                   self.root, self.oversample, self.shift)
            ctx = multiprocessing.get_context("spawn")  # no fork of a threaded parent
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                for _ in pool.map(_write_video, [(cfg, s) for s in missing], chunksize=4):
                    bar.update()
        else:
            for spec in missing:
                self._write(spec)
                bar.update()
        bar.close()

    def _progress(self, missing: list[VideoSpec], enabled: bool) -> tqdm:
        """A tqdm bar over the videos to render (silent for a handful or when disabled)."""
        domains = ",".join(sorted({s.domain for s in missing}))
        desc = (f"synthetic v{GENERATOR_VERSION} shift {self.shift:g} {domains} videos "
                f"({self.image_size} px, {self.frames_per_video} frames)")
        return tqdm(total=len(missing), desc=desc, unit="video",
                    disable=not enabled or len(missing) < _PROGRESS_MIN)

    def dataset(self, domain: str, split: str) -> FrameDataset:
        """The frames of a domain's split (videos generated on first use)."""
        return self.datasets([(domain, split)])[domain, split]

    def datasets(self, parts: Sequence[tuple[str, str]]) -> dict[tuple[str, str], FrameDataset]:
        """The frames of several (domain, split) parts; their missing videos generated in one
        pass (one progress bar for a whole protocol)."""
        specs = {(domain, split): self.videos(domain, split) for domain, split in parts}
        self.ensure([s for part in specs.values() for s in part])
        return {(domain, split): FrameDataset(
                    [FrameRecord(str(self.video_path(s)), s.label, s.attack, domain, s.video_id,
                                 f, split) for s in part for f in range(self.frames_per_video)],
                    self._loader, None)
                for (domain, split), part in specs.items()}


_VERIFIED: set[tuple[str, int, int]] = set()  # (path, size, mtime) checked in this process


def remove_dead_writers_files(folder: Path) -> list[Path]:
    """Delete ``<video>.<pid>.tmp.npz`` files of writers that no longer run (killed mid-write)."""
    removed = []
    for tmp in folder.glob("*.tmp.npz"):
        pid = tmp.name.rsplit(".", 3)[-3]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid < 2**22  # another user's process, or no such pid at all
    return True


def sidecar(path: Path) -> Path:
    """The sidecar of a cached video: ``<name>.sha256`` holding ``<digest> <file size>``."""
    return path.with_suffix(".sha256")


def frames_digest(frames: np.ndarray) -> str:
    """SHA-256 of a video's frames (shape, dtype and pixels), independent of the zip's bytes."""
    h = hashlib.sha256(f"{frames.shape}{frames.dtype}".encode())
    h.update(np.ascontiguousarray(frames).tobytes())
    return h.hexdigest()


def _write_video(job: tuple[tuple, VideoSpec]) -> None:
    """Worker-process entry: render and store one video of a benchmark configuration."""
    cfg, spec = job
    cv2.setNumThreads(1)
    SyntheticBenchmark(*cfg)._write(spec)


def _check_domain(domain: str) -> None:
    """Reject an unknown domain name with the list of known ones."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown synthetic domain {domain!r}: choose one of {DOMAIN_NAMES}")


def from_profile(profile: Profile, seed: int = 0, root: str | Path | None = None,
                 shift: float | None = None) -> SyntheticBenchmark:
    """The synthetic benchmark at a profile's image size, subjects and frames, and a dial value
    (None: ``DEFAULT_SHIFT``) (chapter 02)."""
    return SyntheticBenchmark(profile.image_size, profile.synth_subjects, profile.synth_frames,
                              seed, root, shift=shift)
