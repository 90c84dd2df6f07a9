# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learning to extract the Meta Pattern: Algorithm 1
#
# The Meta Pattern extractor Φ and the fusion network Θ are trained together, but not as
# one network. Θ is the detector; Φ is trained to hand Θ an input that helps it on
# *domains it has not seen*. The paper {cite}`cai2022metapattern` writes this as a
# bi-level optimisation problem and solves it with a short first-order procedure, its
# Algorithm 1. This chapter derives the procedure, lists it, and then runs one iteration
# of it step by step, first on a tiny model and then on the quick-profile model, measuring
# after every step which parameters moved. Writing the iteration yourself is exercise 6.5.

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
import math
import random

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from myst_nb import glue

from mpfas_lib.data import DomainBalancedBatches, build_protocol
from mpfas_lib.models import HFN, build_extractor, count_parameters, hfn_loss
from mpfas_lib.training import (
    algorithm1_stages,
    build_models,
    get_method,
    meta_pattern_step,
    trained_phi,
)
from mpfas_lib.viz import ParameterTrace, image_grid, parameter_trace_plot

# %% [markdown]
# ## From ERM to a bi-level problem
#
# A plain detector Θ is trained by empirical risk minimisation (ERM) on the source
# domains $D_S$: $\min_\Theta \mathbb{E}_{(x, y) \sim D_S} L(x, y \mid \Theta)$ (Eq. 1),
# one SGD step at a time, $\Theta_t = \Theta_{t-1} - \alpha \nabla_\Theta
# L(x_t, y_t \mid \Theta_{t-1})$ (Eq. 3). Hybrid methods feed Θ a handcrafted map $f(x)$
# next to the image (Eq. 4-5); $f$ is fixed. The paper replaces $f$ by a learnable
# extractor Φ and asks what Φ should be optimised *for*. Its answer: the extractor is good
# if Θ, using it, does well on unseen domains $D_T$:
#
# $$\Theta^* = \arg\min_\Theta \mathbb{E}_{(x, y) \sim D_S} L(x, y \mid \Theta, \Phi^*)
# \quad \text{s.t.} \quad \Phi^* = \arg\min_\Phi \mathbb{E}_{(x, y) \sim D_T}
# L(x, y \mid \Theta, \Phi). \qquad (6)$$
#
# Two obstacles remain. $D_T$ is unseen, so it is *simulated*: at every iteration the
# source domains are split at random into two disjoint groups, $D_\phi$ (playing the
# unseen domains, for Φ) and $D_\theta$ (for Θ). And the inner $\arg\min$ is replaced by a
# few gradient steps from the current Φ. The paper writes one step, without a learning
# rate, $\Phi^* \approx \hat\Phi = \Phi - \nabla_\Phi L(x, y \mid \Theta, \Phi)$ (Eq. 7);
# Algorithm 1 (line 11) takes K such steps, each scaled by α. Then Θ follows the
# gradient at the approximate solution, $\nabla_\Theta L(x, y \mid \Theta, \Phi^*) \approx
# \nabla_\Theta L(x, y \mid \Theta, \hat\Phi)$ (Eq. 8). Unlike
# MAML-style meta-learning {cite}`finn2017maml,li2018mldg`, no gradient flows through the
# inner steps: the method is first order.
#
# Note *which* level holds the generalisation objective. In the usual meta-learning and
# hyper-parameter set-up the lower level fits the training data and the upper level
# measures generalisation: MAML's inner steps fit a task's training split and its outer
# loss is on the task's held-out split {cite}`finn2017maml`, and a hyper-parameter search
# fits weights on training data and scores them on validation data. Eq. 6 is the reverse:
# the *lower* level, Φ*, minimises the loss on the unseen domains $D_T$, while the upper
# level, Θ, fits the source data $D_S$. Φ is the variable asked to generalise; Θ is an
# ordinary detector trained on the pattern Φ* gives it.
#
# The paper does not name a meta-learning DG method as its starting point; the
# meta-learning methods it cites are face anti-spoofing ones (RFMetaFAS
# {cite}`shao2020rfmeta`, NAS-FAS with D-Meta, Meta-Teacher). Its nearest relative is MLDG
# {cite}`li2018mldg`, which also splits
# the source domains into meta-train and meta-test at every iteration, but it has *one*
# set of parameters θ and one update that couples the two splits:
# $\theta \leftarrow \theta - \gamma \nabla_\theta \big[L_\text{tr}(\theta) +
# \beta L_\text{te}(\theta - \alpha \nabla_\theta L_\text{tr}(\theta))\big]$, whose
# gradient contains a second-order term through the virtual step. Algorithm 1 instead
# updates two different networks with two different losses: Φ on $D_\phi$, Θ on
# $D_\theta$, never a sum, and no derivative through an update.
#
# ## Algorithm 1
#
# The listing keeps the paper's own line numbers (its Algorithm 1); the comments in
# `mpfas_lib/training/algorithm1.py` cite the same numbers.
#
# ```text
#  1-3  input: iterations T, inner steps K, learning rate α, source domains D_S
#    4  initialise Φ and Θ
#    5  for t = 1 .. T:
#    6      split D_S at random into disjoint, non-empty D_φ and D_θ
#    7      Φ_0 ← Φ
#    9      for k = 1 .. K:                               # Θ is fixed here
#   10          sample a batch (x_φ, y_φ) from D_φ
#   11          Φ_k ← Φ_{k-1} − α ∇_Φ L(x_φ, y_φ | Θ, Φ_{k-1})      # Eq. 7, step α
#   12      end
#   14      Φ̂ ← Φ_K                                      # approximates Φ*
#   15      sample a batch (x_θ, y_θ) from D_θ            # Φ̂ is fixed here
#   16      Θ ← Θ − α ∇_Θ L(x_θ, y_θ | Θ, Φ̂)                       # Eq. 8
#   17      Φ ← Φ_K
#   18  end
#   19  output: Φ*, Θ*
# ```
#
# `mpfas_lib.training.meta_pattern_step` is one outer iteration of this loop. Its settings
# are one small object, `MetaSettings`: K, α, the form and the Θ loss's scale. The method
# owns K and the form, the profile owns α, so `get_method("mp").meta_settings(α)` builds it;
# the form `"paper"` follows the text, `"official"` the authors' code (see
# {doc}`10_paper_vs_code`). The function takes a `sample(domains)` callable that returns a
# fresh batch of the named domains, and returns the iteration's statistics.
#
# ## One iteration on a tiny model
#
# To see every step we use the real extractor (CONV2) and a *tiny* Θ: the quick profile's
# two-stream HFN with narrow fusion, fed faces of the synthetic benchmark shrunk to
# 16×16 pixels. The batches come from the synthetic MICO protocol with target M.

