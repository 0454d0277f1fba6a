"""Knowledge distillation: the student learns the teacher's word distributions.

A sentence labelled by a teacher for soft training carries :class:`SoftTargets` in
``meta[SOFT_KEY]``: the teacher's label order and its per-word scores. The trainer turns
them into the student's label order (:func:`target_probs`: tags the student's label
mapping removes or renames pass their probability mass to ``O`` or the new tag) at
temperature ``T``, and :func:`mixed_loss` scores every labelled word: cross-entropy for
words with a hard tag, ``T^2 * KL(p_teacher^T || softmax(z_student / T))`` for words with
a teacher distribution (Hinton et al. 2015), averaged over all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from projection.tags import parse_tag

SOFT_KEY = "teacher_scores"


@dataclass(frozen=True)
class SoftTargets:
    """The teacher's scores (log-probabilities or logits) for the words of one sentence."""

    labels: tuple[str, ...]  # the teacher's tag order
    scores: np.ndarray  # float32 (words, len(labels))


def mapped_tag(tag: str, mapping: Mapping[str, str]) -> str:
    """A tag after a label mapping: ``B-MISC`` with ``MISC -> O`` is ``O``, with ``GPE -> LOC`` ``B-GPE`` is ``B-LOC``."""
    prefix, label = parse_tag(tag)
    if label is None:
        return "O"
    new = mapping.get(label, label)
    return "O" if new == "O" else f"{prefix}-{new}"


def softmax(x: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = x.astype(np.float64) / temperature
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def target_probs(soft: SoftTargets, student_labels: Sequence[str], mapping: Mapping[str, str],
                 temperature: float = 1.0) -> np.ndarray:
    """The teacher's distributions at ``temperature`` in the student's tag order (float32 ``(words, labels)``)."""
    index = {t: i for i, t in enumerate(student_labels)}
    move = np.zeros((len(soft.labels), len(student_labels)), dtype=np.float64)
    for j, tag in enumerate(soft.labels):
        move[j, index[mapped_tag(tag, mapping)]] = 1.0
    return (softmax(soft.scores, temperature) @ move).astype(np.float32)


def student_labels(labels: Sequence[str], soft: Sequence[SoftTargets], mapping: Mapping[str, str]) -> list[str]:
    """The hard data's tags plus every teacher tag (after the mapping), in the usual order (``O``, then B/I per label)."""
    entity = {parse_tag(t)[1] for t in labels} | {parse_tag(mapped_tag(t, mapping))[1] for s in soft for t in s.labels}
    entity.discard(None)
    return ["O"] + [f"{p}-{lab}" for lab in sorted(entity) for p in ("B", "I")]


def kl_per_token(student_logits, teacher_probs, temperature: float = 1.0):
    """``T^2 * KL(p || softmax(z / T))`` for each row: ``student_logits`` and ``teacher_probs`` are ``(n, labels)``
    tensors, ``teacher_probs`` already at temperature ``T``."""
    import torch

    logq = torch.log_softmax(student_logits.float() / temperature, dim=-1)
    p = teacher_probs.float()
    plogp = torch.where(p > 0, p * torch.log(p.clamp_min(1e-30)), torch.zeros_like(p))
    return temperature ** 2 * (plogp - p * logq).sum(-1)


def mixed_loss(logits, gold, soft=None, soft_mask=None, temperature: float = 1.0):
    """Mean over labelled subwords of cross-entropy (hard tags, ``gold != -100`` and not soft) and of
    :func:`kl_per_token` (``soft_mask`` positions, distributions in ``soft``)."""
    import torch
    import torch.nn.functional as F

    n_labels = logits.size(-1)
    flat = logits.float().reshape(-1, n_labels)
    gold = gold.reshape(-1)
    hard = gold != -100
    if soft_mask is not None:
        sm = soft_mask.reshape(-1).bool()
        hard = hard & ~sm
    total = F.cross_entropy(flat[hard], gold[hard], reduction="sum") if bool(hard.any()) else flat.sum() * 0.0
    count = hard.sum()
    if soft_mask is not None and bool(sm.any()):
        total = total + kl_per_token(flat[sm], soft.reshape(-1, n_labels)[sm], temperature).sum()
        count = count + sm.sum()
    return total / torch.clamp(count, min=1)


def collate_soft(batch, width: int, n_labels: int):
    """``(batch, width, labels)`` teacher distributions and a ``(batch, width)`` mask from windows'
    ``soft`` arrays (``(words, labels)`` at the window's word heads, or None)."""
    import torch

    probs = torch.zeros((len(batch), width, n_labels), dtype=torch.float32)
    mask = torch.zeros((len(batch), width), dtype=torch.bool)
    for b, w in enumerate(batch):
        if w.soft is None:
            continue
        heads = torch.tensor(w.heads, dtype=torch.long)
        probs[b, heads] = torch.from_numpy(np.ascontiguousarray(w.soft, dtype=np.float32))
        mask[b, heads] = True
    return probs, mask
