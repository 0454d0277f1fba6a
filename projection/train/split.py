"""An encoder cut in two: frozen lower layers (computed once, cacheable) and trainable upper layers.

Fine-tuning only the top ``L - k`` layers of an ``L``-layer encoder leaves the embeddings
and the lower ``k`` layers unchanged, so their output ``H_k`` for a given input is the same
in every epoch, every seed and every system that trains on the same sentences. The
trainer computes ``H_k`` once (:mod:`projection.train.features` stores it by content) and
runs only the upper layers forward and backward: about ``(L - k) / L`` of the work.

:class:`SplitEncoder` runs the two halves of a transformers encoder whose layers are a
``ModuleList`` (BERT, RoBERTa, XLM-R, ELECTRA, multilingual-e5: ``model.encoder.layer``).
It is checked against the whole model on a small input when created
(:meth:`SplitEncoder.check`): if a transformers version builds its attention masks in a
way this module does not follow, the check fails and the trainer says so instead of
training on wrong features.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from projection.errors import ProjectionError


def encoder_layers(encoder: nn.Module) -> nn.ModuleList | None:
    """The encoder's list of transformer layers, or None when its structure is not known."""
    inner = getattr(encoder, "encoder", None)
    layers = getattr(inner, "layer", None)
    return layers if isinstance(layers, nn.ModuleList) else None


def keep_lower_layers(encoder: nn.Module, n: int) -> None:
    """Drop every encoder layer above the ``n``-th, in place (the config follows, so a saved
    model reloads with ``n`` layers)."""
    layers = encoder_layers(encoder)
    if layers is None:
        raise ProjectionError(f"keep_layers: the {type(encoder).__name__} encoder has no `encoder.layer` list; "
                              "leave keep_layers unset")
    if not 1 <= n <= len(layers):
        raise ProjectionError(f"keep_layers = {n}: the encoder has {len(layers)} layers; choose 1 to {len(layers)}")
    del layers[n:]
    encoder.config.num_hidden_layers = n


def supports_split(encoder: nn.Module) -> bool:
    return encoder_layers(encoder) is not None and hasattr(encoder, "embeddings")


class SplitEncoder:
    """``lower(ids, mask) -> {layer: H}`` (embeddings and layers ``1..k``) and
    ``upper(H_k, mask) -> {layer: H}`` (layers ``k+1..L``); hidden-state indices as in
    transformers' ``hidden_states`` (0 = embedding output, ``L`` = last layer)."""

    def __init__(self, encoder: nn.Module, k: int):
        layers = encoder_layers(encoder)
        if layers is None or not hasattr(encoder, "embeddings"):
            raise ProjectionError(f"freeze_layers: the {type(encoder).__name__} encoder has no `encoder.layer` list; "
                                  "train it with freeze_layers = 0")
        n = len(layers)
        if not 0 <= k < n:
            raise ProjectionError(f"freeze_layers = {k}: the encoder has {n} layers; choose 0 to {n - 1}")
        self.encoder = encoder
        self.layers = layers
        self.k = k
        self.num_layers = n

    # ------------------------------------------------------------------ masks
    def _mask(self, mask: torch.Tensor, hidden: torch.Tensor) -> Any:
        """The attention mask in the form the layers take, built as the model's own forward builds it: transformers 5
        through its public ``create_bidirectional_mask`` (eager, sdpa or flex form, from the config), transformers 4
        through ``get_extended_attention_mask`` (4-d additive)."""
        enc = self.encoder
        if hasattr(enc, "_create_attention_masks"):  # transformers 5: the model builds its masks from masking_utils
            from transformers.masking_utils import create_bidirectional_mask

            return create_bidirectional_mask(config=enc.config, inputs_embeds=hidden, attention_mask=mask)
        return enc.get_extended_attention_mask(mask, tuple(mask.shape))  # transformers 4

    def _run(self, hidden: torch.Tensor, mask: torch.Tensor, layers: Iterable[nn.Module], first: int,
             keep: set[int]) -> dict[int, torch.Tensor]:
        ext = self._mask(mask, hidden)
        out: dict[int, torch.Tensor] = {}
        if first - 1 in keep:
            out[first - 1] = hidden
        for i, layer in enumerate(layers, start=first):
            res = layer(hidden, attention_mask=ext)
            hidden = res[0] if isinstance(res, tuple) else res
            if i in keep:
                out[i] = hidden
        return out

    # ------------------------------------------------------------------ halves
    def lower(self, input_ids: torch.Tensor, mask: torch.Tensor, keep: Iterable[int] = ()) -> dict[int, torch.Tensor]:
        """Hidden states ``k`` and ``keep`` (each <= k) of the frozen part."""
        want = {self.k, *keep}
        if max(want) > self.k:
            raise ValueError(f"the lower part ends at layer {self.k}")
        hidden = self.encoder.embeddings(input_ids=input_ids)
        return self._run(hidden, mask, self.layers[: self.k], 1, want)

    def upper(self, hidden: torch.Tensor, mask: torch.Tensor, keep: Iterable[int] = ()) -> dict[int, torch.Tensor]:
        """Hidden states ``L`` and ``keep`` (each > k) from ``H_k``."""
        want = {self.num_layers, *keep}
        return self._run(hidden, mask, self.layers[self.k:], self.k + 1, want)

    def frozen_parameters(self) -> Iterable[nn.Parameter]:
        yield from self.encoder.embeddings.parameters()
        for layer in self.layers[: self.k]:
            yield from layer.parameters()

    def freeze(self) -> None:
        for p in self.frozen_parameters():
            p.requires_grad_(False)

    # ------------------------------------------------------------------ self-check
    @torch.no_grad()
    def check(self, input_ids: torch.Tensor, mask: torch.Tensor, tolerance: float = 1e-3) -> float:
        """Largest difference between lower+upper and the whole model on one batch; raises above ``tolerance``."""
        was_training = self.encoder.training
        self.encoder.eval()
        try:
            full = self.encoder(input_ids=input_ids, attention_mask=mask, output_hidden_states=True, return_dict=True)
            low = self.lower(input_ids, mask)[self.k]
            top = self.upper(low, mask)[self.num_layers]
        finally:
            self.encoder.train(was_training)
        m = mask.bool().unsqueeze(-1)
        diff = max(float(((low - full.hidden_states[self.k]).abs() * m).max()),
                   float(((top - full.last_hidden_state).abs() * m).max()))
        if not diff <= tolerance:
            raise ProjectionError(f"freeze_layers: running {type(self.encoder).__name__} in two parts differs from the "
                                  f"whole model by {diff:.3g} (this transformers version builds its layers' inputs "
                                  "differently); train with freeze_layers = 0")
        return diff
