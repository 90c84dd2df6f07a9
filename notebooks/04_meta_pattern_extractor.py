# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-extractor)=
# # The Meta Pattern Extractor
#
# The Meta Pattern (MP) is what the paper puts in place of a handcrafted map:
# the output $\Phi(x)$ of a small convolutional network, the *Meta Pattern
# Extractor*, applied to the RGB face $x$ {cite}`cai2022metapattern`. This
# chapter builds $\Phi$ and the five variants of the paper's ablation (Fig. 8),
# counts their parameters, derives the central difference convolution (CDC)
# {cite}`yu2020cdcn` used by three of them and checks it against its
# definition, and finally looks at the patterns the extractors produce.

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
import pandas as pd
import torch
import torch.nn.functional as F
from myst_nb import glue

from mpfas_lib.data import from_profile, to_tensor
from mpfas_lib.models import (
    EXTRACTOR_NAMES,
    CDConv2d,
    build_extractor,
    cdc_reference,
    count_parameters,
)
from mpfas_lib.training import trained_phi
from mpfas_lib.viz import channel_grid, image_grid

# %% [markdown]
# ## The paper's extractor
#
# The paper wants $\Phi$ to be *shallow*. Its parameters are fitted in the
# inner loop of Algorithm 1 with only $K$ small batches per outer iteration,
# and a deep network would need far more data to be fitted well by so few
# steps. The result (the paper's Fig. 3) is two 3×3 convolutions with a
# batch normalisation after each, a ReLU in between and a sigmoid at the end,
# so the MP is a three-channel image of the input's size with values in
# $(0, 1)$, like the handcrafted maps it replaces:
#
# $$
# \Phi(x) = \sigma\bigl(\mathrm{BN}(W_2 * \mathrm{ReLU}(\mathrm{BN}(W_1 * x)))\bigr),
# \qquad x \in [0,1]^{3 \times H \times W}.
# $$

# %%
phi = build_extractor("conv2")
phi

# %% [markdown]
# Its output keeps the input's size and stays inside $(0, 1)$:

# %%
x = torch.rand(2, 3, S.profile.image_size, S.profile.image_size)
mp = phi(x)
print(tuple(x.shape), "->", tuple(mp.shape), f"range ({mp.min():.3f}, {mp.max():.3f})")

# %%
n_conv2 = count_parameters(phi)
glue("nb04_conv2_params", n_conv2, display=False)
n_conv2

# %% [markdown]
# The whole extractor has {glue:text}`nb04_conv2_params` parameters: the
# first layer has $3 \cdot 6 \cdot 9$ weights and 6 biases, the second
# $6 \cdot 3 \cdot 9$ weights and 3 biases, and each batch normalisation a
# scale and a shift per channel. The authors' public code uses exactly this
# network. For comparison, each ResNet-50 stream of the fusion network has
# about 23.5 million parameters: $\Phi$ is a filter bank, not a feature
# extractor in the usual deep learning sense.

# %% [markdown]
# ## Six instantiations
#
# The paper's ablation (Fig. 8) varies the depth of $\Phi$ (one, two or
# three convolutions: CONV1, CONV2, CONV3) and the kind of convolution
# (vanilla or central difference: CDC1, CDC2, CDC3). The library builds all
# six by name. The paper does not spell out the channel widths of the one-
# and three-layer variants; the library's reading is `3→3` and `3→6→6→3`.

# %%
rows = []
for name in EXTRACTOR_NAMES:
    net = build_extractor(name)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    rows.append({"extractor": name.upper(), "conv": net.conv, "depth": net.depth,
                 "channels": " → ".join(str(c.in_channels) for c in convs) + " → 3",
                 "parameters": count_parameters(net)})
table = pd.DataFrame(rows).set_index("extractor")
table

# %% [markdown]
# CDC changes *how* a kernel is applied, not how many weights it has: each
# CDC variant has exactly as many parameters as its vanilla twin.

