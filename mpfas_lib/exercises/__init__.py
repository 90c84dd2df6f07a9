"""Exercises of the book: self-checks, the student edition and the grader (teaching)."""

from mpfas_lib.exercises.checks import CHECKS, check, evaluate

__all__ = ["CHECKS", "check", "evaluate"]
