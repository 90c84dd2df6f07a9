"""Lazy package fronts: ``from mpfas_lib.data import X`` imports only the module defining X.

A front whose modules differ in weight (``data``: the standard-library ``index`` beside
torch, OpenCV and scikit-image; ``viz``: matplotlib beside plotly and ipywidgets) exports its
names through :func:`lazy_front`, so that ``python -m mpfas_lib index`` and a chapter that only
draws with matplotlib do not pay for the rest (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any


def lazy_front(package: str, exports: Mapping[str, Sequence[str]]
               ) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` of a front exporting ``exports``.

    ``exports`` maps a module of ``package`` (``"synthetic"``) to the names it defines that the
    front exports; a name is imported from its module on first use and then kept.
    """
    where = {name: module for module, names in exports.items() for name in names}
    if len(where) != sum(len(names) for names in exports.values()):
        raise ValueError(f"{package}: a name is exported from two modules")
    front = importlib.import_module(package)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        setattr(front, name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(front)) | set(where))

    return sorted(where), __getattr__, __dir__
