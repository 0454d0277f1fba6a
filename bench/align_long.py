"""A sentence pair longer than the encoder's input limit: do its last words get links?

The first CoNLL-2003 train sentences and their DeepL Spanish translations (see
``bench/align_data.py``) are concatenated into one pair of about ``--words`` English words,
written to ``bench/out/long_pair.txt`` (``src ||| tgt``, for ``projection align``), and
aligned by ``embed`` on each backend. Reported per backend: links, the highest linked source
and target word, the number of source and target words without a link, windowed sentences.

    PROJECTION_DATA=../shared/data python -m bench.align_long [--model models/e5-small] \\
        [--words 2000] [--layer 8] [--method argmax] [--backends torch ct2]

Writes ``bench/out/align_long.json`` and prints a summary.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import OUT, save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--words", type=int, default=2000)
    ap.add_argument("--layer", type=int, default=8)
    ap.add_argument("--method", default="argmax")
    ap.add_argument("--backends", nargs="+", default=["torch", "ct2"], choices=["torch", "ct2"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("PROJECTION_PROGRESS", "0")

    from bench import align_data
    from projection.align import aligners
    from projection.align.io import write_joint

    src: list[str] = []
    tgt: list[str] = []
    for s, t in align_data.conll_deepl_es():
        if len(src) + len(s) > args.words:
            break
        src += s
        tgt += t
    OUT.mkdir(parents=True, exist_ok=True)
    write_joint([(src, tgt)], OUT / "long_pair.txt")
    result = {"source_words": len(src), "target_words": len(tgt), "pair_file": str(OUT / "long_pair.txt"), "runs": []}
    print(f"pair: {len(src):,} English words, {len(tgt):,} Spanish words -> {OUT / 'long_pair.txt'}")
    for backend in args.backends:
        al = aligners.create("embed", model=args.model, layer=args.layer, method=args.method, backend=backend,
                             threads=args.threads)
        t0 = time.perf_counter()
        (links,) = al.align([(src, tgt)])
        seconds = time.perf_counter() - t0
        row = {"backend": backend, "links": len(links), "seconds": seconds,
               "max_source_linked": max((i for i, _ in links.links), default=None),
               "max_target_linked": max((j for _, j in links.links), default=None),
               "source_unlinked": len(src) - len({i for i, _ in links.links}),
               "target_unlinked": len(tgt) - len({j for _, j in links.links}),
               "windowed_sentences": al.stats["windowed_sentences"], "signature": al.signature()}
        result["runs"].append(row)
        print(f"{backend:5s}: {row['links']:,} links; highest linked word {row['max_source_linked']} / "
              f"{row['max_target_linked']} (last: {len(src) - 1} / {len(tgt) - 1}); unlinked words "
              f"{row['source_unlinked']:,} / {row['target_unlinked']:,}; {row['windowed_sentences']} windowed "
              f"sentences; {seconds:.1f} s", flush=True)
    print(f"wrote {save('align_long.json', result)}")


if __name__ == "__main__":
    main()
