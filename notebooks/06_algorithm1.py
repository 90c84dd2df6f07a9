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
# Algorithm 1. This chapter derives the procedure, writes it out, and then runs one
# iteration of it step by step, first on a tiny model and then on the quick-profile model,
# measuring after every step which parameters moved.

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
import random

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from myst_nb import glue

from mpfas_lib.data.protocols import build_protocol
from mpfas_lib.data.sampling import DomainBalancedBatches
from mpfas_lib.models import HFN, build_extractor, build_hfn, count_parameters, hfn_loss
from mpfas_lib.training import get_method, meta_pattern_step
from mpfas_lib.training.runs import trained_phi
from mpfas_lib.viz.figures import image_grid
from mpfas_lib.viz.plots import ParameterTrace, parameter_trace_plot

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
# few gradient steps from the current Φ, $\Phi^* \approx \hat\Phi = \Phi - \alpha
# \nabla_\Phi L(x, y \mid \Theta, \Phi)$ (Eq. 7, one step; K steps in practice), after
# which Θ follows the gradient at the approximate solution, $\nabla_\Theta L(x, y \mid
# \Theta, \Phi^*) \approx \nabla_\Theta L(x, y \mid \Theta, \hat\Phi)$ (Eq. 8). Unlike
# MAML-style meta-learning {cite}`finn2017maml,li2018mldg`, no gradient flows through the
# inner steps: the method is first order.
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
#   11          Φ_k ← Φ_{k-1} − α ∇_Φ L(x_φ, y_φ | Θ, Φ_{k-1})      # Eq. 7
#   12      end
#   14      Φ̂ ← Φ_K                                      # approximates Φ*
#   15      sample a batch (x_θ, y_θ) from D_θ            # Φ̂ is fixed here
#   16      Θ ← Θ − α ∇_Θ L(x_θ, y_θ | Θ, Φ̂)                       # Eq. 8
#   17      Φ ← Φ_K
#   18  end
#   19  output: Φ*, Θ*
# ```
#
# `mpfas_lib.training.meta_pattern_step` is one outer iteration of this loop. Its default
# `mode="paper"` follows the text; `mode="official"` follows the authors' code (see
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
batches = DomainBalancedBatches(protocol.sources, k=2, seed=0)


def tiny_batch(names):
    """A domain-balanced batch (2 genuine + 2 spoof per domain), shrunk to 16x16 pixels."""
    x, y, _ = batches.batch(names)
    return F.interpolate(x, size=16, mode="area"), y


print(f"Φ: {count_parameters(phi)} parameters, tiny Θ: {count_parameters(theta)} parameters")

# %% [markdown]
# `ParameterTrace` (from `mpfas_lib.viz.plots`) wraps the batch source and records the
# parameters of Φ and Θ each time Algorithm 1 asks for a batch, which happens right before
# each inner step and right before the Θ step.

# %%
trace = ParameterTrace(phi, theta)
LR = 0.005  # α for the tiny model (the quick profile's own α is used further below)
opt = torch.optim.SGD(theta.parameters(), lr=LR, momentum=0.9)
stats = meta_pattern_step(phi, theta, hfn_loss, trace.wrap(tiny_batch), opt, domains,
                          random.Random(0), inner_steps=4, lr=LR)
tiny = trace.finish(inner_steps=4)
parameter_trace_plot(tiny, title="one Algorithm 1 iteration, tiny model (synthetic, 16 px)")
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
                      inner_steps=4, lr=LR, iteration=t)
    for t in range(1, 40)
]
losses = pd.DataFrame({"inner (D_φ, mean of K)": [sum(h.inner_losses) / 4 for h in history],
                       "outer Θ step (D_θ)": [h.theta_loss for h in history]})
ax = losses.rolling(5, min_periods=1).mean().plot(figsize=(6, 3))
ax.set_xlabel("outer iteration t")
ax.set_ylabel("loss (Eq. 10), rolling mean of 5")
ax.set_title("tiny model, synthetic data")
plt.show()

# %%
first, last = losses.iloc[:8].mean(), losses.iloc[-8:].mean()
glue("a1_theta_first", float(first.iloc[1]), display=False)
glue("a1_theta_last", float(last.iloc[1]), display=False)
glue("a1_inner_first", float(first.iloc[0]), display=False)
glue("a1_inner_last", float(last.iloc[0]), display=False)

# %% [markdown]
# Over the first eight iterations the Θ loss averages {glue:text}`a1_theta_first:.2f` and
# over the last eight {glue:text}`a1_theta_last:.2f`; the inner losses go from
# {glue:text}`a1_inner_first:.2f` to {glue:text}`a1_inner_last:.2f`. The curves are noisy
# because every iteration draws a new split and new batches, so consecutive losses are
# measured on different domains.

# %% [markdown]
# ## One iteration on the quick-profile model
#
# The same step on the quick profile's full-size model: the CONV2 extractor and the
# two-stream HFN with ResNet-18 (width 16) streams on 64×64 synthetic faces, with the
# profile's learning rate and K.