# %%
protocol = build_protocol("MICO:OCI-M", source="synthetic", profile=S.profile)
domains = sorted(protocol.sources)
print("sources:", domains, "target:", protocol.target_domain)

# %%
torch.manual_seed(0)
phi = build_extractor("conv2")
theta = HFN(backbone="resnet18-w16", fusion_channels=16)


def tiny_batches(seed):
    """Batches of 2 genuine + 2 spoof faces per named domain, shrunk to 16x16 pixels."""
    source = DomainBalancedBatches(protocol.sources, k=2, seed=seed)

    def sample(names):
        x, y, _ = source.batch(names)
        return F.interpolate(x, size=16, mode="area"), y
    return sample


tiny_batch = tiny_batches(0)
print(f"Φ: {count_parameters(phi)} parameters, "
      f"tiny Θ: {count_parameters(theta)} parameters")

# %% [markdown]
# ## Two details of "fixed"
#
# Before the library runs the iteration, two details decide whether "Θ is fixed" (lines
# 9-12) and "Φ̂ is fixed" (lines 14-16) hold exactly. Both networks run in training mode
# (batch statistics), so the inner forward passes would move Θ's BatchNorm running
# statistics, and the Θ step's forward would move Φ's; `meta_pattern_step` saves and
# restores them (parameters do not move there anyway: Φ's inner gradient is taken with
# respect to Φ only, and Θ's step sees the pattern without gradient). Writing this
# iteration yourself and checking it against the library is exercise 6.5, at the end of
# the chapter.
#
# `ParameterTrace` (from `mpfas_lib.viz.plots`) wraps the batch source and records the
# parameters of Φ and Θ each time Algorithm 1 asks for a batch, which happens right before
# each inner step and right before the Θ step.

# %%
trace = ParameterTrace(phi, theta)
LR = 0.005  # α for the tiny model (the quick profile's own α is used further below)
TINY = get_method("mp").meta_settings(lr=LR)  # K = 4, paper form, α for the tiny model
opt = torch.optim.SGD(theta.parameters(), lr=LR, momentum=0.9)
stats = meta_pattern_step(phi, theta, hfn_loss, trace.wrap(tiny_batch), opt, domains,
                          random.Random(0), TINY)
tiny = trace.finish(inner_steps=4)
parameter_trace_plot(tiny,
                     title="one Algorithm 1 iteration, tiny model (synthetic, 16 px)")
plt.show()

# %%
tiny.round(5)

# %% [markdown]
# The bars say what the pseudo-code says. During the four inner steps only Φ changes;
# Θ's parameters stay exactly where they were (its BatchNorm statistics move inside the
# loop but are put back at its end, last column). In the outer step only Θ changes, and Φ
# keeps $\Phi_K$. The training library's own per-iteration statistics record the split and
# the losses:

# %%
pd.Series(stats.to_dict())

# %%
glue("a1_phi_dom", ", ".join(stats.phi_domains), display=False)
glue("a1_theta_dom", ", ".join(stats.theta_domains), display=False)

# %% [markdown]
# In this iteration $D_\phi$ = {glue:text}`a1_phi_dom` and $D_\theta$ =
# {glue:text}`a1_theta_dom`: the extractor was adapted on one part of the sources, and Θ
# was then trained on the other part, seeing the adapted pattern of domains Φ was not
# just tuned on. We run 39 more iterations on the tiny model and follow the inner losses
# (on $D_\phi$) and the Θ loss (on $D_\theta$):

# %%
history = [stats] + [
    meta_pattern_step(phi, theta, hfn_loss, tiny_batch, opt, domains, random.Random(t),
                      TINY, iteration=t)
    for t in range(1, 40)
]


def loss_table(steps):
    """The mean inner loss (on D_φ) and the Θ loss (on D_θ) of each outer iteration."""
    return pd.DataFrame({
        "inner (D_φ, mean of K)": [sum(h.inner_losses) / 4 for h in steps],
        "outer Θ step (D_θ)": [h.theta_loss for h in steps]})


losses = loss_table(history)

# %% [markdown]
# The Θ loss of these 40 iterations does not fall. To see why, a second run changes one
# thing: Θ's learning rate, ten times smaller. It starts from the same initial networks
# (`tiny_models(0)` builds them as the cell above did) with the same batches and splits,
# and Φ keeps its α.

# %%
from mpfas_lib.training import tiny_models

