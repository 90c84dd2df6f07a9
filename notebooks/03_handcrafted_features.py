# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-handcrafted)=
# # Handcrafted features
#
# Hybrid face anti-spoofing methods compute a fixed map $f(x)$ of the face
# and feed it to a network. The paper's Table I compares four such maps with
# the Meta Pattern inside the same fusion network {cite}`cai2022metapattern`:
# colour local binary patterns (ColorLBP) and the albedo, depth and
# reflectance maps of a shape-from-shading algorithm. This chapter defines
# each map, checks the LBP implementation against scikit-image, adds the HSV
# and YCrCb colour spaces used by colour-texture methods
# {cite}`boulkenafet2016colour`, and ends with a comparison grid in the style
# of the paper's Fig. 5.

# %% tags=["remove-cell"]
try:  # on Colab the library is missing: mpfas_lib/hosted.py installs it
    import mpfas_lib  # noqa: F401
except ModuleNotFoundError:
    from urllib.request import urlopen

    RELEASE = "main"  # the book's release (scripts/pin_release.py)
    RAW = "https://raw.githubusercontent.com/mpfas/mpfas"
    hosted = urlopen(f"{RAW}/{RELEASE}/mpfas_lib/hosted.py").read()
    exec(hosted, {"__name__": "__main__", "RELEASE": RELEASE})

# %%
from mpfas_lib.runtime import setup

S = setup(seed=0)
print(S)

# %%
import math

import cv2
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue
from scipy.ndimage import map_coordinates
from skimage.feature import local_binary_pattern as skimage_lbp

from mpfas_lib.data import from_profile, to_tensor
from mpfas_lib.features import (
    MAP_NAMES,
    build_map,
    local_binary_pattern,
    shape_from_shading,
)
from mpfas_lib.viz import channel_grid, image_grid

# %% [markdown]
# Every map in the library is a parameter-free module with the same
# interface as the Meta Pattern Extractor: an RGB batch `[B, 3, H, W]` in
# $[0, 1]$ goes in, a three-channel map of the same size in $[0, 1]$ comes
# out (single-channel maps are repeated to three channels). That is what lets
# the fusion network take either one in its second stream.

# %%
MAP_NAMES

# %% [markdown]
# We use a few frames of the synthetic benchmark: the first frame of one
# subject's genuine, print, replay and paper-mask videos in domain "Y", the
# domain with all three attack families.

# %%
bench = from_profile(S.profile)
kinds = ["live", "print", "replay", "mask"]
labels = ["genuine", "print", "replay", "mask"]
frames = torch.stack([to_tensor(bench.render_video("Y", 0, k)[0]) for k in kinds])
tuple(frames.shape)

# %% [markdown]
# ## Local binary patterns
#
# The local binary pattern (LBP) of a pixel $p_0$ with grey level $g_c$
# compares it with $P$ neighbours $g_0, \dots, g_{P-1}$ on a circle of
# radius $R$ and reads the comparisons as a binary number
# {cite}`ojala2002lbp`:
#
# $$
# \mathrm{LBP}_{P,R}(p_0) = \sum_{i=0}^{P-1} s(g_i - g_c)\, 2^i,
# \qquad s(z) = \begin{cases} 1 & z \ge 0 \\ 0 & z < 0. \end{cases}
# $$
#
# Neighbour $i$ sits at angle $2\pi i / P$, counter-clockwise from the
# right; with $P = 8$, $R = 1$ the four diagonal neighbours fall between
# pixels and are bilinearly interpolated. The code is invariant to any
# monotonic change of the grey levels (a brighter or darker camera gives the
# same code) and describes micro-texture: print halftones and display
# subpixels change it, smooth skin does not. *ColorLBP* computes the code on
# each of the R, G and B channels and, as in the paper, keeps it as a spatial
# map (divided by 255) rather than pooling it into a histogram.

# %% [markdown]
# ### A worked 3×3 example
#
# Take one 3×3 patch of grey levels; the centre is 55.

# %%
patch = np.array([[52.0, 60.0, 61.0],
                  [49.0, 55.0, 70.0],
                  [40.0, 50.0, 58.0]])

