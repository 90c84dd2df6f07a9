# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Getting started
#
# Every notebook of this book opens the same way: it imports what it needs,
# seeds every random number generator, picks a device and resolves the
# *profile*, the one switch between a quick CPU run and the full GPU run
# (the paper's sizes and optimiser; what else it takes from the authors'
# code or from this book is listed in the {ref}`preface`). This chapter
# shows that opening and what it decides.
#
# On a hosted runtime without the library (the book's Colab button), the
# `try` block downloads `mpfas_lib/hosted.py` from the repository and runs
# it: it installs `mpfas_lib` with `pip --no-deps`, keeping the runtime's own
# torch and torchvision, then the few missing light dependencies, printing
# each step. Everywhere else the library is already installed and the block
# does nothing.

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

# %% [markdown]
# The profile holds every number that depends on the scale of a run. The
# code path is the same in both; only these numbers differ.

# %%
import pandas as pd

from mpfas_lib.profile import PROFILES

pd.DataFrame({name: vars(p) for name, p in PROFILES.items()})

# %% [markdown]
# Set `MPFAS_PROFILE=full` before starting JupyterLab to run the full
# profile on a GPU, or `MPFAS_PROFILE=quick` to stay small. The full profile
# is not the paper's setting throughout: its network sizes and optimiser are
# the paper's, its ImageNet start is the authors' code's, and its 20,000
# iterations, the validation part held out of each source and the
# checkpoint rule chosen on it are this book's (the paper states none of
# them). Its ImageNet weights are never downloaded during a
# run: fetch them once with `python -m mpfas_lib weights --download`. Generated data
# goes to the cache folder above (`MPFAS_CACHE`), run artefacts to the
# results folder (`MPFAS_RESULTS`), and your prepared copies of the licensed
# datasets are found through `MPFAS_DATA`.

# %% [markdown]
# The same opening also fixes every random number generator, so two runs of
# a chapter give the same figures and numbers: draw twice after re-seeding.

# %%
import torch

from mpfas_lib.runtime import seed_everything

seed_everything(S.seed)
first = torch.rand(3)
seed_everything(S.seed)
assert torch.equal(first, torch.rand(3))
first

# %% [markdown]
# ## Summary
#
# - Every chapter starts with `setup(seed=...)`, which seeds Python, NumPy and
#   torch, picks the device and resolves the profile and the folders.
# - The profile (`quick` or `full`) is the only switch between a CPU lesson
#   and the full GPU run (the paper's sizes and optimiser, the authors'
#   ImageNet start, this book's iteration count); the code path is the same.
# - Generated data, results and your licensed datasets live in three folders
#   chosen by `MPFAS_CACHE`, `MPFAS_RESULTS` and `MPFAS_DATA`.
#
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb01-1
# ```
# The network's output includes a pixel map: a small image with one live
# or spoof verdict per patch of the face, supervised by the pixel-wise term
# of the paper's loss (Eq. 10; you will meet the network and its loss in
# {doc}`05_hierarchical_fusion`). The map is taken at stride 8. For the
# quick and the full profile, how many cells does it have, and how many input pixels does
# each cell stand for? What does that say about how local its supervision
# is?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb01-1
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# pixel_map: a dict {"quick": (number of cells, patch side in pixels), "full": (...)}
pixel_map = ...

# %%
from mpfas_lib.profile import get_profile

