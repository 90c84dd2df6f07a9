# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-hfn)=
# # The Hierarchical Fusion Network
#
# The Meta Pattern is only useful if the classifier can combine it with the
# RGB image. The paper's classifier $\Theta$ is a two-stream *Hierarchical
# Fusion Network* (HFN): one ResNet stream {cite}`he2016resnet` reads the RGB
# face, an identical one reads the MP, and a *Hierarchical Fusion Module*
# (HFM) merges the two at three depths, top-down, in the manner of a feature
# pyramid network {cite}`lin2017fpn`. This chapter draws the network, runs
# Eq. 9 step by step on real tensors, compares the HFM with two other fusions,
# counts the parameters of the authors' network and shows that the authors'
# fusion collapses to a single path.

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
import copy
import time

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from myst_nb import glue

from mpfas_lib.models import (
    HFN,
    build_extractor,
    build_hfn,
    count_parameters,
    genuine_score,
    hfn_loss,
    parameter_table,
)
from mpfas_lib.viz import hfn_diagram

# %% [markdown]
# ## The architecture
#
# The figure follows the paper's Fig. 2 at its full size (ResNet-50 streams,
# 256-pixel input). Each stream taps the outputs of the last three residual
# stages. The HFMs fuse them from the deepest ($F_1$, 8×8) to the shallowest
# ($F_3$, 32×32); the last fused map $m_3$ predicts the pixel map, and the
# ends of both streams feed a fully connected layer that predicts the binary
# vector.

# %%
fig = hfn_diagram()
plt.show()

# %% [markdown]
# At hierarchy $i$, the HFM $F_i$ adds the channel-aligned features of the
# top (RGB) stream $m^t_i$, of the bottom (MP) stream $m^b_i$, and of the
# previous fused map $m_{i-1}$ upsampled to the current size (Eq. 9):
#
# $$
# m_i = F_i(m^t_i, m^b_i, m_{i-1}) = C(m^t_i) + C(m^b_i) + U[C(m_{i-1})],
# \qquad i = 1, 2, 3, \quad m_0 = 0,
# $$
#
# where $C$ is a convolution aligning the number of channels and $U$ is
# nearest-neighbour upsampling. In the library $C$ is a 1×1 convolution on
# each stream's features and a 3×3 convolution on the previous fused map.

# %% [markdown]
# ## Eq. 9 on real tensors
#
# We build the HFN of the current profile (in the quick profile a ResNet-18
# of base width 16 per stream, so that it runs on a CPU) and an extractor,
# and feed a small batch.

# %%
torch.manual_seed(0)
theta = build_hfn(S.profile).eval()
phi = build_extractor("conv2").eval()
size = S.profile.image_size
rgb = torch.rand(2, 3, size, size)
with torch.no_grad():
    mp = phi(rgb)
print(f"backbone {S.profile.backbone}, input {tuple(rgb.shape)}")

# %% [markdown]
# Each stream returns its three taps, shallow first. These are $m^t_3,
# m^t_2, m^t_1$ for the RGB stream and $m^b_3, m^b_2, m^b_1$ for the MP
# stream (the paper numbers hierarchies from the deepest):

# %%
with torch.no_grad():
    feats = {s: theta.trunks[s](theta.norms[s](x))
             for s, x in (("rgb", rgb), ("map", mp))}
pd.DataFrame({s: [tuple(f.shape[1:]) for f in taps] for s, taps in feats.items()},
             index=["layer2 (i = 3)", "layer3 (i = 2)", "layer4 (i = 1)"])

# %% [markdown]
# Hierarchy 1 has no previous map ($m_0 = 0$): the fused map is the sum of
# the two aligned layer4 features.

# %%
hfm = theta.fusion
with torch.no_grad():
    m1 = hfm.align["rgb"][2](feats["rgb"][2]) + hfm.align["map"][2](feats["map"][2])
tuple(m1.shape)

# %% [markdown]
# Hierarchies 2 and 3 add the previous fused map, convolved and upsampled by
# a factor of 2 to the current size:

