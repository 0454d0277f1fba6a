"""Training configuration and label mapping, shared by every trainer.

The :class:`TrainConfig` is a plain typed dataclass. It is stored as ``train.json`` in every
saved model folder together with the label set, so a model can always be reloaded and
its evaluation reproduced (the seed and every hyper-parameter are there).

Label mapping happens on *spans*, before tags are made: ``label_map={"DATE": "O"}`` or
``ignore=["MISC"]`` remove those entities (their tokens become ``O``), and
``label_map={"GPE": "LOC"}`` renames them. The same mapping is applied to the gold side
at evaluation time, so a model trained without MISC is scored on PER/ORG/LOC only.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from projection.decoding import check as check_decoder
from projection.errors import ProjectionError
from projection.records import Sentence, Span


SELECT_METHODS = ("none", "confidence", "adversarial")
PRECISIONS = ("auto", "fp32", "bf16")  # see projection.train.precision


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run (all trainers; each uses the fields that apply).

    ``max_length`` is the window size in subwords (special tokens included): a sentence
    longer than that is split into several windows, never cut. ``fusion_layer`` and
    ``reduction`` configure the feature-aggregation model (hidden-state index ``l``: 0 is
    the embedding output, ``num_layers`` the last layer; negative values count from the
    top). ``freeze_embeddings`` freezes the word-embedding matrix (250k x 384 for e5-small,
    most of the optimizer's time on CPU). ``max_train_sentences`` subsamples the training
    data with ``seed`` (the same sentences for the same seed and corpus).

    ``freeze_layers = k`` freezes the embeddings and the lower ``k`` encoder layers: their
    output is computed once per window (and kept on disk with ``feature_cache``, shared by
    every epoch, seed, system and evaluation with the same encoder) and only the upper
    layers and the head train. ``batch_tokens`` forms training batches by a subword budget
    (rows x longest window) instead of ``batch_size`` windows. ``eval_every`` evaluates dev
    every that many optimiser steps as well as after every epoch (a learning curve in
    ``history``; the best evaluation's weights are kept).

    ``keep_layers = N`` builds the tagger on the pretrained encoder's embeddings and lower ``N``
    layers only; the upper layers are dropped before training (a model of ``N / L`` the depth,
    trained and run in about ``N / L`` of the time; the saved encoder has ``N`` layers, so
    every prediction backend runs the smaller model). Hidden-state indices (``fusion_layer``,
    ``freeze_layers``) then count within the kept layers.

    ``strip_marks`` removes every combining mark (tone marks, accents, under-dots) from what the
    encoder sees, in training and in prediction (:func:`projection.textnorm.strip_marks`; the
    words and tags are unchanged): for a language whose diacritics the training text and the
    text to tag write differently (machine-translated against native Yoruba).

    ``precision`` (:mod:`projection.train.precision`): ``auto`` runs the forward passes of
    training and prediction under bf16 autocast where the device multiplies bf16 natively (a
    CPU with AVX512-BF16/AMX, a GPU), ``fp32`` never, ``bf16`` always; weights, optimizer
    state and loss stay float32. ``fused_optimizer`` runs AdamW as one fused kernel (the same
    update; the per-parameter loop was ~8 % of a CPU epoch). A stored config from before these
    options (no ``precision`` key) loads as ``fp32`` with the per-parameter AdamW, as it trained.
    """

    lr: float = 5e-5
    head_lr: float | None = None  # learning rate of the freshly initialised head/fusion module (default: lr)
    epochs: int = 3
    batch_size: int = 16
    eval_batch_size: int = 64
    warmup: float = 0.1  # fraction of the optimisation steps
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    dropout: float = 0.1
    seed: int = 13
    max_length: int = 256
    fusion_layer: int = 8
    reduction: int = 4
    label_map: dict[str, str] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)
    freeze_embeddings: bool = False
    max_train_sentences: int | None = None
    max_dev_sentences: int | None = None
    freeze_layers: int = 0  # embeddings + lower k encoder layers frozen, their output computed once
    keep_layers: int | None = None  # keep the embeddings and the lower N encoder layers, drop the rest (None: all)
    strip_marks: bool = False  # the encoder sees words without combining marks (Èkó -> Eko)
    feature_cache: bool = True  # keep frozen-layer outputs on disk ($PROJECTION_CACHE/features)
    batch_tokens: int | None = None  # training batches by subword budget instead of batch_size
    eval_every: int | None = None  # also evaluate dev every N optimiser steps (learning curve)
    dev_decode: str = "argmax"  # how the dev evaluations (model selection) turn word scores into tags (projection.decoding)
    threads: int | None = None  # CPU threads (default: $OMP_NUM_THREADS, else the available cores, at most 8)
    precision: str = "auto"  # auto | fp32 | bf16: bf16 autocast for training and prediction (projection.train.precision)
    fused_optimizer: bool = True  # AdamW in one fused kernel per step (same update, several times faster on CPU)
    device: str | None = None  # "cpu", "cuda" (default: cuda when available)
    lang: str = "xx"  # spaCy language code for the spacy engine
    spacy_dropout: float = 0.2
    # teacher-student (projection.train.teacher)
    select: str = "none"  # none | confidence | adversarial
    select_fraction: float | None = None  # keep this top share of the unlabeled sentences
    select_threshold: float | None = None  # or every sentence scoring at least this (a probability)
    # keep the top select_fraction within each stratum of the teacher's entity count per sentence (0, 1, 2, 3+), so the
    # kept sentences have the entity distribution of all (a confident top alone is mostly sentences without entities)
    select_balance: bool = False
    confidence: str = "mean"  # sentence confidence: mean or min of the teacher's word probabilities
    teacher_decode: str = "argmax"  # how the teacher's word probabilities become its hard tags (projection.decoding)
    soft_labels: bool = False  # distil the teacher's word distributions (KL) instead of its argmax tags
    temperature: float = 1.0  # distillation temperature (teacher and student scores divided by it)
    max_unlabeled_sentences: int | None = None  # seeded sample of the unlabeled text
    adv_source: str = "conll2003-en:train"  # source-language text of the language discriminator
    adv_max_source: int | None = 2000  # seeded sample of it (None: all)
    adv_epochs: int = 1  # passes over the source + target sentences
    adv_lr: float | None = None  # encoder (upper layers and head) learning rate (default: lr)
    adv_disc_lr: float | None = None  # discriminator learning rate (default: adv_lr)
    adv_lambda: float = 1.0  # gradient-reversal weight on the encoder
    adv_ner_weight: float = 1.0  # source NER loss weight during adversarial training (keeps the encoder a tagger)
    # scoring: a fresh discriminator trained on the adversarially trained encoder's frozen sentence vectors, cross-fitted
    # over adv_probe_folds (each sentence scored by a probe that never saw it), adv_probe_epochs passes; 0 scores with
    # the adversarial discriminator itself (which gradient reversal drives to chance)
    adv_probe_epochs: int = 30
    adv_probe_folds: int = 5
    # a trained model folder of this project (same encoder, arch and depth) whose weights start the training
    # instead of the pretrained encoder and a fresh head: a student from its teacher (self-training)
    init_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainConfig":
        """A stored config (``train.json``). One written before ``precision`` existed trained in
        float32 on a CPU (its ``bf16`` flag applied to GPUs only) with the per-parameter AdamW."""
        d = dict(d)
        if "precision" not in d:
            d.pop("bf16", None)
            d["precision"] = "fp32"
            d.setdefault("fused_optimizer", False)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ProjectionError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**dict(d))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def mapping(self) -> dict[str, str]:
        """The effective label mapping: ``ignore`` entries map to ``O``."""
        out = dict(self.label_map)
        for lab in self.ignore:
            out[lab] = "O"
        return out

    def validate(self) -> None:
        if self.epochs < 1:
            raise ProjectionError("epochs must be at least 1")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ProjectionError("batch sizes must be at least 1")
        if not 0 <= self.warmup < 1:
            raise ProjectionError("warmup is a fraction of the steps, in [0, 1)")
        if self.max_length < 8:
            raise ProjectionError("max_length must be at least 8 subwords")
        if self.reduction < 1:
            raise ProjectionError("reduction r must be at least 1")
        if self.freeze_layers < 0:
            raise ProjectionError("freeze_layers must be 0 (train every layer) or a positive number of lower layers")
        if self.keep_layers is not None and self.keep_layers < 1:
            raise ProjectionError(f"keep_layers must be at least 1 (or unset: every layer), not {self.keep_layers}")
        if self.keep_layers is not None and self.freeze_layers >= self.keep_layers:
            raise ProjectionError(f"freeze_layers ({self.freeze_layers}) must be below keep_layers ({self.keep_layers}): "
                                  "at least one kept layer trains")
        if self.batch_tokens is not None and self.batch_tokens < self.max_length:
            raise ProjectionError(f"batch_tokens ({self.batch_tokens}) must be at least max_length ({self.max_length})")
        if self.eval_every is not None and self.eval_every < 1:
            raise ProjectionError("eval_every is a number of steps, at least 1")
        check_decoder(self.dev_decode, "dev_decode")
        if self.precision not in PRECISIONS:
            raise ProjectionError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}")
        self.validate_teacher()

    def validate_teacher(self) -> None:
        """The teacher-student options (checked before any teacher labelling starts)."""
        if self.select not in SELECT_METHODS:
            raise ProjectionError(f"select must be one of {', '.join(SELECT_METHODS)}, not {self.select!r}")
        if self.confidence not in ("mean", "min"):
            raise ProjectionError(f"confidence must be mean or min, not {self.confidence!r}")
        check_decoder(self.teacher_decode, "teacher_decode")
        if self.select_fraction is not None and not 0 < self.select_fraction <= 1:
            raise ProjectionError(f"select_fraction is a share of the sentences in (0, 1], not {self.select_fraction}")
        if self.select_threshold is not None and not 0 <= self.select_threshold <= 1:
            raise ProjectionError(f"select_threshold is a probability in [0, 1], not {self.select_threshold}")
        if self.select != "none" and self.select_fraction is None and self.select_threshold is None:
            raise ProjectionError(f"select = {self.select}: give select_fraction (a top share) or select_threshold")
        if self.select_balance and (self.select == "none" or self.select_fraction is None):
            raise ProjectionError("select_balance keeps a top share per stratum: give select confidence or adversarial "
                                  "with select_fraction")
        if self.select_fraction is not None and self.select_threshold is not None:
            raise ProjectionError("give select_fraction or select_threshold, not both")
        if not self.temperature > 0:
            raise ProjectionError(f"temperature must be positive, not {self.temperature}")
        if self.max_unlabeled_sentences is not None and self.max_unlabeled_sentences < 1:
            raise ProjectionError("max_unlabeled_sentences must be at least 1")
        if self.adv_epochs < 1:
            raise ProjectionError("adv_epochs must be at least 1")
        if self.adv_probe_epochs < 0 or self.adv_probe_folds < 2:
            raise ProjectionError(f"adv_probe_epochs must be at least 0 and adv_probe_folds at least 2 "
                                  f"({self.adv_probe_epochs} and {self.adv_probe_folds} given)")
        if self.adv_lambda < 0 or self.adv_ner_weight < 0:
            raise ProjectionError("adv_lambda and adv_ner_weight are weights, at least 0")


