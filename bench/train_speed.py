"""Training and prediction speed: the previous recipe against the fast one, same machine, one run.

* **old**: the comparison recipe before ``freeze_layers`` (e5-small, word embeddings frozen,
  every encoder layer trained, prediction in torch float32);
* **new**: the embeddings and the lower ``--freeze-layers`` (8) layers frozen, their output
  computed once and stored (:mod:`projection.train.features`), only the upper layers and the
  head trained; prediction with the encoder on CTranslate2 int8 (``--backend ct2``).

Both train the same ``--sentences`` CoNLL-2003 English train sentences (seeded sample) for one
epoch with the same batch size, learning rate and thread count, and predict the same
``--predict`` CoNLL-2002 Spanish test sentences (fresh text: nothing of it stored). Rounds
alternate which recipe goes first, so that load from other processes hits both alike.
Reported per recipe: training sentences/s over the epoch (for the new recipe *warm*, its
frozen features already stored as they are for every later epoch, seed and system, and
*cold*, the one-time feature computation of these sentences added), and prediction
sentences/s (model loaded and, for ct2, converted beforehand: both are one-time costs).
Prediction of the new recipe is measured twice: on fresh text with the encoder on CTranslate2
int8 (``predict``), and on a test set whose frozen lower-layer outputs are already stored
(``predict_repeat``, ``--backend int8``: only the upper layers, quantized, and the head run):
the case of a comparison, where every model of a language scores the same test set and all
share the frozen layers; ``int8_tag_agreement`` is the share of its tags equal to float32's.

    PROJECTION_DATA=../shared/data python -m bench.train_speed [--quick] [--rounds 2] [--sentences 1000] \\
        [--predict 1517] [--threads N]

Writes ``bench/out/train_speed.json``; the last line printed is one JSON object with
``train_speedup`` (warm), ``train_speedup_cold``, ``predict_speedup`` (fresh text),
``predict_speedup_repeat`` (stored lower layers) and the raw figures.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--quick", action="store_true", help="300 training and 300 test sentences, 2 rounds (a few minutes)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sentences", type=int, default=1000)
    ap.add_argument("--predict", type=int, default=1517)
    ap.add_argument("--freeze-layers", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None, help="torch/CTranslate2 threads (default: measured once, then fixed)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    if args.quick:
        args.sentences, args.predict, args.rounds = 300, 300, 2

    from projection.corpora import load_corpus
    from projection.train import TrainConfig, load_model, train_model
    from projection.train.base import measure_threads
    from projection.train.config import subsample

    threads = args.threads or measure_threads(min(os.cpu_count() or 1, 8))
    train = subsample(load_corpus("conll2003-en:train"), args.sentences, args.seed)
    test = [s.tokens for s in load_corpus("conll2002-es:test")[: args.predict]]
    base = dict(lr=1e-4, epochs=1, batch_size=16, seed=args.seed, freeze_embeddings=True, threads=threads)
    recipes = {"old": TrainConfig(**base), "new": TrainConfig(**base, freeze_layers=args.freeze_layers)}
    backends = {"old": "torch", "new": "ct2"}
    results: dict[str, dict[str, list[float]]] = {n: {"train": [], "train_cold": [], "predict": []} for n in recipes}
    results["new"]["predict_repeat"] = []
    agree: list[float] = []
    load = []
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
                tagger = load_model(model_dir, backend=backends[name])
                tagger.predict(test[:8])  # warm-up; converts the encoder for ct2 (once per model)
                t0 = time.perf_counter()
                tagger.predict(test)
                results[name]["predict"].append(len(test) / (time.perf_counter() - t0))
                if name == "new":  # the test set's frozen lower layers stored once (first pass), then reused
                    exact = load_model(model_dir, backend="torch").predict(test)  # float32; stores the lower layers
                    stored = load_model(model_dir, backend="int8")
                    stored.predict(test[:8])
                    t0 = time.perf_counter()
                    tags = stored.predict(test)
                    results[name]["predict_repeat"].append(len(test) / (time.perf_counter() - t0))
                    agree.append(sum(a == b for x, y in zip(tags, exact) for a, b in zip(x, y)) / sum(map(len, exact)))
                    del stored
                print(f"round {r + 1} {name}: train {results[name]['train'][-1]:.1f} sent/s "
                      f"(cold {results[name]['train_cold'][-1]:.1f}), predict {results[name]['predict'][-1]:.1f} sent/s"
                      + (f" (stored lower layers {results[name]['predict_repeat'][-1]:.1f})" if name == "new" else "") + ", "
                      f"load {load[-1]:.1f}", flush=True)
                del tagger
    med = {n: {k: round(median(v), 2) for k, v in res.items()} for n, res in results.items()}
    summary = {
        "train_speedup": round(med["new"]["train"] / med["old"]["train"], 2),
        "train_speedup_cold": round(med["new"]["train_cold"] / med["old"]["train"], 2),
        "predict_speedup": round(med["new"]["predict"] / med["old"]["predict"], 2),
        "predict_speedup_repeat": round(med["new"]["predict_repeat"] / med["old"]["predict"], 2),
        "int8_tag_agreement": round(min(agree), 4),
        "old": med["old"], "new": med["new"], "raw": results, "threads": threads,
        "sentences": len(train), "predict_sentences": len(test), "rounds": args.rounds,
        "freeze_layers": args.freeze_layers, "load_average": [round(x, 1) for x in load],
        "command": " ".join(["python", "-m", "bench.train_speed", *sys.argv[1:]]),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "train_speed.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
