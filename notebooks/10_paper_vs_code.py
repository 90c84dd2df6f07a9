# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The paper and the authors' code
#
# A paper describes a method in a few pages; the code that produced its tables decides
# hundreds of details the text leaves open, and sometimes decides them differently from the
# text. The authors of {cite}`cai2022metapattern` published their training code (the
# `MetaPattern_FAS` repository) but no trained weights. This chapter lists every difference
# we found between the paper and that code, says what each one changes, and measures it
# where our library can: the library implements the paper's form by default and the code's
# form as an option, so both can be run side by side.
#
# The differences fall into four groups: the networks (Φ and Θ), the inputs, Algorithm 1,
# and the evaluation.

# %%
try:  # a hosted runtime (Colab) starts without the library: mpfas_lib/hosted.py installs it
    import mpfas_lib  # noqa: F401
except ModuleNotFoundError:
    from urllib.request import urlopen

    HOSTED = "https://raw.githubusercontent.com/mpfas/mpfas/main/mpfas_lib/hosted.py"
    exec(urlopen(HOSTED).read(), {"__name__": "__main__"})
from mpfas_lib.runtime import setup

S = setup(seed=0)
print(S)

# %%
import copy
import random
from collections import Counter

import pandas as pd
import torch
import torch.nn.functional as F
from myst_nb import glue

from mpfas_lib.evaluation import load_runs, run_rows
from mpfas_lib.models import HFN, build_extractor, build_hfn, count_parameters, hfn_loss
from mpfas_lib.models.summary import parameter_table
from mpfas_lib.training import get_method, meta_pattern_step, split_domains
from mpfas_lib.training.algorithm1 import phi_optimizer_for
from mpfas_lib.viz.plots import ParameterTrace, parameter_trace_plot

# %% [markdown]
# ## Overview
#
# The table below is the map of this chapter; the last column names our default and, in
# parentheses, the option that reproduces the code.

# %%
differences = pd.DataFrame(
    [
        ("extractor Φ", "CONV2 (Fig. 3)", "same CONV2 + unused decoder (loss weight 0)",
         "CONV2"),
        ("HFM (Eq. 9)", "sum of the streams' aligned maps",
         "average; a 3×3 conv per stream after the top-down add",
         'fusion="hfm" ("official")'),
        ("classifier", 'FC on pooled stream ends, "BCE"',
         "2 stride-2 convs per stream, averaged, FC → 2 logits, CE",
         'pooled FC → 2 logits, CE ("official")'),
        ("input normalisation", "not stated", "RGB raw [0, 1], BGR; MP ImageNet-normalised",
         'ImageNet on both (rgb_norm="none")'),
        ("Φ's update", "plain SGD, step α, K steps", "own SGD, momentum 0.9, lr α·K",
         'mode="paper" ("official")'),
        ("domain split", "random D_φ / D_θ", "1 domain → D_φ, 2 → D_θ", 'random ("official")'),
        ("BN statistics of Θ", "not stated", "updated by the D_φ batches",
         'kept ("official")'),
        ("Θ's loss", "L_BCE + L_MSE (Eq. 10)", "(L_MSE + L_CE) / 2", 'sum ("official": half)'),
        ("threshold", "not stated (field: target EER)", "EER / best HTER on the target",
         "source val; target EER reported too"),
        ("checkpoint", "not stated", "best target HTER",
         'best source-val EER ("target_oracle")'),
        ("weights", "–", "none released", "–"),
    ],
    columns=["topic", "paper", "authors' code", "ours (option)"],
)
differences.style.hide(axis="index")

# %% [markdown]
# ## The extractor is the same
#
# The paper's Fig. 3 and the code agree: Conv3×3 (3→6) → BN → ReLU → Conv3×3 (6→3) → BN →
# Sigmoid. Counting parameters is a cheap check that our extractor is that network.

# %%
phi = build_extractor("conv2")
glue("pc_phi_params", count_parameters(phi), display=False)
phi

