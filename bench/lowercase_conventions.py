"""The ngram projector's lower-case conventions (``lowercase = misc | drop | keep``) compared.

1. Projection F1 on Europarl-NER es and de (e5-small, layer 8, itermax; ngram) under each
   convention: what ``projection eval-projection --lang L --aligner embed --model models/e5-small
   --method ngram --set lowercase=C --json`` prints. Europarl-NER tags lower-case words derived
   from names MISC, so ``misc`` is its convention.
2. On a finished run (default ``runs/es-given``, the DeepL Spanish translation of CoNLL-2003
   train, whose default for es is ``drop``): how many projected entities each rule touches,
   per source label, against the crude rule "every projected entity whose first word starts
   lower-case is O", and the most frequent spans that the crude rule would drop and ours keeps.

    python -m bench.lowercase_conventions [--run runs/es-given]

Writes bench/out/lowercase_conventions.json.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def europarl() -> dict:
    from projection.pipeline import eval_projection
    from projection.scores import pct

    out: dict = {}
    for lang in ("es", "de"):
        for conv in ("misc", "drop", "keep"):
            r = eval_projection(lang, "embed", "models/e5-small", "ngram", {"layer": 8, "method": "itermax"},
                                {"lowercase": conv})
            out[f"{lang}/{conv}"] = {"f1": float(pct(r["f1"], 2)), "precision": float(pct(r["precision"], 2)),
                                     "recall": float(pct(r["recall"], 2)),
                                     "per_label": {k: float(pct(v["f1"], 1)) for k, v in r["per_label"].items()}}
            print(f"  Europarl-NER {lang}, lowercase={conv}: F1 {pct(r['f1'], 2)} (P {pct(r['precision'], 2)} "
                  f"R {pct(r['recall'], 2)}); MISC F1 {pct(r['per_label']['MISC']['f1'])}", flush=True)
    return out


def affected(run: Path) -> dict:
    from projection import rundir
    from projection.project.ngram import is_lowercase_span

    m = rundir.read_manifest(run)
    total, crude, ours, misc, spared = Counter(), Counter(), Counter(), Counter(), Counter()
    spared_spans, dropped_spans = Counter(), Counter()
    for ps in rundir.read_projections(run):
        for e in ps.entities:
            if str(e.status) not in ("projected", "removed") or e.target is None:
                continue
            label = e.source.label
            toks = ps.target_tokens[e.target.start:e.target.end]
            capitalised = ps.source.tokens[e.source.start][:1].isupper()
            lower = is_lowercase_span(toks) and capitalised
            total[label] += 1
            crude[label] += toks[0][:1].islower()
            ours[label] += lower
            misc[label] += lower and len(toks) == 1 and label in ("LOC", "ORG", "PER")
            if toks[0][:1].islower() and not lower:
                spared[label] += 1
                spared_spans[" ".join(toks)] += 1
            if lower:
                dropped_spans[" ".join(toks).lower()] += 1
    res = {"run": str(run), "convention_of_run": m.get("label_convention"), "entities_projected": dict(total),
           "crude_rule": dict(crude), "drop": dict(ours), "misc_relabelled": dict(misc),
           "crude_but_not_ours": dict(spared), "crude_but_not_ours_top": spared_spans.most_common(20),
           "drop_top": dropped_spans.most_common(20)}
    print(f"  {run}: {sum(total.values()):,} projected entities; crude rule {sum(crude.values()):,}, "
          f"drop {sum(ours.values()):,} ({dict(ours)}), misc relabels {sum(misc.values()):,}; "
          f"{sum(spared.values())} start lower-case but have a capital (kept)", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default=str(REPO / "runs" / "es-given"))
    args = ap.parse_args()
    res: dict = {"load_average": os.getloadavg(), "europarl": europarl()}
    if Path(args.run, "manifest.json").exists():
        res["run"] = affected(Path(args.run))
    else:
        print(f"  {args.run}: no finished run (make project LANG=es PIPELINE=given); counts skipped")
    path = save("lowercase_conventions.json", res)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