# %%
def U(m, like):  # nearest-neighbour upsampling to the size of `like`
    return F.interpolate(m, size=like.shape[-2:], mode="nearest")


with torch.no_grad():
    c2 = hfm.align["rgb"][1](feats["rgb"][1]) + hfm.align["map"][1](feats["map"][1])
    m2 = c2 + U(hfm.carry[1](m1), c2)
    c3 = hfm.align["rgb"][0](feats["rgb"][0]) + hfm.align["map"][0](feats["map"][0])
    m3 = c3 + U(hfm.carry[0](m2), c3)
{"m1": tuple(m1.shape), "m2": tuple(m2.shape), "m3": tuple(m3.shape)}

# %% [markdown]
# The hand-written steps give exactly the library's fused map:

# %%
with torch.no_grad():
    print("max |m3 - HFM(feats)| =", (m3 - hfm(feats)).abs().max().item())

# %% [markdown]
# The pixel-map head turns $m_3$ into a one-channel map in $(0, 1)$ at
# stride 8 (32×32 at 256 pixels), and the classifier pools the ends of both
# streams into two logits. The full forward pass returns both:

# %%
with torch.no_grad():
    out = theta(rgb, mp)
glue("nb05_map_side", out.pixel_map.shape[-1], display=False)
glue("nb05_input_side", size, display=False)
{"logits": tuple(out.logits.shape), "pixel_map": tuple(out.pixel_map.shape)}

# %% [markdown]
# At this profile's input of {glue:text}`nb05_input_side` pixels the
# pixel map is {glue:text}`nb05_map_side` pixels wide.
#
# ## The loss (Eq. 10) and the score (Eq. 11) on a batch
#
# Both outputs are supervised. The binary vector gets a cross-entropy (the
# paper's $L_\text{BCE}$; a two-logit softmax, as in the authors' code), and
# the pixel map a mean squared error against a map of the same size that is
# all ones for a genuine face and all zeros for a spoof:
# $L = L_\text{BCE} + L_\text{MSE}$. We label the two random inputs above
# genuine and spoof and compute both terms by hand.

# %%
y = torch.tensor([1, 0])  # genuine, spoof
target = y.float().view(-1, 1, 1, 1).expand_as(out.pixel_map)  # all ones / all zeros
l_bce = F.cross_entropy(out.logits, y)
l_mse = F.mse_loss(out.pixel_map, target)
print(f"L_BCE {l_bce:.4f} + L_MSE {l_mse:.4f} = {l_bce + l_mse:.4f}; "
      f"library hfn_loss {hfn_loss(out, y):.4f}")
assert torch.allclose(l_bce + l_mse, hfn_loss(out, y))

# %% [markdown]
# At test time the two outputs are fused into one probability of genuine,
# $S = (s_1 + \operatorname{mean}(m))/2$ (Eq. 11), with $s_1$ the softmax
# probability of the genuine logit and $m$ the predicted pixel map:

# %%
s1 = out.logits.softmax(dim=1)[:, 1]
m_mean = out.pixel_map.mean(dim=(1, 2, 3))
assert torch.allclose((s1 + m_mean) / 2, genuine_score(out))
pd.DataFrame({"s1": s1, "mean(m)": m_mean, "S (Eq. 11)": genuine_score(out)},
             index=["genuine", "spoof"]).round(4)

# %% [markdown]
# The network is untrained and the inputs are random, so the two rows carry
# no information about the labels: what matters here is the arithmetic,
# which the asserts check against the library's `hfn_loss` and
# `genuine_score`. Note that $s_1$ and $\operatorname{mean}(m)$ of one face
# need not agree; Eq. 11 averages two differently trained opinions.
#
# Why supervise a *map* of zeros and ones rather than only one label per
# face? Each of the map's cells sees a patch of the face through the fused
# features, so the dense target asks every patch to carry evidence of its
# own: a print's halftone or a display's moiré in one region is enough to
# pull that region's cells towards 0, and a genuine face must look genuine
# everywhere. A single global label can be met by one shortcut, say the
# bezel of a display at the edge of the crop or one camera's colour cast,
# and the dense target makes such a shortcut pay only for the cells that
# see it. Depth supervision (a face-shaped depth map for genuine faces, a
# flat one for attacks), introduced by Atoum et al. {cite}`atoum2017depth`
# and made widespread by Liu et al. {cite}`liu2018depth`, and pixel-wise
# binary supervision {cite}`george2019pixbis` (a 0/1 map, as here) brought
# this idea to face PAD; the HFN's pixel map is of the second kind, and the
# score averages it, so that the decision pools the patches' evidence.