# %% [markdown]
# For each neighbour we find its position on the unit circle around the
# centre (row 1, column 1; rows grow downwards, so "up" is a negative row
# offset), read its value (interpolated for the diagonals), compare it with
# the centre and weight the bit by $2^i$:

# %%
rows = []
for i in range(8):
    angle = 2 * math.pi * i / 8
    r, c = 1 - math.sin(angle), 1 + math.cos(angle)
    value = map_coordinates(patch, [[r], [c]], order=1)[0]
    bit = int(value >= patch[1, 1])
    rows.append({"i": i, "angle": f"{45 * i}°", "row": round(r, 3), "col": round(c, 3),
                 "g_i": round(float(value), 2), "bit": bit, "weight": 2**i * bit})
worked = pd.DataFrame(rows).set_index("i")
code = int(worked["weight"].sum())
glue("nb03_worked_code", code, display=False)
worked

# %% [markdown]
# The code of the centre pixel is the sum of the last column,
# {glue:text}`nb03_worked_code`. The library's batched implementation and
# scikit-image give the same number (both treat pixels outside the patch as
# zeros, which only affects the border pixels of the patch):

# %%
ours = local_binary_pattern(torch.tensor(patch).view(1, 1, 3, 3))[0, 0, 1, 1].item()
theirs = skimage_lbp(patch.astype(np.uint8), P=8, R=1)[1, 1]
{"by hand": code, "mpfas_lib": int(ours), "scikit-image": int(theirs)}

# %% [markdown]
# ### Agreement with scikit-image on whole images
#
# On 8-bit images the ColorLBP module reproduces scikit-image's codes on
# every pixel of every channel:

# %%
colorlbp = build_map("colorlbp")
ours = torch.round(colorlbp(frames) * 255).numpy()
uint8 = np.round(frames.numpy() * 255).astype(np.uint8)
theirs = np.stack([[skimage_lbp(img[c], P=8, R=1) for c in range(3)] for img in uint8])
agree = float((ours == theirs).mean())
glue("nb03_lbp_agree", 100 * agree, display=False)
print(f"{100 * agree:.2f} % of {ours.size} codes agree")

# %% [markdown]
# ({glue:text}`nb03_lbp_agree:.2f` % of the codes agree.) The three
# channels of the ColorLBP map of the print frame:

# %%
fig = channel_grid(colorlbp(frames[1:2])[0],
                   title="ColorLBP of a print frame: R, G, B codes")
plt.show()

# %% [markdown]
# ## Shape from shading: albedo, depth and reflectance
#
# A genuine face is a curved, matte, skin-coloured surface; a print or a
# display is flat and made of paper or glass. Shape-from-shading (SfS)
# methods invert the Lambertian image model
#
# $$
# I(p) = \rho(p)\, \max\bigl(\mathbf{n}(p) \cdot \mathbf{l},\ 0\bigr),
# $$
#
# with albedo $\rho$, surface normal $\mathbf{n}$ and light direction
# $\mathbf{l}$, to recover a *depth* map (the surface), a *reflectance* map
# (the shading $\max(\mathbf{n} \cdot \mathbf{l}, 0)$ of that surface) and an
# *albedo* map (the image divided by the shading). Pinto et al. used these
# maps for face PAD {cite}`pinto2020sfs`, and the paper's Table I uses them as
# three hybrid baselines.
#
# The original maps are classical, not learnt. In Pinto et al.'s public code
# {cite}`pinto2020sfscode` (the paper's footnote points to it), each map
# comes from Tsai and Shah's linear shape from shading {cite}`tsai1994sfs`
# under a fixed, near-frontal light direction by default (the code also
# has a light-direction estimate), computed on *each colour channel*
# separately; "SfSNet" in that work is the convolutional network that then
# classifies the stacked maps. Our library uses its own classical,
# training-free pipeline: the light direction and albedo are estimated from
# image statistics {cite}`zheng1991sfs`, a linear shape from shading gives a
# first surface, and a variational fit of the full Lambertian model refines
# it {cite}`horn1986variational`. It works on the grey image by default;
# `per_channel=True` solves each colour channel separately, as the original
# does. The maps are therefore *similar in kind* to the paper's, not
# identical.