# %% [markdown]
# Our CONV2 has {glue:text}`pc_phi_params` parameters, exactly the code's count
# (3·6·9 + 6 conv weights and biases, 2·6 BN, 6·3·9 + 3, 2·3). The code also builds a
# "decoder" whose loss weight is zero: it never influences training, so we leave it out.
#
# ## The fusion network: sum, average, and a single path
#
# Equation 9 fuses hierarchy $i$ as $m_i = C(m^t_i) + C(m^b_i) + U[C(m_{i-1})]$: the
# aligned maps of the top (RGB) and bottom (MP) streams are *summed*. The code averages
# them, adds the upsampled previous level, and applies a 3×3 conv *per stream* to that
# same averaged map before averaging again. With full ResNet-50 streams the code's HFN has
# 62,126,467 parameters; our `fusion="official"` reproduces the count.

# %%
rows = {}
for fusion in ("hfm", "official"):
    rows[fusion] = dict(parameter_table(HFN("resnet50", fusion=fusion)))
params = pd.DataFrame(rows)
glue("pc_official_total", int(params.loc["total", "official"]), display=False)
glue("pc_hfm_total", int(params.loc["total", "hfm"]), display=False)
params

# %% [markdown]
# The official Θ has {glue:text}`pc_official_total` parameters against
# {glue:text}`pc_hfm_total` for the paper's form; most of the difference is the code's
# classifier (two stride-2 3×3 convs per stream on 2048 channels).
#
# Sum versus average of the two aligned maps is only a factor of two that the 1×1 align
# convs can absorb. The per-stream 3×3 convs are more interesting. Each receives *the same*
# averaged map $x$, and the results are averaged:
# $\tfrac12(W_t * x + b_t) + \tfrac12(W_b * x + b_b) = \tfrac{W_t + W_b}{2} * x +
# \tfrac{b_t + b_b}{2}$, a single conv. We check this numerically on the quick profile's
# official HFN: replacing both streams' 3×3 convs by their average leaves the output
# unchanged.

# %%
torch.manual_seed(0)
official = build_hfn(S.profile, fusion="official").eval()
x = torch.rand(2, 3, S.profile.image_size, S.profile.image_size)
mp = build_extractor("conv2").eval()(x)
single = copy.deepcopy(official)
with torch.no_grad():
    for level in range(len(single.fusion.top["rgb"])):
        conv_t, conv_b = single.fusion.top["rgb"][level], single.fusion.top["map"][level]
        for name in ("weight", "bias"):
            avg = (getattr(conv_t, name) + getattr(conv_b, name)) / 2
            getattr(conv_t, name).copy_(avg)
            getattr(conv_b, name).copy_(avg)

# %%
with torch.no_grad():
    a, b = official(x, mp), single(x, mp)
gap = (a.pixel_map - b.pixel_map).abs().max().item()
redundant = sum(count_parameters(c) for c in official.fusion.top["map"])
glue("pc_single_gap", gap, display=False)
print(f"max |pixel map difference| = {gap:.2e}; redundant 3x3-conv parameters = {redundant}")

# %% [markdown]
# The difference is at the level of float rounding ({glue:text}`pc_single_gap:.1e`). After
# the lateral 1×1 convs the code's fusion is therefore one path, not two: the second
# stream's 3×3 convs add parameters (and gradient noise) but no capacity. The paper's sum
# of separately aligned maps followed by one conv is the same *function class*, so the
# difference does not change what the HFN can represent, only how it is parameterised.
#
# ## The classifier: two logits and cross-entropy
#
# The paper speaks of a binary cross-entropy loss on a "binary vector"; the code uses a
# linear layer with two outputs and a softmax cross-entropy. The two are the same loss:
# a two-way softmax is the sigmoid of the difference of the logits, so CE on $(z_0, z_1)$
# equals BCE on $z_1 - z_0$.

