"""Our projection against the published one of the same translation, on the training data the comparison uses.

Systems 3 and 4 of ``projection compare`` train on two projections of one translation (DeepL + AWESoME for es, nl,
de; NLLB + T-Projection for hau, swa, yor, zul). Where they differ is in the training data, not in a test set: this
counts, per language, on the sentences whose target tokens are identical in both (the same ids), the entities per
label of each, those both have (same words, same label), those only one has, and those on the same words with another
label. No gold label of any kind is read: both sides are projections.

    PROJECTION_DATA=../shared/data python -m bench.projection_agreement [--lang hau swa ...]

Prints one table per language and writes ``bench/out/projection_agreement.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from bench import OUT

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def agreement(ours, published) -> dict:
    """Entity counts of two projections of the same sentences (matched by id, identical tokens only)."""
    pub = {s.id: s for s in published}
    same = [s for s in ours if s.id in pub and s.tokens == pub[s.id].tokens]
    counts: Counter = Counter()
    for s in same:
        a = {(x.start, x.end): x.label for x in s.spans}
        b = {(x.start, x.end): x.label for x in pub[s.id].spans}
        for side, mine, other in (("ours", a, b), ("published", b, a)):
            for where, label in mine.items():
                counts[f"{side} {label}"] += 1
                if where not in other:
                    counts[f"{side} only {label}"] += 1
        for where in a.keys() & b.keys():
            counts["both" if a[where] == b[where] else f"other label {a[where]} -> {b[where]}"] += 1
    return {"ours": len(ours), "published": len(published), "same tokens": len(same), "counts": dict(counts)}


def main(argv: list[str] | None = None) -> None:
    from projection.train.compare import TARGETS, CompareOptions, _load_published, projection_path
    from projection.corpora import load_corpus

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", nargs="+", default=list(TARGETS))
    args = ap.parse_args(argv)
    out = {}
    for lang in args.lang:
        t = TARGETS[lang]
        res = agreement(load_corpus(str(projection_path(t, CompareOptions()))), _load_published(t))
        out[lang] = res
        c = res["counts"]
        labels = sorted({k.split()[-1] for k in c if k.startswith(("ours ", "published ")) and "only" not in k})
        print(f"\n{lang}: ours {res['ours']:,} sentences, {t.published_name} {res['published']:,}, identical tokens "
              f"{res['same tokens']:,}; entities on the same words with the same label: {c.get('both', 0):,}")
        print("| label | ours | published | ours only | published only |")
        print("|---|---:|---:|---:|---:|")
        for lab in labels:
            print(f"| {lab} | {c.get(f'ours {lab}', 0):,} | {c.get(f'published {lab}', 0):,} | "
                  f"{c.get(f'ours only {lab}', 0):,} | {c.get(f'published only {lab}', 0):,} |")
        other = {k: v for k, v in c.items() if k.startswith("other label")}
        print("same words, other label: " + (", ".join(f"{k[12:]} {v}" for k, v in sorted(other.items())) or "none"))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "projection_agreement.json").write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
