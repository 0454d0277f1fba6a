"""Composed encoder input (projection/textnorm.py): test F1 of the same trained models with and without it.

    PROJECTION_DATA=../shared/data python -m bench.composed_input --test masakhaner2-yor:test \\
        --ignore DATE,MISC --base models/e5-small results/models/KEY [results/models/KEY ...]

Without model folders it trains one first: the comparison's zero-shot recipe (system 1) on
``--train`` seeded CoNLL-2003 sentences (default 2,000). Each model predicts the test set twice:
as it loads (its tokenizer composes: NFC in front of a normaliser that does not), and with the
normaliser of ``--base`` (the encoder folder it was trained from) put back, as before the change. Prints one JSON line per model and, last, a JSON summary;
writes bench/out/composed_input.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench import emit, save


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="trained model folders (none: train one)")
    ap.add_argument("--test", default="masakhaner2-yor:test", help="test corpus (name or file)")
    ap.add_argument("--base", default="models/e5-small", help="the encoder folder the models were trained from")
    ap.add_argument("--ignore", default="DATE,MISC", help="labels removed from gold and predictions, comma-separated")
    ap.add_argument("--train", type=int, default=2000, help="without model folders: CoNLL-2003 sentences to train on")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    from transformers import AutoTokenizer

    from projection.corpora import load_corpus
    from projection.textnorm import composes, not_composed
    from projection.train.api import evaluate, load_model

    ignore = [x for x in args.ignore.split(",") if x]
    test = load_corpus(args.test)
    words = [w for s in test for w in s.tokens]
    raw = AutoTokenizer.from_pretrained(args.base).backend_tokenizer.normalizer
    trained = None
    if not args.models:
        from projection.train.api import train_model
        from dataclasses import replace

        from projection.train.compare import EARLIER_RECIPE, SOURCE_TRAIN, CompareOptions
        from projection.train.config import subsample

        trained = tempfile.TemporaryDirectory()
        # the zero-shot recipe of the measurement in docs/train.md: the comparison's earlier one
        opts = replace(CompareOptions(**EARLIER_RECIPE), model=args.base, max_train=args.train)
        train = subsample(load_corpus(SOURCE_TRAIN), args.train, args.seed)
        args.models = [str(train_model(train, out=Path(trained.name) / "zero-shot", model=args.base,
                                       dev=load_corpus(opts.dev), config=opts.config(args.seed, ())))]
    rows = []
    for model_dir in args.models:
        row = {"model": Path(model_dir).name}
        with tempfile.TemporaryDirectory() as tmp:
            tagger = load_model(model_dir)
            row["composes"] = composes(tagger.tokenizer)
            row["f1_composed"] = round(100 * evaluate(tagger, test, Path(tmp) / "c", ignore=ignore)["f1"], 2)
            tagger.tokenizer.backend_tokenizer.normalizer = raw  # the tokenizer the model was trained with
            row["f1_as_before"] = round(100 * evaluate(tagger, test, Path(tmp) / "r", ignore=ignore)["f1"], 2)
        row["gain"] = round(row["f1_composed"] - row["f1_as_before"], 2)
        emit(rows, row)
    gains = [r["gain"] for r in rows]
    summary = {"test": args.test, "words": len(words), "words_not_nfc": len(not_composed(words)),
               "models": len(rows), "mean_gain": round(sum(gains) / len(gains), 2), "min_gain": min(gains),
               "max_gain": max(gains), "rows": rows}
    save("composed_input.json", summary)
    if trained is not None:
        trained.cleanup()
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    return summary


if __name__ == "__main__":
    main()