# %%
sfs = {name: build_map(name)(frames) for name in ("albedo", "depth", "reflectance")}
fig = image_grid([[frames[i]] + [sfs[n][i] for n in sfs] for i in (0, 1)],
                 row_labels=["genuine", "print"],
                 col_labels=["RGB (synthetic)", "Albedo", "Depth", "Reflectance"])
plt.show()

# %% [markdown]
# What differs between the two rows? Measure it: the relief of the recovered
# surface (height range, in pixels, and mean slope) and how much the
# shading varies over the face.

# %%
raw = shape_from_shading(frames[:2])
relief = pd.DataFrame({lab: {
    "height range (px)": float(raw["depth"][i].max() - raw["depth"][i].min()),
    "mean slope": float(
        torch.stack(torch.gradient(raw["depth"][i, 0])).norm(dim=0).mean()),
    "shading std": float(raw["shading"][i].std()),
} for i, lab in enumerate(["genuine", "print"])})
print("print flatter on every measure:",
      bool((relief["print"] < relief["genuine"]).all()))
relief.round(3)

# %% [markdown]
# The genuine face is a curved surface lit from one side, so SfS recovers a
# relief with a nose and cheeks and a shading that varies across the face.
# The print is a flat sheet that carries a *photo* of that shading: SfS
# explains it with a flatter surface and a more uniform shading (the printed
# comparison above), and the rest of the image, the face's printed shading
# included, ends up in the albedo. This is the cue Pinto et al. built on. With
# `per_channel=True` each colour channel gets its own surface, as in their
# code; the three depth maps of the genuine face differ where the channels'
# contrasts differ:

# %%
fig = channel_grid(build_map("depth", per_channel=True)(frames[:1])[0],
                   title="per-channel depth of the genuine frame: R, G, B")
plt.show()

# %% [markdown]
# ## Colour spaces: HSV and YCrCb
#
# Colour-texture methods {cite}`boulkenafet2016colour` separate luminance
# from chrominance, because recapture through a printer or a display
# distorts colour more than brightness. YCrCb (ITU-R BT.601) is a linear
# transform:
#
# $$
# Y = 0.299 R + 0.587 G + 0.114 B, \quad
# C_r = 0.713 (R - Y) + \tfrac12, \quad C_b = 0.564 (B - Y) + \tfrac12 ,
# $$
#
# HSV is a non-linear one (hue as an angle, saturation, value). Both are
# available as maps:

# %%
spaces = {name: build_map(name)(frames[:2]) for name in ("hsv", "ycrcb")}
fig = image_grid(
    [[spaces[s][i, c] for s in spaces for c in range(3)] for i in range(2)],
    row_labels=["genuine", "print"],
    col_labels=["H", "S", "V", "Y", "Cr", "Cb"],
    normalize=True,
)
plt.show()

# %% [markdown]
# (Each panel is stretched to its own range.) The blocky hue and chroma
# channels show the blocks of the camera's JPEG compression, which stores
# colour at a lower resolution than brightness: a domain-specific trace that a
# detector may latch on to. The library's conversion follows OpenCV's float
# convention; for example the luma channel:

# %%
bgr = frames[0].permute(1, 2, 0).numpy()[..., ::-1].copy()
opencv_y = cv2.cvtColor(bgr, cv2.COLOR_BGR2YCrCb)[..., 0]
float(np.abs(spaces["ycrcb"][0, 0].numpy() - opencv_y).max())

# %% [markdown]
# ## A Fig. 5-style comparison
#
# The paper's Fig. 5 shows, for genuine and spoof faces, the RGB image next
# to the handcrafted maps and the Meta Pattern. We do the same on the
# synthetic frames. The MP column needs a trained extractor Φ: a two-layer
# convolutional network ({doc}`04_meta_pattern_extractor`) whose weights were
# learnt by the paper's training loop, Algorithm 1, which you will meet in
# {doc}`06_algorithm1`. We load the one learnt in a committed study run of
# {doc}`08_training_runs`; here it is simply a learnt filter, and the column
# title says which run and iteration it comes from.

# %%
from mpfas_lib.training import trained_phi