phi_slow, theta_slow = tiny_models(0)
opt_slow = torch.optim.SGD(theta_slow.parameters(), lr=LR / 10, momentum=0.9)
slow_batch = tiny_batches(0)
slow = loss_table([
    meta_pattern_step(phi_slow, theta_slow, hfn_loss, slow_batch, opt_slow, domains,
                      random.Random(t), TINY, iteration=t)
    for t in range(40)
])
fig, axes = plt.subplots(1, 2, figsize=(9, 3), sharey=True)
for ax, column in zip(axes, losses.columns, strict=True):
    for name, table in ((f"Θ's rate {LR:g}", losses), (f"Θ's rate {LR / 10:g}", slow)):
        table[column].rolling(5, min_periods=1).mean().plot(ax=ax, label=name)
    ax.set_title(column, fontsize=9)
    ax.set_xlabel("outer iteration t")
axes[0].set_ylabel("loss (Eq. 10), rolling mean of 5")
axes[0].legend(fontsize=8)
fig.suptitle("tiny model, synthetic data, Φ's α = 0.005 in both runs", fontsize=9)
plt.show()

# %%
for key, table in (("", losses), ("_slow", slow)):
    first, last = table.iloc[:8].mean(), table.iloc[-8:].mean()
    glue(f"a1_theta_first{key}", float(first.iloc[1]), display=False)
    glue(f"a1_theta_last{key}", float(last.iloc[1]), display=False)
    glue(f"a1_inner_first{key}", float(first.iloc[0]), display=False)
    glue(f"a1_inner_last{key}", float(last.iloc[0]), display=False)
    glue(f"a1_theta_sd{key}", float(table.iloc[:, 1].std()), display=False)
    glue(f"a1_theta_max{key}", float(table.iloc[:, 1].max()), display=False)
# CE of p = 0.5 + MSE of a grey map
glue("a1_chance", math.log(2) + 0.25, display=False)
pd.DataFrame({"first 8": [losses.iloc[:8, 1].mean(), slow.iloc[:8, 1].mean()],
              "last 8": [losses.iloc[-8:, 1].mean(), slow.iloc[-8:, 1].mean()],
              "sd over 40": [losses.iloc[:, 1].std(), slow.iloc[:, 1].std()]},
             index=[f"Θ loss, Θ's rate {LR:g}",
                    f"Θ loss, Θ's rate {LR / 10:g}"]).round(3)

# %% [markdown]
# With the chapter's rate the Θ loss averages {glue:text}`a1_theta_first:.2f` over the
# first eight iterations and {glue:text}`a1_theta_last:.2f` over the last eight, and the
# inner losses go from {glue:text}`a1_inner_first:.2f` to {glue:text}`a1_inner_last:.2f`.
# A network that answers 0.5 everywhere scores $\ln 2 + \tfrac14 \approx$
# {glue:text}`a1_chance:.2f` on Eq. 10 (the cross-entropy of a coin flip plus the squared
# error of a grey pixel map), so in this run neither network has learnt anything. The single Θ
# losses jump around (up to {glue:text}`a1_theta_max:.1f`, standard deviation
# {glue:text}`a1_theta_sd:.2f` over the 40 iterations): every iteration draws a new split
# and new batches of four faces per domain, so consecutive losses are measured on
# different domains and faces.
#
# The second run separates that noise from a cause. With Θ's rate ten times smaller, and
# nothing else changed, the Θ loss goes from {glue:text}`a1_theta_first_slow:.2f` to
# {glue:text}`a1_theta_last_slow:.2f`, the inner losses from
# {glue:text}`a1_inner_first_slow:.2f` to {glue:text}`a1_inner_last_slow:.2f`, and the
# standard deviation of the Θ loss is {glue:text}`a1_theta_sd_slow:.2f`: this run learns.
# What kept the first one at the chance level is Θ's step size: with momentum 0.9 a
# gradient that keeps its direction moves Θ by about
# $10\alpha$ per iteration (exercise 1.3), 0.05 here, which is too far for a freshly
# initialised Θ on batches of twelve faces. Θ overshoots (the spikes), and the inner
# losses, which are measured through Θ, move with it. The chapter keeps α = 0.005 for the
# trace above and the exercises; forty iterations of a tiny model are a look at the
# mechanics of Algorithm 1, not its learning curve, which the study runs of
# {doc}`08_training_runs` show (the quick networks on 64-pixel faces, 300 iterations).

# %% [markdown]
# ## What the first-order approximation drops
#
# Take $K = 1$ and write $L_\phi$ and $L_\theta$ for the losses on the $D_\phi$ and
# $D_\theta$ batches. The inner step makes the adapted extractor a function of Θ,
# $\hat\Phi(\Theta) = \Phi - \alpha \nabla_\Phi L_\phi(\Theta, \Phi)$, so the exact
# gradient of the outer loss $L_\theta(\Theta, \hat\Phi(\Theta))$ by the chain rule is
#
# $$\frac{d L_\theta}{d\Theta} = \nabla_\Theta L_\theta(\Theta, \hat\Phi) +
# \Big(\frac{\partial \hat\Phi}{\partial \Theta}\Big)^{\!\top} \nabla_\Phi
# L_\theta(\Theta, \hat\Phi), \qquad \frac{\partial \hat\Phi}{\partial \Theta} =
# -\alpha\, \nabla^2_{\Phi\Theta} L_\phi(\Theta, \Phi).$$
#
# Eq. 8 keeps the first term only. The dropped *hypergradient* term says how a change of
# Θ would change the pattern Φ adapts to, and through it the outer loss; computing it
# needs a mixed second derivative of $L_\phi$, i.e. the graph of the inner step kept in
# memory and one more backward pass through it. We check the formula with autograd on a
# scalar toy, $L(\theta, \phi; x, y) = (\theta \phi x - y)^2$, one data point per split.

