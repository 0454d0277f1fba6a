"""Token classification on any transformers encoder (mBERT, XLM-R, e5-small; hub name or folder).

Two architectures share this trainer:

* ``token``: the plain model, a linear classifier on the last encoder layer;
* ``feature-aggregation``: DLFA/AIF (:mod:`projection.train.dlfa`) fuses the last layer
  with ``fusion_layer`` before the same classifier.

Recipe: first-subword labelling and windows for long sentences
(:mod:`projection.train.windows`); AdamW (no weight decay on biases and LayerNorms) with a
linear warm-up then linear decay; gradient clipping; batches of similar-length windows
in a seeded random order; dev evaluation (seqeval F1) after every epoch with the best
epoch's weights kept; bf16 autocast on a GPU; ``torch.set_num_threads`` on CPU. The
word-embedding matrix can be frozen (``freeze_embeddings``): with a 250k-row vocabulary it
is most of the parameters and of the optimizer's time, and rows of words absent from
the training language would not be updated usefully anyway.

An interrupted training resumes from its last checkpoint (:mod:`projection.train.checkpoint`).

The saved folder holds ``train.json`` (config, labels, history, signature), the
encoder's config and tokenizer (``encoder/``) and all weights in ``model.safetensors``,
so it loads without the original encoder folder.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from projection.decoding import decode
from projection.devices import resolve_device
from projection.errors import ProjectionError
from projection.progress import BATCH_LINE, bar
from projection.records import Sentence
from projection.store import atomic_path, file_sha256, package_versions
from projection.textnorm import compose_unicode, strip_marks
from projection.train.base import (TRANSFORMER_ENGINES, cpu_threads, prepare, read_train_json, sentence_tokens,
                                   write_train_json)
from projection.train.checkpoint import Checkpoint, fingerprint
from projection.train.config import TrainConfig
from projection.train.distill import SOFT_KEY, SoftTargets, collate_soft, mixed_loss, student_labels, target_probs
from projection.train.precision import adamw, autocast, resolve

logger = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
ENCODER_DIR = "encoder"


def _torch():
    import torch

    return torch


def _quiet_transformers() -> None:
    """Our own progress bars cover loading; transformers' per-shard bars only add noise."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass


def build_model(encoder, num_labels: int, arch: str, config: TrainConfig):
    """The tagger: encoder, optional DLFA/AIF fusion, dropout and a linear classifier.

    With ``config.freeze_layers = k`` the encoder runs in two parts
    (:class:`~projection.train.split.SplitEncoder`): ``forward`` then takes the frozen lower
    part's hidden states (``lower``, from :class:`~projection.train.features.FeatureCache`)
    instead of recomputing them.
    """
    import torch
    from torch import nn

    from projection.train.dlfa import DLFA
    from projection.train.split import SplitEncoder

    hidden = encoder.config.hidden_size
    n_layers = encoder.config.num_hidden_layers

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.fusion = DLFA(hidden, n_layers, config.fusion_layer, config.reduction) if arch == "feature-aggregation" else None
            self.dropout = nn.Dropout(config.dropout)
            self.classifier = nn.Linear(hidden, num_labels)
            # a plain attribute, not a submodule: it only holds a reference to self.encoder
            self.__dict__["split"] = SplitEncoder(encoder, config.freeze_layers) if config.freeze_layers else None

        def lower_layers(self) -> list[int]:
            """Hidden states the frozen part must provide: ``k``, and the fusion layer when it is below ``k``."""
            k = config.freeze_layers
            keep = {k}
            if self.fusion is not None and self.fusion.layer <= k:
                keep.add(self.fusion.layer)
            return sorted(keep)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    lower: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
            return self.head(self.states(input_ids, attention_mask, lower), attention_mask)

        def states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                   lower: dict[int, torch.Tensor] | None = None) -> dict[int, torch.Tensor]:
            """The hidden states the head reads (:meth:`head_layers`; the last one is ``n_layers``)."""
            if self.split is None:
                out = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                   output_hidden_states=self.fusion is not None, return_dict=True)
                states = {n_layers: out.last_hidden_state}
                if self.fusion is not None:
                    states[self.fusion.layer] = out.hidden_states[self.fusion.layer]
                return states
            k = self.split.k
            if lower is None:
                with torch.no_grad():
                    lower = self.split.lower(input_ids, attention_mask, self.lower_layers())
            upper_keep = [self.fusion.layer] if self.fusion is not None and self.fusion.layer > k else []
            return {**lower, **self.split.upper(lower[k], attention_mask, upper_keep)}

        def head_layers(self) -> list[int]:
            """The hidden states the head reads: the last layer, and the fusion layer."""
            return sorted({n_layers, *([self.fusion.layer] if self.fusion is not None else [])})

        def head(self, states: dict[int, torch.Tensor], attention_mask: torch.Tensor) -> torch.Tensor:
            """Logits from the encoder's hidden states (``{layer: (batch, tokens, hidden)}``)."""
            h = states[n_layers]
            if self.fusion is not None:
                h = self.fusion.aif(h, states[self.fusion.layer], attention_mask)
            return self.classifier(self.dropout(h))

        def head_parameters(self):
            yield from self.classifier.parameters()
            if self.fusion is not None:
                yield from self.fusion.parameters()

    return Tagger()


