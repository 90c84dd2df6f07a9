"""Data: the synthetic benchmark, real dataset adapters, protocols and balanced sampling.

- the synthetic benchmark (chapter 02; its dial :data:`DEFAULT_SHIFT`, chapter 08):
  :data:`DOMAINS` / :data:`DOMAIN_NAMES`,
  :data:`ATTACK_TYPES`, :class:`SyntheticBenchmark`, :func:`from_profile`;
- protocols (chapter 02): :data:`PROTOCOLS`, :class:`Protocol`, :func:`build_protocol`;
- real datasets (chapter 02): :func:`parse` and :data:`LABEL_NAMES` (labels from file names),
  :class:`NamingError`, :class:`FaceCropper` (detect, align, crop),
  :class:`FrameDataset` / :class:`PreparedDataset`;
- frames and batches: :func:`to_tensor` (chapter 03), :class:`DomainBalancedBatches`
  (chapter 06), :func:`evenly_spaced` (chapter 10);
- photographs for the figures (chapter 03): :data:`PORTRAITS`, :func:`photo_batch`.

The front is lazy (:mod:`mpfas_lib.fronts`): ``index`` needs only the standard library.
"""

from mpfas_lib.fronts import lazy_front

__all__, __getattr__, __dir__ = lazy_front(__name__, {
    "datasets": ("FrameDataset", "PreparedDataset", "evenly_spaced", "to_tensor"),
    "faces": ("FaceCropper",),
    "index": ("LABEL_NAMES", "NamingError", "parse"),
    "photos": ("PORTRAITS", "photo_batch"),
    "protocols": ("PROTOCOLS", "Protocol", "build_protocol"),
    "sampling": ("DomainBalancedBatches",),
    "synthetic": ("ATTACK_TYPES", "DEFAULT_SHIFT", "DOMAINS", "DOMAIN_NAMES",
                  "SyntheticBenchmark", "from_profile"),
})
