"""Teacher-student training from unlabeled target text.

A *teacher* (any transformer model folder of this project: zero-shot, translate-train,
English + projection) labels unlabeled target-language sentences
(:mod:`projection.train.unlabeled`: the tokens of a corpus, never its tags); a selection
keeps some of them; a *student* trains on the teacher's labels, alone or with other
(projected) training data, in the ordinary training loop:

* hard labels: the teacher's argmax tags (repaired to IOB2);
* soft labels (``soft_labels``): the teacher's word distributions at ``temperature``
  (knowledge distillation, :mod:`projection.train.distill`).

Selection (``select``):

* ``none``: every sentence;
* ``confidence``: the teacher's probability of its own tag per word, averaged (``mean``)
  or its minimum (``min``) over the sentence; the top ``select_fraction`` or every sentence
  at least ``select_threshold``;
* ``adversarial``: AdvPicker's language discriminator (:mod:`projection.train.adversarial`).

Teacher labels are stored by content under ``$PROJECTION_CACHE/teacher/`` (the teacher's
weights hash, its tag set and the hash of the token sequences): a second student on the
same text with the same teacher (another selection, hard vs soft, another seed) reuses
them. What was done (teacher, text, selection, timing) is returned for the student's
``train.json`` (``data.teacher_student``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from projection.decoding import decode
from projection.errors import ProjectionError
from projection.progress import BATCH_LINE
from projection.records import Sentence
from projection.store import atomic_path, cache_root, content_key, file_sha256
from projection.train.base import TRANSFORMER_ENGINES, read_train_json
from projection.train.config import TrainConfig, subsample
from projection.train.distill import SOFT_KEY, SoftTargets
from projection.train.unlabeled import describe_unlabeled, read_unlabeled, text_hash

logger = logging.getLogger(__name__)

TEACHER_DIR = "teacher"
FORMAT = 1


@dataclass
class TeacherLabels:
    """The teacher's word log-probabilities for every sentence, in its tag order."""

    labels: list[str]
    log_probs: list[np.ndarray]  # float32 (words, labels) per sentence
    info: dict[str, Any]

    def tags(self, i: int, mode: str = "argmax") -> list[str]:
        """The teacher's hard tags of sentence ``i`` under decoder ``mode`` (:mod:`projection.decoding`)."""
        return decode(self.log_probs[i], self.labels, mode)

    def confidence(self, how: str = "mean") -> np.ndarray:
        """Per sentence: mean or minimum over words of the probability of the teacher's own tag."""
        out = np.zeros(len(self.log_probs))
        for i, lp in enumerate(self.log_probs):
            top = np.exp(lp.max(-1)) if len(lp) else np.ones(1)
            out[i] = float(top.mean() if how == "mean" else top.min())
        return out


def teacher_identity(model_dir: str | Path) -> dict[str, Any]:
    """What identifies a teacher: its folder, weights hash, tag set and training data."""
    model_dir = Path(model_dir)
    meta = read_train_json(model_dir)
    if meta["engine"] not in TRANSFORMER_ENGINES:
        raise ProjectionError(f"{model_dir}: a teacher must be a transformer model (token or feature-aggregation), "
                              f"not {meta['engine']}: its word distributions are needed")
    weights = model_dir / "model.safetensors"
    if not weights.exists():
        raise ProjectionError(f"{model_dir}: no model.safetensors (weights deleted after evaluation?); "
                              "a teacher needs its weights")
    config = TrainConfig.from_dict(meta["config"])
    return {"dir": str(model_dir), "sha256": file_sha256(weights)[:16], "engine": meta["engine"],
            "encoder": meta.get("encoder"), "labels": list(meta["labels"]), "best_dev_f1": meta.get("best_dev_f1"),
            "data": meta.get("data", {}), "label_map": config.mapping(), "strip_marks": config.strip_marks}


def _cache_path(key: str) -> Path:
    return cache_root() / TEACHER_DIR / f"{key}.npz"