def init_from_model(model, labels: Sequence[str], init_dir: str | Path, arch: str) -> dict[str, Any]:
    """Start ``model`` (built for ``labels``) from a trained model folder of this project: every encoder
    (and fusion) weight, and the classifier row of each label that model has; a label it lacks keeps its
    fresh row. The folder's model must have the same encoder, arch and depth; otherwise a clear error."""
    from safetensors.torch import load_file

    torch = _torch()
    init_dir = Path(init_dir)
    weights = init_dir / WEIGHTS
    if not weights.exists():
        raise ProjectionError(f"init_from {init_dir}: no {WEIGHTS} (not a trained model folder, or its weights were deleted)")
    meta = read_train_json(init_dir)
    if meta.get("arch", "token") != arch:
        raise ProjectionError(f"init_from {init_dir}: its arch is {meta.get('arch', 'token')}, this training's is {arch}")
    state = load_file(str(weights))
    head_w, head_b = state.pop("classifier.weight", None), state.pop("classifier.bias", None)
    own = model.state_dict()
    missing = [k for k in own if not k.startswith("classifier.") and k not in state and not k.endswith("position_ids")]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in state if k in own and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong or head_w is None or head_b is None or head_w.shape[1] != own["classifier.weight"].shape[1]:
        raise ProjectionError(f"init_from {init_dir}: its weights do not fit this model (missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}, other shapes {wrong[:3]}): the same encoder, arch and "
                              "keep_layers are needed")
    model.load_state_dict(state, strict=False)
    source = list(meta["labels"])
    copied = [lab for lab in labels if lab in source]
    with torch.no_grad():
        for i, lab in enumerate(labels):
            if lab in source:
                model.classifier.weight[i].copy_(head_w[source.index(lab)])
                model.classifier.bias[i].copy_(head_b[source.index(lab)])
    return {"dir": str(init_dir), "sha256": file_sha256(weights)[:16], "labels_copied": len(copied),
            "labels_new": [lab for lab in labels if lab not in source]}


def encoder_tokenizer(tokenizer, config: TrainConfig):
    """The tokenizer as the model's encoder sees words: composing Unicode (NFC), and without
    combining marks when ``config.strip_marks`` (both in place)."""
    compose_unicode(tokenizer)
    if config.strip_marks:
        try:
            strip_marks(tokenizer)
        except ValueError as e:
            raise ProjectionError(f"strip_marks: {e}") from None
    return tokenizer


def position_limit(encoder_config, tokenizer) -> int:
    """The longest input the encoder takes: its position table (XLM-R-style models reserve
    ``pad_token_id + 1`` positions) and the tokenizer's ``model_max_length``."""
    limit = int(getattr(encoder_config, "max_position_embeddings", 512) or 512)
    if getattr(encoder_config, "model_type", "") in ("xlm-roberta", "roberta", "camembert", "xlm-roberta-xl"):
        limit -= int(getattr(encoder_config, "pad_token_id", 1) or 0) + 1
    tok_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_max, int) and 0 < tok_max < 10**9:
        limit = min(limit, tok_max)
    return limit


