"""Tests of the paper's tables as data, of our rows beside them and of the seed tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mpfas_lib.evaluation.paper import (
    CITATION,
    SETTING_TO_PROTOCOL,
    TABLES,
    paper_rows,
    paper_table,
)
from mpfas_lib.evaluation.tables import (
    PAPER_NAMES,
    RULE_NAMES,
    beside_paper,
    load_runs,
    pooled_table,
    row_label,
    run_rows,
    run_shift,
    seed_table,
    selection_cells,
    selection_table,
    selection_wins,
    shift_table,
    verdicts,
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


def test_beside_paper_text() -> None:
    ours = [_ours(hter=10.0, auc=90.0), _ours(hter=12.0, auc=92.0),
            _ours(protocol="MICO:OMI-C", threshold="target_eer", auc=None),
            _ours(protocol="TWO:MI-C")]  # not in Table I: left out
    df = beside_paper(ours, "I")
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


def test_beside_paper_table_iii_has_no_da_auc() -> None:
    df = beside_paper([_ours(protocol="MICY:ICM-Y", data="real", profile="full")], "III")
    assert df.loc["ADDA", "MCY-I"] == "35.40 / –"
    assert df.loc["MP (ours, real, full, thr=source)", "ICM-Y"] == "10.00 / 90.00"


def test_beside_paper_numeric() -> None:
    df = beside_paper([_ours(), _ours(hter=14.0)], "IV", numeric=True)
    assert len(df) == 14  # our rows are for Table I's protocol
    df = beside_paper([_ours(protocol="TWO:MI-O"), _ours(protocol="TWO:MI-O", hter=14.0)],
                          "IV", numeric=True)
    ours = df[df["source"] == "ours"].iloc[0]
    assert (ours["hter"], ours["n"], ours["setting"]) == (12.0, 2, "MI-O")
    assert ours["hter_std"] == pytest.approx(math.sqrt(8))
    assert df["hter"].dtype.kind == "f" and df["auc"].dtype.kind == "f"
    paper = df[(df["method"] == "HFN+MP") & (df["setting"] == "MI-C")].iloc[0]
    assert (paper["hter"], paper["auc"], paper["data"]) == (30.89, 72.48, "real")


def test_beside_paper_rejects_bad_rows() -> None:
    with pytest.raises(ValueError, match=r"ours\[0\]: missing key\(s\) \['threshold'\]"):
        beside_paper([{k: v for k, v in _ours().items() if k != "threshold"}], "I")
    with pytest.raises(ValueError, match="threshold 'best'"):
        beside_paper([_ours(threshold="best")], "I")
    with pytest.raises(ValueError, match="data 'fake'"):
        beside_paper([_ours(data="fake")], "I")


def _target(hter_target_eer: float, hter_source: float, auc: float) -> dict[str, object]:
    """Target metrics of one evaluation (frame and video level), as pad_metrics() returns them."""
    m = {"auc": auc, "eer": hter_target_eer, "hter_target_eer": hter_target_eer,
         "hter_source": hter_source, "hter_0.5": 40.0, "iso_threshold": "source"}
    return {"frame": {**m, "level": "frame", "hter_target_eer": hter_target_eer + 1.0},
            "video": {**m, "level": "video"}}


def _run(protocol: str = "MICO:OCI-M", method: str = "mp", seed: int = 0,
         hters: tuple[float, float] = (9.0, 12.0), auc: float = 91.0) -> dict[str, object]:
    """A results.json as mpfas_lib.training.loop.run_training writes it (trimmed)."""
    name = f"{protocol.replace(':', '_')}-{method}-s{seed}"
    config = {"protocol": protocol, "method": method, "data": "synthetic",
              "profile": "quick", "seed": seed, "iterations": 4, "selection": "source_val"}
    return {
        "run": name, "status": "completed", "error": None,
        "provenance": {"git_commit": "abc", "config": config, "profile": "quick",
                       "device": "cpu", "world_size": 1, "seed": seed,
                       "wall_seconds": 1.5, "iterations": 4},
        "selection": "source_val",
        "metrics": {
            "last": {"iteration": 4, "target": _target(20.0, 25.0, 80.0),
                     "source_val": {"auc": 90.0, "eer": 10.0}},
            "source_val": {"iteration": 2, "target": _target(*hters, auc),
                           "source_val": {"auc": 95.0, "eer": 5.0}},
            "target_oracle": {"iteration": 3, "target": _target(5.0, 7.0, 97.0),
                              "source_val": {"auc": 92.0, "eer": 8.0}},
        },
        "history": [{"iteration": i} for i in (2, 3, 4)],
    }


def _write_run(root: Path, run: dict[str, object]) -> Path:
    """``root/<run>/results.json``."""
    path = root / str(run["run"]) / "results.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(run))
    return path


def test_load_runs_skips_bad_files_with_warning(tmp_path: Path) -> None:
    _write_run(tmp_path, _run())
    _write_run(tmp_path, _run("TWO:MI-C", "colorlbp", hters=(30.0, 35.0), auc=70.0))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "results.json").write_text("{not json")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "results.json").write_text(json.dumps({"lr": 0.001}))
    failed = {**_run(method="erm"), "status": "failed", "metrics": {}}
    _write_run(tmp_path, failed)
    (tmp_path / "summary.json").write_text(json.dumps({"runs": 2}))  # not matched
    with pytest.warns(UserWarning) as record:
        runs = load_runs(tmp_path)
    messages = [str(w.message) for w in record]
    assert len(messages) == 3
    broken = str(tmp_path / "broken" / "results.json")
    assert any(m.startswith(f"skipping {broken}: not readable JSON") for m in messages)
    other = str(tmp_path / "other" / "results.json")
    assert any(m.startswith(f"skipping {other}: not a run's results (missing key(s)")
               for m in messages)
    assert any("MICO_OCI-M-erm-s0" in m and "no metrics (status 'failed')" in m
               for m in messages)
    assert [r["run"] for r in runs] == ["MICO_OCI-M-mp-s0", "TWO_MI-C-colorlbp-s0"]
    assert runs[0]["file"] == str(tmp_path / "MICO_OCI-M-mp-s0" / "results.json")
    assert load_runs(tmp_path / "nope") == []


def test_load_runs_pattern(tmp_path: Path) -> None:
    _write_run(tmp_path / "quick", _run())
    _write_run(tmp_path / "full", _run(seed=1))
    assert load_runs(tmp_path) == []  # default pattern: */results.json only
    runs = load_runs(tmp_path, "**/results.json")
    assert [r["provenance"]["seed"] for r in runs] == [1, 0]  # full/ sorts before quick/


def test_run_rows_rule_and_level(tmp_path: Path) -> None:
    runs = [_run(), _run("TWO:MI-C", "colorlbp", hters=(30.0, 35.0), auc=70.0)]
    rows = run_rows(runs)
    assert list(rows[["protocol", "method", "data", "profile"]].itertuples(index=False,
                                                                          name=None)) == [
        ("MICO:OCI-M", "mp", "synthetic", "quick"),
        ("TWO:MI-C", "colorlbp", "synthetic", "quick")]
    first = rows.iloc[0]
    assert (first["selection"], first["level"], first["evaluated at"]) == ("source_val",
                                                                          "video", 2)
    assert (first["hter_target_eer"], first["hter_source"], first["auc"]) == (9.0, 12.0, 91.0)
    assert (first["iterations"], first["seed"], first["device"], first["wall_seconds"]) == (
        4, 0, "cpu", 1.5)
    oracle = run_rows(runs, rule="target_oracle").iloc[0]
    assert (oracle["selection"], oracle["evaluated at"], oracle["hter_target_eer"]) == (
        "target_oracle", 3, 5.0)
    assert run_rows(runs, rule="last").iloc[0]["hter_source"] == 25.0
    assert run_rows(runs, level="frame").iloc[0]["hter_target_eer"] == 10.0
    no_source = _run()
    del no_source["metrics"]["source_val"]["target"]["video"]["hter_source"]  # type: ignore[index]
    assert math.isnan(run_rows([no_source]).iloc[0]["hter_source"])
    assert run_rows([]).empty


def test_beside_paper_takes_run_rows(tmp_path: Path) -> None:
    _write_run(tmp_path, _run())
    _write_run(tmp_path, _run(seed=1, hters=(11.0, 14.0), auc=93.0))
    _write_run(tmp_path, _run("TWO:MI-C", "colorlbp", hters=(30.0, 35.0), auc=70.0))
    _write_run(tmp_path, _run("MICO:OMI-C", "mp-k2"))  # no paper name: kept as is
    rows = run_rows(load_runs(tmp_path))
    assert PAPER_NAMES["colorlbp"] == "HFN+ColorLBP"
    assert row_label({"method": "HFN+MP", "data": "synthetic", "profile": "quick",
                      "threshold": "source"}) == "HFN+MP (ours, synthetic, quick, thr=source)"
    df = beside_paper(rows, "I", profile_label="quick, 4 it.", thresholds=["source"])
    mp = "HFN+MP (ours, synthetic, quick, 4 it., thr=source)"
    assert list(df.index) == [*TABLES["I"].rows, mp, "mp-k2 (ours, synthetic, quick, 4 it., "
                                                     "thr=source)"]
    assert df.loc[mp, "source"] == "ours"
    assert df.loc[mp, "OCI-M"] == "13.00±1.41 / 92.00±1.41"  # two seeds averaged
    assert df.loc[mp, "OMI-C"] == "– / –"
    k2 = "mp-k2 (ours, synthetic, quick, 4 it., thr=source)"
    assert (df.loc[k2, "OCI-M"], df.loc[k2, "OMI-C"]) == ("– / –", "12.00 / 91.00")
    assert df.loc["HFN+MP", "OCI-M"] == "5.24 / 97.28"  # the paper's row is unchanged

    both = beside_paper(rows, "IV")  # TWO:MI-C only
    lbp = "HFN+ColorLBP (ours, synthetic, quick, thr=target_eer)"
    assert both.loc[lbp, "MI-C"] == "30.00 / 70.00"
    assert both.loc["HFN+ColorLBP (ours, synthetic, quick, thr=source)", "MI-C"] == (
        "35.00 / 70.00")
    assert both.loc[lbp, "MI-O"] == "– / –"
    numeric = beside_paper(rows, "I", numeric=True)
    ours = numeric[(numeric["source"] == "ours") & (numeric["method"] == "HFN+MP")]
    assert set(zip(ours["threshold"], ours["n"], ours["hter"], strict=True)) == {
        ("source", 2, 13.0), ("target_eer", 2, 10.0)}
    assert set(ours["data"]) == {"synthetic"} and set(ours["profile"]) == {"quick"}


def _scored_run(protocol: str, method: str, seed: int, shift: float,
                source: bool = False) -> dict:
    """A results.json with stored video scores for rule source_val (and source_val videos)."""
    rng = np.random.default_rng([seed, int(shift * 100), len(protocol), len(method)])
    labels = np.array([1] * 40 + [0] * 40)
    scores = np.clip(0.5 + (labels - 0.5) * shift + rng.normal(0, 0.2, 80), 0, 1)
    entry = {"video_ids": [f"M/s{i % 16:03d}/v{i}" for i in range(80)],
             "labels": labels.tolist(), "scores": scores.tolist(), "source_threshold": 0.5}
    if source:
        val = np.clip(0.5 + (labels - 0.5) * shift + rng.normal(0, 0.2, 80), 0, 1)
        entry["source_val"] = {"video_ids": [f"O/O/s{i % 16:03d}/v{i}" for i in range(80)],
                               "labels": labels.tolist(), "scores": val.tolist()}
        entry["source_threshold"] = None
    video = {"hter_source": 10.0 + shift, "hter_target_eer": 9.0, "auc": 90.0}
    history = [{"iteration": i, "target": {"video": video, "frame": {"hter_min": 5.0 - i}}}
               for i in (1, 2)]
    return {"selection": "source_val", "run": f"{protocol}-{method}-s{seed}",
            "provenance": {"seed": seed, "config": {"protocol": protocol, "seed": seed,
                                                    "method": {"name": method}}},
            "metrics": {"source_val": history[0], "last": history[1]},
            "scores": {"source_val": entry, "last": entry},
            "history": history}


def _study(source: bool = False) -> list[dict]:
    """Two settings x three seeds of MP (clearly better) and RGB; a K variant on OCI-M only."""
    runs = [_scored_run(p, m, s, shift, source)
            for p in ("MICO:OCI-M", "MICO:OMI-C") for s in range(3)
            for m, shift in (("mp", 0.6), ("rgb", 0.05))]
    return runs + [_scored_run("MICO:OCI-M", "mp-k2", s, 0.5, source) for s in range(3)]


def test_seed_table_gives_intervals_and_paired_verdicts():
    table = seed_table(_study(), methods=["rgb"], n_boot=300)
    assert set(table["setting"]) == {"OCI-M", "OMI-C"}
    mp_rows = table[table["method"] == "mp"]
    assert (mp_rows["ci_low"] <= mp_rows["mean"]).all()
    assert (mp_rows["mean"] <= mp_rows["ci_high"]).all()
    assert (mp_rows["verdict"] == "reference").all() and mp_rows["p"].isna().all()
    rgb_hter = table[(table["method"] == "rgb") & (table["metric"] == "hter_source")]
    assert (rgb_hter["diff"] > 0).all() and set(rgb_hter["verdict"]) == {"worse"}
    assert (rgb_hter["p"] < 0.05).all() and (rgb_hter["p_holm"] >= rgb_hter["p"]).all()
    assert set(table["resampled"]) == {"subjects"}
    assert set(table.loc[table["metric"] == "hter_source", "threshold"]) == {
        "fixed (no source-validation scores stored)"}
    fresh = seed_table(_study(source=True), methods=["rgb"], metrics=["hter_source"], n_boot=50)
    assert set(fresh["threshold"]) == {"re-estimated"}


def test_seed_table_compares_on_matched_settings_only():
    table = seed_table(_study(), methods=["mp-k2"], metrics=["auc"], n_boot=50)
    assert set(table["setting"]) == {"OCI-M"}  # the variant ran on OCI-M only
    both = seed_table(_study(), metrics=["auc"], n_boot=50)
    assert list(both.loc[both["setting"] == "OCI-M", "method"]) == ["mp", "mp-k2", "rgb"]
    assert list(both.loc[both["setting"] == "OMI-C", "method"]) == ["mp", "rgb"]


def test_pooled_table_tests_once_over_settings():
    runs = _study()
    per = seed_table(runs, metrics=["hter_source"], n_boot=300)
    pooled = pooled_table(runs, n_boot=300).set_index("method")
    rgb = pooled.loc["rgb"]
    assert (rgb["n_settings"], rgb["settings"], rgb["n_seeds"]) == (2, "OCI-M, OMI-C", 3)
    assert rgb["diff"] == pytest.approx(per.loc[per["method"] == "rgb", "diff"].mean())
    assert rgb["verdict"] == "worse" and rgb["p"] < 0.05
    assert pooled.loc["mp-k2", "n_settings"] == 1
    low, high = sorted(pooled["p"])  # Holm over the two methods
    assert sorted(pooled["p_holm"]) == pytest.approx([2 * low, max(2 * low, high)])
    text = verdicts(pooled.reset_index())
    assert list(text.index) == ["pooled"] and list(text.columns) == ["mp-k2", "rgb"]
    assert text.loc["pooled", "rgb"].startswith("better (")


def test_verdicts_speak_for_the_reference_with_holm():
    table = seed_table(_study(), methods=["rgb"], metrics=["hter_source"], n_boot=300)
    text = verdicts(table, "hter_source")
    assert list(text.columns) == ["rgb"] and list(text.index) == ["OCI-M", "OMI-C"]
    cell = text.loc["OCI-M", "rgb"]
    diff = table.query("setting == 'OCI-M' and method == 'rgb'")["diff"].iloc[0]
    assert cell.startswith(f"better ({-diff:+.1f}; p ") and "Holm" in cell


def test_selection_table_puts_rules_side_by_side():
    runs = _study()
    wide = selection_table(runs, methods=["rgb"], n_boot=200)
    assert list(wide.columns) == list(RULE_NAMES.values())
    assert list(wide.index) == ["rgb"] and wide.index.name == "mp against"
    assert wide.loc["rgb", "source validation"].startswith("better (")
    assert "point estimate" in wide.loc["rgb", "target frame min HTER (authors' code)"]
    long = selection_table(runs, methods=["rgb"], n_boot=200, numeric=True)
    frame = long[long["rule"] == "target_frame_min_hter"].iloc[0]
    assert frame["diff"] == pytest.approx(-0.55) and np.isnan(frame["ci_low"])
    assert "no stored scores" in frame["note"]
    with pytest.raises(ValueError, match="unknown selection rule"):
        selection_table(runs, rules=["best"])


def _at_dial(run: dict, value: float | None) -> dict:
    """The run as made at dial ``value`` (None: before the dial was recorded)."""
    run = json.loads(json.dumps(run))
    if value is not None:
        run["provenance"]["config"]["shift"] = value
    return run


def test_shift_table_compares_at_each_dial_value_apart():
    runs = [_at_dial(r, v) for v in (0.0, 2.0) for r in _study() if "k2" not in r["run"]]
    runs.append(_at_dial(_study()[0], None))  # made before the dial: left out
    assert run_shift(runs[0]) == 0.0 and run_shift(runs[-1]) is None
    table = shift_table(runs, methods=["rgb"], n_boot=100)
    assert sorted(set(table["shift"])) == [0.0, 2.0]
    # each dial value is its own comparison: 3 seeds each, never pooled across values
    assert set(table["n_seeds"]) == {3}
    erm_like = table[table["method"] == "rgb"]
    assert len(erm_like) == 4 and (erm_like["p_holm"] >= erm_like["p"]).all()
    real = _at_dial(_study()[0], 1.0)
    real["provenance"]["data"] = "real"
    assert run_shift(real) is None


def test_shift_curves_draws_one_panel_per_setting():
    from mpfas_lib.viz import shift_curves

    runs = [_at_dial(r, v) for v in (0.0, 1.0) for r in _study() if "k2" not in r["run"]]
    fig = shift_curves(shift_table(runs, methods=["rgb"], n_boot=50))
    assert [ax.get_title() for ax in fig.axes] == ["OCI-M", "OMI-C"]
    with pytest.raises(ValueError, match="columns"):
        shift_curves(shift_table(runs, n_boot=50).drop(columns=["values"]))



def test_late_gains_compare_the_last_third_of_evaluations_with_the_middle_third():
    from mpfas_lib.evaluation.tables import late_gains

    def run(source: list[float], target: list[float]) -> dict:
        pairs = enumerate(zip(source, target, strict=True))
        history = [{"iteration": 10 * (i + 1), "source_val": {"auc": s},
                    "target": {"video": {"auc": t}}} for i, (s, t) in pairs]
        return {"history": history, "provenance": {"config": {
            "protocol": "MICO:OCI-M", "method": {"name": "mp"}, "seed": 3}}}

    gains = late_gains([run([50, 60, 80, 90, 95, 97], [70, 70, 80, 60, 65, 75]),
                        run([90, 91], [80, 80])])  # too short: no thirds, left out
    assert len(gains) == 1
    row = gains.iloc[0]
    assert (row.setting, row.method, row.seed) == ("OCI-M", "mp", 3)
    assert row.source_val_gain == pytest.approx((95 + 97) / 2 - (80 + 90) / 2)
    assert row.target_gain == pytest.approx((65 + 75) / 2 - (80 + 60) / 2)


def test_selection_wins_names_the_methods_beaten_after_holm_per_rule():
    long = selection_table(_study(), methods=["rgb"], n_boot=200, numeric=True)
    assert selection_cells(long).equals(selection_table(_study(), methods=["rgb"], n_boot=200))
    wins = selection_wins(long)
    assert list(wins) == list(RULE_NAMES.values())
    beaten = long[(long["p_holm"] < 0.05) & (long["diff"] > 0)]
    assert sum(len(v) for v in wins.values()) == len(beaten)
    assert wins["source validation"] == ["rgb"]  # the cell reads "better (" above
    flipped = long.assign(diff=-long["diff"])  # rgb better than mp: mp beats nobody
    assert all(v == [] for v in selection_wins(flipped).values())
