"""``python -m mpfas_lib COMMAND``: prepare, index, train, evaluate, sweep, weights,
student, grade."""

from __future__ import annotations

import argparse
import importlib
import sys

# Each command lives next to the concept it serves; its module exposes
# ``add_arguments(parser)`` and ``main(args) -> int``.
COMMANDS = {
    "prepare": ("mpfas_lib.data.prepare", "detect, crop and sample faces from a dataset's videos"),
    "index": ("mpfas_lib.data.index", "label a dataset's videos from their file names"),
    "train": ("mpfas_lib.training.cli", "train a method on a protocol"),
    "evaluate": ("mpfas_lib.training.evaluate_cli", "evaluate a checkpoint on a protocol"),
    "weights": ("mpfas_lib.models.weights_cli", "find (or --download) the ImageNet weights"),
    "sweep": ("mpfas_lib.training.sweep", "train the runs of a plan (protocol x method x seed)"),
    "student": ("mpfas_lib.exercises.edition", "write the student edition (no solutions)"),
    "grade": ("mpfas_lib.exercises.grade", "score a folder of submitted notebooks (CSV)"),
}


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the chosen command (only its module is imported)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m mpfas_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    module = None
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            command.description = module.__doc__
            module.add_arguments(command)
    args = parser.parse_args(argv)
    assert module is not None
    return int(module.main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
