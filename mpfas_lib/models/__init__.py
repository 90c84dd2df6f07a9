"""Phi (meta pattern extractor), Theta (hierarchical fusion network), loss and score."""

from mpfas_lib.models.backbones import BACKBONES, ResNetTrunk, build_trunk
from mpfas_lib.models.cdc import CDConv2d
from mpfas_lib.models.extractor import EXTRACTOR_NAMES, MetaPatternExtractor, build_extractor
from mpfas_lib.models.hfn import FUSIONS, HFN, HFNOutput, build_hfn
from mpfas_lib.models.losses import genuine_score, hfn_loss, loss_terms
from mpfas_lib.models.pretrained import PretrainedWeightsError
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
    "count_parameters",
    "genuine_score",
    "hfn_loss",
    "loss_terms",
    "parameter_table",
]
