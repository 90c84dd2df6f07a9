"""The quick-profile synthetic MICO benchmark: 4 leave-one-out settings x 4 methods.

Methods: mp (HFN + MP, Algorithm 1), colorlbp (HFN + fixed ColorLBP map), rgb (single-stream
RGB), erm (HFN + MP trained end to end, "without OA"). Every run writes
``results/quick/<run>/results.json``; a summary goes to ``results/quick/summary.json`` and a
table of video-level HTER (threshold from source validation, and at the target EER) and AUC at
the source-validation-selected evaluation is printed with the total wall time.

    python benchmarks/quick_mico.py [--methods mp erm] [--protocols MICO:OCI-M] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mpfas_lib.paths import results_dir  # noqa: E402
from mpfas_lib.training.runs import build_config, headline, run_training  # noqa: E402

SETTINGS = ["MICO:OCI-M", "MICO:OMI-C", "MICO:OCM-I", "MICO:ICM-O"]
METHODS = ["mp", "colorlbp", "rgb", "erm"]


def main() -> int:
    """Run (or reuse) every quick run and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--protocols", nargs="+", default=SETTINGS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="default: results/quick")
    parser.add_argument("--reuse", action="store_true", help="keep finished runs' results")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep-checkpoints", action="store_true",
                        help="keep checkpoint.pt and model_best.pt of every run")
    args = parser.parse_args()
    out = Path(args.out) if args.out else results_dir() / "quick"
    overrides = dict(item.split("=", 1) for item in args.set)
    overrides.setdefault("progress", "false")
    overrides.setdefault("tensorboard", "false")  # keep results/ small and stable
    if not args.keep_checkpoints:  # results/ keeps JSON, traces and TensorBoard logs only
        overrides.setdefault("keep_checkpoint", "false")
        overrides.setdefault("save_best", "false")
    start = time.perf_counter()
    rows = []
    for protocol in args.protocols:
        for method in args.methods:
            cfg = build_config(protocol=protocol, method=method, profile="quick",
                               seed=args.seed, overrides=overrides)
            path = out / cfg.name() / "results.json"
            if args.reuse and path.is_file():
                result = json.loads(path.read_text())
            else:
                result = run_training(cfg, out=out, log=lambda *_: None)
            head = headline(result)
            rows.append({"protocol": protocol, "method": method,
                         "wall_seconds": result["provenance"]["wall_seconds"], **head})
            print(f"{protocol:11} {method:9} HTER(src) {head['hter_source']:6.2f}  "
                  f"HTER(tgt-EER) {head['hter_target_eer']:6.2f}  AUC {head['auc']:6.2f}  "
                  f"it {head['iteration']:4d}  {rows[-1]['wall_seconds']:5.1f} s", flush=True)
    total = time.perf_counter() - start
    print()
    header = "method     " + "".join(f"{p.split(':')[1]:>22}" for p in args.protocols)
    print("video-level HTER % (source-val threshold) / AUC %, source-val model selection")
    print(header)
    for method in args.methods:
        cells = []
        for protocol in args.protocols:
            r = next(r for r in rows if r["protocol"] == protocol and r["method"] == method)
            cells.append(f"{r['hter_source']:6.2f} / {r['auc']:6.2f}".rjust(22))
        print(f"{method:11}" + "".join(cells))
    print(f"total wall time {total:.0f} s ({len(rows)} runs)")
    summary = {"rows": rows, "total_wall_seconds": total}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
