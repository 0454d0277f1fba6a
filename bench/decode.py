"""Argmax against BIO-constrained (Viterbi) decoding, on the models of the comparison's result folder.

For every row of ``--results`` (``docs/downstream/<language>/<system>-seed<N>/``) whose model folder
is still on disk, the test set of the row is predicted once (the head's word scores) and decoded both
ways (:mod:`projection.decoding`), then scored exactly as the row was (the model's label mapping,
the row's ignored labels). The argmax score must reproduce the row's committed F1: the bench stops if
it does not. Nothing here reads a target-language gold label except the test set being scored.

    PROJECTION_DATA=../shared/data python -m bench.decode [--systems 3] [--languages es de ...] [--test CORPUS]

``--test conll2003-en:test`` scores the same models on English test instead (source-language gold: the
check of the decoder that the zero-resource rule allows; the target test sets only measure it).

Prints one line per model, then per language the mean over seeds of F1, MISC precision and the
paired difference; writes ``bench/out/decode.json`` after every model (a rerun skips those done).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench import OUT

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

def _misc_precision(m: dict) -> float | None:
    v = m["per_label"].get("MISC")  # absent where MISC is not scored (MasakhaNER)
    return None if v is None else v["precision"]


def score(row_dir: Path, metrics: dict, test: str | None = None) -> dict | None:
    """Both decodings of one result row's model (``metrics``: the row's ``metrics.json``) on its test set (or on
    ``test``, e.g. English test: a check of the decoder on source-language data); None when its model folder is gone."""
    from projection.decoding import DECODERS
    from projection.train import evaluate, load_model

    system = json.loads((row_dir / "system.json").read_text(encoding="utf-8"))
    model_dir = Path(metrics["model"]["dir"])
    if not (model_dir / "train.json").exists():
        return None
    tagger = load_model(model_dir)
    cached: dict[str, list] = {}
    word_logits = tagger.word_logits

    def once(sentences, description="predict"):  # one forward pass serves both decoders
        if "x" not in cached:
            cached["x"] = word_logits(sentences, description)
        return cached["x"]

    tagger.word_logits = once
    out: dict = {"row": f"{row_dir.parent.name}/{row_dir.name}", "model": str(model_dir),
                 "committed_f1": metrics["f1"], "test": test or system["test"]}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in DECODERS:
            m = evaluate(tagger, test or system["test"], Path(tmp) / mode,
                         ignore=(system.get("eval_ignore") or []) if test is None else [], decode=mode)
            out[mode] = {"f1": m["f1"], "precision": m["precision"], "recall": m["recall"],
                         "misc_precision": _misc_precision(m),
                         "per_label_f1": {k: v["f1"] for k, v in m["per_label"].items()}}
    if test is None and abs(out["argmax"]["f1"] - metrics["f1"]) > 1e-9:
        raise SystemExit(f"{out['row']}: argmax F1 {out['argmax']['f1']:.6f} is not the committed "
                         f"{metrics['f1']:.6f}: the model folder no longer matches the row")
    return out


def main(argv: list[str] | None = None) -> None:
    from projection.store import atomic_write_json

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "downstream")
    ap.add_argument("--systems", nargs="+", default=["3"])
    ap.add_argument("--languages", nargs="+", default=None)
    ap.add_argument("--test", default=None, help="score every model on this corpus instead of its row's test set "
                    "(e.g. conll2003-en:test); results go to decode-<corpus>.json")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = OUT / ("decode.json" if args.test is None else f"decode-{args.test.replace(':', '-')}.json")
    done: dict = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    rows = sorted(p for p in args.results.glob("*/*-seed*") if p.name.split("-")[0] in args.systems
                  and (args.languages is None or p.parent.name in args.languages))
    for row_dir in rows:
        key = f"{row_dir.parent.name}/{row_dir.name}"
        metrics = json.loads((row_dir / "metrics.json").read_text(encoding="utf-8"))
        if key in done and done[key]["model"] == metrics["model"]["dir"]:
            continue
        res = score(row_dir, metrics, args.test)
        if res is None:
            print(f"{key}: model folder gone, skipped", flush=True)
            continue
        done[key] = res
        atomic_write_json(args.out, done)
        a, b = res["argmax"], res["bio"]
        print(f"{key}: F1 argmax {100 * a['f1']:.2f} bio {100 * b['f1']:.2f}", flush=True)
    by_lang: dict[str, list] = {}
    wanted = {f"{p.parent.name}/{p.name}" for p in rows}
    for key, res in sorted(done.items()):
        if key in wanted:
            by_lang.setdefault(key.split("/")[0], []).append(res)
    print("| language | seeds | F1 argmax | F1 bio | bio - argmax | MISC P argmax | MISC P bio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for lang, res in by_lang.items():
        def mean(xs):
            xs = [x for x in xs if x is not None]
            return f"{100 * statistics.mean(xs):.1f}" if xs else ""
        diffs = [r["bio"]["f1"] - r["argmax"]["f1"] for r in res]
        sd = f" ± {100 * statistics.stdev(diffs):.2f}" if len(diffs) > 1 else ""
        f1 = {mode: mean([r[mode]["f1"] for r in res]) for mode in ("argmax", "bio")}
        print(f"| {lang} | {len(res)} | {f1['argmax']} | {f1['bio']}"
              f" | {100 * statistics.mean(diffs):+.2f}{sd} | {mean([r['argmax']['misc_precision'] for r in res])}"
              f" | {mean([r['bio']['misc_precision'] for r in res])} |")


if __name__ == "__main__":
    main()
