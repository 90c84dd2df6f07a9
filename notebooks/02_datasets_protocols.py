# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# (ch-datasets)=
# # Datasets and protocols
#
# Domain generalisation is measured by training on some datasets and testing
# on another. This chapter presents the five public datasets of the paper
# {cite}`cai2022metapattern`, the leave-one-out protocols built from them,
# how the library reads each dataset's file names and crops faces with
# MTCNN, and the synthetic five-domain benchmark that stands in for the
# licensed data everywhere in this book. It ends by measuring the
# cross-domain gap on that benchmark.

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
import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from myst_nb import glue
from skimage.data import astronaut
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mpfas_lib.data import (
    DEFAULT_SHIFT,
    DOMAIN_NAMES,
    LABEL_NAMES,
    PROTOCOLS,
    FaceCropper,
    NamingError,
    build_protocol,
    from_profile,
    parse,
)
from mpfas_lib.evaluation import auc
from mpfas_lib.viz import benchmark_gallery, draw_detection

# %% [markdown]
# ## Five datasets, five domains
#
# Each public face anti-spoofing dataset was recorded with its own cameras,
# rooms, lights, subjects and attack instruments, so each is a *domain*. The
# paper uses five, named by one letter
# {cite}`wen2015msu,chingovska2012replay,zhang2012casia,boulkenafet2017oulu,li2018rose`:

# %%
datasets = pd.DataFrame(
    [("M", "MSU-MFSD", 35, "laptop webcam, Android phone",
      "printed photo; iPad, iPhone replay"),
     ("I", "Idiap REPLAY-ATTACK", 50, "webcam; controlled and adverse light",
      "printed photo; mobile and HD replay"),
     ("C", "CASIA-FASD", 50, "low, normal, high quality cameras",
      "warped photo, cut photo, video replay"),
     ("O", "OULU-NPU", 55, "six phones, three sessions", "two printers, two displays"),
     ("Y", "ROSE-YOUTU", 20, "five phones, five lightings",
      "print, laptop/monitor replay, paper masks")],
    columns=["domain", "dataset", "subjects", "capture", "attacks"],
).set_index("domain")
datasets

# %% [markdown]
# All five are licensed by their owners: the book never ships them. The
# preface explains how to prepare your own copies.

# %% [markdown]
# ## Protocols
#
# A *leave-one-out* protocol trains on all domains of a group but one and
# tests on the one left out, which is never seen during training. The paper
# uses two groups of four (MICO, as in most of the literature, and MICY,
# which adds ROSE-YOUTU's paper masks) and a harder two-source variant with
# only M and I for training. The library names each protocol
# `GROUP:SOURCES-TARGET`:

# %%
protocol_table = pd.DataFrame(
    [{"protocol": name, "group": name.split(":")[0], "sources": " & ".join(src),
      "target": tgt, "paper column": f"{'&'.join(src)}→{tgt}"}
     for name, (src, tgt) in PROTOCOLS.items()]
).set_index("protocol")
glue("nb02_n_protocols", len(protocol_table), display=False)
protocol_table

# %% [markdown]
# Which part of each real dataset does a protocol use? The datasets come
# with their own subject-disjoint splits, and `python -m mpfas_lib index`
# reads them from the file names. This library trains on the *training*
# split of every source domain, fixes the honest threshold on the source
# domains' development split (the test split of a source domain where the
# release has no development split), and tests on the *test* split of the
# target domain. The authors' code instead lists *every* video of each
# dataset, as source and as target; the paper does not say.

# %%
pd.DataFrame({
    "O (OULU-NPU)": ["Train_files", "Dev_files", "Test_files"],
    "I (Replay-Attack)": ["train", "devel", "test"],
    "C (CASIA-FASD)": ["train_release", "test_release (no dev split)", "test_release"],
    "M (MSU-MFSD)": ["train_sub_list.txt subjects", "test subjects (no dev split)",
                     "test_sub_list.txt subjects"],
    "Y (ROSE-YOUTU)": ["train", "test (no dev split)", "test"],
}, index=["as a source: training", "as a source: threshold", "as the target: test"]).T

