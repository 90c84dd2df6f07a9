"""The committed study model that chapters 05 and 11 show (results/study/explorer/)."""

from __future__ import annotations

import torch

from mpfas_lib.models import HFN
from mpfas_lib.paths import REPO_ROOT
from mpfas_lib.training import trained_models


def test_trained_models_loads_the_committed_study_run(tmp_path) -> None:
    loaded = trained_models(REPO_ROOT / "results")
    assert loaded is not None
    phi, theta, label = loaded
    assert isinstance(theta, HFN) and not theta.training and not phi.training
    # a re-training of the committed run (its model_best.pt is not committed), and it says so
    assert label.startswith("study run MICO_OCI-M-mp-s0, iteration 300, synthetic (re-trained ")
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        out = theta(x, phi(x))
    assert out.logits.shape == (2, 2) and out.pixel_map.shape == (2, 1, 8, 8)
    assert trained_models(tmp_path) is None
