"""Where the training time goes: one epoch of each recipe, by phase.

Recipes (``--recipes``): ``old``, the previous default (every layer trained, float32,
per-parameter AdamW); ``bf16``, the same with bf16 autocast and the fused AdamW (the ``precision``
option); ``frozen``, ``--freeze-layers`` lower layers frozen (float32, per-parameter AdamW).

The training loop is timed from outside, without changing it: within the epoch's training
steps (``train.json``'s ``train_seconds``), the tagger's forward pass with gradients,
``Tensor.backward``, ``AdamW.step`` and the rest (data, collation, scheduler); outside it, the
one-time frozen-layer feature computation (fast recipe), the dev evaluation, loading and saving. Padding: the share of padded subwords in the
training batches (length-sorted batches of ``--batch-size`` windows).

    PROJECTION_DATA=../shared/data python -m bench.train_profile [--sentences 400] [--threads N]

Writes ``bench/out/train_profile.json`` and prints one table row per recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench import save

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--sentences", type=int, default=400)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--freeze-layers", type=int, default=8)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--recipes", nargs="+", default=["old", "bf16", "frozen"], choices=["old", "bf16", "frozen"])
    args = ap.parse_args()

    import torch

    import projection.train.transformer as tr
    from projection.corpora import load_corpus
    from projection.train import TrainConfig, train_model
    from projection.train.base import available_cores, measure_threads
    from projection.train.config import subsample
    from projection.train.windows import SubwordEncoder, batches

    acc: dict[str, float] = defaultdict(float)

    def timed(name, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[name] += time.perf_counter() - t
        return wrapper

    orig_build = tr.build_model

    def build(*a, **k):
        model = orig_build(*a, **k)
        forward = model.forward

        def fwd(*x, **y):
            if not torch.is_grad_enabled():
                return forward(*x, **y)
            return timed("forward", forward)(*x, **y)

        model.forward = fwd
        return model

    tr.build_model = build
    torch.Tensor.backward = timed("backward", torch.Tensor.backward)
    torch.optim.AdamW.step = timed("optimizer", torch.optim.AdamW.step)

    threads = args.threads or measure_threads(available_cores())
    train = subsample(load_corpus("conll2003-en:train"), args.sentences, args.seed)
    dev = subsample(load_corpus("conll2003-en:dev"), 200, args.seed)
    from transformers import AutoTokenizer

    windows = SubwordEncoder(AutoTokenizer.from_pretrained(args.model), 512).windows([s.tokens for s in train])
    groups = batches(windows, args.batch_size)
    real = sum(len(w.input_ids) for w in windows)
    padded = sum(len(g) * max(len(w.input_ids) for w in g) for g in groups)
    base = dict(lr=1e-4, epochs=1, batch_size=args.batch_size, seed=args.seed, freeze_embeddings=True, threads=threads,
                max_dev_sentences=200)
    report = {"sentences": len(train), "threads": threads, "padding_share": round(1 - real / padded, 4),
              "command": " ".join(["python", "-m", "bench.train_profile", *sys.argv[1:]]), "recipes": {}}
    fp32 = dict(precision="fp32", fused_optimizer=False)
    recipes = {"old": TrainConfig(**base, **fp32), "bf16": TrainConfig(**base, precision="bf16", fused_optimizer=True),
               "frozen": TrainConfig(**base, **fp32, freeze_layers=args.freeze_layers)}
    for name, cfg in ((n, recipes[n]) for n in args.recipes):
        acc.clear()
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["PROJECTION_CACHE"] = str(Path(tmp) / "cache")
            t0 = time.perf_counter()
            model_dir = train_model(train, out=Path(tmp) / name, model=args.model, dev=dev, config=cfg)
            total = time.perf_counter() - t0
            meta = json.loads((model_dir / "train.json").read_text())
        epoch = meta["history"][0]
        seconds = epoch["train_seconds"]  # the epoch's training steps, repeated every epoch
        parts = {"forward": acc["forward"], "backward": acc["backward"], "optimizer": acc["optimizer"]}
        parts["other (data, collation, scheduler)"] = max(0.0, seconds - sum(parts.values()))
        once = {"frozen-layer features (train and dev sentences, once)": (meta.get("features") or {}).get("seconds", 0.0),
                "dev evaluation (features included)": epoch.get("dev_seconds", 0.0)}
        once["load, split check, save"] = max(0.0, total - seconds - sum(once.values()))
        report["recipes"][name] = {"total_seconds": round(total, 1), "epoch_seconds": seconds,
                                   "epoch_parts": {k: round(v, 1) for k, v in parts.items()},
                                   "epoch_shares": {k: round(v / seconds, 3) for k, v in parts.items()},
                                   "outside_the_epoch": {k: round(v, 1) for k, v in once.items()}}
        print(f"{name}: epoch {seconds:.0f} s: " + ", ".join(f"{k} {v:.1f} s ({100 * v / seconds:.0f} %)"
                                                          for k, v in parts.items())
              + f"; outside the epoch: " + ", ".join(f"{k} {v:.1f} s" for k, v in once.items()), flush=True)
    print(f"padding: {100 * report['padding_share']:.1f} % of the subwords in training batches are padding")
    save("train_profile.json", report)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
