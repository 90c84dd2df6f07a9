"""One command that checks the GPU path of mpfas_lib end to end and writes one JSON report.

    python scripts/gpu_check.py --device cuda                 # one H100/H200: about 5 minutes
                                                              # plus compiling each --compile mode
    python scripts/gpu_check.py --device cuda --compile reduce-overhead --skip-notebooks
    python scripts/gpu_check.py --device cpu --tiny --skip-notebooks   # CPU smoke: about 1 minute

Sections (each one is recorded even when it fails, and the script goes on):

- ``environment``: device, torch, CUDA, cuDNN, Python, git commit;
- ``methods``: ``mp``, ``mp-official``, ``erm``, ``rgb`` and ``colorlbp`` trained for N iterations
  of the full profile (ResNet-50 streams, 256 px, the paper's hyper-parameters) on the synthetic
  benchmark through the library's own data pipeline, with bf16 autocast and channels_last
  (CUDA only): losses finite, median seconds per iteration after 3 warm-up iterations, images/s,
  peak GPU memory and the model FLOP/s of the run (FLOPs of one counted iteration per image);
  then ``mp`` and ``erm`` again with each ``--compile`` mode (the run setting ``compile``: the
  same math, compiled passes), with their speed-up over eager;
- ``flops``: FLOPs of one Θ training step (forward + backward, ``FlopCounterMode``), timed
  separately, and the MFU against the card's dense bf16 peak (unknown cards: FLOP/s only);
- ``ratio``: seconds per iteration of Algorithm 1 over ERM (goal <= 1.6; reported, not enforced);
- ``profile``: one iteration of ``mp`` and of ``erm`` under ``torch.profiler``, eager and with
  each ``--compile`` mode: the top kernels (operators on the CPU), the kernel and CUDA-graph
  launches, and the time in loading the batches, in Φ's K inner steps and in Θ's step;
- ``resume``: a 6-iteration run against a run stopped at iteration 3 and resumed to 6 (on the CPU
  the final metrics and weights must be identical; on CUDA deterministic algorithms are switched
  on for this check and the largest difference is compared with a tolerance);
- ``ddp_smoke``: ``python -m torch.distributed.run --nproc_per_node=1 -m mpfas_lib train``;
  ``ddp_gloo``: the same with 2 CPU processes (gloo), the only one that exercises
  DistributedDataParallel, since a world of size 1 trains without it;
- ``notebooks``: ``pytest --nbmake notebooks -x`` under ``MPFAS_PROFILE=full-smoke`` (the full
  networks and image size, few iterations and identities; ``quick`` with ``--tiny``).

The report goes to ``<out>/<device-slug>-<YYYY-MM-DD>.json`` (written atomically); the exit
code is 1 when a required check failed, else 0. The sections live in :mod:`mpfas_lib.gpu`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from mpfas_lib.errors import UserError, report_error  # noqa: E402 - after the sys.path line
from mpfas_lib.files import writable_dir  # noqa: E402
from mpfas_lib.helptext import DocstringFormatter  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--tiny", action="store_true",
                        help="quick-profile sizes (64 px, small backbone, 3 iterations)")
    parser.add_argument("--out", default=str(REPO / "results" / "gpu"),
                        help="folder of the JSON report (default results/gpu)")
    parser.add_argument("--iterations", type=int, default=30,
                        help="timed iterations per method (default 30; at most 3 with --tiny)")
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--budget-s", type=float, default=None,
                        help="wall-clock budget: sections that would start later are skipped")
    parser.add_argument("--notebook-timeout", type=int, default=300,
                        help="nbmake cell timeout in seconds (default 300)")
    parser.add_argument("--ddp-gloo-procs", type=int, default=None,
                        help="CPU processes of the gloo DDP smoke (default 2 on cuda, "
                             "0 = skip on cpu)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    parser.add_argument("--compile", default=None, metavar="MODES",
                        help="comma-separated compile modes timed and profiled beside eager "
                             "(default on cuda: default,reduce-overhead,cudagraphs; on cpu: "
                             "none, i.e. eager only; max-autotune compiles for long)")
    args = parser.parse_args(argv)
    if args.compile is None:
        args.compile = "default,reduce-overhead,cudagraphs" if args.device == "cuda" else "none"
    args.compile = tuple(m for m in (part.strip() for part in args.compile.split(","))
                         if m not in ("", "none"))
    if args.ddp_gloo_procs is None:
        args.ddp_gloo_procs = 2 if args.device == "cuda" else 0
    return args


def option_problems(args: argparse.Namespace) -> list[str]:
    """Every unusable option, one line each, before any section (or torch) starts."""
    problems = []
    if args.iterations < 1:
        problems.append(f"--iterations {args.iterations}: must be >= 1")
    if args.budget_s is not None and not (math.isfinite(args.budget_s) and args.budget_s > 0):
        problems.append(f"--budget-s {args.budget_s:g}: must be a positive, finite number of "
                        "seconds (leave it out for no budget)")
    if args.notebook_timeout < 1:
        problems.append(f"--notebook-timeout {args.notebook_timeout}: must be >= 1 second")
    if args.ddp_gloo_procs < 0:
        problems.append(f"--ddp-gloo-procs {args.ddp_gloo_procs}: must be >= 0 (0 skips it)")
    try:
        writable_dir(args.out, "--out", create=False)
    except UserError as error:
        problems.append(str(error))
    return problems


def compile_problem(args: argparse.Namespace) -> str | None:
    """Why ``--compile`` cannot be used here (one line), else None (imports torch: call it after
    the environment is set)."""
    import torch

    from mpfas_lib.training.compiled import check_compile

    for mode in args.compile:
        try:
            check_compile(mode, torch.device(args.device))
        except ValueError as error:
            return f"--compile {mode}: {error}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Check the options, run every section, write the JSON report, print the table."""
    args = parse_args(argv)
    problems = option_problems(args)
    for problem in problems:
        report_error(problem)
    if problems:
        return 2
    if args.device == "cuda":
        # deterministic cuBLAS for the resume check: must be set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    else:  # the profiler's tracer would log an ERROR line for the GPU a CPU run does not have
        os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    # torch (and CUDA) start only now: after the variable above, and not for --help or bad options
    import torch

    from mpfas_lib.gpu.check import Check, CheckOptions, tune_cuda
    from mpfas_lib.gpu.report import report_path, run_sections, table, write_json_atomic

    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device: use --device cpu (with --tiny for a quick smoke)",
              file=sys.stderr)
        return 1
    if args.device == "cuda":
        tune_cuda()
    problem = compile_problem(args)
    if problem:
        report_error(problem)
        return 2
    options = CheckOptions(**{k: v for k, v in vars(args).items() if k != "out"})
    report = run_sections(Check(options), {"script": "scripts/gpu_check.py",
                                           "argv": sys.argv[1:] if argv is None else list(argv)})
    path = report_path(args.out, report, args.device)
    write_json_atomic(report, path)
    print(table(report))
    print(f"report: {path}")
    return 1 if report["failed_sections"] else 0


if __name__ == "__main__":
    sys.exit(main())
