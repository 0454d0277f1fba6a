"""The mission's comparison: does our projection make a better target-language NER model?

Five systems, one encoder and one training recipe, evaluated on the full gold test set
of the target language (``conll2002-es:test`` for Spanish):

1. ``zero-shot``: English CoNLL-2003 only, plain last-layer classifier;
2. ``dlfa-zero-shot``: the same data with DLFA/AIF feature aggregation (one row per
   fusion layer swept; the layer with the best *source-dev* F1 is the system's result);
3. ``ours``: translate-train on our projection of the DeepL translation
   (``runs/<lang>-given/projected.parquet`` or ``.conll``, from ``make project PIPELINE=given``);
4. ``awesome``: the same DeepL translation with the published AWESoME projection
   (``deepl-awesome-<lang>:train``): the same translation, only the projection differs;
5. ``en+ours``: English plus our projection.

Zero-resource protocol: no target-language gold is used for anything but the final test.
Model selection (best epoch, fusion layer) uses the *source* dev set
(``conll2003-en:dev``, subsampled) for every system.

Subsampling: one seeded sample of English training sentence ids is drawn once; every
system trains on exactly those source sentences (for the projections: the same ids, as
far as the projection kept them; CoNLL-2003, the DeepL/AWESoME files and our run all
number sentences by their position in CoNLL-2003 train). System 5 therefore sees the
sample twice, once in English and once projected.

Outputs in ``out/``: ``results.csv`` (system, train, test, f1, precision, recall, seed,
command, then details), ``results.md``, ``results.png`` (bar chart) and one folder per
system under ``systems/`` with the model, ``predictions.conll`` and ``metrics.json``.
A system whose inputs and recipe did not change is not retrained (its ``system.json``
key matches), so systems can be run one at a time and the tables rebuilt.
"""

from __future__ import annotations

import csv
import io
import json
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projection.corpora import load_corpus
from projection.errors import ProjectionError
from projection.records import Sentence
from projection.store import atomic_path, atomic_write_json, atomic_write_text, content_key, file_sha256
from projection.train.config import TrainConfig, subsample

CSV_COLUMNS = ["system", "train", "test", "f1", "precision", "recall", "seed", "command"]
EXTRA_COLUMNS = ["arch", "fusion_layer", "train_sentences", "dev", "dev_f1", "best_epoch", "selected", "minutes"]
SYSTEM_JSON = "system.json"

TARGETS: dict[str, dict[str, str]] = {
    "es": {"test": "conll2002-es:test", "awesome": "deepl-awesome-es:train"},
    "nl": {"test": "conll2002-nl:test", "awesome": "deepl-awesome-nl:train"},
    "de": {"test": "conll2003-de:test", "awesome": "deepl-awesome-de:train"},
}
SOURCE_TRAIN = "conll2003-en:train"
SOURCE_DEV = "conll2003-en:dev"
ALL_SYSTEMS = ("1", "2", "3", "4", "5")


@dataclass
class CompareOptions:
    """The shared recipe; every system uses exactly these values."""

    model: str = "models/e5-small"
    max_train: int | None = 4000
    max_dev: int | None = 500
    epochs: int = 2
    lr: float = 1e-4
    batch_size: int = 16
    seed: int = 13
    freeze_embeddings: bool = True
    fusion_layers: list[int] = field(default_factory=lambda: [8])
    projected: str | None = None  # default runs/<lang>-given/projected.parquet (else .conll)
    dev: str = SOURCE_DEV

    def config(self, **changes: Any) -> TrainConfig:
        return TrainConfig(lr=self.lr, epochs=self.epochs, batch_size=self.batch_size, seed=self.seed,
                           freeze_embeddings=self.freeze_embeddings, **changes)


def _projected_path(lang: str, opts: CompareOptions) -> Path:
    if opts.projected:
        return Path(opts.projected)
    base = Path("runs") / f"{lang}-given"
    parquet = base / "projected.parquet"
    return parquet if parquet.exists() else base / "projected.conll"


def _select(corpus: Sequence[Sentence], ids: set[str]) -> list[Sentence]:
    return [s for s in corpus if s.id in ids]