# %% [markdown]
# ## Central difference convolution
#
# A vanilla convolution aggregates the intensities around each location
# $p_0$ with the kernel $w$ over the neighbourhood $\mathcal{R}$ (the 3×3
# offsets $p_n$):
#
# $$
# y(p_0) = \sum_{p_n \in \mathcal{R}} w(p_n)\, x(p_0 + p_n).
# $$
#
# Spoof cues such as print halftones and display moiré are fine-grained
# *differences* between neighbouring pixels rather than intensities. CDC
# aggregates the differences to the centre pixel instead, and mixes the two
# with a factor $\theta \in [0, 1]$ {cite}`yu2020cdcn`:
#
# $$
# y(p_0) = \sum_{p_n \in \mathcal{R}} w(p_n)\,\bigl(x(p_0 + p_n) - \theta\, x(p_0)\bigr).
# $$
#
# Splitting the sum shows how to compute it cheaply:
#
# $$
# y(p_0) = \underbrace{\sum_{p_n} w(p_n)\, x(p_0 + p_n)}_{\text{vanilla conv}}
# \;-\; \theta\, x(p_0) \underbrace{\sum_{p_n} w(p_n)}_{\text{1×1 kernel}} .
# $$
#
# The second term is a 1×1 convolution whose kernel is the spatial sum of
# $w$ (summed per input and output channel). So a CDC layer is a vanilla
# convolution minus $\theta$ times a 1×1 convolution with the summed kernel;
# $\theta = 0$ gives back the vanilla convolution and $\theta = 1$ keeps only
# the differences. That is how `CDConv2d` implements it.

# %% [markdown]
# We check this against the definition itself. `F.unfold` gathers, for each
# location, the 3×3 neighbourhood of every channel (with zero padding), so the
# differences $x(p_0 + p_n) - \theta x(p_0)$ can be formed literally:

# %%
torch.manual_seed(0)
xs = torch.randn(1, 2, 5, 5)
cdc = CDConv2d(2, 4, cdc_theta=0.7)
patches = F.unfold(xs, kernel_size=3, padding=1).view(1, 2, 9, 25)  # [B, C, p_n, p_0]
centre = xs.view(1, 2, 1, 25)
diffs = patches - cdc.cdc_theta * centre
by_definition = torch.einsum("ocn,bcnl->bol", cdc.weight.view(4, 2, 9), diffs)
by_definition = by_definition.view(1, 4, 5, 5)

# %%
# by_definition uses the same weights
gap = (cdc(xs) - by_definition).abs().max().item()
glue("nb04_cdc_gap", gap, display=False)
print(f"max |CDConv2d - definition| = {gap:.2e}")

# %% [markdown]
# The two agree to float precision (largest difference
# {glue:text}`nb04_cdc_gap:.1e`), at the border too, where padded neighbours
# are zeros. The library's slow per-pixel reference, written with plain loops
# for its tests, agrees as well:

# %%
with torch.no_grad():
    by_loops = cdc_reference(xs, cdc.weight, None, cdc.cdc_theta)
    reference_gap = (cdc(xs) - by_loops).abs().max()
reference_gap.item()

# %% [markdown]
# With $\theta = 0$ the CDC layer is an ordinary convolution with the same
# weights:

# %%
vanilla = torch.nn.Conv2d(2, 4, 3, padding=1, bias=False)
vanilla.weight.data.copy_(cdc.weight.data)
cdc0 = CDConv2d(2, 4, cdc_theta=0.0)
cdc0.weight.data.copy_(cdc.weight.data)
with torch.no_grad():
    same = torch.allclose(cdc0(xs), vanilla(xs))
same

# %% [markdown]
# ## Meta Patterns of untrained extractors
#
# What does an MP look like? We render a few frames of the synthetic
# benchmark (domain "Y", which has all three attack families) and pass them
# through an untrained CONV2 and an untrained CDC2. With random weights the
# MP is only a random filter bank followed by per-channel normalisation; it
# shows what the architecture can express before Algorithm 1 shapes it, not
# what a trained MP looks like.

# %%
bench = from_profile(S.profile)
kinds = ["live", "print", "replay", "mask"]
frames = torch.stack([to_tensor(bench.render_video("Y", 0, k)[0]) for k in kinds])
frames.shape

# %%
torch.manual_seed(0)
extractors = {"CONV2": build_extractor("conv2"), "CDC2": build_extractor("cdc2")}
with torch.no_grad():
    # train mode: batch BN
    patterns = {name: net(frames) for name, net in extractors.items()}

# %%
fig = image_grid(
    [[frames[i], patterns["CONV2"][i], patterns["CDC2"][i]] for i in range(len(kinds))],
    row_labels=["genuine", "print", "replay", "mask"],
    col_labels=["RGB\n(synthetic)", "MP, CONV2\n(untrained)", "MP, CDC2\n(untrained)"],
)
plt.show()

# %% [markdown]
# Each MP channel is a different filter response. The three channels of the
# CDC2 pattern for the replay frame, stretched to their own ranges:

# %%
fig = channel_grid(patterns["CDC2"][2],
                   title="CDC2 (untrained), replay frame, per channel")
plt.show()

# %% [markdown]
# The CDC pattern responds to local differences: it is flatter over smooth
# skin and brighter on edges and fine texture, which is the inductive bias
# that motivated CDC for face anti-spoofing. Which of the two kinds of
# convolution serves the fusion network better across domains is the
# question of the paper's Fig. 8, answered by training, not by looking.
#
# ## A trained Meta Pattern
#
# What does training make of CONV2? The training loop, Algorithm 1, is the subject of
# {doc}`06_algorithm1`; here we only look at its result. `trained_phi` loads the Φ it
# learnt in a study run of {doc}`08_training_runs` (MP on MICO:OCI-M, seed 0, the
# evaluation selected on source validation); without that run it trains a short one here. The label
# says which. Φ is in evaluation mode, as at test time.

# %%
phi_trained, trained_label = trained_phi(S.results, S.profile, S.cache)
with torch.no_grad():
    trained = phi_trained(frames)
fig = image_grid(
    [[frames[i], patterns["CONV2"][i], trained[i]] for i in range(len(kinds))],
    row_labels=["genuine", "print", "replay", "mask"],
    col_labels=["RGB\n(synthetic)", "MP, CONV2\n(untrained)", "MP, CONV2\n(trained)"],
)
fig.suptitle(trained_label, fontsize=8, y=1.03)
plt.show()

# %% [markdown]
# ## Meta Patterns of real photographs
#
# The synthetic heads above are small and stylised. The three photographs of
# {doc}`03_handcrafted_features` (Eileen Collins, NASA, public domain; Grace Hopper, U.S.
# Navy, public domain; the "cameraman" by Lav Varshney, CC0; all shipped with scikit-image
# and matplotlib) are easier to read as faces. Each is captured at 256 pixels as a genuine
# face, a print and a replay through the benchmark's attack model; next to it, the pattern
# of the untrained CONV2 and CDC2 above and of the trained CONV2. They illustrate; nothing
# was trained on them.

# %%
from mpfas_lib.data import photo_batch

photos, photo_labels = photo_batch(256)
photos = torch.from_numpy(photos)
with torch.no_grad():
    # batch statistics
    photo_mp = {name: net(photos) for name, net in extractors.items()}
    photo_mp["CONV2 (trained)"] = phi_trained(photos)
fig = image_grid([[photos[i]] + [m[i] for m in photo_mp.values()]
                  for i in range(len(photos))],
                 row_labels=photo_labels,
                 col_labels=["capture (256 px)", "MP, CONV2\n(untrained)",
                             "MP, CDC2\n(untrained)", "MP, CONV2\n(trained)"], cell=1.6)
fig.suptitle(trained_label, fontsize=8, y=1.0)
plt.show()

# %% [markdown]
# ## Interactive: CDC's θ on one face
#
# Central difference convolution mixes a vanilla convolution and pure central differences
# with $\theta$. The figure below runs the three CDC extractors of the ablation on the
# printed astronaut photograph, with their weights fixed and only $\theta$ changing, from
# 0 (exactly CONV1, CONV2, CONV3) to 1 (differences only); it opens at the usual 0.7. The
# middle panel is the first CDC layer's response (three of its channels, each stretched to
# its own range), the right panel the Meta Pattern. Drag the slider: as $\theta$ grows, the
# smooth shading fades and the halftone dots and edges take over. The menu picks the
# depth. The figure works in the web page without a running kernel.

# %%
from mpfas_lib.viz import cdc_theta_explorer, html

face = photos[photo_labels.index("astronaut print")]
cdc_fig = cdc_theta_explorer(face,
                             title="CDC on a printed photograph (untrained, seed 0)")
html(cdc_fig, div_id="cdc-theta-explorer")

# %% [markdown]
# ## Summary
#
# - The Meta Pattern Extractor $\Phi$ is two 3×3 convolutions with batch
#   normalisation, ReLU and a final sigmoid: {glue:text}`nb04_conv2_params`
#   parameters, an output of the input's size in $(0, 1)$.
# - The ablation's six variants differ in depth (1-3 layers) and convolution
#   type; CDC variants have the same parameter counts as the vanilla ones.
# - A CDC layer is a vanilla convolution minus $\theta$ times a 1×1
#   convolution with the spatially summed kernel; we checked it against the
#   definition numerically.
# - Untrained extractors already produce structured patterns; what they show
#   after training is the work of Algorithm 1 (compare the trained column).