phi, mp_label = trained_phi(S.results, S.profile, S.cache)
print(mp_label)

# %%
maps = {"ColorLBP": colorlbp(frames), **{n.capitalize(): m for n, m in sfs.items()}}
with torch.no_grad():
    maps[mp_label] = phi(frames)
fig = image_grid([[frames[i]] + [m[i] for m in maps.values()]
                  for i in range(len(kinds))],
                 row_labels=labels, col_labels=["RGB (synthetic)", *maps], cell=1.4)
plt.show()

# %% [markdown]
# The handcrafted maps each isolate one cue: ColorLBP the micro-texture
# (the print's halftone, the display's subpixel grid), the SfS maps the
# shading and hence the flatness of the medium. None is tuned to a
# particular mix of cameras and attacks, and each misses the cues the others
# capture. The Meta Pattern is the learnable answer to that choice; the next
# chapter builds its extractor.

# %% [markdown]
# ## Real photographs through the attack model
#
# Procedural heads are hard to read as faces. For illustration only (they are never
# training data) we also use three photographs that ship with the book's pinned packages,
# so nothing is downloaded:
#
# - scikit-image's `astronaut()`: astronaut Eileen Collins, a NASA photograph, public
#   domain (no known copyright restrictions);
# - matplotlib's sample `grace_hopper.jpg`: Commodore Grace M. Hopper, an official
#   U.S. Navy portrait, public domain as a work of the U.S. federal government;
# - scikit-image's `camera()`: the "cameraman" photograph by Lav Varshney, dedicated to the
#   public domain (CC0).
#
# `mpfas_lib.data.photos.photographs` crops each around the face and captures it at
# 256 pixels as the benchmark captures its faces: once as a genuine presentation, and once
# printed and once replayed on a display, both held in front of the camera, with the
# printer, display, room light and phone camera of the OULU-NPU-like domain "O".

# %%
from mpfas_lib.data import PORTRAITS, photo_batch

pd.DataFrame({"source": {n: p.source for n, p in PORTRAITS.items()},
              "licence": {n: p.licence for n, p in PORTRAITS.items()}})

# %%
photos, photo_labels = photo_batch(256)
photos = torch.from_numpy(photos)
print(tuple(photos.shape), "| MP from", mp_label)

# %% [markdown]
# Next to each capture: ColorLBP, the SfS depth (30 refinement steps instead of 150, to
# keep the page fast at this size), HSV, and the Meta Pattern of the trained extractor
# (trained on 64-pixel synthetic faces, so here it filters finer texture than it saw).

# %%
photo_maps = {"ColorLBP": build_map("colorlbp")(photos),
              "Depth (SfS)": build_map("depth", steps=30)(photos),
              "HSV": build_map("hsv")(photos)}
with torch.no_grad():
    photo_maps["MP (trained)"] = phi(photos)
fig = image_grid([[photos[i]] + [m[i] for m in photo_maps.values()]
                  for i in range(len(photos))],
                 row_labels=photo_labels, col_labels=["capture (256 px)", *photo_maps],
                 cell=1.5)
plt.show()

# %% [markdown]
# The print shows its halftone dots and the replay its subpixel stripes and glare; both lose
# contrast to the paper or screen. ColorLBP reacts to those fine patterns in every colour
# channel, the SfS depth to the flatness of the medium (weakly: a photograph of a face
# already has flat lighting), HSV to the colour shifts. The captures of one portrait
# differ only by the medium, which makes the photographs a clean way to see what each
# map responds to, and a reminder that the models in this book were trained on synthetic
# faces only.

# %% [markdown]
# ## Summary
#
# - Hybrid methods feed a fixed map of the face to a network; the library's
#   maps (ColorLBP, Albedo, Depth, Reflectance, HSV, YCrCb) share the
#   extractor's interface, `[B, 3, H, W]` in and out.
# - LBP codes compare 8 neighbours on a unit circle with the centre; the
#   library's ColorLBP matches scikit-image code for code.
# - The SfS maps invert a Lambertian image model. Pinto et al.'s maps come
#   from the classical Tsai-Shah SfS on each colour channel (SfSNet is the
#   classifier); the library uses its own classical SfS, on grey or per
#   channel, so its maps resemble but do not equal the paper's.
# - HSV and YCrCb separate chrominance, where recapture distortions show.