# %%
th, ph = torch.tensor(0.8, dtype=torch.float64, requires_grad=True), torch.tensor(0.5)
alpha, (x1, y1), (x2, y2) = 0.1, (1.0, 1.0), (2.0, 0.5)  # (x, y) of D_φ and of D_θ
toy = lambda t, p, x, y: (t * p * x - y) ** 2  # noqa: E731
ph = ph.double().requires_grad_(True)
g_phi = torch.autograd.grad(toy(th, ph, x1, y1), ph, create_graph=True)[0]
ph_hat = ph - alpha * g_phi  # Φ̂(Θ), still a function of Θ
# through the inner step
exact = torch.autograd.grad(toy(th, ph_hat, x2, y2), th)[0].item()

# %%
t, p, p_hat = th.item(), ph.item(), ph_hat.item()
first_order = 2 * (t * p_hat * x2 - y2) * p_hat * x2  # ∇_Θ L_θ at Φ̂ (Eq. 8)
mixed = 2 * x1 * (2 * t * p * x1 - y1)  # ∂²L_φ / ∂Θ∂Φ by hand
dropped = -alpha * mixed * 2 * (t * p_hat * x2 - y2) * t * x2  # (∂Φ̂/∂Θ) ∇_Φ L_θ
print(f"autograd {exact:.6f} = first order {first_order:.6f} + dropped {dropped:.6f}")
print(f"dropped / first order = {dropped / first_order:+.1%}")
assert abs(exact - (first_order + dropped)) < 1e-12

# %% [markdown]
# The hand-derived terms add up to what autograd computes through the inner step (the
# assert), and the printed ratio is the relative size of what Eq. 8 drops on this toy.
# The dropped term is proportional to α and to the mixed curvature of $L_\phi$, so it is a
# correction for small steps and grows with them; in a network Θ has millions of
# coordinates, and the term changes the *direction* of the update, not only its length.
# Algorithm 1 accepts this to avoid second-order terms and a surrogate model; with $K$
# steps the term chains through all of them (exercise ex-nb06-3).

# %% [markdown]
# ## One iteration on the quick-profile model
#
# The same step on the quick profile's full-size model: the CONV2 extractor and the
# two-stream HFN with ResNet-18 (width 16) streams on 64×64 synthetic faces, with the
# profile's learning rate and K.

# %%
torch.manual_seed(0)
phi_q, theta_q = build_models(get_method("mp"), S.profile)
batches_q = DomainBalancedBatches(protocol.sources, k=S.profile.batch_per_class, seed=0)
trace_q = ParameterTrace(phi_q, theta_q)
opt_q = torch.optim.SGD(theta_q.parameters(), lr=S.profile.lr,
                        momentum=S.profile.momentum)
# the method's K, the profile's α
settings = get_method("mp").meta_settings(S.profile.lr)
K = settings.inner_steps
stats_q = meta_pattern_step(
    phi_q, theta_q, hfn_loss, trace_q.wrap(lambda d: batches_q.batch(d)[:2]), opt_q,
    domains, random.Random(0), settings)
quick = trace_q.finish(K)
parameter_trace_plot(quick,
                     title=f"one iteration, {S.profile.name} profile (synthetic)")
plt.show()

# %%
glue("a1_q_inner_s", stats_q.inner_seconds, display=False)
glue("a1_q_theta_s", stats_q.theta_seconds, display=False)
glue("a1_q_theta_params", count_parameters(theta_q), display=False)
quick.round(5)

# %% [markdown]
# The pattern of the trace is the same at this scale. The inner loop took
# {glue:text}`a1_q_inner_s:.1f` s and the Θ step {glue:text}`a1_q_theta_s:.1f` s on this
# machine: K inner steps each need a forward *and* a backward pass through the whole of Θ
# ({glue:text}`a1_q_theta_params` parameters here), because $\nabla_\Phi L$ flows back
# through Θ to reach Φ, even though Θ is not updated. An Algorithm 1 iteration therefore
# costs about K + 1 ERM steps.
#
# ## What many iterations produce
#
# One iteration moves Φ by little. After a whole run, Φ is the pattern Algorithm 1 has
# learnt: `trained_phi` loads the Φ of the study run of {doc}`08_training_runs` (or trains
# a short run here when it is missing; the title says which). Below, for one genuine and
# one spoof face of each source domain, the RGB input, the pattern of the untrained Φ of
# the iteration above and the trained pattern.

# %%
phi_trained, trained_label = trained_phi(S.results, S.profile, S.cache)
x, y, names = batches_q.batch(domains)
pick = [i for d in domains
        for i in (names.index(d), names.index(d) + S.profile.batch_per_class)]
with torch.no_grad():
    before, after = build_extractor("conv2").eval()(x[pick]), phi_trained(x[pick])
rows = [[x[i], b, a] for i, b, a in zip(pick, before, after, strict=True)]
row_labels = [f"{names[i]} {'genuine' if y[i] else 'spoof'}" for i in pick]
fig = image_grid(rows, row_labels=row_labels,
                 col_labels=["RGB", "MP, untrained", "MP, trained"])
fig.suptitle(trained_label, fontsize=8, y=1.03)
plt.show()

# %% [markdown]
# ## Interactive: one iteration step by step
#
# The figure below replays one outer iteration of Algorithm 1 on the quick-profile model
# (CONV2 and the two-stream HFN, freshly initialised, synthetic MICO sources) stage by
# stage. The slider goes from the start ($\Phi_0 \leftarrow \Phi$) through the inner steps
# $k = 1, \dots, K$ to the $\Theta$ step. On the left, how far each parameter group has
# moved since the start, relative to its size (blue: the layers of $\Phi$, orange: the parts
# of $\Theta$; a group that has not moved at all is marked 0). On the right, the loss of
# Eq. 10 with that stage's $\Phi$ and $\Theta$ on the first $D_\phi$ batch and on the
# $D_\theta$ batch that the $\Theta$ step then uses. The figure works in the web page
# without a running kernel.

# %%
from mpfas_lib.viz import algorithm1_explorer, html

