"""AdvPicker-style selection (Chen et al., ACL 2021, arXiv 2106.02300): a language discriminator
trained adversarially on the teacher's encoder picks the target sentences that look least
target-specific.

The teacher model (a fresh copy, the teacher's folder is not touched) is trained for
``adv_epochs`` passes on pairs of batches, one of source-language sentences
(``adv_source``, a seeded sample of ``adv_max_source``) and one of unlabeled target
sentences:

* the discriminator (two linear layers over the mean of the encoder's last hidden layer)
  learns to tell source (1) from target (0), binary cross-entropy;
* the encoder receives the discriminator's gradient reversed and scaled by ``adv_lambda``
  (gradient reversal, Ganin & Lempitsky 2015): it learns to hide the language;
* the source sentences' gold tags keep it a tagger (cross-entropy, ``adv_ner_weight``;
  source tags only, target tags are never read).

Then every sentence gets a vector from the adversarially trained encoder (the mean over its
windows), and ``P(source)`` from a probe: a fresh discriminator trained on those frozen vectors,
cross-fitted over ``adv_probe_folds`` so that no sentence is scored by a probe that saw it
(:func:`probe_scores`). The adversarial discriminator itself is no scorer: gradient reversal
drives it to chance (measured: P(source) 0.52 on every Spanish sentence, accuracy 0 on English),
so its ranking says little about language. ``adv_probe_epochs = 0`` scores with it all the same.
The selection keeps the target sentences scored closest to the source language: the top
``select_fraction``, or those with ``P(source) >= select_threshold``.

With frozen lower layers (``freeze_layers``) the frozen part's outputs come from the same
feature store as training and prediction, so only the upper layers run per step.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from projection.errors import ProjectionError
from projection.progress import BATCH_LINE, bar
from projection.records import Sentence
from projection.train.config import TrainConfig, map_labels
from projection.train.precision import adamw, autocast, resolve

logger = logging.getLogger(__name__)


class GradReverse(torch.autograd.Function):
    """Identity forward; the gradient times ``-lam`` backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.lam * grad, None


def grad_reverse(x: torch.Tensor, lam: float) -> torch.Tensor:
    return GradReverse.apply(x, lam)


class Discriminator(nn.Module):
    """``P(source)`` logit of a sentence vector."""

    def __init__(self, hidden: int, dropout: float = 0.1):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)


