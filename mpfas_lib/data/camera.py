"""The capturing camera of the synthetic benchmark: optics, sampling, sensor, ISP, JPEG.

Every synthetic image, bona fide or attack, goes through exactly one such capture: the scene
(linear light at an internal resolution above the output size) is blurred by the lens, veiled by
lens flare, darkened towards the corners (vignetting), point-sampled by the sensor grid (no
anti-aliasing filter, so fine periodic patterns such as a display's subpixels or a print's
halftone alias into moire), hit by shot and read noise, auto-exposed, white balanced, tone
mapped (phones: local "HDR" tone mapping that lifts the shadows of a backlit face), denoised
and sharpened by the ISP (phones), and JPEG encoded.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Camera:
    """A capture device: sensor resolution (fraction of the output), blur, noise, colour, JPEG."""

    name: str
    resolution: float = 1.0  # sensor pixels per output pixel (<1: upscaled low-res sensor)
    blur: float = 0.5  # lens blur sigma in output pixels
    noise: float = 0.01  # read-noise sigma (shot noise scales with it)
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)  # residual channel gains
    gamma: float = 2.2
    saturation: float = 1.0
    jpeg: int = 90
    exposure: float = 0.42  # target mean of the auto-exposed linear image
    sharpen: float = 0.0  # unsharp-mask strength of the phone's ISP (adds halos, boosts noise)
    denoise: float = 0.0  # edge-preserving noise reduction of the ISP (range sigma; 0 = off)
    contrast: float = 1.0  # slope of the tone curve around mid-grey (phones' "vivid" look > 1)
    flare: float = 0.0  # veiling glare of cheap optics, as a fraction of the mean scene light
    vignette: float = 0.0  # relative light fall-off in the frame corners
    hdr: float = 0.0  # local tone mapping: share of the large-scale light differences removed


def capture(
    scene: np.ndarray, camera: Camera, out_size: int, rng: np.random.Generator
) -> np.ndarray:
    """Capture a linear-light scene [R,R,3] with ``camera``: an RGB uint8 image [S,S,3]."""
    inner = scene.shape[0]
    img = scene.astype(np.float32)
    sigma = camera.blur * inner / out_size
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    img = _optics(img, camera)
    sensor = max(8, int(round(out_size * camera.resolution)))
    # Point sampling on a sensor grid slightly offset from the scene's: aliasing is kept.
    shift = rng.uniform(-0.5, 0.5, 2)
    step = inner / sensor
    m = np.array([[1 / step, 0, -shift[0]], [0, 1 / step, -shift[1]]], np.float32)
    img = cv2.warpAffine(img, m, (sensor, sensor), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT)
    # Auto-exposure towards a target mean (partially: dark scenes stay a bit dark).
    mean = float(img.mean()) + 1e-4
    gain = (camera.exposure / mean) ** 0.8
    img = img * gain
    # Shot noise grows as sqrt(gain), read noise as gain: dim scenes come out noisier.
    noise_sigma = camera.noise * np.sqrt(gain * (0.1 * gain + img))
    img = img + noise_sigma * rng.standard_normal(img.shape).astype(np.float32)
    img = img * np.asarray(camera.white_balance, np.float32)
    if camera.hdr > 0:
        img = _local_tone(img, camera.hdr)
    img = np.clip(img, 0, 1) ** (1 / camera.gamma)
    if camera.contrast != 1.0:
        img = 0.5 + camera.contrast * (img - 0.5)
    if camera.saturation != 1.0:
        grey = img.mean(axis=-1, keepdims=True)
        img = grey + camera.saturation * (img - grey)
    if camera.denoise > 0:
        img = cv2.bilateralFilter(np.clip(img, 0, 1).astype(np.float32), 5, camera.denoise, 1.5)
    if camera.sharpen > 0:
        img = img + camera.sharpen * (img - cv2.GaussianBlur(img, (0, 0), 1.0))
    img = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
    if sensor != out_size:
        img = cv2.resize(img, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    return jpeg(img, camera.jpeg)


def _optics(img: np.ndarray, camera: Camera) -> np.ndarray:
    """Veiling glare (a uniform share of the mean light) and cos^4-like corner fall-off."""
    if camera.flare > 0:
        img = img + camera.flare * img.mean(axis=(0, 1), keepdims=True)
    if camera.vignette > 0:
        ax = np.linspace(-1, 1, img.shape[0], dtype=np.float32)
        r2 = (ax[None, :] ** 2 + ax[:, None] ** 2) / 2
        img = img * (1 - camera.vignette * r2)[..., None]
    return img


def _local_tone(img: np.ndarray, amount: float) -> np.ndarray:
    """Divide out ``amount`` of the smooth luminance (a phone's HDR): fine detail is kept."""
    lum = img.mean(axis=-1)
    base = cv2.GaussianBlur(lum, (0, 0), img.shape[0] / 8) + 1e-3
    gain = (float(base.mean()) / base) ** amount
    return img * gain[..., None]


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG encode and decode an RGB uint8 image at the given quality."""
    if quality >= 100:
        return image
    ok, buf = cv2.imencode(".jpg", image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
