# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Exploring the Meta Pattern
#
# What does the extractor Φ actually produce, and how does it change while Algorithm 1
# trains it? The paper {cite}`cai2022metapattern` shows a handful of Meta Patterns (MPs)
# of a trained model next to the input faces. Here the reader can look for themselves:
# the figures below respond to sliders and menus *in the static web page*, without a
# running Python kernel, because every picture is computed in advance and embedded in the
# page. You can move through training iterations, switch between domains and between
# genuine and spoof faces, compare the MP with handcrafted maps, and compare the
# extractor variants of the paper's ablation.
#
# Everything here uses the synthetic benchmark and a study-scale run on the CPU (or, without
# it, a short run trained here): these are the patterns of a small model trained on
# synthetic faces, not of the paper's model on the real datasets.

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

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from myst_nb import glue

from mpfas_lib.data import build_protocol, photo_batch
from mpfas_lib.features import build_map
from mpfas_lib.models import EXTRACTOR_NAMES, build_extractor
from mpfas_lib.training import STUDY_RUN, study_snapshots
from mpfas_lib.viz import (
    grid_explorer,
    html,
    pattern_panels,
    patterns_for_states,
    shown_at,
    widget_explorer,
)

# %% [markdown]
# ## The faces we look at
#
# We take the synthetic MICO protocol with target M and pick, in each of the four domains,
# the first genuine frame and a spoof frame, alternating between print and replay attacks:
# eight faces of 64 pixels, the size the model was trained on.

# %%
protocol = build_protocol("MICO:OCI-M", source="synthetic", profile=S.profile)
sets = {**{d: ds for d, ds in sorted(protocol.sources.items())},
        protocol.target_domain: protocol.target}
faces, names = [], []
for k, (domain, ds) in enumerate(sets.items()):
    want = "replay" if k % 2 else "print"
    genuine = next(i for i, r in enumerate(ds.records) if r.label == 1)
    spoofs = [i for i, r in enumerate(ds.records) if r.label == 0]
    spoof = next((i for i in spoofs if ds.records[i].attack.startswith(want)),
                 spoofs[0])
    for i, kind in ((genuine, "genuine"), (spoof, "spoof")):
        faces.append(ds[i][0])
        names.append(f"{domain} {kind} ({ds.records[i].attack})")
faces = torch.stack(faces)
names

# %% [markdown]
# Synthetic heads are hard to read as faces, so we add the three photographs of
# {doc}`03_handcrafted_features`, each captured at 256 pixels as a genuine face, a print and
# a replay through the same attack model: Eileen Collins (scikit-image's `astronaut()`, a
# NASA photograph, public domain), Grace Hopper (matplotlib's `grace_hopper.jpg`, a U.S.
# Navy portrait, public domain) and the "cameraman" (scikit-image's `camera()`, by Lav
# Varshney, CC0). They illustrate; nothing was trained on them.

# %%
photos, photo_labels = photo_batch(256)
photos = torch.from_numpy(photos)
photo_labels

# %% [markdown]
# ## Snapshots of Φ during training
#
# Every study run of {doc}`08_training_runs` kept its Φ at iteration 0 and at each
# evaluation (`phi.pt` beside its results), and marks the evaluation that source validation
# selected. We load those of MP on MICO:OCI-M, seed 0 (`study_snapshots`). If they are
# missing, a short Algorithm 1 run at this profile is trained once instead, with a snapshot
# at every evaluation; the label says which.

# %%
saved, source = study_snapshots(S.results, S.profile, S.cache, STUDY_RUN)
source = f"{source}, synthetic"
selected = saved.get("selected")
if selected is None:
    selected = saved["iterations"][-1]
glue("ex_source", source, display=False)
glue("ex_selected", selected, display=False)
print(source, "| selected iteration:", selected)

# %% [markdown]
# The MP of every snapshot for the eight faces, with Φ in evaluation mode:

# %%
patterns = patterns_for_states(lambda: build_extractor("conv2"), saved["states"], faces)
change = (patterns - patterns[:1]).abs().mean(dim=(2, 3, 4))  # [snapshot, face]
ax = pd.DataFrame(change.numpy(), index=saved["iterations"], columns=names).plot(
    figsize=(7, 3.2), marker="o")
ax.set_xlabel("Algorithm 1 iteration")
ax.set_ylabel("mean |MP_t − MP_0|")
ax.set_title(f"how far the Meta Pattern moved ({source})")
ax.legend(fontsize=6, ncols=2)
plt.show()

# %%
glue("ex_change_last", float(change[-1].mean()), display=False)
glue("ex_iters", saved["iterations"][-1], display=False)

