"""DLFA/AIF feature aggregation (Chen, Guo, Liu & Tao 2022, arXiv 2205.08497).

The paper observes that the layers below the last one of a multilingual encoder carry
information that helps zero-shot cross-lingual transfer, and fuses one lower layer into
the last one before the task head. The specification implemented here:

* **DLFA** (dual-layer feature aggregation): take the last encoder layer ``H_last`` and
  one lower layer ``H_l`` (``fusion_layer = l``; hidden-state index, 0 = embeddings),
  both ``(batch, tokens, E)``.
* **AIF** (attention-based interaction fusion) computes a gate ``M`` from the fused input
  ``X = H_last + H_l`` with two branches, each a SENet-style bottleneck of two pointwise
  (1x1) convolutions ``E -> E/r -> E`` with normalisation and ReLU between:

  - global branch: the mean of ``X`` over the sentence's tokens (padding excluded),
    ``(batch, 1, E)``: one context vector per sentence;
  - local branch: every token on its own, ``(batch, tokens, E)``;

  ``M = sigmoid(global + local)`` (the global term is broadcast over the tokens), so
  ``M`` is in (0, 1) per token and per channel.
* **Output** ``Z = M * H_last + (1 - M) * H_l``, which goes to the token classifier.

A pointwise convolution over a token sequence is a linear map applied to each token, so
it is written as ``nn.Linear``. The paper's attention block follows the
attentional-feature-fusion design with batch normalisation; here the normalisation is
``LayerNorm`` over the channels, which does not depend on the batch composition or on
padded positions (token batches are padded and CPU batches are small). The bottleneck
width is ``max(1, E // r)``.
"""

from __future__ import annotations

import torch
from torch import nn

from projection.errors import ProjectionError


class _Bottleneck(nn.Module):
    """Pointwise conv E -> E/r, LayerNorm, ReLU, pointwise conv E/r -> E, LayerNorm."""

    def __init__(self, hidden: int, reduction: int):
        super().__init__()
        inner = max(1, hidden // reduction)
        self.net = nn.Sequential(
            nn.Linear(hidden, inner),
            nn.LayerNorm(inner),
            nn.ReLU(),
            nn.Linear(inner, hidden),
            nn.LayerNorm(hidden),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class AIF(nn.Module):
    """The attention module: gate ``M`` in (0, 1) from ``X = H_last + H_l`` (global + local branch)."""

    def __init__(self, hidden: int, reduction: int = 4):
        super().__init__()
        self.global_branch = _Bottleneck(hidden, reduction)
        self.local_branch = _Bottleneck(hidden, reduction)

    def gate(self, h_last: torch.Tensor, h_low: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = h_last + h_low
        if mask is None:
            pooled = x.mean(dim=1, keepdim=True)
        else:
            m = mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(dim=1, keepdim=True) / m.sum(dim=1, keepdim=True).clamp_min(1.0)
        return torch.sigmoid(self.global_branch(pooled) + self.local_branch(x))

    def forward(self, h_last: torch.Tensor, h_low: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        m = self.gate(h_last, h_low, mask)
        return m * h_last + (1 - m) * h_low


def fusion_index(fusion_layer: int, num_layers: int) -> int:
    """The hidden-state index of ``fusion_layer`` (negative counts from the top) in an encoder of
    ``num_layers`` layers; a ProjectionError unless it is a lower layer (0 = the embeddings)."""
    layer = fusion_layer if fusion_layer >= 0 else num_layers + fusion_layer
    if not 0 <= layer < num_layers:
        raise ProjectionError(f"fusion layer {fusion_layer} must be a lower layer in [0, {num_layers - 1}] "
                              f"(0 = embeddings, {num_layers} = the last layer)")
    return layer


class DLFA(nn.Module):
    """Pick ``H_last`` and ``H_l`` from the encoder's hidden states and fuse them with AIF."""

    def __init__(self, hidden: int, num_layers: int, fusion_layer: int, reduction: int = 4):
        super().__init__()
        self.layer = fusion_index(fusion_layer, num_layers)
        self.aif = AIF(hidden, reduction)

    def forward(self, hidden_states: tuple[torch.Tensor, ...], mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.aif(hidden_states[-1], hidden_states[self.layer], mask)
