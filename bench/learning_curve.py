"""Learning curves on the English dev set: where does a training recipe stop improving?

Trains the ``token`` tagger on CoNLL-2003 English train (all of it, or ``--max-train``
seeded sentences) for ``--epochs`` epochs and evaluates a seeded sample of English dev
sentences every ``--eval-every`` optimiser steps. One run per learning rate and
``freeze_layers`` value given; only English data is used (the zero-resource rule: the
budget and learning rate of the comparison are chosen here, on English dev, never on a
target-language set).

    PROJECTION_DATA=../shared/data python -m bench.learning_curve --lr 1e-4 3e-4 --freeze-layers 8 \\
        [--epochs 2] [--eval-every 100] [--max-dev 1000] [--seed 13]

Writes ``bench/out/learning_curve.json`` after every run (a rerun skips the runs already
there, so it resumes) and the plot ``docs/budget-curve.png`` (``docs/learning-curve.png`` is the
comparison's own page, written by ``make results``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench import OUT

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _plot(runs: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for r in runs:
        pts = sorted(r["curve"], key=lambda p: p["step"])
        layers = f"layers 1-{r['freeze_layers']} frozen" if r["freeze_layers"] else "all layers"
        ax.plot([p["step"] * r["batch_size"] for p in pts], [100 * p["dev_f1"] for p in pts], marker=".",
                label=f"lr {r['lr']:g}, {r['train_sentences']:,} sentences x {r['config']['epochs']}, {layers}")
    ax.set_xlabel("training sentences seen (steps x batch size)")
    ax.set_ylabel("English dev F1 (%)")
    ax.set_title("Learning curves, e5-small token tagger on CoNLL-2003 English train")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "models" / "e5-small"))
    ap.add_argument("--lr", type=float, nargs="+", default=[1e-4, 3e-4])
    ap.add_argument("--freeze-layers", type=int, nargs="+", default=[8])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--max-train", type=int, default=None)
    ap.add_argument("--max-dev", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--precision", default="auto", help="auto | fp32 | bf16 (TrainConfig.precision; auto: bf16 where "
                    "the CPU multiplies bf16 natively)")
    ap.add_argument("--out", default=str(OUT / "learning_curve.json"))
    ap.add_argument("--plot", default=str(REPO / "docs" / "budget-curve.png"))
    args = ap.parse_args()

    import tempfile

    from projection.corpora import load_corpus
    from projection.store import atomic_write_json
    from projection.train import TrainConfig, train_model

    out = Path(args.out)
    runs = json.loads(out.read_text())["runs"] if out.exists() else []
    train = load_corpus("conll2003-en:train")
    dev = load_corpus("conll2003-en:dev")
    for k in args.freeze_layers:
        for lr in args.lr:
            cfg = TrainConfig(lr=lr, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                              freeze_embeddings=True, freeze_layers=k, eval_every=args.eval_every,
                              max_train_sentences=args.max_train, max_dev_sentences=args.max_dev,
                              precision=args.precision)
            if any(r["config"] == cfg.to_dict() for r in runs):
                print(f"lr {lr:g}, freeze_layers {k}: done before, skipped", flush=True)
                continue
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                model_dir = train_model(train, out=Path(tmp) / "model", model=args.model, dev=dev, config=cfg)
                meta = json.loads((model_dir / "train.json").read_text())
            runs.append({"lr": lr, "freeze_layers": k, "batch_size": args.batch_size, "config": cfg.to_dict(),
                         "train_sentences": meta["train_sentences"], "dev_sentences": meta["dev_sentences"],
                         "curve": meta["curve"], "history": meta["history"], "best_step": meta["best_step"],
                         "best_dev_f1": meta["best_dev_f1"], "train_seconds": meta["train_seconds"],
                         "threads": meta["threads"], "precision": meta.get("precision"),
                         "minutes": round((time.perf_counter() - t0) / 60, 1)})
            atomic_write_json(out, {"command": " ".join(["python", "-m", "bench.learning_curve", *sys.argv[1:]]),
                                    "runs": runs})
            best = max(meta["curve"], key=lambda p: p["dev_f1"])
            print(f"lr {lr:g}, freeze_layers {k}: best dev F1 {100 * best['dev_f1']:.2f} at step {best['step']} "
                  f"({runs[-1]['minutes']} min)", flush=True)
            _plot(runs, Path(args.plot))
    for r in runs:
        pts = sorted(r["curve"], key=lambda p: p["step"])
        print(f"lr {r['lr']:g} k {r['freeze_layers']}: " + " ".join(f"{p['step']}:{100 * p['dev_f1']:.1f}" for p in pts))


if __name__ == "__main__":
    main()
