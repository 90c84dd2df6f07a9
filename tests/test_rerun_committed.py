"""Chapter 08's re-run of a committed study run (mpfas_lib.training.book)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from mpfas_lib.training.book import RERUN, RERUN_METRICS, committed_seeds, rerun_table

RESULTS = Path(__file__).resolve().parent.parent / "results"


def _committed() -> list[dict]:
    folder, run = RERUN
    if not (RESULTS / folder / run / "results.json").is_file():
        pytest.skip(f"no committed {folder}/{run} in this checkout")
    return committed_seeds(RESULTS, folder, run)


def test_the_run_first_then_its_own_seeds_only() -> None:
    runs = _committed()
    stem = RERUN[1].rpartition("-s")[0]
    assert runs[0]["run"] == RERUN[1]
    assert len(runs) >= 2 and all(r["run"].rpartition("-s")[0] == stem for r in runs)


def test_the_table_holds_the_difference_and_the_seed_spread() -> None:
    runs = _committed()
    again = copy.deepcopy(runs[1])  # another seed stands in for a re-trained run
    table = rerun_table(runs, again)
    assert list(table.index) == list(RERUN_METRICS)
    first, other = (r["metrics"]["source_val"]["target"]["video"]["auc"] for r in runs[:2])
    assert table.loc["auc", "re-trained − committed"] == pytest.approx(other - first)
    assert table.loc["auc", "largest seed-to-seed difference"] >= abs(other - first)
    same = rerun_table(runs, copy.deepcopy(runs[0]))
    assert (same["re-trained − committed"] == 0).all()


def test_bad_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="-s<seed>"):
        committed_seeds(tmp_path, "study-shift", "MICO_OCI-M-erm")
    with pytest.raises(FileNotFoundError, match="no committed run"):
        committed_seeds(tmp_path, "study-shift", "MICO_OCI-M-erm-s0")