mico = build_protocol("MICO:OCI-M", source="synthetic", profile=S.profile)
torch.manual_seed(0)
phi_s, theta_s = build_models(get_method("mp"), S.profile)
batches_s = DomainBalancedBatches(mico.sources, k=S.profile.batch_per_class, seed=1)
stages = algorithm1_stages(
    phi_s, theta_s, hfn_loss, lambda d: batches_s.batch(d)[:2],
    torch.optim.SGD(theta_s.parameters(), lr=S.profile.lr, momentum=S.profile.momentum),
    sorted(mico.sources), random.Random(1), settings)
a1_fig = algorithm1_explorer(
    stages, title=f"one Algorithm 1 iteration, {S.profile.name} profile, synthetic")
html(a1_fig, div_id="algorithm1-explorer")

# %%
K_s = len(stages.labels) - 2
for name, values in (("phi", stages.loss_phi), ("theta", stages.loss_theta)):
    glue(f"a1s_{name}_start", float(values[0]), display=False)
    glue(f"a1s_{name}_inner", float(values[K_s]), display=False)
    glue(f"a1s_{name}_end", float(values[-1]), display=False)
pd.DataFrame({"loss on the first D_φ batch": stages.loss_phi,
              "loss on the D_θ batch": stages.loss_theta}, index=stages.labels).round(4)

# %% [markdown]
# Moving the slider shows the pseudo-code at work: during the inner steps only the blue
# bars grow, and the orange ones stay at exactly zero, because the inner loop touches only
# $\Phi$; at the $\Theta$ step the blue bars stop and the orange ones appear. In this
# iteration the loss on the first $D_\phi$ batch went from
# {glue:text}`a1s_phi_start:.3f` at the start to {glue:text}`a1s_phi_inner:.3f` after the
# $K$ inner steps, and the loss on the $D_\theta$ batch, from domains $\Phi$ was not tuned
# on, from {glue:text}`a1s_theta_start:.3f` to {glue:text}`a1s_theta_inner:.3f`; the
# $\Theta$ step then brought it to {glue:text}`a1s_theta_end:.3f`. One iteration of a
# freshly initialised model says little on its own; the two curves need not move together,
# and whether the inner steps also help on $D_\theta$ is what the outer objective rewards
# over many iterations.

# %% [markdown]
# ## Summary
#
# * Φ is defined by a bi-level problem (Eq. 6): the best extractor is the one with which Θ
#   does well on unseen domains. Unseen domains are simulated by a random split of the
#   sources at every iteration.
# * Algorithm 1 approximates the inner problem by K gradient steps of Φ on $D_\phi$ (Θ
#   fixed), then takes one step of Θ on $D_\theta$ with the adapted $\hat\Phi$ (Φ fixed).
#   It is first order: no gradient through the inner steps, no surrogate model.
# * The trace of parameter changes shows exactly that alternation, and the cost of an
#   iteration is about K + 1 forward-backward passes through Θ.
# * Eq. 6 puts the generalisation objective in the *lower* level (Φ on unseen domains),
#   the reverse of MAML and hyper-parameter learning; unlike MLDG, no update mixes the
#   two splits' losses.
# * The first-order approximation drops the hypergradient term
#   $-\alpha (\nabla^2_{\Phi\Theta} L_\phi)^\top \nabla_\Phi L_\theta$ (checked with
#   autograd on a toy above).
#
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb06-1
# ```
# With three source domains, how many different ordered splits $(D_\phi, D_\theta)$ can
# Algorithm 1 draw, and how often does each appear? Count them with
# `mpfas_lib.training.split_domains` over 3000 draws from the generator
# `random.Random(0)` (so that your counts can be checked).
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-1
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# counts: a Counter {(D_phi, D_theta): number of draws} over 3000 draws from rng
rng = random.Random(0)
counts = ...

# %%
from collections import Counter

from mpfas_lib.training import split_domains

rng = random.Random(0)
splits = pd.DataFrame({
    mode: pd.Series(Counter(tuple(map("".join, split_domains(domains, rng, mode)))
                            for _ in range(3000)))
    for mode in ("paper", "official")})
splits = splits.rename_axis(["D_φ", "D_θ"]).fillna(0).astype(int)
counts = splits["paper"]  # the paper mode's draws of each split
print((splits > 0).sum().to_dict(), "distinct splits;", splits["paper"].min(), "to",
      splits["paper"].max(), "draws each in paper mode")
splits

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb06-1", counts)

# %% [markdown]
# There are $2^3 - 2 = 6$ ordered splits into two non-empty groups, and the paper mode
# draws all six: it first draws the size of $D_\phi$ (1 or 2, equally likely) and then the
# domains, so each split gets about 3000 / 6 = 500 draws (the printed range). The paper
# does not say how large $D_\phi$ is; the authors' code (`official` mode) always puts one
# domain there, so only three splits occur, each about 1000 times, and Φ is always
# adapted on a single domain (see ex-fas-2 in {ref}`fas-and-dg`).
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb06-2
# ```
# The end-to-end ablation ("without OA", Fig. 7) trains $[\Theta, \Phi]$ jointly by ERM.
# Trace one ERM step of the tiny model with `mpfas_lib.training.erm_step` and a
# `ParameterTrace`. Which parameters move, and how does that differ from Algorithm 1?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-2
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# A fresh tiny model and batch source, so that your step can be rebuilt and compared
torch.manual_seed(0)
erm_phi = build_extractor("conv2")
erm_theta = HFN(backbone="resnet18-w16", fusion_channels=16)
erm_batches = tiny_batches(3)
# erm_trace: a ParameterTrace of (erm_phi, erm_theta) around one ERM step on
# erm_batches, with torch.optim.SGD at the chapter's LR and momentum 0.9
erm_trace = ...

# %%
from mpfas_lib.training import Pipeline, erm_step

