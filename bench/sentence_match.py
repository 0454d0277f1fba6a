"""Sentence matching (projection.sentalign) on real translations.

1. **NLLB files of T-Projection** (``tprojection-nllb/{hau,swa,yor,zul}.train.txt``, 13,881 to
   14,031 sentences for CoNLL-2003 train's 14,041): matched / unmatched counts, merges, splits,
   the distinct rate, seconds. The source is read as the given engine reads it (detokenised).
   Then the zul sentences shuffled: what a file that does not translate the source scores.
2. **Synthetic damage of a line-parallel translation** (the DeepL Spanish translation of
   CoNLL-2003 train published by Easy-Label-Projection): 1 % of the target sentences deleted at
   random and 0.5 % of neighbouring pairs merged, for several seeds. Every target sentence has a
   known source (one sentence, or two for a merge); a target is *recovered* when the matcher
   gives it exactly that source. Errors are split into **wrong pairs** (a source sentence kept
   with a target that is not exactly its translation: a missed merge or a misplaced skip) and
   **lost pairs** (a source sentence whose own translation is there but that is dropped, e.g.
   a deletion taken for a merge: safe, but a pair less).

    python -m bench.sentence_match [--seeds 3] [--lang es] [--skip-nllb]

Writes bench/out/sentence_match.json.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def damage(tgt: list[str], p_delete: float, p_merge: float, seed: int):
    """(damaged target, truth): truth[j] = the source indices target j translates."""
    rng = random.Random(seed)
    n = len(tgt)
    delete = set(rng.sample(range(1, n - 1), int(p_delete * n)))
    free = [i for i in range(1, n - 2) if i not in delete and i + 1 not in delete]
    merge: set[int] = set()
    for i in rng.sample(free, len(free)):
        if len(merge) >= int(p_merge * n):
            break
        if not {i - 1, i, i + 1} & merge:
            merge.add(i)
    out, truth, i = [], [], 0
    while i < n:
        if i in delete:
            i += 1
        elif i in merge:
            out.append(tgt[i] + " " + tgt[i + 1])
            truth.append((i, i + 1))
            i += 2
        else:
            out.append(tgt[i])
            truth.append((i,))
            i += 1
    return out, truth, len(delete), len(merge)


def synthetic(lang: str, seeds: int) -> dict:
    from projection.corpora import data_dir, load_corpus
    from projection.sentalign import match_sentences
    from projection.translate.given import GivenTranslator
    from projection.translate.text import detokenize

    src_sents = load_corpus("conll2003-en:train")
    src = [detokenize(s.tokens, "en") for s in src_sents]
    path = data_dir() / f"easy-label-projection-ner/automatic_projections/en2{lang}/DeepL.50000.awesome.train.tsv"
    tgt = GivenTranslator(tgt_lang=lang, path=str(path)).translate(src)  # line-parallel: by position
    runs = []
    for seed in range(seeds):
        damaged, truth, n_del, n_merge = damage(tgt, 0.01, 0.005, seed)
        t0 = time.perf_counter()
        m = match_sentences(src, damaged)
        seconds = time.perf_counter() - t0
        got = {}
        for kind, s, t, _ in m.links:
            if kind in ("1-1", "1-2", "2-1"):
                for j in t:
                    got[j] = s
        wrong = [j for j in range(len(damaged)) if got.get(j) != truth[j]]
        kept = {m.target_of(i): i for i in range(len(src)) if m.target_of(i) is not None}
        wrong_pairs = sum(1 for t, i in kept.items() if len(t) != 1 or truth[t[0]] != (i,))
        own = {truth[j][0] for j in range(len(damaged)) if len(truth[j]) == 1}
        lost = sum(1 for i in own if m.target_of(i) is None)
        runs.append({"seed": seed, "deleted": n_del, "merged_pairs": n_merge, "targets": len(damaged),
                     "recovered": len(damaged) - len(wrong), "exact_rate": round(1 - len(wrong) / len(damaged), 5),
                     "wrong_pairs": wrong_pairs, "lost_pairs": lost, "seconds": round(seconds, 1),
                     "errors": [{"target": j, "true_source": list(truth[j]), "matched_source": list(got.get(j) or [])}
                                for j in wrong]})
        print(f"  {lang} seed {seed}: {n_del} deleted, {n_merge} pairs merged -> {len(damaged):,} targets; "
              f"recovered {len(damaged) - len(wrong):,} ({runs[-1]['exact_rate']:.3%}); wrong pairs {wrong_pairs}, "
              f"lost pairs {lost}; {seconds:.1f} s", flush=True)
    return {"translation": str(path.relative_to(data_dir())), "runs": runs}


def nllb() -> dict:
    from projection.corpora import load_corpus
    from projection.sentalign import MIN_DISTINCT, MIN_MATCHED, match_sentences
    from projection.translate.text import detokenize

    src = [detokenize(s.tokens, "en") for s in load_corpus("conll2003-en:train")]
    out = {}
    for lang in ("hau", "swa", "yor", "zul"):
        tgt = load_corpus(f"tprojection-nllb-{lang}:train")
        t0 = time.perf_counter()
        m = match_sentences(src, [t.tokens for t in tgt])
        seconds = time.perf_counter() - t0
        info = m.info()
        keys = ("source_sentences", "target_sentences", "matched", "unmatched", "one_to_one", "splits_1_2",
                "merges_2_1", "skipped_source", "skipped_target", "distinct_rate")
        out[lang] = {**{k: info[k] for k in keys}, "seconds": round(seconds, 1), "params": m.params}
        print(f"  {lang}: {info['target_sentences']:,} translations, {info['matched']:,} of "
              f"{info['source_sentences']:,} source sentences matched ({info['one_to_one']:,} 1-1, "
              f"{info['splits_1_2']} splits), {info['unmatched']} unmatched ({info['merges_2_1']} merges, "
              f"{info['skipped_source']} skipped), {info['skipped_target']} translations unused; "
              f"distinct {info['distinct_rate']:.1%}; {seconds:.1f} s", flush=True)
    # a file that is not a translation of this source: the zul sentences shuffled
    tgt = [t.tokens for t in load_corpus("tprojection-nllb-zul:train")]
    random.Random(0).shuffle(tgt)
    m = match_sentences(src, tgt)
    out["zul-shuffled"] = {"matched": m.matched, "distinct_rate": round(m.distinct_rate, 4)}
    print(f"  zul shuffled: {m.matched:,} matched, distinct {m.distinct_rate:.1%} (refused below "
          f"{MIN_MATCHED:.0%} matched or {MIN_DISTINCT:.0%} distinct)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--lang", default="es", help="DeepL translation to damage: es, de or nl")
    ap.add_argument("--skip-nllb", action="store_true")
    args = ap.parse_args()
    res: dict = {"load_average": os.getloadavg()}
    if not args.skip_nllb:
        print("NLLB translations (T-Projection):")
        res["nllb"] = nllb()
    print(f"DeepL {args.lang} with 1 % deleted and 0.5 % of pairs merged:")
    res["synthetic"] = synthetic(args.lang, args.seeds)
    res["load_average_end"] = os.getloadavg()
    path = save("sentence_match.json", res)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