# %% [markdown]
# That makes {glue:text}`nb02_n_protocols` protocols: Tables I and II of
# the paper use MICO, Table III MICY and Table IV the two-source pair.

# %% [markdown]
# ## Reading labels from file names
#
# The public datasets ship videos, not labels: whether a video is genuine,
# a print or a replay, which subject, camera and session it shows, is written
# in its path, in a naming scheme that differs for every dataset. The
# library's `index` module (and the `python -m mpfas_lib index` command)
# parses these schemes and refuses, naming the path, anything it cannot
# classify. One example path per dataset:

# %%
examples = {
    "msu": "scene01/attack/attack_client001_android_SD_printed_photo_scene01.mp4",
    "replay": ("test/attack/hand/"
               "attack_highdef_client020_session01_highdef_photo_adverse.mov"),
    "casia": "train_release/3/HR_4.avi",
    "oulu": "Train_files/1_1_01_4.avi",
    "rose": "train/9/Mc_NT_ZTE_wg_E_15_153.mp4",
}
entries = [parse(name, path) for name, path in examples.items()]
pd.DataFrame([{**e.row(), "label name": LABEL_NAMES[e.label]} for e in entries],
             index=list(examples)).drop(columns="path")

# %% [markdown]
# The label follows the public lists of the field (0 real, 1 print, 2
# replay; paper masks count as print and keep their finer type in
# `attack`). The library converts it to its own convention (1 genuine, 0
# spoof) in one place, the dataset classes. A path outside the scheme is an
# error, not a guess:

# %%
try:
    parse("oulu", "Train_files/1_1_01_9.avi")
except NamingError as err:
    print(err)

# %% [markdown]
# ## Cropping faces with MTCNN
#
# The field trains on face crops, not on whole frames: every frame goes
# through the MTCNN face detector {cite}`zhang2016mtcnn`, and the most
# confident face is cropped square, with a margin, and resized (256 × 256 in
# the paper). The library's `FaceCropper` wraps the detector, whose weights
# ship inside the `facenet-pytorch` package, so it runs offline. We try it on
# a photo that comes with scikit-image:

# %%
photo = astronaut()
cropper = FaceCropper(size=128, margin=0.2)
detection = cropper.detect([photo])[0]
print(f"box {np.round(detection.box).astype(int)}, probability {detection.prob:.3f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(9, 3.2),
                         gridspec_kw={"width_ratios": [1.4, 1, 1]})
draw_detection(axes[0], photo, detection.box, detection.landmarks, "MTCNN")
axes[1].imshow(cropper.crop(photo, detection))
axes[2].imshow(FaceCropper(size=128, margin=0.2, align=True).crop(photo, detection))
titles = ["detection", "square crop", "5-point aligned crop"]
for ax, title in zip(axes, titles, strict=True):
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
plt.show()

# %% [markdown]
# `python -m mpfas_lib prepare` runs this detector on sampled frames of
# every video of a dataset and writes the crops and a manifest that the
# library's `PreparedDataset` reads. The synthetic benchmark below is
# rendered already cropped, so it skips this step.

# %% [markdown]
# ## The synthetic benchmark
#
# Without the licensed datasets, every chapter runs on a synthetic benchmark
# generated on the fly and cached. It renders procedural faces (a height
# field and an albedo per identity) under a light, and captures them with a
# simulated camera: lens blur, sensor sampling without anti-aliasing, noise,
# white balance, tone curve (a phone's also maps its tones locally, as HDR
# does, and denoises and sharpens) and JPEG. An attack is a *second* capture: the
# victim's face is first photographed under the attacker's light and then
# printed (halftone, paper texture, flat, warped or cut sheet) or shown on a
# display (subpixel grid, tone curve, glare), or printed onto a paper mask.
# Our mask render wraps the print over a face's relief (eye holes cut); the
# paper masks of ROSE-YOUTU are prints of the face, whole (`Mf`), with the
# eyes and mouth cut out (`Mc`) or cut to the upper part (`Mu`), held or worn
# over the attacker's face, so they bend
# with it but carry no relief of the victim's own, closer to a print than
# to a rigid 3D mask. Each synthetic domain has its own cameras,
# lights and instruments, chosen to echo its namesake:

# %%
bench = from_profile(S.profile)
catalogue = pd.DataFrame(bench.catalogue()).set_index("domain")
catalogue[["mirrors", "cameras", "lights", "attacks", "videos_per_subject"]]

# %% [markdown]
# One frame per domain and attack type (one subject each; blank where a
# domain has no such attack):

# %%
fig = benchmark_gallery(bench, subject=1, title=f"Synthetic benchmark, "
                        f"{S.profile.image_size} px ({S.profile.name} profile)")
plt.show()

# %% [markdown]
# The domains differ in colour cast, sharpness, noise and background, and the
# attacks in texture and shading, the same kinds of differences the real
# datasets show. Each domain's subjects are split, subject-disjoint, into
# train, validation and test:

# %%
split_sizes = pd.DataFrame(
    {split: {d: len(bench.dataset(d, split)) for d in DOMAIN_NAMES}
     for split in ("train", "val", "test")})
split_sizes.index.name = "frames per domain"
split_sizes

# %% [markdown]
# How far the domains differ is one named, versioned setting of the
# benchmark, the domain-shift dial `shift`. It moves every *nuisance* of
# every domain (the cameras' optics, sensor, ISP and JPEG quality, the lights
# and sessions and their backgrounds, the attacker's photo light, the tone
# and colour of the printers and displays) along the line from the mean over
# the five domains through the value in the domain table: at 0 the five
# domains look alike, at 1 they are as the table describes them, above 1
# they differ further. The spoof physics (halftone screens and inkjet
# dither, paper fibre, a display's subpixel grid, matte coating and PWM
# bands, the paper masks) is the same at every value, so the dial moves the
# nuisance and never the label signal. Every chapter uses the default, at
# which each MICO target is *unseen*: at the study scale an RGB network and a
# model of global image statistics alike lose several AUC points from the
# sources' validation split to the target (`benchmarks/cross_domain_gap.py`;
# chapter 08 moves the dial). The live face of one subject per domain at
# three values:

# %%
dial = (0.0, 1.0, DEFAULT_SHIFT)
fig, axes = plt.subplots(len(dial), len(DOMAIN_NAMES),
                         figsize=(1.4 * len(DOMAIN_NAMES), 4.4))
for row, value in zip(axes, dial, strict=True):
    at = from_profile(S.profile, shift=value)
    for ax, d in zip(row, DOMAIN_NAMES, strict=True):
        ax.imshow(at.render_video(d, 1, "live")[0])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(d if value == dial[0] else "", fontsize=9)
    row[0].set_ylabel(f"shift {value:g}", fontsize=9)
fig.suptitle(f"The domain-shift dial (generator v{bench.config()['version']}, "
             f"default {DEFAULT_SHIFT:g})", fontsize=10)
plt.show()

# %% [markdown]
# A protocol object bundles the source training sets, held-out source
# validation sets (for an honest threshold) and the target test set:

# %%
protocol = build_protocol("MICO:OCI-M", "synthetic", S.profile)
{"sources": {d: len(ds) for d, ds in protocol.sources.items()},
 "source_val": {d: len(ds) for d, ds in protocol.source_val.items()},
 "target": (protocol.target_domain, len(protocol.target))}

# %% [markdown]
# ## The cross-domain gap
#
# Is the synthetic benchmark a genuine cross-domain problem? A quick test:
# train a simple detector on one domain's training split and score the test
# split of every domain. If the domains differ, the in-domain AUC (the
# diagonal) beats the cross-domain AUCs. The detector is a logistic
# regression on two cheap descriptors: 8×8-pooled colours and pooled
# high-frequency energy (where print and display textures live). A matrix
# saved in the results folder (as JSON, training domain → test domain → AUC)
# is loaded instead of computed, e.g. one from the full profile.