# %%
z = torch.randn(8, 2)
y = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0])
ce = F.cross_entropy(z, y)
bce = F.binary_cross_entropy_with_logits(z[:, 1] - z[:, 0], y.float())
print(f"CE on two logits = {ce.item():.6f}, BCE on their difference = {bce.item():.6f}")

# %% [markdown]
# So "two-logit CE versus BCE" changes nothing but one redundant output. Our library uses the
# two logits everywhere, and the score of Eq. 11 takes the softmax's genuine probability.
#
# ## Input normalisation and colour order
#
# The code feeds the RGB stream raw pixels in $[0, 1]$ (read by OpenCV, hence in *BGR*
# order) and normalises only the MP with ImageNet statistics. Without ImageNet weights this
# only rescales the inputs of the first layer, which batch normalisation largely absorbs.
# With ImageNet-pretrained trunks, as in the code, it matters: those filters were learnt on
# normalised RGB, so raw BGR input reaches them with the red and blue channels swapped and
# an offset of about two standard deviations. We normalise both streams by default and
# offer `rgb_norm="none"`. The effect on the statistics of what the trunk sees:

# %%
face = x[:1]
norms = {"ours (ImageNet)": official.norms["map"](face),
         "code (raw)": face}
pd.DataFrame({k: {"mean": v.mean().item(), "std": v.std().item()} for k, v in norms.items()})

# %% [markdown]
# ## Algorithm 1: paper versus code
#
# Four details of Algorithm 1 differ. **The split**: the paper splits the source domains
# randomly into $D_\phi$ and $D_\theta$; the code always puts one domain in $D_\phi$ and
# the other two in $D_\theta$. With three source domains the paper's rule gives one or two
# domains to $D_\phi$:

# %%
rng = random.Random(0)
sizes = {mode: Counter(len(split_domains("CIO", rng, mode)[0]) for _ in range(1000))
         for mode in ("paper", "official")}
pd.DataFrame(sizes).fillna(0).astype(int).rename_axis("|D_φ| (domains)")

# %% [markdown]
# **Φ's optimiser**: the paper's inner update is plain gradient descent with step α; the
# code gives Φ its own SGD with momentum 0.9 and learning rate α·K, whose momentum buffer
# persists across outer iterations. **Θ's BatchNorm statistics**: in the code the K
# forward passes of the inner loop update Θ's running statistics with $D_\phi$ batches;
# in our paper mode Θ is left exactly as it was. **Θ's loss** is halved in the code. We run
# one outer iteration of each mode on the quick-profile models and synthetic batches
# and trace what moves after every step.

# %%
from mpfas_lib.data.protocols import build_protocol
from mpfas_lib.data.sampling import DomainBalancedBatches

protocol = build_protocol("MICO:OCI-M", source="synthetic", profile=S.profile)
domains = sorted(protocol.sources)


def one_iteration(method):
    """One Algorithm 1 iteration of the quick models as ``method`` trains, traced step by step."""
    m = get_method(method)  # K, the form of Algorithm 1 and the Θ-loss scale
    torch.manual_seed(0)
    phi, theta = build_extractor("conv2"), build_hfn(S.profile)
    batches = DomainBalancedBatches(protocol.sources, k=S.profile.batch_per_class, seed=0)
    trace = ParameterTrace(phi, theta)
    sample = trace.wrap(lambda d: batches.batch(d)[:2])
    opt = torch.optim.SGD(theta.parameters(), lr=S.profile.lr, momentum=S.profile.momentum)
    phi_opt = phi_optimizer_for(phi, S.profile.lr, m.inner_steps)
    stats = meta_pattern_step(phi, theta, hfn_loss, sample, opt, domains, random.Random(1),
                              inner_steps=m.inner_steps, lr=S.profile.lr, mode=m.mode,
                              phi_optimizer=phi_opt, theta_loss_scale=m.theta_loss_scale)
    return trace.finish(m.inner_steps), stats