# %% [markdown]
# ## Three fusions compared
#
# The library offers three fusion modules behind one switch:
#
# - `hfm`, Eq. 9 as above (the default);
# - `concat`, the ablation of the paper's Fig. 6: at each hierarchy the two
#   streams are concatenated and aligned, then the three levels are
#   upsampled and concatenated once, with no progressive top-down path;
# - `official`, the fusion of the authors' public code: the two streams'
#   aligned features are *averaged*, a 3×3 convolution follows each
#   upsample-and-add, and the classifier has two extra stride-2
#   convolutions per stream.
#
# Parameter counts per part, in the current profile:

# %%
fusions = ("hfm", "concat", "official")
models = {f: build_hfn(S.profile, fusion=f).eval() for f in fusions}
params = pd.DataFrame({f: dict(parameter_table(m)) for f, m in models.items()})
params

# %% [markdown]
# The trunks dominate; the fusions differ in the fusion module and, for the
# official variant, in its heavier classifier. All three produce outputs of
# the same shapes, so they are interchangeable in training. Forward time on
# this machine's CPU (batch of 8, median of 3 runs after a warm-up; timings
# on a shared machine are indicative only):

# %%
def forward_ms(model, batch=8, runs=3):
    x = torch.rand(batch, 3, size, size)
    times = []
    with torch.no_grad():
        model(x, x)  # warm-up
        for _ in range(runs):
            start = time.perf_counter()
            out = model(x, x)
            times.append(1000 * (time.perf_counter() - start))
    median = round(sorted(times)[runs // 2], 1)
    return median, tuple(out.logits.shape), tuple(out.pixel_map.shape)


columns = ("fusion", "forward ms", "logits", "pixel map")
pd.DataFrame([dict(zip(columns, (f, *forward_ms(m)), strict=True))
              for f, m in models.items()]).set_index("fusion")

# %% [markdown]
# Which fusion generalises better is a question for training: the paper
# reports that the HFM beats concatenation in 18 of 20 comparisons of its
# Fig. 6 {cite}`cai2022metapattern`.

# %% [markdown]
# ## The authors' network: 62,126,467 parameters
#
# Counting parameters needs no weights, so we can build the authors'
# configuration (ResNet-50 streams, official fusion) on a CPU in a second or
# two and check its size against the count of their released code:

# %%
official50 = HFN(backbone="resnet50", fusion="official")
n_official = count_parameters(official50)
glue("nb05_official_params", f"{n_official:,}", display=False)
assert n_official == 62_126_467
pd.DataFrame(parameter_table(official50),
             columns=["part", "parameters"]).set_index("part")

# %% [markdown]
# The count, {glue:text}`nb05_official_params`, matches: two ResNet-50
# trunks without their ImageNet classifier, the averaged laterals and 3×3
# convolutions of the fusion (once per stream), the pixel-map head and the
# classifier with its stride-2 convolutions.

# %%
del official50

# %% [markdown]
# ## The official fusion is a single path
#
# In the authors' fusion both streams' 3×3 convolutions receive the *same*
# input, the averaged map $x$, and their outputs are averaged:
#
# $$
# \tfrac{1}{2}\bigl(W_t * x + b_t\bigr) + \tfrac{1}{2}\bigl(W_b * x + b_b\bigr)
# = \tfrac{W_t + W_b}{2} * x + \tfrac{b_t + b_b}{2}.
# $$
#
# Convolution is linear in its weights, so the pair is one convolution with
# averaged weights: after the laterals, the two streams no longer keep
# separate paths, and half of those 3×3 parameters are redundant. We check it
# numerically on the quick model's official fusion:

# %%
fusion = models["official"].fusion
level = 0
top_t, top_b = fusion.top["rgb"][level], fusion.top["map"][level]
merged = torch.nn.Conv2d(top_t.in_channels, top_t.out_channels, 3, padding=1)
with torch.no_grad():
    merged.weight.copy_((top_t.weight + top_b.weight) / 2)
    merged.bias.copy_((top_t.bias + top_b.bias) / 2)

# %%
x = torch.randn(2, top_t.in_channels, 8, 8)
with torch.no_grad():
    two_paths = (top_t(x) + top_b(x)) / 2
gap = (two_paths - merged(x)).abs().max().item()
glue("nb05_single_path_gap", gap, display=False)
print(f"max |average of two convs - one averaged conv| = {gap:.1e}")

# %% [markdown]
# The difference, {glue:text}`nb05_single_path_gap:.1e`, is float rounding.
# The same holds for the whole module: replace both streams' 3×3
# convolutions by their averaged twin and the fused map does not change.

# %%
with torch.no_grad():
    feats_q = {s: models["official"].trunks[s](rgb) for s in ("rgb", "map")}
    before = fusion(feats_q)
    for lvl in range(len(fusion.top["rgb"])):
        t, b = fusion.top["rgb"][lvl], fusion.top["map"][lvl]
        avg_w, avg_b = (t.weight + b.weight) / 2, (t.bias + b.bias) / 2
        for conv in (t, b):
            conv.weight.copy_(avg_w)
            conv.bias.copy_(avg_b)
    after = fusion(feats_q)
(before - after).abs().max().item()

# %% [markdown]
# What happens to the redundant pair during training? With $\bar W = (W_t +
# W_b)/2$ the loss depends on the pair only through $\bar W$, so
# $\nabla_{W_t} L = \nabla_{W_b} L = \tfrac12 \nabla_{\bar W} L$: both get the
# *same* gradient. Under SGD (with or without momentum, without weight decay)
# their difference $W_t - W_b$ therefore stays at its initial value forever,
# and $\bar W$ moves by $\alpha \cdot \tfrac12 \nabla_{\bar W} L$: the pair
# trains exactly like one convolution at half the learning rate. It adds
# parameters but no capacity, and no noise either. One SGD step checks it:

# %%
pair = [copy.deepcopy(top_t), copy.deepcopy(top_b)]
single = copy.deepcopy(merged)
opt_pair = torch.optim.SGD([q for c in pair for q in c.parameters()], lr=0.1)
opt_single = torch.optim.SGD(single.parameters(), lr=0.05)  # half the rate
target_y = torch.randn(2, top_t.out_channels, 8, 8)
diff0 = pair[0].weight - pair[1].weight
F.mse_loss((pair[0](x) + pair[1](x)) / 2, target_y).backward()
F.mse_loss(single(x), target_y).backward()
opt_pair.step(), opt_single.step()
with torch.no_grad():
    kept = (pair[0].weight - pair[1].weight - diff0).abs().max().item()
    as_one = ((pair[0].weight + pair[1].weight) / 2 - single.weight).abs().max().item()
print(f"change of W_t - W_b: {kept:.1e}; "
      f"averaged pair vs one conv at lr/2: {as_one:.1e}")

# %% [markdown]
# Both printed differences are zero up to float rounding. This is why the library's
# default is the paper's Eq. 9, where each stream
# keeps its own alignment and the fused map carries a single top-down
# convolution, and why the official form is offered as an option for
# comparisons with the released code.

# %% [markdown]
# ## Interactive: Eq. 9 level by level
#
# What do the two streams contribute at each hierarchy? The figure below runs a trained
# HFN: Φ and Θ as Algorithm 1 (you will meet it in {doc}`06_algorithm1`) trained them in a
# study run of {doc}`08_training_runs` (without that run, an untrained one; the title
# says which), on the photographs of {doc}`03_handcrafted_features` captured as genuine,
# print and replay faces. The slider picks the hierarchy $i$ (1 = layer4, the coarsest);
# the menu picks a face and a stream. From left to right: the stream's input (the RGB face
# or its Meta Pattern), the stream's tap $m^s_i$ (its first three principal components as
# colours), the aligned map $C(m^s_i)$, the carried map $U[C(m_{i-1})]$ (zero at
# $i = 1$) and the fused map $m_i$. The last three live in the same channel space and are
# drawn with the same projection and colour scale (grey is zero), so $m_i$ is, visibly,
# the sum of the two aligned maps and the carried one. The figure works in the web page
# without a running kernel.

# %%
from mpfas_lib.data import photo_batch
from mpfas_lib.training import build_models, get_method, trained_models
from mpfas_lib.viz import fusion_explorer, html

loaded = trained_models(S.results)
if loaded is not None:
    phi_t, theta_t, model_label = loaded
else:
    torch.manual_seed(0)
    phi_t, theta_t = (m.eval() for m in build_models(get_method("mp"), S.profile))
    model_label = f"untrained {S.profile.name}-profile HFN (study checkpoint missing)"
print(model_label)

# %%
photos, photo_labels = photo_batch(128)
astronaut = [i for i, n in enumerate(photo_labels) if n.startswith("astronaut")]
fusion_fig = fusion_explorer(theta_t, phi_t, torch.from_numpy(photos[astronaut]),
                             [photo_labels[i] for i in astronaut],
                             title=f"Eq. 9 on photographs ({model_label})")
html(fusion_fig, div_id="fusion-explorer")

# %% [markdown]
# Things to look for: at $i = 1$ the maps are a few pixels wide and the fused map is just
# the sum of the two aligned maps; each finer level adds the detail of its own taps to the
# upsampled coarse map; and switching between the top and bottom stream shows how much
# each stream's aligned map looks like the fused one at each level.

# %% [markdown]
# ## Summary
#
# - The HFN has two identical ResNet streams, RGB and MP; three HFMs fuse
#   their layer4, layer3 and layer2 features from deep to shallow (Eq. 9).
# - The last fused map predicts a pixel map at stride 8; the ends of the
#   streams predict two logits. Both outputs are supervised (Eq. 10).
# - The library's `hfm`, `concat` and `official` fusions are interchangeable;
#   they differ in parameters and in how information flows between levels.
# - The authors' network has {glue:text}`nb05_official_params` parameters;
#   its fusion averages the streams before identical convolutions and so
#   reduces to a single path.

# %% [markdown]
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb05-1
# ```
# Compute by hand the number of parameters of the HFM (`fusion="hfm"`) for
# ResNet-50 streams: 1×1 alignment convolutions with bias from 512, 1024 and
# 2048 channels to 256 for each of the two streams, plus two 3×3
# convolutions with bias from 256 to 256 on the fused maps. Check it with
# `parameter_table`.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb05-1
# :class: dropdown
# ```
# Alignment: $2 \cdot 256 \cdot (512 + 1024 + 2048 + 3) = 1{,}836{,}544$;
# top-down: $2 \cdot (256 \cdot 256 \cdot 9 + 256) = 1{,}180{,}160$; total
# $3{,}016{,}704$.

# %% tags=["starter", "remove-cell"]
# Your count of the HFM's parameters (ResNet-50 streams), written as a sum
by_hand = ...

# %%
by_hand = 2 * 256 * (512 + 1024 + 2048 + 3) + 2 * (256 * 256 * 9 + 256)
hfm50 = HFN(backbone="resnet50", fusion="hfm")
assert dict(parameter_table(hfm50))["fusion"] == by_hand
del hfm50
by_hand

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb05-1", by_hand)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb05-2
# ```
# The pixel map is predicted at stride 8. Check with the quick backbone
# that its side is always the input side divided by 8, for inputs of 64, 96
# and 128 pixels, and give the side at the paper's 256 pixels.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb05-2
# :class: dropdown
# ```
# Layer2 of a ResNet has stride 8 (the stem's stride-2 convolution and
# max-pooling, then layer2's stride 2), so the side is input/8: 8, 12 and 16
# here, 32 at 256 pixels.

# %% tags=["starter", "remove-cell"]
# A dict {input side: pixel-map side} for inputs of 64, 96 and 128 pixels
sides = ...

# %%
small = HFN(backbone="resnet18-w16").eval()
with torch.no_grad():
    sides = {n: small(torch.rand(1, 3, n, n),
                      torch.rand(1, 3, n, n)).pixel_map.shape[-1]
             for n in (64, 96, 128)}
assert all(side == n // 8 for n, side in sides.items())
sides

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb05-2", sides)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb05-3
# ```
# How many parameters of the authors' ResNet-50 network are redundant
# because of the single-path effect, i.e. could be removed without changing
# any output? (Consider the two levels of 3×3 convolutions, 256 → 256 with
# bias, present once per stream.)
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb05-3
# :class: dropdown
# ```
# One of each pair of 3×3 convolutions can go: $2 \cdot (256 \cdot 256
# \cdot 9 + 256) = 1{,}180{,}160$ parameters, about 1.9 % of the network.
# The stride-2 classifier convolutions do *not* collapse: each stream's
# pair is applied to that stream's own layer4 features before averaging.

# %% tags=["starter", "remove-cell"]
# The number of redundant parameters of the authors' ResNet-50 network
redundant_50 = ...

# %%
redundant = sum(count_parameters(models["official"].fusion.top["map"][lvl])
                for lvl in range(2))
per_conv_50 = 256 * 256 * 9 + 256
redundant_50 = 2 * per_conv_50
print("quick profile:", redundant, "| ResNet-50:", redundant_50,
      f"({100 * redundant_50 / 62_126_467:.1f} % of 62,126,467)")

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb05-3", redundant_50)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb05-4
# ```
# The RGB-only baseline (`streams="rgb"`) drops the MP stream. Build it for
# the current profile and compare its parameter table with the two-stream
# HFN. Which parts shrink?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb05-4
# :class: dropdown
# ```
# The map trunk disappears, and so do the MP stream's alignment convolutions
# and half of the classifier's input; the pixel head is unchanged.

# %% tags=["starter", "remove-cell"]
# rgb_only: the RGB-only HFN for the current profile
rgb_only = ...

# %%
rgb_only = build_hfn(S.profile, streams="rgb")
pd.DataFrame({"both": dict(parameter_table(models["hfm"])),
              "rgb only": dict(parameter_table(rgb_only))}).fillna(0).astype(int)

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb05-4", rgb_only)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb05-5
# ```
# Predict first, then run. A network that answers 0.5 everywhere, $s_1 = 0.5$ and a grey
# pixel map, scores $\ln 2 + \tfrac14 \approx 0.94$ on Eq. 10 whatever the labels. The cell
# of this exercise builds five untrained pairs of Φ and Θ at this profile (seeds 0 to 4)
# and computes their loss, in evaluation mode, on one balanced batch of source faces. Write
# in your answer whether you expect the five losses to lie above, at or below 0.94, and
# why; then run the cell and compare.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb05-5
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# Your code here: none needed. Run this cell once your prediction is written above.
from mpfas_lib.data import DomainBalancedBatches, build_protocol
from mpfas_lib.training import build_models, get_method

mico = build_protocol("MICO:OCI-M", "synthetic", S.profile)
source = DomainBalancedBatches(mico.sources, k=S.profile.batch_per_class, seed=0)
x_b, y_b, _ = source.batch(sorted(mico.sources))
untrained = {}
for seed in range(5):
    torch.manual_seed(seed)
    phi_u, theta_u = (m.eval() for m in build_models(get_method("mp"), S.profile))
    with torch.no_grad():
        untrained[seed] = hfn_loss(theta_u(x_b, phi_u(x_b)), y_b).item()
pd.Series(untrained, name="Eq. 10, untrained").round(3)

# %%
from mpfas_lib.data import DomainBalancedBatches, build_protocol
from mpfas_lib.training import build_models, get_method

mico = build_protocol("MICO:OCI-M", "synthetic", S.profile)
source = DomainBalancedBatches(mico.sources, k=S.profile.batch_per_class, seed=0)
x_b, y_b, _ = source.batch(sorted(mico.sources))
untrained = {}
for seed in range(5):
    torch.manual_seed(seed)
    phi_u, theta_u = (m.eval() for m in build_models(get_method("mp"), S.profile))
    with torch.no_grad():
        untrained[seed] = hfn_loss(theta_u(x_b, phi_u(x_b)), y_b).item()
losses_u = pd.Series(untrained, name="Eq. 10, untrained")
glue("nb05_untrained_min", float(losses_u.min()), display=False)
glue("nb05_untrained_max", float(losses_u.max()), display=False)
losses_u.round(3)

# %% [markdown]
# All five lie above: from {glue:text}`nb05_untrained_min:.3f` to
# {glue:text}`nb05_untrained_max:.3f`. An untrained network's outputs scatter around 0.5
# independently of the labels, and both terms of Eq. 10 punish scatter. For the pixel
# map, with mean $\mu$ and variance $v$ over the cells of both classes alike, the squared
# error against half ones and half zeros is $(\mu - \tfrac12)^2 + \tfrac14 + v \ge
# \tfrac14$. For the cross-entropy, a face answered with probability $p$ costs $-\ln p$
# if genuine and $-\ln(1 - p)$ if a spoof; averaged over the two labels that is
# $-\tfrac12 \ln\big(p (1 - p)\big) \ge \ln 2$, because $p(1 - p) \le \tfrac14$. A batch
# can dip below 0.94 only through a chance correlation of the outputs with the labels,
# never by much: the loss falls clearly below the chance level only once the network has
# learnt something (the study runs of chapter 08 do).
# ```{solution-end}
# ```

# %% [markdown] tags=["remove-cell"]
# ## References
#
# In the book these keys are resolved and listed in its bibliography; for JupyterLab,
# `scripts/chapter_references.py` writes this cell from `book/references.bib`.
#
# - `atoum2017depth`: Y. Atoum, Y. Liu, A. Jourabloo and X. Liu (2017). *Face
#   Anti-Spoofing Using Patch and Depth-Based CNNs*. Proceedings of the IEEE
#   International Joint Conference on Biometrics (IJCB), 319–328.
#   https://doi.org/10.1109/BTAS.2017.8272713
# - `cai2022metapattern`: R. Cai, Z. Li, R. Wan, H. Li, Y. Hu and A. C. Kot (2022).
#   *Learning Meta Pattern for Face Anti-Spoofing*. IEEE Transactions on Information
#   Forensics and Security, 17, 1201–1213. https://doi.org/10.1109/TIFS.2022.3158551
# - `george2019pixbis`: A. George and S. Marcel (2019). *Deep Pixel-wise Binary
#   Supervision for Face Presentation Attack Detection*. Proceedings of the
#   International Conference on Biometrics (ICB).
# - `he2016resnet`: K. He, X. Zhang, S. Ren and J. Sun (2016). *Deep Residual Learning
#   for Image Recognition*. Proceedings of the IEEE Conference on Computer Vision and
#   Pattern Recognition (CVPR), 770–778.
# - `lin2017fpn`: T. Lin, P. Dollár, R. Girshick, K. He, B. Hariharan and S. Belongie
#   (2017). *Feature Pyramid Networks for Object Detection*. Proceedings of the IEEE
#   Conference on Computer Vision and Pattern Recognition (CVPR), 2117–2125.
# - `liu2018depth`: Y. Liu, A. Jourabloo and X. Liu (2018). *Learning Deep Models for
#   Face Anti-Spoofing: Binary or Auxiliary Supervision*. Proceedings of the IEEE
#   Conference on Computer Vision and Pattern Recognition (CVPR), 389–398.