# %%
def describe(dataset):
    x = torch.stack([dataset[i][0] for i in range(len(dataset))])
    smooth = F.interpolate(F.avg_pool2d(x, 4), size=x.shape[-2:], mode="bilinear")
    energy = F.avg_pool2d((x - smooth).abs(), 16)
    features = torch.cat([F.avg_pool2d(x, 8).flatten(1), energy.flatten(1)], 1)
    return features.numpy(), np.array(dataset.labels)


# %%
gap_file = S.results / f"nb02_cross_domain_gap_{S.profile.name}.json"
if gap_file.is_file():
    gap = pd.DataFrame(json.loads(gap_file.read_text())).T  # rows: training domain
else:
    train = {d: describe(bench.dataset(d, "train")) for d in DOMAIN_NAMES}
    test = {d: describe(bench.dataset(d, "test")) for d in DOMAIN_NAMES}
    gap = {}
    for d in DOMAIN_NAMES:
        model = make_pipeline(StandardScaler(),
                              LogisticRegression(C=0.1, max_iter=2000))
        model.fit(*train[d])
        gap[d] = {e: auc(model.predict_proba(test[e][0])[:, 1], test[e][1])
                  for e in DOMAIN_NAMES}
    gap = pd.DataFrame(gap).T  # rows: training domain, columns: test domain

# %%
fig, ax = plt.subplots(figsize=(4.6, 3.8))
im = ax.imshow(gap.values, vmin=50, vmax=100, cmap="viridis")
ax.set_xticks(range(5), gap.columns)
ax.set_yticks(range(5), gap.index)
ax.set_xlabel("test domain")
ax.set_ylabel("training domain")
for (i, j), v in np.ndenumerate(gap.values):
    ax.text(j, i, f"{v:.0f}", ha="center", va="center", color="w" if v < 85 else "k")
fig.colorbar(im, label="AUC (%)")
ax.set_title(f"Synthetic data, {S.profile.name} profile", fontsize=10)
plt.show()

# %%
diag = float(np.mean(np.diag(gap.values)))
off = float(gap.values[~np.eye(5, dtype=bool)].mean())
glue("nb02_auc_in", diag, display=False)
glue("nb02_auc_cross", off, display=False)
print(f"mean AUC in-domain {diag:.1f} %, cross-domain {off:.1f} %")

# %% [markdown]
# On the synthetic benchmark the simple detector reaches a mean AUC of
# {glue:text}`nb02_auc_in:.1f` % on the domain it was trained on and
# {glue:text}`nb02_auc_cross:.1f` % on the others. The gap is the
# phenomenon this book is about, reproduced on synthetic data in the quick
# profile; its size says nothing about the real datasets, where the paper
# and the literature report cross-domain HTERs of 10-40 %.

# %% [markdown]
# ## Summary
#
# - The paper's five datasets (M, I, C, O, Y) are five domains; protocols
#   leave one out (MICO, MICY) or train on two (M&I).
# - The library reads each dataset's naming scheme, crops faces with MTCNN
#   and builds every protocol the same way for real and synthetic data.
# - The synthetic benchmark renders genuine faces and print, replay and mask
#   attacks as physical recaptures under five domain-specific sets of
#   cameras, lights and instruments.
# - A simple detector shows a clear in-domain vs cross-domain gap on it.

# %% [markdown]
# ## Exercises
#
# ```{exercise-start}
# :label: ex-nb02-1
# ```
# Build the two-source protocol `TWO:MI-C` on the synthetic benchmark and
# count, for each source domain's training set and for the target, the
# genuine and spoof frames. Why does the paper's sampler draw the same number
# of genuine and spoof images per domain in every batch?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb02-1
# :class: dropdown
# ```
# Attacks outnumber genuine videos in every dataset. A balanced batch keeps
# the classifier from learning the class prior, and balancing per domain
# keeps any one domain from dominating the gradient.

# %% tags=["starter", "remove-cell"]
# A DataFrame: one row per set (each source's training set, the target),
# columns genuine and spoof
frame_counts = ...

