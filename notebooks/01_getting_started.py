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

# %%
from mpfas_lib.profile import PROFILES
from mpfas_lib.runtime import setup

S = setup(seed=0)
print(S)

# %% [markdown]
# The profile holds every number that depends on the scale of a run. The
# code path is the same in both; only these numbers differ.

# %%
import pandas as pd

pd.DataFrame({name: vars(p) for name, p in PROFILES.items()})

# %% [markdown]
# Set `MPFAS_PROFILE=full` before starting JupyterLab to run the paper's
# setting on a GPU, or `MPFAS_PROFILE=quick` to stay small. Generated data
# goes to the cache folder above (`MPFAS_CACHE`), run artefacts to the
# results folder (`MPFAS_RESULTS`), and your prepared copies of the licensed
# datasets are found through `MPFAS_DATA`.