# %%
traces = {"paper": one_iteration("mp"), "official": one_iteration("mp-official")}
fig_axes = [parameter_trace_plot(t, title=f"mode={m} (quick profile, synthetic batches)")
            for m, (t, _) in traces.items()]

# %%
cols = ["after", "batch from", "|ΔΦ| this step", "|ΔΘ| this step", "|BN stats Θ − start|"]
pd.concat({m: t[cols] for m, (t, _) in traces.items()}).round(5)

# %%
paper_t, official_t = traces["paper"][0], traces["official"][0]
K = get_method("mp").inner_steps
glue("pc_phi_paper", float(paper_t["|Φ−Φ0|"].iloc[K]), display=False)
glue("pc_phi_official", float(official_t["|Φ−Φ0|"].iloc[K]), display=False)
glue("pc_bn_official", float(official_t["|BN stats Θ − start|"].iloc[K]), display=False)
glue("pc_theta_loss_paper", traces["paper"][1].theta_loss, display=False)
glue("pc_theta_loss_official", traces["official"][1].theta_loss, display=False)

# %% [markdown]
# In both modes only Φ moves during the K inner steps and only Θ moves in the outer step.
# The official optimiser moves Φ further in the same K steps
# (‖Φ_K − Φ_0‖ = {glue:text}`pc_phi_official:.4f` against
# {glue:text}`pc_phi_paper:.4f`; its first step is α·K, and momentum then accumulates), so
# with the same nominal α the code's extractor learns faster than the paper's text
# suggests. In the official mode Θ's running statistics drift during the inner loop (by
# {glue:text}`pc_bn_official:.2f` after K steps, last column); in the paper mode they move
# temporarily inside the loop and are restored when it ends, so the row after the last
# inner step is back at zero. The halved Θ loss
# ({glue:text}`pc_theta_loss_official:.3f` against {glue:text}`pc_theta_loss_paper:.3f`
# here, on different batches because the splits differ) halves Θ's effective learning rate.
#
# ## Evaluation
#
# The code computes AUC, EER, the HTER at 0.5 and the minimum HTER over thresholds, all on
# the target test set, and keeps the checkpoint with the best target HTER. Both choices use
# the target's labels, which a domain-generalisation method must not see; chapter
# {doc}`07_evaluation` shows how much they can flatter a result. Our runs record every
# evaluation and report three selections: the last one, the best source-validation EER
# (our default), and the best target HTER (the code's oracle, for comparison only).

# %%
runs = [r for r in load_runs(S.results / "study") if r["provenance"]["method"] == "mp"]
cols = ["protocol", "method", "seed", "evaluated at", "hter_target_eer", "hter_source"]
if runs:
    ours_sel = run_rows(runs, rule="source_val")[cols]
    oracle = run_rows(runs, rule="target_oracle")[cols[3:]].add_suffix(" (target oracle)")
    display_table = pd.concat([ours_sel, oracle], axis=1).round(2)
else:
    display_table = "no training runs with an evaluation history under " + str(S.results)
display_table