# %% [markdown]
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb03-1
# ```
# LBP codes are said to be invariant to monotonically increasing changes of
# the grey levels. Test it on the red channel of the genuine frame (ignoring
# the one-pixel border, where the zero padding is not transformed) with
# $g \mapsto 2g$, $g \mapsto 0.5\,g + 20$ and $g \mapsto g^2 / 255$. Which
# codes change, and why?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb03-1
# :class: dropdown
# ```
# Comparisons between *pixels* are preserved by any increasing map. The
# diagonal neighbours, however, are interpolated: for a non-linear map
# $f(\text{mean}) \ne \text{mean}(f)$, so near-ties can flip. Even for the
# affine map, 8-bit images are full of exact ties (flat regions where the
# neighbours equal the centre), and the interpolated value of equal pixels
# is only equal up to float rounding, which the transform changes. Doubling
# is exact in floating point and keeps every code.

# %% tags=["starter", "remove-cell"]
# A dict {transform: % of interior codes unchanged}, in the order 2 g, 0.5 g + 20,
# g^2 / 255
unchanged = ...

# %%
red = frames[0, 0].double() * 255
transforms = {"2 g": lambda g: 2 * g, "0.5 g + 20": lambda g: 0.5 * g + 20,
              "g^2 / 255": lambda g: g**2 / 255}
base = local_binary_pattern(red[None, None])[0, 0, 1:-1, 1:-1]
unchanged = {}
for name, f in transforms.items():
    same = local_binary_pattern(f(red)[None, None])[0, 0, 1:-1, 1:-1] == base
    unchanged[name] = 100 * same.double().mean().item()
    print(f"{name:>10}: {unchanged[name]:.2f} % of interior codes unchanged")

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb03-1", unchanged)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb03-2
# ```
# An LBP code is 8 bits. Using the ColorLBP map, compute the 256-bin
# histogram of codes of the green channel for the genuine and the replay
# frame, and the $\chi^2$ distance between them. Which codes dominate, and
# why?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb03-2
# :class: dropdown
# ```
# A code's bits say which neighbours are at least as bright as the centre.
# To judge the $\chi^2$ distance we also need a yardstick: the distance
# between two frames of the *same* genuine video, which differ only by
# the camera's noise and small motion.

# %% tags=["starter", "remove-cell"]
# hists: one normalised 256-bin histogram of green-channel codes per frame;
# distance: the χ² distance between the genuine and the replay frame's histograms
hists, distance = ..., ...

# %%
def green_hist(x):
    codes = torch.round(colorlbp(x) * 255)[:, 1].long()
    h = torch.stack([torch.bincount(c.flatten(), minlength=256).double()
                     for c in codes])
    return h / h.sum(dim=1, keepdim=True)


def chi2(a, b):
    return float(((a - b) ** 2 / (a + b).clamp_min(1e-12)).sum())  # in [0, 2]


def uniform(code):  # at most two 0/1 transitions around the circle of 8 bits
    bits = [(code >> k) & 1 for k in range(8)]
    return sum(bits[k] != bits[(k + 1) % 8] for k in range(8)) <= 2


hists = green_hist(frames)
next_frame = green_hist(to_tensor(bench.render_video("Y", 0, "live")[1])[None])[0]
distance = chi2(hists[0], hists[2])
for lab, h in zip(labels, hists, strict=True):
    top = torch.topk(h, 3).indices.tolist()
    print(f"{lab:8s} top codes", [f"{c} ({c:08b}, {'uniform' if uniform(c) else 'not'})"
                                  for c in top])
print(f"chi2 genuine vs replay {chi2(hists[0], hists[2]):.3f}, vs print "
      f"{chi2(hists[0], hists[1]):.3f}; "
      f"vs the next genuine frame {chi2(hists[0], next_frame):.3f}")