# %%
two = build_protocol("TWO:MI-C", "synthetic", S.profile)
sets = {**{f"source {d}": ds for d, ds in two.sources.items()}, "target C": two.target}
frame_counts = pd.DataFrame(
    {name: {"genuine": sum(ds.labels), "spoof": len(ds) - sum(ds.labels)}
     for name, ds in sets.items()}).T
frame_counts

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb02-1", frame_counts)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb02-2
# ```
# In the protocol `MICY:ICM-Y`, which attack types of the target domain
# never occur in the source domains? Answer from the benchmark's catalogue,
# and explain why this protocol is hard for any detector.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb02-2
# :class: dropdown
# ```
# The printed set lists the target's attack types that no source domain
# has: here the paper masks, which only Y contains. A detector trained on I,
# C and M has never seen a print worn over a live face, with the live face's
# motion and its surroundings around a paper surface. Y also brings five
# phone cameras and five lightings of its own, so the genuine class shifts
# too. (In the paper's Table III, I&C&M→Y is HFN+MP's hardest setting:
# 17.24 % HTER, against 7.31 to 10.42 % in the other three.)

# %% tags=["starter", "remove-cell"]
# A set: the target's attack types that no source domain has
unseen = ...

# %%
sources, target = PROTOCOLS["MICY:ICM-Y"]
seen = {a for d in sources for a in catalogue.loc[d, "attacks"]}
unseen = set(catalogue.loc[target, "attacks"]) - seen
unseen

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb02-2", unseen)

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb02-3
# ```
# The splits are *subject-disjoint*. Check it for domain O: no subject may
# appear in two splits. Why would a subject overlap inflate test results?
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb02-3
# :class: dropdown
# ```
# With an overlap, the test set contains faces the model has memorised (the
# identity, the skin texture, the background of that session), so it can
# score well without detecting spoofs. Video ids start with the domain and
# the subject.

# %% tags=["starter", "remove-cell"]
# subjects: a dict {split: set of subject ids} for domain O's train, val and test
# splits;
# overlap: a dict {(split_a, split_b): subjects in both}, for the three pairs of splits
subjects, overlap = ..., ...

# %%
subjects = {split: {r.video_id.split("/")[1] for r in bench.dataset("O", split).records}
            for split in ("train", "val", "test")}
overlap = {(a, b): subjects[a] & subjects[b]
           for a, b in (("train", "val"), ("train", "test"), ("val", "test"))}
overlap

# %% tags=["check"]
from mpfas_lib.exercises import check

check("nb02-3", (subjects, overlap))

# %% [markdown]
# ```{solution-end}
# ```

# %% [markdown]
# ```{exercise-start}
# :label: ex-nb02-4
# ```
# Predict first, then run. The cross-domain gap above was measured at the default dial.
# The cell of this exercise trains the same detector (pooled colours and high-frequency
# energy, a logistic regression) on domain O's training split twice, at `shift = 0`, where
# the five domains share their cameras, lights and the nuisances of their instruments, and
# at the default, and scores the test splits of O, M, I and C. Write in your answer whether
# you expect the AUC on M, I and C at `shift = 0` to reach O's own, to stay where it is at
# the default, or to land in between, and why; then run the cell and compare.
# ```{exercise-end}
# ```
#
# ```{solution-start} ex-nb02-4
# :class: dropdown
# ```
# %% tags=["starter", "remove-cell"]
# Your code here: none needed. Run this cell once your prediction is written above.
dial_auc = {}
for value in (0.0, DEFAULT_SHIFT):
    at = from_profile(S.profile, shift=value)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    model.fit(*describe(at.dataset("O", "train")))
    tests = {d: describe(at.dataset(d, "test")) for d in ("O", "M", "I", "C")}
    dial_auc[f"shift {value:g}"] = {d: auc(model.predict_proba(x)[:, 1], y)
                                    for d, (x, y) in tests.items()}
pd.DataFrame(dial_auc).round(1)

