"""The Python API of the train stage (the CLI's ``train`` and ``evaluate`` wrap these)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.corpora import is_corpus_name, load_corpus, resolve_corpus
from projection.errors import ProjectionError
from projection.records import Sentence
from projection.progress import BATCH_LINE
from projection.store import file_sha256
from projection.train.base import Predictor, read_train_json
from projection.train.config import TrainConfig, map_labels

logger = logging.getLogger(__name__)

EVAL_DIR = "eval"
CorpusRef = str | Path


def describe(ref: CorpusRef, sentences: Sequence[Sentence]) -> dict[str, Any]:
    """What a corpus reference is: its name, file, content hash and size (for metrics.json)."""
    path = resolve_corpus(str(ref))
    return {
        "name": str(ref) if is_corpus_name(str(ref)) else None,
        "path": str(path),
        "sha256": file_sha256(path)[:16],
        "sentences": len(sentences),
    }


def load_sentences(refs: CorpusRef | Sequence[CorpusRef] | Sequence[Sentence]) -> tuple[list[Sentence], list[dict[str, Any]]]:
    """Corpus names / files (concatenated) or already-loaded sentences, with their descriptions."""
    if isinstance(refs, (str, Path)):
        refs = [refs]
    refs = list(refs)
    if refs and all(isinstance(r, Sentence) for r in refs):
        return list(refs), [{"name": None, "path": None, "sentences": len(refs)}]
    out: list[Sentence] = []
    desc = []
    for ref in refs:
        sents = load_corpus(str(ref))
        out.extend(sents)
        desc.append(describe(ref, sents))
    return out, desc


def slug(ref: CorpusRef) -> str:
    """A folder name for an evaluation set: ``conll2002-es:test`` -> ``conll2002-es_test``."""
    text = str(ref)
    if not is_corpus_name(text):
        text = Path(text).name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "test"


def train_model(
    train: CorpusRef | Sequence[CorpusRef] | Sequence[Sentence],
    *,
    out: str | Path,
    model: str | None = None,
    arch: str = "token",
    dev: CorpusRef | Sequence[CorpusRef] | Sequence[Sentence] | None = None,
    test: Sequence[CorpusRef] = (),
    config: TrainConfig | None = None,
    data: dict[str, Any] | None = None,
    unlabeled: CorpusRef | None = None,
    teacher: str | Path | None = None,
    unlabeled_format: str | None = None,
) -> Path:
    """Train engine ``arch`` on ``train`` (names, files or sentences), keep the best epoch on ``dev``,
    save to ``out`` and evaluate on every ``test`` set (``out/eval/<name>/``). ``data`` overrides the
    description of the training data stored with the model (default: names, files and hashes).

    With ``unlabeled`` (a corpus whose tags are never read, or a tokenised text file) and
    ``teacher`` (a trained model folder) the model is a student: it also trains on the
    teacher's labels of that text, selected and hard or soft as ``config`` says
    (:mod:`projection.train.teacher`); ``train`` may then be empty. What the teacher did is
    stored in ``train.json`` under ``data.teacher_student``."""
    from projection.train import trainers

    config = config or TrainConfig()
    config.validate()
    from projection.train.base import TRANSFORMER_ENGINES

    if config.dev_decode != "argmax" and arch not in TRANSFORMER_ENGINES:
        raise ProjectionError(f"dev_decode={config.dev_decode!r}: the {arch} engine has no choice of decoder")
    if (unlabeled is None) != (teacher is None):
        raise ProjectionError("teacher-student training needs both an unlabeled corpus and a teacher model")
    engine = trainers.create(arch, model=model)
    train_s, train_desc = load_sentences(train) if train else ([], [])
    dev_s, dev_desc = (load_sentences(dev) if dev is not None else (None, []))
    data = dict(data or {"train": train_desc, "dev": dev_desc})
    if unlabeled is not None:
        from projection.train.teacher import student_data

        taught, desc = student_data(unlabeled, teacher, config, fmt=unlabeled_format)
        train_s = list(train_s) + taught
        if not config.soft_labels and not any(s.spans for s in train_s):
            raise ProjectionError(f"the teacher {teacher} tagged no entity in the {len(taught):,} sentences kept of "
                                  f"{unlabeled}, and no other training data has one: nothing to learn (try --soft)")
        data["teacher_student"] = desc
    elif config.select != "none" or config.soft_labels:
        raise ProjectionError("selection and soft labels apply to teacher-student training: give an unlabeled corpus "
                              "and a teacher")
    out_dir = engine.train(train_s, dev_s, config, out, data)
    if test:
        predictor = load_model(out_dir)
        for ref in test:
            evaluate(predictor, ref, Path(out_dir) / EVAL_DIR / slug(ref), model_dir=out_dir,
                     decode=config.dev_decode if arch in TRANSFORMER_ENGINES else None)
    return Path(out_dir)


def load_model(model_dir: str | Path, device: str | None = None, backend: str = "torch",
               precision: str | None = None) -> Predictor:
    """Load a trained model folder (any engine) for prediction. ``backend`` (transformer
    engines): ``torch`` (exact), ``ct2`` (the encoder on CTranslate2: int8 on CPU, several
    times faster) or ``auto`` (ct2 on CPU where the encoder converts). ``precision``
    (transformer engines, torch backend): ``auto``, ``fp32`` or ``bf16`` instead of the one
    stored with the model (see :mod:`projection.train.precision`)."""
    from projection.train import trainers

    meta = read_train_json(model_dir)
    return trainers.get(meta["engine"]).load(model_dir, device=device, backend=backend, precision=precision)


def evaluate(
    model: str | Path | Predictor,
    test: CorpusRef | Sequence[Sentence],
    out: str | Path | None = None,
    *,
    model_dir: str | Path | None = None,
    map_gold: bool = True,
    ignore: Sequence[str] = (),
    decode: str | None = None,
) -> dict[str, Any]:
    """Predict ``test`` with ``model`` and score it (seqeval); write ``predictions.conll`` and
    ``metrics.json`` to ``out`` (default ``<model>/eval/<test name>/``).

    The model's own label mapping (e.g. MISC dropped) is applied to the gold side too
    (``map_gold``), so a model is scored on the label set it was trained for. ``ignore``
    removes more labels from both sides before scoring: ``["DATE"]`` scores a CoNLL-trained
    model on MasakhaNER's PER/ORG/LOC (its DATE entities become O). ``decode`` (transformer
    engines) sets how word scores become tags: ``argmax`` (the default) or ``bio`` (the best valid
    IOB2 sequence, :mod:`projection.decoding`).
    """
    from projection.decoding import check as check_decoder
    from projection.train.metrics import evaluate_predictions

    if isinstance(model, (str, Path)):
        model_dir = model
        predictor = load_model(model)
    else:
        predictor = model
    if isinstance(test, (str, Path)):
        gold = load_corpus(str(test))
        data = describe(test, gold)
    else:
        gold = list(test)
        data = {"name": None, "path": None, "sentences": len(gold)}
    if decode is not None:
        check_decoder(decode)
        if hasattr(predictor, "decode"):
            predictor.decode = decode
        elif decode != "argmax":  # argmax: what every engine does
            engine = predictor.info.get("engine")
            raise ProjectionError(f"decode={decode!r}: the {engine} engine has no choice of decoder")
    mapping = predictor.config.mapping()
    if map_gold and mapping:
        gold = map_labels(gold, mapping)
    dropped = dict.fromkeys(ignore, "O")
    if dropped:
        gold = map_labels(gold, dropped)
    if out is None:
        if model_dir is None:
            raise ProjectionError("evaluate: give an output folder (or a model folder to write into)")
        out = Path(model_dir) / EVAL_DIR / slug(test if isinstance(test, (str, Path)) else "sentences")
    t0 = time.perf_counter()
    pred = predictor.predict(gold)
    logger.info(f"predicted {len(gold)} sentences in {time.perf_counter() - t0:.0f} s", extra=BATCH_LINE)
    if dropped:
        pred = [map_labels([Sentence(g.id, g.tokens, p)], dropped)[0].tags for g, p in zip(gold, pred)]
    info = predictor.info
    model_desc = {
        "dir": str(model_dir) if model_dir is not None else None,
        "engine": info.get("engine"),
        "arch": info.get("arch"),
        "encoder": info.get("encoder"),
        "labels": predictor.labels,
        "label_map": mapping,
        "ignored_at_scoring": sorted(dropped),
        "decode": getattr(predictor, "decode", "argmax"),
        "train_data": info.get("data", {}),
        "best_epoch": info.get("best_epoch"),
        "best_dev_f1": info.get("best_dev_f1"),
        "best_step": info.get("best_step"),
        "curve": [{k: pt.get(k) for k in ("epoch", "step", "dev_f1")} for pt in info.get("curve") or []],
        "config": predictor.config.to_dict(),
        "signature": info.get("signature", {}),
    }
    return evaluate_predictions(gold, pred, out, model=model_desc, data=data, seed=predictor.config.seed)
