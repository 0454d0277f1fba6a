"""Which pairs' links moved when the ``embed`` aligner's batches became batches of one length.

Before, the given pipeline's align step encoded each 2,000-pair chunk's distinct sentences in
batches sorted by length (``projection.ct2.length_batches``, at most 128 sequences and 1,024
padded tokens), so a sentence shorter than its batch's longest was padded, and int8 CTranslate2
vectors of a padded sequence differ from its unpadded ones in the last bits. Now no sequence is
padded. This script replays the old batching plan on the CoNLL-2003 / DeepL es pairs, finds the
sentences it padded, and checks two links files of ``bench.align_profile`` (``--save-links``)
against it: every pair whose links differ should have a padded sentence.

    PROJECTION_DATA=../shared/data python -m bench.align_padding OLD.npz NEW.npz
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ALIGN_CHUNK = 2000


def links(path: Path) -> list[list[tuple[int, int]]]:
    z = np.load(path)
    offsets, flat = z["link_offsets"], z["links"]
    return [[tuple(x) for x in flat[offsets[k]:offsets[k + 1]].tolist()] for k in range(len(offsets) - 1)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old", type=Path)
    ap.add_argument("new", type=Path)
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    args = ap.parse_args()
    os.environ.setdefault("PROJECTION_PROGRESS", "0")
    from bench import align_data
    from projection.align.encoders import WordPieces, _load_tokenizer
    from projection.ct2 import length_batches

    pairs = align_data.conll_deepl_es()
    old, new = links(args.old), links(args.new)
    assert len(old) == len(new) == len(pairs), (len(old), len(new), len(pairs))
    pieces = WordPieces(_load_tokenizer(args.model))
    padded_pairs = set()
    padded_sentences = 0
    for start in range(0, len(pairs), ALIGN_CHUNK):
        chunk = pairs[start:start + ALIGN_CHUNK]
        index: dict[tuple[str, ...], int] = {}
        sides = [(index.setdefault(tuple(s), len(index)), index.setdefault(tuple(t), len(index))) for s, t in chunk]
        sents = list(index)
        pieces.learn(sents)
        lengths = [len(pieces.prefix) + len(pieces.body(s)[0]) + len(pieces.suffix) if s else 0 for s in sents]
        todo = [k for k, n in enumerate(lengths) if n > len(pieces.prefix) + len(pieces.suffix)]
        padded = set()
        for batch in length_batches([lengths[k] for k in todo], 128, 1024):  # the old plan
            width = max(lengths[todo[b]] for b in batch)
            padded.update(todo[b] for b in batch if lengths[todo[b]] < width)
        padded_sentences += len(padded)
        padded_pairs.update(start + p for p, (a, b) in enumerate(sides) if a in padded or b in padded)
    differ = [k for k in range(len(pairs)) if sorted(old[k]) != sorted(new[k])]
    unexplained = [k for k in differ if k not in padded_pairs]
    result = {"pairs": len(pairs), "pairs_with_different_links": len(differ),
              "pairs_with_a_padded_sentence": len(padded_pairs), "padded_sentences": padded_sentences,
              "differing_without_a_padded_sentence": unexplained,
              "links_old": sum(map(len, old)), "links_new": sum(map(len, new))}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
