"""mpfas_lib: the tested helper library of the mpfas book.

Learning Meta Pattern for Face Anti-Spoofing (Cai et al., IEEE TIFS 2022),
rebuilt as small modules named after the paper's concepts. The chapters import through the
packages' fronts: :mod:`mpfas_lib.data`, :mod:`mpfas_lib.features`, :mod:`mpfas_lib.models`,
:mod:`mpfas_lib.training`, :mod:`mpfas_lib.evaluation`, :mod:`mpfas_lib.viz`, and the
top-level :mod:`mpfas_lib.profile` and :mod:`mpfas_lib.runtime`. Importing ``mpfas_lib`` itself
imports nothing else.
"""

__version__ = "0.1.0"
