"""Recall of gold entities with and without diacritics: where a translate-train model loses Yoruba.

    PROJECTION_DATA=../shared/data python -m bench.diacritic_recall [results/models/KEY ...] \\
        [--test masakhaner2-yor:test] [--ignore DATE]

Without model folders: the comparison's zero-shot and translate-train models of seed 13
(``docs/downstream/yor/{1,3}-seed13/system.json`` name them; they are in ``results/models``
after ``projection compare --lang yor --seeds 13 --systems 1,3 --model models/e5-small
--out docs/downstream --models results/models --keep-models``).

NLLB writes every native Yoruba word with its tone marks, and the entities of translated
CoNLL-2003 are mostly foreign names without them; MasakhaNER's Yoruba names (``Èkó``,
``Tinúbú``) carry them. This splits the gold entities of ``--test`` by whether their text has
a combining mark after NFD decomposition and prints, per model, the recall of each group (exact
span and label), one JSON line per model; with ``--train`` (a training corpus, default the
Yoruba projection ``runs/yor-nllb-given/projected.parquet``) also the share of its entity and
non-entity tokens that carry marks, and, from tokens alone, the share of words with marks in it and in
``--unlabeled`` (default MasakhaNER 2.0's Yoruba train split, its tags never read), all alphabetic words
and the capitalised ones, and how often a capitalised word (not a sentence's first) with and without
marks is an entity of the training corpus. ``--no-models`` prints only these corpus rows. Writes
bench/out/diacritic_recall.json.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path

from bench import emit, save


def has_marks(text: str) -> bool:
    return any(unicodedata.category(c) == "Mn" for c in unicodedata.normalize("NFD", text))


def share(flags: list[bool]) -> float | None:
    """The share of true flags (None for none)."""
    return round(sum(flags) / len(flags), 4) if flags else None


def word_rates(sentences) -> dict:
    """Shares of alphabetic words, and of capitalised ones, that carry a combining mark."""
    words = [t for s in sentences for t in s.tokens if any(c.isalpha() for c in t)]
    caps = [t for t in words if t[0].isupper()]
    words, caps = [has_marks(t) for t in words], [has_marks(t) for t in caps]
    return {"words": len(words), "with_marks": share(words), "capitalised": len(caps), "capitalised_with_marks": share(caps)}


def comparison_models(lang: str = "yor", systems: tuple[int, ...] = (1, 3), seed: int = 13) -> list[str]:
    folders = []
    for system in systems:
        info = json.loads((Path("docs/downstream") / lang / f"{system}-seed{seed}" / "system.json").read_text())
        folder = Path("results/models") / info["model_key"]
        if not folder.is_dir():
            raise SystemExit(f"{folder}: no such model (system {system}, seed {seed}); make it with: python -m "
                             f"projection compare --lang {lang} --seeds {seed} --systems {system} --model "
                             "models/e5-small --out docs/downstream --models results/models --keep-models")
        folders.append(str(folder))
    return folders


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="trained model folders (none: the comparison's, see above)")
    ap.add_argument("--test", default="masakhaner2-yor:test", help="test corpus (name or file)")
    ap.add_argument("--ignore", default="DATE", help="gold labels left out, comma-separated")
    ap.add_argument("--train", default="runs/yor-nllb-given/projected.parquet",
                    help="a training corpus whose tokens with marks are counted ('' for none)")
    ap.add_argument("--unlabeled", default="masakhaner2-yor:train",
                    help="target-language text whose words with marks are counted (tokens only; '' for none)")
    ap.add_argument("--no-models", action="store_true", help="only the corpus rows, no model")
    args = ap.parse_args(argv)
    from projection.corpora import load_corpus
    from projection.tags import tags_to_spans
    from projection.train.api import load_model

    models = [] if args.no_models else (args.models or comparison_models())
    ignore = {x for x in args.ignore.split(",") if x}
    test = load_corpus(args.test)
    gold = [{(sp.start, sp.end, sp.label) for sp in tags_to_spans(s.tags) if sp.label not in ignore} for s in test]
    marked = [{g for g in spans if has_marks(" ".join(s.tokens[g[0]:g[1]]))} for s, spans in zip(test, gold)]
    rows = []
    if args.train:
        train = load_corpus(args.train)
        tokens = [(tag != "O", has_marks(tok)) for s in train for tok, tag in zip(s.tokens, s.tags)]
        row = {"train": args.train, **word_rates(train)}
        for name, entity in (("entity_tokens", True), ("other_tokens", False)):
            group = [m for e, m in tokens if e == entity]
            row[name] = {"tokens": len(group), "with_marks": share(group)}
        inner = [(has_marks(tok), tag != "O") for s in train for tok, tag in list(zip(s.tokens, s.tags))[1:]
                 if tok[:1].isupper()]
        for name, marks in (("capitalised_inner_with_marks", True), ("capitalised_inner_without_marks", False)):
            group = [e for m, e in inner if m == marks]
            row[name] = {"words": len(group), "entity_share": share(group)}
        emit(rows, row)
    if args.unlabeled:
        emit(rows, {"unlabeled": args.unlabeled, **word_rates(load_corpus(args.unlabeled))})
    for folder in models:
        pred = load_model(folder).predict([s.tokens for s in test])
        found = [{(sp.start, sp.end, sp.label) for sp in tags_to_spans(p)} for p in pred]
        row: dict = {"model": folder, "test": args.test}
        for name, pick in (("with_marks", lambda g, m: g & m), ("without_marks", lambda g, m: g - m)):
            group = [pick(g, m) for g, m in zip(gold, marked)]
            n = sum(map(len, group))
            hit = sum(len(g & f) for g, f in zip(group, found))
            row[name] = {"entities": n, "recall": round(hit / n, 4) if n else None}
        emit(rows, row)
    save("diacritic_recall.json", rows)
    return rows


if __name__ == "__main__":
    main()