# %% [markdown]
# Code 255 leads everywhere: in flat, saturated or smooth regions every
# neighbour is at least as bright as the centre (the comparison is
# $\ge$, so ties count as 1). The next codes are *uniform* patterns, one
# run of ones (e.g. 15 = 00001111: the brighter half of the circle on one
# side), which an edge or a smooth gradient at some orientation produces;
# the printed flags say whether every top code is uniform. Code 0, when it
# appears, is the opposite extreme: all neighbours darker, an isolated
# bright pixel such as a specular highlight or a display's lit subpixel.
# Compare the printed distances with the yardstick: a distance several
# times that between two frames of one genuine video is texture the
# recapture changed, not camera noise. $\chi^2$ here lies between 0
# (identical histograms) and 2 (disjoint ones).

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb03-2", (hists, distance))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb03-3
# ```
# A map that does not depend on the capture domain would be ideal for
# domain generalisation. Measure how much the cheap maps (ColorLBP, HSV,
# YCrCb) change between domains: for the genuine frames of subject 0 in
# every synthetic domain, compute the mean of each map, and report the
# spread (standard deviation over domains) per map. Compare with the spread
# of the RGB image itself. (The SfS maps fit a surface iteratively and are
# slow on a CPU; add them if you have a minute to spare.)
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb03-3
# :class: dropdown
# ```
# The maps have different scales, so next to the standard deviation over
# domains we print it relative to the map's mean.

# %% tags=["starter", "remove-cell"]
# Per map ("RGB", "colorlbp", "hsv", "ycrcb"): the std over domains of the map's
# mean, as a dict, or a DataFrame with one row per map and a column
# "std over domains"
spread = ...

# %%
domains = ["M", "I", "C", "O", "Y"]
live = torch.stack([to_tensor(bench.render_video(d, 0, "live")[0]) for d in domains])
means = {"RGB": live.mean(dim=(1, 2, 3))}
for name in ("colorlbp", "hsv", "ycrcb"):
    means[name] = build_map(name)(live).mean(dim=(1, 2, 3))
spread = pd.DataFrame({n: {"std over domains": m.std().item(),
                           "relative to the mean": (m.std() / m.mean()).item()}
                       for n, m in means.items()}).T
print("most stable:", spread["relative to the mean"].idxmin(), "| least stable:",
      spread["relative to the mean"].idxmax(), "| ColorLBP steadier than RGB:",
      bool(spread.loc["colorlbp"].iloc[1] < spread.loc["RGB"].iloc[1]))
spread.round(4)

# %% [markdown]
# The printed line ranks the maps by how far their mean moves with the
# domain's camera and light. Whether ColorLBP comes out steadier than RGB
# is printed too, and either answer has a reason: LBP ignores monotone
# changes of brightness (exercise ex-nb03-1), but it reacts to the noise,
# blur and sharpening each camera adds, which RGB's mean hardly sees; on
# real cameras that sensitivity often dominates. YCrCb's mean mixes a
# luminance channel with two chrominance channels centred on 0.5, so its
# mean moves less with exposure. The mean is only a first hint: texture
# statistics can differ between domains even when means agree, which is
# why the paper judges every map by cross-domain training (its Table I)
# rather than by such statistics.

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb03-3", spread)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb03-4
# ```
# Predict first, then run. LBP is invariant to every increasing change of the grey levels
# (exercise 3.1). What does sensor noise do to it? The cell of this exercise adds Gaussian
# noise with a standard deviation of one grey level (out of 255, invisible to the eye) to
# the chapter's four frames and counts the interior ColorLBP codes that change. Write in
# your answer the share you expect to change (about 1 %, 10 % or 50 %) and why, then run
# the cell and compare.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb03-4
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# Your code here: none needed. Run this cell once your prediction is written above.
grey = torch.round(frames * 255)  # the frames' 8-bit grey levels
noise = torch.randn(frames.shape, generator=torch.Generator().manual_seed(0))
noisy = (grey + noise).clamp(0, 255)
codes = lambda g: torch.round(colorlbp(g / 255) * 255)[..., 1:-1, 1:-1]  # noqa: E731
changed = (codes(grey) != codes(noisy)).double().mean(dim=(1, 2, 3)) * 100
pd.Series(changed.numpy(), index=labels, name="% of codes changed").round(1)

