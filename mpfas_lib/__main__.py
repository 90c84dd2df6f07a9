"""``python -m mpfas_lib COMMAND``: prepare, index, train, evaluate, sweep, report, weights,
student, grade."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from mpfas_lib.errors import UserError, debugging, os_error_line
from mpfas_lib.helptext import DocstringFormatter

# Each command lives next to the concept it serves; its module exposes
# ``add_arguments(parser)`` and ``main(args) -> int``.
COMMANDS = {
    "prepare": ("mpfas_lib.data.prepare", "detect, crop and sample faces from a dataset's videos"),
    "index": ("mpfas_lib.data.index", "label a dataset's videos from their file names"),
    "train": ("mpfas_lib.training.cli", "train a method on a protocol"),
    "evaluate": ("mpfas_lib.training.evaluate_cli", "evaluate a checkpoint on a protocol"),
    "weights": ("mpfas_lib.models.weights_cli", "find (or --download) the ImageNet weights"),
    "sweep": ("mpfas_lib.training.sweep", "train the runs of a plan (protocol x method x seed)"),
    "report": ("mpfas_lib.training.report", "a plan's results beside the paper's tables (md, csv)"),
    "student": ("mpfas_lib.exercises.edition", "write the student edition (no solutions)"),
    "grade": ("mpfas_lib.exercises.grade", "score a folder of submitted notebooks (CSV)"),
}


def error_line(error: BaseException) -> tuple[str, int] | None:
    """One line and an exit code for an error the user can act on; None for a bug."""
    # torch-heavy: imported only once a command failed, so --help and `index` start fast
    from mpfas_lib.models.backbones import PretrainedWeightsError
    from mpfas_lib.training.algorithm1 import NonFiniteLossError

    if isinstance(error, UserError):
        return str(error), error.exit_code
    if isinstance(error, (ValueError, PretrainedWeightsError)):
        return str(error), 2
    if isinstance(error, NonFiniteLossError):
        return str(error), 1
    if isinstance(error, OSError):
        if error.strerror is None:  # raised by the library with its own message
            return str(error), 2
        return os_error_line(error), 1
    return None


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command (only its module is imported).

    A user error ends with ``error: ...`` on stderr and a non-zero exit code; ``--debug`` (or
    ``MPFAS_DEBUG=1``) adds the traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv:
        os.environ["MPFAS_DEBUG"] = "1"  # the commands' own error reports see it too
        argv = [a for a in argv if a != "--debug"]
    debug = debugging()
    parser = argparse.ArgumentParser(prog="python -m mpfas_lib", description=__doc__,
                                     formatter_class=DocstringFormatter)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (also MPFAS_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        # the docstrings' lines are kept (the sweep plan's TOML example among them)
        command = sub.add_parser(name, help=help_text, formatter_class=DocstringFormatter)
        if name == chosen:
            module = importlib.import_module(module_name)
            command.description = module.__doc__
            module.add_arguments(command)
    args = parser.parse_args(argv)
    assert module is not None
    try:
        return int(module.main(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        known = error_line(error)
        if known is None or debug:
            traceback.print_exc()
        if known is None:
            return 1
        print(f"error: {known[0]}", file=sys.stderr)
        return known[1]


if __name__ == "__main__":
    sys.exit(main())