# %% [markdown]
# When runs exist, the table above shows the same MP run's HTER under our selection and
# under the code's target-oracle selection (synthetic data, study scale, labelled by
# threshold). {doc}`08_training_runs` reports them.
#
# ## No released weights
#
# The repository's issues ask for trained models; none were released. Every number in the
# paper's tables therefore rests on the authors' own runs, with a target-selected checkpoint
# and a target-EER threshold. Nobody can re-evaluate the published models with a threshold
# fixed on source data. Our library writes every run's weights, configuration and git
# commit next to its metrics so that such a re-evaluation stays possible.
#
# ## Summary
#
# * Φ is identical in paper and code (351 parameters).
# * The code's HFM averages instead of sums and its per-stream 3×3 convs collapse to a
#   single path; the classifier is heavier but its two-logit CE equals a BCE.
# * The code feeds raw BGR pixels to the RGB stream, which matters only with ImageNet
#   weights.
# * Algorithm 1 in the code gives Φ a momentum optimiser with lr α·K, always one domain
#   for D_φ, lets D_φ batches update Θ's BN statistics and halves Θ's loss.
# * The code selects the checkpoint and the threshold on the target test set.
#
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb10-1
# ```
# Show with `mpfas_lib.models` that the official fusion's *lateral* 1×1 convs do not
# collapse the same way: averaging the RGB and MP laterals' weights of one level changes
# the output. Why is the situation different from the 3×3 convs?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb10-1
# :class: dropdown
# ```
# %%
lat = copy.deepcopy(official)
with torch.no_grad():
    l_t, l_b = lat.fusion.lateral["rgb"][0], lat.fusion.lateral["map"][0]
    avg_w = (l_t.weight + l_b.weight) / 2
    l_t.weight.copy_(avg_w)
    l_b.weight.copy_(avg_w)
    diff = (lat(x, mp).pixel_map - official(x, mp).pixel_map).abs().max().item()
print(f"max |difference| after averaging one level's laterals: {diff:.3e}")

# %% [markdown]
# The laterals read *different* inputs (RGB features and MP features), so their average
# $\tfrac12(W_t f_t + W_b f_b)$ cannot be written with one weight applied to one input. The
# 3×3 convs all read the same averaged map, which is what makes them collapse.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb10-2
# ```
# How far does the official optimiser's Φ move in its first inner step compared with the
# paper's, *before* momentum plays a role? Derive the ratio from the update rules, then
# check it with `mpfas_lib.training.algorithm1.phi_optimizer_for` on one gradient of a
# CONV2 extractor.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb10-2
# :class: dropdown
# ```
# %%
torch.manual_seed(0)
phi_a = build_extractor("conv2")
phi_b = copy.deepcopy(phi_a)
w0 = phi_a.encoder[0].weight.detach().clone()
g = torch.autograd.grad(phi_a(x).mean(), phi_a.encoder[0].weight)[0]
with torch.no_grad():
    phi_a.encoder[0].weight.sub_(S.profile.lr * g)  # the paper's inner step
opt_b = phi_optimizer_for(phi_b, S.profile.lr, K)
phi_b(x).mean().backward()
opt_b.step()  # the code's first inner step
step_a = (phi_a.encoder[0].weight - w0).norm()
step_b = (phi_b.encoder[0].weight - w0).norm()
print(f"first-step ratio official / paper = {(step_b / step_a).item():.3f} (K = {K})")

# %% [markdown]
# The paper's step is $-\alpha g$; the code's first SGD step is $-\alpha K g$ (PyTorch's
# momentum buffer starts as the first gradient itself), so the ratio is exactly K. Later
# steps add $0.9\times$ the previous update, so the code's Φ moves up to about $10K$ times
# as far per step in a steady direction. (In the trace above the ratio differs from K
# because the two modes drew different D_φ batches.)
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb10-3
# ```
# The code halves Θ's loss. With SGD and momentum, is that the same as halving Θ's learning
# rate? Is it still the same with Adam? Answer, then check the SGD case on a tiny linear
# model.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb10-3
# :class: dropdown
# ```
# %%
def sgd_steps(loss_scale, lr, steps=3):
    torch.manual_seed(0)
    w = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(w.parameters(), lr=lr, momentum=0.9)
    data = torch.randn(16, 4)
    for _ in range(steps):
        opt.zero_grad()
        (loss_scale * w(data).pow(2).mean()).backward()
        opt.step()
    return w.weight.detach()


print(torch.allclose(sgd_steps(0.5, 0.01), sgd_steps(1.0, 0.005)))

# %% [markdown]
# With SGD (momentum included) the update is linear in the gradient, so halving the loss is
# exactly halving the learning rate. Adam divides by the running gradient magnitude, so a
# constant loss scale cancels out (up to its ε term) and changes almost nothing.
# ```{solution-end}
# ```