model = Pipeline(erm_phi, erm_theta)
erm_trace = ParameterTrace(erm_phi, erm_theta)
erm_opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
sample = erm_trace.wrap(erm_batches)
erm_step(model, hfn_loss, sample, erm_opt, domains)
sample(domains)  # one more request records the state after the step
pd.DataFrame(erm_trace.rows).assign(after=["start", "after one ERM step"]).round(5)

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb06-2", erm_trace)

# %% [markdown] points=2
# Both Φ and Θ move in the same single step, with gradients from the same batch of all
# three domains. There is no simulated domain shift: Φ is tuned for the data Θ is trained
# on, which is exactly what the bi-level formulation avoids.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb06-3
# ```
# Extend the toy check above to $K = 2$ inner steps on the same $D_\phi$ point: derive
# $d\Phi_2 / d\Theta$ by the chain rule and verify the exact outer gradient with autograd.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-3
# :class: dropdown
# ```
# With $g(\Theta, \Phi) = \nabla_\Phi L_\phi$, each step is $\Phi_k = \Phi_{k-1} -
# \alpha g(\Theta, \Phi_{k-1})$, so $\frac{d\Phi_k}{d\Theta} = -\alpha\,
# \partial_\Theta g(\Theta, \Phi_{k-1}) + \big(1 - \alpha\, \partial_\Phi g(\Theta,
# \Phi_{k-1})\big) \frac{d\Phi_{k-1}}{d\Theta}$ with $d\Phi_0/d\Theta = 0$. For the toy,
# $\partial_\Theta g = 2x_1(2\Theta\Phi x_1 - y_1)$ and $\partial_\Phi g = 2\Theta^2
# x_1^2$. The exact gradient is $\partial_\Theta L_\theta(\Theta, \Phi_2) + \frac{d
# \Phi_2}{d\Theta}\, \partial_\Phi L_\theta(\Theta, \Phi_2)$.
# %% tags=["starter", "remove-cell"]
# exact2: dL_θ/dΘ through K = 2 inner steps by autograd; by_hand: the same by the
# chain rule
exact2, by_hand = ..., ...

# %%
p1 = ph - alpha * torch.autograd.grad(toy(th, ph, x1, y1), ph, create_graph=True)[0]
p2 = p1 - alpha * torch.autograd.grad(toy(th, p1, x1, y1), p1, create_graph=True)[0]
exact2 = torch.autograd.grad(toy(th, p2, x2, y2), th)[0].item()
d_phi = 0.0
for p_prev in (p, p1.item()):  # the chain rule through the two inner steps
    d_phi = (-alpha * 2 * x1 * (2 * t * p_prev * x1 - y1)
             + (1 - alpha * 2 * t**2 * x1**2) * d_phi)
q = p2.item()
by_hand = 2 * (t * q * x2 - y2) * q * x2 + d_phi * 2 * (t * q * x2 - y2) * t * x2
print(f"autograd {exact2:.6f}, by hand {by_hand:.6f}, first order alone "
      f"{2 * (t * q * x2 - y2) * q * x2:.6f}")
assert abs(exact2 - by_hand) < 1e-12

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb06-3", (exact2, by_hand))

# %% [markdown]
# The hand-derived recursion matches autograd to rounding (the assert). Each inner step
# multiplies the carried derivative by $1 - \alpha\,\partial_\Phi g$ and adds a new mixed
# term, so the exact update needs the whole inner trajectory kept in memory, K
# second-order passes; the printed first-order value, which Algorithm 1 uses, needs none.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb06-4
# ```
# Show that Algorithm 1 with $K = 1$ and $D_\phi = D_\theta$ (the same batch for both
# steps) is *alternating* gradient descent on the joint loss, and how it still differs
# from the ERM step of ex-nb06-2. Check it on the tiny model: one Φ step then one Θ step
# on one batch, against a joint step.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-4
# :class: dropdown
# ```
# With one batch $b$, the iteration is $\Phi' = \Phi - \alpha \nabla_\Phi L_b(\Theta,
# \Phi)$ then $\Theta' = \Theta - \alpha \nabla_\Theta L_b(\Theta, \Phi')$: block
# coordinate (Gauss-Seidel) descent on the single loss $L_b$, Φ first. Joint ERM takes
# both gradients at the *old* point, $\Theta' = \Theta - \alpha \nabla_\Theta
# L_b(\Theta, \Phi)$ (Jacobi). The two Θ gradients differ by $\nabla_\Theta L_b(\Theta,
# \Phi') - \nabla_\Theta L_b(\Theta, \Phi) \approx -\alpha \nabla^2_{\Theta\Phi} L_b\,
# \nabla_\Phi L_b$, which is $O(\alpha)$, so the Θ *updates* differ only by $O(\alpha^2)$:
# for small steps the two schemes follow the same path, and the separate data of
# $D_\phi$ and $D_\theta$ (and the $K$ steps of Φ), not the alternation, is what makes
# Algorithm 1 differ from ERM.
# %% tags=["starter", "remove-cell"]
# step_alt: Θ's gradients (a list, one per parameter) on the batch (x_b, y_b) after
# one Φ step (at Φ'); step_erm: the same at the old Φ. Leave phi and theta as they
# are.
torch.manual_seed(1)
x_b, y_b = tiny_batches(2)(domains)
step_alt, step_erm = ..., ...

# %%
torch.manual_seed(1)
x_b, y_b = tiny_batches(2)(domains)
th0 = [q.detach().clone() for q in theta.parameters()]
p_a = copy.deepcopy(phi)
g = torch.autograd.grad(hfn_loss(theta(x_b, p_a(x_b)), y_b), list(p_a.parameters()))
with torch.no_grad():
    for q, gq in zip(p_a.parameters(), g, strict=True):
        q -= LR * gq  # Φ step on the batch
