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
# *profile*, the one switch between a quick CPU run and the paper's full
# GPU setting. This chapter shows that opening and what it decides.
#
# On a hosted runtime without the library (the book's Colab button), the
# `try` block downloads `mpfas_lib/hosted.py` from the repository and runs
# it: it installs `mpfas_lib` with `pip --no-deps`, keeping the runtime's own
# torch and torchvision, then the few missing light dependencies, printing
# each step. Everywhere else the library is already installed and the block
# does nothing.

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

# %% [markdown]
# The profile holds every number that depends on the scale of a run. The
# code path is the same in both; only these numbers differ.

# %%
import pandas as pd

from mpfas_lib.profile import PROFILES

pd.DataFrame({name: vars(p) for name, p in PROFILES.items()})

# %% [markdown]
# Set `MPFAS_PROFILE=full` before starting JupyterLab to run the paper's
# setting on a GPU, or `MPFAS_PROFILE=quick` to stay small. Generated data
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
#   and the paper's GPU setting; the code path is the same.
# - Generated data, results and your licensed datasets live in three folders
#   chosen by `MPFAS_CACHE`, `MPFAS_RESULTS` and `MPFAS_DATA`.
#
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb01-1
# ```
# Ask the library for the full profile without changing the environment and
# report the side of the HFN pixel map it implies.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb01-1
# :class: dropdown
# ```
# `get_profile("full")` ignores `MPFAS_PROFILE`; the pixel map is taken at
# stride 8, so its side is the image side divided by 8.

# %%
from mpfas_lib.profile import get_profile

full = get_profile("full")
full.image_size, full.map_size

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb01-2
# ```
# Make a smaller variant of the current profile with 10 iterations for a
# smoke test, and check that the original profile is unchanged.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb01-2
# :class: dropdown
# ```
# Profiles are frozen dataclasses; `replace` returns a modified copy.

# %%
smoke = S.profile.replace(iterations=10)
assert smoke.iterations == 10 and S.profile.iterations != 10
smoke.iterations, S.profile.iterations

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{exercise-start}
# :label: ex-nb01-3
# ```
# What happens when `MPFAS_PROFILE` holds a name that is not a profile?
# Trigger it and read the message.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb01-3
# :class: dropdown
# ```
# The library refuses with a message that names the variable and the choices,
# instead of silently falling back to a default.

# %%
import os

saved = os.environ.get("MPFAS_PROFILE")
os.environ["MPFAS_PROFILE"] = "huge"
try:
    get_profile()
except ValueError as err:
    print(err)
finally:
    if saved is None:
        del os.environ["MPFAS_PROFILE"]
    else:
        os.environ["MPFAS_PROFILE"] = saved

# %% [markdown]
# ```{solution-end}
# ```