# %% [markdown]
# After {glue:text}`ex_iters` iterations the pattern has moved by
# {glue:text}`ex_change_last:.3f` on average per pixel and channel (values live in
# $[0, 1]$). Now the pictures.
#
# ## The explorer
#
# Each face gets six panels: the input, the MP shown as an RGB image, its three channels
# and, for reference, the ColorLBP map {cite}`boulkenafet2016colour`, which does not change
# with training. Each channel is coloured from dark to yellow over one fixed range, the
# range its values span over all snapshots and faces (given in the panel title), so the
# pictures stay comparable while small differences remain visible. The slider moves through
# training (every third snapshot, plus the selected one); it opens at iteration
# {glue:text}`ex_selected`, the model that source validation selected. The menu picks the
# face: a synthetic face of one domain, genuine or spoof, or a capture of a photograph.
# Synthetic faces are enlarged without smoothing, so their 64 pixels stay visible.

# %%
DISPLAY = 160  # pixels per picture in the page
its = saved["iterations"]
keep = sorted({its[0], selected, its[-1], *its[::3]})
states = [saved["states"][its.index(t)] for t in keep]
photo_patterns = patterns_for_states(lambda: build_extractor("conv2"), states, photos)
all_faces = torch.cat([shown_at(faces, DISPLAY), shown_at(photos, DISPLAY)])
# [snapshot, face, ...]
all_patterns = torch.cat([shown_at(patterns[[its.index(t) for t in keep]], DISPLAY),
                          shown_at(photo_patterns, DISPLAY)], dim=1)
lbp = build_map("colorlbp")
all_lbp = torch.cat([shown_at(lbp(faces), DISPLAY), shown_at(lbp(photos), DISPLAY)])
all_names = names + photo_labels
ranges = [tuple(np.percentile(all_patterns[:, :, c].numpy(), [1, 99]))
          for c in range(3)]
print(f"{len(keep)} snapshots x {len(all_names)} faces; channel ranges",
      [f"{lo:.2f}-{hi:.2f}" for lo, hi in ranges])

# %%
stack, titles = [], None
for s in range(len(keep)):
    row = []
    for f in range(len(all_names)):
        panels, titles = pattern_panels(all_faces[f], all_patterns[s, f],
                                        {"ColorLBP": all_lbp[f]}, ranges=ranges)
        row.append(panels)
    stack.append(row)
stack = np.asarray(stack, dtype=np.uint8)  # [snapshot, face, panel, H, W, 3]
print(stack.shape)

# %%
training_fig = grid_explorer(
    stack, [str(t) for t in keep], all_names, titles, slider_name="iteration",
    dropdown_name="face", title=f"Meta Pattern during Algorithm 1 ({source})", cols=3,
    active=keep.index(selected), fmt="webp", static_panels=[0, 5])  # input, ColorLBP
html(training_fig, div_id="mp-training-explorer")

# %% [markdown]
# At iteration 0 the pattern is almost uniform: in evaluation mode Φ's BatchNorm layers use
# their initial running statistics (mean 0, variance 1), which do not match the actual
# activations, so the sigmoid sees nearly the same value everywhere. A few iterations of
# training later the running statistics fit and the face appears. Other things to look
# for: whether the genuine and spoof faces of one domain get patterns of different texture
# or colour balance where the attack leaves traces (print dots, screen moiré, colour
# shifts), and whether that difference grows with training; on the photographs, how the
# same face's pattern changes between the genuine capture, the print and the replay. The
# ColorLBP panel responds to such traces in a fixed way.
#
# ## Extractor variants
#
# The ablation of Fig. 8 compares six extractors: one, two or three convolution layers,
# vanilla or central-difference convolution (CDC, {cite}`yu2020cdcn`). Before any training
# their patterns already differ, because CDC subtracts θ times the centre pixel from each
# kernel response and so reacts to local intensity differences (edges, fine texture)
# instead of intensity itself. Here, on the nine captures of the photographs, the menu picks
# the variant and the slider the capture.

# %%
torch.manual_seed(0)
variant_patterns = {}
with torch.no_grad():
    for v in EXTRACTOR_NAMES:
        phi_v = build_extractor(v).eval()
        variant_patterns[v] = shown_at(phi_v(photos), DISPLAY)
shown_photos = shown_at(photos, DISPLAY)
variant_stack = np.asarray(  # [capture, variant, panel, H, W, 3]
    [[pattern_panels(shown_photos[f], variant_patterns[v][f])[0]
      for v in EXTRACTOR_NAMES]
     for f in range(len(photos))], dtype=np.uint8)
variant_titles = pattern_panels(shown_photos[0], variant_patterns["conv2"][0])[1]

# %%
variant_fig = grid_explorer(
    variant_stack, photo_labels, list(EXTRACTOR_NAMES), variant_titles,
    slider_name="capture", dropdown_name="extractor",
    title="untrained extractor variants (Fig. 8), photographs", cols=3, fmt="webp")
