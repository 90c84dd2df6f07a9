"""Tests of the paper's tables as data and of the comparison tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mpfas_lib.evaluation.paper import (
    CITATION,
    SETTING_TO_PROTOCOL,
    TABLES,
    paper_rows,
    paper_table,
)
from mpfas_lib.evaluation.tables import (
    comparison_table,
    load_results,
    ours_from_results,
    row_label,
)

PROTOCOLS = {
    "MICO:OCI-M", "MICO:OMI-C", "MICO:OCM-I", "MICO:ICM-O", "MICY:MCY-I", "MICY:ICY-M",
    "MICY:IMY-C", "MICY:ICM-Y", "TWO:MI-C", "TWO:MI-O",
}


def _ours(**kw: object) -> dict[str, object]:
    """One of our result rows with defaults."""
    row = {"protocol": "MICO:OCI-M", "method": "MP", "hter": 10.0, "auc": 90.0,
           "threshold": "source", "data": "synthetic", "profile": "quick"}
    row.update(kw)
    return row


def test_paper_tables_shape_and_protocols() -> None:
    assert set(SETTING_TO_PROTOCOL.values()) == PROTOCOLS
    assert {name: (len(t.rows), len(t.settings)) for name, t in TABLES.items()} == {
        "I": (5, 4), "II": (10, 4), "III": (6, 4), "IV": (7, 2),
    }
    for t in TABLES.values():
        assert len(t.headers) == len(t.settings)
        for cells in t.rows.values():
            assert len(cells) == len(t.settings)
            for h, a in cells:
                assert 0 < h < 100 and (a is None or 0 < a <= 100)
    assert "Cai" in CITATION and "2022" in CITATION


def test_paper_numbers_spot_checks() -> None:
    assert TABLES["I"].rows["HFN+Reflectance"][0] == (5.65, 97.62)
    assert TABLES["I"].rows["HFN+MP"] == TABLES["II"].rows["HFN+MP"]
    assert TABLES["II"].rows["HFN+MP"][1] == (9.11, 96.09)
    assert TABLES["II"].rows["MADDG"][1] == (24.5, 84.51)
    assert TABLES["II"].rows["SSDG-R"][3] == (15.61, 91.54)
    assert TABLES["III"].rows["HFN+MP"][3] == (17.24, 89.76)
    assert TABLES["III"].rows["DR-UDA"] == ((3.4, None), (10.2, None), (20.4, None), (29.7, None))
    assert all(a is None for m, c in TABLES["III"].rows.items() if m != "HFN+MP" for _, a in c)
    assert TABLES["IV"].rows["HFN+MP"] == ((30.89, 72.48), (20.94, 86.71))
    assert TABLES["IV"].protocols == ("TWO:MI-C", "TWO:MI-O")


def test_paper_rows_long_format() -> None:
    rows = paper_rows("III")
    assert len(rows) == 24
    ada = [r for r in rows if r["method"] == "ADA" and r["protocol"] == "MICY:IMY-C"]
    assert ada == [{"table": "III", "method": "ADA", "setting": "IMY-C",
                    "protocol": "MICY:IMY-C", "hter": 37.8, "auc": None}]
    assert paper_table("Table II") is TABLES["II"]
    with pytest.raises(ValueError, match="unknown table 'V'"):
        paper_table("V")


def test_comparison_table_text() -> None:
    ours = [_ours(hter=10.0, auc=90.0), _ours(hter=12.0, auc=92.0),
            _ours(protocol="MICO:OMI-C", threshold="target_eer", auc=None),
            _ours(protocol="TWO:MI-C")]  # not in Table I: left out
    df = comparison_table(ours, "I")
    assert list(df.columns) == ["source", "OCI-M", "OMI-C", "OCM-I", "ICM-O"]
    label = "MP (ours, synthetic, quick, thr=source)"
    assert list(df.index) == [*TABLES["I"].rows, label,
                              "MP (ours, synthetic, quick, thr=target_eer)"]
    assert df.loc["HFN+MP", "OCI-M"] == "5.24 / 97.28"
    assert df.loc["HFN+MP", "source"] == "paper (real data)"
    assert df.loc[label, "source"] == "ours"
    assert df.loc[label, "OCI-M"] == "11.00±1.41 / 91.00±1.41"  # two runs averaged
    assert df.loc[label, "OMI-C"] == "– / –"
    assert df.loc["MP (ours, synthetic, quick, thr=target_eer)", "OMI-C"] == "10.00 / –"


def test_comparison_table_table_iii_has_no_da_auc() -> None:
    df = comparison_table([_ours(protocol="MICY:ICM-Y", data="real", profile="full")], "III")
    assert df.loc["ADDA", "MCY-I"] == "35.40 / –"
    assert df.loc["MP (ours, real, full, thr=source)", "ICM-Y"] == "10.00 / 90.00"


def test_comparison_table_numeric() -> None:
    df = comparison_table([_ours(), _ours(hter=14.0)], "IV", numeric=True)
    assert len(df) == 14  # our rows are for Table I's protocol
    df = comparison_table([_ours(protocol="TWO:MI-O"), _ours(protocol="TWO:MI-O", hter=14.0)],
                          "IV", numeric=True)
    ours = df[df["source"] == "ours"].iloc[0]
    assert (ours["hter"], ours["n"], ours["setting"]) == (12.0, 2, "MI-O")
    assert ours["hter_std"] == pytest.approx(math.sqrt(8))
    assert df["hter"].dtype.kind == "f" and df["auc"].dtype.kind == "f"
    paper = df[(df["method"] == "HFN+MP") & (df["setting"] == "MI-C")].iloc[0]
    assert (paper["hter"], paper["auc"], paper["data"]) == (30.89, 72.48, "real")


def test_comparison_table_rejects_bad_rows() -> None:
    with pytest.raises(ValueError, match=r"ours\[0\]: missing key\(s\) \['threshold'\]"):
        comparison_table([{k: v for k, v in _ours().items() if k != "threshold"}], "I")
    with pytest.raises(ValueError, match="threshold 'best'"):
        comparison_table([_ours(threshold="best")], "I")
    with pytest.raises(ValueError, match="data 'fake'"):
        comparison_table([_ours(data="fake")], "I")


def _result(protocol: str = "MICO:OCI-M", **metrics: float) -> dict[str, object]:
    """A results-file dict."""
    return {"protocol": protocol, "method": "MP", "profile": "quick", "data": "synthetic",
            "seed": 0, "metrics": metrics or {"auc": 91.0, "hter_target_eer": 9.0,
                                              "hter_source": 12.0, "hter_0.5": 15.0}}


def test_load_results_and_rows(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(_result()))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.json").write_text(json.dumps([_result("TWO:MI-C", auc=70.0,
                                                                 hter_target_eer=30.0)]))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "config.json").write_text(json.dumps({"lr": 0.001}))
    (tmp_path / "notes.txt").write_text("ignored")
    with pytest.warns(UserWarning) as record:
        results = load_results(tmp_path)
    messages = " | ".join(str(w.message) for w in record)
    assert "broken.json: not readable JSON" in messages
    assert "config.json: not a results file (missing key(s)" in messages
    assert [r["protocol"] for r in results] == ["MICO:OCI-M", "TWO:MI-C"]
    assert results[0]["seed"] == 0 and results[0]["file"].endswith("a.json")
    rows = ours_from_results(results)
    assert [(r["protocol"], r["threshold"], r["hter"]) for r in rows] == [
        ("MICO:OCI-M", "target_eer", 9.0), ("MICO:OCI-M", "source", 12.0),
        ("MICO:OCI-M", "0.5", 15.0), ("TWO:MI-C", "target_eer", 30.0)]
    assert row_label(rows[1]) == "MP (ours, synthetic, quick, thr=source)"
    df = comparison_table(ours_from_results(results, thresholds=["source"]), "I")
    assert df.loc["MP (ours, synthetic, quick, thr=source)", "OCI-M"] == "12.00 / 91.00"
    with pytest.raises(ValueError, match="unknown threshold"):
        ours_from_results(results, thresholds=["oracle"])


def test_load_results_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_results(tmp_path / "nope")