def label_with_teacher(teacher_dir: str | Path, sentences: Sequence[Sentence] | Sequence[Sequence[str]], *,
                       cache: bool = True, identity: dict[str, Any] | None = None) -> TeacherLabels:
    """The teacher's word log-probabilities for ``sentences`` (batched prediction with a progress bar),
    read from the teacher-label store when the same teacher labelled the same text before."""
    from projection.train.api import load_model

    ident = identity or teacher_identity(teacher_dir)
    tokens = [list(s.tokens) if isinstance(s, Sentence) else list(s) for s in sentences]
    # the same weights read marked words otherwise when their tokenizer strips the marks (strip_marks_copy)
    reads = ["strip-marks"] if ident.get("strip_marks") else []
    key = content_key(f"teacher-labels-v{FORMAT}", ident["sha256"], ident["labels"], *reads, text_hash(tokens), length=24)
    path = _cache_path(key)
    info = {"key": key, "sentences": len(tokens), "words": sum(map(len, tokens))}
    if cache and path.exists():
        try:
            with np.load(path) as z:
                flat, offsets = z["log_probs"], z["offsets"]
            if len(offsets) == len(tokens) + 1 and flat.shape == (int(offsets[-1]), len(ident["labels"])):
                lps = [flat[offsets[i]:offsets[i + 1]] for i in range(len(tokens))]
                if all(len(lp) == len(t) for lp, t in zip(lps, tokens)):
                    return TeacherLabels(ident["labels"], lps, {**info, "from_cache": True, "seconds": 0.0})
        except (OSError, ValueError, KeyError):
            pass  # a damaged file: labelled again and replaced
    t0 = time.perf_counter()
    predictor = load_model(teacher_dir)
    if not hasattr(predictor, "word_logits"):
        raise ProjectionError(f"{teacher_dir}: this model gives no word scores; a teacher must be a transformer model")
    logits = predictor.word_logits(tokens, description="teacher labelling")
    lps = []
    for z in logits:
        z = z.astype(np.float64)
        m = z.max(-1, keepdims=True) if len(z) else 0.0
        lps.append((z - m - np.log(np.exp(z - m).sum(-1, keepdims=True))).astype(np.float32) if len(z) else z.astype(np.float32))
    seconds = time.perf_counter() - t0
    logger.info(f"teacher labelled {len(tokens):,} sentences in {seconds:.0f} s", extra=BATCH_LINE)
    if cache:
        offsets = np.zeros(len(lps) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(lp) for lp in lps])
        flat = np.concatenate(lps) if lps else np.zeros((0, len(ident["labels"])), dtype=np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, log_probs=flat, offsets=offsets)
    return TeacherLabels(ident["labels"], lps, {**info, "from_cache": False, "seconds": round(seconds, 1)})


def select_top(scores: np.ndarray, fraction: float | None, threshold: float | None,
               strata: Sequence[int] | None = None) -> list[int]:
    """Indices (in corpus order) of the sentences kept: every one at least ``threshold``, or the
    ``fraction`` with the highest scores (at least one; ties broken by corpus order); with
    ``strata`` (a group per sentence), the top ``fraction`` of each group, so the kept sentences
    have the groups' shares of all."""
    n = len(scores)
    if threshold is not None:
        return [i for i in range(n) if scores[i] >= threshold]
    if fraction is None:
        return list(range(n))
    if strata is not None:
        groups: dict[int, list[int]] = {}
        for i, g in enumerate(strata):
            groups.setdefault(int(g), []).append(i)
        keep = [i for members in groups.values() for i in _top(scores, members, fraction)]
        return sorted(keep) or _top(scores, list(range(n)), fraction, at_least=1)
    return _top(scores, list(range(n)), fraction, at_least=1)


def _top(scores: np.ndarray, members: list[int], fraction: float, at_least: int = 0) -> list[int]:
    """The ``fraction`` of ``members`` (but ``at_least``) with the highest scores, in corpus order."""
    k = min(len(members), max(at_least, int(round(fraction * len(members)))))
    order = np.argsort(-scores[members], kind="stable")[:k]
    return sorted(members[int(i)] for i in order)


def entity_counts(tags: Sequence[Sequence[str]]) -> np.ndarray:
    """Entities per sentence of IOB2 tag sequences."""
    return np.array([sum(t.startswith("B-") for t in seq) for seq in tags])