pixel_map = {}
for name in ("quick", "full"):
    p = get_profile(name)
    pixel_map[name] = (p.map_size**2, p.image_size // p.map_size)
    patch = p.image_size // p.map_size
    print(f"{name}: {p.image_size} px -> {p.map_size}x{p.map_size} = {p.map_size**2} "
          f"cells, each for an {patch}x{patch} patch")

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb01-1", pixel_map)

# %% [markdown]
# The side is the image side divided by 8 in both profiles, so each cell
# stands for an 8×8 patch (its receptive field through the network is much
# larger). The full profile's map has 16 times as many cells as the quick
# one's: at 256 pixels the supervision asks for a verdict on each of
# 1,024 patches, at 64 pixels on 64.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb01-2
# ```
# Algorithm 1, the paper's training loop, splits the source domains at
# random into two groups, $D_\phi$ (which trains the pattern extractor $\Phi$
# in $K$ inner steps) and $D_\theta$ (which trains the classifier $\Theta$
# once); you will meet it in {doc}`06_algorithm1`, where
# `mpfas_lib.training.split_domains` draws these splits. Here you only need
# the counts. A batch holds $k$ genuine and $k$ spoof faces per named source
# domain ($k = 4$ and $K = 4$ in the paper). One Algorithm 1 iteration takes $K$ batches of
# $D_\phi$ and one of $D_\theta$. With three sources, count the faces one
# iteration processes on average when $D_\phi$ holds one domain (the
# authors' code) and when it holds one or two with equal probability (this
# book's paper mode), and compare with one ERM step on all three domains.
# Check the second count by drawing splits with
# `mpfas_lib.training.split_domains`.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb01-2
# :class: dropdown
# ```
# With $n_\phi$ domains in $D_\phi$ and $3 - n_\phi$ in $D_\theta$ an
# iteration sees $2k\,(K n_\phi + 3 - n_\phi)$ faces: $8 \cdot (4 + 2) = 48$
# with $n_\phi = 1$, $8 \cdot (8 + 1) = 72$ with $n_\phi = 2$, so 60 on average
# in paper mode; ERM sees $8 \cdot 3 = 24$.
# %% tags=["starter", "remove-cell"]
# faces: a dict {"official": ..., "paper": ..., "erm": ...}, faces per iteration
# (or step)
faces = ...

# %%
import random

from mpfas_lib.training import split_domains

rng, k, K = random.Random(0), 4, 4
sizes = [len(split_domains("MIC", rng)[0]) for _ in range(10000)]
mean_faces = sum(2 * k * (K * n + 3 - n) for n in sizes) / len(sizes)
print(f"paper mode: {mean_faces:.1f} faces per iteration on average; official 48; "
      "ERM 24")
faces = {"official": 2 * k * (K + 2), "paper": mean_faces, "erm": 2 * k * 3}

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb01-2", faces)

# %% [markdown]
# The simulated average is close to the derived 60, and an Algorithm 1
# iteration processes 2 to 3 times as many faces as an ERM step. The cost
# in time is larger still, because each inner step runs a forward and a
# backward pass through the whole of Θ to reach Φ (chapter 06).
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb01-3
# ```
# Both profiles use SGD with momentum 0.9. Show, by hand and with
# `torch.optim.SGD` on one scalar parameter whose gradient is always 1, that
# after many steps momentum makes each step $1 / (1 - 0.9) = 10$ times
# longer than plain SGD's step $\alpha$.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb01-3
# :class: dropdown
# ```
# PyTorch's momentum keeps a buffer $b_t = 0.9\, b_{t-1} + g_t$ and steps
# by $\alpha b_t$. With $g_t = 1$, $b_t = \sum_{j < t} 0.9^j = (1 - 0.9^t) /
# (1 - 0.9) \to 10$.
# %% tags=["starter", "remove-cell"]
# steps: the length of each of about 60 SGD steps (w before − w after), in order
steps = ...

# %%
w = torch.zeros(1, requires_grad=True)
opt = torch.optim.SGD([w], lr=0.001, momentum=0.9)
steps = []
for _ in range(60):
    before = w.item()
    opt.zero_grad()
    w.sum().backward()  # gradient 1
    opt.step()
    steps.append(before - w.item())
print(f"step 1: {steps[0]:.5f}, step 60: {steps[-1]:.5f}, "
      f"ratio {steps[-1] / steps[0]:.2f}, predicted {(1 - 0.9**60) / (1 - 0.9):.2f}")

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb01-3", steps)

# %% [markdown]
# The printed ratio matches the prediction: after a few tens of steps
# momentum multiplies the effective learning rate by about 10, so $\alpha =
# 0.001$ with momentum 0.9 moves parameters like $\alpha = 0.01$ without it
# once the gradient direction is stable.
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb01-4
# ```
# Predict first, then run. Seeding (above) fixes the random numbers; does it fix the
# arithmetic too? The cell of this exercise draws two seeded random 256 × 256 matrices and
# multiplies them twice in single precision: with `A @ B`, and by summing the products
# $A_{ik} B_{kj}$ over $k$ with `(A[:, :, None] * B[None]).sum(1)`. In exact arithmetic the
# two are the same matrix. Before running it, write in your answer how many of the 65,536
# entries you expect to be bit-for-bit equal and how large the largest difference will be,
# relative to its entry; then run the cell and compare.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb01-4
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# Your code here: none needed. Run this cell once your prediction is written above.
seed_everything(S.seed)
A, B = torch.rand(256, 256), torch.rand(256, 256)
by_matmul, by_sum = A @ B, (A[:, :, None] * B[None]).sum(1)
equal = int((by_matmul == by_sum).sum())
largest = float(((by_matmul - by_sum).abs() / by_matmul.abs()).max())
print(f"{equal} of {by_matmul.numel()} entries equal; "
      f"largest relative difference {largest:.1e}")

# %%
from myst_nb import glue

seed_everything(S.seed)
A, B = torch.rand(256, 256), torch.rand(256, 256)
by_matmul, by_sum = A @ B, (A[:, :, None] * B[None]).sum(1)
equal = int((by_matmul == by_sum).sum())
largest = float(((by_matmul - by_sum).abs() / by_matmul.abs()).max())
print(f"{equal} of {by_matmul.numel()} entries equal; "
      f"largest relative difference {largest:.1e}")
glue("nb01_equal", equal, display=False)
glue("nb01_equal_share", 100 * equal / by_matmul.numel(), display=False)
glue("nb01_largest", largest, display=False)
glue("nb01_eps", float(torch.finfo(torch.float32).eps), display=False)

# %% [markdown]
# Only {glue:text}`nb01_equal` of the 65,536 entries ({glue:text}`nb01_equal_share:.0f` %)
# are equal; the others differ by up to {glue:text}`nb01_largest:.1e` of their size, a few
# steps of the last bit of a float32 (one step is {glue:text}`nb01_eps:.1e` of the value).
# Floating-point addition is not associative: each of the 256-term sums is rounded after
# every addition, and the matrix-product kernel adds the products in another order (in
# blocks, in vector registers) than the reduction over `k`. Seeding fixes the inputs, not
# the order of the arithmetic, which depends on the kernel, the processor's instruction
# set and the library version. That is why a training run repeats bit for bit on one
# machine with one library version and only approximately elsewhere; chapter
# {doc}`08_training_runs` shows how far apart two such runs end up.
# ```{solution-end}
# ```
