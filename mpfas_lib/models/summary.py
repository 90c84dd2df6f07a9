"""Parameter counts of Phi and Theta, part by part, for the book (Section III, Fig. 2-3)."""

from __future__ import annotations

from torch import nn


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared tensors counted once) (chapter 04)."""
    seen: set[int] = set()
    total = 0
    for p in module.parameters():
        if id(p) in seen or (trainable_only and not p.requires_grad):
            continue
        seen.add(id(p))
        total += p.numel()
    return total


def parameter_table(model: nn.Module, extractor: nn.Module | None = None) -> list[tuple[str, int]]:
    """Rows (part, parameters): optional extractor Phi, then the model's parts, then "total"
    (chapter 05).

    Uses ``model.parts()`` when the model has it (the HFN: rgb trunk, map trunk, fusion,
    pixel head, classifier), else its direct children.
    """
    parts = model.parts() if hasattr(model, "parts") else dict(model.named_children())
    rows: list[tuple[str, int]] = []
    if extractor is not None:
        rows.append(("extractor", count_parameters(extractor)))
    rows += [(name, count_parameters(m)) for name, m in parts.items()]
    counted = sum(n for _, n in rows) - (rows[0][1] if extractor is not None else 0)
    rest = count_parameters(model) - counted
    if rest:
        rows.append(("other", rest))
    total = count_parameters(model) + (count_parameters(extractor) if extractor is not None else 0)
    rows.append(("total", total))
    return rows