def _seed_everything(seed: int) -> None:
    torch = _torch()
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover
        pass


def _encoder_identity(model: str) -> dict[str, Any]:
    """Name plus a hash of the weights file when the encoder is a local folder."""
    ident: dict[str, Any] = {"encoder": str(model)}
    path = Path(model)
    if path.is_dir():
        for name in ("model.safetensors", "pytorch_model.bin"):
            if (path / name).exists():
                ident["encoder_sha256"] = file_sha256(path / name)[:16]
                break
    return ident


class TransformerTagger:
    """A loaded (or just trained) transformer tagger: ``predict(list of word lists) -> tags``."""

    def __init__(self, model, tokenizer, labels: list[str], config: TrainConfig, info: dict[str, Any], device=None):
        from projection.train.windows import SubwordEncoder

        self.model = model
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.config = config
        self.info = info
        self.device = device or _torch().device(resolve_device(config.device))
        self.precision = resolve(config.precision, self.device)  # what the forward pass runs in: fp32 or bf16
        self.encoder = SubwordEncoder(tokenizer, config.max_length)
        self._features = None
        self._ct2 = None
        self.backend = "torch"
        self.decode = "argmax"  # how word scores become tags (projection.decoding.DECODERS)
        self.model_dir: Path | None = None

    def feature_cache(self):
        """The store of the frozen lower part's outputs (``freeze_layers`` models only)."""
        from projection.train.features import FeatureCache

        if self.model.split is None:
            return None
        if self._features is None:
            self._features = FeatureCache(self.model.split, self.model.lower_layers(), disk=self.config.feature_cache,
                                          device=self.device)
        return self._features

    def predict(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]], description: str = "predict") -> list[list[str]]:
        """IOB2 tags for every word. ``backend = "ct2"`` runs the encoder on CTranslate2
        (:class:`~projection.train.fast_predict.Ct2Encoder`) and the head in torch; ``torch``
        runs the whole model (with the frozen part's outputs from the feature store for
        ``freeze_layers`` models). :attr:`decode` picks the decoder (:mod:`projection.decoding`)."""
        return [decode(s, self.labels, self.decode) for s in self.word_logits(sentences, description)]

    def predict_proba(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]], description: str = "predict"
                      ) -> list["np.ndarray"]:
        """Per word, the probability of every tag of :attr:`labels`: one ``(words, labels)`` array per sentence."""
        import numpy as np

        out = []
        for s in self.word_logits(sentences, description):
            e = np.exp(s - s.max(-1, keepdims=True)) if len(s) else s
            out.append(e / e.sum(-1, keepdims=True) if len(s) else e)
        return out

    def word_logits(self, sentences: Sequence[Sentence] | Sequence[Sequence[str]], description: str = "predict"
                    ) -> list["np.ndarray"]:
        """The head's scores at every word's first subword: one float32 ``(words, labels)`` array per sentence."""
        import numpy as np

        from projection.train.features import gather
        from projection.train.windows import batches, collate

        torch = _torch()
        words = sentence_tokens(sentences)
        out = [np.zeros((len(w), len(self.labels)), dtype=np.float32) for w in words]
        windows = self.encoder.windows(words)
        index = {id(w): i for i, w in enumerate(windows)}
        feats, keep = None, None
        if self.backend == "ct2":
            keep = self.model.head_layers()
            feats = self.ct2().features(windows, keep, description=f"{description}: encoder (ct2)")
        elif (cache := self.feature_cache()) is not None:
            keep = cache.keep
            feats = cache.features(windows, self.encoder.pad, f"{description}: lower layers")
        groups = batches(windows, self.config.eval_batch_size)
        self.model.eval()
        with torch.inference_mode(), bar(len(windows), description) as advance:
            for group in groups:
                ids, mask, _ = collate(group, self.encoder.pad)
                ids, mask = ids.to(self.device), mask.to(self.device)
                states = None
                if feats is not None:
                    states = {k: v.to(self.device) for k, v in
                              gather([feats[index[id(w)]] for w in group], keep, ids.shape[1]).items()}
                with autocast(self.device, self.precision):
                    logits = self.model.head(states, mask) if self.backend == "ct2" else self.model(ids, mask, states)
                logits = logits.float().cpu().numpy()
                for b, w in enumerate(group):
                    out[w.sentence][w.first_word: w.first_word + len(w.heads)] = logits[b, w.heads]
                advance(len(group))
        return out

    def ct2(self):
        from projection.train.fast_predict import Ct2Encoder

        if self._ct2 is None:
            if self.model_dir is None:
                raise ProjectionError("the ct2 backend needs a saved model folder (load it with load_model)")
            self._ct2 = Ct2Encoder(self.model, self.tokenizer, Path(self.model_dir), self.device)
        return self._ct2