# %%
grey = torch.round(frames * 255)  # the frames' 8-bit grey levels
noise = torch.randn(frames.shape, generator=torch.Generator().manual_seed(0))
noisy = (grey + noise).clamp(0, 255)
codes = lambda g: torch.round(colorlbp(g / 255) * 255)[..., 1:-1, 1:-1]  # noqa: E731
changed = (codes(grey) != codes(noisy)).double().mean(dim=(1, 2, 3)) * 100
ties = (grey[..., 1:-1, 1:-1] - grey[..., 2:, 1:-1]).abs() <= 1  # one neighbour
glue("nb03_noise_min", float(changed.min()), display=False)
glue("nb03_noise_max", float(changed.max()), display=False)
glue("nb03_close", 100 * float(ties.double().mean()), display=False)
pd.Series(changed.numpy(), index=labels, name="% of codes changed").round(1)

# %% [markdown]
# Between {glue:text}`nb03_noise_min:.0f` and {glue:text}`nb03_noise_max:.0f` % of the codes
# change. A code is eight comparisons of a centre with its neighbours, and a bit flips when
# the noise reverses the order of two grey levels. On the smooth parts of a face, skin and
# background, neighbours are often within one grey level of the centre
# ({glue:text}`nb03_close:.0f` % of the pixel pairs one row apart are), so noise of one
# level flips many of those comparisons, and one flipped bit of eight changes the code. The
# invariance of exercise 3.1 is to changes that keep the order of every pair; noise does
# not keep it. The micro-texture that LBP reads is of the size of sensor noise, one reason
# why LBP features trained with one camera transfer poorly to another.
# ```{solution-end}
# ```

# %% [markdown] tags=["remove-cell"]
# ## References
#
# In the book these keys are resolved and listed in its bibliography; for JupyterLab,
# `scripts/chapter_references.py` writes this cell from `book/references.bib`.
#
# - `boulkenafet2016colour`: Z. Boulkenafet, J. Komulainen and A. Hadid (2016). *Face
#   Spoofing Detection Using Colour Texture Analysis*. IEEE Transactions on Information
#   Forensics and Security, 11(8), 1818–1830.
# - `cai2022metapattern`: R. Cai, Z. Li, R. Wan, H. Li, Y. Hu and A. C. Kot (2022).
#   *Learning Meta Pattern for Face Anti-Spoofing*. IEEE Transactions on Information
#   Forensics and Security, 17, 1201–1213. https://doi.org/10.1109/TIFS.2022.3158551
# - `horn1986variational`: B. K. P. Horn and M. J. Brooks (1986). *The Variational
#   Approach to Shape from Shading*. Computer Vision, Graphics, and Image Processing,
#   33(2), 174–208.
# - `ojala2002lbp`: T. Ojala, M. Pietikäinen and T. Mäenpää (2002). *Multiresolution
#   Gray-Scale and Rotation Invariant Texture Classification with Local Binary
#   Patterns*. IEEE Transactions on Pattern Analysis and Machine Intelligence, 24(7),
#   971–987.
# - `pinto2020sfs`: A. Pinto, S. Goldenstein, A. Ferreira, T. Carvalho, H. Pedrini and
#   A. Rocha (2020). *Leveraging Shape, Reflectance and Albedo From Shading for Face
#   Presentation Attack Detection*. IEEE Transactions on Information Forensics and
#   Security, 15, 3347–3358.
# - `pinto2020sfscode`: A. Pinto (2020). *shape-from-shading-for-face-pad: official
#   implementation of "Leveraging Shape, Reflectance and Albedo from Shading for Face
#   Presentation Attack Detection"*.
#   https://github.com/allansp84/shape-from-shading-for-face-pad
# - `tsai1994sfs`: P. Tsai and M. Shah (1994). *Shape from Shading Using Linear
#   Approximation*. Image and Vision Computing, 12(8), 487–498.
# - `zheng1991sfs`: Q. Zheng and R. Chellappa (1991). *Estimation of Illuminant
#   Direction, Albedo, and Shape from Shading*. IEEE Transactions on Pattern Analysis
#   and Machine Intelligence, 13(7), 680–702.
