"""mpfas_lib: the tested helper library of the mpfas book.

Learning Meta Pattern for Face Anti-Spoofing (Cai et al., IEEE TIFS 2022),
rebuilt as small modules named after the paper's concepts.
"""

__version__ = "0.1.0"
