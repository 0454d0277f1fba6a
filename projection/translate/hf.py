"""``hf``: any transformers sequence-to-sequence translation model, decoded with ``generate``.

For models CTranslate2 cannot convert, and as the reference the ``nllb`` engine is tested
against. Language handling follows the model's tokenizer: NLLB-style tokenizers get
``src_lang`` and the target code (``spa_Latn``) as the forced first token; M2M100
tokenizers the ``__es__`` token; mBART-50 tokenizers ``es_XX``; models without language
tokens (Marian ``opus-mt-en-es``) are used as they are.

Options: ``model`` (default ``facebook/nllb-200-distilled-600M``), ``tokenizer`` (default:
the model's own), ``device`` (``auto``/``cpu``/``cuda``), ``beam_size`` (4), ``max_length``
(generated target tokens, 256), ``max_input_length`` (1024), ``batch_tokens``, ``threads``,
``dtype`` (``float32``; ``float16``/``bfloat16`` on GPU).
"""

from __future__ import annotations

import threading
from typing import Any

from projection.devices import resolve_device
from projection.errors import ProjectionError
from projection.store import check_model_folder, code_hash, package_versions
from projection.translate.base import default_threads, model_fingerprint, token_batches, translate_nonempty
from projection.translate.languages import resolve_language
from projection.translate.nllb import BASE_MODEL, _display_name


class HfTranslator:
    """A transformers seq2seq model (see the module docstring for the options)."""

    name = "hf"
    marker_style = "brackets"
    cacheable = True

    def __init__(
        self,
        src_lang: str = "en",
        tgt_lang: str = "es",
        model: str | None = None,
        tokenizer: str | None = None,
        device: str = "auto",
        beam_size: int = 4,
        max_length: int = 256,
        max_input_length: int = 1024,
        batch_tokens: int | None = None,
        threads: int | None = None,
        dtype: str = "float32",
        markers: bool = False,
    ):
        self.src_lang, self.tgt_lang = src_lang, tgt_lang
        self.model_name = str(model or BASE_MODEL)
        self.tokenizer_name = str(tokenizer or self.model_name)
        check_model_folder(self.model_name, "transformers model")
        check_model_folder(self.tokenizer_name, "tokenizer")
        self.device_opt = device
        self.beam_size = int(beam_size)
        self.max_length = int(max_length)
        self.max_input_length = int(max_input_length)
        self.batch_tokens = batch_tokens
        self.threads = int(threads or default_threads())
        self.dtype = dtype
        self.chunk_size = 64
        self._model = None
        self._tok = None
        self._forced_bos: int | None = None
        self._lock = threading.Lock()
        self._signature: dict[str, Any] | None = None
        self.device = resolve_device(device)

    def _language_setup(self, tok) -> int | None:
        """Set the source language on the tokenizer; return the forced first target token id."""
        unk = tok.unk_token_id
        try:
            src = resolve_language(self.src_lang)
            tgt = resolve_language(self.tgt_lang)
        except ProjectionError:
            return None  # a language outside NLLB-200: only a bilingual model can serve it
        if tok.convert_tokens_to_ids(tgt.nllb) not in (None, unk):  # NLLB
            tok.src_lang = src.nllb
            return tok.convert_tokens_to_ids(tgt.nllb)
        if hasattr(tok, "get_lang_id"):  # M2M100: __es__
            tok.src_lang = src.short
            return tok.get_lang_id(tgt.short)
        vocab = tok.get_vocab()
        mbart = [t for t in vocab if len(t) == 5 and t[2] == "_" and t[:2] == tgt.iso1]
        if mbart:  # mBART-50: es_XX
            src_tok = [t for t in vocab if len(t) == 5 and t[2] == "_" and t[:2] == src.iso1]
            if src_tok:
                tok.src_lang = src_tok[0]
            return vocab[mbart[0]]
        return None  # a bilingual model (Marian)

    def _load(self):
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

                torch.set_num_threads(self.threads)
                try:
                    tok = AutoTokenizer.from_pretrained(self.tokenizer_name)
                    model = AutoModelForSeq2SeqLM.from_pretrained(self.model_name, dtype=getattr(torch, self.dtype))
                except OSError as e:
                    raise ProjectionError(
                        f"cannot load the transformers model {self.model_name!r} ({str(e).splitlines()[0]}); "
                        "without internet access give a local folder"
                    ) from None
                model.to(self.device).eval()
                self._forced_bos = self._language_setup(tok)
                self._tok, self._model = tok, model
        return self._model, self._tok

    def signature(self) -> dict[str, Any]:
        if self._signature is None:
            self._signature = {
                "engine": self.name,
                "model": _display_name(self.model_name),
                "model_fingerprint": model_fingerprint(self.model_name),
                "tokenizer": _display_name(self.tokenizer_name),
                "tokenizer_fingerprint": model_fingerprint(self.tokenizer_name),
                "device": self.device,
                "dtype": self.dtype,
                "beam_size": self.beam_size,
                "max_length": self.max_length,
                "max_input_length": self.max_input_length,
                "versions": package_versions("torch", "transformers", "tokenizers"),
                "code": code_hash(__name__, "projection.translate.base", "projection.translate.text"),
            }
        return self._signature

    def translate_ids(self, texts: list[str]) -> list[list[int]]:
        """Generated target token ids per input (decoder start and forced language token removed)."""
        import torch

        model, tok = self._load()
        enc = tok(list(texts), truncation=True, max_length=self.max_input_length)["input_ids"]
        budget = int(self.batch_tokens or (16384 if self.device == "cuda" else 4096))
        out: list[list[int]] = [[] for _ in texts]
        extra = 1 if self._forced_bos is not None else 0
        for batch in token_batches([len(e) for e in enc], budget):
            padded = tok.pad({"input_ids": [enc[i] for i in batch]}, return_tensors="pt").to(self.device)
            kwargs: dict[str, Any] = dict(num_beams=self.beam_size, do_sample=False, max_new_tokens=self.max_length + extra)
            if self._forced_bos is not None:
                kwargs["forced_bos_token_id"] = self._forced_bos
            with torch.inference_mode():
                gen = model.generate(**padded, **kwargs)
            start = getattr(model.config, "decoder_start_token_id", None)
            for i, row in zip(batch, gen.tolist()):
                if row and start is not None and row[0] == start:
                    row = row[1:]
                if extra and row and row[0] == self._forced_bos:
                    row = row[1:]
                eos = tok.eos_token_id
                if eos in row:  # finished early: the rest is padding
                    row = row[: row.index(eos)]
                out[i] = row
        return out

    def translate(self, texts: list[str]) -> list[str]:
        def run(batch: list[str]) -> list[str]:
            ids = self.translate_ids(batch)
            return [self._tok.decode(r, skip_special_tokens=True) for r in ids]

        return translate_nonempty(list(texts), run)