# %%
torch.manual_seed(0)
phi_q, theta_q = build_extractor("conv2"), build_hfn(S.profile)
batches_q = DomainBalancedBatches(protocol.sources, k=S.profile.batch_per_class, seed=0)
trace_q = ParameterTrace(phi_q, theta_q)
opt_q = torch.optim.SGD(theta_q.parameters(), lr=S.profile.lr, momentum=S.profile.momentum)
K = get_method("mp").inner_steps  # the method owns K; the profile owns α and the sizes
stats_q = meta_pattern_step(
    phi_q, theta_q, hfn_loss, trace_q.wrap(lambda d: batches_q.batch(d)[:2]), opt_q, domains,
    random.Random(0), inner_steps=K, lr=S.profile.lr)
quick = trace_q.finish(K)
parameter_trace_plot(quick, title=f"one iteration, {S.profile.name} profile (synthetic)")
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
pick = [i for d in domains for i in (names.index(d), names.index(d) + S.profile.batch_per_class)]
with torch.no_grad():
    before, after = build_extractor("conv2").eval()(x[pick]), phi_trained(x[pick])
rows = [[x[i], b, a] for i, b, a in zip(pick, before, after, strict=True)]
fig = image_grid(rows, row_labels=[f"{names[i]} {'genuine' if y[i] else 'spoof'}" for i in pick],
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
from mpfas_lib.viz.interactive import html
from mpfas_lib.viz.method_figures import algorithm1_explorer, algorithm1_stages

mico = build_protocol("MICO:OCI-M", source="synthetic", profile=S.profile)
torch.manual_seed(0)
phi_s, theta_s = build_extractor("conv2"), build_hfn(S.profile)
batches_s = DomainBalancedBatches(mico.sources, k=S.profile.batch_per_class, seed=1)
stages = algorithm1_stages(
    phi_s, theta_s, hfn_loss, lambda d: batches_s.batch(d)[:2],
    torch.optim.SGD(theta_s.parameters(), lr=S.profile.lr, momentum=S.profile.momentum),
    sorted(mico.sources), random.Random(1), inner_steps=get_method("mp").inner_steps,
    lr=S.profile.lr)
a1_fig = algorithm1_explorer(stages, title=f"one Algorithm 1 iteration, {S.profile.name} "
                             "profile, synthetic")
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
#
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb06-1
# ```
# With three source domains, how many different ordered splits $(D_\phi, D_\theta)$ can
# Algorithm 1 draw, and how often does each appear? Count them with
# `mpfas_lib.training.split_domains` over 3000 draws.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-1
# :class: dropdown
# ```
# %%
from collections import Counter

from mpfas_lib.training import split_domains

rng = random.Random(0)
counts = Counter(tuple(map("".join, split_domains(domains, rng))) for _ in range(3000))
pd.Series(counts, name="draws").rename_axis(["D_φ", "D_θ"]).sort_index()

# %% [markdown]
# There are $2^3 - 2 = 6$ splits into two non-empty groups. Our paper mode first draws the
# size of $D_\phi$ (1 or 2, equally likely) and then the domains, so each of the six splits
# appears about 500 times.
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
# %%
from mpfas_lib.training import Pipeline, erm_step

model = Pipeline(phi, theta)
erm_trace = ParameterTrace(phi, theta)
erm_opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0.9)
sample = erm_trace.wrap(tiny_batch)
erm_step(model, hfn_loss, sample, erm_opt, domains)
sample(domains)  # one more request records the state after the step
pd.DataFrame(erm_trace.rows).assign(after=["start", "after one ERM step"]).round(5)

# %% [markdown]
# Both Φ and Θ move in the same single step, with gradients from the same batch of all
# three domains. There is no simulated domain shift: Φ is tuned for the data Θ is trained
# on, which is exactly what the bi-level formulation avoids.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb06-3
# ```
# Algorithm 1 is first order. Write down what a second-order (MAML-like) version would
# need to compute for the Θ update with $K = 1$, and why that is costly.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb06-3
# :class: dropdown
# ```
# With $\hat\Phi(\Theta) = \Phi - \alpha \nabla_\Phi L_\phi(\Theta, \Phi)$ depending on
# Θ, the exact gradient of $L_\theta(\Theta, \hat\Phi(\Theta))$ is
# $\nabla_\Theta L_\theta + (\partial \hat\Phi / \partial \Theta)^\top \nabla_{\hat\Phi}
# L_\theta$ with $\partial \hat\Phi / \partial \Theta = -\alpha \nabla^2_{\Theta\Phi}
# L_\phi$, a mixed second derivative. Computing the product needs a Hessian-vector product
# through Θ (one more backward pass over the graph of the inner step, kept in memory) per
# inner step. Algorithm 1 drops the second term (Eq. 8), so it keeps no graph across steps.
#
# %%
print("first-order update: ∇_Θ L_θ only; second-order adds -α ∇²_ΘΦ L_φ · ∇_Φ̂ L_θ")

# %% [markdown]
# ```{solution-end}
# ```
