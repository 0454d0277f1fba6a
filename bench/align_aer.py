"""AER of the aligners on the 100 INESC en-es gold pairs (train + valid).

* ``embed`` with an encoder (default the offline e5-small) for every layer x method, on
  each backend of ``--backends`` (``torch``, ``ct2``; default ``auto``, the aligner's default);
* ``eflomal`` on the gold pairs alone and with extra en-es parallel text (Europarl-NER
  en/es test, 799 pairs, + CoNLL-2003 train with its DeepL Spanish translation, 14,041
  pairs), every symmetrisation from the same two directional runs; eflomal has no seed,
  so it is run ``--repeats`` times and each run is reported.

The gold words are lower-cased, so the extra text is lower-cased too (eflomal lower-cases
anyway; for ``embed`` the gold pairs are aligned as given).

    PROJECTION_DATA=../shared/data python -m bench.align_aer [--model models/e5-small] \\
        [--layers 4 6 8 10 12] [--methods argmax itermax match] [--backends torch ct2] [--repeats 3]

Writes ``bench/out/align_aer.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SYMMETRIZATIONS = ("intersection", "grow-diag", "grow-diag-final-and", "grow-diag-final", "union")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--layers", type=int, nargs="+", default=[4, 6, 8, 10, 12])
    ap.add_argument("--methods", nargs="+", default=["argmax", "itermax", "match"])
    ap.add_argument("--backends", nargs="+", default=["auto"], choices=["auto", "torch", "ct2"])
    ap.add_argument("--repeats", type=int, default=3, help="eflomal runs (it has no seed)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-embed", action="store_true")
    ap.add_argument("--skip-eflomal", action="store_true")
    args = ap.parse_args()
    os.environ.setdefault("PROJECTION_PROGRESS", "0")

    import torch

    torch.set_num_threads(args.threads)
    from bench import align_data
    from projection.align import aligners
    from projection.align.metrics import score_alignments
    from projection.align.symmetrize import symmetrize_all

    gold_pairs = align_data.inesc()
    pairs = [(g.src_words, g.tgt_words) for g in gold_pairs]
    gold = [g.gold for g in gold_pairs]
    result: dict = {"pairs": len(pairs), "gold_links": sum(len(g.sure) for g in gold), "embed": [], "eflomal": []}

    if not args.skip_embed:
        result["embed_signatures"] = {}
        for backend in args.backends:
            for layer in args.layers:
                base = aligners.create("embed", model=args.model, layer=layer, backend=backend, threads=args.threads)
                for method in args.methods:
                    al = base.variant(method=method)
                    s = score_alignments(al.align(pairs), gold)
                    row = {"backend": base.resolved_backend, "layer": layer, "method": method, **s.to_dict()}
                    result["embed"].append(row)
                    print(f"embed {row['backend']:5s} layer {layer:2d} {method:8s} AER {s.aer:.4f}  P {s.precision:.4f}  "
                          f"R {s.recall:.4f}", flush=True)
                result["embed_signatures"][base.resolved_backend] = base.signature()

    if not args.skip_eflomal:
        extra = align_data.lower(align_data.europarl_en_es() + align_data.conll_deepl_es())
        for label, extra_pairs in (("no extra text", []), (f"+{len(extra):,} extra pairs", extra)):
            for rep in range(args.repeats):
                al = aligners.create("eflomal", extra_pairs=extra_pairs)
                t0 = time.perf_counter()
                fwd, rev = al.align_directions(pairs)
                seconds = time.perf_counter() - t0
                for sym in SYMMETRIZATIONS:
                    s = score_alignments(symmetrize_all(fwd, rev, sym), gold)
                    result["eflomal"].append({"training": label, "extra_pairs": len(extra_pairs), "run": rep,
                                              "symmetrization": sym, "seconds": seconds, **s.to_dict()})
                print(f"eflomal {label} run {rep}: {seconds:.1f} s  " + "  ".join(
                    f"{r['symmetrization']} {r['aer']:.4f}" for r in result["eflomal"][-len(SYMMETRIZATIONS):]),
                    flush=True)
        result["eflomal_signature"] = al.signature()

    path = save("align_aer.json", result)
    print("\n== summary (AER on INESC en-es, 100 pairs; lower is better)")
    for backend in dict.fromkeys(r["backend"] for r in result["embed"]):
        rows = [r for r in result["embed"] if r["backend"] == backend]
        default = next((r for r in rows if r["layer"] == 8 and r["method"] == "argmax"), None)
        best = min(rows, key=lambda r: r["aer"])
        if default:
            print(f"embed {backend} default (layer 8, argmax): AER {default['aer']:.4f}")
        print(f"embed {backend} best: layer {best['layer']} {best['method']}: AER {best['aer']:.4f}")
        print("layer  " + "  ".join(f"{m:>8s}" for m in args.methods))
        for layer in args.layers:
            cells = {r["method"]: r["aer"] for r in rows if r["layer"] == layer}
            print(f"{layer:5d}  " + "  ".join(f"{cells[m]:8.4f}" for m in args.methods))
    if result["eflomal"]:
        for label in dict.fromkeys(r["training"] for r in result["eflomal"]):
            print(f"eflomal, {label}:")
            for sym in SYMMETRIZATIONS:
                aers = [r["aer"] for r in result["eflomal"] if r["training"] == label and r["symmetrization"] == sym]
                print(f"  {sym:20s} AER mean {statistics.mean(aers):.4f}  runs " + " ".join(f"{a:.4f}" for a in aers))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