step_alt = torch.autograd.grad(hfn_loss(theta(x_b, p_a(x_b).detach()), y_b),
                               list(theta.parameters()))  # Θ gradient at Φ'
step_erm = torch.autograd.grad(hfn_loss(theta(x_b, phi(x_b).detach()), y_b),
                               list(theta.parameters()))  # Θ gradient at the old Φ
norm = lambda gs: torch.sqrt(sum((gi**2).sum() for gi in gs)).item()  # noqa: E731
gap = norm([a - b for a, b in zip(step_alt, step_erm, strict=True)])
print(f"|Θ grad at Φ'| = {norm(step_alt):.4f}, |Θ grad at Φ| = {norm(step_erm):.4f}, "
      f"difference {gap:.2e} ({gap / norm(step_erm):.0%} of the gradient)")
assert all(torch.equal(a, b) for a, b in zip(th0, theta.parameters(), strict=True))

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb06-4", (step_alt, step_erm))

# %% [markdown] points=2
# The printed relative difference is the $O(\alpha)$ change of Θ's gradient caused by one
# Φ step of size α = 0.005; multiplied by α again in the Θ update, it is an $O(\alpha^2)$
# difference between alternating and joint descent. Measure the printed share against α
# itself (0.005, or 0.5 %), what an $O(\alpha)$ change with a constant of one would be:
# it is several times larger, because the constant, Φ's gradient times the mixed
# curvature $\nabla^2_{\Theta\Phi} L_b$, is large on this tiny untrained model. "Small
# steps" means α times that constant, not α alone, which is why the share is printed
# rather than assumed. (The forward passes ran in training mode, so the BatchNorm
# statistics of the tiny networks moved; no parameter of Θ did, as the assert checks.)
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb06-5
# ```
# Write one outer iteration of Algorithm 1 yourself, lines 7-17 of the listing, as
# `algorithm1_step(phi, theta, theta_opt, phi_batches, theta_batch, lr)`. The split (line 6)
# and the batches are drawn beforehand, so the function receives the K batches of
# $D_\phi$ (`phi_batches`, a list of (images, labels)) and the batch of $D_\theta$
# (`theta_batch`), and changes `phi` and `theta` in place. Use the loss of Eq. 10
# (`hfn_loss`), a plain step $\Phi \leftarrow \Phi - \alpha \nabla_\Phi L$ per inner step,
# and the optimiser `theta_opt` (SGD on Θ's parameters) for line 16; keep "Θ fixed" and
# "Φ̂ fixed" exact, BatchNorm statistics included (section "Two details of fixed"). Then
# say what would change in the result if you left out either of the two restores.
#
# The check draws one iteration's split and batches once
# (`mpfas_lib.training.book.predrawn_iterations`), hands the same batches to your function
# and to the library's `meta_pattern_step`, each on its own fresh copy of the tiny
# networks (in double precision), and compares every parameter and BatchNorm statistic.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-5
# :class: dropdown
# ```
# Left out, neither restore changes a single parameter: every forward pass runs in training
# mode and normalises with the statistics of its own batch, so the losses and gradients are
# the same. What changes is the running statistics, which only the evaluation-mode forward
# reads: without the first restore Θ's statistics average in the $D_\phi$ batches (K more
# updates per iteration, taken with the pattern of an extractor still being adapted);
# without the second, Φ's include the $D_\theta$ batch. A missing restore therefore never
# shows in the training losses; it shows when the model is scored, and in the check below.
# %% tags=["starter", "remove-cell"]
# algorithm1_step: one outer iteration (lines 7-17) on pre-drawn batches; fill in
# the `...`
# (the `noqa` comments only quiet the linter about the names the blanks will use)
def algorithm1_step(phi, theta, theta_opt, phi_batches, theta_batch, lr):
    phi.train(), theta.train()
    kept = ...  # line 7, Θ fixed: what the inner passes would change in Θ  # noqa: F841
    for x, y in phi_batches:  # lines 9-12, one D_φ batch per inner step  # noqa: B007
        loss = ...  # L(x_φ, y_φ | Θ, Φ_{k-1}) of Eq. 10 on this batch
        grads = torch.autograd.grad(loss, ...)  # with respect to Φ's parameters only
        with torch.no_grad():
            for p, g in zip(phi.parameters(), grads, strict=True):  # noqa: B007
                p.copy_(...)  # line 11 (Eq. 7): Φ_k from Φ_{k-1} (that is p) and g
    ...  # Θ fixed: put back what `kept` holds
    x, y = theta_batch  # line 15
    pattern = ...  # line 14: the pattern of Φ̂ = Φ_K, fixed in the Θ step  # noqa: F841
    theta_opt.zero_grad()
    ...  # line 16 (Eq. 8): one step of Θ on L(x_θ, y_θ | Θ, Φ̂) with `pattern`

# %%
def algorithm1_step(phi, theta, theta_opt, phi_batches, theta_batch, lr):
    """One outer iteration of Algorithm 1 (paper lines 7-17) on pre-drawn batches."""
    phi.train(), theta.train()
    kept = copy.deepcopy(theta.state_dict())  # line 7: Φ_0 = Φ; Θ stays fixed
    for x, y in phi_batches:  # lines 9-12, one D_φ batch per inner step (line 10)
        loss = hfn_loss(theta(x, phi(x)), y)
        grads = torch.autograd.grad(loss, list(phi.parameters()))  # ∇_Φ only
        with torch.no_grad():
            for p, g in zip(phi.parameters(), grads, strict=True):
                p -= lr * g  # line 11, Eq. 7
    theta.load_state_dict(kept)  # undo the BatchNorm statistics of the inner passes
    x, y = theta_batch  # line 15
    phi_stats = copy.deepcopy(phi.state_dict())  # line 14: Φ̂ = Φ_K, fixed
    with torch.no_grad():
        pattern = phi(x)
    phi.load_state_dict(phi_stats)
    theta_opt.zero_grad()
    hfn_loss(theta(x, pattern), y).backward()
    theta_opt.step()  # line 16, Eq. 8; line 17: Φ already holds Φ_K

