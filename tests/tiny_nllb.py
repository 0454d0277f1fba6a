"""A tiny random NLLB-architecture translation model, built on the fly (no hub, no download).

``tiny_nllb(root)`` writes ``root/tiny-nllb`` (a transformers M2M100 checkpoint whose
tokenizer is an NllbTokenizer over a sentencepiece model trained on the bundled sample,
with the 202 NLLB-200 language codes added, so ``vocab_size == len(tokenizer)``) and
``root/tiny-nllb-ct2`` (the same model converted by CTranslate2's converter). Building
both takes a few seconds.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from tests.tiny import _corpus_lines


@functools.lru_cache(maxsize=None)
def _build(root: str, init_std: float) -> tuple[str, str]:
    import sentencepiece as spm
    import torch
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer
    from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

    out = Path(root) / "tiny-nllb"
    ct2 = Path(root) / "tiny-nllb-ct2"
    if (ct2 / "model.bin").exists():
        return str(out), str(ct2)
    spm_dir = Path(root) / "tiny-nllb-spm"
    spm_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_corpus_lines()), model_prefix=str(spm_dir / "sentencepiece.bpe"), vocab_size=800,
        model_type="unigram", character_coverage=1.0, bos_id=0, pad_id=1, eos_id=2, unk_id=3,
        minloglevel=2, num_threads=1,
    )
    tok = NllbTokenizer.from_pretrained(str(spm_dir))
    tok.add_tokens(list(FAIRSEQ_LANGUAGE_CODES), special_tokens=True)
    tok.save_pretrained(out)
    torch.manual_seed(0)
    cfg = M2M100Config(
        vocab_size=len(tok), d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=1100,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2, scale_embedding=True,
        init_std=init_std, dropout=0.0, tokenizer_class="NllbTokenizer",
    )
    model = M2M100ForConditionalGeneration(cfg).eval()
    model.generation_config.forced_eos_token_id = None
    model.save_pretrained(out)
    from ctranslate2.converters import TransformersConverter

    TransformersConverter(str(out)).convert(str(ct2), force=True)
    return str(out), str(ct2)


def tiny_nllb(root: str | Path, init_std: float = 0.3) -> tuple[str, str]:
    """(transformers folder, CTranslate2 folder) of a tiny random NLLB model under ``root``."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    return _build(str(root), init_std)


def shared_tiny_nllb(tmp_path_factory) -> tuple[str, str]:
    """:func:`tiny_nllb` built once per test session, shared by xdist workers under a file lock."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # workers have base/popen-gwN: share their common parent
        base = base.parent
    root = base / "tiny-nllb-shared"
    root.mkdir(exist_ok=True)
    with FileLock(str(root) + ".lock"):
        return tiny_nllb(root)