html(variant_fig, div_id="mp-variant-explorer")

# %% [markdown]
# ## The same exploration with ipywidgets
#
# In JupyterLab, with a running kernel, the cell below shows the first explorer built from
# ipywidgets: a selection slider, a menu and one image per panel, redrawn by Python on
# every change. It needs the kernel, so in this static page its output is not shown; run
# the notebook to use it. The plotly figures above need no kernel.

# %% tags=["remove-output"]
widget = widget_explorer(stack, [str(t) for t in keep], all_names, titles,
                         slider_name="iteration", dropdown_name="face")
widget

# %% [markdown]
# ## Summary
#
# * The MP is a three-channel image of the same size as the face; its channels respond to
#   colour and fine texture, and Algorithm 1 changes them gradually.
# * Handcrafted maps such as ColorLBP respond to the same cues in a fixed way; the MP is
#   learnt. Real photographs captured as genuine, print and replay faces show both on
#   faces that are easy to read.
# * Extractor variants differ before any training: CDC variants emphasise local
#   differences.
# * `mpfas_lib.viz.interactive.grid_explorer` builds kernel-free plotly explorers from a
#   stack of pictures; `widget_explorer` builds the ipywidgets version of the same stack.
#
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb11-1
# ```
# Which MP channel separates genuine from spoof faces best in the last snapshot? For each
# channel compute the mean pattern value of the genuine faces minus that of the spoof faces,
# per domain, using the `patterns` tensor.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb11-1
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# gap: a DataFrame, one row per domain, one column per MP channel: the mean pattern
# value of the genuine face minus that of the spoof face (last snapshot)
gap = ...

# %%
last = patterns[-1].mean(dim=(2, 3))  # [face, channel]
gap = pd.DataFrame((last[0::2] - last[1::2]).numpy(), index=list(sets),
                   columns=["channel 1", "channel 2", "channel 3"])
same_sign = [c for c in gap if (gap[c] > 0).all() or (gap[c] < 0).all()]
print("channels with the same sign in every domain:", same_sign or "none")
print("largest mean |gap|:", gap.abs().mean().idxmax())
gap.round(4)

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb11-1", gap)

# %% [markdown]
# A channel whose sign of the difference is the same in every domain is a candidate
# domain-invariant cue; the first printed line lists them (if any). One face of each class
# per domain is far too few for a verdict, and a consistent sign on four pairs happens by
# chance with probability $2 \cdot 2^{-4} = 1/8$ per channel; the point is the method,
# which scales to a whole test set.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb11-2
# ```
# A domain shift often changes only the exposure. Is the trained Meta Pattern invariant to
# it? Darken the eight faces by a factor 0.7 and measure the mean absolute change of the
# last snapshot's MP, next to the change of the RGB input itself and of ColorLBP (which
# exercise ex-nb03-1 showed to be invariant to monotone brightness changes, up to
# rounding and saturation).
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb11-2
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# moved: a dict {"RGB input": ..., "MP (last snapshot)": ..., "ColorLBP": ...}, each the
# mean absolute change after darkening the eight faces by 0.7
moved = ...

# %%
phi_last = build_extractor("conv2")
phi_last.load_state_dict(saved["states"][-1])
phi_last.eval()
dark = faces * 0.7
lbp = build_map("colorlbp")
with torch.no_grad():
    moved = {"RGB input": (dark - faces).abs().mean().item(),
             "MP (last snapshot)":
                 (phi_last(dark) - phi_last(faces)).abs().mean().item(),
             "ColorLBP": (lbp(dark) - lbp(faces)).abs().mean().item()}
print("most invariant:", min(moved, key=moved.get), "| MP moves less than its input:",
      moved["MP (last snapshot)"] < moved["RGB input"])
pd.Series(moved, name="mean |change| after darkening by 0.7").round(4)

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb11-2", moved)

# %% [markdown]
# The printed lines rank the three. ColorLBP compares neighbours, and scaling keeps their
# order; its change comes from the 8-bit quantisation it applies first, which after
# darkening merges close levels into ties and so flips some bits (the "0.5 g + 20" case of
# ex-nb03-1). The MP is a learnt, non-linear
# function of the pixel values: two 3×3 convolutions with BatchNorm (in evaluation mode,
# so fixed affine maps) and a sigmoid. Nothing in Algorithm 1 asks it to ignore exposure;
# it becomes more or less invariant only as far as the source domains' exposures differed
# and invariance helped Θ on the held-out domains. Whether it moved less than its input
# here is the second printed answer, for this snapshot ({glue:text}`ex_source`).
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb11-3
# ```
# The explorer shows Φ in evaluation mode (BatchNorm running statistics). Compare, for the
# last snapshot, the pattern of the eight faces in evaluation mode and in training mode
# (statistics of the eight-face batch). Why can they differ, and which one does the
# network Θ see during Algorithm 1?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb11-3
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# eval_mp, train_mp: the last snapshot's MP of the eight faces in evaluation mode and in
# training mode
eval_mp, train_mp = ..., ...