class TransformerTrainer:
    """``token`` / ``feature-aggregation`` engine: fine-tune ``model`` (hub name or folder)."""

    name = "token"
    arch = "token"

    def __init__(self, model: str, **_: Any):
        if not model:
            raise ProjectionError("the transformer trainers need --model (a hub name or an encoder folder)")
        self.model_name = str(model)

    def signature(self) -> dict[str, Any]:
        return {"engine": self.name, "arch": self.arch, **_encoder_identity(self.model_name),
                "versions": package_versions("torch", "transformers", "tokenizers")}

    # ------------------------------------------------------------------ training
    def train(self, train: Sequence[Sentence], dev: Sequence[Sentence] | None, config: TrainConfig,
              out_dir: str | Path, data: dict[str, Any] | None = None) -> Path:
        from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup

        from projection.train.features import gather
        from projection.train.metrics import score
        from projection.train.split import keep_lower_layers
        from projection.train.windows import SubwordEncoder, batches, collate

        torch = _torch()
        _quiet_transformers()
        out = Path(out_dir)
        train_s, dev_s, labels = prepare(train, dev, config)
        soft_items = [s.meta.get(SOFT_KEY) for s in train_s]
        n_soft = sum(isinstance(x, SoftTargets) for x in soft_items)
        if n_soft:  # the student predicts every tag the teacher does
            labels = student_labels(labels, [x for x in soft_items if isinstance(x, SoftTargets)], config.mapping())
        label_index = {t: i for i, t in enumerate(labels)}
        device = torch.device(resolve_device(config.device))
        if device.type == "cpu":
            torch.set_num_threads(cpu_threads(config))
        _seed_everything(config.seed)
        try:
            tokenizer = encoder_tokenizer(AutoTokenizer.from_pretrained(self.model_name), config)
            encoder = AutoModel.from_pretrained(self.model_name)
        except (OSError, ValueError) as e:
            raise ProjectionError(f"cannot load encoder {self.model_name!r}: {e}") from None
        if config.keep_layers is not None:
            keep_lower_layers(encoder, config.keep_layers)
        limit = position_limit(encoder.config, tokenizer)
        if config.max_length > limit:  # windows must fit the position table
            config = config.replace(max_length=limit)
        model = build_model(encoder, len(labels), self.arch, config)
        init = init_from_model(model, labels, config.init_from, self.arch) if config.init_from else None
        model = model.to(device)
        if config.freeze_embeddings:
            encoder.get_input_embeddings().weight.requires_grad_(False)
        sub = SubwordEncoder(tokenizer, config.max_length)
        # Words whose label is not in the training label set (only possible for dev) are O.
        label_ids = [[label_index.get(t, 0) for t in s.tags] for s in train_s]
        windows = sub.windows([s.tokens for s in train_s], label_ids)
        if n_soft:
            mapping = config.mapping()
            probs = {i: target_probs(x, labels, mapping, config.temperature)
                     for i, x in enumerate(soft_items) if isinstance(x, SoftTargets)}
            for w in windows:
                if w.sentence in probs:
                    w.soft = probs[w.sentence][w.first_word: w.first_word + w.n_words]
        tagger = TransformerTagger(model, tokenizer, labels, config, {}, device)
        feats, cache, check = None, None, None
        if model.split is not None:
            model.split.freeze()
            ids, mask, _ = collate(sorted(windows, key=lambda w: len(w.input_ids))[-2:], sub.pad)
            check = model.split.check(ids.to(device), mask.to(device))
            cache = tagger.feature_cache()
            feats = cache.features(windows, sub.pad, "lower layers")
        index = {id(w): i for i, w in enumerate(windows)}
        logger.info(f"{self.name}: {len(train_s)} sentences, {len(windows)} windows, {len(labels)} tags, "
                    f"{config.epochs} epochs on {device} ({tagger.precision}, {torch.get_num_threads()} threads"
                    + (f", layers 1-{config.freeze_layers} frozen" if config.freeze_layers else "") + ")", extra=BATCH_LINE)
        steps_per_epoch = len(batches(windows, config.batch_size, batch_tokens=config.batch_tokens))
        total = steps_per_epoch * config.epochs

        head_ids = {id(p) for p in model.head_parameters()}
        groups: dict[tuple[bool, bool], list] = {}
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            no_decay = p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name
            groups.setdefault((id(p) in head_ids, no_decay), []).append(p)
        param_groups = [
            {"params": ps, "weight_decay": 0.0 if no_decay else config.weight_decay,
             "lr": (config.head_lr or config.lr) if is_head else config.lr}
            for (is_head, no_decay), ps in groups.items()
        ]
        trainable_params = [p for g in param_groups for p in g["params"]]
        optimizer = adamw(param_groups, config)
        scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup * total), total)
        loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)
        rng = random.Random(config.seed)

        trainable = [n for n, p in model.named_parameters() if p.requires_grad]
        info = {
            "engine": self.name,
            "arch": self.arch,
            "encoder": self.model_name,
            "signature": self.signature(),
            "data": dict(data or {}),
            "train_sentences": len(train_s),
            "train_windows": len(windows),
            "dev_sentences": len(dev_s) if dev_s else 0,
            "soft_label_sentences": n_soft,
            "trainable_parameters": sum(p.numel() for p in trainable_params),
            "parameters": sum(p.numel() for p in model.parameters()),
            "encoder_layers": encoder.config.num_hidden_layers,
            "device": str(device),
            "threads": torch.get_num_threads() if device.type == "cpu" else None,
            "precision": tagger.precision,  # what config.precision resolved to on the training device
            "optimizer": "AdamW (fused)" if optimizer.defaults.get("fused") else "AdamW",
            "split_check": check,
            "init_from": init,
        }
        tagger.info = info
        history: list[dict[str, Any]] = []
        curve: list[dict[str, Any]] = []
        best = {"f1": -1.0, "epoch": 0, "step": 0, "state": None}

        def evaluate_dev(epoch: int, step: int) -> dict[str, Any]:
            t1 = time.perf_counter()
            tagger.decode = config.dev_decode  # model selection reads the tags as the evaluation will
            try:
                pred = tagger.predict(dev_s, description=f"dev (step {step})")
            finally:
                tagger.decode = "argmax"
            m = score([s.tags for s in dev_s], pred)
            point = {"epoch": epoch, "step": step, "dev_f1": m["f1"], "dev_precision": m["precision"],
                     "dev_recall": m["recall"], "dev_seconds": round(time.perf_counter() - t1, 1)}
            curve.append(point)
            if step % steps_per_epoch:  # mid-epoch points of the learning curve (epoch ends are logged below)
                logger.info(f"{self.name}: step {step}/{total} dev F1 {m['f1']:.4f}", extra=BATCH_LINE)
            if m["f1"] > best["f1"]:
                best.update(f1=m["f1"], epoch=epoch, step=step,
                            state={n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if n in trainable})
            model.train()
            return point

        # an interrupted training of the same data, encoder and config goes on from its last checkpoint
        ckpt = Checkpoint(out, fingerprint({"engine": self.name, "arch": self.arch, "signature": info["signature"],
                                            "config": config.to_dict(), "labels": labels, "init": init},
                                           [train_s, dev_s or []]))
        step, start_epoch, start_pos, resume_order, losses = 0, 1, 0, None, []
        done_seconds = epoch_done_seconds = 0.0
        resumed = ckpt.load()
        if resumed is not None:
            model.load_state_dict(resumed["trainable"], strict=False)
            optimizer.load_state_dict(resumed["optimizer"])
            scheduler.load_state_dict(resumed["scheduler"])
            rng.setstate(resumed["rng"])
            torch.set_rng_state(resumed["torch_rng"])
            if device.type == "cuda" and resumed.get("cuda_rng") is not None:
                torch.cuda.set_rng_state_all(resumed["cuda_rng"])
            step, start_epoch, start_pos = resumed["step"], resumed["epoch"], resumed["position"]
            resume_order, losses = list(resumed["order"]), list(resumed["losses"])
            history[:], curve[:] = resumed["history"], resumed["curve"]
            best.update(resumed["best"])
            done_seconds, epoch_done_seconds = resumed["seconds"], resumed["epoch_seconds"]
            info["resumed"] = [*resumed.get("resumed", []), {"step": step, "of": total}]
            logger.info(f"{self.name}: resumed at step {step}/{total} (epoch {start_epoch}) from {ckpt.path}",
                        extra=BATCH_LINE)

        def checkpoint(epoch: int, position: int, order: list[int], epoch_start: float) -> None:
            now = time.perf_counter()
            ckpt.save({
                "step": step, "epoch": epoch, "position": position, "order": order, "losses": losses,
                "rng": rng.getstate(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if device.type == "cuda" else None,
                "trainable": {n: p.detach().to("cpu") for n, p in model.named_parameters() if n in trainable},
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "history": history, "curve": curve, "best": best, "resumed": info.get("resumed", []),
                "seconds": now - t_train, "epoch_seconds": now - epoch_start})

        t_train = time.perf_counter() - done_seconds
        for epoch in range(start_epoch, config.epochs + 1):
            model.train()
            plan = batches(windows, config.batch_size, batch_tokens=config.batch_tokens)
            if resume_order is not None:  # the resumed epoch: its order, from the checkpoint's position
                order, first, resume_order = resume_order, start_pos, None
                t0 = time.perf_counter() - epoch_done_seconds
            else:
                order, first, losses = list(range(len(plan))), 0, []
                rng.shuffle(order)
                t0 = time.perf_counter()
            with bar(len(order) - first, f"epoch {epoch}/{config.epochs}") as advance:
                for position in range(first, len(order)):
                    group = plan[order[position]]
                    ids, mask, gold = collate(group, sub.pad)
                    ids, mask, gold = ids.to(device), mask.to(device), gold.to(device)
                    lower = None
                    if feats is not None:
                        lower = {k: v.to(device) for k, v in
                                 gather([feats[index[id(w)]] for w in group], cache.keep, ids.shape[1]).items()}
                    with autocast(device, tagger.precision):
                        logits = model(ids, mask, lower)
                    if n_soft:
                        soft, soft_mask = collate_soft(group, ids.shape[1], len(labels))
                        loss = mixed_loss(logits, gold, soft.to(device), soft_mask.to(device), config.temperature)
                    else:
                        loss = loss_fn(logits.float().view(-1, logits.size(-1)), gold.view(-1))
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(trainable_params, config.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad(set_to_none=True)
                    losses.append(float(loss.detach()))
                    step += 1
                    advance(1)
                    if dev_s and config.eval_every and step % config.eval_every == 0 and step % steps_per_epoch:
                        evaluate_dev(epoch, step)
                    if ckpt.due():
                        checkpoint(epoch, position + 1, order, t0)
            record: dict[str, Any] = {
                "epoch": epoch,
                "step": step,
                "loss": sum(losses) / max(len(losses), 1),
                "first_loss": losses[0] if losses else None,
                "last_loss": losses[-1] if losses else None,
                "train_seconds": round(time.perf_counter() - t0, 1),
            }
            if dev_s:
                point = evaluate_dev(epoch, step)
                record.update({k: point[k] for k in ("dev_f1", "dev_precision", "dev_recall", "dev_seconds")})
            history.append(record)
            logger.info(f"{self.name}: epoch {epoch}/{config.epochs} loss {record['loss']:.4f}"
                        + (f" dev F1 {record['dev_f1']:.4f}" if "dev_f1" in record else "")
                        + f" ({record['train_seconds']:.0f} s, {len(order)} steps)", extra=BATCH_LINE)
        if best["state"] is not None:
            model.load_state_dict(best["state"], strict=False)
            best_epoch = best["epoch"]
        else:
            best_epoch = config.epochs
        info.update({"history": history, "curve": curve, "best_epoch": best_epoch, "best_step": best["step"] or step,
                     "best_dev_f1": best["f1"] if dev_s else None,
                     "train_seconds": round(time.perf_counter() - t_train, 1),
                     "features": dict(cache.stats, seconds=round(cache.stats["seconds"], 1)) if cache else None})
        self._save(out, model, tokenizer, labels, config, info)
        ckpt.clear()
        return out

    @staticmethod
    def _save(out: Path, model, tokenizer, labels: list[str], config: TrainConfig, info: dict[str, Any]) -> None:
        from safetensors.torch import save_file

        out.mkdir(parents=True, exist_ok=True)
        model.encoder.config.save_pretrained(out / ENCODER_DIR)
        tokenizer.save_pretrained(out / ENCODER_DIR)
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        with atomic_path(out / WEIGHTS) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt"})
        write_train_json(out, {**info, "labels": labels, "config": config.to_dict()})

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None, backend: str = "torch",
             precision: str | None = None) -> TransformerTagger:
        """A saved model, ready to predict; ``backend``: ``torch``, ``ct2`` (the encoder on
        CTranslate2, int8 on CPU; converted once into ``MODEL_DIR/ct2-*``), ``int8`` (torch
        dynamic int8 for the trained encoder layers, CPU; see :func:`quantize_upper`) or
        ``auto`` (ct2 on CPU when the encoder converts, else torch). ``precision`` (``auto``,
        ``fp32``, ``bf16``) overrides the stored one for the torch forward pass (a model from
        before the option is ``fp32``)."""
        from safetensors.torch import load_file
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        torch = _torch()
        _quiet_transformers()
        model_dir = Path(model_dir)
        meta = read_train_json(model_dir)
        config = TrainConfig.from_dict(meta["config"])
        if device:
            config = config.replace(device=device)
        if precision:
            config = config.replace(precision=precision)
            config.validate()
        dev = torch.device(resolve_device(config.device))
        if dev.type == "cpu":
            torch.set_num_threads(cpu_threads(config))
        enc_cfg = AutoConfig.from_pretrained(model_dir / ENCODER_DIR)
        encoder = AutoModel.from_config(enc_cfg)
        model = build_model(encoder, len(meta["labels"]), meta.get("arch", "token"), config)
        weights = model_dir / WEIGHTS
        if not weights.exists():
            raise ProjectionError(f"{model_dir}: no {WEIGHTS}")
        missing, unexpected = model.load_state_dict(load_file(str(weights)), strict=False)
        missing = [k for k in missing if not k.endswith("position_ids")]
        if missing or unexpected:
            raise ProjectionError(f"{weights}: weights do not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
        model.to(dev).eval()
        tokenizer = encoder_tokenizer(AutoTokenizer.from_pretrained(model_dir / ENCODER_DIR), config)
        tagger = TransformerTagger(model, tokenizer, meta["labels"], config, meta, dev)
        tagger.model_dir = model_dir
        tagger.backend = _choose_backend(backend, dev, enc_cfg)
        if tagger.backend != "torch":  # the int8 encoders run their own kernels; the head then runs in float32
            tagger.precision = "fp32"
        if tagger.backend == "int8":
            quantize_upper(model, config.freeze_layers)
        return tagger


def strip_marks_copy(model_dir: str | Path, out: str | Path, why: str) -> Path:
    """``model_dir``'s model as one trained with ``strip_marks`` would be, written to ``out``, when
    ``why`` says that is what such a training gives: on text without combining marks
    (:func:`projection.textnorm.has_marks`), stripping changes no subword, so the weights are the
    same and only the tokenizer differs (it strips the marks of the words it tags). The weights are
    hard-linked where the file system allows (else copied); ``train.json`` is the source's with
    ``strip_marks`` set and ``copied_from`` naming the source and ``why``."""
    import os
    import shutil

    from transformers import AutoTokenizer

    model_dir, out = Path(model_dir), Path(out)
    meta = read_train_json(model_dir)
    if meta.get("engine") not in TRANSFORMER_ENGINES:
        raise ProjectionError(f"{model_dir}: only a transformer model's tokenizer strips marks, not a {meta.get('engine')} model's")
    config = TrainConfig.from_dict(meta["config"])
    if config.strip_marks:
        raise ProjectionError(f"{model_dir}: reads words without combining marks already")
    weights = model_dir / WEIGHTS
    if not weights.exists():
        raise ProjectionError(f"{model_dir}: no {WEIGHTS}")
    config = config.replace(strip_marks=True)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = encoder_tokenizer(AutoTokenizer.from_pretrained(model_dir / ENCODER_DIR), config)
    tokenizer.save_pretrained(out / ENCODER_DIR)
    shutil.copyfile(model_dir / ENCODER_DIR / "config.json", out / ENCODER_DIR / "config.json")
    with atomic_path(out / WEIGHTS) as tmp:
        tmp.unlink(missing_ok=True)
        try:
            os.link(weights, tmp)
        except OSError:
            shutil.copyfile(weights, tmp)
    write_train_json(out, {**meta, "config": config.to_dict(),
                           "copied_from": {"model": model_dir.name, "sha256": file_sha256(weights)[:16], "why": why}})
    return out


BACKENDS = ("auto", "torch", "ct2", "int8")


def quantize_upper(model, frozen: int) -> int:
    """Torch dynamic int8 (int8 weights, activations quantized per batch; fbgemm on x86) for
    every ``Linear`` of the encoder layers above the ``frozen`` ones, in place; returns how many
    layers. The frozen lower layers stay float32, so their stored outputs
    (:class:`~projection.train.features.FeatureCache`) stay exactly those of training and are
    shared by every model of the same encoder and ``freeze_layers``: a test set scored by many
    models of a comparison runs its lower layers once, and each model then runs only its
    quantized upper layers. A model without frozen layers is quantized whole."""
    import warnings

    from torch import nn
    from torch.ao.quantization import quantize_dynamic

    from projection.train.split import encoder_layers

    torch = _torch()
    layers = encoder_layers(model.encoder)
    if layers is None:
        raise ProjectionError(f"--backend int8: the {type(model.encoder).__name__} encoder has no `encoder.layer` list")
    upper = list(layers)[frozen:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices
        for layer in upper:
            quantize_dynamic(layer, {nn.Linear}, dtype=torch.qint8, inplace=True)
    return len(upper)


def _choose_backend(backend: str, device, encoder_config) -> str:
    from projection import ct2

    if backend not in BACKENDS:
        raise ProjectionError(f"prediction backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    reason = ct2.unsupported_reason(encoder_config)
    if backend == "ct2":
        if reason:
            raise ProjectionError(f"--backend ct2: {reason}")
        return "ct2"
    if backend == "int8":
        if device.type != "cpu":
            raise ProjectionError("--backend int8 (torch dynamic quantization) runs on the CPU; on a GPU use torch")
        return "int8"
    if backend == "auto":
        return "ct2" if device.type == "cpu" and reason is None else "torch"
    return "torch"


class FeatureAggregationTrainer(TransformerTrainer):
    """``feature-aggregation`` engine: DLFA/AIF fusion of the last and ``fusion_layer`` layers."""

    name = "feature-aggregation"
    arch = "feature-aggregation"
