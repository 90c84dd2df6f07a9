"""Train a method on a protocol (Algorithm 1 or a baseline) and write results.json.

Example: ``python -m mpfas_lib train --protocol MICO:OCI-M --method mp --data synthetic``.
Settings come from the profile, then the method, then ``--config FILE`` (JSON or TOML), then the
other flags, then ``--set key=value`` overrides (see ``mpfas_lib.training.config``). Under
``torchrun`` every rank trains on its own balanced batches and rank 0 writes the files.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from mpfas_lib.errors import UserError, os_error_line, report_error
from mpfas_lib.evaluation.selection import headline
from mpfas_lib.models.backbones import PretrainedWeightsError
from mpfas_lib.profile import PROFILES
from mpfas_lib.training.algorithm1 import NonFiniteLossError
from mpfas_lib.training.artefacts import run_folder
from mpfas_lib.training.config import RunConfig, build_config, parse_overrides
from mpfas_lib.training.distributed import cleanup, env_world_size, init_distributed
from mpfas_lib.training.loop import run_training
from mpfas_lib.training.methods import METHODS
from mpfas_lib.training.timing import seconds_per_iteration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` command's flags."""
    parser.add_argument("--protocol", default=None,
                        help="e.g. MICO:OCI-M (default), TWO:MI-C")
    parser.add_argument("--method", default=None, choices=sorted(METHODS), metavar="METHOD",
                        help=f"one of {', '.join(sorted(METHODS))} (default mp)")
    parser.add_argument("--data", default=None, choices=["synthetic", "real"],
                        help="default synthetic")
    parser.add_argument("--root", default=None, help="prepared real datasets (--data real)")
    parser.add_argument("--config", default=None, help="JSON or TOML file of settings")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one setting (repeatable), e.g. --set inner_steps=2")
    parser.add_argument("--profile", default=None, choices=sorted(PROFILES),
                        help="scale (default: $MPFAS_PROFILE, else full with CUDA, else quick)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--out", default=None, help="output folder (default results/runs)")
    parser.add_argument("--resume", action="store_true", help="continue from checkpoint.pt")
    parser.add_argument("--force", action="store_true",
                        help="train over a finished run: it is moved aside to <out>/.replaced/")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    parser.add_argument("--yes", action="store_true",
                        help="start a full-profile run on a CPU without asking (it takes days)")


def confirm_cpu_full_run(config: RunConfig, device: torch.device) -> None:
    """The full profile on a CPU: one iteration measured, then asked (``--yes`` skips this).

    Called by :func:`~.loop.check_run` once the settings, weights and device are checked.
    """
    if config.profile.name != "full" or device.type != "cpu" or env_world_size() > 1:
        return
    print("measuring one full-profile iteration on this CPU ...", file=sys.stderr)
    hours = seconds_per_iteration(config, device) * config.profile.iterations / 3600
    what = (f"the full profile on a CPU: {config.profile.iterations} iterations would take "
            f"about {hours:.0f} h here (one iteration measured)")
    if not sys.stdin.isatty():
        raise UserError(f"{what}; pass --yes to start anyway, or use a GPU or a smaller "
                        "profile", exit_code=2)
    if input(f"{what}. Start anyway? [y/N] ").strip().lower() not in ("y", "yes"):
        raise UserError("not started", exit_code=2)


def main(args: argparse.Namespace) -> int:
    """Build the config, train (distributed when launched by torchrun), print the headline."""
    try:
        config = build_config(
            protocol=args.protocol, method=args.method, profile=args.profile,
            config_file=args.config, overrides=parse_overrides(args.set), data=args.data,
            root=args.root, seed=args.seed, iterations=args.iterations, device=args.device,
            progress=False if args.no_progress else None,
        )
    except (ValueError, FileNotFoundError) as error:
        report_error(error)
        return 2
    dist = init_distributed(config.device) if env_world_size() > 1 else None
    try:  # run_training checks every argument before any data is generated (check_run)
        results = run_training(config, out=args.out, resume=args.resume, dist=dist,
                               force=args.force,
                               confirm=None if args.yes else confirm_cpu_full_run)
    except NonFiniteLossError as error:
        report_error(error)
        return 1
    except UserError as error:
        report_error(error)
        return error.exit_code
    except (PretrainedWeightsError, ValueError, FileNotFoundError) as error:
        report_error(error)
        return 2
    except OSError as error:  # a full disk: the last checkpoint written is intact
        resumable = run_folder(config, args.out).checkpoint.is_file()
        then = ("; then continue with --resume" if resumable
                else "; no checkpoint was written yet: then run the command again")
        report_error(error, f"{os_error_line(error)}{then}")
        return 1
    finally:
        if dist is not None:
            cleanup()
    if dist is None or dist.is_main:
        print(json.dumps({"run": results["run"], "wall_seconds":
                          round(results["provenance"]["wall_seconds"], 1),
                          **headline(results)}, indent=None))
    return 0
