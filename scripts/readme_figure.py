"""Render the README's picture: the synthetic benchmark gallery of chapter 3 (quick profile).

    .venv/bin/python scripts/readme_figure.py  # writes book/figures/synthetic_benchmark.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from mpfas_lib.data.synthetic import from_profile  # noqa: E402
from mpfas_lib.helptext import DocstringFormatter  # noqa: E402
from mpfas_lib.profile import get_profile  # noqa: E402
from mpfas_lib.viz.figures import benchmark_gallery  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "book" / "figures" / "synthetic_benchmark.png"


def main() -> None:
    """Draw one frame per domain and attack type and save it next to the book's figures."""
    argparse.ArgumentParser(description=__doc__, formatter_class=DocstringFormatter).parse_args()
    profile = get_profile("quick")
    fig = benchmark_gallery(from_profile(profile), subject=1,
                            title="Synthetic benchmark: five domains, genuine and attacks")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