def parse_label_map(text: str | None) -> dict[str, str]:
    """``"DATE=O,GPE=LOC"`` -> ``{"DATE": "O", "GPE": "LOC"}``."""
    out: dict[str, str] = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        src, eq, dst = item.partition("=")
        if not eq or not src.strip() or not dst.strip():
            raise ProjectionError(f"bad label mapping {item!r}: expected FROM=TO, e.g. DATE=O or GPE=LOC")
        out[src.strip()] = dst.strip()
    return out


def map_sentence(sentence: Sentence, mapping: Mapping[str, str]) -> Sentence:
    """Apply a label mapping to one sentence (entities mapped to ``O`` are removed)."""
    if not mapping:
        return sentence
    spans = []
    for sp in sentence.spans:
        label = mapping.get(sp.label, sp.label)
        if label != "O":
            spans.append(Span(sp.start, sp.end, label))
    return Sentence.from_spans(sentence.id, sentence.tokens, spans, sentence.meta)


def map_labels(sentences: Iterable[Sentence], mapping: Mapping[str, str]) -> list[Sentence]:
    return [map_sentence(s, mapping) for s in sentences]


def subsample(sentences: Sequence[Sentence], n: int | None, seed: int) -> list[Sentence]:
    """``n`` sentences drawn without replacement with ``seed``, in corpus order (all if ``n`` is None)."""
    if n is None or n >= len(sentences):
        return list(sentences)
    keep = sorted(random.Random(seed).sample(range(len(sentences)), n))
    return [sentences[i] for i in keep]
