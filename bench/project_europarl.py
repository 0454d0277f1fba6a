"""Intrinsic projection quality on Europarl-NER (en -> es, de): the shipped defaults.

For each target language, aligner (eflomal with the DeepL CoNLL-2003 translations as
extra parallel text; the e5-small embedding aligner, layer 8, itermax) and projection
method (heuristic, ngram) the gold English entities are projected onto the gold target
words and scored with seqeval (exact spans), on all 799 sentences and on each half
(the defaults were chosen on the first half; the second half is unseen). eflomal has no
seed and its alignments vary from run to run, so it is run ``--repeats`` times (3) and
every run is reported with the mean.

    PROJECTION_DATA=../shared/data python -m bench.project_europarl [--lang es de] [--aligner eflomal embed] \\
        [--backend auto|ct2|torch]

``--backend`` is the embed aligner's (default ``auto``: ct2 where the model converts).

Alignments are cached under $PROJECTION_CACHE/eval-projection, so a rerun only projects.
Writes bench/out/project_europarl.json and prints a table.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import time
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ALIGNERS = {
    "eflomal": {"aligner": "eflomal", "model": None, "aligner_options": {}, "extra_parallel": ["deepl"]},
    "embed": {"aligner": "embed", "model": str(REPO / "models" / "e5-small"),
              "aligner_options": {"layer": 8, "method": "itermax"}, "extra_parallel": None},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", nargs="+", default=["es", "de"])
    ap.add_argument("--aligner", nargs="+", default=["eflomal", "embed"], choices=sorted(ALIGNERS))
    ap.add_argument("--method", nargs="+", default=["heuristic", "ngram"])
    ap.add_argument("--repeats", type=int, default=3, help="alignment runs of eflomal (embed is deterministic: 1)")
    ap.add_argument("--backend", default="auto", choices=["auto", "ct2", "torch"], help="the embed aligner's backend")
    args = ap.parse_args()
    os.environ.setdefault("PROJECTION_PROGRESS", "0")
    logging.getLogger("projection").addHandler(logging.StreamHandler())  # the evaluation's notes on stderr
    logging.getLogger("projection").setLevel(logging.INFO)
    from projection.pipeline import eval_projection
    from projection.scores import pct

    rows = []
    for lang, al, method in itertools.product(args.lang, args.aligner, args.method):
        spec = ALIGNERS[al]
        if al == "embed":
            spec = {**spec, "aligner_options": {**spec["aligner_options"], "backend": args.backend}}
        for rep, half in itertools.product(range(args.repeats if al == "eflomal" else 1), ("all", "first", "second")):
            t0 = time.perf_counter()
            res = eval_projection(lang, spec["aligner"], spec["model"], method, spec["aligner_options"], {},
                                  spec["extra_parallel"], half, rep)
            r = {"lang": lang, "aligner": al, "backend": res["aligner"].get("backend"), "method": method, "half": half,
                 "repeat": rep, "f1": res["f1"],
                 "precision": res["precision"], "recall": res["recall"],
                 "per_label": {k: v["f1"] for k, v in res["per_label"].items()},
                 "seconds": round(time.perf_counter() - t0, 1),
                 "aligner_signature": res["aligner"], "method_signature": res["method"]}
            rows.append(r)
            print(f"{lang} {al:8s} {r['backend'] or '':5s} {method:9s} r{rep} {half:6s} F1 {pct(r['f1'], 2):>6s}  "
                  f"P {pct(r['precision'], 2):>6s}  R {pct(r['recall'], 2):>6s}  "
                  + "  ".join(f"{k} {pct(v, 1):>5s}" for k, v in r["per_label"].items()), flush=True)
    print("mean over alignment runs:")
    keys = sorted({(r["lang"], r["aligner"], r["method"], r["half"]) for r in rows})
    for key in keys:
        f1s = [r["f1"] for r in rows if (r["lang"], r["aligner"], r["method"], r["half"]) == key]
        print(f"{key[0]} {key[1]:8s} {key[2]:9s} {key[3]:6s} F1 {pct(sum(f1s) / len(f1s), 2):>6s}  "
              f"(runs: {', '.join(pct(x, 2) for x in f1s)})")
    path = save("project_europarl.json", rows)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