# %%
dial_auc = {}
for value in (0.0, DEFAULT_SHIFT):
    at = from_profile(S.profile, shift=value)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    model.fit(*describe(at.dataset("O", "train")))
    tests = {d: describe(at.dataset(d, "test")) for d in ("O", "M", "I", "C")}
    dial_auc[f"shift {value:g}"] = {d: auc(model.predict_proba(x)[:, 1], y)
                                    for d, (x, y) in tests.items()}
dial_auc = pd.DataFrame(dial_auc)
unseen = dial_auc.loc[["M", "I", "C"]].mean()
glue("nb02_dial_o", float(dial_auc.loc["O", "shift 0"]), display=False)
glue("nb02_dial_zero", float(unseen["shift 0"]), display=False)
glue("nb02_dial_default", float(unseen[f"shift {DEFAULT_SHIFT:g}"]), display=False)
dial_auc.round(1)

# %% [markdown]
# At `shift = 0` the detector trained on O scores M, I and C at
# {glue:text}`nb02_dial_zero:.1f` % AUC on average, about as well as O's own test split
# ({glue:text}`nb02_dial_o:.1f` %); at the default, {glue:text}`nb02_dial_default:.1f` %.
# The descriptors are global colour and texture statistics, and most of what they learn on
# one domain is its nuisance: its camera's colour cast, sharpness and noise, its light, its
# printer's and display's tone. The dial moves exactly those and leaves the spoof physics
# alone, so at 0 nothing domain-specific is left to learn and the cross-domain gap
# closes; at the default the nuisances differ and the gap opens. A method for domain
# generalisation can only gain where such a gap exists (chapter 08 moves the dial with
# trained networks).
# ```{solution-end}
# ```

# %% [markdown] tags=["remove-cell"]
# ## References
#
# In the book these keys are resolved and listed in its bibliography; for JupyterLab,
# `scripts/chapter_references.py` writes this cell from `book/references.bib`.
#
# - `boulkenafet2017oulu`: Z. Boulkenafet, J. Komulainen, L. Li, X. Feng and A. Hadid
#   (2017). *OULU-NPU: A Mobile Face Presentation Attack Database with Real-World
#   Variations*. Proceedings of the 12th IEEE International Conference on Automatic Face
#   and Gesture Recognition (FG), 612–618.
# - `cai2022metapattern`: R. Cai, Z. Li, R. Wan, H. Li, Y. Hu and A. C. Kot (2022).
#   *Learning Meta Pattern for Face Anti-Spoofing*. IEEE Transactions on Information
#   Forensics and Security, 17, 1201–1213. https://doi.org/10.1109/TIFS.2022.3158551
# - `chingovska2012replay`: I. Chingovska, A. Anjos and S. Marcel (2012). *On the
#   Effectiveness of Local Binary Patterns in Face Anti-Spoofing*. Proceedings of the
#   International Conference of Biometrics Special Interest Group (BIOSIG), 1–7.
# - `li2018rose`: H. Li, W. Li, H. Cao, S. Wang, F. Huang and A. C. Kot (2018).
#   *Unsupervised Domain Adaptation for Face Anti-Spoofing*. IEEE Transactions on
#   Information Forensics and Security, 13(7), 1794–1809.
# - `wen2015msu`: D. Wen, H. Han and A. K. Jain (2015). *Face Spoof Detection With Image
#   Distortion Analysis*. IEEE Transactions on Information Forensics and Security,
#   10(4), 746–761.
# - `zhang2012casia`: Z. Zhang, J. Yan, S. Liu, Z. Lei, D. Yi and S. Z. Li (2012). *A
#   Face Antispoofing Database with Diverse Attacks*. Proceedings of the 5th IAPR
#   International Conference on Biometrics (ICB), 26–31.
# - `zhang2016mtcnn`: K. Zhang, Z. Zhang, Z. Li and Y. Qiao (2016). *Joint Face
#   Detection and Alignment Using Multitask Cascaded Convolutional Networks*. IEEE
#   Signal Processing Letters, 23(10), 1499–1503.
