"""The GPU check of ``scripts/gpu_check.py``, one module per kind of section.

- :mod:`~mpfas_lib.gpu.check`: the state of one check, its device and the ``environment``;
- :mod:`~mpfas_lib.gpu.speed`: seconds per iteration of each method, FLOP/s, MFU, peak memory;
- :mod:`~mpfas_lib.gpu.trace`: a profiler summary of one iteration, eager and compiled;
- :mod:`~mpfas_lib.gpu.resume`: a stopped and resumed run against a straight one;
- :mod:`~mpfas_lib.gpu.launch`: the torchrun smokes and the notebooks, in child processes;
- :mod:`~mpfas_lib.gpu.report`: the sections in order, the JSON report and its table.
"""
