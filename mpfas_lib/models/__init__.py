"""Phi (meta pattern extractor), Theta (hierarchical fusion network), loss and score.

- Φ (chapter 04): :class:`CDConv2d` (central difference convolution) and its
  reference :func:`cdc_reference`, :class:`MetaPatternExtractor` / :func:`build_extractor`
  (one of :data:`EXTRACTOR_NAMES`);
- Θ (chapter 05): :class:`HFN` / :func:`build_hfn` (Eq. 9; the :data:`FUSIONS`), its
  :class:`HFNOutput`, the ResNet trunks (:data:`BACKBONES`, :func:`build_trunk`);
- the loss and the score (chapter 05): :func:`hfn_loss` (Eq. 10), :func:`genuine_score`
  (Eq. 11); :func:`count_parameters` and :func:`parameter_table` (chapters 04 and 05).
"""

from mpfas_lib.models.backbones import BACKBONES, PretrainedWeightsError, ResNetTrunk, build_trunk
from mpfas_lib.models.cdc import CDConv2d, cdc_reference
from mpfas_lib.models.extractor import EXTRACTOR_NAMES, MetaPatternExtractor, build_extractor
from mpfas_lib.models.hfn import FUSIONS, HFN, HFNOutput, build_hfn
from mpfas_lib.models.losses import genuine_score, hfn_loss, loss_terms
from mpfas_lib.models.summary import count_parameters, parameter_table

__all__ = [
    "BACKBONES",
    "EXTRACTOR_NAMES",
    "FUSIONS",
    "HFN",
    "CDConv2d",
    "HFNOutput",
    "MetaPatternExtractor",
    "PretrainedWeightsError",
    "ResNetTrunk",
    "build_extractor",
    "build_hfn",
    "build_trunk",
    "cdc_reference",
    "count_parameters",
    "genuine_score",
    "hfn_loss",
    "loss_terms",
    "parameter_table",
]
