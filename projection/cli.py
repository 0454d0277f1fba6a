"""The ``projection`` command line: a thin typer + rich shell over the Python API.

Nothing else in the package knows about the command line. Every user-facing error is a
:class:`~projection.errors.ProjectionError`, printed as one line with exit status 2. The
package's modules report through :mod:`logging` (``logging.getLogger(__name__)``); while a
command runs, :func:`main` prints their records on stderr, one line each (:class:`LineHandler`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape as q
from rich.table import Table

from projection.errors import ProjectionError
from projection.progress import is_batch_line
from projection.scores import pct, pct_mean_sd

app = typer.Typer(
    name="projection",
    help="Build NER training data for new languages by annotation projection; train and compare models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()


class LineHandler(logging.Handler):
    """The package's log records as one plain line each on stderr (looked up at each record, so that
    rich's live progress display and a captured stderr get them). A record marked
    :data:`projection.progress.BATCH_LINE` stands in for a progress bar: it is printed only where no
    bar shows (stderr not a terminal), prefixed with its stage and the time (``[train 14:02:03] ...``)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if is_batch_line(record):
                if sys.stderr.isatty():
                    return
                stage = record.name.split(".")[1] if record.name.count(".") else record.name
                message = f"[{stage} {time.strftime('%H:%M:%S', time.localtime(record.created))}] {message}"
            sys.stderr.write(message + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 (logging's own convention: report, never raise)
            self.handleError(record)


@contextlib.contextmanager
def package_logging(level: int = logging.INFO):
    """While the block runs, the ``projection`` loggers' records of ``level`` and above go to a
    :class:`LineHandler`; afterwards the logger is as it was (the API's callers configure their own)."""
    package = logging.getLogger("projection")
    handler, before = LineHandler(level), package.level
    package.addHandler(handler)
    package.setLevel(level)
    try:
        yield handler
    finally:
        package.removeHandler(handler)
        package.setLevel(before)


def _print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


# --------------------------------------------------------------------------- corpora


@app.command()
def stats(
    corpus: str = typer.Argument(..., help="A corpus name (conll2003-en:train) or a file (CoNLL, .jsonl, .parquet)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: sentences, tokens, entities, per_label."),
    encoding: Optional[str] = typer.Option(None, help="File encoding (default utf-8; the corpus's own for named corpora)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="conll, jsonl or parquet (default: from the extension)."),
) -> None:
    """Count sentences, tokens and entities per label."""
    from projection.corpora import load_corpus
    from projection.corpus import corpus_stats

    st = corpus_stats(load_corpus(corpus, encoding=encoding, fmt=fmt))
    if as_json:
        _print_json(st)
        return
    table = Table(title=q(str(corpus)), show_footer=False)
    table.add_column("label")
    table.add_column("entities", justify="right")
    table.add_column("share", justify="right")
    for label, n in st["per_label"].items():
        table.add_row(q(label), f"{n:,}", f"{n / max(st['entities'], 1):.1%}")
    table.add_row("[bold]all[/bold]", f"[bold]{st['entities']:,}[/bold]", "")
    console.print(table)
    console.print(f"{st['sentences']:,} sentences, {st['tokens']:,} tokens")


@app.command()
def convert(
    src: str = typer.Argument(..., help="Input corpus name or file."),
    dst: Path = typer.Argument(..., help="Output file; format from the extension (.conll/.tsv/.txt, .jsonl, .parquet)."),
    encoding: Optional[str] = typer.Option(None, help="Input encoding (default utf-8)."),
    in_format: Optional[str] = typer.Option(None, "--from", help="Input format: conll, jsonl, parquet."),
    out_format: Optional[str] = typer.Option(None, "--to", help="Output format: conll, jsonl, parquet."),
    scheme: str = typer.Option("iob2", help="Tag scheme of CoNLL output: iob2 (BIO) or iob1."),
    labels: Optional[str] = typer.Option(None, help="Comma-separated label set; any other label is an error."),
) -> None:
    """Convert a corpus between CoNLL, JSONL and parquet (tags normalised to IOB2 unless --scheme iob1)."""
    from projection.corpora import load_corpus
    from projection.corpus import corpus_stats, write_corpus

    sents = load_corpus(src, encoding=encoding, fmt=in_format, labels=labels.split(",") if labels else None)
    write_corpus(sents, dst, fmt=out_format, scheme=scheme)
    st = corpus_stats(sents)
    console.print(f"wrote {q(str(dst))}: {st['sentences']:,} sentences, {st['entities']:,} entities")


@app.command()
def corpora() -> None:
    """List the named corpora and whether each is present in the data directory."""
    from projection.corpora import CORPORA, data_dir

    table = Table(title=f"named corpora in {data_dir().resolve()}")
    table.add_column("name")
    table.add_column("lang")
    table.add_column("present")
    table.add_column("path")
    for name, spec in CORPORA.items():
        present = spec.path().exists()
        table.add_row(name, spec.lang, "[green]yes[/green]" if present else "[red]no[/red]", str(spec.relpath))
    console.print(table)


# --------------------------------------------------------------------------- translate (projection/translate/)


@app.command("translate")
def translate_cmd(
    input: str = typer.Option(..., "--input", "-i", help="Plain text (one sentence per line), a corpus file or a corpus name."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: one translation per line (or a corpus with --markers)."),
    engine: str = typer.Option("nllb", "--engine", "-e", help="nllb, hf, apertium or given."),
    src_lang: str = typer.Option("en", "--src-lang", help="Source language: ISO 639-1/639-3 or NLLB code."),
    tgt_lang: str = typer.Option("es", "--tgt-lang", help="Target language: ISO 639-1/639-3 or NLLB code."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model (nllb/hf), Apertium mode, or the file of translations (given)."),
    markers: bool = typer.Option(False, "--markers", help="Mark entities before translating and parse them back (corpus input)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the translation cache."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary: translated, cached, seconds, ..."),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda (nllb, hf)."),
    beam_size: Optional[int] = typer.Option(None, "--beam-size", help="Beam size (nllb, hf; default 4)."),
    max_length: Optional[int] = typer.Option(None, "--max-length", help="Maximum generated tokens (nllb, hf; default 256)."),
    batch_tokens: Optional[int] = typer.Option(None, "--batch-tokens", help="Padded source tokens per batch (nllb, hf)."),
    text: bool = typer.Option(False, "--text", help="Read the input as plain text even if it looks like CoNLL."),
    option: Optional[list[str]] = typer.Option(None, "--option", help="Engine option KEY=VALUE (e.g. tokenizer=DIR, compute_type=float32, source=FILE); repeatable."),
) -> None:
    """Translate sentences with an MT engine; cached, resumable, one output line per input."""
    from projection.options import check_options, options_model, parse_value
    from projection.translate import translators
    from projection.translate.run import translate_to_file

    opts: dict[str, object] = {}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ProjectionError(f"--option expects KEY=VALUE, got {item!r}")
        opts[key.strip().replace("-", "_")] = parse_value(value)
    for key, value in (("model", model), ("device", device), ("beam_size", beam_size), ("max_length", max_length),
                       ("batch_tokens", batch_tokens)):
        if value is not None:
            opts[key] = value
    problem = check_options(options_model(translators.get(engine)), opts)
    if problem:  # an option the engine does not take, or of the wrong type
        raise ProjectionError(f"{engine}: {problem[1]}")
    summary = translate_to_file(engine, input, output, src_lang, tgt_lang, markers=markers, cache=not no_cache,
                                force_text=text, options=opts)
    if as_json:
        _print_json(summary)
        return
    rate = summary["lines"] / summary["seconds"] if summary["seconds"] else 0.0
    console.print(f"wrote {q(str(summary['output']))}: {summary['written']:,} lines "
                  f"({summary['translated']:,} translated, {summary['cached']:,} cached, {summary['empty']:,} empty) "
                  f"in {summary['seconds']:.1f} s ({rate:,.1f} sentences/s)")
    if "markers" in summary:
        m = summary["markers"]
        console.print(f"markers: {m['found']:,} of {m['entities']:,} entities found, {m['lost']:,} lost, "
                      f"{m['broken']:,} broken, {m['merged']:,} split pieces merged")


# --------------------------------------------------------------------------- train / evaluate / compare


def _metrics_line(name: str, m: dict) -> str:
    return f"{name}: F1 {pct(m['f1'], 2)}  P {pct(m['precision'], 2)}  R {pct(m['recall'], 2)}  ({m['sentences']:,} sentences)"


@app.command()
def train(
    train_sets: Optional[list[str]] = typer.Option(None, "--train", help="Training corpus name or file; repeat to "
                                                   "concatenate (optional with --unlabeled/--teacher)."),
    out: Path = typer.Option(..., "--out", help="Folder for the trained model."),
    model: Optional[str] = typer.Option(None, "--model", help="Encoder: hub name or local folder (not needed for spacy)."),
    arch: str = typer.Option("token", "--arch", help="token, feature-aggregation or spacy."),
    dev: Optional[list[str]] = typer.Option(None, "--dev", help="Dev corpus for picking the best epoch (use source-side dev for zero-resource)."),
    test: Optional[list[str]] = typer.Option(None, "--test", help="Evaluate on this corpus after training; repeatable."),
    epochs: int = typer.Option(3, help="Training epochs."),
    lr: float = typer.Option(5e-5, help="Peak learning rate (AdamW, linear warm-up and decay)."),
    batch_size: int = typer.Option(16, help="Sentences (windows) per batch."),
    warmup: float = typer.Option(0.1, help="Warm-up fraction of the steps."),
    seed: int = typer.Option(13, help="Random seed (initialisation, order, subsampling)."),
    max_length: int = typer.Option(256, help="Window size in subwords; longer sentences are split, never cut."),
    fusion_layer: int = typer.Option(8, help="feature-aggregation: the lower layer l fused with the last one."),
    reduction: int = typer.Option(4, help="feature-aggregation: AIF bottleneck reduction r."),
    label_map: Optional[str] = typer.Option(None, help="Label mapping, e.g. DATE=O,GPE=LOC (X=O drops X)."),
    ignore_labels: Optional[str] = typer.Option(None, "--ignore-labels", help="Comma-separated labels to drop (e.g. MISC)."),
    freeze_embeddings: bool = typer.Option(False, help="Freeze the word-embedding matrix (much faster on CPU)."),
    freeze_layers: int = typer.Option(0, help="Freeze the embeddings and the lower K encoder layers: their output is "
                                               "computed once (stored by content) and only the upper layers train."),
    keep_layers: Optional[int] = typer.Option(None, help="Build the tagger on the encoder's embeddings and lower N layers "
                                              "only (the upper layers dropped: a smaller, faster model)."),
    batch_tokens: Optional[int] = typer.Option(None, help="Batches by subword budget (rows x longest window) instead of --batch-size."),
    eval_every: Optional[int] = typer.Option(None, help="Also evaluate dev every N steps (learning curve; best kept)."),
    decode: str = typer.Option("argmax", help="How word scores become tags in the dev evaluations that pick the model "
                               "and in --test: argmax (each word's best tag, repaired to IOB2) or bio (the best valid "
                               "IOB2 sequence)."),
    strip_marks: bool = typer.Option(False, "--strip-marks", help="The encoder sees words without combining marks "
                                     "(tone marks, accents: Èkó as Eko), in training and prediction."),
    max_train_sentences: Optional[int] = typer.Option(None, help="Train on a seeded sample of this many sentences."),
    max_dev_sentences: Optional[int] = typer.Option(None, help="Evaluate dev on a seeded sample of this many sentences."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch (default: $OMP_NUM_THREADS, else the available cores, at most 8)."),
    precision: str = typer.Option("auto", help="auto (bf16 autocast where the CPU/GPU multiplies bf16 natively, else "
                                  "fp32), fp32 or bf16; weights, optimizer and loss stay float32."),
    fused_optimizer: bool = typer.Option(True, help="AdamW as one fused kernel per step (same update, faster on CPU)."),
    lang: str = typer.Option("xx", help="spacy: language code for spacy.blank."),
    unlabeled: Optional[str] = typer.Option(None, "--unlabeled", help="Teacher-student: unlabeled target text, a corpus "
                                            "name (its tags are never read) or a file (CoNLL or one tokenised sentence per line)."),
    unlabeled_format: Optional[str] = typer.Option(None, "--unlabeled-format", help="conll or text (default: from the content)."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", help="Teacher-student: a trained model folder that labels --unlabeled."),
    select: str = typer.Option("none", "--select", help="Which teacher-labelled sentences to keep: none, confidence or adversarial."),
    select_fraction: Optional[float] = typer.Option(None, "--select-fraction", help="Keep this top share (0-1] of the sentences."),
    select_balance: bool = typer.Option(False, "--select-balance", help="Keep the top share within each stratum of the "
                                        "teacher's entities per sentence (0, 1, 2, 3+), not of all sentences."),
    select_threshold: Optional[float] = typer.Option(None, "--select-threshold", help="Or keep every sentence scoring at least this."),
    confidence: str = typer.Option("mean", "--confidence", help="Sentence confidence: mean or min word probability."),
    teacher_decode: str = typer.Option("argmax", "--teacher-decode", help="The teacher's hard tags: argmax (each word's "
                                       "best tag) or bio (the best valid IOB2 sequence)."),
    soft: bool = typer.Option(False, "--soft/--hard", help="Distil the teacher's word distributions (KL) or train on its tags."),
    temperature: float = typer.Option(1.0, "--temperature", help="Distillation temperature."),
    max_unlabeled_sentences: Optional[int] = typer.Option(None, help="Use a seeded sample of this many unlabeled sentences."),
    adv_source: str = typer.Option("conll2003-en:train", "--adv-source", help="adversarial: source-language corpus."),
    adv_max_source: int = typer.Option(2000, "--adv-max-source", help="adversarial: seeded sample of the source (0 = all)."),
    adv_epochs: int = typer.Option(1, "--adv-epochs", help="adversarial: discriminator training passes."),
    adv_lr: Optional[float] = typer.Option(None, "--adv-lr", help="adversarial: encoder learning rate (default --lr)."),
    adv_disc_lr: Optional[float] = typer.Option(None, "--adv-disc-lr", help="adversarial: discriminator learning rate (default --adv-lr)."),
    adv_lambda: float = typer.Option(1.0, "--adv-lambda", help="adversarial: gradient-reversal weight."),
    adv_ner_weight: float = typer.Option(1.0, "--adv-ner-weight", help="adversarial: source NER loss weight."),
    adv_probe_epochs: int = typer.Option(30, "--adv-probe-epochs", help="adversarial: passes of the cross-fitted probe "
                                         "that scores the sentences (0 = score with the adversarial discriminator)."),
    adv_probe_folds: int = typer.Option(5, "--adv-probe-folds", help="adversarial: folds of the probe."),
    init_from: Optional[Path] = typer.Option(None, "--init-from", help="Start from a trained model folder's weights "
                                             "(same encoder and arch; e.g. a student from its --teacher)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: model folder and test metrics."),
) -> None:
    """Train an NER model (transformers encoder or spaCy) and optionally evaluate it; with --unlabeled and
    --teacher, a student on a teacher's labels of unlabeled text."""
    from projection.train import TrainConfig, parse_label_map, train_model
    from projection.train.api import EVAL_DIR, slug

    config = TrainConfig(
        lr=lr, epochs=epochs, batch_size=batch_size, warmup=warmup, seed=seed, max_length=max_length,
        fusion_layer=fusion_layer, reduction=reduction, label_map=parse_label_map(label_map),
        ignore=[x.strip() for x in (ignore_labels or "").split(",") if x.strip()], freeze_embeddings=freeze_embeddings,
        max_train_sentences=max_train_sentences, max_dev_sentences=max_dev_sentences, threads=threads, lang=lang,
        freeze_layers=freeze_layers, keep_layers=keep_layers, batch_tokens=batch_tokens, eval_every=eval_every, precision=precision,
        strip_marks=strip_marks, dev_decode=decode,
        fused_optimizer=fused_optimizer, select=select, select_fraction=select_fraction, select_threshold=select_threshold,
        select_balance=select_balance, confidence=confidence, teacher_decode=teacher_decode,
        soft_labels=soft, temperature=temperature, max_unlabeled_sentences=max_unlabeled_sentences,
        adv_source=adv_source, adv_max_source=adv_max_source or None, adv_epochs=adv_epochs, adv_lr=adv_lr, adv_disc_lr=adv_disc_lr,
        adv_lambda=adv_lambda, adv_ner_weight=adv_ner_weight, adv_probe_epochs=adv_probe_epochs,
        adv_probe_folds=adv_probe_folds, init_from=str(init_from) if init_from else None,
    )
    if not train_sets and unlabeled is None:
        raise ProjectionError("give training data (--train), or unlabeled text and a teacher (--unlabeled, --teacher)")
    model_dir = train_model(train_sets or [], out=out, model=model, arch=arch, dev=dev or None, test=test or (),
                            config=config, unlabeled=unlabeled, teacher=teacher, unlabeled_format=unlabeled_format)
    results = {}
    for t in test or ():
        results[t] = json.loads((model_dir / EVAL_DIR / slug(t) / "metrics.json").read_text(encoding="utf-8"))
    if as_json:
        _print_json({"model": str(model_dir), "test": {k: {x: v[x] for x in ("f1", "precision", "recall", "per_label")}
                                                        for k, v in results.items()}})
        return
    meta = json.loads((model_dir / "train.json").read_text(encoding="utf-8"))
    for h in meta.get("history", []):
        dev_part = f", dev F1 {100 * h['dev_f1']:.2f}" if "dev_f1" in h else ""
        console.print(f"epoch {h['epoch']}: loss {h['loss']:.4f}{dev_part}")
    ts = meta.get("data", {}).get("teacher_student")
    if ts:
        lab, sel = ts["teacher_labelling"], ts["selection"]
        console.print(f"teacher {ts['teacher']['dir']}: {lab['sentences']:,} sentences labelled "
                      + ("(from the store)" if lab["from_cache"] else f"in {lab['seconds']:.0f} s")
                      + f"; {sel['kept']:,} of {sel['candidates']:,} kept ({sel['method']}), {ts['labels']} labels",
                      markup=False, emoji=False, soft_wrap=True)
    console.print(f"saved {q(str(model_dir))} (best epoch {meta.get('best_epoch')})")
    for t, m in results.items():
        console.print(_metrics_line(t, m) + f"  -> {model_dir / EVAL_DIR / slug(t)}", markup=False, emoji=False, soft_wrap=True)


@app.command()
def evaluate(
    model: Path = typer.Option(..., "--model", help="A trained model folder (from `projection train`)."),
    test: list[str] = typer.Option(..., "--test", help="Test corpus name or file; repeatable."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default MODEL/eval/<test>); one subfolder per test when several."),
    backend: str = typer.Option("torch", help="torch (exact), ct2 (encoder on CTranslate2, int8 on CPU: faster on "
                                "fresh text), int8 (torch dynamic int8 for the trained layers, frozen layers from the "
                                "feature store: fastest when a test set is scored by many models) or auto."),
    ignore_labels: Optional[str] = typer.Option(None, "--ignore-labels", help="Labels removed from gold and predictions "
                                                "before scoring, e.g. DATE (MasakhaNER against a CoNLL-trained model)."),
    precision: Optional[str] = typer.Option(None, help="torch backend: auto, fp32 or bf16 (bf16 autocast) instead of "
                                            "the model's own (fp32 for models trained before the option)."),
    decode: str = typer.Option("argmax", help="How word scores become tags: argmax (each word's best tag, repaired "
                               "to IOB2) or bio (the best sequence where I-X follows only B-X or I-X)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON metrics."),
) -> None:
    """Score a trained model with seqeval; write predictions.conll and metrics.json."""
    from projection.train import evaluate as run_eval
    from projection.train import load_model
    from projection.train.api import slug

    predictor = load_model(model, backend=backend, precision=precision)
    results = {}
    for t in test:
        target = None if out is None else (out if len(test) == 1 else out / slug(t))
        results[t] = run_eval(predictor, t, target, model_dir=model, decode=decode,
                              ignore=[x.strip() for x in (ignore_labels or "").split(",") if x.strip()])
    if as_json:
        keys = ("f1", "precision", "recall", "per_label", "errors")
        _print_json({t: {x: m[x] for x in keys} for t, m in results.items()})
        return
    for t, m in results.items():
        console.print(_metrics_line(t, m), markup=False, emoji=False, soft_wrap=True)
        table = Table(show_header=True, caption="gold entities given another label on the same words, found with other "
                      "words (either label), missed; predicted entities overlapping no gold one (% of each side)")
        for col in ("label", "P", "R", "F1", "support", "other label", "other words", "missed", "spurious"):
            table.add_column(col, justify="left" if col == "label" else "right")
        errors = m["errors"]
        for lab, v in m["per_label"].items():
            table.add_row(q(lab), pct(v["precision"], 2), pct(v["recall"], 2), pct(v["f1"], 2), str(v["support"]),
                          *_error_shares(errors["gold"].get(lab), errors["predicted"].get(lab)))
        console.print(table)


def _error_shares(gold: dict | None, predicted: dict | None) -> list[str]:
    """A label's gold entities given another label, found with other words and missed, and its spurious predicted
    entities, as percentages of their side (:func:`projection.scores.span_errors`)."""
    def share(n: int, total: int) -> str:
        return pct(n / total, 1) if total else ""

    cells = ["", "", ""]
    if gold:
        n = gold["support"]
        cells = [share(sum(gold["type"].values()), n), share(gold["boundary"] + sum(gold["type_boundary"].values()), n),
                 share(gold["missed"], n)]
    return cells + [share(predicted["spurious"], predicted["count"]) if predicted else ""]


@app.command()
def compare(
    lang: str = typer.Option("es", "--lang", help="Target languages, comma-separated: es, nl, de, hau, swa, yor, zul."),
    out: Path = typer.Option(Path("results/downstream"), "--out",
                             help="Result folder: <lang>/<system>-seed<N>/{system,metrics}.json (small, committable)."),
    models: Optional[Path] = typer.Option(None, "--models", help="Folder for the models and their predictions "
                                                                 "(default: OUT/models)."),
    seeds: str = typer.Option("13,14,15", "--seeds", help="Seeds, comma-separated (sampling, initialisation, order)."),
    systems: str = typer.Option("1,2,3,4,5", help="1 zero-shot, 2 DLFA zero-shot, 3 ours, 4 published projection, 5 en+ours, "
                                                 "6 teacher-student (see --teacher-system), 7 translate-test, 8 translate-"
                                                 "train on target text labelled through English (see --back-pipeline)."),
    report: Optional[Path] = typer.Option(None, help="Folder for results.md/.csv/.png (default: --out; docs/ for the committed page)."),
    model: str = typer.Option("models/e5-small", "--model", help="The encoder used by every system."),
    projected: Optional[list[str]] = typer.Option(None, help="LANG=PATH: our projection of LANG (run directory or file); "
                                                            "default runs/LANG-given, runs/LANG-nllb-given (African)."),
    max_train: int = typer.Option(0, help="Seeded sample of CoNLL-2003 train ids shared by all "
                                  "systems (0 = all)."),
    max_dev: int = typer.Option(1000, help="English dev sentences used for model selection (0 = all)."),
    dev: str = typer.Option("conll2003-en:dev", help="Source-side dev set for model selection (no target gold)."),
    epochs: int = typer.Option(2),
    combined_epochs: int = typer.Option(1, help="System 5's epochs (English + our projection, about twice the "
                                        "sentences: with --epochs 2, 1 trains every system the same number of steps); "
                                        "0 = --epochs."),
    lr: float = typer.Option(1e-4),
    batch_size: int = typer.Option(16),
    freeze_layers: int = typer.Option(0, help="Lower encoder layers frozen (their output computed once; it costs "
                                      "zero-shot F1: docs/train.md)."),
    keep_layers: int = typer.Option(0, help="Build every system on the encoder's lower N layers only (0 = all, the "
                                    "committed results' recipe; docs/train.md)."),
    fusion_layer: int = typer.Option(8, help="DLFA/AIF: the lower layer fused with the last one."),
    strip_marks: Optional[bool] = typer.Option(None, "--strip-marks/--no-strip-marks", help="Every system's encoder reads "
                                               "words without combining marks (tone marks, accents), in training and "
                                               "evaluation; default: each target's own (on for yor; docs/train.md)."),
    eval_every: int = typer.Option(200, help="English dev evaluation every N steps (0: once per epoch)."),
    precision: str = typer.Option("bf16", help="bf16 (the committed results' recipe: bf16 autocast and the "
                                  "fused AdamW for training and prediction), auto (bf16 where the device multiplies it "
                                  "natively) or fp32 (docs/train.md)."),
    freeze_embeddings: bool = typer.Option(True, help="Freeze the word embeddings (identically for all systems)."),
    decode: str = typer.Option("bio", help="How every system's word scores become tags: bio (the best valid "
                               "IOB2 sequence; the committed results) or argmax (each word's best tag); evaluation "
                               "only, the same models (systems 7 and 8: the English tagger's labels, so their models "
                               "change)."),
    dev_decode: str = typer.Option("argmax", help="How the English dev evaluations that pick each model decode: argmax "
                                   "(the committed results) or bio (as --decode bio scores: other models)."),
    keep_models: bool = typer.Option(False, help="Keep every model's weights (~470 MB each) after evaluation."),
    teacher_system: str = typer.Option("5", help="System 6: the system (1-5) whose model labels "
                                       "the unlabeled target text."),
    select: str = typer.Option("confidence", help="System 6: selection of the teacher-labelled sentences: none, confidence, adversarial."),
    select_fraction: float = typer.Option(0.5, help="System 6: the top share kept (0 = no "
                                          "fraction: every sentence with --select none)."),
    select_balance: bool = typer.Option(True, "--select-balance/--no-select-balance", help="System "
                                        "6: keep the top share within each stratum of the teacher's entities per "
                                        "sentence (0, 1, 2, 3+), or of all sentences."),
    soft: bool = typer.Option(False, "--soft/--hard", help="System 6: distil the teacher's distributions or train on its tags."),
    temperature: float = typer.Option(1.0, help="System 6: distillation temperature."),
    max_unlabeled: int = typer.Option(0, help="System 6: seeded sample of the unlabeled sentences (0 = all)."),
    student_projected: bool = typer.Option(False, help="System 6: the student also trains on our projection."),
    student_init: bool = typer.Option(True, help="System 6: the student starts from its teacher's "
                                      "weights (self-training), or from the pretrained encoder."),
    back_pipeline: str = typer.Option("translate-test", help="Systems 7 and 8: the back-translation pipeline (name or "
                                      ".toml) that labels target text through English with system 1's model."),
    back_set: Optional[list[str]] = typer.Option(None, "--back-set", help="Systems 7 and 8: override a key of the "
                                                 "back-translation pipeline, SECTION.KEY=VALUE (repeatable)."),
    force: bool = typer.Option(False, help="Retrain and re-evaluate even when results are up to date."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Run nothing: list each evaluation as done, new, model "
                                 "changed or evaluation changed (what a run would redo)."),
    report_only: bool = typer.Option(False, "--report-only", help="Train and score nothing: write the report of the "
                                     "evaluations already in --out (say, rows copied from another machine)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result rows as JSON."),
) -> None:
    """Zero-shot vs DLFA vs translate-train (ours / published projection) vs teacher-student over seeds and languages; tables and a chart."""
    from rich.text import Text

    from projection.train.compare import SYSTEMS, CompareOptions
    from projection.train.report import collect, summarise
    from projection.train.compare import compare as run_compare

    def ints(text: str, what: str) -> list[int]:
        try:
            return [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise ProjectionError(f"{what}: expected integers like 13,14,15, got {text!r}") from None

    proj: dict[str, str] = {}
    for item in projected or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ProjectionError(f"--projected {item!r}: expected LANG=PATH, e.g. es=runs/es-given")
        proj[key.strip()] = value.strip()
    opts = CompareOptions(model=model, max_train=max_train or None, max_dev=max_dev or None, epochs=epochs,
                          combined_epochs=combined_epochs or None, lr=lr,
                          batch_size=batch_size, freeze_embeddings=freeze_embeddings, freeze_layers=freeze_layers,
                          keep_layers=keep_layers or None, fusion_layer=fusion_layer, strip_marks=strip_marks,
                          eval_every=eval_every or None, dev=dev, projected=proj,
                          precision=precision, decode=decode, dev_decode=dev_decode,
                          keep_models=keep_models, teacher_system=teacher_system, select=select,
                          select_fraction=select_fraction or None, soft_labels=soft, temperature=temperature,
                          max_unlabeled=max_unlabeled or None, student_projected=student_projected,
                          student_init=student_init, select_balance=select_balance)
    langs = [x.strip() for x in lang.split(",") if x.strip()]
    system_ids = [s.strip() for s in systems.split(",") if s.strip()]
    back_label = None
    if {"7", "8"} & set(system_ids):
        from projection.pipeline import BackLabeller

        back_label = BackLabeller(back_pipeline, back_set or [])
    if report_only:
        from projection.train.report import write_report

        if dry_run or force:
            raise ProjectionError("--report-only trains and scores nothing: it goes with neither --dry-run nor --force")
        if not out.is_dir():
            raise ProjectionError(f"{out}: no such result folder (--out)")
        if not collect(out):  # checked before anything is written
            raise ProjectionError(f"{out}: no finished evaluation (<lang>/<system>-seed<N>/system.json with its "
                                  "metrics.json) to report")
        res = write_report(out, report or out)
        langs = list(dict.fromkeys(r["language"] for r in res["rows"]))
    else:
        res = run_compare(langs, out, seeds=ints(seeds, "--seeds"), systems=system_ids, options=opts, force=force,
                          report=report, models=models, back_label=back_label, dry_run=dry_run)
    if as_json:
        _print_json(res)
        return
    if dry_run:
        plan_table = Table(title=f"{out}: what a run would do")
        for col in ("language", "system", "seed", "state"):
            plan_table.add_column(col)
        for item in res["plan"]:
            state = item["state"] + (f": {', '.join(item['changed'])}" if item.get("changed") else "")
            if item.get("copy_of"):
                state += f" (a copy of {item['copy_of']}, its twin that reads the marks)"
            plan_table.add_row(item["language"], SYSTEMS[item["system"]], str(item["seed"]), state)
        console.print(plan_table)
        todo = sum(item["state"] != "done" for item in res["plan"])
        console.print(f"{todo} of {len(res['plan'])} evaluations to do" + (" (--force: all)" if force else ""))
        for m in res["missing"]:
            console.print(Text(f"{m['language']} system {m['system']} cannot run: {m['reason']}", style="yellow"))
        return
    summary = summarise(collect(out))
    table = Table(title="test F1 (%), mean ± sd over seeds")
    table.add_column("system")
    shown = [x for x in langs if any(k[0] == x for k in summary)]
    for x in shown:
        table.add_column(x, justify="right")
    for sid, label in SYSTEMS.items():
        cells = [summary.get((x, sid)) for x in shown]
        if any(cells):
            table.add_row(Text(label), *[pct_mean_sd(*c["f1"]) if c else "" for c in cells])
    console.print(table)
    for m in res["missing"]:
        seed = f" seed {m['seed']}" if "seed" in m else ""
        console.print(Text(f"{m['language']} system {m['system']}{seed} not run: {m['reason']}", style="yellow"))
    where = report or out
    console.print(Text(f"wrote {where / 'results.md'}, {where / 'results.csv'}, {where / 'results.png'}"))


# --------------------------------------------------------------------------- inspect (projection/inspect/)


@app.command("inspect")
def inspect_cmd(
    run_dir: Path = typer.Argument(..., help="A projection run directory (written by `projection run`)."),
    label: Optional[list[str]] = typer.Option(
        None, "--label", "-l", help="Only sentences with an entity of this label (repeat or comma-separate)."),
    status: Optional[list[str]] = typer.Option(
        None, "--status", "-s",
        help="Entity status (projected, unaligned, conflict, below-threshold) or sentence status (kept, dropped)."),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="Only entities scoring at least this."),
    max_score: Optional[float] = typer.Option(None, "--max-score", help="Only entities scoring at most this."),
    grep: Optional[str] = typer.Option(None, "--grep", "-g", help="Case-insensitive regex over source and target text."),
    sample: Optional[int] = typer.Option(None, "--sample", help="A random sample of N of the matching sentences."),
    seed: int = typer.Option(0, "--seed", help="Seed of --sample (and of the HTML report's sample)."),
    page: int = typer.Option(1, "--page", "-p", help="Page of sentences to print."),
    per_page: int = typer.Option(10, "--per-page", help="Sentences per page."),
    summary_only: bool = typer.Option(False, "--summary-only", help="Print the summary only, no sentences."),
    html: Optional[Path] = typer.Option(None, "--html", help="Write a self-contained HTML report to this file."),
    results: Optional[Path] = typer.Option(
        None, "--results", help="A `projection compare` output folder (results.csv, chart) to include."),
    max_sentences: int = typer.Option(1000, "--max-sentences", help="Most sentences listed in the HTML report."),
    as_json: bool = typer.Option(False, "--json", help="Print the statistics and the selected sentence ids as JSON."),
) -> None:
    """Look at a projection run: summary, then source and target side by side (or --html REPORT)."""
    from projection import inspect as pi

    filters = dict(labels=label, statuses=status, min_score=min_score, max_score=max_score, grep=grep,
                   sample=sample, seed=seed)
    if html is not None:
        out = pi.write_html(run_dir, html, results=results, max_sentences=max_sentences, **filters)
        console.print(f"wrote {q(str(out))} ({out.stat().st_size / 1e6:.1f} MB)")
    elif as_json:
        run = pi.load_run(run_dir)
        filt = pi.make_filter(**filters)
        selected = filt.apply(run.sentences)
        _print_json({**pi.summarize(run), "selection": {"filter": filt.describe(), "sentences": len(selected),
                                                        "ids": [ps.id for ps in selected]}})
    else:
        pi.show(run_dir, console, page=page, per_page=per_page, sentences=not summary_only, results=results, **filters)


# --------------------------------------------------------------------------- export (projection/export/)


@app.command("export")
def export_cmd(
    run_dir: Path = typer.Argument(..., help="A projection run directory (written by `projection run`)."),
    fmt: str = typer.Option(..., "--format", "-f", help="spacy (DocBin), hf (datasets folder + dataset card), conll or jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (replaced whole if it holds an earlier export)."),
    scheme: Optional[str] = typer.Option(None, "--scheme", help="Tag scheme for conll, jsonl and hf: iob2 (default), iob1 or iobes."),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="Keep only entities scoring at least this (0-1); the others become O."),
    policy: Optional[str] = typer.Option(None, "--policy", help="Re-apply a filtering policy: keep-all, drop-sentence or drop-below-score (default: the run's)."),
    dev_fraction: float = typer.Option(0.0, "--dev-fraction", help="Share of the kept sentences moved to a dev split (0 = train only)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the train/dev split."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: files, per-split counts, selection."),
) -> None:
    """Export a run for training: spaCy DocBin, Hugging Face datasets (with a dataset card), CoNLL or JSONL."""
    from projection.export import export_run

    options = {"scheme": scheme} if scheme is not None else {}
    res = export_run(run_dir, fmt, out, policy=policy, min_score=min_score, dev_fraction=dev_fraction, seed=seed, **options)
    if as_json:
        _print_json({"out": str(res.out), "format": res.format, "files": res.files, "counts": res.counts,
                     "selection": res.selection, "seconds": res.seconds})
        return
    table = Table(title=q(f"{run_dir} -> {res.out} ({res.format})"))
    labels = list(next(iter(res.counts.values()))["per_label"])
    for col in ("split", "sentences", "tokens", "entities", *map(q, labels)):
        table.add_column(col, justify="left" if col == "split" else "right")
    for name, c in res.counts.items():
        table.add_row(name, f"{c['sentences']:,}", f"{c['tokens']:,}", f"{c['entities']:,}",
                      *(f"{c['per_label'][lab]:,}" for lab in labels))
    console.print(table)
    sel = res.selection
    dropped = ", ".join(f"{k}: {v:,}" for k, v in sel["dropped"].items()) or "none"
    how = f"policy {sel['policy']}" + (f" (run: {sel['run_policy']})" if sel["policy"] == "as-run" else "")
    if sel["min_score"] is not None:
        how += f", min score {sel['min_score']}"
    console.print(f"{sel['sentences_out']:,} of {sel['sentences_in']:,} sentences ({how}; left out: {dropped})",
                  markup=False, highlight=False)
    console.print(f"wrote {res.out}/: {', '.join(res.files)}", markup=False, highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- align (projection/align/)


@app.command("align")
def align_cmd(
    input: Path = typer.Option(..., "--input", "-i", help="Sentence pairs: 'src ||| tgt' lines, or JSONL with src_words/tgt_words."),
    output: Path = typer.Option(..., "--output", "-o", help="Output: one Pharaoh line ('i-j ...', 0-based) per pair."),
    aligner: str = typer.Option("embed", "--aligner", "-a", help="embed or eflomal."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="embed: encoder folder or hub name (default mBERT)."),
    layer: Optional[int] = typer.Option(None, "--layer", help="embed: hidden layer, 0 = embeddings (default 8)."),
    method: Optional[str] = typer.Option(None, "--method", help="embed: argmax, itermax or match (default argmax)."),
    distortion: Optional[float] = typer.Option(None, "--distortion", help="embed: SimAlign distortion ratio (default 0)."),
    backend: Optional[str] = typer.Option(
        None, "--backend", help="embed: ct2 (CTranslate2, int8 on CPU) or torch; default ct2 where the model converts."),
    compute_type: Optional[str] = typer.Option(
        None, "--compute-type", help="embed, ct2: int8, float16, float32... (default int8 on CPU, float16 on GPU)."),
    device: Optional[str] = typer.Option(None, "--device", help="embed: auto, cpu or cuda (default auto)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="embed: sentences per forward pass."),
    symmetrization: Optional[str] = typer.Option(
        None, "--symmetrization", help="eflomal: intersection, union, grow-diag, grow-diag-final, grow-diag-final-and."),
    extra: Optional[list[Path]] = typer.Option(None, "--extra", help="eflomal: more parallel text to learn from (repeatable)."),
    lowercase: bool = typer.Option(False, "--lowercase", help="Lower-case the input (and extra) words first."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON summary: pairs, links, seconds, signature."),
) -> None:
    """Word-align sentence pairs (embed = SimAlign-style, batched; eflomal = statistical, symmetrised)."""
    from projection.align.run import align_file

    opts = {k: v for k, v in (("model", model), ("layer", layer), ("method", method), ("distortion", distortion),
                              ("backend", backend), ("compute_type", compute_type), ("device", device),
                              ("batch_size", batch_size), ("symmetrization", symmetrization))
            if v is not None}
    summary = align_file(aligner, input, output, opts, extra=extra or [], lowercase=lowercase)
    if as_json:
        _print_json(summary)
        return
    from projection.store import signature_string

    rate = summary["pairs_per_second"] or 0.0
    console.print(f"wrote {q(str(output))}: {summary['pairs']:,} pairs, {summary['links']:,} links "
                  f"in {summary['seconds']:.1f} s ({rate:,.1f} pairs/s)")
    if summary.get("windowed_sentences"):
        console.print(f"{summary['windowed_sentences']:,} sentences longer than the encoder's input limit were "
                      "encoded in overlapping windows")
    console.print(f"[dim]{q(signature_string(summary['signature']))}[/dim]", highlight=False)


@app.command("eval-align")
def eval_align_cmd(
    predicted: Path = typer.Argument(..., help="Predicted alignments: Pharaoh lines, 0-based."),
    gold: Path = typer.Argument(..., help="Gold: Pharaoh lines (i-j sure, ipj possible) or JSONL (src_words, tgt_words, alignment)."),
    one_indexed: Optional[bool] = typer.Option(
        None, "--one-indexed/--zero-indexed",
        help="The Pharaoh gold file is 1-indexed (awesome-align's) or 0-indexed; by default 0, and a file that looks 1-indexed is an error."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", help="The sentence pairs (src ||| tgt or JSONL): links are checked against their lengths."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: precision, recall, f1, aer and link counts."),
) -> None:
    """Score alignments against gold: precision, recall, F1 and AER (sure/possible links)."""
    from projection.align.metrics import evaluate_files

    scores = evaluate_files(predicted, gold, one_indexed=one_indexed, pairs=pairs).to_dict()
    if as_json:
        _print_json(scores)
        return
    console.print(f"AER {scores['aer']:.4f}  precision {scores['precision']:.4f}  recall {scores['recall']:.4f}  "
                  f"F1 {scores['f1']:.4f}  ({scores['pairs']:,} pairs, {scores['predicted']:,} predicted, "
                  f"{scores['sure']:,} sure / {scores['possible']:,} possible gold links)")


# --------------------------------------------------------------------------- end of align


# --------------------------------------------------------------------------- run / eval-projection (projection/pipeline.py, pipeline_eval.py)


def _stats_table(stats: dict, title: str) -> Table:
    statuses = ["projected", "unaligned", "conflict", "below-threshold"]
    table = Table(title=title)
    table.add_column("label")
    table.add_column("entities", justify="right")
    for st in statuses:
        table.add_column(st, justify="right")
    table.add_column("rate", justify="right")
    for label, row in stats["per_label"].items():
        table.add_row(q(label), f"{row['entities']:,}", *(f"{row.get(st, 0):,}" for st in statuses),
                      f"{row['rate']:.1%}" if row["rate"] is not None else "-")
    total = {st: sum(r.get(st, 0) for r in stats["per_label"].values()) for st in statuses}
    table.add_row("[bold]all[/bold]", f"[bold]{stats['entities']:,}[/bold]", *(f"{total[st]:,}" for st in statuses),
                  f"{stats['rate']:.1%}" if stats["rate"] is not None else "-")
    return table


@app.command("run")
def run_cmd(
    lang: str = typer.Option(..., "--lang", help="Target language(s), e.g. es or es,de (one run directory each)."),
    pipeline: str = typer.Option("auto", help="A pipeline name (auto, nllb, offline, given) or a .toml file."),
    source: Optional[str] = typer.Option(None, help="Source corpus name or file (default: the pipeline's, conll2003-en:train)."),
    out: Optional[Path] = typer.Option(None, help="Run directory (default runs/<lang>-<pipeline>); with several languages, OUT/<lang>."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Override a pipeline key: SECTION.KEY=VALUE (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the run's statistics as JSON on stdout."),
    executor: Optional[str] = typer.Option(None, help="Run the stages locally (local) or on Ray over shards and languages (ray); default: the pipeline file's executor key, else local."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="ray: join this cluster (default: $RAY_ADDRESS, else a local Ray instance sized to this machine)."),
    shard_size: Optional[int] = typer.Option(None, "--shard-size", help="ray: sentences per shard (default 2000)."),
) -> None:
    """Translate, align and project the English source into the target language; write a run directory."""
    from projection.pipeline import run_many

    langs = [x.strip() for x in lang.split(",") if x.strip()]
    if not langs:
        raise ProjectionError("--lang: give at least one language code, e.g. --lang es")
    ray_options = {k: v for k, v in {"address": ray_address, "shard_size": shard_size}.items() if v is not None}
    if ray_options and executor not in (None, "ray"):
        raise ProjectionError("--ray-address and --shard-size apply to --executor ray only")
    if ray_options and executor is None:
        executor = "ray"
    results = {}
    for res in run_many(langs, pipeline, source, out, overrides=set_ or [], executor=executor, **ray_options):
        code = res.manifest["target_lang"]
        st = res.stats
        results[code] = {"out": str(res.out), **st}
        if as_json:
            continue
        console.print(_stats_table(st, q(f"{res.manifest['source']['corpus']} -> {code} ({res.manifest['pipeline']['name']})")))
        dropped = ", ".join(f"{k}: {v:,}" for k, v in st["dropped"].items()) or "none"
        timings = res.manifest["timings"]
        console.print(f"sentences: {st['sentences_in']:,} in, {st['sentences_out']:,} out (dropped by reason: {dropped}); "
                      f"policy {res.manifest['engines']['filter']['policy']}")
        console.print("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
                      + "; cached stages: " + (", ".join(k for k, v in res.manifest["stages"].items() if v["cached"]) or "none"))
        console.print(f"wrote {q(str(res.out))}/ (projected.conll: the training data; projections.jsonl, entities.parquet, manifest.json)")
    if as_json:
        _print_json(results if len(langs) > 1 else results[langs[0]])


@app.command("score-run")
def score_run_cmd(
    run_dir: Path = typer.Argument(..., help="A run directory of direction = \"target\" (e.g. pipeline translate-test)."),
    gold: str = typer.Option(..., "--gold", help="The corpus the run labelled, with its gold tags (e.g. conll2002-es:test)."),
    ignore_labels: Optional[str] = typer.Option(None, "--ignore-labels", help="Labels removed from both sides before "
                                                "scoring, e.g. MISC."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: f1, precision, recall, per_label (fractions)."),
) -> None:
    """Score a run's labels on every sentence (kept or not) against gold tags: translate-test F1, agreement with gold."""
    from projection.pipeline_eval import score_run

    res = score_run(run_dir, gold, [x.strip() for x in (ignore_labels or "").split(",") if x.strip()])
    if as_json:
        _print_json(res)
        return
    _print_scores(f"{run_dir} against {gold} ({res['sentences']:,} sentences)", res)


@app.command("eval-projection")
def eval_projection_cmd(
    lang: str = typer.Option(..., "--lang", help="es or de (Europarl-NER has gold entities on both sides)."),
    aligner: str = typer.Option("embed", help="Aligner engine: embed, eflomal, ..."),
    model: Optional[str] = typer.Option(None, help="Encoder for embed (default models/e5-small when present)."),
    method: str = typer.Option("ngram", help="Projection method: heuristic or ngram."),
    layer: Optional[int] = typer.Option(None, help="embed: hidden layer (default 8)."),
    align_method: Optional[str] = typer.Option(None, "--align-method", help="embed: argmax, itermax or match (default itermax)."),
    backend: Optional[str] = typer.Option(
        None, "--backend", help="embed: ct2 (CTranslate2, int8 on CPU) or torch; default ct2 where the model converts."),
    compute_type: Optional[str] = typer.Option(
        None, "--compute-type", help="embed, ct2: int8, float16, float32... (default int8 on CPU, float16 on GPU)."),
    extra: Optional[str] = typer.Option(None, help="Statistical aligners: comma-separated extra parallel text (deepl, europarl, files); default deepl."),
    half: str = typer.Option("all", help="Score all sentences, or the first or second half only (tune on one, report the other)."),
    repeat: int = typer.Option(0, help="Alignment run index (cached separately): eflomal has no seed, repeats show the spread."),
    set_: Optional[list[str]] = typer.Option(None, "--set", help="Method option KEY=VALUE (repeatable), e.g. --set threshold=0.4."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: f1, precision, recall, per_label, signatures."),
) -> None:
    """Intrinsic evaluation: project gold English Europarl-NER entities onto the gold target words (seqeval F1)."""
    from projection.options import parse_override
    from projection.pipeline import eval_projection

    align_opts: dict = {}
    if aligner == "embed":
        align_opts = {"layer": 8 if layer is None else layer, "method": align_method or "itermax"}
        align_opts.update({k: v for k, v in (("backend", backend), ("compute_type", compute_type)) if v is not None})
    elif any(v is not None for v in (layer, align_method, backend, compute_type)):
        raise ProjectionError("--layer, --align-method, --backend and --compute-type apply to the embed aligner only")
    method_opts = {}
    for item in set_ or []:
        _, key, value = parse_override(f"project.{item}")
        method_opts[key] = value
    res = eval_projection(lang, aligner, model, method, align_opts, method_opts,
                          extra.split(",") if extra else None, half, repeat)
    if as_json:
        _print_json(res)
        return
    runs_on = res["aligner"].get("backend")
    how = f"{aligner} ({runs_on}, {res['aligner'].get('compute_type')})" if runs_on else aligner
    _print_scores(f"Europarl-NER en->{lang}: {how} + {method} ({res['sentences']} sentences, {half})", res)


def _print_scores(title: str, res: dict[str, Any]) -> None:
    """Precision, recall, F1 and support per label and in all, as a table."""
    table = Table(title=title)
    for col in ("label", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, v in res["per_label"].items():
        table.add_row(label, pct(v["precision"]), pct(v["recall"]), pct(v["f1"]), str(v["support"]))
    table.add_row("[bold]all[/bold]", pct(res["precision"]), pct(res["recall"]), f"[bold]{pct(res['f1'])}[/bold]",
                  str(res["support"]))
    console.print(table)


def _cli_exceptions() -> tuple[tuple, tuple, tuple]:
    """(exit, usage error, abort) exception types of click and of the click that recent typer
    versions vendor (``typer._click``, whose usage errors are not ``click.ClickException``)."""
    import click

    exits: list = [click.exceptions.Exit]
    usage: list = [click.ClickException]
    aborts: list = [click.exceptions.Abort]
    try:
        import typer.exceptions as tex
        from typer import _click as tclick

        exits.append(tex.Exit)
        aborts.append(tex.Abort)
        usage.append(tclick.ClickException)
    except (ImportError, AttributeError):
        pass
    return tuple(exits), tuple(usage), tuple(aborts)


def main() -> None:
    exits, usage, aborts = _cli_exceptions()
    try:
        with package_logging():
            app(standalone_mode=False)
    except ProjectionError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(e.exit_code)
    except exits as e:
        sys.exit(e.exit_code)
    except usage as e:
        e.show()
        sys.exit(e.exit_code)
    except aborts:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
