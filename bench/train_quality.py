"""Does the fast recipe lose F1? The previous recipe against fast variants at the same budget, over seeds.

Every variant trains the zero-shot tagger (system 1 of the comparison) on the same seeded
sample of CoNLL-2003 English train sentences with the same epochs and batch size, keeps the
best English dev evaluation (no target-language label is used), and is scored on the full
CoNLL-2002 Spanish test set and on MasakhaNER 2.0 Swahili test (PER/ORG/LOC: MISC and DATE
removed from both sides). Variants (``--variants``):

* ``old``: every encoder layer trained (word embeddings frozen), lr 1e-4, float32, per-parameter
  AdamW: the previous recipe;
* ``bf16``: the same with bf16 autocast (``precision = "bf16"``; weights, optimizer and loss in
  float32) and the fused AdamW;
* ``bf16-l8``, ``bf16-l6``, ``bf16-l4``: ``bf16`` on the encoder's embeddings and lower 8 (6, 4) layers
  only (``keep_layers``: the upper layers dropped); ``bf16-l8-k2``, ``bf16-l8-k3``: 8 layers kept, the embeddings
  and layers 1-2 (1-3) frozen;
* ``k8``, ``k6``, ``k4``: embeddings and layers 1-8 (1-6, 1-4) frozen (outputs computed once), same lr
  (float32, as ``old``);
* ``k8-lr3e-4``, ``k10-lr3e-4``: frozen lower part with a higher learning rate.

    PROJECTION_DATA=../shared/data python -m bench.train_quality [--seeds 13 14 15] [--max-train 4000] \\
        [--epochs 2] [--variants old k8 k8-lr3e-4 k10-lr3e-4]

Writes ``bench/out/train_quality.json`` after every model (a rerun skips what is there) and
prints mean ± sd per variant and test set, and the paired differences to ``old``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from bench import OUT

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
FP32 = {"precision": "fp32", "fused_optimizer": False}  # the recipe before the precision option
VARIANTS = {
    "old": {"freeze_layers": 0, "lr": 1e-4, **FP32},
    "bf16": {"freeze_layers": 0, "lr": 1e-4, "precision": "bf16", "fused_optimizer": True},
    "bf16-l8": {"freeze_layers": 0, "lr": 1e-4, "precision": "bf16", "fused_optimizer": True, "keep_layers": 8},
    "bf16-l6": {"freeze_layers": 0, "lr": 1e-4, "precision": "bf16", "fused_optimizer": True, "keep_layers": 6},
    "bf16-l4": {"freeze_layers": 0, "lr": 1e-4, "precision": "bf16", "fused_optimizer": True, "keep_layers": 4},
    "bf16-l8-k2": {"freeze_layers": 2, "lr": 1e-4, "precision": "bf16", "fused_optimizer": True, "keep_layers": 8},
    "bf16-l8-k3": {"freeze_layers": 3, "lr": 1e-4, "precision": "bf16", "fused_optimizer": True, "keep_layers": 8},
    "k8": {"freeze_layers": 8, "lr": 1e-4, **FP32},
    "k4": {"freeze_layers": 4, "lr": 1e-4, **FP32},
    "k6": {"freeze_layers": 6, "lr": 1e-4, **FP32},
    "k8-lr3e-4": {"freeze_layers": 8, "lr": 3e-4, **FP32},
    "k10-lr3e-4": {"freeze_layers": 10, "lr": 3e-4, **FP32},
}
TESTS = {"conll2002-es:test": (), "masakhaner2-swa:test": ("MISC", "DATE")}


def _ms(xs: list[float]) -> str:
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return f"{100 * m:.2f} ± {100 * sd:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--max-train", type=int, default=4000)
    ap.add_argument("--max-dev", type=int, default=500)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--out", default=str(OUT / "train_quality.json"))
    args = ap.parse_args()

    from projection.corpora import load_corpus
    from projection.store import atomic_write_json
    from projection.train import TrainConfig, evaluate, load_model, train_model

    out = Path(args.out)
    done = json.loads(out.read_text())["results"] if out.exists() else []
    train = load_corpus("conll2003-en:train")
    dev = load_corpus("conll2003-en:dev")
    for seed in args.seeds:
        for name in args.variants:
            v = VARIANTS[name]
            cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=seed, freeze_embeddings=True,
                              max_train_sentences=args.max_train, max_dev_sentences=args.max_dev, **v)
            if any(r["variant"] == name and TrainConfig.from_dict(r["config"]) == cfg for r in done):
                continue
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                model_dir = train_model(train, out=Path(tmp) / "m", model=args.model, dev=dev, config=cfg)
                meta = json.loads((model_dir / "train.json").read_text())
                minutes = round((time.perf_counter() - t0) / 60, 1)
                tagger = load_model(model_dir)
                scores = {}
                for test, ignore in TESTS.items():
                    m = evaluate(tagger, test, Path(tmp) / "eval" / test.replace(":", "_"), ignore=ignore)
                    scores[test] = {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"],
                                    "per_label": {k: v["f1"] for k, v in m["per_label"].items()}}
            done.append({"variant": name, "seed": seed, "config": cfg.to_dict(), "scores": scores,
                         "best_dev_f1": meta["best_dev_f1"], "train_seconds": meta["train_seconds"], "minutes": minutes})
            atomic_write_json(out, {"command": " ".join(["python", "-m", "bench.train_quality", *sys.argv[1:]]),
                                    "results": done})
            print(f"seed {seed} {name}: " + ", ".join(f"{t} {100 * s['f1']:.2f}" for t, s in scores.items())
                  + f" (dev {100 * meta['best_dev_f1']:.2f}, train {meta['train_seconds']:.0f} s)", flush=True)
    for test in TESTS:
        print(f"== {test}")
        base = {r["seed"]: r["scores"][test]["f1"] for r in done if r["variant"] == "old"}
        for name in args.variants:
            rows = [r for r in done if r["variant"] == name and r["seed"] in args.seeds]
            if not rows:
                continue
            f1 = [r["scores"][test]["f1"] for r in rows]
            diffs = [r["scores"][test]["f1"] - base[r["seed"]] for r in rows if r["seed"] in base]
            secs = [r["train_seconds"] for r in rows]
            print(f"{name:12s} F1 {_ms(f1)}  (n={len(f1)})  vs old {_ms(diffs) if diffs and name != 'old' else '-'}  "
                  f"train {sum(secs) / len(secs):.0f} s")


if __name__ == "__main__":
    main()
