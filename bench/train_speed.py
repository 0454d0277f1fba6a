"""Training and prediction speed: the previous default recipe against the fast one, same machine, one run.

* **old**: the recipe before the ``precision`` option (e5-small, word embeddings frozen, every
  encoder layer trained, float32, per-parameter AdamW; prediction in torch float32), the
  comparison's recipe;
* **new**: the same model and data with bf16 autocast (``--precision``, weights, optimizer
  state and loss in float32) and the fused AdamW; ``--freeze-layers K`` also freezes the lower
  K layers (their outputs computed once and stored, :mod:`projection.train.features`);
  ``--keep-layers N`` builds it on the encoder's lower N layers only (the upper ones dropped).

Both train the same ``--sentences`` CoNLL-2003 English train sentences (seeded sample) for one
epoch with the same batch size, learning rate and thread count, and predict the same
``--predict`` CoNLL-2002 Spanish test sentences (fresh text: nothing of it stored). Rounds
alternate which recipe goes first, so that load from other processes hits both alike.
Training: sentences/s over the epoch (``train.json``'s epoch seconds; for a frozen recipe also
*cold*, the one-time feature computation added). Prediction (model loaded and, for ct2,
converted beforehand: one-time costs): the old model in torch float32; the new model with
every backend, ``torch`` in its own precision (bf16), ``torch-fp32``, ``ct2`` (the encoder on
CTranslate2 int8) and ``int8`` (torch dynamic int8 for the trained layers), each with its tag
agreement against the new model's float32 tags. ``predict_speedup`` is the fastest backend whose
agreement is at least ``--min-agreement`` (its name in ``predict_backend``).

    PROJECTION_DATA=../shared/data python -m bench.train_speed [--quick] [--rounds 2] [--sentences 1000] \\
        [--predict 1517] [--threads N] [--precision bf16] [--freeze-layers 0] [--keep-layers N]

Writes ``bench/out/train_speed.json``; the last line printed is one JSON object with
``train_speedup``, ``predict_speedup``, ``predict_backend``, the per-backend speed-ups and tag
agreements, and the raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BACKENDS = ("torch", "torch-fp32", "ct2", "int8")  # the new model's prediction backends


def _agreement(tags: list[list[str]], exact: list[list[str]]) -> float:
    return sum(a == b for x, y in zip(tags, exact) for a, b in zip(x, y)) / max(sum(map(len, exact)), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--quick", action="store_true", help="300 training and 300 test sentences, 2 rounds (a few minutes)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--predict", type=int, default=1517)
    ap.add_argument("--precision", default="bf16", help="the new recipe's precision (auto, fp32, bf16)")
    ap.add_argument("--freeze-layers", type=int, default=0, help="the new recipe's frozen lower layers")
    ap.add_argument("--keep-layers", type=int, default=None,
                    help="the new recipe keeps the encoder's lower N layers only (default: all)")
    ap.add_argument("--min-agreement", type=float, default=0.995,
                    help="a prediction backend counts when this share of its tags equals float32's")
    ap.add_argument("--threads", type=int, default=None, help="torch/CTranslate2 threads (default: measured once, then fixed)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    if args.quick:
        args.sentences, args.predict, args.rounds = 300, 300, 2

    from projection.corpora import load_corpus
    from projection.train import TrainConfig, load_model, train_model
    from projection.train.base import available_cores, measure_threads
    from projection.train.config import subsample

    threads = args.threads or measure_threads(available_cores())
    train = subsample(load_corpus("conll2003-en:train"), args.sentences, args.seed)
    test = [s.tokens for s in load_corpus("conll2002-es:test")[: args.predict]]
    base = dict(lr=1e-4, epochs=1, batch_size=16, seed=args.seed, freeze_embeddings=True, threads=threads)
    recipes = {"old": TrainConfig(**base, precision="fp32", fused_optimizer=False),
               "new": TrainConfig(**base, precision=args.precision, fused_optimizer=True, freeze_layers=args.freeze_layers,
                                      keep_layers=args.keep_layers)}
    results: dict[str, dict[str, list[float]]] = {
        "old": {"train": [], "train_cold": [], "predict": []},
        "new": {"train": [], "train_cold": [], "predict_stored": [], **{f"predict_{b}": [] for b in BACKENDS}},
    }
    agree_stored: list[float] = []
    agree: dict[str, list[float]] = {b: [] for b in BACKENDS}
    load = []

    warm = [s.tokens for s in train[:8]]  # not test sentences: their lower layers must not be stored before the timing

    def timed_predict(tagger, stored: bool = False) -> tuple[float, list[list[str]]]:
        """Sentences/s on the test sentences: fresh text (a frozen recipe's lower layers computed, nothing read
        from or written to the feature store), or with ``stored`` their lower layers read from the store
        (filled by an untimed pass first), as when many models of a comparison score the same test set."""
        if not stored:
            tagger.config = tagger.config.replace(feature_cache=False)
        tagger.predict(warm)  # warm-up; converts the encoder for ct2 (once per model)
        if stored:
            tagger.predict(test)
        t0 = time.perf_counter()
        tags = tagger.predict(test)
        return len(test) / (time.perf_counter() - t0), tags

    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = ["old", "new"] if r % 2 == 0 else ["new", "old"]
            for name in order:
                cache = Path(tmp) / f"cache-{name}-{r}"  # a fresh feature store: the cold cost is measured every round
                os.environ["PROJECTION_CACHE"] = str(cache)
                load.append(os.getloadavg()[0])
                model_dir = train_model(train, out=Path(tmp) / f"{name}-{r}", model=args.model, config=recipes[name])
                meta = json.loads((model_dir / "train.json").read_text())
                seconds = meta["history"][0]["train_seconds"]
                features = (meta.get("features") or {}).get("seconds", 0.0)
                results[name]["train"].append(len(train) / seconds)
                results[name]["train_cold"].append(len(train) / (seconds + features))
                if name == "old":
                    rate, _ = timed_predict(load_model(model_dir))
                    results[name]["predict"].append(rate)
                    line = f"predict {rate:.1f} sent/s (fp32)"
                else:
                    rate, exact = timed_predict(load_model(model_dir, precision="fp32"))
                    results[name]["predict_torch-fp32"].append(rate)
                    agree["torch-fp32"].append(1.0)
                    for backend in ("torch", "ct2", "int8"):
                        tagger = load_model(model_dir, backend="torch" if backend == "torch" else backend)
                        rate, tags = timed_predict(tagger)
                        results[name][f"predict_{backend}"].append(rate)
                        agree[backend].append(_agreement(tags, exact))
                        del tagger
                    if args.freeze_layers:
                        rate, tags = timed_predict(load_model(model_dir), stored=True)
                        results[name]["predict_stored"].append(rate)
                        agree_stored.append(_agreement(tags, exact))
                    line = "predict " + ", ".join(f"{b} {results[name][f'predict_{b}'][-1]:.1f}"
                                                  + (f" ({100 * agree[b][-1]:.2f} % tags = fp32)" if b != "torch-fp32" else "")
                                                  for b in BACKENDS) + " sent/s"
                    if args.freeze_layers:
                        line += f"; torch with the lower layers stored {results[name]['predict_stored'][-1]:.1f}"
                print(f"round {r + 1} {name} ({meta.get('precision', 'fp32')}, {meta.get('optimizer')}): train "
                      f"{results[name]['train'][-1]:.1f} sent/s"
                      + (f" (cold {results[name]['train_cold'][-1]:.1f})" if features else "")
                      + f", {line}, load {load[-1]:.1f}", flush=True)
    med = {n: {k: round(median(v), 2) for k, v in res.items()} for n, res in results.items()}
    speedups = {b: round(med["new"][f"predict_{b}"] / med["old"]["predict"], 2) for b in BACKENDS}
    agreement = {b: round(min(v), 4) for b, v in agree.items()}
    kept = [b for b in BACKENDS if agreement[b] >= args.min_agreement]
    best = max(kept, key=lambda b: speedups[b])
    summary = {
        "train_speedup": round(med["new"]["train"] / med["old"]["train"], 2),
        "predict_speedup": speedups[best],
        "predict_backend": best,
        "predict_speedups": speedups,
        "tag_agreement": agreement,
        "min_agreement": args.min_agreement,
        "old": med["old"], "new": med["new"], "raw": results, "threads": threads,
        "precision": args.precision, "freeze_layers": args.freeze_layers, "keep_layers": args.keep_layers,
        "sentences": len(train), "predict_sentences": len(test), "rounds": args.rounds,
        "load_average": [round(x, 1) for x in load],
        "command": " ".join(["python", "-m", "bench.train_speed", *sys.argv[1:]]),
    }
    if args.freeze_layers:
        summary["train_speedup_cold"] = round(med["new"]["train_cold"] / med["old"]["train"], 2)
        summary["predict_speedup_stored"] = round(med["new"]["predict_stored"] / med["old"]["predict"], 2)
        summary["tag_agreement_stored"] = round(min(agree_stored), 4)
    save("train_speed.json", summary)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
