"""Answers as data: what leaves a student's kernel for grading, and how it is read back.

An answer (numbers, strings, containers, NumPy arrays, torch tensors, pandas tables) is
encoded as JSON with arrays as raw bytes in base64: no pickle, no code, so decoding a
submission's answers cannot run anything. The self-check in the notebook judges the decoded
copy too, so a student sees exactly what the grader will judge. Objects that are not data
(a network, a function) are turned into data by their exercise's probe first
(:func:`mpfas_lib.exercises.checks.register`).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

MIME = "application/vnd.mpfas.answer+json"  # the output type of the grader's export cells
MAX_BYTES = 64 * 2**20  # a bigger answer is refused (a probe makes networks small data)
_DTYPES = {"bool", "uint8", "int8", "int16", "int32", "int64", "uint16", "uint32", "uint64",
           "float16", "float32", "float64", "complex64", "complex128"}


class AnswerError(ValueError):
    """An answer that cannot be carried as data (an object, or too large)."""


def _array(value: Any, kind: str) -> dict:
    import numpy as np

    array = np.ascontiguousarray(value)
    if array.dtype.name not in _DTYPES:
        if array.dtype.kind in "OUS":
            return {"$list": kind, "shape": list(array.shape),
                    "items": [encode(v) for v in array.ravel().tolist()]}
        raise AnswerError(f"an array of dtype {array.dtype} cannot be graded")
    if array.nbytes > MAX_BYTES:
        raise AnswerError(f"an array of {array.nbytes} bytes is too large to grade")
    return {"$array": kind, "dtype": array.dtype.name, "shape": list(array.shape),
            "data": base64.b64encode(array.tobytes()).decode("ascii")}


def _index(index: Any) -> dict:
    return {"values": [encode(v) for v in index.tolist()], "levels": int(index.nlevels),
            "names": [None if n is None else str(n) for n in index.names]}


def encode(value: Any) -> Any:
    """A JSON-ready tree for ``value``; an AnswerError for what is not data."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if value is Ellipsis:
        return {"$": "..."}
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"$int": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, complex):
        return {"$complex": [value.real, value.imag]}
    kind = type(value).__module__.split(".")[0]
    if kind == "torch" and hasattr(value, "detach"):
        import torch

        tensor = value.detach().cpu().resolve_conj()
        if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16
            tensor = tensor.float()
        return _array(tensor.numpy(), "torch")
    if kind == "numpy":
        import numpy as np

        if isinstance(value, np.ndarray):
            return _array(value, "numpy")
        if isinstance(value, np.generic):
            return encode(value.item())
    if kind == "pandas":
        import pandas as pd

        if isinstance(value, pd.DataFrame):
            return {"$frame": [encode(value[c].to_numpy()) for c in value.columns],
                    "columns": _index(value.columns), "index": _index(value.index)}
        if isinstance(value, pd.Series):
            return {"$series": encode(value.to_numpy()), "index": _index(value.index),
                    "name": None if value.name is None else encode(value.name)}
    if isinstance(value, (list, tuple)):
        return {"$tuple": [encode(v) for v in value]} if isinstance(value, tuple) \
            else [encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"$set": [encode(v) for v in value]}
    if isinstance(value, Mapping):
        return {"$dict": [[encode(k), encode(v)] for k, v in value.items()]}
    raise AnswerError(f"a {type(value).__name__} is not data the grader can read")


def _decode_array(tree: dict) -> Any:
    import numpy as np

    if "$list" in tree:
        array = np.empty(len(tree["items"]), dtype=object)
        array[:] = [decode(v) for v in tree["items"]]
        return array.reshape(tree["shape"])
    if tree["dtype"] not in _DTYPES:
        raise AnswerError(f"dtype {tree['dtype']!r} is not allowed")
    data = base64.b64decode(tree["data"], validate=True)
    array = np.frombuffer(data, dtype=tree["dtype"]).reshape(tree["shape"]).copy()
    if tree["$array"] == "torch":
        import torch

        return torch.from_numpy(array)
    return array


def _decode_index(tree: dict) -> Any:
    import pandas as pd

    values = [decode(v) for v in tree["values"]]
    if tree["levels"] > 1:
        return pd.MultiIndex.from_tuples(values, names=tree["names"])
    return pd.Index(values, name=tree["names"][0] if tree["names"] else None)


def decode(tree: Any) -> Any:
    """The value an :func:`encode` tree stands for (arrays, tables, containers)."""
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, list):
        return [decode(v) for v in tree]
    if not isinstance(tree, dict):
        raise AnswerError(f"unexpected {type(tree).__name__} in an answer")
    if "$" in tree:
        return Ellipsis
    if "$int" in tree:
        return int(tree["$int"])
    if "$float" in tree:
        return float(tree["$float"])
    if "$complex" in tree:
        return complex(*tree["$complex"])
    if "$array" in tree or "$list" in tree:
        return _decode_array(tree)
    if "$tuple" in tree:
        return tuple(decode(v) for v in tree["$tuple"])
    if "$set" in tree:
        return {_hashable(decode(v)) for v in tree["$set"]}
    if "$dict" in tree:
        return {_hashable(decode(k)): decode(v) for k, v in tree["$dict"]}
    import pandas as pd

    if "$frame" in tree:
        columns = _decode_index(tree["columns"])
        data = dict(zip(range(len(columns)), (decode(c) for c in tree["$frame"]), strict=True))
        frame = pd.DataFrame(data, index=_decode_index(tree["index"]))
        frame.columns = columns
        return frame
    if "$series" in tree:
        name = tree.get("name")
        return pd.Series(decode(tree["$series"]), index=_decode_index(tree["index"]),
                         name=None if name is None else decode(name))
    raise AnswerError(f"unknown answer part {sorted(tree)[:3]}")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def dumps(value: Any) -> str:
    """``value`` as JSON text (an AnswerError when it is not data or too large)."""
    text = json.dumps(encode(value), allow_nan=False)
    if len(text) > 2 * MAX_BYTES:
        raise AnswerError(f"the answer is too large to grade ({len(text)} bytes)")
    return text


def loads(text: str) -> Any:
    """The value of :func:`dumps`'s text; an AnswerError for anything malformed."""
    if len(text) > 2 * MAX_BYTES:
        raise AnswerError("the answer is too large to grade")
    try:
        return decode(json.loads(text))
    except AnswerError:
        raise
    except (ValueError, TypeError, KeyError, RecursionError) as err:
        raise AnswerError(f"malformed answer ({type(err).__name__})") from None