def _command(lang: str, out: Path, opts: CompareOptions, system: str, fusion_layer: int | None = None) -> str:
    parts = ["python", "-m", "projection", "compare", "--lang", lang, "--model", opts.model, "--out", str(out),
             "--systems", system, "--seed", str(opts.seed), "--epochs", str(opts.epochs), "--lr", str(opts.lr),
             "--batch-size", str(opts.batch_size),
             "--max-train", str(opts.max_train or 0), "--max-dev", str(opts.max_dev or 0), "--dev", opts.dev]
    if fusion_layer is not None:
        parts += ["--fusion-layers", str(fusion_layer)]
    parts.append("--freeze-embeddings" if opts.freeze_embeddings else "--no-freeze-embeddings")
    if system in ("3", "5"):
        parts += ["--projected", str(_projected_path(lang, opts))]
    return shlex.join(parts)


def _plan(lang: str, opts: CompareOptions, systems: Sequence[str]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The runs to do: (key, label, arch, train sentences, train description, fusion layer)."""
    if lang not in TARGETS:
        raise ProjectionError(f"no comparison set up for {lang!r}; known: {', '.join(TARGETS)}")
    target = TARGETS[lang]
    english = load_corpus(SOURCE_TRAIN)
    sample = subsample(english, opts.max_train, opts.seed)
    ids = {s.id for s in sample}
    n_note = f"{len(sample)} of {len(english)} sentences, seed {opts.seed}" if opts.max_train else "all sentences"
    runs: list[dict[str, Any]] = []
    missing: list[dict[str, str]] = []
    ours: list[Sentence] | None = None
    ours_path = _projected_path(lang, opts)
    if {"3", "5"} & set(systems):
        if ours_path.exists():
            ours_all = load_corpus(str(ours_path))
            ours = _select(ours_all, ids)
            if not ours:
                raise ProjectionError(f"{ours_path}: none of its sentence ids ({ours_all[0].id}, ...) are CoNLL-2003 "
                                      f"train ids; use projected.parquet, which keeps the source ids")
        else:
            for s in ("3", "5"):
                if s in systems:
                    missing.append({"system": s, "reason": f"{ours_path} does not exist yet (make project LANG={lang} PIPELINE=given)"})
    for s in systems:
        if s == "1":
            runs.append({"system": "1", "key": "1-zero-shot", "label": "1 zero-shot (en, last layer)", "arch": "token",
                         "train": sample, "train_desc": f"{SOURCE_TRAIN} ({n_note})", "fusion_layer": None})
        elif s == "2":
            for layer in opts.fusion_layers:
                runs.append({"system": "2", "key": f"2-dlfa-zero-shot-l{layer}",
                             "label": f"2 DLFA/AIF zero-shot (en, layer {layer} + last)", "arch": "feature-aggregation",
                             "train": sample, "train_desc": f"{SOURCE_TRAIN} ({n_note})", "fusion_layer": layer})
        elif s == "3" and ours is not None:
            runs.append({"system": "3", "key": "3-translate-train-ours", "label": "3 translate-train, our projection",
                         "arch": "token", "train": ours,
                         "train_desc": f"{ours_path} (ids of the English sample: {len(ours)} kept)", "fusion_layer": None})
        elif s == "4":
            try:
                awesome = _select(load_corpus(target["awesome"]), ids)
            except ProjectionError as e:
                missing.append({"system": "4", "reason": str(e)})
                continue
            runs.append({"system": "4", "key": "4-translate-train-awesome", "label": "4 translate-train, published AWESoME projection",
                         "arch": "token", "train": awesome,
                         "train_desc": f"{target['awesome']} (ids of the English sample: {len(awesome)})", "fusion_layer": None})
        elif s == "5" and ours is not None:
            runs.append({"system": "5", "key": "5-en-plus-ours", "label": "5 English + our projection", "arch": "token",
                         "train": sample + ours, "train_desc": f"{SOURCE_TRAIN} sample + {ours_path} ({len(sample)} + {len(ours)})",
                         "fusion_layer": None})
        elif s not in ALL_SYSTEMS:
            raise ProjectionError(f"unknown system {s!r}; choose from {', '.join(ALL_SYSTEMS)}")
    return runs, missing


def _run_key(run: dict[str, Any], cfg: TrainConfig, opts: CompareOptions, test: str, dev_hash: str) -> str:
    from projection.store import canonical_json

    data_hash = content_key([(s.id, s.tokens, s.tags) for s in run["train"]])
    enc = Path(opts.model)
    enc_id = file_sha256(enc / "model.safetensors")[:16] if (enc / "model.safetensors").exists() else opts.model
    return content_key(run["key"], run["arch"], cfg.to_dict(), data_hash, dev_hash, test, enc_id, canonical_json(opts.dev))


def compare(lang: str, out: str | Path, *, systems: Sequence[str] = ALL_SYSTEMS, options: CompareOptions | None = None,
            force: bool = False) -> dict[str, Any]:
    """Train and evaluate the requested systems, then (re)write the result tables from every system done so far."""
    from projection.train.api import evaluate, load_sentences, train_model

    opts = options or CompareOptions()
    out = Path(out)
    test = TARGETS.get(lang, {}).get("test", "")
    runs, missing = _plan(lang, opts, [str(s) for s in systems])
    dev_s, dev_desc = load_sentences(opts.dev)
    dev_hash = dev_desc[0].get("sha256", "")
    for run in runs:
        cfg = opts.config(max_dev_sentences=opts.max_dev, **({"fusion_layer": run["fusion_layer"]} if run["fusion_layer"] is not None else {}))
        key = _run_key(run, cfg, opts, test, dev_hash)
        sys_dir = out / "systems" / f"{run['key']}-seed{opts.seed}"  # several seeds can share one results folder
        meta_path = sys_dir / SYSTEM_JSON
        if not force and meta_path.exists():
            old = json.loads(meta_path.read_text(encoding="utf-8"))
            if old.get("key") == key and (sys_dir / "metrics.json").exists():
                continue
        t0 = time.perf_counter()
        data = {"train": [{"description": run["train_desc"], "sentences": len(run["train"])}], "dev": dev_desc}
        model_dir = train_model(run["train"], out=sys_dir / "model", model=opts.model, arch=run["arch"], dev=dev_s,
                                config=cfg, data=data)
        evaluate(model_dir, test, sys_dir)
        atomic_write_json(meta_path, {
            "key": key, "system": run["system"], "label": run["label"], "arch": run["arch"],
            "fusion_layer": run["fusion_layer"], "train": run["train_desc"], "train_sentences": len(run["train"]),
            "dev": f"{opts.dev} ({opts.max_dev or 'all'} sentences, seed {opts.seed})", "test": test,
            "seed": opts.seed, "command": _command(lang, out, opts, run["system"], run["fusion_layer"]),
            "minutes": round((time.perf_counter() - t0) / 60, 1),
        })
    return write_results(out, lang, missing)


def _rows(out: Path) -> list[dict[str, Any]]:
    rows = []
    for meta_path in sorted((out / "systems").glob(f"*/{SYSTEM_JSON}")):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        metrics_path = meta_path.parent / "metrics.json"
        if not metrics_path.exists():
            continue
        m = json.loads(metrics_path.read_text(encoding="utf-8"))
        rows.append({
            "system": meta["label"], "train": meta["train"], "test": meta["test"], "f1": m["f1"],
            "precision": m["precision"], "recall": m["recall"], "seed": meta["seed"], "command": meta["command"],
            "arch": meta["arch"], "fusion_layer": meta["fusion_layer"], "train_sentences": meta["train_sentences"],
            "dev": meta["dev"], "dev_f1": m["model"].get("best_dev_f1"), "best_epoch": m["model"].get("best_epoch"),
            "selected": True, "minutes": meta.get("minutes"), "_id": meta["system"], "per_label": m["per_label"],
            "_config": m["model"]["config"], "_encoder": m["model"].get("encoder"),
        })
    # System 2: of the fusion layers swept, the one with the best source-dev F1 is the result (per seed).
    for seed in {r["seed"] for r in rows}:
        dlfa = [r for r in rows if r["_id"] == "2" and r["seed"] == seed]
        if len(dlfa) > 1:
            best = max(dlfa, key=lambda r: (r["dev_f1"] or -1.0))
            for r in dlfa:
                r["selected"] = r is best
    return rows


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}"


def write_results(out: str | Path, lang: str, missing: Sequence[dict[str, str]] = ()) -> dict[str, Any]:
    """``results.csv``, ``results.md`` and ``results.png`` from every finished system in ``out``."""
    out = Path(out)
    rows = _rows(out)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS + EXTRA_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "f1": f"{r['f1']:.4f}", "precision": f"{r['precision']:.4f}", "recall": f"{r['recall']:.4f}",
                         "dev_f1": "" if r["dev_f1"] is None else f"{r['dev_f1']:.4f}"})
    atomic_write_text(out / "results.csv", buf.getvalue())
    checks = []
    for seed in sorted({r["seed"] for r in rows}) or [None]:
        best = {r["_id"]: r for r in rows if r["selected"] and r["seed"] == seed}
        for a, b in (("3", "4"), ("3", "1"), ("3", "2")):
            if a in best and b in best:
                diff = best[a]["f1"] - best[b]["f1"]
                checks.append(f"- seed {seed}, system {a} vs {b}: {_fmt(best[a]['f1'])} vs {_fmt(best[b]['f1'])} F1 "
                              f"({'+' if diff >= 0 else ''}{100 * diff:.2f}) -> {a} > {b}: {'yes' if diff > 0 else 'NO'}")
            else:
                checks.append(f"- seed {seed}, system {a} vs {b}: not both available")
    md = [f"# Cross-lingual NER comparison, target language `{lang}`", ""]
    if rows:
        cfg = rows[0]["_config"]
        md += [f"Test: `{rows[0]['test']}` (full test set), seqeval strict IOB2 micro scores in %. "
               f"Encoder `{rows[0]['_encoder']}`; recipe for every system: lr {cfg['lr']}, {cfg['epochs']} epochs, "
               f"batch {cfg['batch_size']}, warmup {cfg['warmup']}, max length {cfg['max_length']} subwords (longer sentences windowed), "
               f"word embeddings {'frozen' if cfg['freeze_embeddings'] else 'trained'}, seed {cfg['seed']}. "
               f"Model selection (best epoch; DLFA fusion layer) on the source-side dev set {rows[0]['dev']}; "
               f"no target-language gold except the test set.", ""]
    md += ["| system | train | F1 | P | R | dev F1 (en) | best epoch | seed | command |", "|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        name = r["system"] + ("" if r["selected"] else " (not selected on dev)")
        md.append(f"| {name} | {r['train']} | **{_fmt(r['f1'])}** | {_fmt(r['precision'])} | {_fmt(r['recall'])} | "
                  f"{_fmt(r['dev_f1'])} | {r['best_epoch']} | {r['seed']} | `{r['command']}` |")
    if rows:
        labels = sorted({lab for r in rows for lab in r["per_label"]})
        md += ["", "Per-label F1 on the test set:", "", "| system | " + " | ".join(labels) + " |",
               "|---|" + "---:|" * len(labels)]
        for r in rows:
            md.append(f"| {r['system']} | " + " | ".join(_fmt(r["per_label"].get(lab, {}).get("f1")) for lab in labels) + " |")
    md += ["", "Goal checks (selected systems):", "", *checks]
    if missing:
        md += ["", "Not run:", "", *[f"- system {m['system']}: {m['reason']}" for m in missing]]
    md.append("")
    atomic_write_text(out / "results.md", "\n".join(md))
    if rows:
        _plot(rows, out / "results.png", lang)
    return {"rows": [{k: v for k, v in r.items() if not k.startswith("_") and k != "per_label"} for r in rows],
            "missing": list(missing), "out": str(out)}


def _plot(rows: Sequence[dict[str, Any]], path: Path, lang: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["system"] + ("" if r["selected"] else " (not selected)") for r in rows]
    f1 = [100 * r["f1"] for r in rows]
    colors = ["#4c72b0" if r["_id"] in ("1", "2") else "#dd8452" if r["_id"] == "4" else "#55a868" for r in rows]
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(rows) + 1.4))
    bars = ax.barh(range(len(rows)), f1, color=colors)
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"F1 on {rows[0]['test']} (seqeval, %)")
    ax.set_xlim(0, max(100.0, max(f1) + 8))
    for b, v in zip(bars, f1):
        ax.text(b.get_width() + 0.5, b.get_y() + b.get_height() / 2, f"{v:.1f}", va="center")
    ax.set_title(f"Cross-lingual NER into {lang}: zero-shot vs translate-train (seed {rows[0]['seed']})")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