# %%
from mpfas_lib.training import (
    library_steps,
    predrawn_iterations,
    replay_iterations,
    student_steps,
)

# splits and batches, drawn once
drawn = predrawn_iterations(S.profile, 3, TINY.inner_steps)
ours = replay_iterations(student_steps(algorithm1_step, LR), drawn, LR)
lib = replay_iterations(library_steps(TINY), drawn, LR)
diff = max((ours[t][part][k].double() - lib[t][part][k].double()).abs().max().item()
           for t in range(len(drawn)) for part in ("phi", "theta")
           for k in ours[t][part])
drawn_splits = [(it.phi_domains, it.theta_domains) for it in drawn]
print(f"{len(drawn)} iterations, splits {drawn_splits}")
print(f"{len(ours[-1]['phi']) + len(ours[-1]['theta'])} tensors compared after each, "
      f"largest difference {diff:.1e}")

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb06-5", algorithm1_step)

# %% [markdown]
# Written as the library writes it, the function leaves every parameter and statistic of
# three iterations identical to `meta_pattern_step`'s in single precision (the printed
# difference). The check allows rounding instead, because another correct way of writing
# the update (`p.add_(g, alpha=-lr)`, or an SGD optimiser for Φ) rounds differently, and
# on this tiny model such a difference does not stay small (exercise 6.6): it compares one
# iteration in double precision, where rounding differences stay below $10^{-9}$ of the
# networks' size and each typical slip (a flipped sign, K − 1 steps, a missing restore, Θ
# stepped on a $D_\phi$ batch) moves some tensor by far more.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb06-6
# ```
# Predict first, then run. The cell of this exercise replays the library's Algorithm 1
# twice on the same pre-drawn batches, in single precision: once with $\alpha = 0.005$ and
# once with α one float32 step larger, a relative change of about $10^{-7}$, the size of a
# difference in rounding. Write in your answer how far apart you expect the two runs to be
# (the relative difference of Φ's state) after one iteration and after three: about
# $10^{-7}$, $10^{-4}$ or $10^{-2}$? Say why, run the cell, and compare.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-6
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# Your code here: none needed. Run this cell once your prediction is written above.
import dataclasses

import numpy as np

from mpfas_lib.training import (
    library_steps,
    predrawn_iterations,
    replay_iterations,
)


def relative_gap(a, b):
    """‖a − b‖ / ‖b‖ over the floating-point tensors of two state dicts."""
    keys = [k for k in b if b[k].is_floating_point()]
    gap = sum(((a[k].double() - b[k].double()) ** 2).sum() for k in keys)
    return float(torch.sqrt(gap / sum((b[k].double() ** 2).sum() for k in keys)))


drawn = predrawn_iterations(S.profile, 3, TINY.inner_steps)
# α, one float32 step larger
nudged = float(np.nextafter(np.float32(LR), np.float32(1)))
base, moved = (replay_iterations(library_steps(dataclasses.replace(TINY, lr=a)),
                                 drawn, LR)
               for a in (LR, nudged))
pairs = list(zip(moved, base, strict=True))
drift = pd.DataFrame({part: [relative_gap(m[part], b[part]) for m, b in pairs]
                      for part in ("phi", "theta")},
                     index=[1, 2, 3]).rename_axis("iteration")
print(f"α changed by {nudged / LR - 1:.1e} (relative)")
drift

# %%
glue("a1_drift_phi_1", float(drift["phi"].iloc[0]), display=False)
glue("a1_drift_phi_3", float(drift["phi"].iloc[-1]), display=False)
glue("a1_drift_theta_3", float(drift["theta"].iloc[-1]), display=False)
drift.style.format("{:.1e}")

# %% [markdown]
# Far larger than the change: Φ's state differs by {glue:text}`a1_drift_phi_1:.1e` of its
# size after one iteration and by {glue:text}`a1_drift_phi_3:.1e` after three, Θ's by
# {glue:text}`a1_drift_theta_3:.1e`. A gradient step maps Φ to $\Phi - \alpha \nabla_\Phi
# L(\Phi)$, whose Jacobian $I - \alpha \nabla^2_\Phi L$ stretches a small difference
# wherever α times the curvature of the loss exceeds 2; on this freshly initialised tiny
# network, with batch statistics of twelve faces, the loss is curved enough for that, and
# each of the K inner steps multiplies the difference again. Two consequences in this book:
# the check of exercise 6.5 compares one iteration in double precision, where rounding
# starts near $10^{-16}$ and stays invisible, and a training run repeated on another
# machine, whose libraries round differently, follows another trajectory: it agrees with
# the first within the spread over seeds, not bit for bit ({doc}`08_training_runs`).
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
# - `finn2017maml`: C. Finn, P. Abbeel and S. Levine (2017). *Model-Agnostic
#   Meta-Learning for Fast Adaptation of Deep Networks*. Proceedings of the 34th
#   International Conference on Machine Learning (ICML), 1126–1135.
# - `li2018mldg`: D. Li, Y. Yang, Y. Song and T. M. Hospedales (2018). *Learning to
#   Generalize: Meta-Learning for Domain Generalization*. Proceedings of the AAAI
#   Conference on Artificial Intelligence.
# - `shao2020rfmeta`: R. Shao, X. Lan and P. C. Yuen (2020). *Regularized Fine-Grained
#   Meta Face Anti-Spoofing*. Proceedings of the AAAI Conference on Artificial
#   Intelligence, 34(07), 11974–11981.