def sentence_vectors(last: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of the last hidden layer over a window's real subwords: ``(batch, hidden)``."""
    m = mask.unsqueeze(-1).to(last.dtype)
    return (last * m).sum(1) / m.sum(1).clamp_min(1.0)


def _cycle(groups: list, n: int, rng: random.Random) -> list:
    """``n`` batches drawn from ``groups`` in shuffled passes."""
    out: list = []
    while len(out) < n:
        order = list(range(len(groups)))
        rng.shuffle(order)
        out.extend(groups[i] for i in order)
    return out[:n]


def probe_scores(source: np.ndarray, target: np.ndarray, folds: int, epochs: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Cross-fitted ``P(source)`` of every source and target sentence vector from fresh discriminators.

    The sentences are split into ``folds`` (each language on its own, seeded); a discriminator
    (the same Linear-ReLU-Linear, on standardised vectors, the two languages weighted equally)
    trains ``epochs`` passes on the other folds and scores the held-out one, so no sentence is
    scored by a probe that saw it and the held-out accuracies are honest. Returns the source
    scores, the target scores and a record (held-out accuracy per language, seconds).
    """
    t0 = time.perf_counter()
    if min(len(source), len(target)) < folds:
        raise ProjectionError(f"adversarial probe: {folds} folds need at least {folds} source and target sentences "
                              f"({len(source)} and {len(target)} given)")
    x = np.concatenate([source, target]).astype(np.float32)
    y = np.concatenate([np.ones(len(source)), np.zeros(len(target))]).astype(np.float32)
    rng = np.random.default_rng(seed)
    fold = np.concatenate([rng.permutation(np.arange(len(source)) % folds),
                           rng.permutation(np.arange(len(target)) % folds)])
    out = np.zeros(len(x))
    gen = torch.Generator().manual_seed(seed)
    for k in range(folds):
        train, held = fold != k, fold == k
        mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
        xt = torch.from_numpy((x[train] - mu) / sd)
        yt = torch.from_numpy(y[train])
        # each language weighs half of the loss, whatever their sizes
        w = torch.where(yt > 0, 0.5 / yt.sum(), 0.5 / (1 - yt).sum()) * len(yt)
        torch.manual_seed(seed + k)
        probe = Discriminator(x.shape[1])
        opt = torch.optim.Adam(probe.parameters(), lr=1e-3, weight_decay=1e-4)
        probe.train()
        for _ in range(epochs):
            for idx in torch.randperm(len(xt), generator=gen).split(256):
                loss = nn.functional.binary_cross_entropy_with_logits(probe(xt[idx]), yt[idx], weight=w[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        probe.eval()
        with torch.inference_mode():
            out[held] = torch.sigmoid(probe(torch.from_numpy((x[held] - mu) / sd))).numpy()
    src, tgt = out[: len(source)], out[len(source):]
    record = {"folds": folds, "epochs": epochs, "what": "a fresh Linear-ReLU-Linear per fold on the frozen, "
              "standardised sentence vectors; every sentence scored by the probe of the fold it was held out of",
              "held_out_accuracy_source": round(float((src > 0.5).mean()), 4),
              "held_out_accuracy_target": round(float((tgt <= 0.5).mean()), 4),
              "seconds": round(time.perf_counter() - t0, 1)}
    return src, tgt, record


def adversarial_scores(tagger, source: Sequence[Sentence], target: Sequence[Sequence[str]],
                       config: TrainConfig) -> tuple[np.ndarray, dict[str, Any]]:
    """Train the discriminator on ``tagger``'s model (modified in place: pass a fresh copy) and return
    ``P(source)`` for every ``target`` sentence, with a record of the training."""
    from projection.train.features import gather
    from projection.train.windows import batches, collate

    if not source or not target:
        raise ProjectionError(f"adversarial selection needs source and target sentences ({len(source)} and {len(target)} given)")
    t_start = time.perf_counter()
    model = tagger.model
    device = tagger.device
    labels = tagger.labels
    index = {t: i for i, t in enumerate(labels)}
    source = map_labels(source, tagger.config.mapping())
    sub = tagger.encoder
    src_windows = sub.windows([s.tokens for s in source], [[index.get(t, 0) for t in s.tags] for s in source])
    tgt_windows = sub.windows([list(t) for t in target])
    cache = tagger.feature_cache()
    feats: dict[int, np.ndarray] = {}
    if cache is not None:
        model.split.freeze()
        everything = src_windows + tgt_windows
        for w, f in zip(everything, cache.features(everything, sub.pad, "adversarial: lower layers")):
            feats[id(w)] = f
    elif model.encoder.get_input_embeddings() is not None:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    hidden = model.encoder.config.hidden_size
    torch.manual_seed(config.seed)
    disc = Discriminator(hidden).to(device)
    enc_lr = config.adv_lr or config.lr
    disc_lr = config.adv_disc_lr or enc_lr
    params = [p for p in model.parameters() if p.requires_grad] + list(disc.parameters())
    optimizer = adamw([{"params": [p for p in model.parameters() if p.requires_grad], "lr": enc_lr, "weight_decay": 0.0},
                       {"params": list(disc.parameters()), "lr": disc_lr, "weight_decay": 0.0}], config)
    precision = resolve(config.precision, device)  # the student's recipe: bf16 autocast where it is fast
    bce = nn.BCEWithLogitsLoss()
    ce = nn.CrossEntropyLoss(ignore_index=-100)
    rng = random.Random(config.seed)

    def run(group):
        ids, mask, gold = collate(group, sub.pad)
        ids, mask, gold = ids.to(device), mask.to(device), gold.to(device)
        lower = None
        if cache is not None:
            lower = {k: v.to(device) for k, v in gather([feats[id(w)] for w in group], cache.keep, ids.shape[1]).items()}
        states = model.states(ids, mask, lower)
        return states, mask, gold

    src_b = batches(src_windows, config.batch_size)
    tgt_b = batches(tgt_windows, config.batch_size)
    steps_per_epoch = max(len(src_b), len(tgt_b))
    history = []
    step = 0
    model.train()
    disc.train()
    with bar(steps_per_epoch * config.adv_epochs, "adversarial: discriminator") as advance:
        for epoch in range(1, config.adv_epochs + 1):
            sums = {"ner": 0.0, "disc": 0.0, "correct": 0, "seen": 0}
            for sg, tg in zip(_cycle(src_b, steps_per_epoch, rng), _cycle(tgt_b, steps_per_epoch, rng)):
                with autocast(device, precision):
                    s_states, s_mask, s_gold = run(sg)
                    t_states, t_mask, _ = run(tg)
                    n_layers = max(s_states)
                    vs = sentence_vectors(s_states[n_layers], s_mask)
                    vt = sentence_vectors(t_states[n_layers], t_mask)
                    logit_s = disc(grad_reverse(vs, config.adv_lambda)).float()
                    logit_t = disc(grad_reverse(vt, config.adv_lambda)).float()
                    d_loss = bce(logit_s, torch.ones_like(logit_s)) + bce(logit_t, torch.zeros_like(logit_t))
                    loss = d_loss
                    if config.adv_ner_weight > 0:
                        logits = model.head(s_states, s_mask)
                        ner = ce(logits.float().view(-1, logits.size(-1)), s_gold.view(-1))
                        loss = loss + config.adv_ner_weight * ner
                        sums["ner"] += float(ner.detach())
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                sums["disc"] += float(d_loss.detach())
                sums["correct"] += int((logit_s > 0).sum()) + int((logit_t <= 0).sum())
                sums["seen"] += len(sg) + len(tg)
                step += 1
                advance(1)
            history.append({"epoch": epoch, "steps": steps_per_epoch, "disc_loss": sums["disc"] / steps_per_epoch,
                            "ner_loss": sums["ner"] / steps_per_epoch if config.adv_ner_weight > 0 else None,
                            "train_accuracy": sums["correct"] / max(sums["seen"], 1)})
            logger.info(f"adversarial: epoch {epoch}/{config.adv_epochs} discriminator loss {history[-1]['disc_loss']:.4f}, "
                        f"accuracy {history[-1]['train_accuracy']:.3f}", extra=BATCH_LINE)

    @torch.inference_mode()
    def score(windows, n_sentences: int) -> tuple[np.ndarray, np.ndarray]:
        """The adversarial discriminator's ``P(source)`` and the sentence vector (both the mean over windows)."""
        total = np.zeros(n_sentences)
        vectors = np.zeros((n_sentences, hidden), dtype=np.float32)
        count = np.zeros(n_sentences)
        for group in batches(windows, config.eval_batch_size):
            with autocast(device, precision):
                states, mask, _ = run(group)
                v = sentence_vectors(states[max(states)], mask).float()
                p = torch.sigmoid(disc(v).float()).cpu().numpy()
            v = v.cpu().numpy()
            for w, pv, vv in zip(group, p, v):
                total[w.sentence] += pv
                vectors[w.sentence] += vv
                count[w.sentence] += 1
        n = np.maximum(count, 1)
        return total / n, vectors / n[:, None]

    model.eval()
    disc.eval()
    t_score = time.perf_counter()
    adv_scores, tgt_vec = score(tgt_windows, len(target))
    adv_src_scores, src_vec = score(src_windows, len(source))
    info = {
        "discriminator": "mean of the last hidden layer -> Linear-ReLU-Linear, gradient reversal on the encoder",
        "source": config.adv_source, "source_sentences": len(source), "target_sentences": len(target),
        "steps": step, "lambda": config.adv_lambda, "ner_weight": config.adv_ner_weight,
        "lr": enc_lr, "discriminator_lr": disc_lr, "precision": precision, "history": history,
        # the adversarial discriminator on the sentences it trained on (gradient reversal drives it to chance)
        "adversarial_accuracy_source": float((adv_src_scores > 0.5).mean()),
        "adversarial_accuracy_target": float((adv_scores <= 0.5).mean()),
    }
    if config.adv_probe_epochs > 0:
        src_scores, scores, probe = probe_scores(src_vec, tgt_vec, config.adv_probe_folds, config.adv_probe_epochs,
                                                 config.seed)
        info["scored_by"] = "probe"
        info["probe"] = probe
    else:
        src_scores, scores = adv_src_scores, adv_scores
        info["scored_by"] = "adversarial discriminator"
    info.update({
        "accuracy_source": float((src_scores > 0.5).mean()),
        "accuracy_target": float((scores <= 0.5).mean()),
        "mean_p_source_on_source": float(src_scores.mean()),
        "mean_p_source_on_target": float(scores.mean()),
        "scoring_seconds": round(time.perf_counter() - t_score, 1),
        "seconds": round(time.perf_counter() - t_start, 1),
    })
    return scores, info