# %%
phi_last = build_extractor("conv2")
phi_last.load_state_dict(saved["states"][-1])
with torch.no_grad():
    eval_mp = phi_last.eval()(faces)
    train_mp = phi_last.train()(faces)
print(f"mean |train-mode MP − eval-mode MP| = {(train_mp - eval_mp).abs().mean():.4f}")

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb11-3", (eval_mp, train_mp))

# %% [markdown]
# In training mode each BatchNorm layer normalises with the statistics of the current batch,
# in evaluation mode with running averages collected during training. Early in training,
# or for a batch unlike the training batches, the two differ. During Algorithm 1 both Φ's
# inner steps and Θ's step run Φ in training mode, so Θ sees batch-normalised patterns; at
# test time (and in this explorer) the running statistics are used.
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb11-4
# ```
# Predict first, then run. Does the learnt Meta Pattern tell genuine from spoof faces
# apart more than it tells domains apart? The cell of this exercise measures, on the
# eight faces, the mean absolute difference between (a) the genuine and the spoof face of
# the same domain and (b) the genuine faces of two different domains, for the RGB input
# and for the MP of the snapshot that source validation selected. Write in your answer,
# for the RGB input and for the MP, which of (a) and (b) you expect to be larger, then run
# the cell and compare.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb11-4
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# Your code here: none needed. Run this cell once your prediction is written above.
def pair_gaps(maps):
    """(a) genuine vs spoof of one domain, (b) genuine vs genuine of two domains."""
    gap = lambda i, j: float((maps[i] - maps[j]).abs().mean())  # noqa: E731
    n = len(maps) // 2
    within = [gap(2 * d, 2 * d + 1) for d in range(n)]
    across = [gap(2 * d, 2 * e) for d in range(n) for e in range(d + 1, n)]
    return {"(a) genuine vs spoof, same domain": np.mean(within),
            "(b) genuine vs genuine, two domains": np.mean(across)}


phi_sel = build_extractor("conv2")
phi_sel.load_state_dict(saved["states"][saved["iterations"].index(selected)])
with torch.no_grad():
    mp_sel = phi_sel.eval()(faces)
pd.DataFrame({"RGB input": pair_gaps(faces),
              "MP (selected)": pair_gaps(mp_sel)}).round(3)

# %%
def pair_gaps(maps):
    """(a) genuine vs spoof of one domain, (b) genuine vs genuine of two domains."""
    gap = lambda i, j: float((maps[i] - maps[j]).abs().mean())  # noqa: E731
    n = len(maps) // 2
    within = [gap(2 * d, 2 * d + 1) for d in range(n)]
    across = [gap(2 * d, 2 * e) for d in range(n) for e in range(d + 1, n)]
    return {"(a) genuine vs spoof, same domain": np.mean(within),
            "(b) genuine vs genuine, two domains": np.mean(across)}


phi_sel = build_extractor("conv2")
phi_sel.load_state_dict(saved["states"][saved["iterations"].index(selected)])
with torch.no_grad():
    mp_sel = phi_sel.eval()(faces)
pairs = pd.DataFrame({"RGB input": pair_gaps(faces),
                      "MP (selected)": pair_gaps(mp_sel)})
ratio = pairs.iloc[0] / pairs.iloc[1]
glue("ex_ratio_rgb", float(ratio["RGB input"]), display=False)
glue("ex_ratio_mp", float(ratio["MP (selected)"]), display=False)
pairs.round(3)

# %% [markdown]
# The ratio (a) / (b) is {glue:text}`ex_ratio_rgb:.2f` for the RGB input and
# {glue:text}`ex_ratio_mp:.2f` for the MP ({glue:text}`ex_source`): a ratio above 1 means
# that the liveness of a face moves the map more than its domain does. A pattern that
# helps an unseen domain should raise that ratio over the input's, keeping the
# genuine-spoof difference and dropping the camera's and the light's, and the printed
# ratios say whether this one does. Four pairs of each kind are an anecdote, not a test:
# the same measure over a domain's whole test split, or a classifier on the patterns,
# would be the way to settle it.
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
# - `yu2020cdcn`: Z. Yu, C. Zhao, Z. Wang, Y. Qin, Z. Su, X. Li, F. Zhou and G. Zhao
#   (2020). *Searching Central Difference Convolutional Networks for Face
#   Anti-Spoofing*. Proceedings of the IEEE/CVF Conference on Computer Vision and
#   Pattern Recognition (CVPR), 5295–5305.