def _summary(scores: np.ndarray, keep: Sequence[int]) -> dict[str, Any]:
    kept = scores[list(keep)] if len(keep) else np.zeros(0)
    return {"candidates": int(len(scores)), "kept": len(keep),
            "score_mean_all": round(float(scores.mean()), 4) if len(scores) else None,
            "score_mean_kept": round(float(kept.mean()), 4) if len(kept) else None,
            "score_min_kept": round(float(kept.min()), 4) if len(kept) else None}


def student_data(unlabeled: str | Path, teacher: str | Path, config: TrainConfig, *, fmt: str | None = None,
                 cache: bool = True) -> tuple[list[Sentence], dict[str, Any]]:
    """Teacher-labelled, selected sentences of ``unlabeled`` for a student, and what was done."""
    config.validate_teacher()
    t0 = time.perf_counter()
    sents = read_unlabeled(unlabeled, fmt=fmt)
    text_desc = describe_unlabeled(unlabeled, sents, fmt)
    sents = subsample(sents, config.max_unlabeled_sentences, config.seed)
    text_desc["used"] = len(sents)
    ident = teacher_identity(teacher)
    tl = label_with_teacher(teacher, sents, cache=cache, identity=ident)
    t_sel = time.perf_counter()
    selection: dict[str, Any] = {"method": config.select, "fraction": config.select_fraction,
                                 "threshold": config.select_threshold}
    confidence = tl.confidence(config.confidence)
    if config.select == "confidence":
        scores = confidence
        selection["score"] = f"{config.confidence} word probability of the teacher's tag"
    elif config.select == "adversarial":
        from projection.corpora import load_corpus
        from projection.train.adversarial import adversarial_scores
        from projection.train.api import load_model

        source = subsample(load_corpus(config.adv_source), config.adv_max_source, config.seed)
        scores, adv = adversarial_scores(load_model(teacher), source, [s.tokens for s in sents], config)
        selection["score"] = "P(source language) from the language discriminator"
        selection["adversarial"] = adv
    else:
        scores = confidence
        selection["score"] = f"{config.confidence} word probability of the teacher's tag (not used to select)"
    tags = [tl.tags(i, config.teacher_decode) for i in range(len(sents))]
    entities = entity_counts(tags)
    strata = None
    if config.select_balance:
        strata = np.minimum(entities, 3)
        selection["balance"] = "the top fraction within each stratum of the teacher's entities per sentence (0, 1, 2, 3+)"
    keep = list(range(len(sents))) if config.select == "none" else select_top(scores, config.select_fraction,
                                                                                config.select_threshold, strata)
    if not keep:
        raise ProjectionError(f"selection {config.select} kept no sentence of {unlabeled} "
                              f"(threshold {config.select_threshold}; scores up to {scores.max():.3f})")
    selection.update(_summary(scores, keep))
    selection["teacher_confidence_mean_kept"] = round(float(confidence[keep].mean()), 4)
    selection["teacher_entities_per_sentence"] = {"all": round(float(entities.mean()), 3),
                                                  "kept": round(float(entities[keep].mean()), 3)}
    selection["seconds"] = round(time.perf_counter() - t_sel, 1)
    out = []
    for i in keep:
        s = sents[i]
        meta = {"unlabeled": True, "line": s.meta.get("line"), "teacher_confidence": float(confidence[i]),
                "selection_score": float(scores[i])}
        if config.soft_labels:
            meta[SOFT_KEY] = SoftTargets(tuple(tl.labels), tl.log_probs[i])
        out.append(Sentence(f"teacher-{s.id}", list(s.tokens), tags[i], meta))
    desc = {"teacher": {k: ident[k] for k in ("dir", "sha256", "engine", "encoder", "labels", "best_dev_f1", "data")},
            "unlabeled": text_desc, "labels": "soft" if config.soft_labels else "hard",
            "teacher_decode": config.teacher_decode,
            "temperature": config.temperature if config.soft_labels else None,
            "teacher_labelling": tl.info, "selection": selection, "sentences": len(out),
            "kept_lines": [sents[i].meta.get("line") for i in keep],
            "seconds": round(time.perf_counter() - t0, 1)}
    logger.info(f"teacher-student: {len(out):,} of {len(sents):,} unlabeled sentences kept ({config.select})", extra=BATCH_LINE)
    return out, desc


__all__ = ["TeacherLabels", "label_with_teacher", "select_top", "student_data", "teacher_identity"]
