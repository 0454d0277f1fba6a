"""Parallel data for the alignment benchmarks, read from ``$PROJECTION_DATA``.

* INESC en-es gold: the 100 pairs of ``alignment-gold/inesc-golden-enes-binaryalign``
  (train + valid JSONL), lower-cased by its preparers.
* Europarl-NER en/es test: 799 sentence-parallel pairs.
* CoNLL-2003 English train and its DeepL Spanish translation (Easy-Label-Projection):
  ``original/en/en.conll.train.tsv`` paired block by block with
  ``automatic_projections/en2es/DeepL.50000.awesome.train.tsv`` (14,041 pairs;
  ``-DOCSTART-`` blocks are skipped in both files, which have 946 each).
"""

from __future__ import annotations

from projection.align.metrics import GoldPair, load_gold_pairs
from projection.corpora import data_dir, load_corpus
from projection.corpus import read_conll

Pairs = list[tuple[list[str], list[str]]]


def inesc() -> list[GoldPair]:
    folder = data_dir() / "alignment-gold" / "inesc-golden-enes-binaryalign"
    return load_gold_pairs([folder / "es_golden.train.jsonl", folder / "es_golden.valid.jsonl"])


def europarl_en_es() -> Pairs:
    en, es = load_corpus("europarl-ner-en:test"), load_corpus("europarl-ner-es:test")
    assert len(en) == len(es) == 799, (len(en), len(es))
    return [(a.tokens, b.tokens) for a, b in zip(en, es)]


def conll_deepl_es() -> Pairs:
    root = data_dir() / "easy-label-projection-ner"
    en = read_conll(root / "original" / "en" / "en.conll.train.tsv")
    es = read_conll(root / "automatic_projections" / "en2es" / "DeepL.50000.awesome.train.tsv")
    assert len(en) == len(es) == 14041, (len(en), len(es))
    return [(a.tokens, b.tokens) for a, b in zip(en, es)]


def lower(pairs: Pairs) -> Pairs:
    return [([w.lower() for w in s], [w.lower() for w in t]) for s, t in pairs]