# %% [markdown]
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb04-1
# ```
# Count the parameters of CONV3 (channels `3→6→6→3`, 3×3 kernels with bias,
# a batch normalisation after each convolution) by hand, then check your
# number with `mpfas_lib.models.count_parameters`.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb04-1
# :class: dropdown
# ```
# Convolutions: $(3 \cdot 6 \cdot 9 + 6) + (6 \cdot 6 \cdot 9 + 6) +
# (6 \cdot 3 \cdot 9 + 3) = 168 + 330 + 165 = 663$; batch normalisations:
# $2 \cdot (6 + 6 + 3) = 30$; total 693.

# %% tags=["starter", "remove-cell"]
# Your count of CONV3's parameters, written as a sum
by_hand = ...

# %%
by_hand = (3 * 6 * 9 + 6) + (6 * 6 * 9 + 6) + (6 * 3 * 9 + 3) + 2 * (6 + 6 + 3)
assert by_hand == count_parameters(build_extractor("conv3"))
by_hand

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb04-1", by_hand)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb04-2
# ```
# Show that a CDC layer with $\theta = 1$ gives zero output in the interior
# of a constant image, whatever its weights, while a vanilla convolution does
# not. What happens at the border, and why?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb04-2
# :class: dropdown
# ```
# With $\theta = 1$ every term is $w(p_n)(x(p_0 + p_n) - x(p_0)) = 0$ when
# the image is constant. At the border the zero-padded neighbours give
# $w(p_n)(0 - c)$, so the response is not zero there.

# %% tags=["starter", "remove-cell"]
# cdc1: a CDC layer with theta = 1; const: a constant image batch [N, C, H, W];
# out: the layer's output on it, cdc1(const)
cdc1, const, out = ..., ..., ...

# %%
const = torch.full((1, 3, 6, 6), 0.8)
cdc1 = CDConv2d(3, 2, cdc_theta=1.0)
out = cdc1(const)
print("interior max |y|:", out[..., 1:-1, 1:-1].abs().max().item())
print("border max |y|:  ", out.abs().max().item())

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb04-2", (cdc1, const, out))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb04-3
# ```
# The receptive field of an extractor is the set of input pixels that
# influence one output pixel; here it is a square. Predict its side for
# CONV1, CONV2 and CONV3, then measure it with autograd: back-propagate from
# the centre pixel of the output, mark the input pixels with a non-zero
# gradient and count the columns they span.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb04-3
# :class: dropdown
# ```
# Each 3×3 convolution with stride 1 widens the field by 2 pixels: sides 3,
# 5 and 7, that is 9, 25 and 49 input pixels. The MP is a very local map,
# much like LBP with radius 1.

# %% tags=["starter", "remove-cell"]
# A dict {"conv1": ..., "conv2": ..., "conv3": ...}: the measured receptive fields
fields = ...

# %%
def receptive_field(name: str, size: int = 15) -> int:
    net = build_extractor(name).eval()
    inp = torch.rand(1, 3, size, size, requires_grad=True)
    net(inp)[0, :, size // 2, size // 2].sum().backward()
    touched = inp.grad.abs().sum(dim=1)[0] > 0
    return int(touched.any(dim=0).sum())


fields = {name: receptive_field(name) for name in ("conv1", "conv2", "conv3")}
fields

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb04-3", fields)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown] tags=["remove-cell"]
# ## References
#
# In the book these keys are resolved and listed in its bibliography; for JupyterLab,
# `scripts/chapter_references.py` writes this cell from `book/references.bib`.
#
# - `cai2022metapattern`: R. Cai, Z. Li, R. Wan, H. Li, Y. Hu and A. C. Kot (2022).
#   *Learning Meta Pattern for Face Anti-Spoofing*. IEEE Transactions on Information
#   Forensics and Security, 17, 1201–1213. https://doi.org/10.1109/TIFS.2022.3158551
# - `yu2020cdcn`: Z. Yu, C. Zhao, Z. Wang, Y. Qin, Z. Su, X. Li, F. Zhou and G. Zhao
#   (2020). *Searching Central Difference Convolutional Networks for Face
#   Anti-Spoofing*. Proceedings of the IEEE/CVF Conference on Computer Vision and
#   Pattern Recognition (CVPR), 5295–5305.
