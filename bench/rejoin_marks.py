"""Repairing words split at their combining marks (projection/textnorm.py, ``mark_groups``).

    PROJECTION_DATA=../shared/data python -m bench.rejoin_marks [--corpus masakhaner2-yor:train]

Takes a corpus whose words are intact (MasakhaNER 2.0 Yoruba train: its tokens only, no tag
is read), splits every word at each run of combining marks, as the tokeniser behind the NLLB
Yoruba file published with T-Projection did (``Amẹ́ríkà`` -> ``Amẹ ◌́ ríkà``), repairs the
split text with each mode, and scores the repaired words against the original ones (a word is
right when its start and end match, whitespace ignored). Prints one JSON line per mode and
writes bench/out/rejoin_marks.json.
"""

from __future__ import annotations

import argparse
import unicodedata

from bench import emit, save


def split_at_marks(word: str) -> list[str]:
    """``word`` cut before and after every run of combining marks."""
    pieces: list[str] = []
    for ch in word:
        mark = unicodedata.category(ch).startswith("M")
        if pieces and (mark == unicodedata.category(pieces[-1][-1]).startswith("M")):
            pieces[-1] += ch
        else:
            pieces.append(ch)
    return pieces


def word_spans(tokens: list[str]) -> set[tuple[int, int]]:
    spans, pos = set(), 0
    for tok in tokens:
        spans.add((pos, pos + len(tok)))
        pos += len(tok)
    return spans


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="masakhaner2-yor:train", help="a corpus with intact words (name or file)")
    args = ap.parse_args(argv)
    from projection.corpora import load_corpus
    from projection.textnorm import MARK_MODES, mark_groups, regroup

    gold = [[unicodedata.normalize("NFC", t) for t in s.tokens] for s in load_corpus(args.corpus)]
    split = [[p for t in s for p in split_at_marks(t)] for s in gold]
    rows = []
    for mode in MARK_MODES:
        groups, counts = mark_groups(split, mode)
        repaired = [regroup(s, g) for s, g in zip(split, groups)]
        right = sum(len(word_spans(r) & word_spans(g)) for r, g in zip(repaired, gold))
        n_rep, n_gold = sum(map(len, repaired)), sum(map(len, gold))
        row = {"corpus": args.corpus, "mode": mode, "words": n_gold, "tokens_after_split": sum(map(len, split)),
               **counts, "precision": round(right / n_rep, 4), "recall": round(right / n_gold, 4)}
        emit(rows, row)
    save("rejoin_marks.json", rows)
    return rows


if __name__ == "__main__":
    main()
